//! Event records on PostgreSQL, shared by every node; each write keeps the latest
//! of its event or handler, and every message an action still waits to read.

use std::collections::HashMap;

use async_trait::async_trait;
use podium_core::model::{EventExecution, EventMessage};
use podium_core::store::{EventRecordStore, StoreError, StoreResult};
use serde::de::DeserializeOwned;
use tokio_postgres::Row;

use crate::rows::get;
use crate::{PostgresStore, map_err};

fn encode<T: serde::Serialize>(value: &T) -> StoreResult<String> {
    serde_json::to_string(value).map_err(|err| StoreError::Corrupt(err.to_string()))
}

/// Decodes rows, leaving out (and logging) one that cannot be read.
fn decode_all<T: DeserializeOwned>(rows: &[Row], what: &str) -> StoreResult<Vec<T>> {
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        match serde_json::from_str(&get::<String>(row, 0)?) {
            Ok(value) => out.push(value),
            Err(err) => {
                tracing::error!(error = %err, "a stored {what} cannot be read; it is left out");
            }
        }
    }
    Ok(out)
}

fn int(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[async_trait]
impl EventRecordStore for PostgresStore {
    async fn put_event_message(&self, message: &EventMessage, keep: usize) -> StoreResult<()> {
        let json = encode(message)?;
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(map_err)?;
        tx.execute(
            "INSERT INTO event_message (id, event, created, json) VALUES ($1, $2, $3, $4)
             ON CONFLICT (id) DO UPDATE SET json = EXCLUDED.json",
            &[
                &message.id,
                &message.event_target,
                &message.created_at,
                &json,
            ],
        )
        .await
        .map_err(map_err)?;
        tx.execute(
            "DELETE FROM event_message WHERE event = $1 AND id NOT IN
             (SELECT id FROM event_message WHERE event = $1
              ORDER BY created DESC, id DESC LIMIT $2)
             AND NOT EXISTS (SELECT 1 FROM job WHERE job.workflow_id = event_message.id)",
            &[&message.event_target, &int(keep)],
        )
        .await
        .map_err(map_err)?;
        tx.commit().await.map_err(map_err)
    }

    async fn event_message(&self, id: &str) -> StoreResult<Option<EventMessage>> {
        let client = self.client().await?;
        let row = client
            .query_opt("SELECT json FROM event_message WHERE id = $1", &[&id])
            .await
            .map_err(map_err)?;
        row.map(|row| {
            serde_json::from_str(&get::<String>(&row, 0)?).map_err(|err| {
                StoreError::Corrupt(format!("a stored event message cannot be read: {err}"))
            })
        })
        .transpose()
    }

    async fn event_messages(
        &self,
        event: &str,
        from: usize,
        limit: usize,
    ) -> StoreResult<Vec<EventMessage>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT json FROM event_message WHERE event = $1
                 ORDER BY created DESC, id DESC LIMIT $2 OFFSET $3",
                &[&event, &int(limit), &int(from)],
            )
            .await
            .map_err(map_err)?;
        decode_all(&rows, "event message")
    }

    async fn put_event_execution(
        &self,
        execution: &EventExecution,
        keep: usize,
    ) -> StoreResult<()> {
        let json = encode(execution)?;
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(map_err)?;
        tx.execute(
            "INSERT INTO event_execution (id, handler, created, json) VALUES ($1, $2, $3, $4)
             ON CONFLICT (id) DO UPDATE SET json = EXCLUDED.json",
            &[&execution.id, &execution.name, &execution.created, &json],
        )
        .await
        .map_err(map_err)?;
        tx.execute(
            "DELETE FROM event_execution WHERE handler = $1 AND id NOT IN
             (SELECT id FROM event_execution WHERE handler = $1
              ORDER BY created DESC, id DESC LIMIT $2)",
            &[&execution.name, &int(keep)],
        )
        .await
        .map_err(map_err)?;
        tx.commit().await.map_err(map_err)
    }

    async fn delete_event_executions(&self, handler: &str) -> StoreResult<()> {
        let client = self.client().await?;
        client
            .execute(
                "DELETE FROM event_execution WHERE handler = $1",
                &[&handler],
            )
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn event_executions(
        &self,
        handler: &str,
        from: usize,
        limit: usize,
    ) -> StoreResult<Vec<EventExecution>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT json FROM event_execution WHERE handler = $1
                 ORDER BY created DESC, id DESC LIMIT $2 OFFSET $3",
                &[&handler, &int(limit), &int(from)],
            )
            .await
            .map_err(map_err)?;
        decode_all(&rows, "event execution")
    }

    async fn event_record_counts(
        &self,
    ) -> StoreResult<(HashMap<String, u64>, HashMap<String, u64>)> {
        let client = self.client().await?;
        let mut out = Vec::new();
        for sql in [
            "SELECT event, count(*) FROM event_message GROUP BY event",
            "SELECT handler, count(*) FROM event_execution GROUP BY handler",
        ] {
            let rows = client.query(sql, &[]).await.map_err(map_err)?;
            let mut counts = HashMap::new();
            for row in &rows {
                let n: i64 = get(row, 1)?;
                counts.insert(get::<String>(row, 0)?, u64::try_from(n).unwrap_or(0));
            }
            out.push(counts);
        }
        let executions = out.pop().unwrap_or_default();
        let messages = out.pop().unwrap_or_default();
        Ok((messages, executions))
    }
}
