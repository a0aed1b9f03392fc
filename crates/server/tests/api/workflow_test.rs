//! `POST /api/workflow/test`: a workflow run with its worker tasks mocked, loops,
//! scripts and inline definitions included, as the SDKs' own tests call it.

use serde_json::json;

use crate::helpers::TestApp;

#[tokio::test]
async fn a_test_runs_the_workflow_with_mocked_worker_tasks() {
    let app = TestApp::spawn().await;
    let simple = |name: &str, input: serde_json::Value| json!({"name": name, "taskReferenceName": name, "type": "SIMPLE", "inputParameters": input});
    let definition = json!({"name": "loan", "version": 1, "tasks": [
        simple("fetch_user_details", json!({"userEmail": "${workflow.input.userEmail}"})),
        simple("get_credit_score", json!({"userAccountNumber": "${fetch_user_details.output.userAccount}"})),
        {"name": "double", "taskReferenceName": "double", "type": "INLINE",
         "inputParameters": {"c": "${get_credit_score.output.creditRating}", "expression": "$.c * 2"}},
        {"name": "loop", "taskReferenceName": "loop_until_success", "type": "DO_WHILE",
         "inputParameters": {"loop_count": 3},
         "loopCondition": "if ( $.loop_until_success['iteration'] < $.loop_count ) { true; } else { false; }",
         "loopOver": [simple("check_phone_number_valid", json!({}))]}
    ], "outputParameters": {"creditRating": "${get_credit_score.output.creditRating}",
                             "doubled": "${double.output.result}",
                             "phoneNumberValid": "${check_phone_number_valid.output.valid}"}});
    let answer = app
        .post(
            "/api/workflow/test",
            json!({"name": "loan", "version": 1, "workflowDef": definition,
                   "input": {"userEmail": "user@example.com"},
                   "taskRefToMockOutput": {
                       "fetch_user_details": [{"status": "COMPLETED", "output": {"userAccount": 12345}}],
                       "get_credit_score": [{"output": {"creditRating": 750}}],
                       "check_phone_number_valid__1": [{"output": {"valid": false}}],
                       "check_phone_number_valid__2": [{"output": {"valid": false}}],
                       "check_phone_number_valid__3": [{"output": {"valid": true}}]}}),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let run = answer.json();
    assert_eq!(run["status"], "COMPLETED", "{run}");
    let tasks = run["tasks"].as_array().cloned().unwrap_or_default();
    assert_eq!(tasks.len(), 7, "{run}");
    assert_eq!(tasks[1]["inputData"]["userAccountNumber"], 12345);
    assert_eq!(run["output"]["creditRating"], 750);
    assert_eq!(run["output"]["doubled"], 1500);
    assert_eq!(run["output"]["phoneNumberValid"], true);
    // No real worker ever sees a test's task.
    assert!(app.poll("fetch_user_details", 1, 100).await.is_empty());

    // By name, the latest version; a worker task with no mock stops the test.
    app.register(
        json!([]),
        json!({"name": "greet", "version": 1, "tasks": [
            {"name": "le_simple_task", "taskReferenceName": "simple_ref", "type": "SIMPLE"},
            {"name": "le_other", "taskReferenceName": "other_ref", "type": "SIMPLE"}
        ], "outputParameters": {"message": "${simple_ref.output.message}"}}),
    )
    .await;
    let answer = app
        .post(
            "/api/workflow/test",
            json!({"name": "greet", "taskRefToMockOutput": {
                "simple_ref": [{"status": "COMPLETED", "output": {"message": "Mocked message"}}]}}),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let run = answer.json();
    assert_eq!(run["status"], "RUNNING", "{run}");
    assert_eq!(run["tasks"][1]["referenceTaskName"], "other_ref");
    assert_eq!(run["tasks"][1]["status"], "SCHEDULED");
    app.stop().await;
}
