//! Definitions past the bounds are refused where they come in, with a 400 whose
//! `validationErrors` say where: registration, updates, inline definitions at start.
//! Numbers that would overflow the clock are refused there too, and where they come
//! from a worker they are handled safely.

use serde_json::{Value, json};

use crate::helpers::{TestApp, linear, task_def};

fn poisoned() -> String {
    format!("{}workflow.input.n{}", "${".repeat(5000), "}".repeat(5000))
}

/// The (path, message) pairs of a 400 answer.
fn validation_errors(answer: &crate::helpers::Answer) -> Vec<(String, String)> {
    assert_eq!(answer.status, 400, "{}", answer.text);
    answer.json()["validationErrors"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|e| {
            (
                e["path"].as_str().unwrap_or_default().to_string(),
                e["message"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

fn poisoned_definition(name: &str) -> Value {
    json!({"name": name, "version": 1, "tasks": [
        {"name": "work", "taskReferenceName": "first", "inputParameters": {"n": "${workflow.input.n}"}},
        {"name": "work", "taskReferenceName": "second", "inputParameters": {"fine": 1, "x": poisoned()}}
    ]})
}

#[tokio::test]
async fn a_deeply_nested_expression_is_refused_at_registration() {
    let app = TestApp::spawn().await;
    let expected = (
        "tasks[1].inputParameters.x".to_string(),
        "task second: input parameter 'x' nests expressions more than 16 levels deep (${ inside ${)"
            .to_string(),
    );
    let answer = app
        .post("/api/metadata/workflow", poisoned_definition("poisoned"))
        .await;
    assert_eq!(validation_errors(&answer), vec![expected.clone()]);
    let answer = app
        .call(
            "PUT",
            "/api/metadata/workflow",
            Some(json!([poisoned_definition("poisoned")])),
        )
        .await;
    assert!(
        validation_errors(&answer)
            .iter()
            .any(|(path, message)| path.ends_with(&expected.0) && *message == expected.1),
        "{}",
        answer.text
    );
    assert_eq!(app.get("/api/metadata/workflow/poisoned").await.status, 404);
    // Inline, in a start request, the same.
    let answer = app
        .post(
            "/api/workflow",
            json!({"name": "inline", "input": {"n": 1}, "workflowDef": poisoned_definition("inline")}),
        )
        .await;
    assert_eq!(validation_errors(&answer), vec![expected]);
    // A task definition's inputTemplate is resolved as the task's input is.
    let answer = app
        .post(
            "/api/metadata/taskdefs",
            json!([{"name": "t", "inputTemplate": {"tpl": poisoned()}}]),
        )
        .await;
    assert_eq!(
        validation_errors(&answer)[0].0,
        "[0].inputTemplate.tpl",
        "{}",
        answer.text
    );
    app.stop().await;
}

/// A definition whose task sits inside `levels` forks.
fn nested_forks(name: &str, levels: usize) -> Value {
    let mut task = json!({"name": "work", "taskReferenceName": "leaf"});
    for level in 0..levels {
        task = json!({"name": "fork", "taskReferenceName": format!("fork{level}"), "type": "FORK_JOIN",
                      "forkTasks": [[task]]});
    }
    json!({"name": name, "version": 1, "tasks": [task]})
}

#[tokio::test]
async fn deeply_nested_tasks_are_refused() {
    // The whole server runs on this test's one thread (2 MiB of stack, a debug build):
    // forty levels are within the JSON parser's limit and used to overflow it.
    let app = TestApp::spawn().await;
    let answer = app
        .post("/api/metadata/workflow", nested_forks("nested", 40))
        .await;
    assert_eq!(answer.status, 400, "{}", answer.text);
    let message = answer.json()["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        message.contains("tasks are nested more than 24 levels deep"),
        "{message}"
    );
    let answer = app
        .post(
            "/api/workflow",
            json!({"name": "nested", "workflowDef": nested_forks("nested", 40)}),
        )
        .await;
    assert_eq!(answer.status, 400, "{}", answer.text);
    // The bound itself is served.
    let answer = app
        .post("/api/metadata/workflow", nested_forks("nested", 24))
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let answer = app.get("/api/metadata/workflow/nested").await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    app.stop().await;
}

#[tokio::test]
async fn huge_timeouts_are_refused_or_handled_safely() {
    let app = TestApp::spawn().await;
    let huge = i64::MAX;
    let answer = app
        .post(
            "/api/metadata/taskdefs",
            json!([{"name": "slow", "timeoutSeconds": huge, "responseTimeoutSeconds": huge,
                    "pollTimeoutSeconds": huge, "retryDelaySeconds": huge}]),
        )
        .await;
    let paths: Vec<String> = validation_errors(&answer)
        .into_iter()
        .map(|(p, _)| p)
        .collect();
    for field in [
        "timeoutSeconds",
        "responseTimeoutSeconds",
        "pollTimeoutSeconds",
        "retryDelaySeconds",
    ] {
        assert!(paths.contains(&format!("[0].{field}")), "{paths:?}");
    }
    let answer = app
        .post(
            "/api/metadata/workflow",
            json!({"name": "slow", "version": 1, "timeoutSeconds": huge, "tasks": [
                {"name": "work", "taskReferenceName": "a", "startDelay": huge}
            ]}),
        )
        .await;
    let paths: Vec<String> = validation_errors(&answer)
        .into_iter()
        .map(|(p, _)| p)
        .collect();
    assert_eq!(paths, vec!["timeoutSeconds", "tasks[0].startDelay"]);

    // From a worker: a callback after an absurd time is accepted and does not wrap
    // the clock (the task is not handed out again before its lease ends).
    app.register(json!([task_def("work")]), linear("plain", &[("work", "a")]))
        .await;
    let id = app.start("plain", json!({"n": 1})).await;
    let tasks = app.poll("work", 1, 0).await;
    let answer = app
        .post(
            "/api/tasks",
            json!({"workflowInstanceId": id, "taskId": tasks[0]["taskId"], "status": "IN_PROGRESS",
                   "callbackAfterSeconds": huge, "workerId": "w"}),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    app.advance(60_000);
    assert!(app.poll("work", 1, 0).await.is_empty());
    assert_eq!(app.workflow(&id).await["status"], "RUNNING");

    // A task definition stored before durations were bounded: polling leases the task
    // until the end of time instead of overflowing.
    let stored: podium_core::model::TaskDef = serde_json::from_value(
        json!({"name": "stored", "responseTimeoutSeconds": huge, "timeoutSeconds": huge}),
    )
    .expect("task definition");
    let rt = app.runtime().clone();
    rt.stores()
        .metadata
        .put_task_defs(std::slice::from_ref(&stored))
        .await
        .expect("stored");
    rt.defs().put(stored);
    app.register(json!([]), linear("leased", &[("stored", "a")]))
        .await;
    let id = app.start("leased", json!({"n": 1})).await;
    let tasks = app.poll("stored", 1, 0).await;
    assert_eq!(tasks.len(), 1);
    app.advance(3_600_000);
    assert_eq!(app.workflow(&id).await["tasks"][0]["status"], "IN_PROGRESS");

    // A WAIT for longer than a hundred years fails with a reason.
    app.register(
        json!([]),
        json!({"name": "forever", "version": 1, "tasks": [
            {"name": "wait", "taskReferenceName": "wait", "type": "WAIT",
             "inputParameters": {"duration": "${workflow.input.d}"}}
        ]}),
    )
    .await;
    let id = app
        .start("forever", json!({"d": "99999999999999 days"}))
        .await;
    let workflow = app.wait_for_status(&id, "FAILED").await;
    assert!(
        workflow["tasks"][0]["reasonForIncompletion"]
            .as_str()
            .unwrap_or_default()
            .contains("longer than the limit"),
        "{workflow}"
    );
    assert_eq!(app.get("/health").await.status, 200);
    app.stop().await;
}

/// Names become queue names, index keys and announcements between nodes: a name
/// longer than 255 bytes is refused with a 400 where it comes in (a task definition,
/// a workflow's name, task name and reference, a domain at start, a poll), on every
/// store alike, and nothing is stored.
#[tokio::test]
async fn names_longer_than_the_bound_are_refused_where_they_come_in() {
    let app = TestApp::spawn().await;
    let long = "n".repeat(256);
    let answer = app
        .post("/api/metadata/taskdefs", json!([task_def(&long)]))
        .await;
    assert_eq!(
        validation_errors(&answer),
        vec![(
            "[0].name".to_string(),
            "TaskDef name must be at most 255 bytes long".to_string()
        )]
    );
    let answer = app
        .post(
            "/api/metadata/workflow",
            json!({"name": long, "version": 1, "tasks": [
                {"name": long, "taskReferenceName": long, "type": "SIMPLE"}
            ]}),
        )
        .await;
    let paths: Vec<String> = validation_errors(&answer)
        .into_iter()
        .map(|(path, _)| path)
        .collect();
    for path in ["name", "tasks[0].name", "tasks[0].taskReferenceName"] {
        assert!(paths.iter().any(|p| p == path), "{path} in {paths:?}");
    }
    assert_eq!(
        app.get(&format!("/api/metadata/workflow/{long}"))
            .await
            .status,
        404
    );

    // The bound itself is fine.
    let fits = "f".repeat(255);
    let answer = app
        .post("/api/metadata/taskdefs", json!([task_def(&fits)]))
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let answer = app
        .post(
            "/api/metadata/workflow",
            linear("bounded", &[(&fits, &fits)]),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let answer = app
        .post(
            "/api/workflow",
            json!({"name": "bounded", "version": 1, "input": {}, "taskToDomain": {"*": "d".repeat(256)}}),
        )
        .await;
    assert_eq!(answer.status, 400, "{}", answer.text);
    assert!(answer.text.contains("at most 255 bytes"), "{}", answer.text);
    let answer = app
        .post(
            "/api/workflow",
            json!({"name": "bounded", "version": 1, "input": {}, "taskToDomain": {"*": "d".repeat(255)}}),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let answer = app
        .get(&format!(
            "/api/tasks/poll/batch/{long}?workerid=w&count=1&timeout=0"
        ))
        .await;
    assert_eq!(answer.status, 400, "{}", answer.text);
}
