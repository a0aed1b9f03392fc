//! The variables index: each execution's variables as people see them (masked, and
//! cut to the length Operate searches), one row per variable, written in the same
//! transaction as the unit of work that changes them. Operate's variable search
//! across executions runs over it in the database. It never holds a masked value
//! in plain text: rows are rendered as views render them (`_secrets`, `_masked` and
//! the run's masked values show as `***`).

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::sealing::{holds_sealed, sealed_object, unescape_reserved};
use super::{StoreError, StoreResult};
use crate::engine::masked::{MASK, SecretText, mask_map, view_variables};
use crate::model::JsonMap;

/// The first of the low key bits that name variables (below it, an execution's
/// tasks); see `docs/adr/0006-operate-keys.md`.
pub const VARIABLE_BASE: i64 = 1 << 15;

/// Longest value text a search shows and matches, as Operate cuts it.
pub const MAX_SEARCH_VALUE_CHARS: usize = 8191;

/// The bucket a variable's name falls in.
pub fn bucket(name: &str) -> i64 {
    let digest = Sha256::digest(name.as_bytes());
    (i64::from(digest[0]) << 8 | i64::from(digest[1])) & (VARIABLE_BASE - 1)
}

/// The low bits of a variable's key within its execution's keys.
pub fn low_bits(name: &str) -> i64 {
    VARIABLE_BASE + bucket(name)
}

/// One row of the index for one execution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexedVariable {
    pub name: String,
    /// [`low_bits`] of the name as stored (before masking).
    pub low: i64,
    /// The value's JSON text as people see it, cut to [`MAX_SEARCH_VALUE_CHARS`].
    pub value: String,
    pub truncated: bool,
}

/// What a search of the index finds: a variable and its execution's Operate number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VariableRow {
    pub seq: i64,
    pub name: String,
    pub low: i64,
    pub value: String,
    pub truncated: bool,
}

impl VariableRow {
    /// A row from the JSON object a store's search selects
    /// (`seq`, `name`, `low`, `value`, `truncated` as 0 or 1).
    pub fn from_json(text: &str) -> StoreResult<VariableRow> {
        let bad = |what: &str| StoreError::Corrupt(format!("a variables index row: {what}"));
        let row: Value = serde_json::from_str(text).map_err(|e| bad(&e.to_string()))?;
        let number = |field: &str| row.get(field).and_then(Value::as_i64);
        let text = |field: &str| row.get(field).and_then(Value::as_str).map(str::to_string);
        Ok(VariableRow {
            seq: number("seq").ok_or_else(|| bad("no seq"))?,
            name: text("name").ok_or_else(|| bad("no name"))?,
            low: number("low").ok_or_else(|| bad("no low"))?,
            value: text("value").ok_or_else(|| bad("no value"))?,
            truncated: number("truncated").is_some_and(|n| n != 0)
                || row.get("truncated").and_then(Value::as_bool) == Some(true),
        })
    }
}

/// A value's JSON text, cut for a search; and whether it was cut.
pub fn cut(value: &Value) -> (String, bool) {
    let text = value.to_string();
    match text.char_indices().nth(MAX_SEARCH_VALUE_CHARS) {
        Some((at, _)) => (text[..at].to_string(), true),
        None => (text, false),
    }
}

/// The index rows of a run's variables; `masked` are the values the run masks.
pub fn rows(variables: &JsonMap, masked: &[SecretText]) -> Vec<IndexedVariable> {
    variables
        .iter()
        .map(|(name, value)| {
            // One at a time: a name holding a masked value shows masked, and so
            // does the key made from it, as in the execution's own view.
            let one = JsonMap::from_iter([(name.clone(), value.clone())]);
            let (shown_name, shown) = view_variables(&one, masked)
                .into_iter()
                .next()
                .unwrap_or_else(|| (MASK.to_string(), Value::String(MASK.to_string())));
            let (value, truncated) = cut(&shown);
            IndexedVariable {
                low: low_bits(&shown_name),
                name: storable(shown_name),
                value,
                truncated,
            }
        })
        .collect()
}

/// A name as every store can hold it: PostgreSQL's text holds no NUL character.
fn storable(name: String) -> String {
    if name.contains('\0') {
        name.replace('\0', "\u{FFFD}")
    } else {
        name
    }
}

/// Where a stored workflow row comes from, for [`rows_of_stored`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoredIn<'a> {
    /// The archive, whose rows are written already redacted.
    Archive,
    /// The live table; with the JSON of the definition revision the run runs.
    Live(Option<&'a str>),
}

/// The index rows of a workflow as a live or archived row stores it (for an index
/// built after the rows were written, without the keys that open sealed values).
/// Archived rows are redacted already. A live run that masks anything (sealed
/// values, masked fields of its own or its definition's, recorded masked values)
/// shows every value as `***`, since the values it masks cannot be read here; its
/// next unit of work writes its rows exactly.
pub fn rows_of_stored(json: &str, stored_in: StoredIn<'_>) -> StoreResult<Vec<IndexedVariable>> {
    let mut row: Value = serde_json::from_str(json)
        .map_err(|e| StoreError::Corrupt(format!("a stored workflow: {e}")))?;
    let masks = match stored_in {
        StoredIn::Archive => false,
        StoredIn::Live(def) => {
            let listed = |value: &Value, field: &str| {
                value
                    .get(field)
                    .and_then(Value::as_array)
                    .is_some_and(|list| !list.is_empty())
            };
            let def_masks = def
                .and_then(|text| serde_json::from_str::<Value>(text).ok())
                .is_some_and(|def| listed(&def, "maskedFields"));
            holds_sealed(json)
                || listed(&row, "maskedFields")
                || listed(&row, "maskedValues")
                || def_masks
        }
    };
    let Some(Value::Object(mut variables)) = row.get_mut("variables").map(Value::take) else {
        return Ok(Vec::new());
    };
    for value in variables.values_mut() {
        if masks {
            *value = Value::String(MASK.to_string());
        } else {
            hide_sealed(value);
        }
    }
    let mut tree = Value::Object(variables);
    unescape_reserved(&mut tree);
    let Value::Object(mut variables) = tree else {
        return Ok(Vec::new());
    };
    mask_map(&mut variables);
    Ok(rows(&variables, &[]))
}

