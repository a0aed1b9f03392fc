//! Executions on SQLite: units of work, claims, jobs and the read queries.

use std::collections::HashMap;

use async_trait::async_trait;
use podium_core::engine::state::WorkflowState;
use podium_core::model::{PollData, Task, TaskExecLog, Workflow, WorkflowStatus};
use podium_core::service::search::{TaskSearch, WorkflowSearch};
use podium_core::store::{
    ArchivedWorkflow, Claim, Committed, Effect, ExecutionStore, Job, JobLane, OnClaim, StoreResult,
    Txn, UnitError, UnitOfWork,
};
use rusqlite::{OptionalExtension, params};

use crate::claims::claim_in;
use crate::rows::{self, load_state, persist_changes, persist_state};
use crate::writer::Failure;
use crate::{SqliteStore, map_err, search, to_store};

/// The jobs due in the lane of every job but script evaluations, soonest first
/// (planned once, as `claims::CLAIM_PICK` is: each lane has its own statement, as a
/// bound lane would have SQLite plan the statement again at each run).
pub(crate) const JOB_PICK: &str = "SELECT id, kind, workflow_id, task_id, payload, due_at FROM job
    WHERE lane = 0 AND +due_at <= ?1 AND (lease_until IS NULL OR lease_until <= ?1)
    ORDER BY due_at";
/// The script evaluations due, soonest first.
pub(crate) const SCRIPT_PICK: &str =
    "SELECT id, kind, workflow_id, task_id, payload, due_at FROM job
    WHERE lane = 1 AND +due_at <= ?1 AND (lease_until IS NULL OR lease_until <= ?1)
    ORDER BY due_at";

/// The statements that pick a lane's due jobs, and tell when its next job is due.
fn lane_statements(lane: JobLane) -> (&'static str, &'static str) {
    match lane {
        JobLane::Work => (
            JOB_PICK,
            "SELECT MIN(MAX(due_at, COALESCE(lease_until, 0))) FROM job WHERE lane = 0",
        ),
        JobLane::Scripts => (
            SCRIPT_PICK,
            "SELECT MIN(MAX(due_at, COALESCE(lease_until, 0))) FROM job WHERE lane = 1",
        ),
    }
}

#[async_trait]
impl ExecutionStore for SqliteStore {
    async fn run(&self, unit: UnitOfWork) -> Result<Committed, UnitError> {
        let revisions = self.revisions.clone();
        let codec = self.codec.clone();
        let (claimed, mut committed) = self
            .writer
            .write(move |ctx| {
                // Reading and deciding write nothing: failures up to here refuse only
                // this unit. Failures while writing roll the batch back.
                let state = match &unit.lock {
                    Some(id) => match ctx.cache.get(id) {
                        Some(held) => held,
                        None => load_state(ctx.conn, &revisions, &codec, id)
                            .map_err(|e| Failure::Refused(UnitError::Store(e)))?,
                    },
                    None => None,
                };
                let stored = state.as_ref().map(rows::StoredColumns::of);
                let mut txn = Txn {
                    state,
                    changes: Default::default(),
                    then_claim: None,
                };
                (unit.work)(&mut txn).map_err(|e| Failure::Refused(UnitError::Refused(e)))?;
                rows::check_idempotency(ctx.conn, txn.state.as_ref(), &txn.changes)
                    .map_err(|e| Failure::Refused(e.into()))?;
                if let Some(mut state) = txn.state.take() {
                    persist_state(ctx.conn, &codec, &mut state, stored.as_ref(), ctx.committed)?;
                    ctx.cache.put(state);
                }
                persist_changes(ctx.conn, &codec, &mut txn.changes, ctx.committed)?;
                for state in txn.changes.new_workflows.drain(..) {
                    ctx.cache.put(state);
                }
                for id in &txn.changes.workflow_deletes {
                    ctx.cache.remove(id);
                }
                match &txn.then_claim {
                    Some(next) => claim_in(ctx, &codec, &next.claim, next.on_claim),
                    None => Ok(Vec::new()),
                }
            })
            .await?;
        committed.claimed = claimed;
        Ok(committed)
    }

