//! Walks the whole route table: every non-public route answers 401 without
//! credentials, and a principal with no roles and no grants gets 403, or (for lists,
//! searches and questions about itself) an answer that shows nothing of anyone
//! else's. A route added without an entry here fails this test, so nobody adds a
//! route without deciding who may use it.

use podium_core::security::RouteAccess;
use serde_json::{Value, json};

use crate::helpers::{Answer, TestApp, linear, task_def};

/// What a principal with nothing may see of a route.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    /// 403.
    Forbidden,
    /// 200 with nothing in it (an empty list, map or search result).
    Nothing,
    /// 200: the route is about the caller itself.
    AboutSelf,
    /// 200 with every item of a bulk request refused.
    BulkRefused,
    /// 403 with the answer a workflow id that does not exist gets: a caller who may
    /// not read an execution does not learn that it exists.
    Hidden,
    /// The same for a task.
    HiddenTask,
    /// Only for a browser session: 400 with a token, 200 about the caller with a
    /// session.
    SessionOnly,
    /// 404 in Operate's error body: a key the caller may not read is not found.
    Missing,
}

/// Who walks: the holder of a token, or of a browser session (whose changes are
/// sent as Podium's own pages send them, so only authorization can refuse them).
pub enum Caller {
    Token(String),
    Session(String),
}

/// Everything the walk needs to name: ids made by the admin.
pub struct Fixture {
    workflow_id: String,
    task_id: String,
    app_id: String,
    key_id: String,
    /// The workflow's Operate key.
    instance_key: i64,
}

