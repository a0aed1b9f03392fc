//! Events, as Conductor's `conductor` queue carries them: an `EVENT` task publishes
//! its data under its workflow's name, the active handlers of that event whose
//! condition holds take it, and each of their actions runs.
//!
//! Every step is a job deleted in the same unit of work as what it does, so an
//! event outlives a crash: the task completes and its delivery is recorded
//! together; the delivery and the jobs of the actions it chose are written
//! together; a workflow an action starts carries the action job's id as its
//! idempotency key, so a start repeated after a crash answers the first one, and
//! ending a task twice is ending it once.
//!
//! The payload is the `EVENT` task's output, read again for each action from the
//! task itself, where it is kept sealed like all workflow data, with the values its
//! run masks masked. An action runs as the principal who last saved its handler,
//! through the same checks as that principal's own request would meet (`start` a
//! workflow; `signal`-like for ending a task; terminate; variables): an event
//! lends a handler nothing, and a handler lends the run nothing.

use std::sync::Arc;

use serde_json::Value;
use tracing::{info, warn};

use super::delegated::{Then, drop_job, fail_task};
use crate::engine::expr::resolve_in_document;
use crate::engine::loops::bare_ref;
use crate::engine::masked::{mask_values, run_masked_values};
use crate::engine::{graph, ops};
use crate::error::{CoreError, CoreResult};
use crate::exec::command::Command;
use crate::model::event_handler::TaskDetails;
use crate::model::{
    ActionKind, EventAction, EventExecution, EventHandler, EventMessage, IdempotencyStrategy,
    JsonMap, StartWorkflowRequest, Task, TaskResult, TaskResultStatus, TaskStatus,
};
use crate::security::Principal;
use crate::service::signals::TaskPick;
use crate::service::workflow::Feeder;
use crate::service::{Runtime, TaskService, WorkflowService};
use crate::store::{Effect, Job, JobLane};

/// The most active handlers one event is handed to.
pub const MAX_HANDLERS_PER_EVENT: usize = 100;

/// How many messages of each event, and actions of each handler, are kept on record.
pub const RECORDS_KEPT: usize = 100;

/// How deep strings holding JSON are read as JSON (`expandInlineJSON`).
const MAX_INLINE_JSON_DEPTH: usize = 4;

/// The longest event name a sink may make.
const MAX_EVENT: usize = crate::service::event_handlers::MAX_EVENT;

/// The event an `EVENT` task's sink names, as Conductor makes it: `conductor`
/// alone is `conductor:<workflow>:<task reference>`, `conductor:<name>` is
/// `conductor:<workflow>:<name>`. Other sinks are queues Podium does not have.
pub fn event_of_sink(sink: &str, workflow: &str, reference: &str) -> Result<String, String> {
    let sink = sink.trim();
    let event = match sink.strip_prefix("conductor") {
        Some("") => format!("conductor:{workflow}:{reference}"),
        Some(rest) if rest.starts_with(':') && rest.len() > 1 => {
            format!("conductor:{workflow}:{}", &rest[1..])
        }
        _ => {
            return Err(format!(
                "Invalid / Unsupported sink specified: {sink} (Podium delivers events to its own handlers: sink conductor or conductor:<name>)"
            ));
        }
    };
    if event.len() > MAX_EVENT || event.chars().any(char::is_control) {
        return Err(format!(
            "The event name {sink} makes is longer than {MAX_EVENT} characters or holds control characters"
        ));
    }
    Ok(event)
}

