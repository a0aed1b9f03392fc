//! Attacks from the security review on masked values and on reading runs: a value
//! shown as `***` in one place, readable in another (a task's input, a parent run,
//! a restart or rerun, the database file), and a run read through a synchronous
//! start. As in `review`, each test is named for the attack and fails while it works.

use serde_json::{Value, json};

use crate::helpers::{TestApp, application, task_def};
use crate::review::{call, granted};
use crate::secrets::{contains, database_bytes};

/// A `_secrets` value used elsewhere in the run. The values of `_secrets` maps are
/// sealed and shown as `***`, but only where they sit under that key: a task whose
/// input takes `${workflow.input._secrets.api_key}` (or a header built from a
/// fetched `_secrets` token, as the rotation recipe does) shows it in plain text to
/// everyone who may read the run, and stores it in plain text.
///
/// 1. a victim `POST /api/workflow/partner_sync` `{"_secrets": {"api_key": ...}}`;
/// 2. a reader of `partner_sync` runs `GET /api/workflow/{id}` and
///    `GET /api/tasks/{taskId}`, and the database file is read.
#[tokio::test]
async fn a_secrets_value_used_in_a_task_input_shows_in_plain_text() {
    let app = TestApp::spawn().await;
    let api_key = "pk-live-6c1d9f0e2b";
    app.register(
        json!([task_def("sync_partner")]),
        json!({"name": "partner_sync", "version": 1, "tasks": [
            {"name": "sync_partner", "taskReferenceName": "s", "type": "SIMPLE",
             "inputParameters": {"auth": "Bearer ${workflow.input._secrets.api_key}"}}
        ]}),
    )
    .await;
    let reader = application(&app, "reader", &[]).await;
    granted(&app, &reader, "WORKFLOW_DEF", "partner_sync", &["READ"]).await;
    let id = app
        .start("partner_sync", json!({"_secrets": {"api_key": api_key}}))
        .await;
    let run = call(&app, &reader, "GET", &format!("/api/workflow/{id}"), None).await;
    assert_eq!(run.status, 200, "{}", run.text);
    assert_eq!(run.json()["input"]["_secrets"], "***", "{}", run.text);
    let task_id = run.json()["tasks"][0]["taskId"]
        .as_str()
        .expect("task")
        .to_string();
    let task = call(&app, &reader, "GET", &format!("/api/tasks/{task_id}"), None).await;
    let stored = contains(&database_bytes(&app).await, api_key);
    assert!(
        !run.text.contains(api_key) && !task.text.contains(api_key) && !stored,
        "in the database: {stored}; workflow view: {}; task view: {}",
        run.text,
        task.text
    );
    app.stop().await;
}

/// Restarting (or rerunning) a run that masks a field leaves the tasks it dropped in
/// the store. Since runs that mask something rewrite all their tasks on every change
/// (`rows::persist_state`), that branch never deletes the removed ones: their rows
/// stay, readable by id and searchable, and come back as part of the run when it is
/// loaded again (after a server restart), next to the new attempt.
///
/// 1. `POST /api/workflow/masked_login` `{"password": ...}`; its task is polled and
///    completed;
/// 2. `POST /api/workflow/{id}/restart`;
/// 3. `GET /api/tasks/{old task id}`; the server restarts; `GET /api/workflow/{id}`.
#[tokio::test]
async fn restarting_a_masked_run_leaves_its_old_tasks_behind() {
    let app = TestApp::spawn().await;
    app.register(
        json!([task_def("masked_step")]),
        json!({"name": "masked_login", "version": 1, "maskedFields": ["password"], "tasks": [
            {"name": "masked_step", "taskReferenceName": "m", "type": "SIMPLE",
             "inputParameters": {"auth": "${workflow.input.password}"}}
        ]}),
    )
    .await;
    let id = app
        .start("masked_login", json!({"password": "hunter2-correct-horse"}))
        .await;
    let mut polled = Vec::new();
    for _ in 0..20 {
        polled = app.poll("masked_step", 1, 100).await;
        if !polled.is_empty() {
            break;
        }
    }
    let old = polled.remove(0);
    assert_eq!(app.complete(&old, json!({"ok": true})).await.status, 200);
    app.wait_for_status(&id, "COMPLETED").await;
    let restarted = app
        .post(&format!("/api/workflow/{id}/restart"), json!({}))
        .await;
    assert_eq!(restarted.status, 204, "{}", restarted.text);
    let old_id = old["taskId"].as_str().expect("task id").to_string();
    let stale = app.get(&format!("/api/tasks/{old_id}")).await;
    let app = app.restart().await;
    let run = app.workflow(&id).await;
    let tasks = run["tasks"].as_array().cloned().unwrap_or_default();
    assert!(
        stale.status == 404 && tasks.len() == 1,
        "the dropped task answers {}; after a server restart the run has {} tasks: {}",
        stale.status,
        tasks.len(),
        run["tasks"]
    );
    app.stop().await;
}