fn hide_sealed(value: &mut Value) {
    if sealed_object(value).is_some() {
        *value = Value::String(MASK.to_string());
        return;
    }
    match value {
        Value::Object(map) => map.values_mut().for_each(hide_sealed),
        Value::Array(items) => items.iter_mut().for_each(hide_sealed),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::sync::Arc;

    fn map(value: Value) -> JsonMap {
        value.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn rows_show_what_people_see() {
        let variables = map(json!({
            "order": "A-1",
            "_secrets": {"token": "t0ken"},
            "nested": {"_masked": 7, "ok": true},
            "copy": "Bearer hunter2",
            "hunter2": 1,
        }));
        let rows = rows(&variables, &[Arc::from("hunter2")]);
        let by_name = |name: &str| rows.iter().find(|r| r.name == name).cloned();
        assert_eq!(by_name("order").map(|r| r.value), Some("\"A-1\"".into()));
        assert_eq!(by_name("_secrets").map(|r| r.value), Some("\"***\"".into()));
        assert_eq!(
            by_name("nested").map(|r| r.value),
            Some(r#"{"_masked":"***","ok":true}"#.into())
        );
        assert_eq!(
            by_name("copy").map(|r| r.value),
            Some("\"Bearer ***\"".into())
        );
        // A name holding a masked value is masked, and so is its key.
        let masked_name = by_name("***").expect("masked name");
        assert_eq!(masked_name.low, low_bits("***"));
        assert!(
            rows.iter()
                .all(|r| !r.value.contains("hunter2") && !r.name.contains("hunter2"))
        );
        assert!(rows.iter().all(|r| !r.value.contains("t0ken")));
    }

    #[test]
    fn long_values_are_cut_at_a_character() {
        let long = "é".repeat(MAX_SEARCH_VALUE_CHARS + 5);
        let rows = rows(&map(json!({"big": long})), &[]);
        assert!(rows[0].truncated);
        assert_eq!(rows[0].value.chars().count(), MAX_SEARCH_VALUE_CHARS);
        let (short, cut_short) = cut(&json!("x"));
        assert_eq!((short.as_str(), cut_short), ("\"x\"", false));
    }

    #[test]
    fn stored_rows_hide_sealed_values() {
        let stored = json!({
            "workflowId": "w",
            "variables": {
                "plain": 1,
                "_secrets": {"$podiumAtRest": {"v": 1, "k": "key", "n": "..", "c": ".."}},
                "deep": [{"x": {"$podiumAtRest": {"v": 1}}}],
            }
        })
        .to_string();
        let rows = rows_of_stored(&stored, StoredIn::Archive).expect("rows");
        let text: Vec<String> = rows
            .iter()
            .map(|r| format!("{}={}", r.name, r.value))
            .collect();
        assert!(text.contains(&"plain=1".to_string()), "{text:?}");
        assert!(text.contains(&"_secrets=\"***\"".to_string()), "{text:?}");
        assert!(
            text.contains(&r#"deep=[{"x":"***"}]"#.to_string()),
            "{text:?}"
        );
        assert!(
            rows_of_stored("{\"workflowId\":\"w\"}", StoredIn::Live(None))
                .expect("none")
                .is_empty()
        );
        assert!(rows_of_stored("not json", StoredIn::Archive).is_err());
        // A live run that masks anything shows every value masked: the values it
        // masks are sealed, or not recorded at all in rows written long ago.
        let plain =
            json!({"workflowId": "w", "variables": {"copy": "hunter2", "n": 1}}).to_string();
        let unmasked =
            rows_of_stored(&plain, StoredIn::Live(Some(r#"{"name":"d"}"#))).expect("rows");
        assert!(unmasked.iter().any(|r| r.value == "\"hunter2\""));
        let by_definition = rows_of_stored(
            &plain,
            StoredIn::Live(Some(r#"{"maskedFields":["password"]}"#)),
        )
        .expect("rows");
        assert!(
            by_definition.iter().all(|r| r.value == "\"***\""),
            "{by_definition:?}"
        );
        let recorded =
            json!({"workflowId": "w", "maskedFields": ["p"], "variables": {"copy": "x"}})
                .to_string();
        let by_run = rows_of_stored(&recorded, StoredIn::Live(None)).expect("rows");
        assert_eq!(by_run[0].value, "\"***\"");
    }

    #[test]
    fn names_every_store_can_hold() {
        let rows = rows(&map(json!({"a\u{0}b": 1})), &[]);
        assert_eq!(rows[0].name, "a\u{FFFD}b");
    }

    #[test]
    fn rows_read_back_from_either_store() {
        let row = VariableRow::from_json(
            r#"{"seq": 3, "name": "a", "low": 32800, "value": "1", "truncated": 1}"#,
        )
        .expect("row");
        assert!(row.truncated);
        let row = VariableRow::from_json(
            r#"{"seq": 3, "name": "a", "low": 32800, "value": "1", "truncated": false}"#,
        )
        .expect("row");
        assert!(!row.truncated);
        assert!(VariableRow::from_json(r#"{"seq": 3}"#).is_err());
    }
}
