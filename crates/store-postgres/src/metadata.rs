//! Definitions and tags on PostgreSQL.
//!
//! Lists are ordered with the `"C"` collation, byte by byte as the embedded store
//! orders them, whatever collation the database was created with. Writes of several
//! rows take them in one order (by name, or by key and value), so two nodes writing
//! overlapping batches wait for each other instead of deadlocking.

use std::sync::Arc;

use async_trait::async_trait;
use deadpool_postgres::Transaction;
use podium_core::model::{Tag, TaskDef, WorkflowDef};
use podium_core::store::metadata::{
    TaskDefRow, WorkflowDefRow, decode_listed_workflow_def, decode_task_def, decode_workflow_def,
    encode_def_revision, workflow_def_exists,
};
use podium_core::store::{Change, MetadataStore, StoreResult, TagStore};

use crate::{PostgresStore, map_err};

#[async_trait]
impl MetadataStore for PostgresStore {
    async fn put_task_defs(&self, defs: &[TaskDef]) -> StoreResult<()> {
        let mut rows = defs
            .iter()
            .map(TaskDefRow::encode)
            .collect::<StoreResult<Vec<_>>>()?;
        if rows.is_empty() {
            return Ok(());
        }
        // A stable sort: a name given twice still ends with its last definition.
        rows.sort_by(|a, b| a.name.cmp(&b.name));
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(map_err)?;
        let statement = tx
            .prepare_cached(
                "INSERT INTO task_def (name, json, create_time, update_time) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (name) DO UPDATE SET json = EXCLUDED.json, update_time = EXCLUDED.update_time",
            )
            .await
            .map_err(map_err)?;
        for row in &rows {
            tx.execute(
                &statement,
                &[&row.name, &row.json, &row.create_time, &row.update_time],
            )
            .await
            .map_err(map_err)?;
        }
        self.announce(&tx, Change::Definitions).await?;
        tx.commit().await.map_err(map_err)
    }

