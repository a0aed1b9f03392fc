//! Schemas (Orkes' `/api/schema`): register versions, read, list, delete, and check
//! a workflow's input against the schema its definition enforces.
//!
//! A schema's `data` is stored as given, as Orkes does (conductor-python's own test
//! registers one that is not a valid JSON Schema); it is compiled when a workflow
//! enforcing it starts, and one that does not compile refuses those starts, saying
//! why. Schemas never make the server fetch anything (a `$ref` to another document
//! does not compile). Validation messages never show the values checked (they may
//! be secrets), only where they are and what was expected.

use std::sync::Arc;

use serde_json::Value;

use super::Runtime;
use super::disclosure;
use crate::error::{CoreError, CoreResult};
use crate::model::{SchemaDef, SchemaType, WorkflowDef};
use crate::security::model::{Target, TargetType};
use crate::security::{Access, Principal, Resource};

/// The longest schema name.
pub const MAX_SCHEMA_NAME: usize = 255;

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

/// Schemas.
#[derive(Clone)]
pub struct SchemaService {
    rt: Arc<Runtime>,
}

fn check_name(name: &str) -> CoreResult<()> {
    let fine = !name.is_empty()
        && name.len() <= MAX_SCHEMA_NAME
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && name.chars().any(|c| c.is_ascii_alphanumeric());
    if fine {
        Ok(())
    } else {
        Err(CoreError::invalid(format!(
            "Schema name '{name}' is not valid: 1 to {MAX_SCHEMA_NAME} letters, digits, '_', '-' and '.'"
        )))
    }
}

fn not_found(name: &str, version: Option<i32>) -> CoreError {
    CoreError::NotFound(match version {
        Some(v) => format!("Schema '{name}' version {v} not found"),
        None => format!("Schema '{name}' not found"),
    })
}

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

/// The name and version a definition's `inputSchema` names: `{name, version}` (the
/// latest version when none); a version that is not a number is refused.
fn named(reference: &Value) -> CoreResult<Option<(String, Option<i32>)>> {
    let Some(name) = reference
        .get("name")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|n| !n.is_empty())
    else {
        return Ok(None);
    };
    let version = match reference.get("version") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_i64()
                .and_then(|v| i32::try_from(v).ok())
                .ok_or_else(|| {
                    CoreError::invalid(format!("inputSchema '{name}': version must be a number"))
                })?,
        ),
    };
    Ok(Some((name.to_string(), version)))
}

impl SchemaService {
    /// The service over a runtime.
    pub fn new(rt: Arc<Runtime>) -> SchemaService {
        SchemaService { rt }
    }

    fn may(&self, principal: &Principal, access: Access, name: &str) -> bool {
        self.rt
            .authorizer
            .can(principal, access, Resource::schema(name))
    }

    /// Registers schema versions: each at its `version` (1 when none), or, with
    /// `new_version`, at the version after the latest.
    pub async fn save(
        &self,
        principal: &Principal,
        schemas: Vec<SchemaDef>,
        new_version: bool,
    ) -> CoreResult<()> {
        self.rt.access.fresh().await?;
        for mut schema in schemas {
            schema.name = schema.name.trim().to_string();
            check_name(&schema.name)?;
            let store = &self.rt.stores.schemas;
            let latest = store.schema(&schema.name, None).await?;
            let allowed = match &latest {
                Some(_) => self.rt.authorizer.authorize(
                    principal,
                    Access::Update,
                    Resource::schema(&schema.name),
                ),
                None => self
                    .rt
                    .authorizer
                    .authorize_create(principal, Resource::schema(&schema.name)),
            };
            if let Err(err) = allowed {
                if self.may(principal, Access::Read, &schema.name) {
                    return Err(err);
                }
                return Err(disclosure::hidden(format_args!(
                    "create or update schema: {}",
                    schema.name
                )));
            }
            let version = if new_version {
                latest
                    .as_ref()
                    .and_then(|l| l.version)
                    .unwrap_or(0)
                    .checked_add(1)
                    .ok_or_else(|| {
                        CoreError::invalid(format!("Schema '{}' has no version left", schema.name))
                    })?
            } else {
                schema.version.unwrap_or(1)
            };
            if version < 1 {
                return Err(CoreError::invalid("A schema's version must be 1 or more"));
            }
            schema.version = Some(version);
            let same = store.schema(&schema.name, Some(version)).await?;
            let now = self.rt.now();
            let who = principal.id().to_string();
            schema.create_time = Some(same.as_ref().and_then(|s| s.create_time).unwrap_or(now));
            schema.created_by = Some(same.and_then(|s| s.created_by).unwrap_or(who.clone()));
            schema.update_time = Some(now);
            schema.updated_by = Some(who);
            store.put_schema(&schema).await?;
            if latest.is_none() {
                let ops = self
                    .rt
                    .access
                    .creation_ops(principal, Target::new(TargetType::Schema, &schema.name));
                self.rt.access.commit(ops).await?;
            }
        }
        Ok(())
    }

