//! Orkes' scheduler API. This step serves the preview of a cron expression's next
//! times; the schedules themselves follow.

use axum::Json;
use axum::extract::State;
use axum::http::Method;
use podium_core::security::RouteAccess;

use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Auth, Params};
use crate::http::routes::Routes;
use crate::http::state::AppState;

/// Adds the scheduler routes.
pub fn routes(routes: Routes) -> Routes {
    routes.add(
        Method::GET,
        "/api/scheduler/nextFewSchedules",
        RouteAccess::Authenticated,
        next_few_schedules,
    )
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
    let times = state.schedules.next_few(
        &expression,
        params.int("scheduleStartTime")?,
        params.int("scheduleEndTime")?,
        params.int("limit")?.unwrap_or(5),
    )?;
    Ok(Json(times))
}
