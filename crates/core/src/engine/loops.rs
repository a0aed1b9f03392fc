//! `DO_WHILE`: a loop task runs its `loopOver` tasks, then a job evaluates its
//! `loopCondition` (JavaScript, never in the decider) and either starts the next
//! iteration or ends the loop, as Conductor does:
//!
//! - The tasks of iteration N are named `ref__N` and carry `iteration` N; the
//!   first of them is scheduled when the iteration starts, the others follow as
//!   usual (switch cases, fork branches and joins stay inside the iteration).
//! - An iteration is complete when each of its tasks has ended and been handled
//!   (its successor scheduled). The loop's output then gets the iteration's
//!   outputs under `"N"`, keyed by bare reference, and the condition is due: the
//!   key `"N"` marks it as asked, so a decision never asks twice.
//! - The condition sees `$` = the loop's input, `$.<loopRef>` = the loop's output
//!   (`iteration`, `"1"`, ...), `$.<innerRef>` = the latest output of each inner
//!   task. A boolean is taken as is, a number is true above zero, anything else is
//!   false; a condition that fails fails the loop for good.
//! - `items` (or `inputParameters._items`) loops over a list: `loopItem` and
//!   `loopIndex` are in the loop's output while each iteration runs, and the loop
//!   ends after the last item (and earlier when the condition says so).
//! - `keepLastN` in the loop's input parameters keeps only the last N iterations'
//!   tasks and outputs (N at most [`MAX_KEPT_ITERATIONS`]). Without it a loop runs
//!   at most [`MAX_KEPT_ITERATIONS`] iterations, and a loop never keeps more than
//!   [`MAX_LOOP_TASKS`] tasks.
//! - Every iteration ends through a job, also without a condition (a list alone),
//!   so one decision never runs more than one iteration's tasks in place.

use std::collections::HashSet;

use serde_json::Value;

use crate::error::CoreError;
use crate::model::{JsonMap, Task, TaskStatus, WorkflowStatus, WorkflowTask};
use crate::store::{ChangeSet, Effect, Job, JobLane};

use super::context::EngineContext;
use super::expr;
use super::graph;
use super::payload;
use super::schedule::{expr_context, resolve_input};
use super::state::WorkflowState;
use super::system_tasks::{complete, fail, schedule_node};

/// Most iterations a loop without `keepLastN` runs (each one keeps its tasks in the
/// workflow), and the largest `keepLastN`.
pub const MAX_KEPT_ITERATIONS: i32 = 1_000;
/// Most tasks a loop keeps in its workflow, all iterations together.
pub const MAX_LOOP_TASKS: usize = 10_000;

/// A loop iteration's reference (`ref__3`) split into its node's reference and the
/// iteration; None for a reference that names no iteration.
pub fn split_iteration(reference: &str) -> Option<(&str, i32)> {
    let (bare, number) = reference.rsplit_once("__")?;
    if bare.is_empty() || number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((bare, number.parse().ok()?))
}

/// The reference a node's task has in iteration `iteration` (0: not in a loop).
pub fn iteration_ref(reference: &str, iteration: i32) -> String {
    if iteration > 0 {
        format!("{reference}__{iteration}")
    } else {
        reference.to_string()
    }
}

/// The node reference of a task: an iteration's task without its suffix.
pub fn bare_ref(task: &Task) -> &str {
    match split_iteration(&task.reference_task_name) {
        Some((bare, _)) if task.loop_over_task => bare,
        _ => &task.reference_task_name,
    }
}

/// The iteration a task runs in, which the tasks it leads to run in too (0: not in
/// a loop).
pub fn place_of(task: &Task) -> i32 {
    if task.loop_over_task {
        task.iteration
    } else {
        0
    }
}

/// Makes a new task for a node a task of iteration `iteration` (nothing for 0).
pub fn put_in_iteration(task: &mut Task, iteration: i32) {
    if iteration > 0 {
        task.reference_task_name = iteration_ref(&task.reference_task_name, iteration);
        task.iteration = iteration;
        task.loop_over_task = true;
    }
}

