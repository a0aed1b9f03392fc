//! `JOIN` with optional and failed tasks, and `EXCLUSIVE_JOIN`, as Conductor ends
//! them.

use super::*;

fn fork_of(branches: Value) -> Value {
    json!({"name": "w", "tasks": [
        {"name": "fork", "taskReferenceName": "fork", "type": "FORK_JOIN", "forkTasks": branches},
        {"name": "join", "taskReferenceName": "join", "type": "JOIN", "joinOn": ["a", "b"]},
        simple("after")
    ]})
}

fn join_task(h: &Harness) -> crate::model::Task {
    h.state().tasks()[h.state().latest_task_index("join").unwrap()].clone()
}

#[test]
fn a_join_over_a_failed_optional_task_completes_with_errors() {
    let mut h = Harness::new();
    h.start(
        fork_of(json!([
            [{"name": "work", "taskReferenceName": "a", "optional": true, "taskDefinition": {"name": "work", "retryCount": 0}}],
            [simple("b")]
        ])),
        json!({}),
    );
    h.report("a", TaskResultStatus::FailedWithTerminalError, json!({}));
    h.complete("b", json!({"b": 1}));
    let join = join_task(&h);
    assert_eq!(join.status, TaskStatus::CompletedWithErrors);
    let a = h.task_id("a");
    assert_eq!(
        join.reason_for_incompletion.as_deref(),
        Some(format!("work/{a} completed with errors").as_str())
    );
    assert_eq!(join.output_data["b"], json!({"b": 1}));
    assert_eq!(
        h.tasks().last().unwrap(),
        &("after".into(), TaskStatus::Scheduled)
    );
}

/// Ends the joined tasks as given (a status, a reason) and runs the join once.
fn join_after(ended: &[(&str, TaskStatus, &str)], permissive: bool) -> crate::model::Task {
    let mut h = Harness::new();
    let node = |r: &str| json!({"name": "work", "taskReferenceName": r, "permissive": permissive});
    h.start(fork_of(json!([[node("a")], [node("b")]])), json!({}));
    let ended: Vec<(String, TaskStatus, String)> = ended
        .iter()
        .map(|(r, s, why)| (r.to_string(), *s, why.to_string()))
        .collect();
    h.with_state(|state, ctx, _| {
        for (reference, status, why) in &ended {
            let index = state.latest_task_index(reference).unwrap();
            if let Some(t) = state.task_mut(index) {
                t.status = *status;
                t.reason_for_incompletion = Some(why.clone());
            }
        }
        let index = state.latest_task_index("join").unwrap();
        super::super::joins::run_join(state, index, ctx);
    });
    join_task(&h)
}

#[test]
fn a_join_fails_with_the_reasons_of_every_failed_task() {
    let join = join_after(
        &[
            ("a", TaskStatus::FailedWithTerminalError, "ra"),
            ("b", TaskStatus::Failed, "rb"),
        ],
        false,
    );
    assert_eq!(join.status, TaskStatus::Failed);
    assert_eq!(join.reason_for_incompletion.as_deref(), Some("ra rb"));
    // A canceled task (a terminated sub-workflow) cancels the join instead.
    let join = join_after(&[("a", TaskStatus::Canceled, "stopped")], false);
    assert_eq!(join.status, TaskStatus::Canceled);
}

#[test]
fn a_permissive_failure_waits_for_the_other_joined_tasks() {
    let join = join_after(&[("a", TaskStatus::FailedWithTerminalError, "late")], true);
    assert!(!join.status.is_terminal(), "it waits for b");
    let join = join_after(
        &[
            ("a", TaskStatus::FailedWithTerminalError, "late"),
            ("b", TaskStatus::Completed, ""),
        ],
        true,
    );
    assert_eq!(join.status, TaskStatus::Failed);
}

fn exclusive(default: Value) -> Value {
    json!({"name": "w", "tasks": [
        {"name": "route", "taskReferenceName": "route", "type": "SWITCH", "evaluatorType": "value-param",
         "expression": "pick", "inputParameters": {"pick": "${workflow.input.pick}"},
         "decisionCases": {"x": [simple("x")], "y": [simple("y")]},
         "defaultCase": [simple("z")]},
        {"name": "ej", "taskReferenceName": "ej", "type": "EXCLUSIVE_JOIN", "joinOn": ["x", "y"],
         "defaultExclusiveJoinTask": default},
        simple("after")
    ], "outputParameters": {"joined": "${ej.output}"}})
}

