//! Starting a workflow and waiting for it (`POST /workflow/execute/...`): the
//! answer is the workflow's state once it ends, reaches a blocking task (in it or a
//! running sub-workflow), the named task, or the wait runs out.

use std::time::Duration;

use super::workflow::{WorkflowService, view};
use crate::engine::TaskKind;
use crate::engine::state::WorkflowState;
use crate::error::{CoreError, CoreResult};
use crate::exec::command::Command;
use crate::model::{StartWorkflowRequest, TaskStatus, WorkflowRun};
use crate::security::Principal;

/// How long a synchronous start waits at most (`waitForSeconds`).
pub const MAX_EXECUTE_WAIT_SECONDS: u64 = 60;

/// What a synchronous start waits for.
#[derive(Debug, Clone, Default)]
pub struct ExecuteWait {
    /// Return once the task with this reference name is reached.
    pub until_task_ref: Option<String>,
    /// Wait at most this long (default 10 s).
    pub wait_seconds: Option<u64>,
    /// Echoed in the answer.
    pub request_id: Option<String>,
}

impl WorkflowService {
    /// Starts a workflow and waits until it ends, reaches a blocking task (or the named
    /// one), or the wait runs out; answers with the workflow's state at that point.
    pub async fn execute(
        &self,
        principal: &Principal,
        request: StartWorkflowRequest,
        wait: ExecuteWait,
    ) -> CoreResult<WorkflowRun> {
        let id = self.start(principal, request).await?;
        // An idempotency key can name a run someone else started: its state goes only
        // to a caller who may read it.
        self.authorize_on(principal, &id, Command::Read).await?;
        let seconds = wait
            .wait_seconds
            .unwrap_or(10)
            .min(MAX_EXECUTE_WAIT_SECONDS);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds);
        let notify = self.rt.signals.workflow(&id);
        let result = loop {
            let notified = notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let state = self
                .rt
                .stores
                .execution
                .get_workflow(&id)
                .await?
                .ok_or_else(|| CoreError::workflow_not_found(&id))?;
            let done = state.status().is_terminal()
                || reached(&state, wait.until_task_ref.as_deref())
                || tokio::time::Instant::now() >= deadline
                || (no_task_named(&wait)
                    && super::signals::blocks_somewhere(&self.rt, principal, state.clone()).await);
            if done {
                break Ok(run_of(&state, wait.request_id.clone()));
            }
            // Changes made here wake the wait at once, and so does the workflow's
            // end on another node sharing the store (it is announced); a step
            // reached there is seen at the next look.
            let next_look = (tokio::time::Instant::now() + EXECUTE_RECHECK).min(deadline);
            tokio::select! {
                _ = notified => {}
                _ = tokio::time::sleep_until(next_look) => {}
            }
        };
        self.rt.signals.release_workflow(&id, notify);
        result
    }
}

/// How often a synchronous start looks at its workflow when nothing here woke it.
const EXECUTE_RECHECK: Duration = Duration::from_millis(200);

/// Whether a synchronous start waits for no task in particular.
fn no_task_named(wait: &ExecuteWait) -> bool {
    wait.until_task_ref
        .as_deref()
        .is_none_or(|r| r.is_empty() || r == "None")
}

/// Whether a synchronous start has reached what it waits for: the named task, or (with
/// none named) a task that waits for the outside world.
fn reached(state: &WorkflowState, until_task_ref: Option<&str>) -> bool {
    match until_task_ref.filter(|r| !r.is_empty() && *r != "None") {
        Some(reference) => state
            .tasks()
            .iter()
            .any(|t| t.reference_task_name == reference),
        None => state.tasks().iter().any(|t| {
            TaskKind::of_execution(t) == TaskKind::Wait
                && t.status == TaskStatus::InProgress
                && t.wait_until.is_none()
        }),
    }
}

fn run_of(state: &WorkflowState, request_id: Option<String>) -> WorkflowRun {
    let wf = view(state, true);
    WorkflowRun {
        response_type: "TARGET_WORKFLOW".to_string(),
        target_workflow_id: wf.workflow_id.clone(),
        target_workflow_status: wf.status,
        request_id,
        workflow_id: wf.workflow_id,
        correlation_id: wf.correlation_id,
        input: wf.input,
        output: wf.output,
        status: wf.status,
        tasks: wf.tasks,
        variables: wf.variables,
        priority: wf.priority,
        create_time: wf.create_time,
        update_time: wf.update_time,
        created_by: wf.created_by,
    }
}
