//! Decisions at the limits: definitions that bypassed validation (stored before it, or
//! written to the store directly), payloads past the size and depth bounds, and
//! numbers that would overflow the clock. Each fails its task or workflow with a
//! reason, or saturates; none stops the decision.

use super::*;
use crate::engine::payload::MAX_PAYLOAD_DEPTH;

fn reason_of(h: &Harness, reference: &str) -> String {
    let index = h.state().latest_task_index(reference).expect("task exists");
    h.state().tasks()[index]
        .reason_for_incompletion
        .clone()
        .unwrap_or_default()
}

fn workflow_reason(h: &Harness) -> String {
    h.state()
        .workflow
        .reason_for_incompletion
        .clone()
        .unwrap_or_default()
}

/// `{"a": {"a": ... 1}}`, `levels` maps deep.
fn nested(levels: usize) -> Value {
    let mut value = json!(1);
    for _ in 0..levels {
        value = json!({ "a": value });
    }
    value
}

#[test]
fn a_poisoned_expression_after_a_wait_fails_its_workflow_not_the_decision() {
    let poison = format!("{}workflow.input.x{}", "${".repeat(5000), "}".repeat(5000));
    let mut h = Harness::new();
    h.start(
        json!({"name": "w", "tasks": [
            {"name": "wait", "taskReferenceName": "wait", "type": "WAIT", "inputParameters": {"duration": "1 seconds"}},
            {"name": "work", "taskReferenceName": "b", "inputParameters": {"fine": "${workflow.input.x}", "poisoned": poison}}
        ]}),
        json!({"x": 1}),
    );
    assert_eq!(h.tasks(), vec![("wait".into(), TaskStatus::InProgress)]);
    // The sweeper's decision once the wait is over.
    h.tick(1_000);
    assert_eq!(
        h.tasks()[1],
        ("b".into(), TaskStatus::FailedWithTerminalError)
    );
    let reason = reason_of(&h, "b");
    assert_eq!(
        reason,
        "The input of task b cannot be resolved: parameter 'poisoned': expressions are nested more than 16 levels deep"
    );
    assert!(h.state().tasks()[1].input_data.is_empty());
    assert!(h.out.queue_pushes.is_empty(), "a failed task is not queued");
    assert_eq!(h.status(), WorkflowStatus::Failed);
    assert!(
        workflow_reason(&h).contains(&reason),
        "{}",
        workflow_reason(&h)
    );
}

#[test]
fn fifty_references_to_a_large_input_fail_the_task_with_its_size() {
    let params: JsonMap = (0..50)
        .map(|i| (format!("p{i}"), json!("${workflow.input.big}")))
        .collect();
    let definition = |optional: bool| {
        json!({"name": "w", "tasks": [
            {"name": "work", "taskReferenceName": "a", "optional": optional, "inputParameters": params},
            simple("b")
        ]})
    };
    let input = json!({"big": "x".repeat(1024 * 1024)});
    let mut h = Harness::new();
    h.start(definition(false), input.clone());
    assert_eq!(h.tasks()[0].1, TaskStatus::FailedWithTerminalError);
    let reason = reason_of(&h, "a");
    assert!(
        reason.starts_with("The payload size: at least 1048"),
        "{reason}"
    );
    assert!(
        reason.ends_with(&format!(
            "of task: {} in workflow: {} is greater than the permissible limit: 10485760 bytes",
            h.task_id("a"),
            h.state().id()
        )),
        "{reason}"
    );
    assert_eq!(h.status(), WorkflowStatus::Failed);

    // An optional task that cannot be built lets the workflow go on, as any failure.
    let mut h = Harness::new();
    h.start(definition(true), input);
    assert_eq!(
        h.tasks(),
        vec![
            ("a".into(), TaskStatus::CompletedWithErrors),
            ("b".into(), TaskStatus::Scheduled)
        ]
    );
}

#[test]
fn the_payload_limit_comes_from_the_engine_limits() {
    let mut h = Harness::new();
    h.limits.max_payload_bytes = 1024;
    // A worker's output past the limit fails its task; the output is not kept.
    h.start(json!({"name": "w", "tasks": [simple("a")]}), json!({}));
    h.complete("a", json!({"s": "x".repeat(2000)}));
    assert_eq!(h.tasks()[0].1, TaskStatus::FailedWithTerminalError);
    assert!(h.state().tasks()[0].output_data.is_empty());
    assert_eq!(
        reason_of(&h, "a"),
        format!(
            "The payload size: 2008 of task: {} in workflow: {} is greater than the permissible limit: 1024 bytes",
            h.task_id("a"),
            h.state().id()
        )
    );
    assert_eq!(h.status(), WorkflowStatus::Failed);

    // A workflow output past it fails the workflow that would have completed.
    let mut h = Harness::new();
    h.limits.max_payload_bytes = 1024;
    h.start(
        json!({"name": "w", "tasks": [simple("a")],
               "outputParameters": {"x": "${a.output.s}", "y": "${a.output.s}"}}),
        json!({}),
    );
    h.complete("a", json!({"s": "x".repeat(600)}));
    assert_eq!(h.tasks()[0].1, TaskStatus::Completed);
    assert_eq!(h.status(), WorkflowStatus::Failed);
    assert!(
        workflow_reason(&h).contains("is greater than the permissible limit: 1024 bytes"),
        "{}",
        workflow_reason(&h)
    );
    assert!(h.state().workflow.output.is_empty());

    // A join holding its branches' outputs past it fails.
    let mut h = Harness::new();
    h.limits.max_payload_bytes = 1024;
    h.start(
        json!({"name": "w", "tasks": [
            {"name": "fork", "taskReferenceName": "fork", "type": "FORK_JOIN", "forkTasks": [[simple("a")], [simple("b")]]},
            {"name": "join", "taskReferenceName": "join", "type": "JOIN", "joinOn": ["a", "b"]}
        ]}),
        json!({}),
    );
    h.complete("a", json!({"s": "x".repeat(600)}));
    h.complete("b", json!({"s": "x".repeat(600)}));
    assert_eq!(
        h.tasks()[3],
        ("join".into(), TaskStatus::FailedWithTerminalError)
    );
    assert!(reason_of(&h, "join").contains("permissible limit: 1024 bytes"));
    assert_eq!(h.status(), WorkflowStatus::Failed);

    // A workflow started with an input past it fails at once, its input not kept.
    let mut h = Harness::new();
    h.limits.max_payload_bytes = 1024;
    h.start(
        json!({"name": "w", "tasks": [simple("a")]}),
        json!({"s": "x".repeat(2000)}),
    );
    assert_eq!(h.status(), WorkflowStatus::Failed);
    assert!(h.tasks().is_empty());
    assert!(h.state().workflow.input.is_empty());
    assert!(workflow_reason(&h).starts_with("The payload size: 2008 of workflow:"));
}

