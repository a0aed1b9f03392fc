//! What people see of sensitive data. The values under `_secrets` and `_masked` in
//! inputs, outputs and variables show as `***` in every API view of workflows and
//! tasks; so do the fields a run masks (`maskedFields`), and their values wherever
//! else they went: a task's input or output, a reason, a log line, a variable, the
//! workflow's output. Workers still receive them in full when they poll. The same
//! values are what the store seals at rest (`at_rest`), so a free-text search of
//! the database cannot find them either.

use serde_json::Value;

use super::handoff::{MASK, SecretText, mask_text_values, mask_values};
use crate::engine::expr::{SECRETS_PREFIX, expression_spans};
use crate::model::{JsonMap, Task, TaskResult, Workflow};

pub use crate::engine::masked::{
    mask_map, masked_fields, masked_values, record_masked_values, run_masked_values,
};

/// Masks the named top-level fields of a map.
fn mask_fields(map: &mut JsonMap, fields: &[String]) {
    for field in fields {
        if let Some(value) = map.get_mut(field) {
            *value = Value::String(MASK.to_string());
        }
    }
}

/// The values of `values` that `map` carries (for a run receiving it).
pub fn carried(map: &JsonMap, values: &[SecretText]) -> Vec<String> {
    values
        .iter()
        .filter(|v| {
            map.values()
                .any(|value| carries(value, std::slice::from_ref(v)))
        })
        .map(|v| v.to_string())
        .collect()
}

/// The top-level fields of a new run's input that carry any of `values` (masked by
/// the run handing the input over), which the new run masks too.
pub fn fields_carrying(input: &JsonMap, values: &[SecretText]) -> Vec<String> {
    if values.is_empty() {
        return Vec::new();
    }
    input
        .iter()
        .filter(|(_, value)| carries(value, values))
        .map(|(key, _)| key.clone())
        .collect()
}

fn carries(value: &Value, values: &[SecretText]) -> bool {
    match value {
        Value::String(text) => values.iter().any(|v| text.contains(&**v)),
        Value::Number(n) => {
            let text = n.to_string();
            values.iter().any(|v| *text == **v)
        }
        Value::Array(items) => items.iter().any(|v| carries(v, values)),
        Value::Object(map) => map
            .iter()
            .any(|(k, v)| values.iter().any(|m| k.contains(&**m)) || carries(v, values)),
        Value::Bool(_) | Value::Null => false,
    }
}

/// Masks `values` in a result's log lines and in the keys of its output (which
/// are kept as they are, not sealed); the output's values are sealed at rest.
pub fn mask_logs_and_keys(result: &mut TaskResult, values: &[SecretText]) {
    if values.is_empty() {
        return;
    }
    for log in &mut result.logs {
        mask_text_values(&mut log.log, values);
    }
    mask_keys(&mut result.output_data, values);
}

fn mask_keys(map: &mut JsonMap, values: &[SecretText]) {
    if map.keys().any(|k| values.iter().any(|v| k.contains(&**v))) {
        for (mut key, value) in std::mem::take(map) {
            mask_text_values(&mut key, values);
            map.insert(key, value);
        }
    }
    for value in map.values_mut() {
        match value {
            Value::Object(inner) => mask_keys(inner, values),
            Value::Array(items) => {
                for item in items {
                    if let Value::Object(inner) = item {
                        mask_keys(inner, values);
                    }
                }
            }
            _ => {}
        }
    }
}

/// A task as people see it: `_secrets` and `_masked` values, secret references, and
/// the run's masked values (`masked`, from [`masked_values`]) show as `***`.
pub fn view_task(task: &mut Task, masked: &[SecretText]) {
    mask_map(&mut task.input_data);
    mask_map(&mut task.output_data);
    for value in task.input_data.values_mut() {
        hide_references(value);
    }
    if masked.is_empty() {
        return;
    }
    mask_in_map(&mut task.input_data, masked);
    mask_in_map(&mut task.output_data, masked);
    if let Some(reason) = &mut task.reason_for_incompletion {
        mask_text_values(reason, masked);
    }
}

