//! Secrets and environment variables at hand-off. A task's stored input keeps
//! `${workflow.secrets.name}` and `${workflow.env.name}` as written; the values are
//! put in only in the copy handed to the task's worker (at poll) or to a system task
//! runner, read as the identity that started the workflow, which must hold READ on
//! each. Only references written in the workflow definition's own task are resolved,
//! so data that merely looks like a reference (a workflow input, another task's
//! output) never reads a secret.
//!
//! What comes back from the worker is masked again: every resolved secret value is
//! replaced by `***` in its output, logs and reason, so an echo never reaches the
//! store or an API response.

use std::collections::BTreeSet;

use serde_json::Value;

use super::Runtime;
use super::users::principal_of;
use crate::engine::expr::{ENV_PREFIX, SECRETS_PREFIX, expression_spans, java_to_string, select};
use crate::model::{JsonMap, Task, TaskExecLog, TaskResult, WorkflowDef};
use crate::security::model::Access;
use crate::security::{Principal, Resource, ResourceType, SecurityMode};
use crate::store::SecretKind;

/// What masked values show as.
pub const MASK: &str = "***";

/// Values shorter than this are not masked by value (masking `a` everywhere would
/// garble every output); they are still never stored or logged by Podium itself.
const MIN_MASKED_LEN: usize = 3;

/// One `${workflow.secrets.name[.path]}` or `${workflow.env.name[.path]}`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Reference {
    pub kind: SecretKind,
    pub name: String,
    /// A field path into a JSON value.
    pub path: Option<String>,
}

impl Reference {
    /// Parses the body of an expression.
    pub fn parse(body: &str) -> Option<Reference> {
        let body = body.trim();
        let (kind, rest) = if let Some(rest) = body.strip_prefix(SECRETS_PREFIX) {
            (SecretKind::Secret, rest)
        } else if let Some(rest) = body.strip_prefix(ENV_PREFIX) {
            (SecretKind::Env, rest)
        } else {
            return None;
        };
        let (name, path) = match rest.split_once('.') {
            Some((name, path)) => (name, Some(path.trim_start_matches("$.").to_string())),
            None => (rest, None),
        };
        if name.is_empty() {
            return None;
        }
        Some(Reference {
            kind,
            name: name.to_string(),
            path: path.filter(|p| !p.is_empty() && p != "$"),
        })
    }

    fn noun(&self) -> &'static str {
        match self.kind {
            SecretKind::Secret => "secret",
            SecretKind::Env => "environment variable",
        }
    }
}

/// Whether a string may hold a reference (a cheap test before parsing).
fn may_refer(text: &str) -> bool {
    text.contains("${workflow.secrets.") || text.contains("${workflow.env.")
}

/// Every reference in a JSON value, in its strings at any depth.
pub fn references(value: &Value) -> BTreeSet<Reference> {
    let mut out = BTreeSet::new();
    collect(value, &mut out);
    out
}

fn collect(value: &Value, out: &mut BTreeSet<Reference>) {
    match value {
        Value::String(text) if may_refer(text) => {
            for span in expression_spans(text) {
                if let Some(r) = Reference::parse(&text[span.start + 2..span.end - 1]) {
                    out.insert(r);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect(v, out)),
        Value::Object(map) => map.values().for_each(|v| collect(v, out)),
        _ => {}
    }
}

/// Whether a task input holds any reference.
pub fn has_references(input: &JsonMap) -> bool {
    fn any(value: &Value) -> bool {
        match value {
            Value::String(text) => may_refer(text),
            Value::Array(items) => items.iter().any(any),
            Value::Object(map) => map.values().any(any),
            _ => false,
        }
    }
    input.values().any(any)
}

/// The definition's own input parameters for a task: the template its stored input
/// was made from. Only references written there are resolved.
pub fn template_of(def: &WorkflowDef, task: &Task) -> JsonMap {
    let reference = if task.loop_over_task {
        task.reference_task_name
            .rsplit_once("__")
            .map_or(task.reference_task_name.as_str(), |(base, _)| base)
    } else {
        task.reference_task_name.as_str()
    };
    crate::engine::graph::find_task(def, reference)
        .map(|node| node.input_parameters.clone())
        .unwrap_or_default()
}

/// The resource a reference reads.
pub fn resource(kind: SecretKind, name: &str) -> Resource<'_> {
    match kind {
        SecretKind::Secret => Resource::new(ResourceType::Secret, name),
        SecretKind::Env => Resource::new(ResourceType::EnvVariable, name),
    }
}

/// The identity a workflow's secrets are read as; None when security is off.
pub fn starter(rt: &Runtime, created_by: Option<&str>) -> Result<Option<Principal>, String> {
    if rt.authorizer.mode() == SecurityMode::Disabled {
        return Ok(None);
    }
    let id = created_by.ok_or("the workflow has no recorded starter to read secrets as")?;
    let directory = rt.authorizer.directory().read();
    principal_of(&directory, id)
        .map(Some)
        .map_err(|_| format!("the workflow's starter {id} no longer exists"))
}

/// Checks that `principal` may read every reference (at start, and at hand-off).
pub fn check_readable<'r>(
    rt: &Runtime,
    principal: Option<&Principal>,
    refs: impl IntoIterator<Item = &'r Reference>,
) -> Result<(), &'r Reference> {
    let Some(principal) = principal else {
        return Ok(());
    };
    for r in refs {
        if !rt
            .authorizer
            .can(principal, Access::Read, resource(r.kind, &r.name))
        {
            return Err(r);
        }
    }
    Ok(())
}

