//! Schemas on SQLite: written on the single writer, read on the readers.

use podium_core::model::SchemaDef;
use podium_core::store::{SchemaStore, StoreError, StoreResult};
use rusqlite::{OptionalExtension, params};

use crate::{SqliteStore, map_err};

fn decode(json: &str) -> StoreResult<SchemaDef> {
    serde_json::from_str(json)
        .map_err(|err| StoreError::Corrupt(format!("a stored schema cannot be read: {err}")))
}

#[async_trait::async_trait]
impl SchemaStore for SqliteStore {
    async fn put_schema(&self, schema: &SchemaDef) -> StoreResult<()> {
        let version = schema
            .version
            .ok_or_else(|| StoreError::Rejected("a schema is stored with its version".into()))?;
        let json =
            serde_json::to_string(schema).map_err(|err| StoreError::Corrupt(err.to_string()))?;
        let name = schema.name.clone();
        self.write_value(move |conn| {
            conn.prepare_cached(
                "INSERT INTO schema_def (name, version, json) VALUES (?1, ?2, ?3)
                 ON CONFLICT (name, version) DO UPDATE SET json = excluded.json",
            )
            .and_then(|mut s| s.execute(params![name, version, json]))
            .map(|_| ())
            .map_err(map_err)
        })
        .await
    }

    async fn schema(&self, name: &str, version: Option<i32>) -> StoreResult<Option<SchemaDef>> {
        let name = name.to_string();
        self.read(move |conn, _| {
            let json: Option<String> = conn
                .prepare_cached(
                    "SELECT json FROM schema_def WHERE name = ?1 AND (?2 IS NULL OR version = ?2)
                     ORDER BY version DESC LIMIT 1",
                )
                .and_then(|mut s| {
                    s.query_row(params![name, version], |row| row.get(0))
                        .optional()
                })
                .map_err(map_err)?;
            json.as_deref().map(decode).transpose()
        })
        .await
    }

    async fn list_schemas(&self) -> StoreResult<Vec<SchemaDef>> {
        self.read(move |conn, _| {
            let rows: Vec<String> = conn
                .prepare_cached("SELECT json FROM schema_def ORDER BY name, version")
                .and_then(|mut s| s.query_map([], |row| row.get(0))?.collect::<Result<_, _>>())
                .map_err(map_err)?;
            Ok(rows
                .iter()
                .filter_map(|json| match decode(json) {
                    Ok(schema) => Some(schema),
                    Err(err) => {
                        tracing::error!(error = %err, "a stored schema cannot be read; it is left out");
                        None
                    }
                })
                .collect())
        })
        .await
    }

    async fn delete_schema(&self, name: &str, version: Option<i32>) -> StoreResult<u64> {
        let name = name.to_string();
        self.write_value(move |conn| {
            conn.prepare_cached(
                "DELETE FROM schema_def WHERE name = ?1 AND (?2 IS NULL OR version = ?2)",
            )
            .and_then(|mut s| s.execute(params![name, version]))
            .map(|n| u64::try_from(n).unwrap_or(0))
            .map_err(map_err)
        })
        .await
    }
}
