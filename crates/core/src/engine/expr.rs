//! Conductor's parameter expressions: `${workflow.input.x}`, `${ref.output.y}` and the
//! rest, resolved against a workflow's state with Conductor's typing rules.
//!
//! - A string that is exactly one expression becomes the typed value it names (an
//!   object, list, number, boolean or null).
//! - Expressions embedded in other text are stringified the way Conductor's Java does
//!   (`{a=1}` for objects, `[1, 2]` for lists, `null` for missing values).
//! - `$${` escapes a literal `${`; `${a.${b}}` resolves the inner expression first.
//! - Paths are JSONPath without the leading `$.`; simple dotted and indexed paths are
//!   resolved directly, anything else (wildcards, filters, slices) through a JSONPath
//!   engine on the full document.
//! - `${workflow.secrets.*}` and `${workflow.env.*}` are left as written: they are
//!   resolved only when a task is handed over, never stored resolved.

use serde_json::{Map, Value};

use crate::model::{JsonMap, Task};

/// The data an expression can see.
pub struct ExprContext<'a> {
    /// Workflow-level fields (`workflow.*`).
    pub workflow: WorkflowFields<'a>,
    /// Tasks by reference name; the latest attempt of each reference wins.
    pub tasks: &'a [Task],
    /// The id of the task being scheduled (`${CPEWF_TASK_ID}`).
    pub task_id: Option<&'a str>,
}

/// The `workflow` root of the expression document.
pub struct WorkflowFields<'a> {
    pub input: &'a JsonMap,
    pub output: &'a JsonMap,
    pub variables: &'a JsonMap,
    pub status: &'a str,
    pub workflow_id: &'a str,
    pub parent_workflow_id: Option<&'a str>,
    pub parent_workflow_task_id: Option<&'a str>,
    pub workflow_type: &'a str,
    pub version: i32,
    pub correlation_id: Option<&'a str>,
    pub reason_for_incompletion: Option<&'a str>,
    pub schema_version: i32,
}

/// References resolved at hand-off, not when a task is scheduled.
pub const SECRETS_PREFIX: &str = "workflow.secrets.";
pub const ENV_PREFIX: &str = "workflow.env.";

/// Resolves every expression in a map of input parameters.
pub fn resolve_map(params: &JsonMap, ctx: &ExprContext<'_>) -> JsonMap {
    params
        .iter()
        .map(|(key, value)| (key.clone(), resolve_value(value, ctx)))
        .collect()
}

/// Resolves every expression inside a JSON value.
pub fn resolve_value(value: &Value, ctx: &ExprContext<'_>) -> Value {
    match value {
        Value::String(text) => resolve_string(text, ctx, 0),
        Value::Object(map) => Value::Object(resolve_map(map, ctx)),
        Value::Array(items) => Value::Array(items.iter().map(|v| resolve_value(v, ctx)).collect()),
        other => other.clone(),
    }
}

/// A `${...}` found in a string: byte range of the whole match and of its body.
struct Span {
    start: usize,
    end: usize,
}

