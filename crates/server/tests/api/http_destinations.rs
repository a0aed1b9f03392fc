//! Where `HTTP` tasks may connect: a workflow author aims the server's own HTTP client
//! at loopback, private and link-local addresses, names that resolve there, Podium
//! itself, and redirects into them; only what `http_task_allow` names gets through.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use serde_json::{Value, json};

use crate::helpers::{TestApp, allow_loopback, serve_locally};

type Hits = Arc<Mutex<Vec<String>>>;

/// A peer on 127.0.0.1 that records every request: `/hit` answers JSON, `/hop?to=URL`
/// redirects there (302).
async fn peer() -> (String, u16, Hits, tokio::task::JoinHandle<()>) {
    let hits: Hits = Arc::default();
    let router = axum::Router::new()
        .route(
            "/hit",
            get(|State(hits): State<Hits>| async move {
                hits.lock().expect("lock").push("hit".into());
                axum::Json(json!({"reached": true}))
            }),
        )
        .route(
            "/hop",
            get(
                |State(hits): State<Hits>, Query(q): Query<HashMap<String, String>>| async move {
                    hits.lock().expect("lock").push("hop".into());
                    let to = q.get("to").cloned().unwrap_or_default();
                    (StatusCode::FOUND, [(header::LOCATION, to)]).into_response()
                },
            ),
        )
        .with_state(hits.clone());
    let (url, server) = serve_locally(router).await;
    let port = url
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port");
    (url, port, hits, server)
}

/// Runs a workflow of one `HTTP` task calling `uri`; returns the ended workflow.
async fn call(app: &TestApp, name: &str, uri: &str, ends: &str) -> Value {
    app.register(
        json!([]),
        json!({"name": name, "version": 1, "tasks": [
            {"name": "call", "taskReferenceName": "call", "type": "HTTP",
             "inputParameters": {"http_request": {"uri": uri, "method": "GET",
                "connectionTimeOut": 2000, "readTimeOut": 2000}}}
        ]}),
    )
    .await;
    let id = app.start(name, json!({})).await;
    app.wait_for_status(&id, ends).await
}

