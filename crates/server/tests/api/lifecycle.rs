//! Start-up, health and shutdown.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{TestApp, linear, task_def};

#[tokio::test]
async fn health_and_request_ids() {
    let app = TestApp::spawn().await;
    for path in ["/health", "/api/health"] {
        let answer = app.get(path).await;
        assert_eq!(answer.status, 200);
        assert_eq!(
            answer.json(),
            json!({"healthy": true, "database": "reachable"})
        );
    }
    let response = app
        .client
        .get(format!("{}/health", app.base))
        .send()
        .await
        .expect("request");
    assert!(response.headers().get("x-request-id").is_some());
    app.stop().await;
}

#[tokio::test]
async fn shutdown_lets_in_flight_requests_finish() {
    let app = TestApp::spawn().await;
    app.register(
        json!([task_def("idle")]),
        linear("idle_flow", &[("idle", "a")]),
    )
    .await;
    let base = app.base.clone();
    let client = app.client.clone();
    let in_flight = tokio::spawn(async move {
        client
            .get(format!(
                "{base}/api/tasks/poll/batch/idle?workerid=w&count=1&timeout=1500"
            ))
            .send()
            .await
            .expect("the long poll is answered")
            .json::<Vec<Value>>()
            .await
            .expect("json")
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    app.stop().await;
    let tasks = tokio::time::timeout(Duration::from_secs(5), in_flight)
        .await
        .expect("finished")
        .expect("joined");
    assert!(tasks.is_empty());
}
