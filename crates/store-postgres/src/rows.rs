//! Rows to model values and back: loading a workflow with its tasks, and writing a
//! unit of work's changes.
//!
//! Writes are collected into a [`Writes`] batch and sent together: the driver
//! pipelines them on the transaction's connection, so a unit of work costs a few
//! round trips to the database, not one per row.

use std::collections::BTreeSet;
use std::sync::Arc;

use deadpool_postgres::GenericClient;
use futures_util::FutureExt;
use podium_core::engine::state::{Authority, WorkflowState};
use podium_core::model::{Task, Workflow, WorkflowStatus};
use podium_core::store::{
    ArchivedWorkflow, ChangeSet, Committed, RowCodec, RowPlan, StoreError, StoreResult,
    rows_to_write,
};
use tokio_postgres::types::ToSql;
use tokio_postgres::{Row, Statement};

use crate::tx::{Tx, sent};
use crate::{Revisions, map_err};

/// A bound parameter, owned until the batch is sent.
pub(crate) type Param = Box<dyn ToSql + Sync + Send>;

/// Statements to run in order in one transaction, sent together.
#[derive(Default)]
pub(crate) struct Writes {
    items: Vec<(&'static str, Vec<Param>)>,
    /// Keys that sealed values in the rows written, recorded in `payload_key`.
    keys: BTreeSet<String>,
}

impl Writes {
    pub(crate) fn push(&mut self, sql: &'static str, params: Vec<Param>) {
        self.items.push((sql, params));
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.items.is_empty() && self.keys.is_empty()
    }

    /// Prepares every statement (the `payload_key` rows last), so that sending them
    /// afterwards never waits between two of them.
    pub(crate) async fn prepare(mut self, client: &impl GenericClient) -> StoreResult<Prepared> {
        for key in std::mem::take(&mut self.keys) {
            self.push(
                "INSERT INTO payload_key (key_id) VALUES ($1) ON CONFLICT DO NOTHING",
                vec![Box::new(key)],
            );
        }
        let mut items = Vec::with_capacity(self.items.len());
        for (sql, params) in self.items {
            items.push((client.prepare_cached(sql).await.map_err(map_err)?, params));
        }
        Ok(Prepared { items })
    }
}

/// A batch whose statements are prepared: sending it costs no round trip of its own.
pub(crate) struct Prepared {
    items: Vec<(Statement, Vec<Param>)>,
}

impl Prepared {
    /// One future per statement, in order; each sends its statement when first polled.
    pub(crate) fn sends<'a, C: GenericClient>(
        &'a self,
        client: &'a C,
    ) -> Vec<impl Future<Output = StoreResult<u64>> + Send + 'a> {
        self.items
            .iter()
            .map(|(statement, params)| {
                client
                    .execute_raw(
                        statement,
                        params.iter().map(|p| p.as_ref() as &(dyn ToSql + Sync)),
                    )
                    .map(|done| done.map_err(map_err))
            })
            .collect()
    }
}

pub(crate) fn corrupt(what: &str, err: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {err}"))
}

/// A column's value, or a store error naming the column.
pub(crate) fn get<'a, T: tokio_postgres::types::FromSql<'a>>(
    row: &'a Row,
    index: usize,
) -> StoreResult<T> {
    row.try_get(index).map_err(map_err)
}

fn encode<T: serde::Serialize>(value: &T) -> StoreResult<String> {
    serde_json::to_string(value).map_err(StoreError::backend)
}

/// The stored form of a run's authority: NULL when it records nothing.
fn authority_column(authority: &Authority) -> StoreResult<Option<String>> {
    if authority.is_empty() {
        return Ok(None);
    }
    encode(authority).map(Some)
}

fn parse_authority(text: Option<String>) -> StoreResult<Authority> {
    match text {
        Some(text) => serde_json::from_str(&text).map_err(|e| corrupt("workflow authority", e)),
        None => Ok(Authority::default()),
    }
}

