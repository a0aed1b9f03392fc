//! Call timings for `/metrics`: how many calls of each kind, how long they took in
//! all (waiting for a connection included), how many failed, and how long calls
//! waited for a connection.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use podium_core::store::CallFigures;

/// The kinds of calls timed.
#[derive(Clone, Copy)]
pub(crate) enum Kind {
    UnitOfWork = 0,
    Claim = 1,
    ClaimJobs = 2,
    PoolWait = 3,
}

const NAMES: [&str; 4] = ["unit_of_work", "claim", "claim_jobs", "pool_wait"];

#[derive(Default)]
struct Counts {
    count: AtomicU64,
    nanos: AtomicU64,
    errors: AtomicU64,
}

/// Counters per kind.
#[derive(Default)]
pub(crate) struct Timings {
    kinds: [Counts; 4],
}

impl Timings {
    /// Records one call that began at `began`.
    pub(crate) fn record(&self, kind: Kind, began: Instant, failed: bool) {
        let counts = &self.kinds[kind as usize];
        counts.count.fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(began.elapsed().as_nanos()).unwrap_or(u64::MAX);
        counts.nanos.fetch_add(nanos, Ordering::Relaxed);
        if failed {
            counts.errors.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The figures so far.
    pub(crate) fn figures(&self) -> Vec<CallFigures> {
        NAMES
            .iter()
            .zip(self.kinds.iter())
            .map(|(kind, counts)| CallFigures {
                kind,
                count: counts.count.load(Ordering::Relaxed),
                // Seconds as a float: exact enough for a rate.
                seconds: counts.nanos.load(Ordering::Relaxed) as f64 / 1e9,
                errors: counts.errors.load(Ordering::Relaxed),
            })
            .collect()
    }
}
