//! Validation of definitions before they are stored, so that a workflow never fails at
//! run time for a reason its definition already showed.

use std::collections::HashSet;

use crate::engine::TaskKind;
use crate::error::ValidationError;
use crate::model::{TaskDef, WorkflowDef, WorkflowTask};

/// Names may not contain these (Conductor's rule: `:` separates domains in queue names).
fn bad_name_chars(name: &str) -> bool {
    name.contains(':') || name.chars().any(char::is_control)
}

/// Problems with a task definition.
pub fn task_def(def: &TaskDef, path: &str) -> Vec<ValidationError> {
    let mut errors = Vec::new();
    let at = |field: &str| {
        if path.is_empty() {
            field.to_string()
        } else {
            format!("{path}.{field}")
        }
    };
    if def.name.trim().is_empty() {
        errors.push(ValidationError::new(
            at("name"),
            "TaskDef name cannot be null or empty",
        ));
    } else if bad_name_chars(&def.name) {
        errors.push(ValidationError::new(
            at("name"),
            format!(
                "TaskDef name '{}' must not contain ':' or control characters",
                def.name
            ),
        ));
    }
    if def.retry_count < 0 {
        errors.push(ValidationError::new(
            at("retryCount"),
            "TaskDef retryCount: must be >= 0",
        ));
    }
    if def.timeout_seconds < 0 {
        errors.push(ValidationError::new(
            at("timeoutSeconds"),
            "TaskDef timeoutSeconds: must be >= 0",
        ));
    }
    if def.response_timeout_seconds < 0 {
        errors.push(ValidationError::new(
            at("responseTimeoutSeconds"),
            "TaskDef responseTimeoutSeconds: must be >= 0",
        ));
    }
    if def.retry_delay_seconds < 0 {
        errors.push(ValidationError::new(
            at("retryDelaySeconds"),
            "TaskDef retryDelaySeconds: must be >= 0",
        ));
    }
    if def.backoff_scale_factor < 1 {
        errors.push(ValidationError::new(
            at("backoffScaleFactor"),
            "TaskDef backoffScaleFactor: must be >= 1",
        ));
    }
    if def.timeout_seconds > 0 && def.response_timeout_seconds > def.timeout_seconds {
        errors.push(ValidationError::new(
            at("responseTimeoutSeconds"),
            format!(
                "TaskDef: {} responseTimeoutSeconds: {} must be less than timeoutSeconds: {}",
                def.name, def.response_timeout_seconds, def.timeout_seconds
            ),
        ));
    }
    if def.poll_timeout_seconds.is_some_and(|p| p < 0) {
        errors.push(ValidationError::new(
            at("pollTimeoutSeconds"),
            "TaskDef pollTimeoutSeconds: must be >= 0",
        ));
    }
    errors
}

/// Problems with a workflow definition.
pub fn workflow_def(def: &WorkflowDef) -> Vec<ValidationError> {
    let mut errors = Vec::new();
    if def.name.trim().is_empty() {
        errors.push(ValidationError::new(
            "name",
            "WorkflowDef name cannot be null or empty",
        ));
    } else if bad_name_chars(&def.name) {
        errors.push(ValidationError::new(
            "name",
            format!(
                "Workflow name '{}' must not contain ':' or control characters",
                def.name
            ),
        ));
    }
    if def.version < 1 {
        errors.push(ValidationError::new(
            "version",
            "WorkflowDef version must be 1 or more",
        ));
    }
    if def.tasks.is_empty() {
        errors.push(ValidationError::new(
            "tasks",
            "WorkflowDef tasks cannot be empty",
        ));
    }
    if def.timeout_seconds < 0 {
        errors.push(ValidationError::new(
            "timeoutSeconds",
            "WorkflowDef timeoutSeconds must be >= 0",
        ));
    }
    if def.schema_version != 2 {
        errors.push(ValidationError::new(
            "schemaVersion",
            "WorkflowDef schemaVersion: only version 2 is supported",
        ));
    }
    let mut refs = HashSet::new();
    for node in def.all_tasks() {
        if !node.task_reference_name.is_empty() && !refs.insert(node.task_reference_name.as_str()) {
            errors.push(ValidationError::new(
                format!("tasks.{}", node.task_reference_name),
                format!(
                    "taskReferenceName: {} should be unique across tasks for a given workflowDefinition: {}",
                    node.task_reference_name, def.name
                ),
            ));
        }
    }
    check_list(&def.tasks, "tasks", &refs, &mut errors);
    errors
}

