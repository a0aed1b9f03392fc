//! Event handlers on SQLite: written on the single writer, read on the readers.

use podium_core::model::EventHandler;
use podium_core::store::{EventHandlerStore, StoreError, StoreResult};
use rusqlite::{OptionalExtension, params};

use crate::{SqliteStore, map_err};

fn decode(json: &str) -> StoreResult<EventHandler> {
    serde_json::from_str(json)
        .map_err(|err| StoreError::Corrupt(format!("a stored event handler cannot be read: {err}")))
}

/// Decodes rows, leaving out (and logging) one that cannot be read.
fn decode_all(rows: &[String]) -> Vec<EventHandler> {
    rows.iter()
        .filter_map(|json| match decode(json) {
            Ok(handler) => Some(handler),
            Err(err) => {
                tracing::error!(error = %err, "a stored event handler cannot be read; it is left out");
                None
            }
        })
        .collect()
}

#[async_trait::async_trait]
impl EventHandlerStore for SqliteStore {
    async fn put_event_handler(&self, handler: &EventHandler) -> StoreResult<bool> {
        let json =
            serde_json::to_string(handler).map_err(|err| StoreError::Corrupt(err.to_string()))?;
        let (name, event, active) = (handler.name.clone(), handler.event.clone(), handler.active);
        self.write_value(move |conn| {
            conn.prepare_cached(
                "UPDATE event_handler SET event = ?2, active = ?3, json = ?4 WHERE name = ?1",
            )
            .and_then(|mut s| s.execute(params![name, event, active, json]))
            .map(|n| n > 0)
            .map_err(map_err)
        })
        .await
    }

    async fn insert_event_handler(&self, handler: &EventHandler) -> StoreResult<bool> {
        let json =
            serde_json::to_string(handler).map_err(|err| StoreError::Corrupt(err.to_string()))?;
        let (name, event, active) = (handler.name.clone(), handler.event.clone(), handler.active);
        self.write_value(move |conn| {
            conn.prepare_cached(
                "INSERT INTO event_handler (name, event, active, json) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (name) DO NOTHING",
            )
            .and_then(|mut s| s.execute(params![name, event, active, json]))
            .map(|n| n > 0)
            .map_err(map_err)
        })
        .await
    }

    async fn event_handler(&self, name: &str) -> StoreResult<Option<EventHandler>> {
        let name = name.to_string();
        self.read(move |conn, _| {
            let json: Option<String> = conn
                .prepare_cached("SELECT json FROM event_handler WHERE name = ?1")
                .and_then(|mut s| s.query_row(params![name], |row| row.get(0)).optional())
                .map_err(map_err)?;
            json.as_deref().map(decode).transpose()
        })
        .await
    }

    async fn list_event_handlers(&self) -> StoreResult<Vec<EventHandler>> {
        self.read(move |conn, _| {
            let rows: Vec<String> = conn
                .prepare_cached("SELECT json FROM event_handler ORDER BY name")
                .and_then(|mut s| s.query_map([], |row| row.get(0))?.collect::<Result<_, _>>())
                .map_err(map_err)?;
            Ok(decode_all(&rows))
        })
        .await
    }

    async fn event_handlers_for(
        &self,
        event: &str,
        active_only: bool,
    ) -> StoreResult<Vec<EventHandler>> {
        let event = event.to_string();
        self.read(move |conn, _| {
            let rows: Vec<String> = conn
                .prepare_cached(
                    "SELECT json FROM event_handler WHERE event = ?1 AND (active OR NOT ?2)
                     ORDER BY name",
                )
                .and_then(|mut s| {
                    s.query_map(params![event, active_only], |row| row.get(0))?
                        .collect::<Result<_, _>>()
                })
                .map_err(map_err)?;
            Ok(decode_all(&rows))
        })
        .await
    }

    async fn delete_event_handler(&self, name: &str) -> StoreResult<bool> {
        let name = name.to_string();
        self.write_value(move |conn| {
            conn.prepare_cached("DELETE FROM event_handler WHERE name = ?1")
                .and_then(|mut s| s.execute(params![name]))
                .map(|n| n > 0)
                .map_err(map_err)
        })
        .await
    }
}
