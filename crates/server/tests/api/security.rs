//! Access control through the API: applications and keys, users, groups, grants,
//! and what each principal may do (tokens are in `tokens.rs`).

use serde_json::{Value, json};

use crate::helpers::{Answer, TestApp, application, grant, linear, task_def};

pub(crate) fn assert_status(answer: &Answer, status: u16, error: Option<&str>) {
    assert_eq!(answer.status, status, "{}", answer.text);
    if let Some(error) = error {
        assert_eq!(answer.json()["error"], error, "{}", answer.text);
    }
}

/// The documented least-privilege example: a worker application and two programs.
#[tokio::test]
async fn least_privilege_worker_and_programs() {
    let app = TestApp::spawn().await;
    app.register(
        json!([task_def("task_x")]),
        linear("Workflow_1", &[("task_x", "x")]),
    )
    .await;
    app.register(json!([]), linear("Workflow_2", &[("task_x", "x")]))
        .await;
    let worker = application(&app, "WorkerX", &["WORKER"]).await;
    let p1 = application(&app, "Program1", &[]).await;
    let p2 = application(&app, "Program2", &[]).await;
    for (who, workflow) in [(&p1, "Workflow_1"), (&p2, "Workflow_2")] {
        let user = format!("app:{}", who.id);
        assert_eq!(
            grant(&app, &user, "WORKFLOW_DEF", workflow, &["EXECUTE"])
                .await
                .status,
            200
        );
        assert_eq!(
            grant(&app, &user, "TASK_DEF", "task_x", &["EXECUTE"])
                .await
                .status,
            200
        );
    }
    let worker_user = format!("app:{}", worker.id);
    let granted = grant(&app, &worker_user, "TASK_DEF", "task_x", &["EXECUTE"]).await;
    assert_eq!(granted.json()["message"], "Granted permission");

    // Program1 starts Workflow_1 but not Workflow_2, and cannot poll.
    let start = |token: &str, name: &str| {
        let token = token.to_string();
        let path = format!("/api/workflow/{name}");
        let app = &app;
        async move {
            app.call_as(Some(&token), "POST", &path, Some(json!({})))
                .await
        }
    };
    let started = start(&p1.token, "Workflow_1").await;
    assert_eq!(started.status, 200, "{}", started.text);
    let id = started.text.clone();
    let refused = start(&p1.token, "Workflow_2").await;
    assert_eq!(refused.status, 403);
    assert_eq!(
        refused.json()["message"],
        "You don't have permissions to execute workflow: Workflow_2"
    );
    assert_eq!(refused.json()["retryable"], false);
    let poll = app
        .call_as(
            Some(&p1.token),
            "GET",
            "/api/tasks/poll/task_x?workerid=p1",
            None,
        )
        .await;
    assert_eq!(poll.status, 403, "{}", poll.text);
    // Program1 reads what it started.
    let own = app
        .call_as(Some(&p1.token), "GET", &format!("/api/workflow/{id}"), None)
        .await;
    assert_eq!(own.status, 200);
    assert_eq!(start(&p2.token, "Workflow_2").await.status, 200);
    assert_eq!(start(&p2.token, "Workflow_1").await.status, 403);

    // WorkerX polls and completes task_x, and can neither start nor read workflows.
    let polled = app
        .call_as(
            Some(&worker.token),
            "GET",
            "/api/tasks/poll/batch/task_x?workerid=wx&count=5&timeout=100",
            None,
        )
        .await;
    assert_eq!(polled.status, 200, "{}", polled.text);
    let tasks = polled.json();
    let task = tasks
        .as_array()
        .and_then(|t| t.first())
        .cloned()
        .expect("a task");
    let done = app
        .call_as(
            Some(&worker.token),
            "POST",
            "/api/tasks",
            Some(json!({"workflowInstanceId": task["workflowInstanceId"], "taskId": task["taskId"], "status": "COMPLETED", "outputData": {"ok": true}})),
        )
        .await;
    assert_eq!(done.status, 200, "{}", done.text);
    assert_eq!(start(&worker.token, "Workflow_1").await.status, 403);
    let read = app
        .call_as(
            Some(&worker.token),
            "GET",
            &format!("/api/workflow/{id}"),
            None,
        )
        .await;
    // Not allowed to read it: answered as a workflow id that does not exist is.
    assert_eq!(read.status, 403, "{}", read.text);
    assert!(!read.text.contains("Workflow_1"), "{}", read.text);
    // A program cannot complete a task it could not poll.
    let meddle = app
        .call_as(
            Some(&p2.token),
            "POST",
            "/api/tasks",
            Some(json!({"workflowInstanceId": task["workflowInstanceId"], "taskId": task["taskId"], "status": "FAILED"})),
        )
        .await;
    assert_eq!(meddle.status, 403);

    // Revoking Program1's grant stops its next start.
    let revoked = app
        .call(
            "DELETE",
            "/api/auth/authorization",
            Some(json!({"subject": {"type": "USER", "id": format!("app:{}", p1.id)}, "target": {"type": "WORKFLOW_DEF", "id": "Workflow_1"}, "access": ["EXECUTE"]})),
        )
        .await;
    assert_eq!(revoked.json()["message"], "Removed permission");
    assert_eq!(start(&p1.token, "Workflow_1").await.status, 403);

    // Pausing WorkerX's key stops its next poll.
    app.post(
        &format!(
            "/api/applications/{}/accessKeys/{}/status",
            worker.id, worker.key_id
        ),
        json!({}),
    )
    .await;
    let paused = app
        .call_as(
            Some(&worker.token),
            "GET",
            "/api/tasks/poll/task_x?workerid=wx",
            None,
        )
        .await;
    assert_status(&paused, 401, Some("INVALID_TOKEN"));

    // Who may do what on task_x, as the SDK reads it.
    let subject_grants = app
        .get(&format!(
            "/api/auth/subjects/USER/{worker_user}/grants?resourceType=TASK_DEF"
        ))
        .await;
    assert_eq!(
        subject_grants.json(),
        json!([{"target": {"type": "TASK_DEF", "id": "task_x"}, "access": ["EXECUTE"]}]),
        "{}",
        subject_grants.text
    );
    let on_task = app.get("/api/auth/authorization/TASK_DEF/task_x").await;
    assert_eq!(on_task.status, 200, "{}", on_task.text);
    let executors = on_task.json()["EXECUTE"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(executors.len(), 3, "{}", on_task.text);
    assert!(executors.iter().all(|s| s["type"] == "USER"));
    app.stop().await;
}

#[tokio::test]
async fn explanations_and_tag_grants() {
    let app = TestApp::spawn().await;
    app.register(
        json!([task_def("t_tag")]),
        linear("tagged_flow", &[("t_tag", "a")]),
    )
    .await;
    let reader = application(&app, "reader", &[]).await;
    let user = format!("app:{}", reader.id);
    let read = |token: String| {
        let app = &app;
        async move {
            app.call_as(
                Some(&token),
                "GET",
                "/api/metadata/workflow/tagged_flow",
                None,
            )
            .await
        }
    };
    assert_eq!(read(reader.token.clone()).await.status, 403);
    let why_not = app
        .call_as(
            Some(&reader.token),
            "GET",
            "/api/auth/explain?access=READ&type=WORKFLOW_DEF&id=tagged_flow",
            None,
        )
        .await;
    assert_eq!(why_not.status, 200, "{}", why_not.text);
    assert_eq!(why_not.json()["allowed"], false);
    assert!(
        why_not.json()["explanation"]
            .as_str()
            .unwrap_or_default()
            .contains("nothing allows it"),
        "{}",
        why_not.text
    );

    // A grant on a tag reaches every resource carrying it, from the next request on.
    assert_eq!(
        grant(&app, &user, "TAG", "org:acct", &["READ"])
            .await
            .status,
        200
    );
    assert_eq!(read(reader.token.clone()).await.status, 403);
    let tagged = app
        .post(
            "/api/metadata/workflow/tagged_flow/tags",
            json!({"key": "org", "value": "acct"}),
        )
        .await;
    assert_eq!(tagged.status, 200, "{}", tagged.text);
    assert_eq!(read(reader.token.clone()).await.status, 200);
    let why = app
        .get(&format!(
            "/api/auth/explain?subject=app:{}&access=READ&type=WORKFLOW_DEF&id=tagged_flow",
            reader.id
        ))
        .await;
    assert_eq!(why.json()["allowed"], true, "{}", why.text);
    assert_eq!(why.json()["via"]["kind"], "GRANT");
    assert_eq!(why.json()["via"]["target"]["type"], "TAG");
    assert!(
        why.json()["explanation"]
            .as_str()
            .unwrap_or_default()
            .contains("tag org:acct")
    );
    // The admin allowed by role.
    let admin = app
        .get("/api/auth/explain?access=DELETE&type=WORKFLOW_DEF&id=tagged_flow")
        .await;
    assert_eq!(admin.json()["via"]["kind"], "ROLE");
    assert_eq!(admin.json()["via"]["role"], "ADMIN");
    // Only administrators ask about others.
    let nosy = app
        .call_as(
            Some(&reader.token),
            "GET",
            "/api/auth/explain?subject=app:x&access=READ&type=WORKFLOW_DEF&id=tagged_flow",
            None,
        )
        .await;
    assert_eq!(nosy.status, 403);

    // Bad grant requests are 400s.
    for body in [
        json!({"subject": {"type": "USER", "id": user}, "target": {"type": "PROMPT", "id": "p"}, "access": ["READ"]}),
        json!({"subject": {"type": "USER", "id": user}, "target": {"type": "WORKFLOW_DEF", "id": "w"}, "access": ["FLY"]}),
        json!({"subject": {"type": "ALIEN", "id": user}, "target": {"type": "WORKFLOW_DEF", "id": "w"}, "access": ["READ"]}),
        json!({"target": {"type": "WORKFLOW_DEF", "id": "w"}, "access": ["READ"]}),
    ] {
        let answer = app.post("/api/auth/authorization", body).await;
        assert_eq!(answer.status, 400, "{}", answer.text);
    }
    // Non-admins cannot grant on what they do not own.
    let self_grant = app
        .call_as(
            Some(&reader.token),
            "POST",
            "/api/auth/authorization",
            Some(json!({"subject": {"type": "USER", "id": user}, "target": {"type": "WORKFLOW_DEF", "id": "tagged_flow"}, "access": ["DELETE"]})),
        )
        .await;
    assert_eq!(self_grant.status, 403);
    app.stop().await;
}

#[tokio::test]
async fn users_groups_and_ownership() {
    let app = TestApp::spawn().await;
    let group = app
        .call(
            "PUT",
            "/api/groups/team-a",
            Some(json!({"description": "Team A", "roles": ["USER"], "defaultAccess": {"WORKFLOW_DEF": ["READ", "EXECUTE"]}})),
        )
        .await;
    assert_eq!(group.status, 200, "{}", group.text);
    let user = app
        .call(
            "PUT",
            "/api/users/jane@example.com",
            Some(json!({"name": "Jane", "roles": ["WORKFLOW_MANAGER"], "groups": ["team-a"]})),
        )
        .await;
    assert_eq!(user.status, 200, "{}", user.text);
    let user: Value = user.json();
    assert_eq!(user["roles"][0]["name"], "WORKFLOW_MANAGER");
    assert_eq!(user["groups"][0]["id"], "team-a");
    let members = app.get("/api/groups/team-a/users").await;
    assert_eq!(members.json()[0]["id"], "jane@example.com");
    for (path, message) in [
        ("/api/users/nobody", "User 'nobody' not found"),
        ("/api/groups/nogroup", "Group 'nogroup' not found"),
        ("/api/applications/noapp", "Application 'noapp' not found"),
    ] {
        let answer = app.get(path).await;
        assert_eq!(answer.status, 404, "{path}");
        assert_eq!(answer.json()["message"], message);
    }
    let bad_role = app
        .call("PUT", "/api/users/bob", Some(json!({"roles": ["EMPEROR"]})))
        .await;
    assert_eq!(bad_role.status, 400);

    // An application role shows on its user.
    let meta = application(&app, "meta", &["METADATA_API"]).await;
    let as_user = app.get(&format!("/api/users/app:{}", meta.id)).await;
    assert_eq!(as_user.json()["roles"][0]["name"], "METADATA_API");
    let with_apps = app.get("/api/users?apps=true").await;
    assert!(with_apps.text.contains(&format!("app:{}", meta.id)));

    // What an application creates, it owns: it may read and change it, others may not.
    let created = app
        .call_as(
            Some(&meta.token),
            "POST",
            "/api/metadata/taskdefs",
            Some(json!([task_def("owned_task")])),
        )
        .await;
    assert_eq!(created.status, 200, "{}", created.text);
    let other = application(&app, "other", &["METADATA_API"]).await;
    let mine = app
        .call_as(
            Some(&meta.token),
            "GET",
            "/api/metadata/taskdefs/owned_task",
            None,
        )
        .await;
    assert_eq!(mine.status, 200);
    let theirs = app
        .call_as(
            Some(&other.token),
            "GET",
            "/api/metadata/taskdefs/owned_task",
            None,
        )
        .await;
    assert_eq!(theirs.status, 403);
    // Registering the same name again is an update, which the other application lacks.
    let overwrite = app
        .call_as(
            Some(&other.token),
            "POST",
            "/api/metadata/taskdefs",
            Some(json!([task_def("owned_task")])),
        )
        .await;
    assert_eq!(overwrite.status, 403, "{}", overwrite.text);
    let listed = app
        .call_as(Some(&other.token), "GET", "/api/metadata/taskdefs", None)
        .await;
    assert_eq!(
        listed.json(),
        json!([]),
        "lists hold only what the caller may read"
    );
    let check = app
        .get(&format!(
            "/api/users/app:{}/checkPermissions?type=TASK_DEF&id=owned_task",
            meta.id
        ))
        .await;
    assert_eq!(check.json()["READ"], true, "{}", check.text);
    assert_eq!(check.json()["DELETE"], true);

    // Users and groups are for administrators.
    let denied = app
        .call_as(Some(&meta.token), "GET", "/api/users", None)
        .await;
    assert_eq!(denied.status, 403);
    let denied = app
        .call_as(
            Some(&meta.token),
            "PUT",
            "/api/groups/g2",
            Some(json!({"description": "x"})),
        )
        .await;
    assert_eq!(denied.status, 403);
    // Unrestricted roles need an administrator.
    let escalate = app
        .call_as(
            Some(&meta.token),
            "POST",
            &format!("/api/applications/{}/roles/ADMIN", meta.id),
            Some(json!({})),
        )
        .await;
    assert_eq!(escalate.status, 403, "{}", escalate.text);

    let deleted = app.call("DELETE", "/api/groups/team-a", None).await;
    assert_eq!(deleted.status, 200);
    let jane = app.get("/api/users/jane@example.com").await;
    assert_eq!(jane.json()["groups"], json!([]));
    app.stop().await;
}

#[tokio::test]
async fn security_can_be_switched_off() {
    let app = TestApp::spawn_with(|config| {
        config.security = podium_server::config::Security::Disabled;
    })
    .await;
    let token = app
        .call_as(
            None,
            "POST",
            "/api/token",
            Some(json!({"keyId": "k", "keySecret": "s"})),
        )
        .await;
    assert_eq!(token.status, 404, "the SDKs read 404 as: no authentication");
    let open = app
        .call_as(None, "GET", "/api/metadata/taskdefs", None)
        .await;
    assert_eq!(open.status, 200);
    app.stop().await;
}

#[tokio::test]
async fn the_first_admin_logs_in_with_a_password_until_deleted() {
    let app = TestApp::spawn_with(|config| {
        config.admin_key_id = None;
        config.admin_key_secret = None;
    })
    .await;
    // No terminal here: the credentials are in an owner-only file, not in the log.
    let path = app.data_dir().join("first-admin-credentials.txt");
    let text = std::fs::read_to_string(&path).expect("credentials file");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let field = |label: &str| {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(label).map(|v| v.trim().to_string()))
            .unwrap_or_else(|| panic!("{label} in {text}"))
    };
    let (password, key_id, secret) = (field("password:"), field("key id:"), field("key secret:"));

    let login = app
        .call_as(
            None,
            "POST",
            "/api/token",
            Some(json!({"email": "admin", "password": password})),
        )
        .await;
    assert_eq!(login.status, 200, "{}", login.text);
    let user_token = login.json()["token"].as_str().expect("token").to_string();
    let me = app
        .call_as(Some(&user_token), "GET", "/api/token/userInfo", None)
        .await;
    assert_eq!(me.json()["id"], "admin");
    assert_eq!(me.json()["roles"][0]["name"], "ADMIN");
    let wrong = app
        .call_as(
            None,
            "POST",
            "/api/token",
            Some(json!({"email": "admin", "password": "not it"})),
        )
        .await;
    assert_eq!(wrong.status, 401);

    let app_token = app.mint(&key_id, &secret, None).await;

    // A group's defaultAccess: what a member creates is shared with the group.
    let as_app = |method: &'static str, path: &'static str, body: Value| {
        let (app, token) = (&app, app_token.clone());
        async move { app.call_as(Some(&token), method, path, Some(body)).await }
    };
    let group = as_app(
        "PUT",
        "/api/groups/ops",
        json!({"description": "Ops", "defaultAccess": {"WORKFLOW_DEF": ["READ", "EXECUTE"]}}),
    )
    .await;
    assert_eq!(group.status, 200, "{}", group.text);
    let joined = as_app("PUT", "/api/users/admin", json!({"groups": ["ops"]})).await;
    assert_eq!(joined.status, 200, "{}", joined.text);
    let created = app
        .call_as(
            Some(&user_token),
            "POST",
            "/api/metadata/workflow",
            Some(linear("shared_flow", &[("any_task", "a")])),
        )
        .await;
    assert_eq!(created.status, 200, "{}", created.text);
    let shared = app
        .call_as(Some(&app_token), "GET", "/api/groups/ops/permissions", None)
        .await;
    assert_eq!(
        shared.json()["grantedAccess"],
        json!([{"target": {"type": "WORKFLOW_DEF", "id": "shared_flow"}, "access": ["READ", "EXECUTE"]}]),
        "{}",
        shared.text
    );

    // Disabling the user refuses its token at once; enabling it again does not bring
    // back the tokens issued before (a new sign-in does).
    let disabled = as_app("PUT", "/api/users/admin", json!({"disabled": true})).await;
    assert_eq!(disabled.status, 200, "{}", disabled.text);
    let refused = app
        .call_as(Some(&user_token), "GET", "/api/token/userInfo", None)
        .await;
    assert_eq!(refused.status, 401);
    as_app("PUT", "/api/users/admin", json!({"disabled": false})).await;
    let still_refused = app
        .call_as(Some(&user_token), "GET", "/api/token/userInfo", None)
        .await;
    assert_eq!(still_refused.status, 401);
    let login = app.sign_in("admin", &password).await;
    let user_token = login.json()["token"].as_str().expect("token").to_string();
    let back = app
        .call_as(Some(&user_token), "GET", "/api/token/userInfo", None)
        .await;
    assert_eq!(back.status, 200);

    // The admin application deletes the admin user: its token stops at once.
    let deleted = app
        .call_as(Some(&app_token), "DELETE", "/api/users/admin", None)
        .await;
    assert_eq!(deleted.status, 200, "{}", deleted.text);
    let gone = app
        .call_as(Some(&user_token), "GET", "/api/token/userInfo", None)
        .await;
    assert_eq!(gone.status, 401);
    assert_eq!(gone.json()["error"], "INVALID_TOKEN");
    app.stop().await;
}

