//! The home page: how many workflows the person may read are running, failed and
//! completed, and the latest of them that failed.

use askama::Template;
use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use podium_core::error::CoreResult;
use podium_core::model::WorkflowSummary;
use podium_core::service::search::WorkflowSearch;

use super::layout::{self, Chrome};
use super::viewer::Viewer;
use crate::http::state::AppState;

/// How many recent failures the home page lists.
const RECENT_FAILURES: i64 = 10;
/// The statuses counted as failed.
const FAILED: &str = "FAILED,TIMED_OUT,TERMINATED";

#[derive(Template)]
#[template(path = "console/home.html")]
struct Home {
    chrome: Chrome,
    running: i64,
    failed: i64,
    completed: i64,
    failures: Vec<WorkflowSummary>,
}

/// `GET /`.
pub async fn page(State(state): State<AppState>, Extension(viewer): Extension<Viewer>) -> Response {
    let chrome = Chrome::of(&state, &viewer, "/");
    match counts(&state, &viewer).await {
        Ok((running, failed, completed, failures)) => layout::render(
            StatusCode::OK,
            &Home {
                chrome,
                running,
                failed,
                completed,
                failures,
            },
        ),
        Err(err) => layout::refusal(Some(chrome), &err),
    }
}

/// The counts, and the latest failures, of the runs `viewer` may read.
async fn counts(
    state: &AppState,
    viewer: &Viewer,
) -> CoreResult<(i64, i64, i64, Vec<WorkflowSummary>)> {
    let search = |statuses: &str, size: i64| {
        WorkflowSearch::parse(
            Some(&format!("status IN ({statuses})")),
            None,
            Some(0),
            Some(size),
            Some("endTime:DESC"),
        )
    };
    let who = &viewer.principal;
    let workflows = &state.workflows;
    let running = workflows.search(who, search("RUNNING", 0)?).await?;
    let completed = workflows.search(who, search("COMPLETED", 0)?).await?;
    let failed = workflows
        .search(who, search(FAILED, RECENT_FAILURES)?)
        .await?;
    Ok((
        running.total_hits,
        failed.total_hits,
        completed.total_hits,
        failed.results,
    ))
}