/// The value of one reference.
fn value_of(rt: &Runtime, r: &Reference) -> Result<Value, String> {
    let text = rt
        .vault
        .value(r.kind, &r.name)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("{} '{}' does not exist", r.noun(), r.name))?;
    let Some(path) = &r.path else {
        return Ok(Value::String(text));
    };
    let parsed: Value = serde_json::from_str(&text).map_err(|_| {
        format!(
            "{} '{}' is not JSON, so its field '{path}' cannot be read",
            r.noun(),
            r.name
        )
    })?;
    Ok(select(&parsed, path))
}

/// The secrets a task received, for masking what comes back.
#[derive(Debug, Default, Clone)]
pub struct Resolved {
    pub secret_values: Vec<String>,
}

/// Puts the values of the references written in `template` (the definition's input
/// parameters) into a copy of `input`, read as `principal`, at the places the
/// template wrote them. The error names what failed, never a value.
pub fn resolve_input(
    rt: &Runtime,
    principal: Option<&Principal>,
    template: &JsonMap,
    input: &JsonMap,
) -> Result<(JsonMap, Resolved), String> {
    let template = Value::Object(template.clone());
    let allowed = references(&template);
    check_readable(rt, principal, &allowed).map_err(|r| {
        format!(
            "the workflow's starter may not read {} '{}'",
            r.noun(),
            r.name
        )
    })?;
    let mut resolved = Resolved::default();
    let mut values = std::collections::BTreeMap::new();
    for r in &allowed {
        let value = value_of(rt, r)?;
        if r.kind == SecretKind::Secret {
            // The whole value and the field read are both masked on the way back.
            if let Some(text) = rt.vault.value(r.kind, &r.name).ok().flatten() {
                resolved.secret_values.push(text);
            }
            if r.path.is_some() {
                resolved.secret_values.push(java_to_string(&value));
            }
        }
        values.insert(r.clone(), value);
    }
    let out = match guided(&template, &Value::Object(input.clone()), &values) {
        Value::Object(map) => map,
        _ => input.clone(),
    };
    Ok((out, resolved))
}

