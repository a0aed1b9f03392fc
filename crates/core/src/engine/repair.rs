//! Running an ended workflow again: restart (from the beginning), retry (the tasks
//! that failed) and rerun (from one task), each keeping the workflow's id.

use std::sync::Arc;

use crate::error::CoreError;
use crate::model::{JsonMap, RerunWorkflowRequest, Task, TaskStatus, WorkflowDef, WorkflowStatus};
use crate::store::{ChangeSet, QueueMessage};

use super::context::EngineContext;
use super::decider::decide;
use super::graph;
use super::loops;
use super::ops::{check_supplied, long_name, merged_masks, schedule_first};
use super::schedule::{add_task, new_task, queue_name, start_wait, task_with_input};
use super::state::WorkflowState;
use super::task_type::TaskKind;

/// Sets an ended workflow running again, clearing how it ended.
fn reopen(state: &mut WorkflowState, now: i64) {
    let wf = &mut state.workflow;
    wf.status = WorkflowStatus::Running;
    wf.reason_for_incompletion = None;
    wf.end_time = 0;
    wf.update_time = now;
    state.touch();
}

/// Drops every task and starts the workflow over from its first task.
fn start_over(state: &mut WorkflowState, ctx: &EngineContext<'_>, out: &mut ChangeSet) {
    let removed = state.remove_tasks(|_| true);
    out.queue_removals
        .extend(removed.into_iter().map(|t| t.task_id));
    state.regraft();
    reopen(state, ctx.now);
    state.workflow.output = JsonMap::new();
    state.workflow.variables = state.def.variables.clone();
    state.workflow.failed_reference_task_names.clear();
    state.workflow.failed_task_names.clear();
    schedule_first(state, ctx, out);
    decide(state, ctx, out);
}

/// Restarts an ended workflow from the beginning with its original input, optionally
/// on another definition (the latest one). The workflow keeps its id.
pub fn restart(
    state: &mut WorkflowState,
    new_def: Option<(Arc<WorkflowDef>, String)>,
    ctx: &EngineContext<'_>,
    out: &mut ChangeSet,
) -> Result<(), CoreError> {
    if !state.status().is_terminal() {
        return Err(CoreError::Conflict(format!(
            "Workflow: {} is not in terminal state, unable to restart.",
            long_name(state)
        )));
    }
    if let Some((def, revision)) = new_def {
        state.workflow.workflow_version = def.version;
        // What the run masked stays masked on the new definition.
        state.workflow.masked_fields =
            merged_masks(&def, std::mem::take(&mut state.workflow.masked_fields));
        state.set_def(def, revision);
    }
    if !state.def.restartable && state.status() == WorkflowStatus::Completed {
        return Err(CoreError::Conflict(format!(
            "Workflow: {} is non-restartable",
            long_name(state)
        )));
    }
    state.workflow.create_time = ctx.now;
    state.workflow.start_time = ctx.now;
    state.workflow.last_retried_time = 0;
    start_over(state, ctx, out);
    Ok(())
}

/// Retries an ended, unsuccessful workflow: the latest attempt of every reference that
/// failed, timed out or was canceled is scheduled again; joins are reopened in place.
pub fn retry(
    state: &mut WorkflowState,
    ctx: &EngineContext<'_>,
    out: &mut ChangeSet,
) -> Result<(), CoreError> {
    retry_with(state, None, ctx, out)
}

/// [`retry`], except that the `SUB_WORKFLOW` task `task_id` is not scheduled again
/// but waits in place for its sub-workflow, retried before (Conductor's
/// `resumeSubworkflowTasks`). The sub-workflow may have ended again meanwhile: its end
/// is looked at once more by a job, so the task learns it either way.
pub fn retry_resuming(
    state: &mut WorkflowState,
    task_id: &str,
    ctx: &EngineContext<'_>,
    out: &mut ChangeSet,
) -> Result<(), CoreError> {
    retry_with(state, Some(task_id), ctx, out)
}

