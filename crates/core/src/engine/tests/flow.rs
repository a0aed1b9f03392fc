//! Decisions: linear flows, retries, switch, fork and join, terminate, variables.

use super::*;

#[test]
fn a_linear_workflow_runs_to_completion_with_outputs() {
    let mut h = Harness::new();
    h.start(
        json!({"name": "linear", "tasks": [
            {"name": "work", "taskReferenceName": "a", "inputParameters": {"x": "${workflow.input.x}"}},
            {"name": "work", "taskReferenceName": "b", "inputParameters": {"y": "${a.output.y}", "text": "got ${a.output.y}"}}
        ], "outputParameters": {"result": "${b.output.z}"}}),
        json!({"x": 7}),
    );
    assert_eq!(h.tasks(), vec![("a".into(), TaskStatus::Scheduled)]);
    assert_eq!(h.queued(), vec!["work"]);
    assert_eq!(h.state().tasks()[0].input_data, map(json!({"x": 7})));
    h.complete("a", json!({"y": [1, 2]}));
    assert_eq!(h.tasks()[1], ("b".into(), TaskStatus::Scheduled));
    assert_eq!(
        h.state().tasks()[1].input_data,
        map(json!({"y": [1, 2], "text": "got [1, 2]"}))
    );
    h.complete("b", json!({"z": "done"}));
    assert_eq!(h.status(), WorkflowStatus::Completed);
    assert_eq!(h.state().workflow.output, map(json!({"result": "done"})));
    assert!(h.out.queue_removals.iter().any(|id| *id == h.task_id("b")));
}

#[test]
fn without_output_parameters_the_last_task_output_is_the_output() {
    let mut h = Harness::new();
    h.start(json!({"name": "w", "tasks": [simple("a")]}), json!({}));
    h.complete("a", json!({"k": "v"}));
    assert_eq!(h.state().workflow.output, map(json!({"k": "v"})));
}

#[test]
fn failed_tasks_are_retried_with_the_configured_delay_then_fail_the_workflow() {
    let mut h = Harness::new().task_def(json!({"name": "work", "retryCount": 2, "retryLogic": "EXPONENTIAL_BACKOFF", "retryDelaySeconds": 3}));
    h.start(
        json!({"name": "w", "failureWorkflow": "", "tasks": [simple("a")]}),
        json!({}),
    );
    h.report("a", TaskResultStatus::Failed, json!({}));
    let tasks = h.state().tasks();
    assert_eq!(tasks.len(), 2);
    assert!(tasks[0].retried);
    assert_eq!(tasks[1].retry_count, 1);
    assert_eq!(
        tasks[1].retried_task_id.as_deref(),
        Some(tasks[0].task_id.as_str())
    );
    assert_eq!(h.out.queue_pushes[0].visible_at, h.now + 3_000);
    h.report("a", TaskResultStatus::Failed, json!({}));
    assert_eq!(h.out.queue_pushes[0].visible_at, h.now + 6_000);
    h.report("a", TaskResultStatus::Failed, json!({}));
    assert_eq!(h.status(), WorkflowStatus::Failed);
    let reason = h
        .state()
        .workflow
        .reason_for_incompletion
        .clone()
        .unwrap_or_default();
    assert!(
        reason.contains("failed with status: FAILED and reason: 'boom'"),
        "{reason}"
    );
    assert_eq!(h.state().workflow.failed_reference_task_names, vec!["a"]);
    assert!(
        h.out.job_adds.is_empty(),
        "an empty failureWorkflow starts nothing"
    );
}

#[test]
fn terminal_errors_are_not_retried_and_optional_tasks_let_the_workflow_go_on() {
    let mut h = Harness::new();
    h.start(json!({"name": "w", "tasks": [simple("a")]}), json!({}));
    h.report("a", TaskResultStatus::FailedWithTerminalError, json!({}));
    assert_eq!(h.status(), WorkflowStatus::Failed);

    let mut h = Harness::new();
    h.start(
        json!({"name": "w", "tasks": [{"name": "work", "taskReferenceName": "a", "optional": true, "retryCount": 0}, simple("b")]}),
        json!({}),
    );
    h.report("a", TaskResultStatus::Failed, json!({}));
    assert_eq!(
        h.tasks(),
        vec![
            ("a".into(), TaskStatus::CompletedWithErrors),
            ("b".into(), TaskStatus::Scheduled)
        ]
    );
}

