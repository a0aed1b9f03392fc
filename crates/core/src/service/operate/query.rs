//! Operate's search requests: `filter`, `size`, `sort` and `searchAfter`, checked as
//! Operate checks them, and run over objects held in memory (definitions, and what
//! one execution holds). Process instances are searched by the store instead
//! (`super::instances`).

use std::cmp::Ordering;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::error::{CoreError, CoreResult};

/// Largest page.
pub const MAX_SIZE: i64 = 1000;
/// The page size when the request names none.
pub const DEFAULT_SIZE: i64 = 10;
/// Most sort fields a request may name.
pub const MAX_SORT_FIELDS: usize = 8;

/// One sort field of a request.
#[derive(Debug, Clone, Deserialize)]
pub struct SortSpec {
    pub field: String,
    #[serde(default)]
    pub order: Option<String>,
}

/// A search request as the API takes it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchRequest {
    #[serde(default)]
    pub filter: Option<Map<String, Value>>,
    #[serde(default)]
    pub size: Option<i64>,
    #[serde(default)]
    pub sort: Option<Vec<SortSpec>>,
    #[serde(default)]
    pub search_after: Option<Vec<Value>>,
}

/// A checked request: its filter, page size, sort (field, ascending) without the
/// key, and the position to continue after (the sort values, then the key).
#[derive(Debug, Clone)]
pub struct Checked {
    pub filter: Map<String, Value>,
    pub size: usize,
    pub sort: Vec<(String, bool)>,
    /// The direction of the key, which ends every sort.
    pub key_ascending: bool,
    pub after: Option<(Vec<Value>, i64)>,
}

/// One page of an answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub items: Vec<Value>,
    pub total: i64,
    /// The last item's sort values and key, for `searchAfter`.
    pub sort_values: Vec<Value>,
}

impl Page {
    /// The answer's JSON.
    pub fn to_json(&self) -> Value {
        let mut out = serde_json::json!({"items": self.items, "total": self.total});
        if !self.sort_values.is_empty() {
            out["sortValues"] = Value::Array(self.sort_values.clone());
        }
        out
    }
}

/// A number as Operate clients send it: a JSON number, a string of digits, or the
/// `{"value": "...", "isLosslessNumber": true}` object the JavaScript SDK sends back
/// from `sortValues`.
pub fn as_key(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        Value::Object(map) => map.get("value").and_then(as_key),
        _ => None,
    }
}

/// A value as a comparable scalar: lossless numbers unwrapped.
pub fn scalar(value: &Value) -> Value {
    match value {
        Value::Object(map) if map.contains_key("isLosslessNumber") => map
            .get("value")
            .and_then(as_key)
            .map_or(Value::Null, Value::from),
        other => other.clone(),
    }
}

