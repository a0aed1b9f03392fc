//! `/api/workflow`: starting, reading, searching and changing workflow executions.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use podium_core::model::{
    BulkResponse, JsonMap, RerunWorkflowRequest, SearchResult, SkipTaskRequest,
    StartWorkflowRequest, Workflow, WorkflowStatusView, WorkflowSummary,
};
use podium_core::security::{Access, ResourceType, RouteAccess};
use podium_core::service::search::WorkflowSearch;
use podium_core::service::workflow::ExecuteWait;
use serde::Deserialize;
use serde_json::Value;

use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Auth, IgnoredBody, JsonBody, OptionalJson, Params};
use crate::http::routes::Routes;
use crate::http::state::AppState;

/// Adds the workflow routes.
pub fn routes(routes: Routes) -> Routes {
    use ResourceType::Workflow as W;
    let exec = RouteAccess::Resource(W, Access::Execute);
    let read = RouteAccess::Resource(W, Access::Read);
    routes
        .add(Method::POST, "/api/workflow", exec, workflow_start)
        .add(
            Method::POST,
            "/api/workflow/test",
            exec,
            super::workflow_test::workflow_test,
        )
        .add(
            Method::GET,
            "/api/workflow/search",
            RouteAccess::Authenticated,
            workflow_search,
        )
        .add(
            Method::GET,
            "/api/workflow/search-v2",
            RouteAccess::Authenticated,
            workflow_search_full,
        )
        .add(
            Method::GET,
            "/api/workflow/running/{name}",
            read,
            workflow_running,
        )
        .add(
            Method::POST,
            "/api/workflow/correlated/batch",
            read,
            workflow_correlated_batch,
        )
        .add(
            Method::POST,
            "/api/workflow/execute/{name}/{version}",
            exec,
            workflow_execute,
        )
        .add(
            Method::PUT,
            "/api/workflow/decide/{id}",
            exec,
            workflow_decide,
        )
        .add(
            Method::PUT,
            "/api/workflow/bulk/pause",
            exec,
            workflow_bulk_pause,
        )
        .add(
            Method::PUT,
            "/api/workflow/bulk/resume",
            exec,
            workflow_bulk_resume,
        )
        .add(
            Method::POST,
            "/api/workflow/bulk/restart",
            exec,
            workflow_bulk_restart,
        )
        .add(
            Method::POST,
            "/api/workflow/bulk/retry",
            exec,
            workflow_bulk_retry,
        )
        .add(
            Method::POST,
            "/api/workflow/bulk/terminate",
            exec,
            workflow_bulk_terminate,
        )
        .add(
            Method::POST,
            "/api/workflow/{id}",
            exec,
            workflow_start_by_name,
        )
        .add(Method::GET, "/api/workflow/{id}", read, workflow_get)
        .add(
            Method::DELETE,
            "/api/workflow/{id}",
            exec,
            workflow_terminate,
        )
        .add(
            Method::GET,
            "/api/workflow/{id}/status",
            read,
            workflow_status,
        )
        .add(
            Method::GET,
            "/api/workflow/{id}/tasks",
            read,
            workflow_tasks,
        )
        .add(
            Method::POST,
            "/api/workflow/{id}/correlated",
            read,
            workflow_correlated,
        )
        .add(
            Method::GET,
            "/api/workflow/{id}/correlated/{correlation_id}",
            read,
            workflow_correlated_one,
        )
        .add(
            Method::PUT,
            "/api/workflow/{id}/pause",
            exec,
            workflow_pause,
        )
        .add(
            Method::PUT,
            "/api/workflow/{id}/resume",
            exec,
            workflow_resume,
        )
        .add(
            Method::POST,
            "/api/workflow/{id}/restart",
            exec,
            workflow_restart,
        )
        .add(
            Method::POST,
            "/api/workflow/{id}/retry",
            exec,
            workflow_retry,
        )
        .add(
            Method::POST,
            "/api/workflow/{id}/resetcallbacks",
            exec,
            workflow_reset_callbacks,
        )
        .add(
            Method::POST,
            "/api/workflow/{id}/rerun",
            exec,
            workflow_rerun,
        )
        .add(
            Method::POST,
            "/api/workflow/{id}/upgrade",
            exec,
            workflow_upgrade,
        )
        .add(
            Method::PUT,
            "/api/workflow/{id}/skiptask/{reference}",
            exec,
            workflow_skip_task,
        )
        .add(
            Method::POST,
            "/api/workflow/{id}/variables",
            exec,
            workflow_update_variables,
        )
        .add(
            Method::POST,
            "/api/workflow/{id}/state",
            exec,
            super::signal::update_state,
        )
        .add(
            Method::DELETE,
            "/api/workflow/{id}/remove",
            RouteAccess::Resource(W, Access::Delete),
            workflow_remove,
        )
}

