//! Turning a definition node into a task execution: resolving its input, choosing its
//! domain, and queueing it for a worker or a system runner.

use serde_json::Value;

use crate::model::{JsonMap, Task, TaskStatus, WorkflowTask};
use crate::store::{ChangeSet, Effect, Job, QueueMessage};

use super::context::EngineContext;
use super::duration::{parse_duration_seconds, parse_until_millis};
use super::expr::{self, ExprContext, WorkflowFields};
use super::state::WorkflowState;
use super::task_type::TaskKind;

/// The reserved domain name meaning "no domain" in `taskToDomain` lists.
pub const NO_DOMAIN: &str = "NO_DOMAIN";

/// The expression context of a workflow, for resolving task inputs and outputs.
pub fn expr_context<'a>(state: &'a WorkflowState, task_id: Option<&'a str>) -> ExprContext<'a> {
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
    }
}

/// Resolves a node's input parameters, merging its task definition's `inputTemplate`
/// (template keys fill absent parameters and parameters that resolve to null).
pub fn resolve_input(
    state: &WorkflowState,
    node: &WorkflowTask,
    task_id: &str,
    ctx: &EngineContext<'_>,
) -> JsonMap {
    let def = ctx.task_def_for(node);
    let template = def
        .as_ref()
        .map(|d| &d.input_template)
        .filter(|t| !t.is_empty());
    let mut params = node.input_parameters.clone();
    if let Some(template) = template {
        for (key, value) in template {
            params.entry(key.clone()).or_insert_with(|| value.clone());
        }
    }
    let mut resolved = expr::resolve_map(&params, &expr_context(state, Some(task_id)));
    if let Some(template) = template {
        for (key, value) in resolved.iter_mut() {
            if value.is_null()
                && let Some(default) = template.get(key)
            {
                *value = default.clone();
            }
        }
    }
    resolved
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
                && ctx.now - polled <= ctx.limits.active_worker_window_ms
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

/// A new task for `node`, scheduled now, not yet added to the workflow.
pub fn new_task(state: &WorkflowState, node: &WorkflowTask, ctx: &EngineContext<'_>) -> Task {
    let task_id = ctx.ids.new_id();
    let input = resolve_input(state, node, &task_id, ctx);
    let def = ctx.task_def_for(node);
    let kind = TaskKind::of(&node.task_type);
    let wf = &state.workflow;
    let mut task = Task {
        task_type: TaskKind::execution_type(node),
        status: TaskStatus::Scheduled,
        input_data: input,
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
    if kind == TaskKind::SubWorkflow {
        task.input_data = sub_workflow_input(state, node, task.input_data);
        if let Some(priority) = task.input_data.get("priority").and_then(Value::as_i64) {
            task.workflow_priority = priority.clamp(0, 99) as i32;
        }
    }
    task
}

/// The input of a `SUB_WORKFLOW` task, as Conductor lays it out: the resolved
/// `subWorkflowParam` fields and the child's input under `workflowInput`.
fn sub_workflow_input(
    state: &WorkflowState,
    node: &WorkflowTask,
    workflow_input: JsonMap,
) -> JsonMap {
    let params = node
        .sub_workflow_param
        .as_ref()
        .and_then(|p| serde_json::to_value(p).ok())
        .map(|v| expr::resolve_value(&v, &expr_context(state, None)))
        .unwrap_or(Value::Null);
    let field = |name: &str| params.get(name).cloned().unwrap_or(Value::Null);
    let mut input = JsonMap::new();
    input.insert("subWorkflowName".into(), field("name"));
    input.insert("subWorkflowVersion".into(), field("version"));
    input.insert("subWorkflowTaskToDomain".into(), field("taskToDomain"));
    input.insert("subWorkflowDefinition".into(), field("workflowDefinition"));
    input.insert("priority".into(), field("priority"));
    input.insert("idempotencyKey".into(), field("idempotencyKey"));
    input.insert("idempotencyStrategy".into(), field("idempotencyStrategy"));
    input.insert("workflowInput".into(), Value::Object(workflow_input));
    input
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
    let kind = TaskKind::of_execution(&task);
    let visible_at = ctx.now + delay_seconds.max(0) * 1000;
    if delay_seconds > 0 {
        task.callback_after_seconds = delay_seconds;
    }
    if kind == TaskKind::Wait {
        start_wait(&mut task, ctx.now);
    }
    let task_id = task.task_id.clone();
    let queue = kind
        .is_worker_task()
        .then(|| queue_name(&task.task_type, task.domain.as_deref()));
    let priority = task.workflow_priority;
    let index = state.push_task(task);
    if let Some(queue_name) = queue {
        out.queue_pushes.push(QueueMessage {
            queue_name,
            task_id,
            workflow_id: state.id().to_string(),
            priority,
            visible_at,
        });
    } else if kind.is_async_system() {
        out.job_adds.push(Job {
            id: ctx.ids.new_id(),
            effect: Effect::SystemTask,
            workflow_id: state.id().to_string(),
            task_id: Some(task_id),
            due_at: visible_at,
        });
    }
    index
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
        (Some(d), None) => parse_duration_seconds(&d)
            .map(|s| now + s * 1000)
            .ok_or_else(|| format!("Wait duration '{d}' is invalid")),
        (None, Some(u)) => parse_until_millis(&u).ok_or_else(|| {
            format!("Wait until '{u}' is invalid: use yyyy-MM-dd, yyyy-MM-dd HH:mm or yyyy-MM-dd HH:mm <zone>")
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

fn non_empty_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}