/// A workflow's row: the record, its revision, next check and authority.
pub(crate) type WorkflowRow = (Workflow, String, Option<i64>, Authority);

/// Columns `json, def_revision, next_check_at, authority` of a workflow row.
pub(crate) fn workflow_row(codec: &RowCodec, row: &Row) -> StoreResult<WorkflowRow> {
    let json: String = get(row, 0)?;
    Ok((
        codec.decode_workflow(&json)?,
        get(row, 1)?,
        get(row, 2)?,
        parse_authority(get(row, 3)?)?,
    ))
}

pub(crate) const SELECT_WORKFLOW: &str =
    "SELECT json, def_revision, next_check_at, authority FROM workflow WHERE id = $1";
pub(crate) const LOCK_WORKFLOW: &str =
    "SELECT json, def_revision, next_check_at, authority FROM workflow WHERE id = $1 FOR UPDATE";
pub(crate) const SELECT_TASKS: &str = "SELECT json FROM task WHERE workflow_id = $1 ORDER BY seq";

/// The workflow and its tasks as one statement reads them, so a read outside a
/// transaction sees one committed state.
const SELECT_WHOLE: &str =
    "SELECT 0 AS part, 0 AS seq, json, def_revision, next_check_at, authority
       FROM workflow WHERE id = $1
     UNION ALL
     SELECT 1, seq, json, NULL, NULL, NULL FROM task WHERE workflow_id = $1
     ORDER BY part, seq";

/// Builds a state from its workflow row and task rows.
async fn assemble(
    client: &impl GenericClient,
    revisions: &Revisions,
    codec: &RowCodec,
    id: &str,
    row: WorkflowRow,
    task_rows: impl Iterator<Item = StoreResult<String>>,
) -> StoreResult<WorkflowState> {
    let (workflow, revision, next_check, authority) = row;
    let def = revisions.get(client, &revision).await?.ok_or_else(|| {
        StoreError::Corrupt(format!(
            "workflow {id} refers to missing definition revision {revision}"
        ))
    })?;
    let mut tasks = Vec::new();
    for json in task_rows {
        tasks.push(codec.decode_task(&json?)?);
    }
    Ok(WorkflowState::loaded(
        workflow, def, revision, next_check, authority, tasks,
    ))
}

/// A workflow with its tasks and definition, as committed.
pub(crate) async fn load_state(
    client: &impl GenericClient,
    revisions: &Revisions,
    codec: &RowCodec,
    id: &str,
) -> StoreResult<Option<WorkflowState>> {
    let statement = client.prepare_cached(SELECT_WHOLE).await.map_err(map_err)?;
    let rows = client.query(&statement, &[&id]).await.map_err(map_err)?;
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    if get::<i32>(first, 0)? != 0 {
        // Tasks without their workflow: nothing to load.
        return Ok(None);
    }
    let (workflow, revision, next, authority_text) = (
        get::<String>(first, 2)?,
        get::<String>(first, 3)?,
        get::<Option<i64>>(first, 4)?,
        get::<Option<String>>(first, 5)?,
    );
    let row = (
        codec.decode_workflow(&workflow)?,
        revision,
        next,
        parse_authority(authority_text)?,
    );
    let tasks = rows[1..].iter().map(|r| get::<String>(r, 2));
    assemble(client, revisions, codec, id, row, tasks)
        .await
        .map(Some)
}

/// Opens the transaction, locks a workflow's row for the rest of it and loads the
/// workflow with its tasks: `BEGIN` and both statements in one round trip. The tasks
/// are read by a statement of their own, which starts after the lock is held: its
/// snapshot then shows every change made to them before the lock was granted.
pub(crate) async fn lock_state(
    tx: &Tx,
    revisions: &Revisions,
    codec: &RowCodec,
    id: &str,
) -> StoreResult<Option<WorkflowState>> {
    let lock = tx.prepare(LOCK_WORKFLOW).await?;
    let tasks = tx.prepare(SELECT_TASKS).await?;
    let client = tx.client();
    let begin = sent(tx.begin())?;
    let row = sent(async { client.query_opt(&lock, &[&id]).await.map_err(map_err) })?;
    let task_rows = sent(async { client.query(&tasks, &[&id]).await.map_err(map_err) })?;
    let ((), row, task_rows) = futures_util::future::try_join3(begin, row, task_rows).await?;
    let Some(row) = row else { return Ok(None) };
    let row = workflow_row(codec, &row)?;
    let tasks = task_rows.iter().map(|r| get::<String>(r, 0));
    assemble(client, revisions, codec, id, row, tasks)
        .await
        .map(Some)
}

