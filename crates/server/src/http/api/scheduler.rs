//! Orkes' scheduler API (`/api/scheduler/...`), as both SDKs' scheduler clients
//! call it: schedules (save, get, list, delete, pause, resume, tags), the record of
//! their runs, and the preview of a cron expression. Pause and resume answer `PUT`
//! (Conductor's verb) and `GET` (Orkes', which the SDKs fall back to).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::Method;
use podium_core::model::{BulkResponse, ScheduleExecution, Tag, WorkflowSchedule};
use podium_core::scheduler::run_query;
use podium_core::security::{Access, Principal, ResourceType, RouteAccess};
use serde::Serialize;

use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Auth, IgnoredBody, JsonBody, Params};
use crate::http::routes::Routes;
use crate::http::state::AppState;

/// The default page of a search of runs.
const DEFAULT_PAGE: usize = 100;

/// Adds the scheduler routes.
pub fn routes(routes: Routes) -> Routes {
    use ResourceType::Schedule as S;
    let signed_in = RouteAccess::Authenticated;
    let read = RouteAccess::Resource(S, Access::Read);
    let update = RouteAccess::Resource(S, Access::Update);
    routes
        .add(
            Method::GET,
            "/api/scheduler/nextFewSchedules",
            signed_in,
            next_few_schedules,
        )
        .add(Method::POST, "/api/scheduler/schedules", signed_in, save)
        .add(Method::GET, "/api/scheduler/schedules", signed_in, list)
        .add(Method::GET, "/api/scheduler/schedules/{name}", read, get)
        .add(
            Method::PUT,
            "/api/scheduler/bulk/pause",
            signed_in,
            bulk_pause,
        )
        .add(
            Method::PUT,
            "/api/scheduler/bulk/resume",
            signed_in,
            bulk_resume,
        )
        .add(
            Method::GET,
            "/api/scheduler/admin/pause",
            RouteAccess::Admin,
            pause_scheduling,
        )
        .add(
            Method::GET,
            "/api/scheduler/admin/resume",
            RouteAccess::Admin,
            resume_scheduling,
        )
        .add(
            Method::GET,
            "/api/scheduler/admin/requeue",
            RouteAccess::Admin,
            requeue_records,
        )
        .add(
            Method::DELETE,
            "/api/scheduler/schedules/{name}",
            RouteAccess::Resource(S, Access::Delete),
            delete,
        )
        .add(
            Method::PUT,
            "/api/scheduler/schedules/{name}/pause",
            update,
            pause,
        )
        .add(
            Method::GET,
            "/api/scheduler/schedules/{name}/pause",
            update,
            pause,
        )
        .add(
            Method::PUT,
            "/api/scheduler/schedules/{name}/resume",
            update,
            resume,
        )
        .add(
            Method::GET,
            "/api/scheduler/schedules/{name}/resume",
            update,
            resume,
        )
        .add(
            Method::GET,
            "/api/scheduler/schedules/{name}/tags",
            read,
            tags_get,
        )
        .add(
            Method::PUT,
            "/api/scheduler/schedules/{name}/tags",
            update,
            tags_put,
        )
        .add(
            Method::DELETE,
            "/api/scheduler/schedules/{name}/tags",
            update,
            tags_delete,
        )
        .add(
            Method::GET,
            "/api/scheduler/search/executions",
            signed_in,
            search_runs,
        )
}

/// Creates or replaces a schedule, which runs as the caller from now on; answers it.
/// Needs CREATE (a new name) or UPDATE on the schedule, and what a start of its
/// workflow needs.
async fn save(
    State(state): State<AppState>,
    Auth(principal): Auth,
    JsonBody(schedule): JsonBody<WorkflowSchedule>,
) -> ApiResult<Json<WorkflowSchedule>> {
    Ok(Json(state.schedules.save(&principal, schedule).await?))
}

/// The schedules the caller may read (`workflowName` selects one workflow's).
async fn list(
    State(state): State<AppState>,
    Auth(principal): Auth,
    params: Params,
) -> ApiResult<Json<Vec<WorkflowSchedule>>> {
    let workflow = params.text("workflowName");
    Ok(Json(
        state
            .schedules
            .list(&principal, workflow.as_deref())
            .await?,
    ))
}

/// A schedule. Needs READ; 404 `Schedule '<name>' not found`.
async fn get(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(name): Path<String>,
) -> ApiResult<Json<WorkflowSchedule>> {
    Ok(Json(state.schedules.get(&principal, &name).await?))
}

/// Deletes a schedule with its run records. Needs DELETE.
async fn delete(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(name): Path<String>,
    _body: IgnoredBody,
) -> ApiResult<()> {
    state.schedules.delete(&principal, &name).await?;
    Ok(())
}

/// Pauses a schedule (`reason` is kept as `pausedReason`). Needs UPDATE.
async fn pause(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(name): Path<String>,
    params: Params,
    _body: IgnoredBody,
) -> ApiResult<()> {
    let reason = params.text("reason");
    state.schedules.pause(&principal, &name, reason).await?;
    Ok(())
}

/// Resumes a schedule from now; it runs as the caller from now on. Needs UPDATE.
async fn resume(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(name): Path<String>,
    _body: IgnoredBody,
) -> ApiResult<()> {
    state.schedules.resume(&principal, &name).await?;
    Ok(())
}

/// Most schedules one bulk request may name.
const MAX_BULK: usize = 1000;

fn check_bulk(names: &[String]) -> ApiResult<()> {
    if names.len() > MAX_BULK {
        return Err(ApiError::bad_request(format!(
            "At most {MAX_BULK} schedules per bulk request"
        )));
    }
    Ok(())
}

