//! Validation of definitions.
//!
//! Two questions, asked at different times. [`workflow_def`] (at registration) asks
//! whether a definition is well formed; it accepts what the SDK builders emit even
//! when this version cannot run it (an `INLINE` task, a JavaScript `SWITCH`, a task type
//! from a newer server), as Conductor does, so that definitions can be shared between
//! servers. [`runnable`] (at every start) asks whether this version can run it, so a
//! workflow never fails at run time for a reason its definition already showed.
//! Registration also holds a definition to the bounds of
//! [`super::definition_bounds`] (expression nesting, task nesting, size, durations).

use std::collections::HashSet;

use super::definition_bounds;
use crate::engine::TaskKind;
use crate::error::ValidationError;
use crate::model::{TaskDef, WorkflowDef, WorkflowTask};

/// Names may not contain these (Conductor's rule: `:` separates domains in queue names).
/// Whether any text in `input` names a secret or an environment variable.
fn names_a_reference(input: &crate::model::JsonMap) -> bool {
    fn walk(value: &serde_json::Value) -> bool {
        match value {
            serde_json::Value::String(s) => {
                s.contains("${workflow.secrets.") || s.contains("${workflow.env.")
            }
            serde_json::Value::Array(items) => items.iter().any(walk),
            serde_json::Value::Object(map) => map.values().any(walk),
            _ => false,
        }
    }
    input.values().any(walk)
}

fn bad_name_chars(name: &str) -> bool {
    name.contains(':') || name.chars().any(char::is_control)
}

/// Problems with a task definition.
pub fn task_def(def: &TaskDef, path: &str) -> Vec<ValidationError> {
    let mut errors = task_def_limits(def, path);
    let at = |field: &str| {
        if path.is_empty() {
            field.to_string()
        } else {
            format!("{path}.{field}")
        }
    };
    if def.name.trim().is_empty() {
        errors.insert(
            0,
            ValidationError::new(at("name"), "TaskDef name cannot be null or empty"),
        );
    }
    errors.extend(definition_bounds::task_def(def, &at));
    errors
}

/// Problems with a task definition other than a missing name: an inline `taskDefinition`
/// of a workflow task takes its name from the task.
fn task_def_limits(def: &TaskDef, path: &str) -> Vec<ValidationError> {
    let mut errors = Vec::new();
    let at = |field: &str| {
        if path.is_empty() {
            field.to_string()
        } else {
            format!("{path}.{field}")
        }
    };
    if bad_name_chars(&def.name) {
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

/// Which question a walk over the tasks answers.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Check {
    /// Is the definition well formed?
    Structure,
    /// Can this version run it?
    Runnable,
}

/// What keeps this version of Podium from running a well-formed definition: task types
/// and evaluators that come later, and forks without a join. Empty when it can run.
pub fn runnable(def: &WorkflowDef) -> Vec<ValidationError> {
    let mut errors = Vec::new();
    let refs = HashSet::new();
    check_list(&def.tasks, "tasks", &refs, Check::Runnable, &mut errors);
    let all = def.all_tasks();
    if all
        .iter()
        .any(|node| TaskKind::of(&node.task_type) == TaskKind::DoWhile)
    {
        // A loop names its iterations' tasks `ref__N`: a reference written that way
        // would be taken for one of them.
        for node in all {
            if crate::engine::loops::split_iteration(&node.task_reference_name).is_some() {
                errors.push(ValidationError::new(
                    format!("tasks.{}", node.task_reference_name),
                    format!(
                        "taskReferenceName: {} ends like a loop iteration's (__N) in a workflow with a DO_WHILE; rename it",
                        node.task_reference_name
                    ),
                ));
            }
        }
    }
    errors
}

/// Problems with the form of a workflow definition (see the module documentation).
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
    check_list(&def.tasks, "tasks", &refs, Check::Structure, &mut errors);
    errors.extend(definition_bounds::workflow_def(def));
    errors
}

