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
//! The order matters: a statement must be *sent* after `BEGIN` and before `COMMIT`,
//! and `COMMIT` only once every write of the transaction was sent. tokio-postgres
//! sends a request when its future is first polled, so each request's future is
//! polled once, in order, as it is made ([`sent`]): one that fails then (a parameter
//! that cannot be encoded) was not sent, and nothing after it is. Only then are the
//! answers awaited. Every statement is prepared before (an uncached `prepare` waits).
//!
//! A transaction not committed (refused, failed, or dropped part-way, as when a
//! request is cancelled) is rolled back: `ROLLBACK` is sent at once without waiting
//! for its answer, as tokio-postgres's own `Transaction` does when dropped, so it
//! precedes whatever the connection's next user sends after the pool hands it on.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};

use deadpool_postgres::Object;
use futures_util::FutureExt;
use futures_util::future::{join3, try_join, try_join_all};
use podium_core::store::StoreResult;
use tokio_postgres::Statement;
use tokio_postgres::types::{ToSql, Type};

use crate::map_err;

/// The savepoint a unit's claim runs behind.
const SAVEPOINT: &str = "SAVEPOINT podium_claim";
const ROLLBACK_TO_SAVEPOINT: &str = "ROLLBACK TO SAVEPOINT podium_claim";
use crate::rows::{Prepared, Writes};

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
        // Said, not assumed: the claims' reads count on a new snapshot per statement.
        self.client
            .batch_execute("BEGIN ISOLATION LEVEL READ COMMITTED")
            .await
            .map_err(map_err)
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
        let begin = sent(self.begin())?;
        let query = sent(async { self.client.query(statement, params).await.map_err(map_err) })?;
        let ((), rows) = try_join(begin, query).await?;
        Ok(rows)
    }

    /// Opens the transaction with one query sent with its parameters' types, neither
    /// prepared before nor kept after (for a statement used once), and returns its
    /// rows: one round trip, as with a prepared statement.
    pub(crate) async fn begin_with_typed_query(
        &self,
        sql: &str,
        params: &[(&(dyn ToSql + Sync), Type)],
    ) -> StoreResult<Vec<tokio_postgres::Row>> {
        let begin = sent(self.begin())?;
        let query = sent(async { self.client.query_typed(sql, params).await.map_err(map_err) })?;
        let ((), rows) = try_join(begin, query).await?;
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
        // A write that fails before it is sent stops here: no COMMIT follows it, and
        // the transaction is rolled back when dropped.
        let written = self.send_writes(&prepared)?;
        let commit = sent(async { self.client.batch_execute("COMMIT").await.map_err(map_err) })?;
        let (counts, ()) = try_join(written, commit).await?;
        self.open.store(false, Ordering::SeqCst);
        Ok(counts)
    }

    /// Sends the writes, then a query behind a savepoint, without committing (with
    /// `BEGIN` ahead of them if the transaction is not open yet): one round trip. A
    /// write that fails is an error (it aborts the transaction, and so the query).
    /// When only the query fails, it is rolled back alone and its error returned
    /// inside `Ok`: the writes stay, to be committed.
    pub(crate) async fn write_then_query_apart(
        &self,
        writes: Writes,
        statement: &Statement,
        params: &[&(dyn ToSql + Sync)],
    ) -> StoreResult<StoreResult<Vec<tokio_postgres::Row>>> {
        let prepared = writes.prepare(&self.client).await?;
        let written = self.send_writes(&prepared)?;
        let mark = sent(async { self.client.batch_execute(SAVEPOINT).await.map_err(map_err) })?;
        let query = sent(async { self.client.query(statement, params).await.map_err(map_err) })?;
        let (written, mark, rows) = join3(written, mark, query).await;
        written?;
        mark?;
        if rows.is_err() {
            self.back_to_savepoint().await?;
        }
        Ok(rows)
    }

    /// Undoes what was done since the savepoint of [`Tx::write_then_query_apart`].
    pub(crate) async fn back_to_savepoint(&self) -> StoreResult<()> {
        self.client
            .batch_execute(ROLLBACK_TO_SAVEPOINT)
            .await
            .map_err(map_err)
    }

    /// Sends `BEGIN` (unless the transaction is open) and every prepared write, in
    /// order, now; returns what waits for their answers (the rows each write
    /// changed). A write that fails before it is sent is an error here, and nothing
    /// after it was sent.
    fn send_writes<'a>(
        &'a self,
        prepared: &'a Prepared,
    ) -> StoreResult<impl Future<Output = StoreResult<Vec<u64>>> + Send + 'a> {
        let begin = if self.open.load(Ordering::SeqCst) {
            sent(async { Ok(()) })?
        } else {
            sent(self.begin())?
        };
        let mut sends = Vec::new();
        for write in prepared.sends(&self.client) {
            sends.push(sent(write)?);
        }
        Ok(async move {
            let ((), counts) = try_join(begin, try_join_all(sends)).await?;
            Ok(counts)
        })
    }

    /// Ends the transaction without keeping anything, without waiting.
    pub(crate) fn abandon(self) {
        drop(self);
    }
}

