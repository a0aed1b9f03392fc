//! Definitions: task definitions, workflow definitions by version, and their tags.

use std::sync::Arc;

use crate::error::{CoreError, CoreResult, ValidationError};
use crate::model::{BulkResponse, Tag, TaskDef, WorkflowDef};
use crate::security::model::{Target, TargetType};
use crate::security::{Access, Principal, Resource};

use super::access::tag_key;
use super::grants::reaches_work;
use super::names::{self, NameUse};
use super::runtime::Runtime;
use super::validation;

/// Tag resource type of workflow definitions.
pub const WORKFLOW_DEF_TAGS: &str = "WORKFLOW_DEF";
/// Tag resource type of task definitions.
pub const TASK_DEF_TAGS: &str = "TASK_DEF";

/// The metadata API.
#[derive(Clone)]
pub struct MetadataService {
    rt: Arc<Runtime>,
}

fn task_not_found(name: &str) -> CoreError {
    CoreError::NotFound(format!("Task {name} not found"))
}

fn workflow_not_found(name: &str, version: Option<i32>) -> CoreError {
    let version = version.map_or_else(|| "null".to_string(), |v| v.to_string());
    CoreError::NotFound(format!(
        "No such workflow found by name: {name}, version: {version}"
    ))
}

fn normalize_tags(tags: &[Tag]) -> CoreResult<Vec<Tag>> {
    let mut out = Vec::with_capacity(tags.len());
    for tag in tags {
        if tag.key.trim().is_empty() {
            return Err(CoreError::invalid("A tag needs a non-empty key"));
        }
        let tag_type = tag
            .tag_type
            .clone()
            .unwrap_or_else(|| "METADATA".to_string());
        if tag_type != "METADATA" && tag_type != "RATE_LIMIT" {
            return Err(CoreError::invalid(format!(
                "Tag type '{tag_type}' is not valid: use METADATA or RATE_LIMIT"
            )));
        }
        out.push(Tag {
            key: tag.key.clone(),
            tag_type: Some(tag_type),
            value: tag.value.clone(),
        });
    }
    Ok(out)
}

impl MetadataService {
    /// The service over a runtime.
    pub fn new(rt: Arc<Runtime>) -> MetadataService {
        MetadataService { rt }
    }

    /// Allows writing a workflow definition: a new version of an existing name is an
    /// update of that definition, a new name a creation.
    fn authorize_workflow_write(&self, principal: &Principal, name: &str) -> CoreResult<()> {
        if self.rt.defs.workflow(name, None).is_some() {
            self.rt
                .authorizer
                .authorize(principal, Access::Update, Resource::workflow_def(name))
        } else {
            self.authorize_new_name(principal, NameUse::Workflow, name)
        }
    }

    /// Allows creating a definition under a new name: the create permission (UPDATE
    /// when the name outlived a delete of someone else's definition), and no
    /// definition the principal may not change already uses the name.
    fn authorize_new_name(
        &self,
        principal: &Principal,
        what: NameUse,
        name: &str,
    ) -> CoreResult<()> {
        let resource = match what {
            NameUse::TaskType => Resource::task_def(name),
            _ => Resource::workflow_def(name),
        };
        self.rt.authorizer.authorize_create(principal, resource)?;
        names::check_claim(&self.rt, principal, what, name)
    }

    fn validate_task_def(def: &TaskDef, path: &str) -> Vec<ValidationError> {
        validation::task_def(def, path)
    }