/// Gives a new attempt of a task the place of the one it replaces.
pub fn same_place(fresh: &mut Task, old: &Task) {
    fresh.reference_task_name = old.reference_task_name.clone();
    fresh.iteration = old.iteration;
    fresh.loop_over_task = old.loop_over_task;
}

/// The references of a loop's body.
fn body_refs(node: &WorkflowTask) -> HashSet<&str> {
    node.loop_body()
        .into_iter()
        .map(|t| t.task_reference_name.as_str())
        .collect()
}

/// `keepLastN` of a loop: an integer literal in its input parameters, at most
/// [`MAX_KEPT_ITERATIONS`].
fn keep_last(node: &WorkflowTask) -> Option<i32> {
    node.input_parameters
        .get("keepLastN")
        .and_then(Value::as_i64)
        .filter(|n| *n > 0)
        .map(|n| i32::try_from(n.min(i64::from(MAX_KEPT_ITERATIONS))).unwrap_or(1))
}

/// The list a loop runs over, resolved now; None when it loops on its condition.
fn items(
    state: &WorkflowState,
    node: &WorkflowTask,
    ctx: &EngineContext<'_>,
) -> Result<Option<Vec<Value>>, String> {
    let source = match (&node.items, node.input_parameters.get("_items")) {
        (Some(text), _) if !text.trim().is_empty() => Value::String(text.clone()),
        (_, Some(Value::String(text))) if !text.trim().is_empty() => Value::String(text.clone()),
        (_, Some(list @ Value::Array(_))) => list.clone(),
        _ => return Ok(None),
    };
    let value =
        expr::resolve_value(&source, &expr_context(state, None, ctx.limits)).map_err(|err| {
            format!(
                "The items of loop {} cannot be resolved: {err}",
                node.task_reference_name
            )
        })?;
    Ok(Some(match value {
        Value::Array(list) => list,
        Value::Null => Vec::new(),
        other => vec![other],
    }))
}

/// Runs the loop task at `index` as far as it can go now; whether anything changed.
pub fn run_do_while(
    state: &mut WorkflowState,
    index: usize,
    ctx: &EngineContext<'_>,
    out: &mut ChangeSet,
) -> bool {
    let reference = state.tasks()[index].reference_task_name.clone();
    let Some(node) = graph::find_task(&state.def, &reference).cloned() else {
        let reason = "The loop is not in the workflow definition".to_string();
        fail(state, index, ctx.now, reason, true);
        return true;
    };
    // Starts check definitions for these; a restart on a later definition or a
    // failure workflow may bring one anyway.
    let refused = if state.tasks()[index].loop_over_task {
        Some("a DO_WHILE inside a DO_WHILE is not supported; put the inner loop in a SUB_WORKFLOW")
    } else if node.loop_over.is_empty() {
        Some("a DO_WHILE needs loopOver tasks")
    } else {
        None
    };
    if let Some(reason) = refused {
        fail(state, index, ctx.now, reason.to_string(), true);
        return true;
    }
    if state.tasks()[index].status == TaskStatus::Scheduled {
        // New, or rerun from the loop itself: it starts over.
        if let Some(task) = state.task_mut(index) {
            task.status = TaskStatus::InProgress;
            task.start_time = ctx.now;
            task.iteration = 0;
            task.output_data = JsonMap::new();
        }
    }
    let task = &state.tasks()[index];
    let iteration = task.iteration;
    if iteration <= 0 {
        return start(state, index, &node, ctx, out);
    }
    if task.output_data.contains_key(&iteration.to_string()) {
        return false; // its condition is being evaluated
    }
    let body = body_refs(&node);
    let mut latest: Vec<usize> = Vec::new();
    for (i, t) in state.tasks().iter().enumerate() {
        if t.loop_over_task && t.iteration == iteration && body.contains(bare_ref(t)) {
            match latest
                .iter_mut()
                .find(|j| state.tasks()[**j].reference_task_name == t.reference_task_name)
            {
                Some(slot) => *slot = i,
                None => latest.push(i),
            }
        }
    }
    if latest.is_empty() {
        // Its tasks were removed (a rerun): the iteration starts again.
        return match node.loop_over.first() {
            Some(first) => schedule_node(state, first, iteration, ctx, out),
            None => false,
        };
    }
    let tasks = state.tasks();
    let started_all = node.loop_over.iter().all(|n| {
        latest
            .iter()
            .any(|i| bare_ref(&tasks[*i]) == n.task_reference_name)
    });
    let handled = |t: &Task| {
        t.status.is_terminal() && (t.executed || t.retried || t.status == TaskStatus::Skipped)
    };
    if let Some(failed) = latest
        .iter()
        .map(|i| &tasks[*i])
        .find(|t| t.status.is_terminal() && !t.status.is_successful() && !t.retried && t.executed)
    {
        let reason = failed.reason_for_incompletion.clone().unwrap_or_default();
        fail(state, index, ctx.now, reason, false);
        return true;
    }
    if !started_all || !latest.iter().all(|i| handled(&tasks[*i])) {
        return false;
    }
    let mut outputs = JsonMap::new();
    for i in &latest {
        let t = &tasks[*i];
        outputs.insert(
            bare_ref(t).to_string(),
            Value::Object(t.output_data.clone()),
        );
    }
    end_iteration(state, index, &node, iteration, outputs, ctx, out)
}

