//! Turning a definition node into a task execution: resolving its input, choosing its
//! domain, and queueing it for a worker or a system runner.
//!
//! A node whose input cannot be built within the limits (an expression past a bound, a
//! payload too large or too deep) still becomes a task, already
//! `FAILED_WITH_TERMINAL_ERROR` with the reason, so the workflow fails the usual way
//! (or goes on, for an optional task) instead of the decision failing.

use serde_json::Value;

use crate::model::{JsonMap, Task, TaskStatus, WorkflowTask};
use crate::store::{ChangeSet, Effect, Job, JobLane, QueueMessage};

use super::context::{EngineContext, EngineLimits};
use super::duration::{parse_duration_seconds, parse_until_millis};
use super::expr::{self, Bound, ExprContext, ExprError, WorkflowFields};
use super::payload;
use super::state::WorkflowState;
use super::task_type::TaskKind;

/// Why a `SUB_WORKFLOW` whose inline definition is not written out is refused.
pub const INLINE_DEFINITION_FROM_DATA: &str = "the inline sub-workflow definition must be written in the workflow definition; one given as an expression or built from data is refused";

/// The reserved domain name meaning "no domain" in `taskToDomain` lists.
pub const NO_DOMAIN: &str = "NO_DOMAIN";

/// The expression context of a workflow, for resolving task inputs and outputs.
pub fn expr_context<'a>(
    state: &'a WorkflowState,
    task_id: Option<&'a str>,
    limits: &'a EngineLimits,
) -> ExprContext<'a> {
    let wf = &state.workflow;
    ExprContext {
        workflow: WorkflowFields {
            input: &wf.input,
            output: &wf.output,
            variables: &wf.variables,
            status: wf.status.as_str(),
            workflow_id: &wf.workflow_id,
            parent_workflow_id: wf.parent_workflow_id.as_deref(),
            parent_workflow_task_id: wf.parent_workflow_task_id.as_deref(),
            workflow_type: &wf.workflow_name,
            version: wf.workflow_version,
            correlation_id: wf.correlation_id.as_deref(),
            reason_for_incompletion: wf.reason_for_incompletion.as_deref(),
            schema_version: state.def.schema_version,
        },
        tasks: state.tasks(),
        task_id,
        document: None,
        limits,
    }
}

/// Why a task's input could not be built: Conductor's payload reason for a size past
/// the limit, else the bound the expressions reached.
fn input_reason(err: &ExprError, task_id: &str, node: &WorkflowTask, workflow_id: &str) -> String {
    match err.bound {
        Bound::Size { at_least, limit } => payload::task_reason(
            payload::Excess::AtLeast { size: at_least },
            task_id,
            workflow_id,
            limit,
        ),
        _ => format!(
            "The input of task {} cannot be resolved: {err}",
            node.task_reference_name
        ),
    }
}

/// Checks a built task input against the payload limits.
pub(crate) fn checked_input(
    input: JsonMap,
    task_id: &str,
    workflow_id: &str,
    ctx: &EngineContext<'_>,
) -> Result<JsonMap, String> {
    let max = ctx.limits.max_payload_bytes;
    match payload::check(&input, max) {
        Ok(_) => Ok(input),
        Err(excess) => Err(payload::task_reason(excess, task_id, workflow_id, max)),
    }
}

/// Marks a task failed for good as it is scheduled; its input is not kept.
pub fn fail_at_schedule(task: &mut Task, reason: String, now: i64) {
    task.status = TaskStatus::FailedWithTerminalError;
    task.reason_for_incompletion = Some(reason);
    task.input_data = JsonMap::new();
    task.start_time = now;
    task.end_time = now;
    task.update_time = now;
}

