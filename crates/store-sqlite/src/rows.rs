//! Rows to model values and back: loading a workflow with its tasks, and writing a
//! unit of work's changes.

use std::sync::Arc;

use podium_core::engine::state::{Authority, WorkflowState};
use podium_core::model::{Task, TaskStatus, Workflow, WorkflowStatus};
use podium_core::store::{
    ArchivedWorkflow, ChangeSet, Committed, RowPlan, StoreError, StoreResult, rows_to_write,
};
use rusqlite::{Connection, OptionalExtension, params};

use crate::codec::Codec;
use crate::{Revisions, map_err};

pub(crate) fn corrupt(what: &str, err: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {err}"))
}

/// An archived workflow's JSON (written redacted, never sealed at rest).
fn decode_archived(json: &str) -> StoreResult<Workflow> {
    serde_json::from_str(json).map_err(|e| corrupt("workflow", e))
}

fn encode<T: serde::Serialize>(value: &T) -> StoreResult<String> {
    serde_json::to_string(value).map_err(|e| StoreError::backend(format!("encoding failed: {e}")))
}

/// The tasks of a workflow, in sequence order.
pub(crate) fn load_tasks(
    conn: &Connection,
    codec: &Codec,
    workflow_id: &str,
) -> StoreResult<Vec<Task>> {
    let mut stmt = conn
        .prepare_cached("SELECT json FROM task WHERE workflow_id = ?1 ORDER BY seq")
        .map_err(map_err)?;
    let rows = stmt
        .query_map([workflow_id], |row| row.get::<_, String>(0))
        .map_err(map_err)?;
    let mut tasks = Vec::new();
    for json in rows {
        tasks.push(codec.decode_task(&json.map_err(map_err)?)?);
    }
    Ok(tasks)
}

/// A workflow record (no tasks) with its revision and next check time.
pub(crate) fn load_record(
    conn: &Connection,
    codec: &Codec,
    id: &str,
) -> StoreResult<Option<(Workflow, String, Option<i64>)>> {
    Ok(load_row(conn, codec, id)?.map(|(workflow, revision, next, _)| (workflow, revision, next)))
}

/// A workflow's row: the record, its revision, next check and authority.
type WorkflowRow = (Workflow, String, Option<i64>, Authority);

fn load_row(conn: &Connection, codec: &Codec, id: &str) -> StoreResult<Option<WorkflowRow>> {
    let row = conn
        .prepare_cached(
            "SELECT json, def_revision, next_check_at, authority FROM workflow WHERE id = ?1",
        )
        .map_err(map_err)?
        .query_row([id], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, Option<i64>>(2)?,
                row.get::<_, Option<String>>(3)?,
            ))
        })
        .optional()
        .map_err(map_err)?;
    let Some((json, revision, next, authority)) = row else {
        return Ok(None);
    };
    let authority = match authority {
        Some(text) => serde_json::from_str(&text).map_err(|e| corrupt("workflow authority", e))?,
        None => Authority::default(),
    };
    Ok(Some((
        codec.decode_workflow(&json)?,
        revision,
        next,
        authority,
    )))
}

/// The stored form of a run's authority: NULL when it records nothing.
fn authority_column(authority: &Authority) -> StoreResult<Option<String>> {
    if authority.is_empty() {
        return Ok(None);
    }
    serde_json::to_string(authority)
        .map(Some)
        .map_err(|e| StoreError::backend(format!("encoding failed: {e}")))
}

/// A workflow with its tasks and definition.
pub(crate) fn load_state(
    conn: &Connection,
    revisions: &Revisions,
    codec: &Codec,
    id: &str,
) -> StoreResult<Option<WorkflowState>> {
    let Some((workflow, revision, next_check, authority)) = load_row(conn, codec, id)? else {
        return Ok(None);
    };
    let def = revisions.get(conn, &revision)?.ok_or_else(|| {
        StoreError::Corrupt(format!(
            "workflow {id} refers to missing definition revision {revision}"
        ))
    })?;
    let tasks = load_tasks(conn, codec, id)?;
    Ok(Some(WorkflowState::loaded(
        workflow, def, revision, next_check, authority, tasks,
    )))
}

// Rows are written with plain INSERT or UPDATE, never upserts: an upsert makes SQLite
// keep a statement journal (a copy of every page it touches), a large cost per write.
//
// An UPDATE rewrites the entry of every index that has a column in its SET list, even
// when the value is the same, and each such entry dirties a page that the commit
// writes to the log. So updates set only the columns that changed, which for a
// running workflow is usually its times, its JSON and perhaps its status or next
// check.

