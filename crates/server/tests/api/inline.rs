//! `INLINE` tasks: JavaScript in a sandbox with time and memory limits, and
//! `value-param`, with Conductor's output (`result`, `error`) and failure kinds.

use serde_json::{Value, json};

use crate::helpers::{TestApp, first_task_reason};

/// A one-task workflow named `name` whose task is `inline` (an INLINE node's
/// `inputParameters`), its output the task's output.
async fn inline_flow(app: &TestApp, name: &str, inline: Value) {
    app.register(
        json!([]),
        json!({"name": name, "version": 1, "tasks": [
            {"name": "script", "taskReferenceName": "script", "type": "INLINE", "inputParameters": inline}
        ], "outputParameters": {"result": "${script.output.result}"}}),
    )
    .await;
}

#[tokio::test]
async fn inline_tasks_evaluate_javascript_and_value_params() {
    let app = TestApp::spawn().await;
    app.register(
        json!([]),
        json!({"name": "totals", "version": 1, "tasks": [
            {"name": "sum", "taskReferenceName": "sum", "type": "INLINE", "inputParameters": {
                "evaluatorType": "graaljs",
                "items": "${workflow.input.items}",
                "who": "${workflow.input.who}",
                "expression": "(function () { return {total: $.items.reduce((a, b) => a + b, 0), who: $.who.toUpperCase()}; })();"
            }},
            {"name": "pick", "taskReferenceName": "pick", "type": "INLINE", "inputParameters": {
                "evaluatorType": "value-param", "expression": "chosen", "chosen": "${sum.output.result.total}"
            }},
            {"name": "plain", "taskReferenceName": "plain", "type": "INLINE", "inputParameters": {
                "n": "${pick.output.result}", "expression": "celsius = ($.n - 32) * 5 / 9; celsius > 0"
            }}
        ], "outputParameters": {
            "sum": "${sum.output.result}", "picked": "${pick.output.result}", "warm": "${plain.output.result}"
        }}),
    )
    .await;
    let id = app
        .start("totals", json!({"items": [10, 20, 30], "who": "ada"}))
        .await;
    let done = app.wait_for_status(&id, "COMPLETED").await;
    assert_eq!(
        done["output"],
        json!({"sum": {"total": 60, "who": "ADA"}, "picked": 60, "warm": true})
    );
    let task = &done["tasks"][0];
    assert_eq!(task["taskType"], "INLINE");
    assert_eq!(
        task["outputData"],
        json!({"result": {"total": 60, "who": "ADA"}})
    );
    app.stop().await;
}

