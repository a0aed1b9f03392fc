//! The audit trail on PostgreSQL. Every append takes an advisory lock first (held to
//! the end of its transaction), so appends by several nodes form one chain in the
//! order of their commits.

use deadpool_postgres::GenericClient;
use podium_core::store::audit::{AuditParam, next_entry};
use podium_core::store::{AuditEntry, AuditEvent, AuditQuery, AuditStore, StoreResult};
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use crate::rows::get;
use crate::{PostgresStore, map_err};

/// The advisory lock appends take ("audit" in ASCII): one at a time across nodes,
/// without the table lock that would conflict with autovacuum.
const AUDIT_LOCK: i64 = 0x0061_7564_6974;

/// Appends events after the last entry, in the caller's transaction.
pub(crate) async fn append(
    tx: &impl GenericClient,
    events: impl IntoIterator<Item = AuditEvent>,
) -> StoreResult<()> {
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&AUDIT_LOCK])
        .await
        .map_err(map_err)?;
    let last = tx
        .query_opt(
            "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1",
            &[],
        )
        .await
        .map_err(map_err)?;
    let mut last: Option<(i64, String)> = match last {
        Some(row) => Some((get(&row, 0)?, get(&row, 1)?)),
        None => None,
    };
    let insert = tx
        .prepare_cached(
            "INSERT INTO audit_log (seq, time, principal, client, action, target, outcome, prev_hash, hash)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .await
        .map_err(map_err)?;
    for event in events {
        let entry = next_entry(last.take(), event);
        tx.execute(
            &insert,
            &[
                &entry.seq,
                &entry.event.time,
                &entry.event.principal,
                &entry.event.client,
                &entry.event.action,
                &entry.event.target,
                &entry.event.outcome,
                &entry.prev_hash,
                &entry.hash,
            ],
        )
        .await
        .map_err(map_err)?;
        last = Some((entry.seq, entry.hash));
    }
    Ok(())
}

const COLUMNS: &str = "seq, time, principal, client, action, target, outcome, prev_hash, hash";

fn entry(row: &Row) -> StoreResult<AuditEntry> {
    Ok(AuditEntry {
        seq: get(row, 0)?,
        event: AuditEvent {
            time: get(row, 1)?,
            principal: get(row, 2)?,
            client: get(row, 3)?,
            action: get(row, 4)?,
            target: get(row, 5)?,
            outcome: get(row, 6)?,
        },
        prev_hash: get(row, 7)?,
        hash: get(row, 8)?,
    })
}

#[async_trait::async_trait]
impl AuditStore for PostgresStore {
    async fn append_audit(&self, events: Vec<AuditEvent>) -> StoreResult<()> {
        if events.is_empty() {
            return Ok(());
        }
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(map_err)?;
        append(&tx, events).await?;
        tx.commit().await.map_err(map_err)
    }

    async fn search_audit(&self, query: &AuditQuery) -> StoreResult<(i64, Vec<AuditEntry>)> {
        let (filter, values) = query.filter(|n| format!("${n}"));
        let values: Vec<Box<dyn ToSql + Sync + Send>> = values
            .into_iter()
            .map(|v| -> Box<dyn ToSql + Sync + Send> {
                match v {
                    AuditParam::Text(text) => Box::new(text),
                    AuditParam::Int(int) => Box::new(int),
                }
            })
            .collect();
        let params: Vec<&(dyn ToSql + Sync)> = values
            .iter()
            .map(|v| v.as_ref() as &(dyn ToSql + Sync))
            .collect();
        let client = self.client().await?;
        let total: i64 = get(
            &client
                .query_one(&format!("SELECT COUNT(*) FROM audit_log {filter}"), &params)
                .await
                .map_err(map_err)?,
            0,
        )?;
        let sql = format!(
            "SELECT {COLUMNS} FROM audit_log {filter} ORDER BY seq DESC LIMIT {} OFFSET {}",
            query.size.max(0),
            query.start.max(0)
        );
        let rows = client.query(&sql, &params).await.map_err(map_err)?;
        let entries = rows.iter().map(entry).collect::<StoreResult<Vec<_>>>()?;
        Ok((total, entries))
    }

    async fn audit_after(&self, seq: i64, limit: usize) -> StoreResult<Vec<AuditEntry>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let client = self.client().await?;
        let rows = client
            .query(
                &format!("SELECT {COLUMNS} FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2"),
                &[&seq, &limit],
            )
            .await
            .map_err(map_err)?;
        rows.iter().map(entry).collect()
    }
}