/// Starts a loop: its first iteration, or the end at once for an empty list.
fn start(
    state: &mut WorkflowState,
    index: usize,
    node: &WorkflowTask,
    ctx: &EngineContext<'_>,
    out: &mut ChangeSet,
) -> bool {
    match items(state, node, ctx) {
        Err(reason) => fail(state, index, ctx.now, reason, true),
        Ok(Some(list)) if list.is_empty() => {
            let mut output = JsonMap::new();
            output.insert("iteration".into(), Value::from(0));
            complete(state, index, ctx.now, output);
        }
        Ok(list) => begin_iteration(state, index, node, 1, list.as_deref(), ctx, out),
    }
    true
}

/// Sets the loop to iteration `iteration` and schedules its first task.
fn begin_iteration(
    state: &mut WorkflowState,
    index: usize,
    node: &WorkflowTask,
    iteration: i32,
    items: Option<&[Value]>,
    ctx: &EngineContext<'_>,
    out: &mut ChangeSet,
) {
    if let Some(task) = state.task_mut(index) {
        task.iteration = iteration;
        task.output_data
            .insert("iteration".into(), Value::from(iteration));
        if let Some(items) = items {
            let at = usize::try_from(iteration - 1).unwrap_or(0);
            task.output_data
                .insert("loopIndex".into(), Value::from(iteration - 1));
            task.output_data.insert(
                "loopItem".into(),
                items.get(at).cloned().unwrap_or(Value::Null),
            );
        }
        task.update_time = ctx.now;
    }
    // A paused workflow schedules nothing: the decision after its resume starts
    // the iteration (see `run_do_while`).
    if state.status() == WorkflowStatus::Running
        && let Some(first) = node.loop_over.first()
    {
        schedule_node(state, first, iteration, ctx, out);
    }
}

