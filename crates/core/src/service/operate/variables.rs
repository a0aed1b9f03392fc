//! Searches of variables across executions (no `processInstanceKey` filter): run by
//! the store over the variables index (`store::variables`), which holds each
//! variable as people see it (masked, cut to 8191 characters), sorted by key.
//! Only variables of executions whose definition the caller may read are found.

use serde_json::Value;

use super::keys::{self, Decoded};
use super::query::{self, Checked, Page};
use super::{OperateService, TENANT};
use crate::error::{CoreError, CoreResult};
use crate::security::Principal;
use crate::store::query::{Filter, Op, SearchValue, SortOrder, VariableField, VariableSearch};
use crate::store::variables::{VARIABLE_BASE, VariableRow};

fn nothing() -> Filter<VariableField> {
    Filter::Compare(VariableField::OperateSeq, Op::Eq, SearchValue::Number(-1))
}

fn number(field: VariableField, n: i64) -> Filter<VariableField> {
    Filter::Compare(field, Op::Eq, SearchValue::Number(n))
}

/// The filter for a variable's key.
fn by_key(value: &Value) -> Filter<VariableField> {
    match query::as_key(value).and_then(keys::decode) {
        Some(Decoded::Variable(seq, bucket)) => Filter::And(vec![
            number(VariableField::OperateSeq, seq),
            number(VariableField::Low, VARIABLE_BASE + bucket),
        ]),
        _ => nothing(),
    }
}

/// The filter for an execution's key.
fn by_instance(value: &Value) -> Filter<VariableField> {
    match query::as_key(value).and_then(keys::decode) {
        Some(Decoded::Instance(seq)) => number(VariableField::OperateSeq, seq),
        _ => nothing(),
    }
}

/// A boolean as Operate's filters and sort values send it.
fn flag(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.as_i64().map(|n| n != 0),
        _ => None,
    }
}

/// The column of a sort field.
fn column(field: &str) -> VariableField {
    match field {
        "name" => VariableField::Name,
        "value" => VariableField::Value,
        "truncated" => VariableField::Truncated,
        // processInstanceKey, scopeKey (the execution: variables have no other scope)
        // and tenantId (one tenant) sort by the execution.
        _ => VariableField::OperateSeq,
    }
}

/// A sort value as its column holds it.
fn bound(field: VariableField, value: &Value) -> CoreResult<SearchValue> {
    let bad = || CoreError::invalid("searchAfter holds a value that does not fit its sort field");
    Ok(match field {
        VariableField::Name | VariableField::Value => {
            SearchValue::Text(value.as_str().ok_or_else(bad)?.to_string())
        }
        VariableField::Truncated => SearchValue::Number(i64::from(flag(value).ok_or_else(bad)?)),
        _ => SearchValue::Number(query::as_key(value).ok_or_else(bad)?),
    })
}

/// A found row as Operate shows a variable.
fn item(row: &VariableRow) -> Value {
    let instance = keys::instance_key(row.seq);
    serde_json::json!({
        "key": instance + row.low,
        "processInstanceKey": instance,
        "scopeKey": instance,
        "name": row.name,
        "value": row.value,
        "truncated": row.truncated,
        "tenantId": TENANT,
    })
}

/// The sort values of a row (what `searchAfter` compares against), then its key.
fn sort_values(sort: &[(String, bool)], row: &VariableRow, item: &Value) -> Vec<Value> {
    let mut values: Vec<Value> = sort
        .iter()
        .map(|(field, _)| match column(field) {
            VariableField::Name => Value::from(row.name.clone()),
            VariableField::Value => Value::from(row.value.clone()),
            VariableField::Truncated => Value::from(row.truncated),
            _ => Value::from(row.seq),
        })
        .collect();
    values.push(item["key"].clone());
    values
}

