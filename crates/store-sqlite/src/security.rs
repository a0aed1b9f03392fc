//! Access-control data on SQLite.

use async_trait::async_trait;
use podium_core::security::model::{
    AccessSet, Grant, Ownership, Subject, SubjectType, Target, TargetType,
};
use podium_core::store::{SecurityData, SecurityOp, SecurityStore, StoreError, StoreResult};
use rusqlite::{Connection, params};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::rows::corrupt;
use crate::{SqliteStore, map_err};

const APPLICATION: &str = "application";
const KEY: &str = "access_key";
const USER: &str = "user";
const GROUP: &str = "group";

fn encode<T: Serialize>(value: &T) -> StoreResult<String> {
    serde_json::to_string(value).map_err(|e| StoreError::Backend(format!("encoding failed: {e}")))
}

fn records<T: DeserializeOwned>(conn: &Connection, kind: &str) -> StoreResult<Vec<T>> {
    let jsons = conn
        .prepare_cached("SELECT json FROM security_record WHERE kind = ?1 ORDER BY id")
        .and_then(|mut s| {
            s.query_map([kind], |row| row.get::<_, String>(0))?
                .collect::<Result<Vec<_>, _>>()
        })
        .map_err(map_err)?;
    jsons
        .iter()
        .map(|j| serde_json::from_str(j).map_err(|e| corrupt(kind, e)))
        .collect()
}

fn put_record(conn: &Connection, kind: &str, id: &str, json: &str) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO security_record (kind, id, json) VALUES (?1, ?2, ?3)
         ON CONFLICT (kind, id) DO UPDATE SET json = excluded.json",
    )
    .and_then(|mut s| s.execute(params![kind, id, json]))
    .map_err(map_err)?;
    Ok(())
}

fn delete_record(conn: &Connection, kind: &str, id: &str) -> StoreResult<()> {
    conn.prepare_cached("DELETE FROM security_record WHERE kind = ?1 AND id = ?2")
        .and_then(|mut s| s.execute(params![kind, id]))
        .map_err(map_err)?;
    Ok(())
}

fn parse_target(kind: &str, id: String) -> StoreResult<Target> {
    TargetType::parse(kind)
        .map(|k| Target::new(k, id))
        .ok_or_else(|| StoreError::Corrupt(format!("unknown grant target type {kind}")))
}

/// A change, encoded before it reaches the writer thread.
enum Row {
    Put(&'static str, String, String),
    Delete(&'static str, String),
    DeleteKeyUse(String),
    Grant(Grant),
    Ungrant(Subject, Target),
    Owner(Ownership),
    Unown(Target),
}

fn encode_op(op: SecurityOp) -> StoreResult<Vec<Row>> {
    Ok(match op {
        SecurityOp::PutApplication(app) => {
            vec![Row::Put(APPLICATION, app.id.clone(), encode(&app)?)]
        }
        SecurityOp::DeleteApplication(id) => vec![Row::Delete(APPLICATION, id)],
        SecurityOp::PutKey(key) => vec![Row::Put(KEY, key.id.clone(), encode(&key)?)],
        SecurityOp::DeleteKey(id) => vec![Row::Delete(KEY, id.clone()), Row::DeleteKeyUse(id)],
        SecurityOp::PutUser(user) => vec![Row::Put(USER, user.id.clone(), encode(&user)?)],
        SecurityOp::DeleteUser(id) => vec![Row::Delete(USER, id)],
        SecurityOp::PutGroup(group) => vec![Row::Put(GROUP, group.id.clone(), encode(&group)?)],
        SecurityOp::DeleteGroup(id) => vec![Row::Delete(GROUP, id)],
        SecurityOp::PutGrant(grant) => vec![Row::Grant(grant)],
        SecurityOp::DeleteGrant { subject, target } => vec![Row::Ungrant(subject, target)],
        SecurityOp::PutOwner(ownership) => vec![Row::Owner(ownership)],
        SecurityOp::DeleteOwner(target) => vec![Row::Unown(target)],
    })
}

fn write_row(conn: &Connection, row: Row) -> StoreResult<()> {
    match row {
        Row::Put(kind, id, json) => put_record(conn, kind, &id, &json),
        Row::Delete(kind, id) => delete_record(conn, kind, &id),
        Row::DeleteKeyUse(id) => conn
            .prepare_cached("DELETE FROM access_key_use WHERE key_id = ?1")
            .and_then(|mut s| s.execute([id]))
            .map(|_| ())
            .map_err(map_err),
        Row::Grant(grant) if grant.access.is_empty() => write_row(
            conn,
            Row::Ungrant(grant.subject, grant.target),
        ),
        Row::Grant(grant) => conn
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
            })
            .map(|_| ())
            .map_err(map_err),
        Row::Ungrant(subject, target) => conn
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
            })
            .map(|_| ())
            .map_err(map_err),
        Row::Owner(ownership) => conn
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
            })
            .map(|_| ())
            .map_err(map_err),
        Row::Unown(target) => conn
            .prepare_cached("DELETE FROM resource_owner WHERE target_type = ?1 AND target_id = ?2")
            .and_then(|mut s| s.execute(params![target.kind.name(), target.id]))
            .map(|_| ())
            .map_err(map_err),
    }
}

