//! Existence is information: a caller without the right to see a secret, an access
//! key's application, a task or a workflow gets the same answer whether it exists or
//! not, and only a caller with the right hears "not found".

use serde_json::{Value, json};

use crate::helpers::{Answer, TestApp, application, grant, linear, task_def};

/// An answer with the name the caller sent replaced, to compare the shape of two.
fn shape(answer: &Answer, sent: &str) -> (u16, String) {
    let message = answer.json()["message"]
        .as_str()
        .unwrap_or_default()
        .replace(sent, "<name>");
    (answer.status, message)
}

/// Asserts that two probes, one at something that exists and one at something that
/// does not, were answered alike (and refused).
fn alike(existing: (&Answer, &str), missing: (&Answer, &str)) {
    let (a, b) = (shape(existing.0, existing.1), shape(missing.0, missing.1));
    assert_eq!(a.0, 403, "{}", existing.0.text);
    assert_eq!(a, b, "{} / {}", existing.0.text, missing.0.text);
}

#[tokio::test]
async fn secret_existence_is_only_told_to_callers_with_access() {
    let app = TestApp::spawn().await;
    for (kind, name) in [
        ("secrets", "present-secret"),
        ("environment", "present-env"),
    ] {
        let put = app
            .raw("PUT", &format!("/api/{kind}/{name}"), "text/plain", "v")
            .await;
        assert_eq!(put.status, 200, "{}", put.text);
    }
    let stranger = application(&app, "stranger", &[]).await;
    let t = Some(stranger.token.as_str());
    let present = app
        .call_as(t, "GET", "/api/secrets/present-secret/exists", None)
        .await;
    let absent = app
        .call_as(t, "GET", "/api/secrets/absent-secret/exists", None)
        .await;
    alike((&present, "present-secret"), (&absent, "absent-secret"));
    // Writing: "create" or "update" would tell which; both read alike.
    for (kind, name) in [
        ("secrets", "present-secret"),
        ("environment", "present-env"),
    ] {
        let absent_name = name.replace("present", "absent");
        let over = app
            .call_as(t, "PUT", &format!("/api/{kind}/{name}"), Some(json!("x")))
            .await;
        let new = app
            .call_as(
                t,
                "PUT",
                &format!("/api/{kind}/{absent_name}"),
                Some(json!("x")),
            )
            .await;
        alike((&over, name), (&new, &absent_name));
    }
    // A caller with a grant on the name hears the real answer, as Orkes gives it.
    let reader = application(&app, "reader", &[]).await;
    for name in ["present-secret", "absent-secret"] {
        let granted = grant(
            &app,
            &format!("app:{}", reader.id),
            "SECRET_NAME",
            name,
            &["READ"],
        )
        .await;
        assert_eq!(granted.status, 200, "{}", granted.text);
    }
    let r = Some(reader.token.as_str());
    let yes = app
        .call_as(r, "GET", "/api/secrets/present-secret/exists", None)
        .await;
    assert_eq!((yes.status, yes.json()), (200, json!(true)));
    let no = app
        .call_as(r, "GET", "/api/secrets/absent-secret/exists", None)
        .await;
    assert_eq!(no.status, 404, "{}", no.text);
    assert_eq!(
        app.get("/api/secrets/absent-secret/exists").await.status,
        404
    );
    app.stop().await;
}

#[tokio::test]
async fn an_access_keys_application_is_not_told_to_strangers() {
    let app = TestApp::spawn().await;
    let target = application(&app, "target", &[]).await;
    let stranger = application(&app, "stranger", &["APPLICATION_CREATOR"]).await;
    let t = Some(stranger.token.as_str());
    let existing = app
        .call_as(
            t,
            "GET",
            &format!("/api/applications/key/{}", target.key_id),
            None,
        )
        .await;
    let missing = app
        .call_as(t, "GET", "/api/applications/key/0123456789abcdef", None)
        .await;
    alike((&existing, &target.key_id), (&missing, "0123456789abcdef"));
    assert!(!existing.text.contains(&target.id), "{}", existing.text);
    // The owner of an application, and an administrator, get the real answers.
    let mine = app
        .call_as(
            t,
            "POST",
            "/api/applications",
            Some(json!({"name": "mine"})),
        )
        .await;
    assert_eq!(mine.status, 200, "{}", mine.text);
    let mine_id = mine.json()["id"].as_str().expect("id").to_string();
    let key = app
        .call_as(
            t,
            "POST",
            &format!("/api/applications/{mine_id}/accessKeys"),
            Some(json!({})),
        )
        .await;
    assert_eq!(key.status, 200, "{}", key.text);
    let own = app
        .call_as(
            t,
            "GET",
            &format!(
                "/api/applications/key/{}",
                key.json()["id"].as_str().expect("key")
            ),
            None,
        )
        .await;
    assert_eq!(own.status, 200, "{}", own.text);
    assert_eq!(own.json()["id"], mine_id.as_str());
    let admin = app.get("/api/applications/key/0123456789abcdef").await;
    assert_eq!(admin.status, 404, "{}", admin.text);
    app.stop().await;
}