#[test]
fn linear_backoff_and_the_delay_cap() {
    let def: TaskDef = serde_json::from_value(json!({"name": "t", "retryLogic": "LINEAR_BACKOFF", "retryDelaySeconds": 2, "backoffScaleFactor": 3, "maxRetryDelaySeconds": 10})).unwrap();
    assert_eq!(crate::engine::decider::retry_delay_seconds(&def, 0), 6);
    assert_eq!(crate::engine::decider::retry_delay_seconds(&def, 1), 10);
}

#[test]
fn switch_follows_the_matching_case_then_continues_after_it() {
    let definition = json!({"name": "w", "tasks": [
        {"name": "sw", "taskReferenceName": "sw", "type": "SWITCH", "evaluatorType": "value-param", "expression": "switchCaseValue",
         "inputParameters": {"switchCaseValue": "${workflow.input.kind}"},
         "decisionCases": {"a": [simple("in_a")], "b": []}, "defaultCase": [simple("in_default")]},
        simple("after")
    ]});
    let mut h = Harness::new();
    h.start(definition.clone(), json!({"kind": "a"}));
    assert_eq!(
        h.tasks(),
        vec![
            ("sw".into(), TaskStatus::Completed),
            ("in_a".into(), TaskStatus::Scheduled)
        ]
    );
    assert_eq!(
        h.state().tasks()[0].output_data,
        map(json!({"evaluationResult": ["a"], "selectedCase": "a"}))
    );
    h.complete("in_a", json!({}));
    assert_eq!(h.tasks()[2], ("after".into(), TaskStatus::Scheduled));

    let mut h = Harness::new();
    h.start(definition.clone(), json!({"kind": "b"}));
    assert_eq!(
        h.tasks()[1],
        ("after".into(), TaskStatus::Scheduled),
        "an empty case goes straight on"
    );

    let mut h = Harness::new();
    h.start(definition, json!({"kind": "zzz"}));
    assert_eq!(h.tasks()[1], ("in_default".into(), TaskStatus::Scheduled));
}

#[test]
fn a_decision_treats_an_empty_case_as_missing() {
    // Conductor's DecisionTaskMapper falls back to the default case for an empty list,
    // unlike SWITCH.
    let definition = json!({"name": "w", "tasks": [
        {"name": "d", "taskReferenceName": "d", "type": "DECISION", "caseValueParam": "kind",
         "inputParameters": {"kind": "${workflow.input.kind}"},
         "decisionCases": {"b": []}, "defaultCase": [simple("in_default")]},
        simple("after")
    ]});
    let mut h = Harness::new();
    h.start(definition, json!({"kind": "b"}));
    assert_eq!(h.tasks()[1], ("in_default".into(), TaskStatus::Scheduled));
    assert_eq!(
        h.state().tasks()[0].output_data,
        map(json!({"caseOutput": ["b"]}))
    );
    h.complete("in_default", json!({}));
    assert_eq!(h.tasks()[2], ("after".into(), TaskStatus::Scheduled));
}

#[test]
fn fork_runs_branches_in_parallel_and_join_collects_their_outputs() {
    let mut h = Harness::new();
    h.start(
        json!({"name": "w", "tasks": [
            {"name": "fork", "taskReferenceName": "fork", "type": "FORK_JOIN", "forkTasks": [[simple("a1"), simple("a2")], [simple("b1")]]},
            {"name": "join", "taskReferenceName": "join", "type": "JOIN", "joinOn": ["a2", "b1"]},
            simple("after")
        ]}),
        json!({}),
    );
    let refs: Vec<String> = h.tasks().into_iter().map(|(r, _)| r).collect();
    assert_eq!(refs, vec!["fork", "a1", "b1", "join"]);
    assert_eq!(h.state().tasks()[0].task_type, "FORK");
    h.complete("b1", json!({"b": 1}));
    h.complete("a1", json!({}));
    assert_eq!(h.tasks()[3].1, TaskStatus::Scheduled, "join waits for a2");
    h.complete("a2", json!({"a": 2}));
    let join = &h.state().tasks()[h.state().latest_task_index("join").unwrap()];
    assert_eq!(join.status, TaskStatus::Completed);
    assert_eq!(
        join.output_data,
        map(json!({"a2": {"a": 2}, "b1": {"b": 1}}))
    );
    assert_eq!(
        h.tasks().last().unwrap(),
        &("after".to_string(), TaskStatus::Scheduled)
    );
}

