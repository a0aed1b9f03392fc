//! Schemas (Orkes' `/api/schema`): register versions, read, list, delete. What
//! definitions do with them is in `schema_checks`.
//!
//! A schema's `data` is stored as given, as Orkes does (conductor-python's own test
//! registers one that is not a valid JSON Schema); it is compiled only when a
//! definition enforcing it is used.

use std::sync::Arc;

use super::Runtime;
use super::disclosure;
use crate::error::{CoreError, CoreResult};
use crate::model::SchemaDef;
use crate::security::model::{Target, TargetType};
use crate::security::{Access, Principal, Resource};

/// The longest schema name.
pub const MAX_SCHEMA_NAME: usize = 255;

/// Schemas.
#[derive(Clone)]
pub struct SchemaService {
    rt: Arc<Runtime>,
}

/// Refuses a name that is not 1 to `max` letters, digits, `_`, `-` and `.` with at
/// least one letter or digit (schemas, registered services, proto files).
pub(crate) fn check_plain_name(what: &str, name: &str, max: usize) -> CoreResult<()> {
    let fine = !name.is_empty()
        && name.len() <= max
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && name.chars().any(|c| c.is_ascii_alphanumeric());
    if fine {
        Ok(())
    } else {
        Err(CoreError::invalid(format!(
            "{what} '{name}' is not valid: 1 to {max} letters, digits, '_', '-' and '.'"
        )))
    }
}

fn not_found(name: &str, version: Option<i32>) -> CoreError {
    CoreError::NotFound(match version {
        Some(v) => format!("Schema '{name}' version {v} not found"),
        None => format!("Schema '{name}' not found"),
    })
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
            check_plain_name("Schema name", &schema.name, MAX_SCHEMA_NAME)?;
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
}