    async fn get_task_def(&self, name: &str) -> StoreResult<Option<TaskDef>> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached("SELECT json FROM task_def WHERE name = $1")
            .await
            .map_err(map_err)?;
        let Some(row) = client
            .query_opt(&statement, &[&name])
            .await
            .map_err(map_err)?
        else {
            return Ok(None);
        };
        let json = row.try_get::<_, String>(0).map_err(map_err)?;
        decode_task_def(&json).map(Some)
    }

    async fn list_task_defs(&self) -> StoreResult<Vec<TaskDef>> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(r#"SELECT json FROM task_def ORDER BY name COLLATE "C""#)
            .await
            .map_err(map_err)?;
        let rows = client.query(&statement, &[]).await.map_err(map_err)?;
        rows.iter()
            .map(|row| decode_task_def(&row.try_get::<_, String>(0).map_err(map_err)?))
            .collect()
    }

    /// Deletes the definition and its tags.
    async fn delete_task_def(&self, name: &str) -> StoreResult<bool> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(map_err)?;
        let statement = tx
            .prepare_cached("DELETE FROM task_def WHERE name = $1")
            .await
            .map_err(map_err)?;
        let deleted = tx.execute(&statement, &[&name]).await.map_err(map_err)?;
        let statement = tx
            .prepare_cached("DELETE FROM tag WHERE resource_type = 'TASK_DEF' AND name = $1")
            .await
            .map_err(map_err)?;
        tx.execute(&statement, &[&name]).await.map_err(map_err)?;
        // Its tags went with it.
        self.bump_security_version(&tx).await?;
        self.announce(&tx, Change::Security).await?;
        self.announce(&tx, Change::Definitions).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(deleted > 0)
    }

    /// Writes the version and its revision together. Without `overwrite`, an
    /// existing version is found by the insert itself (`ON CONFLICT DO NOTHING`),
    /// so two nodes adding the same version at once cannot both succeed; nothing
    /// is written then.
    async fn put_workflow_def(
        &self,
        def: &WorkflowDef,
        revision: &str,
        overwrite: bool,
    ) -> StoreResult<()> {
        let row = WorkflowDefRow::encode(def)?;
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(map_err)?;
        let sql = if overwrite {
            "INSERT INTO workflow_def (name, version, revision, json, create_time, update_time)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (name, version) DO UPDATE SET revision = EXCLUDED.revision,
                 json = EXCLUDED.json, update_time = EXCLUDED.update_time"
        } else {
            "INSERT INTO workflow_def (name, version, revision, json, create_time, update_time)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (name, version) DO NOTHING"
        };
        let statement = tx.prepare_cached(sql).await.map_err(map_err)?;
        let written = tx
            .execute(
                &statement,
                &[
                    &row.name,
                    &row.version,
                    &revision,
                    &row.json,
                    &row.create_time,
                    &row.update_time,
                ],
            )
            .await
            .map_err(map_err)?;
        if written == 0 {
            tx.rollback().await.map_err(map_err)?;
            return Err(workflow_def_exists(&row.name, row.version));
        }
        let statement = tx
            .prepare_cached(
                "INSERT INTO def_revision (revision, json) VALUES ($1, $2)
                 ON CONFLICT (revision) DO NOTHING",
            )
            .await
            .map_err(map_err)?;
        tx.execute(&statement, &[&revision, &row.json])
            .await
            .map_err(map_err)?;
        self.announce(&tx, Change::Definitions).await?;
        tx.commit().await.map_err(map_err)
    }

    async fn get_workflow_def(
        &self,
        name: &str,
        version: Option<i32>,
    ) -> StoreResult<Option<(WorkflowDef, String)>> {
        let client = self.client().await?;
        let row = match version {
            Some(version) => {
                let statement = client
                    .prepare_cached(
                        "SELECT json, revision FROM workflow_def WHERE name = $1 AND version = $2",
                    )
                    .await
                    .map_err(map_err)?;
                client.query_opt(&statement, &[&name, &version]).await
            }
            None => {
                let statement = client
                    .prepare_cached(
                        "SELECT json, revision FROM workflow_def WHERE name = $1
                         ORDER BY version DESC LIMIT 1",
                    )
                    .await
                    .map_err(map_err)?;
                client.query_opt(&statement, &[&name]).await
            }
        }
        .map_err(map_err)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let json = row.try_get::<_, String>(0).map_err(map_err)?;
        let revision = row.try_get::<_, String>(1).map_err(map_err)?;
        decode_workflow_def(&json).map(|def| Some((def, revision)))
    }

    /// Every definition that can be read. A row that cannot (one stored before a bound
    /// that now refuses it, or damaged) is logged and left out, so one bad row keeps
    /// neither the server from starting nor the list from being served.
    async fn list_workflow_defs(&self) -> StoreResult<Vec<WorkflowDef>> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(
                r#"SELECT name, version, json FROM workflow_def ORDER BY name COLLATE "C", version"#,
            )
            .await
            .map_err(map_err)?;
        let rows = client.query(&statement, &[]).await.map_err(map_err)?;
        let mut defs = Vec::with_capacity(rows.len());
        for row in &rows {
            let name = row.try_get::<_, String>(0).map_err(map_err)?;
            let version = row.try_get::<_, i32>(1).map_err(map_err)?;
            let json = row.try_get::<_, String>(2).map_err(map_err)?;
            defs.extend(decode_listed_workflow_def(&name, version, &json));
        }
        Ok(defs)
    }

    /// Deletes the version; with the last version of a name go its tags.
    async fn delete_workflow_def(&self, name: &str, version: i32) -> StoreResult<bool> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(map_err)?;
        let statement = tx
            .prepare_cached("DELETE FROM workflow_def WHERE name = $1 AND version = $2")
            .await
            .map_err(map_err)?;
        let deleted = tx
            .execute(&statement, &[&name, &version])
            .await
            .map_err(map_err)?;
        let statement = tx
            .prepare_cached(
                "DELETE FROM tag WHERE resource_type = 'WORKFLOW_DEF' AND name = $1
                 AND NOT EXISTS (SELECT 1 FROM workflow_def WHERE name = $1)",
            )
            .await
            .map_err(map_err)?;
        tx.execute(&statement, &[&name]).await.map_err(map_err)?;
        // Its tags went with it.
        self.bump_security_version(&tx).await?;
        self.announce(&tx, Change::Security).await?;
        self.announce(&tx, Change::Definitions).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(deleted > 0)
    }

    async fn get_def_revision(&self, revision: &str) -> StoreResult<Option<Arc<WorkflowDef>>> {
        let client = self.client().await?;
        self.revisions.get(&client, revision).await
    }

    async fn put_def_revision(&self, revision: &str, def: &WorkflowDef) -> StoreResult<()> {
        let json = encode_def_revision(def)?;
        let client = self.client().await?;
        let statement = client
            .prepare_cached(
                "INSERT INTO def_revision (revision, json) VALUES ($1, $2)
                 ON CONFLICT (revision) DO NOTHING",
            )
            .await
            .map_err(map_err)?;
        client
            .execute(&statement, &[&revision, &json])
            .await
            .map_err(map_err)?;
        Ok(())
    }
}

