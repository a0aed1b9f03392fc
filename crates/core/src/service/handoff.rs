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

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use serde_json::Value;

use super::Runtime;
use crate::engine::expr::{ENV_PREFIX, SECRETS_PREFIX, expression_spans, java_to_string, select};
use crate::engine::state::{Authority, WorkflowState};
use crate::error::CoreError;
use crate::exec::effects::{self, EngineAction};
use crate::model::{JsonMap, Task, TaskExecLog, TaskResult, WorkflowDef};
use crate::security::model::Access;
use crate::security::{Principal, Resource, ResourceType};
use crate::store::SecretKind;

use crate::engine::masked::mask_text;
pub use crate::engine::masked::{MASK, SecretText, mask_values};

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
        let (kind, name, path) = Reference::split(body)?;
        Some(Reference {
            kind,
            name: name.to_string(),
            path: path.map(str::to_string),
        })
    }

    /// The kind, name and field path of an expression body, borrowed from it.
    fn split(body: &str) -> Option<(SecretKind, &str, Option<&str>)> {
        let body = body.trim();
        let (kind, rest) = if let Some(rest) = body.strip_prefix(SECRETS_PREFIX) {
            (SecretKind::Secret, rest)
        } else if let Some(rest) = body.strip_prefix(ENV_PREFIX) {
            (SecretKind::Env, rest)
        } else {
            return None;
        };
        let (name, path) = match rest.split_once('.') {
            Some((name, path)) => (name, Some(path.trim_start_matches("$."))),
            None => (rest, None),
        };
        if name.is_empty() {
            return None;
        }
        Some((kind, name, path.filter(|p| !p.is_empty() && *p != "$")))
    }

    fn noun(&self) -> &'static str {
        match self.kind {
            SecretKind::Secret => "secret",
            SecretKind::Env => "environment variable",
        }
    }
}

/// Entries kept per map before it starts over.
const CACHE_LIMIT: usize = 50_000;

/// What hand-offs remember, so the hot path reads no workflow from the store: per
/// workflow, its starter and definition (neither changes, except the definition on
/// a restart, which forgets the entry); per task handed over until its result
/// arrives, the secret values it got (to mask the worker's result without opening
/// the stored task or the vault again; the worker holds them anyway).
/// What a hand-off needs of a workflow: its starter, definition and revision.
#[derive(Clone)]
struct Known {
    starter: Option<String>,
    authority: Authority,
    def: Arc<WorkflowDef>,
    revision: String,
}

/// A definition node's input parameters and the references written in them.
struct Template {
    params: JsonMap,
    references: BTreeSet<Reference>,
}

#[derive(Default)]
pub struct HandoffCache {
    workflows: parking_lot::Mutex<Map<Known>>,
    templates: parking_lot::Mutex<Map<Arc<Template>>>,
    handed: parking_lot::Mutex<Map<Arc<[SecretText]>>>,
    definitions: parking_lot::Mutex<Map<Arc<BTreeSet<Reference>>>>,
    /// Per workflow, the directory version at which its starter was last found to
    /// read every reference of its definition.
    checked: parking_lot::Mutex<Map<u64>>,
}

impl std::fmt::Debug for HandoffCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HandoffCache")
    }
}

/// A cache map by id.
type Map<V> = HashMap<String, V, foldhash::fast::RandomState>;

fn bounded_insert<V>(map: &mut Map<V>, key: String, value: V) {
    if map.len() >= CACHE_LIMIT {
        map.clear();
    }
    map.insert(key, value);
}

impl HandoffCache {
    /// Forgets a workflow (its definition may have changed).
    pub fn forget_workflow(&self, workflow_id: &str) {
        self.workflows.lock().remove(workflow_id);
        self.checked.lock().remove(workflow_id);
    }

    /// Remembers a workflow's starter, authority and definition.
    pub fn remember_workflow(
        &self,
        workflow_id: &str,
        starter: Option<String>,
        authority: Authority,
        def: Arc<WorkflowDef>,
        revision: &str,
    ) {
        let known = Known {
            starter,
            authority,
            def,
            revision: revision.to_string(),
        };
        bounded_insert(&mut self.workflows.lock(), workflow_id.to_string(), known);
    }

    /// The template of a task in a definition revision.
    fn template(&self, known: &Known, task: &Task) -> Arc<Template> {
        let key = format!("{}\u{1f}{}", known.revision, task.reference_task_name);
        if let Some(found) = self.templates.lock().get(&key) {
            return found.clone();
        }
        let params = template_of(&known.def, task);
        let references = references(&Value::Object(params.clone()));
        let template = Arc::new(Template { params, references });
        bounded_insert(&mut self.templates.lock(), key, template.clone());
        template
    }