/// The concrete request for a route and what the unprivileged caller must get.
fn request(method: &str, path: &str, f: &Fixture) -> Option<(String, Option<Value>, Expect)> {
    use Expect::*;
    let (wid, tid, app, key) = (&f.workflow_id, &f.task_id, &f.app_id, &f.key_id);
    let def = linear("walk_flow", &[("walk_task", "a")]);
    let result = json!({"workflowInstanceId": wid, "taskId": tid, "status": "COMPLETED"});
    let grant = json!({"subject": {"type": "USER", "id": "jane"}, "target": {"type": "WORKFLOW_DEF", "id": "walk_flow"}, "access": ["READ"]});
    let tag = json!({"key": "walk", "value": "yes"});
    let r = |p: String, body: Option<Value>, e: Expect| Some((p, body, e));
    let ik = f.instance_key;
    let within = json!({"filter": {"processInstanceKey": ik}});
    match (method, path) {
        ("GET", "/api/token/user") => r(path.into(), None, SessionOnly),
        ("POST", "/v1/process-definitions/search" | "/v1/process-instances/search") => {
            r(path.into(), Some(json!({})), Nothing)
        }
        ("POST", p) if p.starts_with("/v1/") && p.ends_with("/search") => {
            r(path.into(), Some(within), Nothing)
        }
        ("GET", "/v1/process-definitions/{key}") => {
            let defs = podium_core::service::operate::keys::definition_key("walk_flow", 1);
            r(format!("/v1/process-definitions/{defs}"), None, Missing)
        }
        (_, "/v1/process-instances/{key}") => {
            r(format!("/v1/process-instances/{ik}"), None, Missing)
        }
        ("GET", "/v1/flownode-instances/{key}" | "/v1/incidents/{key}") => {
            r(path.replace("{key}", &(ik + 2).to_string()), None, Missing)
        }
        ("GET", "/v1/variables/{key}") => {
            r(format!("/v1/variables/{}", ik + (1 << 15)), None, Missing)
        }
        ("GET", "/api/users") => r("/api/users".into(), None, Forbidden),
        ("GET", "/api/users/{id}") => r("/api/users/jane".into(), None, Forbidden),
        ("PUT", "/api/users/{id}") => r(
            "/api/users/jane".into(),
            Some(json!({"name": "J"})),
            Forbidden,
        ),
        ("DELETE", "/api/users/{id}") => r("/api/users/jane".into(), None, Forbidden),
        ("GET", "/api/audit") => r("/api/audit".into(), None, Forbidden),
        ("POST", "/api/users/{id}/password") => r(
            "/api/users/jane/password".into(),
            Some(json!({"newPassword": "a stranger's chosen passphrase"})),
            Forbidden,
        ),
        ("GET", "/api/users/{id}/permissions") => {
            r("/api/users/jane/permissions".into(), None, Forbidden)
        }
        ("GET", "/api/users/{id}/checkPermissions") => r(
            "/api/users/jane/checkPermissions?type=WORKFLOW_DEF&id=walk_flow".into(),
            None,
            Forbidden,
        ),
        ("GET", "/api/groups") => r("/api/groups".into(), None, Forbidden),
        ("GET", "/api/groups/{id}") => r("/api/groups/team".into(), None, Forbidden),
        ("PUT", "/api/groups/{id}") => r(
            "/api/groups/team".into(),
            Some(json!({"description": "x"})),
            Forbidden,
        ),
        ("DELETE", "/api/groups/{id}") => r("/api/groups/team".into(), None, Forbidden),
        ("GET", "/api/groups/{id}/users") => r("/api/groups/team/users".into(), None, Forbidden),
        ("POST", "/api/groups/{id}/users") => r(
            "/api/groups/team/users".into(),
            Some(json!(["jane"])),
            Forbidden,
        ),
        ("DELETE", "/api/groups/{id}/users") => r(
            "/api/groups/team/users".into(),
            Some(json!(["jane"])),
            Forbidden,
        ),
        ("POST", "/api/groups/{id}/users/{user_id}") => {
            r("/api/groups/team/users/jane".into(), None, Forbidden)
        }
        ("DELETE", "/api/groups/{id}/users/{user_id}") => {
            r("/api/groups/team/users/jane".into(), None, Forbidden)
        }
        ("GET", "/api/groups/{id}/permissions") => {
            r("/api/groups/team/permissions".into(), None, Forbidden)
        }
        ("POST", "/api/auth/authorization") => r(path.into(), Some(grant), Forbidden),
        ("DELETE", "/api/auth/authorization") => r(path.into(), Some(grant), Forbidden),
        ("GET", "/api/auth/authorization/{type}/{id}") => r(
            "/api/auth/authorization/WORKFLOW_DEF/walk_flow".into(),
            None,
            Forbidden,
        ),
        ("GET", "/api/auth/subjects/{type}/{id}/grants") => r(
            "/api/auth/subjects/USER/jane/grants".into(),
            None,
            Forbidden,
        ),
        ("GET", "/api/auth/explain") => r(
            "/api/auth/explain?access=READ&type=WORKFLOW_DEF&id=walk_flow".into(),
            None,
            AboutSelf,
        ),
        ("GET", "/api/metadata/taskdefs") => r(path.into(), None, Nothing),
        ("POST", "/api/metadata/taskdefs") => {
            r(path.into(), Some(json!([task_def("walk_task")])), Forbidden)
        }
        ("PUT", "/api/metadata/taskdefs") => r(path.into(), Some(task_def("walk_task")), Forbidden),
        ("GET", "/api/metadata/taskdefs/{name}") => {
            r("/api/metadata/taskdefs/walk_task".into(), None, Forbidden)
        }
        ("DELETE", "/api/metadata/taskdefs/{name}") => {
            r("/api/metadata/taskdefs/walk_task".into(), None, Forbidden)
        }
        ("GET", "/api/metadata/workflow") => r(path.into(), None, Nothing),
        ("POST", "/api/metadata/workflow") => {
            r(format!("{path}?overwrite=true"), Some(def), Forbidden)
        }
        ("PUT", "/api/metadata/workflow") => r(path.into(), Some(json!([def])), Forbidden),
        ("GET", "/api/metadata/workflow/{name}") => {
            r("/api/metadata/workflow/walk_flow".into(), None, Forbidden)
        }
        ("DELETE", "/api/metadata/workflow/{name}/{version}") => {
            r("/api/metadata/workflow/walk_flow/1".into(), None, Forbidden)
        }
        (_, "/api/metadata/workflow/{name}/tags") | (_, "/api/metadata/task/{name}/tags") => {
            let concrete = path.replace(
                "{name}",
                if path.contains("/task/") {
                    "walk_task"
                } else {
                    "walk_flow"
                },
            );
            let body = match method {
                "GET" => None,
                "POST" => Some(tag),
                _ => Some(json!([tag])),
            };
            r(concrete, body, Forbidden)
        }
        ("GET", "/api/metadata/tags") => r(path.into(), None, Nothing),
        ("GET", "/api/token/userInfo") => r(path.into(), None, AboutSelf),
        // A computation over the caller's own input: no resource is read.
        ("GET", "/api/scheduler/nextFewSchedules") => r(
            format!("{path}?cronExpression=0+0+12+*+*+*"),
            None,
            AboutSelf,
        ),
        ("POST", "/api/scheduler/schedules") => r(
            path.into(),
            Some(json!({"name": "mine", "cronExpression": "0 0 * * * *",
                        "startWorkflowRequest": {"name": "walk_flow"}})),
            Forbidden,
        ),
        ("GET", "/api/scheduler/schedules") | ("GET", "/api/scheduler/search/executions") => {
            r(path.into(), None, Nothing)
        }
        ("POST", "/api/schema") => r(
            path.into(),
            Some(json!({"name": "mine", "version": 1, "type": "JSON", "data": {"type": "object"}})),
            Forbidden,
        ),
        ("GET", "/api/schema") => r(path.into(), None, Nothing),
        (_, p) if p.starts_with("/api/schema/{name}") => r(
            p.replace("{name}", "walk_schema").replace("{version}", "1"),
            None,
            Forbidden,
        ),
        (_, p) if p.starts_with("/api/scheduler/schedules/{name}") => {
            let body = p.ends_with("/tags").then(|| json!([tag]));
            let body = if method == "GET" { None } else { body };
            r(p.replace("{name}", "walk_schedule"), body, Forbidden)
        }
        // The built-in roles and the atoms are the same for everyone; custom roles
        // show only to administrators and their holders.
        ("GET", "/api/roles" | "/api/roles/system" | "/api/roles/permissions") => {
            r(path.into(), None, AboutSelf)
        }
        ("GET", "/api/roles/custom") => r(path.into(), None, Nothing),
        ("POST", "/api/roles") => r(
            path.into(),
            Some(json!({"name": "MINE", "permissions": ["READ_WORKFLOW_DEF"]})),
            Forbidden,
        ),
        (_, "/api/roles/{name}") => r(
            "/api/roles/WALK_ROLE".into(),
            (method == "PUT").then(|| json!({"name": "WALK_ROLE", "permissions": []})),
            Forbidden,
        ),
        // Queues again only what the caller may operate: nothing, for nobody.
        ("POST", "/api/tasks/queue/requeue/{task_type}") => {
            r("/api/tasks/queue/requeue/walk_task".into(), None, AboutSelf)
        }
        ("PUT", "/api/scheduler/bulk/pause" | "/api/scheduler/bulk/resume") => {
            r(path.into(), Some(json!(["walk_schedule"])), BulkRefused)
        }
        ("GET", p) if p.starts_with("/api/scheduler/admin/") => r(path.into(), None, Forbidden),
        ("POST", "/api/event") => r(
            path.into(),
            Some(json!({"name": "mine", "event": "conductor:x:y", "actions": []})),
            Forbidden,
        ),
        ("PUT", "/api/event") => r(
            path.into(),
            Some(json!({"name": "walk_handler", "event": "conductor:x:y", "actions": []})),
            Forbidden,
        ),
        ("GET", "/api/event") => r(path.into(), None, Nothing),
        // Events from outside go only to handlers the sender may read; records
        // of handlers it may not read are not shown.
        ("POST", "/api/event/handleIncomingEvent") => r(
            path.into(),
            Some(json!({"event": "conductor:walk_flow:done", "n": 1})),
            Forbidden,
        ),
        ("GET", "/api/event/execution" | "/api/event/message") => r(path.into(), None, Nothing),
        ("GET", "/api/event/execution/{name}") => {
            r("/api/event/execution/walk_handler".into(), None, Forbidden)
        }
        ("GET", "/api/event/message/{name}") => r(
            "/api/event/message/conductor:walk_flow:done".into(),
            None,
            Forbidden,
        ),
        // An example handler, the same for everyone.
        ("GET", "/api/event/handler/") => r(path.into(), None, AboutSelf),
        ("GET", "/api/event/{name}") => r(
            "/api/event/conductor:walk_flow:done?activeOnly=false".into(),
            None,
            Nothing,
        ),
        (_, p) if p.starts_with("/api/event/handler/") || p.starts_with("/api/event/{name}") => {
            let body = p.ends_with("/tags").then(|| json!([tag]));
            let body = if method == "GET" { None } else { body };
            r(p.replace("{name}", "walk_handler"), body, Forbidden)
        }
        // The registry is read with a role that reads definitions, changed as a
        // metadata manager: nothing of it for a caller with no role.
        (_, p) if p.starts_with("/api/registry/service") => {
            let mut target = p
                .replace("{name}", "walk_service")
                .replace("{filename}", "walk.bin");
            if method == "DELETE" && p.ends_with("/methods") {
                target.push_str("?serviceName=o&method=m&methodType=UNARY");
            }
            let body = match method {
                "POST" if p == "/api/registry/service" => {
                    Some(json!({"name": "mine", "type": "HTTP", "serviceURI": "http://x"}))
                }
                "POST" if p.ends_with("/methods") => {
                    Some(json!({"operationName": "o", "methodName": "m", "methodType": "UNARY"}))
                }
                _ => None,
            };
            r(target, body, Forbidden)
        }
        ("GET", "/metrics") => r(path.into(), None, Forbidden),
        ("GET", "/api/applications") => r(path.into(), None, Nothing),
        ("POST", "/api/applications") => r(path.into(), Some(json!({"name": "mine"})), Forbidden),
        ("GET", "/api/applications/key/{key_id}") => {
            r(format!("/api/applications/key/{key}"), None, Forbidden)
        }
        (_, "/api/applications/{id}") => r(
            format!("/api/applications/{app}"),
            (method == "PUT").then(|| json!({"name": "renamed"})),
            Forbidden,
        ),
        (_, "/api/applications/{id}/accessKeys") => r(
            format!("/api/applications/{app}/accessKeys"),
            None,
            Forbidden,
        ),
        ("DELETE", "/api/applications/{id}/accessKeys/{key_id}") => r(
            format!("/api/applications/{app}/accessKeys/{key}"),
            None,
            Forbidden,
        ),
        ("POST", "/api/applications/{id}/accessKeys/{key_id}/status") => r(
            format!("/api/applications/{app}/accessKeys/{key}/status"),
            None,
            Forbidden,
        ),
        (_, "/api/applications/{id}/roles/{role}") => r(
            format!("/api/applications/{app}/roles/WORKER"),
            None,
            Forbidden,
        ),
        (_, "/api/applications/{id}/tags") => r(
            format!("/api/applications/{app}/tags"),
            (method != "GET").then(|| json!([tag])),
            Forbidden,
        ),
        ("GET", "/api/tasks/poll/{task_type}") => r(
            "/api/tasks/poll/walk_task?workerid=w".into(),
            None,
            Forbidden,
        ),
        ("GET", "/api/tasks/poll/batch/{task_type}") => r(
            "/api/tasks/poll/batch/walk_task?workerid=w&count=1&timeout=0".into(),
            None,
            Forbidden,
        ),
        ("POST", "/api/tasks") | ("POST", "/api/tasks/update-v2") => {
            r(path.into(), Some(result), Forbidden)
        }
        ("GET", "/api/tasks/queue/sizes") => {
            r(format!("{path}?taskType=walk_task"), None, Forbidden)
        }
        ("GET", "/api/tasks/queue/all") | ("GET", "/api/tasks/queue/all/verbose") => {
            r(path.into(), None, Nothing)
        }
        ("GET", "/api/tasks/queue/polldata") => {
            r(format!("{path}?taskType=walk_task"), None, Nothing)
        }
        ("GET", "/api/tasks/queue/polldata/all") => r(path.into(), None, Nothing),
        ("GET", "/api/tasks/search") | ("GET", "/api/tasks/search-v2") => {
            r(format!("{path}?freeText=*"), None, Nothing)
        }
        ("GET", "/api/tasks/{id}") | ("GET", "/api/tasks/{id}/log") => {
            r(path.replace("{id}", tid), None, HiddenTask)
        }
        ("POST", "/api/tasks/{id}/log") => r(
            format!("/api/tasks/{tid}/log"),
            Some(json!("a line")),
            HiddenTask,
        ),
        ("POST", "/api/tasks/{id}/{reference}/{status}") => r(
            format!("/api/tasks/{wid}/a/COMPLETED?workerid=w"),
            Some(json!({})),
            Forbidden,
        ),
        ("POST", "/api/tasks/{id}/{reference}/{status}/sync") => r(
            format!("/api/tasks/{wid}/a/COMPLETED/sync?workerid=w"),
            Some(json!({})),
            Forbidden,
        ),
        ("POST", "/api/tasks/{id}/{reference}/signal") => r(
            format!("/api/tasks/{wid}/COMPLETED/signal"),
            Some(json!({})),
            Hidden,
        ),
        ("POST", "/api/tasks/{id}/{reference}/signal/sync") => r(
            format!("/api/tasks/{wid}/COMPLETED/signal/sync"),
            Some(json!({})),
            Hidden,
        ),
        ("POST", "/api/workflow/{id}/state") => r(
            format!("/api/workflow/{wid}/state?requestId=r"),
            Some(json!({"variables": {"x": 1}})),
            Hidden,
        ),
        ("POST", "/api/workflow/{id}/variables") => r(
            format!("/api/workflow/{wid}/variables"),
            Some(json!({"x": 1})),
            Hidden,
        ),
        ("POST", "/api/workflow") | ("POST", "/api/workflow/test") => {
            r(path.into(), Some(json!({"name": "walk_flow"})), Forbidden)
        }
        ("GET", "/api/workflow/search") | ("GET", "/api/workflow/search-v2") => {
            r(format!("{path}?freeText=*"), None, Nothing)
        }
        ("GET", "/api/workflow/running/{name}") => {
            r("/api/workflow/running/walk_flow".into(), None, Forbidden)
        }
        ("POST", "/api/workflow/correlated/batch") => r(
            format!("{path}?includeClosed=true"),
            Some(json!({"workflowNames": ["walk_flow"], "correlationIds": ["walk-1"]})),
            Forbidden,
        ),
        ("POST", "/api/workflow/execute/{name}/{version}") => r(
            "/api/workflow/execute/walk_flow/1".into(),
            Some(json!({"name": "walk_flow"})),
            Forbidden,
        ),
        ("PUT", "/api/workflow/decide/{id}") => {
            r(format!("/api/workflow/decide/{wid}"), None, Hidden)
        }
        (_, p) if p.starts_with("/api/workflow/bulk/") => {
            r(path.into(), Some(json!([wid])), BulkRefused)
        }
        ("POST", "/api/workflow/{id}") => {
            r("/api/workflow/walk_flow".into(), Some(json!({})), Forbidden)
        }
        ("GET", "/api/workflow/{id}") | ("DELETE", "/api/workflow/{id}") => {
            r(format!("/api/workflow/{wid}"), None, Hidden)
        }
        ("POST", "/api/workflow/{id}/correlated") => r(
            "/api/workflow/walk_flow/correlated".into(),
            Some(json!(["walk-1"])),
            Forbidden,
        ),
        ("GET", "/api/workflow/{id}/correlated/{correlation_id}") => r(
            "/api/workflow/walk_flow/correlated/walk-1".into(),
            None,
            Forbidden,
        ),
        ("PUT", "/api/workflow/{id}/skiptask/{reference}") => r(
            format!("/api/workflow/{wid}/skiptask/a"),
            Some(json!({})),
            Hidden,
        ),
        ("GET", "/api/secrets" | "/api/secrets-v2" | "/api/environment") => {
            r(path.into(), None, Nothing)
        }
        ("POST", "/api/secrets") => r(path.into(), Some(json!({})), Forbidden),
        (_, p)
            if p.starts_with("/api/secrets/{key}") || p.starts_with("/api/environment/{key}") =>
        {
            let concrete = p
                .replace("/api/secrets/{key}", "/api/secrets/walk_secret")
                .replace("/api/environment/{key}", "/api/environment/walk_env");
            let body = match method {
                "PUT" if p.ends_with("/tags") => Some(json!([tag])),
                "DELETE" if p.ends_with("/tags") => Some(json!([tag])),
                "PUT" => Some(json!("changed")),
                _ => None,
            };
            r(concrete, body, Forbidden)
        }
        (_, p) if p.starts_with("/api/workflow/{id}/") => {
            let body = (method == "POST").then(|| json!({}));
            r(path.replace("{id}", wid), body, Hidden)
        }
        _ => None,
    }
}