/// Finds the top-level expressions of `text`, balancing nested braces and skipping
/// `$${` escapes.
fn find_spans(text: &str) -> Vec<Span> {
    let bytes = text.as_bytes();
    let mut spans = Vec::new();
    let mut i = 0;
    while i + 1 < bytes.len() {
        let escaped = i > 0 && bytes[i - 1] == b'$';
        if bytes[i] == b'$' && bytes[i + 1] == b'{' && !escaped {
            let mut depth = 0usize;
            let mut j = i + 1;
            let mut closed = None;
            while j < bytes.len() {
                match bytes[j] {
                    b'{' => depth += 1,
                    b'}' => {
                        depth -= 1;
                        if depth == 0 {
                            closed = Some(j);
                            break;
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
            match closed {
                Some(end) => {
                    spans.push(Span {
                        start: i,
                        end: end + 1,
                    });
                    i = end + 1;
                }
                None => break,
            }
        } else {
            i += 1;
        }
    }
    spans
}

fn resolve_string(text: &str, ctx: &ExprContext<'_>, depth: usize) -> Value {
    if !text.contains("${") {
        return Value::String(text.to_string());
    }
    // The common deferred case, `${workflow.secrets.name}` alone: kept as written.
    if let Some(body) = text.strip_prefix("${").and_then(|t| t.strip_suffix('}'))
        && (body.starts_with(SECRETS_PREFIX) || body.starts_with(ENV_PREFIX))
        && !body.contains(['{', '}'])
    {
        return Value::String(text.to_string());
    }
    let spans = find_spans(text);
    if spans.is_empty() {
        return Value::String(text.replace("$${", "${"));
    }
    let mut values = Vec::with_capacity(spans.len());
    for span in &spans {
        let body = &text[span.start + 2..span.end - 1];
        let path = match resolve_string(body, ctx, depth + 1) {
            Value::String(s) => s,
            other => java_to_string(&other),
        };
        let value = if path.trim().is_empty() {
            Some(Value::String(String::new()))
        } else if path.starts_with(SECRETS_PREFIX) || path.starts_with(ENV_PREFIX) {
            // Kept literally; resolved at hand-off.
            Some(Value::String(text[span.start..span.end].to_string()))
        } else if path == "CPEWF_TASK_ID" {
            ctx.task_id.map(|id| Value::String(id.to_string()))
        } else {
            Some(lookup(&path, ctx))
        };
        values.push(value);
    }
    if depth == 0 && spans.len() == 1 && spans[0].start == 0 && spans[0].end == text.len() {
        return values.pop().flatten().unwrap_or(Value::Null);
    }
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for (span, value) in spans.iter().zip(values) {
        out.push_str(&text[last..span.start]);
        match value {
            Some(v) => out.push_str(&java_to_string(&v)),
            // An unknown system parameter is left as written, as Conductor does.
            None => out.push_str(&text[span.start..span.end]),
        }
        last = span.end;
    }
    out.push_str(&text[last..]);
    Value::String(out.replace("$${", "${"))
}

/// Renders a value the way Java's `Objects.toString` renders Jackson's decoded types.
pub fn java_to_string(value: &Value) -> String {
    match value {
        Value::Null => "null".to_string(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(java_to_string).collect();
            format!("[{}]", parts.join(", "))
        }
        Value::Object(map) => {
            let parts: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{k}={}", java_to_string(v)))
                .collect();
            format!("{{{}}}", parts.join(", "))
        }
    }
}

/// One step of a simple path.
#[derive(Debug, PartialEq)]
enum Step {
    Key(String),
    Index(i64),
}

/// Parses `a.b[0]['c d']` into steps; None when the path needs a JSONPath engine.
fn simple_steps(path: &str) -> Option<Vec<Step>> {
    let path = path.trim();
    let path = path.strip_prefix("$.").unwrap_or(path);
    let bytes = path.as_bytes();
    let mut steps = Vec::new();
    let mut i = 0;
    let mut key = String::new();
    while i < bytes.len() {
        match bytes[i] {
            b'.' => {
                if key.is_empty()
                    && !matches!(steps.last(), Some(Step::Index(_)) | Some(Step::Key(_)))
                {
                    return None;
                }
                if !key.is_empty() {
                    steps.push(Step::Key(std::mem::take(&mut key)));
                }
                if bytes.get(i + 1) == Some(&b'.') {
                    return None;
                }
                i += 1;
            }
            b'[' => {
                if !key.is_empty() {
                    steps.push(Step::Key(std::mem::take(&mut key)));
                }
                let close = path[i..].find(']')? + i;
                let inner = path[i + 1..close].trim();
                if let Some(quoted) = inner
                    .strip_prefix('\'')
                    .and_then(|s| s.strip_suffix('\''))
                    .or_else(|| inner.strip_prefix('"').and_then(|s| s.strip_suffix('"')))
                {
                    if quoted.contains(['\'', '"']) {
                        return None;
                    }
                    steps.push(Step::Key(quoted.to_string()));
                } else {
                    steps.push(Step::Index(inner.parse().ok()?));
                }
                i = close + 1;
            }
            b'*' | b'?' | b'(' | b')' | b'@' | b',' | b':' | b'$' => return None,
            _ => {
                let ch_len = path[i..].chars().next().map(char::len_utf8).unwrap_or(1);
                key.push_str(&path[i..i + ch_len]);
                i += ch_len;
            }
        }
    }
    if !key.is_empty() {
        steps.push(Step::Key(key));
    }
    if steps.is_empty() { None } else { Some(steps) }
}

fn step_into<'v>(value: &'v Value, step: &Step) -> Option<&'v Value> {
    match (value, step) {
        (Value::Object(map), Step::Key(k)) => map.get(k),
        (Value::Array(items), Step::Index(i)) => {
            let index = if *i < 0 { items.len() as i64 + i } else { *i };
            usize::try_from(index).ok().and_then(|i| items.get(i))
        }
        _ => None,
    }
}

/// Jayway's `length()`/`size()` path functions, the ones workflows use in practice.
fn strip_length_fn(path: &str) -> Option<&str> {
    path.strip_suffix(".length()")
        .or_else(|| path.strip_suffix(".size()"))
}

/// The top-level `${...}` expressions of a string: byte ranges of each whole match
/// (`$${` escapes skipped).
pub fn expression_spans(text: &str) -> Vec<std::ops::Range<usize>> {
    find_spans(text)
        .into_iter()
        .map(|s| s.start..s.end)
        .collect()
}

/// Reads a path (simple or JSONPath, without the leading `$.`) inside one value; a
/// missing path reads as null.
pub fn select(value: &Value, path: &str) -> Value {
    if let Some(steps) = simple_steps(path) {
        return descend(value, &steps).cloned().unwrap_or(Value::Null);
    }
    let trimmed = path.trim();
    let expr = if trimmed.starts_with('$') {
        trimmed.to_string()
    } else {
        format!("$.{trimmed}")
    };
    match serde_json_path::JsonPath::parse(&expr) {
        Ok(parsed) => parsed
            .query(value)
            .all()
            .first()
            .map_or(Value::Null, |v| (*v).clone()),
        Err(_) => Value::Null,
    }
}

/// Reads a path from the expression document; a missing path reads as null.
pub fn lookup(path: &str, ctx: &ExprContext<'_>) -> Value {
    if let Some(inner) = strip_length_fn(path.trim()) {
        return match lookup(inner, ctx) {
            Value::Array(items) => Value::from(items.len()),
            Value::Object(map) => Value::from(map.len()),
            Value::String(s) => Value::from(s.chars().count()),
            _ => Value::Null,
        };
    }
    match simple_steps(path) {
        Some(steps) => lookup_steps(&steps, ctx).unwrap_or(Value::Null),
        None => lookup_jsonpath(path, ctx),
    }
}

fn lookup_steps(steps: &[Step], ctx: &ExprContext<'_>) -> Option<Value> {
    let (root, rest) = steps.split_first()?;
    let Step::Key(root) = root else { return None };
    let (field, rest) = match rest.split_first() {
        Some((Step::Key(field), rest)) => (field.as_str(), rest),
        Some((Step::Index(_), _)) => return None,
        None => {
            // The whole root object.
            let doc = root_document(root, ctx)?;
            return Some(doc);
        }
    };
    let base: Value;
    let start: &Value = if root == "workflow" {
        match field {
            "input" => return descend_map(ctx.workflow.input, rest),
            "output" => return descend_map(ctx.workflow.output, rest),
            "variables" => return descend_map(ctx.workflow.variables, rest),
            _ => {
                base = workflow_scalar(field, ctx)?;
                &base
            }
        }
    } else {
        let task = latest_task(ctx.tasks, root)?;
        match field {
            "input" => return descend_map(&task.input_data, rest),
            "output" => return descend_map(&task.output_data, rest),
            _ => {
                base = task_scalar(task, field)?;
                &base
            }
        }
    };
    descend(start, rest).cloned()
}

fn descend_map(map: &JsonMap, steps: &[Step]) -> Option<Value> {
    match steps.split_first() {
        None => Some(Value::Object(map.clone())),
        Some((Step::Key(k), rest)) => descend(map.get(k)?, rest).cloned(),
        Some((Step::Index(_), _)) => None,
    }
}

fn descend<'v>(mut value: &'v Value, steps: &[Step]) -> Option<&'v Value> {
    for step in steps {
        value = step_into(value, step)?;
    }
    Some(value)
}

