//! Navigation of a workflow definition's task graph: finding a node by reference name
//! and the node that follows a finished one.

use crate::model::{WorkflowDef, WorkflowTask};

use super::task_type::TaskKind;

/// Where a node sits: the list holding it, its position, and the node owning the list.
struct Location<'d> {
    list: &'d [WorkflowTask],
    index: usize,
    owner: Option<&'d WorkflowTask>,
}

fn locate<'d>(
    list: &'d [WorkflowTask],
    owner: Option<&'d WorkflowTask>,
    reference: &str,
) -> Option<Location<'d>> {
    for (index, task) in list.iter().enumerate() {
        if task.task_reference_name == reference {
            return Some(Location { list, index, owner });
        }
        for child_list in children(task) {
            if let Some(found) = locate(child_list, Some(task), reference) {
                return Some(found);
            }
        }
    }
    None
}

/// The task lists nested directly in a node: switch cases, fork branches, loop bodies.
pub fn children(task: &WorkflowTask) -> Vec<&[WorkflowTask]> {
    let mut out: Vec<&[WorkflowTask]> = Vec::new();
    for case in task.decision_cases.values() {
        out.push(case);
    }
    if !task.default_case.is_empty() {
        out.push(&task.default_case);
    }
    for branch in &task.fork_tasks {
        out.push(branch);
    }
    if !task.loop_over.is_empty() {
        out.push(&task.loop_over);
    }
    out
}

/// Where the node of a task's reference name sits: an iteration of a loop's task
/// (`ref__3`) is its node's (`ref`), unless a node has the suffixed name itself.
fn locate_ref<'d>(def: &'d WorkflowDef, reference: &str) -> Option<Location<'d>> {
    locate(&def.tasks, None, reference).or_else(|| {
        let (bare, _) = super::loops::split_iteration(reference)?;
        locate(&def.tasks, None, bare)
    })
}

/// Whether `node` is the node of `reference` or holds it (in a case, a branch or
/// a loop's body).
pub fn holds(node: &WorkflowTask, reference: &str) -> bool {
    locate(std::slice::from_ref(node), None, reference).is_some()
}

/// The definition node with this reference name, anywhere in the graph; a loop
/// iteration's reference (`ref__3`) finds its node.
pub fn find_task<'d>(def: &'d WorkflowDef, reference: &str) -> Option<&'d WorkflowTask> {
    locate_ref(def, reference).and_then(|loc| loc.list.get(loc.index))
}

/// The node to schedule after `reference` finished successfully, if any.
///
/// The last node of a switch case continues after the switch; the last node of a fork
/// branch has no successor (the fork's join waits for it); a `TERMINATE` has none.
pub fn next_task<'d>(def: &'d WorkflowDef, reference: &str) -> Option<&'d WorkflowTask> {
    let loc = locate_ref(def, reference)?;
    let node = loc.list.get(loc.index)?;
    if TaskKind::of(&node.task_type) == TaskKind::Terminate {
        return None;
    }
    next_after(def, loc)
}

fn next_after<'d>(def: &'d WorkflowDef, loc: Location<'d>) -> Option<&'d WorkflowTask> {
    if let Some(next) = loc.list.get(loc.index + 1) {
        return Some(next);
    }
    let owner = loc.owner?;
    match TaskKind::of(&owner.task_type) {
        TaskKind::Switch | TaskKind::Decision => {
            let owner_loc = locate(&def.tasks, None, &owner.task_reference_name)?;
            next_after(def, owner_loc)
        }
        _ => None,
    }
}

/// The `DO_WHILE` node whose body holds the node `reference`, if any.
pub fn enclosing_loop<'d>(def: &'d WorkflowDef, reference: &str) -> Option<&'d WorkflowTask> {
    def.all_tasks().into_iter().find(|node| {
        TaskKind::of(&node.task_type) == TaskKind::DoWhile
            && node
                .loop_body()
                .iter()
                .any(|inner| inner.task_reference_name == reference)
    })
}

/// The node whose task list holds the node `reference` (a switch, a fork, a loop),
/// if it is nested.
pub fn owner_of<'d>(def: &'d WorkflowDef, reference: &str) -> Option<&'d WorkflowTask> {
    locate_ref(def, reference).and_then(|loc| loc.owner)
}

/// The node right before a join in its list (its fork), if any.
pub fn fork_before<'d>(def: &'d WorkflowDef, join_reference: &str) -> Option<&'d WorkflowTask> {
    let loc = locate_ref(def, join_reference)?;
    loc.index.checked_sub(1).and_then(|i| loc.list.get(i))
}

