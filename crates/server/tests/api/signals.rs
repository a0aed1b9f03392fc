//! Signals and variables: a workflow's waiting task (WAIT, YIELD, in sub-workflows
//! too) is completed by a signal, synchronously or not; variables are merged into a
//! running workflow.

use serde_json::{Value, json};

use crate::helpers::{TestApp, application, grant};

async fn register(app: &TestApp) {
    app.register(
        json!([]),
        json!({"name": "approval", "version": 1, "tasks": [
            {"name": "first", "taskReferenceName": "first", "type": "YIELD"},
            {"name": "second", "taskReferenceName": "second", "type": "YIELD"}
        ], "outputParameters": {"first": "${first.output}", "second": "${second.output.ok}"}}),
    )
    .await;
    app.register(
        json!([]),
        json!({"name": "outer", "version": 1, "tasks": [
            {"name": "hold", "taskReferenceName": "hold", "type": "WAIT"},
            {"name": "approval", "taskReferenceName": "inner", "type": "SUB_WORKFLOW",
             "subWorkflowParam": {"name": "approval", "version": 1}},
            {"name": "done", "taskReferenceName": "done", "type": "INLINE",
             "inputParameters": {"v": "${workflow.variables.approved}", "expression": "$.v"}}
        ], "outputParameters": {"inner": "${inner.output}", "approved": "${done.output.result}",
                                 "held": "${hold.output.note}"}}),
    )
    .await;
}

async fn signal(
    app: &TestApp,
    id: &str,
    status: &str,
    strategy: Option<&str>,
    body: Value,
) -> (u16, Value) {
    let query = strategy
        .map(|s| format!("?returnStrategy={s}"))
        .unwrap_or_default();
    let answer = app
        .post(
            &format!("/api/tasks/{id}/{status}/signal/sync{query}"),
            body,
        )
        .await;
    let json = if answer.text.is_empty() {
        Value::Null
    } else {
        answer.json()
    };
    (answer.status, json)
}

