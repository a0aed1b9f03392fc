//! The single writer: one thread owns the writing connection and applies every change,
//! group-committing whatever arrived while the previous commit ran. Each change runs in
//! its own savepoint, so one failing change does not undo the others, and its caller
//! hears back only after the commit that holds it.

use std::any::Any;
use std::thread::JoinHandle;

use podium_core::error::CoreError;
use podium_core::store::{Committed, StoreError};
use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};
use tracing::error;

/// A change to apply: gets the connection (inside a savepoint) and records what it wrote.
type Change =
    Box<dyn FnOnce(&Connection, &mut Committed) -> Result<Box<dyn Any + Send>, CoreError> + Send>;

type Reply = oneshot::Sender<Result<(Box<dyn Any + Send>, Committed), CoreError>>;

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
            .map_err(|e| StoreError::Backend(format!("cannot start the writer thread: {e}")))?;
        Ok(Writer {
            sender,
            thread: parking_lot::Mutex::new(Some(thread)),
        })
    }

    /// Applies a change and waits for its commit.
    pub(crate) async fn write<T, F>(&self, change: F) -> Result<(T, Committed), CoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection, &mut Committed) -> Result<T, CoreError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let change: Change = Box::new(move |conn, committed| {
            change(conn, committed).map(|v| Box::new(v) as Box<dyn Any + Send>)
        });
        self.sender
            .send(Request::Change { change, reply })
            .map_err(|_| CoreError::Unavailable("the store is closed".into()))?;
        let (value, committed) = answer
            .await
            .map_err(|_| CoreError::Unavailable("the store writer stopped".into()))??;
        let value = value
            .downcast::<T>()
            .map_err(|_| CoreError::Internal("writer returned a value of the wrong type".into()))?;
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
            apply_batch(&mut conn, batch);
        }
    }
    receiver.close();
    // Anything sent after the stop is refused: its reply channel is dropped.
}

fn backend(err: rusqlite::Error) -> CoreError {
    CoreError::from(crate::map_err(err))
}

fn apply_batch(conn: &mut Connection, batch: Vec<(Change, Reply)>) {
    let mut tx = match conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(err) => {
            error!(error = %err, "cannot begin a write transaction");
            for (_, reply) in batch {
                let _ = reply.send(Err(backend_clone(&err)));
            }
            return;
        }
    };
    let mut outcomes = Vec::with_capacity(batch.len());
    for (change, reply) in batch {
        let result = match tx.savepoint() {
            Ok(mut savepoint) => {
                let mut committed = Committed::default();
                match change(&savepoint, &mut committed) {
                    Ok(value) => match savepoint.commit() {
                        Ok(()) => Ok((value, committed)),
                        Err(err) => Err(backend(err)),
                    },
                    Err(err) => {
                        let _ = savepoint.rollback();
                        Err(err)
                    }
                }
            }
            Err(err) => Err(backend(err)),
        };
        outcomes.push((reply, result));
    }
    match tx.commit() {
        Ok(()) => {
            for (reply, result) in outcomes {
                let _ = reply.send(result);
            }
        }
        Err(err) => {
            error!(error = %err, "commit failed; the batch is rolled back");
            for (reply, _) in outcomes {
                let _ = reply.send(Err(backend_clone(&err)));
            }
        }
    }
}

fn backend_clone(err: &rusqlite::Error) -> CoreError {
    CoreError::Internal(format!("database error: {err}"))
}
