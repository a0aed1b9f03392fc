//! Attacks on the work the engine does later on someone's behalf: sub-workflows,
//! failure workflows, restarts and reruns are authorised as the run's principals at
//! the moment they happen, and a definition someone else wrote gets no more than
//! its author holds.

use serde_json::{Value, json};

use crate::helpers::{App, TestApp, application, first_task_reason, grant, task_def};

async fn granted(app: &TestApp, who: &App, kind: &str, target: &str, access: &[&str]) {
    let answer = grant(app, &format!("app:{}", who.id), kind, target, access).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
}

/// Registers definitions as `who`.
async fn register_as(app: &TestApp, who: &App, workflow: Value) -> u16 {
    let answer = app
        .call_as(
            Some(&who.token),
            "POST",
            "/api/metadata/workflow?overwrite=true",
            Some(workflow),
        )
        .await;
    answer.status
}

async fn start_as(app: &TestApp, who: &App, name: &str, input: Value) -> (u16, String) {
    let answer = app
        .call_as(
            Some(&who.token),
            "POST",
            &format!("/api/workflow/{name}"),
            Some(input),
        )
        .await;
    (answer.status, answer.text)
}

/// Restarts a run on its definition's latest version, as the admin.
async fn restart_on_latest(app: &TestApp, id: &str) -> crate::helpers::Answer {
    app.call(
        "POST",
        &format!("/api/workflow/{id}/restart?useLatestDefinitions=true"),
        None,
    )
    .await
}

/// Polls a queue as the admin until a task arrives or a second has passed.
async fn poll_once(app: &TestApp, task_type: &str) -> Vec<Value> {
    for _ in 0..10 {
        let tasks = app.poll(task_type, 10, 100).await;
        if !tasks.is_empty() {
            return tasks;
        }
    }
    Vec::new()
}

/// The admin's `refunds` workflow and its worker task.
async fn refunds(app: &TestApp) {
    app.register(
        json!([task_def("refund_money")]),
        json!({"name": "refunds", "version": 1, "tasks": [
            {"name": "refund_money", "taskReferenceName": "pay", "type": "SIMPLE",
             "inputParameters": {"amount": "${workflow.input.amount}"}}
        ]}),
    )
    .await;
}

#[tokio::test]
async fn a_sub_workflow_is_started_only_as_its_starter_may() {
    let app = TestApp::spawn().await;
    refunds(&app).await;
    // Only METADATA_API: it may write definitions, not start `refunds`.
    let attacker = application(&app, "attacker", &["METADATA_API"]).await;
    let (status, _) = start_as(&app, &attacker, "refunds", json!({"amount": 1})).await;
    assert_eq!(status, 403);
    // Its own workflow, naming `refunds` as a sub-workflow...
    let by_name = json!({"name": "attack", "version": 1, "tasks": [
        {"name": "refunds", "taskReferenceName": "sub", "type": "SUB_WORKFLOW",
         "subWorkflowParam": {"name": "refunds"},
         "inputParameters": {"workflowInput": {"amount": 1_000_000}}}
    ]});
    assert_eq!(register_as(&app, &attacker, by_name).await, 200);
    // ...and one carrying an inline definition, under a name it owns.
    let inline = json!({"name": "attack_inline", "version": 1, "tasks": [
        {"name": "inline", "taskReferenceName": "sub", "type": "SUB_WORKFLOW",
         "subWorkflowParam": {"name": "attack_inline", "workflowDefinition": {
            "name": "attack_inline", "version": 1, "createdBy": "admin", "updatedBy": "admin",
            "tasks": [{"name": "refund_money", "taskReferenceName": "pay", "type": "SIMPLE",
                       "inputParameters": {"amount": 1_000_000}}]}},
         "inputParameters": {}}
    ]});
    assert_eq!(register_as(&app, &attacker, inline).await, 200);
    for (name, missing) in [
        ("attack", "execute workflow: refunds"),
        ("attack_inline", "execute task: refund_money"),
    ] {
        let (status, id) = start_as(&app, &attacker, name, json!({})).await;
        assert_eq!(status, 200, "{id}");
        let failed = app.wait_for_status(&id, "FAILED").await;
        let reason = first_task_reason(&failed);
        assert!(reason.starts_with("Cannot start sub-workflow"), "{reason}");
        assert!(reason.contains(missing), "{reason}");
        assert!(failed["tasks"][0]["subWorkflowId"].is_null());
    }
    // The refunds worker never hears of it, and no child run exists: only the two
    // failed parents.
    assert!(poll_once(&app, "refund_money").await.is_empty());
    let runs = app
        .get("/api/workflow/search?query=workflowType%20IN%20(refunds)")
        .await;
    assert_eq!(runs.json()["totalHits"], 0, "{}", runs.text);
    let all = app.get("/api/workflow/search?freeText=*").await;
    assert_eq!(all.json()["totalHits"], 2, "{}", all.text);
    app.stop().await;
}

