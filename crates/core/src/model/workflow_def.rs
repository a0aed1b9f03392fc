//! Workflow definitions (`WorkflowDef`) and the task graph inside them (`WorkflowTask`).

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::serde_util::{nested_tasks, null_default};
use super::task_def::TaskDef;
use super::{JsonMap, Tag};

/// What happens when a workflow exceeds `timeoutSeconds`.
///
/// The default is `ALERT_ONLY`, as in Conductor: the Python builder sends
/// `timeoutSeconds: 60` without a policy and expects the workflow to keep running.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum WorkflowTimeoutPolicy {
    /// The workflow is timed out.
    TimeOutWf,
    /// Only an alert is raised.
    #[default]
    AlertOnly,
}

/// A workflow definition as registered through `/api/metadata/workflow`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct WorkflowDef {
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
    pub version: i32,
    #[serde(deserialize_with = "null_default")]
    pub tasks: Vec<WorkflowTask>,
    #[serde(deserialize_with = "null_default")]
    pub input_parameters: Vec<String>,
    #[serde(deserialize_with = "null_default")]
    pub output_parameters: JsonMap,
    /// Name of the workflow started when this one fails; `""` means none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_workflow: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_workflow_version: Option<i32>,
    #[serde(deserialize_with = "null_default")]
    pub schema_version: i32,
    #[serde(deserialize_with = "restartable_default")]
    pub restartable: bool,
    #[serde(deserialize_with = "null_default")]
    pub workflow_status_listener_enabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workflow_status_listener_sink: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner_email: Option<String>,
    #[serde(deserialize_with = "null_default")]
    pub timeout_policy: WorkflowTimeoutPolicy,
    #[serde(deserialize_with = "null_default")]
    pub timeout_seconds: i64,
    #[serde(deserialize_with = "null_default")]
    pub variables: JsonMap,
    #[serde(deserialize_with = "null_default")]
    pub input_template: JsonMap,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_schema: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_schema: Option<Value>,
    #[serde(deserialize_with = "null_default")]
    pub enforce_schema: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<JsonMap>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limit_config: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_config: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub masked_fields: Option<Vec<String>>,
    /// Orkes: tags given with the definition.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<Tag>>,
}

fn restartable_default<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(Option::<bool>::deserialize(d)?.unwrap_or(true))
}

impl Default for WorkflowDef {
    fn default() -> Self {
        WorkflowDef {
            owner_app: None,
            create_time: None,
            update_time: None,
            created_by: None,
            updated_by: None,
            name: String::new(),
            description: None,
            version: 1,
            tasks: Vec::new(),
            input_parameters: Vec::new(),
            output_parameters: JsonMap::new(),
            failure_workflow: None,
            failure_workflow_version: None,
            schema_version: 2,
            restartable: true,
            workflow_status_listener_enabled: false,
            workflow_status_listener_sink: None,
            owner_email: None,
            timeout_policy: WorkflowTimeoutPolicy::AlertOnly,
            timeout_seconds: 0,
            variables: JsonMap::new(),
            input_template: JsonMap::new(),
            input_schema: None,
            output_schema: None,
            // Conductor enforces a named input schema unless told not to.
            enforce_schema: true,
            metadata: None,
            rate_limit_config: None,
            cache_config: None,
            masked_fields: None,
            tags: None,
        }
    }
}

impl WorkflowDef {
    /// The failure workflow's name, treating `""` (the Python builder's default) as none.
    pub fn failure_workflow_name(&self) -> Option<&str> {
        self.failure_workflow
            .as_deref()
            .filter(|name| !name.trim().is_empty())
    }

    /// Every task of the definition, depth first, including tasks nested in forks and
    /// switch cases.
    pub fn all_tasks(&self) -> Vec<&WorkflowTask> {
        let mut out = Vec::new();
        for task in &self.tasks {
            task.collect(&mut out);
        }
        out
    }
}

/// Parameters of a `SUB_WORKFLOW` task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct SubWorkflowParams {
    #[serde(deserialize_with = "null_default")]
    pub name: String,
    /// The version to run; latest when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_to_domain: Option<serde_json::Map<String, Value>>,
    /// An inline definition, used instead of a registered one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workflow_definition: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idempotency_strategy: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<Value>,
}

