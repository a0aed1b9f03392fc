//! Event handlers (Conductor's `EventHandler`): what to do when an event arrives,
//! as the event API reads and answers them.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::serde_util::null_default;
use super::{JsonMap, Tag};

/// `EventHandler`. `createdBy` and `updatedBy` are the server's: the handler acts
/// as `updatedBy`, whoever saved it last.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct EventHandler {
    #[serde(deserialize_with = "null_default")]
    pub name: String,
    #[serde(deserialize_with = "null_default")]
    pub event: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evaluator_type: Option<String>,
    #[serde(deserialize_with = "null_default")]
    pub actions: Vec<EventAction>,
    #[serde(deserialize_with = "null_default")]
    pub active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(deserialize_with = "null_default")]
    pub tags: Vec<Tag>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub create_time: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub update_time: Option<i64>,
}

/// What an action does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    StartWorkflow,
    CompleteTask,
    FailTask,
    TerminateWorkflow,
    UpdateWorkflowVariables,
}

impl ActionKind {
    /// The wire name.
    pub fn name(self) -> &'static str {
        match self {
            ActionKind::StartWorkflow => "start_workflow",
            ActionKind::CompleteTask => "complete_task",
            ActionKind::FailTask => "fail_task",
            ActionKind::TerminateWorkflow => "terminate_workflow",
            ActionKind::UpdateWorkflowVariables => "update_workflow_variables",
        }
    }
}

/// One action of a handler: its kind and the parameters of that kind, whose
/// `${...}` are resolved against the event's payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventAction {
    pub action: ActionKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_workflow: Option<StartWorkflowAction>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub complete_task: Option<TaskDetails>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail_task: Option<TaskDetails>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terminate_workflow: Option<TerminateWorkflowAction>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_workflow_variables: Option<UpdateVariablesAction>,
    /// Strings of the payload holding JSON are read as JSON first.
    #[serde(
        rename = "expandInlineJSON",
        default,
        deserialize_with = "null_default"
    )]
    pub expand_inline_json: bool,
}

/// `start_workflow`: the workflow (name and version as written), its input,
/// correlation id and task domains.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct StartWorkflowAction {
    #[serde(deserialize_with = "null_default")]
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    #[serde(deserialize_with = "null_default")]
    pub input: JsonMap,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_to_domain: Option<serde_json::Map<String, Value>>,
}

/// `complete_task` and `fail_task`: the task, by id or by workflow and reference
/// name, and the output it ends with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct TaskDetails {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workflow_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_ref_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    #[serde(deserialize_with = "null_default")]
    pub output: JsonMap,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason_for_incompletion: Option<String>,
}

/// `terminate_workflow`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct TerminateWorkflowAction {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workflow_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub termination_reason: Option<String>,
}

/// `update_workflow_variables`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct UpdateVariablesAction {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workflow_id: Option<String>,
    #[serde(deserialize_with = "null_default")]
    pub variables: JsonMap,
    #[serde(deserialize_with = "null_default")]
    pub append_array: bool,
}

impl EventHandler {
    /// A fingerprint of the handler as stored: any change to it (its condition,
    /// actions, activity, or who saved it when) gives another.
    pub fn revision(&self) -> String {
        use sha2::{Digest, Sha256};
        let json = serde_json::to_vec(self).unwrap_or_default();
        Sha256::digest(&json)
            .iter()
            .take(16)
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}
