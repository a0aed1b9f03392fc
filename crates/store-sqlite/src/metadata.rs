//! Definitions and tags on SQLite.

use std::sync::Arc;

use async_trait::async_trait;
use podium_core::model::{Tag, TaskDef, WorkflowDef};
use podium_core::store::metadata::{
    TaskDefRow, WorkflowDefRow, decode_listed_workflow_def, decode_task_def, decode_workflow_def,
    encode_def_revision, workflow_def_exists,
};
use podium_core::store::{MetadataStore, StoreError, StoreResult, TagStore};
use rusqlite::{Connection, OptionalExtension, params};

use crate::writer::Failure;
use crate::{SqliteStore, map_err, to_store};

impl SqliteStore {
    /// Runs a write through the writer and keeps only its value.
    pub(crate) async fn write_value<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        self.writer
            .write(move |ctx| {
                f(ctx.conn).map_err(|e| match e {
                    // Conflicts are found before anything is written.
                    StoreError::Conflict(_) => Failure::Refused(e.into()),
                    other => Failure::Broken(other),
                })
            })
            .await
            .map(|(value, _)| value)
            .map_err(to_store)
    }
}

fn query_jsons(
    conn: &Connection,
    sql: &str,
    args: impl rusqlite::Params,
) -> StoreResult<Vec<String>> {
    conn.prepare_cached(sql)
        .and_then(|mut s| {
            s.query_map(args, |row| row.get::<_, String>(0))?
                .collect::<Result<Vec<_>, _>>()
        })
        .map_err(map_err)
}

#[async_trait]
impl MetadataStore for SqliteStore {
    async fn put_task_defs(&self, defs: &[TaskDef]) -> StoreResult<()> {
        let rows = defs
            .iter()
            .map(TaskDefRow::encode)
            .collect::<StoreResult<Vec<_>>>()?;
        self.write_value(move |conn| {
            for row in rows {
                conn.prepare_cached(
                    "INSERT INTO task_def (name, json, create_time, update_time) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (name) DO UPDATE SET json = excluded.json, update_time = excluded.update_time",
                )
                .and_then(|mut s| s.execute(params![row.name, row.json, row.create_time, row.update_time]))
                .map_err(map_err)?;
            }
            Ok(())
        })
        .await
    }

    async fn get_task_def(&self, name: &str) -> StoreResult<Option<TaskDef>> {
        let name = name.to_string();
        self.read(move |conn, _| {
            let json = query_jsons(conn, "SELECT json FROM task_def WHERE name = ?1", [&name])?;
            json.first().map(|j| decode_task_def(j)).transpose()
        })
        .await
    }

    async fn list_task_defs(&self) -> StoreResult<Vec<TaskDef>> {
        self.read(|conn, _| {
            query_jsons(conn, "SELECT json FROM task_def ORDER BY name", [])?
                .iter()
                .map(|j| decode_task_def(j))
                .collect()
        })
        .await
    }

    async fn delete_task_def(&self, name: &str) -> StoreResult<bool> {
        let name = name.to_string();
        self.write_value(move |conn| {
            let n = conn
                .prepare_cached("DELETE FROM task_def WHERE name = ?1")
                .and_then(|mut s| s.execute([&name]))
                .map_err(map_err)?;
            conn.prepare_cached("DELETE FROM tag WHERE resource_type = 'TASK_DEF' AND name = ?1")
                .and_then(|mut s| s.execute([&name]))
                .map_err(map_err)?;
            Ok(n > 0)
        })
        .await
    }

