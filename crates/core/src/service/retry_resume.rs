//! Retrying a workflow whose sub-workflow failed, with Conductor's
//! `resumeSubworkflowTasks`: instead of starting the failed sub-workflow anew, the
//! deepest failed sub-workflow is retried where it failed, and each workflow above
//! it has its `SUB_WORKFLOW` task wait for it again.
//!
//! Every workflow of the chain must have ended and is authorized as a retry of its
//! own before anything changes; the changes are then made from the bottom up (each
//! in its own unit), so a parent is set waiting only once its child runs again, and
//! looks at the child's state after it is set waiting (the child may already have
//! ended again). When a request stops part-way (the process ends, a unit fails),
//! the child runs while its parents stay failed; the same request again finds the
//! running (or completed) child and sets its parents waiting for it, rather than
//! starting a second child.

use std::collections::HashSet;

use super::workflow::WorkflowService;
use super::workflow_ops::Authorized;
use crate::engine::ops;
use crate::engine::state::WorkflowState;
use crate::engine::task_type::TaskKind;
use crate::error::{CoreError, CoreResult};
use crate::exec::command::Command;
use crate::model::{TaskStatus, WorkflowStatus};
use crate::security::Principal;

/// How many workflows deep a chain of failed sub-workflows is followed.
const MAX_CHAIN: usize = 32;

/// A workflow of the chain, with the `SUB_WORKFLOW` task that waits for the next one.
struct Link {
    state: WorkflowState,
    resumed: Option<String>,
}

impl WorkflowService {
    /// Retries a workflow; a failed sub-workflow is retried in place rather than
    /// started again (see the module's text).
    pub async fn retry_resuming(&self, principal: &Principal, id: &str) -> CoreResult<()> {
        let chain = self.failed_chain(principal, id).await?;
        // Every workflow that changes is checked before the first change: each must
        // have ended, and the caller may retry each.
        let mut plans: Vec<(String, Option<String>, Authorized)> = Vec::with_capacity(chain.len());
        for link in &chain {
            if !link.state.status().is_terminal() {
                return Err(CoreError::Conflict(format!(
                    "Workflow is still running.  status={}",
                    link.state.status().as_str()
                )));
            }
            let authorized =
                self.authorize_run_again(principal, &link.state, (Command::Retry, false), None)?;
            plans.push((
                link.state.id().to_string(),
                link.resumed.clone(),
                authorized,
            ));
        }
        for (workflow_id, resumed, authorized) in plans.into_iter().rev() {
            self.apply_authorized(
                &workflow_id,
                authorized,
                move |state, ctx, out| match resumed {
                    None => ops::retry(state, ctx, out),
                    Some(task_id) => ops::retry_resuming(state, &task_id, ctx, out),
                },
            )
            .await?;
        }
        Ok(())
    }

    /// The workflows to change, top first: `id`, and while the one reached has a
    /// failed `SUB_WORKFLOW` task whose sub-workflow (live, started for that very
    /// task) ended unsuccessfully, that sub-workflow. A sub-workflow found running
    /// or completed was retried by an earlier request that stopped before its parent
    /// was set waiting: the parent is set waiting for it, and it is left as it is.
    async fn failed_chain(&self, principal: &Principal, id: &str) -> CoreResult<Vec<Link>> {
        let mut chain: Vec<Link> = Vec::new();
        let mut seen = HashSet::new();
        let mut state = self.live(principal, id).await?;
        while chain.len() < MAX_CHAIN && seen.insert(state.id().to_string()) {
            let Some((task_id, child_id)) = failed_sub_workflow(&state) else {
                break;
            };
            let child = self.rt.stores.execution.get_workflow(&child_id).await?;
            let Some(child) = child.filter(|child| {
                child.workflow.parent_workflow_id.as_deref() == Some(state.id())
                    && child.workflow.parent_workflow_task_id.as_deref() == Some(task_id.as_str())
            }) else {
                break;
            };
            match child.status() {
                WorkflowStatus::Failed | WorkflowStatus::TimedOut | WorkflowStatus::Terminated => {
                    chain.push(Link {
                        state,
                        resumed: Some(task_id),
                    });
                    state = child;
                }
                WorkflowStatus::Running | WorkflowStatus::Paused | WorkflowStatus::Completed => {
                    chain.push(Link {
                        state,
                        resumed: Some(task_id),
                    });
                    return Ok(chain);
                }
            }
        }
        chain.push(Link {
            state,
            resumed: None,
        });
        Ok(chain)
    }
}

/// The first `SUB_WORKFLOW` task (latest attempt of its reference) that ended
/// unsuccessfully, with its sub-workflow's id.
fn failed_sub_workflow(state: &WorkflowState) -> Option<(String, String)> {
    state.tasks().iter().enumerate().find_map(|(index, task)| {
        let failed = matches!(
            task.status,
            TaskStatus::Failed
                | TaskStatus::FailedWithTerminalError
                | TaskStatus::TimedOut
                | TaskStatus::Canceled
        );
        (failed
            && TaskKind::of_execution(task) == TaskKind::SubWorkflow
            && state.latest_task_index(&task.reference_task_name) == Some(index))
        .then(|| {
            task.sub_workflow_id
                .clone()
                .map(|child| (task.task_id.clone(), child))
        })
        .flatten()
    })
}
