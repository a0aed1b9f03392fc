//! The audit trail (administrators): entries newest first, filtered by who, action,
//! target and time, paged; and the result of verifying its hash chain. Built on the
//! identity service as `GET /api/audit` and `podium audit verify` are.

use askama::Template;
use axum::Extension;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use podium_core::error::{CoreError, CoreResult};
use podium_core::store::AuditQuery;
use serde::{Deserialize, Serialize};

use super::applications::Empty;
use super::form::PageForm;
use super::layout::{self, Chrome, when};
use super::viewer::Viewer;
use crate::http::state::AppState;

/// The menu entry's path.
pub const PATH: &str = "/audit";
const PAGE_SIZE: i64 = 50;

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct Filters {
    principal: String,
    action: String,
    target: String,
    /// From, `YYYY-MM-DDTHH:MM` in UTC.
    from: String,
    to: String,
    start: i64,
}

fn text(value: &str) -> Option<String> {
    Some(value.trim().to_string()).filter(|v| !v.is_empty())
}

fn millis(field: &str, value: &str) -> CoreResult<Option<i64>> {
    match text(value) {
        None => Ok(None),
        Some(value) => chrono::NaiveDateTime::parse_from_str(&value, "%Y-%m-%dT%H:%M")
            .map(|t| Some(t.and_utc().timestamp_millis()))
            .map_err(|_| {
                CoreError::invalid(format!(
                    "{field} must be a date and time (YYYY-MM-DDTHH:MM)"
                ))
            }),
    }
}

impl Filters {
    fn query(&self) -> CoreResult<AuditQuery> {
        Ok(AuditQuery {
            principal: text(&self.principal),
            action: text(&self.action),
            target: text(&self.target),
            from: millis("From", &self.from)?,
            to: millis("To", &self.to)?,
            start: self.start.max(0),
            size: PAGE_SIZE,
        })
    }

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

/// An entry as the page lists it.
pub struct Row {
    pub seq: i64,
    pub time: String,
    pub principal: String,
    pub client: String,
    pub action: String,
    pub target: String,
    pub outcome: String,
}

#[derive(Template)]
#[template(path = "console/audit.html")]
struct Page {
    chrome: Chrome,
    filters: Filters,
    rows: Vec<Row>,
    total: i64,
    previous: Option<String>,
    next: Option<String>,
    /// The chain's verdict, when asked: whole (with how many entries) or where broken.
    verdict: Option<(bool, String)>,
}

/// One verification of the chain at a time on this node: each reads the whole trail.
static VERIFYING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// `GET /audit`.
pub async fn page(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Query(filters): Query<Filters>,
) -> Response {
    render(&state, &viewer, filters, None).await
}

/// `POST /audit/verify`: checks the hash chain (a form, so no link or other site
/// can start the read of the whole trail), then shows the first page.
pub async fn verify(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    PageForm(_): PageForm<Empty>,
) -> Response {
    let chrome = || Chrome::of(&state, &viewer, PATH);
    let Ok(_turn) = VERIFYING.try_lock() else {
        let busy = CoreError::TooManyRequests(
            "The audit trail is being verified already; try again when that ends".into(),
        );
        return layout::refusal(Some(chrome()), &busy);
    };
    let verdict = match state.identity.verify_audit(&viewer.principal).await {
        Ok(Ok(count)) => (
            true,
            format!("The chain is whole: {count} entries checked."),
        ),
        Ok(Err(broken)) => (
            false,
            format!(
                "The chain is broken at entry {}: {}",
                broken.seq, broken.why
            ),
        ),
        Err(err) => return layout::refusal(Some(chrome()), &err),
    };
    render(&state, &viewer, Filters::default(), Some(verdict)).await
}

async fn render(
    state: &AppState,
    viewer: &Viewer,
    filters: Filters,
    verdict: Option<(bool, String)>,
) -> Response {
    let chrome = Chrome::of(state, viewer, PATH);
    let who = &viewer.principal;
    let found = async {
        let (total, entries) = state.identity.audit_trail(who, filters.query()?).await?;
        Ok::<_, CoreError>((total, entries))
    }
    .await;
    match found {
        Ok((total, entries)) => {
            let start = filters.start.max(0);
            let shown = entries.len() as i64;
            layout::render(
                StatusCode::OK,
                &Page {
                    chrome,
                    previous: (start > 0).then(|| filters.at(start - PAGE_SIZE)),
                    next: (start + shown < total).then(|| filters.at(start + PAGE_SIZE)),
                    rows: entries
                        .into_iter()
                        .map(|e| Row {
                            seq: e.seq,
                            time: when(e.event.time),
                            principal: e.event.principal,
                            client: e.event.client.unwrap_or_default(),
                            action: e.event.action,
                            target: e.event.target,
                            outcome: e.event.outcome,
                        })
                        .collect(),
                    total,
                    filters,
                    verdict,
                },
            )
        }
        Err(err) => layout::refusal(Some(chrome), &err),
    }
}
