//! Operations that change a workflow from outside: starting it, a worker's result,
//! pause and resume, terminate, restart, retry, rerun and skip. Each one changes the
//! state and lets the decider carry on; none of them touches a store.

use std::sync::Arc;

use serde_json::Value;

use crate::error::CoreError;
use crate::model::{
    JsonMap, SkipTaskRequest, Task, TaskExecLog, TaskResult, TaskResultStatus, TaskStatus,
    Workflow, WorkflowDef, WorkflowStatus,
};
use crate::store::{ChangeSet, QueueMessage};

use super::context::EngineContext;
use super::decider::{self, WorkflowEnd, decide};
use super::graph;
use super::payload;
use super::schedule::{add_task, at_seconds_after, expr_context, new_task, queue_name};
use super::state::WorkflowState;
use super::task_type::TaskKind;

pub use super::repair::{rerun, restart, retry, retry_resuming};

/// Longest `reasonForIncompletion` kept, as in Conductor.
const MAX_REASON_CHARS: usize = 500;

/// What a new workflow starts with.
#[derive(Debug, Clone, Default)]
pub struct StartParams {
    pub input: JsonMap,
    pub correlation_id: Option<String>,
    pub priority: i32,
    pub task_to_domain: serde_json::Map<String, Value>,
    pub created_by: Option<String>,
    pub idempotency_key: Option<String>,
    pub parent_workflow_id: Option<String>,
    pub parent_workflow_task_id: Option<String>,
    pub re_run_from_workflow_id: Option<String>,
    pub event: Option<String>,
    /// Whose authority the run carries besides its starter's.
    pub authority: super::state::Authority,
    /// Input fields the run masks besides its definition's `maskedFields`.
    pub masked_fields: Vec<String>,
    /// Values the run masks from the start (those its input carries from the run
    /// that started it).
    pub masked_values: Vec<String>,
}

/// A new workflow execution, decided once so its first tasks are scheduled.
pub fn start(
    def: Arc<WorkflowDef>,
    revision: String,
    params: StartParams,
    ctx: &EngineContext<'_>,
    out: &mut ChangeSet,
) -> WorkflowState {
    let mut input = params.input;
    for (key, value) in &def.input_template {
        input.entry(key.clone()).or_insert_with(|| value.clone());
    }
    let workflow = Workflow {
        workflow_id: ctx.ids.new_id(),
        status: WorkflowStatus::Running,
        create_time: ctx.now,
        update_time: ctx.now,
        start_time: ctx.now,
        created_by: params.created_by,
        input,
        correlation_id: params.correlation_id,
        priority: params.priority,
        task_to_domain: params.task_to_domain,
        parent_workflow_id: params.parent_workflow_id,
        parent_workflow_task_id: params.parent_workflow_task_id,
        re_run_from_workflow_id: params.re_run_from_workflow_id,
        idempotency_key: params.idempotency_key,
        event: params.event,
        variables: def.variables.clone(),
        workflow_name: def.name.clone(),
        workflow_version: def.version,
        masked_fields: merged_masks(&def, params.masked_fields),
        masked_values: params.masked_values,
        ..Workflow::default()
    };
    let mut state = WorkflowState::new(workflow, def, revision);
    state.authority = params.authority;
    let max = ctx.limits.max_payload_bytes;
    if let Err(excess) = payload::check(&state.workflow.input, max) {
        // As Conductor fails a workflow whose input is too large; the input is not kept.
        state.workflow.input = JsonMap::new();
        let reason = payload::workflow_reason(excess, state.id(), max);
        decider::end_workflow(&mut state, failed_at_start(reason), ctx, out);
        return state;
    }
    schedule_first(&mut state, ctx, out);
    decide(&mut state, ctx, out);
    state
}

/// The fields a run masks: `extra` and the definition's `maskedFields`, once each.
pub(super) fn merged_masks(def: &WorkflowDef, mut extra: Vec<String>) -> Vec<String> {
    for field in def.masked_fields.iter().flatten() {
        if !extra.contains(field) {
            extra.push(field.clone());
        }
    }
    extra
}

