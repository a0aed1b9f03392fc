//! Workflow schedules (Orkes' scheduler API): a cron expression that starts a
//! workflow, and the record of each start.

use serde::{Deserialize, Serialize};

use super::serde_util::null_default;
use super::{StartWorkflowRequest, Tag};

/// `WorkflowSchedule`, as the scheduler API reads and answers it. A save
/// (`SaveScheduleRequest`) has the same fields; the audit fields, `pausedReason` and
/// `tags` of a save are ignored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct WorkflowSchedule {
    #[serde(deserialize_with = "null_default")]
    pub name: String,
    #[serde(deserialize_with = "null_default")]
    pub cron_expression: String,
    #[serde(deserialize_with = "null_default")]
    pub run_catchup_schedule_instances: bool,
    #[serde(deserialize_with = "null_default")]
    pub paused: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paused_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_workflow_request: Option<StartWorkflowRequest>,
    /// No start before this time (epoch milliseconds), when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule_start_time: Option<i64>,
    /// No start after this time (epoch milliseconds), when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule_end_time: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub create_time: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_time: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zone_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(deserialize_with = "null_default")]
    pub tags: Vec<Tag>,
}

impl WorkflowSchedule {
    /// The name of the workflow it starts.
    pub fn workflow_name(&self) -> &str {
        self.start_workflow_request
            .as_ref()
            .map_or("", |request| request.name.as_str())
    }
}

/// What became of one due time of a schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ScheduleExecutionState {
    /// Taken up, the workflow not started yet.
    #[default]
    Polled,
    /// The workflow was started.
    Executed,
    /// The workflow could not be started (`reason` says why).
    Failed,
}

impl ScheduleExecutionState {
    pub fn as_str(self) -> &'static str {
        match self {
            ScheduleExecutionState::Polled => "POLLED",
            ScheduleExecutionState::Executed => "EXECUTED",
            ScheduleExecutionState::Failed => "FAILED",
        }
    }
}

/// `WorkflowScheduleExecutionModel`: one due time of a schedule and the workflow it
/// started.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct ScheduleExecution {
    #[serde(deserialize_with = "null_default")]
    pub execution_id: String,
    #[serde(deserialize_with = "null_default")]
    pub schedule_name: String,
    /// The due time (epoch milliseconds).
    #[serde(deserialize_with = "null_default")]
    pub scheduled_time: i64,
    /// When it was acted on.
    #[serde(deserialize_with = "null_default")]
    pub execution_time: i64,
    #[serde(deserialize_with = "null_default")]
    pub workflow_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workflow_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_workflow_request: Option<StartWorkflowRequest>,
    #[serde(deserialize_with = "null_default")]
    pub state: ScheduleExecutionState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zone_id: Option<String>,
}
