//! Secrets and environment variables: the API, who may do what, resolution at
//! hand-off as the workflow's starter, masking, and what reaches the database files.

use serde_json::{Value, json};

use crate::helpers::{
    TestApp, allow_loopback, application, first_task_reason, grant, serve_locally, task_def,
};

/// An application with `roles`: its subject id (`app:<id>`) and a token.
async fn app_with(app: &TestApp, name: &str, roles: &[&str]) -> (String, String) {
    let created = application(app, name, roles).await;
    (format!("app:{}", created.id), created.token)
}

/// One batch poll of `use_secrets` as the worker holding `token`.
async fn poll_as(app: &TestApp, token: &str) -> Value {
    app.call_as(
        Some(token),
        "GET",
        "/api/tasks/poll/batch/use_secrets?count=1&timeout=100",
        None,
    )
    .await
    .json()
}

/// Grants `access`, which must succeed.
async fn granted(app: &TestApp, subject: &str, kind: &str, target: &str, access: &[&str]) {
    let answer = grant(app, subject, kind, target, access).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
}

#[tokio::test]
async fn secrets_and_variables_through_the_api() {
    let app = TestApp::spawn_with(|c| c.secret_max_bytes = 64).await;
    // Both SDKs' encodings of one value decode alike.
    let value = "hello \"world\"\nline2";
    let js = serde_json::to_string(value).expect("json");
    let python = &js[1..js.len() - 1];
    for (name, body) in [("from-js", js.clone()), ("from-python", python.to_string())] {
        let answer = app
            .raw(
                "PUT",
                &format!("/api/secrets/{name}"),
                "application/json",
                body,
            )
            .await;
        assert_eq!(answer.status, 200, "{}", answer.text);
        let read = app.get(&format!("/api/secrets/{name}")).await;
        assert_eq!(read.status, 200);
        assert_eq!(read.text, value);
    }
    assert_eq!(app.get("/api/secrets/from-js/exists").await.json(), true);
    let missing = app.get("/api/secrets/nothing/exists").await;
    assert_eq!(
        missing.status, 404,
        "as Orkes; the JS SDK reads any body as true"
    );
    assert_eq!(
        app.get("/api/secrets").await.json(),
        json!(["from-js", "from-python"])
    );
    assert_eq!(
        app.call("POST", "/api/secrets", Some(json!({})))
            .await
            .json(),
        json!(["from-js", "from-python"])
    );
    // Tags, and names with tags.
    let tag = json!([{"key": "team", "value": "payments"}]);
    assert_eq!(
        app.call("PUT", "/api/secrets/from-js/tags", Some(tag.clone()))
            .await
            .status,
        200
    );
    assert_eq!(
        app.get("/api/secrets/from-js/tags").await.json()[0]["key"],
        "team"
    );
    let v2 = app.get("/api/secrets-v2").await.json();
    assert_eq!(v2[0]["name"], "from-js");
    assert_eq!(v2[0]["tags"][0]["value"], "payments");
    assert_eq!(
        app.call("DELETE", "/api/secrets/from-js/tags", Some(tag))
            .await
            .status,
        200
    );
    assert_eq!(app.get("/api/secrets/from-js/tags").await.json(), json!([]));
    // Every read of a value is recorded.
    let reads = app.get("/api/secrets/from-js/reads").await.json();
    assert_eq!(reads.as_array().map(Vec::len), Some(1));
    let admin = app.get("/api/token/userInfo").await.json();
    assert_eq!(reads[0]["principal"], admin["id"]);
    // Bad input.
    for (name, body, status) in [
        ("has.dot", "v".to_string(), 400),
        ("big", "x".repeat(65), 400),
    ] {
        let answer = app
            .raw("PUT", &format!("/api/secrets/{name}"), "text/plain", body)
            .await;
        assert_eq!(answer.status, status, "{name}: {}", answer.text);
        assert!(answer.json()["message"].as_str().is_some());
    }
    let missing = app.get("/api/secrets/nothing").await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json()["message"], "Secret nothing not found");
    // Deleting.
    assert_eq!(
        app.call("DELETE", "/api/secrets/from-js", None)
            .await
            .status,
        200
    );
    assert_eq!(app.get("/api/secrets/from-js").await.status, 404);
    assert_eq!(
        app.call("DELETE", "/api/secrets/from-js", None)
            .await
            .status,
        404
    );

    // Environment variables: plain values, listed with them.
    let put = app
        .raw("PUT", "/api/environment/region", "text/plain", "eu-west-1")
        .await;
    assert_eq!(put.status, 200, "{}", put.text);
    assert_eq!(app.get("/api/environment/region").await.text, "eu-west-1");
    assert_eq!(
        app.get("/api/environment").await.json(),
        json!([{"name": "region", "value": "eu-west-1", "tags": []}])
    );
    let deleted = app.call("DELETE", "/api/environment/region", None).await;
    assert_eq!(deleted.text, "eu-west-1");
    assert_eq!(app.get("/api/environment/region").await.status, 404);
    app.stop().await;
}