fn failed_at_start(reason: String) -> WorkflowEnd {
    WorkflowEnd {
        status: WorkflowStatus::Failed,
        reason: Some(reason),
        output: Some(JsonMap::new()),
        trigger_failure_workflow: true,
        failed_task_id: None,
    }
}

/// Refuses a payload a caller supplies (rerun or skip input and output) past the limits.
pub(super) fn check_supplied(
    map: &JsonMap,
    what: &str,
    ctx: &EngineContext<'_>,
) -> Result<(), CoreError> {
    let max = ctx.limits.max_payload_bytes;
    match payload::check(map, max) {
        Ok(_) => Ok(()),
        Err(payload::Excess::Large { size } | payload::Excess::AtLeast { size }) => {
            Err(CoreError::invalid(format!(
                "The {what} is {size} bytes, greater than the permissible limit: {max} bytes"
            )))
        }
        Err(payload::Excess::Deep) => Err(CoreError::invalid(format!(
            "The {what} is nested more than the permissible limit: {} levels",
            payload::MAX_PAYLOAD_DEPTH
        ))),
    }
}

pub(super) fn schedule_first(
    state: &mut WorkflowState,
    ctx: &EngineContext<'_>,
    out: &mut ChangeSet,
) {
    let def = state.def.clone();
    if let Some(first) = decider::first_runnable(state, &def) {
        let task = new_task(state, first, ctx);
        let delay = task.start_delay_in_seconds;
        add_task(state, task, delay, ctx, out);
    }
}

/// What applying a worker's result did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultOutcome {
    /// The task changed.
    Applied,
    /// The task or workflow had already ended; the result was ignored.
    Ignored,
}

/// Applies a worker's (or an operator's) result to a task, then decides.
pub fn apply_result(
    state: &mut WorkflowState,
    result: &TaskResult,
    ctx: &EngineContext<'_>,
    out: &mut ChangeSet,
) -> Result<ResultOutcome, CoreError> {
    let index = state
        .task_index(&result.task_id)
        .ok_or_else(|| CoreError::task_not_found(&result.task_id))?;
    let now = ctx.now;
    for log in &result.logs {
        out.task_logs.push(TaskExecLog {
            log: log.log.clone(),
            task_id: Some(result.task_id.clone()),
            created_time: if log.created_time > 0 {
                log.created_time
            } else {
                now
            },
        });
    }
    let task_status = state.tasks()[index].status;
    if state.status().is_terminal() || task_status.is_terminal() {
        return Ok(ResultOutcome::Ignored);
    }
    // A dynamic fork's branch has no author: an `outputFilter` in its input is data,
    // never resolved against the run.
    let is_branch = TaskKind::of_execution(&state.tasks()[index]) == TaskKind::Http
        && super::dynamic::is_branch(&state.def, &state.tasks()[index].reference_task_name);
    let Some(task) = state.task_mut(index) else {
        return Err(CoreError::task_not_found(&result.task_id));
    };
    if result.extend_lease && result.status == TaskResultStatus::InProgress {
        task.update_time = now;
        return Ok(ResultOutcome::Applied);
    }
    let max = ctx.limits.max_payload_bytes;
    if let Err(excess) = payload::check(&result.output_data, max) {
        // As Conductor fails a task whose output is too large; the output is not kept.
        let reason = payload::task_reason(excess, &task.task_id, &task.workflow_instance_id, max);
        mark_failed(task, reason, true, now);
        task.output_data = JsonMap::new();
        out.queue_removals.push(task.task_id.clone());
        decide(state, ctx, out);
        return Ok(ResultOutcome::Applied);
    }
    if let Some(worker) = result.worker_id.as_deref().filter(|w| !w.trim().is_empty()) {
        task.worker_id = Some(worker.to_string());
    }
    task.output_data = result.output_data.clone();
    task.update_time = now;
    if task.start_time == 0 {
        task.start_time = now;
    }
    task.reason_for_incompletion = result
        .reason_for_incompletion
        .as_ref()
        .map(|r| r.chars().take(MAX_REASON_CHARS).collect());
    task.callback_after_seconds = result.callback_after_seconds.max(0);
    // Only the engine links a task to a sub-workflow (when it starts one): a
    // result naming a workflow is not taken, so a worker cannot make its task lead
    // into another run (signals and waits follow these links).
    let kind = TaskKind::of_execution(task);
    let requeue = match result.status {
        // A worker that reports progress hands the task back: it is polled again once
        // `callbackAfterSeconds` has passed (Conductor's behaviour).
        TaskResultStatus::InProgress if kind.is_worker_task() => {
            task.status = TaskStatus::Scheduled;
            Some(QueueMessage {
                queue_name: queue_name(&task.task_type, task.domain.as_deref()),
                task_id: task.task_id.clone(),
                workflow_id: task.workflow_instance_id.clone(),
                priority: task.workflow_priority,
                visible_at: at_seconds_after(now, task.callback_after_seconds),
            })
        }
        TaskResultStatus::InProgress => {
            task.status = TaskStatus::InProgress;
            None
        }
        terminal => {
            task.status = terminal.task_status();
            task.end_time = now;
            None
        }
    };
    let task_id = task.task_id.clone();
    let filtered = kind == TaskKind::Http && task.status == TaskStatus::Completed && !is_branch;
    match requeue {
        Some(message) => out.queue_pushes.push(message),
        None => out.queue_removals.push(task_id),
    }
    if filtered {
        apply_output_filter(state, index, ctx);
    }
    decide(state, ctx, out);
    Ok(ResultOutcome::Applied)
}

