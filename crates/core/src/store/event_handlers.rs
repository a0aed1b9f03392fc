//! Event handlers: what to do when an event arrives, by name, found by event.

use async_trait::async_trait;

use super::StoreResult;
use crate::model::EventHandler;

/// Where event handlers are kept.
#[async_trait]
pub trait EventHandlerStore: Send + Sync {
    /// Replaces the handler of its name; false (and nothing written) when there is
    /// none, so a change racing a deletion never brings it back.
    async fn put_event_handler(&self, handler: &EventHandler) -> StoreResult<bool>;
    /// Stores a new handler; false (and nothing written) when its name is taken,
    /// so two creations racing for one name cannot both succeed.
    async fn insert_event_handler(&self, handler: &EventHandler) -> StoreResult<bool>;
    /// A handler by name.
    async fn event_handler(&self, name: &str) -> StoreResult<Option<EventHandler>>;
    /// Every handler, by name. One that cannot be read is left out (and logged).
    async fn list_event_handlers(&self) -> StoreResult<Vec<EventHandler>>;
    /// The handlers of an event (the exact string), by name; with `active_only`,
    /// the active ones.
    async fn event_handlers_for(
        &self,
        event: &str,
        active_only: bool,
    ) -> StoreResult<Vec<EventHandler>>;
    /// Deletes a handler; whether there was one.
    async fn delete_event_handler(&self, name: &str) -> StoreResult<bool>;
}