#[tokio::test]
async fn who_may_do_what_with_a_secret() {
    let app = TestApp::spawn().await;
    app.raw("PUT", "/api/secrets/owned-by-admin", "text/plain", "v1")
        .await;
    app.raw("PUT", "/api/secrets/tagged", "text/plain", "v2")
        .await;
    app.call(
        "PUT",
        "/api/secrets/tagged/tags",
        Some(json!([{"key": "team", "value": "a"}])),
    )
    .await;
    let (reader, reader_token) = app_with(&app, "reader", &[]).await;
    let (_, creator_token) = app_with(&app, "creator", &[]).await;
    let as_reader = |method: &'static str, path: &'static str| {
        let (app, token) = (&app, reader_token.clone());
        async move { app.call_as(Some(&token), method, path, None).await }
    };
    // Nothing without a grant, and the refusal names the action and the secret.
    let refused = as_reader("GET", "/api/secrets/owned-by-admin").await;
    assert_eq!(refused.status, 403);
    assert_eq!(
        refused.json()["message"],
        "You don't have permissions to read secret: owned-by-admin"
    );
    assert_eq!(as_reader("GET", "/api/secrets").await.json(), json!([]));
    // A grant on the secret, and a grant on its tag.
    granted(&app, &reader, "SECRET_NAME", "owned-by-admin", &["READ"]).await;
    granted(&app, &reader, "TAG", "team:a", &["READ"]).await;
    assert_eq!(
        as_reader("GET", "/api/secrets/owned-by-admin").await.text,
        "v1"
    );
    assert_eq!(as_reader("GET", "/api/secrets/tagged").await.text, "v2");
    assert_eq!(
        as_reader("GET", "/api/secrets").await.json(),
        json!(["owned-by-admin", "tagged"])
    );
    // READ is not UPDATE or DELETE.
    let update = app
        .call_as(
            Some(&reader_token),
            "PUT",
            "/api/secrets/owned-by-admin",
            Some(json!("changed")),
        )
        .await;
    assert_eq!(update.status, 403);
    assert_eq!(
        as_reader("DELETE", "/api/secrets/owned-by-admin")
            .await
            .status,
        403
    );
    // Creating needs the CREATE_SECRET permission (roles USER, METADATA_MANAGER,
    // ADMIN); an application without it is refused.
    let create = app
        .call_as(
            Some(&creator_token),
            "PUT",
            "/api/secrets/new-one",
            Some(json!("x")),
        )
        .await;
    assert_eq!(create.status, 403);
    // "create or update": the refusal does not say whether the name exists.
    assert_eq!(
        create.json()["message"],
        "You don't have permissions to create or update secret: new-one"
    );
    // Environment variables are created by the metadata roles (and ADMIN).
    let (_, metadata_token) = app_with(&app, "metadata-app", &["METADATA_API"]).await;
    for (token, status) in [(&creator_token, 403), (&metadata_token, 200)] {
        let create = app
            .call_as(
                Some(token),
                "PUT",
                "/api/environment/region",
                Some(json!("eu-west")),
            )
            .await;
        assert_eq!(create.status, status, "{}", create.text);
    }
    app.stop().await;
}