#[test]
fn an_exclusive_join_takes_the_output_of_the_case_that_ran() {
    let mut h = Harness::new();
    h.start(exclusive(json!(["z"])), json!({"pick": "y"}));
    h.complete("y", json!({"from": "y"}));
    let ej = &h.state().tasks()[h.state().latest_task_index("ej").unwrap()];
    assert_eq!(ej.status, TaskStatus::Completed);
    assert_eq!(ej.task_type, "EXCLUSIVE_JOIN");
    assert_eq!(ej.output_data, map(json!({"from": "y"})));
    h.complete("after", json!({}));
    assert_eq!(h.status(), WorkflowStatus::Completed);
    assert_eq!(h.state().workflow.output["joined"], json!({"from": "y"}));

    // The default case: its task is taken from `defaultExclusiveJoinTask`.
    let mut h = Harness::new();
    h.start(exclusive(json!(["z"])), json!({"pick": "other"}));
    h.complete("z", json!({"from": "z"}));
    let ej = &h.state().tasks()[h.state().latest_task_index("ej").unwrap()];
    assert_eq!(ej.output_data, map(json!({"from": "z"})));
}

#[test]
fn an_exclusive_join_fails_as_its_task_did() {
    let mut h = Harness::new();
    h.start(
        json!({"name": "w", "tasks": [
            {"name": "route", "taskReferenceName": "route", "type": "SWITCH", "evaluatorType": "value-param",
             "expression": "pick", "inputParameters": {"pick": "x"},
             "decisionCases": {"x": [{"name": "work", "taskReferenceName": "x", "optional": true,
                                      "taskDefinition": {"name": "work", "retryCount": 0}}]}},
            {"name": "ej", "taskReferenceName": "ej", "type": "EXCLUSIVE_JOIN", "joinOn": ["x"]}
        ]}),
        json!({}),
    );
    // An optional task that failed completed with errors: the join completes.
    h.report("x", TaskResultStatus::FailedWithTerminalError, json!({}));
    let ej = &h.state().tasks()[h.state().latest_task_index("ej").unwrap()];
    assert_eq!(ej.status, TaskStatus::Completed);
    assert_eq!(h.status(), WorkflowStatus::Completed);
}

#[test]
fn a_rerun_from_a_branch_keeps_the_other_branches_and_joins_again() {
    let mut h = Harness::new();
    h.start(
        json!({"name": "w", "tasks": [
            {"name": "fork", "taskReferenceName": "fork", "type": "FORK_JOIN",
             "forkTasks": [[simple("a"), simple("a2")], [simple("b")]]},
            {"name": "join", "taskReferenceName": "join", "type": "JOIN", "joinOn": ["a2", "b"]},
            simple("after")
        ]}),
        json!({}),
    );
    for reference in ["a", "b", "a2", "after"] {
        h.complete(reference, json!({"r": reference}));
    }
    assert_eq!(h.status(), WorkflowStatus::Completed);
    let request = RerunWorkflowRequest {
        re_run_from_task_id: Some(h.task_id("a")),
        ..RerunWorkflowRequest::default()
    };
    h.with_state(|state, ctx, out| ops::rerun(state, &request, ctx, out))
        .unwrap();
    assert_eq!(h.status(), WorkflowStatus::Running);
    let statuses: HashMap<String, TaskStatus> = h.tasks().into_iter().collect();
    assert_eq!(statuses["a"], TaskStatus::Scheduled);
    assert_eq!(
        statuses["b"],
        TaskStatus::Completed,
        "the other branch stays"
    );
    assert!(!statuses["join"].is_terminal(), "the join waits again");
    assert!(!statuses.contains_key("a2") && !statuses.contains_key("after"));
    h.complete("a", json!({}));
    h.complete("a2", json!({"again": true}));
    assert_eq!(join_task(&h).status, TaskStatus::Completed);
    assert_eq!(join_task(&h).output_data["b"], json!({"r": "b"}));
    h.complete("after", json!({}));
    assert_eq!(h.status(), WorkflowStatus::Completed);
}
