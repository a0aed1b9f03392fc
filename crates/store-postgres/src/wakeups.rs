//! Wake-ups for the other nodes (a queue has new messages, a workflow ended), sent
//! after the units of work that cause them have committed.
//!
//! A NOTIFY inside a unit's transaction would take a lock on the whole database
//! that PostgreSQL keeps until that transaction's commit is flushed to disk: every
//! unit that notifies would then commit after the one before it, each waiting for its
//! own fsync, and group commit would be lost (measured: 5.7 fsyncs per workflow
//! instead of 3.7, and a quarter less throughput on one node). So units hand their
//! wake-ups to this task instead. It sends what is pending together, duplicates
//! merged, in one short transaction that does not wait for the disk
//! (`synchronous_commit` off for it alone): the lock is held for microseconds, and
//! under load many units share one transaction. What waits for a connection is kept
//! once per payload, and only so much of it (`MOST_PENDING`).
//!
//! A wake-up is a hint, never the only way work is found: a wake-up lost (the node
//! stopped right after a commit, the database was away) leaves the other nodes'
//! polls to find the messages when their hint expires (`QueueSignal::HINT_TTL_MS`,
//! a second) and a synchronous start to see its workflow's end at its next look.
//! Changes to access control, secrets and definitions are not sent here: they are
//! announced inside their own transactions, so no node can miss them.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, PoisonError};

use deadpool_postgres::Pool;
use tokio::sync::{Notify, watch};

use crate::connect::pool_error;
use crate::rows::Writes;
use crate::tx::Tx;

/// Most notifications one transaction sends; what is left goes in the next.
const MOST_PER_TRANSACTION: usize = 256;

/// Most distinct wake-ups kept waiting for a connection (while the pool is busy or
/// the database away); more are dropped, as hints may be.
const MOST_PENDING: usize = 16_384;

/// The wake-ups not sent yet, each once.
#[derive(Default)]
struct Pending {
    payloads: Mutex<BTreeSet<String>>,
    ready: Notify,
}

impl Pending {
    /// Adds a payload unless it is pending already or too many are; says whether
    /// it is pending now.
    fn add(&self, payload: String) -> bool {
        let mut payloads = self.payloads.lock().unwrap_or_else(PoisonError::into_inner);
        if payloads.len() >= MOST_PENDING && !payloads.contains(&payload) {
            return false;
        }
        payloads.insert(payload);
        true
    }

    /// Takes up to `most` payloads.
    fn take(&self, most: usize) -> BTreeSet<String> {
        let mut payloads = self.payloads.lock().unwrap_or_else(PoisonError::into_inner);
        let mut batch = BTreeSet::new();
        while batch.len() < most {
            let Some(payload) = payloads.pop_first() else {
                break;
            };
            batch.insert(payload);
        }
        batch
    }
}

/// Sends notification payloads on the cluster's channel after commit.
pub(crate) struct Wakeups {
    pending: Arc<Pending>,
}

impl Wakeups {
    /// Starts the task that sends them; it stops when the store closes.
    pub(crate) fn start(pool: Pool, channel: String, closed: watch::Receiver<bool>) -> Wakeups {
        let pending = Arc::new(Pending::default());
        tokio::spawn(send_all(pool, channel, pending.clone(), closed));
        Wakeups { pending }
    }

    /// Queues a payload, to be sent as soon as a connection is free.
    pub(crate) fn send(&self, payload: String) {
        if self.pending.add(payload) {
            self.pending.ready.notify_one();
        }
    }
}

async fn send_all(
    pool: Pool,
    channel: String,
    pending: Arc<Pending>,
    mut closed: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            () = pending.ready.notified() => {}
            _ = closed.changed() => return,
        }
        loop {
            let batch = pending.take(MOST_PER_TRANSACTION);
            if batch.is_empty() {
                break;
            }
            if let Err(err) = send_batch(&pool, &channel, batch).await {
                // The database is away, or the store is closing: the other nodes
                // find the work without the wake-up.
                tracing::debug!(error = %podium_core::error::error_chain(&err), "could not send wake-ups to the other nodes");
            }
        }
    }
}

async fn send_batch(
    pool: &Pool,
    channel: &str,
    batch: BTreeSet<String>,
) -> podium_core::store::StoreResult<()> {
    let client = pool.get().await.map_err(pool_error)?;
    let mut writes = Writes::default();
    writes.push(
        "SELECT set_config('synchronous_commit', 'off', true)",
        Vec::new(),
    );
    writes.push(
        "SELECT pg_notify($1, payload) FROM unnest($2::text[]) AS payload",
        vec![
            Box::new(channel.to_string()),
            Box::new(batch.into_iter().collect::<Vec<_>>()),
        ],
    );
    Tx::new(client).commit(writes).await.map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_wake_ups_are_merged_and_bounded() {
        let pending = Pending::default();
        for _ in 0..3 {
            assert!(pending.add("queue:a".into()));
        }
        for n in 0..MOST_PENDING + 100 {
            pending.add(format!("workflow:{n}"));
        }
        assert!(pending.add("queue:a".into()), "one already pending stays");
        assert!(
            !pending.add("queue:b".into()),
            "a new one past the bound is dropped"
        );
        let mut taken = 0;
        loop {
            let batch = pending.take(MOST_PER_TRANSACTION);
            if batch.is_empty() {
                break;
            }
            assert!(batch.len() <= MOST_PER_TRANSACTION);
            taken += batch.len();
        }
        assert_eq!(taken, MOST_PENDING);
        assert!(pending.add("queue:b".into()), "room again once sent");
    }
}
