//! Executions on PostgreSQL: units of work, claims, jobs and the read queries.

use std::collections::{BTreeSet, HashMap};
use std::panic::AssertUnwindSafe;

use async_trait::async_trait;
use podium_core::engine::state::WorkflowState;
use podium_core::model::{PollData, Task, TaskExecLog, Workflow, WorkflowStatus};
use podium_core::service::search::{TaskSearch, WorkflowSearch};
use podium_core::store::{
    ArchivedWorkflow, Change, ChangeSet, Claim, Committed, Effect, ExecutionStore, Job, JobLane,
    OnClaim, StoreError, StoreResult, Txn, UnitError, UnitOfWork,
};
use tokio_postgres::types::ToSql;

use crate::figures::Kind;
use crate::rows::{self, Writes, get, load_state, lock_state, persist_changes, persist_state};
use crate::tx::Tx;
use crate::{PostgresStore, map_err, to_i64};

/// The text of a panic, if it was text.
fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_string())
}

/// Refuses new workflows whose idempotency key is already taken for their definition
/// (unless the locked workflow of the same unit gives the key up), before anything is
/// written. The unique index decides between two nodes starting at once.
async fn check_idempotency(
    client: &deadpool_postgres::Object,
    locked: Option<&WorkflowState>,
    changes: &ChangeSet,
) -> StoreResult<()> {
    for state in &changes.new_workflows {
        let Some(key) = &state.workflow.idempotency_key else {
            continue;
        };
        let statement = client
            .prepare_cached("SELECT id FROM workflow WHERE name = $1 AND idempotency_key = $2")
            .await
            .map_err(map_err)?;
        let holder: Option<String> = match client
            .query_opt(&statement, &[&state.workflow.workflow_name, key])
            .await
            .map_err(map_err)?
        {
            Some(row) => Some(get(&row, 0)?),
            None => None,
        };
        let released = locked.is_some_and(|l| {
            Some(l.id()) == holder.as_deref() && l.workflow.idempotency_key.is_none()
        });
        if holder.is_some() && !released {
            return Err(taken(key));
        }
    }
    Ok(())
}

fn taken(key: &str) -> StoreError {
    StoreError::Conflict(format!(
        "Workflow with idempotency key {key} already exists"
    ))
}