impl OperateService {
    /// The store search for a checked search of variables across executions.
    fn variable_search(
        &self,
        principal: &Principal,
        checked: &Checked,
    ) -> CoreResult<VariableSearch> {
        let mut all = Vec::new();
        if let Some(names) = self.workflows.readable_names(principal) {
            all.push(Filter::In(
                VariableField::WorkflowType,
                names.into_iter().map(SearchValue::Text).collect(),
            ));
        }
        for (field, wanted) in &checked.filter {
            let wanted = query::scalar(wanted);
            all.push(match field.as_str() {
                "key" => by_key(&wanted),
                "processInstanceKey" | "scopeKey" => by_instance(&wanted),
                "name" | "value" => match wanted.as_str() {
                    Some(text) => Filter::Compare(
                        if field == "name" {
                            VariableField::Name
                        } else {
                            VariableField::Value
                        },
                        Op::Eq,
                        SearchValue::Text(text.to_string()),
                    ),
                    None => nothing(),
                },
                "truncated" => match flag(&wanted) {
                    Some(cut) => number(VariableField::Truncated, i64::from(cut)),
                    None => nothing(),
                },
                "tenantId" if wanted.as_str() == Some(TENANT) => continue,
                _ => nothing(),
            });
        }
        let order = super::sort_order;
        let mut columns: Vec<(VariableField, SortOrder)> = checked
            .sort
            .iter()
            .map(|(field, ascending)| (column(field), order(*ascending)))
            .collect();
        columns.push((VariableField::OperateSeq, order(checked.key_ascending)));
        columns.push((VariableField::Low, order(checked.key_ascending)));
        if let Some((values, key)) = &checked.after {
            let Some(Decoded::Variable(seq, bucket)) = keys::decode(*key) else {
                return Err(CoreError::invalid(
                    "searchAfter must end with a variable's key",
                ));
            };
            let mut bounds = Vec::new();
            for ((field, _), value) in columns.iter().zip(values) {
                bounds.push(bound(*field, value)?);
            }
            bounds.push(SearchValue::Number(seq));
            bounds.push(SearchValue::Number(VARIABLE_BASE + bucket));
            all.push(super::after_filter(&columns, &bounds));
        }
        Ok(VariableSearch {
            filter: Some(Filter::And(all)).filter(|f| !matches!(f, Filter::And(v) if v.is_empty())),
            free_text: None,
            start: 0,
            size: i64::try_from(checked.size).unwrap_or(10),
            sort: columns,
        })
    }

    /// A search of variables across executions.
    pub(super) async fn search_variables_across(
        &self,
        principal: &Principal,
        checked: &Checked,
    ) -> CoreResult<Page> {
        let search = self.variable_search(principal, checked)?;
        let (total, rows) = self.rt.stores.execution.search_variables(&search).await?;
        let mut items = Vec::with_capacity(rows.len());
        let mut last = Vec::new();
        for row in &rows {
            let shown = item(row);
            last = sort_values(&checked.sort, row, &shown);
            items.push(shown);
        }
        Ok(Page {
            items,
            total,
            sort_values: last,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_and_flags_read_as_operate_sends_them() {
        let key = keys::variable_key(7, "order");
        assert_eq!(
            by_key(&json!(key)),
            Filter::And(vec![
                number(VariableField::OperateSeq, 7),
                number(
                    VariableField::Low,
                    crate::store::variables::low_bits("order")
                ),
            ])
        );
        assert_eq!(by_key(&json!(keys::instance_key(7))), nothing());
        assert_eq!(
            by_instance(&json!({"value": keys::instance_key(7).to_string()})),
            number(VariableField::OperateSeq, 7)
        );
        assert_eq!(flag(&json!("true")), Some(true));
        assert_eq!(flag(&json!(0)), Some(false));
        assert_eq!(flag(&json!([])), None);
        assert!(bound(VariableField::Truncated, &json!(true)).is_ok());
        assert!(bound(VariableField::Name, &json!(3)).is_err());
    }
}
