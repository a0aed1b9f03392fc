//! Schedules and their runs on PostgreSQL, shared by every node: a run is written in
//! its unit's transaction, and its record's uniqueness per schedule and due time
//! keeps two nodes from both starting a due time's workflow.

use async_trait::async_trait;
use podium_core::model::{ScheduleExecution, WorkflowSchedule};
use podium_core::store::{
    RunSearch, ScheduleRun, ScheduleStore, StoreError, StoreResult, StoredSchedule,
};
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use crate::rows::{Param, Writes, get};
use crate::{PostgresStore, map_err};

fn encode<T: serde::Serialize>(value: &T) -> StoreResult<String> {
    serde_json::to_string(value).map_err(|err| StoreError::Corrupt(err.to_string()))
}

fn decode_schedule(row: &Row) -> StoreResult<StoredSchedule> {
    let json: String = get(row, 1)?;
    let schedule: WorkflowSchedule = serde_json::from_str(&json)
        .map_err(|err| StoreError::Corrupt(format!("a stored schedule cannot be read: {err}")))?;
    Ok(StoredSchedule {
        schedule,
        next_run_at: get(row, 0)?,
    })
}

/// The schedules of rows that can be read; the others are logged and left out, so
/// one damaged row stops no other schedule.
fn readable(rows: &[Row]) -> Vec<StoredSchedule> {
    rows.iter()
        .filter_map(|row| match decode_schedule(row) {
            Ok(stored) => Some(stored),
            Err(err) => {
                tracing::error!(error = %err, "a stored schedule cannot be read; it is left out");
                None
            }
        })
        .collect()
}

fn decode_run(row: &Row) -> StoreResult<ScheduleExecution> {
    let json: String = get(row, 0)?;
    serde_json::from_str(&json)
        .map_err(|err| StoreError::Corrupt(format!("a stored schedule run cannot be read: {err}")))
}

/// Adds the runs of a unit to its writes: each record (a second one for the same
/// due time violates the uniqueness, which fails the unit as a conflict; none for a
/// schedule deleted meanwhile), and the schedule moved on if it is still due at
/// the run's due time.
pub(crate) fn persist_runs(writes: &mut Writes, runs: &[ScheduleRun]) -> StoreResult<()> {
    for run in runs {
        let e = &run.execution;
        writes.push(
            "INSERT INTO schedule_run (id, schedule_name, scheduled_time, execution_time,
                workflow_name, state, json)
             SELECT $1::TEXT, $2::TEXT, $3::BIGINT, $4::BIGINT, $5::TEXT, $6::TEXT, $7::TEXT
             WHERE EXISTS (SELECT 1 FROM schedule WHERE name = $2::TEXT)",
            vec![
                Box::new(e.execution_id.clone()),
                Box::new(e.schedule_name.clone()),
                Box::new(e.scheduled_time),
                Box::new(e.execution_time),
                Box::new(e.workflow_name.clone()),
                Box::new(e.state.as_str()),
                Box::new(encode(e)?),
            ],
        );
        let json = run.schedule.as_ref().map(encode).transpose()?;
        writes.push(
            "UPDATE schedule SET next_run_at = $2, json = COALESCE($3, json)
             WHERE name = $1 AND next_run_at = $4",
            vec![
                Box::new(e.schedule_name.clone()),
                Box::new(run.next_run_at),
                Box::new(json),
                Box::new(run.due),
            ],
        );
    }
    Ok(())
}

/// The WHERE clause of a search and its values.
fn run_filter(search: &RunSearch) -> (String, Vec<Param>) {
    let mut clauses: Vec<String> = Vec::new();
    let mut values: Vec<Param> = Vec::new();
    if let Some(names) = &search.schedule_names {
        values.push(Box::new(names.clone()));
        clauses.push(format!("schedule_name = ANY(${})", values.len()));
    }
    if !search.states.is_empty() {
        let states: Vec<String> = search.states.iter().map(|s| s.as_str().into()).collect();
        values.push(Box::new(states));
        clauses.push(format!("state = ANY(${})", values.len()));
    }
    if let Some(name) = &search.workflow_name {
        values.push(Box::new(name.clone()));
        clauses.push(format!("workflow_name = ${}", values.len()));
    }
    if let Some(id) = &search.execution_id {
        values.push(Box::new(id.clone()));
        clauses.push(format!("id = ${}", values.len()));
    }
    if let Some(after) = search.scheduled_after {
        values.push(Box::new(after));
        clauses.push(format!("scheduled_time > ${}", values.len()));
    }
    if let Some(before) = search.scheduled_before {
        values.push(Box::new(before));
        clauses.push(format!("scheduled_time < ${}", values.len()));
    }
    let filter = if clauses.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", clauses.join(" AND "))
    };
    (filter, values)
}