impl SearchRequest {
    /// Checks the request against the entity's fields (`sortable`: those it may be
    /// sorted by; `filterable`: those it may be filtered by).
    pub fn check(self, filterable: &[&str], sortable: &[&str]) -> CoreResult<Checked> {
        let size = self.size.unwrap_or(DEFAULT_SIZE);
        if !(1..=MAX_SIZE).contains(&size) {
            return Err(CoreError::invalid(format!(
                "size must be between 1 and {MAX_SIZE}, not {size}"
            )));
        }
        let filter = self.filter.unwrap_or_default();
        for name in filter.keys() {
            if !filterable.contains(&name.as_str()) {
                return Err(CoreError::invalid(format!(
                    "Cannot filter by '{name}': the fields are {}",
                    filterable.join(", ")
                )));
            }
        }
        let specs = self.sort.unwrap_or_default();
        if specs.len() > MAX_SORT_FIELDS {
            return Err(CoreError::invalid(format!(
                "sort may name at most {MAX_SORT_FIELDS} fields"
            )));
        }
        let mut sort = Vec::new();
        let mut key_ascending = None;
        for spec in specs {
            if !sortable.contains(&spec.field.as_str()) {
                return Err(CoreError::invalid(format!(
                    "Sort by '{}' is not supported: the fields are {}",
                    spec.field,
                    sortable.join(", ")
                )));
            }
            let ascending = match spec
                .order
                .as_deref()
                .map(str::to_ascii_uppercase)
                .as_deref()
            {
                None | Some("ASC") => true,
                Some("DESC") => false,
                Some(other) => {
                    return Err(CoreError::invalid(format!(
                        "Sort order must be ASC or DESC, not '{other}'"
                    )));
                }
            };
            if key_ascending.is_some() {
                // Keys are unique: nothing after the key changes the order.
                continue;
            }
            if spec.field == "key" {
                key_ascending = Some(ascending);
            } else {
                sort.push((spec.field, ascending));
            }
        }
        let key_ascending = key_ascending.unwrap_or(true);
        let after = match self.search_after {
            None => None,
            Some(values) if values.is_empty() => {
                return Err(CoreError::invalid("searchAfter must not be empty"));
            }
            Some(values) => {
                if values.len() != sort.len() + 1 {
                    return Err(CoreError::invalid(format!(
                        "searchAfter must hold {} values: one for each sort field, then the key",
                        sort.len() + 1
                    )));
                }
                let mut values: Vec<Value> = values.iter().map(scalar).collect();
                let key = values.pop().as_ref().and_then(as_key).ok_or_else(|| {
                    CoreError::invalid("searchAfter must end with a key (a number)")
                })?;
                Some((values, key))
            }
        };
        Ok(Checked {
            filter,
            size: usize::try_from(size).unwrap_or(10),
            sort,
            key_ascending,
            after,
        })
    }
}

/// Orders two JSON values of one field: numbers by value, text by bytes, absent
/// values last.
pub fn compare(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Null, Value::Null) => Ordering::Equal,
        (Value::Null, _) => Ordering::Greater,
        (_, Value::Null) => Ordering::Less,
        (Value::Number(x), Value::Number(y)) => x
            .as_f64()
            .partial_cmp(&y.as_f64())
            .unwrap_or(Ordering::Equal),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        _ => text(a).cmp(&text(b)),
    }
}

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Whether an item's field matches a filter value exactly (keys and numbers by
/// value, whether sent as numbers or text).
pub fn matches(item: &Value, field: &str, wanted: &Value) -> bool {
    let have = item.get(field).unwrap_or(&Value::Null);
    let wanted = scalar(wanted);
    // A date, exact or rounded.
    if let (Value::String(have), Some((from, to))) = (have, wanted.as_str().and_then(date_range)) {
        return date_range(have).is_some_and(|(at, _)| (from..to).contains(&at));
    }
    match (as_key(have), as_key(&wanted)) {
        (Some(x), Some(y)) if have.is_number() || wanted.is_number() => x == y,
        _ => match (have, &wanted) {
            (Value::Bool(x), Value::String(y)) => x.to_string() == *y,
            _ => *have == wanted,
        },
    }
}

/// Runs a checked search over items (each an object with a `key`), sorting by the
/// request's fields then the key.
pub fn run(items: Vec<Value>, request: &Checked) -> Page {
    let mut found: Vec<Value> = items
        .into_iter()
        .filter(|item| {
            request
                .filter
                .iter()
                .all(|(field, wanted)| matches(item, field, wanted))
        })
        .collect();
    let order = |a: &Value, b: &Value| {
        for (field, ascending) in &request.sort {
            let ordering = compare(
                a.get(field).unwrap_or(&Value::Null),
                b.get(field).unwrap_or(&Value::Null),
            );
            let ordering = if *ascending {
                ordering
            } else {
                ordering.reverse()
            };
            if ordering != Ordering::Equal {
                return ordering;
            }
        }
        let by_key = key_of(a).cmp(&key_of(b));
        if request.key_ascending {
            by_key
        } else {
            by_key.reverse()
        }
    };
    found.sort_by(order);
    let total = i64::try_from(found.len()).unwrap_or(i64::MAX);
    let start = match &request.after {
        None => 0,
        Some((values, key)) => {
            let mut cursor = Map::new();
            for ((field, _), value) in request.sort.iter().zip(values) {
                cursor.insert(field.clone(), value.clone());
            }
            cursor.insert("key".into(), Value::from(*key));
            let cursor = Value::Object(cursor);
            found
                .iter()
                .position(|item| order(item, &cursor) == Ordering::Greater)
                .unwrap_or(found.len())
        }
    };
    let items: Vec<Value> = found.into_iter().skip(start).take(request.size).collect();
    let sort_values = items
        .last()
        .map(|last| sort_values_of(last, &request.sort))
        .unwrap_or_default();
    Page {
        items,
        total,
        sort_values,
    }
}

