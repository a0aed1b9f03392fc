//! Enforcing schemas: a workflow's input, and a task's input and output, checked
//! against the JSON schema their definition names when it enforces one
//! (`enforceSchema`, with `inputSchema` or `outputSchema`).
//!
//! A definition names a registered schema (`{name, version}`, the latest version
//! when none), as Orkes does, or carries one inline (`data`), as Conductor's
//! documentation shows. A registered schema is used only if the definition's author
//! may read it: a schema someone else registered under that name is not used, and
//! one that is missing or not readable refuses with the same words. A schema is
//! compiled when it is enforced; one that does not compile refuses, saying why.
//! Schemas never make the server fetch anything (a `$ref` to another document does
//! not compile). Messages never show the values checked (they may be secrets), only
//! where they are and what was expected. Checks run off the request threads, with
//! bounded work (see [`MAX_SCHEMA_NODES`]).

use serde_json::Value;

use super::Runtime;
use crate::error::{CoreError, CoreResult};
use crate::model::{JsonMap, SchemaType, TaskDef, WorkflowDef};
use crate::security::{Access, Actor, Cause, Principal, Resource};

/// The most problems a refusal lists.
const MAX_PROBLEMS: usize = 10;

/// The longest description of one problem.
const MAX_PROBLEM_CHARS: usize = 200;

/// The most nodes a schema may count once its local references are followed (a
/// reference back to a schema being walked counts once): the bound on the work of
/// validating one value against it, which nested `anyOf`s of references would
/// otherwise make exponential.
pub const MAX_SCHEMA_NODES: usize = 20_000;

/// The most backtracking steps one `pattern` may take on one value.
const REGEX_BACKTRACK_LIMIT: usize = 10_000;

/// Counts the nodes of `value`, following local `$ref`s (`#...`) into `root`, until
/// more than `budget` remain; whether the count stays within it.
fn within(root: &Value, value: &Value, walking: &mut Vec<String>, budget: &mut usize) -> bool {
    if *budget == 0 {
        return false;
    }
    *budget -= 1;
    match value {
        Value::Object(map) => {
            if let Some(Value::String(reference)) = map.get("$ref")
                && let Some(pointer) = reference.strip_prefix('#')
                && !walking.iter().any(|w| w == reference)
                && let Some(target) = root.pointer(pointer)
            {
                walking.push(reference.clone());
                let fine = within(root, target, walking, budget);
                walking.pop();
                if !fine {
                    return false;
                }
            }
            map.values().all(|v| within(root, v, walking, budget))
        }
        Value::Array(items) => items.iter().all(|v| within(root, v, walking, budget)),
        _ => true,
    }
}

/// The compiled validator of a JSON schema's document, or why it cannot be one.
fn compile(name: &str, data: &Value) -> CoreResult<jsonschema::Validator> {
    let mut budget = MAX_SCHEMA_NODES;
    if !within(data, data, &mut Vec::new(), &mut budget) {
        return Err(CoreError::invalid(format!(
            "Schema '{name}' is too large to enforce: more than {MAX_SCHEMA_NODES} parts once its references are followed"
        )));
    }
    jsonschema::options()
        .with_pattern_options(
            jsonschema::PatternOptions::fancy_regex().backtrack_limit(REGEX_BACKTRACK_LIMIT),
        )
        .build(data)
        .map_err(|err| {
            CoreError::invalid(format!(
                "Schema '{name}' is not a valid JSON Schema: {}",
                shorten(&err.masked().to_string())
            ))
        })
}

fn shorten(text: &str) -> String {
    if text.chars().count() <= MAX_PROBLEM_CHARS {
        return text.to_string();
    }
    let cut: String = text.chars().take(MAX_PROBLEM_CHARS).collect();
    format!("{cut}...")
}

/// The problems of `input` against a compiled schema: none, or at most
/// [`MAX_PROBLEMS`], each saying where and what, never the value.
fn problems(validator: &jsonschema::Validator, input: &Value) -> Vec<String> {
    if validator.is_valid(input) {
        return Vec::new();
    }
    validator
        .iter_errors(input)
        .take(MAX_PROBLEMS)
        .map(|err| shorten(&format!("{}: {}", err.instance_path(), err.masked())))
        .collect()
}

/// Where a definition's schema reference points.
enum Named {
    /// A schema carried in the definition.
    Inline { name: String, data: Value },
    /// A registered schema, at a version or the latest.
    Registered { name: String, version: Option<i32> },
}

/// Reads a definition's `inputSchema` or `outputSchema`: none without a name or
/// inline data; a version that is not a number is refused.
fn named(side: &str, reference: &Value) -> Result<Option<Named>, String> {
    let name = reference
        .get("name")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|n| !n.is_empty());
    if let Some(data) = reference.get("data").filter(|d| d.is_object()) {
        let name = name.unwrap_or("(inline)").to_string();
        return Ok(Some(Named::Inline {
            name,
            data: data.clone(),
        }));
    }
    let Some(name) = name else {
        return Ok(None);
    };
    let version = match reference.get("version") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_i64()
                .and_then(|v| i32::try_from(v).ok())
                .ok_or_else(|| format!("{side}Schema '{name}': version must be a number"))?,
        ),
    };
    Ok(Some(Named::Registered {
        name: name.to_string(),
        version,
    }))
}

