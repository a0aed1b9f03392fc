//! Secrets and environment variables through the API: who may create, read, change
//! and delete which, their tags, and the record of every read of a value.

use std::sync::Arc;

use serde_json::{Value, json};

use super::{Runtime, disclosure};
use crate::error::{CoreError, CoreResult};
use crate::model::Tag;
use crate::security::authz::refusal;
use crate::security::model::{Access, Target, TargetType};
use crate::security::{Principal, Resource, ResourceType};
use crate::store::{SecretKind, SecretRead};

/// How many reads of a secret the audit view returns at most.
const READS_LIMIT: usize = 1000;

fn resource_type(kind: SecretKind) -> ResourceType {
    match kind {
        SecretKind::Secret => ResourceType::Secret,
        SecretKind::Env => ResourceType::EnvVariable,
    }
}

fn target_type(kind: SecretKind) -> TargetType {
    resource_type(kind).target_type()
}

fn not_found(kind: SecretKind, name: &str) -> CoreError {
    match kind {
        SecretKind::Secret => CoreError::NotFound(format!("Secret {name} not found")),
        SecretKind::Env => CoreError::NotFound(format!("Environment variable {name} not found")),
    }
}

/// Allows creating a secret or environment variable under a new name: the create
/// permission (UPDATE when the name outlived a delete of someone else's value), and
/// no workflow definition the principal may not change refers to the name.
pub fn authorize_new(
    rt: &Runtime,
    principal: &Principal,
    kind: SecretKind,
    name: &str,
) -> CoreResult<()> {
    rt.authorizer
        .authorize_create(principal, Resource::new(resource_type(kind), name))?;
    super::names::check_claim(rt, principal, super::names::NameUse::Value(kind), name)
}

/// The API over the vault, for one kind (secrets or environment variables).
#[derive(Clone)]
pub struct SecretService {
    rt: Arc<Runtime>,
    kind: SecretKind,
}

impl SecretService {
    /// Secrets (`/api/secrets`).
    pub fn secrets(rt: Arc<Runtime>) -> SecretService {
        SecretService {
            rt,
            kind: SecretKind::Secret,
        }
    }

    /// Environment variables (`/api/environment`).
    pub fn environment(rt: Arc<Runtime>) -> SecretService {
        SecretService {
            rt,
            kind: SecretKind::Env,
        }
    }