    /// The secret values a task was handed, forgetting them.
    pub fn take_handed(&self, task_id: &str) -> Option<Arc<[SecretText]>> {
        self.handed.lock().remove(task_id)
    }

    /// Every reference the tasks of a definition revision write.
    pub fn definition_references(
        &self,
        revision: &str,
        def: &WorkflowDef,
    ) -> Arc<BTreeSet<Reference>> {
        if let Some(found) = self.definitions.lock().get(revision) {
            return found.clone();
        }
        let mut refs = BTreeSet::new();
        for task in def.all_tasks() {
            if has_references(&task.input_parameters) {
                refs.extend(references(&Value::Object(task.input_parameters.clone())));
            }
        }
        let refs = Arc::new(refs);
        bounded_insert(
            &mut self.definitions.lock(),
            revision.to_string(),
            refs.clone(),
        );
        refs
    }

    fn remember_handed(&self, task_id: &str, values: Arc<[SecretText]>) {
        bounded_insert(&mut self.handed.lock(), task_id.to_string(), values);
    }
}

/// A live run read from the store, or the reason a task of it cannot go on.
pub(crate) async fn live_workflow(
    rt: &Runtime,
    workflow_id: &str,
) -> Result<WorkflowState, String> {
    rt.stores
        .execution
        .get_workflow(workflow_id)
        .await
        .map_err(|e| CoreError::from(e).into_reason())?
        .ok_or_else(|| "the workflow no longer exists".to_string())
}

/// [`secret_values_of`] for a task of a workflow not at hand. A workflow that is no
/// longer live (archived) has its stored input's references counted instead: a
/// log line then hides more, never less.
pub async fn secret_values_of_task(rt: &Runtime, task: &Task) -> Vec<SecretText> {
    if !has_references(&task.input_data) {
        return Vec::new();
    }
    match workflow_of(rt, &task.workflow_instance_id).await {
        Ok(known) => secret_values_of(rt, &known.def, task),
        Err(_) => opened(rt, &Value::Object(task.input_data.clone())),
    }
}

/// A workflow's starter and definition, from the cache or the store.
async fn workflow_of(rt: &Runtime, workflow_id: &str) -> Result<Known, String> {
    if let Some(found) = rt.handoffs.workflows.lock().get(workflow_id) {
        return Ok(found.clone());
    }
    let state = live_workflow(rt, workflow_id).await?;
    let known = Known {
        starter: state.workflow.created_by.clone(),
        authority: state.authority.clone(),
        def: state.def.clone(),
        revision: state.def_revision.clone(),
    };
    bounded_insert(
        &mut rt.handoffs.workflows.lock(),
        workflow_id.to_string(),
        known.clone(),
    );
    Ok(known)
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
    let reference = crate::engine::loops::bare_ref(task);
    crate::engine::graph::find_task(def, reference)
        // A DYNAMIC node's task is chosen by data: it is handed no secret (its
        // definition may name none, see `validation`).
        .filter(|node| {
            crate::engine::TaskKind::of(&node.task_type) != crate::engine::TaskKind::Dynamic
        })
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

/// Checks that `principal` may read every reference (at start, and at hand-off).
pub fn check_readable<'r>(
    rt: &Runtime,
    principal: &Principal,
    refs: impl IntoIterator<Item = &'r Reference>,
) -> Result<(), &'r Reference> {
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

/// Why a reference cannot be read at hand-off by `who` (one of the run's
/// principals): gone, or not readable by them.
pub fn unreadable(rt: &Runtime, who: &str, r: &Reference) -> String {
    if rt.vault.exists(r.kind, &r.name) {
        format!("{who} may not read {} '{}'", r.noun(), r.name)
    } else {
        format!("{} '{}' does not exist", r.noun(), r.name)
    }
}

/// What one reference reads: a whole value (shared with the vault), or a field of a
/// JSON value.
enum Read {
    Whole(SecretText),
    Field(Value),
}

impl Read {
    fn to_value(&self) -> Value {
        match self {
            Read::Whole(text) => Value::String(text.to_string()),
            Read::Field(value) => value.clone(),
        }
    }

    fn push_text(&self, out: &mut String) {
        match self {
            Read::Whole(text) => out.push_str(text),
            Read::Field(value) => out.push_str(&java_to_string(value)),
        }
    }
}

