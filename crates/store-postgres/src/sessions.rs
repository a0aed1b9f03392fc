//! Browser sessions on PostgreSQL: one row each, shared by every node.

use async_trait::async_trait;
use podium_core::store::{SessionStore, StoreResult, StoredSession};
use tokio_postgres::Row;

use crate::rows::get;
use crate::{PostgresStore, map_err};

const COLUMNS: &str =
    "id, user_id, token_version, method, client, created_at, last_seen_at, expires_at";

fn session(row: &Row) -> StoreResult<StoredSession> {
    Ok(StoredSession {
        id: get(row, 0)?,
        user_id: get(row, 1)?,
        token_version: get(row, 2)?,
        method: get(row, 3)?,
        client: get(row, 4)?,
        created_at: get(row, 5)?,
        last_seen_at: get(row, 6)?,
        expires_at: get(row, 7)?,
    })
}

#[async_trait]
impl SessionStore for PostgresStore {
    async fn put_session(&self, s: StoredSession) -> StoreResult<()> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(&format!(
                "INSERT INTO web_session ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                 ON CONFLICT (id) DO UPDATE SET user_id = EXCLUDED.user_id,
                     token_version = EXCLUDED.token_version, method = EXCLUDED.method,
                     client = EXCLUDED.client, created_at = EXCLUDED.created_at,
                     last_seen_at = EXCLUDED.last_seen_at, expires_at = EXCLUDED.expires_at"
            ))
            .await
            .map_err(map_err)?;
        client
            .execute(
                &statement,
                &[
                    &s.id,
                    &s.user_id,
                    &s.token_version,
                    &s.method,
                    &s.client,
                    &s.created_at,
                    &s.last_seen_at,
                    &s.expires_at,
                ],
            )
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn session(&self, id: &str) -> StoreResult<Option<StoredSession>> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(&format!("SELECT {COLUMNS} FROM web_session WHERE id = $1"))
            .await
            .map_err(map_err)?;
        let row = client
            .query_opt(&statement, &[&id])
            .await
            .map_err(map_err)?;
        row.as_ref().map(session).transpose()
    }

    async fn touch_session(&self, id: &str, at: i64) -> StoreResult<()> {
        let client = self.client().await?;
        client
            .execute(
                "UPDATE web_session SET last_seen_at = $2 WHERE id = $1 AND last_seen_at < $2",
                &[&id, &at],
            )
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn delete_session(&self, id: &str) -> StoreResult<bool> {
        let client = self.client().await?;
        let n = client
            .execute("DELETE FROM web_session WHERE id = $1", &[&id])
            .await
            .map_err(map_err)?;
        Ok(n > 0)
    }

    async fn purge_sessions(&self, now: i64, idle_before: i64) -> StoreResult<u64> {
        let client = self.client().await?;
        client
            .execute(
                "DELETE FROM web_session WHERE expires_at <= $1 OR last_seen_at <= $2",
                &[&now, &idle_before],
            )
            .await
            .map_err(map_err)
    }
}
