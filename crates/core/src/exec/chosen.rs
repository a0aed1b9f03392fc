//! The job of a task whose input chooses what runs (`DYNAMIC`, `FORK_JOIN_DYNAMIC`):
//! the worker task types it chose are authorized as the run's principals, as if its
//! definition named them (EXECUTE on each), before anything is scheduled; then the
//! choice is applied in one unit of work (`engine::dynamic::apply_choice`), or the
//! task fails with the reason. A sub-workflow a fork chose is authorized when its
//! child starts, as every child is.

use tracing::warn;

use super::delegated::{Then, drop_job, fail_task};
use super::effects::{self, EngineAction, Scope};
use crate::engine::choice;
use crate::engine::dynamic;
use crate::engine::graph;
use crate::engine::loops::bare_ref;
use crate::error::CoreResult;
use crate::model::{Task, TaskStatus};
use crate::service::Runtime;
use crate::service::handoff;
use crate::store::Job;

pub(super) async fn choose_tasks(rt: &Runtime, job: Job, task: Task) -> CoreResult<()> {
    if task.status != TaskStatus::Scheduled {
        return drop_job(rt, &job).await;
    }
    let workflow_id = task.workflow_instance_id.clone();
    let task_id = task.task_id.clone();
    let state = match handoff::live_workflow(rt, &workflow_id).await {
        Ok(state) => state,
        Err(_) => return drop_job(rt, &job).await,
    };
    let Some(node) = graph::find_task(state.base_def(), bare_ref(&task)) else {
        return drop_job(rt, &job).await;
    };
    // A choice the engine refuses fails the task in the unit below, with its reason.
    if let Ok(chosen) = choice::chosen(node, &task.input_data) {
        let workers = choice::worker_types(&chosen);
        let scope = Scope {
            starter: state.workflow.created_by.as_deref(),
            authority: &state.authority,
            run: Some(&state.workflow),
            start: None,
            references: None,
            secret: None,
            chosen: Some(&workers),
        };
        if let Err(reason) = effects::authorize(rt, EngineAction::ChooseTasks, &scope) {
            let reason = format!(
                "Cannot run the tasks the input of {} chose: {reason}",
                node.task_reference_name
            );
            warn!(workflow_id = %workflow_id, task_id = %task_id, reason = %reason, "tasks chosen by data were refused");
            return fail_task(rt, &job, workflow_id, task_id, reason, Then::Decide).await;
        }
    }
    let input = task.input_data;
    let job_id = job.id.clone();
    rt.mutate(Some(workflow_id), move |txn, ctx| {
        let mut changes = std::mem::take(&mut txn.changes);
        if let Some(state) = txn.state.as_mut() {
            dynamic::apply_choice(state, &task_id, &input, ctx, &mut changes);
        }
        changes.job_deletes.push(job_id);
        txn.changes = changes;
        Ok(())
    })
    .await
}