/// Masks values (and keys holding them) throughout a map.
fn mask_in_map(map: &mut JsonMap, masked: &[SecretText]) {
    let mut value = Value::Object(std::mem::take(map));
    mask_values(&mut value, masked);
    if let Value::Object(masked_map) = value {
        *map = masked_map;
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

/// Masks `values` wherever a workflow holds them: its input, output, variables,
/// reason, and its tasks' input, output and reason (for the archive, which keeps
/// no plain copy).
pub fn mask_everywhere(workflow: &mut Workflow, values: &[SecretText]) {
    if values.is_empty() {
        return;
    }
    mask_in_map(&mut workflow.input, values);
    mask_in_map(&mut workflow.output, values);
    mask_in_map(&mut workflow.variables, values);
    if let Some(reason) = &mut workflow.reason_for_incompletion {
        mask_text_values(reason, values);
    }
    for task in &mut workflow.tasks {
        mask_in_map(&mut task.input_data, values);
        mask_in_map(&mut task.output_data, values);
        if let Some(reason) = &mut task.reason_for_incompletion {
            mask_text_values(reason, values);
        }
    }
}

/// A workflow as people see it: its masked fields (those recorded on it and
/// `def_fields`) and their values anywhere in it, and every `_secrets` and
/// `_masked` value, show as `***`.
pub fn view_workflow(workflow: &mut Workflow, def_fields: &[String]) {
    let mut fields = workflow.masked_fields.clone();
    fields.extend(
        def_fields
            .iter()
            .filter(|f| !workflow.masked_fields.contains(f))
            .cloned(),
    );
    let values = masked_values(workflow, &fields);
    mask_fields(&mut workflow.input, &fields);
    mask_fields(&mut workflow.output, &fields);
    mask_map(&mut workflow.input);
    mask_map(&mut workflow.output);
    mask_map(&mut workflow.variables);
    for task in &mut workflow.tasks {
        view_task(task, &[]);
    }
    mask_everywhere(workflow, &values);
    // What the run masks is nobody's to read.
    workflow.masked_values.clear();
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::sync::Arc;

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
        view_task(&mut task, &[]);
        assert_eq!(
            Value::Object(task.input_data),
            json!({"h": "Bearer *** for ${workflow.input.u}", "e": "${workflow.env.region}"})
        );
    }

    #[test]
    fn masked_values_show_as_stars_wherever_they_went() {
        let task = Task {
            input_data: map(json!({"auth": "Basic hunter2!", "card": 4111111111111111_i64})),
            output_data: map(json!({"echo": {"hunter2": true}, "last4": "1111"})),
            reason_for_incompletion: Some("bad password hunter2".into()),
            ..Task::default()
        };
        let mut workflow = Workflow {
            input: map(json!({"password": "hunter2", "card": {"number": 4111111111111111_i64}})),
            variables: map(json!({"copy": "hunter2"})),
            masked_fields: vec!["password".into()],
            tasks: vec![task],
            ..Workflow::default()
        };
        view_workflow(&mut workflow, &["card".to_string()]);
        assert_eq!(
            Value::Object(workflow.input),
            json!({"password": "***", "card": "***"})
        );
        assert_eq!(Value::Object(workflow.variables), json!({"copy": "***"}));
        let task = &workflow.tasks[0];
        assert_eq!(
            Value::Object(task.input_data.clone()),
            json!({"auth": "Basic ***!", "card": "***"})
        );
        assert_eq!(
            Value::Object(task.output_data.clone()),
            json!({"echo": {"***": true}, "last4": "1111"})
        );
        assert_eq!(
            task.reason_for_incompletion.as_deref(),
            Some("bad password ***")
        );
    }

    #[test]
    fn a_new_run_masks_the_fields_that_carry_masked_values() {
        let values: Vec<SecretText> = vec![Arc::from("hunter2")];
        let input =
            map(json!({"pw": "hunter2", "n": 1, "snapshot": {"input": {"password": "hunter2"}}}));
        assert_eq!(fields_carrying(&input, &values), vec!["pw", "snapshot"]);
    }
}