    async fn claim(&self, claim: Claim, on_claim: OnClaim) -> StoreResult<Vec<Task>> {
        let codec = self.codec.clone();
        let (tasks, _) = self
            .writer
            .write(move |ctx| claim_in(ctx, &codec, &claim, on_claim))
            .await
            .map_err(to_store)?;
        Ok(tasks)
    }

    async fn claim_jobs(
        &self,
        now: i64,
        limit: usize,
        lease_ms: i64,
        lane: JobLane,
    ) -> StoreResult<Vec<Job>> {
        let (jobs, _) = self
            .writer
            .write(move |ctx| {
                let conn = ctx.conn;
                let mut stmt = conn
                    .prepare_cached(lane_statements(lane).0)
                    .map_err(map_err)?;
                // No bound LIMIT (see `claim`): the rows stream in index order.
                let rows: Vec<(String, String, String, Option<String>, String, i64)> = stmt
                    .query_map(params![now], |row| {
                        Ok((
                            row.get(0)?,
                            row.get(1)?,
                            row.get(2)?,
                            row.get(3)?,
                            row.get(4)?,
                            row.get(5)?,
                        ))
                    })
                    .map_err(map_err)?
                    .take(limit)
                    .collect::<Result<_, _>>()
                    .map_err(map_err)?;
                let mut jobs = Vec::with_capacity(rows.len());
                for (id, kind, workflow_id, task_id, payload, due_at) in rows {
                    let payload = serde_json::from_str(&payload).unwrap_or(serde_json::Value::Null);
                    conn.prepare_cached("UPDATE job SET lease_until = ?2 WHERE id = ?1")
                        .and_then(|mut s| s.execute(params![id, now + lease_ms]))
                        .map_err(map_err)?;
                    let Some(effect) = Effect::decode(&kind, &payload) else {
                        // A row that names no effect this version knows (a newer
                        // node's, during a rolling upgrade) is left for a node that
                        // does, leased like the others so it never holds up the jobs
                        // behind it.
                        tracing::warn!(job_id = %id, kind = %kind, workflow_id = %workflow_id, "leaving a stored job that names no effect this version knows");
                        continue;
                    };
                    jobs.push(Job {
                        id,
                        workflow_id,
                        task_id,
                        effect,
                        due_at,
                        lane,
                    });
                }
                Ok(jobs)
            })
            .await
            .map_err(to_store)?;
        Ok(jobs)
    }

    async fn next_job_due(&self, lane: JobLane) -> StoreResult<Option<i64>> {
        self.read_value(lane_statements(lane).1).await
    }

    async fn get_workflow(&self, id: &str) -> StoreResult<Option<WorkflowState>> {
        let id = id.to_string();
        let codec = self.codec.clone();
        self.read(move |conn, revisions| load_state(conn, revisions, &codec, &id))
            .await
    }