/// The latest task with this reference name (loop iterations addressed by the bare name).
fn latest_task<'t>(tasks: &'t [Task], reference: &str) -> Option<&'t Task> {
    tasks.iter().rev().find(|t| {
        t.reference_task_name == reference
            || (t.loop_over_task
                && t.reference_task_name
                    .rsplit_once("__")
                    .is_some_and(|(base, _)| base == reference))
    })
}

fn opt_str(value: Option<&str>) -> Value {
    value
        .map(|s| Value::String(s.to_string()))
        .unwrap_or(Value::Null)
}

fn workflow_scalar(field: &str, ctx: &ExprContext<'_>) -> Option<Value> {
    let wf = &ctx.workflow;
    Some(match field {
        "status" => Value::String(wf.status.to_string()),
        "workflowId" => Value::String(wf.workflow_id.to_string()),
        "parentWorkflowId" => opt_str(wf.parent_workflow_id),
        "parentWorkflowTaskId" => opt_str(wf.parent_workflow_task_id),
        "workflowType" => Value::String(wf.workflow_type.to_string()),
        "version" => Value::from(wf.version),
        "correlationId" => opt_str(wf.correlation_id),
        "reasonForIncompletion" => opt_str(wf.reason_for_incompletion),
        "schemaVersion" => Value::from(wf.schema_version),
        _ => return None,
    })
}

