//! The size and depth of the JSON payloads the engine builds and accepts (task inputs
//! and outputs, workflow inputs and outputs), measured without recursion and without
//! building the encoded text, and the reasons a task or workflow fails when one is too
//! large.
//!
//! The depth bound keeps every row the store writes readable: rows are read back with
//! serde_json, which refuses JSON nested 128 levels or more, and an archived workflow
//! wraps a task's payload in three more levels (workflow, tasks, task). Values the
//! engine builds (a task input holding a whole workflow input, a join holding its
//! branches' outputs) are not bounded by any parser, so they are checked here.

use std::io;

use serde::Serialize;
use serde_json::Value;

use crate::model::JsonMap;

/// Most levels a payload map may nest: `{"a": 1}` is one level, `{"a": {"b": [1]}}`
/// three. Far below the 127 levels a stored row may hold, with room for the levels
/// an archived workflow adds around its tasks' payloads.
pub const MAX_PAYLOAD_DEPTH: usize = 100;

/// Why a payload is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Excess {
    /// Nested deeper than [`MAX_PAYLOAD_DEPTH`].
    Deep,
    /// Larger than the limit: `size` bytes of JSON.
    Large { size: usize },
    /// Larger than the limit, and at least `size` bytes of JSON (building it stopped
    /// once past the limit).
    AtLeast { size: usize },
}

impl Excess {
    fn size_text(self) -> String {
        match self {
            Excess::Large { size } => size.to_string(),
            Excess::AtLeast { size } => format!("at least {size}"),
            Excess::Deep => String::new(),
        }
    }
}

/// The nesting depth of a map (1 for a map of scalars), or None once it passes `max`.
/// Iterative, so any depth is measured safely.
pub fn map_depth_within(map: &JsonMap, max: usize) -> Option<usize> {
    let mut deepest = 1;
    let mut stack: Vec<(&Value, usize)> = map.values().map(|v| (v, 2)).collect();
    while let Some((value, level)) = stack.pop() {
        match value {
            Value::Object(inner) => {
                deepest = deepest.max(level);
                stack.extend(inner.values().map(|v| (v, level + 1)));
            }
            Value::Array(items) => {
                deepest = deepest.max(level);
                stack.extend(items.iter().map(|v| (v, level + 1)));
            }
            _ => {}
        }
        if deepest > max {
            return None;
        }
    }
    Some(deepest)
}

/// Counts bytes and stops the writer once past a cap.
struct Counter {
    count: usize,
    cap: usize,
}

impl io::Write for Counter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.count = self.count.saturating_add(buf.len());
        if self.count > self.cap {
            return Err(io::Error::other("over the cap"));
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The length of `value` encoded as JSON when it is at most `cap` bytes; otherwise
/// `Err` with the count reached when encoding stopped (more than `cap`). Encoding
/// stops as soon as the cap is passed, so the work is bounded by the cap. The value
/// must be of bounded depth (every value the engine holds is).
pub fn encoded_len<T: Serialize + ?Sized>(value: &T, cap: usize) -> Result<usize, usize> {
    let mut counter = Counter { count: 0, cap };
    match serde_json::to_writer(&mut counter, value) {
        Ok(()) => Ok(counter.count),
        Err(_) => Err(counter.count.max(cap.saturating_add(1))),
    }
}

/// Checks a payload map against the depth bound and `max_bytes`; its size when it
/// fits.
pub fn check(map: &JsonMap, max_bytes: usize) -> Result<usize, Excess> {
    if map_depth_within(map, MAX_PAYLOAD_DEPTH).is_none() {
        return Err(Excess::Deep);
    }
    encoded_len(map, max_bytes).map_err(|_| Excess::Large {
        // Measured again to name the exact size: the map is already built, and bounded
        // by what built it (a request body, other checked payloads).
        size: encoded_len(map, usize::MAX).unwrap_or(usize::MAX),
    })
}

/// Conductor's reason for a task whose payload is too large, and Podium's for one
/// nested too deeply.
pub fn task_reason(excess: Excess, task_id: &str, workflow_id: &str, max_bytes: usize) -> String {
    match excess {
        Excess::Large { .. } | Excess::AtLeast { .. } => format!(
            "The payload size: {} of task: {task_id} in workflow: {workflow_id} is greater than the permissible limit: {max_bytes} bytes",
            excess.size_text()
        ),
        Excess::Deep => format!(
            "The payload of task: {task_id} in workflow: {workflow_id} is nested more than the permissible limit: {MAX_PAYLOAD_DEPTH} levels"
        ),
    }
}

/// Conductor's reason for a workflow whose payload is too large, and Podium's for one
/// nested too deeply.
pub fn workflow_reason(excess: Excess, workflow_id: &str, max_bytes: usize) -> String {
    match excess {
        Excess::Large { .. } | Excess::AtLeast { .. } => format!(
            "The payload size: {} of workflow: {workflow_id} is greater than the permissible limit: {max_bytes} bytes",
            excess.size_text()
        ),
        Excess::Deep => format!(
            "The payload of workflow: {workflow_id} is nested more than the permissible limit: {MAX_PAYLOAD_DEPTH} levels"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(value: Value) -> JsonMap {
        value.as_object().cloned().unwrap_or_default()
    }

    /// `{"a": {"a": ... 1}}` with `levels` maps.
    fn nested(levels: usize) -> JsonMap {
        let mut value = json!(1);
        for _ in 1..levels {
            value = json!({ "a": value });
        }
        map(json!({ "a": value }))
    }

    #[test]
    fn depth_is_counted_without_recursion() {
        assert_eq!(map_depth_within(&map(json!({"a": 1})), 10), Some(1));
        assert_eq!(
            map_depth_within(&map(json!({"a": {"b": [1]}})), 10),
            Some(3)
        );
        assert_eq!(map_depth_within(&JsonMap::new(), 10), Some(1));
        assert_eq!(map_depth_within(&nested(100), 100), Some(100));
        assert_eq!(map_depth_within(&nested(101), 100), None);
        assert_eq!(map_depth_within(&nested(6), 3), None);
    }

    #[test]
    fn length_is_measured_up_to_a_cap() {
        let value = map(json!({"text": "x".repeat(100)}));
        let exact = serde_json::to_vec(&value).unwrap().len();
        assert_eq!(encoded_len(&value, exact), Ok(exact));
        assert!(matches!(encoded_len(&value, 10), Err(n) if n > 10));
        assert_eq!(check(&value, exact), Ok(exact));
        assert_eq!(check(&value, 10), Err(Excess::Large { size: exact }));
        assert!(matches!(check(&nested(101), usize::MAX), Err(Excess::Deep)));
    }

    #[test]
    fn reasons_name_the_size_and_the_limit() {
        let reason = task_reason(Excess::Large { size: 2048 }, "t1", "w1", 1024);
        assert_eq!(
            reason,
            "The payload size: 2048 of task: t1 in workflow: w1 is greater than the permissible limit: 1024 bytes"
        );
        let reason = workflow_reason(Excess::AtLeast { size: 1025 }, "w1", 1024);
        assert_eq!(
            reason,
            "The payload size: at least 1025 of workflow: w1 is greater than the permissible limit: 1024 bytes"
        );
        let reason = workflow_reason(Excess::Deep, "w1", 1024);
        assert!(reason.contains("nested more than the permissible limit: 100 levels"));
    }
}
