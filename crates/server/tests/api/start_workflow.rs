//! `START_WORKFLOW`: a task starts another workflow, as the run's starter, and
//! completes with its id without waiting for it.

use serde_json::json;

use crate::helpers::{TestApp, application, grant};

async fn register(app: &TestApp) {
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
        json!({"name": "launcher", "version": 1, "tasks": [
            {"name": "start", "taskReferenceName": "start", "type": "START_WORKFLOW",
             "inputParameters": {"startWorkflow": {"name": "${workflow.input.target}",
                                                    "input": {"n": 3}, "correlationId": "c-1"}}}
        ], "outputParameters": {"started": "${start.output.workflowId}"}}),
    )
    .await;
}

#[tokio::test]
async fn a_start_workflow_task_starts_a_run_of_its_own() {
    let app = TestApp::spawn().await;
    register(&app).await;
    let id = app.start("launcher", json!({"target": "square"})).await;
    let done = app.wait_for_status(&id, "COMPLETED").await;
    let started = done["output"]["started"]
        .as_str()
        .expect("an id")
        .to_string();
    assert_eq!(done["tasks"][0]["taskType"], "START_WORKFLOW");
    let child = app.wait_for_status(&started, "COMPLETED").await;
    assert_eq!(child["output"]["square"], 9);
    assert_eq!(child["correlationId"], "c-1");
    assert!(child["parentWorkflowId"].is_null(), "{child}");
    assert_eq!(child["createdBy"], done["createdBy"]);

    let id = app.start("launcher", json!({"target": "nowhere"})).await;
    let failed = app.wait_for_status(&id, "FAILED").await;
    assert!(
        failed
            .to_string()
            .contains("No such workflow defined. name=nowhere"),
        "{failed}"
    );
    app.stop().await;
}

/// The name can come from data: the workflow it starts needs what a start by the
/// run's starter would need.
#[tokio::test]
async fn a_start_workflow_task_starts_only_what_the_starter_may_start() {
    let app = TestApp::spawn().await;
    register(&app).await;
    app.register(
        json!([]),
        json!({"name": "payroll", "version": 1, "tasks": [
            {"name": "pay", "taskReferenceName": "pay", "type": "NOOP"}
        ]}),
    )
    .await;
    let program = application(&app, "program", &[]).await;
    let subject = format!("app:{}", program.id);
    for target in ["launcher", "square"] {
        let answer = grant(&app, &subject, "WORKFLOW_DEF", target, &["EXECUTE"]).await;
        assert_eq!(answer.status, 200, "{}", answer.text);
    }
    let start = |target: &'static str| {
        let app = &app;
        let token = program.token.clone();
        async move {
            let answer = app
                .call_as(
                    Some(&token),
                    "POST",
                    "/api/workflow/launcher",
                    Some(json!({"target": target})),
                )
                .await;
            assert_eq!(answer.status, 200, "{}", answer.text);
            answer.text.trim_matches('"').to_string()
        }
    };
    let allowed = start("square").await;
    app.wait_for_status(&allowed, "COMPLETED").await;
    let refused = start("payroll").await;
    let failed = app.wait_for_status(&refused, "FAILED").await;
    let reason = failed["tasks"][0]["reasonForIncompletion"]
        .as_str()
        .unwrap_or_default();
    assert!(
        reason.contains("Cannot start workflow payroll") && reason.contains("refused"),
        "{failed}"
    );
    let runs = app
        .get("/api/workflow/search?query=workflowType%3D%27payroll%27")
        .await;
    assert_eq!(runs.json()["totalHits"], 0, "{}", runs.text);
    app.stop().await;
}

/// A workflow that starts itself stops after a bounded chain of starts.
#[tokio::test]
async fn a_chain_of_start_workflow_tasks_is_bounded() {
    let app = TestApp::spawn().await;
    app.register(
        json!([]),
        json!({"name": "again", "version": 1, "tasks": [
            {"name": "start", "taskReferenceName": "start", "type": "START_WORKFLOW",
             "inputParameters": {"startWorkflow": {"name": "again"}}}
        ]}),
    )
    .await;
    app.start("again", json!({})).await;
    let mut total = 0;
    for _ in 0..100 {
        let runs = app
            .get("/api/workflow/search?query=workflowType%3D%27again%27&size=100")
            .await
            .json();
        total = runs["totalHits"].as_i64().unwrap_or(0);
        let failed = runs["results"]
            .as_array()
            .map(|r| r.iter().filter(|w| w["status"] == "FAILED").count())
            .unwrap_or(0);
        if failed == 1 && total == 9 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(total, 9, "the first run and eight it led to");
    let last = app
        .get("/api/workflow/search?query=workflowType%3D%27again%27%20AND%20status%3D%27FAILED%27")
        .await
        .json();
    let reason = last["results"][0]["reasonForIncompletion"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(reason.contains("8 workflows in a row"), "{reason}");
    app.stop().await;
}

/// The domains of the started run's tasks are the definition's to choose: a
/// `taskToDomain` built from data could send them (and their secrets) to a domain
/// its sender polls.
#[tokio::test]
async fn data_never_chooses_the_started_runs_domains() {
    let app = TestApp::spawn().await;
    register(&app).await;
    app.register(
        json!([]),
        json!({"name": "routed", "version": 1, "tasks": [
            {"name": "start", "taskReferenceName": "start", "type": "START_WORKFLOW",
             "inputParameters": {"startWorkflow": {"name": "square", "input": {"n": 2},
                                                    "taskToDomain": "${workflow.input.domains}"}}}
        ]}),
    )
    .await;
    let id = app
        .start("routed", json!({"domains": {"*": "attacker"}}))
        .await;
    let failed = app.wait_for_status(&id, "FAILED").await;
    assert!(
        failed
            .to_string()
            .contains("taskToDomain must be written in the workflow definition"),
        "{failed}"
    );
    app.stop().await;
}
