//! Schedules and their runs on SQLite: written on the single writer (a run in its
//! unit's transaction), read on the readers.

use podium_core::model::{ScheduleExecution, WorkflowSchedule};
use podium_core::store::{
    RunSearch, ScheduleRun, ScheduleStore, StoreError, StoreResult, StoredSchedule,
};
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension, Row, params, params_from_iter};

use crate::{SqliteStore, map_err};

fn encode<T: serde::Serialize>(value: &T) -> StoreResult<String> {
    serde_json::to_string(value).map_err(|err| StoreError::Corrupt(err.to_string()))
}

fn stored(row: &Row<'_>) -> rusqlite::Result<(Option<i64>, String)> {
    Ok((row.get(0)?, row.get(1)?))
}

fn decode_schedule((next_run_at, json): (Option<i64>, String)) -> StoreResult<StoredSchedule> {
    let schedule: WorkflowSchedule = serde_json::from_str(&json)
        .map_err(|err| StoreError::Corrupt(format!("a stored schedule cannot be read: {err}")))?;
    Ok(StoredSchedule {
        schedule,
        next_run_at,
    })
}

/// The schedules of rows that can be read; the others are logged and left out, so
/// one damaged row stops no other schedule.
fn readable(rows: Vec<(Option<i64>, String)>) -> Vec<StoredSchedule> {
    rows.into_iter()
        .filter_map(|row| match decode_schedule(row) {
            Ok(stored) => Some(stored),
            Err(err) => {
                tracing::error!(error = %err, "a stored schedule cannot be read; it is left out");
                None
            }
        })
        .collect()
}

fn decode_run(json: String) -> StoreResult<ScheduleExecution> {
    serde_json::from_str(&json)
        .map_err(|err| StoreError::Corrupt(format!("a stored schedule run cannot be read: {err}")))
}

/// Writes the runs of a unit: each record (a second one for the same due time is a
/// conflict, which fails the unit; none for a schedule deleted meanwhile), and the
/// schedule moved on if it is still due at the run's due time.
pub(crate) fn persist_runs(conn: &Connection, runs: &[ScheduleRun]) -> StoreResult<()> {
    for run in runs {
        let e = &run.execution;
        let record = encode(e)?;
        conn.prepare_cached(
            "INSERT INTO schedule_run (id, schedule_name, scheduled_time, execution_time,
                workflow_name, state, json)
             SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7 WHERE EXISTS (SELECT 1 FROM schedule WHERE name = ?2)",
        )
        .and_then(|mut s| {
            s.execute(params![
                e.execution_id,
                e.schedule_name,
                e.scheduled_time,
                e.execution_time,
                e.workflow_name,
                e.state.as_str(),
                record
            ])
        })
        .map_err(map_err)?;
        let json = run.schedule.as_ref().map(encode).transpose()?;
        conn.prepare_cached(
            "UPDATE schedule SET next_run_at = ?2, json = COALESCE(?3, json)
             WHERE name = ?1 AND next_run_at = ?4",
        )
        .and_then(|mut s| s.execute(params![e.schedule_name, run.next_run_at, json, run.due]))
        .map_err(map_err)?;
    }
    Ok(())
}

/// The WHERE clause of a search and its values.
fn run_filter(search: &RunSearch) -> (String, Vec<SqlValue>) {
    let mut clauses: Vec<String> = Vec::new();
    let mut values: Vec<SqlValue> = Vec::new();
    let mut list = |column: &str, items: Vec<String>, clauses: &mut Vec<String>| {
        let marks: Vec<String> = items
            .into_iter()
            .map(|item| {
                values.push(SqlValue::Text(item));
                format!("?{}", values.len())
            })
            .collect();
        clauses.push(if marks.is_empty() {
            "0".to_string()
        } else {
            format!("{column} IN ({})", marks.join(", "))
        });
    };
    if let Some(names) = &search.schedule_names {
        list("schedule_name", names.clone(), &mut clauses);
    }
    if !search.states.is_empty() {
        let states = search
            .states
            .iter()
            .map(|s| s.as_str().to_string())
            .collect();
        list("state", states, &mut clauses);
    }
    if let Some(name) = &search.workflow_name {
        list("workflow_name", vec![name.clone()], &mut clauses);
    }
    if let Some(id) = &search.execution_id {
        list("id", vec![id.clone()], &mut clauses);
    }
    if let Some(after) = search.scheduled_after {
        values.push(SqlValue::Integer(after));
        clauses.push(format!("scheduled_time > ?{}", values.len()));
    }
    if let Some(before) = search.scheduled_before {
        values.push(SqlValue::Integer(before));
        clauses.push(format!("scheduled_time < ?{}", values.len()));
    }
    let filter = if clauses.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", clauses.join(" AND "))
    };
    (filter, values)
}

#[async_trait::async_trait]
impl ScheduleStore for SqliteStore {
    async fn put_schedule(&self, stored: StoredSchedule) -> StoreResult<bool> {
        let json = encode(&stored.schedule)?;
        self.write_value(move |conn| {
            conn.prepare_cached(
                "UPDATE schedule SET workflow_name = ?2, next_run_at = ?3, json = ?4
                 WHERE name = ?1",
            )
            .and_then(|mut s| {
                s.execute(params![
                    stored.schedule.name,
                    stored.schedule.workflow_name(),
                    stored.next_run_at,
                    json
                ])
            })
            .map(|n| n > 0)
            .map_err(map_err)
        })
        .await
    }

