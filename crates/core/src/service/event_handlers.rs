//! Event handlers (Conductor's `/api/event`): add, update, list, by event, get,
//! remove, and their tags. What they do when an event arrives is in
//! `exec::events`.
//!
//! A handler acts as the principal who last saved it: whoever decides what it does
//! is who it acts as, so changing someone else's handler lends nobody else's
//! rights. Saving checks that this principal may start each workflow its actions
//! start; each action checks again when it runs.

use std::sync::Arc;

use super::Runtime;
use super::disclosure;
use super::workflow::WorkflowService;
use crate::error::{CoreError, CoreResult};
use crate::model::{ActionKind, EventHandler, StartWorkflowRequest, Tag};
use crate::security::model::{Target, TargetType};
use crate::security::{Access, Principal, Resource, ResourceType};

/// The longest handler name.
pub const MAX_NAME: usize = 255;
/// The longest event string.
pub const MAX_EVENT: usize = 1024;
/// The longest condition.
pub const MAX_CONDITION: usize = 4096;
/// The most actions a handler may hold.
pub const MAX_ACTIONS: usize = 50;
/// The most event handlers one principal may have made (of those there now).
pub const MAX_HANDLERS_PER_CREATOR: usize = 500;

fn not_found(name: &str) -> CoreError {
    CoreError::NotFound(format!("EventHandler with name {name} not found!"))
}

fn printable(text: &str) -> bool {
    !text.chars().any(char::is_control)
}

/// Refuses a handler that Podium could not act on, saying why.
fn check(handler: &EventHandler) -> CoreResult<()> {
    let name = &handler.name;
    if name.is_empty() || name.len() > MAX_NAME || !printable(name) || name.contains('/') {
        return Err(CoreError::invalid(format!(
            "EventHandler name must have 1 to {MAX_NAME} characters, without '/' or control characters"
        )));
    }
    if handler.event.trim().is_empty()
        || handler.event.len() > MAX_EVENT
        || !printable(&handler.event)
    {
        return Err(CoreError::invalid(format!(
            "Missing event location: event must have 1 to {MAX_EVENT} characters (conductor:<workflow>:<name> for an EVENT task's)"
        )));
    }
    if handler
        .condition
        .as_ref()
        .is_some_and(|c| c.len() > MAX_CONDITION)
    {
        return Err(CoreError::invalid(format!(
            "condition must have at most {MAX_CONDITION} characters"
        )));
    }
    if let Some(kind) = handler
        .evaluator_type
        .as_deref()
        .filter(|e| !e.is_empty() && !matches!(*e, "javascript" | "graaljs" | "value-param"))
    {
        return Err(CoreError::invalid(format!(
            "evaluatorType '{kind}' is not supported: use javascript (graaljs) or value-param"
        )));
    }
    if handler.actions.len() > MAX_ACTIONS {
        return Err(CoreError::invalid(format!(
            "An event handler holds at most {MAX_ACTIONS} actions"
        )));
    }
    for (index, action) in handler.actions.iter().enumerate() {
        let given = match action.action {
            ActionKind::StartWorkflow => action
                .start_workflow
                .as_ref()
                .is_some_and(|s| !s.name.trim().is_empty()),
            ActionKind::CompleteTask => action.complete_task.is_some(),
            ActionKind::FailTask => action.fail_task.is_some(),
            ActionKind::TerminateWorkflow => action.terminate_workflow.is_some(),
            ActionKind::UpdateWorkflowVariables => action.update_workflow_variables.is_some(),
        };
        if !given {
            let kind = action.action.name();
            return Err(CoreError::invalid(format!(
                "actions[{index}]: a {kind} action needs its parameters in '{kind}'{}",
                if action.action == ActionKind::StartWorkflow {
                    ", with the name of the workflow to start"
                } else {
                    ""
                }
            )));
        }
    }
    Ok(())
}

/// Event handlers.
#[derive(Clone)]
pub struct EventHandlerService {
    rt: Arc<Runtime>,
    workflows: WorkflowService,
}

impl EventHandlerService {
    /// The service over a runtime.
    pub fn new(rt: Arc<Runtime>) -> EventHandlerService {
        EventHandlerService {
            workflows: WorkflowService::new(rt.clone()),
            rt,
        }
    }

    fn may(&self, principal: &Principal, access: Access, name: &str) -> bool {
        self.rt.authorizer.can(
            principal,
            access,
            Resource::new(ResourceType::EventHandler, name),
        )
    }

