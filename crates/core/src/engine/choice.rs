//! What data chooses: the task a `DYNAMIC` node runs (`dynamicTaskNameParam`) and
//! the branches a `FORK_JOIN_DYNAMIC` node starts, read from the node's resolved
//! input as Conductor reads them.
//!
//! The classic fork form names two input parameters: `dynamicForkTasksParam` (a
//! list of tasks) and `dynamicForkTasksInputParamName` (each branch's input, by
//! reference); the newer form gives `forkTaskName` (or `forkTaskType`, or
//! `forkTaskWorkflow` for sub-workflows) and a list `forkTaskInputs`, one branch
//! per element (`_<name>_<i>`, with `__index`).
//!
//! The choice comes from data (a worker's output, the workflow's input), not from
//! the definition's author, so it is bounded and built from an allow-list:
//! - a chosen task is a worker task or a system task that acts only on its own
//!   input (`HTTP`, `INLINE`, `JSON_JQ_TRANSFORM`, `NOOP`, `WAIT`, `HUMAN`); a
//!   branch may also be a `SUB_WORKFLOW` of a registered workflow. Nothing that
//!   writes a secret, the workflow's variables, or ends the workflow;
//! - a branch keeps only its name, reference, type, `optional` and, for a
//!   sub-workflow, the workflow's name and version, taken literally: data never
//!   brings a task definition, retries, an output filter or a domain, and nothing it
//!   gives is resolved as an expression;
//! - names and references are bounded as a definition's are, and a reference can
//!   never pass for a loop iteration's or for `workflow`.
//!
//! Which worker types the choice runs is authorized as the run's principals before
//! anything is scheduled (`exec::chosen`).

use std::collections::{BTreeSet, HashSet};

use serde::Deserialize;
use serde_json::Value;

use crate::model::{JsonMap, SubWorkflowParams, WorkflowTask};

use super::expr;
use super::loops::split_iteration;
use super::task_type::TaskKind;

/// Most branches one dynamic fork may start.
pub const MAX_DYNAMIC_BRANCHES: usize = 1_000;

/// Longest name or reference data may choose, in bytes: a definition's bound.
pub const MAX_CHOSEN_NAME_BYTES: usize = 255;

/// One task data chose: its node (built from the allow-list) and its input.
#[derive(Debug, Clone, PartialEq)]
pub struct Chosen {
    pub node: WorkflowTask,
    pub input: JsonMap,
}

/// What the task of `node` (a `DYNAMIC` or `FORK_JOIN_DYNAMIC` node) chooses, given
/// its resolved input; the reason the task fails with otherwise.
pub fn chosen(node: &WorkflowTask, input: &JsonMap) -> Result<Vec<Chosen>, String> {
    match TaskKind::of(&node.task_type) {
        TaskKind::Dynamic => {
            let name = dynamic_name(node, input)?;
            Ok(vec![Chosen {
                node: dynamic_node(node, &name),
                input: input.clone(),
            }])
        }
        TaskKind::ForkJoinDynamic => {
            let found = match input.get("forkTaskInputs") {
                Some(Value::Array(items)) => simple_form(node, input, items)?,
                _ => classic_form(node, input)?,
            };
            for branch in &found {
                if let Some(why) = refused(&branch.node) {
                    return Err(refusal(node, &why));
                }
            }
            Ok(found)
        }
        _ => Err(format!(
            "The task {} chooses no tasks",
            node.task_reference_name
        )),
    }
}

/// The worker task types among the chosen tasks: what the run's principals need
/// EXECUTE on before any of them is scheduled.
pub fn worker_types(chosen: &[Chosen]) -> BTreeSet<String> {
    chosen
        .iter()
        .filter(|c| TaskKind::of(&c.node.task_type).is_worker_task())
        .map(|c| c.node.name.clone())
        .collect()
}

/// The node a `DYNAMIC` node runs as once its input named `name`: the chosen task
/// under the node's reference, governed by the node's own inline task definition if
/// it has one, else by the chosen name's.
pub fn dynamic_node(node: &WorkflowTask, name: &str) -> WorkflowTask {
    let kind = TaskKind::of(name);
    WorkflowTask {
        name: name.to_string(),
        task_reference_name: node.task_reference_name.clone(),
        task_type: if kind == TaskKind::Simple {
            "SIMPLE".to_string()
        } else {
            name.to_string()
        },
        task_definition: node.task_definition.clone(),
        retry_count: node.retry_count,
        optional: node.optional,
        start_delay: node.start_delay,
        ..WorkflowTask::default()
    }
}