/// Publishes an `EVENT` task's data: the task ends (`IN_PROGRESS` with
/// `asyncComplete`, else `COMPLETED`) with its input, the run's ids and
/// `event_produced` as output, and the event's delivery is recorded with it.
pub(super) async fn publish(rt: &Runtime, job: Job, task: Task) -> CoreResult<()> {
    if task.status != TaskStatus::Scheduled {
        return drop_job(rt, &job).await;
    }
    let workflow_id = task.workflow_instance_id.clone();
    let task_id = task.task_id.clone();
    let Some(run) = rt.stores.execution.get_workflow(&workflow_id).await? else {
        return drop_job(rt, &job).await;
    };
    let node = graph::find_task(&run.def, bare_ref(&task));
    let sink = task
        .input_data
        .get("sink")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| node.and_then(|n| n.sink.clone()))
        .unwrap_or_default();
    let async_complete = node.is_some_and(|n| n.async_complete)
        || task.input_data.get("asyncComplete") == Some(&Value::Bool(true));
    let event = match event_of_sink(&sink, &run.workflow.workflow_name, bare_ref(&task)) {
        Ok(event) => event,
        Err(reason) => {
            return fail_task(rt, &job, workflow_id, task_id, reason, Then::Decide).await;
        }
    };
    let mut output = task.input_data.clone();
    output.insert("sink".into(), Value::String(sink));
    output.insert("asyncComplete".into(), Value::Bool(async_complete));
    output.insert(
        "workflowInstanceId".into(),
        Value::String(workflow_id.clone()),
    );
    output.insert(
        "workflowType".into(),
        Value::String(run.workflow.workflow_name.clone()),
    );
    output.insert(
        "workflowVersion".into(),
        Value::from(run.workflow.workflow_version),
    );
    output.insert(
        "correlationId".into(),
        run.workflow
            .correlation_id
            .clone()
            .map_or(Value::Null, Value::String),
    );
    output.insert(
        "taskToDomain".into(),
        Value::Object(run.workflow.task_to_domain.clone()),
    );
    output.insert("event_produced".into(), Value::String(event.clone()));
    let status = if async_complete {
        TaskResultStatus::InProgress
    } else {
        TaskResultStatus::Completed
    };
    let job_id = job.id.clone();
    rt.mutate(Some(workflow_id.clone()), move |txn, ctx| {
        let mut changes = std::mem::take(&mut txn.changes);
        if let Some(state) = txn.state.as_mut()
            && state
                .task_index(&task_id)
                .is_some_and(|i| state.tasks()[i].status == TaskStatus::Scheduled)
        {
            let result =
                TaskResult::reported(workflow_id.clone(), task_id.clone(), status, output, None);
            ops::apply_result(state, &result, ctx, &mut changes)?;
            changes.job_adds.push(Job {
                id: ctx.ids.new_id(),
                workflow_id,
                task_id: Some(task_id),
                effect: Effect::EventDelivery {
                    event,
                    incoming: false,
                },
                due_at: ctx.now,
                // Conditions are scripts: the delivery waits for a script slot.
                lane: JobLane::Scripts,
            });
        }
        changes.job_deletes.push(job_id);
        txn.changes = changes;
        Ok(())
    })
    .await
}

/// An event as handlers take it: published by an `EVENT` task (as its run holds
/// it now) or received at `/api/event/handleIncomingEvent` (as recorded).
struct Published {
    /// The payload, as written (not yet masked).
    payload: Value,
    /// The values the run masks (none for an event received from outside).
    masked: Vec<crate::engine::masked::SecretText>,
    /// The publishing run's record, to check who may read it.
    run: Option<crate::model::Workflow>,
    /// Who published it: the run's starter, or who sent it.
    publisher: Option<String>,
    /// How many runs in a row started one another before the run.
    generation: u32,
    /// The message's id: the `EVENT` task's, or the received event's.
    message_id: String,
}

impl Published {
    /// The payload as handlers see it: strings holding JSON read as JSON first
    /// when asked (depth-bounded), then what the run masks masked.
    fn seen(&self, expand: bool) -> Value {
        let mut payload = self.payload.clone();
        if expand {
            expand_inline_json(&mut payload, 0);
        }
        mask_values(&mut payload, &self.masked);
        payload
    }
}

