//! The console's executions pages over HTTP: the list searches only what the
//! person may read; an execution's page shows what the API shows (secrets as
//! `***`, in inputs, outputs and logs); its actions are offered to who may operate
//! the run, and a forged post from who may not is refused by the service.

use serde_json::json;

use crate::console::{person, post};
use crate::helpers::{TestApp, task_def};

async fn grant(app: &TestApp, user: &str, target: &str, access: &[&str]) {
    let answer = app
        .post(
            "/api/auth/authorization",
            json!({"subject": {"type": "USER", "id": user},
                   "target": {"type": "WORKFLOW_DEF", "id": target}, "access": access}),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
}

#[tokio::test]
async fn an_execution_page_shows_secrets_as_the_api_does() {
    let app = TestApp::spawn().await;
    app.raw(
        "PUT",
        "/api/secrets/api-token",
        "text/plain",
        "tok-98765-xyz",
    )
    .await;
    app.register(
        json!([task_def("call_out")]),
        json!({"name": "calls", "version": 1, "tasks": [{
            "name": "call_out", "taskReferenceName": "call", "type": "SIMPLE",
            "inputParameters": {"auth": "Bearer ${workflow.secrets.api-token}"}
        }]}),
    )
    .await;
    let id = app.start("calls", json!({"order": "<i>42</i>"})).await;
    let polled = app.poll("call_out", 1, 1000).await;
    assert_eq!(polled[0]["inputData"]["auth"], "Bearer tok-98765-xyz");
    let done = app
        .post(
            "/api/tasks",
            json!({"workflowInstanceId": id, "taskId": polled[0]["taskId"], "status": "COMPLETED",
                   "outputData": {"echo": "used tok-98765-xyz"},
                   "logs": [{"log": "calling with tok-98765-xyz", "createdTime": 1}]}),
        )
        .await;
    assert_eq!(done.status, 200, "{}", done.text);
    app.wait_for_status(&id, "COMPLETED").await;

    let mut ada = person(&app, "ada", &["ADMIN"]).await;
    let page = ada.get(&format!("{}/executions/{id}", app.base)).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(!page.text.contains("tok-98765-xyz"), "{}", page.text);
    assert!(page.text.contains("Bearer ***") && page.text.contains("used ***"));
    assert!(!page.text.contains("<i>42</i>"), "input is text");
    assert!(page.text.contains("<svg") && page.text.contains("node status-completed"));
    let task_id = polled[0]["taskId"].as_str().expect("task id");
    let logs = ada
        .get(&format!(
            "{}/executions/{id}/tasks/{task_id}/logs",
            app.base
        ))
        .await;
    assert_eq!(logs.status, 200, "{}", logs.text);
    assert!(logs.text.contains("calling with ***") && !logs.text.contains("tok-98765"));

    let list = ada
        .get(&format!(
            "{}/executions?name=calls&status=COMPLETED",
            app.base
        ))
        .await;
    assert_eq!(list.status, 200, "{}", list.text);
    assert!(list.text.contains(&id));
    let none = ada
        .get(&format!("{}/executions?name=calls&status=FAILED", app.base))
        .await;
    assert!(!none.text.contains(&id) && none.text.contains("No executions match"));
    let bad = ada
        .get(&format!("{}/executions?from=yesterday", app.base))
        .await;
    assert_eq!(bad.status, 400, "{}", bad.text);
    app.stop().await;
}

#[tokio::test]
async fn who_may_only_read_a_run_gets_no_buttons_and_a_forged_post_is_refused() {
    let app = TestApp::spawn().await;
    app.register(
        json!([]),
        json!({"name": "held", "version": 1, "tasks": [
            {"name": "hold", "taskReferenceName": "hold", "type": "WAIT"}
        ]}),
    )
    .await;
    let id = app.start("held", json!({})).await;
    let other = app.start("held", json!({})).await;

    let mut rita = person(&app, "rita", &["USER"]).await;
    grant(&app, "rita", "held", &["READ"]).await;
    let page = rita.get(&format!("{}/executions/{id}", app.base)).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(
        !page.text.contains("id=\"actions\""),
        "no buttons for a reader"
    );
    let forged = post(
        &app,
        &mut rita,
        &format!("/executions/{id}/terminate"),
        &[("reason", "mine")],
    )
    .await;
    assert_eq!(forged.status, 403, "{}", forged.text);
    assert_eq!(app.workflow(&id).await["status"], "RUNNING");

    // An operator (Operate's UPDATE_PROCESS_INSTANCE) terminates and retries.
    let mut otto = person(&app, "otto", &["USER"]).await;
    grant(&app, "otto", "held", &["READ", "UPDATE_PROCESS_INSTANCE"]).await;
    let page = otto.get(&format!("{}/executions/{id}", app.base)).await;
    assert!(page.text.contains("id=\"actions\"") && page.text.contains(">Terminate</button>"));
    assert!(
        !page.text.contains("Remove execution"),
        "removing takes more"
    );
    let ended = post(
        &app,
        &mut otto,
        &format!("/executions/{id}/terminate"),
        &[("reason", "stuck")],
    )
    .await;
    assert_eq!(ended.status, 303, "{}", ended.text);
    let run = app.workflow(&id).await;
    assert_eq!(run["status"], "TERMINATED");
    assert_eq!(run["reasonForIncompletion"], "stuck");
    let retried = post(&app, &mut otto, &format!("/executions/{id}/retry"), &[]).await;
    assert_eq!(retried.status, 303, "{}", retried.text);
    assert_eq!(app.workflow(&id).await["status"], "RUNNING");

    // Someone who may not read the run sees neither it nor its action.
    let mut nell = person(&app, "nell", &[]).await;
    let hidden = nell.get(&format!("{}/executions/{other}", app.base)).await;
    assert_eq!(hidden.status, 403, "{}", hidden.text);
    let list = nell.get(&format!("{}/executions", app.base)).await;
    assert!(!list.text.contains(&other));
    let forged = post(&app, &mut nell, &format!("/executions/{other}/pause"), &[]).await;
    assert_eq!(forged.status, 403, "{}", forged.text);
    assert_eq!(app.workflow(&other).await["status"], "RUNNING");
    app.stop().await;
}

#[tokio::test]
async fn a_person_starts_a_workflow_with_json_input_from_the_page() {
    let app = TestApp::spawn().await;
    app.register(
        json!([]),
        json!({"name": "held", "version": 1, "tasks": [
            {"name": "hold", "taskReferenceName": "hold", "type": "WAIT"}
        ]}),
    )
    .await;
    let mut ada = person(&app, "ada", &["ADMIN"]).await;
    let started = post(
        &app,
        &mut ada,
        "/executions",
        &[
            ("name", "held"),
            ("version", ""),
            ("correlation", "c-1"),
            ("input", "{\"n\": 3}"),
        ],
    )
    .await;
    assert_eq!(started.status, 303, "{}", started.text);
    let id = started
        .location
        .as_deref()
        .and_then(|l| l.rsplit('/').next())
        .expect("id")
        .to_string();
    let run = app.workflow(&id).await;
    assert_eq!(run["input"]["n"], 3);
    assert_eq!(run["correlationId"], "c-1");
    assert_eq!(run["createdBy"], "ada");
    let bad = post(
        &app,
        &mut ada,
        "/executions",
        &[("name", "held"), ("input", "[1, 2")],
    )
    .await;
    assert_eq!(bad.status, 400, "{}", bad.text);
    assert!(bad.text.contains("must be a JSON object"));
    app.stop().await;
}