// A new execution takes the next Operate sequence number; one coming back from the
// archive keeps its own (the archived row is deleted later in the same transaction).
// COALESCE stops at its first value, so no number is drawn for nothing.
const INSERT_WORKFLOW: &str = "INSERT INTO workflow (id, name, version, status, correlation_id,
    parent_workflow_id, parent_task_id, idempotency_key, priority, created_by, create_time,
    start_time, end_time, update_time, next_check_at, def_revision, json, authority, operate_seq)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
        COALESCE((SELECT operate_seq FROM archived_workflow WHERE id = $1),
            nextval('operate_seq_source')))";

// PostgreSQL keeps an update "heap-only" (no index writes) when no indexed column
// changes value, whatever the SET list names; so one statement serves every update.
const UPDATE_WORKFLOW: &str = "UPDATE workflow SET name = $2, version = $3, status = $4,
    correlation_id = $5, parent_workflow_id = $6, parent_task_id = $7, idempotency_key = $8,
    priority = $9, created_by = $10, create_time = $11, start_time = $12, end_time = $13,
    update_time = $14, next_check_at = $15, def_revision = $16, json = $17, authority = $18
    WHERE id = $1";

fn write_workflow(
    writes: &mut Writes,
    codec: &RowCodec,
    state: &WorkflowState,
    new: bool,
    masked: &[Arc<str>],
) -> StoreResult<()> {
    let wf = &state.workflow;
    let encoded = codec.encode_workflow(wf, masked)?;
    writes.keys.extend(encoded.sealed_with);
    writes.push(
        if new {
            INSERT_WORKFLOW
        } else {
            UPDATE_WORKFLOW
        },
        vec![
            Box::new(wf.workflow_id.clone()),
            Box::new(wf.workflow_name.clone()),
            Box::new(wf.workflow_version),
            Box::new(wf.status.as_str()),
            Box::new(wf.correlation_id.clone()),
            Box::new(wf.parent_workflow_id.clone()),
            Box::new(wf.parent_workflow_task_id.clone()),
            Box::new(wf.idempotency_key.clone()),
            Box::new(wf.priority),
            Box::new(wf.created_by.clone()),
            Box::new(wf.create_time),
            Box::new(wf.start_time),
            Box::new(wf.end_time),
            Box::new(wf.update_time),
            Box::new(state.next_check_at),
            Box::new(state.def_revision.clone()),
            Box::new(encoded.json),
            Box::new(authority_column(&state.authority)?),
        ],
    );
    Ok(())
}

const INSERT_TASK: &str = "INSERT INTO task (id, workflow_id, seq, ref_name, task_type, task_def_name,
    status, domain, worker_id, workflow_type, scheduled_time, start_time, end_time, update_time, json)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)";

// A task's workflow and position never change: $2 and $3 only confirm the row.
const UPDATE_TASK: &str = "UPDATE task SET ref_name = $4, task_type = $5,
    task_def_name = $6, status = $7, domain = $8, worker_id = $9, workflow_type = $10,
    scheduled_time = $11, start_time = $12, end_time = $13, update_time = $14, json = $15
    WHERE id = $1 AND workflow_id = $2 AND seq = $3";