/// Resolves a node's input parameters, merging its task definition's `inputTemplate`
/// (template keys fill absent parameters and parameters that resolve to null). The
/// error is the reason the task fails with.
pub fn resolve_input(
    state: &WorkflowState,
    node: &WorkflowTask,
    task_id: &str,
    ctx: &EngineContext<'_>,
) -> Result<JsonMap, String> {
    let def = ctx.task_def_for(node);
    // A registered task definition is its owner's, not the workflow author's: its
    // template fills what a worker task's workers receive, but never the input of a
    // system task, which Podium itself acts on (an HTTP call's address and body). A
    // node's own inline definition is the workflow author's and always applies.
    let template_applies =
        node.task_definition.is_some() || TaskKind::of(&node.task_type).is_worker_task();
    let template = def
        .as_ref()
        .filter(|_| template_applies)
        .map(|d| &d.input_template)
        .filter(|t| !t.is_empty());
    let mut params = node.input_parameters.clone();
    if let Some(template) = template {
        for (key, value) in template {
            params.entry(key.clone()).or_insert_with(|| value.clone());
        }
    }
    let mut resolved = expr::resolve_map(&params, &expr_context(state, Some(task_id), ctx.limits))
        .map_err(|err| input_reason(&err, task_id, node, state.id()))?;
    if let Some(template) = template {
        for (key, value) in resolved.iter_mut() {
            if value.is_null()
                && let Some(default) = template.get(key)
            {
                *value = default.clone();
            }
        }
    }
    checked_input(resolved, task_id, state.id(), ctx)
}

/// Picks the domain of a worker task from the workflow's `taskToDomain`: the
/// task-specific entry, else `*`; in a comma-separated list, the first domain with a
/// worker active recently, else the last entry (`NO_DOMAIN` meaning none).
pub fn pick_domain(
    state: &WorkflowState,
    task_type: &str,
    ctx: &EngineContext<'_>,
) -> Option<String> {
    let mapping = &state.workflow.task_to_domain;
    let entry = mapping.get(task_type).or_else(|| mapping.get("*"))?;
    let text = match entry {
        Value::String(s) => s.as_str(),
        _ => return None,
    };
    let candidates: Vec<&str> = text
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .collect();
    let last = *candidates.last()?;
    if candidates.len() > 1 {
        for domain in candidates
            .iter()
            .filter(|d| !d.eq_ignore_ascii_case(NO_DOMAIN))
        {
            if let Some(polled) = ctx.polls.last_poll(task_type, Some(domain))
                && ctx.now.saturating_sub(polled) <= ctx.limits.active_worker_window_ms
            {
                return Some((*domain).to_string());
            }
        }
    }
    if last.eq_ignore_ascii_case(NO_DOMAIN) {
        None
    } else {
        Some(last.to_string())
    }
}

/// The queue a worker task is polled from.
pub fn queue_name(task_type: &str, domain: Option<&str>) -> String {
    match domain {
        Some(domain) => format!("{domain}:{task_type}"),
        None => task_type.to_string(),
    }
}

/// A new task for `node`, scheduled now, not yet added to the workflow. When its
/// input cannot be built it is already failed, with the reason.
pub fn new_task(state: &WorkflowState, node: &WorkflowTask, ctx: &EngineContext<'_>) -> Task {
    let task_id = ctx.ids.new_id();
    let input = resolve_input(state, node, &task_id, ctx).and_then(|input| {
        if TaskKind::of(&node.task_type) == TaskKind::SubWorkflow {
            sub_workflow_input(state, node, &task_id, input, ctx)
                .and_then(|input| checked_input(input, &task_id, state.id(), ctx))
        } else {
            Ok(input)
        }
    });
    task_with_input(state, node, task_id, input, ctx)
}

/// A new task `task_id` for `node` whose input is built (resolved, or given as
/// data), or failed with the reason.
pub fn task_with_input(
    state: &WorkflowState,
    node: &WorkflowTask,
    task_id: String,
    input: Result<JsonMap, String>,
    ctx: &EngineContext<'_>,
) -> Task {
    let def = ctx.task_def_for(node);
    let kind = TaskKind::of(&node.task_type);
    let wf = &state.workflow;
    let mut task = Task {
        task_type: TaskKind::execution_type(node),
        status: TaskStatus::Scheduled,
        reference_task_name: node.task_reference_name.clone(),
        correlation_id: wf.correlation_id.clone(),
        task_def_name: node.name.clone(),
        scheduled_time: ctx.now,
        update_time: ctx.now,
        start_delay_in_seconds: node.start_delay.max(0),
        workflow_instance_id: wf.workflow_id.clone(),
        workflow_type: wf.workflow_name.clone(),
        task_id,
        workflow_priority: wf.priority,
        ..Task::default()
    };
    if let Some(def) = &def {
        task.response_timeout_seconds = def.response_timeout_seconds;
        task.rate_limit_per_frequency = def.rate_limit_per_frequency.unwrap_or(0);
        task.rate_limit_frequency_in_seconds = def.rate_limit_frequency_in_seconds.unwrap_or(0);
        task.isolation_group_id = def.isolation_group_id.clone();
        task.execution_name_space = def.execution_name_space.clone();
    }
    if kind.is_worker_task() {
        task.domain = pick_domain(state, &task.task_type, ctx);
    }
    match input {
        Ok(input) => task.input_data = input,
        Err(reason) => fail_at_schedule(&mut task, reason, ctx.now),
    }
    if kind == TaskKind::SubWorkflow
        && let Some(priority) = task.input_data.get("priority").and_then(Value::as_i64)
    {
        task.workflow_priority = priority.clamp(0, 99) as i32;
    }
    task
}

