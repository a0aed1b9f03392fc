//! Bad input gets a clear 4xx in Conductor's error shape, never a 500.

use serde_json::json;

use crate::helpers::{TestApp, linear, task_def};

fn assert_error(answer: &crate::helpers::Answer, status: u16, message_part: &str) {
    assert_eq!(answer.status, status, "{}", answer.text);
    assert!(
        answer.content_type.starts_with("application/json"),
        "{}",
        answer.content_type
    );
    let body = answer.json();
    assert_eq!(body["status"], status);
    assert_eq!(body["retryable"], false);
    assert!(body["instance"].is_string());
    let message = body["message"].as_str().unwrap_or("");
    assert!(
        message.contains(message_part),
        "message {message:?} lacks {message_part:?}"
    );
}

#[tokio::test]
async fn unknown_things_get_the_messages_the_sdks_expect() {
    let app = TestApp::spawn().await;
    assert_error(
        &app.get("/api/workflow/nope").await,
        404,
        "Workflow with id: nope not found.",
    );
    assert_error(
        &app.get("/api/metadata/taskdefs/ghost").await,
        404,
        "Task ghost not found",
    );
    assert_error(
        &app.get("/api/metadata/workflow/ghost?version=3").await,
        404,
        "No such workflow found by name: ghost, version: 3",
    );
    assert_error(
        &app.get("/api/tasks/nope").await,
        404,
        "No such task found by id: nope",
    );
    assert_error(
        &app.post("/api/workflow/ghost", json!({})).await,
        404,
        "No such workflow defined. name=ghost",
    );
    assert_error(
        &app.get("/api/no/such/route").await,
        404,
        "No API at /api/no/such/route",
    );
    assert_error(
        &app.call("PATCH", "/api/metadata/taskdefs", None).await,
        405,
        "not allowed",
    );
    assert_error(&app.get("/api/token").await, 405, "not allowed");
    app.stop().await;
}

#[tokio::test]
async fn malformed_and_mistyped_bodies_are_400() {
    let app = TestApp::spawn().await;
    let malformed = app
        .raw(
            "POST",
            "/api/metadata/taskdefs",
            "application/json",
            "[{\"name\": ",
        )
        .await;
    assert_error(&malformed, 400, "Malformed JSON");
    let mistyped = app
        .post(
            "/api/metadata/taskdefs",
            json!([{"name": "t", "retryCount": "many"}]),
        )
        .await;
    assert_error(&mistyped, 400, "expected shape");
    let missing = app
        .raw("POST", "/api/workflow", "application/json", "")
        .await;
    assert_error(&missing, 400, "body is required");
    let bad_enum = app
        .post(
            "/api/tasks",
            json!({"workflowInstanceId": "w", "taskId": "t", "status": "DONE"}),
        )
        .await;
    assert_error(&bad_enum, 400, "expected shape");
    let bad_query = app.get("/api/workflow/search?size=lots").await;
    assert_error(&bad_query, 400, "size must be an integer");
    let bad_search = app.get("/api/workflow/search?query=bogus%20%3D%201").await;
    assert_error(&bad_search, 400, "unknown field 'bogus'");
    let bad_poll = app.get("/api/tasks/poll/batch/t?timeout=60000").await;
    assert_error(&bad_poll, 400, "cannot be more than 5 seconds");
    app.stop().await;
}

