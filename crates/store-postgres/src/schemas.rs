//! Schemas on PostgreSQL, shared by every node.

use async_trait::async_trait;
use podium_core::model::SchemaDef;
use podium_core::store::{SchemaStore, StoreError, StoreResult};

use crate::rows::get;
use crate::{PostgresStore, map_err};

fn decode(json: &str) -> StoreResult<SchemaDef> {
    serde_json::from_str(json)
        .map_err(|err| StoreError::Corrupt(format!("a stored schema cannot be read: {err}")))
}

#[async_trait]
impl SchemaStore for PostgresStore {
    async fn put_schema(&self, schema: &SchemaDef) -> StoreResult<()> {
        let version = schema
            .version
            .ok_or_else(|| StoreError::Rejected("a schema is stored with its version".into()))?;
        let json =
            serde_json::to_string(schema).map_err(|err| StoreError::Corrupt(err.to_string()))?;
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO schema_def (name, version, json) VALUES ($1, $2, $3)
                 ON CONFLICT (name, version) DO UPDATE SET json = EXCLUDED.json",
                &[&schema.name, &version, &json],
            )
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn schema(&self, name: &str, version: Option<i32>) -> StoreResult<Option<SchemaDef>> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT json FROM schema_def WHERE name = $1 AND ($2::INTEGER IS NULL OR version = $2)
                 ORDER BY version DESC LIMIT 1",
                &[&name, &version],
            )
            .await
            .map_err(map_err)?;
        match row {
            Some(row) => decode(&get::<String>(&row, 0)?).map(Some),
            None => Ok(None),
        }
    }

    async fn list_schemas(&self) -> StoreResult<Vec<SchemaDef>> {
        let client = self.client().await?;
        let rows = client
            .query("SELECT json FROM schema_def ORDER BY name, version", &[])
            .await
            .map_err(map_err)?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            match decode(&get::<String>(row, 0)?) {
                Ok(schema) => out.push(schema),
                Err(err) => {
                    tracing::error!(error = %err, "a stored schema cannot be read; it is left out");
                }
            }
        }
        Ok(out)
    }

    async fn delete_schema(&self, name: &str, version: Option<i32>) -> StoreResult<u64> {
        let client = self.client().await?;
        client
            .execute(
                "DELETE FROM schema_def WHERE name = $1 AND ($2::INTEGER IS NULL OR version = $2)",
                &[&name, &version],
            )
            .await
            .map_err(map_err)
    }
}
