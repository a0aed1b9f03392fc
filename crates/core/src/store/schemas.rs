//! Schemas: named, versioned documents that definitions name as their input or
//! output schema.

use async_trait::async_trait;

use super::StoreResult;
use crate::model::SchemaDef;

/// Where schemas are kept.
#[async_trait]
pub trait SchemaStore: Send + Sync {
    /// Stores a schema version (one with its name and version is replaced). Its
    /// version must be set.
    async fn put_schema(&self, schema: &SchemaDef) -> StoreResult<()>;
    /// A version of a schema, or its latest when `version` is none.
    async fn schema(&self, name: &str, version: Option<i32>) -> StoreResult<Option<SchemaDef>>;
    /// Every version of every schema, by name then version. One that cannot be read
    /// is left out (and logged).
    async fn list_schemas(&self) -> StoreResult<Vec<SchemaDef>>;
    /// Deletes one version, or every version when `version` is none; how many.
    async fn delete_schema(&self, name: &str, version: Option<i32>) -> StoreResult<u64>;
}
