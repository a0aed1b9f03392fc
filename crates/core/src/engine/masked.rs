//! What a workflow run masks: the fields it names (`maskedFields`), the values they
//! hold, and every value that reached it under `_secrets` or `_masked`. Views show
//! these as `***` (`service::masking`), and stores seal them at rest as they write
//! the run's rows.

use std::sync::Arc;

use serde_json::Value;

use crate::engine::state::WorkflowState;
use crate::model::{JsonMap, Workflow, WorkflowDef};

/// A value a run masks.
pub type SecretText = Arc<str>;

/// What masked values show as.
pub const MASK: &str = "***";

/// Values shorter than this are not masked by value (masking `a` everywhere would
/// garble every output); they are still never stored or logged by Podium itself.
const MIN_MASKED_LEN: usize = 3;

/// Keys whose whole value is masked.
pub(crate) const MASKED_KEYS: [&str; 2] = ["_secrets", "_masked"];

/// Masked values shorter than this are left alone elsewhere (masking `a` everywhere
/// would garble every output); the field itself still shows as `***`.
const MIN_VALUE_LEN: usize = 3;

/// The fields a run masks: those recorded on it and its definition's.
pub fn masked_fields(workflow: &Workflow, def: Option<&WorkflowDef>) -> Vec<String> {
    let mut fields = workflow.masked_fields.clone();
    for field in def
        .and_then(|d| d.masked_fields.as_ref())
        .into_iter()
        .flatten()
    {
        if !fields.contains(field) {
            fields.push(field.clone());
        }
    }
    fields
}

/// The values a run masks, longest first (so a value is masked before a part of
/// it): those it has recorded (`Workflow::masked_values`: values that reached it
/// under `_secrets` or `_masked`, or from a parent, a child or an earlier input),
/// every text and number its masked fields hold in its input and output, and those
/// under `_secrets` and `_masked` in its input, output and variables.
pub fn masked_values(workflow: &Workflow, fields: &[String]) -> Vec<SecretText> {
    let mut values: Vec<SecretText> = workflow
        .masked_values
        .iter()
        .map(|v| Arc::from(v.as_str()))
        .collect();
    for field in fields {
        for map in [&workflow.input, &workflow.output] {
            if let Some(value) = map.get(field) {
                leaves(value, &mut values);
            }
        }
    }
    for map in [&workflow.input, &workflow.output, &workflow.variables] {
        sealed_leaves(map, &mut values);
    }
    values.sort_by_key(|v| std::cmp::Reverse(v.len()));
    values.dedup();
    values
}

fn leaves(value: &Value, out: &mut Vec<SecretText>) {
    let text = match value {
        Value::String(text) => text.clone(),
        Value::Number(n) => n.to_string(),
        Value::Array(items) => return items.iter().for_each(|v| leaves(v, out)),
        Value::Object(map) => return map.values().for_each(|v| leaves(v, out)),
        Value::Bool(_) | Value::Null => return,
    };
    if text.len() >= MIN_VALUE_LEN {
        out.push(Arc::from(text.as_str()));
    }
}

/// The texts and numbers under `_secrets` and `_masked` keys, at any depth. The
/// `secretKey` of an `UPDATE_SECRET` input (`_secrets.secretKey`) names a secret and
/// is not one: a refusal may name it.
fn sealed_leaves(map: &JsonMap, out: &mut Vec<SecretText>) {
    for (key, value) in map {
        if MASKED_KEYS.contains(&key.as_str()) {
            match value {
                Value::Object(inner) if key == "_secrets" => inner
                    .iter()
                    .filter(|(k, _)| *k != "secretKey")
                    .for_each(|(_, v)| leaves(v, out)),
                other => leaves(other, out),
            }
        } else {
            match value {
                Value::Object(inner) => sealed_leaves(inner, out),
                Value::Array(items) => items.iter().for_each(|item| {
                    if let Value::Object(inner) = item {
                        sealed_leaves(inner, out);
                    }
                }),
                _ => {}
            }
        }
    }
}

/// The values a workflow run masks (see [`masked_values`]).
pub fn run_masked_values(state: &WorkflowState) -> Vec<SecretText> {
    let fields = masked_fields(&state.workflow, Some(&state.def));
    masked_values(&state.workflow, &fields)
}

/// The values a run masks, recording on it those that reached its changed tasks
/// under `_secrets` or `_masked` (a token a task fetched, a secret a task was given
/// to write) and those its fields and maps hold now, so they stay masked wherever
/// they go and whatever later replaces them (a rerun's new input). Called as the
/// run is written.
pub fn record_masked_values(state: &mut WorkflowState) -> Vec<SecretText> {
    let mut values = run_masked_values(state);
    let before = values.len();
    for task in state.dirty_tasks() {
        sealed_leaves(&task.input_data, &mut values);
        sealed_leaves(&task.output_data, &mut values);
    }
    if values.len() > before {
        values.sort_by_key(|v| std::cmp::Reverse(v.len()));
        values.dedup();
    }
    if values.len() != state.workflow.masked_values.len() {
        state.workflow.masked_values = values.iter().map(|v| v.to_string()).collect();
    }
    values
}

/// Replaces every occurrence of the values in a JSON value: in its strings, in the
/// keys of its objects, and a number that is one of them.
pub fn mask_values(value: &mut Value, secrets: &[SecretText]) {
    match value {
        Value::String(text) => mask_text(text, secrets),
        Value::Number(n) => {
            let text = n.to_string();
            if secrets
                .iter()
                .any(|s| s.len() >= MIN_MASKED_LEN && **s == *text)
            {
                *value = Value::String(MASK.to_string());
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| mask_values(v, secrets)),
        Value::Object(map) => {
            let keyed = map.keys().any(|k| {
                secrets
                    .iter()
                    .any(|s| s.len() >= MIN_MASKED_LEN && k.contains(&**s))
            });
            if keyed {
                // A value echoed as a key: the key is masked too.
                let entries = std::mem::take(map);
                for (mut key, inner) in entries {
                    mask_text(&mut key, secrets);
                    map.insert(key, inner);
                }
            }
            map.values_mut().for_each(|v| mask_values(v, secrets));
        }
        Value::Bool(_) | Value::Null => {}
    }
}

/// Replaces every occurrence of the values in one string.
pub(crate) fn mask_text(text: &mut String, secrets: &[SecretText]) {
    for secret in secrets {
        if secret.len() >= MIN_MASKED_LEN && text.contains(&**secret) {
            *text = text.replace(&**secret, MASK);
        }
    }
}

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

/// A run's variables as people see them: `_secrets` and `_masked` values, and the
/// run's masked values (`masked`) wherever they are, names included, show as `***`.
pub fn view_variables(variables: &JsonMap, masked: &[SecretText]) -> JsonMap {
    let mut map = variables.clone();
    mask_map(&mut map);
    if masked.is_empty() {
        return map;
    }
    let mut value = Value::Object(map);
    mask_values(&mut value, masked);
    match value {
        Value::Object(map) => map,
        _ => JsonMap::new(),
    }
}
