//! Access-control data on PostgreSQL.
//!
//! The directory is read in one read-only snapshot, so a node never loads a key
//! without the application a concurrent change wrote with it. Records of a kind are
//! ordered by id with the `"C"` collation, byte by byte as the embedded store
//! orders them.

use async_trait::async_trait;
use deadpool_postgres::{GenericClient, Transaction};
use podium_core::store::{
    Change, RecordKind, SecurityData, SecurityOp, SecurityRow, SecurityStore, StoreResult,
    StoredGrant, StoredOwner, StoredSecurity,
};
use tokio_postgres::IsolationLevel;

use crate::{PostgresStore, map_err};

/// The JSON of every record of a kind, by id.
async fn records(client: &impl GenericClient, kind: RecordKind) -> StoreResult<Vec<String>> {
    let statement = client
        .prepare_cached(
            r#"SELECT json FROM security_record WHERE kind = $1 ORDER BY id COLLATE "C""#,
        )
        .await
        .map_err(map_err)?;
    let rows = client
        .query(&statement, &[&kind.as_str()])
        .await
        .map_err(map_err)?;
    rows.iter()
        .map(|row| row.try_get::<_, String>(0).map_err(map_err))
        .collect()
}

/// Everything, as stored.
async fn load(client: &impl GenericClient) -> StoreResult<StoredSecurity> {
    let statement = client
        .prepare_cached("SELECT key_id, last_used_at FROM access_key_use")
        .await
        .map_err(map_err)?;
    let key_uses = client
        .query(&statement, &[])
        .await
        .map_err(map_err)?
        .iter()
        .map(|row| {
            Ok((
                row.try_get::<_, String>(0).map_err(map_err)?,
                row.try_get::<_, i64>(1).map_err(map_err)?,
            ))
        })
        .collect::<StoreResult<Vec<_>>>()?;
    let statement = client
        .prepare_cached(
            "SELECT target_type, target_id, subject_type, subject_id, access FROM access_grant",
        )
        .await
        .map_err(map_err)?;
    let grants = client
        .query(&statement, &[])
        .await
        .map_err(map_err)?
        .iter()
        .map(|row| {
            Ok(StoredGrant {
                target_type: row.try_get(0).map_err(map_err)?,
                target_id: row.try_get(1).map_err(map_err)?,
                subject_type: row.try_get(2).map_err(map_err)?,
                subject_id: row.try_get(3).map_err(map_err)?,
                access: row.try_get(4).map_err(map_err)?,
            })
        })
        .collect::<StoreResult<Vec<_>>>()?;
    let statement = client
        .prepare_cached("SELECT target_type, target_id, owner FROM resource_owner")
        .await
        .map_err(map_err)?;
    let owners = client
        .query(&statement, &[])
        .await
        .map_err(map_err)?
        .iter()
        .map(|row| {
            Ok(StoredOwner {
                target_type: row.try_get(0).map_err(map_err)?,
                target_id: row.try_get(1).map_err(map_err)?,
                owner: row.try_get(2).map_err(map_err)?,
            })
        })
        .collect::<StoreResult<Vec<_>>>()?;
    Ok(StoredSecurity {
        applications: records(client, RecordKind::Application).await?,
        keys: records(client, RecordKind::AccessKey).await?,
        users: records(client, RecordKind::User).await?,
        groups: records(client, RecordKind::Group).await?,
        roles: records(client, RecordKind::Role).await?,
        key_uses,
        grants,
        owners,
    })
}

