//! Reading a path from the expression document: plain dotted and indexed paths
//! directly from the workflow's values (borrowed, so they are measured before they
//! are copied), anything else through a JSONPath engine, on the smallest document the
//! path can see.

use serde_json::{Map, Value};

use super::{Bound, ExprContext, ExprError, Found, Resolver, count, stop};
use crate::model::{JsonMap, Task};

/// Deepest nesting of brackets and parentheses accepted in a JSONPath expression. The
/// JSONPath parser recurses on them, and its time grows about twofold with each
/// level (found by the expression fuzz target: 32 levels took seconds, 160 never
/// finished), so a path nested deeper reads as null, as any path the parser refuses
/// does. Real filters nest two to four levels (`items[?(@.a[?(@.b > 1)])]` is four).
pub const MAX_PATH_NESTING: usize = 8;

/// One step of a simple path.
#[derive(Debug, PartialEq)]
pub(super) enum Step {
    Key(String),
    Index(i64),
}

/// Parses `a.b[0]['c d']` into steps; None when the path needs a JSONPath engine.
pub(super) fn simple_steps(path: &str) -> Option<Vec<Step>> {
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
            let index = if *i < 0 {
                (items.len() as i64).checked_add(*i)?
            } else {
                *i
            };
            usize::try_from(index).ok().and_then(|i| items.get(i))
        }
        _ => None,
    }
}

fn descend<'v>(mut value: &'v Value, steps: &[Step]) -> Option<&'v Value> {
    for step in steps {
        value = step_into(value, step)?;
    }
    Some(value)
}

/// Jayway's `length()`/`size()` path functions, the ones workflows use in practice.
fn strip_length_fn(path: &str) -> Option<&str> {
    path.strip_suffix(".length()")
        .or_else(|| path.strip_suffix(".size()"))
}