/// A bare id as `text/plain`, as Conductor answers starts (the JS SDK depends on it).
pub fn text(id: String) -> Response {
    ([(axum::http::header::CONTENT_TYPE, "text/plain")], id).into_response()
}

fn priority_param(params: &Params) -> ApiResult<Option<i32>> {
    params
        .int("priority")?
        .map(|p| i32::try_from(p).map_err(|_| ApiError::bad_request("priority is out of range")))
        .transpose()
}

fn version_param(params: &Params) -> ApiResult<Option<i32>> {
    params
        .int("version")?
        .map(|v| i32::try_from(v).map_err(|_| ApiError::bad_request("version is out of range")))
        .transpose()
}

/// Starts a workflow from a `StartWorkflowRequest`; answers its id. Needs: EXECUTE on
/// the workflow definition.
async fn workflow_start(
    State(state): State<AppState>,
    Auth(principal): Auth,
    JsonBody(request): JsonBody<StartWorkflowRequest>,
) -> ApiResult<Response> {
    Ok(text(state.workflows.start(&principal, request).await?))
}

/// Starts a workflow by name with the body as input; answers its id. Needs: EXECUTE.
async fn workflow_start_by_name(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(name): Path<String>,
    params: Params,
    OptionalJson(input): OptionalJson<JsonMap>,
) -> ApiResult<Response> {
    let request = StartWorkflowRequest {
        name,
        version: version_param(&params)?,
        correlation_id: params.text("correlationId"),
        priority: priority_param(&params)?,
        input,
        ..StartWorkflowRequest::default()
    };
    Ok(text(state.workflows.start(&principal, request).await?))
}

/// A workflow, with its tasks unless `includeTasks=false`. Needs: READ.
async fn workflow_get(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
    params: Params,
) -> ApiResult<Json<Workflow>> {
    let include_tasks = params.flag("includeTasks", true)?;
    Ok(Json(
        state.workflows.get(&principal, &id, include_tasks).await?,
    ))
}

/// The status of a workflow. Needs: READ.
async fn workflow_status(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
    params: Params,
) -> ApiResult<Json<WorkflowStatusView>> {
    let output = params.flag("includeOutput", false)?;
    let variables = params.flag("includeVariables", false)?;
    Ok(Json(
        state
            .workflows
            .status(&principal, &id, output, variables)
            .await?,
    ))
}

/// A page of a workflow's tasks. Needs: READ.
async fn workflow_tasks(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
    params: Params,
) -> ApiResult<Json<serde_json::Value>> {
    let workflow = state.workflows.get(&principal, &id, true).await?;
    let statuses = params.list("status");
    let tasks: Vec<_> = workflow
        .tasks
        .into_iter()
        .filter(|t| {
            statuses.is_empty()
                || statuses
                    .iter()
                    .any(|s| s.eq_ignore_ascii_case(t.status.as_str()))
        })
        .collect();
    let total = tasks.len();
    let start = params.int("start")?.unwrap_or(0).max(0) as usize;
    let count = params.int("count")?.unwrap_or(15).clamp(0, 1000) as usize;
    let page: Vec<_> = tasks.into_iter().skip(start).take(count).collect();
    Ok(Json(
        serde_json::json!({"totalHits": total, "results": page}),
    ))
}

/// Ids of running workflows of a definition. Needs: READ.
async fn workflow_running(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(name): Path<String>,
    params: Params,
) -> ApiResult<Json<Vec<String>>> {
    let version = version_param(&params)?;
    let ids = state
        .workflows
        .running(
            &principal,
            &name,
            version,
            params.int("startTime")?,
            params.int("endTime")?,
        )
        .await?;
    Ok(Json(ids))
}

/// Workflows of a definition with one correlation id. Needs: READ.
async fn workflow_correlated_one(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path((name, correlation_id)): Path<(String, String)>,
    params: Params,
) -> ApiResult<Json<Vec<Workflow>>> {
    let closed = params.flag("includeClosed", false)?;
    let tasks = params.flag("includeTasks", false)?;
    Ok(Json(
        state
            .workflows
            .by_correlation(&principal, &name, &correlation_id, closed, tasks)
            .await?,
    ))
}

