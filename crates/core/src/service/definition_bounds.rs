//! The bounds a definition must keep to be registered (or started inline): what the
//! engine would otherwise refuse at run time, or could not do in bounded time and
//! space. Checked by [`super::validation`]; each problem names where it is.
//!
//! - expressions nest `${` at most [`MAX_EXPRESSION_NESTING`] levels, in task inputs,
//!   sub-workflow parameters, task definitions' `inputTemplate` and the workflow's
//!   `outputParameters` (what the engine resolves);
//! - tasks nest inside forks, switches and loops at most [`MAX_TASK_NESTING`]
//!   levels, a definition holds at most [`MAX_DEFINITION_TASKS`] tasks, and its JSON
//!   nests at most [`MAX_DEFINITION_DEPTH`] levels (so a workflow that embeds it, as
//!   the archive does, can still be read back);
//! - durations are at most [`MAX_TIME_SECONDS`] (a hundred years), so no deadline
//!   computed from them comes near the end of the millisecond clock.
//!
//! Definitions stored before these bounds still run: the engine holds the same
//! bounds at run time and fails the workflow with the reason.

use serde_json::Value;

use crate::engine::context::MAX_EXPRESSION_NESTING;
use crate::engine::expr::expression_nesting;
use crate::error::ValidationError;
use crate::model::{JsonMap, TaskDef, WorkflowDef, WorkflowTask};

/// Most levels of tasks inside forks, switches and loops (already refused as a
/// definition is decoded; checked again here for definitions built otherwise).
pub use crate::model::serde_util::MAX_TASK_NESTING;
/// Most tasks in one definition, nested ones included.
pub const MAX_DEFINITION_TASKS: usize = 2000;
/// Longest name of a definition, a task, a task reference or a domain, in bytes.
/// Names become queue names, index keys and announcements between nodes, which
/// databases bound (PostgreSQL: an index key of about 2.7 kB, a notification of 8 kB).
pub const MAX_NAME_BYTES: usize = 255;
/// Most levels of JSON nesting in a definition.
pub const MAX_DEFINITION_DEPTH: usize = 100;
/// Longest duration a definition may name, in seconds: a hundred years.
pub const MAX_TIME_SECONDS: i64 = 100 * 365 * 24 * 3600;

/// The deepest `${` nesting in any string of a value, counting no further than one
/// past the bound.
fn deepest_expression(value: &Value) -> usize {
    let mut deepest = 0;
    let mut stack = vec![value];
    while let Some(value) = stack.pop() {
        match value {
            Value::String(text) => {
                deepest = deepest.max(expression_nesting(text, MAX_EXPRESSION_NESTING));
            }
            Value::Array(items) => stack.extend(items),
            Value::Object(map) => stack.extend(map.values()),
            _ => {}
        }
        if deepest > MAX_EXPRESSION_NESTING {
            break;
        }
    }
    deepest
}

/// The JSON nesting depth of a value (1 for a flat object), counting no further than
/// one past `max`.
fn json_depth(value: &Value, max: usize) -> usize {
    let mut deepest = 0;
    let mut stack = vec![(value, 1)];
    while let Some((value, level)) = stack.pop() {
        let children: Box<dyn Iterator<Item = &Value>> = match value {
            Value::Array(items) => Box::new(items.iter()),
            Value::Object(map) => Box::new(map.values()),
            _ => continue,
        };
        deepest = deepest.max(level);
        if deepest > max {
            break;
        }
        stack.extend(children.map(|child| (child, level + 1)));
    }
    deepest
}

/// Problems with the expressions of a map whose values the engine resolves.
fn check_parameters(params: &JsonMap, path: &str, what: &str, errors: &mut Vec<ValidationError>) {
    for (key, value) in params {
        if deepest_expression(value) > MAX_EXPRESSION_NESTING {
            errors.push(ValidationError::new(
                format!("{path}.{key}"),
                format!(
                    "{what} '{key}' nests expressions more than {MAX_EXPRESSION_NESTING} levels deep (${{ inside ${{)"
                ),
            ));
        }
    }
}