/// How deeply brackets and parentheses nest in a JSONPath expression, outside quoted
/// names; counting stops past `cap`.
fn path_nesting(expr: &str, cap: usize) -> usize {
    let mut depth = 0usize;
    let mut deepest = 0;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for ch in expr.chars() {
        if let Some(q) = quote {
            if escaped {
                escaped = false;
            } else if ch == '\\' {
                escaped = true;
            } else if ch == q {
                quote = None;
            }
            continue;
        }
        match ch {
            '\'' | '"' => quote = Some(ch),
            '[' | '(' => {
                depth += 1;
                deepest = deepest.max(depth);
                if deepest > cap {
                    return deepest;
                }
            }
            ']' | ')' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// A JSONPath expression as the engine runs it, when the parser may be given it.
fn parse_path(path: &str) -> Option<(String, serde_json_path::JsonPath)> {
    let trimmed = path.trim();
    let expr = if trimmed.starts_with('$') {
        trimmed.to_string()
    } else if trimmed.starts_with('[') {
        format!("${trimmed}")
    } else {
        format!("$.{trimmed}")
    };
    if path_nesting(&expr, MAX_PATH_NESTING) > MAX_PATH_NESTING {
        return None;
    }
    let parsed = serde_json_path::JsonPath::parse(&expr).ok()?;
    Some((expr, parsed))
}

/// Reads a path (simple or JSONPath, without the leading `$.`) inside one value; a
/// missing path reads as null.
pub fn select(value: &Value, path: &str) -> Value {
    if let Some(steps) = simple_steps(path) {
        return descend(value, &steps).cloned().unwrap_or(Value::Null);
    }
    match parse_path(path) {
        Some((_, parsed)) => parsed
            .query(value)
            .all()
            .first()
            .map_or(Value::Null, |v| (*v).clone()),
        None => Value::Null,
    }
}

/// The latest task with this reference name (loop iterations addressed by the bare name).
fn latest_task<'t>(tasks: &'t [Task], reference: &str) -> Option<&'t Task> {
    tasks.iter().rev().find(|t| {
        t.reference_task_name == reference
            || (t.loop_over_task && crate::engine::loops::bare_ref(t) == reference)
    })
}

/// The key a task has in the whole document: loop iterations under the bare name.
fn document_key(task: &Task) -> &str {
    crate::engine::loops::bare_ref(task)
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

const TASK_FIELDS: [&str; 16] = [
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
];

const WORKFLOW_FIELDS: [&str; 9] = [
    "status",
    "workflowId",
    "parentWorkflowId",
    "parentWorkflowTaskId",
    "workflowType",
    "version",
    "correlationId",
    "reasonForIncompletion",
    "schemaVersion",
];

fn task_document(task: &Task) -> Value {
    let mut doc = Map::new();
    doc.insert("input".into(), Value::Object(task.input_data.clone()));
    doc.insert("output".into(), Value::Object(task.output_data.clone()));
    for field in TASK_FIELDS {
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
    for field in WORKFLOW_FIELDS {
        if let Some(value) = workflow_scalar(field, ctx) {
            doc.insert(field.into(), value);
        }
    }
    Value::Object(doc)
}

/// The document a JSONPath query runs on: `{name: ...}` for a path that starts with a
/// plain member name (all it can see), else the whole document. As in the whole
/// document, a task's entry wins over `workflow` and the latest task of a key wins.
fn query_document(ctx: &ExprContext<'_>, root: Option<&str>) -> Value {
    let mut doc = Map::new();
    match root {
        Some(name) => {
            if let Some(task) = ctx.tasks.iter().rev().find(|t| document_key(t) == name) {
                doc.insert(name.to_string(), task_document(task));
            } else if name == "workflow" {
                doc.insert(name.to_string(), workflow_document(ctx));
            }
        }
        None => {
            doc.insert("workflow".into(), workflow_document(ctx));
            for task in ctx.tasks {
                doc.insert(document_key(task).to_string(), task_document(task));
            }
        }
    }
    Value::Object(doc)
}

/// The member a JSONPath expression starts with (`$.name...`), when it is a plain
/// name that selects only that member.
fn root_member(expr: &str) -> Option<&str> {
    let rest = expr.strip_prefix("$.")?;
    let end = rest.find(['.', '[']).unwrap_or(rest.len());
    let name = &rest[..end];
    let plain = name
        .chars()
        .all(|c| c == '_' || c.is_alphanumeric() || !c.is_ascii());
    (plain && name.chars().next().is_some_and(|c| !c.is_ascii_digit())).then_some(name)
}

impl<'a> Resolver<'_, 'a> {
    /// Reads a path from the expression document; a missing path reads as null.
    pub(super) fn lookup(&mut self, path: &str) -> Result<Found<'a>, ExprError> {
        // `x.length()`, and no deeper: the length of a length is a number's length,
        // which is null.
        let mut inner = path.trim();
        let mut lengths = 0;
        while let Some(rest) = strip_length_fn(inner) {
            lengths += 1;
            if lengths > 1 {
                return Ok(Found::Built(Value::Null));
            }
            inner = rest.trim();
        }
        let found = match (simple_steps(inner), self.ctx.document) {
            (Some(steps), Some(document)) => descend(document, &steps)
                .map(Found::Ref)
                .unwrap_or(Found::Built(Value::Null)),
            (Some(steps), None) => self.steps(&steps).unwrap_or(Found::Built(Value::Null)),
            (None, _) => self.query(inner)?,
        };
        if lengths == 0 {
            return Ok(found);
        }
        let length = |value: &Value| match value {
            Value::Array(items) => Value::from(items.len()),
            Value::Object(map) => Value::from(map.len()),
            Value::String(s) => Value::from(s.chars().count()),
            _ => Value::Null,
        };
        Ok(Found::Built(match &found {
            Found::Ref(value) => length(value),
            Found::Map(map) => Value::from(map.len()),
            Found::Built(value) | Found::Counted(value) => length(value),
        }))
    }

    fn steps(&self, steps: &[Step]) -> Option<Found<'a>> {
        let ctx: &ExprContext<'a> = self.ctx;
        let (root, rest) = steps.split_first()?;
        let Step::Key(root) = root else { return None };
        let (field, rest) = match rest.split_first() {
            Some((Step::Key(field), rest)) => (field.as_str(), rest),
            Some((Step::Index(_), _)) => return None,
            None => {
                // The whole root object.
                return if root == "workflow" {
                    Some(Found::Built(workflow_document(ctx)))
                } else {
                    latest_task(ctx.tasks, root).map(|t| Found::Built(task_document(t)))
                };
            }
        };
        let base = if root == "workflow" {
            match field {
                "input" => return descend_map(ctx.workflow.input, rest),
                "output" => return descend_map(ctx.workflow.output, rest),
                "variables" => return descend_map(ctx.workflow.variables, rest),
                _ => workflow_scalar(field, ctx)?,
            }
        } else {
            let task = latest_task(ctx.tasks, root)?;
            match field {
                "input" => return descend_map(&task.input_data, rest),
                "output" => return descend_map(&task.output_data, rest),
                _ => task_scalar(task, field)?,
            }
        };
        descend(&base, rest).cloned().map(Found::Built)
    }

    /// Evaluates a JSONPath. Definite paths yield their value; wildcard, filter and
    /// slice paths yield a list, as Jayway does.
    fn query(&mut self, path: &str) -> Result<Found<'a>, ExprError> {
        let limits = self.ctx.limits;
        self.queries += 1;
        if self.queries > limits.max_path_queries {
            return stop(Bound::PathQueries {
                limit: limits.max_path_queries,
            });
        }
        let Some((expr, parsed)) = parse_path(path) else {
            return Ok(Found::Built(Value::Null));
        };
        let ctx = self.ctx;
        let doc: &Value = match ctx.document {
            Some(document) => document,
            None => {
                let root = root_member(&expr);
                let key = root.unwrap_or("$").to_string();
                self.documents
                    .entry(key)
                    .or_insert_with(|| query_document(ctx, root))
            }
        };
        let nodes = parsed.query(doc);
        let indefinite = expr.contains('*')
            || expr.contains("..")
            || expr.contains('?')
            || expr.contains(':')
            || expr.contains(',');
        let limit = limits.max_payload_bytes;
        if indefinite {
            let mut out = Vec::new();
            for node in nodes.all() {
                count(&mut self.copied, limit, node)?;
                out.push(node.clone());
            }
            return Ok(Found::Counted(Value::Array(out)));
        }
        match nodes.first() {
            Some(node) => {
                count(&mut self.copied, limit, node)?;
                Ok(Found::Counted(node.clone()))
            }
            None => Ok(Found::Built(Value::Null)),
        }
    }
}