/// The event a job is about: an `EVENT` task's (the job names the task), or one
/// received from outside (the job's workflow id is the message's id); None when
/// it is gone.
async fn published(rt: &Runtime, job: &Job) -> CoreResult<Option<Published>> {
    let Some(task_id) = &job.task_id else {
        let message = rt
            .stores
            .event_records
            .event_message(&job.workflow_id)
            .await?;
        return Ok(message.map(|message| Published {
            payload: message.full_payload,
            masked: Vec::new(),
            run: None,
            publisher: message.published_by,
            generation: 0,
            message_id: message.id,
        }));
    };
    let Some(run) = rt.stores.execution.get_workflow(&job.workflow_id).await? else {
        return Ok(None);
    };
    let Some(task) = run.tasks().iter().find(|t| t.task_id == *task_id) else {
        return Ok(None);
    };
    Ok(Some(Published {
        payload: Value::Object(task.output_data.clone()),
        masked: run_masked_values(&run),
        generation: run.authority.generation,
        publisher: run.workflow.created_by.clone(),
        run: Some(run.workflow.clone()),
        message_id: task_id.clone(),
    }))
}

/// Whether a handler's condition holds for a payload: none holds; `value-param`
/// reads the payload's value of that name; otherwise the condition is JavaScript
/// over `$`, in the script sandbox. A number holds when above zero, as Conductor
/// reads it.
async fn holds(rt: &Runtime, handler: &EventHandler, payload: &Value) -> Result<bool, String> {
    let Some(condition) = handler
        .condition
        .as_deref()
        .filter(|c| !c.trim().is_empty())
    else {
        return Ok(true);
    };
    let value = match handler.evaluator_type.as_deref() {
        Some("value-param") => payload
            .get(condition.trim())
            .cloned()
            .unwrap_or(Value::Null),
        _ => rt
            .scripts
            .javascript(condition, payload)
            .await
            .map_err(|err| err.to_string())?,
    };
    Ok(match value {
        Value::Bool(b) => b,
        Value::Number(n) => n.as_f64().is_some_and(|n| n > 0.0),
        _ => false,
    })
}

/// The principal who saved a handler last (who it acts as), as the directory
/// knows it now.
fn saver_of(rt: &Runtime, handler: &EventHandler) -> Option<Principal> {
    let id = handler
        .updated_by
        .as_deref()
        .or(handler.created_by.as_deref());
    acting_as(rt, id)
}

/// A principal by id as the engine acts for it (the open principal while
/// security is switched off).
fn acting_as(rt: &Runtime, id: Option<&str>) -> Option<Principal> {
    let directory = rt.authorizer.directory().read();
    crate::security::Actor::on_behalf_of(
        &directory,
        rt.authorizer.mode(),
        id,
        crate::security::Cause::EventHandler,
    )
    .ok()
    .map(crate::security::Actor::into_principal)
}

/// Whether a handler's saver may read the executions of the run that published
/// (an event received from outside carries no run's data).
fn saver_reads(rt: &Runtime, handler: &EventHandler, run: Option<&crate::model::Workflow>) -> bool {
    saver_of(rt, handler).is_some_and(|saver| {
        run.is_none_or(|run| {
            crate::exec::authority::may_access_execution(
                rt,
                &saver,
                crate::security::Access::Read,
                run,
            )
        })
    })
}

