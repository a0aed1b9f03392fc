//! Running what data chose (see `choice`): a `DYNAMIC` node's task becomes the
//! task its input names, and a `FORK_JOIN_DYNAMIC` node's fork starts the branches
//! its input lists. Both happen in the unit of work of the job that authorized the
//! choice as the run's principals (`exec::chosen`); until then the task waits,
//! `SCHEDULED`, and nothing it chose is queued.
//!
//! A dynamic fork's task completes (as Conductor's `FORK`), its input records the
//! branches (`forkedTasks`, and `forkedTaskDefs` with each branch's allow-listed
//! node), and the branches are grafted into the run's definition as the fork's
//! branches, so every rule for a static fork's tasks (timeouts, successors, the
//! join) applies to them. The graft is derived from the stored definition and the
//! forks that have forked, whenever a run is loaded and whenever tasks are removed
//! or reset (restart, rerun), never accumulated.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use serde::Deserialize;
use serde_json::Value;

use crate::model::{JsonMap, SubWorkflowParams, Task, TaskStatus, WorkflowDef, WorkflowTask};
use crate::store::ChangeSet;

use super::choice::{self, Chosen};
use super::context::EngineContext;
use super::decider::decide;
use super::graph;
use super::loops::{bare_ref, place_of, put_in_iteration};
use super::payload;
use super::schedule::{self, add_task};
use super::state::WorkflowState;
use super::system_tasks::{complete, fail};
use super::task_type::TaskKind;

/// The `taskType` of a `DYNAMIC` node's task until its choice is authorized.
pub const UNCHOSEN: &str = "DYNAMIC";

/// Applies the choice of the task `task_id` (a `DYNAMIC` task not chosen yet, or a
/// dynamic fork that has not forked) in the unit of work of the job that authorized
/// it: only while the task still waits with the input that was authorized. Returns
/// whether it did.
pub fn apply_choice(
    state: &mut WorkflowState,
    task_id: &str,
    authorized_input: &JsonMap,
    ctx: &EngineContext<'_>,
    out: &mut ChangeSet,
) -> bool {
    let Some(index) = state.task_index(task_id) else {
        return false;
    };
    let task = &state.tasks()[index];
    if task.status != TaskStatus::Scheduled || &task.input_data != authorized_input {
        return false;
    }
    let Some(node) = graph::find_task(state.base_def(), bare_ref(task)).cloned() else {
        return false;
    };
    match TaskKind::of(&node.task_type) {
        TaskKind::Dynamic if task.task_type == UNCHOSEN => {
            run_dynamic(state, index, &node, ctx, out)
        }
        TaskKind::ForkJoinDynamic => run_dynamic_fork(state, index, &node, ctx, out),
        _ => return false,
    }
    if state.status() == crate::model::WorkflowStatus::Running {
        decide(state, ctx, out);
    }
    true
}

/// A `DYNAMIC` task becomes, in place, the task its input names.
fn run_dynamic(
    state: &mut WorkflowState,
    index: usize,
    node: &WorkflowTask,
    ctx: &EngineContext<'_>,
    out: &mut ChangeSet,
) {
    let placeholder = state.tasks()[index].clone();
    let chosen = match choice::chosen(node, &placeholder.input_data) {
        Ok(mut chosen) if chosen.len() == 1 => chosen.remove(0),
        Ok(_) => return,
        Err(reason) => {
            fail(state, index, ctx.now, reason, true);
            return;
        }
    };
    let built = schedule::task_with_input(
        state,
        &chosen.node,
        placeholder.task_id.clone(),
        Ok(chosen.input),
        ctx,
    );
    let Some(task) = state.task_mut(index) else {
        return;
    };
    let kept = std::mem::replace(task, built);
    task.reference_task_name = kept.reference_task_name;
    task.seq = kept.seq;
    task.iteration = kept.iteration;
    task.loop_over_task = kept.loop_over_task;
    task.retry_count = kept.retry_count;
    task.retried_task_id = kept.retried_task_id;
    task.scheduled_time = kept.scheduled_time;
    let delay = task.start_delay_in_seconds;
    schedule::make_runnable(state, index, delay, ctx, out);
}

/// The definition a task of a `DYNAMIC` node runs under: its chosen task's (none
/// before the choice).
pub fn chosen_node_of(node: &WorkflowTask, task: &Task) -> Option<WorkflowTask> {
    (task.task_type != UNCHOSEN).then(|| choice::dynamic_node(node, &task.task_def_name))
}