#[tokio::test]
async fn a_domain_grant_reaches_every_task_routed_there() {
    let app = TestApp::spawn().await;
    app.register(
        json!([task_def("dom_task")]),
        linear("dom_flow", &[("dom_task", "a")]),
    )
    .await;
    let worker = application(&app, "blue-workers", &["WORKER"]).await;
    let user = format!("app:{}", worker.id);
    assert_eq!(
        grant(&app, &user, "DOMAIN", "blue", &["EXECUTE"])
            .await
            .status,
        200
    );
    let started = app
        .post(
            "/api/workflow",
            json!({"name": "dom_flow", "taskToDomain": {"dom_task": "blue"}}),
        )
        .await;
    assert_eq!(started.status, 200, "{}", started.text);
    // The domain's queue is the worker's; the task's own queue is not.
    let outside = app
        .call_as(
            Some(&worker.token),
            "GET",
            "/api/tasks/poll/dom_task?workerid=b",
            None,
        )
        .await;
    assert_eq!(outside.status, 403);
    let polled = app
        .call_as(
            Some(&worker.token),
            "GET",
            "/api/tasks/poll/dom_task?workerid=b&domain=blue",
            None,
        )
        .await;
    assert_eq!(polled.status, 200, "{}", polled.text);
    let task = polled.json();
    assert_eq!(task["domain"], "blue");
    let done = app
        .call_as(
            Some(&worker.token),
            "POST",
            "/api/tasks",
            Some(json!({"workflowInstanceId": task["workflowInstanceId"], "taskId": task["taskId"], "status": "COMPLETED"})),
        )
        .await;
    assert_eq!(done.status, 200, "{}", done.text);
    let why = app
        .get(&format!(
            "/api/auth/explain?subject={user}&access=EXECUTE&type=DOMAIN&id=blue"
        ))
        .await;
    assert_eq!(why.json()["allowed"], true, "{}", why.text);
    app.stop().await;
}