#[test]
fn a_failed_branch_fails_the_workflow_and_cancels_the_rest() {
    let mut h = Harness::new();
    h.start(
        json!({"name": "w", "tasks": [
            {"name": "fork", "taskReferenceName": "fork", "type": "FORK_JOIN", "forkTasks": [[{"name": "x", "taskReferenceName": "a", "retryCount": 0}], [simple("b")]]},
            {"name": "join", "taskReferenceName": "join", "type": "JOIN", "joinOn": ["a", "b"]}
        ]}),
        json!({}),
    );
    h.report("a", TaskResultStatus::Failed, json!({}));
    assert_eq!(h.status(), WorkflowStatus::Failed);
    let statuses: HashMap<String, TaskStatus> = h.tasks().into_iter().collect();
    assert_eq!(statuses["b"], TaskStatus::Canceled);
    assert_eq!(statuses["join"], TaskStatus::Canceled);
    h.with_state(ops::retry).expect("retry");
    assert_eq!(h.status(), WorkflowStatus::Running);
    let scheduled: Vec<String> = h
        .tasks()
        .into_iter()
        .filter(|(_, s)| *s == TaskStatus::Scheduled)
        .map(|(r, _)| r)
        .collect();
    assert_eq!(scheduled, vec!["a", "b"]);
    h.complete("a", json!({}));
    h.complete("b", json!({}));
    assert_eq!(h.status(), WorkflowStatus::Completed);
}

#[test]
fn terminate_ends_the_workflow_with_its_status_and_output() {
    let mut h = Harness::new();
    h.start(
        json!({"name": "w", "failureWorkflow": "on_failure", "tasks": [
            {"name": "fork", "taskReferenceName": "fork", "type": "FORK_JOIN", "forkTasks": [[simple("a")], [{"name": "t", "taskReferenceName": "t", "type": "TERMINATE",
              "inputParameters": {"terminationStatus": "FAILED", "workflowOutput": {"why": "${workflow.input.why}"}}}]]},
            {"name": "join", "taskReferenceName": "join", "type": "JOIN", "joinOn": ["a", "t"]}
        ]}),
        json!({"why": "because"}),
    );
    assert_eq!(h.status(), WorkflowStatus::Failed);
    assert_eq!(h.state().workflow.output, map(json!({"why": "because"})));
    let reason = h
        .state()
        .workflow
        .reason_for_incompletion
        .clone()
        .unwrap_or_default();
    assert!(
        reason.starts_with("Workflow is FAILED by TERMINATE task"),
        "{reason}"
    );
    assert!(
        h.out
            .job_adds
            .iter()
            .any(|j| j.effect == Effect::FailureWorkflow)
    );
    let statuses: HashMap<String, TaskStatus> = h.tasks().into_iter().collect();
    assert_eq!(statuses["a"], TaskStatus::Canceled);
    assert_eq!(statuses["t"], TaskStatus::Completed);
}

#[test]
fn set_variable_merges_and_is_visible_to_later_tasks() {
    let mut h = Harness::new();
    h.start(
        json!({"name": "w", "variables": {"keep": 1}, "tasks": [
            {"name": "sv", "taskReferenceName": "sv", "type": "SET_VARIABLE", "inputParameters": {"count": "${workflow.input.n}"}},
            {"name": "work", "taskReferenceName": "a", "inputParameters": {"c": "${workflow.variables.count}", "k": "${workflow.variables.keep}"}}
        ]}),
        json!({"n": 5}),
    );
    assert_eq!(
        h.state().workflow.variables,
        map(json!({"keep": 1, "count": 5}))
    );
    assert_eq!(
        h.state().tasks()[1].input_data,
        map(json!({"c": 5, "k": 1}))
    );

    let mut h = Harness::new();
    h.limits.max_variables_bytes = 10;
    h.start(
        json!({"name": "w", "tasks": [{"name": "sv", "taskReferenceName": "sv", "type": "SET_VARIABLE", "inputParameters": {"big": "0123456789"}}]}),
        json!({}),
    );
    assert_eq!(h.status(), WorkflowStatus::Failed);
}

#[test]
fn a_human_task_waits_in_progress_until_someone_completes_it() {
    let mut h = Harness::new();
    h.start(
        json!({"name": "w", "tasks": [
            {"name": "approve", "taskReferenceName": "approve", "type": "HUMAN",
             "inputParameters": {"__humanTaskDefinition": {"displayName": "Approve"}}},
            simple("after")
        ]}),
        json!({}),
    );
    let task = &h.state().tasks()[0];
    assert_eq!(
        (task.task_type.as_str(), task.status),
        ("HUMAN", TaskStatus::InProgress)
    );
    assert!(h.queued().is_empty(), "no worker polls it");
    assert!(h.out.job_adds.is_empty());
    h.tick(3_600_000);
    assert_eq!(h.state().tasks()[0].status, TaskStatus::InProgress);
    h.complete("approve", json!({"approved": true}));
    assert_eq!(h.tasks()[1], ("after".into(), TaskStatus::Scheduled));
}