    fn resource<'a>(&self, name: &'a str) -> Resource<'a> {
        Resource::new(resource_type(self.kind), name)
    }

    fn authorize(&self, principal: &Principal, access: Access, name: &str) -> CoreResult<()> {
        self.rt
            .authorizer
            .authorize(principal, access, self.resource(name))
    }

    fn require(&self, name: &str) -> CoreResult<()> {
        if self.rt.vault.exists(self.kind, name) {
            Ok(())
        } else {
            Err(not_found(self.kind, name))
        }
    }

    /// Creates (needs the create permission) or replaces (needs UPDATE) a value. A
    /// caller who may do neither hears the same refusal whether the name exists or
    /// not; one who may create values learns it anyway (a new name is created).
    pub async fn put(&self, principal: &Principal, name: &str, value: &str) -> CoreResult<()> {
        // Computed from the directory: first take in what other nodes changed.
        self.rt.access.fresh().await?;
        crate::service::vault::check_name(self.kind, name)?;
        let allowed = if self.rt.vault.exists(self.kind, name) {
            self.authorize(principal, Access::Update, name)
        } else {
            authorize_new(&self.rt, principal, self.kind, name)
        };
        if let Err(err) = allowed {
            if self
                .rt
                .authorizer
                .can(principal, Access::Create, self.resource(name))
            {
                return Err(err);
            }
            return Err(disclosure::hidden(format_args!(
                "create or update {}: {name}",
                resource_type(self.kind).noun()
            )));
        }
        let created = self
            .rt
            .vault
            .put(self.kind, name, value, principal.id(), self.rt.now())
            .await?;
        if created {
            let ops = self
                .rt
                .access
                .creation_ops(principal, Target::new(target_type(self.kind), name));
            self.rt.access.commit(ops).await?;
        }
        self.audit("put", name).await;
        Ok(())
    }

    /// The audit event of a write, read or deletion of a value.
    fn audit_event(&self, what: &str, name: &str) -> crate::store::AuditEvent {
        let noun = match self.kind {
            SecretKind::Secret => "secret",
            SecretKind::Env => "env",
        };
        let target = format!("{}:{name}", target_type(self.kind).name());
        super::audit::event(self.rt.now(), &format!("{noun}.{what}"), target, true)
    }

    /// Records a write or deletion of a value in the audit trail, at once (never
    /// dropped from a queue); the change is made, so a failure is only logged.
    async fn audit(&self, what: &str, name: &str) {
        let event = self.audit_event(what, name);
        if let Err(err) = self.rt.stores.audit.append_audit(vec![event]).await {
            tracing::error!(error = %err, name, "a change to a value could not be recorded in the audit trail");
        }
    }

    /// The value (needs READ). Every read is recorded before the value is returned.
    pub async fn get(&self, principal: &Principal, name: &str) -> CoreResult<String> {
        self.authorize(principal, Access::Read, name)?;
        let value = self
            .rt
            .vault
            .value(self.kind, name)?
            .ok_or_else(|| not_found(self.kind, name))?;
        if self.kind == SecretKind::Secret {
            self.rt
                .stores
                .secrets
                .record_secret_reads(vec![SecretRead {
                    kind: self.kind,
                    name: name.to_string(),
                    principal: principal.id().to_string(),
                    at: self.rt.now(),
                }])
                .await?;
            tracing::info!(
                secret = name,
                principal = principal.id(),
                "secret value read"
            );
        }
        // Recorded before the value is returned; no record, no value.
        let event = self.audit_event("read", name);
        self.rt.stores.audit.append_audit(vec![event]).await?;
        Ok(value)
    }

    /// Deletes a value (needs DELETE), its grants, owner and tags. Returns the value
    /// for environment variables (as Orkes does), nothing for secrets.
    pub async fn delete(&self, principal: &Principal, name: &str) -> CoreResult<Option<String>> {
        // Computed from the directory: first take in what other nodes changed.
        self.rt.access.fresh().await?;
        self.authorize(principal, Access::Delete, name)?;
        let previous = match self.kind {
            SecretKind::Env => self.rt.vault.value(self.kind, name)?,
            SecretKind::Secret => None,
        };
        if !self.rt.vault.delete(self.kind, name).await? {
            return Err(not_found(self.kind, name));
        }
        let target = Target::new(target_type(self.kind), name);
        let ops = self.rt.access.deletion_ops(&target);
        self.rt.access.commit(ops).await?;
        self.rt
            .access
            .clear_tags(target_type(self.kind), name)
            .await?;
        self.audit("delete", name).await;
        Ok(previous)
    }

    /// `true` when a value exists; 404 when it does not, as Orkes answers (the JS SDK
    /// reads any answer as "exists", so `false` would mislead it). Only a caller with
    /// some access on the name hears either: anyone else gets the same 403 whether it
    /// exists or not.
    pub fn exists(&self, principal: &Principal, name: &str) -> CoreResult<bool> {
        let authz = &self.rt.authorizer;
        let any = [
            Access::Read,
            Access::Update,
            Access::Delete,
            Access::Execute,
        ]
        .into_iter()
        .any(|a| authz.can(principal, a, self.resource(name)));
        if !any {
            return Err(refusal(Access::Read, self.resource(name)));
        }
        self.require(name)?;
        Ok(true)
    }

    /// The names the caller holds every one of `accesses` on (READ when empty).
    pub fn names(&self, principal: &Principal, accesses: &[Access]) -> Vec<String> {
        let accesses = if accesses.is_empty() {
            &[Access::Read][..]
        } else {
            accesses
        };
        self.rt
            .vault
            .names(self.kind)
            .into_iter()
            .filter(|name| {
                accesses
                    .iter()
                    .all(|a| self.rt.authorizer.can(principal, *a, self.resource(name)))
            })
            .collect()
    }

    /// Whether `principal` may create values of this kind (by its roles).
    pub fn may_create(&self, principal: &Principal) -> bool {
        self.rt
            .authorizer
            .can(principal, Access::Create, self.resource(""))
    }

    /// Whether `principal` has values of this kind to look at: it may create one,
    /// or read one (what the console's menu asks).
    pub fn may_use(&self, principal: &Principal) -> bool {
        self.may_create(principal)
            || self.rt.vault.names(self.kind).iter().any(|name| {
                self.rt
                    .authorizer
                    .can(principal, Access::Read, self.resource(name))
            })
    }

    /// Every name (administrators only).
    pub fn all_names(&self, principal: &Principal) -> CoreResult<Vec<String>> {
        self.rt
            .authorizer
            .require_admin(principal, "list every secret name")?;
        Ok(self.rt.vault.names(self.kind))
    }

    /// The readable names with their tags: `[{name, tags}]`.
    pub async fn names_with_tags(&self, principal: &Principal) -> CoreResult<Vec<Value>> {
        let mut tags_by_name: std::collections::HashMap<String, Vec<Tag>> = Default::default();
        for (name, tag) in self
            .rt
            .stores
            .tags
            .all_tags(target_type(self.kind).name())
            .await?
        {
            tags_by_name.entry(name).or_default().push(tag);
        }
        Ok(self
            .names(principal, &[])
            .into_iter()
            .map(|name| {
                let tags = tags_by_name.remove(&name).unwrap_or_default();
                json!({"name": name, "tags": tags})
            })
            .collect())
    }

    /// Readable environment variables with their values and tags:
    /// `[{name, value, tags}]`.
    pub async fn variables(&self, principal: &Principal) -> CoreResult<Vec<Value>> {
        let mut out = self.names_with_tags(principal).await?;
        for entry in &mut out {
            let name = entry["name"].as_str().unwrap_or_default().to_string();
            let value = self.rt.vault.value(self.kind, &name)?;
            entry["value"] = value.map_or(Value::Null, Value::String);
        }
        Ok(out)
    }

    /// The tags of a value (needs READ).
    pub async fn tags(&self, principal: &Principal, name: &str) -> CoreResult<Vec<Tag>> {
        self.authorize(principal, Access::Read, name)?;
        self.require(name)?;
        Ok(self
            .rt
            .stores
            .tags
            .get_tags(target_type(self.kind).name(), name)
            .await?)
    }

    /// Adds tags to a value, or removes them (needs UPDATE). Tag grants follow at once.
    pub async fn change_tags(
        &self,
        principal: &Principal,
        name: &str,
        tags: Vec<Tag>,
        remove: bool,
    ) -> CoreResult<()> {
        self.authorize(principal, Access::Update, name)?;
        self.require(name)?;
        self.rt
            .access
            .change_tags(target_type(self.kind), name, &tags, remove)
            .await
    }

    /// Who read a secret's value through the API, newest first (administrators only).
    pub async fn reads(&self, principal: &Principal, name: &str) -> CoreResult<Vec<Value>> {
        self.rt
            .authorizer
            .require_admin(principal, "see who read a secret")?;
        let reads = self
            .rt
            .stores
            .secrets
            .secret_reads(self.kind, Some(name), READS_LIMIT)
            .await?;
        Ok(reads
            .into_iter()
            .map(|r| json!({"name": r.name, "principal": r.principal, "readAt": r.at}))
            .collect())
    }
}