/// The fork starts its branches, or fails with the reason.
fn run_dynamic_fork(
    state: &mut WorkflowState,
    index: usize,
    node: &WorkflowTask,
    ctx: &EngineContext<'_>,
    out: &mut ChangeSet,
) {
    let input = state.tasks()[index].input_data.clone();
    let fail_with = |state: &mut WorkflowState, reason: String| {
        fail(state, index, ctx.now, reason, true);
    };
    if state.tasks()[index].loop_over_task {
        let reason = "a FORK_JOIN_DYNAMIC inside a DO_WHILE is not supported by this version of Podium; put the fork in a SUB_WORKFLOW".to_string();
        return fail_with(state, reason);
    }
    let found = match choice::chosen(node, &input) {
        Ok(found) => found,
        Err(reason) => return fail_with(state, reason),
    };
    let already = forked_so_far(state);
    let max = ctx.limits.max_dynamic_branches;
    if already.saturating_add(found.len()) > max {
        return fail_with(
            state,
            format!(
                "The dynamic fork {} would bring the workflow's dynamic branches to {}, more than the {max} a workflow may start",
                node.task_reference_name,
                already.saturating_add(found.len())
            ),
        );
    }
    let mut taken: HashSet<&str> = state
        .def
        .all_tasks()
        .into_iter()
        .map(|n| n.task_reference_name.as_str())
        .collect();
    let task_refs: Vec<String> = state
        .tasks()
        .iter()
        .map(|t| t.reference_task_name.clone())
        .collect();
    taken.extend(task_refs.iter().map(String::as_str));
    for branch in &found {
        let reference = branch.node.task_reference_name.as_str();
        if !taken.insert(reference) {
            return fail_with(
                state,
                format!(
                    "No dynamic tasks could be created for the Workflow: {}, Dynamic Fork Task: {}: attempted to create a duplicate task reference name: {reference}",
                    state.id(),
                    node.task_reference_name
                ),
            );
        }
    }
    let recorded: Vec<Value> = found
        .iter()
        .map(|b| serde_json::to_value(&b.node).unwrap_or(Value::Null))
        .collect();
    let refs: Vec<Value> = found
        .iter()
        .map(|b| Value::String(b.node.task_reference_name.clone()))
        .collect();
    let mut fork_input = input;
    fork_input.insert("forkedTasks".into(), Value::Array(refs));
    fork_input.insert("forkedTaskDefs".into(), Value::Array(recorded));
    let max = ctx.limits.max_payload_bytes;
    if let Err(excess) = payload::check(&fork_input, max) {
        let reason = payload::task_reason(excess, &state.tasks()[index].task_id, state.id(), max);
        return fail_with(state, reason);
    }
    let iteration = place_of(&state.tasks()[index]);
    if let Some(task) = state.task_mut(index) {
        task.input_data = fork_input;
    }
    complete(state, index, ctx.now, JsonMap::new());
    state.regraft();
    for Chosen { node, input } in found {
        let task = branch_task(state, &node, input, ctx);
        let mut task = task;
        put_in_iteration(&mut task, iteration);
        add_task(state, task, 0, ctx, out);
    }
}

/// A new task for a dynamic fork's branch: its input as given, never resolved (a
/// sub-workflow's laid out as Conductor does, around the given input).
fn branch_task(
    state: &WorkflowState,
    node: &WorkflowTask,
    input: JsonMap,
    ctx: &EngineContext<'_>,
) -> Task {
    let input = if TaskKind::of(&node.task_type) == TaskKind::SubWorkflow {
        let params = node.sub_workflow_param.clone().unwrap_or_default();
        let mut layout = JsonMap::new();
        layout.insert("subWorkflowName".into(), Value::String(params.name));
        layout.insert(
            "subWorkflowVersion".into(),
            params.version.unwrap_or(Value::Null),
        );
        for key in [
            "subWorkflowTaskToDomain",
            "subWorkflowDefinition",
            "priority",
            "idempotencyKey",
            "idempotencyStrategy",
        ] {
            layout.insert(key.into(), Value::Null);
        }
        layout.insert("workflowInput".into(), Value::Object(input));
        layout
    } else {
        input
    };
    let task_id = ctx.ids.new_id();
    let input = schedule::checked_input(input, &task_id, state.id(), ctx);
    schedule::task_with_input(state, node, task_id, input, ctx)
}

/// Whether the node `reference` is a dynamic fork's branch (its input came from
/// data and is never resolved again, on a retry either).
pub fn is_branch(def: &WorkflowDef, reference: &str) -> bool {
    graph::owner_of(def, reference)
        .is_some_and(|owner| TaskKind::of(&owner.task_type) == TaskKind::ForkJoinDynamic)
}