fn reason(workflow: &Value) -> String {
    workflow["tasks"][0]["reasonForIncompletion"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn hits(hits: &Hits) -> Vec<String> {
    hits.lock().expect("lock").clone()
}

#[tokio::test]
async fn loopback_is_refused_by_default_and_the_reason_keeps_secrets_out() {
    let (_, port, seen, server) = peer().await;
    let app = TestApp::spawn().await;
    let failed = call(
        &app,
        "to_loopback",
        &format!("http://probe:hunter2@127.0.0.1:{port}/hit?token=s3cret-value"),
        "FAILED",
    )
    .await;
    let why = reason(&failed);
    assert!(
        why.contains(&format!("127.0.0.1:{port}")) && why.contains("loopback"),
        "{why}"
    );
    assert!(why.contains("http_task_allow"), "{why}");
    for secret in ["hunter2", "probe", "s3cret", "token="] {
        assert!(!why.contains(secret), "{secret} leaked: {why}");
    }
    // Other spellings of loopback: IPv4-mapped IPv6, a decimal address, 127/8.
    for (i, uri) in [
        format!("http://[::ffff:127.0.0.1]:{port}/hit"),
        format!("http://2130706433:{port}/hit"),
        format!("http://127.0.0.2:{port}/hit"),
        format!("http://[::1]:{port}/hit"),
    ]
    .iter()
    .enumerate()
    {
        let failed = call(&app, &format!("to_loopback_{i}"), uri, "FAILED").await;
        assert!(reason(&failed).contains("loopback"), "{uri}: {failed}");
    }
    assert_eq!(hits(&seen), Vec::<String>::new());
    server.abort();
    app.stop().await;
}

#[tokio::test]
async fn private_link_local_and_other_internal_addresses_are_refused() {
    let app = TestApp::spawn().await;
    for (i, (uri, class)) in [
        ("http://10.0.0.1/", "private"),
        ("http://192.168.1.1:8080/admin", "private"),
        ("http://172.20.0.5/", "private"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://[fd00::1]/", "private"),
        ("http://[fe80::1]/", "link-local"),
        ("http://100.64.0.1/", "CGNAT"),
        ("http://0.0.0.0/", "unspecified"),
        ("http://224.0.0.1/", "multicast"),
        ("http://[::ffff:169.254.169.254]/", "link-local"),
    ]
    .iter()
    .enumerate()
    {
        let failed = call(&app, &format!("internal_{i}"), uri, "FAILED").await;
        let why = reason(&failed);
        assert!(
            why.contains("destination not allowed") && why.contains(class),
            "{uri}: {why}"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn a_name_that_resolves_to_loopback_is_refused() {
    let (_, port, seen, server) = peer().await;
    let app = TestApp::spawn().await;
    let failed = call(
        &app,
        "to_localhost",
        &format!("http://localhost:{port}/hit"),
        "FAILED",
    )
    .await;
    let why = reason(&failed);
    assert!(
        why.contains(&format!("localhost:{port} resolves to")) && why.contains("loopback"),
        "{why}"
    );
    assert_eq!(hits(&seen), Vec::<String>::new());
    server.abort();
    app.stop().await;
}

#[tokio::test]
async fn redirects_are_checked_at_every_hop() {
    let (allowed_url, allowed_port, allowed_hits, allowed_server) = peer().await;
    let (_, denied_port, denied_hits, denied_server) = peer().await;
    // Only the first peer, by address and port, is allowed.
    let app =
        TestApp::spawn_with(|c| c.http_task_allow = vec![format!("127.0.0.1:{allowed_port}")])
            .await;
    for (i, (target, class)) in [
        (format!("http://127.0.0.1:{denied_port}/hit"), "loopback"),
        (format!("http://localhost:{denied_port}/hit"), "loopback"),
        (
            "http://169.254.169.254/latest/meta-data/".to_string(),
            "link-local",
        ),
    ]
    .iter()
    .enumerate()
    {
        let uri = format!("{allowed_url}/hop?to={}", encode(target));
        let failed = call(&app, &format!("redirected_{i}"), &uri, "FAILED").await;
        let why = reason(&failed);
        assert!(
            why.contains("destination not allowed") && why.contains(class),
            "{target}: {why}"
        );
    }
    assert_eq!(hits(&allowed_hits), vec!["hop", "hop", "hop"]);
    assert_eq!(hits(&denied_hits), Vec::<String>::new());
    // A redirect within the allowed peer is followed.
    let uri = format!(
        "{allowed_url}/hop?to={}",
        encode(&format!("{allowed_url}/hit"))
    );
    let done = call(&app, "redirected_home", &uri, "COMPLETED").await;
    assert_eq!(
        done["tasks"][0]["outputData"]["response"]["body"],
        json!({"reached": true})
    );
    allowed_server.abort();
    denied_server.abort();
    app.stop().await;
}

#[tokio::test]
async fn the_allow_list_lets_a_peer_through_but_never_podium_itself() {
    let (url, _, seen, server) = peer().await;
    let app = TestApp::spawn_with(|c| {
        allow_loopback(c);
        c.metrics_listen = Some("127.0.0.1:0".parse().expect("addr"));
    })
    .await;
    let done = call(&app, "to_peer", &format!("{url}/hit"), "COMPLETED").await;
    assert_eq!(
        done["tasks"][0]["outputData"]["response"]["statusCode"],
        200
    );
    assert_eq!(hits(&seen), vec!["hit"]);
    // Podium's own API and metrics listeners stay refused although 127.0.0.1 is allowed.
    let metrics = app.metrics_base.clone().expect("metrics listener");
    for (i, uri) in [format!("{}/health", app.base), format!("{metrics}/metrics")]
        .iter()
        .enumerate()
    {
        let failed = call(&app, &format!("to_self_{i}"), uri, "FAILED").await;
        assert!(reason(&failed).contains("Podium's own address"), "{failed}");
    }
    server.abort();
    app.stop().await;
}

/// Percent-encodes a URL for a query value.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