#[test]
fn payloads_nested_past_the_depth_bound_fail_their_task() {
    // A worker output as deep as a request may carry.
    let mut h = Harness::new();
    h.start(json!({"name": "w", "tasks": [simple("a")]}), json!({}));
    h.complete("a", json!({"deep": nested(MAX_PAYLOAD_DEPTH)}));
    assert_eq!(h.tasks()[0].1, TaskStatus::FailedWithTerminalError);
    assert!(
        reason_of(&h, "a").contains("is nested more than the permissible limit: 100 levels"),
        "{}",
        reason_of(&h, "a")
    );

    // A task input one level deeper than the input it holds: refused before it is
    // stored where it could not be read back.
    let mut h = Harness::new();
    h.start(
        json!({"name": "w", "tasks": [
            {"name": "work", "taskReferenceName": "a", "inputParameters": {"wrapped": {"again": "${workflow.input}"}}}
        ]}),
        json!({"deep": nested(MAX_PAYLOAD_DEPTH - 2)}),
    );
    assert_eq!(h.status(), WorkflowStatus::Failed);
    assert!(reason_of(&h, "a").contains("nested more than"));
}

#[test]
fn huge_numbers_in_timeouts_and_delays_saturate() {
    let huge = i64::MAX;
    let mut h = Harness::new().task_def(json!({
        "name": "work", "retryCount": 1, "retryDelaySeconds": huge, "retryLogic": "EXPONENTIAL_BACKOFF",
        "timeoutSeconds": huge, "responseTimeoutSeconds": huge, "pollTimeoutSeconds": huge,
        "timeoutPolicy": "TIME_OUT_WF"
    }));
    h.start(
        json!({"name": "w", "timeoutSeconds": huge, "tasks": [
            {"name": "work", "taskReferenceName": "a", "startDelay": huge}
        ]}),
        json!({}),
    );
    assert_eq!(h.out.queue_pushes[0].visible_at, i64::MAX);
    assert_eq!(h.state().next_check_at, Some(i64::MAX));
    h.tick(1_000);
    assert_eq!(h.status(), WorkflowStatus::Running);
    // A worker asking to be called back after an absurd time.
    let result = TaskResult {
        workflow_instance_id: h.state().id().to_string(),
        task_id: h.task_id("a"),
        reason_for_incompletion: None,
        callback_after_seconds: huge,
        worker_id: Some("w".into()),
        status: TaskResultStatus::InProgress,
        output_data: JsonMap::new(),
        logs: Vec::new(),
        external_output_payload_storage_path: None,
        sub_workflow_id: None,
        extend_lease: false,
    };
    h.with_state(|state, ctx, out| ops::apply_result(state, &result, ctx, out))
        .expect("applies");
    assert_eq!(h.out.queue_pushes[0].visible_at, i64::MAX);
    // A failure retried after the largest delay.
    h.report("a", TaskResultStatus::Failed, json!({}));
    assert_eq!(h.tasks()[1], ("a".into(), TaskStatus::Scheduled));
    assert_eq!(h.out.queue_pushes[0].visible_at, i64::MAX);
    h.tick(1_000);
    assert_eq!(h.status(), WorkflowStatus::Running);
}

#[test]
fn waits_past_the_end_of_time_fail_with_a_reason() {
    for (duration, expected) in [
        ("9999999999999 days", "longer than the limit"),
        ("99999999999999999999 days", "is invalid"),
    ] {
        let mut h = Harness::new();
        h.start(
            json!({"name": "w", "tasks": [
                {"name": "wait", "taskReferenceName": "wait", "type": "WAIT", "inputParameters": {"duration": duration}}
            ]}),
            json!({}),
        );
        assert_eq!(h.tasks()[0].1, TaskStatus::FailedWithTerminalError);
        assert!(
            reason_of(&h, "wait").contains(expected),
            "{}",
            reason_of(&h, "wait")
        );
        assert_eq!(h.status(), WorkflowStatus::Failed);
    }
}