fn retry_with(
    state: &mut WorkflowState,
    resumed: Option<&str>,
    ctx: &EngineContext<'_>,
    out: &mut ChangeSet,
) -> Result<(), CoreError> {
    if !state.status().is_terminal() {
        return Err(CoreError::Conflict(format!(
            "Workflow is still running.  status={}",
            state.status().as_str()
        )));
    }
    if state.tasks().is_empty() {
        return Err(CoreError::Conflict(
            "Workflow has not started yet".to_string(),
        ));
    }
    let retriable: Vec<usize> = (0..state.tasks().len())
        .filter(|&i| {
            let t = &state.tasks()[i];
            matches!(
                t.status,
                TaskStatus::Failed
                    | TaskStatus::FailedWithTerminalError
                    | TaskStatus::TimedOut
                    | TaskStatus::Canceled
            ) && state.latest_task_index(&t.reference_task_name) == Some(i)
        })
        .collect();
    if retriable.is_empty() && state.status() != WorkflowStatus::TimedOut {
        return Err(CoreError::Conflict(
            "There are no retryable tasks! Use restart if you want to attempt entire workflow execution again.".to_string(),
        ));
    }
    reopen(state, ctx.now);
    state.workflow.last_retried_time = ctx.now;
    for index in retriable {
        let old = state.tasks()[index].clone();
        if resumed == Some(old.task_id.as_str())
            && let Some(child_id) = old.sub_workflow_id.clone()
        {
            resume_sub_workflow_task(state, index, child_id, ctx, out);
            continue;
        }
        let Some(node) = graph::find_task(&state.def, &old.reference_task_name).cloned() else {
            continue;
        };
        if TaskKind::of_execution(&old) == TaskKind::DoWhile {
            // A loop carries on from the iteration it stopped in.
            loops::reopen(state, index, None, ctx);
            if let Some(task) = state.task_mut(index) {
                task.retry_count = task.retry_count.saturating_add(1);
            }
            continue;
        }
        if TaskKind::of_execution(&old).is_control_flow() {
            // Joins and forks are reopened in place; a switch whose case a script
            // picks waits for a new evaluation.
            let lane = super::schedule::job_lane(state, &old);
            if let Some(task) = state.task_mut(index) {
                task.status = match lane {
                    Some(_) => TaskStatus::Scheduled,
                    None => TaskStatus::InProgress,
                };
                task.retry_count = task.retry_count.saturating_add(1);
                task.retried = false;
                task.executed = false;
                task.end_time = 0;
                task.reason_for_incompletion = None;
            }
            if let Some(lane) = lane {
                out.job_adds.push(crate::store::Job {
                    id: ctx.ids.new_id(),
                    effect: crate::store::Effect::SystemTask,
                    lane,
                    workflow_id: old.workflow_instance_id.clone(),
                    task_id: Some(old.task_id.clone()),
                    due_at: ctx.now,
                });
            }
            continue;
        }
        if let Some(task) = state.task_mut(index) {
            task.retried = true;
            task.executed = true;
        }
        // A dynamic fork's branch keeps the input data gave it.
        let mut fresh = if super::dynamic::is_branch(&state.def, &old.reference_task_name) {
            let input = Ok(old.input_data.clone());
            task_with_input(state, &node, ctx.ids.new_id(), input, ctx)
        } else {
            new_task(state, &node, ctx)
        };
        loops::same_place(&mut fresh, &old);
        fresh.retry_count = old.retry_count.saturating_add(1);
        fresh.retried_task_id = Some(old.task_id.clone());
        fresh.domain = old.domain.clone().or(fresh.domain);
        add_task(state, fresh, 0, ctx, out);
    }
    decide(state, ctx, out);
    Ok(())
}