    /// Creates or replaces task definitions (`POST /metadata/taskdefs`).
    pub async fn register_task_defs(
        &self,
        principal: &Principal,
        defs: Vec<TaskDef>,
    ) -> CoreResult<()> {
        // Computed from the directory: first take in what other nodes changed.
        self.rt.access.fresh().await?;
        if defs.is_empty() {
            return Err(CoreError::invalid("Task definitions cannot be empty"));
        }
        let mut errors = Vec::new();
        for (index, def) in defs.iter().enumerate() {
            errors.extend(Self::validate_task_def(def, &format!("[{index}]")));
        }
        if !errors.is_empty() {
            return Err(CoreError::validation(errors));
        }
        let mut created = Vec::new();
        for def in &defs {
            // Replacing a definition is an update; only a new name is a creation.
            let exists = self
                .rt
                .stores
                .metadata
                .get_task_def(&def.name)
                .await?
                .is_some();
            if exists {
                self.rt.authorizer.authorize(
                    principal,
                    Access::Update,
                    Resource::task_def(&def.name),
                )?;
            } else {
                self.authorize_new_name(principal, NameUse::TaskType, &def.name)?;
                created.push(def.name.clone());
            }
        }
        let now = self.rt.now();
        let mut stored = Vec::with_capacity(defs.len());
        for mut def in defs {
            let existing = self.rt.stores.metadata.get_task_def(&def.name).await?;
            def.create_time = Some(existing.as_ref().and_then(|e| e.create_time).unwrap_or(now));
            def.created_by = existing
                .and_then(|e| e.created_by)
                .or_else(|| Some(principal.id().to_string()));
            def.update_time = Some(now);
            def.updated_by = Some(principal.id().to_string());
            stored.push(def);
        }
        self.store_task_defs(principal, stored).await?;
        let mut ops = Vec::new();
        for name in created {
            ops.extend(
                self.rt
                    .access
                    .creation_ops(principal, Target::new(TargetType::TaskDef, name)),
            );
        }
        self.rt.access.commit(ops).await
    }

    async fn store_task_defs(&self, principal: &Principal, defs: Vec<TaskDef>) -> CoreResult<()> {
        for def in &defs {
            if let Some(tags) = &def.tags {
                self.check_new_tags(principal, TargetType::TaskDef, &def.name, tags)?;
            }
        }
        let mut tagged = Vec::new();
        let defs: Vec<TaskDef> = defs
            .into_iter()
            .map(|mut def| {
                if let Some(tags) = def.tags.take() {
                    tagged.push((def.name.clone(), tags));
                }
                def
            })
            .collect();
        self.rt.stores.metadata.put_task_defs(&defs).await?;
        for def in defs {
            self.rt.defs.put(def);
        }
        for (name, tags) in tagged {
            self.rt
                .stores
                .tags
                .set_tags(TASK_DEF_TAGS, &name, &normalize_tags(&tags)?)
                .await?;
            self.rt
                .access
                .refresh_tags(TargetType::TaskDef, &name)
                .await?;
        }
        Ok(())
    }

    /// Replaces an existing task definition (`PUT /metadata/taskdefs`).
    pub async fn update_task_def(&self, principal: &Principal, mut def: TaskDef) -> CoreResult<()> {
        let errors = Self::validate_task_def(&def, "");
        if !errors.is_empty() {
            return Err(CoreError::validation(errors));
        }
        self.rt
            .authorizer
            .authorize(principal, Access::Update, Resource::task_def(&def.name))?;
        let existing = self
            .rt
            .stores
            .metadata
            .get_task_def(&def.name)
            .await?
            .ok_or_else(|| task_not_found(&def.name))?;
        def.create_time = existing.create_time;
        def.created_by = existing.created_by;
        def.update_time = Some(self.rt.now());
        def.updated_by = Some(principal.id().to_string());
        self.store_task_defs(principal, vec![def]).await
    }

    /// One task definition.
    pub async fn get_task_def(&self, principal: &Principal, name: &str) -> CoreResult<TaskDef> {
        self.rt
            .authorizer
            .authorize(principal, Access::Read, Resource::task_def(name))?;
        self.rt
            .stores
            .metadata
            .get_task_def(name)
            .await?
            .ok_or_else(|| task_not_found(name))
    }

    /// Every task definition the caller may read.
    pub async fn list_task_defs(&self, principal: &Principal) -> CoreResult<Vec<TaskDef>> {
        Ok(self
            .rt
            .defs
            .all_task_defs()
            .into_iter()
            .filter(|d| {
                self.rt
                    .authorizer
                    .can(principal, Access::Read, Resource::task_def(&d.name))
            })
            .map(|d| (*d).clone())
            .collect())
    }