#[tokio::test]
async fn a_runaway_script_fails_its_task_and_nothing_else() {
    let app = TestApp::spawn_with(|config| {
        config.script_max_millis = 300;
        config.script_max_memory_mb = 16;
    })
    .await;
    for (name, expression, status, reason) in [
        (
            "spins",
            "while (true) {}",
            "FAILED",
            "Script not evaluated within 300 ms, interrupted",
        ),
        (
            "hoards",
            "var kept = []; while (true) { kept.push(new Array(1000).fill(1)); }",
            "FAILED_WITH_TERMINAL_ERROR",
            "Script ran out of memory: it may use at most 16 MiB",
        ),
        (
            "allocates",
            "new Array(1e9).fill(0).length",
            "FAILED_WITH_TERMINAL_ERROR",
            "Script ran out of memory: it may use at most 16 MiB",
        ),
        (
            // A built-in that loops in C without looking at the deadline: its
            // process is killed.
            "reverses",
            "Array.prototype.reverse.call({length: 2 ** 53 - 1})",
            "FAILED",
            "Script not evaluated within 300 ms, interrupted",
        ),
        (
            "searches",
            "var a = 'a'.repeat(1 << 22); a.indexOf('a'.repeat(1 << 21) + 'b')",
            "FAILED",
            "Script not evaluated within 300 ms, interrupted",
        ),
        (
            "throws",
            "null.x",
            "FAILED_WITH_TERMINAL_ERROR",
            "Error evaluating the script `",
        ),
    ] {
        inline_flow(
            &app,
            name,
            json!({"evaluatorType": "javascript", "expression": expression}),
        )
        .await;
        let id = app.start(name, json!({})).await;
        let failed = app.wait_for_status(&id, "FAILED").await;
        let task = &failed["tasks"][0];
        assert_eq!(task["status"], status, "{name}: {task}");
        assert!(
            first_task_reason(&failed).starts_with(reason),
            "{name}: {}",
            first_task_reason(&failed)
        );
        assert_eq!(
            task["outputData"]["error"], task["reasonForIncompletion"],
            "{name}"
        );
    }
    for (name, inline, reason) in [
        (
            "python",
            json!({"evaluatorType": "python", "expression": "1"}),
            "Unknown evaluator 'python' in INLINE task.",
        ),
        (
            "blank",
            json!({"evaluatorType": "javascript", "expression": "  "}),
            "Empty 'expression' in Inline task's input parameters. A non-empty String value must be provided.",
        ),
    ] {
        inline_flow(&app, name, inline).await;
        let id = app.start(name, json!({})).await;
        let failed = app.wait_for_status(&id, "FAILED").await;
        assert_eq!(failed["tasks"][0]["status"], "FAILED_WITH_TERMINAL_ERROR");
        assert_eq!(first_task_reason(&failed), reason);
    }
    // The server goes on evaluating.
    inline_flow(&app, "fine", json!({"expression": "6 * 7"})).await;
    let id = app.start("fine", json!({})).await;
    let done = app.wait_for_status(&id, "COMPLETED").await;
    assert_eq!(done["output"]["result"], 42);
    app.stop().await;
}

