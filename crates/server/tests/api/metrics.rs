//! `/metrics`: on the API listener only for administrators; on the separate metrics
//! listener (`metrics_listen`) for a scraper without credentials, and nothing else.

use serde_json::json;

use crate::helpers::{TestApp, application, linear, task_def};
use crate::security::assert_status;

#[tokio::test]
async fn metrics_on_the_api_listener_need_an_administrator() {
    let app = TestApp::spawn().await;
    app.register(
        json!([task_def("secret_project_task")]),
        linear("metered", &[("secret_project_task", "a")]),
    )
    .await;
    app.start("metered", json!({})).await;
    let anonymous = app.call_as(None, "GET", "/metrics", None).await;
    assert_status(&anonymous, 401, Some("INVALID_TOKEN"));
    let worker = application(&app, "metrics-worker", &["WORKER"]).await;
    let refused = app
        .call_as(Some(&worker.token), "GET", "/metrics", None)
        .await;
    assert_status(&refused, 403, None);
    assert!(
        !refused.text.contains("secret_project_task"),
        "{}",
        refused.text
    );
    let admin = app.get("/metrics").await;
    assert_eq!(admin.status, 200, "{}", admin.text);
    assert!(admin.content_type.starts_with("text/plain"));
    assert!(
        admin
            .text
            .contains("podium_queue_depth{queue=\"secret_project_task\"} 1"),
        "{}",
        admin.text
    );
    assert!(app.metrics_base.is_none());
    app.stop().await;
}

#[tokio::test]
async fn the_metrics_listener_serves_a_scraper_without_credentials() {
    let app = TestApp::spawn_with(|c| {
        c.metrics_listen = Some("127.0.0.1:0".parse().expect("addr"));
    })
    .await;
    app.register(
        json!([task_def("scraped_task")]),
        linear("scraped", &[("scraped_task", "a")]),
    )
    .await;
    app.start("scraped", json!({})).await;
    let metrics = app.metrics_base.clone().expect("metrics listener");
    let plain = reqwest::Client::new();
    let scraped = plain
        .get(format!("{metrics}/metrics"))
        .send()
        .await
        .expect("scrape");
    assert_eq!(scraped.status(), 200);
    let text = scraped.text().await.expect("body");
    assert!(
        text.contains("podium_queue_depth{queue=\"scraped_task\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("podium_workflows{status=\"RUNNING\"} 1"),
        "{text}"
    );
    if crate::database::server_url().is_some() {
        // On PostgreSQL: the pool and the time spent in store calls.
        assert!(
            text.contains("podium_db_pool_connections{state=\"max\"} 16"),
            "{text}"
        );
        let units = text
            .lines()
            .find_map(|l| l.strip_prefix("podium_store_calls{kind=\"unit_of_work\"} "))
            .and_then(|n| n.parse::<i64>().ok())
            .unwrap_or(0);
        assert!(units >= 1, "{text}");
        assert!(
            text.contains("podium_store_call_seconds{kind=\"pool_wait\"}"),
            "{text}"
        );
    }
    // The metrics listener serves nothing else, and the API still wants a token.
    for path in ["/api/metadata/taskdefs", "/api/token", "/health"] {
        let other = plain
            .get(format!("{metrics}{path}"))
            .send()
            .await
            .expect("request");
        assert_eq!(other.status(), 404, "{path}");
    }
    let api = app.call_as(None, "GET", "/metrics", None).await;
    assert_status(&api, 401, Some("INVALID_TOKEN"));
    // Stopping the server closes the metrics listener too.
    let addr = metrics.trim_start_matches("http://").to_string();
    app.stop().await;
    assert!(tokio::net::TcpStream::connect(&addr).await.is_err());
}
