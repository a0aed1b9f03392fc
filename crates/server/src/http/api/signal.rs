//! `POST /api/tasks/{workflowId}/{status}/signal[/sync]`: signals a workflow's
//! waiting task (see `core::service::signals`); and `POST /api/workflow/{id}/state`,
//! which sets variables and a task's result by reference, then waits likewise. The synchronous form then waits, a
//! few seconds at most, until the workflow ends or waits again, and answers with
//! what `returnStrategy` asks for: the workflow (`TARGET_WORKFLOW`), the (sub-)
//! workflow that waits (`BLOCKING_WORKFLOW`), or the task it waits in
//! (`BLOCKING_TASK`, `BLOCKING_TASK_INPUT`), as Orkes's SignalResponse. Everything
//! shown is what the caller may read, masked as the API masks it.

use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use podium_core::error::CoreError;
use podium_core::model::{JsonMap, Task, TaskResultStatus, Workflow};
use podium_core::security::Principal;
use podium_core::service::signals::{MAX_SIGNAL_DEPTH, MAX_SIGNAL_WALK, is_blocking};
use serde_json::{Value, json};

use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Auth, OptionalJson, Params};
use crate::http::state::AppState;

/// How long a synchronous signal waits for the workflow to end or wait again.
const SETTLE: Duration = Duration::from_secs(5);
/// How long a synchronous signal waits for a task to signal to appear (a workflow
/// just started may not have reached its waiting task yet).
const FIND: Duration = Duration::from_secs(2);
const STEP: Duration = Duration::from_millis(100);

/// The statuses a signal may set.
fn signal_status(text: &str) -> ApiResult<TaskResultStatus> {
    match TaskResultStatus::parse(text) {
        Some(
            status @ (TaskResultStatus::Completed
            | TaskResultStatus::Failed
            | TaskResultStatus::FailedWithTerminalError
            | TaskResultStatus::InProgress),
        ) => Ok(status),
        _ => Err(ApiError::bad_request(format!(
            "status '{text}' is not valid: use IN_PROGRESS, COMPLETED, FAILED or FAILED_WITH_TERMINAL_ERROR"
        ))),
    }
}

/// Signals the workflow's waiting task; 200 whether or not a task waited.
pub(super) async fn signal_async(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path((workflow_id, status)): Path<(String, String)>,
    OptionalJson(output): OptionalJson<JsonMap>,
) -> ApiResult<Response> {
    let status = signal_status(&status)?;
    state
        .tasks
        .signal(&principal, &workflow_id, status, output)
        .await?;
    Ok(StatusCode::OK.into_response())
}

/// What a synchronous signal (or start) answers with.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum Strategy {
    TargetWorkflow,
    BlockingWorkflow,
    BlockingTask,
    BlockingTaskInput,
}

impl Strategy {
    pub(super) fn parse(text: Option<String>) -> ApiResult<Strategy> {
        match text.as_deref().map(str::trim) {
            None | Some("") | Some("TARGET_WORKFLOW") => Ok(Strategy::TargetWorkflow),
            Some("BLOCKING_WORKFLOW") => Ok(Strategy::BlockingWorkflow),
            Some("BLOCKING_TASK") => Ok(Strategy::BlockingTask),
            Some("BLOCKING_TASK_INPUT") => Ok(Strategy::BlockingTaskInput),
            Some(other) => Err(ApiError::bad_request(format!(
                "returnStrategy '{other}' is not valid: use TARGET_WORKFLOW, BLOCKING_WORKFLOW, BLOCKING_TASK or BLOCKING_TASK_INPUT"
            ))),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Strategy::TargetWorkflow => "TARGET_WORKFLOW",
            Strategy::BlockingWorkflow => "BLOCKING_WORKFLOW",
            Strategy::BlockingTask => "BLOCKING_TASK",
            Strategy::BlockingTaskInput => "BLOCKING_TASK_INPUT",
        }
    }
}