/// Records a finished iteration's outputs, drops the iterations `keepLastN` lets
/// go, and asks the condition: a job evaluates it, or, for a loop without one, the
/// list alone decides.
fn end_iteration(
    state: &mut WorkflowState,
    index: usize,
    node: &WorkflowTask,
    iteration: i32,
    outputs: JsonMap,
    ctx: &EngineContext<'_>,
    out: &mut ChangeSet,
) -> bool {
    let mut output = state.tasks()[index].output_data.clone();
    output.insert(iteration.to_string(), Value::Object(outputs));
    let task_id = state.tasks()[index].task_id.clone();
    let body = body_refs(node);
    if let Some(keep) = keep_last(node) {
        let last_dropped = iteration.saturating_sub(keep);
        output.retain(|key, _| key.parse::<i32>().map_or(true, |n| n > last_dropped));
        state.remove_tasks(|t| {
            t.loop_over_task && t.iteration <= last_dropped && body.contains(bare_ref(t))
        });
    }
    let Some(index) = state.task_index(&task_id) else {
        return true;
    };
    let kept = state
        .tasks()
        .iter()
        .filter(|t| t.loop_over_task && body.contains(bare_ref(t)))
        .count();
    let most = ctx.limits.max_loop_tasks;
    if kept > most {
        let reason = format!(
            "The loop {} holds {kept} tasks, more than the {most} a loop may keep; set a smaller keepLastN in its inputParameters",
            node.task_reference_name
        );
        fail(state, index, ctx.now, reason, true);
        return true;
    }
    let max = ctx.limits.max_payload_bytes;
    if let Err(excess) = payload::check(&output, max) {
        let reason = payload::task_reason(excess, &task_id, state.id(), max);
        fail(state, index, ctx.now, reason, true);
        return true;
    }
    // The condition reads the loop's input as it resolves now, as Conductor's does.
    let input = resolve_input(state, node, &task_id, ctx);
    let Some(task) = state.task_mut(index) else {
        return false;
    };
    task.output_data = output;
    task.update_time = ctx.now;
    if let Ok(input) = input {
        task.input_data = input;
    }
    // Also without a condition (Conductor's is then false: only a list goes on),
    // the next iteration starts in a unit of its own.
    out.job_adds.push(Job {
        id: ctx.ids.new_id(),
        effect: Effect::SystemTask,
        workflow_id: state.id().to_string(),
        task_id: Some(task_id),
        due_at: ctx.now,
        lane: JobLane::Scripts,
    });
    true
}

/// Whether a loop has a condition to evaluate (an empty one is false).
pub fn has_condition(node: &WorkflowTask) -> bool {
    node.loop_condition
        .as_deref()
        .is_some_and(|c| !c.trim().is_empty())
}

/// Whether a loop task waits for the condition of an iteration: the iteration its
/// condition was asked for, if so.
pub fn asked_iteration(task: &Task) -> Option<i32> {
    (task.status == TaskStatus::InProgress
        && task.iteration > 0
        && task.output_data.contains_key(&task.iteration.to_string()))
    .then_some(task.iteration)
}

/// What a loop's condition said.
pub type ConditionOutcome = Result<bool, String>;

/// Whether a condition's value lets the loop go on: a boolean as is, a number above
/// zero, nothing else.
pub fn holds(value: &Value) -> bool {
    match value {
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|n| n > 0.0),
        _ => false,
    }
}

/// The document a loop's condition sees as `$`: the loop's input, the loop's output
/// under its reference, and the latest output of each of its tasks under the
/// task's bare reference (and `loopIndex`/`loopItem` for a list).
pub fn condition_input(state: &WorkflowState, loop_task: &Task, input: &JsonMap) -> JsonMap {
    let mut document = input.clone();
    document.insert(
        loop_task.reference_task_name.clone(),
        Value::Object(loop_task.output_data.clone()),
    );
    if let Some(node) = graph::find_task(&state.def, &loop_task.reference_task_name) {
        let body = body_refs(node);
        for task in state.tasks() {
            if task.loop_over_task && body.contains(bare_ref(task)) {
                document.insert(
                    bare_ref(task).to_string(),
                    Value::Object(task.output_data.clone()),
                );
            }
        }
    }
    for key in ["loopIndex", "loopItem"] {
        if let Some(value) = loop_task.output_data.get(key) {
            document.insert(key.into(), value.clone());
        }
    }
    document
}

