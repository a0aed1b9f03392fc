//! Following the other nodes that share the store: what they announce wakes long
//! polls here and reloads what this node keeps in memory (access control, secrets,
//! definitions), and the poll records they store reach this node's routing by
//! domain. A store only this process uses announces nothing, and this loop is not
//! started.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc::UnboundedReceiver;
use tokio::sync::watch;
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

/// Applies other nodes' announcements until shutdown or until the store stops
/// announcing.
pub async fn follow_other_nodes(
    rt: Arc<Runtime>,
    mut changes: UnboundedReceiver<Change>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut poll_records = tokio::time::interval(POLL_RECORDS_EVERY);
    poll_records.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Reloads that failed (the database was away), tried again every second.
    let mut failed = Pending::default();
    while !*shutdown.borrow() {
        tokio::select! {
            change = changes.recv() => {
                let Some(change) = change else { return };
                let mut pending = std::mem::take(&mut failed);
                pending.note(&rt, change);
                // Everything already announced is taken in with this one.
                while let Ok(more) = changes.try_recv() {
                    pending.note(&rt, more);
                }
                failed = pending.apply(&rt).await;
            }
            _ = poll_records.tick() => {
                if !failed.is_empty() {
                    failed = std::mem::take(&mut failed).apply(&rt).await;
                }
                if let Err(err) = rt.polls.refresh(&rt.stores).await {
                    warn!(error = %err, "could not read other nodes' poll records");
                }
            }
            _ = shutdown.changed() => {}
        }
    }
}