    async fn put_workflow_def(
        &self,
        def: &WorkflowDef,
        revision: &str,
        overwrite: bool,
    ) -> StoreResult<()> {
        let row = WorkflowDefRow::encode(def)?;
        let revision = revision.to_string();
        self.write_value(move |conn| {
            let WorkflowDefRow { name, version, json, create_time, update_time } = row;
            let exists: bool = conn
                .prepare_cached("SELECT 1 FROM workflow_def WHERE name = ?1 AND version = ?2")
                .and_then(|mut s| s.query_row(params![name, version], |_| Ok(())).optional())
                .map_err(map_err)?
                .is_some();
            if exists && !overwrite {
                return Err(workflow_def_exists(&name, version));
            }
            conn.prepare_cached("INSERT OR IGNORE INTO def_revision (revision, json) VALUES (?1, ?2)")
                .and_then(|mut s| s.execute(params![revision, json]))
                .map_err(map_err)?;
            conn.prepare_cached(
                "INSERT INTO workflow_def (name, version, revision, json, create_time, update_time)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (name, version) DO UPDATE SET revision = excluded.revision, json = excluded.json,
                     update_time = excluded.update_time",
            )
            .and_then(|mut s| s.execute(params![name, version, revision, json, create_time, update_time]))
            .map_err(map_err)?;
            Ok(())
        })
        .await
    }

    async fn get_workflow_def(
        &self,
        name: &str,
        version: Option<i32>,
    ) -> StoreResult<Option<(WorkflowDef, String)>> {
        let name = name.to_string();
        self.read(move |conn, _| {
            let row: Option<(String, String)> = match version {
                Some(version) => conn
                    .prepare_cached("SELECT json, revision FROM workflow_def WHERE name = ?1 AND version = ?2")
                    .and_then(|mut s| s.query_row(params![name, version], |r| Ok((r.get(0)?, r.get(1)?))).optional()),
                None => conn
                    .prepare_cached(
                        "SELECT json, revision FROM workflow_def WHERE name = ?1 ORDER BY version DESC LIMIT 1",
                    )
                    .and_then(|mut s| s.query_row([&name], |r| Ok((r.get(0)?, r.get(1)?))).optional()),
            }
            .map_err(map_err)?;
            row.map(|(json, revision)| decode_workflow_def(&json).map(|def| (def, revision)))
                .transpose()
        })
        .await
    }

    /// Every definition that can be read. A row that cannot (one stored before a bound
    /// that now refuses it, or damaged) is logged and left out, so one bad row keeps
    /// neither the server from starting nor the list from being served.
    async fn list_workflow_defs(&self) -> StoreResult<Vec<WorkflowDef>> {
        self.read(|conn, _| {
            let rows: Vec<(String, i32, String)> = conn
                .prepare_cached(
                    "SELECT name, version, json FROM workflow_def ORDER BY name, version",
                )
                .and_then(|mut s| {
                    s.query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?
                        .collect::<Result<Vec<_>, _>>()
                })
                .map_err(map_err)?;
            Ok(rows
                .into_iter()
                .filter_map(|(name, version, json)| {
                    decode_listed_workflow_def(&name, version, &json)
                })
                .collect())
        })
        .await
    }

    async fn delete_workflow_def(&self, name: &str, version: i32) -> StoreResult<bool> {
        let name = name.to_string();
        self.write_value(move |conn| {
            let n = conn
                .prepare_cached("DELETE FROM workflow_def WHERE name = ?1 AND version = ?2")
                .and_then(|mut s| s.execute(params![name, version]))
                .map_err(map_err)?;
            let remaining: i64 = conn
                .prepare_cached("SELECT COUNT(*) FROM workflow_def WHERE name = ?1")
                .and_then(|mut s| s.query_row([&name], |r| r.get(0)))
                .map_err(map_err)?;
            if remaining == 0 {
                conn.prepare_cached(
                    "DELETE FROM tag WHERE resource_type = 'WORKFLOW_DEF' AND name = ?1",
                )
                .and_then(|mut s| s.execute([&name]))
                .map_err(map_err)?;
            }
            Ok(n > 0)
        })
        .await
    }

    async fn get_def_revision(&self, revision: &str) -> StoreResult<Option<Arc<WorkflowDef>>> {
        let revision = revision.to_string();
        self.read(move |conn, revisions| revisions.get(conn, &revision))
            .await
    }