/// A request's future, polled once so that its request is sent now; an error then
/// means it was not sent. Its answer is awaited later.
pub(crate) fn sent<'a, T: Send + 'a>(
    future: impl Future<Output = StoreResult<T>> + Send + 'a,
) -> StoreResult<Pin<Box<dyn Future<Output = StoreResult<T>> + Send + 'a>>> {
    let mut future: Pin<Box<dyn Future<Output = StoreResult<T>> + Send + 'a>> = Box::pin(future);
    match future.as_mut().now_or_never() {
        Some(Err(err)) => Err(err),
        Some(Ok(value)) => Ok(Box::pin(std::future::ready(Ok(value)))),
        None => Ok(future),
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::Tx;
    use crate::rows::Writes;
    use crate::{PgOptions, PostgresStore};

    async fn count(store: &PostgresStore) -> i64 {
        let client = store.client().await.unwrap();
        client
            .query_one("SELECT count(*) FROM scratch", &[])
            .await
            .unwrap()
            .get(0)
    }

    /// A write whose parameter cannot be sent (here one of the wrong type) stops the
    /// transaction before its COMMIT, whether it comes early or late in a batch and
    /// however long the batch: nothing of the batch is kept, and the connection goes
    /// on to commit the next one.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_write_that_cannot_be_sent_commits_nothing() {
        let Some(url) = crate::testing::server_url("the transaction tests") else {
            return;
        };
        let url = crate::testing::fresh_schema(&url, "tx_unsent")
            .await
            .expect("schema");
        let mut options = PgOptions::new(url);
        options.pool_size = 1;
        let store = PostgresStore::open(&options).await.expect("open");
        store
            .client()
            .await
            .unwrap()
            .batch_execute("CREATE TABLE scratch (n integer)")
            .await
            .unwrap();
        for (total, bad) in [(5, 1), (40, 1), (40, 35)] {
            let mut writes = Writes::default();
            for n in 0..total {
                if n == bad {
                    writes.push(
                        "INSERT INTO scratch (n) VALUES ($1)",
                        vec![Box::new("not a number")],
                    );
                } else {
                    writes.push("INSERT INTO scratch (n) VALUES ($1)", vec![Box::new(n)]);
                }
            }
            let tx = Tx::new(store.client().await.unwrap());
            assert!(
                tx.commit(writes).await.is_err(),
                "{total} writes, bad #{bad}"
            );
            assert_eq!(count(&store).await, 0, "{total} writes, bad #{bad}");
        }
        let mut writes = Writes::default();
        writes.push("INSERT INTO scratch (n) VALUES ($1)", vec![Box::new(7_i32)]);
        Tx::new(store.client().await.unwrap())
            .commit(writes)
            .await
            .expect("the next transaction commits");
        assert_eq!(count(&store).await, 1);
    }
}