/// Replaces a completed HTTP task's output with its `outputFilter`, evaluated with the
/// task's own output in place (`${ref.output.response.body.token}`). A filter that
/// cannot be resolved within the limits fails the task.
fn apply_output_filter(state: &mut WorkflowState, index: usize, ctx: &EngineContext<'_>) {
    let task = &state.tasks()[index];
    let Ok(Some(filter)) = super::http::output_filter(&task.input_data) else {
        return;
    };
    let max = ctx.limits.max_payload_bytes;
    let output = super::expr::resolve_map(
        filter,
        &expr_context(state, Some(&task.task_id), ctx.limits),
    )
    .map_err(|err| format!("The outputFilter cannot be resolved: {err}"))
    .and_then(|output| match payload::check(&output, max) {
        Ok(_) => Ok(output),
        Err(excess) => Err(payload::task_reason(
            excess,
            &task.task_id,
            &task.workflow_instance_id,
            max,
        )),
    });
    if let Some(task) = state.task_mut(index) {
        match output {
            Ok(output) => task.output_data = output,
            Err(reason) => {
                mark_failed(task, reason, true, ctx.now);
                task.output_data = JsonMap::new();
            }
        }
    }
}

/// `name.version/id`, as Conductor names a workflow in messages.
pub(super) fn short_name(state: &WorkflowState) -> String {
    format!(
        "{}.{}/{}",
        state.workflow.workflow_name,
        state.workflow.workflow_version,
        state.id()
    )
}

/// `name.version/id.STATUS`.
pub(super) fn long_name(state: &WorkflowState) -> String {
    format!("{}.{}", short_name(state), state.status().as_str())
}

/// Pauses a running workflow: no new tasks are scheduled until it is resumed.
pub fn pause(state: &mut WorkflowState, ctx: &EngineContext<'_>) -> Result<(), CoreError> {
    match state.status() {
        WorkflowStatus::Paused => Ok(()),
        WorkflowStatus::Running => {
            state.workflow.status = WorkflowStatus::Paused;
            state.workflow.update_time = ctx.now;
            state.touch();
            state.next_check_at = None;
            Ok(())
        }
        _ => Err(CoreError::Conflict(format!(
            "Workflow {} has ended, status cannot be updated.",
            short_name(state)
        ))),
    }
}

