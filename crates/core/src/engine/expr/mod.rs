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
//!   engine on the part of the document the path starts from.
//! - `${workflow.secrets.*}` and `${workflow.env.*}` are left as written: they are
//!   resolved only when a task is handed over, never stored resolved.
//!
//! Templates come from definitions (some inline in a start request) and paths may be
//! built from workflow data, so resolution is bounded before it does the work: `${`
//! nests at most [`EngineLimits::max_expression_nesting`] levels, one resolution
//! evaluates at most `max_expressions` expressions and `max_path_queries` JSONPath
//! queries, and copies at most `max_payload_bytes` of the values it refers to, each
//! measured before it is copied. Past a bound it stops with an [`ExprError`], and the
//! engine fails the task or workflow being resolved with that reason.

mod lookup;
#[cfg(test)]
mod tests;

use serde_json::Value;

use super::context::EngineLimits;
use super::payload;
use crate::model::{JsonMap, Task};

pub use lookup::select;

/// The data an expression can see.
pub struct ExprContext<'a> {
    /// Workflow-level fields (`workflow.*`).
    pub workflow: WorkflowFields<'a>,
    /// Tasks by reference name; the latest attempt of each reference wins.
    pub tasks: &'a [Task],
    /// The id of the task being scheduled (`${CPEWF_TASK_ID}`).
    pub task_id: Option<&'a str>,
    /// When set, paths are read from this document alone (an event's payload, as
    /// an event handler's parameters see it), not from the workflow and its tasks.
    pub document: Option<&'a Value>,
    /// The bounds of a resolution.
    pub limits: &'a EngineLimits,
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

/// Which bound a resolution reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    /// `${` nested deeper than `limit` levels.
    Nesting { limit: usize },
    /// More than `limit` expressions.
    Expressions { limit: usize },
    /// More than `limit` JSONPath queries.
    PathQueries { limit: usize },
    /// The values referred to come to at least `at_least` bytes, over `limit`.
    Size { at_least: usize, limit: usize },
}

/// Why a resolution stopped, and in which top-level parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExprError {
    /// The top-level key being resolved, when resolving a map.
    pub parameter: Option<String>,
    pub bound: Bound,
}

impl std::fmt::Display for ExprError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(parameter) = &self.parameter {
            write!(f, "parameter '{parameter}': ")?;
        }
        match self.bound {
            Bound::Nesting { limit } => {
                write!(f, "expressions are nested more than {limit} levels deep")
            }
            Bound::Expressions { limit } => write!(f, "more than {limit} expressions"),
            Bound::PathQueries { limit } => write!(f, "more than {limit} JSONPath queries"),
            Bound::Size { at_least, limit } => write!(
                f,
                "the values it refers to come to at least {at_least} bytes, more than the permissible limit: {limit} bytes"
            ),
        }
    }
}

impl std::error::Error for ExprError {}

fn stop<T>(bound: Bound) -> Result<T, ExprError> {
    Err(ExprError {
        parameter: None,
        bound,
    })
}

/// Resolves every expression inside `value` against one JSON document: paths are
/// JSONPath over it (`${x.y}` or `${$.x.y}`, `${$}` for the whole), as Conductor
/// resolves an event handler's parameters against an event's payload. The same
/// bounds apply as to a workflow's expressions.
pub fn resolve_in_document(
    value: &Value,
    document: &Value,
    limits: &EngineLimits,
) -> Result<Value, ExprError> {
    let none = JsonMap::new();
    let ctx = ExprContext {
        workflow: WorkflowFields {
            input: &none,
            output: &none,
            variables: &none,
            status: "",
            workflow_id: "",
            parent_workflow_id: None,
            parent_workflow_task_id: None,
            workflow_type: "",
            version: 0,
            correlation_id: None,
            reason_for_incompletion: None,
            schema_version: 2,
        },
        tasks: &[],
        task_id: None,
        document: Some(document),
        limits,
    };
    Resolver::new(&ctx).value(value)
}

/// Resolves every expression in a map of input parameters.
pub fn resolve_map(params: &JsonMap, ctx: &ExprContext<'_>) -> Result<JsonMap, ExprError> {
    Resolver::new(ctx).map(params, true)
}