/// Hands an event to the active handlers of its name whose condition holds: a job
/// for each of their actions, written with the delivery's end.
pub(super) async fn deliver(rt: &Runtime, job: Job) -> CoreResult<()> {
    let Effect::EventDelivery { event, incoming } = &job.effect else {
        return drop_job(rt, &job).await;
    };
    let Some(published) = published(rt, &job).await? else {
        return drop_job(rt, &job).await;
    };
    let payload = published.seen(false);
    let run = published.run.as_ref();
    let mut handlers = rt.stores.events.event_handlers_for(event, true).await?;
    if handlers.len() > MAX_HANDLERS_PER_EVENT {
        warn!(event = %event, handlers = handlers.len(), "an event has more active handlers than Podium hands one event to; the first by name take it");
        handlers.truncate(MAX_HANDLERS_PER_EVENT);
    }
    // An event from outside goes only to handlers its sender may read.
    let sender = match run {
        None => Some(acting_as(rt, published.publisher.as_deref())),
        Some(_) => None,
    };
    let mut chosen = Vec::new();
    for handler in handlers {
        // A handler learns a run's data only if its saver may read the run: a
        // handler listening for someone else's workflow hears nothing of it.
        if !saver_reads(rt, &handler, run) {
            warn!(handler = %handler.name, event = %event, "the principal who saved an event handler may not read the workflow that published its event; skipped");
            continue;
        }
        if let Some(sender) = &sender {
            let reads = sender.as_ref().is_some_and(|p| {
                rt.authorizer.can(
                    p,
                    crate::security::Access::Read,
                    crate::security::Resource::new(
                        crate::security::ResourceType::EventHandler,
                        &handler.name,
                    ),
                )
            });
            if !reads {
                info!(handler = %handler.name, event = %event, "an event from outside is not handed to a handler its sender may not read");
                continue;
            }
        }
        match holds(rt, &handler, &payload).await {
            Ok(true) => chosen.push(handler),
            Ok(false) => {
                info!(handler = %handler.name, event = %event, "an event handler's condition does not hold; skipped");
            }
            Err(reason) => {
                warn!(handler = %handler.name, event = %event, reason = %reason, "an event handler's condition could not be evaluated; skipped");
            }
        }
    }
    // The record of the message, as handlers saw it, settled: kept only when a
    // handler took it (an event from outside was recorded when it came).
    let message = EventMessage {
        id: published.message_id.clone(),
        event_target: event.clone(),
        event_type: "MESSAGE".into(),
        full_payload: payload,
        created_at: rt.now(),
        status: if chosen.is_empty() {
            "REJECTED"
        } else {
            "HANDLED"
        }
        .into(),
        status_description: Some(format!("{} handlers took it", chosen.len())),
        published_by: published.publisher.clone(),
    };
    let received = rt.stores.event_records.event_message(&message.id).await?;
    if received.is_some() || !chosen.is_empty() {
        let message = match received {
            Some(received) => EventMessage {
                created_at: received.created_at,
                ..message
            },
            None => message,
        };
        rt.stores
            .event_records
            .put_event_message(&message, RECORDS_KEPT)
            .await?;
    }
    let job_id = job.id.clone();
    let (workflow_id, task_id, event, incoming) = (
        job.workflow_id.clone(),
        job.task_id.clone(),
        event.clone(),
        *incoming,
    );
    rt.mutate(None, move |txn, ctx| {
        for handler in &chosen {
            for action in 0..handler.actions.len() {
                txn.changes.job_adds.push(Job {
                    id: ctx.ids.new_id(),
                    workflow_id: workflow_id.clone(),
                    task_id: task_id.clone(),
                    effect: Effect::EventAction {
                        handler: handler.name.clone(),
                        action,
                        event: event.clone(),
                        incoming,
                        revision: Some(handler.revision()),
                    },
                    due_at: ctx.now,
                    lane: JobLane::Work,
                });
            }
        }
        txn.changes.job_deletes.push(job_id);
        Ok(())
    })
    .await
}

/// Reads strings of a payload that hold JSON objects or lists as JSON (a handler's
/// `expandInlineJSON`), at most [`MAX_INLINE_JSON_DEPTH`] strings deep (each parse
/// is itself bounded by the JSON parser's nesting limit).
fn expand_inline_json(value: &mut Value, depth: usize) {
    match value {
        Value::String(text)
            if depth < MAX_INLINE_JSON_DEPTH && text.trim_start().starts_with(['{', '[']) =>
        {
            if let Ok(mut parsed) = serde_json::from_str::<Value>(text) {
                expand_inline_json(&mut parsed, depth + 1);
                *value = parsed;
            }
        }
        Value::Object(map) => map.values_mut().for_each(|v| expand_inline_json(v, depth)),
        Value::Array(items) => items.iter_mut().for_each(|v| expand_inline_json(v, depth)),
        _ => {}
    }
}

