//! Attacks through names: registering a name other people's workflows use, claiming
//! a name a delete freed, owning a definition to receive other people's tasks, and
//! creating applications with roles one lacks.

use serde_json::{Value, json};

use crate::helpers::{App, TestApp, application, grant, task_def};

async fn call(
    app: &TestApp,
    who: &App,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, String) {
    let answer = app.call_as(Some(&who.token), method, path, body).await;
    (answer.status, answer.text)
}

async fn put_text(app: &TestApp, who: &App, path: &str, value: &str) -> u16 {
    let client = reqwest::Client::new();
    client
        .put(format!("{}{path}", app.base))
        .header("X-Authorization", &who.token)
        .header("content-type", "text/plain")
        .body(value.to_string())
        .send()
        .await
        .expect("sent")
        .status()
        .as_u16()
}

#[tokio::test]
async fn an_application_creator_gives_only_roles_it_holds() {
    let app = TestApp::spawn().await;
    let creator = application(&app, "creator", &["APPLICATION_CREATOR"]).await;
    let (status, text) = call(
        &app,
        &creator,
        "POST",
        "/api/applications",
        Some(json!({"name": "child"})),
    )
    .await;
    assert_eq!(status, 200, "{text}");
    let child: Value = serde_json::from_str(&text).expect("json");
    let child_id = child["id"].as_str().expect("id");
    for role in ["WORKER", "METADATA_API", "UNRESTRICTED_WORKER", "ADMIN"] {
        let (status, text) = call(
            &app,
            &creator,
            "POST",
            &format!("/api/applications/{child_id}/roles/{role}"),
            Some(json!({})),
        )
        .await;
        assert_eq!(status, 403, "{role}: {text}");
    }
    // A role it holds itself it may pass on.
    let (status, text) = call(
        &app,
        &creator,
        "POST",
        &format!("/api/applications/{child_id}/roles/APPLICATION_CREATOR"),
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 200, "{text}");
    app.stop().await;
}

#[tokio::test]
async fn owning_a_task_definition_receives_nobody_elses_tasks() {
    let app = TestApp::spawn().await;
    app.raw("PUT", "/api/secrets/prod_db", "text/plain", "db-password-1")
        .await;
    // The admin's payments workflow uses `charge` without a task definition.
    let payments = json!({"name": "payments", "version": 1, "tasks": [
        {"name": "charge", "taskReferenceName": "c", "type": "SIMPLE",
         "inputParameters": {"db": "${workflow.secrets.prod_db}"}}
    ]});
    app.register(json!([]), payments).await;
    let id = app.start("payments", json!({})).await;
    // An application creator's child, even given the roles by an admin, cannot
    // claim the name...
    let worker = application(&app, "worker", &["WORKER", "METADATA_API"]).await;
    let (status, text) = call(
        &app,
        &worker,
        "POST",
        "/api/metadata/taskdefs",
        Some(json!([task_def("charge")])),
    )
    .await;
    assert_eq!(status, 403, "{text}");
    assert!(
        text.contains("workflow definition payments uses that name"),
        "{text}"
    );
    // ...nor poll it.
    let (status, _) = call(
        &app,
        &worker,
        "GET",
        "/api/tasks/poll/charge?workerid=w",
        None,
    )
    .await;
    assert_eq!(status, 403);
    // A task type it registered first, and the admin's workflow uses later: its
    // owner may change the definition, not receive the admin's tasks, nor grant
    // itself the right to.
    let (status, text) = call(
        &app,
        &worker,
        "POST",
        "/api/metadata/taskdefs",
        Some(json!([task_def("mine")])),
    )
    .await;
    assert_eq!(status, 200, "{text}");
    app.register(
        json!([]),
        json!({"name": "uses_mine", "version": 1, "tasks": [
            {"name": "mine", "taskReferenceName": "m", "type": "SIMPLE",
             "inputParameters": {"db": "${workflow.secrets.prod_db}"}}
        ]}),
    )
    .await;
    app.start("uses_mine", json!({})).await;
    let (status, _) = call(
        &app,
        &worker,
        "GET",
        "/api/tasks/poll/batch/mine?workerid=w&count=5&timeout=100",
        None,
    )
    .await;
    assert_eq!(status, 403);
    let self_grant = json!({"subject": {"type": "USER", "id": format!("app:{}", worker.id)},
        "target": {"type": "TASK_DEF", "id": "mine"}, "access": ["EXECUTE"]});
    let (status, text) = call(
        &app,
        &worker,
        "POST",
        "/api/auth/authorization",
        Some(self_grant),
    )
    .await;
    assert_eq!(status, 403, "{text}");
    // It may still change its definition.
    let mut changed = task_def("mine");
    changed["description"] = json!("still mine");
    let (status, text) = call(
        &app,
        &worker,
        "PUT",
        "/api/metadata/taskdefs",
        Some(changed),
    )
    .await;
    assert_eq!(status, 200, "{text}");
    // An administrator's grant is what lets it poll.
    let granted = grant(
        &app,
        &format!("app:{}", worker.id),
        "TASK_DEF",
        "mine",
        &["EXECUTE"],
    )
    .await;
    assert_eq!(granted.status, 200);
    let (status, text) = call(
        &app,
        &worker,
        "GET",
        "/api/tasks/poll/batch/mine?workerid=w&count=5&timeout=100",
        None,
    )
    .await;
    assert_eq!(status, 200, "{text}");
    assert!(
        text.contains("db-password-1"),
        "the granted worker gets its task: {text}"
    );
    // The payments run is untouched.
    assert_eq!(app.workflow(&id).await["tasks"][0]["status"], "SCHEDULED");
    app.stop().await;
}

