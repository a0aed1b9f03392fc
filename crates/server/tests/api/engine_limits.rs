//! What the engine does with data past its limits, through the real server: a
//! definition that bypassed validation fails its own workflow (also when the sweeper
//! reaches it after a restart) while the others run on, and a task input built past
//! the payload limit fails its task with a reason naming the size.

use std::time::Duration;

use podium_core::model::WorkflowDef;
use serde_json::{Value, json};

use crate::helpers::{TestApp, linear, task_def};

/// An input parameter with `${` nested 5000 levels deep.
fn poisoned_expression() -> String {
    format!("{}workflow.input.n{}", "${".repeat(5000), "}".repeat(5000))
}

fn task_named<'w>(workflow: &'w Value, reference: &str) -> &'w Value {
    workflow["tasks"]
        .as_array()
        .and_then(|tasks| tasks.iter().find(|t| t["referenceTaskName"] == reference))
        .unwrap_or_else(|| panic!("no task {reference} in {workflow}"))
}

/// Completes every task of a type that can be polled now; returns how many.
async fn complete_all(app: &TestApp, task_type: &str) -> usize {
    let tasks = app.poll(task_type, 10, 0).await;
    for task in &tasks {
        let answer = app.complete(task, json!({"done": true})).await;
        assert_eq!(answer.status, 200, "{}", answer.text);
    }
    tasks.len()
}

#[tokio::test]
async fn a_stored_poisoned_definition_fails_its_workflow_even_after_a_restart() {
    let app = TestApp::spawn().await;
    app.register(
        json!([task_def("work")]),
        linear("healthy", &[("work", "a")]),
    )
    .await;
    // Written to the store directly, as a definition stored before validation bounded
    // expressions would be: a WAIT, then a task whose input overflows an unbounded
    // resolver.
    let poisoned: WorkflowDef = serde_json::from_value(json!({
        "name": "poisoned", "version": 1, "tasks": [
            {"name": "wait", "taskReferenceName": "wait", "type": "WAIT", "inputParameters": {"duration": "1 seconds"}},
            {"name": "work", "taskReferenceName": "b", "inputParameters": {"x": poisoned_expression()}}
        ]
    }))
    .expect("definition");
    let rt = app.runtime().clone();
    rt.stores()
        .metadata
        .put_workflow_def(&poisoned, "poisoned-rev", true)
        .await
        .expect("stored");
    rt.defs().put_workflow(poisoned, "poisoned-rev".into());

    // Started directly: the first task is already the poisoned one.
    let direct: WorkflowDef = serde_json::from_value(json!({
        "name": "poisoned-now", "version": 1, "tasks": [
            {"name": "work", "taskReferenceName": "b", "inputParameters": {"x": poisoned_expression()}}
        ]
    }))
    .expect("definition");
    rt.stores()
        .metadata
        .put_workflow_def(&direct, "poisoned-now-rev", true)
        .await
        .expect("stored");
    rt.defs().put_workflow(direct, "poisoned-now-rev".into());
    let failed_now = app.start("poisoned-now", json!({"n": 1})).await;
    let workflow = app.wait_for_status(&failed_now, "FAILED").await;
    let reason = task_named(&workflow, "b")["reasonForIncompletion"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        reason.contains("expressions are nested more than 16 levels deep"),
        "{reason}"
    );
    assert!(
        workflow["reasonForIncompletion"]
            .as_str()
            .unwrap_or_default()
            .contains(&reason)
    );

    let waiting = app.start("poisoned", json!({"n": 1})).await;
    let healthy = app.start("healthy", json!({"n": 1})).await;
    assert_eq!(app.workflow(&waiting).await["status"], "RUNNING");

    // The sweeper reaches the poisoned task only after a restart.
    let app = app.restart().await;
    app.advance(2_000);
    let workflow = app.wait_for_status(&waiting, "FAILED").await;
    assert_eq!(task_named(&workflow, "wait")["status"], "COMPLETED");
    assert_eq!(
        task_named(&workflow, "b")["status"],
        "FAILED_WITH_TERMINAL_ERROR"
    );

    // Everything else keeps running, on the same server.
    assert_eq!(complete_all(&app, "work").await, 1);
    app.wait_for_status(&healthy, "COMPLETED").await;
    let again = app.start("healthy", json!({"n": 2})).await;
    assert_eq!(complete_all(&app, "work").await, 1);
    app.wait_for_status(&again, "COMPLETED").await;
    assert_eq!(app.get("/health").await.status, 200);
    app.stop().await;
}

#[tokio::test]
async fn fifty_references_to_a_large_input_fail_the_task_with_its_size() {
    let app = TestApp::spawn().await;
    let params: serde_json::Map<String, Value> = (0..50)
        .map(|i| (format!("copy{i}"), json!("${workflow.input.big}")))
        .collect();
    app.register(
        json!([task_def("work")]),
        json!({"name": "amplified", "version": 1, "tasks": [
            {"name": "work", "taskReferenceName": "a", "inputParameters": params}
        ]}),
    )
    .await;
    let id = app
        .start("amplified", json!({"big": "x".repeat(1024 * 1024)}))
        .await;
    let workflow = app.wait_for_status(&id, "FAILED").await;
    let task = task_named(&workflow, "a");
    assert_eq!(task["status"], "FAILED_WITH_TERMINAL_ERROR");
    let reason = task["reasonForIncompletion"].as_str().unwrap_or_default();
    assert!(
        reason.starts_with("The payload size: at least "),
        "{reason}"
    );
    assert!(
        reason.ends_with("is greater than the permissible limit: 10485760 bytes"),
        "{reason}"
    );
    assert!(
        task["inputData"].as_object().is_some_and(|m| m.is_empty()),
        "the oversized input is not stored"
    );
    // Nothing was queued for a worker.
    assert!(app.poll("work", 1, 0).await.is_empty());
    app.stop().await;
}

#[tokio::test]
async fn the_payload_limit_is_configurable_and_bounds_worker_results() {
    let app = TestApp::spawn_with(|config| config.max_payload_bytes = 4096).await;
    app.register(json!([task_def("work")]), linear("small", &[("work", "a")]))
        .await;
    let id = app.start("small", json!({"n": 1})).await;
    let tasks = app.poll("work", 1, 0).await;
    assert_eq!(tasks.len(), 1);
    let answer = app
        .complete(&tasks[0], json!({"blob": "y".repeat(8000)}))
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let workflow = app.wait_for_status(&id, "FAILED").await;
    let reason = task_named(&workflow, "a")["reasonForIncompletion"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(
        reason,
        format!(
            "The payload size: 8011 of task: {} in workflow: {id} is greater than the permissible limit: 4096 bytes",
            tasks[0]["taskId"].as_str().unwrap_or_default()
        )
    );
    // A start whose input is past the limit fails at once.
    let big = app.start("small", json!({"n": "z".repeat(5000)})).await;
    let workflow = app.wait_for_status(&big, "FAILED").await;
    assert!(
        workflow["reasonForIncompletion"]
            .as_str()
            .unwrap_or_default()
            .contains("is greater than the permissible limit: 4096 bytes")
    );
    tokio::time::sleep(Duration::from_millis(10)).await;
    app.stop().await;
}
