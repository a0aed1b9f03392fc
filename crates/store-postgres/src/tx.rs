//! Transactions for the hot paths (units of work and claims) that cost as few round
//! trips as the work allows.
//!
//! `Client::transaction` waits for `BEGIN` on its own and `commit` waits for `COMMIT`
//! on its own: two round trips a transaction spends on nothing. Here `BEGIN` goes out
//! together with the transaction's first statements and `COMMIT` together with its
//! writes; the connection delivers them in the order they were sent, so the server
//! sees exactly what it would have seen one at a time. A unit that reads a workflow
//! and writes its changes costs two round trips; a claim that finds nothing costs one.
//!
//! The order matters: a statement must be *sent* after `BEGIN` and before `COMMIT`.
//! tokio-postgres sends a request when its future is first polled, and `try_join`
//! polls its futures in order, so every statement is prepared before the futures are
//! built (an uncached `prepare` would otherwise wait, and let `COMMIT` overtake it).
//!
//! A transaction not committed (refused, failed, or dropped part-way, as when a
//! request is cancelled) is rolled back: `ROLLBACK` is sent at once without waiting
//! for its answer, as tokio-postgres's own `Transaction` does when dropped, so it
//! precedes whatever the connection's next user sends after the pool hands it on.

use std::sync::atomic::{AtomicBool, Ordering};

use deadpool_postgres::Object;
use futures_util::FutureExt;
use futures_util::future::{try_join, try_join_all};
use podium_core::store::StoreResult;
use tokio_postgres::Statement;
use tokio_postgres::types::ToSql;

use crate::map_err;
use crate::rows::Writes;

/// A transaction on a pooled connection; see the module's text.
pub(crate) struct Tx {
    client: Object,
    /// `BEGIN` was sent and neither `COMMIT` nor `ROLLBACK` has been answered.
    open: AtomicBool,
}

impl Tx {
    pub(crate) fn new(client: Object) -> Tx {
        Tx {
            client,
            open: AtomicBool::new(false),
        }
    }

    /// The connection, for statements inside the transaction once it is open.
    pub(crate) fn client(&self) -> &Object {
        &self.client
    }

    /// `BEGIN`, to be joined with (and polled before) the first statements.
    pub(crate) async fn begin(&self) -> StoreResult<()> {
        self.open.store(true, Ordering::SeqCst);
        self.client.batch_execute("BEGIN").await.map_err(map_err)
    }

    /// Prepares a statement (from the connection's cache after the first time).
    pub(crate) async fn prepare(&self, sql: &str) -> StoreResult<Statement> {
        self.client.prepare_cached(sql).await.map_err(map_err)
    }

    /// Opens the transaction with one query and returns its rows.
    pub(crate) async fn begin_with_query(
        &self,
        statement: &Statement,
        params: &[&(dyn ToSql + Sync)],
    ) -> StoreResult<Vec<tokio_postgres::Row>> {
        let query = async { self.client.query(statement, params).await.map_err(map_err) };
        let ((), rows) = try_join(self.begin(), query).await?;
        Ok(rows)
    }

    /// Sends the writes and `COMMIT` together (with `BEGIN` ahead of them if the
    /// transaction is not open yet) and waits for all; returns the rows each write
    /// changed. A write that fails aborts the transaction, and the `COMMIT` behind it
    /// then rolls back: nothing of it is kept, and the write's own error is returned.
    pub(crate) async fn commit(self, writes: Writes) -> StoreResult<Vec<u64>> {
        if writes.is_empty() && !self.open.load(Ordering::SeqCst) {
            // Nothing was read or written: there is no transaction to end.
            return Ok(Vec::new());
        }
        let prepared = writes.prepare(&self.client).await?;
        let begin = async {
            if self.open.load(Ordering::SeqCst) {
                Ok(())
            } else {
                self.begin().await
            }
        };
        let sends = try_join_all(prepared.sends(&self.client));
        let commit = async { self.client.batch_execute("COMMIT").await.map_err(map_err) };
        let ((), (counts, ())) = try_join(begin, try_join(sends, commit)).await?;
        self.open.store(false, Ordering::SeqCst);
        Ok(counts)
    }

    /// Ends the transaction without keeping anything, without waiting.
    pub(crate) fn abandon(self) {
        drop(self);
    }
}

impl Drop for Tx {
    fn drop(&mut self) {
        if self.open.load(Ordering::SeqCst) {
            // The first poll sends the request; its answer is not waited for.
            let _ = self.client.batch_execute("ROLLBACK").now_or_never();
        }
    }
}
