//! Schema migrations, applied at start-up by whichever node gets the advisory lock
//! first; the others wait for it, then find nothing left to do.

use podium_core::store::{StoreError, StoreResult};

use crate::map_err;

const MIGRATIONS: &[(&str, &str)] = &[
    ("0001_init", include_str!("migrations/0001_init.sql")),
    (
        "0002_versions",
        include_str!("migrations/0002_versions.sql"),
    ),
    ("0003_channel", include_str!("migrations/0003_channel.sql")),
    (
        "0004_fillfactor",
        include_str!("migrations/0004_fillfactor.sql"),
    ),
    (
        "0005_task_updates",
        include_str!("migrations/0005_task_updates.sql"),
    ),
    ("0006_audit", include_str!("migrations/0006_audit.sql")),
    (
        "0007_sessions",
        include_str!("migrations/0007_sessions.sql"),
    ),
    (
        "0008_operate_seq",
        include_str!("migrations/0008_operate_seq.sql"),
    ),
    (
        "0009_operate_variables",
        include_str!("migrations/0009_operate_variables.sql"),
    ),
    (
        "0010_job_lanes",
        include_str!("migrations/0010_job_lanes.sql"),
    ),
    (
        "0011_queue_handouts",
        include_str!("migrations/0011_queue_handouts.sql"),
    ),
    (
        "0012_schedules",
        include_str!("migrations/0012_schedules.sql"),
    ),
    ("0013_schemas", include_str!("migrations/0013_schemas.sql")),
    (
        "0014_event_handlers",
        include_str!("migrations/0014_event_handlers.sql"),
    ),
    (
        "0015_service_registry",
        include_str!("migrations/0015_service_registry.sql"),
    ),
    (
        "0016_schedule_run_order",
        include_str!("migrations/0016_schedule_run_order.sql"),
    ),
    (
        "0017_event_records",
        include_str!("migrations/0017_event_records.sql"),
    ),
];

/// The advisory lock every node takes to migrate ("podium" in ASCII).
const MIGRATION_LOCK: i64 = 0x706f_6469_756d;

/// Applies the migrations this version knows and the database lacks, in one
/// transaction; refuses a database written by a newer Podium.
pub(crate) async fn run(client: &mut deadpool_postgres::Object) -> StoreResult<()> {
    let tx = client.transaction().await.map_err(map_err)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(map_err)?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS podium_schema (
             version    INTEGER PRIMARY KEY,
             name       TEXT NOT NULL,
             applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
         )",
    )
    .await
    .map_err(map_err)?;
    let row = tx
        .query_one("SELECT COALESCE(MAX(version), 0) FROM podium_schema", &[])
        .await
        .map_err(map_err)?;
    let current: i32 = row.try_get(0).map_err(map_err)?;
    let known = i32::try_from(MIGRATIONS.len()).unwrap_or(i32::MAX);
    if current > known {
        return Err(StoreError::Corrupt(format!(
            "the database was written by a newer Podium (schema {current}, this version knows {known})"
        )));
    }
    for (index, (name, sql)) in MIGRATIONS.iter().enumerate().skip(current.max(0) as usize) {
        tx.batch_execute(sql).await.map_err(map_err)?;
        if *name == "0009_operate_variables" {
            crate::variables::index_stored(&tx).await?;
        }
        let version = i32::try_from(index + 1).unwrap_or(i32::MAX);
        tx.execute(
            "INSERT INTO podium_schema (version, name) VALUES ($1, $2)",
            &[&version, name],
        )
        .await
        .map_err(map_err)?;
        tracing::info!(migration = %name, "applied a database migration");
    }
    tx.commit().await.map_err(map_err)?;
    Ok(())
}
