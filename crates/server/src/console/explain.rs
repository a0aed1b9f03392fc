//! "Why allowed, why refused": for a subject (oneself, or anyone for an
//! administrator), an access and a resource, the authorizer's decision and what it
//! rests on, in plain words, from the grants service as `/api/auth/explain` gives it.

use askama::Template;
use axum::Extension;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use podium_core::security::model::{Access, TargetType};
use serde::Deserialize;

use super::layout::{self, Chrome};
use super::viewer::Viewer;
use crate::http::state::AppState;

/// The page's path.
pub const PATH: &str = "/access/explain";

/// The question, as the form's query string carries it.
#[derive(Default, Deserialize)]
#[serde(default)]
pub struct Question {
    subject: String,
    access: String,
    #[serde(rename = "type")]
    kind: String,
    id: String,
}

#[derive(Template)]
#[template(path = "console/explain.html")]
struct Page {
    chrome: Chrome,
    question: Question,
    accesses: Vec<&'static str>,
    kinds: Vec<&'static str>,
    /// The answer, and whether it allows.
    answer: Option<(String, bool)>,
}

/// `GET /access/explain`.
pub async fn page(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Query(question): Query<Question>,
) -> Response {
    let chrome = Chrome::of(&state, &viewer, PATH);
    let answer = if question.access.is_empty() || question.id.trim().is_empty() {
        None
    } else {
        let subject = Some(question.subject.trim()).filter(|s| !s.is_empty());
        match state.users.explain(
            &viewer.principal,
            subject,
            &question.access,
            &question.kind,
            question.id.trim(),
        ) {
            Ok(explanation) => Some((explanation.explanation, explanation.decision.allowed)),
            Err(err) => return layout::refusal(Some(chrome), &err),
        }
    };
    layout::render(
        StatusCode::OK,
        &Page {
            chrome,
            question,
            accesses: Access::ALL.into_iter().map(Access::name).collect(),
            kinds: TargetType::ALL.into_iter().map(TargetType::name).collect(),
            answer,
        },
    )
}