/// The task a `DYNAMIC` node's input names under `dynamicTaskNameParam`.
fn dynamic_name(node: &WorkflowTask, input: &JsonMap) -> Result<String, String> {
    let param = node.dynamic_task_name_param.as_deref().unwrap_or_default();
    let name = match input.get(param) {
        None | Some(Value::Null) => {
            return Err(format!(
                "Cannot map a dynamic task based on the parameter and input. Parameter= {param}, input= {}",
                crate::store::audit::bounded(&Value::Object(input.clone()).to_string())
            ));
        }
        Some(value) => expr::java_to_string(value),
    };
    if bad_name(&name) {
        return Err(format!(
            "The dynamic task {} names no task it can run: '{}'",
            node.task_reference_name,
            crate::store::audit::bounded(&name)
        ));
    }
    if !may_run(TaskKind::of(&name), false) {
        return Err(format!(
            "The dynamic task {} cannot run a {name} task: a DYNAMIC task runs a worker task or HTTP, INLINE, JSON_JQ_TRANSFORM, NOOP, WAIT or HUMAN",
            node.task_reference_name
        ));
    }
    Ok(name)
}

/// Whether data may choose a task of this kind (a fork's branch may also be a
/// sub-workflow of a registered workflow).
fn may_run(kind: TaskKind, branch: bool) -> bool {
    match kind {
        TaskKind::Simple
        | TaskKind::Http
        | TaskKind::Inline
        | TaskKind::JsonJqTransform
        | TaskKind::Noop
        | TaskKind::Wait
        | TaskKind::Human => true,
        TaskKind::SubWorkflow => branch,
        _ => false,
    }
}

/// A name or reference no task may have: empty, too long, with a queue's `:` or a
/// control character.
fn bad_name(name: &str) -> bool {
    name.trim().is_empty()
        || name.len() > MAX_CHOSEN_NAME_BYTES
        || name.chars().any(|c| c == ':' || c.is_control())
}

/// A branch as the engine runs it: the allow-listed fields of what data gave.
fn sanitized(given: &WorkflowTask, optional: bool) -> WorkflowTask {
    let sub_workflow_param = given
        .sub_workflow_param
        .as_ref()
        .filter(|_| TaskKind::of(&given.task_type) == TaskKind::SubWorkflow)
        .map(|p| SubWorkflowParams {
            name: p.name.clone(),
            version: p.version.clone().filter(|v| v.is_number()),
            ..SubWorkflowParams::default()
        });
    let task_type = if given.task_type.is_empty() {
        "SIMPLE".to_string()
    } else {
        given.task_type.clone()
    };
    // A system task's name picks the registered definition that governs it (its
    // retries, timeouts) and who may update it: never data's choice.
    let name = if TaskKind::of(&task_type).is_worker_task() {
        given.name.clone()
    } else {
        task_type.clone()
    };
    WorkflowTask {
        name,
        task_reference_name: given.task_reference_name.clone(),
        task_type,
        optional: given.optional || optional,
        sub_workflow_param,
        ..WorkflowTask::default()
    }
}

/// Why a (sanitized) branch may not run, if it may not.
pub(crate) fn refused(branch: &WorkflowTask) -> Option<String> {
    let reference = &branch.task_reference_name;
    let kind = TaskKind::of(&branch.task_type);
    let named_after_a_type =
        kind == TaskKind::Simple && TaskKind::of(&branch.name) != TaskKind::Simple;
    if bad_name(reference) || reference == "workflow" {
        Some(format!(
            "'{}' cannot be a task reference name",
            crate::store::audit::bounded(reference)
        ))
    } else if split_iteration(reference).is_some() {
        Some(format!(
            "the reference {reference} ends like a loop iteration's (__N)"
        ))
    } else if bad_name(&branch.name) || named_after_a_type {
        Some(format!(
            "the task {reference} has no name a task can run under"
        ))
    } else if !may_run(kind, true) {
        Some(format!(
            "the task {reference} is a {}, which a dynamic fork does not start",
            crate::store::audit::bounded(&branch.task_type)
        ))
    } else if kind == TaskKind::SubWorkflow
        && branch
            .sub_workflow_param
            .as_ref()
            .is_none_or(|p| bad_name(&p.name))
    {
        Some(format!(
            "the sub-workflow {reference} names no registered workflow"
        ))
    } else {
        None
    }
}