/// A running workflow `probe_flow` with one pending task `probe_task` (ref `a`).
async fn running_workflow(app: &TestApp) -> (String, String) {
    app.register(
        json!([task_def("probe_task")]),
        linear("probe_flow", &[("probe_task", "a")]),
    )
    .await;
    let id = app.start("probe_flow", json!({})).await;
    let task_id = app.workflow(&id).await["tasks"][0]["taskId"]
        .as_str()
        .expect("task id")
        .to_string();
    (id, task_id)
}

#[tokio::test]
async fn updating_a_task_by_reference_authorizes_before_answering() {
    let app = TestApp::spawn().await;
    let (workflow_id, _) = running_workflow(&app).await;
    // A worker with no grant on anything in this workflow.
    let worker = application(&app, "outsider", &["WORKER"]).await;
    let t = Some(worker.token.as_str());
    let by_ref = |wid: &str, reference: &str| format!("/api/tasks/{wid}/{reference}/COMPLETED");
    let existing = app
        .call_as(t, "POST", &by_ref(&workflow_id, "a"), Some(json!({})))
        .await;
    let missing_ref = app
        .call_as(t, "POST", &by_ref(&workflow_id, "zz"), Some(json!({})))
        .await;
    let missing_workflow = app
        .call_as(
            t,
            "POST",
            &by_ref("00000000-0000-0000-0000-000000000000", "a"),
            Some(json!({})),
        )
        .await;
    // Before: 403 naming the task type, 200 and 404. Now one answer for all three.
    let shape_of = |answer: &Answer, wid: &str, reference: &str| {
        let (status, message) = shape(answer, wid);
        (
            status,
            message.replace(&format!("task {reference} "), "task <ref> "),
        )
    };
    let expected = shape_of(&existing, &workflow_id, "a");
    assert_eq!(expected.0, 403, "{}", existing.text);
    assert!(!existing.text.contains("probe_task"), "{}", existing.text);
    assert_eq!(shape_of(&missing_ref, &workflow_id, "zz"), expected);
    assert_eq!(
        shape_of(
            &missing_workflow,
            "00000000-0000-0000-0000-000000000000",
            "a"
        ),
        expected
    );
    let unchanged = app.workflow(&workflow_id).await;
    assert_eq!(unchanged["tasks"][0]["status"], "SCHEDULED");

    // A worker allowed to run the task updates it; a reference it has no right to
    // know about is refused the same way.
    let runner = application(&app, "runner", &["WORKER"]).await;
    let granted = grant(
        &app,
        &format!("app:{}", runner.id),
        "TASK_DEF",
        "probe_task",
        &["EXECUTE"],
    )
    .await;
    assert_eq!(granted.status, 200, "{}", granted.text);
    let r = Some(runner.token.as_str());
    let nothing_here = app
        .call_as(r, "POST", &by_ref(&workflow_id, "zz"), Some(json!({})))
        .await;
    assert_eq!(shape_of(&nothing_here, &workflow_id, "zz"), expected);
    let updated = app
        .call_as(
            r,
            "POST",
            &by_ref(&workflow_id, "a"),
            Some(json!({"done": true})),
        )
        .await;
    assert_eq!(updated.status, 200, "{}", updated.text);
    assert!(!updated.text.is_empty());

    // An administrator hears the real answers.
    let admin_missing_ref = app.post(&by_ref(&workflow_id, "zz"), json!({})).await;
    assert_eq!(
        (admin_missing_ref.status, admin_missing_ref.text.as_str()),
        (200, "")
    );
    let admin_missing_workflow = app
        .post(
            &by_ref("00000000-0000-0000-0000-000000000000", "a"),
            json!({}),
        )
        .await;
    assert_eq!(admin_missing_workflow.status, 404);
    app.stop().await;
}

#[tokio::test]
async fn task_ids_are_not_confirmed_to_callers_who_cannot_see_them() {
    let app = TestApp::spawn().await;
    let (workflow_id, task_id) = running_workflow(&app).await;
    let missing_id = "00000000-0000-0000-0000-00000000beef";
    let worker = application(&app, "outsider", &["WORKER"]).await;
    let t = Some(worker.token.as_str());
    for suffix in ["", "/log"] {
        let existing = app
            .call_as(t, "GET", &format!("/api/tasks/{task_id}{suffix}"), None)
            .await;
        let missing = app
            .call_as(t, "GET", &format!("/api/tasks/{missing_id}{suffix}"), None)
            .await;
        alike((&existing, &task_id), (&missing, missing_id));
    }
    let result = |wid: &str, tid: &str| -> Value {
        json!({"workflowInstanceId": wid, "taskId": tid, "status": "COMPLETED"})
    };
    let existing = app
        .call_as(
            t,
            "POST",
            "/api/tasks",
            Some(result(&workflow_id, &task_id)),
        )
        .await;
    let missing = app
        .call_as(
            t,
            "POST",
            "/api/tasks",
            Some(result(&workflow_id, missing_id)),
        )
        .await;
    alike((&existing, &task_id), (&missing, missing_id));
    assert!(!existing.text.contains("probe_task"), "{}", existing.text);
    let admin = app.get(&format!("/api/tasks/{missing_id}")).await;
    assert_eq!(admin.status, 404, "{}", admin.text);
    app.stop().await;
}