/// Resolves an action's parameters (any serializable shape) against the payload.
fn resolved<T: serde::Serialize + serde::de::DeserializeOwned>(
    rt: &Runtime,
    params: &T,
    payload: &Value,
) -> Result<T, String> {
    let template = serde_json::to_value(params).map_err(|err| err.to_string())?;
    let value = resolve_in_document(&template, payload, &rt.limits)
        .map_err(|err| format!("its parameters cannot be resolved: {err}"))?;
    serde_json::from_value(value)
        .map_err(|err| format!("its parameters do not resolve to what the action takes: {err}"))
}

/// What an action's output carries about the event, as Conductor adds it.
fn event_marks(map: &mut JsonMap, message_id: &str, event: &str) {
    map.insert(
        "conductor.event.messageId".into(),
        Value::String(message_id.to_string()),
    );
    map.insert(
        "conductor.event.name".into(),
        Value::String(event.to_string()),
    );
}

/// Carries out one action of a handler for an event, as the principal who last
/// saved the handler. A refusal or a bad parameter is logged and the job dropped;
/// a store that is away leaves the job to be tried again.
pub(super) async fn act(rt: &Arc<Runtime>, job: Job) -> CoreResult<()> {
    let Effect::EventAction {
        handler: name,
        action: action_index,
        event,
        revision,
        ..
    } = &job.effect
    else {
        return drop_job(rt, &job).await;
    };
    let handler = rt.stores.events.event_handler(name).await?;
    // The handler acts as it was when its condition chose the event: one changed
    // since (another action, condition or saver) does not act.
    let Some((handler, action)) = handler
        .filter(|h| h.active && h.event == *event)
        .filter(|h| revision.as_ref().is_none_or(|r| *r == h.revision()))
        .and_then(|h| h.actions.get(*action_index).cloned().map(|a| (h, a)))
    else {
        info!(handler = %name, event = %event, "an event handler changed since its event came; its action is dropped");
        return drop_job(rt, &job).await;
    };
    let Some(published) = published(rt, &job).await? else {
        return drop_job(rt, &job).await;
    };
    if !saver_reads(rt, &handler, published.run.as_ref()) {
        warn!(handler = %name, event = %event, "the principal who saved an event handler may not read the workflow that published its event; its action is dropped");
        return drop_job(rt, &job).await;
    }
    let payload = published.seen(action.expand_inline_json);
    // The run whose data drives the action: its starter must be allowed what the
    // action does too, so an event never borrows the handler's rights.
    let feeder = acting_as(rt, published.publisher.as_deref());
    let outcome = match (saver_of(rt, &handler), feeder) {
        (None, _) => Err(CoreError::Forbidden(
            "the principal who saved the handler no longer exists or is disabled".into(),
        )),
        (_, None) => Err(CoreError::Forbidden(
            "the principal who published the event (who started its workflow, or sent it) no longer exists or is disabled".into(),
        )),
        (Some(saver), Some(feeder)) => {
            let from = From {
                feeder: &feeder,
                generation: published.generation,
                event,
                handler: name,
                action: *action_index,
                message_id: &published.message_id,
            };
            run_action(rt, &saver, &action, &payload, &from).await
        }
    };

    // The record is read by whoever may read the handler, who may not see what the
    // action touched: it says how the action ended in general words (the log has
    // the details), and carries only the id of a workflow the action started.
    let (status, description, output) = match outcome {
        Ok((done, output)) => {
            info!(handler = %name, event = %event, action = action.action.name(), done = %done, "an event handler acted");
            ("COMPLETED", "done".to_string(), output)
        }
        Err(CoreError::Unavailable(reason)) => return Err(CoreError::Unavailable(reason)),
        Err(err) => {
            warn!(handler = %name, event = %event, action = action.action.name(), error = %err.public_message(), "an event handler's action failed");
            ("FAILED", failure_kind(&err).to_string(), JsonMap::new())
        }
    };
    // On record under the job's id: an action run again after a crash is one.
    let execution = EventExecution {
        id: job.id.clone(),
        message_id: published.message_id.clone(),
        name: name.clone(),
        event: event.clone(),
        action: action.action,
        created: rt.now(),
        status: status.into(),
        status_description: Some(description),
        output,
    };
    rt.stores
        .event_records
        .put_event_execution(&execution, RECORDS_KEPT)
        .await?;
    drop_job(rt, &job).await
}

