//! The variables index (`podium_core::store::variables`) on SQLite: rows replaced
//! with the unit of work that changes a workflow's variables, kept while the
//! workflow moves to the archive and back, removed with the workflow.

use podium_core::service::search::Search;
use podium_core::store::query::VariableField;
use podium_core::store::variables::{IndexedVariable, StoredIn, VariableRow, rows_of_stored};
use podium_core::store::{StoreError, StoreResult};
use rusqlite::{Connection, params};

use crate::map_err;

/// Writes the index rows of the live workflow `id` (stored in this transaction),
/// replacing those it had unless it is `new` (one coming back from the archive
/// lost its rows through [`forget_restored`] first).
pub(crate) fn write(
    conn: &Connection,
    id: &str,
    new: bool,
    rows: &[IndexedVariable],
) -> StoreResult<()> {
    if !new {
        conn.prepare_cached(
            "DELETE FROM operate_variable
             WHERE operate_seq = (SELECT operate_seq FROM workflow WHERE id = ?1)",
        )
        .and_then(|mut s| s.execute([id]))
        .map_err(map_err)?;
    }
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

/// Removes the rows of the archived workflow `id` as it leaves the archive (a unit's
/// first write: one restored as a live workflow writes its rows anew).
pub(crate) fn forget_unarchived(conn: &Connection, id: &str) -> StoreResult<()> {
    conn.prepare_cached(
        "DELETE FROM operate_variable
         WHERE operate_seq = (SELECT operate_seq FROM archived_workflow WHERE id = ?1)",
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
            "SELECT w.operate_seq, w.name, w.json, d.json, 0 FROM workflow w
                 LEFT JOIN def_revision d ON d.revision = w.def_revision
             UNION ALL SELECT operate_seq, name, json, NULL, 1 FROM archived_workflow",
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
        let def: Option<String> = row.get(3).map_err(map_err)?;
        let archived: i64 = row.get(4).map_err(map_err)?;
        let stored_in = if archived == 1 {
            StoredIn::Archive
        } else {
            StoredIn::Live(def.as_deref())
        };
        // A row that cannot be read is left out of the index, not the start-up.
        let Ok(rows) = rows_of_stored(&json, stored_in) else {
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
