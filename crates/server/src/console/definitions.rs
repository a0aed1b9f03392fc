//! The definitions pages: workflow definitions (every version) and task
//! definitions the person may read, filtered by a word; a workflow definition's
//! diagram and JSON with a form to start it; a task definition's JSON. Built on
//! the metadata service as `/api/metadata` is.

use std::collections::HashMap;

use askama::Template;
use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use podium_core::error::CoreResult;
use serde::Deserialize;

use super::diagram;
use super::layout::{self, Chrome};
use super::viewer::Viewer;
use crate::http::state::AppState;

/// The menu entry's path.
pub const PATH: &str = "/definitions";

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct Filter {
    q: String,
}

impl Filter {
    fn keeps(&self, name: &str, description: Option<&str>) -> bool {
        let word = self.q.trim().to_lowercase();
        word.is_empty()
            || name.to_lowercase().contains(&word)
            || description.is_some_and(|d| d.to_lowercase().contains(&word))
    }
}

/// A workflow definition's versions, as the list shows them.
pub struct WorkflowRow {
    pub name: String,
    pub description: String,
    pub versions: Vec<i32>,
}

/// A task definition as the list shows it.
pub struct TaskRow {
    pub name: String,
    pub description: String,
    pub retries: i32,
    pub timeout: i64,
}

#[derive(Template)]
#[template(path = "console/definitions.html")]
struct List {
    chrome: Chrome,
    q: String,
    workflows: Vec<WorkflowRow>,
    tasks: Vec<TaskRow>,
}

/// `GET /definitions`.
pub async fn list(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Query(filter): Query<Filter>,
) -> Response {
    let chrome = Chrome::of(&state, &viewer, PATH);
    match rows(&state, &viewer, &filter).await {
        Ok((workflows, tasks)) => layout::render(
            StatusCode::OK,
            &List {
                chrome,
                q: filter.q,
                workflows,
                tasks,
            },
        ),
        Err(err) => layout::refusal(Some(chrome), &err),
    }
}

async fn rows(
    state: &AppState,
    viewer: &Viewer,
    filter: &Filter,
) -> CoreResult<(Vec<WorkflowRow>, Vec<TaskRow>)> {
    let who = &viewer.principal;
    let mut workflows: Vec<WorkflowRow> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for def in state.metadata.list_workflow_defs(who).await? {
        if !filter.keeps(&def.name, def.description.as_deref()) {
            continue;
        }
        match index.get(&def.name) {
            Some(&i) => {
                workflows[i].versions.push(def.version);
                workflows[i].description = def.description.unwrap_or_default();
            }
            None => {
                index.insert(def.name.clone(), workflows.len());
                workflows.push(WorkflowRow {
                    name: def.name,
                    description: def.description.unwrap_or_default(),
                    versions: vec![def.version],
                });
            }
        }
    }
    let mut tasks: Vec<TaskRow> = state
        .metadata
        .list_task_defs(who)
        .await?
        .into_iter()
        .filter(|t| filter.keeps(&t.name, t.description.as_deref()))
        .map(|t| TaskRow {
            name: t.name,
            description: t.description.unwrap_or_default(),
            retries: t.retry_count,
            timeout: t.timeout_seconds,
        })
        .collect();
    tasks.sort_by(|a, b| a.name.cmp(&b.name));
    Ok((workflows, tasks))
}

#[derive(Template)]
#[template(path = "console/workflow_def.html")]
struct WorkflowPage {
    chrome: Chrome,
    name: String,
    version: i32,
    description: String,
    versions: Vec<i32>,
    diagram: String,
    json: String,
}

/// `GET /definitions/workflows/{name}/{version}`.
pub async fn workflow(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path((name, version)): Path<(String, i32)>,
) -> Response {
    let chrome = Chrome::of(&state, &viewer, PATH);
    let who = &viewer.principal;
    let found = async {
        let def = state
            .metadata
            .get_workflow_def(who, &name, Some(version))
            .await?;
        let versions: Vec<i32> = state
            .metadata
            .list_workflow_defs(who)
            .await?
            .into_iter()
            .filter(|d| d.name == name)
            .map(|d| d.version)
            .collect();
        Ok::<_, podium_core::error::CoreError>((def, versions))
    }
    .await;
    match found {
        Ok((def, versions)) => layout::render(
            StatusCode::OK,
            &WorkflowPage {
                chrome,
                diagram: diagram::draw(&def.tasks, &HashMap::new()),
                json: serde_json::to_string_pretty(&def).unwrap_or_default(),
                name: def.name,
                version: def.version,
                description: def.description.unwrap_or_default(),
                versions,
            },
        ),
        Err(err) => layout::refusal(Some(chrome), &err),
    }
}

#[derive(Template)]
#[template(path = "console/task_def.html")]
struct TaskPage {
    chrome: Chrome,
    name: String,
    json: String,
}

/// `GET /definitions/tasks/{name}`.
pub async fn task(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(name): Path<String>,
) -> Response {
    let chrome = Chrome::of(&state, &viewer, PATH);
    match state.metadata.get_task_def(&viewer.principal, &name).await {
        Ok(def) => layout::render(
            StatusCode::OK,
            &TaskPage {
                chrome,
                json: serde_json::to_string_pretty(&def).unwrap_or_default(),
                name: def.name,
            },
        ),
        Err(err) => layout::refusal(Some(chrome), &err),
    }
}