// A new execution takes the next Operate sequence number (drawn just before, by
// NEXT_OPERATE_SEQ); one coming back from the archive keeps its own (the archived row
// is deleted later in the same write).
const INSERT_WORKFLOW: &str = "INSERT INTO workflow (id, name, version, status, correlation_id,
    parent_workflow_id, parent_task_id, idempotency_key, priority, created_by, create_time,
    start_time, end_time, update_time, next_check_at, def_revision, json, authority, operate_seq)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18,
        COALESCE((SELECT operate_seq FROM archived_workflow WHERE id = ?1), (SELECT n FROM operate_seq_counter)))";

/// Draws the next Operate sequence number for the execution `?1` about to be stored,
/// unless it comes back from the archive with its own.
const NEXT_OPERATE_SEQ: &str = "UPDATE operate_seq_counter SET n = n + 1
    WHERE NOT EXISTS (SELECT 1 FROM archived_workflow WHERE id = ?1)";

const UPDATE_WORKFLOW: &str = "UPDATE workflow SET name = ?2, version = ?3, status = ?4,
    correlation_id = ?5, parent_workflow_id = ?6, parent_task_id = ?7, idempotency_key = ?8,
    priority = ?9, created_by = ?10, create_time = ?11, start_time = ?12, end_time = ?13,
    update_time = ?14, next_check_at = ?15, def_revision = ?16, json = ?17, authority = ?18
    WHERE id = ?1";

/// A workflow's columns as its row holds them, except the times and JSON that every
/// update writes: what an update compares against to leave unchanged columns (and
/// their index entries) alone.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct StoredColumns {
    status: &'static str,
    next_check_at: Option<i64>,
    rest: OtherColumns,
}

/// The columns that change only through restarts, reruns and idempotency replacement.
#[derive(Clone, PartialEq, Eq)]
struct OtherColumns {
    name: String,
    version: i32,
    correlation_id: Option<String>,
    parent_workflow_id: Option<String>,
    parent_task_id: Option<String>,
    idempotency_key: Option<String>,
    priority: i32,
    created_by: Option<String>,
    create_time: i64,
    start_time: i64,
    def_revision: String,
    authority: Authority,
}

impl StoredColumns {
    /// The columns a state is stored with.
    pub(crate) fn of(state: &WorkflowState) -> StoredColumns {
        let wf = &state.workflow;
        StoredColumns {
            status: wf.status.as_str(),
            next_check_at: state.next_check_at,
            rest: OtherColumns {
                name: wf.workflow_name.clone(),
                version: wf.workflow_version,
                correlation_id: wf.correlation_id.clone(),
                parent_workflow_id: wf.parent_workflow_id.clone(),
                parent_task_id: wf.parent_workflow_task_id.clone(),
                idempotency_key: wf.idempotency_key.clone(),
                priority: wf.priority,
                created_by: wf.created_by.clone(),
                create_time: wf.create_time,
                start_time: wf.start_time,
                def_revision: state.def_revision.clone(),
                authority: state.authority.clone(),
            },
        }
    }
}

/// The UPDATE for a workflow whose other columns are as stored: the times and JSON,
/// plus the status and next check when they changed. Parameters: ?1 id, ?2 end time,
/// ?3 update time, ?4 JSON, ?5 status, ?6 next check.
fn narrow_update(status: bool, next_check: bool) -> &'static str {
    match (status, next_check) {
        (false, false) => {
            "UPDATE workflow SET end_time = ?2, update_time = ?3, json = ?4 WHERE id = ?1"
        }
        (true, false) => {
            "UPDATE workflow SET end_time = ?2, update_time = ?3, json = ?4, status = ?5 WHERE id = ?1"
        }
        (false, true) => {
            "UPDATE workflow SET end_time = ?2, update_time = ?3, json = ?4, next_check_at = ?6 WHERE id = ?1"
        }
        (true, true) => {
            "UPDATE workflow SET end_time = ?2, update_time = ?3, json = ?4, status = ?5, next_check_at = ?6 WHERE id = ?1"
        }
    }
}