/// Signals the workflow's waiting task, waits for the workflow to end or wait
/// again, and answers per `returnStrategy`. 404 when no task waits to be signalled.
pub(super) async fn signal_sync(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path((workflow_id, status)): Path<(String, String)>,
    params: Params,
    OptionalJson(output): OptionalJson<JsonMap>,
) -> ApiResult<Json<Value>> {
    let status = signal_status(&status)?;
    let strategy = Strategy::parse(params.text("returnStrategy"))?;
    let started = tokio::time::Instant::now();
    let signalled = loop {
        let found = state
            .tasks
            .signal(&principal, &workflow_id, status, output.clone())
            .await?;
        match found {
            Some(task) => break task,
            None if started.elapsed() < FIND => tokio::time::sleep(STEP).await,
            None => {
                return Err(ApiError::Core(CoreError::NotFound(format!(
                    "Found no blocked task in workflow {workflow_id} to signal"
                ))));
            }
        }
    };
    let request_id = uuid::Uuid::new_v4().to_string();
    let deadline = tokio::time::Instant::now() + SETTLE;
    let mut timed_out = false;
    let (root, blocking) = loop {
        let root = state.workflows.get(&principal, &workflow_id, true).await?;
        let blocking = blocking_in(&state, &principal, root.clone(), &signalled.task_id).await;
        if root.status.is_terminal() || blocking.is_some() {
            break (root, blocking);
        }
        if tokio::time::Instant::now() >= deadline {
            timed_out = true;
            break (root, None);
        }
        tokio::time::sleep(STEP).await;
    };
    let mut answer = shaped(strategy, &root, blocking.as_ref(), &request_id);
    answer.insert("signalTimeout".into(), json!(timed_out));
    Ok(Json(Value::Object(answer)))
}

/// The answer `strategy` asks for about `root`, given what blocks it (in it or a
/// sub-workflow): the task, the workflow it waits in, or `root` itself.
pub(super) fn shaped(
    strategy: Strategy,
    root: &Workflow,
    blocking: Option<&(Workflow, Task)>,
    request_id: &str,
) -> JsonMap {
    let mut answer = match (strategy, blocking) {
        (Strategy::BlockingTask | Strategy::BlockingTaskInput, Some((_, task))) => task_run(task),
        (Strategy::BlockingWorkflow, Some((workflow, _))) => workflow_run(workflow),
        _ => workflow_run(root),
    };
    answer.insert("responseType".into(), json!(strategy.name()));
    answer.insert("targetWorkflowId".into(), json!(root.workflow_id));
    answer.insert("targetWorkflowStatus".into(), json!(root.status.as_str()));
    answer.insert("requestId".into(), json!(request_id));
    answer
}

/// Orkes's `WorkflowStateUpdate`.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(super) struct StateUpdate {
    task_reference_name: Option<String>,
    task_result: Option<StateTaskResult>,
    variables: Option<JsonMap>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct StateTaskResult {
    status: Option<String>,
    output_data: Option<JsonMap>,
}

/// Longest `waitForSeconds` honoured.
const MAX_STATE_WAIT_SECONDS: u64 = 60;

