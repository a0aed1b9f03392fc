//! `POST /api/workflow/test`: runs a workflow with its worker tasks' outputs mocked,
//! as Conductor does. It is a real execution, started as the caller (so it needs
//! what any start needs) with every task routed to a domain of its own, so no real
//! worker receives one (unless the request maps a task type to a domain itself,
//! which Conductor respects too). System tasks and operators run for real; each
//! scheduled worker task is completed (or failed) by the caller with the next mock
//! listed for its reference (`ref__N` in a loop, else the bare reference), as the
//! caller's own task update, authorized as such. A `SUB_WORKFLOW` task with a
//! `subWorkflowTestRequest` has its child's worker tasks mocked the same way. It
//! stops at a worker task with no mock left (the workflow stays RUNNING, as in
//! Conductor), when the workflow ends, or after a bounded number of steps and time,
//! and answers the workflow.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use podium_core::engine::TaskKind;
use podium_core::engine::loops::bare_ref;
use podium_core::error::CoreResult;
use podium_core::model::{JsonMap, StartWorkflowRequest, TaskResult, TaskResultStatus, Workflow};
use podium_core::security::Principal;
use serde::Deserialize;
use serde_json::Value;

use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Auth, JsonBody};
use crate::http::state::AppState;

/// Most mocks applied, and longest time spent, by one test.
const MAX_STEPS: usize = 10_000;
const MAX_TIME: Duration = Duration::from_secs(30);
/// How deep sub-workflow test requests nest.
const MAX_DEPTH: usize = 8;
const STEP: Duration = Duration::from_millis(20);

/// One mocked result of a worker task.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct TaskMock {
    status: Option<String>,
    output: Option<JsonMap>,
}

/// `WorkflowTestRequest`: a start request with mocks.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(super) struct TestRequest {
    #[serde(flatten)]
    start: StartWorkflowRequest,
    task_ref_to_mock_output: HashMap<String, Vec<TaskMock>>,
    sub_workflow_test_request: HashMap<String, TestRequest>,
}

type Mocks = HashMap<String, VecDeque<TaskMock>>;

fn mocks_of(request: &TestRequest) -> Mocks {
    request
        .task_ref_to_mock_output
        .iter()
        .map(|(reference, list)| (reference.clone(), list.iter().cloned().collect()))
        .collect()
}

/// Runs the test; answers the workflow as it stands when the test stops.
pub(super) async fn workflow_test(
    State(state): State<AppState>,
    Auth(principal): Auth,
    JsonBody(mut request): JsonBody<TestRequest>,
) -> ApiResult<Json<Workflow>> {
    // A test always starts a run of its own: never one an idempotency key finds.
    request.start.idempotency_key = None;
    // A domain no worker polls: the test's worker tasks are only ever mocked.
    request.start.task_to_domain.insert(
        "*".into(),
        Value::String(format!("test-{}", uuid::Uuid::new_v4().simple())),
    );
    let id = state
        .workflows
        .start(&principal, request.start.clone())
        .await?;
    let deadline = tokio::time::Instant::now() + MAX_TIME;
    let mut steps = 0usize;
    drive(
        &state,
        &principal,
        id.clone(),
        &request,
        mocks_of(&request),
        0,
        (&mut steps, deadline),
    )
    .await
    .map_err(ApiError::Core)?;
    Ok(Json(state.workflows.get(&principal, &id, true).await?))
}

type Driven<'a> = Pin<Box<dyn Future<Output = CoreResult<()>> + Send + 'a>>;

/// Mocks the worker tasks of workflow `id` until it ends or waits for something
/// nobody mocked.
fn drive<'a>(
    state: &'a AppState,
    principal: &'a Principal,
    id: String,
    request: &'a TestRequest,
    mut mocks: Mocks,
    depth: usize,
    (steps, deadline): (&'a mut usize, tokio::time::Instant),
) -> Driven<'a> {
    Box::pin(async move {
        let mut children_done: Vec<String> = Vec::new();
        loop {
            let workflow = state.workflows.get(principal, &id, true).await?;
            if workflow.status.is_terminal()
                || *steps >= MAX_STEPS
                || tokio::time::Instant::now() >= deadline
            {
                return Ok(());
            }
            let mut progressed = false;
            let mut unmocked = false;
            for task in workflow.tasks.iter().filter(|t| !t.status.is_terminal()) {
                let kind = TaskKind::of_execution(task);
                if kind == TaskKind::SubWorkflow {
                    let Some(child) = task.sub_workflow_id.clone() else {
                        continue;
                    };
                    let child_request = request
                        .sub_workflow_test_request
                        .get(bare_ref(task))
                        .filter(|_| depth < MAX_DEPTH);
                    if let Some(child_request) = child_request
                        && !children_done.contains(&child)
                    {
                        drive(
                            state,
                            principal,
                            child.clone(),
                            child_request,
                            mocks_of(child_request),
                            depth + 1,
                            (&mut *steps, deadline),
                        )
                        .await?;
                        children_done.push(child);
                        progressed = true;
                    }
                    continue;
                }
                if !kind.is_worker_task() {
                    continue;
                }
                let key = if mocks.contains_key(&task.reference_task_name) {
                    task.reference_task_name.clone()
                } else {
                    bare_ref(task).to_string()
                };
                let Some(mock) = mocks.get_mut(&key).and_then(VecDeque::pop_front) else {
                    unmocked = true;
                    continue;
                };
                let status = match mock.status.as_deref() {
                    None => TaskResultStatus::Completed,
                    Some(text) => TaskResultStatus::parse(text).ok_or_else(|| {
                        podium_core::error::CoreError::invalid(format!(
                            "the mock status '{text}' of {key} is not a task result status"
                        ))
                    })?,
                };
                let reason = (!matches!(
                    status,
                    TaskResultStatus::Completed | TaskResultStatus::InProgress
                ))
                .then(|| "Mocked".to_string());
                let mut result = TaskResult::reported(
                    id.clone(),
                    task.task_id.clone(),
                    status,
                    mock.output.unwrap_or_default(),
                    reason,
                );
                result.worker_id = Some("workflow-test".into());
                state.tasks.update(principal, result).await?;
                *steps += 1;
                progressed = true;
            }
            let waits_outside = workflow
                .tasks
                .iter()
                .filter(|t| !t.status.is_terminal())
                .all(|t| {
                    matches!(
                        TaskKind::of_execution(t),
                        TaskKind::Wait | TaskKind::Human | TaskKind::Yield
                    )
                });
            if !progressed {
                if unmocked || waits_outside {
                    // As Conductor: a worker task nobody mocked stops the test, and
                    // so does a wait only someone outside can end.
                    return Ok(());
                }
                // System tasks (scripts, sub-workflows starting) run on their jobs.
                tokio::time::sleep(STEP).await;
            }
        }
    })
}
