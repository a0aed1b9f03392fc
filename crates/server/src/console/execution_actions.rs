//! What a person does to an execution from its page: pause, resume, terminate with
//! a reason, retry, restart, rerun from a task, skip a task, remove after asking;
//! and a task's logs. Each goes through the workflow services as the API's routes
//! do, so each checks everything it needs whatever buttons the page showed.

use askama::Template;
use axum::Extension;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use podium_core::error::{CoreError, CoreResult};
use podium_core::model::{RerunWorkflowRequest, SkipTaskRequest};
use serde::Deserialize;

use super::applications::Empty;
use super::executions::PATH;
use super::form::PageForm;
use super::layout::{self, Chrome, when};
use super::viewer::Viewer;
use crate::http::state::AppState;

/// The execution's page after an action on it, or the refusal.
fn back(state: &AppState, viewer: &Viewer, id: &str, done: CoreResult<()>) -> Response {
    let page = format!("{PATH}/{}", layout::segment(id));
    layout::after(state, viewer, PATH, &page, done)
}

/// `POST /executions/{id}/pause`.
pub async fn pause(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<String>,
    PageForm(_): PageForm<Empty>,
) -> Response {
    let done = state.workflows.pause(&viewer.principal, &id).await;
    back(&state, &viewer, &id, done)
}

/// `POST /executions/{id}/resume`.
pub async fn resume(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<String>,
    PageForm(_): PageForm<Empty>,
) -> Response {
    let done = state.workflows.resume(&viewer.principal, &id).await;
    back(&state, &viewer, &id, done)
}

#[derive(Deserialize)]
pub struct Reason {
    #[serde(default)]
    reason: String,
}

/// `POST /executions/{id}/terminate`.
pub async fn terminate(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<String>,
    PageForm(form): PageForm<Reason>,
) -> Response {
    let reason = Some(form.reason.trim().to_string()).filter(|r| !r.is_empty());
    let done = state
        .workflows
        .terminate(&viewer.principal, &id, reason, false)
        .await;
    back(&state, &viewer, &id, done)
}

/// `POST /executions/{id}/retry`.
pub async fn retry(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<String>,
    PageForm(_): PageForm<Empty>,
) -> Response {
    let done = state.workflows.retry(&viewer.principal, &id).await;
    back(&state, &viewer, &id, done)
}

/// `POST /executions/{id}/restart`.
pub async fn restart(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<String>,
    PageForm(_): PageForm<Empty>,
) -> Response {
    let done = state.workflows.restart(&viewer.principal, &id, false).await;
    back(&state, &viewer, &id, done)
}

#[derive(Deserialize)]
pub struct Reference {
    reference: String,
}

/// `POST /executions/{id}/rerun`: from the latest task with that reference name.
pub async fn rerun(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<String>,
    PageForm(form): PageForm<Reference>,
) -> Response {
    let who = &viewer.principal;
    let done = async {
        let run = state.workflows.get(who, &id, true).await?;
        let task = run
            .tasks
            .iter()
            .rev()
            .find(|t| t.reference_task_name == form.reference)
            .ok_or_else(|| {
                CoreError::invalid(format!("The execution has no task '{}'", form.reference))
            })?;
        let request = RerunWorkflowRequest {
            re_run_from_workflow_id: Some(id.clone()),
            re_run_from_task_id: Some(task.task_id.clone()),
            ..RerunWorkflowRequest::default()
        };
        state.workflows.rerun(who, &id, request).await.map(|_| ())
    }
    .await;
    back(&state, &viewer, &id, done)
}

/// `POST /executions/{id}/skip`.
pub async fn skip(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<String>,
    PageForm(form): PageForm<Reference>,
) -> Response {
    let done = state
        .workflows
        .skip_task(
            &viewer.principal,
            &id,
            form.reference.trim(),
            SkipTaskRequest::default(),
        )
        .await;
    back(&state, &viewer, &id, done)
}

/// `GET /executions/{id}/remove`: asks first.
pub async fn confirm_remove(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<String>,
) -> Response {
    let chrome = Chrome::of(&state, &viewer, PATH);
    match state.workflows.get(&viewer.principal, &id, false).await {
        Ok(run) => layout::confirm(
            chrome,
            &format!("Remove execution {id} of {}?", run.workflow_name),
            "The execution and its tasks are deleted. This cannot be undone.",
            &format!("{PATH}/{}/remove", layout::segment(&id)),
            "Remove execution",
            &format!("{PATH}/{}", layout::segment(&id)),
        ),
        Err(err) => layout::refusal(Some(chrome), &err),
    }
}

/// `POST /executions/{id}/remove`.
pub async fn remove(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<String>,
    PageForm(_): PageForm<Empty>,
) -> Response {
    match state.workflows.remove(&viewer.principal, &id, false).await {
        Ok(()) => layout::see_other(PATH),
        Err(err) => layout::refusal(Some(Chrome::of(&state, &viewer, PATH)), &err),
    }
}

#[derive(Template)]
#[template(path = "console/task_logs.html")]
struct Logs {
    chrome: Chrome,
    workflow_id: String,
    reference: String,
    lines: Vec<(String, String)>,
}

/// `GET /executions/{id}/tasks/{task}/logs`.
pub async fn logs(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path((id, task_id)): Path<(String, String)>,
) -> Response {
    let chrome = Chrome::of(&state, &viewer, PATH);
    let who = &viewer.principal;
    let found = async {
        let task = state.tasks.get(who, &task_id).await?;
        if task.workflow_instance_id != id {
            return Err(CoreError::NotFound(format!(
                "Execution {id} has no task {task_id}"
            )));
        }
        let lines = state.tasks.logs(who, &task_id).await?;
        Ok((task, lines))
    }
    .await;
    match found {
        Ok((task, lines)) => layout::render(
            StatusCode::OK,
            &Logs {
                chrome,
                workflow_id: id,
                reference: task.reference_task_name,
                lines: lines
                    .into_iter()
                    .map(|l| (when(l.created_time), l.log))
                    .collect(),
            },
        ),
        Err(err) => layout::refusal(Some(chrome), &err),
    }
}
