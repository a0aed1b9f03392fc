//! Camunda Operate's REST API v1 over Podium: definitions, instances, flow-node
//! instances, variables and incidents, searched, paged and read by key with the
//! per-definition permissions, and Operate's error body.

use serde_json::{Value, json};

use crate::helpers::{Answer, TestApp, application, grant, task_def};

/// The keys of two pages of a search: the first `size`, then those after its
/// `sortValues`.
async fn two_pages(app: &TestApp, token: &str, path: &str, search: Value) -> Vec<i64> {
    let first = operate(app, token, "POST", path, Some(search.clone()))
        .await
        .json();
    let mut next = search;
    next["searchAfter"] = first["sortValues"].clone();
    let second = operate(app, token, "POST", path, Some(next)).await.json();
    first["items"]
        .as_array()
        .expect("items")
        .iter()
        .chain(second["items"].as_array().expect("items"))
        .map(|i| i["key"].as_i64().expect("key"))
        .collect()
}

/// A search's answer, which must be a 200.
async fn found(app: &TestApp, token: &str, path: &str, body: Value) -> Value {
    let answer = operate(app, token, "POST", path, Some(body)).await;
    assert_eq!(answer.status, 200, "{path}: {}", answer.text);
    answer.json()
}

async fn operate(
    app: &TestApp,
    token: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> Answer {
    app.call_as(Some(token), method, path, body).await
}

/// Registers `orders` (a variable, then a worker task) and starts three: one
/// completed, one failed, one running.
async fn orders(app: &TestApp) -> [String; 3] {
    app.register(
        json!([task_def("charge")]),
        json!({"name": "orders", "version": 1, "maskedFields": ["card"], "tasks": [
            {"name": "vars", "taskReferenceName": "remember", "type": "SET_VARIABLE",
             "inputParameters": {"orderId": "${workflow.input.orderId}", "card": "${workflow.input.card}"}},
            {"name": "charge", "taskReferenceName": "charge", "type": "SIMPLE"}
        ]}),
    )
    .await;
    let mut ids = Vec::new();
    for n in 1..=3 {
        ids.push(
            app.start(
                "orders",
                json!({"orderId": format!("o-{n}"), "card": "4111-1111"}),
            )
            .await,
        );
    }
    let tasks = app.poll("charge", 2, 1000).await;
    assert_eq!(tasks.len(), 2);
    for task in tasks {
        let failed = task["workflowInstanceId"] == ids[1].as_str();
        let answer = app
            .post(
                "/api/tasks",
                json!({"workflowInstanceId": task["workflowInstanceId"], "taskId": task["taskId"],
                    "status": if failed { "FAILED" } else { "COMPLETED" },
                    "reasonForIncompletion": "card declined", "outputData": {}}),
            )
            .await;
        assert_eq!(answer.status, 200, "{}", answer.text);
    }
    app.wait_for_status(&ids[0], "COMPLETED").await;
    app.wait_for_status(&ids[1], "FAILED").await;
    [ids[0].clone(), ids[1].clone(), ids[2].clone()]
}

#[tokio::test]
async fn instances_are_searched_paged_and_read_with_the_permissions_of_their_definition() {
    let app = TestApp::spawn().await;
    let ids = orders(&app).await;
    let reader = application(&app, "operate-reader", &[]).await;
    let token = reader.token.clone();

    // Nothing before a grant.
    let none = operate(
        &app,
        &token,
        "POST",
        "/v1/process-instances/search",
        Some(json!({})),
    )
    .await;
    assert_eq!(none.status, 200, "{}", none.text);
    assert_eq!(none.json(), json!({"items": [], "total": 0}));
    let granted = grant(
        &app,
        &format!("app:{}", reader.id),
        "WORKFLOW_DEF",
        "orders",
        &["READ"],
    )
    .await;
    assert_eq!(granted.status, 200, "{}", granted.text);

    let defs = operate(&app, &token, "POST", "/v1/process-definitions/search", None).await;
    assert_eq!(defs.status, 200, "{}", defs.text);
    let def = defs.json()["items"][0].clone();
    assert_eq!(
        (def["bpmnProcessId"].as_str(), def["version"].as_i64()),
        (Some("orders"), Some(1))
    );
    assert_eq!(def["tenantId"], "<default>");
    let def_key = def["key"].as_i64().expect("key");
    let by_key = operate(
        &app,
        &token,
        "GET",
        &format!("/v1/process-definitions/{def_key}"),
        None,
    )
    .await;
    assert_eq!(by_key.json(), def);

    // Three instances, in the order they were started, two per page.
    let search = json!({"filter": {"bpmnProcessId": "orders", "tenantId": "<default>"}, "size": 2});
    let first = operate(
        &app,
        &token,
        "POST",
        "/v1/process-instances/search",
        Some(search.clone()),
    )
    .await;
    assert_eq!(first.status, 200, "{}", first.text);
    let first = first.json();
    assert_eq!(first["total"], 3);
    let states: Vec<&str> = first["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["state"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(states, ["COMPLETED", "CANCELED"]);
    assert_eq!(first["items"][0]["processDefinitionKey"], def_key);
    let mut next = search.clone();
    next["searchAfter"] = first["sortValues"].clone();
    let second = found(&app, &token, "/v1/process-instances/search", next).await;
    assert_eq!(second["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(second["items"][0]["state"], "ACTIVE");
    assert_eq!(second["items"][0]["endDate"], Value::Null);
    let keys: Vec<i64> = first["items"]
        .as_array()
        .expect("items")
        .iter()
        .chain(second["items"].as_array().expect("items"))
        .map(|i| i["key"].as_i64().expect("key"))
        .collect();
    assert!(
        keys.windows(2).all(|w| w[0] < w[1]) && keys.iter().all(|k| *k < 1 << 53),
        "{keys:?}"
    );
    // By date, exact or rounded, as Operate writes them.
    let started = first["items"][0]["startDate"]
        .as_str()
        .expect("startDate")
        .to_string();
    for (date, hits) in [
        (started.clone(), 3),
        (format!("{started}||/d"), 3),
        ("2000-01-01T00:00:00.000+0000||/y".to_string(), 0),
    ] {
        let found = operate(
            &app,
            &token,
            "POST",
            "/v1/process-instances/search",
            Some(json!({"filter": {"startDate": date}})),
        )
        .await;
        assert_eq!(found.json()["total"], hits, "{date}: {}", found.text);
        let nodes = operate(&app, &token, "POST", "/v1/flownode-instances/search",
            Some(json!({"filter": {"processInstanceKey": first["items"][0]["key"], "startDate": format!("{date}")}}))).await;
        assert_eq!(
            nodes.json()["total"],
            if hits > 0 { 2 } else { 0 },
            "{date}: {}",
            nodes.text
        );
    }
    let bad_date = operate(
        &app,
        &token,
        "POST",
        "/v1/process-instances/search",
        Some(json!({"filter": {"startDate": "yesterday"}})),
    )
    .await;
    assert_eq!(bad_date.status, 400, "{}", bad_date.text);
    // Newest first, by key, page after page.
    let newest = json!({"sort": [{"field": "key", "order": "DESC"}], "size": 2});
    let descending = two_pages(&app, &token, "/v1/process-instances/search", newest).await;
    let mut reversed = keys.clone();
    reversed.reverse();
    assert_eq!(descending, reversed);
    // Sorted by state, descending, with its own cursor.
    let by_state = found(
        &app,
        &token,
        "/v1/process-instances/search",
        json!({"filter": {"state": "CANCELED"}, "sort": [{"field": "startDate", "order": "DESC"}]}),
    )
    .await;
    assert_eq!(by_state["total"], 1);
    assert_eq!(by_state["sortValues"].as_array().map(Vec::len), Some(2));

    // By key, and what each holds.
    let [done, failed, running] = [keys[0], keys[1], keys[2]];
    let got = operate(
        &app,
        &token,
        "GET",
        &format!("/v1/process-instances/{failed}"),
        None,
    )
    .await;
    assert_eq!(got.json()["state"], "CANCELED");
    let nodes = found(
        &app,
        &token,
        "/v1/flownode-instances/search",
        json!({"filter": {"processInstanceKey": failed.to_string()}}),
    )
    .await;
    assert_eq!(nodes["total"], 2, "{nodes}");
    let charge = nodes["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|n| n["flowNodeId"] == "charge")
        .expect("charge")
        .clone();
    assert_eq!(
        (charge["type"].as_str(), charge["incident"].as_bool()),
        (Some("SERVICE_TASK"), Some(true))
    );
    let node_key = charge["key"].as_i64().expect("key");
    assert_eq!(
        operate(
            &app,
            &token,
            "GET",
            &format!("/v1/flownode-instances/{node_key}"),
            None
        )
        .await
        .json(),
        charge
    );
    let incidents = found(
        &app,
        &token,
        "/v1/incidents/search",
        json!({"filter": {"processInstanceKey": failed}}),
    )
    .await;
    assert_eq!(incidents["total"], 1, "{incidents}");
    let incident = incidents["items"][0].clone();
    assert_eq!(
        (incident["state"].as_str(), incident["message"].as_str()),
        (Some("ACTIVE"), Some("card declined"))
    );
    assert_eq!(
        operate(
            &app,
            &token,
            "GET",
            &format!("/v1/incidents/{}", incident["key"]),
            None
        )
        .await
        .json(),
        incident
    );
    let variables = found(
        &app,
        &token,
        "/v1/variables/search",
        json!({"filter": {"processInstanceKey": running, "name": "orderId"}}),
    )
    .await;
    assert_eq!(variables["total"], 1, "{variables}");
    let variable = variables["items"][0].clone();
    assert_eq!(variable["value"], "\"o-3\"", "values are JSON text");
    // A masked field shows as *** here as everywhere.
    let every = operate(
        &app,
        &token,
        "POST",
        "/v1/variables/search",
        Some(json!({"filter": {"processInstanceKey": running}})),
    )
    .await;
    assert!(!every.text.contains("4111"), "{}", every.text);
    assert!(every.text.contains("***"), "{}", every.text);
    assert_eq!(
        operate(
            &app,
            &token,
            "GET",
            &format!("/v1/variables/{}", variable["key"]),
            None
        )
        .await
        .json(),
        variable
    );

    // Removing needs DELETE_PROCESS_INSTANCE, and an ended instance.
    let refused = operate(
        &app,
        &token,
        "DELETE",
        &format!("/v1/process-instances/{done}"),
        None,
    )
    .await;
    assert_eq!(refused.status, 403, "{}", refused.text);
    let granted = grant(
        &app,
        &format!("app:{}", reader.id),
        "WORKFLOW_DEF",
        "orders",
        &["READ", "DELETE_PROCESS_INSTANCE"],
    )
    .await;
    assert_eq!(granted.status, 200, "{}", granted.text);
    let active = operate(
        &app,
        &token,
        "DELETE",
        &format!("/v1/process-instances/{running}"),
        None,
    )
    .await;
    assert_eq!(active.status, 400, "{}", active.text);
    let deleted = operate(
        &app,
        &token,
        "DELETE",
        &format!("/v1/process-instances/{done}"),
        None,
    )
    .await;
    assert_eq!(deleted.status, 200, "{}", deleted.text);
    assert_eq!(deleted.json()["deleted"], 1);
    assert_eq!(
        app.get(&format!("/api/workflow/{}", ids[0])).await.status,
        404
    );
    let gone = operate(
        &app,
        &token,
        "GET",
        &format!("/v1/process-instances/{done}"),
        None,
    )
    .await;
    assert_eq!(gone.status, 404);
    assert_eq!(gone.content_type, "application/problem+json");
    let body = gone.json();
    assert_eq!(
        (body["status"].as_i64(), body["type"].as_str()),
        (Some(404), Some("Requested resource not found"))
    );
    assert!(body["instance"].as_str().is_some_and(|i| i.len() == 36));
    app.stop().await;
}

#[tokio::test]
async fn bad_requests_get_operates_error_body_and_strangers_see_nothing() {
    let app = TestApp::spawn().await;
    orders(&app).await;
    let admin = app.token.clone().expect("admin");
    for body in [
        json!({"size": 0}),
        json!({"size": 1001}),
        json!({"searchAfter": []}),
        json!({"sort": [{"field": "bpmnProcessId"}], "searchAfter": [1]}),
        json!({"sort": [{"field": "nonsense"}]}),
        json!({"filter": {"nonsense": 1}}),
        json!("not an object"),
    ] {
        let answer = operate(
            &app,
            &admin,
            "POST",
            "/v1/process-instances/search",
            Some(body.clone()),
        )
        .await;
        assert_eq!(answer.status, 400, "{body}: {}", answer.text);
        assert_eq!(answer.json()["type"], "Invalid request");
    }
    let bad_key = operate(&app, &admin, "GET", "/v1/process-instances/abc", None).await;
    assert_eq!(bad_key.status, 400);
    // Across executions: incidents and flow nodes page in key order.
    let incidents = operate(
        &app,
        &admin,
        "POST",
        "/v1/incidents/search",
        Some(json!({"filter": {"state": "ACTIVE"}})),
    )
    .await;
    assert_eq!(incidents.status, 200, "{}", incidents.text);
    assert_eq!(incidents.json()["total"], 1, "{}", incidents.text);
    assert_eq!(incidents.json()["items"][0]["message"], "card declined");
    let charges = json!({"filter": {"flowNodeId": "charge"}, "size": 2});
    let total = found(
        &app,
        &admin,
        "/v1/flownode-instances/search",
        charges.clone(),
    )
    .await["total"]
        .clone();
    assert_eq!(total, 3);
    let keys = two_pages(&app, &admin, "/v1/flownode-instances/search", charges).await;
    assert_eq!(keys.len(), 3, "{keys:?}");
    assert!(keys.windows(2).all(|w| w[0] < w[1]), "{keys:?}");
    let by_state = found(&app, &admin, "/v1/flownode-instances/search", json!({"filter": {"state": "ACTIVE", "flowNodeId": "charge"}, "sort": [{"field": "startDate", "order": "DESC"}]})).await;
    assert_eq!(by_state["total"], 1, "{by_state}");
    for (path, body) in [
        (
            "/v1/flownode-instances/search",
            json!({"filter": {"type": "SERVICE_TASK"}}),
        ),
        (
            "/v1/incidents/search",
            json!({"sort": [{"field": "message"}]}),
        ),
    ] {
        let refused = operate(&app, &admin, "POST", path, Some(body.clone())).await;
        assert_eq!(refused.status, 400, "{path} {body}: {}", refused.text);
        assert!(
            refused.text.contains("processInstanceKey"),
            "{}",
            refused.text
        );
    }

    // An application with no grant sees nothing and finds no key.
    let all = operate(&app, &admin, "POST", "/v1/process-instances/search", None)
        .await
        .json();
    let key = all["items"][0]["key"].as_i64().expect("key");
    let stranger = application(&app, "stranger", &[]).await;
    for (method, path, body) in [
        (
            "POST",
            "/v1/process-definitions/search".to_string(),
            Some(json!({})),
        ),
        (
            "POST",
            "/v1/process-instances/search".to_string(),
            Some(json!({})),
        ),
        (
            "POST",
            "/v1/flownode-instances/search".to_string(),
            Some(json!({"filter": {"processInstanceKey": key}})),
        ),
        (
            "POST",
            "/v1/flownode-instances/search".to_string(),
            Some(json!({})),
        ),
        ("POST", "/v1/incidents/search".to_string(), Some(json!({}))),
        ("POST", "/v1/variables/search".to_string(), Some(json!({}))),
    ] {
        let answer = operate(&app, &stranger.token, method, &path, body).await;
        assert_eq!(answer.status, 200, "{path}: {}", answer.text);
        assert_eq!(answer.json()["total"], 0, "{path}: {}", answer.text);
    }
    for path in [
        format!("/v1/process-instances/{key}"),
        format!("/v1/flownode-instances/{}", key + 1),
    ] {
        let answer = operate(&app, &stranger.token, "GET", &path, None).await;
        assert_eq!(answer.status, 404, "{path}: {}", answer.text);
    }
    let delete = operate(
        &app,
        &stranger.token,
        "DELETE",
        &format!("/v1/process-instances/{key}"),
        None,
    )
    .await;
    assert_eq!(delete.status, 404);
    app.stop().await;
}

#[tokio::test]
async fn an_archived_instance_keeps_its_key_and_can_be_deleted() {
    const DAY_MS: i64 = 24 * 3600 * 1000;
    let app = TestApp::spawn().await;
    let ids = orders(&app).await;
    let admin = app.token.clone().expect("admin");
    let search = json!({"filter": {"bpmnProcessId": "orders"}});
    let before = found(&app, &admin, "/v1/process-instances/search", search.clone()).await;
    let runtime = app.runtime().clone();
    app.advance(2 * DAY_MS);
    let variables = json!({"filter": {"name": "orderId"}});
    let variables_before = found(&app, &admin, "/v1/variables/search", variables.clone()).await;
    let archived = podium_core::service::archive::archive_due(&runtime, DAY_MS)
        .await
        .expect("archive");
    assert_eq!(archived, 2, "the completed and the failed one");
    let variables_after = found(&app, &admin, "/v1/variables/search", variables.clone()).await;
    assert_eq!(
        variables_after, variables_before,
        "archived executions keep their variables in the search"
    );
    let after = found(&app, &admin, "/v1/process-instances/search", search).await;
    assert_eq!(
        after["items"], before["items"],
        "the same keys, from the archive"
    );
    let done = before["items"][0]["key"].as_i64().expect("key");
    let deleted = operate(
        &app,
        &admin,
        "DELETE",
        &format!("/v1/process-instances/{done}"),
        None,
    )
    .await;
    assert_eq!(deleted.status, 200, "{}", deleted.text);
    assert_eq!(
        app.get(&format!("/api/workflow/{}", ids[0])).await.status,
        404
    );
    let gone = operate(
        &app,
        &admin,
        "GET",
        &format!("/v1/process-instances/{done}"),
        None,
    )
    .await;
    assert_eq!(gone.status, 404);
    let left = found(&app, &admin, "/v1/variables/search", variables).await;
    assert_eq!(left["total"], 2, "the removed one's are gone: {left}");
    app.stop().await;
}

#[tokio::test]
async fn variables_are_searched_across_executions_as_people_see_them() {
    let app = TestApp::spawn().await;
    let ids = orders(&app).await;
    let admin = app.token.clone().expect("admin");
    let search = |body: Value| found(&app, &admin, "/v1/variables/search", body);
    let by_name = search(json!({"filter": {"name": "orderId"}})).await;
    assert_eq!(by_name["total"], 3, "{by_name}");
    let values: Vec<&str> = by_name["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["value"].as_str())
        .collect();
    assert_eq!(values, ["\"o-1\"", "\"o-2\"", "\"o-3\""], "in key order");
    let first = by_name["items"][0].clone();
    assert_eq!(first["truncated"], false);
    assert_eq!(first["scopeKey"], first["processInstanceKey"]);
    // The same variable as a search within its execution and a get by key show it.
    let within = search(
        json!({"filter": {"processInstanceKey": first["processInstanceKey"], "name": "orderId"}}),
    )
    .await;
    assert_eq!(within["items"][0], first);
    let by_key = search(json!({"filter": {"key": first["key"]}})).await;
    assert_eq!(by_key["items"], json!([first]));

    // Paged both ways, by key and by value.
    let keys = two_pages(
        &app,
        &admin,
        "/v1/variables/search",
        json!({"filter": {"name": "orderId"}, "size": 2}),
    )
    .await;
    assert_eq!(keys.len(), 3, "{keys:?}");
    assert!(keys.windows(2).all(|w| w[0] < w[1]), "{keys:?}");
    let newest_first = json!({"filter": {"name": "orderId"}, "size": 2,
        "sort": [{"field": "value", "order": "DESC"}]});
    let keys = two_pages(&app, &admin, "/v1/variables/search", newest_first).await;
    assert_eq!(keys.len(), 3, "{keys:?}");
    assert!(keys.windows(2).all(|w| w[0] > w[1]), "{keys:?}");

    // A masked field shows as *** and cannot be found by its value.
    let cards = search(json!({"filter": {"name": "card"}})).await;
    assert_eq!(cards["total"], 3);
    assert!(
        cards["items"]
            .as_array()
            .expect("items")
            .iter()
            .all(|i| i["value"] == "\"***\"")
    );
    let guessed = search(json!({"filter": {"value": "\"4111-1111\""}})).await;
    assert_eq!(guessed["total"], 0, "{guessed}");
    let all = operate(
        &app,
        &admin,
        "POST",
        "/v1/variables/search",
        Some(json!({"size": 100})),
    )
    .await;
    assert!(!all.text.contains("4111"), "{}", all.text);
    assert_eq!(all.json()["total"], 6);

    // Only executions whose definition the caller may read.
    let reader = application(&app, "variables-reader", &[]).await;
    let none = operate(&app, &reader.token, "POST", "/v1/variables/search", None)
        .await
        .json();
    assert_eq!(none["total"], 0);
    grant(
        &app,
        &format!("app:{}", reader.id),
        "WORKFLOW_DEF",
        "orders",
        &["READ"],
    )
    .await;
    let some = operate(&app, &reader.token, "POST", "/v1/variables/search", None)
        .await
        .json();
    assert_eq!(some["total"], 6, "{some}");

    // A removed execution's variables are gone from the search.
    let completed = search(json!({"filter": {"value": "\"o-1\""}})).await;
    let instance = completed["items"][0]["processInstanceKey"].clone();
    let removed = operate(
        &app,
        &admin,
        "DELETE",
        &format!("/v1/process-instances/{instance}"),
        None,
    )
    .await;
    assert_eq!(removed.status, 200, "{} {}", removed.text, ids[0]);
    let left = search(json!({"filter": {"name": "orderId"}})).await;
    assert_eq!(left["total"], 2, "{left}");
    let bad = operate(
        &app,
        &admin,
        "POST",
        "/v1/variables/search",
        Some(json!({"filter": {"name": "orderId"}, "searchAfter": ["x"]})),
    )
    .await;
    assert_eq!(bad.status, 400, "{}", bad.text);
    app.stop().await;
}
