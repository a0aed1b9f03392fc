//! Events from outside, and what happened to events: `POST
//! /api/event/handleIncomingEvent` hands a payload to the handlers of the event it
//! names, and the records of messages and of handlers' actions are read back.
//!
//! An event from outside lends nobody anything: it goes only to the active
//! handlers its sender may read, its sender is to each action what the starter of
//! a publishing run is (allowed what the action does, or it is not done), and it
//! carries no run's data. Messages hold payloads, which may be any
//! run's data (masked as the run masks it): only a principal who may read every
//! execution reads them. A handler's actions are read with READ on the handler.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;
use serde_json::Value;

use super::Runtime;
use super::disclosure;
use crate::error::{CoreError, CoreResult};
use crate::exec::events::RECORDS_KEPT;
use crate::model::{EventExecution, EventMessage, HandledEvent, JsonMap};
use crate::security::{Access, Principal, Resource, ResourceType};
use crate::store::{Effect, Job, JobLane};

/// The largest payload of an event from outside, as JSON.
pub const MAX_INCOMING_PAYLOAD: usize = 64 * 1024;
/// The most events from outside one sender sends a node in a minute: each may run
/// handlers' conditions in the script sandbox and start their actions.
pub const MAX_INCOMING_PER_MINUTE: u32 = 600;
/// Senders counted at once before those quiet for two minutes are forgotten.
const SENDERS_COUNTED: usize = 10_000;
/// The most records one read answers.
pub const MAX_RECORD_PAGE: usize = 100;

/// A minute, in milliseconds.
const MINUTE_MS: i64 = 60_000;

/// What one sender sent: in the minute from `start`, and in the minute before.
struct Window {
    start: i64,
    current: u32,
    previous: u32,
}

/// Events from outside, and the records of events.
#[derive(Clone)]
pub struct EventRecordService {
    rt: Arc<Runtime>,
    /// Per sender, what it sent lately.
    sent: Arc<Mutex<HashMap<String, Window>>>,
}