/// Everything the server stores (its database files, or a dump of its schema).
pub(crate) async fn database_bytes(app: &TestApp) -> Vec<u8> {
    app.stored_bytes().await
}

pub(crate) fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[tokio::test]
async fn secrets_reach_workers_as_the_starter_and_nowhere_else() {
    let app = TestApp::spawn().await;
    app.raw(
        "PUT",
        "/api/secrets/api-token",
        "text/plain",
        "tok-12345-abc",
    )
    .await;
    app.raw(
        "PUT",
        "/api/secrets/db",
        "text/plain",
        r#"{"username":"svc-user","password":"hunter22-pw"}"#,
    )
    .await;
    app.raw("PUT", "/api/environment/region", "text/plain", "eu-north")
        .await;
    app.register(
        json!([task_def("use_secrets")]),
        json!({"name": "with_secrets", "version": 1, "tasks": [{
            "name": "use_secrets", "taskReferenceName": "use", "type": "SIMPLE",
            "inputParameters": {
                "auth": "Bearer ${workflow.secrets.api-token}",
                "user": "${workflow.secrets.db.username}",
                "region": "${workflow.env.region}",
                "_secrets": {"pw": "${workflow.secrets.db.password}"},
                "injected": "${workflow.input.x}"
            }
        }]}),
    )
    .await;
    let (program, program_token) = app_with(&app, "program", &[]).await;
    let (worker, worker_token) = app_with(&app, "worker", &["WORKER"]).await;
    granted(&app, &program, "WORKFLOW_DEF", "with_secrets", &["EXECUTE"]).await;
    granted(&app, &program, "TASK_DEF", "use_secrets", &["EXECUTE"]).await;
    granted(&app, &worker, "TASK_DEF", "use_secrets", &["EXECUTE"]).await;
    let start = |token: String| {
        let app = &app;
        async move {
            app.call_as(
                Some(&token),
                "POST",
                "/api/workflow/with_secrets",
                Some(json!({"x": "${workflow.secrets.api-token}"})),
            )
            .await
        }
    };
    // A starter who cannot read a secret the workflow uses is refused at start.
    let refused = start(program_token.clone()).await;
    assert_eq!(refused.status, 403, "{}", refused.text);
    assert!(
        refused.json()["message"]
            .as_str()
            .is_some_and(|m| m.contains("read secret: api-token")),
        "{}",
        refused.text
    );
    granted(&app, &program, "SECRET_NAME", "api-token", &["READ"]).await;
    granted(&app, &program, "SECRET_NAME", "db", &["READ"]).await;
    let refused = start(program_token.clone()).await;
    assert_eq!(
        refused.status, 403,
        "the environment variable needs READ too"
    );
    granted(&app, &program, "ENV_VARIABLE", "region", &["READ"]).await;
    let started = start(program_token.clone()).await;
    assert_eq!(started.status, 200, "{}", started.text);
    let workflow_id = started.text.clone();

    // The worker (which holds no grant on the secrets) gets the values.
    let polled = poll_as(&app, &worker_token).await;
    let task = &polled[0];
    let input = &task["inputData"];
    assert_eq!(input["auth"], "Bearer tok-12345-abc");
    assert_eq!(input["user"], "svc-user");
    assert_eq!(input["region"], "eu-north");
    assert_eq!(input["_secrets"]["pw"], "hunter22-pw");
    assert_eq!(
        input["injected"], "${workflow.secrets.api-token}",
        "a reference arriving as data is never resolved"
    );
    // The worker echoes what it got, in its output and its logs.
    let done = app
        .call_as(
            Some(&worker_token),
            "POST",
            "/api/tasks",
            Some(json!({
                "workflowInstanceId": workflow_id, "taskId": task["taskId"], "status": "COMPLETED",
                "outputData": {"echo": "sent Bearer tok-12345-abc as svc-user", "_secrets": {"pw": "hunter22-pw"}},
                "logs": [{"log": "calling with tok-12345-abc", "createdTime": 1}]
            })),
        )
        .await;
    assert_eq!(done.status, 200, "{}", done.text);
    let workflow = app.wait_for_status(&workflow_id, "COMPLETED").await;
    let text = workflow.to_string();
    for value in ["tok-12345-abc", "hunter22-pw"] {
        assert!(
            !text.contains(value),
            "{value} shows in the workflow: {text}"
        );
    }
    let stored = &workflow["tasks"][0];
    assert_eq!(stored["inputData"]["auth"], "Bearer ***");
    assert_eq!(stored["inputData"]["_secrets"], "***");
    assert_eq!(stored["outputData"]["echo"], "sent Bearer *** as ***");
    let task_id = stored["taskId"].as_str().expect("task id");
    let logs = app.get(&format!("/api/tasks/{task_id}/log")).await;
    assert_eq!(logs.json()[0]["log"], "calling with ***");
    let searched = app
        .get("/api/workflow/search?query=workflowType%3D%27with_secrets%27")
        .await;
    assert!(!searched.text.contains("tok-12345-abc"));
    // No value reaches the database files (main file and WAL).
    let bytes = database_bytes(&app).await;
    assert!(!bytes.is_empty());
    for value in ["tok-12345-abc", "hunter22-pw", "svc-user"] {
        assert!(!contains(&bytes, value), "{value} is in the database files");
    }

    // A READ revoked after the start fails the next hand-off.
    let third = start(program_token.clone()).await.text;
    let revoke = app
        .call(
            "DELETE",
            "/api/auth/authorization",
            Some(json!({"subject": {"type": "USER", "id": program}, "target": {"type": "SECRET_NAME", "id": "db"}, "access": ["READ"]})),
        )
        .await;
    assert_eq!(revoke.status, 200, "{}", revoke.text);
    let none = poll_as(&app, &worker_token).await;
    assert_eq!(none, json!([]));
    let failed = app.wait_for_status(&third, "FAILED").await;
    let reason = first_task_reason(&failed);
    assert!(reason.contains("may not read secret 'db'"), "{reason}");
    granted(&app, &program, "SECRET_NAME", "db", &["READ"]).await;

    // A secret removed after the start fails the task, naming it and nothing else.
    let second = start(program_token).await.text;
    assert_eq!(
        app.call("DELETE", "/api/secrets/api-token", None)
            .await
            .status,
        200
    );
    let none = poll_as(&app, &worker_token).await;
    assert_eq!(none, json!([]));
    let failed = app.wait_for_status(&second, "FAILED").await;
    let reason = first_task_reason(&failed);
    assert!(
        reason.contains("secret 'api-token' does not exist"),
        "{reason}"
    );
    assert!(!failed.to_string().contains("hunter22-pw"));
    let _: Value = failed;
    app.stop().await;
}