/// Sets a `SUB_WORKFLOW` task waiting again for its (retried) sub-workflow, and has
/// the sub-workflow's state looked at now.
fn resume_sub_workflow_task(
    state: &mut WorkflowState,
    index: usize,
    child_id: String,
    ctx: &EngineContext<'_>,
    out: &mut ChangeSet,
) {
    let Some(task) = state.task_mut(index) else {
        return;
    };
    task.status = TaskStatus::InProgress;
    task.end_time = 0;
    task.update_time = ctx.now;
    task.reason_for_incompletion = None;
    task.output_data = JsonMap::new();
    task.output_data.insert(
        "subWorkflowId".into(),
        serde_json::Value::String(child_id.clone()),
    );
    task.subworkflow_changed = true;
    let task_id = task.task_id.clone();
    out.job_adds.push(crate::store::Job {
        id: ctx.ids.new_id(),
        effect: crate::store::Effect::SubWorkflowEnded { child_id },
        lane: crate::store::JobLane::Work,
        workflow_id: state.id().to_string(),
        task_id: Some(task_id),
        due_at: ctx.now,
    });
}

/// Reruns an ended workflow from one of its tasks (dropping every later task and
/// resetting that task in place, optionally with new input), or from the start with
/// optional new workflow input. The workflow keeps its id.
pub fn rerun(
    state: &mut WorkflowState,
    request: &RerunWorkflowRequest,
    ctx: &EngineContext<'_>,
    out: &mut ChangeSet,
) -> Result<(), CoreError> {
    if !state.status().is_terminal() {
        return Err(CoreError::Conflict(format!(
            "Workflow: {} is not in terminal state, unable to rerun.",
            long_name(state)
        )));
    }
    let from_task = request
        .re_run_from_task_id
        .as_deref()
        .filter(|t| !t.is_empty());
    let index = match from_task {
        Some(task_id) => Some(
            state
                .task_index(task_id)
                .ok_or_else(|| CoreError::invalid(format!("Task {task_id} not found")))?,
        ),
        None => None,
    };
    if let Some(input) = &request.workflow_input {
        check_supplied(input, "workflow input", ctx)?;
    }
    if let Some(input) = &request.task_input {
        check_supplied(input, "task input", ctx)?;
    }
    if let Some(correlation) = &request.correlation_id {
        state.workflow.correlation_id = Some(correlation.clone());
    }
    if let Some(input) = &request.workflow_input {
        state.workflow.input = input.clone();
    }
    let Some(index) = index else {
        start_over(state, ctx, out);
        return Ok(());
    };
    let target_seq = state.tasks()[index].seq;
    let target_id = state.tasks()[index].task_id.clone();
    // Inside a fork's branch, the other branches run on and the join waits again;
    // everything else scheduled after the task is dropped.
    // (Inside a loop, the loop's own rerun carries on from the task's iteration.)
    let (beside, joins) = if state.tasks()[index].loop_over_task {
        (Vec::new(), Vec::new())
    } else {
        graph::beside(&state.def, loops::bare_ref(&state.tasks()[index]))
    };
    let kept = |t: &Task| {
        let bare = loops::bare_ref(t);
        beside.iter().chain(&joins).any(|r| r == bare)
    };
    let removed = state.remove_tasks(|t| t.seq > target_seq && !kept(t));
    out.queue_removals
        .extend(removed.into_iter().map(|t| t.task_id));
    reopen(state, ctx.now);
    state.workflow.failed_reference_task_names.clear();
    state.workflow.failed_task_names.clear();
    let Some(index) = state.task_index(&target_id) else {
        return Err(CoreError::Internal(format!("rerun lost task {target_id}")));
    };
    for join in &joins {
        if let Some(at) = state.latest_task_index(join)
            && let Some(task) = state.task_mut(at)
        {
            task.status = TaskStatus::Scheduled;
            task.end_time = 0;
            task.executed = false;
            task.reason_for_incompletion = None;
            task.output_data = JsonMap::new();
        }
    }
    let reset = |task: &mut Task, now: i64| {
        task.status = TaskStatus::Scheduled;
        task.scheduled_time = now;
        task.start_time = 0;
        task.end_time = 0;
        task.update_time = now;
        task.output_data = JsonMap::new();
        task.retried = false;
        task.executed = false;
        task.poll_count = 0;
        task.callback_after_seconds = 0;
        task.reason_for_incompletion = None;
        task.worker_id = None;
        task.sub_workflow_id = None;
        task.wait_until = None;
    };
    if let Some(task) = state.task_mut(index) {
        reset(task, ctx.now);
        if let Some(input) = &request.task_input {
            task.input_data = input.clone();
        }
    }
    // A dynamic fork run again forks again.
    state.regraft();
    requeue_in_place(state, index, ctx, out);
    // A task inside a loop: the loop carries on from that task's iteration.
    let target = state.tasks()[index].clone();
    if target.loop_over_task
        && let Some(node) = graph::enclosing_loop(&state.def, loops::bare_ref(&target))
        && let Some(at) = state.latest_task_index(&node.task_reference_name)
    {
        loops::reopen(state, at, Some(target.iteration), ctx);
    }
    // Other unsuccessful tasks (e.g. in sibling fork branches) run again as well; a
    // loop carries on from its iteration.
    let others: Vec<usize> = (0..state.tasks().len())
        .filter(|&i| {
            let t = &state.tasks()[i];
            i != index && t.status.is_terminal() && !t.status.is_successful() && !t.retried
        })
        .collect();
    for other in others {
        if TaskKind::of_execution(&state.tasks()[other]) == TaskKind::DoWhile {
            loops::reopen(state, other, None, ctx);
            continue;
        }
        if let Some(task) = state.task_mut(other) {
            reset(task, ctx.now);
        }
        requeue_in_place(state, other, ctx, out);
    }
    state.regraft();
    decide(state, ctx, out);
    Ok(())
}