fn load(conn: &Connection) -> StoreResult<SecurityData> {
    let mut keys: Vec<podium_core::security::model::AccessKey> = records(conn, KEY)?;
    let uses: std::collections::HashMap<String, i64> = conn
        .prepare_cached("SELECT key_id, last_used_at FROM access_key_use")
        .and_then(|mut s| {
            s.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
                .collect::<Result<_, _>>()
        })
        .map_err(map_err)?;
    for key in &mut keys {
        if let Some(at) = uses.get(&key.id) {
            key.last_used_at = Some(*at);
        }
    }
    let grant_rows: Vec<(String, String, String, String, u8)> = conn
        .prepare_cached(
            "SELECT target_type, target_id, subject_type, subject_id, access FROM access_grant",
        )
        .and_then(|mut s| {
            s.query_map([], |row| {
                Ok((
                    row.get(0)?,
                    row.get(1)?,
                    row.get(2)?,
                    row.get(3)?,
                    row.get(4)?,
                ))
            })?
            .collect::<Result<_, _>>()
        })
        .map_err(map_err)?;
    let mut grants = Vec::with_capacity(grant_rows.len());
    for (target_type, target_id, subject_type, subject_id, access) in grant_rows {
        let kind = SubjectType::parse(&subject_type).ok_or_else(|| {
            StoreError::Corrupt(format!("unknown grant subject type {subject_type}"))
        })?;
        grants.push(Grant {
            subject: Subject {
                kind,
                id: subject_id,
            },
            target: parse_target(&target_type, target_id)?,
            access: AccessSet::from_bits(access),
        });
    }
    let owner_rows: Vec<(String, String, String)> = conn
        .prepare_cached("SELECT target_type, target_id, owner FROM resource_owner")
        .and_then(|mut s| {
            s.query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?
                .collect::<Result<_, _>>()
        })
        .map_err(map_err)?;
    let mut owners = Vec::with_capacity(owner_rows.len());
    for (target_type, target_id, owner) in owner_rows {
        owners.push(Ownership {
            target: parse_target(&target_type, target_id)?,
            owner,
        });
    }
    Ok(SecurityData {
        applications: records(conn, APPLICATION)?,
        keys,
        users: records(conn, USER)?,
        groups: records(conn, GROUP)?,
        grants,
        owners,
    })
}

#[async_trait]
impl SecurityStore for SqliteStore {
    async fn load_security(&self) -> StoreResult<SecurityData> {
        self.read(|conn, _| load(conn)).await
    }

    async fn apply_security(&self, ops: Vec<SecurityOp>) -> StoreResult<()> {
        let mut rows = Vec::new();
        for op in ops {
            rows.extend(encode_op(op)?);
        }
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