/// How a failed action ended, in words that name nothing it touched.
fn failure_kind(err: &CoreError) -> &'static str {
    match err {
        CoreError::Forbidden(_) | CoreError::Unauthenticated { .. } => {
            "refused: the handler's saver or the event's sender may not do it"
        }
        CoreError::NotFound(_) => "refused: what it names is not there, or may not be seen",
        CoreError::InvalidInput { .. } => "refused: its parameters are not valid for the event",
        CoreError::Conflict(_) => "refused: it conflicts with the state of what it names",
        _ => "failed: see the server log",
    }
}

/// Where an action comes from: the run whose event it is, and the handler.
struct From<'a> {
    /// The starter of the run that published the event.
    feeder: &'a Principal,
    /// That run's generation (runs in a row that started one another).
    generation: u32,
    event: &'a str,
    handler: &'a str,
    action: usize,
    /// The event's message id.
    message_id: &'a str,
}

/// One action; what it did, in a few words, and its output on record.
async fn run_action(
    rt: &Arc<Runtime>,
    saver: &Principal,
    action: &EventAction,
    payload: &Value,
    from: &From<'_>,
) -> CoreResult<(String, JsonMap)> {
    let message_id = from.message_id;
    let event = from.event;

    let invalid = CoreError::invalid;
    let runtime = rt.clone();
    match action.action {
        ActionKind::StartWorkflow => {
            let start = action.start_workflow.clone().unwrap_or_default();
            // The workflow and its version are used as written, as in Conductor.
            let mut input = resolved(rt, &start.input, payload).map_err(invalid)?;
            event_marks(&mut input, message_id, event);
            let correlation_id = resolved(rt, &start.correlation_id, payload).map_err(invalid)?;
            // Only the handler's own: domains chosen by data would route the run's
            // tasks, and the secrets handed to them, to whoever polls there.
            let task_to_domain = start.task_to_domain.clone().unwrap_or_default();
            let request = StartWorkflowRequest {
                name: start.name.trim().to_string(),
                version: start.version,
                correlation_id,
                input,
                task_to_domain,
                // One start per published event, handler and action, however
                // often a crash makes the delivery or the action run again.
                idempotency_key: Some(format!(
                    "event:{message_id}:{}:{}",
                    from.handler, from.action
                )),
                idempotency_strategy: IdempotencyStrategy::ReturnExisting,
                ..StartWorkflowRequest::default()
            };
            let feeder = Feeder {
                principal: from.feeder,
                generation: from.generation,
            };
            let id = WorkflowService::new(runtime)
                .start_fed(saver, request, feeder)
                .await?;

            let output =
                JsonMap::from_iter([("workflowId".to_string(), Value::String(id.clone()))]);
            Ok((format!("started workflow {id}"), output))
        }
        ActionKind::CompleteTask | ActionKind::FailTask => {
            let failing = action.action == ActionKind::FailTask;
            let details = if failing {
                action.fail_task.clone()
            } else {
                action.complete_task.clone()
            }
            .unwrap_or_default();
            let details: TaskDetails = resolved(rt, &details, payload).map_err(invalid)?;
            end_task(
                runtime,
                saver,
                from.feeder,
                details,
                failing,
                message_id,
                event,
            )
            .await
            .map(|done| (done, JsonMap::new()))
        }
        ActionKind::TerminateWorkflow => {
            let terminate = action.terminate_workflow.clone().unwrap_or_default();
            let terminate = resolved(rt, &terminate, payload).map_err(invalid)?;
            let id = terminate
                .workflow_id
                .filter(|id| !id.trim().is_empty())
                .ok_or_else(|| invalid("terminate_workflow names no workflowId".to_string()))?;
            let workflows = WorkflowService::new(runtime);
            workflows
                .authorize_for(from.feeder, &id, Command::Terminate)
                .await?;
            workflows
                .terminate(saver, &id, terminate.termination_reason, false)
                .await?;
            Ok((format!("terminated workflow {id}"), JsonMap::new()))
        }
        ActionKind::UpdateWorkflowVariables => {
            let update = action.update_workflow_variables.clone().unwrap_or_default();
            let update = resolved(rt, &update, payload).map_err(invalid)?;
            let id = update
                .workflow_id
                .filter(|id| !id.trim().is_empty())
                .ok_or_else(|| {
                    invalid("update_workflow_variables names no workflowId".to_string())
                })?;
            let mut variables = update.variables;
            if update.append_array
                && let Some(current) = rt.stores.execution.get_workflow_record(&id).await?
            {
                for (key, value) in variables.iter_mut() {
                    if let (Value::Array(added), Some(Value::Array(existing))) =
                        (&*value, current.variables.get(key))
                    {
                        let mut all = existing.clone();
                        all.extend(added.iter().cloned());
                        *value = Value::Array(all);
                    }
                }
            }
            let workflows = WorkflowService::new(runtime);
            workflows
                .authorize_for(from.feeder, &id, Command::UpdateVariables)
                .await?;
            workflows.update_variables(saver, &id, variables).await?;
            Ok((
                format!("updated the variables of workflow {id}"),
                JsonMap::new(),
            ))
        }
    }
}