/// `dynamicForkTasksParam` and `dynamicForkTasksInputParamName`.
fn classic_form(node: &WorkflowTask, input: &JsonMap) -> Result<Vec<Chosen>, String> {
    let tasks_param = node.dynamic_fork_tasks_param.as_deref().unwrap_or_default();
    let inputs_param = node
        .dynamic_fork_tasks_input_param_name
        .as_deref()
        .unwrap_or_default();
    let listed = input.get(tasks_param).unwrap_or(&Value::Null);
    let invalid = || {
        format!(
            "Input '{tasks_param}' is invalid. Cannot deserialize a list of Workflow Tasks from '{}'",
            crate::store::audit::bounded(&listed.to_string())
        )
    };
    let Value::Array(items) = listed else {
        return Err(invalid());
    };
    too_many(node, items.len())?;
    let inputs = match input.get(inputs_param) {
        Some(Value::Object(map)) => map,
        other => {
            return Err(format!(
                "Input to the dynamically forked tasks is not a map -> expecting a map of K,V  but found {}",
                crate::store::audit::bounded(&other.unwrap_or(&Value::Null).to_string())
            ));
        }
    };
    let mut seen: HashSet<String> = HashSet::new();
    let mut found = Vec::with_capacity(items.len());
    for item in items {
        let given = WorkflowTask::deserialize(item).map_err(|_| invalid())?;
        // Checked before any input is copied: each branch's entry in the inputs is
        // used once, so the branches together hold no more than the fork's input.
        let branch = sanitized(&given, node.optional);
        if let Some(why) = refused(&branch) {
            return Err(refusal(node, &why));
        }
        if !seen.insert(branch.task_reference_name.clone()) {
            return Err(refusal(
                node,
                &format!(
                    "attempted to create a duplicate task reference name: {}",
                    branch.task_reference_name
                ),
            ));
        }
        // Data's own `inputParameters` are input, as in Conductor; never a template.
        let mut branch_input = given.input_parameters;
        match inputs.get(&branch.task_reference_name) {
            Some(Value::Object(more)) => {
                branch_input.extend(more.iter().map(|(k, v)| (k.clone(), v.clone())))
            }
            None | Some(Value::Null) => {}
            Some(other) => {
                return Err(format!(
                    "Tasks could not be dynamically forked due to invalid input: the input of {} is not a map but {}",
                    branch.task_reference_name,
                    crate::store::audit::bounded(&other.to_string())
                ));
            }
        }
        found.push(Chosen {
            node: branch,
            input: branch_input,
        });
    }
    Ok(found)
}

/// Refuses more branches than a fork may start.
fn too_many(node: &WorkflowTask, count: usize) -> Result<(), String> {
    if count > MAX_DYNAMIC_BRANCHES {
        return Err(format!(
            "The dynamic fork {} has {count} branches, more than the {MAX_DYNAMIC_BRANCHES} a fork may start",
            node.task_reference_name
        ));
    }
    Ok(())
}

/// Conductor's reason for a branch that cannot be created.
fn refusal(node: &WorkflowTask, why: &str) -> String {
    format!(
        "No dynamic tasks could be created for the Dynamic Fork Task: {}: {why}",
        node.task_reference_name
    )
}

/// `forkTaskName`/`forkTaskType`/`forkTaskWorkflow` and `forkTaskInputs`.
fn simple_form(
    node: &WorkflowTask,
    input: &JsonMap,
    items: &[Value],
) -> Result<Vec<Chosen>, String> {
    too_many(node, items.len())?;
    let text = |key: &str| {
        input
            .get(key)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let workflow = text("forkTaskWorkflow");
    let task_type = text("forkTaskType").unwrap_or_else(|| "SIMPLE".to_string());
    let name = match (text("forkTaskName"), &workflow) {
        (Some(name), _) => name,
        (None, Some(workflow)) => workflow.clone(),
        (None, None) if TaskKind::of(&task_type) != TaskKind::Simple => task_type.clone(),
        (None, None) => node.task_reference_name.clone(),
    };
    // Checked before the name is copied into every branch.
    for given in [Some(&name), workflow.as_ref(), Some(&task_type)]
        .into_iter()
        .flatten()
    {
        if bad_name(given) {
            return Err(refusal(
                node,
                &format!(
                    "'{}' cannot name a task",
                    crate::store::audit::bounded(given)
                ),
            ));
        }
    }
    let version = input
        .get("forkTaskWorkflowVersion")
        .filter(|v| v.is_number())
        .cloned();
    Ok(items
        .iter()
        .enumerate()
        .map(|(index, item)| {
            let mut branch_input = match item {
                Value::Object(map) => map.clone(),
                other => {
                    let mut map = JsonMap::new();
                    map.insert("input".into(), other.clone());
                    map
                }
            };
            branch_input.insert("__index".into(), Value::from(index));
            let reference = format!("_{name}_{index}");
            let given = match &workflow {
                Some(workflow) => WorkflowTask {
                    name: workflow.clone(),
                    task_reference_name: reference,
                    task_type: "SUB_WORKFLOW".into(),
                    sub_workflow_param: Some(SubWorkflowParams {
                        name: workflow.clone(),
                        version: version.clone(),
                        ..SubWorkflowParams::default()
                    }),
                    ..WorkflowTask::default()
                },
                None => WorkflowTask {
                    name: name.clone(),
                    task_reference_name: reference,
                    task_type: task_type.clone(),
                    ..WorkflowTask::default()
                },
            };
            Chosen {
                node: sanitized(&given, node.optional),
                input: branch_input,
            }
        })
        .collect())
}
