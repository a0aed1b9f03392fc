//! Signals (`POST /tasks/{workflowId}/{status}/signal`): a workflow's waiting task
//! (`WAIT`, `YIELD`) is completed, or failed, with the signal's data merged into its
//! output, without the caller knowing the task. As Conductor finds it: the first
//! waiting task of the workflow, else, in order, in its running sub-workflows
//! (depth-first, bounded).
//!
//! Signalling needs what operating the workflow that owns the task needs (Orkes's
//! EXECUTE or Operate's UPDATE_PROCESS_INSTANCE on its definition, or having started
//! it), and, since its data becomes the task's output which the run acts on, what a
//! start of the run's definition needs; the caller becomes one of the run's
//! principals (`authority::feeds_data`), as with a skip that brings output. Someone who may not read the addressed workflow hears the same refusal
//! whether it, or a waiting task in it, exists or not.

use std::future::Future;
use std::pin::Pin;

use super::disclosure;
use super::task::{TaskService, sees_every_task};
use crate::engine::TaskKind;
use crate::engine::state::WorkflowState;
use crate::error::{CoreError, CoreResult};
use crate::exec::authority::{self, may_access_execution};
use crate::model::{JsonMap, Task, TaskResult, TaskResultStatus};
use crate::security::{Access, Actor, Principal};
use crate::service::Runtime;

/// How deep signals look into sub-workflows (a definition nests at most 100 levels;
/// real ones a few).
pub const MAX_SIGNAL_DEPTH: usize = 32;

/// Whether a task waits for a signal: a `WAIT` or a `YIELD` that has not ended.
pub fn is_signalable(task: &Task) -> bool {
    !task.status.is_terminal()
        && matches!(
            TaskKind::of_execution(task),
            TaskKind::Wait | TaskKind::Yield
        )
}

/// Whether a task blocks its workflow until someone acts: a `YIELD` or a `WAIT`
/// with neither a duration nor an end time, not ended (what a synchronous signal
/// waits for next).
pub fn is_blocking(task: &Task) -> bool {
    is_signalable(task) && task.wait_until.is_none()
}

type Found<'a> =
    Pin<Box<dyn Future<Output = CoreResult<Option<(WorkflowState, Task)>>> + Send + 'a>>;

/// The task a signal to `state` completes, with the workflow that owns it.
/// How many sub-workflows one look for a waiting task reads at most.
pub const MAX_SIGNAL_WALK: usize = 200;

/// What one look into sub-workflows has read: each workflow once, so many at most.
#[derive(Default)]
struct Walk {
    visited: std::collections::HashSet<String>,
    read: usize,
}

/// Whether a workflow, or one of its running sub-workflows `principal` may read,
/// waits in a task that blocks it until someone acts (what a synchronous start
/// waits for). A store that cannot answer counts as not blocked.
pub(crate) async fn blocks_somewhere(
    rt: &Runtime,
    principal: &Principal,
    state: WorkflowState,
) -> bool {
    let mut walk = Walk::default();
    match find(rt, state, 0, is_blocking, Some(principal), &mut walk).await {
        Ok(found) => found.is_some(),
        Err(err) => {
            tracing::warn!(error = %err, "could not look into sub-workflows for a waiting task");
            false
        }
    }
}

/// The first task `pick` chooses in a workflow, else in its running sub-workflows
/// (depth-first, each once, bounded in depth and in how many are read; with
/// `reader`, only those it may read), with the workflow that owns it.
fn find<'w>(
    rt: &'w Runtime,
    state: WorkflowState,
    depth: usize,
    pick: fn(&Task) -> bool,
    reader: Option<&'w Principal>,
    walk: &'w mut Walk,
) -> Found<'w> {
    Box::pin(async move {
        if let Some(task) = state.tasks().iter().find(|t| pick(t)).cloned() {
            return Ok(Some((state, task)));
        }
        if depth >= MAX_SIGNAL_DEPTH {
            return Ok(None);
        }
        walk.visited.insert(state.workflow.workflow_id.clone());
        let children: Vec<String> = state
            .tasks()
            .iter()
            .filter(|t| {
                !t.status.is_terminal() && TaskKind::of_execution(t) == TaskKind::SubWorkflow
            })
            .filter_map(|t| t.sub_workflow_id.clone())
            .collect();
        for child in children {
            if walk.read >= MAX_SIGNAL_WALK {
                return Ok(None);
            }
            if !walk.visited.insert(child.clone()) {
                continue;
            }
            walk.read += 1;
            let Some(child) = rt.stores.execution.get_workflow(&child).await? else {
                continue;
            };
            if child.status().is_terminal() {
                continue;
            }
            if reader.is_some_and(|p| !may_access_execution(rt, p, Access::Read, &child.workflow)) {
                continue;
            }
            if let Some(found) = find(rt, child, depth + 1, pick, reader, walk).await? {
                return Ok(Some(found));
            }
        }
        Ok(None)
    })
}