impl EventRecordService {
    /// The service over a runtime.
    pub fn new(rt: Arc<Runtime>) -> EventRecordService {
        EventRecordService {
            rt,
            sent: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// Counts an event from `sender`; refused once it sent
    /// [`MAX_INCOMING_PER_MINUTE`] in the last minute, as a sliding window
    /// estimates it (the minute before weighs by how much of it the last minute
    /// still covers), so no burst across a minute's boundary doubles the rate.
    fn count_sent(&self, sender: &str) -> CoreResult<()> {
        let now = self.rt.now();
        let mut sent = self.sent.lock();
        if sent.len() >= SENDERS_COUNTED {
            sent.retain(|_, window| now - window.start < 2 * MINUTE_MS);
        }
        let window = sent.entry(sender.to_string()).or_insert(Window {
            start: now,
            current: 0,
            previous: 0,
        });
        let minutes = (now - window.start).max(0) / MINUTE_MS;
        if minutes >= 1 {
            window.previous = if minutes == 1 { window.current } else { 0 };
            window.current = 0;
            window.start += minutes * MINUTE_MS;
        }
        let into = (now - window.start) as f64 / MINUTE_MS as f64;
        let estimate = f64::from(window.previous) * (1.0 - into) + f64::from(window.current);
        if estimate >= f64::from(MAX_INCOMING_PER_MINUTE) {
            return Err(CoreError::TooManyRequests(format!(
                "At most {MAX_INCOMING_PER_MINUTE} events a minute from one sender; try again shortly"
            )));
        }
        window.current += 1;
        Ok(())
    }

    /// Receives an event from outside: the payload's `event` names it. It is
    /// recorded, and handed to the active handlers of that event as an `EVENT`
    /// task's would be; answers the message's id.
    pub async fn receive(&self, principal: &Principal, payload: JsonMap) -> CoreResult<String> {
        self.count_sent(principal.id())?;
        let event = match payload.get("event") {
            Some(Value::String(event)) if !event.trim().is_empty() => event.trim().to_string(),
            _ => {
                return Err(CoreError::invalid(
                    "An incoming event needs its name as the string field 'event'",
                ));
            }
        };
        let max = super::event_handlers::MAX_EVENT;
        if event.len() > max || event.chars().any(char::is_control) {
            return Err(CoreError::invalid(format!(
                "An event's name is at most {max} bytes without control characters"
            )));
        }
        let size = serde_json::to_vec(&payload)
            .map(|v| v.len())
            .unwrap_or(usize::MAX);
        if size > MAX_INCOMING_PAYLOAD {
            return Err(CoreError::invalid(format!(
                "An incoming event's payload is at most {MAX_INCOMING_PAYLOAD} bytes as JSON"
            )));
        }
        // Only to handlers its sender may read: nobody feeds a handler it cannot
        // see, and an event nobody listens for is not kept.
        let listening = self
            .rt
            .stores
            .events
            .event_handlers_for(&event, true)
            .await?
            .iter()
            .any(|h| {
                self.rt.authorizer.can(
                    principal,
                    Access::Read,
                    Resource::new(ResourceType::EventHandler, &h.name),
                )
            });
        if !listening {
            return Err(CoreError::Forbidden(format!(
                "You don't have permissions to send event {event}: no active event handler you may read listens for it"
            )));
        }
        let id = self.rt.ids.new_id();
        let message = EventMessage {
            id: id.clone(),
            event_target: event.clone(),
            event_type: "MESSAGE".into(),
            full_payload: Value::Object(payload),
            created_at: self.rt.now(),
            status: "RECEIVED".into(),
            status_description: None,
            published_by: Some(principal.id().to_string()),
        };
        let records = &self.rt.stores.event_records;
        records.put_event_message(&message, RECORDS_KEPT).await?;
        // The delivery names the message by its id where an `EVENT` task's names
        // the run: no task, no run.
        let message_id = id.clone();
        self.rt
            .mutate(None, move |txn, ctx| {
                txn.changes.job_adds.push(Job {
                    id: ctx.ids.new_id(),
                    workflow_id: message_id,
                    task_id: None,
                    effect: Effect::EventDelivery {
                        event,
                        incoming: true,
                    },
                    due_at: ctx.now,
                    lane: JobLane::Scripts,
                });
                Ok(())
            })
            .await?;
        Ok(id)
    }

    /// The actions a handler took, the latest first (needs READ on the handler).
    pub async fn executions(
        &self,
        principal: &Principal,
        handler: &str,
        from: usize,
    ) -> CoreResult<Vec<EventExecution>> {
        let resource = Resource::new(ResourceType::EventHandler, handler);
        if !self.rt.authorizer.can(principal, Access::Read, resource) {
            return Err(disclosure::hidden(format_args!(
                "read event handler: {handler}"
            )));
        }
        Ok(self
            .rt
            .stores
            .event_records
            .event_executions(handler, from, MAX_RECORD_PAGE)
            .await?)
    }

    /// The messages of an event, the latest first, with their payloads: only for
    /// a principal who may read every execution.
    pub async fn messages(
        &self,
        principal: &Principal,
        event: &str,
        from: usize,
    ) -> CoreResult<Vec<EventMessage>> {
        if !disclosure::covers_every(
            &self.rt.authorizer,
            principal,
            Access::Read,
            ResourceType::Workflow,
        ) {
            return Err(CoreError::Forbidden(
                "You don't have permissions to read event messages: their payloads are workflows' data, for those who may read every execution".into(),
            ));
        }
        Ok(self
            .rt
            .stores
            .event_records
            .event_messages(event, from, MAX_RECORD_PAGE)
            .await?)
    }

    /// The handlers the caller may read, by name, from the `from`th, with how many
    /// actions and messages are on record for each.
    pub async fn handled(
        &self,
        principal: &Principal,
        active_only: bool,
        from: usize,
    ) -> CoreResult<(u64, Vec<HandledEvent>)> {
        let (messages, actions) = self.rt.stores.event_records.event_record_counts().await?;
        let readable: Vec<HandledEvent> = self
            .rt
            .stores
            .events
            .list_event_handlers()
            .await?
            .into_iter()
            .filter(|h| h.active || !active_only)
            .filter(|h| {
                self.rt.authorizer.can(
                    principal,
                    Access::Read,
                    Resource::new(ResourceType::EventHandler, &h.name),
                )
            })
            .map(|h| HandledEvent {
                number_of_actions: actions.get(&h.name).copied().unwrap_or(0),
                number_of_messages: messages.get(&h.event).copied().unwrap_or(0),
                name: h.name,
                event: h.event,
                active: h.active,
            })
            .collect();
        let total = u64::try_from(readable.len()).unwrap_or(u64::MAX);
        Ok((
            total,
            readable
                .into_iter()
                .skip(from)
                .take(MAX_RECORD_PAGE)
                .collect(),
        ))
    }
}
