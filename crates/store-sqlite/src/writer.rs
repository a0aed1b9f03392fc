//! The single writer: one thread owns the writing connection and applies every change,
//! group-committing whatever arrived while the previous commit ran. A caller hears back
//! only after the commit that holds its change.
//!
//! A change that is refused (its closure returned an error before it wrote anything)
//! leaves the batch alone; a change that fails while writing rolls the whole batch back
//! and every change in it fails, so nothing half-written is ever committed.
//!
//! A change that panics is caught, so one bad unit of work (a poisoned row, a bug in
//! the engine) can never stop the thread every write goes through: it fails with an
//! error like any other change. If it had written rows before panicking, the batch is
//! rolled back as for a failure while writing; if not, it fails alone.
//!
//! The writer also keeps the workflows it wrote last in memory ([`WorkflowCache`]):
//! it is the only writer, so its copy is the committed state, and a unit of work on a
//! recently used workflow need not read and decode it again.

use std::any::Any;
use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::thread::JoinHandle;

use podium_core::engine::state::WorkflowState;
use podium_core::error::error_chain;
use podium_core::store::{Committed, StoreError, UnitError};
use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};
use tracing::error;

/// Why a change did not apply.
#[derive(Debug)]
pub(crate) enum Failure {
    /// Refused before writing anything: only this change fails.
    Refused(UnitError),
    /// Failed while writing: the whole batch is rolled back.
    Broken(StoreError),
}

impl From<StoreError> for Failure {
    fn from(err: StoreError) -> Self {
        Failure::Broken(err)
    }
}

/// What a change works with.
pub(crate) struct WriteCtx<'a> {
    pub conn: &'a Connection,
    pub committed: &'a mut Committed,
    pub cache: &'a mut WorkflowCache,
}

