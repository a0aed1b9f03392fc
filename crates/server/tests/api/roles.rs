//! Roles: the built-in ones listed as the Python SDK's authorization client reads
//! them, and custom roles of permission atoms, made, changed and deleted by an
//! administrator and enforced like built-in roles from their holders' next request.

use serde_json::{Value, json};

use crate::helpers::{TestApp, application, linear, task_def};

fn names(list: &Value) -> Vec<String> {
    list.as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|r| r["name"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn atoms(role: &Value) -> Vec<String> {
    names(&role["permissions"])
}

async fn put_user(app: &TestApp, id: &str, body: Value) {
    let answer = app
        .call("PUT", &format!("/api/users/{id}"), Some(body))
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
}

async fn user_token(app: &TestApp, id: &str, password: &str) -> String {
    let answer = app.sign_in(id, password).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    answer.json()["token"].as_str().expect("token").to_string()
}

#[tokio::test]
async fn system_roles_permissions_and_custom_roles_are_served_as_the_sdk_reads_them() {
    let app = TestApp::spawn().await;
    let system = app.get("/api/roles/system").await;
    assert_eq!(system.status, 200, "{}", system.text);
    let system = system.json();
    for role in [
        "USER",
        "ADMIN",
        "METADATA_MANAGER",
        "WORKFLOW_MANAGER",
        "WORKER",
    ] {
        assert_eq!(system[role]["name"], role, "{system}");
    }
    let permissions = app.get("/api/roles/permissions").await.json();
    let workflow_atoms = permissions["WORKFLOW_DEF"].to_string();
    assert!(
        workflow_atoms.contains("READ_WORKFLOW_DEF")
            && workflow_atoms.contains("EXECUTE_WORKFLOW_DEF"),
        "{permissions}"
    );
    assert!(permissions.get("TAG").is_none() && permissions.get("DOMAIN").is_none());

    let created = app
        .post(
            "/api/roles",
            json!({"name": "WORKFLOW_READER", "permissions": ["READ_WORKFLOW_DEF"]}),
        )
        .await;
    assert_eq!(created.status, 200, "{}", created.text);
    assert_eq!(created.json()["name"], "WORKFLOW_READER");
    assert_eq!(atoms(&created.json()), ["READ_WORKFLOW_DEF"]);
    let again = app
        .post(
            "/api/roles",
            json!({"name": "WORKFLOW_READER", "permissions": []}),
        )
        .await;
    assert_eq!(again.status, 409, "{}", again.text);

    // Atoms in the server's form only, a name in capitals, no system role's name.
    let bad_atom = app
        .post(
            "/api/roles",
            json!({"name": "OTHER", "permissions": ["workflow:read"]}),
        )
        .await;
    assert_eq!(bad_atom.status, 400, "{}", bad_atom.text);
    assert!(
        bad_atom.json()["message"]
            .as_str()
            .is_some_and(|m| m.contains("workflow:read") && m.contains("READ_WORKFLOW_DEF"))
    );
    let lower = app
        .post(
            "/api/roles",
            json!({"name": "test-role-1", "permissions": []}),
        )
        .await;
    assert_eq!(lower.status, 400, "{}", lower.text);
    let system_name = app
        .post("/api/roles", json!({"name": "ADMIN", "permissions": []}))
        .await;
    assert_eq!(system_name.status, 409, "{}", system_name.text);
    let not_json = app.post("/api/roles", json!({"name": 7})).await;
    assert_eq!(not_json.status, 400, "{}", not_json.text);

    let got = app.get("/api/roles/WORKFLOW_READER").await;
    assert_eq!(got.status, 200, "{}", got.text);
    assert_eq!(atoms(&got.json()), ["READ_WORKFLOW_DEF"]);
    assert_eq!(app.get("/api/roles/ADMIN").await.json()["name"], "ADMIN");
    assert_eq!(app.get("/api/roles/NO_SUCH").await.status, 404);

    let updated = app
        .call(
            "PUT",
            "/api/roles/WORKFLOW_READER",
            Some(json!({"name": "WORKFLOW_READER",
                        "permissions": ["READ_WORKFLOW_DEF", "EXECUTE_WORKFLOW_DEF"]})),
        )
        .await;
    assert_eq!(updated.status, 200, "{}", updated.text);
    assert_eq!(
        atoms(&updated.json()),
        ["READ_WORKFLOW_DEF", "EXECUTE_WORKFLOW_DEF"]
    );
    let renamed = app
        .call(
            "PUT",
            "/api/roles/WORKFLOW_READER",
            Some(json!({"name": "SOMETHING_ELSE", "permissions": []})),
        )
        .await;
    assert_eq!(renamed.status, 400, "{}", renamed.text);
    for method in ["PUT", "DELETE"] {
        let body = (method == "PUT").then(|| json!({"permissions": []}));
        let fixed = app.call(method, "/api/roles/ADMIN", body.clone()).await;
        assert_eq!(fixed.status, 400, "{method}: {}", fixed.text);
        let missing = app.call(method, "/api/roles/NO_SUCH", body).await;
        assert_eq!(missing.status, 404, "{method}: {}", missing.text);
    }

    let all = names(&app.get("/api/roles").await.json());
    assert!(all.contains(&"ADMIN".to_string()) && all.contains(&"WORKFLOW_READER".to_string()));
    assert_eq!(
        names(&app.get("/api/roles/custom").await.json()),
        ["WORKFLOW_READER"]
    );
    let deleted = app.call("DELETE", "/api/roles/WORKFLOW_READER", None).await;
    assert_eq!(deleted.status, 200, "{}", deleted.text);
    assert_eq!(app.get("/api/roles/WORKFLOW_READER").await.status, 404);
    assert!(names(&app.get("/api/roles/custom").await.json()).is_empty());
    app.stop().await;
}

#[tokio::test]
async fn a_custom_role_is_enforced_from_its_holders_next_request() {
    let app = TestApp::spawn().await;
    app.register(
        json!([task_def("role_task")]),
        linear("role_flow", &[("role_task", "a")]),
    )
    .await;
    let program = application(&app, "program", &[]).await;
    let start = json!({"name": "role_flow"});
    let refused = app
        .call_as(
            Some(&program.token),
            "POST",
            "/api/workflow",
            Some(start.clone()),
        )
        .await;
    assert_eq!(refused.status, 403, "{}", refused.text);

    let made = app
        .post(
            "/api/roles",
            json!({"name": "RUNNER", "permissions": ["EXECUTE_WORKFLOW_DEF", "EXECUTE_TASK_DEF"]}),
        )
        .await;
    assert_eq!(made.status, 200, "{}", made.text);
    let given = app
        .post(
            &format!("/api/applications/{}/roles/RUNNER", program.id),
            json!({}),
        )
        .await;
    assert_eq!(given.status, 200, "{}", given.text);
    // The same token: the role applies at once.
    let started = app
        .call_as(
            Some(&program.token),
            "POST",
            "/api/workflow",
            Some(start.clone()),
        )
        .await;
    assert_eq!(started.status, 200, "{}", started.text);
    let id = started.text.trim_matches('"').to_string();
    // EXECUTE brings READ on every workflow's executions, nothing more.
    let read = app
        .call_as(
            Some(&program.token),
            "GET",
            &format!("/api/workflow/{id}"),
            None,
        )
        .await;
    assert_eq!(read.status, 200, "{}", read.text);
    let change = app
        .call_as(
            Some(&program.token),
            "PUT",
            "/api/metadata/workflow",
            Some(json!([linear("role_flow", &[("role_task", "a")])])),
        )
        .await;
    assert_eq!(change.status, 403, "{}", change.text);
    // A worker role is still needed to poll.
    let poll = app
        .call_as(
            Some(&program.token),
            "GET",
            "/api/tasks/poll/role_task",
            None,
        )
        .await;
    assert_eq!(poll.status, 403, "{}", poll.text);
    let shown = app
        .get(&format!("/api/users/app:{}", program.id))
        .await
        .json();
    assert!(
        names(&shown["roles"]).contains(&"RUNNER".to_string()),
        "{shown}"
    );

    // People hold custom roles through their groups too, and see them in userInfo.
    let made = app
        .post(
            "/api/roles",
            json!({"name": "FLOW_VIEWER", "permissions": ["READ_WORKFLOW_DEF"]}),
        )
        .await;
    assert_eq!(made.status, 200, "{}", made.text);
    let group = app
        .call(
            "PUT",
            "/api/groups/viewers",
            Some(json!({"description": "viewers", "roles": ["FLOW_VIEWER"]})),
        )
        .await;
    assert_eq!(group.status, 200, "{}", group.text);
    let password = "plum kettle harbour 9";
    put_user(
        &app,
        "vera",
        json!({"name": "Vera", "roles": [], "groups": ["viewers"], "password": password}),
    )
    .await;
    let vera = user_token(&app, "vera", password).await;
    let info = app
        .call_as(Some(&vera), "GET", "/api/token/userInfo", None)
        .await
        .json();
    let viewer = info["roles"]
        .as_array()
        .and_then(|roles| roles.iter().find(|r| r["name"] == "FLOW_VIEWER").cloned())
        .unwrap_or_default();
    assert_eq!(atoms(&viewer), ["READ_WORKFLOW_DEF"], "{info}");
    let seen = app
        .call_as(Some(&vera), "GET", &format!("/api/workflow/{id}"), None)
        .await;
    assert_eq!(seen.status, 200, "{}", seen.text);
    // A holder reads its own role, not others'.
    let own = app
        .call_as(Some(&vera), "GET", "/api/roles/FLOW_VIEWER", None)
        .await;
    assert_eq!(own.status, 200, "{}", own.text);
    let other = app
        .call_as(Some(&vera), "GET", "/api/roles/RUNNER", None)
        .await;
    assert_eq!(other.status, 403, "{}", other.text);
    // An owner who also holds a role allowing changes still manages her own grants.
    let updater = app
        .post(
            "/api/roles",
            json!({"name": "FLOW_EDITOR", "permissions": ["UPDATE_WORKFLOW_DEF"]}),
        )
        .await;
    assert_eq!(updater.status, 200, "{}", updater.text);
    put_user(
        &app,
        "vera",
        json!({"roles": ["USER", "FLOW_EDITOR"], "groups": ["viewers"]}),
    )
    .await;
    let own_flow = app
        .call_as(
            Some(&vera),
            "POST",
            "/api/metadata/workflow",
            Some(linear("vera_flow", &[("role_task", "a")])),
        )
        .await;
    assert_eq!(own_flow.status, 200, "{}", own_flow.text);
    let shared = app
        .call_as(
            Some(&vera),
            "POST",
            "/api/auth/authorization",
            Some(json!({"subject": {"type": "USER", "id": format!("app:{}", program.id)},
                        "target": {"type": "WORKFLOW_DEF", "id": "vera_flow"}, "access": ["UPDATE"]})),
        )
        .await;
    assert_eq!(shared.status, 200, "{}", shared.text);
    assert_eq!(
        names(
            &app.call_as(Some(&vera), "GET", "/api/roles/custom", None)
                .await
                .json()
        ),
        ["FLOW_EDITOR", "FLOW_VIEWER"]
    );

    // Narrowing the role takes starting away from the next request on.
    let narrowed = app
        .call(
            "PUT",
            "/api/roles/RUNNER",
            Some(json!({"name": "RUNNER", "permissions": ["READ_WORKFLOW_DEF"]})),
        )
        .await;
    assert_eq!(narrowed.status, 200, "{}", narrowed.text);
    let refused = app
        .call_as(Some(&program.token), "POST", "/api/workflow", Some(start))
        .await;
    assert_eq!(refused.status, 403, "{}", refused.text);
    // READ alone still shows others' executions.
    let others = app.start("role_flow", json!({})).await;
    let read = app
        .call_as(
            Some(&program.token),
            "GET",
            &format!("/api/workflow/{others}"),
            None,
        )
        .await;
    assert_eq!(read.status, 200, "{}", read.text);

    // A role still held is not deleted; grants made to it go with it.
    let grant = app
        .post(
            "/api/auth/authorization",
            json!({"subject": {"type": "ROLE", "id": "RUNNER"},
                   "target": {"type": "WORKFLOW_DEF", "id": "role_flow"}, "access": ["UPDATE"]}),
        )
        .await;
    assert_eq!(grant.status, 200, "{}", grant.text);
    let held = app.call("DELETE", "/api/roles/RUNNER", None).await;
    assert_eq!(held.status, 409, "{}", held.text);
    assert!(
        held.text.contains(&format!("application {}", program.id)),
        "{}",
        held.text
    );
    let taken = app
        .call(
            "DELETE",
            &format!("/api/applications/{}/roles/RUNNER", program.id),
            None,
        )
        .await;
    assert_eq!(taken.status, 200, "{}", taken.text);
    let deleted = app.call("DELETE", "/api/roles/RUNNER", None).await;
    assert_eq!(deleted.status, 200, "{}", deleted.text);
    let grants = app
        .get("/api/auth/authorization/WORKFLOW_DEF/role_flow")
        .await;
    assert!(!grants.text.contains("RUNNER"), "{}", grants.text);
    let gone = app
        .call_as(
            Some(&program.token),
            "GET",
            &format!("/api/workflow/{others}"),
            None,
        )
        .await;
    assert_eq!(gone.status, 403, "{}", gone.text);
    app.stop().await;
}

#[tokio::test]
async fn only_administrators_make_custom_roles_or_hand_them_out() {
    let app = TestApp::spawn().await;
    let made = app
        .post(
            "/api/roles",
            json!({"name": "SECRET_READER", "permissions": ["READ_SECRET_NAME"]}),
        )
        .await;
    assert_eq!(made.status, 200, "{}", made.text);
    let password = "plum kettle harbour 9";
    put_user(
        &app,
        "mallory",
        json!({"name": "Mallory", "roles": ["USER", "APPLICATION_MANAGER"], "password": password}),
    )
    .await;
    let mallory = user_token(&app, "mallory", password).await;
    let call = |method: &'static str, path: String, body: Option<Value>| {
        let (app, token) = (&app, mallory.clone());
        async move { app.call_as(Some(&token), method, &path, body).await }
    };
    let create = call(
        "POST",
        "/api/roles".into(),
        Some(json!({"name": "MINE", "permissions": ["READ_SECRET_NAME"]})),
    )
    .await;
    assert_eq!(create.status, 403, "{}", create.text);
    let change = call(
        "PUT",
        "/api/roles/SECRET_READER".into(),
        Some(json!({"permissions": ["UPDATE_SECRET_NAME"]})),
    )
    .await;
    assert_eq!(change.status, 403, "{}", change.text);
    let delete = call("DELETE", "/api/roles/SECRET_READER".into(), None).await;
    assert_eq!(delete.status, 403, "{}", delete.text);
    // Her own application is no way to the role, nor is her own user record.
    let own = call(
        "POST",
        "/api/applications".into(),
        Some(json!({"name": "mine"})),
    )
    .await;
    assert_eq!(own.status, 200, "{}", own.text);
    let own_id = own.json()["id"].as_str().unwrap_or_default().to_string();
    let give = call(
        "POST",
        format!("/api/applications/{own_id}/roles/SECRET_READER"),
        Some(json!({})),
    )
    .await;
    assert_eq!(give.status, 403, "{}", give.text);
    let myself = call(
        "PUT",
        "/api/users/mallory".into(),
        Some(json!({"roles": ["USER", "SECRET_READER"]})),
    )
    .await;
    assert_eq!(myself.status, 403, "{}", myself.text);
    // Custom roles she does not hold stay out of her lists.
    let listed = call("GET", "/api/roles".into(), None).await;
    assert!(!listed.text.contains("SECRET_READER"), "{}", listed.text);
    // Unknown roles are named in a clear 400 for users, groups and applications.
    let unknown = app
        .call(
            "PUT",
            "/api/users/mallory",
            Some(json!({"roles": ["NOT_A_ROLE"]})),
        )
        .await;
    assert_eq!(unknown.status, 400, "{}", unknown.text);
    assert!(
        unknown.text.contains("built-in roles: ADMIN"),
        "{}",
        unknown.text
    );
    // Nobody learns custom roles' names from a refusal.
    let grant = call(
        "POST",
        "/api/auth/authorization".into(),
        Some(json!({"subject": {"type": "ROLE", "id": "NOT_A_ROLE"},
                    "target": {"type": "WORKFLOW_DEF", "id": "x"}, "access": ["READ"]})),
    )
    .await;
    assert_eq!(grant.status, 400, "{}", grant.text);
    assert!(!grant.text.contains("SECRET_READER"), "{}", grant.text);
    let given = call(
        "POST",
        format!("/api/applications/{own_id}/roles/NOT_A_ROLE"),
        Some(json!({})),
    )
    .await;
    assert!(!given.text.contains("SECRET_READER"), "{}", given.text);
    for name in ["SECRET_READER", "NO_SUCH_ROLE"] {
        let read = call("GET", format!("/api/roles/{name}"), None).await;
        assert_eq!(
            read.status, 403,
            "the same answer for {name}: {}",
            read.text
        );
    }
    let unknown = app
        .post(
            &format!("/api/applications/{own_id}/roles/NOT_A_ROLE"),
            json!({}),
        )
        .await;
    assert_eq!(unknown.status, 400, "{}", unknown.text);
    app.stop().await;
}

#[tokio::test]
async fn custom_roles_and_their_holders_survive_a_restart() {
    let app = TestApp::spawn().await;
    let made = app
        .post(
            "/api/roles",
            json!({"name": "SCHEMA_READER", "permissions": ["READ_SCHEMA", "read_schema"]}),
        )
        .await;
    assert_eq!(made.status, 200, "{}", made.text);
    let reader = application(&app, "reader", &["SCHEMA_READER"]).await;
    let app = app.restart().await;
    assert_eq!(
        atoms(&app.get("/api/roles/SCHEMA_READER").await.json()),
        ["READ_SCHEMA"]
    );
    let shown = app
        .get(&format!("/api/users/app:{}", reader.id))
        .await
        .json();
    assert!(
        names(&shown["roles"]).contains(&"SCHEMA_READER".to_string()),
        "{shown}"
    );
    app.stop().await;
}

#[tokio::test]
async fn managing_applications_makes_no_key_for_roles_one_lacks() {
    let app = TestApp::spawn().await;
    let made = app
        .post(
            "/api/roles",
            json!({"name": "SECRET_READER", "permissions": ["READ_SECRET_NAME"]}),
        )
        .await;
    assert_eq!(made.status, 200, "{}", made.text);
    let admin_app = application(&app, "admin-app", &["ADMIN"]).await;
    let reader_app = application(&app, "reader-app", &["SECRET_READER"]).await;
    let worker_app = application(&app, "worker-app", &["WORKER"]).await;
    let password = "plum kettle harbour 9";
    put_user(
        &app,
        "manny",
        json!({"name": "Manny", "roles": ["APPLICATION_MANAGER", "WORKER"], "password": password}),
    )
    .await;
    let manny = user_token(&app, "manny", password).await;
    for (target, role) in [(&admin_app, "ADMIN"), (&reader_app, "SECRET_READER")] {
        let key = app
            .call_as(
                Some(&manny),
                "POST",
                &format!("/api/applications/{}/accessKeys", target.id),
                Some(json!({})),
            )
            .await;
        assert_eq!(key.status, 403, "{}", key.text);
        assert!(key.text.contains(role), "{}", key.text);
    }
    // Nor does renaming an application an ADMIN made hand it to an identity
    // provider's client of the new name.
    let renamed = app
        .call_as(
            Some(&manny),
            "PUT",
            &format!("/api/applications/{}", admin_app.id),
            Some(json!({"name": "manny-client"})),
        )
        .await;
    assert_eq!(renamed.status, 403, "{}", renamed.text);
    // An application whose roles the manager holds is still his to key.
    let key = app
        .call_as(
            Some(&manny),
            "POST",
            &format!("/api/applications/{}/accessKeys", worker_app.id),
            Some(json!({})),
        )
        .await;
    assert_eq!(key.status, 200, "{}", key.text);
    app.stop().await;
}

#[tokio::test]
async fn a_single_role_is_taken_where_a_list_is_expected_as_orkes_does() {
    let app = TestApp::spawn().await;
    // The JavaScript SDK sends `roles: "USER"` for users and groups.
    let user = app
        .call(
            "PUT",
            "/api/users/sam",
            Some(json!({"name": "Sam", "roles": "WORKFLOW_MANAGER"})),
        )
        .await;
    assert_eq!(user.status, 200, "{}", user.text);
    assert_eq!(names(&user.json()["roles"]), ["WORKFLOW_MANAGER"]);
    let group = app
        .call(
            "PUT",
            "/api/groups/ops",
            Some(json!({"description": "ops", "roles": "METADATA_MANAGER"})),
        )
        .await;
    assert_eq!(group.status, 200, "{}", group.text);
    assert_eq!(names(&group.json()["roles"]), ["METADATA_MANAGER"]);
    let bad = app
        .call("PUT", "/api/users/sam", Some(json!({"roles": 7})))
        .await;
    assert_eq!(bad.status, 400, "{}", bad.text);
    app.stop().await;
}
