//! The console's definitions and audit pages over HTTP: definitions are listed as
//! the person may read them, a workflow definition's diagram shows its branches and
//! it can be started from its page; the audit trail is filtered and its chain
//! verified by administrators only.

use serde_json::json;

use crate::console::{person, post};
use crate::helpers::TestApp;

fn orders(version: i32) -> serde_json::Value {
    json!({"name": "orders", "version": version, "description": "Takes <em>orders</em>", "tasks": [
        {"name": "split", "taskReferenceName": "split", "type": "FORK_JOIN", "forkTasks": [
            [{"name": "charge", "taskReferenceName": "charge", "type": "SIMPLE"}],
            [{"name": "pack", "taskReferenceName": "pack", "type": "WAIT"}]
        ]},
        {"name": "join", "taskReferenceName": "join", "type": "JOIN", "joinOn": ["charge", "pack"]}
    ]})
}

#[tokio::test]
async fn definitions_are_listed_drawn_and_started_as_the_person_may() {
    let app = TestApp::spawn().await;
    app.register(
        json!([{"name": "charge", "description": "Charges a <b>card</b>", "ownerEmail": "a@b.c"}]),
        orders(1),
    )
    .await;
    assert_eq!(
        app.post("/api/metadata/workflow", orders(2)).await.status,
        200
    );

    let mut ada = person(&app, "ada", &["ADMIN"]).await;
    let list = ada.get(&format!("{}/definitions", app.base)).await;
    assert_eq!(list.status, 200, "{}", list.text);
    assert!(
        list.text
            .contains("href=\"/definitions/workflows/orders/1\"")
    );
    assert!(
        list.text
            .contains("href=\"/definitions/workflows/orders/2\"")
    );
    assert!(list.text.contains("href=\"/definitions/tasks/charge\""));
    assert!(!list.text.contains("<b>card</b>") && !list.text.contains("<em>orders</em>"));
    let found = ada.get(&format!("{}/definitions?q=card", app.base)).await;
    assert!(
        found.text.contains("/definitions/tasks/charge")
            && !found.text.contains("/definitions/workflows/orders")
    );

    let page = ada
        .get(&format!("{}/definitions/workflows/orders/1", app.base))
        .await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(page.text.contains(">branch 1</text>") && page.text.contains(">branch 2</text>"));
    assert!(
        page.text.contains("&quot;forkTasks&quot;") || page.text.contains("&#34;forkTasks&#34;")
    );
    let started = post(
        &app,
        &mut ada,
        "/executions",
        &[("name", "orders"), ("version", "1"), ("input", "{}")],
    )
    .await;
    assert_eq!(started.status, 303, "{}", started.text);
    let id = started
        .location
        .as_deref()
        .and_then(|l| l.rsplit('/').next())
        .expect("id")
        .to_string();
    assert_eq!(app.workflow(&id).await["workflowVersion"], 1);
    let task = ada
        .get(&format!("{}/definitions/tasks/charge", app.base))
        .await;
    assert_eq!(task.status, 200, "{}", task.text);
    let missing = ada
        .get(&format!("{}/definitions/workflows/orders/9", app.base))
        .await;
    assert_eq!(missing.status, 404, "{}", missing.text);

    let mut nell = person(&app, "nell", &[]).await;
    let list = nell.get(&format!("{}/definitions", app.base)).await;
    assert_eq!(list.status, 200, "{}", list.text);
    assert!(!list.text.contains("orders") && !list.text.contains("charge"));
    let page = nell
        .get(&format!("{}/definitions/workflows/orders/1", app.base))
        .await;
    assert_eq!(page.status, 403, "{}", page.text);
    app.stop().await;
}

#[tokio::test]
async fn administrators_read_and_verify_the_audit_trail() {
    let app = TestApp::spawn().await;
    let mut ada = person(&app, "ada", &["ADMIN"]).await;
    // The trail is written in the background.
    crate::audit::entries(&app, "action=session.start", 1).await;
    let page = ada
        .get(&format!("{}/audit?action=session.start", app.base))
        .await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(page.text.contains("<td>session.start</td>") && page.text.contains("<td>ada</td>"));
    assert!(!page.text.contains("<td>user.put</td>"), "filtered");
    // Verifying reads the whole trail: only a form of the page starts it.
    let linked = ada.get(&format!("{}/audit?verify=1", app.base)).await;
    assert!(!linked.text.contains("The chain is whole"));
    let checked = post(&app, &mut ada, "/audit/verify", &[]).await;
    assert_eq!(checked.status, 200, "{}", checked.text);
    assert!(
        checked.text.contains("The chain is whole"),
        "{}",
        checked.text
    );
    let bad = ada.get(&format!("{}/audit?from=soon", app.base)).await;
    assert_eq!(bad.status, 400, "{}", bad.text);

    let mut nell = person(&app, "nell", &["USER"]).await;
    assert!(
        !nell
            .get(&format!("{}/", app.base))
            .await
            .text
            .contains("href=\"/audit\"")
    );
    let refused = nell.get(&format!("{}/audit", app.base)).await;
    assert_eq!(refused.status, 403, "{}", refused.text);
    let refused = post(&app, &mut nell, "/audit/verify", &[]).await;
    assert_eq!(refused.status, 403, "{}", refused.text);
    app.stop().await;
}
