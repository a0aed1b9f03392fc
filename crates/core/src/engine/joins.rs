//! `JOIN` and `EXCLUSIVE_JOIN`, as Conductor runs them.
//!
//! A `JOIN` waits for every task it joins on (`joinOn`, or the branches its dynamic
//! fork started), inside a loop for those of its own iteration. Its output maps
//! each joined task to its output. A joined task that failed, and is neither
//! optional nor permissive, fails the join at once with the reasons of every failed
//! task (`CANCELED` when all of them were canceled); a permissive one once every
//! joined task has ended. Once all have ended, the join is `COMPLETED`, or
//! `COMPLETED_WITH_ERRORS` naming the optional tasks that failed.
//!
//! An `EXCLUSIVE_JOIN` (after a switch) takes the first task of `joinOn` that ran
//! (not skipped): when it ends, the join ends as it did, with its output; if none
//! of them ran, the first of `defaultExclusiveJoinTask` that did.

use serde_json::Value;

use crate::model::{JsonMap, Task, TaskStatus, WorkflowTask};

use super::context::EngineContext;
use super::graph;
use super::loops::{iteration_ref, place_of};
use super::payload;
use super::state::WorkflowState;
use super::system_tasks::{complete, fail};
use super::task_type::TaskKind;

/// The tasks a join at `index` joins on, each the latest attempt of its reference
/// in the join's iteration (None: not scheduled yet).
fn joined<'s>(
    state: &'s WorkflowState,
    refs: &[String],
    iteration: i32,
) -> Vec<(String, Option<&'s Task>)> {
    refs.iter()
        .map(|reference| {
            let task = state
                .latest_task_index(&iteration_ref(reference, iteration))
                .map(|i| &state.tasks()[i]);
            (reference.clone(), task)
        })
        .collect()
}

/// Whether a joined task's node is optional, or permissive.
fn flags(state: &WorkflowState, task: &Task) -> (bool, bool) {
    graph::find_task(&state.def, &task.reference_task_name)
        .map_or((false, false), |n| (n.optional, n.permissive))
}

/// The space-joined reasons of the joined tasks that did not succeed.
fn reasons(joined: &[(String, Option<&Task>)]) -> String {
    joined
        .iter()
        .filter_map(|(_, t)| *t)
        .filter(|t| t.status.is_terminal() && !t.status.is_successful())
        .filter_map(|t| t.reason_for_incompletion.as_deref())
        .map(crate::store::audit::bounded)
        .collect::<Vec<_>>()
        .join(" ")
}

pub(super) fn run_join(state: &mut WorkflowState, index: usize, ctx: &EngineContext<'_>) -> bool {
    let now = ctx.now;
    let Some(node) = node_of(state, index) else {
        return false;
    };
    // A join inside a loop waits for the tasks of its own iteration; the join of a
    // dynamic fork for the branches that fork started.
    let iteration = place_of(&state.tasks()[index]);
    let Some(join_on) = joined_refs(state, &node, iteration) else {
        return false;
    };
    let joined = joined(state, &join_on, iteration);
    let all_ended = joined
        .iter()
        .all(|(_, t)| t.is_some_and(|t| t.status.is_terminal()));
    let mut output = JsonMap::new();
    // The join's output holds its branches' outputs: measured before each is copied.
    let max = ctx.limits.max_payload_bytes;
    let mut size = 0usize;
    let mut optional_failures: Vec<String> = Vec::new();
    let mut failure: Option<(String, TaskStatus)> = None;
    for (reference, forked) in &joined {
        let Some(forked) = forked else { continue };
        if !forked.output_data.is_empty() {
            match payload::encoded_len(&forked.output_data, max.saturating_sub(size)) {
                Ok(n) => size += n,
                Err(n) => {
                    let excess = payload::Excess::AtLeast {
                        size: size.saturating_add(n),
                    };
                    let task = &state.tasks()[index];
                    let reason = payload::task_reason(excess, &task.task_id, state.id(), max);
                    fail(state, index, now, reason, true);
                    return true;
                }
            }
            output.insert(reference.clone(), Value::Object(forked.output_data.clone()));
        }
        let (optional, permissive) = flags(state, forked);
        let failed = forked.status.is_terminal() && !forked.status.is_successful();
        if failed && !forked.retried && !optional && (!permissive || all_ended) {
            // A canceled task (a terminated sub-workflow) cancels; any other failure
            // of a task that is not optional fails.
            let any_failed = joined.iter().filter_map(|(_, t)| *t).any(|t| {
                t.status.is_terminal()
                    && !t.status.is_successful()
                    && t.status != TaskStatus::Canceled
                    && !flags(state, t).0
            });
            let status = if any_failed {
                TaskStatus::Failed
            } else {
                TaskStatus::Canceled
            };
            failure = Some((reasons(&joined), status));
            break;
        }
        if optional && forked.status == TaskStatus::CompletedWithErrors {
            optional_failures.push(format!("{}/{}", forked.task_def_name, forked.task_id));
        }
    }
    if let Some((reason, status)) = failure {
        fail(state, index, now, reason, false);
        if let Some(task) = state.task_mut(index) {
            task.status = status;
        }
        return true;
    }
    if let Err(excess) = payload::check(&output, max) {
        // Nested one level deeper than its branches' outputs.
        let reason = payload::task_reason(excess, &state.tasks()[index].task_id, state.id(), max);
        fail(state, index, now, reason, true);
        return true;
    }
    let changed = state.tasks()[index].output_data != output;
    if all_ended {
        complete(state, index, now, output);
        if !optional_failures.is_empty()
            && let Some(task) = state.task_mut(index)
        {
            task.status = TaskStatus::CompletedWithErrors;
            task.reason_for_incompletion = Some(format!(
                "{} completed with errors",
                optional_failures.join(" ")
            ));
        }
        return true;
    }
    if changed && let Some(task) = state.task_mut(index) {
        task.output_data = output;
    }
    false
}

