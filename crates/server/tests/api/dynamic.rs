//! `DYNAMIC` and `FORK_JOIN_DYNAMIC` through the server: the tasks data names run,
//! and data never reaches a secret.

use serde_json::json;

use crate::helpers::{TestApp, application, grant, task_def};

#[tokio::test]
async fn dynamic_forks_run_the_branches_their_input_lists() {
    let app = TestApp::spawn().await;
    let put = app
        .raw("PUT", "/api/secrets/fan_key", "text/plain", "wombat-42")
        .await;
    assert!(put.status < 300, "{}", put.text);
    app.register(
        json!([]),
        json!({"name": "fan", "version": 1, "tasks": [
            {"name": "pick", "taskReferenceName": "pick", "type": "DYNAMIC",
             "dynamicTaskNameParam": "taskToExecute",
             "inputParameters": {"taskToExecute": "${workflow.input.kind}",
                                 "queryExpression": ".n * 10", "n": 4}},
            {"name": "fan", "taskReferenceName": "fan", "type": "FORK_JOIN_DYNAMIC",
             "dynamicForkTasksParam": "tasks", "dynamicForkTasksInputParamName": "inputs",
             "inputParameters": {"tasks": "${workflow.input.tasks}", "inputs": "${workflow.input.inputs}"}},
            {"name": "join", "taskReferenceName": "join", "type": "JOIN"}
        ], "outputParameters": {"picked": "${pick.output.result}", "joined": "${join.output}"}}),
    )
    .await;
    let inline = |r: &str| json!({"name": r, "taskReferenceName": r, "type": "INLINE"});
    let id = app
        .start(
            "fan",
            json!({
                "kind": "JSON_JQ_TRANSFORM",
                "tasks": [inline("double"), inline("leak")],
                "inputs": {
                    "double": {"expression": "$.n * 2", "n": 21},
                    // Data naming a secret: text, not the secret.
                    "leak": {"expression": "$.s", "s": "${workflow.secrets.fan_key}"}
                }
            }),
        )
        .await;
    let done = app.wait_for_status(&id, "COMPLETED").await;
    assert_eq!(done["output"]["picked"], 40);
    assert_eq!(done["output"]["joined"]["double"]["result"], 42);
    assert_eq!(
        done["output"]["joined"]["leak"]["result"],
        "${workflow.secrets.fan_key}"
    );
    assert!(!done.to_string().contains("wombat-42"), "{done}");
    let fork = &done["tasks"][1];
    assert_eq!(fork["taskType"], "FORK");
    assert_eq!(fork["inputData"]["forkedTasks"], json!(["double", "leak"]));

    // Data may not choose a task that writes a secret.
    let id = app
        .start(
            "fan",
            json!({"kind": "NOOP",
                   "tasks": [{"name": "w", "taskReferenceName": "w", "type": "UPDATE_SECRET"}],
                   "inputs": {"w": {"_secrets": {"secretKey": "fan_key", "secretValue": "mine"}}}}),
        )
        .await;
    let failed = app.wait_for_status(&id, "FAILED").await;
    assert!(
        failed["reasonForIncompletion"]
            .as_str()
            .unwrap_or_default()
            .contains("which a dynamic fork does not start"),
        "{failed}"
    );
    app.stop().await;
}