/// The whole stored text of one reference, and what it reads.
fn value_of(rt: &Runtime, r: &Reference) -> Result<(SecretText, Read), String> {
    let text = rt
        .vault
        .opened(r.kind, &r.name)
        .map_err(CoreError::into_reason)?
        .ok_or_else(|| format!("{} '{}' does not exist", r.noun(), r.name))?;
    let Some(path) = &r.path else {
        return Ok((text.clone(), Read::Whole(text)));
    };
    let parsed: Value = serde_json::from_str(&text).map_err(|_| {
        format!(
            "{} '{}' is not JSON, so its field '{path}' cannot be read",
            r.noun(),
            r.name
        )
    })?;
    let value = select(&parsed, path);
    Ok((text, Read::Field(value)))
}

/// Puts the values of the references a template (the definition node's input
/// parameters) writes into `input`, at the places the template wrote them, and
/// returns the secret values put in (longest first, as masking wants them). The
/// caller has checked that the starter may read them. On error `input` is unchanged
/// and the error names what failed, never a value.
fn resolve_with(
    rt: &Runtime,
    template: &Template,
    input: &mut JsonMap,
) -> Result<Vec<SecretText>, String> {
    let allowed = &template.references;
    let mut secret_values = Vec::with_capacity(allowed.len());
    let mut values: Vec<(&Reference, Read)> = Vec::with_capacity(allowed.len());
    for r in allowed {
        let (whole, read) = value_of(rt, r)?;
        if r.kind == SecretKind::Secret {
            // The whole value and the field read are both masked on the way back.
            if let Read::Field(value) = &read {
                secret_values.push(Arc::from(java_to_string(value)));
            }
            secret_values.push(whole);
        }
        values.push((r, read));
    }
    // Stored inputs keep the template's key order, so the template is walked alongside
    // and looked up by key only where the orders differ.
    let mut params = template.params.iter();
    for (key, value) in input.iter_mut() {
        let found = match params.next() {
            Some((k, t)) if k == key => Some(t),
            _ => template.params.get(key),
        };
        if let Some(t) = found {
            guided(t, value, &values);
        }
    }
    secret_values.sort_by_key(|s| std::cmp::Reverse(s.len()));
    Ok(secret_values)
}

/// Resolved values by reference.
type Values<'r> = [(&'r Reference, Read)];

fn lookup<'v>(values: &'v Values<'_>, body: &str) -> Option<&'v Read> {
    let (kind, name, path) = Reference::split(body)?;
    values
        .iter()
        .find(|(r, _)| r.kind == kind && r.name == name && r.path.as_deref() == path)
        .map(|(_, v)| v)
}

/// Substitutes only where the template holds a reference, walking template and
/// input side by side.
fn guided(template: &Value, input: &mut Value, values: &Values<'_>) {
    match (template, input) {
        (Value::String(text), input) if may_refer(text) => substitute(input, values),
        (Value::Object(t), Value::Object(i)) => {
            for (k, v) in i.iter_mut() {
                if let Some(tv) = t.get(k) {
                    guided(tv, v, values);
                }
            }
        }
        (Value::Array(t), Value::Array(i)) => {
            for (tv, v) in t.iter().zip(i.iter_mut()) {
                guided(tv, v, values);
            }
        }
        _ => {}
    }
}

fn substitute(value: &mut Value, values: &Values<'_>) {
    match value {
        Value::String(text) if may_refer(text) => {
            let spans = expression_spans(text);
            let lookup =
                |span: &std::ops::Range<usize>| lookup(values, &text[span.start + 2..span.end - 1]);
            if let [only] = spans.as_slice()
                && only.start == 0
                && only.end == text.len()
            {
                if let Some(read) = lookup(only) {
                    *value = read.to_value();
                }
                return;
            }
            let mut out = String::with_capacity(text.len());
            let mut last = 0;
            for span in &spans {
                out.push_str(&text[last..span.start]);
                match lookup(span) {
                    Some(read) => read.push_text(&mut out),
                    None => out.push_str(&text[span.clone()]),
                }
                last = span.end;
            }
            out.push_str(&text[last..]);
            *text = out;
        }
        Value::Array(items) => items.iter_mut().for_each(|v| substitute(v, values)),
        Value::Object(map) => map.values_mut().for_each(|v| substitute(v, values)),
        _ => {}
    }
}