/// Queues the waiting worker tasks of a type again (Conductor's `requeue`): each
/// one SCHEDULED is visible again when its callback or delay runs out, counted
/// from its last update, as Conductor does; a task a worker holds is left with it.
/// Answers how many were queued.
pub fn requeue(
    state: &mut WorkflowState,
    task_type: &str,
    ctx: &EngineContext<'_>,
    out: &mut ChangeSet,
) -> usize {
    if state.status().is_terminal() {
        return 0;
    }
    let mut count = 0;
    for task in state.tasks() {
        if task.status != TaskStatus::Scheduled
            || task.task_type != task_type
            || !TaskKind::of_execution(task).is_worker_task()
        {
            continue;
        }
        let due = at_seconds_after(task.update_time, task.callback_after_seconds.max(0));
        out.queue_pushes.push(QueueMessage {
            queue_name: queue_name(&task.task_type, task.domain.as_deref()),
            task_id: task.task_id.clone(),
            workflow_id: task.workflow_instance_id.clone(),
            priority: task.workflow_priority,
            visible_at: due.max(ctx.now),
        });
        count += 1;
    }
    count
}

/// Hands every worker task that waits for its callback (a worker reported it in
/// progress with `callbackAfterSeconds`) back to its queue now, as Conductor's
/// `resetcallbacks` does; an ended workflow is a conflict.
pub fn reset_callbacks(
    state: &mut WorkflowState,
    ctx: &EngineContext<'_>,
    out: &mut ChangeSet,
) -> Result<(), CoreError> {
    if state.status().is_terminal() {
        return Err(CoreError::Conflict(format!(
            "Workflow is in terminal state. Status = {}",
            state.status().as_str()
        )));
    }
    let waiting: Vec<usize> = (0..state.tasks().len())
        .filter(|&i| {
            let task = &state.tasks()[i];
            // Handed back by its worker: it started (a retry's delay waits on).
            task.status == TaskStatus::Scheduled
                && task.start_time > 0
                && task.callback_after_seconds > 0
                && TaskKind::of_execution(task).is_worker_task()
        })
        .collect();
    for index in &waiting {
        if let Some(task) = state.task_mut(*index) {
            task.callback_after_seconds = 0;
            task.update_time = ctx.now;
            out.queue_pushes.push(QueueMessage {
                queue_name: queue_name(&task.task_type, task.domain.as_deref()),
                task_id: task.task_id.clone(),
                workflow_id: task.workflow_instance_id.clone(),
                priority: task.workflow_priority,
                visible_at: ctx.now,
            });
        }
    }
    if !waiting.is_empty() && state.status() == WorkflowStatus::Running {
        // The tasks' deadlines moved up.
        decide(state, ctx, out);
    }
    Ok(())
}

/// Resumes a paused workflow and decides. The workflow timeout restarts from now.
pub fn resume(
    state: &mut WorkflowState,
    ctx: &EngineContext<'_>,
    out: &mut ChangeSet,
) -> Result<(), CoreError> {
    if state.status() != WorkflowStatus::Paused {
        return Err(CoreError::Conflict(format!(
            "The workflow {} is not PAUSED so cannot resume. Current status is {}",
            state.id(),
            state.status().as_str()
        )));
    }
    state.workflow.status = WorkflowStatus::Running;
    state.workflow.update_time = ctx.now;
    state.workflow.last_retried_time = ctx.now;
    state.touch();
    decide(state, ctx, out);
    Ok(())
}

