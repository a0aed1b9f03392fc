//! Schemas: versions registered, read, listed and deleted as the SDKs' schema
//! clients do it, and a workflow's input checked against the schema it enforces.

use serde_json::{Value, json};

use crate::helpers::{TestApp, application};

fn order_schema(version: Option<i32>) -> Value {
    let mut schema = json!({"name": "order_input", "type": "JSON",
        "externalRef": "http://example.com",
        "data": {"type": "object", "required": ["orderId"],
                 "properties": {"orderId": {"type": "string"}, "amount": {"type": "number"}}}});
    if let Some(v) = version {
        schema["version"] = json!(v);
    }
    schema
}

#[tokio::test]
async fn schema_versions_are_registered_read_listed_and_deleted() {
    let app = TestApp::spawn().await;
    // One schema object, as the Python SDK sends it; version 1 when none.
    let answer = app.post("/api/schema", order_schema(None)).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let one = app.get("/api/schema/order_input/1").await;
    assert_eq!(one.status, 200, "{}", one.text);
    let one = one.json();
    assert_eq!(
        (one["version"].clone(), one["type"].clone()),
        (json!(1), json!("JSON"))
    );
    assert_eq!(one["data"]["required"], json!(["orderId"]));
    assert_eq!(one["externalRef"], "http://example.com");
    assert!(
        one["createdBy"].as_str().is_some_and(|c| !c.is_empty()),
        "{one}"
    );
    // A list with newVersion=true, as the JavaScript SDK sends it: the next version.
    let answer = app
        .post(
            "/api/schema?newVersion=true",
            json!([order_schema(Some(1))]),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(
        app.get("/api/schema/order_input").await.json()["version"],
        2
    );
    // The same version again is replaced, not refused.
    let answer = app
        .post("/api/schema", json!([order_schema(Some(1))]))
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let all = app.get("/api/schema").await.json();
    let versions: Vec<i64> = all
        .as_array()
        .map(|items| items.iter().filter_map(|s| s["version"].as_i64()).collect())
        .unwrap_or_default();
    assert_eq!(versions, [1, 2], "{all}");
    let answer = app.call("DELETE", "/api/schema/order_input/2", None).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let gone = app.get("/api/schema/order_input/2").await;
    assert_eq!(gone.status, 404, "{}", gone.text);
    let answer = app.call("DELETE", "/api/schema/order_input/9", None).await;
    assert_eq!(answer.status, 404, "{}", answer.text);
    let answer = app.call("DELETE", "/api/schema/order_input", None).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(app.get("/api/schema/order_input/1").await.status, 404);
    assert_eq!(app.get("/api/schema/order_input").await.status, 404);
    app.stop().await;
}

#[tokio::test]
async fn what_is_not_a_schema_is_refused_clearly() {
    let app = TestApp::spawn().await;
    for (body, says) in [
        (
            json!({"name": "bad name!", "type": "JSON", "data": {}}),
            "Schema name",
        ),
        (
            json!({"name": "v0", "version": 0, "type": "JSON", "data": {}}),
            "version",
        ),
        (json!({"name": "t", "type": "XML", "data": {}}), "schema"),
        (json!("a schema"), "schema"),
    ] {
        let answer = app.post("/api/schema", body.clone()).await;
        assert_eq!(answer.status, 400, "{body}: {}", answer.text);
        assert!(answer.text.contains(says), "{says}: {}", answer.text);
    }
    let answer = app.get("/api/schema/x/one").await;
    assert_eq!(answer.status, 400, "{}", answer.text);
    assert_eq!(app.get("/api/schema").await.json(), json!([]));
    app.stop().await;
}

#[tokio::test]
async fn a_workflow_enforcing_its_input_schema_refuses_input_that_breaks_it() {
    let app = TestApp::spawn().await;
    let answer = app.post("/api/schema", order_schema(Some(1))).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let flow = |name: &str, schema: Value, enforce: bool| {
        json!({"name": name, "version": 1, "enforceSchema": enforce, "inputSchema": schema,
               "tasks": [{"name": "noop", "taskReferenceName": "n", "type": "NOOP"}]})
    };
    for def in [
        flow("orders", json!({"name": "order_input", "version": 1}), true),
        flow("lenient", json!({"name": "order_input"}), false),
        flow("unregistered", json!({"name": "no_such_schema"}), true),
        json!({"name": "no_schema", "version": 1, "enforceSchema": true,
               "tasks": [{"name": "noop", "taskReferenceName": "n", "type": "NOOP"}]}),
    ] {
        app.register(json!([]), def).await;
    }
    let good = app
        .post(
            "/api/workflow/orders",
            json!({"orderId": "o-1", "amount": 12.5}),
        )
        .await;
    assert_eq!(good.status, 200, "{}", good.text);
    let bad = app
        .post(
            "/api/workflow/orders",
            json!({"amount": "lots", "note": "hunter2"}),
        )
        .await;
    assert_eq!(bad.status, 400, "{}", bad.text);
    assert!(
        bad.text.contains("order_input") && bad.text.contains("orderId"),
        "{}",
        bad.text
    );
    assert!(bad.text.contains("/amount"), "{}", bad.text);
    assert!(
        !bad.text.contains("lots") && !bad.text.contains("hunter2"),
        "values are not echoed: {}",
        bad.text
    );
    // Not enforced, or no schema named: the start goes ahead.
    assert_eq!(
        app.post("/api/workflow/lenient", json!({"amount": "lots"}))
            .await
            .status,
        200
    );
    assert_eq!(
        app.post("/api/workflow/no_schema", json!({})).await.status,
        200
    );
    // Enforced but not registered: refused, saying so.
    let missing = app.post("/api/workflow/unregistered", json!({})).await;
    assert_eq!(missing.status, 400, "{}", missing.text);
    assert!(missing.text.contains("no_such_schema"), "{}", missing.text);
    // A schema is stored as given (conductor-python's own test registers one that
    // is no JSON Schema); a workflow enforcing it is refused, saying why. A `$ref`
    // to another document is never fetched.
    for (name, data) in [
        ("not_a_schema", json!({"name": "x", "type": "JSON"})),
        ("remote", json!({"$ref": "http://127.0.0.1:9/schema.json"})),
    ] {
        let answer = app
            .post(
                "/api/schema",
                json!({"name": name, "type": "JSON", "data": data}),
            )
            .await;
        assert_eq!(answer.status, 200, "{}", answer.text);
        let flow_name = format!("{name}_flow");
        app.register(json!([]), flow(&flow_name, json!({"name": name}), true))
            .await;
        let refused = app
            .post(&format!("/api/workflow/{flow_name}"), json!({}))
            .await;
        assert_eq!(refused.status, 400, "{}", refused.text);
        assert!(
            refused.text.contains("not a valid JSON Schema"),
            "{}",
            refused.text
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn a_schema_belongs_to_those_granted_it() {
    let app = TestApp::spawn().await;
    let author = application(&app, "author", &["METADATA_API"]).await;
    let other = application(&app, "other", &["METADATA_API"]).await;
    let answer = app
        .call_as(
            Some(&author.token),
            "POST",
            "/api/schema",
            Some(order_schema(Some(1))),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let mine = app
        .call_as(
            Some(&author.token),
            "GET",
            "/api/schema/order_input/1",
            None,
        )
        .await;
    assert_eq!(mine.status, 200, "{}", mine.text);
    for (method, path, body) in [
        ("GET", "/api/schema/order_input/1", None),
        ("GET", "/api/schema/order_input", None),
        ("DELETE", "/api/schema/order_input", None),
        ("POST", "/api/schema", Some(order_schema(Some(2)))),
    ] {
        let answer = app.call_as(Some(&other.token), method, path, body).await;
        assert_eq!(answer.status, 403, "{method} {path}: {}", answer.text);
    }
    let listed = app
        .call_as(Some(&other.token), "GET", "/api/schema", None)
        .await;
    assert_eq!(listed.json(), json!([]));
    app.stop().await;
}

#[tokio::test]
async fn a_schema_too_costly_to_enforce_or_registered_by_someone_else_is_not_used() {
    let app = TestApp::spawn().await;
    // Nested anyOfs of references: checking a value would take 2^30 steps.
    let mut defs = serde_json::Map::new();
    for i in 0..30 {
        let next = format!("#/$defs/d{}", i + 1);
        defs.insert(
            format!("d{i}"),
            json!({"anyOf": [{"$ref": next}, {"$ref": next}]}),
        );
    }
    defs.insert("d30".into(), json!({"type": "integer"}));
    let costly = json!({"name": "costly", "type": "JSON",
        "data": {"$defs": defs, "properties": {"x": {"$ref": "#/$defs/d0"}}}});
    let answer = app.post("/api/schema", costly).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let flow = json!({"name": "costly_flow", "version": 1, "enforceSchema": true,
        "inputSchema": {"name": "costly"},
        "tasks": [{"name": "noop", "taskReferenceName": "n", "type": "NOOP"}]});
    app.register(json!([]), flow).await;
    let refused = app
        .post("/api/workflow/costly_flow", json!({"x": "a string"}))
        .await;
    assert_eq!(refused.status, 400, "{}", refused.text);
    assert!(
        refused.text.contains("too large to enforce"),
        "{}",
        refused.text
    );

    // Someone else took the name a team's definition names: their schema is not used.
    let squatter = application(&app, "squatter", &["METADATA_API"]).await;
    let answer = app
        .call_as(
            Some(&squatter.token),
            "POST",
            "/api/schema",
            Some(json!({"name": "team_input", "type": "JSON", "data": true})),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let team = application(&app, "team", &["METADATA_API"]).await;
    let flow = json!({"name": "team_flow", "version": 1, "enforceSchema": true,
        "inputSchema": {"name": "team_input"},
        "tasks": [{"name": "noop", "taskReferenceName": "n", "type": "NOOP"}]});
    let answer = app
        .call_as(
            Some(&team.token),
            "POST",
            "/api/metadata/workflow",
            Some(flow),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let refused = app.post("/api/workflow/team_flow", json!({})).await;
    assert_eq!(refused.status, 400, "{}", refused.text);
    assert!(
        refused
            .text
            .contains("not readable by the workflow definition's author"),
        "{}",
        refused.text
    );
    app.stop().await;
}