#[tokio::test]
async fn names_that_workflows_use_cannot_be_claimed() {
    let app = TestApp::spawn().await;
    app.register(
        json!([task_def("step")]),
        json!({"name": "payouts", "version": 1, "failureWorkflow": "payouts_failed", "tasks": [
            {"name": "step", "taskReferenceName": "s", "type": "SIMPLE",
             "inputParameters": {"token": "${workflow.secrets.payout_token}", "region": "${workflow.env.payout_region}"}},
            {"name": "payout_report", "taskReferenceName": "r", "type": "SUB_WORKFLOW",
             "subWorkflowParam": {"name": "payout_report"}, "inputParameters": {}}
        ]}),
    )
    .await;
    let author = application(&app, "author", &["METADATA_API", "METADATA_MANAGER"]).await;
    let metadata_only = application(&app, "metadata", &["METADATA_API"]).await;
    for name in ["payouts_failed", "payout_report"] {
        let def = json!({"name": name, "version": 1, "tasks": [
            {"name": "step", "taskReferenceName": "s", "type": "SIMPLE", "inputParameters": {}}]});
        let (status, text) = call(
            &app,
            &metadata_only,
            "POST",
            "/api/metadata/workflow",
            Some(def),
        )
        .await;
        assert_eq!(status, 403, "{name}: {text}");
        assert!(
            text.contains("workflow definition payouts uses that name"),
            "{text}"
        );
    }
    // Environment variables (and secrets, by the same check) the workflow names.
    assert_eq!(
        put_text(
            &app,
            &metadata_only,
            "/api/environment/payout_region",
            "attacker"
        )
        .await,
        403
    );
    // A principal who may change the workflow (a metadata manager) may create them.
    assert_eq!(
        put_text(&app, &author, "/api/environment/payout_region", "eu").await,
        200
    );
    app.stop().await;
}

#[tokio::test]
async fn a_delete_frees_no_name_for_someone_else() {
    let app = TestApp::spawn().await;
    let owner = application(&app, "owner", &["METADATA_API"]).await;
    let other = application(&app, "other", &["METADATA_API"]).await;
    let def = json!({"name": "flow_x", "version": 1, "tasks": [
        {"name": "step", "taskReferenceName": "s", "type": "SIMPLE", "inputParameters": {}}]});
    for (path, body) in [
        ("/api/metadata/workflow", def.clone()),
        ("/api/metadata/taskdefs", json!([task_def("task_x")])),
    ] {
        let (status, text) = call(&app, &owner, "POST", path, Some(body)).await;
        assert_eq!(status, 200, "{text}");
    }
    assert_eq!(
        put_text(&app, &owner, "/api/environment/region_x", "eu").await,
        200
    );
    for path in [
        "/api/metadata/workflow/flow_x/1",
        "/api/metadata/taskdefs/task_x",
        "/api/environment/region_x",
    ] {
        let (status, text) = call(&app, &owner, "DELETE", path, None).await;
        assert_eq!(status, 200, "{path}: {text}");
    }
    // Someone else cannot take the names over...
    let (status, text) = call(
        &app,
        &other,
        "POST",
        "/api/metadata/workflow",
        Some(def.clone()),
    )
    .await;
    assert_eq!(status, 403, "{text}");
    let (status, text) = call(
        &app,
        &other,
        "POST",
        "/api/metadata/taskdefs",
        Some(json!([task_def("task_x")])),
    )
    .await;
    assert_eq!(status, 403, "{text}");
    assert_eq!(
        put_text(&app, &other, "/api/environment/region_x", "attacker").await,
        403
    );
    // ...their owner can.
    let (status, text) = call(&app, &owner, "POST", "/api/metadata/workflow", Some(def)).await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(
        put_text(&app, &owner, "/api/environment/region_x", "eu").await,
        200
    );
    app.stop().await;
}
