//! Browser sessions on SQLite: written on the single writer, read on the readers.

use podium_core::store::{SessionStore, StoreResult, StoredSession};
use rusqlite::{OptionalExtension, Row, params};

use crate::{SqliteStore, map_err};

const COLUMNS: &str =
    "id, user_id, token_version, method, client, created_at, last_seen_at, expires_at";

fn session(row: &Row<'_>) -> rusqlite::Result<StoredSession> {
    Ok(StoredSession {
        id: row.get(0)?,
        user_id: row.get(1)?,
        token_version: row.get(2)?,
        method: row.get(3)?,
        client: row.get(4)?,
        created_at: row.get(5)?,
        last_seen_at: row.get(6)?,
        expires_at: row.get(7)?,
    })
}

#[async_trait::async_trait]
impl SessionStore for SqliteStore {
    async fn put_session(&self, s: StoredSession) -> StoreResult<()> {
        self.write_value(move |conn| {
            conn.prepare_cached(&format!(
                "INSERT OR REPLACE INTO web_session ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
            ))
            .and_then(|mut st| {
                st.execute(params![
                    s.id,
                    s.user_id,
                    s.token_version,
                    s.method,
                    s.client,
                    s.created_at,
                    s.last_seen_at,
                    s.expires_at
                ])
            })
            .map(|_| ())
            .map_err(map_err)
        })
        .await
    }

    async fn session(&self, id: &str) -> StoreResult<Option<StoredSession>> {
        let id = id.to_string();
        self.read(move |conn, _| {
            conn.prepare_cached(&format!("SELECT {COLUMNS} FROM web_session WHERE id = ?1"))
                .and_then(|mut st| st.query_row(params![id], session).optional())
                .map_err(map_err)
        })
        .await
    }

    async fn touch_session(&self, id: &str, at: i64) -> StoreResult<()> {
        let id = id.to_string();
        self.write_value(move |conn| {
            conn.prepare_cached(
                "UPDATE web_session SET last_seen_at = ?2 WHERE id = ?1 AND last_seen_at < ?2",
            )
            .and_then(|mut st| st.execute(params![id, at]))
            .map(|_| ())
            .map_err(map_err)
        })
        .await
    }

    async fn delete_session(&self, id: &str) -> StoreResult<bool> {
        let id = id.to_string();
        self.write_value(move |conn| {
            conn.prepare_cached("DELETE FROM web_session WHERE id = ?1")
                .and_then(|mut st| st.execute(params![id]))
                .map(|n| n > 0)
                .map_err(map_err)
        })
        .await
    }

    async fn purge_sessions(&self, now: i64, idle_before: i64) -> StoreResult<u64> {
        self.write_value(move |conn| {
            conn.prepare_cached(
                "DELETE FROM web_session WHERE expires_at <= ?1 OR last_seen_at <= ?2",
            )
            .and_then(|mut st| st.execute(params![now, idle_before]))
            .map(|n| n as u64)
            .map_err(map_err)
        })
        .await
    }
}