#[async_trait]
impl ScheduleStore for PostgresStore {
    async fn put_schedule(&self, stored: StoredSchedule) -> StoreResult<bool> {
        let json = encode(&stored.schedule)?;
        let client = self.client().await?;
        let updated = client
            .execute(
                "UPDATE schedule SET workflow_name = $2, next_run_at = $3, json = $4
                 WHERE name = $1",
                &[
                    &stored.schedule.name,
                    &stored.schedule.workflow_name(),
                    &stored.next_run_at,
                    &json,
                ],
            )
            .await
            .map_err(map_err)?;
        Ok(updated > 0)
    }

    async fn insert_schedule(&self, stored: StoredSchedule) -> StoreResult<bool> {
        let json = encode(&stored.schedule)?;
        let client = self.client().await?;
        let inserted = client
            .execute(
                "INSERT INTO schedule (name, workflow_name, next_run_at, json) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (name) DO NOTHING",
                &[
                    &stored.schedule.name,
                    &stored.schedule.workflow_name(),
                    &stored.next_run_at,
                    &json,
                ],
            )
            .await
            .map_err(map_err)?;
        Ok(inserted > 0)
    }

    async fn schedule(&self, name: &str) -> StoreResult<Option<StoredSchedule>> {
        let client = self.client().await?;
        client
            .query_opt(
                "SELECT next_run_at, json FROM schedule WHERE name = $1",
                &[&name],
            )
            .await
            .map_err(map_err)?
            .as_ref()
            .map(decode_schedule)
            .transpose()
    }

    async fn list_schedules(
        &self,
        workflow_name: Option<&str>,
    ) -> StoreResult<Vec<StoredSchedule>> {
        let client = self.client().await?;
        client
            .query(
                "SELECT next_run_at, json FROM schedule
                 WHERE $1::TEXT IS NULL OR workflow_name = $1 ORDER BY name",
                &[&workflow_name],
            )
            .await
            .map_err(map_err)
            .map(|rows| readable(&rows))
    }

    async fn delete_schedule(&self, name: &str) -> StoreResult<bool> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(map_err)?;
        tx.execute(
            "DELETE FROM schedule_run WHERE schedule_name = $1",
            &[&name],
        )
        .await
        .map_err(map_err)?;
        let deleted = tx
            .execute("DELETE FROM schedule WHERE name = $1", &[&name])
            .await
            .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        Ok(deleted > 0)
    }

    async fn due_schedules(&self, now: i64, limit: usize) -> StoreResult<Vec<StoredSchedule>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let client = self.client().await?;
        client
            .query(
                "SELECT next_run_at, json FROM schedule
                 WHERE next_run_at IS NOT NULL AND next_run_at <= $1
                 ORDER BY next_run_at, name LIMIT $2",
                &[&now, &limit],
            )
            .await
            .map_err(map_err)
            .map(|rows| readable(&rows))
    }

    async fn search_schedule_runs(
        &self,
        search: &RunSearch,
    ) -> StoreResult<(u64, Vec<ScheduleExecution>)> {
        let (filter, values) = run_filter(search);
        let params: Vec<&(dyn ToSql + Sync)> = values
            .iter()
            .map(|v| v.as_ref() as &(dyn ToSql + Sync))
            .collect();
        let client = self.client().await?;
        let total: i64 = client
            .query_one(
                &format!("SELECT count(*) FROM schedule_run{filter}"),
                &params,
            )
            .await
            .map_err(map_err)
            .and_then(|row| get(&row, 0))?;
        let direction = if search.ascending { "ASC" } else { "DESC" };
        let sql = format!(
            "SELECT json FROM schedule_run{filter} ORDER BY {} {direction}, id {direction}
             LIMIT {} OFFSET {}",
            search.order.column(),
            search.size,
            search.start
        );
        let runs = client
            .query(&sql, &params)
            .await
            .map_err(map_err)?
            .iter()
            .map(decode_run)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok((u64::try_from(total).unwrap_or(0), runs))
    }

    async fn move_schedule_on(&self, name: &str, due: i64, next: Option<i64>) -> StoreResult<bool> {
        let client = self.client().await?;
        client
            .execute(
                "UPDATE schedule SET next_run_at = $3 WHERE name = $1 AND next_run_at = $2",
                &[&name, &due, &next],
            )
            .await
            .map(|n| n > 0)
            .map_err(map_err)
    }

    async fn prune_schedule_runs(&self, before: i64) -> StoreResult<u64> {
        let client = self.client().await?;
        client
            .execute(
                "DELETE FROM schedule_run WHERE scheduled_time < $1",
                &[&before],
            )
            .await
            .map_err(map_err)
    }
}
