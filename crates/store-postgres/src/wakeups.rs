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
//! under load many units share one transaction.
//!
//! A wake-up is a hint, never the only way work is found: a wake-up lost (the node
//! stopped right after a commit, the database was away) leaves the other nodes'
//! polls to find the messages when their hint expires (`QueueSignal::HINT_TTL_MS`,
//! a second) and a synchronous start to see its workflow's end at its next look.
//! Changes to access control, secrets and definitions are not sent here: they are
//! announced inside their own transactions, so no node can miss them.

use std::collections::BTreeSet;

use deadpool_postgres::Pool;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio::sync::watch;

use crate::connect::pool_error;
use crate::rows::Writes;
use crate::tx::Tx;

/// Most notifications one transaction sends; what is left goes in the next.
const MOST_PER_TRANSACTION: usize = 256;

/// Sends notification payloads on the cluster's channel after commit.
pub(crate) struct Wakeups {
    pending: UnboundedSender<String>,
}

impl Wakeups {
    /// Starts the task that sends them; it stops when the store closes.
    pub(crate) fn start(pool: Pool, channel: String, closed: watch::Receiver<bool>) -> Wakeups {
        let (pending, received) = unbounded_channel();
        tokio::spawn(send_all(pool, channel, received, closed));
        Wakeups { pending }
    }

    /// Queues a payload, to be sent as soon as a connection is free.
    pub(crate) fn send(&self, payload: String) {
        // The task is gone only once the store is closed: nothing to wake then.
        let _ = self.pending.send(payload);
    }
}

async fn send_all(
    pool: Pool,
    channel: String,
    mut received: UnboundedReceiver<String>,
    mut closed: watch::Receiver<bool>,
) {
    loop {
        let first = tokio::select! {
            first = received.recv() => first,
            _ = closed.changed() => None,
        };
        let Some(first) = first else { return };
        let mut batch = BTreeSet::from([first]);
        while batch.len() < MOST_PER_TRANSACTION {
            match received.try_recv() {
                Ok(payload) => {
                    batch.insert(payload);
                }
                Err(_) => break,
            }
        }
        if let Err(err) = send_batch(&pool, &channel, batch).await {
            // The database is away, or the store is closing: the other nodes find
            // the work without the wake-up.
            tracing::debug!(error = %podium_core::error::error_chain(&err), "could not send wake-ups to the other nodes");
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
