//! Event records on SQLite: written on the single writer (which keeps the latest
//! of each event and handler, and every message an action still waits to read),
//! read on the readers.

use std::collections::HashMap;

use podium_core::model::{EventExecution, EventMessage};
use podium_core::store::{EventRecordStore, StoreError, StoreResult};
use rusqlite::{OptionalExtension, params};
use serde::de::DeserializeOwned;

use crate::{SqliteStore, map_err};

fn encode<T: serde::Serialize>(value: &T) -> StoreResult<String> {
    serde_json::to_string(value).map_err(|err| StoreError::Corrupt(err.to_string()))
}

/// Decodes rows, leaving out (and logging) one that cannot be read.
fn decode_all<T: DeserializeOwned>(rows: Vec<String>, what: &str) -> Vec<T> {
    rows.into_iter()
        .filter_map(|json| match serde_json::from_str(&json) {
            Ok(value) => Some(value),
            Err(err) => {
                tracing::error!(error = %err, "a stored {what} cannot be read; it is left out");
                None
            }
        })
        .collect()
}

fn int(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[async_trait::async_trait]
impl EventRecordStore for SqliteStore {
    async fn put_event_message(&self, message: &EventMessage, keep: usize) -> StoreResult<()> {
        let json = encode(message)?;
        let (id, event, created) = (
            message.id.clone(),
            message.event_target.clone(),
            message.created_at,
        );
        self.write_value(move |conn| {
            conn.prepare_cached(
                "INSERT INTO event_message (id, event, created, json) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (id) DO UPDATE SET json = excluded.json",
            )
            .and_then(|mut s| s.execute(params![id, event, created, json]))
            .map_err(map_err)?;
            conn.prepare_cached(
                "DELETE FROM event_message WHERE event = ?1 AND id NOT IN
                 (SELECT id FROM event_message WHERE event = ?1
                  ORDER BY created DESC, id DESC LIMIT ?2)
                 AND NOT EXISTS (SELECT 1 FROM job WHERE job.workflow_id = event_message.id)",
            )
            .and_then(|mut s| s.execute(params![event, int(keep)]))
            .map(|_| ())
            .map_err(map_err)
        })
        .await
    }

    async fn event_message(&self, id: &str) -> StoreResult<Option<EventMessage>> {
        let id = id.to_string();
        self.read(move |conn, _| {
            let json: Option<String> = conn
                .prepare_cached("SELECT json FROM event_message WHERE id = ?1")
                .and_then(|mut s| s.query_row(params![id], |row| row.get(0)).optional())
                .map_err(map_err)?;
            json.map(|json| {
                serde_json::from_str(&json).map_err(|err| {
                    StoreError::Corrupt(format!("a stored event message cannot be read: {err}"))
                })
            })
            .transpose()
        })
        .await
    }

    async fn event_messages(
        &self,
        event: &str,
        from: usize,
        limit: usize,
    ) -> StoreResult<Vec<EventMessage>> {
        let event = event.to_string();
        self.read(move |conn, _| {
            let rows: Vec<String> = conn
                .prepare_cached(
                    "SELECT json FROM event_message WHERE event = ?1
                     ORDER BY created DESC, id DESC LIMIT ?2 OFFSET ?3",
                )
                .and_then(|mut s| {
                    s.query_map(params![event, int(limit), int(from)], |row| row.get(0))?
                        .collect::<Result<_, _>>()
                })
                .map_err(map_err)?;
            Ok(decode_all(rows, "event message"))
        })
        .await
    }

    async fn put_event_execution(
        &self,
        execution: &EventExecution,
        keep: usize,
    ) -> StoreResult<()> {
        let json = encode(execution)?;
        let (id, handler, created) = (
            execution.id.clone(),
            execution.name.clone(),
            execution.created,
        );
        self.write_value(move |conn| {
            conn.prepare_cached(
                "INSERT INTO event_execution (id, handler, created, json) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (id) DO UPDATE SET json = excluded.json",
            )
            .and_then(|mut s| s.execute(params![id, handler, created, json]))
            .map_err(map_err)?;
            conn.prepare_cached(
                "DELETE FROM event_execution WHERE handler = ?1 AND id NOT IN
                 (SELECT id FROM event_execution WHERE handler = ?1
                  ORDER BY created DESC, id DESC LIMIT ?2)",
            )
            .and_then(|mut s| s.execute(params![handler, int(keep)]))
            .map(|_| ())
            .map_err(map_err)
        })
        .await
    }

    async fn delete_event_executions(&self, handler: &str) -> StoreResult<()> {
        let handler = handler.to_string();
        self.write_value(move |conn| {
            conn.prepare_cached("DELETE FROM event_execution WHERE handler = ?1")
                .and_then(|mut s| s.execute(params![handler]))
                .map(|_| ())
                .map_err(map_err)
        })
        .await
    }

    async fn event_executions(
        &self,
        handler: &str,
        from: usize,
        limit: usize,
    ) -> StoreResult<Vec<EventExecution>> {
        let handler = handler.to_string();
        self.read(move |conn, _| {
            let rows: Vec<String> = conn
                .prepare_cached(
                    "SELECT json FROM event_execution WHERE handler = ?1
                     ORDER BY created DESC, id DESC LIMIT ?2 OFFSET ?3",
                )
                .and_then(|mut s| {
                    s.query_map(params![handler, int(limit), int(from)], |row| row.get(0))?
                        .collect::<Result<_, _>>()
                })
                .map_err(map_err)?;
            Ok(decode_all(rows, "event execution"))
        })
        .await
    }

    async fn event_record_counts(
        &self,
    ) -> StoreResult<(HashMap<String, u64>, HashMap<String, u64>)> {
        self.read(move |conn, _| {
            let counts = |sql: &str| -> StoreResult<HashMap<String, u64>> {
                conn.prepare_cached(sql)
                    .and_then(|mut s| {
                        s.query_map([], |row| {
                            let n: i64 = row.get(1)?;
                            Ok((row.get::<_, String>(0)?, u64::try_from(n).unwrap_or(0)))
                        })?
                        .collect::<Result<_, _>>()
                    })
                    .map_err(map_err)
            };
            Ok((
                counts("SELECT event, count(*) FROM event_message GROUP BY event")?,
                counts("SELECT handler, count(*) FROM event_execution GROUP BY handler")?,
            ))
        })
        .await
    }
}