/// An item's sort values and key.
pub fn sort_values_of(item: &Value, sort: &[(String, bool)]) -> Vec<Value> {
    let mut values: Vec<Value> = sort
        .iter()
        .map(|(field, _)| item.get(field).cloned().unwrap_or(Value::Null))
        .collect();
    values.push(Value::from(key_of(item)));
    values
}

fn key_of(item: &Value) -> i64 {
    item.get("key").and_then(as_key).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request(value: Value) -> SearchRequest {
        serde_json::from_value(value).expect("request")
    }

    #[test]
    fn requests_are_checked_as_operate_checks_them() {
        let fields = ["key", "name", "version"];
        let ok = request(json!({}))
            .check(&fields, &fields)
            .expect("defaults");
        assert_eq!((ok.size, ok.sort.len(), ok.after.is_none()), (10, 0, true));
        for bad in [
            json!({"size": 0}),
            json!({"size": 1001}),
            json!({"searchAfter": []}),
            json!({"sort": [{"field": "name"}], "searchAfter": [1]}),
            json!({"sort": [{"field": "bogus"}]}),
            json!({"sort": [{"field": "name", "order": "UP"}]}),
            json!({"filter": {"bogus": 1}}),
            json!({"searchAfter": ["not a key"]}),
            json!({"sort": vec![json!({"field": "name"}); 9]}),
        ] {
            let err = request(bad.clone()).check(&fields, &fields).unwrap_err();
            assert!(
                matches!(err, CoreError::InvalidInput { .. }),
                "{bad}: {err}"
            );
        }
        // The JavaScript SDK sends sortValues back as lossless-number objects.
        let lossless =
            request(json!({"searchAfter": [{"value": "65536", "isLosslessNumber": true}]}))
                .check(&fields, &fields)
                .expect("lossless");
        assert_eq!(lossless.after, Some((vec![], 65536)));
    }

    #[test]
    fn pages_follow_each_other_by_sort_values_and_key() {
        let items: Vec<Value> = (1..=5)
            .map(|k| json!({"key": k, "name": if k % 2 == 0 { "b" } else { "a" }, "version": k}))
            .collect();
        let fields = ["key", "name", "version"];
        let first = request(json!({"size": 2, "sort": [{"field": "name", "order": "DESC"}]}))
            .check(&fields, &fields)
            .expect("checked");
        let page = run(items.clone(), &first);
        assert_eq!(page.total, 5);
        let keys: Vec<i64> = page.items.iter().map(key_of).collect();
        assert_eq!(keys, [2, 4]);
        assert_eq!(page.sort_values, vec![json!("b"), json!(4)]);
        let next = request(json!({"size": 2, "sort": [{"field": "name", "order": "DESC"}], "searchAfter": page.sort_values}))
            .check(&fields, &fields)
            .expect("checked");
        let keys: Vec<i64> = run(items.clone(), &next).items.iter().map(key_of).collect();
        assert_eq!(keys, [1, 3]);
        let descending = request(json!({"size": 2, "sort": [{"field": "key", "order": "DESC"}]}))
            .check(&fields, &fields)
            .expect("checked");
        let keys: Vec<i64> = run(items.clone(), &descending)
            .items
            .iter()
            .map(key_of)
            .collect();
        assert_eq!(keys, [5, 4]);
        let filtered = request(json!({"filter": {"key": "3"}}))
            .check(&fields, &fields)
            .expect("checked");
        assert_eq!(run(items, &filtered).total, 1);
    }
}