/// A local service for the documented HTTP examples: `/token` hands out a fresh
/// token for the right application key, `/use` records the Authorization header it gets and echoes it back.
async fn token_service() -> (
    String,
    std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    tokio::task::JoinHandle<()>,
) {
    use axum::extract::State;
    use axum::http::HeaderMap;
    use axum::routing::get;
    type Seen = std::sync::Arc<std::sync::Mutex<Vec<String>>>;
    let seen: Seen = Default::default();
    let router = axum::Router::new()
        .route(
            "/token",
            axum::routing::post(|axum::Json(body): axum::Json<Value>| async move {
                if body == json!({"keyId": "app-key-id-5", "keySecret": "app-key-secret-6"}) {
                    Ok(axum::Json(
                        json!({"token": "fresh-token-777", "expiresIn": 3600}),
                    ))
                } else {
                    Err(axum::http::StatusCode::UNAUTHORIZED)
                }
            }),
        )
        .route(
            "/use",
            get(|State(seen): State<Seen>, headers: HeaderMap| async move {
                let auth = headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string();
                seen.lock().expect("lock").push(auth.clone());
                axum::Json(json!({"youSent": auth}))
            }),
        )
        .with_state(seen.clone());
    let (url, server) = serve_locally(router).await;
    (url, seen, server)
}