fn check_list(
    list: &[WorkflowTask],
    path: &str,
    refs: &HashSet<&str>,
    check: Check,
    errors: &mut Vec<ValidationError>,
) {
    for (index, node) in list.iter().enumerate() {
        let at = format!("{path}[{index}]");
        match check {
            Check::Structure => check_node(node, &at, refs, errors),
            Check::Runnable => check_runnable(node, &at, errors),
        }
        check_children(node, &at, refs, check, errors);
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
        TaskKind::Simple if bad_name_chars(&node.name) => err(
            "name",
            format!(
                "task {reference}: name '{}' must not contain ':' or control characters",
                node.name
            ),
        ),
        TaskKind::Switch
            if node
                .expression
                .as_deref()
                .is_none_or(|e| e.trim().is_empty()) =>
        {
            err(
                "expression",
                format!(
                    "task {reference}: a SWITCH needs an expression (the input parameter to switch on)"
                ),
            );
        }
        TaskKind::Decision
            if node
                .case_value_param
                .as_deref()
                .is_none_or(|p| p.trim().is_empty())
                && node
                    .case_expression
                    .as_deref()
                    .is_none_or(|p| p.trim().is_empty()) =>
        {
            err(
                "caseValueParam",
                format!("task {reference}: a DECISION needs caseValueParam or caseExpression"),
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
        TaskKind::ForkJoinDynamic => {
            let set = |p: &Option<String>| p.as_deref().is_some_and(|p| !p.trim().is_empty());
            let classic = set(&node.dynamic_fork_tasks_param)
                && set(&node.dynamic_fork_tasks_input_param_name);
            let simple = node.input_parameters.contains_key("forkTaskInputs");
            let legacy = set(&node.dynamic_fork_join_tasks_param);
            if !(classic || simple || legacy) {
                err(
                    "dynamicForkTasksParam",
                    format!(
                        "task {reference}: a FORK_JOIN_DYNAMIC needs dynamicForkTasksParam and dynamicForkTasksInputParamName, or forkTaskInputs in its inputParameters"
                    ),
                );
            } else if legacy && classic {
                err(
                    "dynamicForkJoinTasksParam",
                    format!(
                        "task {reference}: dynamicForkJoinTasksParam or combination of dynamicForkTasksInputParamName and dynamicForkTasksParam cam be used for taskType: FORK_JOIN_DYNAMIC taskName: {}",
                        node.name
                    ),
                );
            }
        }
        TaskKind::Dynamic
            if node
                .dynamic_task_name_param
                .as_deref()
                .is_none_or(|p| p.trim().is_empty()) =>
        {
            err(
                "dynamicTaskNameParam",
                format!(
                    "dynamicTaskNameParam field is required for taskType: DYNAMIC taskName: {}",
                    node.name
                ),
            )
        }
        TaskKind::DoWhile => {
            // As Conductor: both are required, an empty condition (run once, or
            // once per item) included.
            if node.loop_condition.is_none() {
                err(
                    "loopCondition",
                    format!(
                        "loopCondition field is required for taskType: DO_WHILE taskName: {}",
                        node.name
                    ),
                );
            }
            if node.loop_over.is_empty() {
                err(
                    "loopOver",
                    format!(
                        "loopOver field is required for taskType: DO_WHILE taskName: {}",
                        node.name
                    ),
                );
            }
        }
        TaskKind::Event
            if node.sink.as_deref().is_none_or(|s| s.trim().is_empty())
                && !node.input_parameters.contains_key("sink") =>
        {
            err(
                "sink",
                format!(
                    "sink field is required for taskType: EVENT taskName: {}",
                    node.name
                ),
            );
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
        errors.extend(task_def_limits(def, &format!("{at}.taskDefinition")));
    }
}

/// The input parameter that holds a task's program.
fn script_parameter(kind: TaskKind) -> &'static str {
    if kind == TaskKind::JsonJqTransform {
        "queryExpression"
    } else {
        "expression"
    }
}

/// The run-time limits of this version for one task.
fn check_runnable(node: &WorkflowTask, at: &str, errors: &mut Vec<ValidationError>) {
    let reference = &node.task_reference_name;
    let mut err = |field: &str, message: String| {
        errors.push(ValidationError::new(format!("{at}.{field}"), message))
    };
    match TaskKind::of(&node.task_type) {
        // A worker task's executions carry its name as their type.
        TaskKind::Simple if TaskKind::of(&node.name) != TaskKind::Simple => err(
            "name",
            format!(
                "task {reference}: a worker task cannot be named {}, the name of a system task type",
                node.name
            ),
        ),
        kind @ (TaskKind::Inline | TaskKind::JsonJqTransform)
            if node
                .input_parameters
                .get(script_parameter(kind))
                .and_then(serde_json::Value::as_str)
                .is_some_and(|e| e.contains("${workflow.secrets.")) =>
        {
            // Spliced into the source, a secret would reach error messages and
            // whatever the program does with its own text.
            let parameter = script_parameter(kind);
            err(
                &format!("inputParameters.{parameter}"),
                format!(
                    "task {reference}: a script cannot name a secret in its {parameter}; pass it as another input parameter and read it from the input"
                ),
            )
        }
        TaskKind::Dynamic if names_a_reference(&node.input_parameters) => err(
            "inputParameters",
            format!(
                "task {reference}: a DYNAMIC task cannot name a secret or environment variable: the task that would receive it is chosen by data"
            ),
        ),
        TaskKind::ForkJoinDynamic if !node.fork_tasks.is_empty() => err(
            "forkTasks",
            format!(
                "task {reference}: a FORK_JOIN_DYNAMIC takes its branches from its input, not from forkTasks"
            ),
        ),
        TaskKind::DoWhile
            if node
                .loop_condition
                .as_deref()
                .is_some_and(|c| c.contains("${workflow.secrets.")) =>
        {
            err(
                "loopCondition",
                format!(
                    "task {reference}: a loop condition cannot name a secret; pass it as an input parameter of the loop and read it from $"
                ),
            )
        }
        TaskKind::DoWhile
            if node
                .loop_body()
                .iter()
                .any(|inner| TaskKind::of(&inner.task_type) == TaskKind::DoWhile) =>
        {
            err(
                "loopOver",
                format!(
                    "task {reference}: a DO_WHILE inside a DO_WHILE is not supported (as in Conductor); put the inner loop in a SUB_WORKFLOW"
                ),
            )
        }
        TaskKind::SubWorkflow
            if node
                .sub_workflow_param
                .as_ref()
                .and_then(|p| p.workflow_definition.as_ref())
                .is_some_and(|d| {
                    !matches!(d, serde_json::Value::Null | serde_json::Value::Object(_))
                }) =>
        {
            err(
                "subWorkflowParam.workflowDefinition",
                format!(
                    "task {reference}: {}",
                    crate::engine::schedule::INLINE_DEFINITION_FROM_DATA
                ),
            )
        }
        TaskKind::DoWhile
            if node
                .loop_body()
                .iter()
                .any(|inner| TaskKind::of(&inner.task_type) == TaskKind::ForkJoinDynamic) =>
        {
            err(
                "loopOver",
                format!(
                    "task {reference}: a FORK_JOIN_DYNAMIC inside a DO_WHILE is not supported by this version of Podium; put the fork in a SUB_WORKFLOW"
                ),
            )
        }
        TaskKind::ForkJoinDynamic
            if node
                .dynamic_fork_join_tasks_param
                .as_deref()
                .is_some_and(|p| !p.trim().is_empty())
                && node.dynamic_fork_tasks_param.is_none()
                && !node.input_parameters.contains_key("forkTaskInputs") =>
        {
            err(
                "dynamicForkJoinTasksParam",
                format!(
                    "task {reference}: the legacy dynamicForkJoinTasksParam form is not supported by this version of Podium; use dynamicForkTasksParam and dynamicForkTasksInputParamName"
                ),
            )
        }
        TaskKind::Unsupported => err(
            "type",
            format!(
                "task {reference}: type {} is not supported by this version of Podium",
                node.task_type
            ),
        ),
        TaskKind::Switch => {
            let evaluator = node.evaluator_type.as_deref().unwrap_or("");
            if !matches!(evaluator, "value-param" | "javascript" | "graaljs") {
                err(
                    "evaluatorType",
                    format!(
                        "task {reference}: SWITCH evaluatorType '{evaluator}' is not supported by this version of Podium; use 'value-param', 'javascript' or 'graaljs'"
                    ),
                );
            } else if evaluator != "value-param"
                && node
                    .expression
                    .as_deref()
                    .is_none_or(|e| e.trim().is_empty())
            {
                err(
                    "expression",
                    format!(
                        "task {reference}: a SWITCH with evaluatorType '{evaluator}' needs an expression"
                    ),
                );
            }
        }
        TaskKind::Decision
            if node
                .case_value_param
                .as_deref()
                .is_none_or(|p| p.trim().is_empty())
                && !crate::engine::task_type::decides_by_script(node) =>
        {
            err(
                "caseValueParam",
                format!("task {reference}: a DECISION needs caseValueParam or caseExpression"),
            )
        }
        _ => {}
    }
}

/// Walks the task lists nested in a task.
fn check_children(
    node: &WorkflowTask,
    at: &str,
    refs: &HashSet<&str>,
    check: Check,
    errors: &mut Vec<ValidationError>,
) {
    for (case, list) in &node.decision_cases {
        check_list(
            list,
            &format!("{at}.decisionCases.{case}"),
            refs,
            check,
            errors,
        );
    }
    check_list(
        &node.default_case,
        &format!("{at}.defaultCase"),
        refs,
        check,
        errors,
    );
    for (branch, list) in node.fork_tasks.iter().enumerate() {
        check_list(
            list,
            &format!("{at}.forkTasks[{branch}]"),
            refs,
            check,
            errors,
        );
    }
    if !node.loop_over.is_empty() {
        check_list(
            &node.loop_over,
            &format!("{at}.loopOver"),
            refs,
            check,
            errors,
        );
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
        assert_eq!(runnable(&d), vec![]);
    }

    #[test]
    fn reports_each_problem() {
        let d = def(json!({
            "name": "bad:name", "tasks": [
                {"name": "a", "taskReferenceName": "a"},
                {"name": "a2", "taskReferenceName": "a"},
                {"name": "", "taskReferenceName": "x", "type": "SIMPLE"},
                {"name": "s", "taskReferenceName": "s", "type": "SWITCH", "evaluatorType": "value-param"},
                {"name": "j", "taskReferenceName": "j", "type": "JOIN", "joinOn": ["nope"]},
                {"name": "sw", "taskReferenceName": "sw", "type": "SUB_WORKFLOW"}
            ]
        }));
        let messages: Vec<String> = workflow_def(&d).into_iter().map(|e| e.message).collect();
        let all = messages.join("\n");
        for needle in [
            "':'",
            "should be unique",
            "name cannot be empty",
            "needs an expression",
            "nope",
            "subWorkflowParam.name",
        ] {
            assert!(all.contains(needle), "missing {needle} in {all}");
        }
    }

    #[test]
    fn registration_accepts_what_only_a_later_version_runs() {
        // What the SDKs' builders and kitchen-sink tests register: types Podium cannot
        // run yet, a JavaScript SWITCH, a fork with no join, an unnamed inline taskDefinition.
        let d = def(json!({
            "name": "later", "tasks": [
                {"name": "i", "taskReferenceName": "i", "type": "LAMBDA",
                 "inputParameters": {"scriptExpression": "return 1;"}},
                {"name": "llm", "taskReferenceName": "llm", "type": "LLM_CHAT_COMPLETE"},
                {"name": "s", "taskReferenceName": "s", "type": "SWITCH", "evaluatorType": "javascript", "expression": "$.x == 1 ? 'a' : 'b'",
                 "decisionCases": {"a": [{"name": "d", "taskReferenceName": "d", "type": "KAFKA_PUBLISH"}]}},
                {"name": "t", "taskReferenceName": "t", "taskDefinition": {"retryCount": 1}},
                {"name": "f", "taskReferenceName": "f", "type": "FORK_JOIN", "forkTasks": [[{"name": "c", "taskReferenceName": "c"}]]}
            ]
        }));
        assert_eq!(workflow_def(&d), vec![]);
        let all: Vec<(String, String)> = runnable(&d)
            .into_iter()
            .map(|e| (e.path, e.message))
            .collect();
        let text = format!("{all:?}");
        for needle in [
            "tasks[0].type",
            "LAMBDA is not supported",
            "tasks[2].decisionCases.a[0].type",
            "KAFKA_PUBLISH is not supported",
        ] {
            assert!(text.contains(needle), "missing {needle} in {text}");
        }
        // A type Conductor does not define is a worker task, as in Conductor.
        assert!(!text.contains("LLM_CHAT_COMPLETE"), "{text}");
        // A fork with no join runs, and fails its run when it is reached, as in
        // Conductor (the start is not refused).
        assert!(!text.contains("JOIN"), "{text}");
        assert_eq!(all.len(), 2, "{text}");
    }

    #[test]
    fn loops_need_a_condition_and_a_body_and_run_alone() {
        let d = def(json!({"name": "l", "tasks": [
            {"name": "bare", "taskReferenceName": "bare", "type": "DO_WHILE"}
        ]}));
        let text = format!("{:?}", workflow_def(&d));
        assert!(
            text.contains("loopCondition field is required for taskType: DO_WHILE taskName: bare"),
            "{text}"
        );
        assert!(text.contains("loopOver field is required"), "{text}");
        // Conductor takes an empty condition: the loop runs once.
        let once = def(json!({"name": "l", "tasks": [
            {"name": "l", "taskReferenceName": "l", "type": "DO_WHILE", "loopCondition": "",
             "loopOver": [{"name": "w", "taskReferenceName": "w"}]}
        ]}));
        assert_eq!(workflow_def(&once), vec![]);
        assert_eq!(runnable(&once), vec![]);
        let d = def(json!({"name": "l", "tasks": [
            {"name": "outer", "taskReferenceName": "outer", "type": "DO_WHILE", "loopCondition": "false",
             "loopOver": [{"name": "inner", "taskReferenceName": "inner", "type": "DO_WHILE",
                           "loopCondition": "false", "loopOver": [{"name": "w", "taskReferenceName": "w"}]}]},
            {"name": "s", "taskReferenceName": "s", "type": "DO_WHILE",
             "loopCondition": "$.k == '${workflow.secrets.k}'",
             "loopOver": [{"name": "x", "taskReferenceName": "x"}]}
        ]}));
        assert_eq!(workflow_def(&d), vec![]);
        let text = format!("{:?}", runnable(&d));
        assert!(
            text.contains("a DO_WHILE inside a DO_WHILE is not supported"),
            "{text}"
        );
        assert!(
            text.contains("a loop condition cannot name a secret"),
            "{text}"
        );
        // A reference written like an iteration's, and a worker task named after a
        // system type (its executions would run as that type).
        let d = def(json!({"name": "l", "tasks": [
            {"name": "l", "taskReferenceName": "l", "type": "DO_WHILE", "loopCondition": "",
             "loopOver": [{"name": "w", "taskReferenceName": "a"}]},
            {"name": "check", "taskReferenceName": "a__2"},
            {"name": "DO_WHILE", "taskReferenceName": "disguised", "type": "SIMPLE"}
        ]}));
        let text = format!("{:?}", runnable(&d));
        assert!(text.contains("a__2 ends like a loop iteration's"), "{text}");
        assert!(
            text.contains("a worker task cannot be named DO_WHILE"),
            "{text}"
        );
        // A sub-workflow's inline definition given as an expression (from data).
        let d = def(json!({"name": "s", "tasks": [
            {"name": "kid", "taskReferenceName": "kid", "type": "SUB_WORKFLOW",
             "subWorkflowParam": {"name": "kid", "workflowDefinition": "${prep.output.def}"}}
        ]}));
        let text = format!("{:?}", runnable(&d));
        assert!(
            text.contains("one given as an expression or built from data is refused"),
            "{text}"
        );
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
