//! Names that other principals' workflow definitions already use cannot be claimed.
//!
//! A workflow may name a task type that has no task definition, a sub-workflow or a
//! failure workflow that is not registered, or a secret or environment variable that
//! does not exist yet. Whoever registers such a name first would decide what those
//! workflows run or read: a task definition's timeouts, the definition that runs as
//! a failure workflow with the failed workflow's data, the value an HTTP task sends
//! its credentials to. So a new name that definitions use is created only by a
//! principal who may change every definition that uses it (their owners, the
//! metadata managers, administrators).

use serde_json::Value;

use super::Runtime;
use super::handoff;
use crate::engine::TaskKind;
use crate::error::{CoreError, CoreResult};
use crate::model::WorkflowDef;
use crate::security::{Access, Principal, Resource};
use crate::store::SecretKind;

/// What a name is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameUse {
    /// A task definition's name: a worker task type, or the name of any node it
    /// would govern.
    TaskType,
    /// A workflow definition's name, used as a sub-workflow or failure workflow.
    Workflow,
    /// A secret or an environment variable.
    Value(SecretKind),
}

impl NameUse {
    fn noun(self) -> &'static str {
        match self {
            NameUse::TaskType => "task type",
            NameUse::Workflow => "workflow",
            NameUse::Value(SecretKind::Secret) => "secret",
            NameUse::Value(SecretKind::Env) => "environment variable",
        }
    }
}

/// Refuses to let `principal` create `name` when a workflow definition that the
/// principal may not update already uses it.
pub fn check_claim(
    rt: &Runtime,
    principal: &Principal,
    what: NameUse,
    name: &str,
) -> CoreResult<()> {
    for def in rt.defs.all_workflows() {
        if !uses(&def, what, name) {
            continue;
        }
        if rt
            .authorizer
            .can(principal, Access::Update, Resource::workflow_def(&def.name))
        {
            continue;
        }
        return Err(CoreError::Forbidden(format!(
            "You don't have permissions to create {} {name}: workflow definition {} uses that name and you may not change it; its owner or an administrator may create it",
            what.noun(),
            def.name
        )));
    }
    Ok(())
}

/// Whether a definition uses `name` as `what`.
fn uses(def: &WorkflowDef, what: NameUse, name: &str) -> bool {
    match what {
        NameUse::Workflow if def.failure_workflow_name() == Some(name) => true,
        NameUse::Workflow => def.all_tasks().iter().any(|task| {
            TaskKind::of(&task.task_type) == TaskKind::SubWorkflow
                && task
                    .sub_workflow_param
                    .as_ref()
                    .is_some_and(|p| p.name == name)
        }),
        // A registered task definition governs every node of its name, system tasks
        // included (`EngineContext::task_def_for`): its `inputTemplate` is merged into
        // the node's input (an `HTTP` task's request, a sub-workflow's input), its
        // retries and timeouts apply. Only a node carrying its own definition is
        // not governed by it.
        NameUse::TaskType => def
            .all_tasks()
            .iter()
            .any(|task| task.task_definition.is_none() && task.name == name),
        NameUse::Value(kind) => def.all_tasks().iter().any(|task| {
            handoff::has_references(&task.input_parameters)
                && handoff::references(&Value::Object(task.input_parameters.clone()))
                    .iter()
                    .any(|r| r.kind == kind && r.name == name)
        }),
    }
}
