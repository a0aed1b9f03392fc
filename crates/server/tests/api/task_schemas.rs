//! Schemas beyond a start's input: a task's input checked before a worker is handed
//! it and its output when a worker completes it, a schema carried inline in a
//! definition (Conductor's form), and the input of workflows the engine starts (a
//! sub-workflow, `START_WORKFLOW`) or a rerun brings.

use serde_json::{Value, json};

use crate::helpers::{TestApp, task_def};

async fn register_schema(app: &TestApp, name: &str, data: Value) {
    let answer = app
        .post(
            "/api/schema",
            json!({"name": name, "version": 1, "type": "JSON", "data": data}),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
}

fn order_id_required() -> Value {
    json!({"type": "object", "required": ["orderId"],
           "properties": {"orderId": {"type": "string"}}})
}

fn charge_workflow() -> Value {
    json!({"name": "charges", "version": 1,
           "tasks": [{"name": "charge", "taskReferenceName": "c", "type": "SIMPLE",
                      "inputParameters": {"orderId": "${workflow.input.orderId}"}}]})
}

async fn task_of(app: &TestApp, id: &str) -> Value {
    app.workflow(id).await["tasks"][0].clone()
}

#[tokio::test]
async fn a_task_enforcing_its_input_schema_fails_before_a_worker_sees_it() {
    let app = TestApp::spawn().await;
    register_schema(&app, "charge_input", order_id_required()).await;
    let mut def = task_def("charge");
    def["enforceSchema"] = json!(true);
    def["inputSchema"] = json!({"name": "charge_input", "version": 1});
    app.register(json!([def]), charge_workflow()).await;

    let good = app.start("charges", json!({"orderId": "o-1"})).await;
    let polled = app.poll("charge", 1, 500).await;
    assert_eq!(polled.len(), 1);
    assert_eq!(polled[0]["workflowInstanceId"], good.as_str());

    let bad = app.start("charges", json!({"orderId": 42})).await;
    assert!(
        app.poll("charge", 1, 200).await.is_empty(),
        "not handed over"
    );
    let workflow = app.wait_for_status(&bad, "FAILED").await;
    let task = &workflow["tasks"][0];
    assert_eq!(task["status"], "FAILED_WITH_TERMINAL_ERROR", "{task}");
    let reason = task["reasonForIncompletion"].as_str().unwrap_or_default();
    assert!(
        reason.contains("Task input does not match schema 'charge_input'")
            && reason.contains("/orderId"),
        "{reason}"
    );
    assert!(!reason.contains("42"), "values are not echoed: {reason}");
    app.stop().await;
}

#[tokio::test]
async fn output_that_breaks_the_tasks_schema_fails_the_task_which_may_be_retried() {
    let app = TestApp::spawn().await;
    register_schema(
        &app,
        "charge_output",
        json!({"type": "object", "required": ["receipt"]}),
    )
    .await;
    let mut def = task_def("charge");
    def["retryCount"] = json!(1);
    def["enforceSchema"] = json!(true);
    def["outputSchema"] = json!({"name": "charge_output"});
    app.register(json!([def]), charge_workflow()).await;
    let id = app.start("charges", json!({"orderId": "o-1"})).await;

    let first = app.poll("charge", 1, 500).await;
    let answer = app.complete(&first[0], json!({"note": "no receipt"})).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let task = task_of(&app, &id).await;
    assert_eq!(task["status"], "FAILED", "{task}");
    let reason = task["reasonForIncompletion"].as_str().unwrap_or_default();
    assert!(
        reason.contains("Task output does not match schema 'charge_output'"),
        "{reason}"
    );
    assert_eq!(task["outputData"]["note"], "no receipt", "kept as sent");

    let retry = app.poll("charge", 1, 2_000).await;
    assert_eq!(retry.len(), 1, "the retry is scheduled");
    let answer = app.complete(&retry[0], json!({"receipt": "r-1"})).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    app.wait_for_status(&id, "COMPLETED").await;
    app.stop().await;
}

#[tokio::test]
async fn a_schema_carried_in_the_definition_is_enforced_by_default() {
    let app = TestApp::spawn().await;
    // Conductor's documented form: the schema inline, enforceSchema left out.
    let flow = json!({"name": "inline_schema", "version": 1,
        "inputSchema": {"name": "customerInput", "version": 1, "type": "JSON",
                        "data": {"type": "object", "required": ["customerId"]}},
        "tasks": [{"name": "n", "taskReferenceName": "n", "type": "NOOP"}]});
    app.register(json!([]), flow).await;
    let stored = app.get("/api/metadata/workflow/inline_schema").await.json();
    assert_eq!(stored["enforceSchema"], true, "{stored}");
    let refused = app.post("/api/workflow/inline_schema", json!({})).await;
    assert_eq!(refused.status, 400, "{}", refused.text);
    assert!(refused.text.contains("customerId"), "{}", refused.text);
    let started = app
        .post("/api/workflow/inline_schema", json!({"customerId": "c-1"}))
        .await;
    assert_eq!(started.status, 200, "{}", started.text);
    app.stop().await;
}

#[tokio::test]
async fn workflows_the_engine_starts_and_reruns_meet_the_input_schema_too() {
    let app = TestApp::spawn().await;
    register_schema(&app, "child_input", order_id_required()).await;
    let child = json!({"name": "child", "version": 1, "enforceSchema": true,
        "inputSchema": {"name": "child_input"},
        "tasks": [{"name": "n", "taskReferenceName": "n", "type": "NOOP"}]});
    app.register(json!([]), child).await;
    let parent = json!({"name": "parent", "version": 1, "tasks": [
        {"name": "sub", "taskReferenceName": "sub", "type": "SUB_WORKFLOW",
         "subWorkflowParam": {"name": "child", "version": 1},
         "inputParameters": {"orderId": "${workflow.input.orderId}"}}]});
    app.register(json!([]), parent).await;
    let starter = json!({"name": "starter", "version": 1, "tasks": [
        {"name": "start", "taskReferenceName": "start", "type": "START_WORKFLOW",
         "inputParameters": {"startWorkflow": {"name": "child",
                                               "input": {"orderId": "${workflow.input.orderId}"}}}}]});
    app.register(json!([]), starter).await;

    for flow in ["parent", "starter"] {
        let ok = app.start(flow, json!({"orderId": "o-1"})).await;
        app.wait_for_status(&ok, "COMPLETED").await;
        let bad = app.start(flow, json!({"orderId": 7})).await;
        let workflow = app.wait_for_status(&bad, "FAILED").await;
        let reason = workflow["tasks"][0]["reasonForIncompletion"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(
            reason.contains("Workflow input does not match schema 'child_input'"),
            "{flow}: {reason}"
        );
    }

    // A rerun's new input is checked as a start's is.
    let done = app.start("child", json!({"orderId": "o-2"})).await;
    app.wait_for_status(&done, "COMPLETED").await;
    let rerun = app
        .post(
            &format!("/api/workflow/{done}/rerun"),
            json!({"workflowInput": {"orderId": false}}),
        )
        .await;
    assert_eq!(rerun.status, 400, "{}", rerun.text);
    assert!(rerun.text.contains("child_input"), "{}", rerun.text);
    let rerun = app
        .post(
            &format!("/api/workflow/{done}/rerun"),
            json!({"workflowInput": {"orderId": "o-3"}}),
        )
        .await;
    assert_eq!(rerun.status, 200, "{}", rerun.text);
    app.stop().await;
}
