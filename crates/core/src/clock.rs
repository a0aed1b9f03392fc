//! Time and id generation, injected so that tests control them.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// Milliseconds since the Unix epoch.
pub type Millis = i64;

/// The source of "now" for everything in Podium.
pub trait Clock: Send + Sync + 'static {
    /// The current time in epoch milliseconds.
    fn now_millis(&self) -> Millis;
}

/// The real clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_millis(&self) -> Millis {
        #[allow(clippy::disallowed_methods)] // the one place real time is read
        let now = std::time::SystemTime::now();
        now.duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    }
}

/// A clock that only moves when told to.
#[derive(Debug, Clone)]
pub struct FakeClock {
    now: Arc<AtomicI64>,
}

impl FakeClock {
    /// A fake clock reading `start` milliseconds.
    pub fn new(start: Millis) -> FakeClock {
        FakeClock {
            now: Arc::new(AtomicI64::new(start)),
        }
    }

    /// Moves the clock forward.
    pub fn advance(&self, millis: Millis) {
        self.now.fetch_add(millis, Ordering::SeqCst);
    }

    /// Sets the clock.
    pub fn set(&self, millis: Millis) {
        self.now.store(millis, Ordering::SeqCst);
    }
}

impl Clock for FakeClock {
    fn now_millis(&self) -> Millis {
        self.now.load(Ordering::SeqCst)
    }
}

/// The source of new execution ids.
pub trait IdGen: Send + Sync + 'static {
    /// A new, unique id.
    fn new_id(&self) -> String;
}

/// Time-ordered (v7) UUIDs: the same text form as Conductor's random ones, but ids
/// made one after another sort together, so a store's id indexes grow at one end
/// instead of dirtying a random page per insert. They still carry 74 random bits;
/// an id is never a credential (every access is authorized).
#[derive(Debug, Default, Clone, Copy)]
pub struct UuidGen;

impl IdGen for UuidGen {
    fn new_id(&self) -> String {
        uuid::Uuid::now_v7().to_string()
    }
}

/// Predictable ids (`id-1`, `id-2`, ...) for tests.
#[derive(Debug, Default)]
pub struct SequentialIds {
    next: AtomicU64,
}

impl IdGen for SequentialIds {
    fn new_id(&self) -> String {
        format!("id-{}", self.next.fetch_add(1, Ordering::SeqCst) + 1)
    }
}
