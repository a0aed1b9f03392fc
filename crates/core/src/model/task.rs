//! Task executions (`Task`), worker results (`TaskResult`) and task logs.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::JsonMap;
use super::serde_util::null_default;
use super::workflow_def::WorkflowTask;

/// The status of one task execution. The Python SDK rejects any other value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TaskStatus {
    InProgress,
    Canceled,
    Failed,
    FailedWithTerminalError,
    Completed,
    CompletedWithErrors,
    Scheduled,
    TimedOut,
    Skipped,
}

impl TaskStatus {
    /// Whether the task will not change any more (without a retry or rerun).
    pub fn is_terminal(self) -> bool {
        !matches!(self, TaskStatus::InProgress | TaskStatus::Scheduled)
    }

    /// Whether the task ended in a way that lets the workflow go on.
    pub fn is_successful(self) -> bool {
        matches!(
            self,
            TaskStatus::Completed | TaskStatus::CompletedWithErrors | TaskStatus::Skipped
        )
    }

    /// Whether a failed task may be retried.
    pub fn is_retriable(self) -> bool {
        matches!(self, TaskStatus::Failed | TaskStatus::TimedOut)
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::InProgress => "IN_PROGRESS",
            TaskStatus::Canceled => "CANCELED",
            TaskStatus::Failed => "FAILED",
            TaskStatus::FailedWithTerminalError => "FAILED_WITH_TERMINAL_ERROR",
            TaskStatus::Completed => "COMPLETED",
            TaskStatus::CompletedWithErrors => "COMPLETED_WITH_ERRORS",
            TaskStatus::Scheduled => "SCHEDULED",
            TaskStatus::TimedOut => "TIMED_OUT",
            TaskStatus::Skipped => "SKIPPED",
        }
    }

    /// Parses a wire name, case-insensitively.
    pub fn parse(text: &str) -> Option<TaskStatus> {
        serde_json::from_value(Value::String(text.trim().to_ascii_uppercase())).ok()
    }
}

/// One execution of one task of a workflow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Task {
    #[serde(deserialize_with = "null_default")]
    pub task_type: String,
    pub status: TaskStatus,
    #[serde(deserialize_with = "null_default")]
    pub input_data: JsonMap,
    #[serde(deserialize_with = "null_default")]
    pub reference_task_name: String,
    #[serde(deserialize_with = "null_default")]
    pub retry_count: i32,
    #[serde(deserialize_with = "null_default")]
    pub seq: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    #[serde(deserialize_with = "null_default")]
    pub poll_count: i32,
    #[serde(deserialize_with = "null_default")]
    pub task_def_name: String,
    #[serde(deserialize_with = "null_default")]
    pub scheduled_time: i64,
    #[serde(deserialize_with = "null_default")]
    pub start_time: i64,
    #[serde(deserialize_with = "null_default")]
    pub end_time: i64,
    #[serde(deserialize_with = "null_default")]
    pub update_time: i64,
    #[serde(deserialize_with = "null_default")]
    pub start_delay_in_seconds: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retried_task_id: Option<String>,
    #[serde(deserialize_with = "null_default")]
    pub retried: bool,
    #[serde(deserialize_with = "null_default")]
    pub executed: bool,
    #[serde(deserialize_with = "null_default")]
    pub callback_from_worker: bool,
    #[serde(deserialize_with = "null_default")]
    pub response_timeout_seconds: i64,
    #[serde(deserialize_with = "null_default")]
    pub workflow_instance_id: String,
    #[serde(deserialize_with = "null_default")]
    pub workflow_type: String,
    #[serde(deserialize_with = "null_default")]
    pub task_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason_for_incompletion: Option<String>,
    #[serde(deserialize_with = "null_default")]
    pub callback_after_seconds: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub worker_id: Option<String>,
    #[serde(deserialize_with = "null_default")]
    pub output_data: JsonMap,
    /// The definition node this task came from. Filled in when a task is served; not
    /// persisted, since it is derivable from the workflow's definition.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workflow_task: Option<WorkflowTask>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    #[serde(deserialize_with = "null_default")]
    pub rate_limit_per_frequency: i32,
    #[serde(deserialize_with = "null_default")]
    pub rate_limit_frequency_in_seconds: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_input_payload_storage_path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_output_payload_storage_path: Option<String>,
    #[serde(deserialize_with = "null_default")]
    pub workflow_priority: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution_name_space: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub isolation_group_id: Option<String>,
    #[serde(deserialize_with = "null_default")]
    pub iteration: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub_workflow_id: Option<String>,
    #[serde(deserialize_with = "null_default")]
    pub subworkflow_changed: bool,
    #[serde(deserialize_with = "null_default")]
    pub loop_over_task: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_task_id: Option<String>,
    #[serde(deserialize_with = "null_default")]
    pub first_start_time: i64,
    #[serde(deserialize_with = "null_default")]
    pub queue_wait_time: i64,
    /// When a `WAIT` task completes by itself (epoch ms).
    #[serde(rename = "waitTimeout", skip_serializing_if = "Option::is_none")]
    pub wait_until: Option<i64>,
}