    async fn insert_schedule(&self, stored: StoredSchedule) -> StoreResult<bool> {
        let json = encode(&stored.schedule)?;
        self.write_value(move |conn| {
            conn.prepare_cached(
                "INSERT INTO schedule (name, workflow_name, next_run_at, json) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (name) DO NOTHING",
            )
            .and_then(|mut s| {
                s.execute(params![
                    stored.schedule.name,
                    stored.schedule.workflow_name(),
                    stored.next_run_at,
                    json
                ])
            })
            .map(|n| n > 0)
            .map_err(map_err)
        })
        .await
    }

    async fn schedule(&self, name: &str) -> StoreResult<Option<StoredSchedule>> {
        let name = name.to_string();
        self.read(move |conn, _| {
            conn.prepare_cached("SELECT next_run_at, json FROM schedule WHERE name = ?1")
                .and_then(|mut s| s.query_row([&name], stored).optional())
                .map_err(map_err)?
                .map(decode_schedule)
                .transpose()
        })
        .await
    }

    async fn list_schedules(
        &self,
        workflow_name: Option<&str>,
    ) -> StoreResult<Vec<StoredSchedule>> {
        let workflow_name = workflow_name.map(str::to_string);
        self.read(move |conn, _| {
            let rows: Vec<(Option<i64>, String)> = conn
                .prepare_cached(
                    "SELECT next_run_at, json FROM schedule
                     WHERE ?1 IS NULL OR workflow_name = ?1 ORDER BY name",
                )
                .and_then(|mut s| {
                    s.query_map([&workflow_name], stored)?
                        .collect::<Result<_, _>>()
                })
                .map_err(map_err)?;
            Ok(readable(rows))
        })
        .await
    }

    async fn delete_schedule(&self, name: &str) -> StoreResult<bool> {
        let name = name.to_string();
        self.write_value(move |conn| {
            conn.prepare_cached("DELETE FROM schedule_run WHERE schedule_name = ?1")
                .and_then(|mut s| s.execute([&name]))
                .map_err(map_err)?;
            conn.prepare_cached("DELETE FROM schedule WHERE name = ?1")
                .and_then(|mut s| s.execute([&name]))
                .map(|n| n > 0)
                .map_err(map_err)
        })
        .await
    }

    async fn due_schedules(&self, now: i64, limit: usize) -> StoreResult<Vec<StoredSchedule>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(move |conn, _| {
            let rows: Vec<(Option<i64>, String)> = conn
                .prepare_cached(
                    "SELECT next_run_at, json FROM schedule
                     WHERE next_run_at IS NOT NULL AND next_run_at <= ?1
                     ORDER BY next_run_at, name LIMIT ?2",
                )
                .and_then(|mut s| {
                    s.query_map(params![now, limit], stored)?
                        .collect::<Result<_, _>>()
                })
                .map_err(map_err)?;
            Ok(readable(rows))
        })
        .await
    }

    async fn search_schedule_runs(
        &self,
        search: &RunSearch,
    ) -> StoreResult<(u64, Vec<ScheduleExecution>)> {
        let search = search.clone();
        self.read(move |conn, _| {
            let (filter, values) = run_filter(&search);
            let total: i64 = conn
                .prepare(&format!("SELECT count(*) FROM schedule_run{filter}"))
                .and_then(|mut s| s.query_row(params_from_iter(values.iter()), |row| row.get(0)))
                .map_err(map_err)?;
            let direction = if search.ascending { "ASC" } else { "DESC" };
            let sql = format!(
                "SELECT json FROM schedule_run{filter} ORDER BY {} {direction}, id {direction}
                 LIMIT {} OFFSET {}",
                search.order.column(),
                search.size,
                search.start
            );
            let rows: Vec<String> = conn
                .prepare(&sql)
                .and_then(|mut s| {
                    s.query_map(params_from_iter(values.iter()), |row| row.get(0))?
                        .collect::<Result<_, _>>()
                })
                .map_err(map_err)?;
            let runs = rows
                .into_iter()
                .map(decode_run)
                .collect::<StoreResult<Vec<_>>>()?;
            Ok((u64::try_from(total).unwrap_or(0), runs))
        })
        .await
    }

    async fn move_schedule_on(&self, name: &str, due: i64, next: Option<i64>) -> StoreResult<bool> {
        let name = name.to_string();
        self.write_value(move |conn| {
            conn.prepare_cached(
                "UPDATE schedule SET next_run_at = ?3 WHERE name = ?1 AND next_run_at = ?2",
            )
            .and_then(|mut s| s.execute(params![name, due, next]))
            .map(|n| n > 0)
            .map_err(map_err)
        })
        .await
    }

    async fn prune_schedule_runs(&self, before: i64) -> StoreResult<u64> {
        self.write_value(move |conn| {
            conn.prepare_cached("DELETE FROM schedule_run WHERE scheduled_time < ?1")
                .and_then(|mut s| s.execute([before]))
                .map(|n| u64::try_from(n).unwrap_or(0))
                .map_err(map_err)
        })
        .await
    }
}