impl PostgresStore {
    /// Ids from a query with one text column.
    async fn ids(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> StoreResult<Vec<String>> {
        let client = self.client().await?;
        let statement = client.prepare_cached(sql).await.map_err(map_err)?;
        let rows = client.query(&statement, params).await.map_err(map_err)?;
        rows.iter().map(|row| get::<String>(row, 0)).collect()
    }

    /// One optional integer.
    async fn optional_number(&self, sql: &str) -> StoreResult<Option<i64>> {
        let client = self.client().await?;
        let statement = client.prepare_cached(sql).await.map_err(map_err)?;
        let row = client.query_one(&statement, &[]).await.map_err(map_err)?;
        get(&row, 0)
    }

    /// A statement that changes rows; returns how many.
    async fn change(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> StoreResult<u64> {
        let client = self.client().await?;
        let statement = client.prepare_cached(sql).await.map_err(map_err)?;
        client.execute(&statement, params).await.map_err(map_err)
    }
}

impl PostgresStore {
    async fn run_unit(&self, unit: UnitOfWork) -> Result<Committed, UnitError> {
        let tx = Tx::new(self.client().await?);
        let state = match &unit.lock {
            Some(id) => lock_state(&tx, &self.revisions, &self.codec, id).await?,
            None => None,
        };
        let mut txn = Txn {
            state,
            changes: ChangeSet::default(),
            then_claim: None,
        };
        // A unit that panics fails alone (its transaction rolls back when dropped);
        // it never takes the caller's task down with it.
        let work = unit.work;
        match std::panic::catch_unwind(AssertUnwindSafe(|| work(&mut txn))) {
            Ok(Ok(())) => {}
            Ok(Err(err)) => return Err(UnitError::Refused(err)),
            Err(panic) => {
                let what = panic_text(panic.as_ref());
                tracing::error!(panic = %what, "a unit of work panicked; it fails alone");
                return Err(
                    StoreError::backend(format!("a change panicked in the store: {what}")).into(),
                );
            }
        }
        check_idempotency(tx.client(), txn.state.as_ref(), &txn.changes).await?;
        let mut committed = Committed::default();
        let mut writes = Writes::default();
        if let Some(mut state) = txn.state.take() {
            persist_state(&mut writes, &self.codec, &mut state, &mut committed)?;
        }
        persist_changes(&mut writes, &self.codec, &mut txn.changes, &mut committed)?;
        let keyed = txn
            .changes
            .new_workflows
            .iter()
            .find_map(|s| s.workflow.idempotency_key.clone());
        let outcome = match &txn.then_claim {
            None => tx.commit(writes).await.map(|_| Vec::new()),
            Some(next) => self.commit_with_claim(tx, writes, next).await,
        };
        match (outcome, keyed) {
            (Ok(claimed), _) => {
                committed.claimed = claimed;
                self.wake_other_nodes(&committed);
                Ok(committed)
            }
            // Another node took the key between the check and the insert.
            (Err(StoreError::Conflict(_)), Some(key)) => Err(taken(&key).into()),
            (Err(err), _) => Err(err.into()),
        }
    }

    /// After a unit committed: the other nodes' polls of the queues it filled wake up,
    /// and so does a caller on another node waiting for a workflow it ended (a
    /// synchronous start sent there). A running workflow's steps are not announced:
    /// they would cost a notification per task update.
    fn wake_other_nodes(&self, committed: &Committed) {
        let queues: BTreeSet<&String> = committed.queues.iter().map(|(q, _)| q).collect();
        for queue in queues {
            self.wake_others(&Change::Queue(queue.clone()));
        }
        for (id, status) in &committed.workflows {
            if status.is_terminal() {
                self.wake_others(&Change::Workflow(id.clone()));
            }
        }
    }

    async fn lease_jobs(
        &self,
        now: i64,
        limit: usize,
        lease_ms: i64,
        lane: JobLane,
    ) -> StoreResult<Vec<Job>> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(map_err)?;
        let statement = tx
            .prepare_cached(
                "UPDATE job SET lease_until = $2 WHERE id IN (
                     SELECT id FROM job
                     WHERE lane = $4 AND due_at <= $1
                       AND (lease_until IS NULL OR lease_until <= $1)
                     ORDER BY due_at LIMIT $3 FOR UPDATE SKIP LOCKED)
                 RETURNING id, kind, workflow_id, task_id, payload, due_at",
            )
            .await
            .map_err(map_err)?;
        let rows = tx
            .query(
                &statement,
                &[
                    &now,
                    &now.saturating_add(lease_ms),
                    &to_i64(limit),
                    &lane.number(),
                ],
            )
            .await
            .map_err(map_err)?;
        let mut jobs = Vec::with_capacity(rows.len());
        for row in &rows {
            let (id, kind, workflow_id): (String, String, String) =
                (get(row, 0)?, get(row, 1)?, get(row, 2)?);
            let payload: String = get(row, 4)?;
            let payload = serde_json::from_str(&payload).unwrap_or(serde_json::Value::Null);
            let Some(effect) = Effect::decode(&kind, &payload) else {
                // A row that names no effect this version knows (a newer node's,
                // during a rolling upgrade) is left for a node that does, leased
                // like the others so it never holds up the jobs behind it.
                tracing::warn!(job_id = %id, kind = %kind, workflow_id = %workflow_id, "leaving a stored job that names no effect this version knows");
                continue;
            };
            jobs.push(Job {
                id,
                workflow_id,
                task_id: get(row, 3)?,
                effect,
                due_at: get(row, 5)?,
                lane,
            });
        }
        tx.commit().await.map_err(map_err)?;
        jobs.sort_by_key(|job| job.due_at);
        Ok(jobs)
    }
}

#[async_trait]
impl ExecutionStore for PostgresStore {
    async fn run(&self, unit: UnitOfWork) -> Result<Committed, UnitError> {
        self.timed(Kind::UnitOfWork, self.run_unit(unit)).await
    }

    async fn claim(&self, claim: Claim, on_claim: OnClaim) -> StoreResult<Vec<Task>> {
        self.timed(Kind::Claim, self.claim_tasks(claim, on_claim))
            .await
    }