/// The input of a `SUB_WORKFLOW` task, as Conductor lays it out: the resolved
/// `subWorkflowParam` fields and the child's input under `workflowInput`.
///
/// An inline child definition is taken as the parent's author wrote it, never
/// resolved: its expressions are the child's own (as in Conductor), and nothing from
/// data (a worker's output, the workflow's input) can become a definition, whose
/// secret references a hand-off would honour. One given as an expression is refused.
fn sub_workflow_input(
    state: &WorkflowState,
    node: &WorkflowTask,
    task_id: &str,
    workflow_input: JsonMap,
    ctx: &EngineContext<'_>,
) -> Result<JsonMap, String> {
    let mut literal = Value::Null;
    let params = match node.sub_workflow_param.as_ref().map(|p| {
        let mut p = p.clone();
        literal = p.workflow_definition.take().unwrap_or(Value::Null);
        serde_json::to_value(p).ok()
    }) {
        Some(Some(v)) => expr::resolve_value(&v, &expr_context(state, None, ctx.limits))
            .map_err(|err| input_reason(&err, task_id, node, state.id()))?,
        _ => Value::Null,
    };
    if !matches!(literal, Value::Null | Value::Object(_)) {
        return Err(format!(
            "task {}: {INLINE_DEFINITION_FROM_DATA}",
            node.task_reference_name
        ));
    }
    let field = |name: &str| params.get(name).cloned().unwrap_or(Value::Null);
    let mut input = JsonMap::new();
    input.insert("subWorkflowName".into(), field("name"));
    input.insert("subWorkflowVersion".into(), field("version"));
    input.insert("subWorkflowTaskToDomain".into(), field("taskToDomain"));
    input.insert("subWorkflowDefinition".into(), literal);
    input.insert("priority".into(), field("priority"));
    input.insert("idempotencyKey".into(), field("idempotencyKey"));
    input.insert("idempotencyStrategy".into(), field("idempotencyStrategy"));
    input.insert("workflowInput".into(), Value::Object(workflow_input));
    Ok(input)
}

/// Adds a task to the workflow and makes it runnable: queued for workers, a job for
/// asynchronous system tasks, or started in place for waits. `delay_seconds` holds it
/// back (start delay, retry delay).
pub fn add_task(
    state: &mut WorkflowState,
    mut task: Task,
    delay_seconds: i64,
    ctx: &EngineContext<'_>,
    out: &mut ChangeSet,
) -> usize {
    if task.status.is_terminal() {
        // Failed as it was scheduled: nothing to queue; the decider handles it.
        return state.push_task(task);
    }
    if delay_seconds > 0 {
        task.callback_after_seconds = delay_seconds;
    }
    let index = state.push_task(task);
    make_runnable(state, index, delay_seconds, ctx, out);
    index
}

/// Makes the scheduled task at `index` runnable: queued for workers, a job for
/// asynchronous system tasks, or started in place for waits.
pub(crate) fn make_runnable(
    state: &mut WorkflowState,
    index: usize,
    delay_seconds: i64,
    ctx: &EngineContext<'_>,
    out: &mut ChangeSet,
) {
    let visible_at = at_seconds_after(ctx.now, delay_seconds);
    let Some(task) = state.task_mut(index) else {
        return;
    };
    let kind = TaskKind::of_execution(task);
    if kind == TaskKind::Wait {
        start_wait(task, ctx.now);
    } else if matches!(kind, TaskKind::Human | TaskKind::Yield) {
        start_human(task, ctx.now);
    }
    if task.status.is_terminal() {
        return;
    }
    let task_id = task.task_id.clone();
    let queue = kind
        .is_worker_task()
        .then(|| queue_name(&task.task_type, task.domain.as_deref()));
    let priority = task.workflow_priority;
    if let Some(queue_name) = queue {
        out.queue_pushes.push(QueueMessage {
            queue_name,
            task_id,
            workflow_id: state.id().to_string(),
            priority,
            visible_at,
        });
    } else if let Some(lane) = job_lane(state, &state.tasks()[index]) {
        out.job_adds.push(Job {
            id: ctx.ids.new_id(),
            effect: Effect::SystemTask,
            workflow_id: state.id().to_string(),
            task_id: Some(task_id),
            due_at: visible_at,
            lane,
        });
    }
}