fn task_scalar(task: &Task, field: &str) -> Option<Value> {
    Some(match field {
        "taskType" => Value::String(task.task_type.clone()),
        "status" => Value::String(task.status.as_str().to_string()),
        "referenceTaskName" => Value::String(task.reference_task_name.clone()),
        "retryCount" => Value::from(task.retry_count),
        "correlationId" => opt_str(task.correlation_id.as_deref()),
        "pollCount" => Value::from(task.poll_count),
        "taskDefName" => Value::String(task.task_def_name.clone()),
        "scheduledTime" => Value::from(task.scheduled_time),
        "startTime" => Value::from(task.start_time),
        "endTime" => Value::from(task.end_time),
        "workflowInstanceId" => Value::String(task.workflow_instance_id.clone()),
        "taskId" => Value::String(task.task_id.clone()),
        "reasonForIncompletion" => opt_str(task.reason_for_incompletion.as_deref()),
        "callbackAfterSeconds" => Value::from(task.callback_after_seconds),
        "workerId" => opt_str(task.worker_id.as_deref()),
        "iteration" => Value::from(task.iteration),
        _ => return None,
    })
}

fn task_document(task: &Task) -> Value {
    let mut doc = Map::new();
    doc.insert("input".into(), Value::Object(task.input_data.clone()));
    doc.insert("output".into(), Value::Object(task.output_data.clone()));
    for field in [
        "taskType",
        "status",
        "referenceTaskName",
        "retryCount",
        "correlationId",
        "pollCount",
        "taskDefName",
        "scheduledTime",
        "startTime",
        "endTime",
        "workflowInstanceId",
        "taskId",
        "reasonForIncompletion",
        "callbackAfterSeconds",
        "workerId",
        "iteration",
    ] {
        if let Some(value) = task_scalar(task, field) {
            doc.insert(field.into(), value);
        }
    }
    Value::Object(doc)
}

