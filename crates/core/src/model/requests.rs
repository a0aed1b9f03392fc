//! Request and response shapes of the workflow and task APIs that are not executions or
//! definitions themselves.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::JsonMap;
use super::serde_util::null_default;
use super::task::Task;
use super::workflow::WorkflowStatus;
use super::workflow_def::WorkflowDef;

/// What to do when a start names an idempotency key that was already used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum IdempotencyStrategy {
    /// Refuse the start.
    #[default]
    Fail,
    /// Answer with the existing workflow's id.
    ReturnExisting,
    /// Refuse while the existing workflow runs; start anew once it has ended.
    FailOnRunning,
}

/// `POST /api/workflow` body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct StartWorkflowRequest {
    #[serde(deserialize_with = "null_default")]
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    #[serde(deserialize_with = "null_default")]
    pub input: JsonMap,
    #[serde(deserialize_with = "null_default")]
    pub task_to_domain: serde_json::Map<String, Value>,
    /// An inline definition (dynamic workflow).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workflow_def: Option<WorkflowDef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_input_payload_storage_path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    #[serde(deserialize_with = "null_default")]
    pub idempotency_strategy: IdempotencyStrategy,
}

/// `POST /api/workflow/{id}/rerun` body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct RerunWorkflowRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub re_run_from_workflow_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workflow_input: Option<JsonMap>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub re_run_from_task_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_input: Option<JsonMap>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
}

/// Input and output given to a skipped task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct SkipTaskRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_input: Option<JsonMap>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_output: Option<JsonMap>,
}

/// Orkes's `UpgradeWorkflowRequest`: the version to move a running workflow to, its
/// input there, and the output of the tasks the upgrade skips, by reference name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct UpgradeWorkflowRequest {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workflow_input: Option<JsonMap>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_output: Option<std::collections::BTreeMap<String, JsonMap>>,
}

/// Result of a bulk operation: ids that worked, and an error per id that did not.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct BulkResponse {
    pub bulk_error_results: serde_json::Map<String, Value>,
    pub bulk_successful_results: Vec<Value>,
}

/// `GET /api/workflow/{id}/status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowStatusView {
    pub workflow_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<JsonMap>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variables: Option<JsonMap>,
    pub status: WorkflowStatus,
}

/// A page of search results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchResult<T> {
    pub total_hits: i64,
    pub results: Vec<T>,
}

/// One workflow in search results (Conductor's `WorkflowSummary`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowSummary {
    pub workflow_type: String,
    pub version: i32,
    pub workflow_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    /// ISO-8601, as Conductor's index renders it.
    pub start_time: String,
    pub update_time: String,
    /// Absent until the workflow ends, as in Conductor.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_time: Option<String>,
    pub status: String,
    /// The input as JSON text.
    pub input: String,
    /// The output as JSON text.
    pub output: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason_for_incompletion: Option<String>,
    pub execution_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    /// Comma-joined reference names.
    pub failed_reference_task_names: String,
    pub failed_task_names: Vec<String>,
    pub priority: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    pub input_size: i64,
    pub output_size: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_input_payload_storage_path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_output_payload_storage_path: Option<String>,
}

/// One task in search results (Conductor's `TaskSummary`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct TaskSummary {
    pub workflow_id: String,
    pub workflow_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    pub scheduled_time: String,
    pub start_time: String,
    pub update_time: String,
    pub end_time: String,
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason_for_incompletion: Option<String>,
    pub execution_time: i64,
    pub queue_wait_time: i64,
    pub task_def_name: String,
    pub task_type: String,
    pub input: String,
    pub output: String,
    pub task_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    pub workflow_priority: i32,
    pub task_reference_name: String,
}

/// When a worker last polled a queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PollData {
    pub queue_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    pub worker_id: String,
    pub last_poll_time: i64,
}

/// `POST /api/workflow/execute/...` answer (`WorkflowRun` / `SignalResponse`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowRun {
    pub response_type: String,
    pub target_workflow_id: String,
    pub target_workflow_status: WorkflowStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    pub workflow_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    pub input: JsonMap,
    pub output: JsonMap,
    pub status: WorkflowStatus,
    pub tasks: Vec<Task>,
    pub variables: JsonMap,
    pub priority: i32,
    pub create_time: i64,
    pub update_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
}
