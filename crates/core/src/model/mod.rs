//! Conductor's JSON types (serde, camelCase) and Podium's id newtypes.

pub mod event_handler;
pub mod event_record;
pub mod requests;
pub mod schedule;
pub mod schema;
pub mod serde_util;
pub mod service_registry;
pub mod task;
pub mod task_def;
pub mod workflow;
pub mod workflow_def;

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use event_handler::{ActionKind, EventAction, EventHandler};
pub use event_record::{EventExecution, EventMessage, HandledEvent};
pub use requests::*;
pub use schedule::{ScheduleExecution, ScheduleExecutionState, WorkflowSchedule};
pub use schema::{SchemaDef, SchemaType};
pub use service_registry::{
    CircuitBreakerConfig, ProtoFile, RegisteredService, RequestParam, ServiceConfig, ServiceMethod,
    ServiceType,
};
pub use task::{Task, TaskExecLog, TaskResult, TaskResultStatus, TaskStatus};
pub use task_def::{RetryLogic, TaskDef, TaskTimeoutPolicy};
pub use workflow::{Workflow, WorkflowStatus};
pub use workflow_def::{SubWorkflowParams, WorkflowDef, WorkflowTask, WorkflowTimeoutPolicy};

/// A JSON object, keys in insertion order.
pub type JsonMap = serde_json::Map<String, Value>;

macro_rules! id_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub String);

        impl $name {
            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                $name(value.to_string())
            }
        }

        impl From<String> for $name {
            fn from(value: String) -> Self {
                $name(value)
            }
        }
    };
}

id_newtype!(
    /// The id of a workflow execution.
    WorkflowId
);
id_newtype!(
    /// The id of a task execution.
    TaskId
);

/// A tag on a definition or other resource. `type` is `METADATA` or `RATE_LIMIT`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tag {
    pub key: String,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub tag_type: Option<String>,
    #[serde(default, deserialize_with = "tag_value")]
    pub value: String,
}

/// Tag values arrive as strings (metadata tags) or numbers (rate-limit tags).
fn tag_value<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s,
        Some(other) => other.to_string(),
    })
}