fn descend_map<'a>(map: &'a JsonMap, steps: &[Step]) -> Option<Found<'a>> {
    match steps.split_first() {
        None => Some(Found::Map(map)),
        Some((Step::Key(k), rest)) => descend(map.get(k)?, rest).map(Found::Ref),
        Some((Step::Index(_), _)) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_nesting_counts_outside_quotes() {
        assert_eq!(path_nesting("$.a[?(@.b > 1)]", 32), 2);
        assert_eq!(path_nesting("$['(((']", 32), 1);
        assert_eq!(path_nesting(&format!("$.a{}", "[".repeat(5000)), 32), 33);
    }

    #[test]
    fn nested_filters_past_the_bound_are_not_parsed() {
        let value = serde_json::json!({"a": [{"b": [{"c": 1}]}]});
        assert_eq!(
            select(&value, "a[?(@.b[?(@.c == 1)])].b[0].c"),
            serde_json::json!(1)
        );
        // Five levels of filters: ten of nesting, seconds of parsing per level more.
        let deep = format!("a{}.x{}", "[?(@".repeat(5), ")]".repeat(5));
        let started = std::time::Instant::now();
        assert_eq!(select(&value, &deep), Value::Null);
        assert!(started.elapsed() < std::time::Duration::from_millis(100));
    }

    #[test]
    fn root_members_are_plain_names() {
        assert_eq!(root_member("$.t1.output[*]"), Some("t1"));
        assert_eq!(root_member("$.workflow"), Some("workflow"));
        assert_eq!(root_member("$..x"), None);
        assert_eq!(root_member("$['t1']"), None);
        assert_eq!(root_member("$.*"), None);
        assert_eq!(root_member("$.1a"), None);
    }

    #[test]
    fn deep_paths_read_as_null_without_reaching_the_parser() {
        let value = serde_json::json!({"a": [1, 2]});
        let deep = format!("a[?{}@.x{}]", "(".repeat(5000), ")".repeat(5000));
        assert_eq!(select(&value, &deep), Value::Null);
        assert_eq!(select(&value, "a[*]"), serde_json::json!(1));
    }
}