fn check_list(
    list: &[WorkflowTask],
    path: &str,
    refs: &HashSet<&str>,
    errors: &mut Vec<ValidationError>,
) {
    for (index, node) in list.iter().enumerate() {
        let at = format!("{path}[{index}]");
        check_node(node, &at, refs, errors);
        if TaskKind::of(&node.task_type) == TaskKind::ForkJoin {
            let follows_join = list
                .get(index + 1)
                .is_some_and(|next| TaskKind::of(&next.task_type) == TaskKind::Join);
            if !follows_join {
                errors.push(ValidationError::new(
                    at.clone(),
                    format!(
                        "FORK_JOIN task {} must be followed by a JOIN task",
                        node.task_reference_name
                    ),
                ));
            }
        }
    }
}

fn check_node(
    node: &WorkflowTask,
    at: &str,
    refs: &HashSet<&str>,
    errors: &mut Vec<ValidationError>,
) {
    let mut err = |field: &str, message: String| {
        errors.push(ValidationError::new(format!("{at}.{field}"), message))
    };
    if node.name.trim().is_empty() {
        err(
            "name",
            "WorkflowTask name cannot be empty or null".to_string(),
        );
    }
    if node.task_reference_name.trim().is_empty() {
        err(
            "taskReferenceName",
            "WorkflowTask taskReferenceName name cannot be empty or null".to_string(),
        );
    }
    let reference = &node.task_reference_name;
    let kind = TaskKind::of(&node.task_type);
    match kind {
        TaskKind::Unsupported => err(
            "type",
            format!(
                "task {reference}: type {} is not supported by this version of Podium",
                node.task_type
            ),
        ),
        TaskKind::Simple if bad_name_chars(&node.name) => err(
            "name",
            format!(
                "task {reference}: name '{}' must not contain ':' or control characters",
                node.name
            ),
        ),
        TaskKind::Switch => {
            let evaluator = node.evaluator_type.as_deref().unwrap_or("");
            if evaluator != "value-param" {
                err(
                    "evaluatorType",
                    format!(
                        "task {reference}: evaluatorType '{evaluator}' is not supported; use 'value-param' (JavaScript evaluation comes in a later version)"
                    ),
                );
            }
            if node
                .expression
                .as_deref()
                .is_none_or(|e| e.trim().is_empty())
            {
                err(
                    "expression",
                    format!(
                        "task {reference}: a SWITCH needs an expression (the input parameter to switch on)"
                    ),
                );
            }
        }
        TaskKind::Decision
            if node
                .case_value_param
                .as_deref()
                .is_none_or(|p| p.trim().is_empty()) =>
        {
            err(
                "caseValueParam",
                format!(
                    "task {reference}: a DECISION needs caseValueParam (JavaScript caseExpression is not supported yet)"
                ),
            )
        }
        TaskKind::ForkJoin if node.fork_tasks.iter().all(Vec::is_empty) => err(
            "forkTasks",
            format!("task {reference}: a FORK_JOIN needs forkTasks"),
        ),
        TaskKind::Join => {
            for joined in &node.join_on {
                if !refs.contains(joined.as_str()) {
                    err(
                        "joinOn",
                        format!(
                            "task {reference}: joinOn names {joined}, which is not a task of this workflow"
                        ),
                    );
                }
            }
        }
        TaskKind::SubWorkflow => {
            let named = node.sub_workflow_param.as_ref().is_some_and(|p| {
                !p.name.trim().is_empty()
                    || p.workflow_definition.as_ref().is_some_and(|d| !d.is_null())
            });
            if !named {
                err(
                    "subWorkflowParam",
                    format!("task {reference}: a SUB_WORKFLOW needs subWorkflowParam.name"),
                );
            }
        }
        _ => {}
    }
    if let Some(def) = &node.task_definition {
        errors.extend(task_def(def, &format!("{at}.taskDefinition")));
    }
    for (case, list) in &node.decision_cases {
        check_list(list, &format!("{at}.decisionCases.{case}"), refs, errors);
    }
    check_list(
        &node.default_case,
        &format!("{at}.defaultCase"),
        refs,
        errors,
    );
    for (branch, list) in node.fork_tasks.iter().enumerate() {
        check_list(list, &format!("{at}.forkTasks[{branch}]"), refs, errors);
    }
    if !node.loop_over.is_empty() {
        check_list(&node.loop_over, &format!("{at}.loopOver"), refs, errors);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn def(v: serde_json::Value) -> WorkflowDef {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn accepts_a_builder_style_definition() {
        let d = def(json!({
            "name": "w", "version": 1, "timeoutSeconds": 60, "failureWorkflow": "",
            "tasks": [
                {"name": "a", "taskReferenceName": "a", "type": "SIMPLE"},
                {"name": "s", "taskReferenceName": "s", "type": "SWITCH", "evaluatorType": "value-param", "expression": "switchCaseValue",
                 "inputParameters": {"switchCaseValue": "${workflow.input.x}"},
                 "decisionCases": {"x": [{"name": "b", "taskReferenceName": "b"}]}},
                {"name": "f", "taskReferenceName": "f", "type": "FORK_JOIN", "forkTasks": [[{"name": "c", "taskReferenceName": "c"}]]},
                {"name": "j", "taskReferenceName": "j", "type": "JOIN", "joinOn": ["c"]}
            ]
        }));
        assert_eq!(workflow_def(&d), vec![]);
    }

    #[test]
    fn reports_each_problem() {
        let d = def(json!({
            "name": "bad:name", "tasks": [
                {"name": "a", "taskReferenceName": "a"},
                {"name": "a2", "taskReferenceName": "a"},
                {"name": "", "taskReferenceName": "x", "type": "INLINE"},
                {"name": "f", "taskReferenceName": "f", "type": "FORK_JOIN", "forkTasks": [[{"name": "c", "taskReferenceName": "c"}]]},
                {"name": "s", "taskReferenceName": "s", "type": "SWITCH", "evaluatorType": "javascript", "expression": "1"},
                {"name": "j", "taskReferenceName": "j", "type": "JOIN", "joinOn": ["nope"]},
                {"name": "sw", "taskReferenceName": "sw", "type": "SUB_WORKFLOW"}
            ]
        }));
        let messages: Vec<String> = workflow_def(&d).into_iter().map(|e| e.message).collect();
        let all = messages.join("\n");
        for needle in [
            "':'",
            "should be unique",
            "INLINE is not supported",
            "name cannot be empty",
            "must be followed by a JOIN",
            "javascript",
            "nope",
            "subWorkflowParam.name",
        ] {
            assert!(all.contains(needle), "missing {needle} in {all}");
        }
    }

    #[test]
    fn checks_task_definitions() {
        let t: TaskDef = serde_json::from_value(
            json!({"name": "t", "timeoutSeconds": 10, "responseTimeoutSeconds": 20}),
        )
        .unwrap();
        assert_eq!(task_def(&t, "").len(), 1);
        let t: TaskDef = serde_json::from_value(json!({"name": ""})).unwrap();
        assert_eq!(task_def(&t, "")[0].path, "name");
    }
}
