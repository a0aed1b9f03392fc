//! Serde helpers shared by the Conductor wire types: lenient decoding of `null` and
//! of the loose scalar encodings the SDKs send.

use std::cell::Cell;

use serde::{Deserialize, Deserializer};

/// Decodes `null` (or an absent field, with `#[serde(default)]`) as the type's default.
///
/// Conductor's Jackson mapper tolerates explicit nulls for collections and numbers; the
/// JavaScript SDK sends them for unset builder fields.
pub fn null_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// Decodes a list of strings that may come as one string (Orkes accepts a single
/// role where a list of roles is expected, and the JavaScript SDK sends one), or
/// `null`.
pub fn one_or_many<'de, D>(deserializer: D) -> Result<Option<Vec<String>>, D::Error>
where
    D: Deserializer<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Option::<OneOrMany>::deserialize(deserializer)? {
        None => None,
        Some(OneOrMany::One(one)) => Some(vec![one]),
        Some(OneOrMany::Many(many)) => Some(many),
    })
}

/// Most levels of task lists nested inside forks, switches and loops that a definition
/// may hold. Decoding a definition recurses once per level through frames of the
/// derived decoders that take tens of kilobytes each in a debug build, so this is
/// bounded well below what a 2 MiB thread stack holds, whatever JSON nesting the
/// parser allows.
pub const MAX_TASK_NESTING: usize = 24;

thread_local! {
    /// Task lists being decoded on this thread, one inside the other. Decoding is
    /// synchronous, so the count belongs to the one decode in progress.
    static TASK_NESTING: Cell<usize> = const { Cell::new(0) };
}

/// One level of task-list nesting, released when dropped (also on error or panic).
struct NestingLevel {
    /// The level this list is at (1 for the lists of a top-level task).
    depth: usize,
}

impl NestingLevel {
    /// Enters a list one level deeper. A list one level past the bound is still
    /// entered, since a task at the deepest level is written with its (empty) nested
    /// lists, but no deeper: decoding never recurses further than that.
    fn enter() -> Option<NestingLevel> {
        TASK_NESTING.with(|depth| {
            let current = depth.get();
            (current <= MAX_TASK_NESTING).then(|| {
                depth.set(current + 1);
                NestingLevel { depth: current + 1 }
            })
        })
    }
}

impl Drop for NestingLevel {
    fn drop(&mut self) {
        TASK_NESTING.with(|depth| depth.set(depth.get().saturating_sub(1)));
    }
}

/// Task lists nested in a task: whether one holds any task.
pub trait TaskLists {
    fn holds_tasks(&self) -> bool;
}

impl<T> TaskLists for Vec<T> {
    fn holds_tasks(&self) -> bool {
        !self.is_empty()
    }
}

impl<K, V: TaskLists> TaskLists for indexmap::IndexMap<K, V> {
    fn holds_tasks(&self) -> bool {
        self.values().any(TaskLists::holds_tasks)
    }
}

fn too_deep<E: serde::de::Error>() -> E {
    E::custom(format!(
        "tasks are nested more than {MAX_TASK_NESTING} levels deep inside forks, switches and loops"
    ))
}

/// Decodes task lists nested in a task (switch cases, fork branches, loop bodies) as
/// [`null_default`] does, refusing tasks nested more than [`MAX_TASK_NESTING`] levels
/// deep; decoding stops one level past the bound, before it could recurse further.
/// A definition decodes from what it encodes to: a task at the deepest level carries
/// its nested lists, empty.
pub fn nested_tasks<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de> + TaskLists,
{
    let level = NestingLevel::enter().ok_or_else(too_deep::<D::Error>)?;
    let lists: T = null_default(deserializer)?;
    if level.depth > MAX_TASK_NESTING && lists.holds_tasks() {
        return Err(too_deep());
    }
    Ok(lists)
}

/// `skip_serializing_if` helper for `bool` fields that Conductor omits when false.
pub fn is_false(value: &bool) -> bool {
    !*value
}

/// `skip_serializing_if` helper for zero numbers.
pub fn is_zero_i64(value: &i64) -> bool {
    *value == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::WorkflowDef;
    use serde_json::{Value, json};

    /// A definition with `levels` loops, each holding the next.
    fn nested_loops(levels: usize) -> String {
        let mut task = json!({"name": "leaf", "taskReferenceName": "leaf"});
        for level in 0..levels {
            task = json!({"name": "l", "taskReferenceName": format!("l{level}"), "type": "DO_WHILE", "loopOver": [task]});
        }
        let definition: Value = json!({"name": "w", "tasks": [task]});
        definition.to_string()
    }

    #[test]
    fn task_nesting_is_refused_before_the_decoder_recurses() {
        // 60 levels are within serde_json's own limit and overflow a 2 MiB stack in a
        // debug build; decoding stops at the bound instead.
        let err = serde_json::from_str::<WorkflowDef>(&nested_loops(60)).unwrap_err();
        assert!(
            err.to_string()
                .contains("tasks are nested more than 24 levels deep"),
            "{err}"
        );
        // The count starts over after an error, and the bound itself decodes.
        let def: WorkflowDef = serde_json::from_str(&nested_loops(MAX_TASK_NESTING)).unwrap();
        assert_eq!(def.all_tasks().len(), MAX_TASK_NESTING + 1);
        let err = serde_json::from_value::<WorkflowDef>(
            serde_json::from_str(&nested_loops(MAX_TASK_NESTING + 1)).unwrap(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("nested more than 24 levels"));
        assert_eq!(TASK_NESTING.with(Cell::get), 0);
    }

    #[test]
    fn a_definition_at_the_bound_decodes_from_what_it_encodes_to() {
        // Encoding writes every task's nested lists, empty ones too: the deepest task's
        // come one level past the bound, and must still decode (a store reads the
        // definition back at every start).
        for def in [
            serde_json::from_str::<WorkflowDef>(&nested_loops(MAX_TASK_NESTING)).unwrap(),
            serde_json::from_str::<WorkflowDef>(&nested_forks(MAX_TASK_NESTING)).unwrap(),
        ] {
            let stored = serde_json::to_string(&def).unwrap();
            let read: WorkflowDef = serde_json::from_str(&stored).unwrap();
            assert_eq!(read, def);
        }
        assert!(serde_json::from_str::<WorkflowDef>(&nested_forks(MAX_TASK_NESTING + 1)).is_err());
        assert_eq!(TASK_NESTING.with(Cell::get), 0);
    }

    /// A definition with `levels` forks, each holding the next in its one branch.
    fn nested_forks(levels: usize) -> String {
        let mut task = json!({"name": "leaf", "taskReferenceName": "leaf"});
        for level in 0..levels {
            task = json!({"name": "f", "taskReferenceName": format!("f{level}"), "type": "FORK_JOIN", "forkTasks": [[task]]});
        }
        json!({"name": "w", "tasks": [task]}).to_string()
    }
}