/// The definition a command that re-runs the workflow's work is authorized
/// against: its definition with the branches its forks started and a worker node
/// for each type its `DYNAMIC` tasks chose, so that running again what data chose
/// needs what running it needed.
pub fn as_run(state: &WorkflowState) -> Arc<WorkflowDef> {
    let chosen: Vec<WorkflowTask> = state
        .tasks()
        .iter()
        .filter(|t| t.task_type != UNCHOSEN && TaskKind::of_execution(t).is_worker_task())
        .filter(|t| {
            graph::find_task(&state.def, &t.reference_task_name)
                .is_some_and(|n| TaskKind::of(&n.task_type) == TaskKind::Dynamic)
        })
        .map(|t| WorkflowTask {
            name: t.task_def_name.clone(),
            task_reference_name: format!("{}#chosen", t.reference_task_name),
            task_type: "SIMPLE".to_string(),
            ..WorkflowTask::default()
        })
        .collect();
    if chosen.is_empty() {
        return state.def.clone();
    }
    let mut def = WorkflowDef::clone(&state.def);
    def.tasks.extend(chosen);
    Arc::new(def)
}

/// How many branches the workflow's dynamic forks have started so far.
fn forked_so_far(state: &WorkflowState) -> usize {
    forked(state.tasks())
        .map(|(_, branches)| branches.len())
        .sum()
}

/// A branch node as recorded in `forkedTaskDefs`: the allow-listed fields only.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Recorded {
    name: String,
    task_reference_name: String,
    #[serde(rename = "type")]
    task_type: String,
    #[serde(default)]
    optional: bool,
    #[serde(default)]
    sub_workflow_param: Option<RecordedChild>,
}

#[derive(Deserialize)]
struct RecordedChild {
    name: String,
    #[serde(default)]
    version: Option<Value>,
}

impl Recorded {
    fn node(self) -> WorkflowTask {
        WorkflowTask {
            name: self.name,
            task_reference_name: self.task_reference_name,
            task_type: self.task_type,
            optional: self.optional,
            sub_workflow_param: self.sub_workflow_param.map(|p| SubWorkflowParams {
                name: p.name,
                version: p.version.filter(Value::is_number),
                ..SubWorkflowParams::default()
            }),
            ..WorkflowTask::default()
        }
    }
}

/// The dynamic forks that have forked among `tasks`, each with the branch nodes it
/// recorded when the fork ran (its `FORK` task completed). Only the engine writes a
/// completed `FORK` (the task update API refuses it), and each record is checked
/// again as it is read: a node data could not have chosen, or that would stand in
/// for another node, drops that fork's graft.
fn forked(tasks: &[Task]) -> impl Iterator<Item = (&str, Vec<WorkflowTask>)> {
    tasks
        .iter()
        .filter(|t| t.task_type == "FORK" && t.status == TaskStatus::Completed)
        .filter_map(|t| {
            let Some(Value::Array(defs)) = t.input_data.get("forkedTaskDefs") else {
                return None;
            };
            if defs.len() > choice::MAX_DYNAMIC_BRANCHES {
                return None;
            }
            let nodes: Option<Vec<WorkflowTask>> = defs
                .iter()
                .map(|d| Recorded::deserialize(d).ok().map(Recorded::node))
                .map(|n| n.filter(|n| choice::refused(n).is_none()))
                .collect();
            Some((bare_ref(t), nodes?))
        })
}

/// The stored definition `base` with the branches the dynamic forks among `tasks`
/// started grafted in: `base` itself when none has forked.
pub fn grafted(base: &Arc<WorkflowDef>, tasks: &[Task]) -> Arc<WorkflowDef> {
    let mut grafts: HashMap<&str, Vec<WorkflowTask>> = forked(tasks).collect();
    if grafts.is_empty() {
        return base.clone();
    }
    // No branch may stand in for a node of the definition, or for another branch.
    let mut taken: HashSet<&str> = base
        .all_tasks()
        .into_iter()
        .map(|n| n.task_reference_name.as_str())
        .collect();
    let mut clashing = Vec::new();
    for (fork, branches) in &grafts {
        if !branches
            .iter()
            .all(|b| taken.insert(b.task_reference_name.as_str()))
        {
            clashing.push(*fork);
        }
    }
    for fork in clashing {
        grafts.remove(fork);
    }
    let mut def = WorkflowDef::clone(base);
    graft_into(&mut def.tasks, &grafts);
    Arc::new(def)
}

fn graft_into(list: &mut [WorkflowTask], grafts: &HashMap<&str, Vec<WorkflowTask>>) {
    for node in list.iter_mut() {
        if TaskKind::of(&node.task_type) == TaskKind::ForkJoinDynamic {
            if let Some(branches) = grafts.get(node.task_reference_name.as_str()) {
                node.fork_tasks = branches.iter().map(|b| vec![b.clone()]).collect();
            }
            continue;
        }
        for case in node.decision_cases.values_mut() {
            graft_into(case, grafts);
        }
        for branch in node.fork_tasks.iter_mut() {
            graft_into(branch, grafts);
        }
        graft_into(&mut node.default_case, grafts);
        graft_into(&mut node.loop_over, grafts);
    }
}