    async fn claim_jobs(
        &self,
        now: i64,
        limit: usize,
        lease_ms: i64,
        lane: JobLane,
    ) -> StoreResult<Vec<Job>> {
        self.timed(Kind::ClaimJobs, self.lease_jobs(now, limit, lease_ms, lane))
            .await
    }

    async fn next_job_due(&self, lane: JobLane) -> StoreResult<Option<i64>> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(
                "SELECT MIN(GREATEST(due_at, COALESCE(lease_until, 0))) FROM job
                 WHERE lane = $1",
            )
            .await
            .map_err(map_err)?;
        let row = client
            .query_one(&statement, &[&lane.number()])
            .await
            .map_err(map_err)?;
        get(&row, 0)
    }

    async fn get_workflow(&self, id: &str) -> StoreResult<Option<WorkflowState>> {
        let client = self.client().await?;
        load_state(&client, &self.revisions, &self.codec, id).await
    }

    async fn get_workflow_record(&self, id: &str) -> StoreResult<Option<Workflow>> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(rows::SELECT_WORKFLOW)
            .await
            .map_err(map_err)?;
        match client
            .query_opt(&statement, &[&id])
            .await
            .map_err(map_err)?
        {
            Some(row) => Ok(Some(rows::workflow_row(&self.codec, &row)?.0)),
            None => Ok(None),
        }
    }

    async fn get_task(&self, id: &str) -> StoreResult<Option<Task>> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached("SELECT json FROM task WHERE id = $1")
            .await
            .map_err(map_err)?;
        match client
            .query_opt(&statement, &[&id])
            .await
            .map_err(map_err)?
        {
            Some(row) => Ok(Some(self.codec.decode_task(&get::<String>(&row, 0)?)?)),
            None => Ok(None),
        }
    }

    async fn due_workflows(&self, now: i64, limit: usize) -> StoreResult<Vec<String>> {
        self.ids(
            "SELECT id FROM workflow WHERE next_check_at IS NOT NULL AND next_check_at <= $1
             ORDER BY next_check_at LIMIT $2",
            &[&now, &to_i64(limit)],
        )
        .await
    }

    async fn next_check_due(&self) -> StoreResult<Option<i64>> {
        self.optional_number(
            "SELECT MIN(next_check_at) FROM workflow WHERE next_check_at IS NOT NULL",
        )
        .await
    }

    async fn queue_sizes(&self, names: &[String]) -> StoreResult<HashMap<String, i64>> {
        let client = self.client().await?;
        let mut sizes = HashMap::new();
        if names.is_empty() {
            let statement = client
                .prepare_cached("SELECT queue_name, COUNT(*) FROM queue GROUP BY queue_name")
                .await
                .map_err(map_err)?;
            for row in client.query(&statement, &[]).await.map_err(map_err)? {
                sizes.insert(get(&row, 0)?, get(&row, 1)?);
            }
        } else {
            let statement = client
                .prepare_cached(
                    "SELECT name, (SELECT COUNT(*) FROM queue WHERE queue_name = name)
                     FROM unnest($1::text[]) AS name",
                )
                .await
                .map_err(map_err)?;
            for row in client.query(&statement, &[&names]).await.map_err(map_err)? {
                sizes.insert(get(&row, 0)?, get(&row, 1)?);
            }
        }
        Ok(sizes)
    }

    async fn workflow_counts(&self) -> StoreResult<HashMap<WorkflowStatus, i64>> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached("SELECT status, COUNT(*) FROM workflow GROUP BY status")
            .await
            .map_err(map_err)?;
        let mut counts = HashMap::new();
        for row in client.query(&statement, &[]).await.map_err(map_err)? {
            let status: String = get(&row, 0)?;
            counts.insert(rows::workflow_status(&status)?, get(&row, 1)?);
        }
        Ok(counts)
    }

    async fn search_workflows(&self, search: &WorkflowSearch) -> StoreResult<(i64, Vec<Workflow>)> {
        let (total, jsons) = self.search_workflow_rows(search).await?;
        let workflows = jsons
            .iter()
            .map(|json| self.codec.decode_workflow(json))
            .collect::<StoreResult<Vec<_>>>()?;
        Ok((total, workflows))
    }

    async fn search_tasks(&self, search: &TaskSearch) -> StoreResult<(i64, Vec<Task>)> {
        let (total, jsons) = self.search_task_rows(search).await?;
        let tasks = jsons
            .iter()
            .map(|json| self.codec.decode_task(json))
            .collect::<StoreResult<Vec<_>>>()?;
        Ok((total, tasks))
    }

    async fn workflows_by_correlation(
        &self,
        name: &str,
        correlation_id: &str,
        include_closed: bool,
    ) -> StoreResult<Vec<String>> {
        let sql = if include_closed {
            "SELECT id FROM workflow WHERE correlation_id = $1 AND name = $2 ORDER BY start_time DESC"
        } else {
            "SELECT id FROM workflow WHERE correlation_id = $1 AND name = $2
               AND status IN ('RUNNING', 'PAUSED') ORDER BY start_time DESC"
        };
        self.ids(sql, &[&correlation_id, &name]).await
    }

    async fn running_workflows(
        &self,
        name: &str,
        version: Option<i32>,
        start_after: Option<i64>,
        start_before: Option<i64>,
    ) -> StoreResult<Vec<String>> {
        self.ids(
            "SELECT id FROM workflow WHERE name = $1 AND status = 'RUNNING'
               AND ($2::integer IS NULL OR version = $2) AND ($3::bigint IS NULL OR start_time >= $3)
               AND ($4::bigint IS NULL OR start_time <= $4) ORDER BY start_time",
            &[&name, &version, &start_after, &start_before],
        )
        .await
    }

    async fn workflow_by_idempotency_key(
        &self,
        name: &str,
        key: &str,
    ) -> StoreResult<Option<(String, WorkflowStatus)>> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(
                "SELECT id, status FROM workflow WHERE name = $1 AND idempotency_key = $2",
            )
            .await
            .map_err(map_err)?;
        match client
            .query_opt(&statement, &[&name, &key])
            .await
            .map_err(map_err)?
        {
            Some(row) => {
                let status: String = get(&row, 1)?;
                Ok(Some((get(&row, 0)?, rows::workflow_status(&status)?)))
            }
            None => Ok(None),
        }
    }

    async fn child_of_task(&self, parent_task_id: &str) -> StoreResult<Option<String>> {
        Ok(self
            .ids(
                "SELECT id FROM workflow WHERE parent_task_id = $1 ORDER BY create_time DESC LIMIT 1",
                &[&parent_task_id],
            )
            .await?
            .into_iter()
            .next())
    }

    async fn operate_seqs(&self, ids: Vec<String>) -> StoreResult<Vec<(String, i64)>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT id, operate_seq FROM workflow WHERE id = ANY($1) AND operate_seq IS NOT NULL
                 UNION ALL
                 SELECT id, operate_seq FROM archived_workflow
                 WHERE id = ANY($1) AND operate_seq IS NOT NULL",
                &[&ids],
            )
            .await
            .map_err(map_err)?;
        rows.iter()
            .map(|row| Ok((crate::rows::get(row, 0)?, crate::rows::get(row, 1)?)))
            .collect()
    }

    async fn workflow_of_operate_seq(&self, seq: i64) -> StoreResult<Option<String>> {
        Ok(self
            .ids(
                "SELECT id FROM workflow WHERE operate_seq = $1
                 UNION ALL SELECT id FROM archived_workflow WHERE operate_seq = $1 LIMIT 1",
                &[&seq],
            )
            .await?
            .into_iter()
            .next())
    }

    async fn search_variables(
        &self,
        search: &podium_core::store::query::VariableSearch,
    ) -> StoreResult<(i64, Vec<podium_core::store::variables::VariableRow>)> {
        self.search_variable_rows(search).await
    }

    async fn task_logs(&self, task_id: &str) -> StoreResult<Vec<TaskExecLog>> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached("SELECT log, created_time FROM task_log WHERE task_id = $1 ORDER BY id")
            .await
            .map_err(map_err)?;
        client
            .query(&statement, &[&task_id])
            .await
            .map_err(map_err)?
            .iter()
            .map(|row| {
                Ok(TaskExecLog {
                    log: get(row, 0)?,
                    task_id: Some(task_id.to_string()),
                    created_time: get(row, 1)?,
                })
            })
            .collect()
    }

    async fn archive_candidates(
        &self,
        ended_before: i64,
        limit: usize,
    ) -> StoreResult<Vec<String>> {
        self.ids(
            "SELECT id FROM workflow
             WHERE status IN ('COMPLETED', 'FAILED', 'TERMINATED', 'TIMED_OUT')
               AND end_time > 0 AND end_time < $1
             LIMIT $2",
            &[&ended_before, &to_i64(limit)],
        )
        .await
    }

    async fn get_archived(&self, id: &str) -> StoreResult<Option<ArchivedWorkflow>> {
        let client = self.client().await?;
        rows::load_archived(&client, id).await
    }

    async fn archived_sealed_stale(
        &self,
        current: &str,
        after: &str,
        limit: usize,
    ) -> StoreResult<Vec<String>> {
        self.ids(
            "SELECT id FROM archived_workflow
             WHERE sealed_key IS NOT NULL AND sealed_key <> $1 AND id > $2
             ORDER BY id LIMIT $3",
            &[&current, &after, &to_i64(limit)],
        )
        .await
    }

    async fn payload_keys(&self) -> StoreResult<Vec<String>> {
        self.ids("SELECT key_id FROM payload_key ORDER BY key_id", &[])
            .await
    }

    async fn forget_payload_keys_except(&self, current: &str) -> StoreResult<()> {
        self.change("DELETE FROM payload_key WHERE key_id <> $1", &[&current])
            .await
            .map(|_| ())
    }

    async fn archived_seal_keys(&self) -> StoreResult<Vec<String>> {
        self.ids(
            "SELECT DISTINCT sealed_key FROM archived_workflow
             WHERE sealed_key IS NOT NULL ORDER BY sealed_key",
            &[],
        )
        .await
    }

    async fn live_sealed_stale(&self, current: &str) -> StoreResult<Vec<String>> {
        // Each row is sealed at once, with one key: a row holding sealed values but
        // not the current key's id is stale.
        let current = format!("\"keyId\":\"{current}\"");
        let marker = format!("%\"{}\"%", podium_core::service::at_rest::AT_REST);
        self.ids(
            "SELECT id FROM workflow WHERE json LIKE $1 AND strpos(json, $2) = 0
             UNION
             SELECT workflow_id FROM task WHERE json LIKE $1 AND strpos(json, $2) = 0",
            &[&marker, &current],
        )
        .await
    }

    async fn reseal_archived(
        &self,
        archived: ArchivedWorkflow,
        from_key: &str,
    ) -> StoreResult<bool> {
        let json = rows::archived_json(&archived)?;
        let changed = self
            .change(
                "UPDATE archived_workflow SET json = $1, sealed_key = $2
                 WHERE id = $3 AND sealed_key = $4",
                &[
                    &json,
                    &archived.sealed_key,
                    &archived.workflow.workflow_id,
                    &from_key,
                ],
            )
            .await?;
        Ok(changed == 1)
    }

    async fn record_poll(&self, poll: PollData) -> StoreResult<()> {
        let domain = poll.domain.clone().unwrap_or_default();
        self.change(
            "INSERT INTO poll_data (task_type, domain, worker_id, last_poll_time) VALUES ($1, $2, $3, $4)
             ON CONFLICT (task_type, domain, worker_id) DO UPDATE SET last_poll_time = excluded.last_poll_time",
            &[&poll.queue_name, &domain, &poll.worker_id, &poll.last_poll_time],
        )
        .await
        .map(|_| ())
    }

    async fn poll_data(&self, task_type: Option<&str>) -> StoreResult<Vec<PollData>> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(
                "SELECT task_type, domain, worker_id, last_poll_time FROM poll_data
                 WHERE $1::text IS NULL OR task_type = $1 ORDER BY task_type, domain, worker_id",
            )
            .await
            .map_err(map_err)?;
        client
            .query(&statement, &[&task_type])
            .await
            .map_err(map_err)?
            .iter()
            .map(|row| {
                let domain: String = get(row, 1)?;
                Ok(PollData {
                    queue_name: get(row, 0)?,
                    domain: (!domain.is_empty()).then_some(domain),
                    worker_id: get(row, 2)?,
                    last_poll_time: get(row, 3)?,
                })
            })
            .collect()
    }
}