/// Terminates a workflow. A completed workflow cannot be terminated; terminating a
/// terminated one does nothing; a failed or timed-out one becomes terminated.
pub fn terminate(
    state: &mut WorkflowState,
    reason: Option<String>,
    trigger_failure_workflow: bool,
    ctx: &EngineContext<'_>,
    out: &mut ChangeSet,
) -> Result<(), CoreError> {
    match state.status() {
        WorkflowStatus::Completed => Err(CoreError::Conflict(
            "Cannot terminate a COMPLETED workflow.".to_string(),
        )),
        WorkflowStatus::Terminated => Ok(()),
        _ => {
            decider::end_workflow(
                state,
                WorkflowEnd {
                    status: WorkflowStatus::Terminated,
                    reason,
                    output: None,
                    trigger_failure_workflow,
                    failed_task_id: None,
                },
                ctx,
                out,
            );
            Ok(())
        }
    }
}

/// Merges `variables` into a running workflow's variables (a null value is set as
/// null, as Orkes does) and lets the decider carry on.
pub fn update_variables(
    state: &mut WorkflowState,
    variables: JsonMap,
    ctx: &EngineContext<'_>,
    out: &mut ChangeSet,
) -> Result<(), CoreError> {
    if state.status().is_terminal() {
        return Err(CoreError::Conflict(format!(
            "Workflow: {} is in terminal state {}; its variables cannot change",
            long_name(state),
            state.status().as_str()
        )));
    }
    check_supplied(&variables, "variables", ctx)?;
    let mut merged = state.workflow.variables.clone();
    merged.extend(variables);
    let size = payload::encoded_len(&merged, usize::MAX).unwrap_or(usize::MAX);
    if size > ctx.limits.max_variables_bytes {
        return Err(CoreError::invalid(format!(
            "The variables payload size: {size} of workflow: {} is greater than the permissible limit: {} bytes",
            state.id(),
            ctx.limits.max_variables_bytes
        )));
    }
    state.workflow.variables = merged;
    state.workflow.update_time = ctx.now;
    state.touch();
    if state.status() == WorkflowStatus::Running {
        decide(state, ctx, out);
    }
    Ok(())
}

/// Skips a task of a running workflow before it is reached: it is recorded as
/// `SKIPPED` (with the given input and output) and the decider steps over it.
pub fn skip(
    state: &mut WorkflowState,
    reference: &str,
    request: &SkipTaskRequest,
    ctx: &EngineContext<'_>,
    out: &mut ChangeSet,
) -> Result<(), CoreError> {
    if state.status() != WorkflowStatus::Running {
        return Err(CoreError::Conflict(format!(
            "The workflow {} is not running so the task referenced by {reference} cannot be skipped",
            state.id()
        )));
    }
    let Some(node) = graph::find_task(&state.def, reference).cloned() else {
        return Err(CoreError::invalid(format!(
            "The task referenced by {reference} does not exist in the WorkflowDefinition {}",
            state.workflow.workflow_name
        )));
    };
    if graph::enclosing_loop(&state.def, &node.task_reference_name).is_some() {
        return Err(CoreError::invalid(format!(
            "The task referenced by {reference} is inside a DO_WHILE: a task of a loop's iterations cannot be skipped in advance"
        )));
    }
    if state.latest_task_index(reference).is_some() {
        return Err(CoreError::Conflict(format!(
            "The task referenced {reference} has already been processed, cannot be skipped"
        )));
    }
    for (supplied, what) in [
        (&request.task_input, "task input"),
        (&request.task_output, "task output"),
    ] {
        if let Some(map) = supplied {
            check_supplied(map, what, ctx)?;
        }
    }
    let mut task: Task = new_task(state, &node, ctx);
    task.task_type = node.name.clone();
    task.status = TaskStatus::Skipped;
    task.reason_for_incompletion = None;
    task.end_time = ctx.now;
    task.domain = None;
    task.input_data = request.task_input.clone().unwrap_or_default();
    task.output_data = request.task_output.clone().unwrap_or_default();
    state.push_task(task);
    decide(state, ctx, out);
    Ok(())
}

