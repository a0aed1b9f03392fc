//! Search filters translated into SQL over the indexed columns. Values are always bound
//! as parameters, typed by their field (`::text`, `::bigint`); only column names from
//! a fixed list reach the SQL text. Lists are bound as one array (`= ANY($n)`), so a
//! long list of readable definitions adds one parameter, not one per name.

use podium_core::service::search::{
    FieldKind, Filter, Op, Search, SearchField, SearchValue, SortOrder, TaskField, WorkflowField,
};
use podium_core::store::StoreResult;
use podium_core::store::query::Column;

use crate::rows::{Param, get};
use crate::{PostgresStore, map_err};

fn numeric<F: SearchField>(field: F) -> bool {
    !matches!(field.kind(), FieldKind::Text)
}

/// A value as its column holds it: numbers for numeric fields (a text that is no
/// number matches nothing), text otherwise.
enum Typed {
    Text(String),
    Number(i64),
    Never,
}

fn typed<F: SearchField>(field: F, value: &SearchValue) -> Typed {
    match (numeric(field), value) {
        (true, SearchValue::Number(n)) => Typed::Number(*n),
        (true, SearchValue::Text(text)) => text.parse().map_or(Typed::Never, Typed::Number),
        (false, SearchValue::Text(text)) => Typed::Text(text.clone()),
        (false, SearchValue::Number(n)) => Typed::Text(n.to_string()),
    }
}

fn bind(param: Param, params: &mut Vec<Param>) -> usize {
    params.push(param);
    params.len()
}

fn translate<F: Column + SearchField>(filter: &Filter<F>, params: &mut Vec<Param>) -> String {
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
            let column = field.column();
            match typed(*field, value) {
                Typed::Text(text) => {
                    format!("{column} {op} ${}::text", bind(Box::new(text), params))
                }
                Typed::Number(n) => format!("{column} {op} ${}::bigint", bind(Box::new(n), params)),
                Typed::Never => "FALSE".to_string(),
            }
        }
        Filter::In(field, values) | Filter::NotIn(field, values) => {
            let column = field.column();
            let slot = if numeric(*field) {
                let list: Vec<i64> = values
                    .iter()
                    .filter_map(|v| match typed(*field, v) {
                        Typed::Number(n) => Some(n),
                        _ => None,
                    })
                    .collect();
                format!("${}::bigint[]", bind(Box::new(list), params))
            } else {
                let list: Vec<String> = values
                    .iter()
                    .filter_map(|v| match typed(*field, v) {
                        Typed::Text(text) => Some(text),
                        _ => None,
                    })
                    .collect();
                format!("${}::text[]", bind(Box::new(list), params))
            };
            if matches!(filter, Filter::NotIn(..)) {
                format!("NOT ({column} = ANY({slot}))")
            } else {
                format!("{column} = ANY({slot})")
            }
        }
        Filter::And(parts) | Filter::Or(parts) => {
            let joint = if matches!(filter, Filter::And(_)) {
                " AND "
            } else {
                " OR "
            };
            let parts: Vec<String> = parts
                .iter()
                .map(|p| format!("({})", translate(p, params)))
                .collect();
            parts.join(joint)
        }
    }
}

/// Escapes `LIKE`'s wildcards in a word.
fn like_word(word: &str) -> String {
    let escaped = word
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

impl PostgresStore {
    /// Runs a search of `table`: the total and one page of the `select` expression
    /// (text), ordered by the search's sort (or `default_sort`), then `tiebreak`.
    pub(crate) async fn search_select<F: Column + SearchField>(
        &self,
        table: &str,
        select: &str,
        search: &Search<F>,
        default_sort: &str,
        tiebreak: &str,
    ) -> StoreResult<(i64, Vec<String>)> {
        let mut params: Vec<Param> = Vec::new();
        let mut conditions = Vec::new();
        if let Some(filter) = &search.filter {
            conditions.push(translate(filter, &mut params));
        }
        if let Some(text) = &search.free_text {
            for word in text.split_whitespace() {
                let slot = bind(Box::new(like_word(word)), &mut params);
                conditions.push(format!("json LIKE ${slot}::text ESCAPE '\\'"));
            }
        }
        let where_clause = if conditions.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", conditions.join(" AND "))
        };
        let order = if search.sort.is_empty() {
            default_sort.to_string()
        } else {
            search
                .sort
                .iter()
                .map(|(field, order)| {
                    let direction = if *order == SortOrder::Desc {
                        "DESC"
                    } else {
                        "ASC"
                    };
                    format!("{} {direction}", field.column())
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        let count_sql = format!("SELECT COUNT(*) FROM {table}{where_clause}");
        let limit = bind(Box::new(search.size), &mut params);
        let offset = bind(Box::new(search.start), &mut params);
        let page_sql = format!(
            "SELECT {select} FROM {table}{where_clause} ORDER BY {order}, {tiebreak} LIMIT ${limit}::bigint OFFSET ${offset}::bigint"
        );
        let client = self.client().await?;
        let refs: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = params
            .iter()
            .map(|p| p.as_ref() as &(dyn tokio_postgres::types::ToSql + Sync))
            .collect();
        let filter_params = &refs[..refs.len() - 2];
        // One statement each, sent together; both read their own snapshot, as
        // on SQLite a count and a page are two reads.
        let (count, rows) = futures_util::future::try_join(
            client.query_one(&count_sql, filter_params),
            client.query(&page_sql, &refs),
        )
        .await
        .map_err(map_err)?;
        let total: i64 = get(&count, 0)?;
        let jsons = rows
            .iter()
            .map(|row| get::<String>(row, 0))
            .collect::<StoreResult<Vec<_>>>()?;
        Ok((total, jsons))
    }

    /// Runs a workflow search: the total and one page of workflow JSON documents.
    pub(crate) async fn search_workflow_rows(
        &self,
        search: &Search<WorkflowField>,
    ) -> StoreResult<(i64, Vec<String>)> {
        self.search_select("workflow_all", "json", search, "start_time DESC", "id")
            .await
    }

    /// Runs a task search: the total and one page of task JSON documents.
    pub(crate) async fn search_task_rows(
        &self,
        search: &Search<TaskField>,
    ) -> StoreResult<(i64, Vec<String>)> {
        self.search_select("task", "json", search, "scheduled_time DESC", "id")
            .await
    }
}