    /// Deletes a task definition.
    pub async fn delete_task_def(&self, principal: &Principal, name: &str) -> CoreResult<()> {
        // Computed from the directory: first take in what other nodes changed.
        self.rt.access.fresh().await?;
        self.rt
            .authorizer
            .authorize(principal, Access::Delete, Resource::task_def(name))?;
        if !self.rt.stores.metadata.delete_task_def(name).await? {
            return Err(task_not_found(name));
        }
        self.rt.defs.remove(name);
        let target = Target::new(TargetType::TaskDef, name);
        self.rt
            .access
            .commit(self.rt.access.deletion_ops(&target))
            .await
    }

    fn prepare_workflow_def(
        &self,
        principal: &Principal,
        mut def: WorkflowDef,
        existing: Option<&WorkflowDef>,
    ) -> CoreResult<WorkflowDef> {
        let errors = validation::workflow_def(&def);
        if !errors.is_empty() {
            return Err(CoreError::validation(errors));
        }
        let now = self.rt.now();
        def.create_time = Some(existing.and_then(|e| e.create_time).unwrap_or(now));
        def.created_by = existing
            .and_then(|e| e.created_by.clone())
            .or_else(|| Some(principal.id().to_string()));
        def.update_time = Some(now);
        def.updated_by = Some(principal.id().to_string());
        Ok(def)
    }

    async fn store_workflow_def(
        &self,
        principal: &Principal,
        mut def: WorkflowDef,
        overwrite: bool,
    ) -> CoreResult<()> {
        // Computed from the directory: first take in what other nodes changed.
        self.rt.access.fresh().await?;
        let is_new = self.rt.defs.workflow(&def.name, None).is_none();
        let tags = def.tags.take();
        if let Some(tags) = &tags {
            self.check_new_tags(principal, TargetType::WorkflowDef, &def.name, tags)?;
        }
        let revision = self.rt.ids.new_id();
        self.rt
            .stores
            .metadata
            .put_workflow_def(&def, &revision, overwrite)
            .await?;
        if let Some(tags) = tags {
            self.rt
                .stores
                .tags
                .set_tags(WORKFLOW_DEF_TAGS, &def.name, &normalize_tags(&tags)?)
                .await?;
            self.rt
                .access
                .refresh_tags(TargetType::WorkflowDef, &def.name)
                .await?;
        }
        let target = Target::new(TargetType::WorkflowDef, def.name.clone());
        self.rt.defs.put_workflow(def, revision);
        if is_new {
            let ops = self.rt.access.creation_ops(principal, target);
            self.rt.access.commit(ops).await?;
        }
        Ok(())
    }

    /// Registers a workflow definition version (`POST /metadata/workflow`). Without
    /// `overwrite`, an existing name and version is a conflict.
    pub async fn register_workflow_def(
        &self,
        principal: &Principal,
        def: WorkflowDef,
        overwrite: bool,
    ) -> CoreResult<()> {
        let existing = self.rt.defs.workflow(&def.name, Some(def.version));
        self.authorize_workflow_write(principal, &def.name)?;
        if existing.is_some() && !overwrite {
            return Err(CoreError::Conflict(format!(
                "Workflow with name: {} and version: {} already exists",
                def.name, def.version
            )));
        }
        let def =
            self.prepare_workflow_def(principal, def, existing.as_ref().map(|(d, _)| d.as_ref()))?;
        self.store_workflow_def(principal, def, true).await
    }

    /// Creates or replaces workflow definitions (`PUT /metadata/workflow`).
    pub async fn update_workflow_defs(
        &self,
        principal: &Principal,
        defs: Vec<WorkflowDef>,
    ) -> CoreResult<BulkResponse> {
        if defs.is_empty() {
            return Err(CoreError::invalid("Workflow definitions cannot be empty"));
        }
        let mut prepared = Vec::with_capacity(defs.len());
        let mut errors = Vec::new();
        for (index, def) in defs.into_iter().enumerate() {
            let existing = self.rt.defs.workflow(&def.name, Some(def.version));
            self.authorize_workflow_write(principal, &def.name)?;
            match self.prepare_workflow_def(
                principal,
                def,
                existing.as_ref().map(|(d, _)| d.as_ref()),
            ) {
                Ok(def) => prepared.push(def),
                Err(CoreError::InvalidInput {
                    validation_errors, ..
                }) => {
                    errors.extend(validation_errors.into_iter().map(|mut e| {
                        e.path = format!("[{index}].{}", e.path);
                        e
                    }));
                }
                Err(other) => return Err(other),
            }
        }
        if !errors.is_empty() {
            return Err(CoreError::validation(errors));
        }
        let mut response = BulkResponse::default();
        for def in prepared {
            let name = def.name.clone();
            self.store_workflow_def(principal, def, true).await?;
            response
                .bulk_successful_results
                .push(serde_json::Value::String(name));
        }
        Ok(response)
    }

