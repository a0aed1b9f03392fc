//! Camunda Operate's names for access: the roles OWNER and OPERATOR, and the
//! per-definition permissions UPDATE_PROCESS_INSTANCE and DELETE_PROCESS_INSTANCE,
//! which reach a definition's executions and nothing else.

use serde_json::{Value, json};

use crate::helpers::{Answer, TestApp, application, grant, linear, task_def};

const PASSWORD: &str = "quartz meadow lantern 7";

/// Creates a user with a password and roles; returns their token.
async fn person(app: &TestApp, id: &str, roles: &[&str]) -> String {
    let created = app
        .call(
            "PUT",
            &format!("/api/users/{id}"),
            Some(json!({"name": id, "roles": roles, "password": PASSWORD})),
        )
        .await;
    assert_eq!(created.status, 200, "{}", created.text);
    let signed_in = app.sign_in(id, PASSWORD).await;
    assert_eq!(signed_in.status, 200, "{}", signed_in.text);
    signed_in.json()["token"]
        .as_str()
        .expect("token")
        .to_string()
}

async fn as_user(
    app: &TestApp,
    token: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> Answer {
    app.call_as(Some(token), method, path, body).await
}

/// Two workflows of one worker task each, a run of each started by the admin.
async fn two_runs(app: &TestApp) -> (String, String) {
    for name in ["flow_a", "flow_b"] {
        app.register(
            json!([task_def(&format!("{name}_task"))]),
            linear(name, &[(&format!("{name}_task"), "only")]),
        )
        .await;
    }
    (
        app.start("flow_a", json!({"n": 1})).await,
        app.start("flow_b", json!({"n": 1})).await,
    )
}

fn explanation(answer: &Answer) -> (bool, String) {
    assert_eq!(answer.status, 200, "{}", answer.text);
    let body = answer.json();
    (
        body["allowed"].as_bool().expect("allowed"),
        body["explanation"]
            .as_str()
            .expect("explanation")
            .to_string(),
    )
}

#[tokio::test]
async fn operate_roles_carry_the_access_of_the_podium_roles_they_act_as() {
    let app = TestApp::spawn().await;
    let (run_a, _) = two_runs(&app).await;
    let owner = person(&app, "olivia", &["OWNER"]).await;
    let operator = person(&app, "oscar", &["OPERATOR"]).await;

    // The roles are kept as given, and shown as such.
    let olivia = app.get("/api/users/olivia").await;
    assert_eq!(
        olivia.json()["roles"][0]["name"],
        "OWNER",
        "{}",
        olivia.text
    );

    // OWNER is full access: users, metadata, executions.
    for (method, path) in [
        ("GET", "/api/users"),
        ("GET", "/api/applications"),
        ("GET", "/api/audit"),
    ] {
        let answer = as_user(&app, &owner, method, path, None).await;
        assert_eq!(answer.status, 200, "{method} {path}: {}", answer.text);
    }
    let made = as_user(
        &app,
        &owner,
        "PUT",
        "/api/users/someone",
        Some(json!({"name": "Someone", "roles": ["USER"]})),
    )
    .await;
    assert_eq!(made.status, 200, "{}", made.text);

    // OPERATOR reads and operates every execution, and nothing more.
    let seen = as_user(
        &app,
        &operator,
        "GET",
        &format!("/api/workflow/{run_a}"),
        None,
    )
    .await;
    assert_eq!(seen.status, 200, "{}", seen.text);
    let paused = as_user(
        &app,
        &operator,
        "PUT",
        &format!("/api/workflow/{run_a}/pause"),
        None,
    )
    .await;
    assert_eq!(paused.status, 200, "{}", paused.text);
    let resumed = as_user(
        &app,
        &operator,
        "PUT",
        &format!("/api/workflow/{run_a}/resume"),
        None,
    )
    .await;
    assert_eq!(resumed.status, 200, "{}", resumed.text);
    for (method, path, body) in [
        ("GET", "/api/users", None),
        ("GET", "/api/audit", None),
        (
            "POST",
            "/api/metadata/taskdefs",
            Some(json!([task_def("operator_made")])),
        ),
        (
            "PUT",
            "/api/users/oscar2",
            Some(json!({"name": "x", "roles": ["ADMIN"]})),
        ),
    ] {
        let answer = as_user(&app, &operator, method, path, body).await;
        assert_eq!(answer.status, 403, "{method} {path}: {}", answer.text);
    }

    // The explanation names the role the person holds.
    let why = as_user(
        &app,
        &operator,
        "GET",
        "/api/auth/explain?access=UPDATE_PROCESS_INSTANCE&type=WORKFLOW_DEF&id=flow_a",
        None,
    )
    .await;
    let (allowed, text) = explanation(&why);
    assert!(allowed, "{text}");
    assert!(text.contains("role OPERATOR"), "{text}");

    // Operate's roles are people's: an application cannot hold them.
    let created = app
        .post("/api/applications", json!({"name": "robot"}))
        .await;
    let robot = created.json()["id"].as_str().expect("id").to_string();
    for role in ["OWNER", "OPERATOR"] {
        let refused = app
            .post(
                &format!("/api/applications/{robot}/roles/{role}"),
                json!({}),
            )
            .await;
        assert_eq!(refused.status, 400, "{}", refused.text);
        assert!(
            refused.json()["message"]
                .as_str()
                .unwrap_or("")
                .contains("for users")
        );
    }
}

#[tokio::test]
async fn per_definition_permissions_reach_only_that_definitions_executions() {
    let app = TestApp::spawn().await;
    let (run_a, run_b) = two_runs(&app).await;
    let dora = person(&app, "dora", &["USER"]).await;
    let path = |id: &str, tail: &str| format!("/api/workflow/{id}{tail}");

    // Nothing yet: the run is hidden as if it did not exist.
    let hidden = as_user(&app, &dora, "PUT", &path(&run_a, "/pause"), None).await;
    let missing = as_user(&app, &dora, "PUT", &path("no-such-run", "/pause"), None).await;
    assert_eq!(hidden.status, 403, "{}", hidden.text);
    assert_eq!(
        hidden.text.replace(&run_a, "ID"),
        missing.text.replace("no-such-run", "ID")
    );

    let granted = grant(
        &app,
        "dora",
        "WORKFLOW_DEF",
        "flow_a",
        &["READ", "UPDATE_PROCESS_INSTANCE"],
    )
    .await;
    assert_eq!(granted.status, 200, "{}", granted.text);
    let listed = app.get("/api/auth/authorization/WORKFLOW_DEF/flow_a").await;
    assert!(
        listed.text.contains("UPDATE_PROCESS_INSTANCE"),
        "{}",
        listed.text
    );

    // READ shows the run; UPDATE_PROCESS_INSTANCE operates it.
    let seen = as_user(&app, &dora, "GET", &path(&run_a, ""), None).await;
    assert_eq!(seen.status, 200, "{}", seen.text);
    for tail in ["/pause", "/resume"] {
        let answer = as_user(&app, &dora, "PUT", &path(&run_a, tail), None).await;
        assert_eq!(answer.status, 200, "{tail}: {}", answer.text);
    }
    let terminated = as_user(&app, &dora, "DELETE", &path(&run_a, "?reason=stuck"), None).await;
    assert_eq!(terminated.status, 200, "{}", terminated.text);
    app.wait_for_status(&run_a, "TERMINATED").await;
    // Retrying re-runs the work as it was started, for its starter: allowed to an
    // operator who could not start the workflow.
    let retried = as_user(&app, &dora, "POST", &path(&run_a, "/retry"), None).await;
    assert_eq!(retried.status, 204, "{}", retried.text);
    app.wait_for_status(&run_a, "RUNNING").await;
    let started = as_user(&app, &dora, "POST", "/api/workflow/flow_a", Some(json!({}))).await;
    assert_eq!(started.status, 403, "{}", started.text);

    // Feeding the run data of one's own needs what a start needs: new input, task
    // input, or a correlation id (readable as ${workflow.correlationId}).
    let again = as_user(&app, &dora, "DELETE", &path(&run_a, "?reason=again"), None).await;
    assert_eq!(again.status, 200, "{}", again.text);
    app.wait_for_status(&run_a, "TERMINATED").await;
    for body in [
        json!({"workflowInput": {"n": "http://attacker.example"}}),
        json!({"correlationId": "http://attacker.example"}),
        json!({"reRunFromTaskId": "x", "taskInput": {"n": 2}}),
    ] {
        let fed = as_user(
            &app,
            &dora,
            "POST",
            &path(&run_a, "/rerun"),
            Some(body.clone()),
        )
        .await;
        assert_eq!(fed.status, 403, "{body}: {}", fed.text);
    }
    // Restarting on another definition brings the run something new too.
    let mut newer = linear("flow_a", &[("flow_a_task", "only")]);
    newer["version"] = json!(2);
    app.register(json!([]), newer).await;
    let latest = as_user(
        &app,
        &dora,
        "POST",
        &path(&run_a, "/restart?useLatestDefinitions=true"),
        None,
    )
    .await;
    assert_eq!(latest.status, 403, "{}", latest.text);
    let plain = as_user(
        &app,
        &dora,
        "POST",
        &path(&run_a, "/rerun"),
        Some(json!({})),
    )
    .await;
    assert_eq!(plain.status, 200, "{}", plain.text);

    // Removing needs DELETE_PROCESS_INSTANCE.
    let refused = as_user(
        &app,
        &dora,
        "DELETE",
        &path(&run_a, "/remove?archiveWorkflow=false"),
        None,
    )
    .await;
    assert_eq!(refused.status, 403, "{}", refused.text);
    assert_eq!(
        refused.json()["message"],
        "You don't have permissions to delete the executions of workflow: flow_a"
    );
    grant(
        &app,
        "dora",
        "WORKFLOW_DEF",
        "flow_a",
        &["DELETE_PROCESS_INSTANCE"],
    )
    .await;
    let removed = as_user(
        &app,
        &dora,
        "DELETE",
        &path(&run_a, "/remove?archiveWorkflow=false"),
        None,
    )
    .await;
    assert_eq!(removed.status, 200, "{}", removed.text);

    // The other definition's run stays out of reach.
    for (method, tail) in [("GET", ""), ("PUT", "/pause"), ("DELETE", "/remove")] {
        let answer = as_user(&app, &dora, method, &path(&run_b, tail), None).await;
        assert_eq!(answer.status, 403, "{method} {tail}: {}", answer.text);
        assert!(answer.text.contains("access workflow"), "{}", answer.text);
    }
    // UPDATE_PROCESS_INSTANCE alone does not read the definition or change it.
    let def = as_user(
        &app,
        &dora,
        "DELETE",
        "/api/metadata/workflow/flow_a/1",
        None,
    )
    .await;
    assert_eq!(def.status, 403, "{}", def.text);
}

#[tokio::test]
async fn per_definition_permissions_are_granted_only_where_they_mean_something() {
    let app = TestApp::spawn().await;
    let (_run_a, _) = two_runs(&app).await;
    person(&app, "dora", &["USER"]).await;

    // Only on workflow definitions and tags; a clear 400 elsewhere.
    for (kind, id) in [
        ("SECRET_NAME", "db"),
        ("TASK_DEF", "flow_a_task"),
        ("APPLICATION", "x"),
    ] {
        let refused = grant(&app, "dora", kind, id, &["UPDATE_PROCESS_INSTANCE"]).await;
        assert_eq!(refused.status, 400, "{kind}: {}", refused.text);
        assert!(
            refused.json()["message"]
                .as_str()
                .unwrap_or("")
                .contains("applies to the executions of workflow definitions"),
            "{}",
            refused.text
        );
    }
    let tagged = grant(
        &app,
        "dora",
        "TAG",
        "team:payments",
        &["DELETE_PROCESS_INSTANCE"],
    )
    .await;
    assert_eq!(tagged.status, 200, "{}", tagged.text);
    let group = app
        .call(
            "PUT",
            "/api/groups/ops",
            Some(json!({"description": "ops", "defaultAccess": {"TASK_DEF": ["UPDATE_PROCESS_INSTANCE"]}})),
        )
        .await;
    assert_eq!(group.status, 400, "{}", group.text);

    // The owner of a definition does not reach others' executions through it, and
    // may not give these permissions to anyone.
    let author = application(&app, "author", &["METADATA_API"]).await;
    let registered = app
        .call_as(
            Some(&author.token),
            "POST",
            "/api/metadata/workflow",
            Some(linear("authored", &[("flow_a_task", "t")])),
        )
        .await;
    assert_eq!(registered.status, 200, "{}", registered.text);
    let why = app
        .call_as(
            Some(&author.token),
            "GET",
            "/api/auth/explain?access=UPDATE_PROCESS_INSTANCE&type=WORKFLOW_DEF&id=authored",
            None,
        )
        .await;
    let (allowed, text) = explanation(&why);
    assert!(!allowed, "{text}");
    assert!(text.contains("UPDATE_PROCESS_INSTANCE"), "{text}");
    let given = app
        .call_as(
            Some(&author.token),
            "POST",
            "/api/auth/authorization",
            Some(json!({"subject": {"type": "USER", "id": "dora"}, "target": {"type": "WORKFLOW_DEF", "id": "authored"}, "access": ["UPDATE_PROCESS_INSTANCE"]})),
        )
        .await;
    assert_eq!(given.status, 403, "{}", given.text);

    // An unknown access lists the known ones.
    let unknown = grant(&app, "dora", "WORKFLOW_DEF", "flow_a", &["OPERATE"]).await;
    assert_eq!(unknown.status, 400, "{}", unknown.text);
    assert!(
        unknown.text.contains("DELETE_PROCESS_INSTANCE"),
        "{}",
        unknown.text
    );
}

#[tokio::test]
async fn an_operator_cannot_poison_a_run_through_its_failure_workflow() {
    let app = TestApp::spawn().await;
    app.register(
        json!([task_def("cleanup_task")]),
        linear("cleanup", &[("cleanup_task", "c")]),
    )
    .await;
    let mut flow = linear("guarded", &[("guarded_task", "g")]);
    flow["failureWorkflow"] = json!("cleanup");
    app.register(json!([task_def("guarded_task")]), flow).await;
    let plain = linear("unguarded", &[("guarded_task", "g")]);
    app.register(json!([]), plain).await;
    let guarded = app.start("guarded", json!({})).await;
    let unguarded = app.start("unguarded", json!({})).await;
    let olga = person(&app, "olga", &[]).await;
    for name in ["guarded", "unguarded"] {
        let answer = grant(
            &app,
            "olga",
            "WORKFLOW_DEF",
            name,
            &["READ", "UPDATE_PROCESS_INSTANCE"],
        )
        .await;
        assert_eq!(answer.status, 200, "{}", answer.text);
    }
    // Her reason would become the failure workflow's input, and she one of the
    // run's principals, without the right to start it: refused.
    let refused = as_user(
        &app,
        &olga,
        "DELETE",
        &format!("/api/workflow/{guarded}?reason=x&triggerFailureWorkflow=true"),
        None,
    )
    .await;
    assert_eq!(refused.status, 403, "{}", refused.text);
    // With no failure workflow to start, the flag changes nothing: she terminates,
    // and the run can still be retried by her and by its starter.
    let terminated = as_user(
        &app,
        &olga,
        "DELETE",
        &format!("/api/workflow/{unguarded}?reason=x&triggerFailureWorkflow=true"),
        None,
    )
    .await;
    assert_eq!(terminated.status, 200, "{}", terminated.text);
    app.wait_for_status(&unguarded, "TERMINATED").await;
    let retried = as_user(
        &app,
        &olga,
        "POST",
        &format!("/api/workflow/{unguarded}/retry"),
        None,
    )
    .await;
    assert_eq!(retried.status, 204, "{}", retried.text);
    app.wait_for_status(&unguarded, "RUNNING").await;
}

#[tokio::test]
async fn roles_and_permissions_reach_through_groups_and_tags() {
    let app = TestApp::spawn().await;
    let (run_a, run_b) = two_runs(&app).await;
    // OWNER held through a group is full access.
    let group = app
        .call(
            "PUT",
            "/api/groups/owners",
            Some(json!({"description": "owners", "roles": ["OWNER"]})),
        )
        .await;
    assert_eq!(group.status, 200, "{}", group.text);
    let owner = person(&app, "gina", &[]).await;
    let joined = app.post("/api/groups/owners/users/gina", json!({})).await;
    assert_eq!(joined.status, 200, "{}", joined.text);
    assert_eq!(
        as_user(&app, &owner, "GET", "/api/users", None)
            .await
            .status,
        200
    );

    // DELETE_PROCESS_INSTANCE on a tag reaches the runs of the definitions tagged.
    let tagged = app
        .post(
            "/api/metadata/workflow/flow_a/tags",
            json!({"key": "team", "value": "payments"}),
        )
        .await;
    assert_eq!(tagged.status, 200, "{}", tagged.text);
    let hugo = person(&app, "hugo", &[]).await;
    grant(
        &app,
        "hugo",
        "TAG",
        "team:payments",
        &["READ", "DELETE_PROCESS_INSTANCE"],
    )
    .await;
    let removed = as_user(
        &app,
        &hugo,
        "DELETE",
        &format!("/api/workflow/{run_a}/remove?archiveWorkflow=false"),
        None,
    )
    .await;
    assert_eq!(removed.status, 200, "{}", removed.text);
    let untagged = as_user(
        &app,
        &hugo,
        "DELETE",
        &format!("/api/workflow/{run_b}/remove?archiveWorkflow=false"),
        None,
    )
    .await;
    assert_eq!(untagged.status, 403, "{}", untagged.text);
}