#[tokio::test]
async fn the_documented_http_secret_and_rotation_examples() {
    let app = TestApp::spawn_with(allow_loopback).await;
    let (service, seen, server) = token_service().await;
    app.raw(
        "PUT",
        "/api/secrets/sampletask-api-token",
        "text/plain",
        "old-token-111",
    )
    .await;
    // The documented workflow: an HTTP task whose header uses the secret.
    app.register(
        json!([]),
        json!({"name": "workflow-with-a-secret", "version": 1, "schemaVersion": 2, "tasks": [
            {"name": "sample_task_http", "taskReferenceName": "sample_task_http", "type": "HTTP",
             "inputParameters": {"http_request": {
                "uri": format!("{service}/use"), "method": "GET",
                "connectionTimeOut": 3000, "readTimeOut": "3000",
                "accept": "application/json", "contentType": "application/json",
                "headers": {"Authorization": "Bearer: ${workflow.secrets.sampletask-api-token}"}
             }}}
        ]}),
    )
    .await;
    let id = app.start("workflow-with-a-secret", json!({})).await;
    let done = app.wait_for_status(&id, "COMPLETED").await;
    assert_eq!(
        seen.lock().expect("lock").clone(),
        vec!["Bearer: old-token-111".to_string()],
        "the server got the real value"
    );
    let text = done.to_string();
    assert!(!text.contains("old-token-111"), "{text}");
    let task = &done["tasks"][0];
    assert_eq!(
        task["inputData"]["http_request"]["headers"]["Authorization"],
        "Bearer: ***"
    );
    assert_eq!(
        task["outputData"]["response"]["body"]["youSent"],
        "Bearer: ***"
    );

    // The rotation recipe as documented: the HTTP task authenticates with two secrets,
    // its outputFilter keeps only the token, under `_secrets`; UPDATE_SECRET stores it
    // and a later task uses it.
    for (name, value) in [
        ("appKeyId", "app-key-id-5"),
        ("appKeySecret", "app-key-secret-6"),
    ] {
        app.raw("PUT", &format!("/api/secrets/{name}"), "text/plain", value)
            .await;
    }
    app.register(
        json!([]),
        json!({"name": "update_rotate_secrets_tracker_app", "version": 1, "schemaVersion": 2, "tasks": [
            {"name": "retrieve_token", "taskReferenceName": "retrieve_token", "type": "HTTP",
             "inputParameters": {
                "uri": format!("{service}/token"), "method": "POST",
                "accept": "application/json", "contentType": "application/json",
                "body": {"keyId": "${workflow.secrets.appKeyId}", "keySecret": "${workflow.secrets.appKeySecret}"},
                "outputFilter": {"_secrets": {"token": "$${retrieve_token.output.response.body.token}"}}
             }},
            {"name": "update_secret_task", "taskReferenceName": "update_secret_task_ref", "type": "UPDATE_SECRET",
             "inputParameters": {"_secrets": {"secretKey": "sampletask-api-token", "secretValue": "${retrieve_token.output._secrets.token}"}}},
            {"name": "use", "taskReferenceName": "use", "type": "HTTP",
             "inputParameters": {"http_request": {"uri": format!("{service}/use"), "method": "GET",
                "headers": {"Authorization": "Bearer ${workflow.secrets.sampletask-api-token}"}}}}
        ]}),
    )
    .await;
    let id = app
        .start("update_rotate_secrets_tracker_app", json!({}))
        .await;
    let done = app.wait_for_status(&id, "COMPLETED").await;
    assert_eq!(
        seen.lock().expect("lock").last().cloned(),
        Some("Bearer fresh-token-777".to_string())
    );
    let text = done.to_string();
    for value in ["fresh-token-777", "app-key-id-5", "app-key-secret-6"] {
        assert!(!text.contains(value), "{value} shown in {text}");
    }
    // The filter replaced the whole output: no response, no headers, only `_secrets`.
    assert_eq!(done["tasks"][0]["outputData"], json!({"_secrets": "***"}));
    assert_eq!(
        done["tasks"][0]["inputData"]["body"],
        json!({"keyId": "***", "keySecret": "***"})
    );
    assert_eq!(done["tasks"][1]["inputData"]["_secrets"], "***");
    assert_eq!(
        app.get("/api/secrets/sampletask-api-token").await.text,
        "fresh-token-777"
    );
    // Nor is the fetched token in the database files: the HTTP task's output and
    // UPDATE_SECRET's input hold it under `_secrets`, sealed at rest.
    let bytes = database_bytes(&app).await;
    assert!(contains(&bytes, "update_rotate_secrets_tracker_app"));
    assert!(!contains(&bytes, "fresh-token-777"));
    // A filter that is not a map fails the task before any call, saying why.
    app.register(
        json!([]),
        json!({"name": "bad-filter", "version": 1, "tasks": [
            {"name": "fetch", "taskReferenceName": "fetch", "type": "HTTP",
             "inputParameters": {"uri": format!("{service}/use"), "method": "GET", "outputFilter": "token"}}
        ]}),
    )
    .await;
    let calls = seen.lock().expect("lock").len();
    let id = app.start("bad-filter", json!({})).await;
    let failed = app.wait_for_status(&id, "FAILED").await;
    assert_eq!(first_task_reason(&failed), "outputFilter must be an object");
    assert_eq!(seen.lock().expect("lock").len(), calls, "no call was made");

    // UPDATE_SECRET as a starter without UPDATE on the secret fails with the refusal.
    app.register(
        json!([]),
        json!({"name": "overwrite", "version": 1, "tasks": [
            {"name": "store", "taskReferenceName": "store", "type": "UPDATE_SECRET",
             "inputParameters": {"_secrets": {"secretKey": "sampletask-api-token", "secretValue": "${workflow.input.v}"}}}
        ]}),
    )
    .await;
    let (program, token) = app_with(&app, "rotator", &[]).await;
    granted(&app, &program, "WORKFLOW_DEF", "overwrite", &["EXECUTE"]).await;
    let started = app
        .call_as(
            Some(&token),
            "POST",
            "/api/workflow/overwrite",
            Some(json!({"v": "attacker-value-1"})),
        )
        .await;
    assert_eq!(started.status, 200, "{}", started.text);
    let failed = app.wait_for_status(&started.text, "FAILED").await;
    let reason = first_task_reason(&failed);
    assert!(
        reason.ends_with(
            "is refused: You don't have permissions to update secret: sampletask-api-token"
        ),
        "{reason}"
    );
    assert_eq!(
        app.get("/api/secrets/sampletask-api-token").await.text,
        "fresh-token-777"
    );
    // Missing fields terminate the workflow with a clear reason.
    app.register(
        json!([]),
        json!({"name": "incomplete", "version": 1, "tasks": [
            {"name": "store", "taskReferenceName": "store", "type": "UPDATE_SECRET",
             "inputParameters": {"_secrets": {"secretKey": "only-a-key"}}}
        ]}),
    )
    .await;
    let id = app.start("incomplete", json!({})).await;
    let terminated = app.wait_for_status(&id, "TERMINATED").await;
    assert!(
        terminated["reasonForIncompletion"]
            .as_str()
            .is_some_and(|r| r.contains("_secrets.secretValue")),
        "{terminated}"
    );
    assert_eq!(app.get("/api/secrets/only-a-key/exists").await.status, 404);
    server.abort();
    app.stop().await;
}