impl Default for Task {
    fn default() -> Self {
        Task {
            task_type: String::new(),
            status: TaskStatus::Scheduled,
            input_data: JsonMap::new(),
            reference_task_name: String::new(),
            retry_count: 0,
            seq: 0,
            correlation_id: None,
            poll_count: 0,
            task_def_name: String::new(),
            scheduled_time: 0,
            start_time: 0,
            end_time: 0,
            update_time: 0,
            start_delay_in_seconds: 0,
            retried_task_id: None,
            retried: false,
            executed: false,
            callback_from_worker: true,
            response_timeout_seconds: 0,
            workflow_instance_id: String::new(),
            workflow_type: String::new(),
            task_id: String::new(),
            reason_for_incompletion: None,
            callback_after_seconds: 0,
            worker_id: None,
            output_data: JsonMap::new(),
            workflow_task: None,
            domain: None,
            rate_limit_per_frequency: 0,
            rate_limit_frequency_in_seconds: 0,
            external_input_payload_storage_path: None,
            external_output_payload_storage_path: None,
            workflow_priority: 0,
            execution_name_space: None,
            isolation_group_id: None,
            iteration: 0,
            sub_workflow_id: None,
            subworkflow_changed: false,
            loop_over_task: false,
            parent_task_id: None,
            first_start_time: 0,
            queue_wait_time: 0,
            wait_until: None,
        }
    }
}

/// The status a worker may report in a `TaskResult`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TaskResultStatus {
    InProgress,
    Failed,
    FailedWithTerminalError,
    Completed,
}

impl TaskResultStatus {
    /// The task status this result leads to.
    pub fn task_status(self) -> TaskStatus {
        match self {
            TaskResultStatus::InProgress => TaskStatus::InProgress,
            TaskResultStatus::Failed => TaskStatus::Failed,
            TaskResultStatus::FailedWithTerminalError => TaskStatus::FailedWithTerminalError,
            TaskResultStatus::Completed => TaskStatus::Completed,
        }
    }

    /// Parses a wire name, case-insensitively.
    pub fn parse(text: &str) -> Option<TaskResultStatus> {
        serde_json::from_value(Value::String(text.trim().to_ascii_uppercase())).ok()
    }
}

/// A worker's report on a task (`POST /api/tasks`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskResult {
    #[serde(default, deserialize_with = "null_default")]
    pub workflow_instance_id: String,
    #[serde(default, deserialize_with = "null_default")]
    pub task_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason_for_incompletion: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub callback_after_seconds: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker_id: Option<String>,
    pub status: TaskResultStatus,
    #[serde(default, deserialize_with = "null_default")]
    pub output_data: JsonMap,
    #[serde(default, deserialize_with = "null_default")]
    pub logs: Vec<TaskExecLog>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_output_payload_storage_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_workflow_id: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub extend_lease: bool,
}

impl TaskResult {
    /// A result the server reports itself (a system task, a signal, a mock): the
    /// status and output, with a reason for anything but success or progress.
    pub fn reported(
        workflow_id: String,
        task_id: String,
        status: TaskResultStatus,
        output: JsonMap,
        reason: Option<String>,
    ) -> TaskResult {
        TaskResult {
            workflow_instance_id: workflow_id,
            task_id,
            reason_for_incompletion: reason,
            callback_after_seconds: 0,
            worker_id: None,
            status,
            output_data: output,
            logs: Vec::new(),
            external_output_payload_storage_path: None,
            sub_workflow_id: None,
            extend_lease: false,
        }
    }
}

/// One log line attached to a task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct TaskExecLog {
    #[serde(deserialize_with = "null_default")]
    pub log: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    #[serde(deserialize_with = "null_default")]
    pub created_time: i64,
}
