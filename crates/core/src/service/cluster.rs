//! Following the other nodes that share the store: what they announce wakes long
//! polls here and reloads what this node keeps in memory (access control, secrets,
//! definitions), and the poll records they store reach this node's routing by
//! domain. A store only this process uses announces nothing, and this loop is not
//! started.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc::UnboundedReceiver;
use tokio::sync::watch;
use tokio::time::Instant;
use tracing::warn;

use super::Runtime;
use crate::store::Change;

/// How often other nodes' poll records are read: well within the window in which a
/// worker counts as active in its domain.
const POLL_RECORDS_EVERY: Duration = Duration::from_secs(1);

/// What a burst of announcements asks for, each reload done once.
#[derive(Default)]
struct Pending {
    security: bool,
    secrets: bool,
    definitions: bool,
    everything: bool,
}

impl Pending {
    fn note(&mut self, rt: &Runtime, change: Change) {
        match change {
            Change::Queue(name) => rt.signals.wake_queue(&name),
            Change::AnyQueue => rt.signals.wake_every_queue(),
            Change::Workflow(id) => rt.signals.wake_workflow(&id),
            Change::Security => self.security = true,
            Change::Secrets => self.secrets = true,
            Change::Definitions => self.definitions = true,
            Change::Resync => self.everything = true,
        }
    }

    fn is_empty(&self) -> bool {
        !(self.security || self.secrets || self.definitions || self.everything)
    }

    /// Reloads what was asked for; returns what failed, to try again.
    async fn apply(self, rt: &Runtime) -> Pending {
        let mut failed = Pending::default();
        if (self.security || self.everything)
            && let Err(err) = rt.access.reload().await
        {
            warn!(error = %err, "could not reload access control after another node changed it; trying again in a second");
            failed.security = true;
        }
        if (self.secrets || self.everything)
            && let Err(err) = rt.vault.reload().await
        {
            warn!(error = %err, "could not reload secrets after another node changed them; trying again in a second");
            failed.secrets = true;
        }
        if (self.definitions || self.everything)
            && let Err(err) = rt.defs.reload(&rt.stores).await
        {
            warn!(error = %err, "could not reload definitions after another node changed them; trying again in a second");
            failed.definitions = true;
        }
        if self.everything {
            rt.signals.wake_everyone();
        }
        failed
    }
}

/// Rounds of reloads that announcements may ask for in a burst, and how many a
/// second after that: a few changes made together are applied at once, while a flood
/// (from a role that should not be sending them) costs at most ten rounds a second
/// and a change still reaches this node well within its bound of a second.
const RELOAD_BURST: f64 = 5.0;
const RELOADS_PER_SECOND: f64 = 10.0;

/// How long after a failed reload (the database was away) it is tried again.
const RELOAD_RETRY: Duration = Duration::from_secs(1);

/// A token bucket for rounds of reloads.
struct Pacer {
    tokens: f64,
    at: Instant,
}

impl Pacer {
    fn new(now: Instant) -> Pacer {
        Pacer {
            tokens: RELOAD_BURST,
            at: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * RELOADS_PER_SECOND).min(RELOAD_BURST);
        self.at = now;
    }

    /// Takes a round at `now`; returns when the next one may be taken.
    fn take(&mut self, now: Instant) -> Instant {
        self.refill(now);
        self.tokens -= 1.0;
        if self.tokens >= 1.0 {
            return now;
        }
        now + Duration::from_secs_f64((1.0 - self.tokens) / RELOADS_PER_SECOND)
    }
}

/// Applies other nodes' announcements until shutdown or until the store stops
/// announcing. Wake-ups take effect at once; reloads are gathered, and paced by a
/// [`Pacer`].
pub async fn follow_other_nodes(
    rt: Arc<Runtime>,
    mut changes: UnboundedReceiver<Change>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut poll_records = tokio::time::interval(POLL_RECORDS_EVERY);
    poll_records.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Reloads asked for (or failed) and not done yet, and when they may be done.
    let mut pending = Pending::default();
    let mut pacer = Pacer::new(Instant::now());
    let mut next_reload = Instant::now();
    while !*shutdown.borrow() {
        tokio::select! {
            change = changes.recv() => {
                let Some(change) = change else { return };
                pending.note(&rt, change);
                // Everything already announced is taken in with this one.
                while let Ok(more) = changes.try_recv() {
                    pending.note(&rt, more);
                }
            }
            _ = tokio::time::sleep_until(next_reload), if !pending.is_empty() => {
                next_reload = pacer.take(Instant::now());
                pending = std::mem::take(&mut pending).apply(&rt).await;
                if !pending.is_empty() {
                    next_reload = next_reload.max(Instant::now() + RELOAD_RETRY);
                }
            }
            _ = poll_records.tick() => {
                if let Err(err) = rt.polls.refresh(&rt.stores).await {
                    warn!(error = %err, "could not read other nodes' poll records");
                }
            }
            _ = shutdown.changed() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A burst of rounds goes at once; after it, rounds come ten a second however
    /// many are asked for; a quiet second restores the burst.
    #[test]
    fn reloads_are_paced_after_a_burst() {
        let start = Instant::now();
        let mut pacer = Pacer::new(start);
        let mut now = start;
        let mut immediate = 0;
        loop {
            let next = pacer.take(now);
            if next > now {
                break;
            }
            immediate += 1;
        }
        assert_eq!(immediate, 4, "the fifth round is the last of the burst");
        // A flood: every round as soon as it may be taken.
        let mut rounds = 0;
        let mut next = pacer.take(now);
        while next < start + Duration::from_secs(10) {
            now = next;
            next = pacer.take(now);
            rounds += 1;
        }
        assert!(
            (95..=101).contains(&rounds),
            "{rounds} rounds in about ten seconds"
        );
        let gap = next.duration_since(now);
        assert!(
            gap >= Duration::from_millis(99) && gap <= Duration::from_millis(101),
            "{gap:?}"
        );
        // Quiet for a second: a burst again.
        let later = next + Duration::from_secs(1);
        assert_eq!(pacer.take(later), later);
    }
}