/// Refuses a name longer than [`MAX_NAME_BYTES`].
pub fn check_name(value: &str, path: String, what: &str, errors: &mut Vec<ValidationError>) {
    if value.len() > MAX_NAME_BYTES {
        errors.push(ValidationError::new(
            path,
            format!("{what} must be at most {MAX_NAME_BYTES} bytes long"),
        ));
    }
}

fn check_seconds(value: i64, path: String, message: String, errors: &mut Vec<ValidationError>) {
    if value > MAX_TIME_SECONDS {
        errors.push(ValidationError::new(path, message));
    }
}

/// Bounds of a task definition, registered or inline; `at` gives a field's path.
pub fn task_def(def: &TaskDef, at: &dyn Fn(&str) -> String) -> Vec<ValidationError> {
    let mut errors = Vec::new();
    check_name(&def.name, at("name"), "TaskDef name", &mut errors);
    let too_long = |field: &str| {
        format!("TaskDef {field}: must be at most {MAX_TIME_SECONDS} seconds (100 years)")
    };
    // Negative values of the first four are refused with the other field rules.
    for (field, value, sign_checked) in [
        ("timeoutSeconds", Some(def.timeout_seconds), true),
        (
            "responseTimeoutSeconds",
            Some(def.response_timeout_seconds),
            true,
        ),
        ("retryDelaySeconds", Some(def.retry_delay_seconds), true),
        ("pollTimeoutSeconds", def.poll_timeout_seconds, true),
        ("maxRetryDelaySeconds", def.max_retry_delay_seconds, false),
        ("totalTimeoutSeconds", def.total_timeout_seconds, false),
        (
            "rateLimitFrequencyInSeconds",
            def.rate_limit_frequency_in_seconds.map(i64::from),
            false,
        ),
    ] {
        let Some(value) = value else { continue };
        if value < 0 && !sign_checked {
            errors.push(ValidationError::new(
                at(field),
                format!("TaskDef {field}: must be >= 0"),
            ));
        }
        check_seconds(value, at(field), too_long(field), &mut errors);
    }
    if def.rate_limit_per_frequency.is_some_and(|n| n < 0) {
        errors.push(ValidationError::new(
            at("rateLimitPerFrequency"),
            "TaskDef rateLimitPerFrequency: must be >= 0",
        ));
    }
    check_parameters(
        &def.input_template,
        &at("inputTemplate"),
        "inputTemplate parameter",
        &mut errors,
    );
    errors
}

/// Bounds of one node of a workflow definition at `at`.
fn node(task: &WorkflowTask, at: &str, errors: &mut Vec<ValidationError>) {
    let reference = &task.task_reference_name;
    check_name(&task.name, format!("{at}.name"), "task name", errors);
    check_name(
        reference,
        format!("{at}.taskReferenceName"),
        "taskReferenceName",
        errors,
    );
    check_parameters(
        &task.input_parameters,
        &format!("{at}.inputParameters"),
        &format!("task {reference}: input parameter"),
        errors,
    );
    if let Some(params) = &task.sub_workflow_param
        && let Ok(value) = serde_json::to_value(params)
        && deepest_expression(&value) > MAX_EXPRESSION_NESTING
    {
        errors.push(ValidationError::new(
            format!("{at}.subWorkflowParam"),
            format!(
                "task {reference}: subWorkflowParam nests expressions more than {MAX_EXPRESSION_NESTING} levels deep (${{ inside ${{)"
            ),
        ));
    }
    if !(0..=MAX_TIME_SECONDS).contains(&task.start_delay) {
        errors.push(ValidationError::new(
            format!("{at}.startDelay"),
            format!(
                "task {reference}: startDelay must be between 0 and {MAX_TIME_SECONDS} seconds"
            ),
        ));
    }
    if task.retry_count.is_some_and(|n| n < 0) {
        errors.push(ValidationError::new(
            format!("{at}.retryCount"),
            format!("task {reference}: retryCount must be >= 0"),
        ));
    }
    if let Some(def) = &task.task_definition {
        let at = |field: &str| format!("{at}.taskDefinition.{field}");
        errors.extend(task_def(def, &at));
    }
}