    /// The stored handler, when the caller holds `access` on it; a caller who may
    /// not read it hears the same refusal whether it exists or not.
    async fn visible(
        &self,
        principal: &Principal,
        access: Access,
        name: &str,
    ) -> CoreResult<EventHandler> {
        if !self.may(principal, access, name) {
            if access != Access::Read && self.may(principal, Access::Read, name) {
                return Err(crate::security::authz::refusal(
                    access,
                    Resource::new(ResourceType::EventHandler, name),
                ));
            }
            return Err(disclosure::hidden(format_args!(
                "{} event handler: {name}",
                access.verb()
            )));
        }
        self.rt
            .stores
            .events
            .event_handler(name)
            .await?
            .ok_or_else(|| not_found(name))
    }

    /// Checks that the saver may start every workflow the handler's actions start,
    /// of those defined now (one defined later is checked when an action starts it,
    /// as every start is; Orkes takes a handler naming a workflow not defined yet).
    async fn check_starts(&self, principal: &Principal, handler: &EventHandler) -> CoreResult<()> {
        for start in handler
            .actions
            .iter()
            .filter_map(|a| a.start_workflow.as_ref())
        {
            if self
                .rt
                .defs
                .workflow(start.name.trim(), start.version)
                .is_none()
            {
                continue;
            }
            let request = StartWorkflowRequest {
                name: start.name.trim().to_string(),
                version: start.version,
                ..StartWorkflowRequest::default()
            };
            self.workflows.check_start(principal, &request).await?;
        }
        Ok(())
    }

    /// Orkes's test route (`GET /event/handler/`): an example handler, the shape a
    /// handler is saved in, for a client to check it reaches the event API.
    pub fn example(&self) -> EventHandler {
        serde_json::from_value(serde_json::json!({
            "name": "example",
            "event": "conductor:<workflow>:<name>",
            "condition": "$.status == 'ready'",
            "evaluatorType": "javascript",
            "active": false,
            "actions": [{"action": "complete_task",
                         "complete_task": {"workflowId": "${target}", "taskRefName": "wait",
                                           "output": {"from": "${workflowInstanceId}"}}}]
        }))
        .unwrap_or_default()
    }

    /// `POST /event`: adds handlers (409 for a name taken). Each needs CREATE, and
    /// what a start of each workflow its actions start needs.
    pub async fn add(&self, principal: &Principal, handlers: Vec<EventHandler>) -> CoreResult<()> {
        self.rt.access.fresh().await?;
        for mut handler in handlers {
            handler.name = handler.name.trim().to_string();
            check(&handler)?;
            let name = handler.name.clone();
            let resource = Resource::new(ResourceType::EventHandler, &name);
            if let Err(err) = self.rt.authorizer.authorize_create(principal, resource) {
                if self.may(principal, Access::Read, &name) {
                    return Err(err);
                }
                return Err(disclosure::hidden(format_args!(
                    "create event handler: {name}"
                )));
            }
            if self.rt.stores.events.event_handler(&name).await?.is_some() {
                return Err(CoreError::Conflict(format!(
                    "EventHandler with name {name} already exists!"
                )));
            }
            self.check_starts(principal, &handler).await?;
            let now = self.rt.now();
            let tags = std::mem::take(&mut handler.tags);
            handler.created_by = Some(principal.id().to_string());
            handler.updated_by = handler.created_by.clone();
            handler.create_time = Some(now);
            handler.update_time = Some(now);
            self.check_room(principal).await?;
            if !self.rt.stores.events.insert_event_handler(&handler).await? {
                return Err(CoreError::Conflict(format!(
                    "EventHandler with name {name} already exists!"
                )));
            }
            // A new handler starts with no record, whatever one of its name did.
            self.rt
                .stores
                .event_records
                .delete_event_executions(&name)
                .await?;
            let ops = self
                .rt
                .access
                .creation_ops(principal, Target::new(TargetType::EventHandler, &name));
            self.rt.access.commit(ops).await?;
            if !tags.is_empty() {
                self.rt
                    .access
                    .change_tags(TargetType::EventHandler, &name, &tags, false)
                    .await?;
            }
        }
        Ok(())
    }

    /// Refuses a new handler to a principal who made [`MAX_HANDLERS_PER_CREATOR`] of
    /// those there now.
    async fn check_room(&self, principal: &Principal) -> CoreResult<()> {
        let id = principal.id();
        let made = self
            .rt
            .stores
            .events
            .list_event_handlers()
            .await?
            .iter()
            .filter(|h| h.created_by.as_deref() == Some(id))
            .count();
        if made >= MAX_HANDLERS_PER_CREATOR {
            return Err(CoreError::invalid(format!(
                "{id} has made {made} event handlers, the most one principal may have"
            )));
        }
        Ok(())
    }