/// Substitutes only where the template holds a reference, walking template and
/// input side by side.
fn guided(
    template: &Value,
    input: &Value,
    values: &std::collections::BTreeMap<Reference, Value>,
) -> Value {
    match (template, input) {
        (Value::String(text), _) if may_refer(text) => substitute(input, values),
        (Value::Object(t), Value::Object(i)) => Value::Object(
            i.iter()
                .map(|(k, v)| {
                    let v = match t.get(k) {
                        Some(tv) => guided(tv, v, values),
                        None => v.clone(),
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        (Value::Array(t), Value::Array(i)) => Value::Array(
            i.iter()
                .enumerate()
                .map(|(n, v)| match t.get(n) {
                    Some(tv) => guided(tv, v, values),
                    None => v.clone(),
                })
                .collect(),
        ),
        _ => input.clone(),
    }
}

fn substitute(value: &Value, values: &std::collections::BTreeMap<Reference, Value>) -> Value {
    match value {
        Value::String(text) if may_refer(text) => {
            let spans = expression_spans(text);
            let lookup = |span: &std::ops::Range<usize>| {
                Reference::parse(&text[span.start + 2..span.end - 1]).and_then(|r| values.get(&r))
            };
            if let [only] = spans.as_slice()
                && only.start == 0
                && only.end == text.len()
                && let Some(v) = lookup(only)
            {
                return v.clone();
            }
            let mut out = String::with_capacity(text.len());
            let mut last = 0;
            for span in &spans {
                out.push_str(&text[last..span.start]);
                match lookup(span) {
                    Some(v) => out.push_str(&java_to_string(v)),
                    None => out.push_str(&text[span.clone()]),
                }
                last = span.end;
            }
            out.push_str(&text[last..]);
            Value::String(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(|v| substitute(v, values)).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), substitute(v, values)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Resolves a stored task's input for a system task runner: the values of the
/// references its definition node writes, read as the workflow's starter. Returns
/// the input and the secret values it now holds (to mask what comes back).
pub async fn resolve_task(rt: &Runtime, task: &Task) -> Result<(JsonMap, Vec<String>), String> {
    if !has_references(&task.input_data) {
        return Ok((task.input_data.clone(), Vec::new()));
    }
    let state = rt
        .stores
        .execution
        .get_workflow(&task.workflow_instance_id)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("the workflow no longer exists")?;
    let template = template_of(&state.def, task);
    let principal = starter(rt, state.workflow.created_by.as_deref())?;
    let (input, resolved) = resolve_input(rt, principal.as_ref(), &template, &task.input_data)?;
    Ok((input, resolved.secret_values))
}

/// Replaces every occurrence of the values in strings of a JSON value.
pub fn mask_values(value: &mut Value, secrets: &[String]) {
    match value {
        Value::String(text) => mask_text(text, secrets),
        Value::Array(items) => items.iter_mut().for_each(|v| mask_values(v, secrets)),
        Value::Object(map) => map.values_mut().for_each(|v| mask_values(v, secrets)),
        _ => {}
    }
}

/// Replaces every occurrence of the values in one string.
pub fn mask_text_values(text: &mut String, secrets: &[String]) {
    mask_text(text, secrets);
}

fn mask_text(text: &mut String, secrets: &[String]) {
    for secret in secrets {
        if secret.len() >= MIN_MASKED_LEN && text.contains(secret.as_str()) {
            *text = text.replace(secret.as_str(), MASK);
        }
    }
}

/// Masks the secret values a task received wherever its result could carry them.
pub fn mask_result(result: &mut TaskResult, secrets: &[String]) {
    if secrets.is_empty() {
        return;
    }
    for value in result.output_data.values_mut() {
        mask_values(value, secrets);
    }
    for log in &mut result.logs {
        mask_log(log, secrets);
    }
    if let Some(reason) = &mut result.reason_for_incompletion {
        mask_text(reason, secrets);
    }
}

/// Masks secret values in a log line.
pub fn mask_log(log: &mut TaskExecLog, secrets: &[String]) {
    mask_text(&mut log.log, secrets);
}

/// The secret values a stored task input refers to, for masking its result (the
/// values it was handed). Missing secrets are skipped.
pub fn secret_values_of(rt: &Runtime, input: &JsonMap) -> Vec<String> {
    if !has_references(input) {
        return Vec::new();
    }
    let mut out = Vec::new();
    for r in references(&Value::Object(input.clone())) {
        if r.kind != SecretKind::Secret {
            continue;
        }
        if let Ok(Some(text)) = rt.vault.value(r.kind, &r.name) {
            if let Some(path) = &r.path
                && let Ok(parsed) = serde_json::from_str::<Value>(&text)
            {
                out.push(java_to_string(&select(&parsed, path)));
            }
            out.push(text);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn references_are_found_and_parsed() {
        let input = json!({
            "h": {"Authorization": "Bearer ${workflow.secrets.api-token}"},
            "user": "${workflow.secrets.db.username}",
            "region": ["${workflow.env.region}", "$${workflow.secrets.escaped}"],
            "other": "${workflow.input.x}"
        });
        let refs = references(&input);
        let names: Vec<(SecretKind, &str, Option<&str>)> = refs
            .iter()
            .map(|r| (r.kind, r.name.as_str(), r.path.as_deref()))
            .collect();
        assert_eq!(
            names,
            vec![
                (SecretKind::Secret, "api-token", None),
                (SecretKind::Secret, "db", Some("username")),
                (SecretKind::Env, "region", None),
            ]
        );
        assert!(has_references(input.as_object().expect("map")));
        assert!(!has_references(
            json!({"a": "${x.output}"}).as_object().expect("map")
        ));
    }

    #[test]
    fn substitution_keeps_types_and_leaves_other_references() {
        let mut values = std::collections::BTreeMap::new();
        let token = Reference::parse("workflow.secrets.tok").expect("ref");
        let port = Reference::parse("workflow.secrets.db.port").expect("ref");
        values.insert(token, json!("abc123"));
        values.insert(port, json!(5432));
        let input = json!({
            "header": "Bearer ${workflow.secrets.tok}",
            "port": "${workflow.secrets.db.port}",
            "untouched": "${workflow.secrets.not_allowed}",
            "nested": [{"t": "${workflow.secrets.tok}"}]
        });
        let out = substitute(&input, &values);
        assert_eq!(
            out,
            json!({
                "header": "Bearer abc123",
                "port": 5432,
                "untouched": "${workflow.secrets.not_allowed}",
                "nested": [{"t": "abc123"}]
            })
        );
    }

    #[test]
    fn masking_replaces_echoed_values() {
        let mut result = TaskResult {
            workflow_instance_id: "w".into(),
            task_id: "t".into(),
            reason_for_incompletion: Some("token abc123 refused".into()),
            callback_after_seconds: 0,
            worker_id: None,
            status: crate::model::TaskResultStatus::Failed,
            output_data: json!({"echo": "got abc123!", "list": ["abc123"], "n": 1})
                .as_object()
                .cloned()
                .unwrap_or_default(),
            logs: vec![TaskExecLog {
                log: "using abc123".into(),
                task_id: Some("t".into()),
                created_time: 0,
            }],
            external_output_payload_storage_path: None,
            sub_workflow_id: None,
            extend_lease: false,
        };
        mask_result(&mut result, &["abc123".into(), "x".into()]);
        assert_eq!(
            Value::Object(result.output_data),
            json!({"echo": "got ***!", "list": ["***"], "n": 1})
        );
        assert_eq!(result.logs[0].log, "using ***");
        assert_eq!(
            result.reason_for_incompletion.as_deref(),
            Some("token *** refused")
        );
    }
}
