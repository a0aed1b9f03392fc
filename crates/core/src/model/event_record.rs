//! What happened to events (Orkes's `EventMessage` and `ExtendedEventExecution`):
//! each event received, with its payload as handlers saw it, and each action a
//! handler took for one, with how it ended.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::JsonMap;
use super::event_handler::ActionKind;

/// An event received: published by an `EVENT` task or sent to
/// `/api/event/handleIncomingEvent`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventMessage {
    pub id: String,
    /// The event's name.
    pub event_target: String,
    /// `MESSAGE`, as Orkes names events that are not webhooks.
    pub event_type: String,
    /// The payload, as handlers see it (what its run masks masked).
    pub full_payload: Value,
    pub created_at: i64,
    /// `RECEIVED`, then `HANDLED` (some handler took it) or `REJECTED` (none did).
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_description: Option<String>,
    /// Who published it (the starter of the run of an `EVENT` task).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub published_by: Option<String>,
}

/// One action a handler took for an event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventExecution {
    pub id: String,
    pub message_id: String,
    /// The handler's name.
    pub name: String,
    pub event: String,
    pub action: ActionKind,
    pub created: i64,
    /// `COMPLETED` or `FAILED`.
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_description: Option<String>,
    pub output: JsonMap,
}

/// A handler with what it handled (Orkes's `HandledEventResponse`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HandledEvent {
    pub name: String,
    pub event: String,
    pub active: bool,
    /// Actions recorded for it.
    pub number_of_actions: u64,
    /// Messages recorded for its event.
    pub number_of_messages: u64,
}