/// A child's masked output in its parent. A child run masks its own `maskedFields`,
/// but its output is copied into the parent's `SUB_WORKFLOW` task as it is, and
/// the parent does not mask it: whoever may read the parent (and not the child)
/// reads the child's masked value, and the parent's task row stores it in plain
/// text. Masks are inherited from parent to child only.
///
/// 1. `onboard` runs `issue_token` as a sub-workflow; `issue_token` masks `token`
///    and outputs the token its worker issued;
/// 2. a reader of `onboard` only: `GET /api/workflow/{parent id}`.
#[tokio::test]
async fn a_childs_masked_output_shows_in_its_parent() {
    let app = TestApp::spawn().await;
    let token = "tok-9f8e7d6c5b4a";
    app.register(
        json!([task_def("issue")]),
        json!({"name": "issue_token", "version": 1, "maskedFields": ["token"], "tasks": [
            {"name": "issue", "taskReferenceName": "i", "type": "SIMPLE", "inputParameters": {}}
        ], "outputParameters": {"token": "${i.output.token}"}}),
    )
    .await;
    app.register(
        json!([]),
        json!({"name": "onboard", "version": 1, "tasks": [
            {"name": "issue_token", "taskReferenceName": "sub", "type": "SUB_WORKFLOW",
             "subWorkflowParam": {"name": "issue_token"}, "inputParameters": {}}
        ]}),
    )
    .await;
    let reader = application(&app, "reader", &[]).await;
    granted(&app, &reader, "WORKFLOW_DEF", "onboard", &["READ"]).await;
    let id = app.start("onboard", json!({})).await;
    let mut polled = Vec::new();
    for _ in 0..20 {
        polled = app.poll("issue", 1, 100).await;
        if !polled.is_empty() {
            break;
        }
    }
    let issue = polled.remove(0);
    assert_eq!(
        app.complete(&issue, json!({"token": token})).await.status,
        200
    );
    let child_id = issue["workflowInstanceId"]
        .as_str()
        .expect("child")
        .to_string();
    let child = app.wait_for_status(&child_id, "COMPLETED").await;
    assert_eq!(
        child["output"]["token"], "***",
        "the child masks it: {child}"
    );
    app.wait_for_status(&id, "COMPLETED").await;
    let parent = call(&app, &reader, "GET", &format!("/api/workflow/{id}"), None).await;
    assert_eq!(parent.status, 200, "{}", parent.text);
    let stored = contains(&database_bytes(&app).await, token);
    assert!(
        !parent.text.contains(token) && !stored,
        "in the database: {stored}; the parent as its reader sees it: {}",
        parent.text
    );
    app.stop().await;
}

/// Reading someone else's run through a synchronous start. A caller who may start
/// `orders` but not read its runs sends another principal's idempotency key to
/// `execute` with `RETURN_EXISTING`: the start answers the existing run's id, and
/// `execute` answers that run's state (input, tasks, output) without asking
/// whether the caller may read it.
///
/// 1. the victim `POST /api/workflow` `{"name": "orders", "idempotencyKey":
///    "order-1001", "input": {...}}`;
/// 2. the attacker's `GET /api/workflow/{id}` is refused;
/// 3. the attacker `POST /api/workflow/execute/orders/1` `{"idempotencyKey":
///    "order-1001", "idempotencyStrategy": "RETURN_EXISTING"}`.
#[tokio::test]
async fn execute_with_another_principals_idempotency_key_reads_its_run() {
    let app = TestApp::spawn().await;
    let address = "221B Baker Street, London";
    app.register(
        json!([task_def("ship")]),
        json!({"name": "orders", "version": 1, "tasks": [
            {"name": "ship", "taskReferenceName": "s", "type": "SIMPLE",
             "inputParameters": {"to": "${workflow.input.address}"}}
        ]}),
    )
    .await;
    let victim = application(&app, "victim", &[]).await;
    let attacker = application(&app, "attacker", &[]).await;
    for who in [&victim, &attacker] {
        granted(&app, who, "WORKFLOW_DEF", "orders", &["EXECUTE"]).await;
        granted(&app, who, "TASK_DEF", "ship", &["EXECUTE"]).await;
    }
    let started = call(
        &app,
        &victim,
        "POST",
        "/api/workflow",
        Some(json!({"name": "orders", "idempotencyKey": "order-1001",
                    "idempotencyStrategy": "RETURN_EXISTING", "input": {"address": address}})),
    )
    .await;
    assert_eq!(started.status, 200, "{}", started.text);
    let id = started.text;
    let direct = call(&app, &attacker, "GET", &format!("/api/workflow/{id}"), None).await;
    assert_eq!(direct.status, 403, "{}", direct.text);
    let executed = call(
        &app,
        &attacker,
        "POST",
        "/api/workflow/execute/orders/1?waitForSeconds=1",
        Some(json!({"idempotencyKey": "order-1001", "idempotencyStrategy": "RETURN_EXISTING"})),
    )
    .await;
    assert!(
        !executed.text.contains(address),
        "execute answered {}: {}",
        executed.status,
        executed.text
    );
    app.stop().await;
}