fn write_workflow(
    conn: &Connection,
    codec: &Codec,
    state: &WorkflowState,
    stored: Option<&StoredColumns>,
    masked: &[Arc<str>],
) -> StoreResult<()> {
    let wf = &state.workflow;
    let json = codec.encode_workflow(conn, wf, masked)?;
    if !state.is_new()
        && let Some(stored) = stored
    {
        let now = StoredColumns::of(state);
        if now.rest == stored.rest {
            let sql = narrow_update(
                now.status != stored.status,
                now.next_check_at != stored.next_check_at,
            );
            // Unused parameters of the narrower statements are simply not bound.
            let mut statement = conn.prepare_cached(sql).map_err(map_err)?;
            statement
                .raw_bind_parameter(1, &wf.workflow_id)
                .and_then(|()| statement.raw_bind_parameter(2, wf.end_time))
                .and_then(|()| statement.raw_bind_parameter(3, wf.update_time))
                .and_then(|()| statement.raw_bind_parameter(4, &json))
                .map_err(map_err)?;
            if now.status != stored.status {
                statement
                    .raw_bind_parameter(5, now.status)
                    .map_err(map_err)?;
            }
            if now.next_check_at != stored.next_check_at {
                statement
                    .raw_bind_parameter(6, now.next_check_at)
                    .map_err(map_err)?;
            }
            statement.raw_execute().map_err(map_err)?;
            return Ok(());
        }
    }
    let sql = if state.is_new() {
        conn.prepare_cached(NEXT_OPERATE_SEQ)
            .and_then(|mut s| s.execute([&wf.workflow_id]))
            .map_err(map_err)?;
        INSERT_WORKFLOW
    } else {
        UPDATE_WORKFLOW
    };
    conn.prepare_cached(sql)
        .map_err(map_err)?
        .execute(params![
            wf.workflow_id,
            wf.workflow_name,
            wf.workflow_version,
            wf.status.as_str(),
            wf.correlation_id,
            wf.parent_workflow_id,
            wf.parent_workflow_task_id,
            wf.idempotency_key,
            wf.priority,
            wf.created_by,
            wf.create_time,
            wf.start_time,
            wf.end_time,
            wf.update_time,
            state.next_check_at,
            state.def_revision,
            json,
            authority_column(&state.authority)?,
        ])
        .map_err(map_err)?;
    Ok(())
}

const INSERT_TASK: &str = "INSERT INTO task (id, workflow_id, seq, ref_name, task_type, task_def_name,
    status, domain, worker_id, workflow_type, scheduled_time, start_time, end_time, update_time, json)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)";

// A task's workflow and position never change, so an update leaves them (and the
// `task_workflow` index) alone; ?2 and ?3 are not bound.
const UPDATE_TASK: &str = "UPDATE task SET ref_name = ?4, task_type = ?5,
    task_def_name = ?6, status = ?7, domain = ?8, worker_id = ?9, workflow_type = ?10,
    scheduled_time = ?11, start_time = ?12, end_time = ?13, update_time = ?14, json = ?15 WHERE id = ?1";

fn write_task(
    conn: &Connection,
    codec: &Codec,
    task: &Task,
    insert: bool,
    masked: &[Arc<str>],
) -> StoreResult<()> {
    let json = codec.encode_task(conn, task, masked)?;
    conn.prepare_cached(if insert { INSERT_TASK } else { UPDATE_TASK })
        .map_err(map_err)?
        .execute(params![
            task.task_id,
            task.workflow_instance_id,
            task.seq,
            task.reference_task_name,
            task.task_type,
            task.task_def_name,
            task.status.as_str(),
            task.domain,
            task.worker_id,
            task.workflow_type,
            task.scheduled_time,
            task.start_time,
            task.end_time,
            task.update_time,
            json,
        ])
        .map_err(map_err)?;
    Ok(())
}

/// Writes a task changed outside a unit of work (a claim); `masked` are the values
/// its run masks.
pub(crate) fn update_task(
    conn: &Connection,
    codec: &Codec,
    task: &Task,
    masked: &[Arc<str>],
) -> StoreResult<()> {
    write_task(conn, codec, task, false, masked)
}

fn delete_workflow(conn: &Connection, id: &str) -> StoreResult<()> {
    conn.prepare_cached(
        "DELETE FROM task_log WHERE task_id IN (SELECT id FROM task WHERE workflow_id = ?1)",
    )
    .and_then(|mut s| s.execute([id]))
    .map_err(map_err)?;
    crate::variables::forget_live(conn, id)?;
    for sql in [
        "DELETE FROM queue WHERE workflow_id = ?1",
        "DELETE FROM task WHERE workflow_id = ?1",
        "DELETE FROM job WHERE workflow_id = ?1",
        "DELETE FROM workflow WHERE id = ?1",
    ] {
        conn.prepare_cached(sql)
            .and_then(|mut s| s.execute([id]))
            .map_err(map_err)?;
    }
    Ok(())
}

