//! The job of a task whose input chooses what runs (`DYNAMIC`, `FORK_JOIN_DYNAMIC`):
//! the worker task types it chose are authorized as the run's principals, as if its
//! definition named them (EXECUTE on each), before anything is scheduled; then the
//! choice is applied in one unit of work (`engine::dynamic::apply_choice`), or the
//! task fails with the reason. A sub-workflow a fork chose is authorized when its
//! child starts, as every child is.

use tracing::warn;

use super::delegated::drop_job;
use super::effects::{self, EngineAction, Scope};
use crate::engine::choice;
use crate::engine::dynamic;
use crate::engine::graph;
use crate::engine::loops::bare_ref;
use crate::engine::ops;
use crate::error::CoreResult;
use crate::model::{Task, TaskStatus};
use crate::service::Runtime;
use crate::store::Job;

pub(super) async fn choose_tasks(rt: &Runtime, job: Job, task: Task) -> CoreResult<()> {
    if task.status != TaskStatus::Scheduled {
        return drop_job(rt, &job).await;
    }
    let workflow_id = task.workflow_instance_id.clone();
    let task_id = task.task_id.clone();
    // A store error leaves the job for its next run; a workflow gone drops it.
    let Some(state) = rt.stores.execution.get_workflow(&workflow_id).await? else {
        return drop_job(rt, &job).await;
    };
    let Some(node) = graph::find_task(state.base_def(), bare_ref(&task)) else {
        return drop_job(rt, &job).await;
    };
    // A choice the engine refuses fails the task in the unit below, with its reason.
    let mut refusal = None;
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
            refusal = Some(reason);
        }
    }
    // Applied only to the run as it was checked: the same input, the same
    // principals, the same definition. Otherwise the choice is checked again.
    let seen = (state.authority.clone(), state.def_revision.clone());
    let input = task.input_data;
    let job_id = job.id.clone();
    rt.mutate(Some(workflow_id), move |txn, ctx| {
        let mut changes = std::mem::take(&mut txn.changes);
        if let Some(state) = txn.state.as_mut() {
            let waiting = state.task_index(&task_id).is_some_and(|i| {
                let t = &state.tasks()[i];
                t.status == TaskStatus::Scheduled && t.input_data == input
            });
            if waiting && (&state.authority, &state.def_revision) != (&seen.0, &seen.1) {
                changes.job_adds.push(Job {
                    id: ctx.ids.new_id(),
                    due_at: ctx.now,
                    ..job
                });
            } else if waiting {
                match refusal {
                    Some(reason) => {
                        ops::fail_system_task(state, &task_id, reason, true, ctx, &mut changes)
                    }
                    None => {
                        dynamic::apply_choice(state, &task_id, &input, ctx, &mut changes);
                    }
                }
            }
        }
        changes.job_deletes.push(job_id);
        txn.changes = changes;
        Ok(())
    })
    .await
}