/// Writes one row change.
async fn write_row(tx: &Transaction<'_>, row: &SecurityRow) -> StoreResult<()> {
    match row {
        SecurityRow::Audit(event) => {
            return crate::audit::append(tx, [event.clone()]).await;
        }
        SecurityRow::PutRecord { kind, id, json } => {
            let statement = tx
                .prepare_cached(
                    "INSERT INTO security_record (kind, id, json) VALUES ($1, $2, $3)
                     ON CONFLICT (kind, id) DO UPDATE SET json = EXCLUDED.json",
                )
                .await
                .map_err(map_err)?;
            tx.execute(&statement, &[&kind.as_str(), id, json]).await
        }
        SecurityRow::DeleteRecord { kind, id } => {
            let statement = tx
                .prepare_cached("DELETE FROM security_record WHERE kind = $1 AND id = $2")
                .await
                .map_err(map_err)?;
            tx.execute(&statement, &[&kind.as_str(), id]).await
        }
        SecurityRow::ForgetKeyUse(id) => {
            let statement = tx
                .prepare_cached("DELETE FROM access_key_use WHERE key_id = $1")
                .await
                .map_err(map_err)?;
            tx.execute(&statement, &[id]).await
        }
        SecurityRow::PutGrant(grant) => {
            let statement = tx
                .prepare_cached(
                    "INSERT INTO access_grant (target_type, target_id, subject_type, subject_id, access)
                     VALUES ($1, $2, $3, $4, $5)
                     ON CONFLICT (target_type, target_id, subject_type, subject_id)
                     DO UPDATE SET access = EXCLUDED.access",
                )
                .await
                .map_err(map_err)?;
            tx.execute(
                &statement,
                &[
                    &grant.target.kind.name(),
                    &grant.target.id,
                    &grant.subject.kind.name(),
                    &grant.subject.id,
                    &i64::from(grant.access.bits()),
                ],
            )
            .await
        }
        SecurityRow::DeleteGrant { subject, target } => {
            let statement = tx
                .prepare_cached(
                    "DELETE FROM access_grant WHERE target_type = $1 AND target_id = $2
                     AND subject_type = $3 AND subject_id = $4",
                )
                .await
                .map_err(map_err)?;
            tx.execute(
                &statement,
                &[
                    &target.kind.name(),
                    &target.id,
                    &subject.kind.name(),
                    &subject.id,
                ],
            )
            .await
        }
        SecurityRow::PutOwner(ownership) => {
            let statement = tx
                .prepare_cached(
                    "INSERT INTO resource_owner (target_type, target_id, owner) VALUES ($1, $2, $3)
                     ON CONFLICT (target_type, target_id) DO UPDATE SET owner = EXCLUDED.owner",
                )
                .await
                .map_err(map_err)?;
            tx.execute(
                &statement,
                &[
                    &ownership.target.kind.name(),
                    &ownership.target.id,
                    &ownership.owner,
                ],
            )
            .await
        }
        SecurityRow::DeleteOwner(target) => {
            let statement = tx
                .prepare_cached(
                    "DELETE FROM resource_owner WHERE target_type = $1 AND target_id = $2",
                )
                .await
                .map_err(map_err)?;
            tx.execute(&statement, &[&target.kind.name(), &target.id])
                .await
        }
    }
    .map(|_| ())
    .map_err(map_err)
}

#[async_trait]
impl SecurityStore for PostgresStore {
    async fn load_security(&self) -> StoreResult<SecurityData> {
        let mut client = self.client().await?;
        let tx = client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await
            .map_err(map_err)?;
        let stored = load(&tx).await?;
        tx.commit().await.map_err(map_err)?;
        stored.decode()
    }

    async fn apply_security(&self, ops: Vec<SecurityOp>) -> StoreResult<()> {
        self.apply_security_if(ops, None).await.map(|_| ())
    }

    async fn apply_security_at(&self, ops: Vec<SecurityOp>, version: i64) -> StoreResult<bool> {
        self.apply_security_if(ops, Some(version)).await
    }

    /// Keeps the latest use of each key: an older one arriving late changes nothing.
    async fn record_key_use(&self, mut uses: Vec<(String, i64)>) -> StoreResult<()> {
        if uses.is_empty() {
            return Ok(());
        }
        // One order for every node's batch, so two batches never deadlock.
        uses.sort();
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(map_err)?;
        let statement = tx
            .prepare_cached(
                "INSERT INTO access_key_use (key_id, last_used_at) VALUES ($1, $2)
                 ON CONFLICT (key_id) DO UPDATE
                 SET last_used_at = GREATEST(access_key_use.last_used_at, EXCLUDED.last_used_at)",
            )
            .await
            .map_err(map_err)?;
        for (key_id, at) in &uses {
            tx.execute(&statement, &[key_id, at])
                .await
                .map_err(map_err)?;
        }
        tx.commit().await.map_err(map_err)
    }

    async fn security_version(&self) -> StoreResult<i64> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached("SELECT version FROM podium_version WHERE name = 'security'")
            .await
            .map_err(map_err)?;
        let row = client.query_one(&statement, &[]).await.map_err(map_err)?;
        row.try_get(0).map_err(map_err)
    }
}

impl PostgresStore {
    /// Applies security changes in one transaction; with `expected`, only if the
    /// access-control version is still that (false otherwise). The version row is
    /// locked first, so security changes from every node take their locks in one
    /// order and never deadlock.
    async fn apply_security_if(
        &self,
        ops: Vec<SecurityOp>,
        expected: Option<i64>,
    ) -> StoreResult<bool> {
        let rows = SecurityRow::encode(ops)?;
        if rows.is_empty() {
            return Ok(true);
        }
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(map_err)?;
        let version: i64 = tx
            .query_one(
                "SELECT version FROM podium_version WHERE name = 'security' FOR UPDATE",
                &[],
            )
            .await
            .map_err(map_err)?
            .try_get(0)
            .map_err(map_err)?;
        if expected.is_some_and(|expected| expected != version) {
            return Ok(false);
        }
        for row in &rows {
            write_row(&tx, row).await?;
        }
        self.bump_security_version(&tx).await?;
        self.announce(&tx, Change::Security).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(true)
    }
}