/// Applies a loop condition's outcome for `iteration` (evaluated by a job), then
/// decides. An outcome for an iteration the loop is no longer asking about (it was
/// retried, rerun or ended meanwhile) changes nothing.
pub fn apply_condition(
    state: &mut WorkflowState,
    task_id: &str,
    iteration: i32,
    outcome: ConditionOutcome,
    ctx: &EngineContext<'_>,
    out: &mut ChangeSet,
) -> Result<(), CoreError> {
    let Some(index) = state.task_index(task_id) else {
        return Ok(());
    };
    if asked_iteration(&state.tasks()[index]) != Some(iteration) {
        return Ok(());
    }
    let reference = state.tasks()[index].reference_task_name.clone();
    let Some(node) = graph::find_task(&state.def, &reference).cloned() else {
        return Ok(());
    };
    match outcome {
        Ok(holds) => go_on_or_end(state, index, &node, holds, ctx, out),
        Err(message) => {
            let condition = node.loop_condition.clone().unwrap_or_default();
            let reason = format!("Unable to evaluate condition {condition}, exception {message}");
            fail(state, index, ctx.now, reason, true);
        }
    }
    super::decide(state, ctx, out);
    Ok(())
}

/// Starts the next iteration when the condition holds (and, for a list, an item is
/// left), else completes the loop.
fn go_on_or_end(
    state: &mut WorkflowState,
    index: usize,
    node: &WorkflowTask,
    condition: bool,
    ctx: &EngineContext<'_>,
    out: &mut ChangeSet,
) {
    let iteration = state.tasks()[index].iteration;
    let list = match items(state, node, ctx) {
        Ok(list) => list,
        Err(reason) => {
            fail(state, index, ctx.now, reason, true);
            return;
        }
    };
    let asks = has_condition(node);
    let go_on = match &list {
        Some(list) => {
            let more = usize::try_from(iteration).is_ok_and(|done| done < list.len());
            more && (condition || !asks)
        }
        None => asks && condition,
    };
    if !go_on {
        let output = state.tasks()[index].output_data.clone();
        complete(state, index, ctx.now, output);
        return;
    }
    if keep_last(node).is_none() && iteration >= MAX_KEPT_ITERATIONS {
        let reason = format!(
            "The loop {} reached {MAX_KEPT_ITERATIONS} iterations, the most a loop keeps; set keepLastN in its inputParameters to run longer",
            node.task_reference_name
        );
        fail(state, index, ctx.now, reason, true);
        return;
    }
    let next = iteration.saturating_add(1);
    begin_iteration(state, index, node, next, list.as_deref(), ctx, out);
}

/// Reopens the ended loop at `index` in place (a retry or a rerun of the
/// workflow): it carries on from iteration `from` (its current one when None),
/// dropping what it recorded for that iteration and later ones, so their condition
/// is asked again, and, over a list, with that iteration's item.
pub fn reopen(state: &mut WorkflowState, index: usize, from: Option<i32>, ctx: &EngineContext<'_>) {
    let reference = state.tasks()[index].reference_task_name.clone();
    let list = graph::find_task(&state.def, &reference)
        .and_then(|node| items(state, node, ctx).ok().flatten());
    let Some(task) = state.task_mut(index) else {
        return;
    };
    let from = from.unwrap_or(task.iteration);
    task.status = TaskStatus::InProgress;
    task.executed = false;
    task.retried = false;
    task.end_time = 0;
    task.reason_for_incompletion = None;
    if from > 0 {
        task.iteration = from;
        task.output_data
            .retain(|key, _| key.parse::<i32>().map_or(true, |n| n < from));
        task.output_data
            .insert("iteration".into(), Value::from(from));
        if let Some(list) = list {
            let at = usize::try_from(from - 1).unwrap_or(0);
            task.output_data
                .insert("loopIndex".into(), Value::from(from - 1));
            task.output_data.insert(
                "loopItem".into(),
                list.get(at).cloned().unwrap_or(Value::Null),
            );
        }
    }
}
