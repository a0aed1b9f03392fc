//! Attacks on masked values: whatever a view shows as `***` cannot be read or
//! inferred another way — not from a task's input, output, reason or logs, not
//! through a child or failure workflow, not by free-text search one character at a
//! time, not from the database files.

use serde_json::{Value, json};

use crate::helpers::{TestApp, task_def};
use crate::secrets::{contains, database_bytes};

const PASSWORD: &str = "hunter2-correct-horse";

async fn setup(app: &TestApp) {
    app.register(
        json!([task_def("login"), task_def("audit"), task_def("on_failure")]),
        json!({"name": "audit_flow", "version": 1, "tasks": [
            {"name": "audit", "taskReferenceName": "a", "type": "SIMPLE",
             "inputParameters": {"who": "${workflow.input.pw}"}}]}),
    )
    .await;
    app.register(
        json!([]),
        json!({"name": "cleanup_flow", "version": 1, "tasks": [
            {"name": "on_failure", "taskReferenceName": "f", "type": "SIMPLE", "inputParameters": {}}]}),
    )
    .await;
    app.register(
        json!([]),
        json!({"name": "signin", "version": 1, "maskedFields": ["password"],
               "failureWorkflow": "cleanup_flow", "tasks": [
            {"name": "login", "taskReferenceName": "l", "type": "SIMPLE",
             "inputParameters": {"auth": "Basic ${workflow.input.password}", "user": "${workflow.input.user}"}},
            {"name": "audit_flow", "taskReferenceName": "sub", "type": "SUB_WORKFLOW",
             "subWorkflowParam": {"name": "audit_flow"},
             "inputParameters": {"pw": "${workflow.input.password}"}}]}),
    )
    .await;
}

async fn poll_one(app: &TestApp, task_type: &str) -> Value {
    for _ in 0..50 {
        if let Some(task) = app.poll(task_type, 1, 100).await.into_iter().next() {
            return task;
        }
    }
    panic!("no {task_type} task");
}

fn hits(answer: &crate::helpers::Answer) -> i64 {
    answer.json()["totalHits"].as_i64().unwrap_or(-1)
}

#[tokio::test]
async fn masked_values_cannot_be_read_or_inferred_another_way() {
    let app = TestApp::spawn().await;
    setup(&app).await;
    let id = app
        .start(
            "signin",
            json!({"user": "alice-visible", "password": PASSWORD}),
        )
        .await;
    // The worker gets the value it needs...
    let login = poll_one(&app, "login").await;
    assert_eq!(login["inputData"]["auth"], format!("Basic {PASSWORD}"));
    // ...and echoes it back in its output, as a key, in a reason and a log line.
    let answer = app
        .post(
            "/api/tasks",
            json!({"workflowInstanceId": id, "taskId": login["taskId"], "status": "COMPLETED",
                   "outputData": {"echo": format!("got {PASSWORD}"), PASSWORD: true, "user": "alice-visible"},
                   "logs": [{"log": format!("signing in with {PASSWORD}"), "createdTime": 1}]}),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    // The child receives it, and its worker too.
    let audit = poll_one(&app, "audit").await;
    assert_eq!(audit["inputData"]["who"], PASSWORD, "{audit}");
    let child_id = audit["workflowInstanceId"]
        .as_str()
        .expect("child")
        .to_string();
    let failed = app
        .post(
            "/api/tasks",
            json!({"workflowInstanceId": child_id, "taskId": audit["taskId"],
                   "status": "FAILED_WITH_TERMINAL_ERROR", "reasonForIncompletion": format!("rejected {PASSWORD}")}),
        )
        .await;
    assert_eq!(failed.status, 200, "{}", failed.text);
    app.wait_for_status(&id, "FAILED").await;
    // The failure workflow gets the failed run's input and snapshot.
    let cleanup = poll_one(&app, "on_failure").await;
    let cleanup_id = cleanup["workflowInstanceId"]
        .as_str()
        .expect("id")
        .to_string();

    // Every view, of every run involved.
    let task_id = login["taskId"].as_str().expect("task id");
    let views = [
        format!("/api/workflow/{id}"),
        format!("/api/workflow/{child_id}"),
        format!("/api/workflow/{cleanup_id}"),
        format!("/api/workflow/{id}/status?includeOutput=true&includeVariables=true"),
        format!("/api/tasks/{task_id}"),
        format!("/api/tasks/{}", audit["taskId"].as_str().expect("id")),
        format!("/api/tasks/{task_id}/log"),
        "/api/tasks/search?freeText=*&size=100".to_string(),
        "/api/tasks/search-v2?freeText=*&size=100".to_string(),
        "/api/workflow/search?freeText=*&size=100".to_string(),
        "/api/workflow/search-v2?freeText=*&size=100".to_string(),
    ];
    for path in &views {
        let view = app.get(path).await;
        assert_eq!(view.status, 200, "{path}: {}", view.text);
        assert!(
            !view.text.contains("hunter2"),
            "{path} shows the masked value: {}",
            view.text
        );
    }
    // What is not masked still shows.
    assert!(
        app.get(&format!("/api/workflow/{id}"))
            .await
            .text
            .contains("alice-visible")
    );
    // Free-text search finds neither the value nor any prefix of it.
    for probe in ["hunter2-correct-horse", "hunter2", "hunt", "correct-horse"] {
        for path in ["/api/workflow/search", "/api/tasks/search"] {
            let found = app.get(&format!("{path}?freeText={probe}")).await;
            assert_eq!(hits(&found), 0, "{path}?freeText={probe}: {}", found.text);
        }
    }
    let control = app.get("/api/workflow/search?freeText=alice-visible").await;
    assert!(hits(&control) >= 1, "{}", control.text);
    // The database files do not hold it.
    assert!(
        !contains(&database_bytes(&app).await, "hunter2"),
        "a database file holds the masked value"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_secret_echoed_as_a_key_is_masked() {
    let app = TestApp::spawn().await;
    app.raw(
        "PUT",
        "/api/secrets/echo_key",
        "text/plain",
        "zebra-secret-9",
    )
    .await;
    app.register(
        json!([task_def("echoer")]),
        json!({"name": "echo_flow", "version": 1, "tasks": [
            {"name": "echoer", "taskReferenceName": "e", "type": "SIMPLE",
             "inputParameters": {"k": "${workflow.secrets.echo_key}"}}]}),
    )
    .await;
    let id = app
        .start("echo_flow", json!({"_masked": {"note": "quokka-private"}}))
        .await;
    let task = poll_one(&app, "echoer").await;
    assert_eq!(task["inputData"]["k"], "zebra-secret-9");
    let answer = app
        .complete(
            &task,
            json!({"zebra-secret-9": {"nested": {"zebra-secret-9-x": 1}}}),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let run = app.wait_for_status(&id, "COMPLETED").await;
    assert!(!run.to_string().contains("zebra"), "{run}");
    assert_eq!(
        run["tasks"][0]["outputData"],
        json!({"***": {"nested": {"***-x": 1}}})
    );
    // `_masked` values cannot be found by free text either.
    for probe in ["quokka", "zebra"] {
        let found = app
            .get(&format!("/api/workflow/search?freeText={probe}"))
            .await;
        assert_eq!(hits(&found), 0, "{}", found.text);
    }
    assert!(!contains(&database_bytes(&app).await, "zebra-secret"));
    assert!(!contains(&database_bytes(&app).await, "quokka-private"));
    app.stop().await;
}
