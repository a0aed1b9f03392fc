//! System tasks the engine runs in place while deciding: `SWITCH`, `DECISION`,
//! `FORK`, `JOIN`, `SET_VARIABLE`, `TERMINATE`, `NOOP`, the timer of `WAIT` and
//! the steps of `DO_WHILE` (in `loops`).
//! (`HTTP` and `SUB_WORKFLOW` run through jobs; see `async_tasks`.)

use serde_json::{Value, json};

use crate::model::{JsonMap, TaskStatus, WorkflowStatus, WorkflowTask};
use crate::store::ChangeSet;

use super::context::EngineContext;
use super::expr::java_to_string;
use super::graph;
use super::loops::{iteration_ref, place_of, put_in_iteration};
use super::payload;
use super::schedule::{add_task, new_task};
use super::state::WorkflowState;
use super::task_type::TaskKind;

/// How a `TERMINATE` task asks the workflow to end.
#[derive(Debug, Clone, PartialEq)]
pub struct TerminateRequest {
    pub status: WorkflowStatus,
    pub reason: Option<String>,
    pub output: Option<JsonMap>,
}

/// Runs the system task at `index` if it can make progress now. Returns whether
/// anything changed, and a termination request when a `TERMINATE` task ran.
pub fn execute(
    state: &mut WorkflowState,
    index: usize,
    ctx: &EngineContext<'_>,
    out: &mut ChangeSet,
) -> (bool, Option<TerminateRequest>) {
    let Some(task) = state.tasks().get(index) else {
        return (false, None);
    };
    if task.status.is_terminal() {
        return (false, None);
    }
    let kind = TaskKind::of_execution(task);
    match kind {
        TaskKind::Switch | TaskKind::Decision => (run_switch(state, index, kind, ctx, out), None),
        TaskKind::ForkJoin => (run_fork(state, index, ctx, out), None),
        TaskKind::Join => (super::joins::run_join(state, index, ctx), None),
        TaskKind::ExclusiveJoin => (super::joins::run_exclusive_join(state, index, ctx), None),
        TaskKind::SetVariable => (run_set_variable(state, index, ctx), None),
        TaskKind::Terminate => run_terminate(state, index, ctx.now),
        TaskKind::Noop => {
            complete(state, index, ctx.now, JsonMap::new());
            (true, None)
        }
        TaskKind::Wait => (run_wait_timer(state, index, ctx.now), None),
        TaskKind::DoWhile => (super::loops::run_do_while(state, index, ctx, out), None),
        TaskKind::Unsupported => {
            let task_type = task.task_type.clone();
            fail(
                state,
                index,
                ctx.now,
                format!("Task type {task_type} is not supported by this Podium version"),
                true,
            );
            (true, None)
        }
        TaskKind::Simple
        | TaskKind::Http
        | TaskKind::SubWorkflow
        | TaskKind::StartWorkflow
        | TaskKind::Event
        | TaskKind::UpdateSecret
        | TaskKind::Inline
        | TaskKind::JsonJqTransform
        // A DYNAMIC node's executions carry the type of the task they run.
        | TaskKind::Dynamic
        | TaskKind::ForkJoinDynamic
        // A HUMAN or YIELD task ends when someone completes or signals it.
        | TaskKind::Human
        | TaskKind::Yield => (false, None),
    }
}

pub(super) fn complete(state: &mut WorkflowState, index: usize, now: i64, output: JsonMap) {
    if let Some(task) = state.task_mut(index) {
        task.status = TaskStatus::Completed;
        if task.start_time == 0 {
            task.start_time = now;
        }
        task.end_time = now;
        task.update_time = now;
        task.output_data = output;
    }
}

pub(super) fn fail(
    state: &mut WorkflowState,
    index: usize,
    now: i64,
    reason: String,
    terminal: bool,
) {
    if let Some(task) = state.task_mut(index) {
        task.status = if terminal {
            TaskStatus::FailedWithTerminalError
        } else {
            TaskStatus::Failed
        };
        task.reason_for_incompletion = Some(reason);
        if task.start_time == 0 {
            task.start_time = now;
        }
        task.end_time = now;
        task.update_time = now;
    }
}

fn node_of(state: &WorkflowState, index: usize) -> Option<WorkflowTask> {
    let task = state.tasks().get(index)?;
    graph::find_task(&state.def, &task.reference_task_name).cloned()
}

/// The output of a switch or decision task that selected `case`.
pub fn switch_output(kind: TaskKind, case: &str) -> JsonMap {
    let mut output = JsonMap::new();
    if kind == TaskKind::Decision {
        output.insert("caseOutput".into(), json!([case]));
    } else {
        output.insert("evaluationResult".into(), json!([case]));
        output.insert("selectedCase".into(), json!(case));
    }
    output
}

/// The case value of a switch/decision task (value-param evaluation), as text.
fn case_value(node: &WorkflowTask, kind: TaskKind, input: &JsonMap) -> String {
    let key = match kind {
        TaskKind::Decision => node.case_value_param.as_deref().unwrap_or("caseValueParam"),
        _ => node.expression.as_deref().unwrap_or(""),
    };
    java_to_string(input.get(key).unwrap_or(&Value::Null))
}

/// The task list a switch selected: the matching case, else the default case. As in
/// Conductor, a SWITCH case with an empty list runs nothing, while a DECISION treats an
/// empty case like a missing one and runs the default case.
pub fn selected_case<'d>(node: &'d WorkflowTask, case: &str) -> &'d [WorkflowTask] {
    let decision = TaskKind::of(&node.task_type) == TaskKind::Decision;
    match node.decision_cases.get(case) {
        Some(list) if !(decision && list.is_empty()) => list,
        _ => &node.default_case,
    }
}