/// One node of a workflow definition's task graph.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct WorkflowTask {
    #[serde(deserialize_with = "null_default")]
    pub name: String,
    #[serde(deserialize_with = "null_default")]
    pub task_reference_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(deserialize_with = "null_default")]
    pub input_parameters: JsonMap,
    #[serde(rename = "type", deserialize_with = "type_default")]
    pub task_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dynamic_task_name_param: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub case_value_param: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub case_expression: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub script_expression: Option<String>,
    #[serde(deserialize_with = "nested_tasks")]
    pub decision_cases: IndexMap<String, Vec<WorkflowTask>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dynamic_fork_join_tasks_param: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dynamic_fork_tasks_param: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dynamic_fork_tasks_input_param_name: Option<String>,
    #[serde(deserialize_with = "nested_tasks")]
    pub default_case: Vec<WorkflowTask>,
    #[serde(deserialize_with = "nested_tasks")]
    pub fork_tasks: Vec<Vec<WorkflowTask>>,
    #[serde(deserialize_with = "null_default")]
    pub start_delay: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub_workflow_param: Option<SubWorkflowParams>,
    #[serde(deserialize_with = "null_default")]
    pub join_on: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sink: Option<String>,
    #[serde(deserialize_with = "null_default")]
    pub optional: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_definition: Option<TaskDef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limited: Option<bool>,
    #[serde(deserialize_with = "null_default")]
    pub default_exclusive_join_task: Vec<String>,
    #[serde(deserialize_with = "null_default")]
    pub async_complete: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loop_condition: Option<String>,
    #[serde(deserialize_with = "nested_tasks")]
    pub loop_over: Vec<WorkflowTask>,
    /// A `DO_WHILE` over a list: the expression (`${...}`) of the list, one iteration
    /// per item.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub items: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_count: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evaluator_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expression: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_state_change: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub join_status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_config: Option<Value>,
    #[serde(deserialize_with = "null_default")]
    pub permissive: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workflow_task_type: Option<Value>,
}

fn type_default<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(Option::<String>::deserialize(d)?
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| "SIMPLE".to_string()))
}

impl Default for WorkflowTask {
    fn default() -> Self {
        WorkflowTask {
            name: String::new(),
            task_reference_name: String::new(),
            description: None,
            input_parameters: JsonMap::new(),
            task_type: "SIMPLE".to_string(),
            dynamic_task_name_param: None,
            case_value_param: None,
            case_expression: None,
            script_expression: None,
            decision_cases: IndexMap::new(),
            dynamic_fork_join_tasks_param: None,
            dynamic_fork_tasks_param: None,
            dynamic_fork_tasks_input_param_name: None,
            default_case: Vec::new(),
            fork_tasks: Vec::new(),
            start_delay: 0,
            sub_workflow_param: None,
            join_on: Vec::new(),
            sink: None,
            optional: false,
            task_definition: None,
            rate_limited: None,
            default_exclusive_join_task: Vec::new(),
            async_complete: false,
            loop_condition: None,
            loop_over: Vec::new(),
            items: None,
            retry_count: None,
            evaluator_type: None,
            expression: None,
            on_state_change: None,
            join_status: None,
            cache_config: None,
            permissive: false,
            workflow_task_type: None,
        }
    }
}

impl WorkflowTask {
    fn collect<'a>(&'a self, out: &mut Vec<&'a WorkflowTask>) {
        out.push(self);
        for branch in &self.fork_tasks {
            for task in branch {
                task.collect(out);
            }
        }
        for task in self.decision_cases.values().flatten() {
            task.collect(out);
        }
        for task in &self.default_case {
            task.collect(out);
        }
        for task in &self.loop_over {
            task.collect(out);
        }
    }

    /// Every task of a loop's body (its `loopOver` tasks and the tasks nested in
    /// them), depth first.
    pub fn loop_body(&self) -> Vec<&WorkflowTask> {
        let mut out = Vec::new();
        for task in &self.loop_over {
            task.collect(&mut out);
        }
        out
    }
}