/// What a check is about, to word its refusals.
struct Enforcing<'a> {
    /// `Workflow` or `Task`.
    kind: &'static str,
    /// The workflow's or the task type's name.
    name: &'a str,
    /// `input` or `output`.
    side: &'static str,
}

/// Checks `value` against the schema `reference` names, reading a registered one as
/// `reader` may (none: not readable); the refusal's words when the value breaks
/// the schema or the schema cannot be used.
async fn check(
    rt: &Runtime,
    reader: Option<&Principal>,
    what: Enforcing<'_>,
    reference: &Value,
    value: Value,
) -> Result<(), String> {
    let Enforcing { kind, name, side } = what;
    let (schema_name, data) = match named(side, reference)? {
        None => return Ok(()),
        Some(Named::Inline { name, data }) => (name, data),
        Some(Named::Registered {
            name: schema_name,
            version,
        }) => {
            let missing = || {
                format!(
                    "{kind} {name} enforces its {side} schema, but schema '{schema_name}'{} is not registered or not readable by the {} definition's author",
                    version.map(|v| format!(" version {v}")).unwrap_or_default(),
                    kind.to_lowercase()
                )
            };
            let readable = reader.is_some_and(|reader| {
                rt.authorizer
                    .can(reader, Access::Read, Resource::schema(&schema_name))
            });
            if !readable {
                return Err(missing());
            }
            let schema = rt
                .stores
                .schemas
                .schema(&schema_name, version)
                .await
                .map_err(|err| {
                    tracing::warn!(error = %err, "could not read a schema");
                    format!("schema '{schema_name}' could not be read; try again")
                })?
                .ok_or_else(missing)?;
            match (schema.schema_type, schema.data) {
                (SchemaType::Json, Some(data)) => (schema_name, data),
                // Only JSON schemas are enforced.
                _ => return Ok(()),
            }
        }
    };
    let checked = tokio::task::spawn_blocking(move || {
        compile(&schema_name, &data)
            .map(|validator| (schema_name.clone(), problems(&validator, &value)))
    })
    .await
    .map_err(|err| {
        tracing::warn!(error = %err, "a schema check did not finish");
        "the schema check did not finish".to_string()
    })?;
    let (schema_name, problems) = checked.map_err(|err| err.to_string())?;
    if problems.is_empty() {
        return Ok(());
    }
    Err(format!(
        "{kind} {side} does not match schema '{schema_name}': {}",
        problems.join("; ")
    ))
}

/// The principal whose right to read a schema decides whether a definition may use
/// it: its author, or `fallback` when it has none (or is the fallback).
fn reader(rt: &Runtime, author: Option<&str>, fallback: &Principal) -> Option<Principal> {
    let Some(author) = author.filter(|a| !a.is_empty() && *a != fallback.id()) else {
        return Some(fallback.clone());
    };
    let directory = rt.authorizer.directory().read();
    Actor::on_behalf_of(
        &directory,
        rt.authorizer.mode(),
        Some(author),
        Cause::StartWorkflow,
    )
    .ok()
    .map(Actor::into_principal)
}

/// Refuses a workflow's input that breaks the input schema its definition
/// enforces. The schema is the one the definition's author may read (the
/// starter's, for an inline definition or one without an author).
pub async fn check_workflow_input(
    rt: &Runtime,
    starter: &Principal,
    def: &WorkflowDef,
    input: &JsonMap,
) -> CoreResult<()> {
    let Some(reference) = def.input_schema.as_ref().filter(|_| def.enforce_schema) else {
        return Ok(());
    };
    let reader = reader(rt, crate::exec::authority::author_of(def), starter);
    let what = Enforcing {
        kind: "Workflow",
        name: &def.name,
        side: "input",
    };
    check(
        rt,
        reader.as_ref(),
        what,
        reference,
        Value::Object(input.clone()),
    )
    .await
    .map_err(CoreError::invalid)
}

/// Why a task's input or output breaks the schema its definition enforces, if it
/// does. The schema is the one the task definition's author may read.
pub(crate) async fn task_refusal(
    rt: &Runtime,
    def: &TaskDef,
    output: bool,
    value: &JsonMap,
) -> Option<String> {
    if !def.enforce_schema {
        return None;
    }
    let (reference, side) = if output {
        (def.output_schema.as_ref()?, "output")
    } else {
        (def.input_schema.as_ref()?, "input")
    };
    let author = def.updated_by.as_deref().or(def.created_by.as_deref());
    let reader = reader(rt, author, &Principal::system());
    let what = Enforcing {
        kind: "Task",
        name: &def.name,
        side,
    };
    check(
        rt,
        reader.as_ref(),
        what,
        reference,
        Value::Object(value.clone()),
    )
    .await
    .err()
}

/// The same for a workflow the engine starts for a run (a sub-workflow, or one a
/// `START_WORKFLOW` task starts): the run's starter stands in for an author the
/// definition lacks. The refusal's words, to fail the task with.
pub(crate) async fn check_started_input(
    rt: &Runtime,
    starter: Option<&str>,
    def: &WorkflowDef,
    input: &JsonMap,
) -> Result<(), String> {
    if !def.enforce_schema || def.input_schema.is_none() {
        return Ok(());
    }
    let starter = {
        let directory = rt.authorizer.directory().read();
        Actor::on_behalf_of(
            &directory,
            rt.authorizer.mode(),
            starter,
            Cause::StartWorkflow,
        )?
        .into_principal()
    };
    check_workflow_input(rt, &starter, def, input)
        .await
        .map_err(|err| err.to_string())
}