/// Writes a workflow's changes (all of it if new) and marks it clean. `stored` is what
/// its row held before, when known.
pub(crate) fn persist_state(
    conn: &Connection,
    codec: &Codec,
    state: &mut WorkflowState,
    stored: Option<&StoredColumns>,
    committed: &mut Committed,
) -> StoreResult<()> {
    let Some(masked) = rows_to_write(state) else {
        return Ok(());
    };
    let plan = RowPlan::of(state, masked);
    write_workflow(conn, codec, state, stored, &plan.masked)?;
    if let Some(rows) = &plan.variables {
        crate::variables::write(conn, state.id(), plan.new, rows)?;
    }
    for (task, insert) in &plan.tasks {
        write_task(conn, codec, task, *insert, &plan.masked)?;
    }
    for id in plan.removed {
        conn.prepare_cached("DELETE FROM task WHERE id = ?1")
            .and_then(|mut s| s.execute([id]))
            .map_err(map_err)?;
        conn.prepare_cached("DELETE FROM queue WHERE task_id = ?1")
            .and_then(|mut s| s.execute([id]))
            .map_err(map_err)?;
    }
    RowPlan::written(state, committed);
    Ok(())
}

/// Writes a change set (after the locked workflow's own changes).
pub(crate) fn persist_changes(
    conn: &Connection,
    codec: &Codec,
    changes: &mut ChangeSet,
    committed: &mut Committed,
) -> StoreResult<()> {
    for id in &changes.unarchives {
        crate::variables::forget_unarchived(conn, id)?;
    }
    for state in &mut changes.new_workflows {
        persist_state(conn, codec, state, None, committed)?;
    }
    for task_id in &changes.queue_removals {
        conn.prepare_cached("DELETE FROM queue WHERE task_id = ?1")
            .and_then(|mut s| s.execute([task_id]))
            .map_err(map_err)?;
    }
    for message in &changes.queue_pushes {
        let moved = conn
            .prepare_cached("UPDATE queue SET queue_name = ?2, priority = ?3, visible_at = ?4 WHERE task_id = ?1")
            .and_then(|mut s| {
                s.execute(params![
                    message.task_id,
                    message.queue_name,
                    message.priority,
                    message.visible_at
                ])
            })
            .map_err(map_err)?;
        if moved == 0 {
            conn.prepare_cached(
                "INSERT INTO queue (task_id, queue_name, workflow_id, priority, visible_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    message.task_id,
                    message.queue_name,
                    message.workflow_id,
                    message.priority,
                    message.visible_at
                ])
            })
            .map_err(map_err)?;
        }
        committed
            .queues
            .push((message.queue_name.clone(), message.visible_at));
    }
    for job in &changes.job_adds {
        conn.prepare_cached(
            "INSERT INTO job (id, kind, workflow_id, task_id, payload, due_at, lane) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )
        .and_then(|mut s| {
            s.execute(params![
                job.id,
                job.effect.kind_name(),
                job.workflow_id,
                job.task_id,
                job.effect.payload().to_string(),
                job.due_at,
                job.lane.number()
            ])
        })
        .map_err(map_err)?;
        committed.jobs_added = true;
    }
    for id in &changes.job_deletes {
        conn.prepare_cached("DELETE FROM job WHERE id = ?1")
            .and_then(|mut s| s.execute([id]))
            .map_err(map_err)?;
    }
    for log in &changes.task_logs {
        conn.prepare_cached(
            "INSERT INTO task_log (task_id, created_time, log) VALUES (?1, ?2, ?3)",
        )
        .and_then(|mut s| s.execute(params![log.task_id, log.created_time, log.log]))
        .map_err(map_err)?;
    }
    // Archived before the live rows go: the archived row takes the live one's
    // Operate sequence number.
    for archived in &changes.archives {
        archive_workflow(conn, archived)?;
    }
    for id in &changes.workflow_deletes {
        delete_workflow(conn, id)?;
    }
    for id in &changes.unarchives {
        conn.prepare_cached("DELETE FROM archived_workflow WHERE id = ?1")
            .and_then(|mut s| s.execute([id]))
            .map_err(map_err)?;
    }
    crate::schedules::persist_runs(conn, &changes.schedule_runs)?;
    Ok(())
}

