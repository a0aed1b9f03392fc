//! Upgrading a running workflow to another version of its definition (Orkes's
//! `POST /workflow/{id}/upgrade`): the run goes on from the tasks it is at, on the
//! new version; the new version's top-level tasks before them that the run never
//! ran are recorded as skipped, with the output the caller gives them.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::error::CoreError;
use crate::model::{
    JsonMap, Task, TaskStatus, UpgradeWorkflowRequest, WorkflowDef, WorkflowStatus,
};
use crate::store::ChangeSet;

use super::context::EngineContext;
use super::decider::decide;
use super::graph;
use super::loops::bare_ref;
use super::ops::{check_supplied, merged_masks};
use super::schedule::new_task;
use super::state::WorkflowState;

/// Moves a running (or paused) workflow to `def`. Every task it has not finished
/// must have a node of the same reference name and type in `def`; the new top-level
/// nodes before the first one holding such a task, which the run has no task of,
/// are skipped (their output from `taskOutput`). `workflowInput` replaces the
/// input when given.
pub fn upgrade(
    state: &mut WorkflowState,
    def: Arc<WorkflowDef>,
    revision: String,
    request: &UpgradeWorkflowRequest,
    ctx: &EngineContext<'_>,
    out: &mut ChangeSet,
) -> Result<(), CoreError> {
    if !matches!(
        state.status(),
        WorkflowStatus::Running | WorkflowStatus::Paused
    ) {
        return Err(CoreError::Conflict(format!(
            "Workflow {} is {}: only a running or paused workflow is upgraded",
            state.id(),
            state.status().as_str()
        )));
    }
    if let Some(input) = &request.workflow_input {
        check_supplied(input, "workflow input", ctx)?;
    }
    let no_outputs = BTreeMap::new();
    let outputs = request.task_output.as_ref().unwrap_or(&no_outputs);
    for output in outputs.values() {
        check_supplied(output, "task output", ctx)?;
    }
    let unfinished: Vec<&Task> = state
        .tasks()
        .iter()
        .filter(|t| !t.status.is_terminal())
        .collect();
    for task in &unfinished {
        let reference = bare_ref(task);
        let fits = graph::find_task(&def, reference).is_some_and(|node| {
            node.task_type
                .eq_ignore_ascii_case(&task_type_of(state, reference))
        });
        if !fits {
            return Err(CoreError::invalid(format!(
                "Task {reference} is not finished, and version {} of {} has no {} task of that reference name to go on from",
                def.version,
                def.name,
                task_type_of(state, reference)
            )));
        }
    }
    // Where the run is on the new version: the first top-level node holding a task
    // it has not finished (all of them, when it has none).
    let at = def
        .tasks
        .iter()
        .position(|node| unfinished.iter().any(|t| graph::holds(node, bare_ref(t))))
        .unwrap_or(def.tasks.len());
    let skipped: Vec<String> = def.tasks[..at]
        .iter()
        .map(|node| node.task_reference_name.clone())
        .filter(|reference| state.latest_task_index(reference).is_none())
        .collect();
    if let Some(stray) = outputs.keys().find(|r| !skipped.contains(r)) {
        return Err(CoreError::invalid(format!(
            "taskOutput names {stray}, which is not a task the upgrade skips (skipped: {})",
            if skipped.is_empty() {
                "none".to_string()
            } else {
                skipped.join(", ")
            }
        )));
    }

    state.workflow.workflow_version = def.version;
    // What the run masked stays masked on the new definition.
    state.workflow.masked_fields =
        merged_masks(&def, std::mem::take(&mut state.workflow.masked_fields));
    state.set_def(def, revision);
    if let Some(input) = &request.workflow_input {
        state.workflow.input = input.clone();
    }
    state.workflow.update_time = ctx.now;
    state.touch();
    for reference in &skipped {
        let Some(node) = graph::find_task(&state.def, reference).cloned() else {
            continue;
        };
        let mut task: Task = new_task(state, &node, ctx);
        task.task_type = node.name.clone();
        task.status = TaskStatus::Skipped;
        task.reason_for_incompletion = None;
        task.end_time = ctx.now;
        task.domain = None;
        task.input_data = JsonMap::new();
        task.output_data = outputs.get(reference).cloned().unwrap_or_default();
        state.push_task(task);
    }
    if state.status() == WorkflowStatus::Running {
        decide(state, ctx, out);
    }
    Ok(())
}

/// The type of the node a task of the run came from, on the definition it runs.
fn task_type_of(state: &WorkflowState, reference: &str) -> String {
    graph::find_task(&state.def, reference)
        .map(|node| node.task_type.clone())
        .unwrap_or_default()
}