    /// `PUT /event`: replaces a handler (404 when there is none); it acts as the
    /// caller from now on. Needs UPDATE, and what a start of each workflow its
    /// actions start needs. Tags given replace its tags.
    pub async fn update(&self, principal: &Principal, mut handler: EventHandler) -> CoreResult<()> {
        self.rt.access.fresh().await?;
        handler.name = handler.name.trim().to_string();
        check(&handler)?;
        let existing = self
            .visible(principal, Access::Update, &handler.name)
            .await?;
        self.check_starts(principal, &handler).await?;
        let tags = std::mem::take(&mut handler.tags);
        handler.created_by = existing.created_by;
        handler.create_time = existing.create_time;
        handler.updated_by = Some(principal.id().to_string());
        handler.update_time = Some(self.rt.now());
        if !self.rt.stores.events.put_event_handler(&handler).await? {
            return Err(not_found(&handler.name));
        }
        if !tags.is_empty() {
            let name = &handler.name;
            let old = self.stored_tags(name).await?;
            let access = &self.rt.access;
            access
                .change_tags(TargetType::EventHandler, name, &old, true)
                .await?;
            access
                .change_tags(TargetType::EventHandler, name, &tags, false)
                .await?;
        }
        Ok(())
    }

    async fn stored_tags(&self, name: &str) -> CoreResult<Vec<Tag>> {
        Ok(self
            .rt
            .stores
            .tags
            .get_tags(TargetType::EventHandler.name(), name)
            .await?)
    }

    async fn with_tags(&self, mut handler: EventHandler) -> CoreResult<EventHandler> {
        handler.tags = self.stored_tags(&handler.name).await?;
        Ok(handler)
    }

    async fn readable(
        &self,
        principal: &Principal,
        handlers: Vec<EventHandler>,
    ) -> CoreResult<Vec<EventHandler>> {
        let mut out = Vec::new();
        for handler in handlers {
            if self.may(principal, Access::Read, &handler.name) {
                out.push(self.with_tags(handler).await?);
            }
        }
        Ok(out)
    }

    /// `GET /event`: the handlers the caller may read, by name.
    pub async fn list(&self, principal: &Principal) -> CoreResult<Vec<EventHandler>> {
        let all = self.rt.stores.events.list_event_handlers().await?;
        self.readable(principal, all).await
    }

    /// `GET /event/{event}`: the handlers of an event the caller may read (the
    /// active ones with `active_only`).
    pub async fn for_event(
        &self,
        principal: &Principal,
        event: &str,
        active_only: bool,
    ) -> CoreResult<Vec<EventHandler>> {
        let found = self
            .rt
            .stores
            .events
            .event_handlers_for(event, active_only)
            .await?;
        self.readable(principal, found).await
    }

    /// `GET /event/handler/{name}`: one handler (needs READ).
    pub async fn get(&self, principal: &Principal, name: &str) -> CoreResult<EventHandler> {
        let handler = self.visible(principal, Access::Read, name).await?;
        self.with_tags(handler).await
    }

    /// `DELETE /event/{name}`: removes a handler with its grants and tags (needs
    /// DELETE; 404 when there is none).
    pub async fn remove(&self, principal: &Principal, name: &str) -> CoreResult<()> {
        self.visible(principal, Access::Delete, name).await?;
        self.rt.access.fresh().await?;
        if !self.rt.stores.events.delete_event_handler(name).await? {
            return Err(not_found(name));
        }
        // What it did is nobody's to read once it is gone (and not the next
        // owner's of its name).
        self.rt
            .stores
            .event_records
            .delete_event_executions(name)
            .await?;
        let target = Target::new(TargetType::EventHandler, name);
        let ops = self.rt.access.deletion_ops(&target);
        self.rt.access.commit(ops).await?;
        self.rt
            .access
            .clear_tags(TargetType::EventHandler, name)
            .await
    }

    /// The tags of a handler (needs READ).
    pub async fn tags(&self, principal: &Principal, name: &str) -> CoreResult<Vec<Tag>> {
        self.visible(principal, Access::Read, name).await?;
        self.stored_tags(name).await
    }

    /// Adds tags to a handler, or removes them (needs UPDATE); tag grants follow.
    pub async fn change_tags(
        &self,
        principal: &Principal,
        name: &str,
        tags: Vec<Tag>,
        remove: bool,
    ) -> CoreResult<()> {
        self.visible(principal, Access::Update, name).await?;
        self.rt
            .access
            .change_tags(TargetType::EventHandler, name, &tags, remove)
            .await
    }
}