/// `complete_task` and `fail_task`: the task by id, else by workflow and reference
/// name; its output becomes the resolved details with the event's marks.
async fn end_task(
    runtime: Arc<Runtime>,
    saver: &Principal,
    feeder: &Principal,
    details: TaskDetails,
    failing: bool,
    message_id: &str,
    event: &str,
) -> CoreResult<String> {
    let workflow_id = details
        .workflow_id
        .clone()
        .filter(|w| !w.trim().is_empty())
        .ok_or_else(|| CoreError::invalid("the action names no workflowId"))?;
    let pick = match (&details.task_id, &details.task_ref_name) {
        (Some(id), _) if !id.trim().is_empty() => TaskPick::Id(id),
        (_, Some(reference)) if !reference.trim().is_empty() => TaskPick::Reference(reference),
        _ => {
            return Err(CoreError::invalid(
                "the action names neither taskId nor taskRefName",
            ));
        }
    };
    let mut output = JsonMap::new();
    output.insert("workflowId".into(), Value::String(workflow_id.clone()));
    if let Some(id) = &details.task_id {
        output.insert("taskId".into(), Value::String(id.clone()));
    }
    if let Some(reference) = &details.task_ref_name {
        output.insert("taskRefName".into(), Value::String(reference.clone()));
    }
    if let Some(reason) = &details.reason_for_incompletion {
        output.insert(
            "reasonForIncompletion".into(),
            Value::String(reason.clone()),
        );
    }
    output.extend(details.output.clone());
    event_marks(&mut output, message_id, event);
    let status = if failing {
        TaskResultStatus::Failed
    } else {
        TaskResultStatus::Completed
    };
    let reason = failing.then(|| {
        details
            .reason_for_incompletion
            .clone()
            .unwrap_or_else(|| format!("Failed by an event handler on {event}"))
    });
    let ended = TaskService::new(runtime)
        .end_task(
            saver,
            Some(feeder),
            &workflow_id,
            pick,
            status,
            output,
            reason,
        )
        .await?;
    Ok(match ended {
        Some(task_id) => format!("ended task {task_id} of workflow {workflow_id}"),
        None => format!("the task of workflow {workflow_id} had ended already"),
    })
}