    async fn put_def_revision(&self, revision: &str, def: &WorkflowDef) -> StoreResult<()> {
        let json = encode_def_revision(def)?;
        let revision = revision.to_string();
        self.write_value(move |conn| {
            conn.prepare_cached(
                "INSERT OR IGNORE INTO def_revision (revision, json) VALUES (?1, ?2)",
            )
            .and_then(|mut s| s.execute(params![revision, json]))
            .map_err(map_err)?;
            Ok(())
        })
        .await
    }
}

fn insert_tags(
    conn: &Connection,
    resource_type: &str,
    name: &str,
    tags: &[Tag],
) -> StoreResult<()> {
    for tag in tags {
        conn.prepare_cached(
            "INSERT OR REPLACE INTO tag (resource_type, name, key, value, tag_type) VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .and_then(|mut s| s.execute(params![resource_type, name, tag.key, tag.value, tag.tag_type]))
        .map_err(map_err)?;
    }
    Ok(())
}

#[async_trait]
impl TagStore for SqliteStore {
    async fn get_tags(&self, resource_type: &str, name: &str) -> StoreResult<Vec<Tag>> {
        let (resource_type, name) = (resource_type.to_string(), name.to_string());
        self.read(move |conn, _| {
            conn.prepare_cached(
                "SELECT key, value, tag_type FROM tag WHERE resource_type = ?1 AND name = ?2 ORDER BY key, value",
            )
            .and_then(|mut s| {
                s.query_map(params![resource_type, name], |row| {
                    Ok(Tag {
                        key: row.get(0)?,
                        value: row.get(1)?,
                        tag_type: row.get(2)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()
            })
            .map_err(map_err)
        })
        .await
    }

    async fn set_tags(&self, resource_type: &str, name: &str, tags: &[Tag]) -> StoreResult<()> {
        let (resource_type, name, tags) =
            (resource_type.to_string(), name.to_string(), tags.to_vec());
        self.write_value(move |conn| {
            conn.prepare_cached("DELETE FROM tag WHERE resource_type = ?1 AND name = ?2")
                .and_then(|mut s| s.execute(params![resource_type, name]))
                .map_err(map_err)?;
            insert_tags(conn, &resource_type, &name, &tags)
        })
        .await
    }

    async fn add_tags(&self, resource_type: &str, name: &str, tags: &[Tag]) -> StoreResult<()> {
        let (resource_type, name, tags) =
            (resource_type.to_string(), name.to_string(), tags.to_vec());
        self.write_value(move |conn| insert_tags(conn, &resource_type, &name, &tags))
            .await
    }

    async fn remove_tags(&self, resource_type: &str, name: &str, tags: &[Tag]) -> StoreResult<()> {
        let (resource_type, name, tags) =
            (resource_type.to_string(), name.to_string(), tags.to_vec());
        self.write_value(move |conn| {
            for tag in tags {
                conn.prepare_cached("DELETE FROM tag WHERE resource_type = ?1 AND name = ?2 AND key = ?3 AND value = ?4")
                    .and_then(|mut s| s.execute(params![resource_type, name, tag.key, tag.value]))
                    .map_err(map_err)?;
            }
            Ok(())
        })
        .await
    }

    async fn all_tags(&self, resource_type: &str) -> StoreResult<Vec<(String, Tag)>> {
        let resource_type = resource_type.to_string();
        self.read(move |conn, _| {
            conn.prepare_cached("SELECT name, key, value, tag_type FROM tag WHERE resource_type = ?1 ORDER BY name, key")
                .and_then(|mut s| {
                    s.query_map([&resource_type], |row| {
                        Ok((
                            row.get(0)?,
                            Tag {
                                key: row.get(1)?,
                                value: row.get(2)?,
                                tag_type: row.get(3)?,
                            },
                        ))
                    })?
                    .collect::<Result<Vec<_>, _>>()
                })
                .map_err(map_err)
        })
        .await
    }
}