#[tokio::test]
async fn invalid_definitions_list_every_problem() {
    let app = TestApp::spawn().await;
    let answer = app
        .post(
            "/api/metadata/workflow",
            json!({"name": "bad", "tasks": [
                {"name": "a", "taskReferenceName": "x"},
                {"name": "b", "taskReferenceName": "x"},
                {"name": "c", "taskReferenceName": "c", "type": "SUB_WORKFLOW"}
            ]}),
        )
        .await;
    assert_error(&answer, 400, "Validation failed");
    let errors = answer.json()["validationErrors"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(
        errors
            .iter()
            .all(|e| e["path"].is_string() && e["message"].is_string())
    );
    let answer = app
        .post("/api/metadata/taskdefs", json!([{"name": ""}]))
        .await;
    assert_error(&answer, 400, "TaskDef name cannot be null or empty");
    app.stop().await;
}

#[tokio::test]
async fn definitions_this_version_cannot_run_are_stored_and_refused_at_start() {
    let app = TestApp::spawn().await;
    // As the SDK builders emit it: a Kafka task and a trailing fork without a join.
    let def = json!({"name": "later", "version": 1, "tasks": [
        {"name": "calc", "taskReferenceName": "calc", "type": "KAFKA_PUBLISH"},
        {"name": "f", "taskReferenceName": "f", "type": "FORK_JOIN",
         "forkTasks": [[{"name": "work", "taskReferenceName": "w"}]]}
    ]});
    assert_eq!(
        app.post("/api/metadata/workflow", def.clone()).await.status,
        200
    );
    let stored = app.get("/api/metadata/workflow/later?version=1").await;
    assert_eq!(stored.status, 200);
    assert_eq!(stored.json()["tasks"][0]["type"], "KAFKA_PUBLISH");

    let answer = app.post("/api/workflow/later", json!({})).await;
    assert_error(&answer, 400, "KAFKA_PUBLISH is not supported");
    let errors = answer.json()["validationErrors"].clone();
    let text = errors.to_string();
    assert!(
        text.contains("type KAFKA_PUBLISH is not supported"),
        "{text}"
    );
    // Nothing was started.
    let search = app
        .get("/api/workflow/search?query=workflowType%3D%27later%27")
        .await;
    assert_eq!(search.json()["totalHits"], 0);

    // The same through a StartWorkflowRequest carrying the definition.
    let answer = app
        .post(
            "/api/workflow",
            json!({"name": "later", "workflowDef": def}),
        )
        .await;
    assert_error(&answer, 400, "KAFKA_PUBLISH is not supported");

    // A fork its definition does not follow with a JOIN starts, as in Conductor,
    // and fails its run when it is reached, with Conductor's reason.
    let forked = json!({"name": "joinless", "version": 1, "tasks": [
        {"name": "n", "taskReferenceName": "n", "type": "NOOP"},
        {"name": "f", "taskReferenceName": "f", "type": "FORK_JOIN",
         "forkTasks": [[{"name": "n2", "taskReferenceName": "n2", "type": "NOOP"}]]}
    ]});
    app.register(json!([]), forked).await;
    let id = app.start("joinless", json!({})).await;
    let failed = app.wait_for_status(&id, "FAILED").await;
    assert!(
        failed["reasonForIncompletion"]
            .as_str()
            .is_some_and(|r| r.contains("Fork task definition is not followed by a join task")),
        "{failed}"
    );
    app.stop().await;
}

#[tokio::test]
async fn duplicates_conflict_unless_overwritten() {
    let app = TestApp::spawn().await;
    let def = linear("dup", &[("work", "a")]);
    assert_eq!(
        app.post("/api/metadata/workflow", def.clone()).await.status,
        200
    );
    assert_error(
        &app.post("/api/metadata/workflow?overwrite=false", def.clone())
            .await,
        409,
        "already exists",
    );
    assert_eq!(
        app.post("/api/metadata/workflow?overwrite=True", def)
            .await
            .status,
        200
    );
    app.stop().await;
}

#[tokio::test]
async fn oversized_bodies_are_413() {
    let app = TestApp::spawn_with(|c| c.max_body_bytes = 4096).await;
    let big = format!("[{{\"name\": \"{}\"}}]", "x".repeat(8000));
    let answer = app
        .raw("POST", "/api/metadata/taskdefs", "application/json", big)
        .await;
    assert_error(&answer, 413, "limit of 4096 bytes");
    // A chunked body over the limit (no Content-Length) is refused the same way.
    let chunk = " ".repeat(1000);
    let mut chunked = String::new();
    for _ in 0..10 {
        chunked.push_str(&format!("{:x}\r\n{chunk}\r\n", chunk.len()));
    }
    chunked.push_str("0\r\n\r\n");
    let reply = app
        .raw_http("POST", "/api/metadata/taskdefs", &chunked)
        .await;
    assert!(reply.starts_with("HTTP/1.1 413"), "{reply}");
    // A small chunked body, as the JavaScript SDK sends every body, is read whole.
    let body = serde_json::to_string(&json!([task_def("chunked")])).unwrap_or_default();
    let reply = app
        .raw_http(
            "POST",
            "/api/metadata/taskdefs",
            &format!("{:x}\r\n{body}\r\n0\r\n\r\n", body.len()),
        )
        .await;
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    assert_eq!(app.get("/api/metadata/taskdefs/chunked").await.status, 200);
    app.stop().await;
}

#[tokio::test]
async fn python_and_javascript_encodings_are_accepted() {
    let app = TestApp::spawn().await;
    app.register(
        json!([task_def("enc")]),
        linear("enc_flow", &[("enc", "a")]),
    )
    .await;
    // Python: `True`/`None` in write-verb query strings and `{}` bodies on DELETE.
    let id = app.start("enc_flow", json!({})).await;
    let answer = app
        .call(
            "DELETE",
            &format!("/api/workflow/{id}?reason=because&triggerFailureWorkflow=True"),
            Some(json!({})),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let workflow = app.workflow(&id).await;
    assert_eq!(workflow["status"], "TERMINATED");
    assert_eq!(workflow["reasonForIncompletion"], "because");
    let answer = app
        .post(
            "/api/workflow/execute/enc_flow/1?requestId=r1&waitUntilTaskRef=None&waitForSeconds=0",
            json!({"input": {}}),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    // Task logs: Python sends an escaped, unquoted string; JS a JSON string literal.
    app.start("enc_flow", json!({})).await;
    let task = app.poll("enc", 1, 0).await.remove(0);
    let id = task["workflowInstanceId"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let task_id = task["taskId"].as_str().unwrap_or_default().to_string();
    let value = "hello \"world\"\nline2";
    let js = serde_json::to_string(value).unwrap_or_default();
    let python = js[1..js.len() - 1].to_string();
    for body in [js, python] {
        let answer = app
            .raw(
                "POST",
                &format!("/api/tasks/{task_id}/log"),
                "application/json",
                body,
            )
            .await;
        assert_eq!(answer.status, 200, "{}", answer.text);
    }
    let logs = app.get(&format!("/api/tasks/{task_id}/log")).await.json();
    assert_eq!(logs[0]["log"], value);
    assert_eq!(logs[1]["log"], value);
    // Empty query values count as absent (the Python SDK's GET encoding).
    let answer = app
        .get("/api/workflow/search?queryId=&start=0&size=10&sort=&freeText=&query=")
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert!(app.complete(&task, json!({})).await.status == 200);
    app.wait_for_status(&id, "COMPLETED").await;
    app.stop().await;
}