type Change = Box<dyn FnOnce(&mut WriteCtx<'_>) -> Result<Box<dyn Any + Send>, Failure> + Send>;

type Reply = oneshot::Sender<Result<(Box<dyn Any + Send>, Committed), UnitError>>;

enum Request {
    Change {
        change: Change,
        reply: Reply,
    },
    /// Finish what is queued before this, then stop.
    Stop,
}

/// Most changes group-committed together.
const MAX_BATCH: usize = 512;
/// Most workflows kept in memory.
const CACHE_CAPACITY: usize = 4096;

/// Committed workflows, as the writer last wrote or read them. Changes in the batch
/// being written stay in `pending` until the commit succeeds.
#[derive(Default)]
pub(crate) struct WorkflowCache {
    committed: HashMap<String, WorkflowState>,
    /// `None` marks a workflow deleted in this batch.
    pending: HashMap<String, Option<WorkflowState>>,
}

impl WorkflowCache {
    /// A copy of a workflow's current state, if held.
    pub(crate) fn get(&self, id: &str) -> Option<Option<WorkflowState>> {
        if let Some(pending) = self.pending.get(id) {
            return Some(pending.clone());
        }
        self.committed.get(id).map(|s| Some(s.clone()))
    }

    /// Mutable access to the state to keep, when held (for in-place updates by claims).
    pub(crate) fn get_mut(&mut self, id: &str) -> Option<&mut WorkflowState> {
        if !self.pending.contains_key(id) {
            let state = self.committed.get(id)?.clone();
            self.pending.insert(id.to_string(), Some(state));
        }
        self.pending.get_mut(id).and_then(Option::as_mut)
    }

    /// Records a workflow's state as written in this batch.
    pub(crate) fn put(&mut self, state: WorkflowState) {
        self.pending.insert(state.id().to_string(), Some(state));
    }

    /// Records a workflow as deleted in this batch.
    pub(crate) fn remove(&mut self, id: &str) {
        self.pending.insert(id.to_string(), None);
    }

    fn commit(&mut self) {
        for (id, state) in self.pending.drain() {
            match state {
                Some(state) if !state.status().is_terminal() => {
                    self.committed.insert(id, state);
                }
                _ => {
                    self.committed.remove(&id);
                }
            }
        }
        if self.committed.len() > CACHE_CAPACITY {
            let excess = self.committed.len() - CACHE_CAPACITY / 2;
            let victims: Vec<String> = self.committed.keys().take(excess).cloned().collect();
            for id in victims {
                self.committed.remove(&id);
            }
        }
    }

    fn roll_back(&mut self) {
        self.pending.clear();
    }
}

/// Handle to the writer thread.
pub(crate) struct Writer {
    sender: mpsc::UnboundedSender<Request>,
    thread: parking_lot::Mutex<Option<JoinHandle<()>>>,
}

impl Writer {
    /// Starts the writer thread on a connection.
    pub(crate) fn start(conn: Connection) -> Result<Writer, StoreError> {
        let (sender, receiver) = mpsc::unbounded_channel();
        let thread = std::thread::Builder::new()
            .name("podium-sqlite-writer".into())
            .spawn(move || run(conn, receiver))
            .map_err(|e| StoreError::backend(format!("cannot start the writer thread: {e}")))?;
        Ok(Writer {
            sender,
            thread: parking_lot::Mutex::new(Some(thread)),
        })
    }

    /// Applies a change and waits for its commit.
    pub(crate) async fn write<T, F>(&self, change: F) -> Result<(T, Committed), UnitError>
    where
        T: Send + 'static,
        F: FnOnce(&mut WriteCtx<'_>) -> Result<T, Failure> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let change: Change =
            Box::new(move |ctx| change(ctx).map(|v| Box::new(v) as Box<dyn Any + Send>));
        self.sender
            .send(Request::Change { change, reply })
            .map_err(|_| {
                StoreError::Unavailable("The server is shutting down; try again shortly.".into())
            })?;
        let (value, committed) = answer.await.map_err(|_| {
            StoreError::Unavailable("The server is shutting down; try again shortly.".into())
        })??;
        let value = value
            .downcast::<T>()
            .map_err(|_| StoreError::backend("the writer returned a value of the wrong type"))?;
        Ok((*value, committed))
    }

    /// Stops the writer after the changes already sent, and waits for it.
    pub(crate) fn close(&self) {
        let _ = self.sender.send(Request::Stop);
        if let Some(thread) = self.thread.lock().take() {
            let _ = thread.join();
        }
    }
}

fn run(mut conn: Connection, mut receiver: mpsc::UnboundedReceiver<Request>) {
    let mut cache = WorkflowCache::default();
    let mut stopping = false;
    while !stopping {
        let Some(first) = receiver.blocking_recv() else {
            break;
        };
        let mut batch = Vec::with_capacity(16);
        let mut next = Some(first);
        while let Some(request) = next.take() {
            match request {
                Request::Change { change, reply } => batch.push((change, reply)),
                Request::Stop => {
                    stopping = true;
                    break;
                }
            }
            if batch.len() < MAX_BATCH {
                next = receiver.try_recv().ok();
            }
        }
        if !batch.is_empty() {
            apply_batch(&mut conn, &mut cache, batch);
        }
    }
    // Anything sent after the stop is refused: its reply channel is dropped.
    receiver.close();
}

/// The message a panic carried, if it was text.
fn panic_text(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_string())
}

fn failed(err: rusqlite::Error) -> StoreError {
    StoreError::backend(err)
}

