//! Archival: ended workflows past the retention leave the live tables, stay
//! readable and searchable, and are redacted on the way: `_secrets` and
//! `maskedFields` for good, `_masked` sealed so a restart still works.

use serde_json::json;

use crate::helpers::{TestApp, task_def};

const DAY_MS: i64 = 24 * 3600 * 1000;

#[tokio::test]
async fn archived_workflows_are_readable_redacted_and_restartable_with_masked() {
    let app = TestApp::spawn().await;
    app.register(
        json!([task_def("archive_task")]),
        json!({"name": "keeps_masked", "version": 1, "tasks": [
            {"name": "archive_task", "taskReferenceName": "work", "type": "SIMPLE",
             "inputParameters": {"_masked": {"m": "${workflow.input._masked.m}"}}}
        ]}),
    )
    .await;
    app.register(
        json!([]),
        json!({"name": "uses_secrets", "version": 1, "maskedFields": ["password"], "tasks": [
            {"name": "archive_task", "taskReferenceName": "work", "type": "SIMPLE",
             "inputParameters": {"_secrets": {"t": "${workflow.input._secrets.tok}"}}}
        ]}),
    )
    .await;
    let keeps = app
        .start(
            "keeps_masked",
            json!({"_masked": {"m": "kept-value-7"}, "plain": "p"}),
        )
        .await;
    let secret = app
        .start(
            "uses_secrets",
            json!({"_secrets": {"tok": "token-value-9"}, "password": "pw-value-1"}),
        )
        .await;
    for _ in 0..2 {
        let task = app.poll("archive_task", 1, 100).await.remove(0);
        app.complete(
            &task,
            json!({"_masked": {"o": "out-value-3"}, "done": true}),
        )
        .await;
    }
    app.wait_for_status(&keeps, "COMPLETED").await;
    app.wait_for_status(&secret, "COMPLETED").await;

    // Nothing is archived before the retention has passed.
    let runtime = app.runtime().clone();
    let archived = podium_core::service::archive::archive_due(&runtime, DAY_MS)
        .await
        .expect("archive");
    assert_eq!(archived, 0);
    app.advance(2 * DAY_MS);
    let archived = podium_core::service::archive::archive_due(&runtime, DAY_MS)
        .await
        .expect("archive");
    assert_eq!(archived, 2);
    let live = runtime
        .stores()
        .execution
        .get_workflow_record(&keeps)
        .await
        .expect("read");
    assert!(live.is_none(), "the live row is gone");

    // Still readable, and shown masked.
    let got = app.workflow(&keeps).await;
    assert_eq!(got["status"], "COMPLETED");
    assert_eq!(got["input"]["_masked"], "***");
    assert_eq!(got["input"]["plain"], "p");
    assert_eq!(got["tasks"][0]["outputData"]["_masked"], "***");
    assert_eq!(got["tasks"][0]["outputData"]["done"], true);
    // The archive itself holds no masked field and no _secrets value in plain text.
    let stored = runtime
        .stores()
        .execution
        .get_archived(&secret)
        .await
        .expect("read")
        .expect("archived");
    let text = serde_json::to_string(&stored.workflow).expect("json");
    for value in ["token-value-9", "pw-value-1"] {
        assert!(!text.contains(value), "{value} in the archive: {text}");
    }
    assert_eq!(app.workflow(&secret).await["input"]["password"], "***");
    let stored = runtime
        .stores()
        .execution
        .get_archived(&keeps)
        .await
        .expect("read")
        .expect("archived");
    let text = serde_json::to_string(&stored.workflow).expect("json");
    for value in ["kept-value-7", "out-value-3"] {
        assert!(!text.contains(value), "{value} in the archive: {text}");
    }
    // Searches find archived workflows.
    let found = app
        .get("/api/workflow/search?query=workflowType%3D%27keeps_masked%27")
        .await
        .json();
    assert_eq!(found["totalHits"], 1, "{found}");
    assert_eq!(found["results"][0]["workflowId"], keeps.as_str());

    // A restart of the workflow that used _secrets fails with the reason.
    let refused = app
        .call("POST", &format!("/api/workflow/{secret}/restart"), None)
        .await;
    assert_eq!(refused.status, 409, "{}", refused.text);
    assert!(
        refused.json()["message"]
            .as_str()
            .is_some_and(|m| m.contains("_secrets")),
        "{}",
        refused.text
    );
    // The one that used _masked runs again with its original values.
    let restarted = app
        .call("POST", &format!("/api/workflow/{keeps}/restart"), None)
        .await;
    assert!(restarted.status < 300, "{}", restarted.text);
    let task = app.poll("archive_task", 1, 500).await.remove(0);
    assert_eq!(task["workflowInstanceId"], keeps.as_str());
    assert_eq!(task["inputData"]["_masked"]["m"], "kept-value-7");
    app.complete(&task, json!({})).await;
    app.wait_for_status(&keeps, "COMPLETED").await;
    app.stop().await;
}
