//! The variables index (`podium_core::store::variables`) on SQLite: rows replaced
//! with the unit of work that changes a workflow's variables, kept while the
//! workflow moves to the archive and back, removed with the workflow.

use podium_core::service::search::Search;
use podium_core::store::query::VariableField;
use podium_core::store::variables::{IndexedVariable, VariableRow, rows_of_stored};
use podium_core::store::{StoreError, StoreResult};
use rusqlite::{Connection, params};

use crate::map_err;

/// Replaces the index rows of the live workflow `id` (stored in this transaction).
pub(crate) fn write(conn: &Connection, id: &str, rows: &[IndexedVariable]) -> StoreResult<()> {
    conn.prepare_cached(
        "DELETE FROM operate_variable
         WHERE operate_seq = (SELECT operate_seq FROM workflow WHERE id = ?1)",
    )
    .and_then(|mut s| s.execute([id]))
    .map_err(map_err)?;
    for row in rows {
        conn.prepare_cached(
            "INSERT INTO operate_variable (operate_seq, low, name, value, truncated, workflow_name)
             SELECT operate_seq, ?2, ?3, ?4, ?5, name FROM workflow WHERE id = ?1",
        )
        .and_then(|mut s| {
            s.execute(params![
                id,
                row.low,
                row.name,
                row.value,
                i64::from(row.truncated)
            ])
        })
        .map_err(map_err)?;
    }
    Ok(())
}

/// Removes the rows of the live workflow `id` about to be deleted, unless it was
/// archived (the archive keeps its Operate number and its rows).
pub(crate) fn forget_live(conn: &Connection, id: &str) -> StoreResult<()> {
    conn.prepare_cached(
        "DELETE FROM operate_variable
         WHERE operate_seq = (SELECT operate_seq FROM workflow WHERE id = ?1)
           AND NOT EXISTS (SELECT 1 FROM archived_workflow WHERE id = ?1)",
    )
    .and_then(|mut s| s.execute([id]))
    .map_err(map_err)?;
    Ok(())
}

/// Removes the rows of the archived workflow `id` about to be deleted, unless it
/// came back to the live table (a restart from the archive keeps its rows).
pub(crate) fn forget_archived(conn: &Connection, id: &str) -> StoreResult<()> {
    conn.prepare_cached(
        "DELETE FROM operate_variable
         WHERE operate_seq = (SELECT operate_seq FROM archived_workflow WHERE id = ?1)
           AND NOT EXISTS (SELECT 1 FROM workflow WHERE id = ?1)",
    )
    .and_then(|mut s| s.execute([id]))
    .map_err(map_err)?;
    Ok(())
}

/// Fills the index from the workflows stored before it existed (a migration step):
/// sealed values show as `***`, archived rows are already redacted.
pub(crate) fn index_stored(conn: &Connection) -> StoreResult<()> {
    let mut statement = conn
        .prepare(
            "SELECT operate_seq, name, json FROM workflow
             UNION ALL SELECT operate_seq, name, json FROM archived_workflow",
        )
        .map_err(map_err)?;
    let mut found = statement.query([]).map_err(map_err)?;
    let mut indexed = 0_u64;
    while let Some(row) = found.next().map_err(map_err)? {
        let Some(seq) = row.get::<_, Option<i64>>(0).map_err(map_err)? else {
            continue;
        };
        let workflow_name: String = row.get(1).map_err(map_err)?;
        let json: String = row.get(2).map_err(map_err)?;
        // A row that cannot be read is left out of the index, not the start-up.
        let Ok(rows) = rows_of_stored(&json) else {
            tracing::warn!(operate_seq = seq, "a stored workflow could not be indexed");
            continue;
        };
        for variable in rows {
            conn.prepare_cached(
                "INSERT INTO operate_variable (operate_seq, low, name, value, truncated, workflow_name)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    seq,
                    variable.low,
                    variable.name,
                    variable.value,
                    i64::from(variable.truncated),
                    workflow_name
                ])
            })
            .map_err(map_err)?;
            indexed += 1;
        }
    }
    if indexed > 0 {
        tracing::info!(
            variables = indexed,
            "indexed the variables of stored workflows"
        );
    }
    Ok(())
}

/// Runs a search of the index.
pub(crate) fn search(
    conn: &Connection,
    search: &Search<VariableField>,
) -> StoreResult<(i64, Vec<VariableRow>)> {
    let (total, rows) = crate::search::run_select(
        conn,
        "operate_variable",
        "json_object('seq', operate_seq, 'name', name, 'low', low, 'value', value, 'truncated', truncated)",
        search,
        "operate_seq, low",
        "name",
    )?;
    let rows = rows
        .iter()
        .map(|text| VariableRow::from_json(text))
        .collect::<Result<Vec<_>, StoreError>>()?;
    Ok((total, rows))
}
