//! Access-control data on SQLite.

use async_trait::async_trait;
use podium_core::store::{
    RecordKind, SecurityData, SecurityOp, SecurityRow, SecurityStore, StoreResult, StoredGrant,
    StoredOwner, StoredSecurity,
};
use rusqlite::{Connection, params};

use crate::{SqliteStore, map_err};

fn records(conn: &Connection, kind: RecordKind) -> StoreResult<Vec<String>> {
    conn.prepare_cached("SELECT json FROM security_record WHERE kind = ?1 ORDER BY id")
        .and_then(|mut s| {
            s.query_map([kind.as_str()], |row| row.get::<_, String>(0))?
                .collect::<Result<Vec<_>, _>>()
        })
        .map_err(map_err)
}

fn write_row(conn: &Connection, row: SecurityRow) -> StoreResult<()> {
    match row {
        SecurityRow::Audit(event) => return crate::audit::append_one(conn, event),
        SecurityRow::PutRecord { kind, id, json } => conn
            .prepare_cached(
                "INSERT INTO security_record (kind, id, json) VALUES (?1, ?2, ?3)
                 ON CONFLICT (kind, id) DO UPDATE SET json = excluded.json",
            )
            .and_then(|mut s| s.execute(params![kind.as_str(), id, json])),
        SecurityRow::DeleteRecord { kind, id } => conn
            .prepare_cached("DELETE FROM security_record WHERE kind = ?1 AND id = ?2")
            .and_then(|mut s| s.execute(params![kind.as_str(), id])),
        SecurityRow::ForgetKeyUse(id) => conn
            .prepare_cached("DELETE FROM access_key_use WHERE key_id = ?1")
            .and_then(|mut s| s.execute([id])),
        SecurityRow::PutGrant(grant) => conn
            .prepare_cached(
                "INSERT INTO access_grant (target_type, target_id, subject_type, subject_id, access)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (target_type, target_id, subject_type, subject_id)
                 DO UPDATE SET access = excluded.access",
            )
            .and_then(|mut s| {
                s.execute(params![
                    grant.target.kind.name(),
                    grant.target.id,
                    grant.subject.kind.name(),
                    grant.subject.id,
                    grant.access.bits()
                ])
            }),
        SecurityRow::DeleteGrant { subject, target } => conn
            .prepare_cached(
                "DELETE FROM access_grant WHERE target_type = ?1 AND target_id = ?2
                 AND subject_type = ?3 AND subject_id = ?4",
            )
            .and_then(|mut s| {
                s.execute(params![
                    target.kind.name(),
                    target.id,
                    subject.kind.name(),
                    subject.id
                ])
            }),
        SecurityRow::PutOwner(ownership) => conn
            .prepare_cached(
                "INSERT INTO resource_owner (target_type, target_id, owner) VALUES (?1, ?2, ?3)
                 ON CONFLICT (target_type, target_id) DO UPDATE SET owner = excluded.owner",
            )
            .and_then(|mut s| {
                s.execute(params![
                    ownership.target.kind.name(),
                    ownership.target.id,
                    ownership.owner
                ])
            }),
        SecurityRow::DeleteOwner(target) => conn
            .prepare_cached("DELETE FROM resource_owner WHERE target_type = ?1 AND target_id = ?2")
            .and_then(|mut s| s.execute(params![target.kind.name(), target.id])),
    }
    .map(|_| ())
    .map_err(map_err)
}

fn load(conn: &Connection) -> StoreResult<SecurityData> {
    let key_uses = conn
        .prepare_cached("SELECT key_id, last_used_at FROM access_key_use")
        .and_then(|mut s| {
            s.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
                .collect::<Result<_, _>>()
        })
        .map_err(map_err)?;
    let grants = conn
        .prepare_cached(
            "SELECT target_type, target_id, subject_type, subject_id, access FROM access_grant",
        )
        .and_then(|mut s| {
            s.query_map([], |row| {
                Ok(StoredGrant {
                    target_type: row.get(0)?,
                    target_id: row.get(1)?,
                    subject_type: row.get(2)?,
                    subject_id: row.get(3)?,
                    access: row.get(4)?,
                })
            })?
            .collect::<Result<_, _>>()
        })
        .map_err(map_err)?;
    let owners = conn
        .prepare_cached("SELECT target_type, target_id, owner FROM resource_owner")
        .and_then(|mut s| {
            s.query_map([], |row| {
                Ok(StoredOwner {
                    target_type: row.get(0)?,
                    target_id: row.get(1)?,
                    owner: row.get(2)?,
                })
            })?
            .collect::<Result<_, _>>()
        })
        .map_err(map_err)?;
    StoredSecurity {
        applications: records(conn, RecordKind::Application)?,
        keys: records(conn, RecordKind::AccessKey)?,
        users: records(conn, RecordKind::User)?,
        groups: records(conn, RecordKind::Group)?,
        roles: records(conn, RecordKind::Role)?,
        key_uses,
        grants,
        owners,
    }
    .decode()
}

#[async_trait]
impl SecurityStore for SqliteStore {
    async fn load_security(&self) -> StoreResult<SecurityData> {
        self.read(|conn, _| load(conn)).await
    }

    async fn apply_security(&self, ops: Vec<SecurityOp>) -> StoreResult<()> {
        let rows = SecurityRow::encode(ops)?;
        self.write_value(move |conn| {
            for row in rows {
                write_row(conn, row)?;
            }
            Ok(())
        })
        .await
    }
    async fn record_key_use(&self, uses: Vec<(String, i64)>) -> StoreResult<()> {
        self.write_value(move |conn| {
            for (key_id, at) in uses {
                conn.prepare_cached(
                    "INSERT INTO access_key_use (key_id, last_used_at) VALUES (?1, ?2)
                     ON CONFLICT (key_id) DO UPDATE SET last_used_at = max(last_used_at, excluded.last_used_at)",
                )
                .and_then(|mut s| s.execute(params![key_id, at]))
                .map_err(map_err)?;
            }
            Ok(())
        })
        .await
    }
}