/// The task lists nested directly in a node, with their paths.
fn children<'d>(task: &'d WorkflowTask, at: &str) -> Vec<(&'d [WorkflowTask], String)> {
    let mut out: Vec<(&[WorkflowTask], String)> = Vec::new();
    for (case, list) in &task.decision_cases {
        out.push((list, format!("{at}.decisionCases.{case}")));
    }
    if !task.default_case.is_empty() {
        out.push((&task.default_case, format!("{at}.defaultCase")));
    }
    for (branch, list) in task.fork_tasks.iter().enumerate() {
        out.push((list, format!("{at}.forkTasks[{branch}]")));
    }
    if !task.loop_over.is_empty() {
        out.push((&task.loop_over, format!("{at}.loopOver")));
    }
    out
}

/// Bounds of a workflow definition.
pub fn workflow_def(def: &WorkflowDef) -> Vec<ValidationError> {
    let mut errors = Vec::new();
    check_name(&def.name, "name".into(), "WorkflowDef name", &mut errors);
    if let Ok(json) = serde_json::to_value(def)
        && json_depth(&json, MAX_DEFINITION_DEPTH) > MAX_DEFINITION_DEPTH
    {
        errors.push(ValidationError::new(
            "",
            format!("WorkflowDef is nested more than {MAX_DEFINITION_DEPTH} levels deep as JSON"),
        ));
    }
    check_seconds(
        def.timeout_seconds,
        "timeoutSeconds".into(),
        format!("WorkflowDef timeoutSeconds must be at most {MAX_TIME_SECONDS} (100 years)"),
        &mut errors,
    );
    check_parameters(
        &def.output_parameters,
        "outputParameters",
        "output parameter",
        &mut errors,
    );
    // The task lists, walked without recursion: depth counts the forks, switches and
    // loops around a list.
    let mut count = 0usize;
    let mut lists: Vec<(&[WorkflowTask], String, usize)> = vec![(&def.tasks, "tasks".into(), 0)];
    while let Some((list, path, depth)) = lists.pop() {
        for (index, task) in list.iter().enumerate() {
            count += 1;
            if count > MAX_DEFINITION_TASKS {
                errors.push(ValidationError::new(
                    "tasks",
                    format!("WorkflowDef holds more than {MAX_DEFINITION_TASKS} tasks"),
                ));
                return errors;
            }
            let at = format!("{path}[{index}]");
            node(task, &at, &mut errors);
            let nested = children(task, &at);
            if nested.is_empty() {
                continue;
            }
            if depth == MAX_TASK_NESTING {
                errors.push(ValidationError::new(
                    at,
                    format!(
                        "task {}: tasks are nested more than {MAX_TASK_NESTING} levels deep inside forks, switches and loops",
                        task.task_reference_name
                    ),
                ));
                continue;
            }
            lists.extend(
                nested
                    .into_iter()
                    .map(|(list, path)| (list, path, depth + 1)),
            );
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn def(value: Value) -> WorkflowDef {
        serde_json::from_value(value).unwrap()
    }

    fn poisoned() -> String {
        format!("{}workflow.input.x{}", "${".repeat(5000), "}".repeat(5000))
    }

    #[test]
    fn deep_expressions_are_named_by_task_and_parameter() {
        let d = def(json!({"name": "w", "tasks": [
            {"name": "a", "taskReferenceName": "a", "inputParameters": {"ok": "${workflow.input.x}", "bad": poisoned()}},
            {"name": "s", "taskReferenceName": "s", "type": "SWITCH", "evaluatorType": "value-param", "expression": "k",
             "decisionCases": {"x": [{"name": "b", "taskReferenceName": "b", "inputParameters": {"deep": [{"n": poisoned()}]}}]}},
            {"name": "sub", "taskReferenceName": "sub", "type": "SUB_WORKFLOW", "subWorkflowParam": {"name": poisoned()}},
            {"name": "t", "taskReferenceName": "t", "taskDefinition": {"inputTemplate": {"tpl": poisoned()}}}
        ], "outputParameters": {"out": poisoned()}}));
        let errors = workflow_def(&d);
        let found: Vec<(&str, &str)> = errors
            .iter()
            .map(|e| (e.path.as_str(), e.message.as_str()))
            .collect();
        let paths: Vec<&str> = found.iter().map(|(p, _)| *p).collect();
        assert_eq!(
            paths,
            vec![
                "outputParameters.out",
                "tasks[0].inputParameters.bad",
                "tasks[2].subWorkflowParam",
                "tasks[3].taskDefinition.inputTemplate.tpl",
                "tasks[1].decisionCases.x[0].inputParameters.deep",
            ],
            "{found:?}"
        );
        assert_eq!(
            found[1].1,
            "task a: input parameter 'bad' nests expressions more than 16 levels deep (${ inside ${)"
        );
        // Sixteen levels are accepted.
        let within = format!("{}workflow.input.x{}", "${".repeat(16), "}".repeat(16));
        let d = def(json!({"name": "w", "tasks": [
            {"name": "a", "taskReferenceName": "a", "inputParameters": {"ok": within}}
        ]}));
        assert_eq!(workflow_def(&d), vec![]);
    }

    /// A chain of `levels` switches, each holding the next in its only case, built
    /// in memory (decoding refuses it past the bound already).
    fn nested_switches(levels: usize) -> WorkflowDef {
        let mut task = WorkflowTask {
            name: "leaf".into(),
            task_reference_name: "leaf".into(),
            ..WorkflowTask::default()
        };
        for level in 0..levels {
            let mut switch = WorkflowTask {
                name: "s".into(),
                task_reference_name: format!("s{level}"),
                task_type: "SWITCH".into(),
                ..WorkflowTask::default()
            };
            switch.decision_cases.insert("x".into(), vec![task]);
            task = switch;
        }
        WorkflowDef {
            name: "w".into(),
            tasks: vec![task],
            ..WorkflowDef::default()
        }
    }

    #[test]
    fn task_nesting_and_count_are_bounded() {
        assert_eq!(workflow_def(&nested_switches(MAX_TASK_NESTING)), vec![]);
        let errors = workflow_def(&nested_switches(MAX_TASK_NESTING + 1));
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0]
                .message
                .contains("nested more than 24 levels deep"),
            "{errors:?}"
        );
        assert!(
            errors[0].path.ends_with(".decisionCases.x[0]"),
            "{errors:?}"
        );

        let tasks: Vec<Value> = (0..=MAX_DEFINITION_TASKS)
            .map(|i| json!({"name": "a", "taskReferenceName": format!("a{i}")}))
            .collect();
        let errors = workflow_def(&def(json!({"name": "w", "tasks": tasks})));
        assert!(errors[0].message.contains("more than 2000 tasks"));
    }

    #[test]
    fn deep_json_is_refused() {
        let mut value = json!(1);
        for _ in 0..MAX_DEFINITION_DEPTH {
            value = json!([value]);
        }
        let d = def(json!({"name": "w", "tasks": [
            {"name": "a", "taskReferenceName": "a", "inputParameters": {"v": value}}
        ]}));
        let errors = workflow_def(&d);
        assert!(
            errors[0]
                .message
                .contains("nested more than 100 levels deep as JSON"),
            "{errors:?}"
        );
    }

    #[test]
    fn durations_are_bounded() {
        let huge = i64::MAX;
        let d = def(json!({"name": "w", "timeoutSeconds": huge, "tasks": [
            {"name": "a", "taskReferenceName": "a", "startDelay": huge,
             "taskDefinition": {"timeoutSeconds": huge, "maxRetryDelaySeconds": -1}}
        ]}));
        let paths: Vec<String> = workflow_def(&d).into_iter().map(|e| e.path).collect();
        assert_eq!(
            paths,
            vec![
                "timeoutSeconds",
                "tasks[0].startDelay",
                "tasks[0].taskDefinition.timeoutSeconds",
                "tasks[0].taskDefinition.maxRetryDelaySeconds",
            ]
        );
        let t: TaskDef = serde_json::from_value(json!({
            "name": "t", "responseTimeoutSeconds": huge, "retryDelaySeconds": huge,
            "rateLimitFrequencyInSeconds": -1, "rateLimitPerFrequency": -5
        }))
        .unwrap();
        let errors = task_def(&t, &|f: &str| f.to_string());
        let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(
            paths,
            vec![
                "responseTimeoutSeconds",
                "retryDelaySeconds",
                "rateLimitFrequencyInSeconds",
                "rateLimitPerFrequency"
            ]
        );
        assert!(errors[0].message.contains("at most 3153600000 seconds"));
    }
}