    /// A workflow definition version (latest when `version` is None).
    pub async fn get_workflow_def(
        &self,
        principal: &Principal,
        name: &str,
        version: Option<i32>,
    ) -> CoreResult<WorkflowDef> {
        self.rt
            .authorizer
            .authorize(principal, Access::Read, Resource::workflow_def(name))?;
        self.rt
            .defs
            .workflow(name, version)
            .map(|(def, _)| (*def).clone())
            .ok_or_else(|| workflow_not_found(name, version))
    }

    /// Every version of every workflow definition the caller may read.
    pub async fn list_workflow_defs(&self, principal: &Principal) -> CoreResult<Vec<WorkflowDef>> {
        let mut defs: Vec<WorkflowDef> = self
            .rt
            .defs
            .all_workflows()
            .into_iter()
            .filter(|d| {
                self.rt
                    .authorizer
                    .can(principal, Access::Read, Resource::workflow_def(&d.name))
            })
            .map(|d| (*d).clone())
            .collect();
        defs.sort_by(|a, b| a.name.cmp(&b.name).then(a.version.cmp(&b.version)));
        Ok(defs)
    }

    /// Deletes one version of a workflow definition. Running workflows keep running on
    /// the revision they started with.
    pub async fn delete_workflow_def(
        &self,
        principal: &Principal,
        name: &str,
        version: i32,
    ) -> CoreResult<()> {
        // Computed from the directory: first take in what other nodes changed.
        self.rt.access.fresh().await?;
        self.rt
            .authorizer
            .authorize(principal, Access::Delete, Resource::workflow_def(name))?;
        if !self
            .rt
            .stores
            .metadata
            .delete_workflow_def(name, version)
            .await?
        {
            return Err(workflow_not_found(name, Some(version)));
        }
        self.rt.defs.remove_workflow(name, version);
        if self.rt.defs.workflow(name, None).is_none() {
            // The last version is gone: so are its owner and grants.
            let target = Target::new(TargetType::WorkflowDef, name);
            self.rt
                .access
                .commit(self.rt.access.deletion_ops(&target))
                .await?;
        }
        Ok(())
    }

    /// Refuses, unless the principal is an administrator, a tag the definition does
    /// not carry yet when grants on that tag give an access that reaches work (see
    /// `grants::reaches_work`): a tag grant reaches everything tagged, so adding the
    /// tag shares that access on the definition, and only administrators share
    /// the accesses that reach the executions and tasks others create from it.
    fn check_new_tags(
        &self,
        principal: &Principal,
        kind: TargetType,
        name: &str,
        tags: &[Tag],
    ) -> CoreResult<()> {
        if tags.is_empty() || self.rt.authorizer.require_admin(principal, "").is_ok() {
            return Ok(());
        }
        let directory = self.rt.access.directory().read();
        let present = directory
            .entry(kind, name)
            .map(|e| e.tags.as_slice())
            .unwrap_or(&[]);
        for tag in tags {
            let key = tag_key(tag);
            if present.contains(&key) {
                continue;
            }
            let reaching = directory
                .holders(TargetType::Tag, &key)
                .flat_map(|(_, access)| access.iter())
                .find(|access| reaches_work(kind, *access));
            if let Some(access) = reaching {
                return Err(CoreError::Forbidden(format!(
                    "You don't have permissions to tag {} {name} with {key}: grants on that tag give {} on what it tags, which reaches the executions and tasks others create from it; only administrators may",
                    kind.noun(),
                    access.name()
                )));
            }
        }
        Ok(())
    }

