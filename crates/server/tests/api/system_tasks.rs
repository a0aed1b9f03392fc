//! System tasks run by the server: HTTP calls, sub-workflows, waits, failure workflows.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::helpers::{TestApp, allow_loopback, linear, serve_locally, task_def};

type Seen = Arc<Mutex<Vec<(String, Value)>>>;

/// A local HTTP service the HTTP tasks call; records what it receives.
async fn echo_service() -> (String, Seen, tokio::task::JoinHandle<()>) {
    let seen: Seen = Arc::new(Mutex::new(Vec::new()));
    let app = axum::Router::new()
        .route(
            "/echo",
            post(
                |State(seen): State<Seen>, headers: HeaderMap, Json(body): Json<Value>| async move {
                    let auth = headers
                        .get("x-custom")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_string();
                    seen.lock().expect("lock").push((auth, body.clone()));
                    Json(json!({"received": body}))
                },
            ),
        )
        .route(
            "/fail",
            get(|| async { (StatusCode::SERVICE_UNAVAILABLE, "down for maintenance") }),
        )
        .with_state(seen.clone());
    let (url, server) = serve_locally(app).await;
    (url, seen, server)
}

#[tokio::test]
async fn http_tasks_call_out_and_record_the_response() {
    let app = TestApp::spawn_with(allow_loopback).await;
    let (service, seen, server) = echo_service().await;
    app.register(
        json!([]),
        json!({"name": "caller", "version": 1, "tasks": [
            {"name": "call", "taskReferenceName": "call", "type": "HTTP", "inputParameters": {"http_request": {
                "uri": format!("{service}/echo"), "method": "POST",
                "headers": {"x-custom": "${workflow.input.token}"},
                "body": {"order": "${workflow.input.order}"}
            }}}
        ], "outputParameters": {"echoed": "${call.output.response.body.received.order}", "code": "${call.output.response.statusCode}"}}),
    )
    .await;
    let id = app
        .start("caller", json!({"order": 42, "token": "abc"}))
        .await;
    let done = app.wait_for_status(&id, "COMPLETED").await;
    assert_eq!(done["output"], json!({"echoed": 42, "code": 200}));
    assert_eq!(
        seen.lock().expect("lock").clone(),
        vec![("abc".to_string(), json!({"order": 42}))]
    );

    app.register(
        json!([]),
        json!({"name": "failing_call", "version": 1, "tasks": [
            {"name": "call", "taskReferenceName": "call", "type": "HTTP", "inputParameters": {"http_request": {"uri": format!("{service}/fail")}}}
        ]}),
    )
    .await;
    let id = app.start("failing_call", json!({})).await;
    let failed = app.wait_for_status(&id, "FAILED").await;
    let task = &failed["tasks"][0];
    assert_eq!(task["status"], "FAILED");
    assert_eq!(task["outputData"]["response"]["statusCode"], 503);
    assert!(
        task["reasonForIncompletion"]
            .as_str()
            .unwrap_or("")
            .contains("503")
    );

    app.register(
        json!([]),
        json!({"name": "no_uri", "version": 1, "tasks": [
            {"name": "call", "taskReferenceName": "call", "type": "HTTP", "inputParameters": {"http_request": {"method": "GET"}}}
        ]}),
    )
    .await;
    let id = app.start("no_uri", json!({})).await;
    let failed = app.wait_for_status(&id, "FAILED").await;
    assert_eq!(failed["tasks"][0]["status"], "FAILED_WITH_TERMINAL_ERROR");
    server.abort();
    app.stop().await;
}