/// Resolves every expression inside a JSON value.
pub fn resolve_value(value: &Value, ctx: &ExprContext<'_>) -> Result<Value, ExprError> {
    Resolver::new(ctx).value(value)
}

/// What a path names: borrowed from the workflow, or built.
enum Found<'a> {
    Ref(&'a Value),
    Map(&'a JsonMap),
    /// Built and not yet counted against the size budget.
    Built(Value),
    /// Built and already counted (JSONPath results are counted as they are copied).
    Counted(Value),
}

/// One resolution: the context and what it has used of its bounds.
struct Resolver<'c, 'a> {
    ctx: &'c ExprContext<'a>,
    expressions: usize,
    queries: usize,
    copied: usize,
    /// Documents built for JSONPath queries, by root name (`$` for the whole one).
    documents: std::collections::HashMap<String, Value>,
}

/// Counts `value`'s encoded size against the size budget before it is copied.
fn count<T: serde::Serialize + ?Sized>(
    copied: &mut usize,
    limit: usize,
    value: &T,
) -> Result<(), ExprError> {
    match payload::encoded_len(value, limit.saturating_sub(*copied)) {
        Ok(size) => {
            *copied += size;
            Ok(())
        }
        Err(size) => stop(Bound::Size {
            at_least: copied.saturating_add(size),
            limit,
        }),
    }
}

impl<'c, 'a> Resolver<'c, 'a> {
    fn new(ctx: &'c ExprContext<'a>) -> Self {
        Resolver {
            ctx,
            expressions: 0,
            queries: 0,
            copied: 0,
            documents: std::collections::HashMap::new(),
        }
    }

    fn map(&mut self, params: &JsonMap, top_level: bool) -> Result<JsonMap, ExprError> {
        let mut out = JsonMap::new();
        for (key, value) in params {
            let resolved = self.value(value).map_err(|mut err| {
                if top_level && err.parameter.is_none() {
                    err.parameter = Some(key.clone());
                }
                err
            })?;
            out.insert(key.clone(), resolved);
        }
        Ok(out)
    }

    /// Definitions are at most as deep as serde_json parses (127 levels), so this
    /// recursion over a template is bounded.
    fn value(&mut self, value: &Value) -> Result<Value, ExprError> {
        match value {
            Value::String(text) => self.string(text, 0),
            Value::Object(map) => Ok(Value::Object(self.map(map, false)?)),
            Value::Array(items) => items
                .iter()
                .map(|v| self.value(v))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            other => Ok(other.clone()),
        }
    }

    /// The value of a found path, counted against the size budget.
    fn take(&mut self, found: Found<'a>) -> Result<Value, ExprError> {
        let limit = self.ctx.limits.max_payload_bytes;
        match found {
            Found::Ref(value) => {
                count(&mut self.copied, limit, value)?;
                Ok(value.clone())
            }
            Found::Map(map) => {
                count(&mut self.copied, limit, map)?;
                Ok(Value::Object(map.clone()))
            }
            Found::Built(value) => {
                count(&mut self.copied, limit, &value)?;
                Ok(value)
            }
            Found::Counted(value) => Ok(value),
        }
    }

    /// Appends a found value as Java's `toString` renders it, counted first.
    fn push_text(&mut self, out: &mut String, found: Found<'a>) -> Result<(), ExprError> {
        let limit = self.ctx.limits.max_payload_bytes;
        match found {
            Found::Ref(value) => {
                count(&mut self.copied, limit, value)?;
                write_java(out, value);
            }
            Found::Map(map) => {
                count(&mut self.copied, limit, map)?;
                write_java_map(out, map);
            }
            Found::Built(value) => {
                count(&mut self.copied, limit, &value)?;
                write_java(out, &value);
            }
            Found::Counted(value) => write_java(out, &value),
        }
        Ok(())
    }

    fn string(&mut self, text: &str, depth: usize) -> Result<Value, ExprError> {
        if !text.contains("${") {
            return Ok(Value::String(text.to_string()));
        }
        // The common deferred case, `${workflow.secrets.name}` alone: kept as written.
        if let Some(body) = text.strip_prefix("${").and_then(|t| t.strip_suffix('}'))
            && (body.starts_with(SECRETS_PREFIX) || body.starts_with(ENV_PREFIX))
            && !body.contains(['{', '}'])
        {
            return Ok(Value::String(text.to_string()));
        }
        let spans = find_spans(text);
        if spans.is_empty() {
            return Ok(Value::String(text.replace("$${", "${")));
        }
        let limits = self.ctx.limits;
        if depth >= limits.max_expression_nesting {
            return stop(Bound::Nesting {
                limit: limits.max_expression_nesting,
            });
        }
        let whole =
            depth == 0 && spans.len() == 1 && spans[0].start == 0 && spans[0].end == text.len();
        let mut out = String::new();
        let mut last = 0;
        for span in &spans {
            self.expressions += 1;
            if self.expressions > limits.max_expressions {
                return stop(Bound::Expressions {
                    limit: limits.max_expressions,
                });
            }
            let body = &text[span.start + 2..span.end - 1];
            let path = match self.string(body, depth + 1)? {
                Value::String(s) => s,
                other => java_to_string(&other),
            };
            let found = if path.trim().is_empty() {
                Some(Found::Built(Value::String(String::new())))
            } else if path.starts_with(SECRETS_PREFIX) || path.starts_with(ENV_PREFIX) {
                // Kept literally; resolved at hand-off.
                Some(Found::Built(Value::String(
                    text[span.start..span.end].to_string(),
                )))
            } else if path == "CPEWF_TASK_ID" {
                self.ctx
                    .task_id
                    .map(|id| Found::Built(Value::String(id.to_string())))
            } else {
                Some(self.lookup(&path)?)
            };
            if whole {
                return match found {
                    Some(found) => self.take(found),
                    None => Ok(Value::Null),
                };
            }
            out.push_str(&text[last..span.start]);
            match found {
                Some(found) => self.push_text(&mut out, found)?,
                // An unknown system parameter is left as written, as Conductor does.
                None => out.push_str(&text[span.start..span.end]),
            }
            last = span.end;
        }
        out.push_str(&text[last..]);
        Ok(Value::String(out.replace("$${", "${")))
    }
}

/// A `${...}` found in a string: byte range of the whole match.
struct Span {
    start: usize,
    end: usize,
}

/// Finds the top-level expressions of `text`, balancing nested braces and skipping
/// `$${` escapes. Iterative and linear in the length of `text`.
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

/// The top-level `${...}` expressions of a string: byte ranges of each whole match
/// (`$${` escapes skipped).
pub fn expression_spans(text: &str) -> Vec<std::ops::Range<usize>> {
    find_spans(text)
        .into_iter()
        .map(|s| s.start..s.end)
        .collect()
}

/// The deepest `${` nesting in a string (`${a.${b}}` is 2), counting no further than
/// `cap` levels: how validation finds expressions the engine would refuse.
pub fn expression_nesting(text: &str, cap: usize) -> usize {
    let mut deepest = 0;
    let mut stack: Vec<(&str, usize)> = vec![(text, 1)];
    while let Some((text, level)) = stack.pop() {
        if !text.contains("${") {
            continue;
        }
        for span in find_spans(text) {
            deepest = deepest.max(level);
            if deepest > cap {
                return deepest;
            }
            stack.push((&text[span.start + 2..span.end - 1], level + 1));
        }
    }
    deepest
}

/// Renders a value the way Java's `Objects.toString` renders Jackson's decoded types.
pub fn java_to_string(value: &Value) -> String {
    let mut out = String::new();
    write_java(&mut out, value);
    out
}

/// Values are at most as deep as serde_json parses or the engine lets a payload nest,
/// so this recursion is bounded.
fn write_java(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::String(s) => out.push_str(s),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_java(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => write_java_map(out, map),
    }
}

fn write_java_map(out: &mut String, map: &JsonMap) {
    out.push('{');
    for (i, (key, value)) in map.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(key);
        out.push('=');
        write_java(out, value);
    }
    out.push('}');
}