    fn tag_target(resource_type: &str) -> TargetType {
        if resource_type == WORKFLOW_DEF_TAGS {
            TargetType::WorkflowDef
        } else {
            TargetType::TaskDef
        }
    }

    fn tag_resource<'a>(resource_type: &str, name: &'a str) -> Resource<'a> {
        if resource_type == WORKFLOW_DEF_TAGS {
            Resource::workflow_def(name)
        } else {
            Resource::task_def(name)
        }
    }

    fn check_exists(&self, resource_type: &str, name: &str) -> CoreResult<()> {
        let exists = if resource_type == WORKFLOW_DEF_TAGS {
            self.rt.defs.workflow(name, None).is_some()
        } else {
            crate::engine::TaskDefs::task_def(self.rt.defs.as_ref(), name).is_some()
        };
        if exists {
            Ok(())
        } else if resource_type == WORKFLOW_DEF_TAGS {
            Err(workflow_not_found(name, None))
        } else {
            Err(task_not_found(name))
        }
    }

    /// The tags of a workflow or task definition.
    pub async fn get_tags(
        &self,
        principal: &Principal,
        resource_type: &str,
        name: &str,
    ) -> CoreResult<Vec<Tag>> {
        self.rt.authorizer.authorize(
            principal,
            Access::Read,
            Self::tag_resource(resource_type, name),
        )?;
        self.check_exists(resource_type, name)?;
        Ok(self.rt.stores.tags.get_tags(resource_type, name).await?)
    }

    /// Replaces the tags of a workflow or task definition.
    pub async fn set_tags(
        &self,
        principal: &Principal,
        resource_type: &str,
        name: &str,
        tags: Vec<Tag>,
    ) -> CoreResult<()> {
        self.rt.authorizer.authorize(
            principal,
            Access::Update,
            Self::tag_resource(resource_type, name),
        )?;
        self.check_exists(resource_type, name)?;
        let tags = normalize_tags(&tags)?;
        self.check_new_tags(principal, Self::tag_target(resource_type), name, &tags)?;
        self.rt
            .stores
            .tags
            .set_tags(resource_type, name, &tags)
            .await?;
        self.rt
            .access
            .refresh_tags(Self::tag_target(resource_type), name)
            .await
    }

    /// Adds one tag to a workflow or task definition.
    pub async fn add_tag(
        &self,
        principal: &Principal,
        resource_type: &str,
        name: &str,
        tag: Tag,
    ) -> CoreResult<()> {
        self.rt.authorizer.authorize(
            principal,
            Access::Update,
            Self::tag_resource(resource_type, name),
        )?;
        self.check_exists(resource_type, name)?;
        let tags = normalize_tags(&[tag])?;
        self.check_new_tags(principal, Self::tag_target(resource_type), name, &tags)?;
        self.rt
            .stores
            .tags
            .add_tags(resource_type, name, &tags)
            .await?;
        self.rt
            .access
            .refresh_tags(Self::tag_target(resource_type), name)
            .await
    }

    /// Removes tags from a workflow or task definition.
    pub async fn remove_tags(
        &self,
        principal: &Principal,
        resource_type: &str,
        name: &str,
        tags: Vec<Tag>,
    ) -> CoreResult<()> {
        self.rt.authorizer.authorize(
            principal,
            Access::Update,
            Self::tag_resource(resource_type, name),
        )?;
        self.check_exists(resource_type, name)?;
        self.rt
            .stores
            .tags
            .remove_tags(resource_type, name, &tags)
            .await?;
        self.rt
            .access
            .refresh_tags(Self::tag_target(resource_type), name)
            .await
    }

    /// Every tag on the definitions the caller may read.
    pub async fn all_tags(&self, principal: &Principal) -> CoreResult<Vec<Tag>> {
        let mut tags = Vec::new();
        for resource_type in [WORKFLOW_DEF_TAGS, TASK_DEF_TAGS] {
            for (name, tag) in self.rt.stores.tags.all_tags(resource_type).await? {
                let readable = self.rt.authorizer.can(
                    principal,
                    Access::Read,
                    Self::tag_resource(resource_type, &name),
                );
                if readable && !tags.contains(&tag) {
                    tags.push(tag);
                }
            }
        }
        Ok(tags)
    }
}