/// Whether an answer shows nothing.
fn is_empty(answer: &Answer) -> bool {
    match answer.json() {
        Value::Array(items) => items.is_empty(),
        Value::Object(map) if map.contains_key("items") => {
            map["items"].as_array().is_some_and(Vec::is_empty) && map["total"] == 0
        }
        Value::Object(map) if map.contains_key("results") => {
            map["results"].as_array().is_some_and(Vec::is_empty) && map["totalHits"] == 0
        }
        Value::Object(map) => map.is_empty(),
        _ => false,
    }
}

/// Makes the things the walk aims at, as the admin.
pub async fn aim(app: &TestApp) -> Fixture {
    // Things to aim at, made by the admin.
    app.register(
        json!([task_def("walk_task")]),
        linear("walk_flow", &[("walk_task", "a")]),
    )
    .await;
    app.post(
        "/api/metadata/workflow/walk_flow/tags",
        json!({"key": "walk", "value": "yes"}),
    )
    .await;
    let scheduled = app
        .post(
            "/api/scheduler/schedules",
            json!({"name": "walk_schedule", "cronExpression": "0 0 0 1 1 ?",
                   "startWorkflowRequest": {"name": "walk_flow"}}),
        )
        .await;
    assert_eq!(scheduled.status, 200, "{}", scheduled.text);
    let schema = app
        .post(
            "/api/schema",
            json!([{"name": "walk_schema", "version": 1, "type": "JSON", "data": {"type": "object"}}]),
        )
        .await;
    assert_eq!(schema.status, 200, "{}", schema.text);
    let handler = app
        .post(
            "/api/event",
            json!({"name": "walk_handler", "event": "conductor:walk_flow:done", "actions": []}),
        )
        .await;
    assert_eq!(handler.status, 200, "{}", handler.text);
    let service = app
        .post(
            "/api/registry/service",
            json!({"name": "walk_service", "type": "gRPC", "serviceURI": "localhost:1"}),
        )
        .await;
    assert_eq!(service.status, 200, "{}", service.text);
    let role = app
        .post(
            "/api/roles",
            json!({"name": "WALK_ROLE", "permissions": ["READ_WORKFLOW_DEF"]}),
        )
        .await;
    assert_eq!(role.status, 200, "{}", role.text);
    let started = app
        .post(
            "/api/workflow",
            json!({"name": "walk_flow", "correlationId": "walk-1"}),
        )
        .await;
    let workflow_id = started.text.clone();
    let task_id = app.workflow(&workflow_id).await["tasks"][0]["taskId"]
        .as_str()
        .expect("task id")
        .to_string();
    app.call(
        "PUT",
        "/api/groups/team",
        Some(json!({"description": "Team"})),
    )
    .await;
    app.call("PUT", "/api/users/jane", Some(json!({"name": "Jane"})))
        .await;
    let target = app
        .post("/api/applications", json!({"name": "target"}))
        .await;
    let app_id = target.json()["id"].as_str().expect("id").to_string();
    let key = app
        .post(&format!("/api/applications/{app_id}/accessKeys"), json!({}))
        .await;
    let key_id = key.json()["id"].as_str().expect("key").to_string();
    app.raw("PUT", "/api/secrets/walk_secret", "text/plain", "s")
        .await;
    app.raw("PUT", "/api/environment/walk_env", "text/plain", "e")
        .await;
    // A worker polls once, so queues and poll data are not empty for the admin.
    app.poll("other_queue", 1, 0).await;
    let instances = app
        .post(
            "/v1/process-instances/search",
            json!({"filter": {"bpmnProcessId": "walk_flow"}}),
        )
        .await;
    let instance_key = instances.json()["items"][0]["key"]
        .as_i64()
        .expect("the admin sees the walk's instance");
    Fixture {
        workflow_id,
        task_id,
        app_id,
        key_id,
        instance_key,
    }
}