fn apply_batch(conn: &mut Connection, cache: &mut WorkflowCache, batch: Vec<(Change, Reply)>) {
    let tx = match conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(err) => {
            error!(error = %err, "cannot begin a write transaction");
            let text = err.to_string();
            for (_, reply) in batch {
                let _ = reply.send(Err(StoreError::backend(format!(
                    "cannot begin a write transaction: {text}"
                ))
                .into()));
            }
            return;
        }
    };
    let mut outcomes = Vec::with_capacity(batch.len());
    let mut broken: Option<StoreError> = None;
    for (change, reply) in batch {
        if broken.is_some() {
            outcomes.push((reply, None));
            continue;
        }
        let mut committed = Committed::default();
        let mut ctx = WriteCtx {
            conn: &tx,
            committed: &mut committed,
            cache,
        };
        let written_before = tx.total_changes();
        // The change and everything it touches are dropped or rolled back below when
        // it panics, so nothing it left half-done is used again.
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| change(&mut ctx)));
        match outcome {
            Ok(Ok(value)) => outcomes.push((reply, Some(Ok((value, committed))))),
            Ok(Err(Failure::Refused(err))) => outcomes.push((reply, Some(Err(err)))),
            Ok(Err(Failure::Broken(err))) => {
                error!(error = %err, "a write failed; the batch is rolled back");
                broken = Some(err);
                outcomes.push((reply, None));
            }
            Err(panic) => {
                let what = panic_text(panic.as_ref());
                let err =
                    StoreError::backend(format!("a change panicked in the store writer: {what}"));
                if tx.total_changes() == written_before {
                    error!(panic = %what, "a change panicked before writing; it fails alone");
                    outcomes.push((reply, Some(Err(err.into()))));
                } else {
                    error!(panic = %what, "a change panicked while writing; the batch is rolled back");
                    broken = Some(err);
                    outcomes.push((reply, None));
                }
            }
        }
    }
    let result = match broken {
        Some(err) => Err(err),
        None => tx.commit().map_err(|e| {
            error!(error = %e, "commit failed; the batch is rolled back");
            failed(e)
        }),
    };
    match result {
        Ok(()) => {
            cache.commit();
            for (reply, outcome) in outcomes {
                if let Some(outcome) = outcome {
                    let _ = reply.send(outcome);
                }
            }
        }
        Err(err) => {
            cache.roll_back();
            // Whatever the transaction held is gone: drop what the cache knew too.
            cache.committed.clear();
            let message = error_chain(&err);
            for (reply, _) in outcomes {
                let _ = reply.send(Err(StoreError::backend(format!(
                    "the write was rolled back: {message}"
                ))
                .into()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    fn insert(value: i64) -> Change {
        Box::new(move |ctx| {
            ctx.conn
                .execute("INSERT INTO t (x) VALUES (?1)", [value])
                .map_err(|e| Failure::Broken(failed(e)))?;
            Ok(Box::new(()) as Box<dyn Any + Send>)
        })
    }

    fn insert_then_panic(value: i64) -> Change {
        Box::new(move |ctx| {
            ctx.conn
                .execute("INSERT INTO t (x) VALUES (?1)", [value])
                .map_err(|e| Failure::Broken(failed(e)))?;
            panic!("poisoned after writing");
        })
    }

    fn panic_before_writing() -> Change {
        Box::new(|_| panic!("poisoned before writing"))
    }

    /// Applies one batch; returns whether each change succeeded and its error text.
    fn run(
        conn: &mut Connection,
        cache: &mut WorkflowCache,
        changes: Vec<Change>,
    ) -> Vec<Result<(), String>> {
        let mut answers = Vec::new();
        let mut batch = Vec::new();
        for change in changes {
            let (reply, answer) = oneshot::channel();
            batch.push((change, reply));
            answers.push(answer);
        }
        apply_batch(conn, cache, batch);
        answers
            .into_iter()
            .map(|mut a| match a.try_recv().expect("answered") {
                Ok(_) => Ok(()),
                Err(err) => Err(podium_core::error::error_chain(&err)),
            })
            .collect()
    }

    fn rows(conn: &Connection) -> Vec<i64> {
        let mut stmt = conn.prepare("SELECT x FROM t ORDER BY x").unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    #[test]
    fn a_panicking_change_fails_with_an_error_and_the_writer_goes_on() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (x INTEGER)").unwrap();
        let mut cache = WorkflowCache::default();

        // Before writing: only the panicking change fails.
        let answers = run(
            &mut conn,
            &mut cache,
            vec![insert(1), panic_before_writing(), insert(2)],
        );
        assert_eq!(answers[0], Ok(()));
        let err = answers[1].clone().unwrap_err();
        assert!(
            err.contains("panicked") && err.contains("poisoned before writing"),
            "{err}"
        );
        assert_eq!(answers[2], Ok(()));
        assert_eq!(rows(&conn), vec![1, 2]);

        // After writing: the batch is rolled back, as for a failure while writing.
        let answers = run(
            &mut conn,
            &mut cache,
            vec![insert(3), insert_then_panic(4), insert(5)],
        );
        assert!(answers.iter().all(Result::is_err), "{answers:?}");
        assert!(answers[1].clone().unwrap_err().contains("rolled back"));
        assert_eq!(rows(&conn), vec![1, 2]);

        // And the next batch commits.
        assert_eq!(run(&mut conn, &mut cache, vec![insert(6)]), vec![Ok(())]);
        assert_eq!(rows(&conn), vec![1, 2, 6]);
    }
}
