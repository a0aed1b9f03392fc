//! The audit trail on SQLite: appended on the single writer, so the chain is in the
//! order of the commits.

use podium_core::store::audit::{AuditParam, next_entry};
use podium_core::store::{AuditEntry, AuditEvent, AuditQuery, AuditStore, StoreResult};
use rusqlite::types::ToSql;
use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::{SqliteStore, map_err};

/// Appends one event after the last entry, in the caller's transaction.
pub(crate) fn append_one(conn: &Connection, event: AuditEvent) -> StoreResult<()> {
    let last: Option<(i64, String)> = conn
        .prepare_cached("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
        .and_then(|mut s| s.query_row([], |r| Ok((r.get(0)?, r.get(1)?))).optional())
        .map_err(map_err)?;
    let entry = next_entry(last, event);
    conn.prepare_cached(
        "INSERT INTO audit_log (seq, time, principal, client, action, target, outcome, prev_hash, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )
    .and_then(|mut s| {
        s.execute(params![
            entry.seq,
            entry.event.time,
            entry.event.principal,
            entry.event.client,
            entry.event.action,
            entry.event.target,
            entry.event.outcome,
            entry.prev_hash,
            entry.hash
        ])
    })
    .map_err(map_err)?;
    Ok(())
}

const COLUMNS: &str = "seq, time, principal, client, action, target, outcome, prev_hash, hash";

fn entry(row: &Row<'_>) -> rusqlite::Result<AuditEntry> {
    Ok(AuditEntry {
        seq: row.get(0)?,
        event: AuditEvent {
            time: row.get(1)?,
            principal: row.get(2)?,
            client: row.get(3)?,
            action: row.get(4)?,
            target: row.get(5)?,
            outcome: row.get(6)?,
        },
        prev_hash: row.get(7)?,
        hash: row.get(8)?,
    })
}

#[async_trait::async_trait]
impl AuditStore for SqliteStore {
    async fn append_audit(&self, events: Vec<AuditEvent>) -> StoreResult<()> {
        if events.is_empty() {
            return Ok(());
        }
        self.write_value(move |conn| events.into_iter().try_for_each(|e| append_one(conn, e)))
            .await
    }

    async fn search_audit(&self, query: &AuditQuery) -> StoreResult<(i64, Vec<AuditEntry>)> {
        let query = query.clone();
        self.read(move |conn, _| {
            let (filter, values) = query.filter(|n| format!("?{n}"));
            let values: Vec<Box<dyn ToSql>> = values
                .into_iter()
                .map(|v| -> Box<dyn ToSql> {
                    match v {
                        AuditParam::Text(text) => Box::new(text),
                        AuditParam::Int(int) => Box::new(int),
                    }
                })
                .collect();
            let params: Vec<&dyn ToSql> = values.iter().map(|v| v.as_ref()).collect();
            let total: i64 = conn
                .prepare(&format!("SELECT COUNT(*) FROM audit_log {filter}"))
                .and_then(|mut s| s.query_row(params.as_slice(), |r| r.get(0)))
                .map_err(map_err)?;
            let sql = format!(
                "SELECT {COLUMNS} FROM audit_log {filter} ORDER BY seq DESC LIMIT {} OFFSET {}",
                query.size.max(0),
                query.start.max(0)
            );
            let entries = conn
                .prepare(&sql)
                .and_then(|mut s| {
                    s.query_map(params.as_slice(), entry)?
                        .collect::<rusqlite::Result<Vec<_>>>()
                })
                .map_err(map_err)?;
            Ok((total, entries))
        })
        .await
    }

    async fn audit_after(&self, seq: i64, limit: usize) -> StoreResult<Vec<AuditEntry>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(move |conn, _| {
            conn.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM audit_log WHERE seq > ?1 ORDER BY seq LIMIT ?2"
            ))
            .and_then(|mut s| {
                s.query_map(params![seq, limit], entry)?
                    .collect::<rusqlite::Result<Vec<_>>>()
            })
            .map_err(map_err)
        })
        .await
    }
}
