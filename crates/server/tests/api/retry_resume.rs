//! Retry with `resumeSubworkflowTasks`: the failed sub-workflow is retried where it
//! failed instead of started anew, and every workflow above it waits for it again.

use serde_json::{Value, json};

use crate::helpers::{TestApp, application, grant, task_def};

/// grand -> mid -> leaf, the leaf running one worker task `leaf_step`.
async fn three_levels(app: &TestApp) -> String {
    app.register(
        json!([task_def("leaf_step")]),
        json!({"name": "leaf", "version": 1, "tasks": [
            {"name": "leaf_step", "taskReferenceName": "step", "type": "SIMPLE"}
        ]}),
    )
    .await;
    for (name, child) in [("mid", "leaf"), ("grand", "mid")] {
        app.register(
            json!([]),
            json!({"name": name, "version": 1, "tasks": [
                {"name": child, "taskReferenceName": "sub", "type": "SUB_WORKFLOW",
                 "subWorkflowParam": {"name": child, "version": 1}}
            ]}),
        )
        .await;
    }
    app.start("grand", json!({})).await
}

/// The `SUB_WORKFLOW` task of a workflow and its child's id.
async fn sub_task(app: &TestApp, id: &str) -> (Value, String) {
    let run = app.workflow(id).await;
    let tasks = run["tasks"].as_array().cloned().unwrap_or_default();
    let task = tasks.last().cloned().unwrap_or_default();
    let child = task["subWorkflowId"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    (task, child)
}

/// Fails the leaf's task; returns the ids of grand's child and grandchild.
async fn fail_the_leaf(app: &TestApp, grand: &str) -> (String, String) {
    let step = loop {
        let polled = app.poll("leaf_step", 1, 1000).await;
        if let Some(task) = polled.into_iter().next() {
            break task;
        }
    };
    let answer = app
        .post(
            "/api/tasks",
            json!({"workflowInstanceId": step["workflowInstanceId"], "taskId": step["taskId"],
                   "status": "FAILED", "reasonForIncompletion": "no luck"}),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    app.wait_for_status(grand, "FAILED").await;
    let (_, mid) = sub_task(app, grand).await;
    let (_, leaf) = sub_task(app, &mid).await;
    (mid, leaf)
}

#[tokio::test]
async fn a_failed_sub_workflow_is_retried_in_place() {
    let app = TestApp::spawn().await;
    let grand = three_levels(&app).await;
    let (mid, leaf) = fail_the_leaf(&app, &grand).await;
    assert_eq!(app.workflow(&leaf).await["status"], "FAILED");

    let answer = app
        .post(
            &format!("/api/workflow/{grand}/retry?resumeSubworkflowTasks=true"),
            json!({}),
        )
        .await;
    assert_eq!(answer.status, 204, "{}", answer.text);
    for id in [&grand, &mid, &leaf] {
        assert_eq!(app.workflow(id).await["status"], "RUNNING", "{id}");
    }
    // The same children wait again; none is started anew.
    for (parent, child) in [(&grand, &mid), (&mid, &leaf)] {
        let (task, waits_for) = sub_task(&app, parent).await;
        assert_eq!(&waits_for, child);
        assert_eq!(task["status"], "IN_PROGRESS", "{task}");
        let tasks = app.workflow(parent).await["tasks"].clone();
        assert_eq!(tasks.as_array().map(Vec::len), Some(1), "{tasks}");
    }
    let step = app.poll("leaf_step", 1, 1000).await.remove(0);
    assert_eq!(step["workflowInstanceId"], leaf.as_str());
    assert_eq!(step["retryCount"], 1);
    app.complete(&step, json!({"done": true})).await;
    app.wait_for_status(&grand, "COMPLETED").await;
    assert_eq!(app.workflow(&mid).await["status"], "COMPLETED");

    app.stop().await;
}

#[tokio::test]
async fn without_the_flag_the_sub_workflow_starts_anew() {
    let app = TestApp::spawn().await;
    let grand = three_levels(&app).await;
    let (mid, _) = fail_the_leaf(&app, &grand).await;
    let answer = app
        .post(&format!("/api/workflow/{grand}/retry"), json!({}))
        .await;
    assert_eq!(answer.status, 204, "{}", answer.text);
    let tasks = app.workflow(&grand).await["tasks"].clone();
    assert_eq!(tasks.as_array().map(Vec::len), Some(2), "{tasks}");
    assert_eq!(app.workflow(&mid).await["status"], "FAILED");
    app.stop().await;
}

#[tokio::test]
async fn resuming_needs_a_retry_of_every_workflow_it_changes() {
    let app = TestApp::spawn().await;
    let grand = three_levels(&app).await;
    let (mid, leaf) = fail_the_leaf(&app, &grand).await;
    // An operator of grand and mid, but not of leaf.
    let operator = application(&app, "operator", &[]).await;
    for (kind, name) in [("WORKFLOW_DEF", "grand"), ("WORKFLOW_DEF", "mid")] {
        let answer = grant(
            &app,
            &format!("app:{}", operator.id),
            kind,
            name,
            &["EXECUTE", "READ"],
        )
        .await;
        assert_eq!(answer.status, 200, "{}", answer.text);
    }
    let answer = app
        .call_as(
            Some(&operator.token),
            "POST",
            &format!("/api/workflow/{grand}/retry?resumeSubworkflowTasks=true"),
            None,
        )
        .await;
    assert_eq!(answer.status, 403, "{}", answer.text);
    // Nothing changed anywhere.
    for id in [&grand, &mid, &leaf] {
        assert_eq!(app.workflow(id).await["status"], "FAILED", "{id}");
    }
    assert!(app.poll("leaf_step", 1, 0).await.is_empty());
    // A bad flag is a clear error.
    let answer = app
        .post(
            &format!("/api/workflow/{grand}/retry?resumeSubworkflowTasks=perhaps"),
            json!({}),
        )
        .await;
    assert_eq!(answer.status, 400, "{}", answer.text);
    app.stop().await;
}

#[tokio::test]
async fn a_resume_that_stopped_part_way_is_finished_by_the_next() {
    let app = TestApp::spawn().await;
    let grand = three_levels(&app).await;
    let (mid, leaf) = fail_the_leaf(&app, &grand).await;
    // As if a resuming retry had stopped after its first unit: the leaf runs
    // again while mid and grand stay failed.
    let answer = app
        .post(&format!("/api/workflow/{leaf}/retry"), json!({}))
        .await;
    assert_eq!(answer.status, 204, "{}", answer.text);
    assert_eq!(app.workflow(&mid).await["status"], "FAILED");
    let answer = app
        .post(
            &format!("/api/workflow/{grand}/retry?resumeSubworkflowTasks=true"),
            json!({}),
        )
        .await;
    assert_eq!(answer.status, 204, "{}", answer.text);
    // mid waits for the running leaf; no second leaf is started.
    let (task, waits_for) = sub_task(&app, &mid).await;
    assert_eq!(waits_for, leaf);
    assert_eq!(task["status"], "IN_PROGRESS", "{task}");
    let step = app.poll("leaf_step", 1, 1000).await.remove(0);
    assert_eq!(step["workflowInstanceId"], leaf.as_str());
    assert!(app.poll("leaf_step", 1, 0).await.is_empty());
    app.complete(&step, json!({})).await;
    app.wait_for_status(&grand, "COMPLETED").await;
    app.stop().await;
}
