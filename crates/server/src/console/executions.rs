//! The executions list: a search over the runs the person may read (by workflow
//! name, status, start time, correlation id and free text), paged, built on the
//! workflow search service as `/api/workflow/search` is; and a form to start a
//! workflow with JSON input.

use askama::Template;
use axum::Extension;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use podium_core::error::{CoreError, CoreResult};
use podium_core::model::{JsonMap, StartWorkflowRequest, WorkflowSummary};
use podium_core::service::search::WorkflowSearch;
use serde::{Deserialize, Serialize};

use super::form::PageForm;
use super::layout::{self, Chrome};
use super::viewer::Viewer;
use crate::http::state::AppState;

/// The menu entry's path.
pub const PATH: &str = "/executions";
/// Runs on one page.
const PAGE_SIZE: i64 = 25;
/// The statuses a search may name.
pub const STATUSES: [&str; 6] = [
    "RUNNING",
    "COMPLETED",
    "FAILED",
    "TIMED_OUT",
    "TERMINATED",
    "PAUSED",
];

/// The search form's fields, as the query string carries them.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct Filters {
    name: String,
    status: String,
    /// Started at or after, `YYYY-MM-DDTHH:MM` in UTC.
    from: String,
    /// Started before.
    to: String,
    correlation: String,
    q: String,
    start: i64,
}

/// A value quoted for the search language.
fn quoted(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// A `datetime-local` value, read as UTC, in milliseconds.
fn millis(field: &str, value: &str) -> CoreResult<i64> {
    chrono::NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M")
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M:%S"))
        .map(|t| t.and_utc().timestamp_millis())
        .map_err(|_| {
            CoreError::invalid(format!(
                "{field} must be a date and time (YYYY-MM-DDTHH:MM)"
            ))
        })
}

impl Filters {
    /// The search these filters ask for.
    fn search(&self) -> CoreResult<WorkflowSearch> {
        let mut parts = Vec::new();
        if !self.name.trim().is_empty() {
            parts.push(format!("workflowType = {}", quoted(self.name.trim())));
        }
        if !self.status.is_empty() {
            if !STATUSES.contains(&self.status.as_str()) {
                return Err(CoreError::invalid(format!(
                    "The status is one of {}",
                    STATUSES.join(", ")
                )));
            }
            parts.push(format!("status = {}", self.status));
        }
        if !self.from.trim().is_empty() {
            parts.push(format!(
                "startTime >= {}",
                millis("From", self.from.trim())?
            ));
        }
        if !self.to.trim().is_empty() {
            parts.push(format!("startTime < {}", millis("To", self.to.trim())?));
        }
        if !self.correlation.trim().is_empty() {
            parts.push(format!(
                "correlationId = {}",
                quoted(self.correlation.trim())
            ));
        }
        let query = parts.join(" AND ");
        WorkflowSearch::parse(
            Some(&query),
            Some(self.q.trim()),
            Some(self.start.max(0)),
            Some(PAGE_SIZE),
            Some("startTime:DESC"),
        )
    }

    /// The address of these filters at another page.
    fn at(&self, start: i64) -> String {
        let page = Filters {
            start: start.max(0),
            ..self.clone()
        };
        format!(
            "{PATH}?{}",
            serde_urlencoded::to_string(&page).unwrap_or_default()
        )
    }
}

#[derive(Template)]
#[template(path = "console/executions.html")]
struct List {
    chrome: Chrome,
    filters: Filters,
    statuses: [&'static str; 6],
    runs: Vec<WorkflowSummary>,
    total: i64,
    first: i64,
    last: i64,
    previous: Option<String>,
    next: Option<String>,
}

/// `GET /executions`.
pub async fn list(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Query(filters): Query<Filters>,
) -> Response {
    let chrome = Chrome::of(&state, &viewer, PATH);
    let search = match filters.search() {
        Ok(search) => search,
        Err(err) => return layout::refusal(Some(chrome), &err),
    };
    match state.workflows.search(&viewer.principal, search).await {
        Ok(found) => {
            let start = filters.start.max(0);
            let shown = found.results.len() as i64;
            let previous = (start > 0).then(|| filters.at(start - PAGE_SIZE));
            let next = (start + shown < found.total_hits).then(|| filters.at(start + PAGE_SIZE));
            layout::render(
                StatusCode::OK,
                &List {
                    chrome,
                    statuses: STATUSES,
                    total: found.total_hits,
                    first: if shown == 0 { 0 } else { start + 1 },
                    last: start + shown,
                    runs: found.results,
                    filters,
                    previous,
                    next,
                },
            )
        }
        Err(err) => layout::refusal(Some(chrome), &err),
    }
}

/// The start form.
#[derive(Deserialize)]
pub struct StartForm {
    name: String,
    #[serde(default)]
    version: String,
    #[serde(default)]
    correlation: String,
    #[serde(default)]
    input: String,
}

/// `POST /executions`: starts a workflow as the person, with the JSON input typed.
pub async fn start(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    PageForm(form): PageForm<StartForm>,
) -> Response {
    match start_of(form) {
        Ok(request) => match state.workflows.start(&viewer.principal, request).await {
            Ok(id) => layout::see_other(&format!("{PATH}/{}", layout::segment(&id))),
            Err(err) => layout::refusal(Some(Chrome::of(&state, &viewer, PATH)), &err),
        },
        Err(err) => layout::refusal(Some(Chrome::of(&state, &viewer, PATH)), &err),
    }
}

fn start_of(form: StartForm) -> CoreResult<StartWorkflowRequest> {
    let version = match form.version.trim() {
        "" => None,
        text => Some(
            text.parse::<i32>()
                .map_err(|_| CoreError::invalid("The version must be a whole number"))?,
        ),
    };
    let input: JsonMap = match form.input.trim() {
        "" => JsonMap::new(),
        text => serde_json::from_str(text)
            .map_err(|err| CoreError::invalid(format!("The input must be a JSON object: {err}")))?,
    };
    Ok(StartWorkflowRequest {
        name: form.name.trim().to_string(),
        version,
        correlation_id: Some(form.correlation.trim().to_string()).filter(|c| !c.is_empty()),
        input,
        ..StartWorkflowRequest::default()
    })
}