#[tokio::test]
async fn secrets_and_masked_maps_are_sealed_in_the_database() {
    let app = TestApp::spawn().await;
    app.register(
        json!([task_def("sealed_task")]),
        json!({"name": "sealed_flow", "version": 1, "tasks": [
            {"name": "sealed_task", "taskReferenceName": "work", "type": "SIMPLE",
             "inputParameters": {
                "_secrets": {"t": "${workflow.input._secrets.tok}"},
                "nested": {"_masked": {"m": "${workflow.input._masked.m}"}},
                "plain": "visible-plain-1"}}
        ]}),
    )
    .await;
    let id = app
        .start(
            "sealed_flow",
            json!({"_secrets": {"tok": "input-secret-31"}, "_masked": {"m": "masked-input-32"}}),
        )
        .await;
    // The worker gets the values; every view shows `***`.
    let task = app.poll("sealed_task", 1, 100).await.remove(0);
    assert_eq!(task["inputData"]["_secrets"]["t"], "input-secret-31");
    assert_eq!(
        task["inputData"]["nested"]["_masked"]["m"],
        "masked-input-32"
    );
    app.complete(
        &task,
        json!({"_secrets": {"o": "output-secret-33"}, "done": true}),
    )
    .await;
    let done = app.wait_for_status(&id, "COMPLETED").await;
    assert_eq!(done["input"]["_secrets"], "***");
    assert_eq!(done["tasks"][0]["outputData"]["_secrets"], "***");
    assert_eq!(done["tasks"][0]["outputData"]["done"], true);
    // The database files hold none of them, and do hold the plain field.
    let bytes = database_bytes(&app).await;
    assert!(
        contains(&bytes, "visible-plain-1"),
        "the scan sees the rows"
    );
    for value in ["input-secret-31", "masked-input-32", "output-secret-33"] {
        assert!(!contains(&bytes, value), "{value} is in the database files");
    }
    app.stop().await;
}