#[tokio::test]
async fn the_newer_form_starts_sub_workflows() {
    let app = TestApp::spawn().await;
    app.register(
        json!([]),
        json!({"name": "square", "version": 1, "tasks": [
            {"name": "sq", "taskReferenceName": "sq", "type": "INLINE",
             "inputParameters": {"n": "${workflow.input.n}", "expression": "$.n * $.n"}}
        ], "outputParameters": {"square": "${sq.output.result}"}}),
    )
    .await;
    app.register(
        json!([]),
        json!({"name": "squares", "version": 1, "tasks": [
            {"name": "fan", "taskReferenceName": "fan", "type": "FORK_JOIN_DYNAMIC",
             "inputParameters": {"forkTaskWorkflow": "square", "forkTaskWorkflowVersion": "1",
                                 "forkTaskInputs": "${workflow.input.items}"}},
            {"name": "join", "taskReferenceName": "join", "type": "JOIN"}
        ], "outputParameters": {"joined": "${join.output}"}}),
    )
    .await;
    let id = app
        .start("squares", json!({"items": [{"n": 3}, {"n": 5}]}))
        .await;
    let done = app.wait_for_status(&id, "COMPLETED").await;
    let joined = &done["output"]["joined"];
    assert_eq!(joined["_square_0"]["square"], 9, "{joined}");
    assert_eq!(joined["_square_1"]["square"], 25, "{joined}");
    app.stop().await;
}

/// A program that may start `fan` and run `plan` only. The tasks its input (or a
/// worker's output) chooses are authorized as the run's principals before anything
/// is queued: a type it may not run is never queued, and the run fails with the
/// reason.
#[tokio::test]
async fn data_chooses_only_the_task_types_the_run_may_execute() {
    let app = TestApp::spawn().await;
    app.register(
        json!([task_def("payroll_payout"), task_def("plan"), task_def("resize")]),
        json!({"name": "fan", "version": 1, "tasks": [
            {"name": "fan", "taskReferenceName": "fan", "type": "FORK_JOIN_DYNAMIC",
             "dynamicForkTasksParam": "tasks", "dynamicForkTasksInputParamName": "inputs",
             "inputParameters": {"tasks": "${workflow.input.tasks}", "inputs": "${workflow.input.inputs}"}},
            {"name": "join", "taskReferenceName": "join", "type": "JOIN"}
        ]}),
    )
    .await;
    app.register(
        json!([]),
        json!({"name": "pick", "version": 1, "tasks": [
            {"name": "plan", "taskReferenceName": "plan"},
            {"name": "dynamic_task", "taskReferenceName": "carrier", "type": "DYNAMIC",
             "dynamicTaskNameParam": "taskToExecute",
             "inputParameters": {"taskToExecute": "${plan.output.next}", "amount": 1000000}}
        ]}),
    )
    .await;
    let program = application(&app, "program", &[]).await;
    for (kind, target) in [
        ("WORKFLOW_DEF", "fan"),
        ("WORKFLOW_DEF", "pick"),
        ("TASK_DEF", "plan"),
        ("TASK_DEF", "resize"),
    ] {
        let answer = grant(
            &app,
            &format!("app:{}", program.id),
            kind,
            target,
            &["EXECUTE"],
        )
        .await;
        assert_eq!(answer.status, 200, "{}", answer.text);
    }
    let start = |name: &'static str, input: serde_json::Value| {
        let app = &app;
        let token = program.token.clone();
        async move {
            let answer = app
                .call_as(
                    Some(&token),
                    "POST",
                    &format!("/api/workflow/{name}"),
                    Some(input),
                )
                .await;
            assert_eq!(answer.status, 200, "{}", answer.text);
            answer.text.trim_matches('"').to_string()
        }
    };

    // A fork of a type it may run, and one of a type it may not.
    let allowed = start(
        "fan",
        json!({"tasks": [{"name": "resize", "taskReferenceName": "r"}], "inputs": {"r": {}}}),
    )
    .await;
    let resize = app.poll("resize", 1, 5000).await;
    assert_eq!(resize.len(), 1, "the allowed branch runs");
    assert_eq!(resize[0]["workflowInstanceId"], allowed.as_str());
    let refused = start(
        "fan",
        json!({"tasks": [{"name": "payroll_payout", "taskReferenceName": "p"}],
               "inputs": {"p": {"account": "attacker", "amount": 1000000}}}),
    )
    .await;
    let failed = app.wait_for_status(&refused, "FAILED").await;
    let reason = failed["tasks"][0]["reasonForIncompletion"]
        .as_str()
        .unwrap_or_default();
    assert!(
        reason.contains("Cannot run the tasks the input of fan chose")
            && reason.contains("payroll_payout"),
        "{failed}"
    );
    assert_eq!(
        failed["tasks"].as_array().map(Vec::len),
        Some(1),
        "no branch was created"
    );

    // A worker's output names the type a DYNAMIC task runs.
    let id = start("pick", json!({})).await;
    let plan = app.poll("plan", 1, 5000).await;
    assert_eq!(
        app.complete(&plan[0], json!({"next": "payroll_payout"}))
            .await
            .status,
        200
    );
    let failed = app.wait_for_status(&id, "FAILED").await;
    assert!(
        failed["tasks"][1]["reasonForIncompletion"]
            .as_str()
            .unwrap_or_default()
            .contains("permissions to execute task: payroll_payout"),
        "{failed}"
    );
    // Nothing of either reached the payroll queue.
    assert!(app.poll("payroll_payout", 5, 300).await.is_empty());
    app.stop().await;
}