#[tokio::test]
async fn signals_complete_the_waiting_task_down_into_sub_workflows() {
    let app = TestApp::spawn().await;
    register(&app).await;
    let id = app.start("outer", json!({})).await;

    // The WAIT at the top first; the answer shows where the workflow waits next.
    let (status, run) = signal(
        &app,
        &id,
        "COMPLETED",
        Some("BLOCKING_TASK"),
        json!({"note": "go"}),
    )
    .await;
    assert_eq!(status, 200, "{run}");
    assert_eq!(run["responseType"], "BLOCKING_TASK");
    assert_eq!(run["targetWorkflowId"], id.as_str());
    assert_eq!(run["targetWorkflowStatus"], "RUNNING");
    assert_eq!(run["referenceTaskName"], "first");
    assert_eq!(run["taskType"], "YIELD");
    let child = run["workflowId"].as_str().unwrap_or_default().to_string();
    assert_ne!(child, id, "the task waits in the sub-workflow");

    // Variables merged into the running workflow.
    let updated = app
        .post(
            &format!("/api/workflow/{id}/variables"),
            json!({"approved": "yes"}),
        )
        .await;
    assert_eq!(updated.status, 200, "{}", updated.text);
    assert_eq!(updated.json()["variables"]["approved"], "yes");

    // Async: 200, no body; then the blocking workflow, then the whole run.
    let answer = app
        .post(
            &format!("/api/tasks/{id}/COMPLETED/signal"),
            json!({"step": 1}),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let (status, run) = signal(&app, &id, "COMPLETED", None, json!({"ok": true})).await;
    assert_eq!(status, 200, "{run}");
    assert_eq!(run["responseType"], "TARGET_WORKFLOW");
    assert_eq!(run["status"], "COMPLETED", "{run}");
    assert_eq!(run["output"]["approved"], "yes");
    assert_eq!(run["output"]["held"], "go");
    assert_eq!(run["output"]["inner"]["first"], json!({"step": 1}));
    assert_eq!(run["output"]["inner"]["second"], true);

    // Nothing waits any more: async still 200, sync 404; variables of an ended run 409.
    let answer = app
        .post(&format!("/api/tasks/{id}/COMPLETED/signal"), json!({}))
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let (status, body) = signal(&app, &id, "COMPLETED", None, json!({})).await;
    assert_eq!(status, 404, "{body}");
    assert!(body.to_string().contains("Found no blocked task"), "{body}");
    let ended = app
        .post(
            &format!("/api/workflow/{id}/variables"),
            json!({"approved": "no"}),
        )
        .await;
    assert_eq!(ended.status, 409, "{}", ended.text);
    let bad = app
        .post(&format!("/api/tasks/{id}/SKIPPED/signal"), json!({}))
        .await;
    assert_eq!(bad.status, 400, "{}", bad.text);
    app.stop().await;
}

/// Signalling is operating the workflow: a program that may not gets the same
/// refusal whether anything waits or not, and changes nothing.
#[tokio::test]
async fn only_those_who_operate_a_workflow_may_signal_it() {
    let app = TestApp::spawn().await;
    register(&app).await;
    let id = app.start("outer", json!({})).await;
    let stranger = application(&app, "stranger", &["WORKER"]).await;
    let answer = grant(
        &app,
        &format!("app:{}", stranger.id),
        "TASK_DEF",
        "hold",
        &["EXECUTE"],
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    for path in [
        format!("/api/tasks/{id}/COMPLETED/signal"),
        format!("/api/tasks/{id}/COMPLETED/signal/sync"),
        format!("/api/workflow/{id}/variables"),
        "/api/tasks/no-such-workflow/COMPLETED/signal".to_string(),
    ] {
        let answer = app
            .call_as(
                Some(&stranger.token),
                "POST",
                &path,
                Some(json!({"forged": true})),
            )
            .await;
        assert_eq!(answer.status, 403, "{path}: {}", answer.text);
        assert!(
            answer.text.contains("You don't have permissions to"),
            "{}",
            answer.text
        );
    }
    let workflow = app.workflow(&id).await;
    assert_eq!(workflow["tasks"][0]["status"], "IN_PROGRESS");
    assert!(workflow["variables"].get("forged").is_none());
    app.stop().await;
}

/// Orkes's update of a workflow's state: variables first (a switch after the task
/// sees them), then the task by reference, then a wait for the next task named.
#[tokio::test]
async fn a_state_update_sets_variables_then_the_task_and_waits() {
    let app = TestApp::spawn().await;
    app.register(
        json!([]),
        json!({"name": "sync_updates", "version": 1, "tasks": [
            {"name": "w", "taskReferenceName": "wait_task_ref", "type": "WAIT"},
            {"name": "route", "taskReferenceName": "route", "type": "SWITCH", "evaluatorType": "value-param",
             "expression": "c", "inputParameters": {"c": "${workflow.variables.case}"},
             "decisionCases": {
                "case1": [{"name": "w", "taskReferenceName": "wait_task_ref_2", "type": "WAIT"}],
                "case2": [{"name": "w", "taskReferenceName": "wait_task_ref_1", "type": "WAIT"}]}}
        ]}),
    )
    .await;
    let id = app.start("sync_updates", json!({})).await;
    let first = app
        .post(
            &format!("/api/workflow/{id}/state?requestId=r-1&waitUntilTaskRef=wait_task_ref_1,wait_task_ref_2&waitForSeconds=5"),
            json!({"taskReferenceName": "wait_task_ref", "taskResult": {"outputData": {"a": "b"}},
                   "variables": {"case": "case1"}}),
        )
        .await;
    assert_eq!(first.status, 200, "{}", first.text);
    let run = first.json();
    assert_eq!(run["status"], "RUNNING");
    assert_eq!(run["requestId"], "r-1");
    let tasks = run["tasks"].as_array().cloned().unwrap_or_default();
    assert_eq!(
        tasks.last().map(|t| t["referenceTaskName"].clone()),
        Some(json!("wait_task_ref_2"))
    );
    assert_eq!(tasks[0]["outputData"], json!({"a": "b"}));
    let second = app
        .post(
            &format!("/api/workflow/{id}/state?requestId=r-2&waitForSeconds=1"),
            json!({"taskReferenceName": "wait_task_ref_2", "taskResult": {"status": "COMPLETED"}}),
        )
        .await;
    assert_eq!(second.status, 200, "{}", second.text);
    assert_eq!(second.json()["status"], "COMPLETED", "{}", second.text);
    let missing = app
        .post(
            &format!("/api/workflow/{id}/state?requestId=r-3"),
            json!({"taskReferenceName": "wait_task_ref_2"}),
        )
        .await;
    assert_eq!(missing.status, 404, "{}", missing.text);
    app.stop().await;
}

/// A state update whose task update cannot be made (no such task) changes no
/// variable either: the task update is checked first.
#[tokio::test]
async fn a_state_update_whose_task_cannot_be_updated_changes_nothing() {
    let app = TestApp::spawn().await;
    app.register(
        json!([]),
        json!({"name": "guarded", "version": 1, "tasks": [
            {"name": "hold", "taskReferenceName": "hold", "type": "WAIT"}
        ]}),
    )
    .await;
    let id = app.start("guarded", json!({})).await;
    let set = app
        .post(
            &format!("/api/workflow/{id}/variables"),
            json!({"seen": true}),
        )
        .await;
    assert_eq!(set.status, 200, "{}", set.text);
    let missing = app
        .post(
            &format!("/api/workflow/{id}/state?waitForSeconds=0"),
            json!({"taskReferenceName": "no_such_task", "variables": {"approved": true}}),
        )
        .await;
    assert_eq!(missing.status, 404, "{}", missing.text);
    let run = app.workflow(&id).await;
    assert_eq!(run["variables"], json!({"seen": true}), "{run}");
    assert_eq!(run["tasks"][0]["status"], "IN_PROGRESS");
    app.stop().await;
}

/// A signal's data becomes output the run acts on: someone who may operate a
/// workflow but could not start it (no EXECUTE on its worker task) may not feed it.
#[tokio::test]
async fn a_signal_with_data_needs_what_a_start_needs() {
    let app = TestApp::spawn().await;
    app.register(
        json!([crate::helpers::task_def("payout")]),
        json!({"name": "gated", "version": 1, "tasks": [
            {"name": "hold", "taskReferenceName": "hold", "type": "WAIT"},
            {"name": "payout", "taskReferenceName": "payout", "inputParameters": {"to": "${hold.output.account}"}}
        ]}),
    )
    .await;
    let id = app.start("gated", json!({})).await;
    let operator = application(&app, "operator", &[]).await;
    let answer = grant(
        &app,
        &format!("app:{}", operator.id),
        "WORKFLOW_DEF",
        "gated",
        &["EXECUTE", "READ"],
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let refused = app
        .call_as(
            Some(&operator.token),
            "POST",
            &format!("/api/tasks/{id}/COMPLETED/signal"),
            Some(json!({"account": "attacker"})),
        )
        .await;
    assert_eq!(refused.status, 403, "{}", refused.text);
    assert!(refused.text.contains("payout"), "{}", refused.text);
    assert_eq!(app.workflow(&id).await["tasks"][0]["status"], "IN_PROGRESS");
    app.stop().await;
}

#[tokio::test]
async fn a_synchronous_start_answers_what_its_return_strategy_asks_for() {
    let app = TestApp::spawn().await;
    register(&app).await;
    app.register(
        json!([]),
        json!({"name": "delegating", "version": 1, "tasks": [
            {"name": "approval", "taskReferenceName": "inner", "type": "SUB_WORKFLOW",
             "subWorkflowParam": {"name": "approval", "version": 1}}
        ]}),
    )
    .await;
    let execute = |strategy: &str| {
        format!(
            "/api/workflow/execute/delegating/1?waitForSeconds=30&consistency=DURABLE&returnStrategy={strategy}"
        )
    };
    // The start answers once the sub-workflow waits, well before 30 seconds.
    let began = std::time::Instant::now();
    let answer = app.post(&execute("BLOCKING_TASK_INPUT"), json!({})).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert!(began.elapsed() < std::time::Duration::from_secs(15));
    let run = answer.json();
    assert_eq!(run["responseType"], "BLOCKING_TASK_INPUT");
    assert_eq!(run["taskType"], "YIELD");
    assert_eq!(run["referenceTaskName"], "first");
    assert_eq!(run["workflowType"], "approval");
    assert_eq!(run["targetWorkflowStatus"], "RUNNING");
    let root = run["targetWorkflowId"]
        .as_str()
        .expect("target")
        .to_string();
    assert_ne!(
        run["workflowId"],
        json!(root),
        "the task's own (sub-)workflow"
    );

    let run = app
        .post(&execute("BLOCKING_WORKFLOW"), json!({}))
        .await
        .json();
    assert_eq!(run["responseType"], "BLOCKING_WORKFLOW");
    assert_eq!(run["tasks"][0]["referenceTaskName"], "first");
    assert_ne!(run["workflowId"], run["targetWorkflowId"]);

    let run = app
        .post(&execute("TARGET_WORKFLOW"), json!({}))
        .await
        .json();
    assert_eq!(run["responseType"], "TARGET_WORKFLOW");
    assert_eq!(run["workflowId"], run["targetWorkflowId"]);
    assert_eq!(run["tasks"][0]["taskType"], "SUB_WORKFLOW");

    for query in ["returnStrategy=FASTEST", "consistency=EVENTUAL"] {
        let answer = app
            .post(
                &format!("/api/workflow/execute/delegating/1?{query}"),
                json!({}),
            )
            .await;
        assert_eq!(answer.status, 400, "{query}: {}", answer.text);
    }
    app.stop().await;
}

/// A task no worker runs (here a WAIT) is ended through the task API as a signal
/// ends it: a worker holding EXECUTE on a task definition of the node's name does
/// not reach it; who may operate the run (and start it, to feed it data) does.
#[tokio::test]
async fn a_waiting_task_is_ended_through_the_task_api_only_by_who_may_operate_its_run() {
    let app = TestApp::spawn().await;
    app.register(
        json!([crate::helpers::task_def("hold")]),
        json!({"name": "held", "version": 1, "tasks": [
            {"name": "hold", "taskReferenceName": "hold", "type": "WAIT"}
        ]}),
    )
    .await;
    let id = app.start("held", json!({})).await;
    let task_id = app.workflow(&id).await["tasks"][0]["taskId"]
        .as_str()
        .expect("task id")
        .to_string();
    let worker = application(&app, "hold_worker", &["WORKER"]).await;
    let answer = grant(
        &app,
        &format!("app:{}", worker.id),
        "TASK_DEF",
        "hold",
        &["EXECUTE"],
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let by_ref = app
        .call_as(
            Some(&worker.token),
            "POST",
            &format!("/api/tasks/{id}/hold/COMPLETED"),
            Some(json!({"approved": true})),
        )
        .await;
    assert_eq!(by_ref.status, 403, "{}", by_ref.text);
    let by_result = app
        .call_as(
            Some(&worker.token),
            "POST",
            "/api/tasks",
            Some(
                json!({"workflowInstanceId": id, "taskId": task_id, "status": "COMPLETED",
                        "outputData": {"approved": true}}),
            ),
        )
        .await;
    assert_eq!(by_result.status, 403, "{}", by_result.text);
    let log = app
        .call_as(
            Some(&worker.token),
            "POST",
            &format!("/api/tasks/{task_id}/log"),
            Some(json!("written by a worker")),
        )
        .await;
    assert_eq!(log.status, 403, "{}", log.text);
    assert_eq!(app.workflow(&id).await["tasks"][0]["status"], "IN_PROGRESS");

    // Someone who may not see the run hears what a missing task gets: nothing
    // tells them that this run waits in this task.
    let stranger = application(&app, "hold_stranger", &[]).await;
    for (path, body, hidden) in [
        (
            "/api/tasks".to_string(),
            json!({"workflowInstanceId": id, "taskId": task_id, "status": "COMPLETED"}),
            format!("update task {task_id} of workflow {id}"),
        ),
        (
            format!("/api/tasks/{id}/hold/COMPLETED"),
            json!({}),
            format!("update task hold of workflow {id}"),
        ),
    ] {
        let answer = app
            .call_as(Some(&stranger.token), "POST", &path, Some(body))
            .await;
        assert_eq!(answer.status, 403, "{}", answer.text);
        assert!(answer.text.contains(&hidden), "{path}: {}", answer.text);
    }

    // Who may operate and start the run ends it, as a signal would.
    let operator = application(&app, "hold_operator", &[]).await;
    let answer = grant(
        &app,
        &format!("app:{}", operator.id),
        "WORKFLOW_DEF",
        "held",
        &["EXECUTE", "READ"],
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let done = app
        .call_as(
            Some(&operator.token),
            "POST",
            &format!("/api/tasks/{id}/hold/COMPLETED"),
            Some(json!({"approved": true})),
        )
        .await;
    assert_eq!(done.status, 200, "{}", done.text);
    let run = app.wait_for_status(&id, "COMPLETED").await;
    assert_eq!(run["tasks"][0]["outputData"]["approved"], true);

    // Ended, it stays out of the worker's reach; who may operate the run writes
    // to its log, and a late result from them is ignored.
    let late = json!({"workflowInstanceId": id, "taskId": task_id, "status": "FAILED"});
    let by_worker = app
        .call_as(
            Some(&worker.token),
            "POST",
            "/api/tasks",
            Some(late.clone()),
        )
        .await;
    assert_eq!(by_worker.status, 403, "{}", by_worker.text);
    let by_operator = app
        .call_as(Some(&operator.token), "POST", "/api/tasks", Some(late))
        .await;
    assert_eq!(by_operator.status, 200, "{}", by_operator.text);
    let log = app
        .call_as(
            Some(&operator.token),
            "POST",
            &format!("/api/tasks/{task_id}/log"),
            Some(json!("approved by the operator")),
        )
        .await;
    assert_eq!(log.status, 200, "{}", log.text);
    let run = app.workflow(&id).await;
    assert_eq!(run["status"], "COMPLETED");
    assert_eq!(run["tasks"][0]["status"], "COMPLETED");
    app.stop().await;
}
