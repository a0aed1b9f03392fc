//! `DO_WHILE` through the server: iterations named `ref__N`, the condition
//! evaluated by the script runner, lists, and failures with Conductor's reasons.

use serde_json::json;

use crate::helpers::TestApp;

#[tokio::test]
async fn a_loop_runs_until_its_condition_is_false() {
    let app = TestApp::spawn().await;
    app.register(
        json!([]),
        json!({"name": "doubling", "version": 1, "tasks": [
            {"name": "loop", "taskReferenceName": "loop", "type": "DO_WHILE",
             "inputParameters": {"limit": "${workflow.input.limit}"},
             "loopCondition": "if ($.double['result'] < $.limit) { true; } else { false; }",
             "loopOver": [
                {"name": "double", "taskReferenceName": "double", "type": "INLINE", "inputParameters": {
                    "evaluatorType": "graaljs", "i": "${loop.output.iteration}", "expression": "$.i * 2"}}
             ]}
        ], "outputParameters": {"last": "${double.output.result}", "loop": "${loop.output}"}}),
    )
    .await;
    let id = app.start("doubling", json!({"limit": 8})).await;
    let done = app.wait_for_status(&id, "COMPLETED").await;
    assert_eq!(done["output"]["last"], 8);
    let output = &done["output"]["loop"];
    assert_eq!(output["iteration"], 4);
    for n in 1..=4 {
        assert_eq!(output[n.to_string()]["double"]["result"], n * 2, "{output}");
    }
    let refs: Vec<&str> = done["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["referenceTaskName"].as_str().unwrap())
        .collect();
    assert_eq!(
        refs,
        ["loop", "double__1", "double__2", "double__3", "double__4"]
    );
    assert_eq!(done["tasks"][2]["iteration"], 2);
    assert_eq!(done["tasks"][2]["loopOverTask"], true);
    assert_eq!(done["tasks"][0]["status"], "COMPLETED");

    // A list: one iteration per item, without a condition.
    app.register(
        json!([]),
        json!({"name": "each", "version": 1, "tasks": [
            {"name": "loop", "taskReferenceName": "loop", "type": "DO_WHILE", "loopCondition": "",
             "items": "${workflow.input.names}",
             "loopOver": [
                {"name": "shout", "taskReferenceName": "shout", "type": "INLINE", "inputParameters": {
                    "name": "${loop.output.loopItem}", "expression": "$.name.toUpperCase()"}}
             ]}
        ], "outputParameters": {"loop": "${loop.output}"}}),
    )
    .await;
    let id = app.start("each", json!({"names": ["ada", "bo"]})).await;
    let done = app.wait_for_status(&id, "COMPLETED").await;
    let output = &done["output"]["loop"];
    assert_eq!(output["1"]["shout"]["result"], "ADA");
    assert_eq!(output["2"]["shout"]["result"], "BO");
    assert_eq!(output["iteration"], 2);
    app.stop().await;
}

#[tokio::test]
async fn a_failing_condition_fails_the_workflow_without_leaking_a_secret() {
    let app = TestApp::spawn().await;
    let put = app
        .raw("PUT", "/api/secrets/loop_token", "text/plain", "okapi-77")
        .await;
    assert!(put.status < 300, "{}", put.text);
    app.register(
        json!([]),
        json!({"name": "throws", "version": 1, "tasks": [
            {"name": "loop", "taskReferenceName": "loop", "type": "DO_WHILE",
             "inputParameters": {"token": "${workflow.secrets.loop_token}"},
             "loopCondition": "throw new Error('bad ' + $.token)",
             "loopOver": [{"name": "n", "taskReferenceName": "n", "type": "NOOP"}]}
        ]}),
    )
    .await;
    let id = app.start("throws", json!({})).await;
    let failed = app.wait_for_status(&id, "FAILED").await;
    let loop_task = &failed["tasks"][0];
    assert_eq!(loop_task["status"], "FAILED_WITH_TERMINAL_ERROR");
    let reason = loop_task["reasonForIncompletion"].as_str().unwrap();
    assert!(
        reason.starts_with(
            "Unable to evaluate condition throw new Error('bad ' + $.token), exception"
        ),
        "{reason}"
    );
    assert!(reason.contains("bad ***"), "{reason}");
    assert!(!failed.to_string().contains("okapi-77"), "{failed}");

    // A condition that names a secret in its text is refused at the start.
    app.register(
        json!([]),
        json!({"name": "spliced", "version": 1, "tasks": [
            {"name": "loop", "taskReferenceName": "loop", "type": "DO_WHILE",
             "loopCondition": "'${workflow.secrets.loop_token}' == 'x'",
             "loopOver": [{"name": "n", "taskReferenceName": "n", "type": "NOOP"}]}
        ]}),
    )
    .await;
    let refused = app.post("/api/workflow/spliced", json!({})).await;
    assert_eq!(refused.status, 400, "{}", refused.text);
    assert!(
        refused
            .text
            .contains("a loop condition cannot name a secret"),
        "{}",
        refused.text
    );
    app.stop().await;
}