/// What runs beside the node `reference`: for each fork whose branch holds it
/// (nested forks too), the references of every node of the fork's other branches,
/// and the fork's join. A rerun from the node keeps those tasks (the other branches
/// run on, the join waits again) rather than dropping everything scheduled later.
pub fn beside(def: &WorkflowDef, reference: &str) -> (Vec<String>, Vec<String>) {
    fn collect(list: &[WorkflowTask], out: &mut Vec<String>) {
        for node in list {
            out.push(node.task_reference_name.clone());
            for child in children(node) {
                collect(child, out);
            }
        }
    }
    let (mut others, mut joins) = (Vec::new(), Vec::new());
    let mut current = reference.to_string();
    // Bounded by the definition's depth: each step moves to the enclosing node.
    while let Some(owner) = owner_of(def, &current) {
        if matches!(
            TaskKind::of(&owner.task_type),
            TaskKind::ForkJoin | TaskKind::ForkJoinDynamic
        ) {
            for branch in &owner.fork_tasks {
                let holds = branch.iter().any(|n| {
                    n.task_reference_name == current
                        || locate(std::slice::from_ref(n), None, &current).is_some()
                });
                if !holds {
                    collect(branch, &mut others);
                }
            }
            if let Some(join) = join_after_fork(def, &owner.task_reference_name) {
                joins.push(join.task_reference_name.clone());
            }
        }
        current = owner.task_reference_name.clone();
    }
    (others, joins)
}

/// The node right after a fork in its list: its join.
pub fn join_after_fork<'d>(def: &'d WorkflowDef, fork_reference: &str) -> Option<&'d WorkflowTask> {
    let loc = locate_ref(def, fork_reference)?;
    loc.list
        .get(loc.index + 1)
        .filter(|t| TaskKind::of(&t.task_type) == TaskKind::Join)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn def() -> WorkflowDef {
        serde_json::from_value(json!({
            "name": "g",
            "tasks": [
                {"name": "a", "taskReferenceName": "a"},
                {"name": "sw", "taskReferenceName": "sw", "type": "SWITCH", "evaluatorType": "value-param", "expression": "x",
                 "decisionCases": {"one": [{"name": "b", "taskReferenceName": "b"}, {"name": "c", "taskReferenceName": "c"}]},
                 "defaultCase": [{"name": "d", "taskReferenceName": "d"}]},
                {"name": "fork", "taskReferenceName": "fork", "type": "FORK_JOIN",
                 "forkTasks": [[{"name": "e", "taskReferenceName": "e"}, {"name": "f", "taskReferenceName": "f"}], [{"name": "g", "taskReferenceName": "g"}]]},
                {"name": "join", "taskReferenceName": "join", "type": "JOIN", "joinOn": ["f", "g"]},
                {"name": "t", "taskReferenceName": "t", "type": "TERMINATE"},
                {"name": "z", "taskReferenceName": "z"}
            ]
        }))
        .unwrap()
    }

    fn next(reference: &str) -> Option<String> {
        let def = def();
        next_task(&def, reference).map(|t| t.task_reference_name.clone())
    }

    #[test]
    fn successors_follow_conductor_rules() {
        assert_eq!(next("a").as_deref(), Some("sw"));
        assert_eq!(next("b").as_deref(), Some("c"));
        assert_eq!(next("c").as_deref(), Some("fork"));
        assert_eq!(next("d").as_deref(), Some("fork"));
        assert_eq!(next("e").as_deref(), Some("f"));
        assert_eq!(next("f"), None);
        assert_eq!(next("g"), None);
        assert_eq!(next("join").as_deref(), Some("t"));
        assert_eq!(next("t"), None);
        assert_eq!(next("z"), None);
        assert_eq!(next("missing"), None);
    }

    #[test]
    fn a_branch_node_runs_beside_the_other_branches() {
        let def = def();
        let (others, joins) = beside(&def, "f");
        assert_eq!(
            (others, joins),
            (vec!["g".to_string()], vec!["join".to_string()])
        );
        let (others, joins) = beside(&def, "g");
        assert_eq!(
            (others, joins),
            (
                vec!["e".to_string(), "f".to_string()],
                vec!["join".to_string()]
            )
        );
        assert_eq!(beside(&def, "c"), (vec![], vec![]));
    }

    #[test]
    fn finds_nested_nodes_and_joins() {
        let def = def();
        assert_eq!(find_task(&def, "g").map(|t| t.name.as_str()), Some("g"));
        assert_eq!(find_task(&def, "c").map(|t| t.name.as_str()), Some("c"));
        assert_eq!(
            join_after_fork(&def, "fork").map(|t| t.task_reference_name.as_str()),
            Some("join")
        );
    }
}