/// Whether a task the server runs itself gets a job when it is made runnable, and in
/// which lane: the scripts' lane for `INLINE`, `JSON_JQ_TRANSFORM` and a switch or
/// decision whose case a script picks; the other lane for the other asynchronous
/// system tasks. (A loop's condition gets its job when an iteration ends.)
pub(crate) fn job_lane(state: &WorkflowState, task: &Task) -> Option<JobLane> {
    let kind = TaskKind::of_execution(task);
    match kind {
        TaskKind::Inline | TaskKind::JsonJqTransform => Some(JobLane::Scripts),
        TaskKind::Switch | TaskKind::Decision => {
            super::graph::find_task(&state.def, &task.reference_task_name)
                .is_some_and(super::task_type::decides_by_script)
                .then_some(JobLane::Scripts)
        }
        // What data chooses waits for a job that authorizes it as the run's
        // principals: a DYNAMIC task's type, a dynamic fork's branches.
        TaskKind::Dynamic => Some(JobLane::Work),
        TaskKind::ForkJoin => super::graph::find_task(&state.def, &task.reference_task_name)
            .is_some_and(|n| TaskKind::of(&n.task_type) == TaskKind::ForkJoinDynamic)
            .then_some(JobLane::Work),
        _ if kind.is_async_system() => Some(JobLane::Work),
        _ => None,
    }
}

/// Starts a `HUMAN` (or `YIELD`) task: in progress until it is completed through the
/// task update API (or a signal), as in Conductor (workers do not poll it).
pub(crate) fn start_human(task: &mut Task, now: i64) {
    task.status = TaskStatus::InProgress;
    task.start_time = now;
}

/// Starts a `WAIT` task: in progress until its `duration` or `until` passes, or until
/// completed from outside when it has neither.
pub(crate) fn start_wait(task: &mut Task, now: i64) {
    task.status = TaskStatus::InProgress;
    task.start_time = now;
    let duration = task.input_data.get("duration").and_then(non_empty_text);
    let until = task.input_data.get("until").and_then(non_empty_text);
    let deadline = match (duration, until) {
        (Some(_), Some(_)) => Err("Both 'duration' and 'until' specified. Please provide only one input".to_string()),
        (Some(d), None) => match parse_duration_seconds(&d) {
            Some(seconds) if seconds <= MAX_WAIT_SECONDS => Ok(at_seconds_after(now, seconds)),
            Some(_) => Err(format!(
                "Wait duration '{}' is longer than the limit of {MAX_WAIT_SECONDS} seconds",
                clip(&d)
            )),
            None => Err(format!("Wait duration '{}' is invalid", clip(&d))),
        },
        (None, Some(u)) => parse_until_millis(&u).ok_or_else(|| {
            format!(
                "Wait until '{}' is invalid: use yyyy-MM-dd, yyyy-MM-dd HH:mm or yyyy-MM-dd HH:mm <zone>",
                clip(&u)
            )
        }),
        (None, None) => return,
    };
    match deadline {
        Ok(at) => task.wait_until = Some(at),
        Err(reason) => {
            task.status = TaskStatus::FailedWithTerminalError;
            task.reason_for_incompletion = Some(reason);
            task.end_time = now;
        }
    }
}

/// Longest `WAIT` duration: a hundred years, far past any real wait and far from the
/// end of the millisecond clock.
pub const MAX_WAIT_SECONDS: i64 = 100 * 365 * 24 * 3600;

/// `seconds` after `now` (epoch ms), saturating: a delay or timeout from stored data
/// or a worker's result can be any number, and must not wrap the clock.
pub fn at_seconds_after(now: i64, seconds: i64) -> i64 {
    now.saturating_add(seconds.max(0).saturating_mul(1000))
}

/// A value quoted in a reason, cut to a readable length.
fn clip(text: &str) -> String {
    const MAX: usize = 100;
    if text.chars().count() <= MAX {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(MAX).collect();
    cut.push_str("...");
    cut
}

fn non_empty_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}
