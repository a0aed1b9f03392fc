//! Records of events received and of the actions handlers took for them, kept
//! for a while: the latest of each event and each handler.

use std::collections::HashMap;

use async_trait::async_trait;

use super::StoreResult;
use crate::model::{EventExecution, EventMessage};

/// Where event records are kept.
#[async_trait]
pub trait EventRecordStore: Send + Sync {
    /// Stores an event message (one with its id is replaced), keeping the latest
    /// `keep` of its event and those that jobs (named by the message's id) still
    /// wait to read.
    async fn put_event_message(&self, message: &EventMessage, keep: usize) -> StoreResult<()>;
    /// An event message by id.
    async fn event_message(&self, id: &str) -> StoreResult<Option<EventMessage>>;
    /// An event's messages, the latest first, from the `from`th, at most `limit`.
    async fn event_messages(
        &self,
        event: &str,
        from: usize,
        limit: usize,
    ) -> StoreResult<Vec<EventMessage>>;
    /// Stores an execution (one with its id is replaced), keeping the latest
    /// `keep` of its handler.
    async fn put_event_execution(&self, execution: &EventExecution, keep: usize)
    -> StoreResult<()>;
    /// Deletes a handler's executions (the handler is gone, or new under its name).
    async fn delete_event_executions(&self, handler: &str) -> StoreResult<()>;
    /// A handler's executions, the latest first, from the `from`th, at most `limit`.
    async fn event_executions(
        &self,
        handler: &str,
        from: usize,
        limit: usize,
    ) -> StoreResult<Vec<EventExecution>>;
    /// How many messages are kept of each event, and executions of each handler.
    async fn event_record_counts(
        &self,
    ) -> StoreResult<(HashMap<String, u64>, HashMap<String, u64>)>;
}