/// Pauses schedules by name. Needs UPDATE on each.
async fn bulk_pause(
    State(state): State<AppState>,
    Auth(principal): Auth,
    JsonBody(names): JsonBody<Vec<String>>,
) -> ApiResult<Json<BulkResponse>> {
    check_bulk(&names)?;
    let (schedules, principal) = (&state.schedules, &principal);
    Ok(Json(
        state
            .workflows
            .bulk(names, |name| async move {
                schedules.pause(principal, &name, None).await
            })
            .await,
    ))
}

/// Resumes schedules by name; each runs as the caller from now on. Needs UPDATE
/// on each and what a start of its workflow needs.
async fn bulk_resume(
    State(state): State<AppState>,
    Auth(principal): Auth,
    JsonBody(names): JsonBody<Vec<String>>,
) -> ApiResult<Json<BulkResponse>> {
    check_bulk(&names)?;
    let (schedules, principal) = (&state.schedules, &principal);
    Ok(Json(
        state
            .workflows
            .bulk(names, |name| async move {
                schedules.resume(principal, &name).await
            })
            .await,
    ))
}

/// Whether this node starts due schedules, as the admin routes answer it.
fn scheduling(state: &AppState, principal: &Principal) -> ApiResult<Json<serde_json::Value>> {
    let paused = state.schedules.scheduling_paused(principal)?;
    Ok(Json(serde_json::json!({"schedulingPaused": paused})))
}

/// Stops starting due schedules on this node (Orkes: for debugging). ADMIN.
async fn pause_scheduling(
    State(state): State<AppState>,
    Auth(principal): Auth,
) -> ApiResult<Json<serde_json::Value>> {
    state.schedules.pause_scheduling(&principal, true)?;
    scheduling(&state, &principal)
}

/// Starts due schedules on this node again; missed due times are caught up. ADMIN.
async fn resume_scheduling(
    State(state): State<AppState>,
    Auth(principal): Auth,
) -> ApiResult<Json<serde_json::Value>> {
    state.schedules.pause_scheduling(&principal, false)?;
    scheduling(&state, &principal)
}

/// Orkes's requeue of its execution records: Podium keeps no queue of them (each
/// schedule's next due time is read from the store every second), so there is
/// nothing to put back; answers the node's scheduling state. ADMIN.
async fn requeue_records(
    State(state): State<AppState>,
    Auth(principal): Auth,
) -> ApiResult<Json<serde_json::Value>> {
    scheduling(&state, &principal)
}

async fn tags_get(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(name): Path<String>,
) -> ApiResult<Json<Vec<Tag>>> {
    Ok(Json(state.schedules.tags(&principal, &name).await?))
}

async fn tags_put(
    state: State<AppState>,
    auth: Auth,
    name: Path<String>,
    tags: JsonBody<Vec<Tag>>,
) -> ApiResult<()> {
    change_tags(state, auth, name, tags, false).await
}

async fn tags_delete(
    state: State<AppState>,
    auth: Auth,
    name: Path<String>,
    tags: JsonBody<Vec<Tag>>,
) -> ApiResult<()> {
    change_tags(state, auth, name, tags, true).await
}

/// Adds tags to a schedule, or removes them. Needs UPDATE.
async fn change_tags(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(name): Path<String>,
    JsonBody(tags): JsonBody<Vec<Tag>>,
    remove: bool,
) -> ApiResult<()> {
    state
        .schedules
        .change_tags(&principal, &name, tags, remove)
        .await?;
    Ok(())
}

/// `SearchResult<WorkflowScheduleExecutionModel>`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RunPage {
    total_hits: u64,
    results: Vec<ScheduleExecution>,
}

/// The runs of the schedules the caller may read: `query` (see
/// `podium_core::scheduler::run_query`), `sort`, `start`, `size`; `freeText` is
/// ignored, as in Conductor.
async fn search_runs(
    State(state): State<AppState>,
    Auth(principal): Auth,
    params: Params,
) -> ApiResult<Json<RunPage>> {
    let mut search = run_query::parse(
        params.text("query").as_deref(),
        params.text("sort").as_deref(),
    )
    .map_err(ApiError::bad_request)?;
    let count = |name: &str, default: usize| -> ApiResult<usize> {
        match params.int(name)? {
            None => Ok(default),
            Some(n) => usize::try_from(n)
                .map_err(|_| ApiError::bad_request(format!("{name} must not be negative"))),
        }
    };
    search.start = count("start", 0)?;
    search.size = count("size", DEFAULT_PAGE)?;
    let (total_hits, results) = state.schedules.search_runs(&principal, search).await?;
    Ok(Json(RunPage {
        total_hits,
        results,
    }))
}

/// The next times (epoch milliseconds) a cron expression matches, in UTC:
/// `cronExpression` (required), `scheduleStartTime` (default now),
/// `scheduleEndTime`, `limit` (default and at most 5). Any signed-in caller.
async fn next_few_schedules(
    State(state): State<AppState>,
    Auth(_principal): Auth,
    params: Params,
) -> ApiResult<Json<Vec<i64>>> {
    let expression = params
        .text("cronExpression")
        .ok_or_else(|| ApiError::bad_request("cronExpression is required"))?;
    let times = state
        .schedules
        .next_few(
            &expression,
            params.int("scheduleStartTime")?,
            params.int("scheduleEndTime")?,
            params.int("limit")?.unwrap_or(5),
        )
        .await?;
    Ok(Json(times))
}
