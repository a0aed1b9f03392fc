//! `/api/tasks`: polling, worker results, logs, queues and task search.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use podium_core::model::{
    JsonMap, PollData, SearchResult, Task, TaskExecLog, TaskResult, TaskResultStatus, TaskSummary,
    Workflow,
};
use podium_core::security::{Access, ResourceType, RouteAccess};
use podium_core::service::search::TaskSearch;
use podium_core::service::task::Poll;

use super::workflow::text;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Auth, IgnoredBody, JsonBody, OptionalJson, Params, StringBody};
use crate::http::routes::Routes;
use crate::http::state::AppState;

/// Adds the task routes.
pub fn routes(routes: Routes) -> Routes {
    use ResourceType::Task as T;
    let exec = RouteAccess::Resource(T, Access::Execute);
    let read = RouteAccess::Resource(T, Access::Read);
    routes
        .add(Method::GET, "/api/tasks/poll/{task_type}", exec, task_poll)
        .add(
            Method::GET,
            "/api/tasks/poll/batch/{task_type}",
            exec,
            task_poll_batch,
        )
        .add(Method::POST, "/api/tasks", exec, task_update)
        .add(Method::POST, "/api/tasks/update-v2", exec, task_update_v2)
        .add(Method::GET, "/api/tasks/queue/sizes", read, queue_sizes)
        .add(
            Method::GET,
            "/api/tasks/queue/all",
            RouteAccess::Authenticated,
            queue_all,
        )
        .add(
            Method::GET,
            "/api/tasks/queue/all/verbose",
            RouteAccess::Authenticated,
            queue_all_verbose,
        )
        .add(
            Method::POST,
            "/api/tasks/queue/requeue/{task_type}",
            RouteAccess::Authenticated,
            requeue,
        )
        .add(Method::GET, "/api/tasks/queue/polldata", read, poll_data)
        .add(
            Method::GET,
            "/api/tasks/queue/polldata/all",
            RouteAccess::Authenticated,
            poll_data_all,
        )
        .add(
            Method::GET,
            "/api/tasks/search",
            RouteAccess::Authenticated,
            task_search,
        )
        .add(
            Method::GET,
            "/api/tasks/search-v2",
            RouteAccess::Authenticated,
            task_search_full,
        )
        .add(Method::GET, "/api/tasks/{id}", read, task_get)
        .add(Method::GET, "/api/tasks/{id}/log", read, task_logs)
        .add(Method::POST, "/api/tasks/{id}/log", exec, task_log_add)
        .add(
            Method::POST,
            "/api/tasks/{id}/{reference}/{status}",
            exec,
            task_update_by_ref,
        )
        .add(
            Method::POST,
            "/api/tasks/{id}/{reference}/{status}/sync",
            exec,
            task_update_by_ref_sync,
        )
        // Signals: the service checks the caller may operate the workflow.
        .add(
            Method::POST,
            "/api/tasks/{id}/{reference}/signal",
            RouteAccess::Authenticated,
            super::signal::signal_async,
        )
        .add(
            Method::POST,
            "/api/tasks/{id}/{reference}/signal/sync",
            RouteAccess::Authenticated,
            super::signal::signal_sync,
        )
}

fn poll_of(task_type: String, params: &Params, count: usize, timeout_ms: u64) -> Poll {
    Poll {
        task_type,
        worker_id: params
            .text("workerid")
            .unwrap_or_else(|| "unknown".to_string()),
        domain: params.text("domain"),
        count,
        timeout_ms,
    }
}

/// Polls one task; 204 when none is pending. Needs: EXECUTE on the task type.
async fn task_poll(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(task_type): Path<String>,
    params: Params,
) -> ApiResult<Response> {
    let tasks = state
        .tasks
        .poll(&principal, poll_of(task_type, &params, 1, 100))
        .await?;
    Ok(match tasks.into_iter().next() {
        Some(task) => Json(task).into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    })
}

/// Polls up to `count` tasks, waiting up to `timeout` ms. Needs: EXECUTE on the type.
async fn task_poll_batch(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(task_type): Path<String>,
    params: Params,
) -> ApiResult<Json<Vec<Task>>> {
    let count = params.int("count")?.unwrap_or(1);
    let timeout = params.int("timeout")?.unwrap_or(100);
    if count < 1 {
        return Err(ApiError::bad_request("count must be at least 1"));
    }
    if timeout < 0 {
        return Err(ApiError::bad_request("timeout must not be negative"));
    }
    let poll = poll_of(task_type, &params, count as usize, timeout as u64);
    Ok(Json(state.tasks.poll(&principal, poll).await?))
}

/// Applies a worker's result; answers the task id as text. Needs: EXECUTE on the task.
async fn task_update(
    State(state): State<AppState>,
    Auth(principal): Auth,
    JsonBody(result): JsonBody<TaskResult>,
) -> ApiResult<Response> {
    let task = state.tasks.update(&principal, result).await?;
    Ok(text(task.task_id))
}

/// Applies a worker's result and hands the next task of the same type to the same
/// worker (204 when none). Needs: EXECUTE on the task.
async fn task_update_v2(
    State(state): State<AppState>,
    Auth(principal): Auth,
    JsonBody(result): JsonBody<TaskResult>,
) -> ApiResult<Response> {
    Ok(
        match state.tasks.update_and_poll(&principal, result).await? {
            Some(task) => Json(task).into_response(),
            None => StatusCode::NO_CONTENT.into_response(),
        },
    )
}

fn status_of(text: &str) -> ApiResult<TaskResultStatus> {
    TaskResultStatus::parse(text).ok_or_else(|| {
        ApiError::bad_request(format!(
            "status '{text}' is not valid: use IN_PROGRESS, COMPLETED, FAILED or FAILED_WITH_TERMINAL_ERROR"
        ))
    })
}