/// Applies the end of a sub-workflow to the parent's `SUB_WORKFLOW` task.
pub fn sub_workflow_ended(
    state: &mut WorkflowState,
    parent_task_id: &str,
    child: &Workflow,
    ctx: &EngineContext<'_>,
    out: &mut ChangeSet,
) -> Result<(), CoreError> {
    let Some(index) = state.task_index(parent_task_id) else {
        return Ok(());
    };
    let task = &state.tasks()[index];
    if task.status.is_terminal()
        || task.sub_workflow_id.as_deref() != Some(child.workflow_id.as_str())
    {
        return Ok(());
    }
    let status = match child.status {
        WorkflowStatus::Completed => TaskStatus::Completed,
        WorkflowStatus::Failed => TaskStatus::Failed,
        WorkflowStatus::TimedOut => TaskStatus::TimedOut,
        WorkflowStatus::Terminated => TaskStatus::Canceled,
        WorkflowStatus::Running | WorkflowStatus::Paused => return Ok(()),
    };
    if let Some(task) = state.task_mut(index) {
        let mut output = child.output.clone();
        output.insert(
            "subWorkflowId".into(),
            Value::String(child.workflow_id.clone()),
        );
        task.output_data = output;
        task.status = status;
        task.end_time = ctx.now;
        task.update_time = ctx.now;
        if status != TaskStatus::Completed {
            task.reason_for_incompletion = child.reason_for_incompletion.clone();
        }
    }
    if state.status() == WorkflowStatus::Running {
        decide(state, ctx, out);
    }
    Ok(())
}

/// Records that a sub-workflow was started for a parent's `SUB_WORKFLOW` task.
pub fn sub_workflow_started(
    state: &mut WorkflowState,
    parent_task_id: &str,
    child_id: &str,
    now: i64,
) {
    if let Some(index) = state.task_index(parent_task_id)
        && let Some(task) = state.task_mut(index)
    {
        task.status = TaskStatus::InProgress;
        task.sub_workflow_id = Some(child_id.to_string());
        task.start_time = now;
        task.update_time = now;
        task.output_data
            .insert("subWorkflowId".into(), Value::String(child_id.to_string()));
    }
}

/// Fails a system task that could not run (bad input, unknown sub-workflow), then
/// decides.
pub fn fail_system_task(
    state: &mut WorkflowState,
    task_id: &str,
    reason: String,
    terminal: bool,
    ctx: &EngineContext<'_>,
    out: &mut ChangeSet,
) {
    if let Some(index) = state.task_index(task_id) {
        if state.tasks()[index].status.is_terminal() {
            return;
        }
        if let Some(task) = state.task_mut(index) {
            mark_failed(task, reason, terminal, ctx.now);
        }
        if state.status() == WorkflowStatus::Running {
            decide(state, ctx, out);
        }
    }
}

/// Fails a system task for good and terminates its workflow with the same reason
/// (a task whose input makes the whole workflow pointless, as `UPDATE_SECRET`
/// without its fields).
pub fn terminate_for_task(
    state: &mut WorkflowState,
    task_id: &str,
    reason: String,
    ctx: &EngineContext<'_>,
    out: &mut ChangeSet,
) -> Result<(), CoreError> {
    if state.status().is_terminal() {
        return Ok(());
    }
    if let Some(index) = state.task_index(task_id)
        && !state.tasks()[index].status.is_terminal()
        && let Some(task) = state.task_mut(index)
    {
        mark_failed(task, reason.clone(), true, ctx.now);
    }
    terminate(state, Some(reason), false, ctx, out)
}

fn mark_failed(task: &mut Task, reason: String, terminal: bool, now: i64) {
    task.status = if terminal {
        TaskStatus::FailedWithTerminalError
    } else {
        TaskStatus::Failed
    };
    task.reason_for_incompletion = Some(reason);
    task.end_time = now;
    task.update_time = now;
    if task.start_time == 0 {
        task.start_time = now;
    }
}