/// Adds a task's row to the batch (inserted or updated); `masked` are the values
/// its run masks.
pub(crate) fn write_task(
    writes: &mut Writes,
    codec: &RowCodec,
    task: &Task,
    insert: bool,
    masked: &[Arc<str>],
) -> StoreResult<()> {
    let encoded = codec.encode_task(task, masked)?;
    writes.keys.extend(encoded.sealed_with);
    writes.push(
        if insert { INSERT_TASK } else { UPDATE_TASK },
        vec![
            Box::new(task.task_id.clone()),
            Box::new(task.workflow_instance_id.clone()),
            Box::new(task.seq),
            Box::new(task.reference_task_name.clone()),
            Box::new(task.task_type.clone()),
            Box::new(task.task_def_name.clone()),
            Box::new(task.status.as_str()),
            Box::new(task.domain.clone()),
            Box::new(task.worker_id.clone()),
            Box::new(task.workflow_type.clone()),
            Box::new(task.scheduled_time),
            Box::new(task.start_time),
            Box::new(task.end_time),
            Box::new(task.update_time),
            Box::new(encoded.json),
        ],
    );
    Ok(())
}

/// Adds a workflow's changes (all of it if new) to the batch and marks it clean.
pub(crate) fn persist_state(
    writes: &mut Writes,
    codec: &RowCodec,
    state: &mut WorkflowState,
    committed: &mut Committed,
) -> StoreResult<()> {
    let Some(masked) = rows_to_write(state) else {
        return Ok(());
    };
    let plan = RowPlan::of(state, masked);
    write_workflow(writes, codec, state, plan.new, &plan.masked)?;
    if let Some(rows) = &plan.variables {
        crate::variables::write(writes, state.id(), plan.new, rows);
    }
    for (task, insert) in &plan.tasks {
        write_task(writes, codec, task, *insert, &plan.masked)?;
    }
    for id in plan.removed {
        writes.push("DELETE FROM task WHERE id = $1", vec![Box::new(id.clone())]);
        writes.push(
            "DELETE FROM queue WHERE task_id = $1",
            vec![Box::new(id.clone())],
        );
    }
    RowPlan::written(state, committed);
    Ok(())
}

/// Adds a change set (after the locked workflow's own changes) to the batch.
pub(crate) fn persist_changes(
    writes: &mut Writes,
    codec: &RowCodec,
    changes: &mut ChangeSet,
    committed: &mut Committed,
) -> StoreResult<()> {
    for id in &changes.unarchives {
        crate::variables::forget_unarchived(writes, id);
    }
    for state in &mut changes.new_workflows {
        persist_state(writes, codec, state, committed)?;
    }
    for task_id in &changes.queue_removals {
        writes.push(
            "DELETE FROM queue WHERE task_id = $1",
            vec![Box::new(task_id.clone())],
        );
    }
    for message in &changes.queue_pushes {
        writes.push(
            "INSERT INTO queue (task_id, queue_name, workflow_id, priority, visible_at)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (task_id) DO UPDATE SET queue_name = excluded.queue_name,
                 priority = excluded.priority, visible_at = excluded.visible_at",
            vec![
                Box::new(message.task_id.clone()),
                Box::new(message.queue_name.clone()),
                Box::new(message.workflow_id.clone()),
                Box::new(message.priority),
                Box::new(message.visible_at),
            ],
        );
        committed
            .queues
            .push((message.queue_name.clone(), message.visible_at));
    }
    for job in &changes.job_adds {
        writes.push(
            "INSERT INTO job (id, kind, workflow_id, task_id, payload, due_at, lane)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            vec![
                Box::new(job.id.clone()),
                Box::new(job.effect.kind_name()),
                Box::new(job.workflow_id.clone()),
                Box::new(job.task_id.clone()),
                Box::new(job.effect.payload().to_string()),
                Box::new(job.due_at),
                Box::new(job.lane.number()),
            ],
        );
        committed.jobs_added = true;
    }
    for id in &changes.job_deletes {
        writes.push("DELETE FROM job WHERE id = $1", vec![Box::new(id.clone())]);
    }
    for log in &changes.task_logs {
        writes.push(
            "INSERT INTO task_log (task_id, created_time, log) VALUES ($1, $2, $3)",
            vec![
                Box::new(log.task_id.clone()),
                Box::new(log.created_time),
                Box::new(log.log.clone()),
            ],
        );
    }
    // Archived before the live rows go: the archived row takes the live one's
    // Operate sequence number.
    for archived in &changes.archives {
        archive_workflow(writes, archived)?;
    }
    for id in &changes.workflow_deletes {
        crate::variables::forget_live(writes, id);
        for sql in [
            "DELETE FROM task_log WHERE task_id IN (SELECT id FROM task WHERE workflow_id = $1)",
            "DELETE FROM queue WHERE workflow_id = $1",
            "DELETE FROM task WHERE workflow_id = $1",
            "DELETE FROM job WHERE workflow_id = $1",
            "DELETE FROM workflow WHERE id = $1",
        ] {
            writes.push(sql, vec![Box::new(id.clone())]);
        }
    }
    for id in &changes.unarchives {
        writes.push(
            "DELETE FROM archived_workflow WHERE id = $1",
            vec![Box::new(id.clone())],
        );
    }
    crate::schedules::persist_runs(writes, &changes.schedule_runs)?;
    Ok(())
}