/// The task a DYNAMIC node runs is chosen by data, so its definition may name no
/// secret: a worker choosing its own type would receive it.
#[tokio::test]
async fn a_dynamic_task_is_never_handed_a_secret() {
    let app = TestApp::spawn().await;
    app.register(
        json!([]),
        json!({"name": "ship", "version": 1, "tasks": [
            {"name": "route", "taskReferenceName": "route"},
            {"name": "dynamic_task", "taskReferenceName": "carrier", "type": "DYNAMIC",
             "dynamicTaskNameParam": "taskToExecute",
             "inputParameters": {"taskToExecute": "${route.output.carrier}",
                                 "apiKey": "${workflow.secrets.carrier_api_key}"}}
        ]}),
    )
    .await;
    let answer = app.post("/api/workflow/ship", json!({})).await;
    assert_eq!(answer.status, 400, "{}", answer.text);
    assert!(
        answer.text.contains("a DYNAMIC task cannot name a secret"),
        "{}",
        answer.text
    );
    app.stop().await;
}

/// Restart and rerun of a workflow whose dynamic fork forked: it forks again, from
/// the definition as stored.
#[tokio::test]
async fn a_dynamic_fork_runs_again_on_restart_and_rerun() {
    let app = TestApp::spawn().await;
    app.register(
        json!([task_def("work")]),
        json!({"name": "again", "version": 1, "tasks": [
            {"name": "fan", "taskReferenceName": "fan", "type": "FORK_JOIN_DYNAMIC",
             "inputParameters": {"forkTaskName": "work", "forkTaskInputs": "${workflow.input.items}"}},
            {"name": "join", "taskReferenceName": "join", "type": "JOIN"}
        ]}),
    )
    .await;
    let id = app.start("again", json!({"items": [1, 2]})).await;
    let finish = |id: String| {
        let app = &app;
        async move {
            let mut done = 0;
            for _ in 0..50 {
                for task in app.poll("work", 5, 200).await {
                    assert_eq!(app.complete(&task, json!({"ok": true})).await.status, 200);
                    done += 1;
                }
                if done == 2 {
                    break;
                }
            }
            assert_eq!(done, 2);
            app.wait_for_status(&id, "COMPLETED").await
        }
    };
    finish(id.clone()).await;
    let restarted = app
        .call("POST", &format!("/api/workflow/{id}/restart"), None)
        .await;
    assert_eq!(restarted.status, 204, "{}", restarted.text);
    let done = finish(id.clone()).await;
    let fork_id = done["tasks"][0]["taskId"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let rerun = app
        .post(
            &format!("/api/workflow/{id}/rerun"),
            json!({"reRunFromTaskId": fork_id}),
        )
        .await;
    assert!(rerun.status < 300, "{}", rerun.text);
    let done = finish(id.clone()).await;
    let refs: Vec<&str> = done["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["referenceTaskName"].as_str())
        .collect();
    assert_eq!(refs, ["fan", "_work_0", "_work_1", "join"], "{done}");
    app.stop().await;
}

/// What a fork starts and what a DYNAMIC task runs only the engine decides: the
/// task API does not set the result of a task still waiting for its choice.
#[tokio::test]
async fn a_task_waiting_for_its_choice_cannot_be_completed_through_the_api() {
    let app = TestApp::spawn().await;
    app.register(
        json!([]),
        json!({"name": "later", "version": 1, "tasks": [
            {"name": "dynamic_task", "taskReferenceName": "dyn", "type": "DYNAMIC",
             "dynamicTaskNameParam": "t", "startDelay": 3600,
             "inputParameters": {"t": "resize"}}
        ]}),
    )
    .await;
    let id = app.start("later", json!({})).await;
    let workflow = app.workflow(&id).await;
    let task = &workflow["tasks"][0];
    assert_eq!(
        (task["taskType"].as_str(), task["status"].as_str()),
        (Some("DYNAMIC"), Some("SCHEDULED"))
    );
    let answer = app
        .post(
            "/api/tasks",
            json!({"workflowInstanceId": id, "taskId": task["taskId"], "status": "COMPLETED",
                   "outputData": {"forged": true}}),
        )
        .await;
    assert_eq!(answer.status, 400, "{}", answer.text);
    assert!(
        answer.text.contains("the server runs itself"),
        "{}",
        answer.text
    );
    assert_eq!(app.workflow(&id).await["tasks"][0]["status"], "SCHEDULED");
    app.stop().await;
}

/// Running again what data chose needs what running it did: a starter whose
/// EXECUTE on a branch's type was revoked cannot rerun that branch.
#[tokio::test]
async fn a_rerun_of_a_branch_needs_execute_on_its_type() {
    let app = TestApp::spawn().await;
    app.register(
        json!([task_def("resize")]),
        json!({"name": "fan", "version": 1, "tasks": [
            {"name": "fan", "taskReferenceName": "fan", "type": "FORK_JOIN_DYNAMIC",
             "inputParameters": {"forkTaskName": "resize", "forkTaskInputs": [1]}},
            {"name": "join", "taskReferenceName": "join", "type": "JOIN"}
        ]}),
    )
    .await;
    let program = application(&app, "program", &[]).await;
    let subject = format!("app:{}", program.id);
    for (kind, target) in [("WORKFLOW_DEF", "fan"), ("TASK_DEF", "resize")] {
        let answer = grant(&app, &subject, kind, target, &["EXECUTE"]).await;
        assert_eq!(answer.status, 200, "{}", answer.text);
    }
    let started = app
        .call_as(
            Some(&program.token),
            "POST",
            "/api/workflow/fan",
            Some(json!({})),
        )
        .await;
    assert_eq!(started.status, 200, "{}", started.text);
    let id = started.text.trim_matches('"').to_string();
    let branch = app.poll("resize", 1, 5000).await.remove(0);
    let failed = app
        .post(
            "/api/tasks",
            json!({"workflowInstanceId": id, "taskId": branch["taskId"], "status": "FAILED_WITH_TERMINAL_ERROR"}),
        )
        .await;
    assert_eq!(failed.status, 200, "{}", failed.text);
    app.wait_for_status(&id, "FAILED").await;
    let revoked = app
        .call(
            "DELETE",
            "/api/auth/authorization",
            Some(json!({"subject": {"type": "USER", "id": subject}, "target": {"type": "TASK_DEF", "id": "resize"}, "access": ["EXECUTE"]})),
        )
        .await;
    assert!(revoked.status < 300, "{}", revoked.text);
    let rerun = app
        .call_as(
            Some(&program.token),
            "POST",
            &format!("/api/workflow/{id}/rerun"),
            Some(json!({"reRunFromTaskId": branch["taskId"], "taskInput": {"n": 2}})),
        )
        .await;
    assert_eq!(rerun.status, 403, "{}", rerun.text);
    assert!(rerun.text.contains("resize"), "{}", rerun.text);
    app.stop().await;
}