/// A date filter of Operate (`2022-03-17T11:50:25.729+0000`, optionally rounded:
/// `...||/d`, with `y`, `M`, `w`, `d`, `h`, `m`, `s`): the epoch milliseconds it
/// matches, from (inclusive) to (exclusive).
pub fn date_range(text: &str) -> Option<(i64, i64)> {
    use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
    let (date, unit) = match text.split_once("||/") {
        Some((date, unit)) => (date, Some(unit)),
        None => (text, None),
    };
    let at = DateTime::parse_from_str(date.trim(), "%Y-%m-%dT%H:%M:%S%.3f%z")
        .ok()?
        .with_timezone(&Utc);
    let ms = at.timestamp_millis();
    let Some(unit) = unit else {
        return Some((ms, ms + 1));
    };
    let day = at.date_naive();
    let midnight = |d: NaiveDate| Utc.from_utc_datetime(&d.and_time(NaiveTime::MIN));
    let (from, to) = match unit {
        "s" => (ms - ms.rem_euclid(1000), Duration::seconds(1)),
        "m" => (ms - ms.rem_euclid(60_000), Duration::minutes(1)),
        "h" => (ms - ms.rem_euclid(3_600_000), Duration::hours(1)),
        "d" => (midnight(day).timestamp_millis(), Duration::days(1)),
        "w" => {
            let monday = day - Duration::days(i64::from(day.weekday().num_days_from_monday()));
            (midnight(monday).timestamp_millis(), Duration::weeks(1))
        }
        "M" => {
            let first = NaiveDate::from_ymd_opt(day.year(), day.month(), 1)?;
            let next = if day.month() == 12 {
                NaiveDate::from_ymd_opt(day.year() + 1, 1, 1)?
            } else {
                NaiveDate::from_ymd_opt(day.year(), day.month() + 1, 1)?
            };
            let start = midnight(first).timestamp_millis();
            return Some((start, midnight(next).timestamp_millis()));
        }
        "y" => {
            let first = NaiveDate::from_ymd_opt(day.year(), 1, 1)?;
            let next = NaiveDate::from_ymd_opt(day.year() + 1, 1, 1)?;
            return Some((
                midnight(first).timestamp_millis(),
                midnight(next).timestamp_millis(),
            ));
        }
        _ => return None,
    };
    Some((from, from + to.num_milliseconds()))
}

#[cfg(test)]
mod date_tests {
    use super::date_range;

    #[test]
    fn dates_match_exactly_or_rounded() {
        let at = 1_647_517_825_729; // 2022-03-17T11:50:25.729Z, a Thursday
        assert_eq!(
            date_range("2022-03-17T11:50:25.729+0000"),
            Some((at, at + 1))
        );
        assert_eq!(
            date_range("2022-03-17T12:50:25.729+0100"),
            Some((at, at + 1))
        );
        let minute = date_range("2022-03-17T11:50:25.729+0000||/m").expect("minute");
        assert_eq!(minute, (at - 25_729, at - 25_729 + 60_000));
        let day = date_range("2022-03-17T11:50:25.729+0000||/d").expect("day");
        assert_eq!(day.1 - day.0, 86_400_000);
        assert!(day.0 <= at && at < day.1);
        let week = date_range("2022-03-17T11:50:25.729+0000||/w").expect("week");
        assert_eq!(week.0, day.0 - 3 * 86_400_000, "from Monday");
        let month = date_range("2022-03-17T11:50:25.729+0000||/M").expect("month");
        assert_eq!(month.1 - month.0, 31 * 86_400_000);
        assert!(date_range("2022-03-17").is_none());
        assert!(date_range("2022-03-17T11:50:25.729+0000||/q").is_none());
    }
}
