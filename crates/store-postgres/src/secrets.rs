//! Secrets and environment variables on PostgreSQL: sealed values only, and the
//! record of reads.

use async_trait::async_trait;
use podium_core::store::{Change, SecretKind, SecretRead, SecretRecord, SecretStore, StoreResult};

use crate::{PostgresStore, map_err, to_i64};

#[async_trait]
impl SecretStore for PostgresStore {
    /// Every value, by kind and name (byte order, as the embedded store).
    async fn load_secrets(&self) -> StoreResult<Vec<SecretRecord>> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(
                r#"SELECT kind, name, key_id, sealed, created_by, created_at, updated_by, updated_at
                   FROM secret_value ORDER BY kind COLLATE "C", name COLLATE "C""#,
            )
            .await
            .map_err(map_err)?;
        let rows = client.query(&statement, &[]).await.map_err(map_err)?;
        rows.iter()
            .map(|row| {
                Ok(SecretRecord {
                    kind: SecretKind::decode(&row.try_get::<_, String>(0).map_err(map_err)?)?,
                    name: row.try_get(1).map_err(map_err)?,
                    key_id: row.try_get(2).map_err(map_err)?,
                    sealed: row.try_get(3).map_err(map_err)?,
                    created_by: row.try_get(4).map_err(map_err)?,
                    created_at: row.try_get(5).map_err(map_err)?,
                    updated_by: row.try_get(6).map_err(map_err)?,
                    updated_at: row.try_get(7).map_err(map_err)?,
                })
            })
            .collect()
    }

    /// Inserts or replaces one; a replaced value keeps who created it and when.
    async fn put_secret(&self, record: SecretRecord) -> StoreResult<()> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(
                "INSERT INTO secret_value (kind, name, key_id, sealed, created_by, created_at, updated_by, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                 ON CONFLICT (kind, name) DO UPDATE SET key_id = EXCLUDED.key_id, sealed = EXCLUDED.sealed,
                     updated_by = EXCLUDED.updated_by, updated_at = EXCLUDED.updated_at",
            )
            .await
            .map_err(map_err)?;
        client
            .execute(
                &statement,
                &[
                    &record.kind.as_str(),
                    &record.name,
                    &record.key_id,
                    &record.sealed,
                    &record.created_by,
                    &record.created_at,
                    &record.updated_by,
                    &record.updated_at,
                ],
            )
            .await
            .map_err(map_err)?;
        self.announce(&client, Change::Secrets).await
    }

    async fn delete_secret(&self, kind: SecretKind, name: &str) -> StoreResult<bool> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached("DELETE FROM secret_value WHERE kind = $1 AND name = $2")
            .await
            .map_err(map_err)?;
        let deleted = client
            .execute(&statement, &[&kind.as_str(), &name])
            .await
            .map_err(map_err)?;
        if deleted > 0 {
            self.announce(&client, Change::Secrets).await?;
        }
        Ok(deleted > 0)
    }

    /// Replaces, in one transaction, each value still sealed under `from_key`; a
    /// value changed since (under another key) is left as it is.
    async fn reseal_secrets(
        &self,
        mut records: Vec<SecretRecord>,
        from_key: &str,
    ) -> StoreResult<usize> {
        if records.is_empty() {
            return Ok(0);
        }
        // One order for every writer, so a rotation and a batch elsewhere never
        // deadlock.
        records.sort_by(|a, b| (a.kind, &a.name).cmp(&(b.kind, &b.name)));
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(map_err)?;
        let statement = tx
            .prepare_cached(
                "UPDATE secret_value SET key_id = $1, sealed = $2
                 WHERE kind = $3 AND name = $4 AND key_id = $5",
            )
            .await
            .map_err(map_err)?;
        let mut changed: u64 = 0;
        for record in &records {
            changed = changed.saturating_add(
                tx.execute(
                    &statement,
                    &[
                        &record.key_id,
                        &record.sealed,
                        &record.kind.as_str(),
                        &record.name,
                        &from_key,
                    ],
                )
                .await
                .map_err(map_err)?,
            );
        }
        self.announce(&tx, Change::Secrets).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(usize::try_from(changed).unwrap_or(usize::MAX))
    }

    /// Records the reads in one transaction, in their order.
    async fn record_secret_reads(&self, reads: Vec<SecretRead>) -> StoreResult<()> {
        if reads.is_empty() {
            return Ok(());
        }
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(map_err)?;
        let statement = tx
            .prepare_cached(
                "INSERT INTO secret_read (kind, name, principal, at) VALUES ($1, $2, $3, $4)",
            )
            .await
            .map_err(map_err)?;
        for read in &reads {
            tx.execute(
                &statement,
                &[&read.kind.as_str(), &read.name, &read.principal, &read.at],
            )
            .await
            .map_err(map_err)?;
        }
        tx.commit().await.map_err(map_err)
    }

    async fn secret_reads(
        &self,
        kind: SecretKind,
        name: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<SecretRead>> {
        let client = self.client().await?;
        let limit = to_i64(limit);
        // Two statements rather than `$2 IS NULL OR name = $2`, so a read of one
        // name always uses the (kind, name, id) index.
        let rows = match name {
            Some(name) => {
                let statement = client
                    .prepare_cached(
                        "SELECT kind, name, principal, at FROM secret_read
                         WHERE kind = $1 AND name = $2 ORDER BY id DESC LIMIT $3",
                    )
                    .await
                    .map_err(map_err)?;
                client
                    .query(&statement, &[&kind.as_str(), &name, &limit])
                    .await
            }
            None => {
                let statement = client
                    .prepare_cached(
                        "SELECT kind, name, principal, at FROM secret_read
                         WHERE kind = $1 ORDER BY id DESC LIMIT $2",
                    )
                    .await
                    .map_err(map_err)?;
                client.query(&statement, &[&kind.as_str(), &limit]).await
            }
        }
        .map_err(map_err)?;
        rows.iter()
            .map(|row| {
                Ok(SecretRead {
                    kind: SecretKind::decode(&row.try_get::<_, String>(0).map_err(map_err)?)?,
                    name: row.try_get(1).map_err(map_err)?,
                    principal: row.try_get(2).map_err(map_err)?,
                    at: row.try_get(3).map_err(map_err)?,
                })
            })
            .collect()
    }
}
