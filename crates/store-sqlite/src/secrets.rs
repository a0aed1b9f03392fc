//! Secrets and environment variables on SQLite: sealed values only, and the record
//! of reads.

use async_trait::async_trait;
use podium_core::store::{SecretKind, SecretRead, SecretRecord, SecretStore, StoreResult};
use rusqlite::{Connection, params};

use crate::{SqliteStore, map_err};

fn load(conn: &Connection) -> StoreResult<Vec<SecretRecord>> {
    type Row = (String, String, String, Vec<u8>, String, i64, String, i64);
    let rows: Vec<Row> = conn
        .prepare_cached(
            "SELECT kind, name, key_id, sealed, created_by, created_at, updated_by, updated_at
             FROM secret_value ORDER BY kind, name",
        )
        .and_then(|mut s| {
            s.query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                ))
            })?
            .collect::<Result<_, _>>()
        })
        .map_err(map_err)?;
    rows.into_iter()
        .map(
            |(kind, name, key_id, sealed, created_by, created_at, updated_by, updated_at)| {
                Ok(SecretRecord {
                    kind: SecretKind::decode(&kind)?,
                    name,
                    key_id,
                    sealed,
                    created_by,
                    created_at,
                    updated_by,
                    updated_at,
                })
            },
        )
        .collect()
}

fn put(conn: &Connection, record: &SecretRecord) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO secret_value (kind, name, key_id, sealed, created_by, created_at, updated_by, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT (kind, name) DO UPDATE SET key_id = excluded.key_id, sealed = excluded.sealed,
             updated_by = excluded.updated_by, updated_at = excluded.updated_at",
    )
    .and_then(|mut s| {
        s.execute(params![
            record.kind.as_str(),
            record.name,
            record.key_id,
            record.sealed,
            record.created_by,
            record.created_at,
            record.updated_by,
            record.updated_at
        ])
    })
    .map_err(map_err)?;
    Ok(())
}

#[async_trait]
impl SecretStore for SqliteStore {
    async fn load_secrets(&self) -> StoreResult<Vec<SecretRecord>> {
        self.read(|conn, _| load(conn)).await
    }

    async fn put_secret(&self, record: SecretRecord) -> StoreResult<()> {
        self.write_value(move |conn| put(conn, &record)).await
    }

    async fn delete_secret(&self, kind: SecretKind, name: &str) -> StoreResult<bool> {
        let name = name.to_string();
        self.write_value(move |conn| {
            conn.prepare_cached("DELETE FROM secret_value WHERE kind = ?1 AND name = ?2")
                .and_then(|mut s| s.execute(params![kind.as_str(), name]))
                .map(|n| n > 0)
                .map_err(map_err)
        })
        .await
    }

    async fn reseal_secrets(
        &self,
        records: Vec<SecretRecord>,
        from_key: &str,
    ) -> StoreResult<usize> {
        let from_key = from_key.to_string();
        self.write_value(move |conn| {
            let mut changed = 0;
            for record in records {
                changed += conn
                    .prepare_cached(
                        "UPDATE secret_value SET key_id = ?1, sealed = ?2
                         WHERE kind = ?3 AND name = ?4 AND key_id = ?5",
                    )
                    .and_then(|mut s| {
                        s.execute(params![
                            record.key_id,
                            record.sealed,
                            record.kind.as_str(),
                            record.name,
                            from_key
                        ])
                    })
                    .map_err(map_err)?;
            }
            Ok(changed)
        })
        .await
    }

    async fn record_secret_reads(&self, reads: Vec<SecretRead>) -> StoreResult<()> {
        self.write_value(move |conn| {
            for read in reads {
                conn.prepare_cached(
                    "INSERT INTO secret_read (kind, name, principal, at) VALUES (?1, ?2, ?3, ?4)",
                )
                .and_then(|mut s| {
                    s.execute(params![
                        read.kind.as_str(),
                        read.name,
                        read.principal,
                        read.at
                    ])
                })
                .map_err(map_err)?;
            }
            Ok(())
        })
        .await
    }

    async fn secret_reads(
        &self,
        kind: SecretKind,
        name: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<SecretRead>> {
        let name = name.map(str::to_string);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(move |conn, _| {
            let rows: Vec<(String, String, String, i64)> = conn
                .prepare_cached(
                    "SELECT kind, name, principal, at FROM secret_read
                     WHERE kind = ?1 AND (?2 IS NULL OR name = ?2)
                     ORDER BY id DESC LIMIT ?3",
                )
                .and_then(|mut s| {
                    s.query_map(params![kind.as_str(), name, limit], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                    })?
                    .collect::<Result<_, _>>()
                })
                .map_err(map_err)?;
            rows.into_iter()
                .map(|(kind, name, principal, at)| {
                    Ok(SecretRead {
                        kind: SecretKind::decode(&kind)?,
                        name,
                        principal,
                        at,
                    })
                })
                .collect()
        })
        .await
    }
}