#[tokio::test]
async fn a_script_sees_a_secret_only_when_its_input_names_it() {
    let app = TestApp::spawn().await;
    let put = app
        .raw(
            "PUT",
            "/api/secrets/api_token",
            "text/plain",
            "zebra-token-77",
        )
        .await;
    assert!(put.status < 300, "{}", put.text);
    inline_flow(
        &app,
        "named",
        json!({"token": "${workflow.secrets.api_token}",
               "expression": "({length: $.token.length, echo: 'Bearer ' + $.token})"}),
    )
    .await;
    let id = app.start("named", json!({})).await;
    let done = app.wait_for_status(&id, "COMPLETED").await;
    assert_eq!(done["output"]["result"]["length"], 14);
    assert_eq!(done["output"]["result"]["echo"], "Bearer ***");
    assert!(!done.to_string().contains("zebra-token"), "{done}");
    // Written into JSON text by the script, a secret with quotes is masked too.
    app.raw(
        "PUT",
        "/api/secrets/quoted",
        "text/plain",
        r#"say "zebra" \ now"#,
    )
    .await;
    inline_flow(
        &app,
        "stringified",
        json!({"q": "${workflow.secrets.quoted}", "expression": "JSON.stringify({q: $.q})"}),
    )
    .await;
    let id = app.start("stringified", json!({})).await;
    let done = app.wait_for_status(&id, "COMPLETED").await;
    assert_eq!(done["output"]["result"], r#"{"q":"***"}"#);
    // A secret spliced into the script's source is refused before the run starts.
    inline_flow(
        &app,
        "spliced",
        json!({"expression": "'${workflow.secrets.api_token}'.length"}),
    )
    .await;
    let refused = app.post("/api/workflow/spliced", json!({})).await;
    assert_eq!(refused.status, 400, "{}", refused.text);
    assert!(
        refused
            .text
            .contains("cannot name a secret in its expression"),
        "{}",
        refused.text
    );
    // Nor does a restart on a later definition that splices one in.
    inline_flow(&app, "later", json!({"expression": "1 + 1"})).await;
    let id = app.start("later", json!({})).await;
    app.wait_for_status(&id, "COMPLETED").await;
    app.register(
        json!([]),
        json!({"name": "later", "version": 2, "tasks": [
            {"name": "script", "taskReferenceName": "script", "type": "INLINE",
             "inputParameters": {"expression": "'${workflow.secrets.api_token}' + ("}}
        ]}),
    )
    .await;
    let restarted = app
        .post(
            &format!("/api/workflow/{id}/restart?useLatestDefinitions=true"),
            json!({}),
        )
        .await;
    assert!(restarted.status < 300, "{}", restarted.text);
    let failed = app.wait_for_status(&id, "FAILED").await;
    assert!(
        first_task_reason(&failed).contains("cannot name a secret in its expression"),
        "{failed}"
    );
    assert!(!failed.to_string().contains("zebra-token"), "{failed}");
    // A script whose input names no secret has no way to one.
    inline_flow(
        &app,
        "unnamed",
        json!({"expression": "[typeof secrets, typeof workflow, Object.keys($).sort()]"}),
    )
    .await;
    let id = app.start("unnamed", json!({})).await;
    let done = app.wait_for_status(&id, "COMPLETED").await;
    assert_eq!(
        done["output"]["result"],
        json!(["undefined", "undefined", ["expression"]])
    );
    app.stop().await;
}

#[tokio::test]
async fn switches_and_decisions_pick_their_case_with_javascript() {
    let app = TestApp::spawn().await;
    let pick = |reference: &str, value: &str| {
        json!({"name": "set", "taskReferenceName": reference, "type": "SET_VARIABLE",
               "inputParameters": {"picked": value}})
    };
    app.register(
        json!([]),
        json!({"name": "routes", "version": 1, "tasks": [
            {"name": "route", "taskReferenceName": "route", "type": "SWITCH", "evaluatorType": "javascript",
             "expression": "$.amount > 100 ? 'review' : ($.amount > 0 ? 'pay' : 'refuse')",
             "inputParameters": {"amount": "${workflow.input.amount}"},
             "decisionCases": {"review": [pick("r", "review")], "pay": [pick("p", "pay")]},
             "defaultCase": [pick("x", "refuse")]},
            {"name": "legacy", "taskReferenceName": "legacy", "type": "DECISION",
             "caseExpression": "$.amount % 2 == 0 ? 'even' : 'odd'",
             "inputParameters": {"amount": "${workflow.input.amount}"},
             "decisionCases": {"even": [pick("e", "${workflow.variables.picked}-even")]},
             "defaultCase": [pick("o", "${workflow.variables.picked}-odd")]}
        ], "outputParameters": {"picked": "${workflow.variables.picked}",
                                "case": "${route.output.selectedCase}"}}),
    )
    .await;
    for (amount, picked, case) in [
        (500, "review-even", "review"),
        (7, "pay-odd", "pay"),
        (-2, "refuse-even", "refuse"),
    ] {
        let id = app.start("routes", json!({"amount": amount})).await;
        let done = app.wait_for_status(&id, "COMPLETED").await;
        assert_eq!(
            done["output"],
            json!({"picked": picked, "case": case}),
            "{amount}"
        );
    }
    // A script that throws fails the switch for good, and the workflow with it.
    app.register(
        json!([]),
        json!({"name": "broken_route", "version": 1, "tasks": [
            {"name": "route", "taskReferenceName": "route", "type": "SWITCH", "evaluatorType": "graaljs",
             "expression": "$.missing.field", "decisionCases": {"a": [pick("a", "a")]}}
        ]}),
    )
    .await;
    let id = app.start("broken_route", json!({})).await;
    let failed = app.wait_for_status(&id, "FAILED").await;
    assert_eq!(failed["tasks"][0]["status"], "FAILED_WITH_TERMINAL_ERROR");
    assert!(
        first_task_reason(&failed).starts_with("Error evaluating the script `"),
        "{}",
        first_task_reason(&failed)
    );
    // An evaluator Podium does not have is refused at start.
    app.register(
        json!([]),
        json!({"name": "python_route", "version": 1, "tasks": [
            {"name": "route", "taskReferenceName": "route", "type": "SWITCH", "evaluatorType": "python",
             "expression": "1", "decisionCases": {"a": [pick("a", "a")]}}
        ]}),
    )
    .await;
    let refused = app.post("/api/workflow/python_route", json!({})).await;
    assert_eq!(refused.status, 400, "{}", refused.text);
    assert!(
        refused.text.contains("evaluatorType 'python'"),
        "{}",
        refused.text
    );
    app.stop().await;
}

#[tokio::test]
async fn jq_transforms_answer_every_output_and_fail_alone() {
    let app = TestApp::spawn_with(|config| {
        config.script_max_millis = 300;
        config.script_max_memory_mb = 32;
    })
    .await;
    let jq = |name: &str, query: &str| {
        json!({"name": name, "version": 1, "tasks": [
            {"name": "jq", "taskReferenceName": "jq", "type": "JSON_JQ_TRANSFORM",
             "inputParameters": {"items": "${workflow.input.items}", "queryExpression": query}}
        ], "outputParameters": {"result": "${jq.output.result}", "list": "${jq.output.resultList}"}})
    };
    let items =
        json!({"items": [{"n": 1, "name": "a"}, {"n": 2, "name": "b"}, {"n": 3, "name": "c"}]});
    app.register(json!([]), jq("names", ".items[] | select(.n > 1) | .name"))
        .await;
    let id = app.start("names", items.clone()).await;
    let done = app.wait_for_status(&id, "COMPLETED").await;
    assert_eq!(done["output"], json!({"result": "b", "list": ["b", "c"]}));
    app.register(json!([]), jq("total", "{total: (.items | map(.n) | add)}"))
        .await;
    let id = app.start("total", items.clone()).await;
    let done = app.wait_for_status(&id, "COMPLETED").await;
    assert_eq!(
        done["output"],
        json!({"result": {"total": 6}, "list": [{"total": 6}]})
    );
    for (name, query, status, expected) in [
        ("indexes", ".items.x", "FAILED", "cannot index"),
        ("unreadable", ".items[", "FAILED", "cannot be read"),
        ("spins", "def f: f; f", "FAILED", "interrupted"),
        ("nan", "nan", "FAILED", "cannot be written as JSON"),
        // A stack overflow or an exhausted memory ends the runner process only,
        // and would again.
        (
            "overflows",
            "def f: 1 + f; f",
            "FAILED_WITH_TERMINAL_ERROR",
            "ran out of memory or stack",
        ),
    ] {
        app.register(json!([]), jq(name, query)).await;
        let id = app.start(name, items.clone()).await;
        let failed = app.wait_for_status(&id, "FAILED").await;
        let task = &failed["tasks"][0];
        assert_eq!(task["status"], status, "{name}");
        let reason = first_task_reason(&failed);
        assert!(reason.contains(expected), "{name}: {reason}");
        assert_eq!(task["outputData"]["error"], task["reasonForIncompletion"]);
    }
    // A program that fills memory ends its runner (or reaches the deadline first,
    // on a busy machine); either way it fails alone.
    app.register(json!([]), jq("hoards", "[range(1e10)]")).await;
    let id = app.start("hoards", items.clone()).await;
    let failed = app.wait_for_status(&id, "FAILED").await;
    let reason = first_task_reason(&failed);
    assert!(
        reason.contains("ran out of memory or stack") || reason.contains("interrupted"),
        "{reason}"
    );
    // The server goes on transforming.
    let id = app.start("names", items).await;
    app.wait_for_status(&id, "COMPLETED").await;
    app.stop().await;
}