fn archive_workflow(conn: &Connection, archived: &ArchivedWorkflow) -> StoreResult<()> {
    let wf = &archived.workflow;
    let json = encode(wf)?;
    let authority = authority_column(&archived.authority)?;
    // A workflow archived without a live row (none here does that) takes a new number.
    conn.prepare_cached(
        "UPDATE operate_seq_counter SET n = n + 1
         WHERE NOT EXISTS (SELECT 1 FROM workflow WHERE id = ?1)",
    )
    .and_then(|mut s| s.execute([&wf.workflow_id]))
    .map_err(map_err)?;
    conn.prepare_cached(
        "INSERT INTO archived_workflow (id, name, version, status, correlation_id,
            parent_workflow_id, parent_task_id, idempotency_key, priority, created_by,
            create_time, start_time, end_time, update_time, next_check_at, def_revision, json,
            sealed_key, authority, operate_seq)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, NULL, ?8, ?9, ?10, ?11, ?12, ?13, NULL, ?14, ?15, ?16, ?17,
            COALESCE((SELECT operate_seq FROM workflow WHERE id = ?1), (SELECT n FROM operate_seq_counter)))",
    )
    .and_then(|mut s| {
        s.execute(params![
            wf.workflow_id,
            wf.workflow_name,
            wf.workflow_version,
            wf.status.as_str(),
            wf.correlation_id,
            wf.parent_workflow_id,
            wf.parent_workflow_task_id,
            wf.priority,
            wf.created_by,
            wf.create_time,
            wf.start_time,
            wf.end_time,
            wf.update_time,
            archived.def_revision,
            json,
            archived.sealed_key,
            authority
        ])
    })
    .map_err(map_err)?;
    Ok(())
}

/// Replaces an archived workflow's JSON and seal key if it is still sealed with
/// `from_key`; false when it is not.
pub(crate) fn reseal_archived(
    conn: &Connection,
    archived: &ArchivedWorkflow,
    from_key: &str,
) -> StoreResult<bool> {
    let json = encode(&archived.workflow)?;
    let changed = conn
        .prepare_cached(
            "UPDATE archived_workflow SET json = ?1, sealed_key = ?2
             WHERE id = ?3 AND sealed_key = ?4",
        )
        .and_then(|mut s| {
            s.execute(params![
                json,
                archived.sealed_key,
                archived.workflow.workflow_id,
                from_key
            ])
        })
        .map_err(map_err)?;
    Ok(changed == 1)
}

/// An archived workflow, with its tasks.
pub(crate) fn load_archived(conn: &Connection, id: &str) -> StoreResult<Option<ArchivedWorkflow>> {
    let row = conn
        .prepare_cached(
            "SELECT json, def_revision, sealed_key, authority FROM archived_workflow WHERE id = ?1",
        )
        .map_err(map_err)?
        .query_row([id], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, Option<String>>(2)?,
                row.get::<_, Option<String>>(3)?,
            ))
        })
        .optional()
        .map_err(map_err)?;
    match row {
        Some((json, def_revision, sealed_key, authority)) => Ok(Some(ArchivedWorkflow {
            workflow: decode_archived(&json)?,
            def_revision,
            sealed_key,
            authority: match authority {
                Some(text) => serde_json::from_str(&text)
                    .map_err(|e| corrupt("archived workflow authority", e))?,
                None => Authority::default(),
            },
        })),
        None => Ok(None),
    }
}

/// Refuses new workflows whose idempotency key is already taken for their definition
/// (unless the locked workflow of the same unit gives the key up), before anything is
/// written.
pub(crate) fn check_idempotency(
    conn: &Connection,
    locked: Option<&WorkflowState>,
    changes: &ChangeSet,
) -> StoreResult<()> {
    for state in &changes.new_workflows {
        let Some(key) = &state.workflow.idempotency_key else {
            continue;
        };
        let holder: Option<String> = conn
            .prepare_cached("SELECT id FROM workflow WHERE name = ?1 AND idempotency_key = ?2")
            .and_then(|mut s| {
                s.query_row(params![state.workflow.workflow_name, key], |row| row.get(0))
                    .optional()
            })
            .map_err(map_err)?;
        let released = locked.is_some_and(|l| {
            Some(l.id()) == holder.as_deref() && l.workflow.idempotency_key.is_none()
        });
        if holder.is_some() && !released {
            return Err(StoreError::Conflict(format!(
                "Workflow with idempotency key {key} already exists"
            )));
        }
    }
    Ok(())
}

/// Parses a stored workflow status.
pub(crate) fn workflow_status(text: &str) -> StoreResult<WorkflowStatus> {
    WorkflowStatus::parse(text).ok_or_else(|| corrupt("workflow status", text))
}

/// Parses a stored task status.
#[allow(dead_code)]
pub(crate) fn task_status(text: &str) -> StoreResult<TaskStatus> {
    TaskStatus::parse(text).ok_or_else(|| corrupt("task status", text))
}