#[tokio::test]
async fn sub_workflows_run_and_report_back() {
    let app = TestApp::spawn().await;
    app.register(
        json!([task_def("inner_work")]),
        linear("child", &[("inner_work", "inner")]),
    )
    .await;
    app.register(
        json!([]),
        json!({"name": "parent", "version": 1, "tasks": [
            {"name": "child", "taskReferenceName": "sub", "type": "SUB_WORKFLOW", "subWorkflowParam": {"name": "child"},
             "inputParameters": {"n": "${workflow.input.n}"}}
        ], "outputParameters": {"from_child": "${sub.output.result}"}}),
    )
    .await;
    let id = app.start("parent", json!({"n": 5})).await;
    let mut inner = Vec::new();
    for _ in 0..100 {
        inner = app.poll("inner_work", 1, 200).await;
        if !inner.is_empty() {
            break;
        }
    }
    assert_eq!(inner.len(), 1, "the child's task is queued");
    assert_eq!(inner[0]["inputData"], json!({"n": 5}));
    let child_id = inner[0]["workflowInstanceId"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let child = app.workflow(&child_id).await;
    assert_eq!(child["parentWorkflowId"], json!(id));
    let parent = app.workflow(&id).await;
    assert_eq!(parent["tasks"][0]["status"], "IN_PROGRESS");
    assert_eq!(parent["tasks"][0]["subWorkflowId"], json!(child_id));
    app.complete(&inner[0], json!({"result": "from the child"}))
        .await;
    let done = app.wait_for_status(&id, "COMPLETED").await;
    assert_eq!(done["output"], json!({"from_child": "from the child"}));

    // Terminating the parent terminates the running child.
    let id = app.start("parent", json!({"n": 6})).await;
    let mut child_id = String::new();
    for _ in 0..100 {
        let parent = app.workflow(&id).await;
        if let Some(child) = parent["tasks"][0]["subWorkflowId"].as_str() {
            child_id = child.to_string();
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!child_id.is_empty());
    app.call("DELETE", &format!("/api/workflow/{id}?reason=stop"), None)
        .await;
    let child = app.wait_for_status(&child_id, "TERMINATED").await;
    assert!(
        child["reasonForIncompletion"]
            .as_str()
            .unwrap_or("")
            .contains("Parent workflow has been terminated")
    );
    app.stop().await;
}

#[tokio::test]
async fn waits_complete_on_time_and_on_signal() {
    let app = TestApp::spawn().await;
    app.register(
        json!([task_def("after_wait")]),
        json!({"name": "waiting", "version": 1, "tasks": [
            {"name": "pause", "taskReferenceName": "timer", "type": "WAIT", "inputParameters": {"duration": "1 hours"}},
            {"name": "approval", "taskReferenceName": "approval", "type": "WAIT"},
            {"name": "after_wait", "taskReferenceName": "after"}
        ]}),
    )
    .await;
    let id = app.start("waiting", json!({})).await;
    assert_eq!(app.workflow(&id).await["tasks"][0]["status"], "IN_PROGRESS");
    app.advance(3_600_000);
    let mut workflow = Value::Null;
    for _ in 0..100 {
        workflow = app.workflow(&id).await;
        if workflow["tasks"].as_array().map(Vec::len) == Some(2) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(workflow["tasks"][0]["status"], "COMPLETED");
    assert_eq!(workflow["tasks"][1]["status"], "IN_PROGRESS");
    let signal = app
        .post(
            &format!("/api/tasks/{id}/approval/COMPLETED"),
            json!({"approved": true}),
        )
        .await;
    assert_eq!(signal.status, 200, "{}", signal.text);
    let task = app.poll("after_wait", 1, 0).await;
    assert_eq!(task.len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn a_failed_workflow_starts_its_failure_workflow() {
    let app = TestApp::spawn().await;
    app.register(
        json!([task_def("cleanup")]),
        linear("on_failure", &[("cleanup", "clean")]),
    )
    .await;
    let mut flow = linear("fragile", &[("fragile_task", "a")]);
    flow["failureWorkflow"] = json!("on_failure");
    app.register(json!([task_def("fragile_task")]), flow).await;
    let id = app.start("fragile", json!({"order": 7})).await;
    let task = app.poll("fragile_task", 1, 0).await.remove(0);
    app.post(
        "/api/tasks",
        json!({"workflowInstanceId": id, "taskId": task["taskId"], "status": "FAILED_WITH_TERMINAL_ERROR", "reasonForIncompletion": "no stock"}),
    )
    .await;
    let mut cleanup = Vec::new();
    for _ in 0..100 {
        cleanup = app.poll("cleanup", 1, 200).await;
        if !cleanup.is_empty() {
            break;
        }
    }
    assert_eq!(cleanup.len(), 1, "the failure workflow runs");
    let handler = app
        .workflow(
            cleanup[0]["workflowInstanceId"]
                .as_str()
                .unwrap_or_default(),
        )
        .await;
    assert_eq!(handler["input"]["workflowId"], json!(id));
    assert_eq!(handler["input"]["failureStatus"], "FAILED");
    assert_eq!(handler["input"]["order"], 7);
    assert!(
        handler["input"]["reason"]
            .as_str()
            .unwrap_or("")
            .contains("no stock")
    );
    let failed = app.workflow(&id).await;
    assert_eq!(
        failed["output"]["conductor.failure_workflow"],
        handler["workflowId"]
    );
    app.stop().await;
}

#[tokio::test]
async fn switch_fork_terminate_and_variables_through_the_api() {
    let app = TestApp::spawn().await;
    app.register(
        json!([task_def("left"), task_def("right")]),
        json!({"name": "shapes", "version": 1, "tasks": [
            {"name": "vars", "taskReferenceName": "vars", "type": "SET_VARIABLE", "inputParameters": {"mode": "${workflow.input.mode}"}},
            {"name": "route", "taskReferenceName": "route", "type": "SWITCH", "evaluatorType": "value-param", "expression": "switchCaseValue",
             "inputParameters": {"switchCaseValue": "${workflow.variables.mode}"},
             "decisionCases": {
                "both": [
                    {"name": "fork", "taskReferenceName": "fork", "type": "FORK_JOIN", "forkTasks": [[{"name": "left", "taskReferenceName": "l"}], [{"name": "right", "taskReferenceName": "r"}]]},
                    {"name": "join", "taskReferenceName": "join", "type": "JOIN", "joinOn": ["l", "r"]}
                ],
                "stop": [{"name": "end", "taskReferenceName": "end", "type": "TERMINATE", "inputParameters": {"terminationStatus": "COMPLETED", "workflowOutput": {"stopped": true}}}]
             }}
        ], "outputParameters": {"joined": "${join.output}"}}),
    )
    .await;
    let id = app.start("shapes", json!({"mode": "both"})).await;
    let left = app.poll("left", 1, 0).await.remove(0);
    let right = app.poll("right", 1, 0).await.remove(0);
    app.complete(&left, json!({"side": "L"})).await;
    app.complete(&right, json!({"side": "R"})).await;
    let done = app.wait_for_status(&id, "COMPLETED").await;
    assert_eq!(
        done["output"],
        json!({"joined": {"l": {"side": "L"}, "r": {"side": "R"}}})
    );
    assert_eq!(done["variables"], json!({"mode": "both"}));

    let id = app.start("shapes", json!({"mode": "stop"})).await;
    let done = app.wait_for_status(&id, "COMPLETED").await;
    assert_eq!(done["output"], json!({"stopped": true}));
    app.stop().await;
}

#[tokio::test]
async fn an_http_task_with_async_complete_waits_to_be_completed() {
    let app = TestApp::spawn_with(allow_loopback).await;
    let (service, seen, server) = echo_service().await;
    app.register(
        json!([]),
        json!({"name": "async_caller", "version": 1, "tasks": [
            {"name": "call", "taskReferenceName": "call", "type": "HTTP", "asyncComplete": true,
             "inputParameters": {"http_request": {
                "uri": format!("{service}/echo"), "method": "POST", "body": {"n": 1}}}}
        ]}),
    )
    .await;
    let id = app.start("async_caller", json!({})).await;
    // The call is made, and the task waits IN_PROGRESS with the response.
    let mut task = Value::Null;
    for _ in 0..100 {
        task = app.workflow(&id).await["tasks"][0].clone();
        if task["status"] == "IN_PROGRESS" && !task["outputData"]["response"].is_null() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(task["status"], "IN_PROGRESS", "{task}");
    assert_eq!(task["outputData"]["response"]["statusCode"], 200, "{task}");
    assert_eq!(seen.lock().expect("lock").len(), 1);
    // It is not called again while it waits.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(seen.lock().expect("lock").len(), 1);
    assert_eq!(app.workflow(&id).await["status"], "RUNNING");
    let answer = app
        .post(
            &format!("/api/tasks/{id}/call/COMPLETED"),
            json!({"done": "by hand"}),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let done = app.wait_for_status(&id, "COMPLETED").await;
    assert_eq!(done["tasks"][0]["outputData"]["done"], "by hand");
    server.abort();
    app.stop().await;
}
