//! The variables index (`podium_core::store::variables`) on PostgreSQL: rows
//! replaced with the unit of work that changes a workflow's variables, kept while
//! the workflow moves to the archive and back, removed with the workflow.

use podium_core::store::query::VariableSearch;
use podium_core::store::variables::{IndexedVariable, StoredIn, VariableRow, rows_of_stored};
use podium_core::store::{StoreError, StoreResult};

use crate::rows::Writes;
use crate::{PostgresStore, map_err};

/// Rows the migration step reads at a time.
const BACKFILL_BATCH: i64 = 500;

/// Writes the index rows of the live workflow `id` (written earlier in the batch),
/// replacing those it had unless it is `new` (one coming back from the archive
/// lost its rows through [`forget_unarchived`] first).
pub(crate) fn write(writes: &mut Writes, id: &str, new: bool, rows: &[IndexedVariable]) {
    if !new {
        writes.push(
            "DELETE FROM operate_variable
             WHERE operate_seq = (SELECT operate_seq FROM workflow WHERE id = $1)",
            vec![Box::new(id.to_string())],
        );
    }
    for row in rows {
        writes.push(
            "INSERT INTO operate_variable (operate_seq, low, name, value, truncated, workflow_name)
             SELECT operate_seq, $2::bigint, $3::text, $4::text, $5::bigint, name
             FROM workflow WHERE id = $1",
            vec![
                Box::new(id.to_string()),
                Box::new(row.low),
                Box::new(row.name.clone()),
                Box::new(row.value.clone()),
                Box::new(i64::from(row.truncated)),
            ],
        );
    }
}

/// Removes the rows of the live workflow `id` about to be deleted, unless it was
/// archived (the archive keeps its Operate number and its rows).
pub(crate) fn forget_live(writes: &mut Writes, id: &str) {
    writes.push(
        "DELETE FROM operate_variable
         WHERE operate_seq = (SELECT operate_seq FROM workflow WHERE id = $1)
           AND NOT EXISTS (SELECT 1 FROM archived_workflow WHERE id = $1)",
        vec![Box::new(id.to_string())],
    );
}

/// Removes the rows of the archived workflow `id` as it leaves the archive (a unit's
/// first write: one restored as a live workflow writes its rows anew).
pub(crate) fn forget_unarchived(writes: &mut Writes, id: &str) {
    writes.push(
        "DELETE FROM operate_variable
         WHERE operate_seq = (SELECT operate_seq FROM archived_workflow WHERE id = $1)",
        vec![Box::new(id.to_string())],
    );
}

/// Fills the index from the workflows stored before it existed (a migration step,
/// in the migration's transaction): sealed values show as `***`, archived rows are
/// already redacted.
pub(crate) async fn index_stored(tx: &tokio_postgres::Transaction<'_>) -> StoreResult<()> {
    let mut after = i64::MIN;
    let mut indexed = 0_u64;
    loop {
        let found = tx
            .query(
                "SELECT operate_seq, name, json, def, archived FROM (
                     SELECT w.operate_seq, w.name, w.json, d.json AS def, FALSE AS archived
                         FROM workflow w LEFT JOIN def_revision d ON d.revision = w.def_revision
                     UNION ALL SELECT operate_seq, name, json, NULL, TRUE FROM archived_workflow
                 ) stored WHERE operate_seq > $1 ORDER BY operate_seq LIMIT $2",
                &[&after, &BACKFILL_BATCH],
            )
            .await
            .map_err(map_err)?;
        let Some(last) = found.last() else {
            break;
        };
        after = last.try_get(0).map_err(map_err)?;
        for row in &found {
            let seq: i64 = row.try_get(0).map_err(map_err)?;
            let workflow_name: String = row.try_get(1).map_err(map_err)?;
            let json: String = row.try_get(2).map_err(map_err)?;
            let def: Option<String> = row.try_get(3).map_err(map_err)?;
            let archived: bool = row.try_get(4).map_err(map_err)?;
            let stored_in = if archived {
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
                tx.execute(
                    "INSERT INTO operate_variable (operate_seq, low, name, value, truncated, workflow_name)
                     VALUES ($1, $2, $3, $4, $5, $6)",
                    &[
                        &seq,
                        &variable.low,
                        &variable.name,
                        &variable.value,
                        &i64::from(variable.truncated),
                        &workflow_name,
                    ],
                )
                .await
                .map_err(map_err)?;
                indexed += 1;
            }
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

impl PostgresStore {
    /// Runs a search of the index.
    pub(crate) async fn search_variable_rows(
        &self,
        search: &VariableSearch,
    ) -> StoreResult<(i64, Vec<VariableRow>)> {
        let (total, rows) = self
            .search_select(
                "operate_variable",
                "json_build_object('seq', operate_seq, 'name', name, 'low', low, 'value', value, 'truncated', truncated)::text",
                search,
                "operate_seq, low",
                "name",
            )
            .await?;
        let rows = rows
            .iter()
            .map(|text| VariableRow::from_json(text))
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok((total, rows))
    }
}