impl TaskService {
    /// Signals the waiting task of workflow `workflow_id` (or of one of its running
    /// sub-workflows) with `status`, merging `output` into its output. Returns the
    /// task as it was before, or None when nothing waits (which only a caller who
    /// may read the workflow hears).
    pub async fn signal(
        &self,
        principal: &Principal,
        workflow_id: &str,
        status: TaskResultStatus,
        output: JsonMap,
    ) -> CoreResult<Option<Task>> {
        let rt = &self.rt;
        let hidden = || disclosure::hidden(format_args!("access workflow {workflow_id}"));
        let Some(root) = rt.stores.execution.get_workflow(workflow_id).await? else {
            return Err(if sees_every_task(&rt.authorizer, principal) {
                CoreError::workflow_not_found(workflow_id)
            } else {
                hidden()
            });
        };
        let reads_root = may_access_execution(rt, principal, Access::Read, &root.workflow)
            || sees_every_task(&rt.authorizer, principal);
        let found = find(rt, root, 0, is_signalable, None, &mut Walk::default()).await?;
        let Some((owner, task)) = found else {
            return if reads_root { Ok(None) } else { Err(hidden()) };
        };
        if let Err(err) = self.allow_data(principal, &owner, !output.is_empty()).await {
            return Err(if reads_root { err } else { hidden() });
        }
        let mut merged = task.output_data.clone();
        merged.extend(output);
        let reason = (!matches!(
            status,
            TaskResultStatus::Completed | TaskResultStatus::InProgress
        ))
        .then(|| "Signalled".to_string());
        let result = TaskResult::reported(
            task.workflow_instance_id.clone(),
            task.task_id.clone(),
            status,
            merged,
            reason,
        );
        // Allowed above as the caller; applied as the engine, since the task is
        // reached through its workflow, not by its type.
        self.apply_result(Actor::engine(), result, false).await?;
        Ok(Some(task))
    }

    /// Allows `principal` to end a task of `owner` with data: what operating the
    /// run needs, and, when it `feeds` the run data (the task's output, which the
    /// run acts on), what a start of the run's definition needs; the principal then
    /// becomes one of the run's principals.
    pub(super) async fn allow_data(
        &self,
        principal: &Principal,
        owner: &WorkflowState,
        feeds: bool,
    ) -> CoreResult<()> {
        let rt = &self.rt;
        super::waiting_tasks::may_end(rt, principal, owner, feeds)?;
        if feeds {
            let owner_id = owner.id().to_string();
            let caller = principal.clone();
            let runtime = self.rt.clone();
            rt.mutate(Some(owner_id), move |txn, _| {
                if let Some(state) = txn.state.as_mut() {
                    let starter = state.workflow.created_by.clone();
                    let before = state.authority.clone();
                    authority::feeds_data(
                        &runtime,
                        &mut state.authority,
                        starter.as_deref(),
                        &caller,
                    );
                    if state.authority != before {
                        state.touch();
                    }
                }
                Ok(())
            })
            .await?;
            // It acts for one more principal from now on.
            rt.handoffs.forget_workflow(owner.id());
        }
        Ok(())
    }

    /// Ends a task that waits for someone (`WAIT`, `YIELD`, `HUMAN`, an `EVENT`
    /// with `asyncComplete`) of a workflow (by id, or by reference name, the latest
    /// iteration of a loop's) with `status` and `output`, as an event handler's
    /// `complete_task` and `fail_task` do: with what a signal needs of `principal`
    /// and of `fed_by` (the starter of the run whose data asks for it). A task a
    /// worker or the engine runs is not ended this way. Returns the task's id, or
    /// None when it had ended already.
    #[allow(clippy::too_many_arguments)]
    pub async fn end_task(
        &self,
        principal: &Principal,
        fed_by: Option<&Principal>,
        workflow_id: &str,
        task: TaskPick<'_>,
        status: TaskResultStatus,
        output: JsonMap,
        reason: Option<String>,
    ) -> CoreResult<Option<String>> {
        let rt = &self.rt;
        let Some(owner) = rt.stores.execution.get_workflow(workflow_id).await? else {
            return Err(CoreError::workflow_not_found(workflow_id));
        };
        let found = owner
            .tasks()
            .iter()
            .rev()
            .find(|t| match task {
                TaskPick::Id(id) => t.task_id == id,
                TaskPick::Reference(reference) => {
                    t.reference_task_name == reference
                        || crate::engine::loops::bare_ref(t) == reference
                }
            })
            .cloned();
        let Some(found) = found else {
            return Err(CoreError::NotFound(match task {
                TaskPick::Id(id) => {
                    format!("No task found with taskId: {id}, workflowId: {workflow_id}")
                }
                TaskPick::Reference(r) => {
                    format!("No task found with reference name: {r}, workflowId: {workflow_id}")
                }
            }));
        };
        if found.status.is_terminal() {
            return Ok(None);
        }
        let waits = matches!(
            TaskKind::of_execution(&found),
            TaskKind::Wait | TaskKind::Yield | TaskKind::Human | TaskKind::Event
        );
        if !waits {
            return Err(CoreError::invalid(format!(
                "Task {} is a {} task, which its worker or the server ends; an event handler ends only a WAIT, YIELD, HUMAN or asynchronous EVENT task",
                found.reference_task_name, found.task_type
            )));
        }
        self.allow_data(principal, &owner, !output.is_empty())
            .await?;
        if let Some(feeder) = fed_by {
            self.allow_data(feeder, &owner, true).await?;
        }
        let result = TaskResult::reported(
            found.workflow_instance_id.clone(),
            found.task_id.clone(),
            status,
            output,
            reason,
        );
        self.apply_result(Actor::engine(), result, false).await?;
        Ok(Some(found.task_id))
    }
}

/// How an event handler names the task it ends.
#[derive(Debug, Clone, Copy)]
pub enum TaskPick<'a> {
    Id(&'a str),
    Reference(&'a str),
}
