//! Definitions and tags, and how every backend encodes and decodes definition rows.

use std::sync::Arc;

use async_trait::async_trait;

use super::{StoreError, StoreResult};
use crate::model::{Tag, TaskDef, WorkflowDef};

/// Definitions: task definitions, workflow definitions by version, and revisions.
#[async_trait]
pub trait MetadataStore: Send + Sync {
    /// Inserts or replaces task definitions.
    async fn put_task_defs(&self, defs: &[TaskDef]) -> StoreResult<()>;
    /// One task definition.
    async fn get_task_def(&self, name: &str) -> StoreResult<Option<TaskDef>>;
    /// Every task definition, by name.
    async fn list_task_defs(&self) -> StoreResult<Vec<TaskDef>>;
    /// Deletes a task definition; false when there was none.
    async fn delete_task_def(&self, name: &str) -> StoreResult<bool>;

    /// Stores a workflow definition version under a new revision id. With
    /// `overwrite` false an existing (name, version) is a [`StoreError::Conflict`].
    async fn put_workflow_def(
        &self,
        def: &WorkflowDef,
        revision: &str,
        overwrite: bool,
    ) -> StoreResult<()>;
    /// A version of a workflow definition (latest when `version` is None) and its revision.
    async fn get_workflow_def(
        &self,
        name: &str,
        version: Option<i32>,
    ) -> StoreResult<Option<(WorkflowDef, String)>>;
    /// Every version of every workflow definition.
    async fn list_workflow_defs(&self) -> StoreResult<Vec<WorkflowDef>>;
    /// Deletes one version; false when there was none.
    async fn delete_workflow_def(&self, name: &str, version: i32) -> StoreResult<bool>;
    /// A definition by revision id (what a running workflow executes).
    async fn get_def_revision(&self, revision: &str) -> StoreResult<Option<Arc<WorkflowDef>>>;
    /// Stores an inline definition (dynamic workflow) under a revision id.
    async fn put_def_revision(&self, revision: &str, def: &WorkflowDef) -> StoreResult<()>;
}

/// Tags on any resource, addressed by a resource type and name.
#[async_trait]
pub trait TagStore: Send + Sync {
    /// The tags of a resource.
    async fn get_tags(&self, resource_type: &str, name: &str) -> StoreResult<Vec<Tag>>;
    /// Replaces the tags of a resource.
    async fn set_tags(&self, resource_type: &str, name: &str, tags: &[Tag]) -> StoreResult<()>;
    /// Adds tags (keeping existing ones).
    async fn add_tags(&self, resource_type: &str, name: &str, tags: &[Tag]) -> StoreResult<()>;
    /// Removes tags matching key and value.
    async fn remove_tags(&self, resource_type: &str, name: &str, tags: &[Tag]) -> StoreResult<()>;
    /// Every tag of every resource of a type, as (name, tag).
    async fn all_tags(&self, resource_type: &str) -> StoreResult<Vec<(String, Tag)>>;
}

/// A value as the JSON text a row keeps. Failing to encode one of our own types is
/// a bug, reported as a backend error.
pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> StoreResult<String> {
    serde_json::to_string(value).map_err(|e| StoreError::backend(format!("encoding failed: {e}")))
}

/// A task definition as the columns of its `task_def` row. A replaced definition
/// keeps its row's `create_time`; every backend writes only `json` and
/// `update_time` over an existing row.
#[derive(Debug, Clone)]
pub struct TaskDefRow {
    pub name: String,
    pub json: String,
    pub create_time: i64,
    pub update_time: i64,
}

impl TaskDefRow {
    /// Encodes a definition; a missing time is stored as 0.
    pub fn encode(def: &TaskDef) -> StoreResult<TaskDefRow> {
        Ok(TaskDefRow {
            name: def.name.clone(),
            json: to_json(def)?,
            create_time: def.create_time.unwrap_or(0),
            update_time: def.update_time.unwrap_or(0),
        })
    }
}

/// A workflow definition version as the columns of its `workflow_def` row (the
/// revision comes from the caller). As with task definitions, an overwrite keeps
/// the row's `create_time`.
#[derive(Debug, Clone)]
pub struct WorkflowDefRow {
    pub name: String,
    pub version: i32,
    pub json: String,
    pub create_time: i64,
    pub update_time: i64,
}

impl WorkflowDefRow {
    /// Encodes a definition; a missing time is stored as 0.
    pub fn encode(def: &WorkflowDef) -> StoreResult<WorkflowDefRow> {
        Ok(WorkflowDefRow {
            name: def.name.clone(),
            version: def.version,
            json: to_json(def)?,
            create_time: def.create_time.unwrap_or(0),
            update_time: def.update_time.unwrap_or(0),
        })
    }
}

/// A definition as the JSON a `def_revision` row keeps.
pub fn encode_def_revision(def: &WorkflowDef) -> StoreResult<String> {
    to_json(def)
}

/// What `put_workflow_def` without overwrite answers when the version exists (the
/// message is Conductor's, and safe to show).
pub fn workflow_def_exists(name: &str, version: i32) -> StoreError {
    StoreError::Conflict(format!(
        "Workflow with name: {name} and version: {version} already exists"
    ))
}

/// A stored task definition; one that cannot be read is corrupt.
pub fn decode_task_def(json: &str) -> StoreResult<TaskDef> {
    serde_json::from_str(json).map_err(|e| StoreError::Corrupt(format!("task definition: {e}")))
}

/// A stored workflow definition asked for by name; one that cannot be read is
/// corrupt.
pub fn decode_workflow_def(json: &str) -> StoreResult<WorkflowDef> {
    serde_json::from_str(json).map_err(|e| StoreError::Corrupt(format!("workflow definition: {e}")))
}

/// A stored workflow definition for a list. One that cannot be read (stored before
/// a bound that now refuses it, or damaged) is logged and left out, so one bad row
/// keeps neither the server from starting nor the list from being served.
pub fn decode_listed_workflow_def(name: &str, version: i32, json: &str) -> Option<WorkflowDef> {
    serde_json::from_str(json)
        .map_err(|e| {
            tracing::error!(
                name = %name,
                version,
                error = %e,
                "a stored workflow definition cannot be read; it is left out"
            );
        })
        .ok()
}