/// Makes a reset task runnable again: queued, a job, or started in place.
fn requeue_in_place(
    state: &mut WorkflowState,
    index: usize,
    ctx: &EngineContext<'_>,
    out: &mut ChangeSet,
) {
    // A DYNAMIC task chooses again, authorized again.
    if let Some(node) = graph::find_task(&state.def, &state.tasks()[index].reference_task_name)
        && TaskKind::of(&node.task_type) == TaskKind::Dynamic
    {
        let name = node.name.clone();
        if let Some(task) = state.task_mut(index) {
            task.task_type = super::dynamic::UNCHOSEN.to_string();
            task.task_def_name = name;
            task.domain = None;
        }
    }
    let task = state.tasks()[index].clone();
    let kind = TaskKind::of_execution(&task);
    if kind.is_worker_task() {
        out.queue_pushes.push(QueueMessage {
            queue_name: queue_name(&task.task_type, task.domain.as_deref()),
            task_id: task.task_id.clone(),
            workflow_id: task.workflow_instance_id.clone(),
            priority: task.workflow_priority,
            visible_at: ctx.now,
        });
    } else if let Some(lane) = super::schedule::job_lane(state, &task) {
        out.job_adds.push(crate::store::Job {
            id: ctx.ids.new_id(),
            effect: crate::store::Effect::SystemTask,
            lane,
            workflow_id: task.workflow_instance_id.clone(),
            task_id: Some(task.task_id.clone()),
            due_at: ctx.now,
        });
    } else if kind == TaskKind::Wait
        && let Some(task) = state.task_mut(index)
    {
        // A reset WAIT starts over: its deadline is computed again from its input.
        start_wait(task, ctx.now);
    } else if matches!(kind, TaskKind::Human | TaskKind::Yield)
        && let Some(task) = state.task_mut(index)
    {
        super::schedule::start_human(task, ctx.now);
    }
}