fn workflow_document(ctx: &ExprContext<'_>) -> Value {
    let mut doc = Map::new();
    doc.insert("input".into(), Value::Object(ctx.workflow.input.clone()));
    doc.insert("output".into(), Value::Object(ctx.workflow.output.clone()));
    doc.insert(
        "variables".into(),
        Value::Object(ctx.workflow.variables.clone()),
    );
    for field in [
        "status",
        "workflowId",
        "parentWorkflowId",
        "parentWorkflowTaskId",
        "workflowType",
        "version",
        "correlationId",
        "reasonForIncompletion",
        "schemaVersion",
    ] {
        if let Some(value) = workflow_scalar(field, ctx) {
            doc.insert(field.into(), value);
        }
    }
    Value::Object(doc)
}

fn root_document(root: &str, ctx: &ExprContext<'_>) -> Option<Value> {
    if root == "workflow" {
        Some(workflow_document(ctx))
    } else {
        latest_task(ctx.tasks, root).map(task_document)
    }
}

/// Evaluates a full JSONPath against the whole document. Definite paths yield their
/// value; wildcard, filter and slice paths yield a list, as Jayway does.
fn lookup_jsonpath(path: &str, ctx: &ExprContext<'_>) -> Value {
    let trimmed = path.trim();
    let expr = if trimmed.starts_with('$') {
        trimmed.to_string()
    } else if trimmed.starts_with('[') {
        format!("${trimmed}")
    } else {
        format!("$.{trimmed}")
    };
    let Ok(parsed) = serde_json_path::JsonPath::parse(&expr) else {
        return Value::Null;
    };
    let mut doc = Map::new();
    doc.insert("workflow".into(), workflow_document(ctx));
    for task in ctx.tasks {
        let key = if task.loop_over_task {
            task.reference_task_name
                .rsplit_once("__")
                .map(|(base, _)| base.to_string())
                .unwrap_or_else(|| task.reference_task_name.clone())
        } else {
            task.reference_task_name.clone()
        };
        doc.insert(key, task_document(task));
    }
    let doc = Value::Object(doc);
    let nodes = parsed.query(&doc);
    let indefinite = expr.contains('*')
        || expr.contains("..")
        || expr.contains('?')
        || expr.contains(':')
        || expr.contains(',');
    if indefinite {
        Value::Array(nodes.all().into_iter().cloned().collect())
    } else {
        nodes.first().cloned().unwrap_or(Value::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::TaskStatus;
    use serde_json::json;

    fn map(v: Value) -> JsonMap {
        match v {
            Value::Object(m) => m,
            _ => JsonMap::new(),
        }
    }

    struct Fixture {
        input: JsonMap,
        output: JsonMap,
        variables: JsonMap,
        tasks: Vec<Task>,
    }

    impl Fixture {
        fn new() -> Fixture {
            let t1 = Task {
                reference_task_name: "t1".into(),
                task_type: "SIMPLE".into(),
                status: TaskStatus::Completed,
                task_id: "task-1".into(),
                output_data: map(
                    json!({"items": [{"id": 1, "a": 5}, {"id": 2, "a": 0}], "name": "x", "nested": {"k": [1, 2]}}),
                ),
                input_data: map(json!({"p": 1})),
                ..Task::default()
            };
            Fixture {
                input: map(
                    json!({"x": 1, "s": "text", "obj": {"a": 1, "b": [1, 2]}, "key": "name", "list": [1, 2, 3]}),
                ),
                output: JsonMap::new(),
                variables: map(json!({"v": true})),
                tasks: vec![t1],
            }
        }

        fn ctx(&self) -> ExprContext<'_> {
            ExprContext {
                workflow: WorkflowFields {
                    input: &self.input,
                    output: &self.output,
                    variables: &self.variables,
                    status: "RUNNING",
                    workflow_id: "wf-1",
                    parent_workflow_id: None,
                    parent_workflow_task_id: None,
                    workflow_type: "demo",
                    version: 3,
                    correlation_id: Some("corr"),
                    reason_for_incompletion: None,
                    schema_version: 2,
                },
                tasks: &self.tasks,
                task_id: Some("task-9"),
            }
        }
    }

    fn resolve(text: &str) -> Value {
        let f = Fixture::new();
        resolve_value(&json!(text), &f.ctx())
    }

    #[test]
    fn whole_expressions_keep_their_type() {
        assert_eq!(resolve("${workflow.input.x}"), json!(1));
        assert_eq!(
            resolve("${workflow.input.obj}"),
            json!({"a": 1, "b": [1, 2]})
        );
        assert_eq!(resolve("${workflow.variables.v}"), json!(true));
        assert_eq!(resolve("${t1.output.items[1].id}"), json!(2));
        assert_eq!(resolve("${t1.output['name']}"), json!("x"));
        assert_eq!(resolve("${workflow.version}"), json!(3));
        assert_eq!(resolve("${workflow.workflowId}"), json!("wf-1"));
        assert_eq!(resolve("${t1.status}"), json!("COMPLETED"));
        assert_eq!(resolve("${CPEWF_TASK_ID}"), json!("task-9"));
    }

    #[test]
    fn missing_paths_are_null() {
        assert_eq!(resolve("${workflow.input.nope}"), Value::Null);
        assert_eq!(resolve("${unknown.output.x}"), Value::Null);
        assert_eq!(resolve("${t1.output.items[9].id}"), Value::Null);
        assert_eq!(
            resolve("value: ${workflow.input.nope}"),
            json!("value: null")
        );
    }

    #[test]
    fn embedded_expressions_are_stringified_like_java() {
        assert_eq!(resolve("x=${workflow.input.x}!"), json!("x=1!"));
        assert_eq!(
            resolve("o=${workflow.input.obj}"),
            json!("o={a=1, b=[1, 2]}")
        );
        assert_eq!(
            resolve("${workflow.input.s}-${workflow.input.x}"),
            json!("text-1")
        );
    }

    #[test]
    fn escapes_and_nesting() {
        assert_eq!(
            resolve("$${workflow.input.x}"),
            json!("${workflow.input.x}")
        );
        assert_eq!(resolve("${t1.output.${workflow.input.key}}"), json!("x"));
        assert_eq!(resolve("${}"), json!(""));
        assert_eq!(resolve("no expression"), json!("no expression"));
    }

    #[test]
    fn secrets_stay_literal() {
        assert_eq!(
            resolve("${workflow.secrets.api_key}"),
            json!("${workflow.secrets.api_key}")
        );
        assert_eq!(
            resolve("Bearer ${workflow.secrets.api_key}"),
            json!("Bearer ${workflow.secrets.api_key}")
        );
    }

    #[test]
    fn jsonpath_filters_and_wildcards() {
        assert_eq!(resolve("${t1.output.items[*].id}"), json!([1, 2]));
        assert_eq!(resolve("${t1.output.items[?(@.a > 1)].id}"), json!([1]));
        assert_eq!(resolve("${workflow.input.list.length()}"), json!(3));
    }

    #[test]
    fn maps_and_lists_resolve_recursively() {
        let f = Fixture::new();
        let params = map(
            json!({"a": "${workflow.input.x}", "b": ["${t1.output.name}", 2], "c": {"d": "${workflow.correlationId}"}}),
        );
        let out = resolve_map(&params, &f.ctx());
        assert_eq!(
            Value::Object(out),
            json!({"a": 1, "b": ["x", 2], "c": {"d": "corr"}})
        );
    }
}