/// Resolves a stored task's input for its worker (`action` is the hand-off) or a
/// system task runner: the values of the references its definition node writes,
/// read on behalf of the run's principals (its starter and cosigners). Returns the
/// secret values the input now holds (to mask what comes back).
pub async fn resolve_task(
    rt: &Runtime,
    task: &mut Task,
    action: EngineAction,
) -> Result<Vec<SecretText>, String> {
    if !has_references(&task.input_data) {
        return Ok(Vec::new());
    }
    let known = workflow_of(rt, &task.workflow_instance_id).await?;
    let template = rt.handoffs.template(&known, task);
    // READ on every reference of the definition for each of the run's principals,
    // checked again only when access control changed since the last check for this
    // workflow.
    let version = rt.authorizer.directory().read().version();
    let checked = rt.handoffs.checked.lock().get(&task.workflow_instance_id) == Some(&version);
    if !checked {
        let all = rt
            .handoffs
            .definition_references(&known.revision, &known.def);
        let scope = effects::Scope {
            starter: known.starter.as_deref(),
            authority: &known.authority,
            run: None,
            start: None,
            references: Some(&all),
            secret: None,
            chosen: None,
        };
        effects::authorize_need(rt, action, effects::Need::References, &scope)?;
        bounded_insert(
            &mut rt.handoffs.checked.lock(),
            task.workflow_instance_id.clone(),
            version,
        );
    }
    let handed = resolve_with(rt, &template, &mut task.input_data)?;
    rt.handoffs
        .remember_handed(&task.task_id, Arc::from(handed.as_slice()));
    Ok(handed)
}

/// Replaces every occurrence of the values in one string.
pub fn mask_text_values(text: &mut String, secrets: &[SecretText]) {
    mask_text(text, secrets);
}

/// Masks the secret values a task received wherever its result could carry them.
pub fn mask_result(result: &mut TaskResult, secrets: &[SecretText]) {
    if secrets.is_empty() {
        return;
    }
    // Longest first, so a field read is not masked inside a whole value before the
    // whole value is.
    let sorted: Vec<SecretText>;
    let secrets = if secrets.is_sorted_by(|a, b| a.len() >= b.len()) {
        secrets
    } else {
        let mut copy = secrets.to_vec();
        copy.sort_by_key(|s| std::cmp::Reverse(s.len()));
        sorted = copy;
        sorted.as_slice()
    };
    let mut output = Value::Object(std::mem::take(&mut result.output_data));
    mask_values(&mut output, secrets);
    if let Value::Object(map) = output {
        result.output_data = map;
    }
    for log in &mut result.logs {
        mask_log(log, secrets);
    }
    if let Some(reason) = &mut result.reason_for_incompletion {
        mask_text(reason, secrets);
    }
}

/// Masks secret values in a log line.
pub fn mask_log(log: &mut TaskExecLog, secrets: &[SecretText]) {
    mask_text(&mut log.log, secrets);
}

/// The secret values a task's definition hands it (and the fields it reads), for
/// masking its result when this node did not hand the task over. Only the
/// references its definition node writes count, as at the hand-off: reference text
/// that came in as data (a workflow's input) names nothing, or masking would tell
/// a worker whether its guess of that secret was right. Missing secrets are skipped.
pub fn secret_values_of(rt: &Runtime, def: &WorkflowDef, task: &Task) -> Vec<SecretText> {
    if !has_references(&task.input_data) {
        return Vec::new();
    }
    opened(rt, &Value::Object(template_of(def, task)))
}

/// The secret values the references in `value` name (and the fields they read);
/// missing secrets are skipped.
fn opened(rt: &Runtime, value: &Value) -> Vec<SecretText> {
    let mut out = Vec::new();
    for r in references(value) {
        if r.kind != SecretKind::Secret {
            continue;
        }
        if let Ok(Some(text)) = rt.vault.opened(r.kind, &r.name) {
            if let Some(path) = &r.path
                && let Ok(parsed) = serde_json::from_str::<Value>(&text)
            {
                out.push(Arc::from(java_to_string(&select(&parsed, path))));
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
        let token = Reference::parse("workflow.secrets.tok").expect("ref");
        let port = Reference::parse("workflow.secrets.db.port").expect("ref");
        let values = vec![
            (&token, Read::Whole(Arc::from("abc123"))),
            (&port, Read::Field(json!(5432))),
        ];
        let mut input = json!({
            "header": "Bearer ${workflow.secrets.tok}",
            "port": "${workflow.secrets.db.port}",
            "untouched": "${workflow.secrets.not_allowed}",
            "nested": [{"t": "${workflow.secrets.tok}"}]
        });
        substitute(&mut input, &values);
        assert_eq!(
            input,
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
        mask_result(&mut result, &[Arc::from("abc123"), Arc::from("x")]);
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