/// The references a join waits for: its `joinOn`, or, after a dynamic fork, the
/// branches that fork started (none when it ended without forking: an optional fork
/// that failed, a skipped one); None while that fork has not ended.
fn joined_refs(state: &WorkflowState, node: &WorkflowTask, iteration: i32) -> Option<Vec<String>> {
    let Some(fork) = graph::fork_before(&state.def, &node.task_reference_name)
        .filter(|f| TaskKind::of(&f.task_type) == TaskKind::ForkJoinDynamic)
    else {
        return Some(node.join_on.clone());
    };
    let fork_task = state
        .latest_task_index(&iteration_ref(&fork.task_reference_name, iteration))
        .map(|i| &state.tasks()[i])
        .filter(|t| t.status.is_terminal())?;
    let Some(Value::Array(started)) = fork_task
        .input_data
        .get("forkedTasks")
        .filter(|_| fork_task.status == TaskStatus::Completed)
    else {
        return Some(Vec::new());
    };
    Some(
        started
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
    )
}

pub(super) fn run_exclusive_join(
    state: &mut WorkflowState,
    index: usize,
    ctx: &EngineContext<'_>,
) -> bool {
    let Some(node) = node_of(state, index) else {
        return false;
    };
    let iteration = place_of(&state.tasks()[index]);
    let joined = joined(state, &node.join_on, iteration);
    let all_ended = joined
        .iter()
        .all(|(_, t)| t.is_some_and(|t| t.status.is_terminal()));
    let ran = |list: &[(String, Option<&Task>)]| -> Option<Task> {
        list.iter()
            .filter_map(|(_, t)| *t)
            .find(|t| t.status != TaskStatus::Skipped)
            .cloned()
    };
    // (the task it takes, failed, the reason)
    let mut outcome: Option<(Task, bool, String)> = None;
    if let Some(task) = ran(&joined) {
        let permissive = flags(state, &task).1;
        let failed =
            task.status.is_terminal() && !task.status.is_successful() && (!permissive || all_ended);
        if task.status.is_terminal() || failed {
            let reason = if failed {
                reasons(&joined)
            } else {
                String::new()
            };
            outcome = Some((task, failed, reason));
        }
    }
    if outcome.is_none() {
        let defaults = joined_defaults(state, &node, iteration);
        if let Some(task) = ran(&defaults) {
            let failed = task.status.is_terminal() && !task.status.is_successful();
            if task.status.is_terminal() || failed {
                let reason = format!(
                    "{} ",
                    task.reason_for_incompletion.clone().unwrap_or_default()
                );
                outcome = Some((task, failed, reason));
            }
        }
    }
    let Some((task, failed, reason)) = outcome else {
        return false;
    };
    if failed {
        fail(state, index, ctx.now, reason, false);
    } else {
        complete(state, index, ctx.now, task.output_data);
    }
    true
}

fn joined_defaults<'s>(
    state: &'s WorkflowState,
    node: &WorkflowTask,
    iteration: i32,
) -> Vec<(String, Option<&'s Task>)> {
    let refs: Vec<String> = node
        .default_exclusive_join_task
        .iter()
        .map(|t| t.to_string())
        .collect();
    joined(state, &refs, iteration)
}

fn node_of(state: &WorkflowState, index: usize) -> Option<WorkflowTask> {
    let task = state.tasks().get(index)?;
    graph::find_task(&state.def, &task.reference_task_name).cloned()
}