/// A rerun that replaces a masked input unmasks the old value in the tasks it
/// keeps. The values a run masks are computed from its current input and output,
/// so once a rerun gives the run a new input, the previous password left in the
/// input of the tasks before the rerun point is no longer a masked value: it shows
/// in plain text and is written back unsealed.
///
/// 1. the admin starts `signin_twice` `{"password": ...}`; both tasks complete;
/// 2. an operator (READ and EXECUTE on it and its task types)
///    `POST /api/workflow/{id}/rerun` `{"reRunFromTaskId": <second task>,
///    "workflowInput": {"password": "new-password-0000"}}`;
/// 3. the operator `GET /api/workflow/{id}`.
#[tokio::test]
async fn a_rerun_with_new_input_unmasks_the_old_value_in_kept_tasks() {
    let app = TestApp::spawn().await;
    let password = "hunter2-correct-horse";
    app.register(
        json!([task_def("login_step"), task_def("audit_step")]),
        json!({"name": "signin_twice", "version": 1, "maskedFields": ["password"], "tasks": [
            {"name": "login_step", "taskReferenceName": "l", "type": "SIMPLE",
             "inputParameters": {"auth": "${workflow.input.password}"}},
            {"name": "audit_step", "taskReferenceName": "a", "type": "SIMPLE", "inputParameters": {}}
        ]}),
    )
    .await;
    let id = app
        .start("signin_twice", json!({"password": password}))
        .await;
    let mut second = Value::Null;
    for task_type in ["login_step", "audit_step"] {
        let mut polled = Vec::new();
        for _ in 0..20 {
            polled = app.poll(task_type, 1, 100).await;
            if !polled.is_empty() {
                break;
            }
        }
        second = polled.remove(0);
        assert_eq!(app.complete(&second, json!({})).await.status, 200);
    }
    app.wait_for_status(&id, "COMPLETED").await;
    let operator = application(&app, "operator", &[]).await;
    granted(
        &app,
        &operator,
        "WORKFLOW_DEF",
        "signin_twice",
        &["READ", "EXECUTE"],
    )
    .await;
    for task_type in ["login_step", "audit_step"] {
        granted(&app, &operator, "TASK_DEF", task_type, &["EXECUTE"]).await;
    }
    let before = call(&app, &operator, "GET", &format!("/api/workflow/{id}"), None).await;
    assert!(!before.text.contains(password), "{}", before.text);
    let rerun = call(
        &app,
        &operator,
        "POST",
        &format!("/api/workflow/{id}/rerun"),
        Some(json!({"reRunFromTaskId": second["taskId"],
                    "workflowInput": {"password": "new-password-0000"}})),
    )
    .await;
    let after = call(&app, &operator, "GET", &format!("/api/workflow/{id}"), None).await;
    let stored = contains(&database_bytes(&app).await, password);
    assert!(
        !after.text.contains(password) && !stored,
        "rerun answered {}; in the database: {stored}; the run now shows: {}",
        rerun.status,
        after.text
    );
    app.stop().await;
}

/// A payload that looks like a value sealed at rest. The store seals `_secrets`
/// values as `{"$podiumAtRest": {...}}` and opened every object of that form when it
/// read a row, so a workflow input or a worker's output holding one made the row
/// unreadable: the task was never handed out and the run could not be read.
///
/// 1. `POST /api/workflow/echo_forged` with the sealed form in its input and in
///    its `_secrets`;
/// 2. a worker polls the task and completes it with the sealed form in its output;
/// 3. `GET /api/workflow/{id}`.
#[tokio::test]
async fn a_payload_shaped_like_a_sealed_value_stalls_its_run() {
    let app = TestApp::spawn().await;
    app.register(
        json!([task_def("echo_forged")]),
        json!({"name": "echo_forged", "version": 1, "tasks": [
            {"name": "echo_forged", "taskReferenceName": "e", "type": "SIMPLE",
             "inputParameters": {"given": "${workflow.input.payload}"}}
        ], "outputParameters": {"echoed": "${e.output.echo}"}}),
    )
    .await;
    let forged = json!({"$podiumAtRest": {"v": 1, "k": "x", "n": "AAAA", "c": "AAAA"}});
    let id = app
        .start(
            "echo_forged",
            json!({"payload": forged.clone(), "_secrets": {
                "token": {"$podiumAtRest": {"v": 1, "k": "y", "n": "BBBB", "c": "CCCC"}}
            }}),
        )
        .await;
    let tasks = app.poll("echo_forged", 1, 1000).await;
    assert_eq!(tasks.len(), 1, "the task is handed out");
    assert_eq!(tasks[0]["inputData"]["given"], forged);
    let done = app
        .complete(&tasks[0], json!({"echo": {"nested": forged.clone()}}))
        .await;
    assert_eq!(done.status, 200, "{}", done.text);
    let run = app.wait_for_status(&id, "COMPLETED").await;
    assert_eq!(run["output"]["echoed"]["nested"], forged, "{run}");
    assert_eq!(run["input"]["payload"], forged, "{run}");
    app.stop().await;
}