/// Walks every route as the holder of `token`, who has no roles and no grants.
pub async fn walk(app: &TestApp, token: &str, fixture: &Fixture) {
    walk_as(app, &Caller::Token(token.to_string()), fixture).await;
}

/// Sends a request as `caller`.
async fn send(
    app: &TestApp,
    caller: &Caller,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> Answer {
    match caller {
        Caller::Token(token) => app.call_as(Some(token), method, path, body).await,
        Caller::Session(cookie) => {
            let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
            let mut request = app
                .client_without_token()
                .request(method, format!("{}{path}", app.base))
                .header("cookie", format!("podium_session={cookie}"))
                .header("origin", &app.base);
            if let Some(body) = body {
                request = request
                    .header("content-type", "application/json")
                    .body(body.to_string());
            }
            crate::helpers::answer_of(request).await
        }
    }
}

/// Walks every route as `caller`, who has no roles and no grants.
pub async fn walk_as(app: &TestApp, caller: &Caller, fixture: &Fixture) {
    let mut unlisted = Vec::new();
    let mut walked = 0;
    for (method, path, access) in app.routes.clone() {
        if access == RouteAccess::Public {
            continue;
        }
        if access == RouteAccess::Page {
            walk_page(app, caller, &method, &path).await;
            walked += 1;
            continue;
        }
        let Some((concrete, body, expect)) = request(&method, &path, fixture) else {
            unlisted.push(format!("{method} {path}"));
            continue;
        };
        walked += 1;
        let anonymous = app.call_as(None, &method, &concrete, body.clone()).await;
        assert_eq!(
            anonymous.status, 401,
            "{method} {concrete} without a token: {}",
            anonymous.text
        );
        assert_eq!(anonymous.json()["error"], "INVALID_TOKEN");
        let answer = send(app, caller, &method, &concrete, body).await;
        let fine = match expect {
            Expect::Missing => {
                answer.status == 404 && answer.json()["type"] == "Requested resource not found"
            }
            Expect::SessionOnly => match caller {
                Caller::Token(_) => answer.status == 400,
                Caller::Session(_) => answer.status == 200 && answer.json()["token"].is_string(),
            },
            Expect::Forbidden => answer.status == 403,
            Expect::HiddenTask => {
                answer.status == 403
                    && answer.json()["message"]
                        == format!(
                            "You don't have permissions to read task: {}",
                            fixture.task_id
                        )
            }
            Expect::Hidden => {
                answer.status == 403
                    && answer.json()["message"]
                        == format!(
                            "You don't have permissions to access workflow {}",
                            fixture.workflow_id
                        )
            }
            Expect::Nothing => answer.status == 200 && is_empty(&answer),
            Expect::AboutSelf => {
                answer.status == 200
                    && !answer.text.contains("walk_task")
                    && !answer.text.contains("WALK_ROLE")
            }
            Expect::BulkRefused => {
                let body = answer.json();
                answer.status == 200
                    && body["bulkSuccessfulResults"]
                        .as_array()
                        .is_some_and(Vec::is_empty)
                    && body["bulkErrorResults"].as_object().is_some_and(|errors| {
                        errors.len() == 1
                            && errors.values().all(|e| {
                                let workflow = format!(
                                    "You don't have permissions to access workflow {}",
                                    fixture.workflow_id
                                );
                                let schedule =
                                    "You don't have permissions to update schedule: walk_schedule";
                                e.as_str() == Some(&*workflow) || e.as_str() == Some(schedule)
                            })
                    })
            }
        };
        assert!(
            fine,
            "{method} {concrete} as a stranger: expected {expect:?}, got {} {}",
            answer.status, answer.text
        );
    }
    assert!(
        unlisted.is_empty(),
        "routes without an entry in the walk (decide who may use them, then add them): {unlisted:?}"
    );
    assert!(walked > 90, "walked only {walked} routes");
    // The admin still sees what the stranger could not.
    assert!(!is_empty(&app.get("/api/metadata/taskdefs").await));
    assert!(!is_empty(&app.get("/api/tasks/search?freeText=*").await));
}

/// A console page: without a session, a read goes to the sign-in page and a post
/// is refused; a token is no way in. With a session, the page's services decide:
/// a stranger sees it empty or is refused, never an error.
async fn walk_page(app: &TestApp, caller: &Caller, method: &str, path: &str) {
    let concrete = path
        .replace("{id}", "walk_missing")
        .replace("{key}", "walk_missing_key")
        .replace("{task}", "walk_missing_task")
        .replace("{name}", "walk_missing_name")
        .replace("{version}", "1");
    let door = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let mut request = door.request(method.clone(), format!("{}{concrete}", app.base));
    match caller {
        Caller::Token(token) => request = request.header("X-Authorization", token),
        Caller::Session(cookie) => {
            request = request
                .header("cookie", format!("podium_session={cookie}"))
                .header("origin", &app.base);
        }
    }
    let answer = request.send().await.expect("page");
    let status = answer.status().as_u16();
    let location = answer
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let text = answer.text().await.unwrap_or_default();
    match caller {
        Caller::Token(_) if method == reqwest::Method::GET => assert!(
            status == 303 && location.as_deref() == Some("/login"),
            "{method} {concrete} with a token only: {status} {location:?}"
        ),
        Caller::Token(_) => assert_eq!(status, 403, "{method} {concrete}: {text}"),
        Caller::Session(_) => assert!(
            [200, 303, 400, 403, 404].contains(&status),
            "{method} {concrete} as a stranger with a session: {status} {text}"
        ),
    }
}

#[tokio::test]
async fn every_route_is_closed_to_strangers() {
    let app = TestApp::spawn().await;
    let fixture = aim(&app).await;
    // The stranger: an application with no roles and no grants.
    let stranger = app
        .post("/api/applications", json!({"name": "stranger"}))
        .await;
    let stranger_id = stranger.json()["id"].as_str().expect("id").to_string();
    let stranger_key = app
        .post(
            &format!("/api/applications/{stranger_id}/accessKeys"),
            json!({}),
        )
        .await
        .json();
    let token = app
        .mint(
            stranger_key["id"].as_str().expect("id"),
            stranger_key["secret"].as_str().expect("secret"),
            None,
        )
        .await;
    walk(&app, &token, &fixture).await;
    app.stop().await;
}
