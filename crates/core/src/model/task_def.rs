//! Task definitions (`TaskDef`): retry, timeout and rate-limit settings of a task type.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::serde_util::null_default;
use super::{JsonMap, Tag};

/// How a failed task's next attempt is delayed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RetryLogic {
    /// `retryDelaySeconds` every time.
    #[default]
    Fixed,
    /// `retryDelaySeconds * backoffScaleFactor * attempt`.
    LinearBackoff,
    /// `retryDelaySeconds * 2^attempt`.
    ExponentialBackoff,
}

/// What happens when a task exceeds `timeoutSeconds`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TaskTimeoutPolicy {
    /// The task is timed out and retried while retries remain.
    Retry,
    /// The task and its workflow are timed out.
    #[default]
    TimeOutWf,
    /// Only an alert is raised; the task keeps running.
    AlertOnly,
}

/// A task definition as registered through `/api/metadata/taskdefs`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TaskDef {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner_app: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub create_time: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub update_time: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_by: Option<String>,
    #[serde(deserialize_with = "null_default")]
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(deserialize_with = "null_default")]
    pub retry_count: i32,
    #[serde(deserialize_with = "null_default")]
    pub timeout_seconds: i64,
    #[serde(deserialize_with = "null_default")]
    pub input_keys: Vec<String>,
    #[serde(deserialize_with = "null_default")]
    pub output_keys: Vec<String>,
    #[serde(deserialize_with = "null_default")]
    pub timeout_policy: TaskTimeoutPolicy,
    #[serde(deserialize_with = "null_default")]
    pub retry_logic: RetryLogic,
    #[serde(deserialize_with = "null_default")]
    pub retry_delay_seconds: i64,
    #[serde(deserialize_with = "null_default")]
    pub response_timeout_seconds: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub concurrent_exec_limit: Option<i32>,
    #[serde(deserialize_with = "null_default")]
    pub input_template: JsonMap,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limit_per_frequency: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limit_frequency_in_seconds: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub isolation_group_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution_name_space: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner_email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub poll_timeout_seconds: Option<i64>,
    #[serde(deserialize_with = "null_default")]
    pub backoff_scale_factor: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_retry_delay_seconds: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_timeout_seconds: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_schema: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_schema: Option<Value>,
    #[serde(deserialize_with = "null_default")]
    pub enforce_schema: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runtime_metadata: Option<Value>,
    /// Orkes `ExtendedTaskDef`: tags given with the definition.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<Tag>>,
}

impl Default for TaskDef {
    fn default() -> Self {
        TaskDef {
            owner_app: None,
            create_time: None,
            update_time: None,
            created_by: None,
            updated_by: None,
            name: String::new(),
            description: None,
            retry_count: 3,
            timeout_seconds: 0,
            input_keys: Vec::new(),
            output_keys: Vec::new(),
            timeout_policy: TaskTimeoutPolicy::TimeOutWf,
            retry_logic: RetryLogic::Fixed,
            retry_delay_seconds: 60,
            response_timeout_seconds: 3600,
            concurrent_exec_limit: None,
            input_template: JsonMap::new(),
            rate_limit_per_frequency: None,
            rate_limit_frequency_in_seconds: None,
            isolation_group_id: None,
            execution_name_space: None,
            owner_email: None,
            poll_timeout_seconds: None,
            backoff_scale_factor: 1,
            max_retry_delay_seconds: None,
            base_type: None,
            total_timeout_seconds: None,
            input_schema: None,
            output_schema: None,
            enforce_schema: false,
            runtime_metadata: None,
            tags: None,
        }
    }
}

impl TaskDef {
    /// The definition Conductor assumes for a worker task that was never registered.
    pub fn ad_hoc(name: &str) -> TaskDef {
        TaskDef {
            name: name.to_string(),
            ..TaskDef::default()
        }
    }
}
