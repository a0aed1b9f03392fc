//! Workflow executions (`Workflow`) and their status.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::JsonMap;
use super::serde_util::null_default;
use super::task::Task;
use super::workflow_def::WorkflowDef;

/// The status of a workflow execution. The Python SDK rejects any other value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum WorkflowStatus {
    Running,
    Completed,
    Failed,
    TimedOut,
    Terminated,
    Paused,
}

impl WorkflowStatus {
    /// Every status, in wire order.
    pub const ALL: [WorkflowStatus; 6] = [
        WorkflowStatus::Running,
        WorkflowStatus::Completed,
        WorkflowStatus::Failed,
        WorkflowStatus::TimedOut,
        WorkflowStatus::Terminated,
        WorkflowStatus::Paused,
    ];

    /// Whether the workflow has ended.
    pub fn is_terminal(self) -> bool {
        !matches!(self, WorkflowStatus::Running | WorkflowStatus::Paused)
    }

    /// Whether the workflow ended well.
    pub fn is_successful(self) -> bool {
        matches!(self, WorkflowStatus::Completed)
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            WorkflowStatus::Running => "RUNNING",
            WorkflowStatus::Completed => "COMPLETED",
            WorkflowStatus::Failed => "FAILED",
            WorkflowStatus::TimedOut => "TIMED_OUT",
            WorkflowStatus::Terminated => "TERMINATED",
            WorkflowStatus::Paused => "PAUSED",
        }
    }

    /// Parses a wire name, case-insensitively.
    pub fn parse(text: &str) -> Option<WorkflowStatus> {
        serde_json::from_value(Value::String(text.trim().to_ascii_uppercase())).ok()
    }
}

/// One workflow execution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Workflow {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner_app: Option<String>,
    #[serde(deserialize_with = "null_default")]
    pub create_time: i64,
    #[serde(deserialize_with = "null_default")]
    pub update_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_by: Option<String>,
    pub status: WorkflowStatus,
    #[serde(deserialize_with = "null_default")]
    pub start_time: i64,
    #[serde(deserialize_with = "null_default")]
    pub end_time: i64,
    #[serde(deserialize_with = "null_default")]
    pub workflow_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_workflow_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_workflow_task_id: Option<String>,
    /// The tasks, in scheduling order; empty in the persisted record, filled when served.
    #[serde(deserialize_with = "null_default")]
    pub tasks: Vec<Task>,
    #[serde(deserialize_with = "null_default")]
    pub input: JsonMap,
    #[serde(deserialize_with = "null_default")]
    pub output: JsonMap,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub re_run_from_workflow_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason_for_incompletion: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    #[serde(deserialize_with = "null_default")]
    pub task_to_domain: serde_json::Map<String, Value>,
    #[serde(deserialize_with = "null_default")]
    pub failed_reference_task_names: Vec<String>,
    #[serde(deserialize_with = "null_default")]
    pub failed_task_names: Vec<String>,
    /// The definition this execution runs; filled when served, stored once per revision.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workflow_definition: Option<WorkflowDef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_input_payload_storage_path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_output_payload_storage_path: Option<String>,
    #[serde(deserialize_with = "null_default")]
    pub priority: i32,
    #[serde(deserialize_with = "null_default")]
    pub variables: JsonMap,
    #[serde(deserialize_with = "null_default")]
    pub last_retried_time: i64,
    #[serde(deserialize_with = "null_default")]
    pub history: Vec<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limit_key: Option<String>,
    #[serde(deserialize_with = "null_default")]
    pub rate_limited: bool,
    #[serde(deserialize_with = "null_default")]
    pub workflow_name: String,
    #[serde(deserialize_with = "null_default")]
    pub workflow_version: i32,
    /// The input and output fields whose values this run masks: its definition's
    /// `maskedFields`, and those of its input that carry values its parent (or the
    /// failed workflow it handles) masked. Recorded when the run starts, so views,
    /// searches and sealing at rest never depend on a definition that may change.
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_default"
    )]
    pub masked_fields: Vec<String>,
    /// Values this run masks wherever they appear, recorded as they reach it (see
    /// `service::masking`). Kept sealed in the store and never shown: every view
    /// leaves it out.
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_default"
    )]
    pub masked_values: Vec<String>,
}

impl Default for Workflow {
    fn default() -> Self {
        Workflow {
            owner_app: None,
            create_time: 0,
            update_time: 0,
            created_by: None,
            updated_by: None,
            status: WorkflowStatus::Running,
            start_time: 0,
            end_time: 0,
            workflow_id: String::new(),
            parent_workflow_id: None,
            parent_workflow_task_id: None,
            tasks: Vec::new(),
            input: JsonMap::new(),
            output: JsonMap::new(),
            correlation_id: None,
            re_run_from_workflow_id: None,
            reason_for_incompletion: None,
            event: None,
            task_to_domain: serde_json::Map::new(),
            failed_reference_task_names: Vec::new(),
            failed_task_names: Vec::new(),
            workflow_definition: None,
            external_input_payload_storage_path: None,
            external_output_payload_storage_path: None,
            priority: 0,
            variables: JsonMap::new(),
            last_retried_time: 0,
            history: Vec::new(),
            idempotency_key: None,
            rate_limit_key: None,
            rate_limited: false,
            workflow_name: String::new(),
            masked_fields: Vec::new(),
            masked_values: Vec::new(),
            workflow_version: 0,
        }
    }
}
