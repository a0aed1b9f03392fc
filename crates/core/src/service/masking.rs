//! What people see of sensitive data: the values under `_secrets` and `_masked` in
//! inputs, outputs and variables, and the fields a workflow definition names in
//! `maskedFields`, show as `***` in every API view of workflows and tasks. Workers
//! still receive them in full when they poll.

use serde_json::Value;

use super::handoff::MASK;
use crate::engine::expr::{SECRETS_PREFIX, expression_spans};
use crate::model::{JsonMap, Task, Workflow};

/// Keys whose whole value is masked.
const MASKED_KEYS: [&str; 2] = ["_secrets", "_masked"];

/// Masks `_secrets` and `_masked` values at any depth of a map.
pub fn mask_map(map: &mut JsonMap) {
    for (key, value) in map.iter_mut() {
        if MASKED_KEYS.contains(&key.as_str()) {
            *value = Value::String(MASK.to_string());
        } else {
            mask_value(value);
        }
    }
}

fn mask_value(value: &mut Value) {
    match value {
        Value::Object(map) => mask_map(map),
        Value::Array(items) => items.iter_mut().for_each(mask_value),
        _ => {}
    }
}

/// Masks the named top-level fields of a map.
fn mask_fields(map: &mut JsonMap, fields: &[String]) {
    for field in fields {
        if let Some(value) = map.get_mut(field) {
            *value = Value::String(MASK.to_string());
        }
    }
}

/// A task as people see it. Secret references in its input show as `***` too, as
/// Orkes shows a resolved secret (the definition still names them).
pub fn view_task(task: &mut Task) {
    mask_map(&mut task.input_data);
    mask_map(&mut task.output_data);
    for value in task.input_data.values_mut() {
        hide_references(value);
    }
}

fn hide_references(value: &mut Value) {
    match value {
        Value::String(text) if text.contains("${workflow.secrets.") => {
            let mut out = String::with_capacity(text.len());
            let mut last = 0;
            for span in expression_spans(text) {
                let body = &text[span.start + 2..span.end - 1];
                if body.trim_start().starts_with(SECRETS_PREFIX) {
                    out.push_str(&text[last..span.start]);
                    out.push_str(MASK);
                    last = span.end;
                }
            }
            out.push_str(&text[last..]);
            *text = out;
        }
        Value::Array(items) => items.iter_mut().for_each(hide_references),
        Value::Object(map) => map.values_mut().for_each(hide_references),
        _ => {}
    }
}

/// A workflow as people see it: its input, output, variables and tasks, and the
/// definition's `maskedFields` in its input and output.
pub fn view_workflow(workflow: &mut Workflow, masked_fields: &[String]) {
    mask_fields(&mut workflow.input, masked_fields);
    mask_fields(&mut workflow.output, masked_fields);
    mask_map(&mut workflow.input);
    mask_map(&mut workflow.output);
    mask_map(&mut workflow.variables);
    for task in &mut workflow.tasks {
        view_task(task);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(value: Value) -> JsonMap {
        value.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn secrets_masked_and_named_fields_show_as_stars() {
        let mut workflow = Workflow {
            input: map(json!({"password": "p", "user": "u", "_masked": {"k": 1}})),
            output: map(json!({"result": {"_secrets": {"token": "t"}, "ok": true}})),
            variables: map(json!({"list": [{"_masked": "m"}]})),
            ..Workflow::default()
        };
        view_workflow(&mut workflow, &["password".to_string()]);
        assert_eq!(
            Value::Object(workflow.input),
            json!({"password": "***", "user": "u", "_masked": "***"})
        );
        assert_eq!(
            Value::Object(workflow.output),
            json!({"result": {"_secrets": "***", "ok": true}})
        );
        assert_eq!(
            Value::Object(workflow.variables),
            json!({"list": [{"_masked": "***"}]})
        );
        let mut task = Task {
            input_data: map(
                json!({"h": "Bearer ${workflow.secrets.tok} for ${workflow.input.u}", "e": "${workflow.env.region}"}),
            ),
            ..Task::default()
        };
        view_task(&mut task);
        assert_eq!(
            Value::Object(task.input_data),
            json!({"h": "Bearer *** for ${workflow.input.u}", "e": "${workflow.env.region}"})
        );
    }
}
