//! Updating a task by its workflow and reference name (`POST
//! /tasks/{workflowId}/{ref}/{status}`, and the task half of `/state`): finding
//! the unfinished task and deciding who may update it, as `update` would.

use super::TaskService;
use super::disclosure;
use super::task::sees_every_task;
use super::waiting_tasks::{self, waits_for_someone};
use crate::error::{CoreError, CoreResult};
use crate::exec::authority::may_access_execution;
use crate::exec::command;
use crate::model::{JsonMap, Task, TaskResult, TaskResultStatus};
use crate::security::authz::refusal;
use crate::security::{Access, Principal, Resource};

impl TaskService {
    /// The unfinished task of a workflow with a reference name, when `principal`
    /// may update it (as `update_by_ref` would): None when there is none, which only
    /// a caller who may read the workflow hears. Changes nothing.
    pub async fn pending_by_ref(
        &self,
        principal: &Principal,
        workflow_id: &str,
        reference: &str,
        feeds: bool,
    ) -> CoreResult<Option<Task>> {
        let hidden = || {
            disclosure::hidden(format_args!(
                "update task {reference} of workflow {workflow_id}"
            ))
        };
        let Some(state) = self.rt.stores.execution.get_workflow(workflow_id).await? else {
            return Err(if sees_every_task(&self.rt.authorizer, principal) {
                CoreError::workflow_not_found(workflow_id)
            } else {
                hidden()
            });
        };
        let authz = &self.rt.authorizer;
        // Asked only when refusing or when there is nothing to update.
        let reads_workflow = || {
            may_access_execution(&self.rt, principal, Access::Read, &state.workflow)
                || sees_every_task(authz, principal)
        };
        let pending = state.tasks().iter().find(|t| {
            !t.status.is_terminal()
                && (t.reference_task_name == reference
                    || (t.loop_over_task && crate::engine::loops::bare_ref(t) == reference))
        });
        let task = match pending {
            Some(task) if waits_for_someone(task) => {
                // Ended as a signal ends it (see `apply_result`), which counts the
                // output the task holds already as data it feeds the run.
                let feeds = feeds || !task.output_data.is_empty();
                waiting_tasks::may_end(&self.rt, principal, &state, feeds).map_err(|refusal| {
                    waiting_tasks::as_heard(&self.rt, principal, &state, task, refusal, hidden)
                })?;
                task
            }
            Some(task) => {
                let resource = Resource::task(&task.task_def_name, task.domain.as_deref());
                if !authz.can(principal, Access::Execute, resource) {
                    return Err(
                        if reads_workflow() || command::can_see_task(&self.rt, principal, task) {
                            refusal(Access::Execute, resource)
                        } else {
                            hidden()
                        },
                    );
                }
                task
            }
            None if reads_workflow() => return Ok(None),
            None => return Err(hidden()),
        };
        Ok(Some(task.clone()))
    }

    /// `POST /tasks/{workflowId}/{ref}/{status}`: updates the first unfinished task with
    /// that reference name, merging `output` into its output. None when there is none,
    /// which only a caller who may read the workflow hears: anyone else gets the same
    /// 403 whether the workflow, the reference or an unfinished task exists or not.
    pub async fn update_by_ref(
        &self,
        principal: &Principal,
        workflow_id: &str,
        reference: &str,
        status: TaskResultStatus,
        output: JsonMap,
        worker_id: Option<String>,
    ) -> CoreResult<Option<Task>> {
        let feeds = !output.is_empty();
        let Some(task) = self
            .pending_by_ref(principal, workflow_id, reference, feeds)
            .await?
        else {
            return Ok(None);
        };
        let mut merged = task.output_data.clone();
        for (key, value) in output {
            merged.insert(key, value);
        }
        let result = TaskResult {
            workflow_instance_id: workflow_id.to_string(),
            task_id: task.task_id.clone(),
            reason_for_incompletion: task.reason_for_incompletion.clone(),
            callback_after_seconds: task.callback_after_seconds,
            worker_id: worker_id
                .filter(|w| !w.trim().is_empty())
                .or_else(|| task.worker_id.clone()),
            status,
            output_data: merged,
            logs: Vec::new(),
            external_output_payload_storage_path: None,
            sub_workflow_id: task.sub_workflow_id.clone(),
            extend_lease: false,
        };
        self.update(principal, result).await.map(Some)
    }
}