/// Workflows of a definition for several correlation ids. Needs: READ.
async fn workflow_correlated(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(name): Path<String>,
    params: Params,
    JsonBody(ids): JsonBody<Vec<String>>,
) -> ApiResult<Json<HashMap<String, Vec<Workflow>>>> {
    let closed = params.flag("includeClosed", false)?;
    let tasks = params.flag("includeTasks", false)?;
    Ok(Json(
        state
            .workflows
            .by_correlations(&principal, &name, &ids, closed, tasks)
            .await?,
    ))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct CorrelationBatch {
    correlation_ids: Vec<String>,
    workflow_names: Vec<String>,
}

/// Workflows by correlation ids across several definitions. Needs: READ.
async fn workflow_correlated_batch(
    State(state): State<AppState>,
    Auth(principal): Auth,
    params: Params,
    JsonBody(batch): JsonBody<CorrelationBatch>,
) -> ApiResult<Json<HashMap<String, Vec<Workflow>>>> {
    let closed = params.flag("includeClosed", false)?;
    let tasks = params.flag("includeTasks", false)?;
    let mut out: HashMap<String, Vec<Workflow>> = HashMap::new();
    for name in &batch.workflow_names {
        for (correlation_id, workflows) in state
            .workflows
            .by_correlations(&principal, name, &batch.correlation_ids, closed, tasks)
            .await?
        {
            out.entry(correlation_id).or_default().extend(workflows);
        }
    }
    Ok(Json(out))
}

/// Terminates a workflow. Needs: EXECUTE or UPDATE_PROCESS_INSTANCE (see exec::command).
async fn workflow_terminate(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
    params: Params,
    _body: IgnoredBody,
) -> ApiResult<()> {
    let trigger = params.flag("triggerFailureWorkflow", false)?;
    state
        .workflows
        .terminate(&principal, &id, params.text("reason"), trigger)
        .await?;
    Ok(())
}

/// Pauses a workflow. Needs: EXECUTE or UPDATE_PROCESS_INSTANCE (see exec::command).
async fn workflow_pause(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
    _body: IgnoredBody,
) -> ApiResult<()> {
    state.workflows.pause(&principal, &id).await?;
    Ok(())
}

/// Resumes a paused workflow. Needs: EXECUTE or UPDATE_PROCESS_INSTANCE (see exec::command).
async fn workflow_resume(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
    _body: IgnoredBody,
) -> ApiResult<()> {
    state.workflows.resume(&principal, &id).await?;
    Ok(())
}

/// Restarts an ended workflow; 204. Needs: EXECUTE or UPDATE_PROCESS_INSTANCE (see exec::command).
async fn workflow_restart(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
    params: Params,
    _body: IgnoredBody,
) -> ApiResult<StatusCode> {
    let latest = params.flag("useLatestDefinitions", false)?;
    state.workflows.restart(&principal, &id, latest).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Retries the failed tasks of an ended workflow (with `resumeSubworkflowTasks`, a
/// failed sub-workflow is retried in place); 204. Needs: EXECUTE or UPDATE_PROCESS_INSTANCE (see exec::command).
async fn workflow_retry(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
    params: Params,
    _body: IgnoredBody,
) -> ApiResult<StatusCode> {
    if params.flag("resumeSubworkflowTasks", false)? {
        state.workflows.retry_resuming(&principal, &id).await?;
    } else {
        state.workflows.retry(&principal, &id).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Hands the workflow's tasks that wait for a callback back to their queues now; 204.
/// Needs: EXECUTE or UPDATE_PROCESS_INSTANCE (see exec::command).
async fn workflow_reset_callbacks(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
    _body: IgnoredBody,
) -> ApiResult<StatusCode> {
    state.workflows.reset_callbacks(&principal, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Moves a running workflow to another version of its definition. Needs: EXECUTE
/// or UPDATE_PROCESS_INSTANCE, and what a start of that version needs (see
/// exec::command).
async fn workflow_upgrade(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
    JsonBody(request): JsonBody<podium_core::model::UpgradeWorkflowRequest>,
) -> ApiResult<()> {
    state.workflows.upgrade(&principal, &id, request).await?;
    Ok(())
}

/// Reruns an ended workflow; answers its id. Needs: EXECUTE or UPDATE_PROCESS_INSTANCE (see exec::command).
async fn workflow_rerun(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
    OptionalJson(request): OptionalJson<RerunWorkflowRequest>,
) -> ApiResult<Response> {
    Ok(text(state.workflows.rerun(&principal, &id, request).await?))
}

/// Skips a task that has not been reached yet. The input and output may come as a
/// JSON body or as `taskInput`/`taskOutput` query values. Needs: EXECUTE or UPDATE_PROCESS_INSTANCE (see exec::command).
async fn workflow_skip_task(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path((id, reference)): Path<(String, String)>,
    params: Params,
    OptionalJson(mut request): OptionalJson<SkipTaskRequest>,
) -> ApiResult<()> {
    for (key, slot) in [
        ("taskInput", &mut request.task_input),
        ("taskOutput", &mut request.task_output),
    ] {
        if slot.is_none()
            && let Some(text) = params.text(key)
        {
            *slot = serde_json::from_str(&text).ok();
        }
    }
    state
        .workflows
        .skip_task(&principal, &id, &reference, request)
        .await?;
    Ok(())
}

/// Merges variables into a running workflow; answers the workflow. Needs: what
/// a start of its definition needs, and EXECUTE or UPDATE_PROCESS_INSTANCE on it.
async fn workflow_update_variables(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
    JsonBody(variables): JsonBody<JsonMap>,
) -> ApiResult<Json<Workflow>> {
    state
        .workflows
        .update_variables(&principal, &id, variables)
        .await?;
    Ok(Json(state.workflows.get(&principal, &id, true).await?))
}

/// Deletes a workflow. Needs: DELETE or DELETE_PROCESS_INSTANCE.
async fn workflow_remove(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
    params: Params,
    _body: IgnoredBody,
) -> ApiResult<()> {
    let archive = params.flag("archiveWorkflow", true)?;
    state.workflows.remove(&principal, &id, archive).await?;
    Ok(())
}

/// Runs the decider on a workflow now. Needs: EXECUTE or UPDATE_PROCESS_INSTANCE (see exec::command).
async fn workflow_decide(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
    _body: IgnoredBody,
) -> ApiResult<()> {
    state.workflows.decide(&principal, &id).await?;
    Ok(())
}

fn search_of(params: &Params) -> ApiResult<WorkflowSearch> {
    Ok(WorkflowSearch::parse(
        params.text("query").as_deref(),
        params.text("freeText").as_deref(),
        params.int("start")?,
        params.int("size")?,
        params.text("sort").as_deref(),
    )?)
}

/// Searches workflows the caller may read. Needs: authentication (filtered by READ).
async fn workflow_search(
    State(state): State<AppState>,
    Auth(principal): Auth,
    params: Params,
) -> ApiResult<Json<SearchResult<WorkflowSummary>>> {
    let search = search_of(&params)?;
    Ok(Json(state.workflows.search(&principal, search).await?))
}

/// Searches workflows, answering full workflows. Needs: authentication.
async fn workflow_search_full(
    State(state): State<AppState>,
    Auth(principal): Auth,
    params: Params,
) -> ApiResult<Json<SearchResult<Workflow>>> {
    let search = search_of(&params)?;
    let summaries = state.workflows.search(&principal, search).await?;
    let mut results = Vec::with_capacity(summaries.results.len());
    for summary in summaries.results {
        results.push(
            state
                .workflows
                .get(&principal, &summary.workflow_id, false)
                .await?,
        );
    }
    Ok(Json(SearchResult {
        total_hits: summaries.total_hits,
        results,
    }))
}

/// Starts a workflow and waits for it (the SDKs' synchronous start), answering
/// what `returnStrategy` asks for, as a synchronous signal does: the workflow
/// (`TARGET_WORKFLOW`, the default), or the (sub-)workflow or task it waits in.
/// `consistency` is accepted: every start is durable before it is answered.
/// Needs: EXECUTE.
async fn workflow_execute(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path((name, version)): Path<(String, String)>,
    headers: HeaderMap,
    params: Params,
    OptionalJson(mut request): OptionalJson<StartWorkflowRequest>,
) -> ApiResult<Json<Value>> {
    let strategy = super::signal::Strategy::parse(params.text("returnStrategy"))?;
    if let Some(consistency) = params.text("consistency")
        && !matches!(
            consistency.trim(),
            "SYNCHRONOUS" | "DURABLE" | "REGION_DURABLE"
        )
    {
        return Err(ApiError::bad_request(format!(
            "consistency '{consistency}' is not valid: use SYNCHRONOUS, DURABLE or REGION_DURABLE"
        )));
    }
    request.name = name;
    request.version = Some(version.parse().map_err(|_| {
        ApiError::bad_request(format!("version must be an integer, not '{version}'"))
    })?);
    let header = |key: &str| {
        headers
            .get(key)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let wait_seconds = match params.int("waitForSeconds")? {
        Some(s) => Some(s),
        None => header("waitForSeconds").and_then(|s| s.parse().ok()),
    };
    let wait = ExecuteWait {
        until_task_ref: params
            .text("waitUntilTaskRef")
            .or_else(|| header("waitUntilTaskRef")),
        wait_seconds: wait_seconds.map(|s| s.max(0) as u64),
        request_id: params.text("requestId").or_else(|| header("requestId")),
    };
    let run = state.workflows.execute(&principal, request, wait).await?;
    if strategy == super::signal::Strategy::TargetWorkflow {
        return Ok(Json(serde_json::to_value(run).map_err(|err| {
            ApiError::Core(podium_core::error::CoreError::Internal(err.to_string()))
        })?));
    }
    let root = state
        .workflows
        .get(&principal, &run.workflow_id, true)
        .await?;
    let blocking = super::signal::blocking_in(&state, &principal, root.clone(), "").await;
    let request_id = run
        .request_id
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    Ok(Json(Value::Object(super::signal::shaped(
        strategy,
        &root,
        blocking.as_ref(),
        &request_id,
    ))))
}

/// Most workflows one bulk request may name.
const MAX_BULK: usize = 1000;

fn check_bulk(ids: &[String]) -> ApiResult<()> {
    if ids.len() > MAX_BULK {
        return Err(ApiError::bad_request(format!(
            "At most {MAX_BULK} workflows per bulk request"
        )));
    }
    Ok(())
}

/// Pauses workflows. Needs: EXECUTE or UPDATE_PROCESS_INSTANCE on each.
async fn workflow_bulk_pause(
    State(state): State<AppState>,
    Auth(principal): Auth,
    JsonBody(ids): JsonBody<Vec<String>>,
) -> ApiResult<Json<BulkResponse>> {
    check_bulk(&ids)?;
    let wf = &state.workflows;
    let principal = &principal;
    Ok(Json(
        wf.bulk(ids, |id| async move { wf.pause(principal, &id).await })
            .await,
    ))
}

/// Resumes workflows. Needs: EXECUTE or UPDATE_PROCESS_INSTANCE on each.
async fn workflow_bulk_resume(
    State(state): State<AppState>,
    Auth(principal): Auth,
    JsonBody(ids): JsonBody<Vec<String>>,
) -> ApiResult<Json<BulkResponse>> {
    check_bulk(&ids)?;
    let wf = &state.workflows;
    let principal = &principal;
    Ok(Json(
        wf.bulk(ids, |id| async move { wf.resume(principal, &id).await })
            .await,
    ))
}

/// Restarts workflows. Needs: EXECUTE or UPDATE_PROCESS_INSTANCE on each.
async fn workflow_bulk_restart(
    State(state): State<AppState>,
    Auth(principal): Auth,
    params: Params,
    JsonBody(ids): JsonBody<Vec<String>>,
) -> ApiResult<Json<BulkResponse>> {
    check_bulk(&ids)?;
    let latest = params.flag("useLatestDefinitions", false)?;
    let wf = &state.workflows;
    let principal = &principal;
    Ok(Json(
        wf.bulk(
            ids,
            |id| async move { wf.restart(principal, &id, latest).await },
        )
        .await,
    ))
}

/// Retries workflows. Needs: EXECUTE or UPDATE_PROCESS_INSTANCE on each.
async fn workflow_bulk_retry(
    State(state): State<AppState>,
    Auth(principal): Auth,
    JsonBody(ids): JsonBody<Vec<String>>,
) -> ApiResult<Json<BulkResponse>> {
    check_bulk(&ids)?;
    let wf = &state.workflows;
    let principal = &principal;
    Ok(Json(
        wf.bulk(ids, |id| async move { wf.retry(principal, &id).await })
            .await,
    ))
}

/// Terminates workflows. Needs: EXECUTE or UPDATE_PROCESS_INSTANCE on each.
async fn workflow_bulk_terminate(
    State(state): State<AppState>,
    Auth(principal): Auth,
    params: Params,
    JsonBody(ids): JsonBody<Vec<String>>,
) -> ApiResult<Json<BulkResponse>> {
    check_bulk(&ids)?;
    let reason = params.text("reason");
    let trigger = params.flag("triggerFailureWorkflow", false)?;
    let wf = &state.workflows;
    let principal = &principal;
    Ok(Json(
        wf.bulk(ids, |id| {
            let reason = reason.clone();
            async move { wf.terminate(principal, &id, reason, trigger).await }
        })
        .await,
    ))
}