    /// A version of a schema, or its latest (needs READ).
    pub async fn get(
        &self,
        principal: &Principal,
        name: &str,
        version: Option<i32>,
    ) -> CoreResult<SchemaDef> {
        if !self.may(principal, Access::Read, name) {
            return Err(disclosure::hidden(format_args!("read schema: {name}")));
        }
        self.rt
            .stores
            .schemas
            .schema(name, version)
            .await?
            .ok_or_else(|| not_found(name, version))
    }

    /// Every version of the schemas the caller may read.
    pub async fn list(&self, principal: &Principal) -> CoreResult<Vec<SchemaDef>> {
        Ok(self
            .rt
            .stores
            .schemas
            .list_schemas()
            .await?
            .into_iter()
            .filter(|s| self.may(principal, Access::Read, &s.name))
            .collect())
    }

    /// Deletes one version, or all (needs DELETE); `404` when there was none.
    pub async fn delete(
        &self,
        principal: &Principal,
        name: &str,
        version: Option<i32>,
    ) -> CoreResult<()> {
        if !self.may(principal, Access::Delete, name) {
            return Err(disclosure::hidden(format_args!("delete schema: {name}")));
        }
        self.rt.access.fresh().await?;
        if self.rt.stores.schemas.delete_schema(name, version).await? == 0 {
            return Err(not_found(name, version));
        }
        if self.rt.stores.schemas.schema(name, None).await?.is_none() {
            let target = Target::new(TargetType::Schema, name);
            let ops = self.rt.access.deletion_ops(&target);
            self.rt.access.commit(ops).await?;
        }
        Ok(())
    }

    /// Refuses a workflow's input that breaks the input schema its definition
    /// enforces (`enforceSchema` with an `inputSchema` naming a registered JSON
    /// schema). The schema is the one the definition's author may read (the
    /// starter's, for an inline definition or one without an author): a schema
    /// someone else registered under that name is not used, and one that is missing
    /// or not readable refuses every start with the same words. Compiled and
    /// checked off the request threads, with bounded work (see [`MAX_SCHEMA_NODES`]).
    pub async fn check_workflow_input(
        &self,
        starter: &Principal,
        def: &WorkflowDef,
        input: &serde_json::Map<String, Value>,
    ) -> CoreResult<()> {
        if !def.enforce_schema {
            return Ok(());
        }
        let Some((name, version)) = def.input_schema.as_ref().map(named).transpose()?.flatten()
        else {
            return Ok(());
        };
        let missing = || {
            CoreError::invalid(format!(
                "Workflow {} enforces its input schema, but schema '{name}'{} is not registered or not readable by the workflow's author",
                def.name,
                version.map(|v| format!(" version {v}")).unwrap_or_default()
            ))
        };
        if !self.author_may_read(starter, def, &name) {
            return Err(missing());
        }
        let schema = self
            .rt
            .stores
            .schemas
            .schema(&name, version)
            .await?
            .ok_or_else(missing)?;
        if schema.schema_type != SchemaType::Json {
            return Ok(());
        }
        let Some(data) = schema.data else {
            return Ok(());
        };
        let instance = Value::Object(input.clone());
        let checked = tokio::task::spawn_blocking(move || {
            compile(&name, &data).map(|validator| (name.clone(), problems(&validator, &instance)))
        })
        .await
        .map_err(|err| CoreError::Internal(format!("the schema check failed: {err}")))?;
        let (name, problems) = checked?;
        if problems.is_empty() {
            return Ok(());
        }
        Err(CoreError::invalid(format!(
            "Workflow input does not match schema '{name}': {}",
            problems.join("; ")
        )))
    }

    /// Whether the definition's author (else the starter) may read the schema.
    fn author_may_read(&self, starter: &Principal, def: &WorkflowDef, name: &str) -> bool {
        let author = crate::exec::authority::author_of(def).filter(|a| *a != starter.id());
        let Some(author) = author else {
            return self.may(starter, Access::Read, name);
        };
        let directory = self.rt.authorizer.directory().read();
        match crate::security::Actor::on_behalf_of(
            &directory,
            self.rt.authorizer.mode(),
            Some(author),
            crate::security::Cause::StartWorkflow,
        ) {
            Ok(actor) => {
                drop(directory);
                self.may(&actor.into_principal(), Access::Read, name)
            }
            Err(_) => false,
        }
    }
}