/// Updates the pending task with a reference name; answers its id (empty when there is
/// none). Needs: EXECUTE on the task.
async fn task_update_by_ref(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path((workflow_id, reference, status)): Path<(String, String, String)>,
    params: Params,
    OptionalJson(output): OptionalJson<JsonMap>,
) -> ApiResult<Response> {
    let status = status_of(&status)?;
    let task = state
        .tasks
        .update_by_ref(
            &principal,
            &workflow_id,
            &reference,
            status,
            output,
            params.text("workerid"),
        )
        .await?;
    Ok(match task {
        Some(task) => text(task.task_id),
        None => StatusCode::OK.into_response(),
    })
}

/// Updates the pending task with a reference name; answers the workflow. Needs: EXECUTE.
async fn task_update_by_ref_sync(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path((workflow_id, reference, status)): Path<(String, String, String)>,
    params: Params,
    OptionalJson(output): OptionalJson<JsonMap>,
) -> ApiResult<Json<Workflow>> {
    let status = status_of(&status)?;
    let task = state
        .tasks
        .update_by_ref(
            &principal,
            &workflow_id,
            &reference,
            status,
            output,
            params.text("workerid"),
        )
        .await?;
    if task.is_none() {
        return Err(ApiError::Core(podium_core::error::CoreError::NotFound(
            format!("Found no running task {reference} of workflow {workflow_id} to update"),
        )));
    }
    Ok(Json(
        state.workflows.get(&principal, &workflow_id, true).await?,
    ))
}

/// One task. Needs: READ on it.
async fn task_get(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Task>> {
    Ok(Json(state.tasks.get(&principal, &id).await?))
}

/// A task's log lines; 204 when there are none. Needs: READ on the task.
async fn task_logs(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let logs: Vec<TaskExecLog> = state.tasks.logs(&principal, &id).await?;
    Ok(if logs.is_empty() {
        StatusCode::NO_CONTENT.into_response()
    } else {
        Json(logs).into_response()
    })
}

/// Appends a log line (a string body). Needs: EXECUTE on the task.
async fn task_log_add(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
    StringBody(line): StringBody,
) -> ApiResult<()> {
    state.tasks.add_log(&principal, &id, line).await?;
    Ok(())
}

/// Pending tasks per type (`taskType` repeated). Needs: READ on each type.
async fn queue_sizes(
    State(state): State<AppState>,
    Auth(principal): Auth,
    params: Params,
) -> ApiResult<Json<HashMap<String, i64>>> {
    let types = params.list("taskType");
    Ok(Json(state.tasks.queue_sizes(&principal, &types).await?))
}

/// Pending tasks per queue. Needs: authentication (filtered by READ).
async fn queue_all(
    State(state): State<AppState>,
    Auth(principal): Auth,
) -> ApiResult<Json<HashMap<String, i64>>> {
    Ok(Json(state.tasks.all_queue_sizes(&principal).await?))
}

/// Pending tasks per queue, as `{queue: {shard: {size: n}}}`. Needs: authentication.
async fn queue_all_verbose(
    State(state): State<AppState>,
    Auth(principal): Auth,
) -> ApiResult<Json<serde_json::Value>> {
    let sizes = state.tasks.all_queue_sizes(&principal).await?;
    let verbose: serde_json::Map<String, serde_json::Value> = sizes
        .into_iter()
        .map(|(queue, size)| (queue, serde_json::json!({"a": {"size": size}})))
        .collect();
    Ok(Json(serde_json::Value::Object(verbose)))
}

/// Poll records of a task type. Needs: READ on it.
async fn poll_data(
    State(state): State<AppState>,
    Auth(principal): Auth,
    params: Params,
) -> ApiResult<Json<Vec<PollData>>> {
    let task_type = params
        .text("taskType")
        .ok_or_else(|| ApiError::bad_request("taskType is required"))?;
    Ok(Json(
        state.tasks.poll_data(&principal, Some(&task_type)).await?,
    ))
}

/// Every poll record. Needs: authentication (filtered by READ).
async fn poll_data_all(
    State(state): State<AppState>,
    Auth(principal): Auth,
) -> ApiResult<Json<Vec<PollData>>> {
    Ok(Json(state.tasks.poll_data(&principal, None).await?))
}

fn search_of(params: &Params) -> ApiResult<TaskSearch> {
    Ok(TaskSearch::parse(
        params.text("query").as_deref(),
        params.text("freeText").as_deref(),
        params.int("start")?,
        params.int("size")?,
        params.text("sort").as_deref(),
    )?)
}

/// Searches tasks. Needs: authentication (filtered by READ).
async fn task_search(
    State(state): State<AppState>,
    Auth(principal): Auth,
    params: Params,
) -> ApiResult<Json<SearchResult<TaskSummary>>> {
    Ok(Json(
        state.tasks.search(&principal, search_of(&params)?).await?,
    ))
}

/// Searches tasks, answering full tasks. Needs: authentication (filtered by READ).
async fn task_search_full(
    State(state): State<AppState>,
    Auth(principal): Auth,
    params: Params,
) -> ApiResult<Json<SearchResult<Task>>> {
    let (total, results) = state
        .tasks
        .search_tasks(&principal, search_of(&params)?)
        .await?;
    Ok(Json(SearchResult {
        total_hits: total,
        results,
    }))
}

/// Queues the waiting tasks of a type again, in the executions the caller may
/// operate; answers how many as text, as Conductor does.
async fn requeue(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(task_type): Path<String>,
    _body: IgnoredBody,
) -> ApiResult<Response> {
    let count = state.workflows.requeue(&principal, &task_type).await?;
    Ok(text(count.to_string()))
}