#[tokio::test]
async fn a_field_of_a_secret_that_is_not_json_fails_the_task_clearly() {
    let app = TestApp::spawn().await;
    app.raw(
        "PUT",
        "/api/secrets/plain-text",
        "text/plain",
        "not json at all",
    )
    .await;
    app.register(
        json!([task_def("field_task")]),
        json!({"name": "reads_a_field", "version": 1, "tasks": [
            {"name": "field_task", "taskReferenceName": "read", "type": "SIMPLE",
             "inputParameters": {"user": "${workflow.secrets.plain-text.username}"}}
        ]}),
    )
    .await;
    let id = app.start("reads_a_field", json!({})).await;
    assert!(app.poll("field_task", 1, 100).await.is_empty());
    let failed = app.wait_for_status(&id, "FAILED").await;
    let reason = first_task_reason(&failed);
    assert_eq!(
        reason,
        "Cannot hand the task over: secret 'plain-text' is not JSON, so its field 'username' cannot be read"
    );
    assert!(!failed.to_string().contains("not json at all"));
    app.stop().await;
}

/// A result is masked with the secrets its task's definition names, also when the
/// node that takes the result did not hand the task over (here: after a restart).
/// Reference text that came in as data names nothing: were it masked, a worker
/// could learn whether its guess of a secret was right.
#[tokio::test]
async fn masking_never_confirms_a_guess_of_a_secret() {
    let app = TestApp::spawn().await;
    let put = app
        .raw("PUT", "/api/secrets/guarded", "text/plain", "lynx-3141")
        .await;
    assert!(put.status < 300, "{}", put.text);
    app.register(
        json!([{"name": "guesser"}, {"name": "holder"}]),
        json!({"name": "oracle", "version": 1, "tasks": [
            {"name": "guesser", "taskReferenceName": "guesser",
             "inputParameters": {"x": "${workflow.input.x}"}},
            {"name": "holder", "taskReferenceName": "holder",
             "inputParameters": {"key": "${workflow.secrets.guarded}"}}
        ]}),
    )
    .await;
    let id = app
        .start("oracle", json!({"x": "${workflow.secrets.guarded}"}))
        .await;
    let polled = app.poll("guesser", 1, 2000).await;
    assert_eq!(polled[0]["inputData"]["x"], "${workflow.secrets.guarded}");
    let app = app.restart().await;
    let answer = app
        .complete(&polled[0], json!({"guess": "lynx-3141"}))
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let holder = app.poll("holder", 1, 5000).await;
    assert_eq!(holder[0]["inputData"]["key"], "lynx-3141");
    let app = app.restart().await;
    let answer = app.complete(&holder[0], json!({"echo": "lynx-3141"})).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let done = app.wait_for_status(&id, "COMPLETED").await;
    // The guess is stored as sent: nothing tells the guesser it was right.
    assert_eq!(done["tasks"][0]["outputData"]["guess"], "lynx-3141");
    // The task the definition handed the secret has its echo masked.
    assert_eq!(done["tasks"][1]["outputData"]["echo"], "***");
    app.stop().await;
}