fn archive_workflow(writes: &mut Writes, archived: &ArchivedWorkflow) -> StoreResult<()> {
    let wf = &archived.workflow;
    writes.push(
        "INSERT INTO archived_workflow (id, name, version, status, correlation_id,
            parent_workflow_id, parent_task_id, idempotency_key, priority, created_by,
            create_time, start_time, end_time, update_time, next_check_at, def_revision, json,
            sealed_key, authority, operate_seq)
         VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, $8, $9, $10, $11, $12, $13, NULL, $14, $15,
            $16, $17, COALESCE((SELECT operate_seq FROM workflow WHERE id = $1),
                nextval('operate_seq_source')))",
        vec![
            Box::new(wf.workflow_id.clone()),
            Box::new(wf.workflow_name.clone()),
            Box::new(wf.workflow_version),
            Box::new(wf.status.as_str()),
            Box::new(wf.correlation_id.clone()),
            Box::new(wf.parent_workflow_id.clone()),
            Box::new(wf.parent_workflow_task_id.clone()),
            Box::new(wf.priority),
            Box::new(wf.created_by.clone()),
            Box::new(wf.create_time),
            Box::new(wf.start_time),
            Box::new(wf.end_time),
            Box::new(wf.update_time),
            Box::new(archived.def_revision.clone()),
            Box::new(encode(wf)?),
            Box::new(archived.sealed_key.clone()),
            Box::new(authority_column(&archived.authority)?),
        ],
    );
    Ok(())
}

/// An archived workflow, with its tasks.
pub(crate) async fn load_archived(
    client: &impl GenericClient,
    id: &str,
) -> StoreResult<Option<ArchivedWorkflow>> {
    let statement = client
        .prepare_cached(
            "SELECT json, def_revision, sealed_key, authority FROM archived_workflow WHERE id = $1",
        )
        .await
        .map_err(map_err)?;
    let Some(row) = client
        .query_opt(&statement, &[&id])
        .await
        .map_err(map_err)?
    else {
        return Ok(None);
    };
    let json: String = get(&row, 0)?;
    Ok(Some(ArchivedWorkflow {
        workflow: serde_json::from_str(&json).map_err(|e| corrupt("workflow", e))?,
        def_revision: get(&row, 1)?,
        sealed_key: get(&row, 2)?,
        authority: parse_authority(get(&row, 3)?)
            .map_err(|_| corrupt("archived workflow authority", "not readable"))?,
    }))
}

/// The archived workflow's JSON, for a re-seal.
pub(crate) fn archived_json(archived: &ArchivedWorkflow) -> StoreResult<String> {
    encode(&archived.workflow)
}

/// Parses a stored workflow status.
pub(crate) fn workflow_status(text: &str) -> StoreResult<WorkflowStatus> {
    WorkflowStatus::parse(text).ok_or_else(|| corrupt("workflow status", text))
}