fn run_switch(
    state: &mut WorkflowState,
    index: usize,
    kind: TaskKind,
    ctx: &EngineContext<'_>,
    out: &mut ChangeSet,
) -> bool {
    let Some(node) = node_of(state, index) else {
        fail(
            state,
            index,
            ctx.now,
            "The switch is not in the workflow definition".into(),
            true,
        );
        return true;
    };
    if super::task_type::decides_by_script(&node) {
        // A job evaluates the script and completes the task with its case.
        return false;
    }
    let input = state.tasks()[index].input_data.clone();
    let case = case_value(&node, kind, &input);
    complete(state, index, ctx.now, switch_output(kind, &case));
    if let Some(first) = selected_case(&node, &case).first() {
        let iteration = place_of(&state.tasks()[index]);
        schedule_node(state, first, iteration, ctx, out);
    }
    true
}

fn run_fork(
    state: &mut WorkflowState,
    index: usize,
    ctx: &EngineContext<'_>,
    out: &mut ChangeSet,
) -> bool {
    let Some(node) = node_of(state, index) else {
        fail(
            state,
            index,
            ctx.now,
            "The fork is not in the workflow definition".into(),
            true,
        );
        return true;
    };
    let dynamic = TaskKind::of(&node.task_type) == TaskKind::ForkJoinDynamic;
    // As Conductor: a fork its definition does not follow with a JOIN fails the
    // run when it is reached (the start is not refused, as the SDKs' builders
    // register such definitions).
    if super::graph::join_after_fork(&state.def, &node.task_reference_name).is_none() {
        let reason = if dynamic {
            "Dynamic join definition is not followed by a join task.  Check the workflow definition."
        } else {
            "Fork task definition is not followed by a join task.  Check the blueprint"
        };
        fail(state, index, ctx.now, reason.to_string(), true);
        return true;
    }
    if dynamic {
        // Its branches come from data: a job authorizes them, then forks
        // (`dynamic::apply_choice`).
        return false;
    }
    complete(state, index, ctx.now, JsonMap::new());
    let iteration = place_of(&state.tasks()[index]);
    for branch in &node.fork_tasks {
        if let Some(first) = branch.first() {
            schedule_node(state, first, iteration, ctx, out);
        }
    }
    true
}

/// Schedules a node, in loop iteration `iteration` (0: outside loops), unless a
/// task with its reference name (in that iteration) already exists.
pub fn schedule_node(
    state: &mut WorkflowState,
    node: &WorkflowTask,
    iteration: i32,
    ctx: &EngineContext<'_>,
    out: &mut ChangeSet,
) -> bool {
    let reference = iteration_ref(&node.task_reference_name, iteration);
    if state.latest_task_index(&reference).is_some() {
        return false;
    }
    let mut task = new_task(state, node, ctx);
    put_in_iteration(&mut task, iteration);
    let delay = task.start_delay_in_seconds;
    add_task(state, task, delay, ctx, out);
    true
}

fn run_set_variable(state: &mut WorkflowState, index: usize, ctx: &EngineContext<'_>) -> bool {
    let input = state.tasks()[index].input_data.clone();
    let mut variables = state.workflow.variables.clone();
    for (key, value) in &input {
        variables.insert(key.clone(), value.clone());
    }
    // Exact, to name the size: the variables and the task input are both bounded.
    let size = payload::encoded_len(&variables, usize::MAX).unwrap_or(usize::MAX);
    if size > ctx.limits.max_variables_bytes {
        let reason = format!(
            "The variables payload size: {size} of workflow: {} is greater than the permissible limit: {} bytes",
            state.id(),
            ctx.limits.max_variables_bytes
        );
        fail(state, index, ctx.now, reason, true);
        return true;
    }
    state.workflow.variables = variables;
    state.touch();
    complete(state, index, ctx.now, JsonMap::new());
    true
}

fn run_terminate(
    state: &mut WorkflowState,
    index: usize,
    now: i64,
) -> (bool, Option<TerminateRequest>) {
    let input = state.tasks()[index].input_data.clone();
    let status_text = input
        .get("terminationStatus")
        .and_then(Value::as_str)
        .unwrap_or("");
    let status = match status_text.to_ascii_uppercase().as_str() {
        "COMPLETED" => WorkflowStatus::Completed,
        "FAILED" => WorkflowStatus::Failed,
        "TERMINATED" => WorkflowStatus::Terminated,
        _ => {
            fail(
                state,
                index,
                now,
                format!(
                    "terminationStatus '{status_text}' is not valid: use COMPLETED, FAILED or TERMINATED"
                ),
                true,
            );
            return (true, None);
        }
    };
    let reason = input
        .get("terminationReason")
        .and_then(Value::as_str)
        .filter(|r| !r.is_empty())
        .map(str::to_string);
    let output = match input.get("workflowOutput") {
        Some(Value::Object(map)) => Some(map.clone()),
        Some(Value::Null) | None => None,
        Some(other) => {
            let mut map = JsonMap::new();
            map.insert("output".into(), other.clone());
            Some(map)
        }
    };
    let mut task_output = JsonMap::new();
    if let Some(out) = &output {
        task_output.insert("output".into(), Value::Object(out.clone()));
    }
    complete(state, index, now, task_output);
    (
        true,
        Some(TerminateRequest {
            status,
            reason,
            output,
        }),
    )
}

fn run_wait_timer(state: &mut WorkflowState, index: usize, now: i64) -> bool {
    let due = state.tasks()[index].wait_until.is_some_and(|at| now >= at);
    if due {
        let output = state.tasks()[index].output_data.clone();
        complete(state, index, now, output);
    }
    due
}