    async fn archive_candidates(
        &self,
        ended_before: i64,
        limit: usize,
    ) -> StoreResult<Vec<String>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(move |conn, _| {
            conn.prepare_cached(
                "SELECT id FROM workflow
                 WHERE status IN ('COMPLETED', 'FAILED', 'TERMINATED', 'TIMED_OUT')
                   AND end_time > 0 AND end_time < ?1
                 LIMIT ?2",
            )
            .and_then(|mut s| {
                s.query_map(params![ended_before, limit], |row| row.get(0))?
                    .collect::<Result<Vec<String>, _>>()
            })
            .map_err(map_err)
        })
        .await
    }

    async fn get_archived(&self, id: &str) -> StoreResult<Option<ArchivedWorkflow>> {
        let id = id.to_string();
        self.read(move |conn, _| rows::load_archived(conn, &id))
            .await
    }

    async fn archived_sealed_stale(
        &self,
        current: &str,
        after: &str,
        limit: usize,
    ) -> StoreResult<Vec<String>> {
        let (current, after) = (current.to_string(), after.to_string());
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(move |conn, _| {
            conn.prepare_cached(
                "SELECT id FROM archived_workflow
                 WHERE sealed_key IS NOT NULL AND sealed_key <> ?1 AND id > ?2
                 ORDER BY id LIMIT ?3",
            )
            .and_then(|mut s| {
                s.query_map(params![current, after, limit], |row| row.get(0))?
                    .collect::<Result<Vec<String>, _>>()
            })
            .map_err(map_err)
        })
        .await
    }

    async fn payload_keys(&self) -> StoreResult<Vec<String>> {
        self.read(move |conn, _| {
            conn.prepare_cached("SELECT key_id FROM payload_key ORDER BY key_id")
                .and_then(|mut s| {
                    s.query_map([], |row| row.get(0))?
                        .collect::<Result<Vec<String>, _>>()
                })
                .map_err(map_err)
        })
        .await
    }

    async fn forget_payload_keys_except(&self, current: &str) -> StoreResult<()> {
        let current = current.to_string();
        self.write_value(move |conn| {
            conn.prepare_cached("DELETE FROM payload_key WHERE key_id <> ?1")
                .and_then(|mut s| s.execute([current]))
                .map_err(map_err)?;
            Ok(())
        })
        .await
    }

    async fn archived_seal_keys(&self) -> StoreResult<Vec<String>> {
        self.read(move |conn, _| {
            conn.prepare_cached(
                "SELECT DISTINCT sealed_key FROM archived_workflow
                 WHERE sealed_key IS NOT NULL ORDER BY sealed_key",
            )
            .and_then(|mut s| {
                s.query_map([], |row| row.get(0))?
                    .collect::<Result<Vec<String>, _>>()
            })
            .map_err(map_err)
        })
        .await
    }

    async fn live_sealed_stale(&self, current: &str) -> StoreResult<Vec<String>> {
        // Each row is sealed at once, with one key: a row holding sealed values but
        // not the current key's id is stale.
        let current = format!("\"keyId\":\"{current}\"");
        let marker = format!("%\"{}\"%", podium_core::service::at_rest::AT_REST);
        self.read(move |conn, _| {
            conn.prepare_cached(
                "SELECT id FROM workflow WHERE json LIKE ?1 AND instr(json, ?2) = 0
                 UNION
                 SELECT workflow_id FROM task WHERE json LIKE ?1 AND instr(json, ?2) = 0",
            )
            .and_then(|mut s| {
                s.query_map(params![marker, current], |row| row.get(0))?
                    .collect::<Result<Vec<String>, _>>()
            })
            .map_err(map_err)
        })
        .await
    }

    async fn reseal_archived(
        &self,
        archived: ArchivedWorkflow,
        from_key: &str,
    ) -> StoreResult<bool> {
        let from_key = from_key.to_string();
        self.write_value(move |conn| rows::reseal_archived(conn, &archived, &from_key))
            .await
    }

    async fn get_workflow_record(&self, id: &str) -> StoreResult<Option<Workflow>> {
        let id = id.to_string();
        let codec = self.codec.clone();
        self.read(move |conn, _| Ok(rows::load_record(conn, &codec, &id)?.map(|(wf, _, _)| wf)))
            .await
    }

    async fn get_task(&self, id: &str) -> StoreResult<Option<Task>> {
        let codec = self.codec.clone();
        let id = id.to_string();
        self.read(move |conn, _| {
            let json: Option<String> = conn
                .prepare_cached("SELECT json FROM task WHERE id = ?1")
                .and_then(|mut s| s.query_row([&id], |row| row.get(0)).optional())
                .map_err(map_err)?;
            json.map(|j| codec.decode_task(&j)).transpose()
        })
        .await
    }

    async fn due_workflows(&self, now: i64, limit: usize) -> StoreResult<Vec<String>> {
        self.read(move |conn, _| {
            conn.prepare_cached(
                "SELECT id FROM workflow WHERE next_check_at IS NOT NULL AND +next_check_at <= ?1 ORDER BY next_check_at",
            )
            .and_then(|mut s| {
                // No bound LIMIT (see `claim`): the rows stream in index order.
                s.query_map(params![now], |row| row.get(0))?
                    .take(limit)
                    .collect::<Result<Vec<String>, _>>()
            })
            .map_err(map_err)
        })
        .await
    }

    async fn next_check_due(&self) -> StoreResult<Option<i64>> {
        self.read_value("SELECT MIN(next_check_at) FROM workflow WHERE next_check_at IS NOT NULL")
            .await
    }

    async fn queue_sizes(&self, names: &[String]) -> StoreResult<HashMap<String, i64>> {
        let names = names.to_vec();
        self.read(move |conn, _| {
            let mut sizes = HashMap::new();
            if names.is_empty() {
                let mut stmt = conn
                    .prepare_cached("SELECT queue_name, COUNT(*) FROM queue GROUP BY queue_name")
                    .map_err(map_err)?;
                let rows = stmt
                    .query_map([], |row| {
                        Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
                    })
                    .map_err(map_err)?;
                for row in rows {
                    let (name, count) = row.map_err(map_err)?;
                    sizes.insert(name, count);
                }
            } else {
                let mut stmt = conn
                    .prepare_cached("SELECT COUNT(*) FROM queue WHERE queue_name = ?1")
                    .map_err(map_err)?;
                for name in names {
                    let count: i64 = stmt.query_row([&name], |row| row.get(0)).map_err(map_err)?;
                    sizes.insert(name, count);
                }
            }
            Ok(sizes)
        })
        .await
    }

    async fn workflow_counts(&self) -> StoreResult<HashMap<WorkflowStatus, i64>> {
        self.read(|conn, _| {
            let mut stmt = conn
                .prepare_cached("SELECT status, COUNT(*) FROM workflow GROUP BY status")
                .map_err(map_err)?;
            let rows = stmt
                .query_map([], |row| {
                    Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
                })
                .map_err(map_err)?;
            let mut counts = HashMap::new();
            for row in rows {
                let (status, count) = row.map_err(map_err)?;
                counts.insert(rows::workflow_status(&status)?, count);
            }
            Ok(counts)
        })
        .await
    }

    async fn search_workflows(&self, query: &WorkflowSearch) -> StoreResult<(i64, Vec<Workflow>)> {
        let codec = self.codec.clone();
        let query = query.clone();
        self.read(move |conn, _| {
            let (total, jsons) = search::workflows(conn, &query)?;
            let mut out = Vec::with_capacity(jsons.len());
            for json in jsons {
                out.push(codec.decode_workflow(&json)?);
            }
            Ok((total, out))
        })
        .await
    }

    async fn search_tasks(&self, query: &TaskSearch) -> StoreResult<(i64, Vec<Task>)> {
        let codec = self.codec.clone();
        let query = query.clone();
        self.read(move |conn, _| {
            let (total, jsons) = search::tasks(conn, &query)?;
            let mut out = Vec::with_capacity(jsons.len());
            for json in jsons {
                out.push(codec.decode_task(&json)?);
            }
            Ok((total, out))
        })
        .await
    }

    async fn workflows_by_correlation(
        &self,
        name: &str,
        correlation_id: &str,
        include_closed: bool,
    ) -> StoreResult<Vec<String>> {
        let (name, correlation_id) = (name.to_string(), correlation_id.to_string());
        self.read(move |conn, _| {
                let sql = if include_closed {
                    "SELECT id FROM workflow WHERE correlation_id = ?1 AND name = ?2 ORDER BY start_time DESC"
                } else {
                    "SELECT id FROM workflow WHERE correlation_id = ?1 AND name = ?2 AND status IN ('RUNNING', 'PAUSED')
                     ORDER BY start_time DESC"
                };
                conn.prepare_cached(sql)
                    .and_then(|mut s| {
                        s.query_map(params![correlation_id, name], |row| row.get(0))?
                            .collect::<Result<Vec<String>, _>>()
                    })
                    .map_err(map_err)
            })
            .await
    }

    async fn running_workflows(
        &self,
        name: &str,
        version: Option<i32>,
        start_after: Option<i64>,
        start_before: Option<i64>,
    ) -> StoreResult<Vec<String>> {
        let name = name.to_string();
        self.read(move |conn, _| {
            conn.prepare_cached(
                "SELECT id FROM workflow WHERE name = ?1 AND status = 'RUNNING'
                     AND (?2 IS NULL OR version = ?2) AND (?3 IS NULL OR start_time >= ?3)
                     AND (?4 IS NULL OR start_time <= ?4) ORDER BY start_time",
            )
            .and_then(|mut s| {
                s.query_map(params![name, version, start_after, start_before], |row| {
                    row.get(0)
                })?
                .collect::<Result<Vec<String>, _>>()
            })
            .map_err(map_err)
        })
        .await
    }

    async fn workflow_by_idempotency_key(
        &self,
        name: &str,
        key: &str,
    ) -> StoreResult<Option<(String, WorkflowStatus)>> {
        let (name, key) = (name.to_string(), key.to_string());
        self.read(move |conn, _| {
            let row: Option<(String, String)> = conn
                .prepare_cached(
                    "SELECT id, status FROM workflow WHERE name = ?1 AND idempotency_key = ?2",
                )
                .and_then(|mut s| {
                    s.query_row(params![name, key], |row| Ok((row.get(0)?, row.get(1)?)))
                        .optional()
                })
                .map_err(map_err)?;
            row.map(|(id, status)| Ok((id, rows::workflow_status(&status)?)))
                .transpose()
        })
        .await
    }

    async fn child_of_task(&self, parent_task_id: &str) -> StoreResult<Option<String>> {
        let parent_task_id = parent_task_id.to_string();
        self.read(move |conn, _| {
                conn.prepare_cached("SELECT id FROM workflow WHERE parent_task_id = ?1 ORDER BY create_time DESC LIMIT 1")
                    .and_then(|mut s| s.query_row([&parent_task_id], |row| row.get(0)).optional())
                    .map_err(map_err)
            })
            .await
    }

    async fn operate_seqs(&self, ids: Vec<String>) -> StoreResult<Vec<(String, i64)>> {
        self.read(move |conn, _| {
            let mut statement = conn
                .prepare_cached("SELECT operate_seq FROM workflow_all WHERE id = ?1")
                .map_err(map_err)?;
            let mut found = Vec::with_capacity(ids.len());
            for id in ids {
                let seq: Option<Option<i64>> = statement
                    .query_row([&id], |row| row.get(0))
                    .optional()
                    .map_err(map_err)?;
                if let Some(Some(seq)) = seq {
                    found.push((id, seq));
                }
            }
            Ok(found)
        })
        .await
    }

    async fn workflow_of_operate_seq(&self, seq: i64) -> StoreResult<Option<String>> {
        self.read(move |conn, _| {
            conn.prepare_cached(
                "SELECT id FROM workflow WHERE operate_seq = ?1
                 UNION ALL SELECT id FROM archived_workflow WHERE operate_seq = ?1 LIMIT 1",
            )
            .and_then(|mut s| s.query_row([seq], |row| row.get(0)).optional())
            .map_err(map_err)
        })
        .await
    }

    async fn search_variables(
        &self,
        query: &podium_core::store::query::VariableSearch,
    ) -> StoreResult<(i64, Vec<podium_core::store::variables::VariableRow>)> {
        let query = query.clone();
        self.read(move |conn, _| crate::variables::search(conn, &query))
            .await
    }

    async fn task_logs(&self, task_id: &str) -> StoreResult<Vec<TaskExecLog>> {
        let task_id = task_id.to_string();
        self.read(move |conn, _| {
            conn.prepare_cached(
                "SELECT log, created_time FROM task_log WHERE task_id = ?1 ORDER BY id",
            )
            .and_then(|mut s| {
                s.query_map([&task_id], |row| {
                    Ok(TaskExecLog {
                        log: row.get(0)?,
                        task_id: Some(task_id.clone()),
                        created_time: row.get(1)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()
            })
            .map_err(map_err)
        })
        .await
    }

    async fn record_poll(&self, poll: PollData) -> StoreResult<()> {
        self.writer
            .write(move |ctx| {
                ctx.conn.prepare_cached(
                    "INSERT INTO poll_data (task_type, domain, worker_id, last_poll_time) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (task_type, domain, worker_id) DO UPDATE SET last_poll_time = excluded.last_poll_time",
                )
                .and_then(|mut s| {
                    s.execute(params![
                        poll.queue_name,
                        poll.domain.clone().unwrap_or_default(),
                        poll.worker_id,
                        poll.last_poll_time
                    ])
                })
                .map_err(map_err)?;
                Ok(())
            })
            .await
            .map(|_| ())
            .map_err(to_store)
    }

    async fn poll_data(&self, task_type: Option<&str>) -> StoreResult<Vec<PollData>> {
        let task_type = task_type.map(str::to_string);
        self.read(move |conn, _| {
            conn.prepare_cached(
                "SELECT task_type, domain, worker_id, last_poll_time FROM poll_data
                     WHERE ?1 IS NULL OR task_type = ?1 ORDER BY task_type, domain, worker_id",
            )
            .and_then(|mut s| {
                s.query_map([&task_type], |row| {
                    let domain: String = row.get(1)?;
                    Ok(PollData {
                        queue_name: row.get(0)?,
                        domain: (!domain.is_empty()).then_some(domain),
                        worker_id: row.get(2)?,
                        last_poll_time: row.get(3)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()
            })
            .map_err(map_err)
        })
        .await
    }
}

impl SqliteStore {
    /// Reads one optional integer.
    async fn read_value(&self, sql: &'static str) -> StoreResult<Option<i64>> {
        self.read(move |conn, _| {
            conn.prepare_cached(sql)
                .and_then(|mut s| s.query_row([], |row| row.get::<_, Option<i64>>(0)))
                .map_err(map_err)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use rusqlite::{Connection, StatementStatus, params};

    /// The picks run at every poll and every sweep: SQLite must plan them once per
    /// connection, not again at each run with new values (as it does when a bound
    /// value can change the plan).
    #[test]
    fn the_picks_are_planned_once() {
        let mut conn = Connection::open_in_memory().unwrap();
        crate::migrate(&mut conn).unwrap();
        for (index, queue) in ["a", "b", "c"].iter().enumerate() {
            let at = index as i64 * 10;
            conn.execute(
                "INSERT INTO queue (task_id, queue_name, workflow_id, priority, visible_at)
                 VALUES (?1, ?2, 'w', 0, ?3)",
                params![format!("t{index}"), queue, at],
            )
            .unwrap();
        }
        for run in 0..4_i64 {
            let queue = ["a", "b", "c", "d"][run as usize];
            let mut pick = conn.prepare_cached(crate::claims::CLAIM_PICK).unwrap();
            let found: Vec<i64> = pick
                .query_map(params![queue, 100 + run], |row| row.get(0))
                .unwrap()
                .take(1)
                .collect::<Result<_, _>>()
                .unwrap();
            assert_eq!(found.len(), usize::from(run < 3), "queue {queue}");
            assert_eq!(pick.get_status(StatementStatus::RePrepare), 0);
            for statement in [super::JOB_PICK, super::SCRIPT_PICK] {
                let mut jobs = conn.prepare_cached(statement).unwrap();
                let due: Vec<String> = jobs
                    .query_map(params![run], |row| row.get(0))
                    .unwrap()
                    .collect::<Result<_, _>>()
                    .unwrap();
                assert!(due.is_empty());
                assert_eq!(jobs.get_status(StatementStatus::RePrepare), 0);
            }
        }
    }
}