#[tokio::test]
async fn a_failure_workflow_runs_only_as_its_starter_may() {
    let app = TestApp::spawn().await;
    app.register(
        json!([task_def("fw_step"), task_def("fw_cleanup_step")]),
        json!({"name": "fw_cleanup", "version": 1, "tasks": [
            {"name": "fw_cleanup_step", "taskReferenceName": "c", "type": "SIMPLE",
             "inputParameters": {"failed": "${workflow.input.workflowId}"}}
        ]}),
    )
    .await;
    app.register(
        json!([]),
        json!({"name": "fw_main", "version": 1, "failureWorkflow": "fw_cleanup", "tasks": [
            {"name": "fw_step", "taskReferenceName": "s", "type": "SIMPLE", "inputParameters": {}}
        ]}),
    )
    .await;
    let program = application(&app, "program", &[]).await;
    granted(&app, &program, "WORKFLOW_DEF", "fw_main", &["EXECUTE"]).await;
    granted(&app, &program, "TASK_DEF", "fw_step", &["EXECUTE"]).await;
    let (status, id) = start_as(&app, &program, "fw_main", json!({"order": 7})).await;
    assert_eq!(status, 200, "{id}");
    let task = poll_once(&app, "fw_step").await.remove(0);
    let failed = app
        .post(
            "/api/tasks",
            json!({"workflowInstanceId": id, "taskId": task["taskId"], "status": "FAILED_WITH_TERMINAL_ERROR"}),
        )
        .await;
    assert_eq!(failed.status, 200, "{}", failed.text);
    // The program may not execute the failure workflow: it is refused, and says so.
    let mut outcome = Value::Null;
    for _ in 0..100 {
        outcome = app.workflow(&id).await["output"]["conductor.failure_workflow"].clone();
        if !outcome.is_null() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let outcome = outcome.as_str().unwrap_or_default().to_string();
    assert!(
        outcome.starts_with("Error workflow fw_cleanup failed to start.")
            && outcome.contains("execute workflow: fw_cleanup"),
        "{outcome}"
    );
    assert!(poll_once(&app, "fw_cleanup_step").await.is_empty());
    app.stop().await;
}

#[tokio::test]
async fn a_definition_someone_else_wrote_gets_no_more_than_its_author() {
    let app = TestApp::spawn().await;
    app.raw(
        "PUT",
        "/api/secrets/prod_db",
        "text/plain",
        "s3cr3t-password",
    )
    .await;
    app.register(
        json!([task_def("ship"), task_def("notify_step")]),
        json!({"name": "notify", "version": 1, "tasks": [
            {"name": "notify_step", "taskReferenceName": "n", "type": "SIMPLE", "inputParameters": {}}
        ]}),
    )
    .await;
    app.register(
        json!([]),
        json!({"name": "orders", "version": 1, "tasks": [
            {"name": "ship", "taskReferenceName": "ship", "type": "SIMPLE", "inputParameters": {}},
            {"name": "notify", "taskReferenceName": "sub", "type": "SUB_WORKFLOW",
             "subWorkflowParam": {"name": "notify"}, "inputParameters": {"order": "${workflow.input}"}}
        ]}),
    )
    .await;
    // A metadata manager may change every definition, but not read secrets or
    // other people's runs. It rewrites the child to hand the secret to a worker.
    let manager = application(&app, "manager", &["METADATA_MANAGER"]).await;
    let rewritten = json!({"name": "notify", "version": 1, "tasks": [
        {"name": "notify_step", "taskReferenceName": "n", "type": "SIMPLE",
         "inputParameters": {"db": "${workflow.secrets.prod_db}", "order": "${workflow.input.order}"}}
    ]});
    assert_eq!(register_as(&app, &manager, rewritten).await, 200);
    let id = app.start("orders", json!({"card": "4111-1111"})).await;
    let ship = poll_once(&app, "ship").await.remove(0);
    assert_eq!(app.complete(&ship, json!({})).await.status, 200);
    let failed = app.wait_for_status(&id, "FAILED").await;
    let reason = failed["tasks"][1]["reasonForIncompletion"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        reason.contains(&format!("written by app:{}", manager.id))
            && reason.contains("may not read the data of workflow orders"),
        "{reason}"
    );
    assert!(poll_once(&app, "notify_step").await.is_empty());

    // Restarting an old run on that newer definition is refused the same way.
    let rewritten_top = json!({"name": "orders", "version": 2, "tasks": [
        {"name": "notify_step", "taskReferenceName": "n", "type": "SIMPLE",
         "inputParameters": {"db": "${workflow.secrets.prod_db}"}}
    ]});
    assert_eq!(register_as(&app, &manager, rewritten_top).await, 200);
    let restart = restart_on_latest(&app, &id).await;
    assert_eq!(restart.status, 403, "{}", restart.text);
    assert!(
        restart.text.contains("may not read the data"),
        "{}",
        restart.text
    );
    assert!(poll_once(&app, "notify_step").await.is_empty());
    // Once the manager may read the orders' runs, its code runs, and it gets no
    // more than it holds: it may not read the secret, so the task is not handed over.
    granted(
        &app,
        &manager,
        "WORKFLOW_DEF",
        "orders",
        &["READ", "EXECUTE"],
    )
    .await;
    granted(&app, &manager, "TASK_DEF", "notify_step", &["EXECUTE"]).await;
    let restart = restart_on_latest(&app, &id).await;
    assert_eq!(restart.status, 403, "{}", restart.text);
    assert!(
        restart.text.contains("read secret: prod_db"),
        "{}",
        restart.text
    );
    app.stop().await;
}

#[tokio::test]
async fn rerunning_work_needs_what_a_start_needs() {
    let app = TestApp::spawn().await;
    app.raw("PUT", "/api/secrets/api_key", "text/plain", "k-123456")
        .await;
    app.register(
        json!([task_def("call_api")]),
        json!({"name": "billing", "version": 1, "tasks": [
            {"name": "call_api", "taskReferenceName": "c", "type": "SIMPLE",
             "inputParameters": {"key": "${workflow.secrets.api_key}", "url": "${workflow.input.url}"}}
        ]}),
    )
    .await;
    let id = app
        .start("billing", json!({"url": "https://billing.example"}))
        .await;
    let task = poll_once(&app, "call_api").await.remove(0);
    assert_eq!(task["inputData"]["key"], "k-123456");
    let failed = app
        .post(
            "/api/tasks",
            json!({"workflowInstanceId": id, "taskId": task["taskId"], "status": "FAILED_WITH_TERMINAL_ERROR"}),
        )
        .await;
    assert_eq!(failed.status, 200);
    app.wait_for_status(&id, "FAILED").await;
    // An operator may operate billing runs, but not read the key they use.
    let operator = application(&app, "operator", &[]).await;
    granted(
        &app,
        &operator,
        "WORKFLOW_DEF",
        "billing",
        &["EXECUTE", "READ"],
    )
    .await;
    granted(&app, &operator, "TASK_DEF", "call_api", &["EXECUTE"]).await;
    let attempts = [
        (
            "POST",
            format!("/api/workflow/{id}/rerun"),
            Some(json!({"workflowInput": {"url": "https://attacker.example"}})),
        ),
        ("POST", format!("/api/workflow/{id}/restart"), None),
        ("POST", format!("/api/workflow/{id}/retry"), None),
    ];
    for (method, path, body) in &attempts {
        let answer = app
            .call_as(Some(&operator.token), method, path, body.clone())
            .await;
        assert_eq!(answer.status, 403, "{path}: {}", answer.text);
        assert!(
            answer.text.contains("read secret: api_key"),
            "{}",
            answer.text
        );
    }
    assert!(poll_once(&app, "call_api").await.is_empty());
    let run = app.workflow(&id).await;
    assert_eq!(run["status"], "FAILED");
    assert_eq!(run["input"]["url"], "https://billing.example");
    // With READ on the key it may rerun (it could read the key anyway).
    granted(&app, &operator, "SECRET_NAME", "api_key", &["READ"]).await;
    let answer = app
        .call_as(
            Some(&operator.token),
            "POST",
            &format!("/api/workflow/{id}/retry"),
            None,
        )
        .await;
    assert_eq!(answer.status, 204, "{}", answer.text);
    assert_eq!(poll_once(&app, "call_api").await.len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn work_for_a_deleted_starter_stops() {
    let app = TestApp::spawn().await;
    refunds(&app).await;
    app.register(
        json!([task_def("approve")]),
        json!({"name": "approval", "version": 1, "tasks": [
            {"name": "approve", "taskReferenceName": "a", "type": "SIMPLE", "inputParameters": {}},
            {"name": "refunds", "taskReferenceName": "sub", "type": "SUB_WORKFLOW",
             "subWorkflowParam": {"name": "refunds"}, "inputParameters": {}}
        ]}),
    )
    .await;
    let program = application(&app, "program", &[]).await;
    for (kind, name) in [
        ("WORKFLOW_DEF", "approval"),
        ("WORKFLOW_DEF", "refunds"),
        ("TASK_DEF", "approve"),
        ("TASK_DEF", "refund_money"),
    ] {
        granted(&app, &program, kind, name, &["EXECUTE"]).await;
    }
    let (status, id) = start_as(&app, &program, "approval", json!({})).await;
    assert_eq!(status, 200, "{id}");
    let approve = poll_once(&app, "approve").await.remove(0);
    // The program is deleted while its workflow waits.
    let deleted = app
        .call("DELETE", &format!("/api/applications/{}", program.id), None)
        .await;
    assert_eq!(deleted.status, 200, "{}", deleted.text);
    assert_eq!(app.complete(&approve, json!({})).await.status, 200);
    let failed = app.wait_for_status(&id, "FAILED").await;
    let reason = failed["tasks"][1]["reasonForIncompletion"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(reason.contains("no longer exists"), "{reason}");
    assert!(poll_once(&app, "refund_money").await.is_empty());
    app.stop().await;
}

/// A worker's output never becomes a sub-workflow definition: a definition given
/// as an expression is refused at start, and the expressions inside a literal one
/// are the child's own, not resolved against the parent (where a worker's output
/// could put a secret reference into it).
#[tokio::test]
async fn a_worker_output_never_becomes_a_sub_workflow_definition() {
    let app = TestApp::spawn().await;
    let put = app
        .raw(
            "PUT",
            "/api/secrets/db_password",
            "text/plain",
            "kestrel-77",
        )
        .await;
    assert!(put.status < 300, "{}", put.text);
    let child = json!({"name": "kid", "version": 1, "tasks": [
        {"name": "grab", "taskReferenceName": "grab", "inputParameters": {"pw": "${prep.output.x}"}}
    ]});
    app.register(
        json!([{"name": "prep"}, {"name": "grab"}]),
        json!({"name": "built", "version": 1, "tasks": [
            {"name": "prep", "taskReferenceName": "prep"},
            {"name": "kid", "taskReferenceName": "kid", "type": "SUB_WORKFLOW",
             "subWorkflowParam": {"name": "kid", "workflowDefinition": "${prep.output.def}"}}
        ]}),
    )
    .await;
    app.register(
        json!([]),
        json!({"name": "literal", "version": 1, "tasks": [
            {"name": "prep", "taskReferenceName": "prep"},
            {"name": "kid", "taskReferenceName": "kid", "type": "SUB_WORKFLOW",
             "subWorkflowParam": {"name": "kid", "workflowDefinition": child}}
        ]}),
    )
    .await;
    let poisoned = json!({
        "x": "${workflow.secrets.db_password}",
        "def": {"name": "kid", "version": 1, "tasks": [
            {"name": "grab", "taskReferenceName": "grab",
             "inputParameters": {"pw": "${workflow.secrets.db_password}"}}
        ]}
    });

    let refused = app.post("/api/workflow/built", json!({})).await;
    assert_eq!(refused.status, 400, "{}", refused.text);
    assert!(
        refused
            .text
            .contains("one given as an expression or built from data is refused"),
        "{}",
        refused.text
    );

    let id = app.start("literal", json!({})).await;
    let prep = app.poll("prep", 1, 2000).await;
    assert_eq!(app.complete(&prep[0], poisoned).await.status, 200);
    let grabbed = app.poll("grab", 1, 5000).await;
    assert_eq!(grabbed.len(), 1, "the child's task runs");
    // In the child, `prep` names the child's own task (none): null, not the secret.
    assert_eq!(grabbed[0]["inputData"]["pw"], serde_json::Value::Null);
    assert!(!grabbed[0].to_string().contains("kestrel-77"));
    assert_eq!(app.complete(&grabbed[0], json!({})).await.status, 200);
    app.wait_for_status(&id, "COMPLETED").await;
    app.stop().await;
}
