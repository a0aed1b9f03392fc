//! Event handlers on PostgreSQL, shared by every node.

use async_trait::async_trait;
use podium_core::model::EventHandler;
use podium_core::store::{EventHandlerStore, StoreError, StoreResult};
use tokio_postgres::Row;

use crate::rows::get;
use crate::{PostgresStore, map_err};

fn decode(json: &str) -> StoreResult<EventHandler> {
    serde_json::from_str(json)
        .map_err(|err| StoreError::Corrupt(format!("a stored event handler cannot be read: {err}")))
}

/// Decodes rows, leaving out (and logging) one that cannot be read.
fn decode_all(rows: &[Row]) -> StoreResult<Vec<EventHandler>> {
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        match decode(&get::<String>(row, 0)?) {
            Ok(handler) => out.push(handler),
            Err(err) => {
                tracing::error!(error = %err, "a stored event handler cannot be read; it is left out");
            }
        }
    }
    Ok(out)
}

#[async_trait]
impl EventHandlerStore for PostgresStore {
    async fn put_event_handler(&self, handler: &EventHandler) -> StoreResult<bool> {
        let json =
            serde_json::to_string(handler).map_err(|err| StoreError::Corrupt(err.to_string()))?;
        let client = self.client().await?;
        let updated = client
            .execute(
                "UPDATE event_handler SET event = $2, active = $3, json = $4 WHERE name = $1",
                &[&handler.name, &handler.event, &handler.active, &json],
            )
            .await
            .map_err(map_err)?;
        Ok(updated > 0)
    }

    async fn insert_event_handler(&self, handler: &EventHandler) -> StoreResult<bool> {
        let json =
            serde_json::to_string(handler).map_err(|err| StoreError::Corrupt(err.to_string()))?;
        let client = self.client().await?;
        let inserted = client
            .execute(
                "INSERT INTO event_handler (name, event, active, json) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (name) DO NOTHING",
                &[&handler.name, &handler.event, &handler.active, &json],
            )
            .await
            .map_err(map_err)?;
        Ok(inserted > 0)
    }

    async fn event_handler(&self, name: &str) -> StoreResult<Option<EventHandler>> {
        let client = self.client().await?;
        let row = client
            .query_opt("SELECT json FROM event_handler WHERE name = $1", &[&name])
            .await
            .map_err(map_err)?;
        match row {
            Some(row) => decode(&get::<String>(&row, 0)?).map(Some),
            None => Ok(None),
        }
    }

    async fn list_event_handlers(&self) -> StoreResult<Vec<EventHandler>> {
        let client = self.client().await?;
        let rows = client
            .query("SELECT json FROM event_handler ORDER BY name", &[])
            .await
            .map_err(map_err)?;
        decode_all(&rows)
    }

    async fn event_handlers_for(
        &self,
        event: &str,
        active_only: bool,
    ) -> StoreResult<Vec<EventHandler>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT json FROM event_handler WHERE event = $1 AND (active OR NOT $2)
                 ORDER BY name",
                &[&event, &active_only],
            )
            .await
            .map_err(map_err)?;
        decode_all(&rows)
    }

    async fn delete_event_handler(&self, name: &str) -> StoreResult<bool> {
        let client = self.client().await?;
        let deleted = client
            .execute("DELETE FROM event_handler WHERE name = $1", &[&name])
            .await
            .map_err(map_err)?;
        Ok(deleted > 0)
    }
}
