//! Search filters translated into SQL over the indexed columns. Values are always bound
//! as parameters; only column names from a fixed list reach the SQL text.
//!
//! The query parser bounds what a caller can send (nesting, conditions, values); the
//! translation stays within SQLite's own limits beyond that: a long `IN` list (the
//! readable definitions a service adds, which grow with the number of definitions) is
//! bound as one JSON array, so it uses one variable and adds no expression depth.

use podium_core::service::search::{
    Filter, Op, Search, SearchValue, SortOrder, TaskField, WorkflowField,
};
use podium_core::store::StoreResult;
use podium_core::store::query::Column;
use rusqlite::Connection;
use rusqlite::types::Value as SqlValue;

use crate::map_err;

/// `IN` lists longer than this are bound as one JSON array.
const INLINE_LIST_MAX: usize = 64;

fn bind(value: &SearchValue, params: &mut Vec<SqlValue>) -> String {
    params.push(match value {
        SearchValue::Text(text) => SqlValue::Text(text.clone()),
        SearchValue::Number(n) => SqlValue::Integer(*n),
    });
    format!("?{}", params.len())
}

fn translate<F: Column>(filter: &Filter<F>, params: &mut Vec<SqlValue>) -> String {
    match filter {
        Filter::Compare(field, op, value) => {
            let op = match op {
                Op::Eq => "=",
                Op::Ne => "<>",
                Op::Gt => ">",
                Op::Ge => ">=",
                Op::Lt => "<",
                Op::Le => "<=",
            };
            format!("{} {op} {}", field.column(), bind(value, params))
        }
        Filter::In(field, values) | Filter::NotIn(field, values) => {
            let not = if matches!(filter, Filter::NotIn(..)) {
                "NOT "
            } else {
                ""
            };
            if values.len() > INLINE_LIST_MAX {
                let array: Vec<serde_json::Value> = values
                    .iter()
                    .map(|v| match v {
                        SearchValue::Text(text) => serde_json::Value::from(text.as_str()),
                        SearchValue::Number(n) => serde_json::Value::from(*n),
                    })
                    .collect();
                params.push(SqlValue::Text(serde_json::Value::Array(array).to_string()));
                return format!(
                    "{} {not}IN (SELECT value FROM json_each(?{}))",
                    field.column(),
                    params.len()
                );
            }
            let list: Vec<String> = values.iter().map(|v| bind(v, params)).collect();
            format!("{} {not}IN ({})", field.column(), list.join(", "))
        }
        Filter::And(parts) => {
            let parts: Vec<String> = parts
                .iter()
                .map(|p| format!("({})", translate(p, params)))
                .collect();
            parts.join(" AND ")
        }
        Filter::Or(parts) => {
            let parts: Vec<String> = parts
                .iter()
                .map(|p| format!("({})", translate(p, params)))
                .collect();
            parts.join(" OR ")
        }
    }
}

/// Runs a search of `table`: the total and one page of the `select` expression,
/// ordered by the search's sort (or `default_sort`), then `tiebreak`.
pub(crate) fn run_select<F: Column>(
    conn: &Connection,
    table: &str,
    select: &str,
    search: &Search<F>,
    default_sort: &str,
    tiebreak: &str,
) -> StoreResult<(i64, Vec<String>)> {
    let mut params = Vec::new();
    let mut conditions = Vec::new();
    if let Some(filter) = &search.filter {
        conditions.push(translate(filter, &mut params));
    }
    if let Some(text) = &search.free_text {
        for word in text.split_whitespace() {
            let escaped = word
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            params.push(SqlValue::Text(format!("%{escaped}%")));
            conditions.push(format!("json LIKE ?{} ESCAPE '\\'", params.len()));
        }
    }
    let where_clause = if conditions.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conditions.join(" AND "))
    };
    let total: i64 = conn
        .prepare(&format!("SELECT COUNT(*) FROM {table}{where_clause}"))
        .and_then(|mut s| s.query_row(rusqlite::params_from_iter(params.iter()), |row| row.get(0)))
        .map_err(map_err)?;
    let order = if search.sort.is_empty() {
        default_sort.to_string()
    } else {
        search
            .sort
            .iter()
            .map(|(field, order)| {
                format!(
                    "{} {}",
                    field.column(),
                    if *order == SortOrder::Desc {
                        "DESC"
                    } else {
                        "ASC"
                    }
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    params.push(SqlValue::Integer(search.size));
    params.push(SqlValue::Integer(search.start));
    let sql = format!(
        "SELECT {select} FROM {table}{where_clause} ORDER BY {order}, {tiebreak} LIMIT ?{} OFFSET ?{}",
        params.len() - 1,
        params.len()
    );
    let rows = conn
        .prepare(&sql)
        .and_then(|mut s| {
            s.query_map(rusqlite::params_from_iter(params.iter()), |row| {
                row.get::<_, String>(0)
            })?
            .collect::<Result<Vec<_>, _>>()
        })
        .map_err(map_err)?;
    Ok((total, rows))
}

/// Runs a workflow search: the total and one page of workflow JSON documents.
pub(crate) fn workflows(
    conn: &Connection,
    search: &Search<WorkflowField>,
) -> StoreResult<(i64, Vec<String>)> {
    run_select(
        conn,
        "workflow_all",
        "json",
        search,
        "start_time DESC",
        "id",
    )
}

/// Runs a task search: the total and one page of task JSON documents.
pub(crate) fn tasks(
    conn: &Connection,
    search: &Search<TaskField>,
) -> StoreResult<(i64, Vec<String>)> {
    run_select(conn, "task", "json", search, "scheduled_time DESC", "id")
}