/// `POST /api/workflow/{id}/state`: merges `variables` into the running workflow,
/// then applies `taskResult` (COMPLETED when it names no status) to its pending task
/// `taskReferenceName`, then waits up to `waitForSeconds` (10) until one of
/// `waitUntilTaskRef` (comma-separated) is scheduled, the workflow ends, or, with
/// none named, it waits for someone; answers the workflow as a WorkflowRun. Each
/// part needs what it needs on its own: a variables update, a task update; the task
/// update is checked first, so nothing changes when either is refused.
pub(super) async fn update_state(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(workflow_id): Path<String>,
    params: Params,
    OptionalJson(update): OptionalJson<StateUpdate>,
) -> ApiResult<Json<Value>> {
    let wait_for = params
        .text("waitForSeconds")
        .map(|s| {
            s.trim().parse::<u64>().map_err(|_| {
                ApiError::bad_request(format!("waitForSeconds '{s}' is not a number of seconds"))
            })
        })
        .transpose()?
        .unwrap_or(10)
        .min(MAX_STATE_WAIT_SECONDS);
    let until: Vec<String> = params
        .text("waitUntilTaskRef")
        .map(|refs| {
            refs.split(',')
                .map(str::trim)
                .filter(|r| !r.is_empty() && *r != "None")
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let reference = update.task_reference_name.filter(|r| !r.trim().is_empty());
    let result = update.task_result.unwrap_or_default();
    let status = match result.status.as_deref() {
        None => TaskResultStatus::Completed,
        Some(text) => signal_status(text)?,
    };
    // The task update is checked before the variables change, so a refused or
    // impossible update leaves the workflow as it was.
    if let Some(reference) = &reference {
        let feeds = result
            .output_data
            .as_ref()
            .is_some_and(|output| !output.is_empty());
        let pending = state
            .tasks
            .pending_by_ref(&principal, &workflow_id, reference, feeds)
            .await?;
        if pending.is_none() {
            return Err(ApiError::Core(CoreError::NotFound(format!(
                "Found no running task {reference} of workflow {workflow_id} to update"
            ))));
        }
    }
    if let Some(variables) = update.variables.filter(|v| !v.is_empty()) {
        state
            .workflows
            .update_variables(&principal, &workflow_id, variables)
            .await?;
    }
    if let Some(reference) = reference {
        let updated = state
            .tasks
            .update_by_ref(
                &principal,
                &workflow_id,
                &reference,
                status,
                result.output_data.unwrap_or_default(),
                None,
            )
            .await?;
        if updated.is_none() {
            return Err(ApiError::Core(CoreError::NotFound(format!(
                "Found no running task {reference} of workflow {workflow_id} to update"
            ))));
        }
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(wait_for);
    let root = loop {
        let root = state.workflows.get(&principal, &workflow_id, true).await?;
        let reached = if until.is_empty() {
            blocking_in(&state, &principal, root.clone(), "")
                .await
                .is_some()
        } else {
            root.tasks
                .iter()
                .any(|t| until.contains(&t.reference_task_name))
        };
        if root.status.is_terminal() || reached || tokio::time::Instant::now() >= deadline {
            break root;
        }
        tokio::time::sleep(STEP).await;
    };
    let mut answer = workflow_run(&root);
    let request_id = params
        .text("requestId")
        .filter(|r| !r.trim().is_empty())
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    answer.insert("requestId".into(), json!(request_id));
    Ok(Json(Value::Object(answer)))
}

/// The first task that blocks `workflow` (other than the one just signalled, should
/// it still show as waiting), else in its running sub-workflows the caller may read
/// (each once, at most `MAX_SIGNAL_DEPTH` deep and `MAX_SIGNAL_WALK` read).
pub(super) async fn blocking_in(
    state: &AppState,
    principal: &Principal,
    workflow: Workflow,
    signalled: &str,
) -> Option<(Workflow, Task)> {
    let mut visited = std::collections::HashSet::new();
    visited.insert(workflow.workflow_id.clone());
    let mut read = 0;
    let mut stack = vec![(workflow, 0usize)];
    while let Some((workflow, depth)) = stack.pop() {
        if let Some(task) = workflow
            .tasks
            .iter()
            .find(|t| is_blocking(t) && t.task_id != signalled)
            .cloned()
        {
            return Some((workflow, task));
        }
        if depth >= MAX_SIGNAL_DEPTH {
            continue;
        }
        let children: Vec<String> = workflow
            .tasks
            .iter()
            .filter(|t| !t.status.is_terminal() && t.task_type == "SUB_WORKFLOW")
            .filter_map(|t| t.sub_workflow_id.clone())
            .filter(|id| visited.insert(id.clone()))
            .collect();
        // Depth-first, in the order of the workflow's tasks.
        let mut found = Vec::new();
        for child in children {
            if read >= MAX_SIGNAL_WALK {
                break;
            }
            read += 1;
            let Ok(child) = state.workflows.get(principal, &child, true).await else {
                continue;
            };
            if !child.status.is_terminal() {
                found.push((child, depth + 1));
            }
        }
        stack.extend(found.into_iter().rev());
    }
    None
}

/// A workflow as a SignalResponse shows it.
fn workflow_run(workflow: &Workflow) -> JsonMap {
    let mut run = JsonMap::new();
    run.insert("workflowId".into(), json!(workflow.workflow_id));
    run.insert("correlationId".into(), json!(workflow.correlation_id));
    run.insert("input".into(), Value::Object(workflow.input.clone()));
    run.insert("output".into(), Value::Object(workflow.output.clone()));
    run.insert("priority".into(), json!(workflow.priority));
    run.insert(
        "variables".into(),
        Value::Object(workflow.variables.clone()),
    );
    run.insert(
        "tasks".into(),
        serde_json::to_value(&workflow.tasks).unwrap_or(Value::Array(Vec::new())),
    );
    run.insert("createdBy".into(), json!(workflow.created_by));
    run.insert("createTime".into(), json!(workflow.create_time));
    run.insert("updateTime".into(), json!(workflow.update_time));
    run.insert("status".into(), json!(workflow.status.as_str()));
    run
}

/// A task as a SignalResponse shows it.
fn task_run(task: &Task) -> JsonMap {
    let mut run = JsonMap::new();
    run.insert("workflowId".into(), json!(task.workflow_instance_id));
    run.insert("correlationId".into(), json!(task.correlation_id));
    run.insert("input".into(), Value::Object(task.input_data.clone()));
    run.insert("output".into(), Value::Object(task.output_data.clone()));
    run.insert("taskType".into(), json!(task.task_type));
    run.insert("taskId".into(), json!(task.task_id));
    run.insert("referenceTaskName".into(), json!(task.reference_task_name));
    run.insert("retryCount".into(), json!(task.retry_count));
    run.insert("taskDefName".into(), json!(task.task_def_name));
    run.insert("retriedTaskId".into(), json!(task.retried_task_id));
    run.insert("workflowType".into(), json!(task.workflow_type));
    run.insert(
        "reasonForIncompletion".into(),
        json!(task.reason_for_incompletion),
    );
    run.insert("createTime".into(), json!(task.scheduled_time));
    run.insert("updateTime".into(), json!(task.update_time));
    run.insert("status".into(), json!(task.status.as_str()));
    run
}
