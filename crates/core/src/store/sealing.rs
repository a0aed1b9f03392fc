//! Sealing at rest of what views show as `***`.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::StoreResult;

/// Seals and opens what a store keeps for live workflows and tasks that views show
/// as `***` — the values of `_secrets` and `_masked` maps, and any text or number
/// holding a value the run masks (`maskedFields`) — so that a database file, a
/// backup, a dump or a free-text search never finds them in plain text. The store
/// calls it when it encodes and decodes; the engine and workers see plain values.
pub trait PayloadSealer: Send + Sync {
    /// Seals, in place, every `_secrets` and `_masked` value of a workflow's JSON (or
    /// one of its tasks'), and every text or number holding one of `masked`;
    /// returns the id of the key used, if anything was sealed.
    fn seal(
        &self,
        workflow_id: &str,
        json: &mut serde_json::Value,
        masked: &[Arc<str>],
    ) -> StoreResult<Option<String>>;
    /// Opens what [`PayloadSealer::seal`] sealed; returns the texts that were sealed
    /// for holding a masked value, so a row rewritten without its run at hand (a
    /// claim) seals them again.
    fn open(&self, workflow_id: &str, json: &mut serde_json::Value) -> StoreResult<Vec<Arc<str>>>;
}

/// The key of a value sealed at rest.
pub const AT_REST: &str = "$podiumAtRest";

/// Whether encoded JSON may hold a value to seal (a cheap test before parsing).
pub fn may_hold_sealable(json: &str) -> bool {
    json.contains("\"_secrets\"") || json.contains("\"_masked\"")
}

/// Whether encoded JSON holds sealed values.
pub fn holds_sealed(json: &str) -> bool {
    json.contains(AT_REST)
}

/// The sealed form `{"$podiumAtRest": {...}}`, if `value` is one.
pub fn sealed_object(value: &Value) -> Option<&Map<String, Value>> {
    let map = value.as_object()?;
    if map.len() != 1 {
        return None;
    }
    map.get(AT_REST)?.as_object()
}

/// Whether `key` is the reserved key or an escaped form of it (followed by `$`s).
fn reserved(key: &str) -> bool {
    key.strip_prefix(AT_REST)
        .is_some_and(|rest| rest.bytes().all(|b| b == b'$'))
}

/// Renames the keys of every object in `value` for which `rename` gives a new name,
/// keeping their order.
fn rename_keys(value: &mut Value, rename: &impl Fn(&str) -> Option<String>) {
    match value {
        Value::Object(map) => {
            if map.keys().any(|k| rename(k).is_some()) {
                *map = std::mem::take(map)
                    .into_iter()
                    .map(|(k, v)| (rename(&k).unwrap_or(k), v))
                    .collect();
            }
            map.values_mut().for_each(|v| rename_keys(v, rename));
        }
        Value::Array(items) => items.iter_mut().for_each(|v| rename_keys(v, rename)),
        _ => {}
    }
}

/// Escapes the reserved key wherever a payload (a workflow's input, a worker's
/// output, an HTTP response) holds it, by appending a `$` to it and to its escaped
/// forms, so that only values the sealer sealed look sealed when the row is read:
/// anything else would make the row unreadable.
pub fn escape_reserved(value: &mut Value) {
    rename_keys(value, &|k| reserved(k).then(|| format!("{k}$")));
}

/// Undoes [`escape_reserved`], once the sealed values are opened.
pub fn unescape_reserved(value: &mut Value) {
    rename_keys(value, &|k| {
        (reserved(k) && k.len() > AT_REST.len()).then(|| k[..k.len() - 1].to_string())
    });
}

/// Whether `value` holds a sealed value anywhere.
pub fn contains_sealed(value: &Value) -> bool {
    if sealed_object(value).is_some() {
        return true;
    }
    match value {
        Value::Object(map) => map.values().any(contains_sealed),
        Value::Array(items) => items.iter().any(contains_sealed),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reserved_keys_round_trip_through_escaping_and_never_look_sealed() {
        let original = json!({
            "a": {"$podiumAtRest": {"nonce": "x"}},
            "b": [{"$podiumAtRest$": 1, "$podiumAtRest$$": 2, "$podiumAtRestX": 3}],
            "c": {"keep": 1, "$podiumAtRest": "last"}
        });
        let mut escaped = original.clone();
        escape_reserved(&mut escaped);
        assert!(!contains_sealed(&escaped), "{escaped}");
        assert_eq!(escaped["a"]["$podiumAtRest$"]["nonce"], "x");
        assert_eq!(escaped["b"][0]["$podiumAtRest$$$"], 2);
        assert_eq!(escaped["b"][0]["$podiumAtRestX"], 3);
        let keys: Vec<_> = escaped["c"].as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys, ["keep", "$podiumAtRest$"]);
        unescape_reserved(&mut escaped);
        assert_eq!(escaped, original);
    }
}
