//! One execution's page: what the API shows of it to the person (masked as the API
//! masks it), its definition's diagram coloured by its tasks' statuses, a timeline
//! of its tasks, each task's input, output and logs, and the actions the person
//! may take (see `execution_actions`).

use std::collections::HashMap;
use std::fmt::Write;

use askama::Template;
use axum::Extension;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use podium_core::error::CoreResult;
use podium_core::model::{JsonMap, Task, Workflow, WorkflowStatus};
use serde::Serialize;

use super::diagram;
use super::executions::PATH;
use super::layout::{self, Chrome, when};
use super::viewer::Viewer;
use crate::http::pages::escape;
use crate::http::state::AppState;

/// A status as the API writes it.
pub fn status_name(status: impl Serialize) -> String {
    serde_json::to_value(status)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// JSON as people read it.
fn pretty(map: &JsonMap) -> String {
    serde_json::to_string_pretty(map).unwrap_or_default()
}

/// A task as the page lists it.
pub struct TaskRow {
    pub id: String,
    pub reference: String,
    pub kind: String,
    pub status: String,
    pub scheduled: String,
    pub started: String,
    pub ended: String,
    pub reason: String,
    pub input: String,
    pub output: String,
}

impl From<&Task> for TaskRow {
    fn from(task: &Task) -> TaskRow {
        let time = |t: i64| if t > 0 { when(t) } else { String::new() };
        TaskRow {
            id: task.task_id.clone(),
            reference: task.reference_task_name.clone(),
            kind: task.task_type.clone(),
            status: status_name(task.status),
            scheduled: time(task.scheduled_time),
            started: time(task.start_time),
            ended: time(task.end_time),
            reason: task.reason_for_incompletion.clone().unwrap_or_default(),
            input: pretty(&task.input_data),
            output: pretty(&task.output_data),
        }
    }
}

#[derive(Template)]
#[template(path = "console/execution.html")]
pub struct Page {
    pub chrome: Chrome,
    pub id: String,
    pub name: String,
    pub version: i32,
    pub status: String,
    pub correlation: String,
    pub created_by: String,
    pub started: String,
    pub ended: String,
    pub reason: String,
    pub parent: String,
    pub input: String,
    pub output: String,
    pub variables: String,
    pub diagram: Option<String>,
    pub timeline: String,
    pub tasks: Vec<TaskRow>,
    /// How many tasks the run has (the page shows the first [`MAX_ROWS`]).
    pub task_count: usize,
    /// The references of the run's tasks, for rerun and skip.
    pub references: Vec<String>,
    pub may_operate: bool,
    pub may_remove: bool,
    pub running: bool,
    pub paused: bool,
    pub ended_run: bool,
}

/// `GET /executions/{id}`.
pub async fn page(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<String>,
) -> Response {
    let chrome = Chrome::of(&state, &viewer, PATH);
    match page_of(&state, &viewer, &id).await {
        Ok(mut page) => {
            page.chrome = chrome;
            layout::render(StatusCode::OK, &page)
        }
        Err(err) => layout::refusal(Some(chrome), &err),
    }
}

async fn page_of(state: &AppState, viewer: &Viewer, id: &str) -> CoreResult<Page> {
    let who = &viewer.principal;
    let run: Workflow = state.workflows.get(who, id, true).await?;
    let mut statuses = HashMap::new();
    for task in &run.tasks {
        // A loop's iterations are drawn once, with the latest one's status.
        let reference = if task.loop_over_task {
            bare(&task.reference_task_name)
        } else {
            &task.reference_task_name
        };
        statuses.insert(reference.to_string(), status_name(task.status));
    }
    let diagram = run
        .workflow_definition
        .as_ref()
        .map(|def| diagram::draw(&def.tasks, &statuses));
    let mut seen = std::collections::HashSet::new();
    let references: Vec<String> = run
        .tasks
        .iter()
        .map(|t| t.reference_task_name.clone())
        .filter(|r| seen.insert(r.clone()))
        .take(MAX_ROWS)
        .collect();
    let status = run.status;
    Ok(Page {
        chrome: Chrome::blank(),
        id: run.workflow_id.clone(),
        name: run.workflow_name.clone(),
        version: run.workflow_version,
        status: status_name(status),
        correlation: run.correlation_id.clone().unwrap_or_default(),
        created_by: run.created_by.clone().unwrap_or_default(),
        started: when(run.start_time),
        ended: if run.end_time > 0 {
            when(run.end_time)
        } else {
            String::new()
        },
        reason: run.reason_for_incompletion.clone().unwrap_or_default(),
        parent: run.parent_workflow_id.clone().unwrap_or_default(),
        input: pretty(&run.input),
        output: pretty(&run.output),
        variables: pretty(&run.variables),
        diagram,
        timeline: timeline(&run.tasks, run.start_time, state_now(state)),
        tasks: run.tasks.iter().take(MAX_ROWS).map(TaskRow::from).collect(),
        task_count: run.tasks.len(),
        references,
        may_operate: state.workflows.may_operate(who, &run),
        may_remove: state.workflows.may_remove(who, &run),
        running: status == WorkflowStatus::Running,
        paused: status == WorkflowStatus::Paused,
        ended_run: status.is_terminal(),
    })
}

fn state_now(state: &AppState) -> i64 {
    state.workflows.now()
}

/// A loop iteration's reference without its `__N`.
fn bare(reference: &str) -> &str {
    match reference.rsplit_once("__") {
        Some((bare, n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => bare,
        _ => reference,
    }
}

/// The most tasks the timeline and the task list show (the API has them all).
pub const MAX_ROWS: usize = 500;
const ROW_H: i32 = 20;
const LABEL_W: i32 = 220;
const BAR_W: i32 = 560;

/// The tasks on a time axis: one row each, a bar from its start (or schedule) to
/// its end (or now).
fn timeline(tasks: &[Task], run_start: i64, now: i64) -> String {
    let begin = tasks
        .iter()
        .map(|t| t.scheduled_time)
        .filter(|t| *t > 0)
        .min()
        .unwrap_or(run_start)
        .min(run_start.max(1));
    let end_of = |t: &Task| if t.end_time > 0 { t.end_time } else { now };
    let finish = tasks
        .iter()
        .map(end_of)
        .max()
        .unwrap_or(now)
        .max(begin.saturating_add(1));
    let span = finish.saturating_sub(begin) as f64;
    let width = LABEL_W + BAR_W + 10;
    let tasks = &tasks[..tasks.len().min(MAX_ROWS)];
    let height = ROW_H * tasks.len() as i32 + 24;
    let mut out = String::new();
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"timeline\" role=\"img\" aria-labelledby=\"timeline-title\" \
         width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\">\
         <title id=\"timeline-title\">When each task was scheduled, started and ended ({} ms in all)</title>",
        finish.saturating_sub(begin)
    );
    for (i, task) in tasks.iter().enumerate() {
        let y = i as i32 * ROW_H + 4;
        let from = if task.start_time > 0 {
            task.start_time
        } else {
            task.scheduled_time.max(begin)
        };
        // Within the axis whatever the clocks said (a node behind another).
        let at = (from.saturating_sub(begin) as f64 / span).clamp(0.0, 1.0);
        let long = (end_of(task).saturating_sub(from).max(0) as f64 / span).clamp(0.0, 1.0 - at);
        let x = LABEL_W + (at * f64::from(BAR_W)) as i32;
        let w = (long * f64::from(BAR_W)).max(2.0) as i32;
        let status = status_name(task.status);
        let _ = write!(
            out,
            "<g class=\"status-{}\"><title>{}: {} ms</title>\
             <text x=\"0\" y=\"{}\">{}</text>\
             <rect x=\"{x}\" y=\"{y}\" width=\"{w}\" height=\"{}\" rx=\"2\"/></g>",
            status.to_ascii_lowercase(),
            escape(&format!("{} {status}", task.reference_task_name)),
            end_of(task).saturating_sub(from).max(0),
            y + 13,
            escape(
                &task
                    .reference_task_name
                    .chars()
                    .take(30)
                    .collect::<String>()
            ),
            ROW_H - 6,
        );
    }
    out.push_str("</svg>");
    out
}