/// The tags in the order every writer takes their rows; a stable sort, so of a tag
/// given twice the last one wins, as when they are written in the given order.
fn in_lock_order(tags: &[Tag]) -> Vec<&Tag> {
    let mut sorted: Vec<&Tag> = tags.iter().collect();
    sorted.sort_by(|a, b| (&a.key, &a.value).cmp(&(&b.key, &b.value)));
    sorted
}

/// Inserts tags, replacing the type of one already there.
async fn insert_tags(
    tx: &Transaction<'_>,
    resource_type: &str,
    name: &str,
    tags: &[Tag],
) -> StoreResult<()> {
    let statement = tx
        .prepare_cached(
            "INSERT INTO tag (resource_type, name, key, value, tag_type) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (resource_type, name, key, value) DO UPDATE SET tag_type = EXCLUDED.tag_type",
        )
        .await
        .map_err(map_err)?;
    for tag in in_lock_order(tags) {
        tx.execute(
            &statement,
            &[&resource_type, &name, &tag.key, &tag.value, &tag.tag_type],
        )
        .await
        .map_err(map_err)?;
    }
    Ok(())
}

/// A tag from its `key`, `value` and `tag_type` columns, starting at `first`.
fn tag_at(row: &tokio_postgres::Row, first: usize) -> StoreResult<Tag> {
    Ok(Tag {
        key: row.try_get(first).map_err(map_err)?,
        value: row.try_get(first + 1).map_err(map_err)?,
        tag_type: row.try_get(first + 2).map_err(map_err)?,
    })
}

#[async_trait]
impl TagStore for PostgresStore {
    async fn get_tags(&self, resource_type: &str, name: &str) -> StoreResult<Vec<Tag>> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(
                r#"SELECT key, value, tag_type FROM tag WHERE resource_type = $1 AND name = $2
                   ORDER BY key COLLATE "C", value COLLATE "C""#,
            )
            .await
            .map_err(map_err)?;
        let rows = client
            .query(&statement, &[&resource_type, &name])
            .await
            .map_err(map_err)?;
        rows.iter().map(|row| tag_at(row, 0)).collect()
    }

    async fn set_tags(&self, resource_type: &str, name: &str, tags: &[Tag]) -> StoreResult<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(map_err)?;
        let statement = tx
            .prepare_cached("DELETE FROM tag WHERE resource_type = $1 AND name = $2")
            .await
            .map_err(map_err)?;
        tx.execute(&statement, &[&resource_type, &name])
            .await
            .map_err(map_err)?;
        insert_tags(&tx, resource_type, name, tags).await?;
        self.bump_security_version(&tx).await?;
        self.announce(&tx, Change::Security).await?;
        tx.commit().await.map_err(map_err)
    }

    async fn add_tags(&self, resource_type: &str, name: &str, tags: &[Tag]) -> StoreResult<()> {
        if tags.is_empty() {
            return Ok(());
        }
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(map_err)?;
        insert_tags(&tx, resource_type, name, tags).await?;
        self.bump_security_version(&tx).await?;
        self.announce(&tx, Change::Security).await?;
        tx.commit().await.map_err(map_err)
    }

    async fn remove_tags(&self, resource_type: &str, name: &str, tags: &[Tag]) -> StoreResult<()> {
        if tags.is_empty() {
            return Ok(());
        }
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(map_err)?;
        let statement = tx
            .prepare_cached(
                "DELETE FROM tag WHERE resource_type = $1 AND name = $2 AND key = $3 AND value = $4",
            )
            .await
            .map_err(map_err)?;
        for tag in in_lock_order(tags) {
            tx.execute(&statement, &[&resource_type, &name, &tag.key, &tag.value])
                .await
                .map_err(map_err)?;
        }
        self.bump_security_version(&tx).await?;
        self.announce(&tx, Change::Security).await?;
        tx.commit().await.map_err(map_err)
    }

    async fn all_tags(&self, resource_type: &str) -> StoreResult<Vec<(String, Tag)>> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(
                r#"SELECT name, key, value, tag_type FROM tag WHERE resource_type = $1
                   ORDER BY name COLLATE "C", key COLLATE "C""#,
            )
            .await
            .map_err(map_err)?;
        let rows = client
            .query(&statement, &[&resource_type])
            .await
            .map_err(map_err)?;
        rows.iter()
            .map(|row| Ok((row.try_get(0).map_err(map_err)?, tag_at(row, 1)?)))
            .collect()
    }
}
