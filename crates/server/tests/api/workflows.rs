//! Workflow executions through the API: starting, reading and changing them.

use serde_json::{Value, json};

use crate::helpers::{TestApp, application, linear, task_def};

async fn setup(app: &TestApp) {
    app.register(
        json!([task_def("step_a"), task_def("step_b")]),
        linear("two_steps", &[("step_a", "a"), ("step_b", "b")]),
    )
    .await;
}

#[tokio::test]
async fn start_read_and_complete() {
    let app = TestApp::spawn().await;
    setup(&app).await;
    let answer = app
        .post(
            "/api/workflow",
            json!({"name": "two_steps", "version": 1, "input": {"n": 3}, "correlationId": "order-9", "priority": 7, "idempotencyStrategy": "FAIL"}),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert!(answer.content_type.starts_with("text/plain"));
    let id = answer.text;
    let workflow = app.workflow(&id).await;
    assert_eq!(workflow["status"], "RUNNING");
    assert_eq!(workflow["priority"], 7);
    assert_eq!(workflow["workflowName"], "two_steps");
    assert_eq!(workflow["workflowDefinition"]["name"], "two_steps");
    assert_eq!(workflow["tasks"][0]["inputData"], json!({"n": 3}));
    assert_eq!(
        workflow["tasks"][0]["workflowTask"]["taskReferenceName"],
        "a"
    );
    let without = app
        .get(&format!("/api/workflow/{id}?includeTasks=false"))
        .await
        .json();
    assert_eq!(without["tasks"], json!([]));
    let status = app
        .get(&format!("/api/workflow/{id}/status?includeOutput=true"))
        .await
        .json();
    assert_eq!(status["status"], "RUNNING");
    assert_eq!(status["correlationId"], "order-9");
    let running = app.get("/api/workflow/running/two_steps").await.json();
    assert_eq!(running, json!([id]));
    let correlated = app
        .get("/api/workflow/two_steps/correlated/order-9?includeClosed=true&includeTasks=false")
        .await
        .json();
    assert_eq!(correlated[0]["workflowId"], json!(id));

    let a = app.poll("step_a", 1, 0).await.remove(0);
    assert_eq!(
        app.complete(&a, json!({"x": 1})).await.text,
        a["taskId"].as_str().unwrap_or("")
    );
    let b = app.poll("step_b", 1, 0).await.remove(0);
    app.complete(&b, json!({"y": 2})).await;
    let done = app.wait_for_status(&id, "COMPLETED").await;
    assert_eq!(done["output"], json!({"y": 2}));
    let batch = app
        .post(
            "/api/workflow/two_steps/correlated?includeClosed=true",
            json!(["order-9", "nobody"]),
        )
        .await
        .json();
    assert_eq!(batch["order-9"].as_array().map(Vec::len), Some(1));
    assert_eq!(batch["nobody"], json!([]));
    app.stop().await;
}

#[tokio::test]
async fn pause_resume_terminate_restart_retry_rerun_skip_remove() {
    let app = TestApp::spawn().await;
    setup(&app).await;
    let id = app.start("two_steps", json!({"n": 1})).await;
    assert_eq!(
        app.call("PUT", &format!("/api/workflow/{id}/pause"), Some(json!({})))
            .await
            .status,
        200
    );
    assert_eq!(app.workflow(&id).await["status"], "PAUSED");
    let a = app.poll("step_a", 1, 0).await.remove(0);
    app.complete(&a, json!({})).await;
    assert_eq!(
        app.workflow(&id).await["tasks"].as_array().map(Vec::len),
        Some(1),
        "paused: nothing scheduled"
    );
    assert_eq!(
        app.call("PUT", &format!("/api/workflow/{id}/resume"), None)
            .await
            .status,
        200
    );
    assert_eq!(
        app.workflow(&id).await["tasks"][1]["referenceTaskName"],
        "b"
    );
    let conflict = app
        .call("PUT", &format!("/api/workflow/{id}/resume"), None)
        .await;
    assert_eq!(conflict.status, 409, "{}", conflict.text);

    assert_eq!(
        app.call("DELETE", &format!("/api/workflow/{id}?reason=enough"), None)
            .await
            .status,
        200
    );
    let terminated = app.workflow(&id).await;
    assert_eq!(terminated["status"], "TERMINATED");
    assert_eq!(terminated["tasks"][1]["status"], "CANCELED");
    assert_eq!(
        app.poll("step_b", 1, 0).await.len(),
        0,
        "canceled tasks leave the queue"
    );

    let restart = app
        .post(&format!("/api/workflow/{id}/restart"), json!({}))
        .await;
    assert_eq!(restart.status, 204, "{}", restart.text);
    assert_eq!(app.workflow(&id).await["status"], "RUNNING");
    let a = app.poll("step_a", 1, 0).await.remove(0);
    let failed = app
        .post("/api/tasks", json!({"workflowInstanceId": id, "taskId": a["taskId"], "status": "FAILED", "reasonForIncompletion": "bad data"}))
        .await;
    assert_eq!(failed.status, 200);
    let failed = app.workflow(&id).await;
    assert_eq!(failed["status"], "FAILED");
    assert!(
        failed["reasonForIncompletion"]
            .as_str()
            .unwrap_or("")
            .contains("bad data")
    );

    assert_eq!(
        app.post(&format!("/api/workflow/{id}/retry"), json!({}))
            .await
            .status,
        204
    );
    let a = app.poll("step_a", 1, 0).await.remove(0);
    assert_eq!(a["retryCount"], 1);
    app.complete(&a, json!({"again": true})).await;
    let b = app.poll("step_b", 1, 0).await.remove(0);
    app.complete(&b, json!({})).await;
    app.wait_for_status(&id, "COMPLETED").await;

    let a_id = app.workflow(&id).await["tasks"][0]["taskId"].clone();
    let rerun = app
        .post(
            &format!("/api/workflow/{id}/rerun"),
            json!({"reRunFromTaskId": a_id, "taskInput": {"fresh": 1}}),
        )
        .await;
    assert_eq!(rerun.status, 200, "{}", rerun.text);
    assert_eq!(rerun.text, id);
    let rerun = app.workflow(&id).await;
    assert_eq!(rerun["status"], "RUNNING");
    assert_eq!(
        rerun["tasks"].as_array().map(Vec::len),
        Some(1),
        "tasks after the rerun one are dropped"
    );
    assert_eq!(rerun["tasks"][0]["status"], "SCHEDULED");
    assert_eq!(rerun["tasks"][0]["inputData"], json!({"fresh": 1}));

    let skip = app
        .call(
            "PUT",
            &format!("/api/workflow/{id}/skiptask/a"),
            Some(json!({})),
        )
        .await;
    assert_eq!(
        skip.status, 409,
        "a scheduled task cannot be skipped: {}",
        skip.text
    );
    let removed = app
        .call(
            "DELETE",
            &format!("/api/workflow/{id}/remove?archiveWorkflow=false"),
            Some(json!({})),
        )
        .await;
    assert_eq!(removed.status, 200, "{}", removed.text);
    assert_eq!(app.get(&format!("/api/workflow/{id}")).await.status, 404);
    app.stop().await;
}

#[tokio::test]
async fn skip_a_task_before_it_is_reached() {
    let app = TestApp::spawn().await;
    setup(&app).await;
    let id = app.start("two_steps", json!({})).await;
    let skip = app
        .call(
            "PUT",
            &format!("/api/workflow/{id}/skiptask/b"),
            Some(json!({})),
        )
        .await;
    assert_eq!(skip.status, 200, "{}", skip.text);
    let a = app.poll("step_a", 1, 0).await.remove(0);
    app.complete(&a, json!({})).await;
    let done = app.wait_for_status(&id, "COMPLETED").await;
    assert_eq!(done["tasks"][1]["status"], "SKIPPED");
    let unknown = app
        .call("PUT", &format!("/api/workflow/{id}/skiptask/nope"), None)
        .await;
    assert!(
        unknown.status == 409 || unknown.status == 400,
        "{}",
        unknown.text
    );
    app.stop().await;
}

#[tokio::test]
async fn idempotency_keys_follow_their_strategy() {
    let app = TestApp::spawn().await;
    setup(&app).await;
    let start = |strategy: &str| json!({"name": "two_steps", "idempotencyKey": "order-1", "idempotencyStrategy": strategy});
    let first = app.post("/api/workflow", start("FAIL")).await;
    assert_eq!(first.status, 200);
    let again = app.post("/api/workflow", start("FAIL")).await;
    assert_eq!(again.status, 409, "{}", again.text);
    let existing = app.post("/api/workflow", start("RETURN_EXISTING")).await;
    assert_eq!(existing.text, first.text);
    let running = app.post("/api/workflow", start("FAIL_ON_RUNNING")).await;
    assert_eq!(running.status, 409);
    app.call("DELETE", &format!("/api/workflow/{}", first.text), None)
        .await;
    let fresh = app.post("/api/workflow", start("FAIL_ON_RUNNING")).await;
    assert_eq!(fresh.status, 200, "{}", fresh.text);
    assert_ne!(fresh.text, first.text);
    app.stop().await;
}

#[tokio::test]
async fn search_filters_pages_and_sorts() {
    let app = TestApp::spawn().await;
    setup(&app).await;
    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(
            app.start("two_steps", json!({"n": n, "tag": format!("item-{n}")}))
                .await,
        );
        app.advance(1000);
    }
    app.call("DELETE", &format!("/api/workflow/{}", ids[0]), None)
        .await;
    let all = app.get("/api/workflow/search?query=workflowType%3Dtwo_steps&size=2&start=0&sort=startTime:DESC").await.json();
    assert_eq!(all["totalHits"], 5);
    assert_eq!(all["results"].as_array().map(Vec::len), Some(2));
    assert_eq!(all["results"][0]["workflowId"], json!(ids[4]));
    assert!(
        all["results"][0]["startTime"]
            .as_str()
            .unwrap_or("")
            .ends_with('Z')
    );
    assert!(all["results"][0]["input"].is_string());
    // A running workflow has no end time yet: the field is absent, as in Conductor.
    assert!(
        all["results"][0].get("endTime").is_none(),
        "{}",
        all["results"][0]
    );
    let terminated = app
        .get("/api/workflow/search?query=status%20IN%20(TERMINATED)")
        .await
        .json();
    assert_eq!(terminated["totalHits"], 1);
    assert!(
        terminated["results"][0]["endTime"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );
    let text = app.get("/api/workflow/search?freeText=item-3").await.json();
    assert_eq!(text["totalHits"], 1);
    assert_eq!(text["results"][0]["workflowId"], json!(ids[3]));
    let tasks = app
        .get("/api/tasks/search?query=taskType%3Dstep_a%20AND%20status%3DSCHEDULED")
        .await
        .json();
    assert_eq!(tasks["totalHits"], 4);
    app.stop().await;
}

#[tokio::test]
async fn execute_waits_for_the_result() {
    let app = TestApp::spawn().await;
    setup(&app).await;
    let poller = {
        let base = app.base.clone();
        let client = app.client.clone();
        tokio::spawn(async move {
            for task_type in ["step_a", "step_b"] {
                loop {
                    let tasks: Vec<Value> = client
                        .get(format!(
                            "{base}/api/tasks/poll/batch/{task_type}?workerid=w&count=1&timeout=500"
                        ))
                        .send()
                        .await
                        .expect("poll")
                        .json()
                        .await
                        .expect("json");
                    if let Some(task) = tasks.first() {
                        client
                            .post(format!("{base}/api/tasks"))
                            .json(&json!({"workflowInstanceId": task["workflowInstanceId"], "taskId": task["taskId"], "status": "COMPLETED", "outputData": {"by": task_type}}))
                            .send()
                            .await
                            .expect("update");
                        break;
                    }
                }
            }
        })
    };
    let run = app
        .post(
            "/api/workflow/execute/two_steps/1?requestId=req-1&waitForSeconds=10",
            json!({"input": {"n": 1}}),
        )
        .await;
    assert_eq!(run.status, 200, "{}", run.text);
    let run = run.json();
    assert_eq!(run["status"], "COMPLETED");
    assert_eq!(run["output"], json!({"by": "step_b"}));
    assert_eq!(run["requestId"], "req-1");
    assert_eq!(run["responseType"], "TARGET_WORKFLOW");
    poller.await.expect("poller");
    app.stop().await;
}

#[tokio::test]
async fn bulk_operations_report_each_id() {
    let app = TestApp::spawn().await;
    setup(&app).await;
    let a = app.start("two_steps", json!({})).await;
    let b = app.start("two_steps", json!({})).await;
    let answer = app
        .call(
            "PUT",
            "/api/workflow/bulk/pause",
            Some(json!([a, b, "missing"])),
        )
        .await
        .json();
    assert_eq!(answer["bulkSuccessfulResults"], json!([a, b]));
    assert!(
        answer["bulkErrorResults"]["missing"]
            .as_str()
            .unwrap_or("")
            .contains("not found")
    );
    let answer = app
        .post("/api/workflow/bulk/terminate?reason=cleanup", json!([a, b]))
        .await
        .json();
    assert_eq!(
        answer["bulkSuccessfulResults"].as_array().map(Vec::len),
        Some(2)
    );
    assert_eq!(app.workflow(&a).await["reasonForIncompletion"], "cleanup");
    app.stop().await;
}

#[tokio::test]
async fn definitions_and_tags_round_trip() {
    let app = TestApp::spawn().await;
    setup(&app).await;
    let mut v2 = linear("two_steps", &[("step_a", "a")]);
    v2["version"] = json!(2);
    let bulk = app
        .call("PUT", "/api/metadata/workflow", Some(json!([v2])))
        .await;
    assert_eq!(bulk.status, 200, "{}", bulk.text);
    assert_eq!(
        app.get("/api/metadata/workflow/two_steps").await.json()["version"],
        2
    );
    assert_eq!(
        app.get("/api/metadata/workflow/two_steps?version=1")
            .await
            .json()["tasks"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    assert_eq!(
        app.get("/api/metadata/workflow")
            .await
            .json()
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    assert_eq!(
        app.call("DELETE", "/api/metadata/workflow/two_steps/2", None)
            .await
            .status,
        200
    );
    assert_eq!(
        app.get("/api/metadata/workflow/two_steps").await.json()["version"],
        1
    );

    let tag = json!({"key": "team", "type": "METADATA", "value": "payments"});
    assert_eq!(
        app.post("/api/metadata/workflow/two_steps/tags", tag.clone())
            .await
            .status,
        200
    );
    assert_eq!(
        app.get("/api/metadata/workflow/two_steps/tags")
            .await
            .json(),
        json!([tag])
    );
    assert_eq!(
        app.call(
            "DELETE",
            "/api/metadata/workflow/two_steps/tags",
            Some(tag.clone())
        )
        .await
        .status,
        200
    );
    assert_eq!(
        app.get("/api/metadata/workflow/two_steps/tags")
            .await
            .json(),
        json!([])
    );
    assert_eq!(
        app.call("PUT", "/api/metadata/task/step_a/tags", Some(json!([tag])))
            .await
            .status,
        200
    );
    assert_eq!(app.get("/api/metadata/tags").await.json(), json!([tag]));

    let mut def = app.get("/api/metadata/taskdefs/step_a").await.json();
    def["retryCount"] = json!(5);
    assert_eq!(
        app.call("PUT", "/api/metadata/taskdefs", Some(def))
            .await
            .status,
        200
    );
    assert_eq!(
        app.get("/api/metadata/taskdefs/step_a").await.json()["retryCount"],
        5
    );
    assert_eq!(
        app.call("DELETE", "/api/metadata/taskdefs/step_a", None)
            .await
            .status,
        200
    );
    assert_eq!(
        app.call("DELETE", "/api/metadata/taskdefs/step_a", None)
            .await
            .status,
        404
    );
    app.stop().await;
}

#[tokio::test]
async fn a_running_workflow_is_upgraded_to_a_new_version_and_goes_on_there() {
    let app = TestApp::spawn().await;
    app.register(
        json!([task_def("up_a"), task_def("up_b"), task_def("up_c")]),
        linear("upgraded", &[("up_a", "a"), ("up_b", "b")]),
    )
    .await;
    let id = app.start("upgraded", json!({"n": 1})).await;
    let first = app.poll("up_a", 1, 0).await.remove(0);
    app.complete(&first, json!({"a": 1})).await;
    // Version 2 puts a new task before b and one after it.
    let v2 = json!({"name": "upgraded", "version": 2, "tasks": [
        {"name": "up_c", "taskReferenceName": "pre", "type": "SIMPLE"},
        {"name": "up_a", "taskReferenceName": "a", "type": "SIMPLE"},
        {"name": "up_b", "taskReferenceName": "b", "type": "SIMPLE"},
        {"name": "up_c", "taskReferenceName": "post", "type": "SIMPLE",
         "inputParameters": {"pre": "${pre.output.note}"}}]});
    app.register(json!([]), v2).await;

    // Refused: another workflow's name, output for a task not skipped, no such version.
    for (body, status) in [
        (json!({"name": "other", "version": 2}), 400),
        (
            json!({"name": "upgraded", "version": 2, "taskOutput": {"post": {}}}),
            400,
        ),
        (json!({"name": "upgraded", "version": 9}), 404),
    ] {
        let answer = app
            .post(&format!("/api/workflow/{id}/upgrade"), body.clone())
            .await;
        assert_eq!(answer.status, status, "{body}: {}", answer.text);
    }
    let answer = app
        .post(
            &format!("/api/workflow/{id}/upgrade"),
            json!({"name": "upgraded", "version": 2,
                   "taskOutput": {"pre": {"note": "given"}}, "workflowInput": {"n": 2}}),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let workflow = app.workflow(&id).await;
    assert_eq!(workflow["workflowVersion"], 2, "{workflow}");
    assert_eq!(workflow["input"]["n"], 2);
    let pre = workflow["tasks"]
        .as_array()
        .and_then(|tasks| tasks.iter().find(|t| t["referenceTaskName"] == "pre"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(pre["status"], "SKIPPED", "{workflow}");
    assert_eq!(pre["outputData"]["note"], "given");
    // It goes on from b, then runs the new task after it, which reads pre's output.
    let b = app.poll("up_b", 1, 0).await.remove(0);
    assert_eq!(b["workflowInstanceId"], id.as_str());
    app.complete(&b, json!({})).await;
    let post = app.poll("up_c", 1, 500).await.remove(0);
    assert_eq!(post["referenceTaskName"], "post");
    assert_eq!(post["inputData"]["pre"], "given");
    app.complete(&post, json!({})).await;
    app.wait_for_status(&id, "COMPLETED").await;
    // An ended workflow is not upgraded.
    let answer = app
        .post(
            &format!("/api/workflow/{id}/upgrade"),
            json!({"name": "upgraded", "version": 1}),
        )
        .await;
    assert_eq!(answer.status, 409, "{}", answer.text);
    app.stop().await;
}

#[tokio::test]
async fn an_upgrade_needs_a_version_that_has_the_tasks_in_progress_and_the_right_to_run_it() {
    let app = TestApp::spawn().await;
    app.register(
        json!([task_def("keep_a"), task_def("secret_task")]),
        linear("guarded", &[("keep_a", "a")]),
    )
    .await;
    let id = app.start("guarded", json!({})).await;
    // Version 2 drops the task the run is at.
    app.register(json!([]), linear_v("guarded", 2, &[("secret_task", "s")]))
        .await;
    let answer = app
        .post(
            &format!("/api/workflow/{id}/upgrade"),
            json!({"name": "guarded", "version": 2}),
        )
        .await;
    assert_eq!(answer.status, 400, "{}", answer.text);
    assert!(
        answer.text.contains("Task a is not finished"),
        "{}",
        answer.text
    );

    // An operator of the run who may not start version 3 (a task it has no
    // EXECUTE on) cannot move the run onto it.
    app.register(
        json!([]),
        linear_v("guarded", 3, &[("keep_a", "a"), ("secret_task", "s")]),
    )
    .await;
    let operator = application(&app, "operator", &[]).await;
    let granted = crate::helpers::grant(
        &app,
        &format!("app:{}", operator.id),
        "WORKFLOW_DEF",
        "guarded",
        &["EXECUTE", "READ"],
    )
    .await;
    assert_eq!(granted.status, 200, "{}", granted.text);
    let granted = crate::helpers::grant(
        &app,
        &format!("app:{}", operator.id),
        "TASK_DEF",
        "keep_a",
        &["EXECUTE"],
    )
    .await;
    assert_eq!(granted.status, 200, "{}", granted.text);
    let refused = app
        .call_as(
            Some(&operator.token),
            "POST",
            &format!("/api/workflow/{id}/upgrade"),
            Some(json!({"name": "guarded", "version": 3})),
        )
        .await;
    assert_eq!(refused.status, 403, "{}", refused.text);
    assert!(refused.text.contains("secret_task"), "{}", refused.text);
    // A stranger learns nothing of the run.
    let stranger = application(&app, "stranger", &[]).await;
    let hidden = app
        .call_as(
            Some(&stranger.token),
            "POST",
            &format!("/api/workflow/{id}/upgrade"),
            Some(json!({})),
        )
        .await;
    assert_eq!(hidden.status, 403, "{}", hidden.text);
    assert!(!hidden.text.contains("name"), "{}", hidden.text);
    app.stop().await;
}

fn linear_v(name: &str, version: i32, refs: &[(&str, &str)]) -> Value {
    let mut def = linear(name, refs);
    def["version"] = json!(version);
    def
}

#[tokio::test]
async fn correlation_ids_and_idempotency_keys_are_bounded() {
    let app = TestApp::spawn().await;
    setup(&app).await;
    let long = "c".repeat(1025);
    let taken = app
        .post(
            "/api/workflow",
            json!({"name": "two_steps", "idempotencyKey": "event:abc:h:0"}),
        )
        .await;
    assert_eq!(taken.status, 400, "{}", taken.text);
    assert!(taken.text.contains("event handlers"), "{}", taken.text);
    for body in [
        json!({"name": "two_steps", "correlationId": long}),
        json!({"name": "two_steps", "idempotencyKey": long}),
        json!({"name": "two_steps", "correlationId": "line\nbreak"}),
    ] {
        let answer = app.post("/api/workflow", body.clone()).await;
        assert_eq!(answer.status, 400, "{body}: {}", answer.text);
        assert!(answer.text.contains("1024 bytes"), "{}", answer.text);
    }
    // A schedule naming one is refused when saved, not when it fires.
    let answer = app
        .post(
            "/api/scheduler/schedules",
            json!({"name": "long_key", "cronExpression": "0 0 0 1 1 ?",
                   "startWorkflowRequest": {"name": "two_steps", "correlationId": long}}),
        )
        .await;
    assert_eq!(answer.status, 400, "{}", answer.text);
    let id = app.start("two_steps", json!({})).await;
    let answer = app
        .post(
            &format!("/api/workflow/{id}/rerun"),
            json!({"reRunFromWorkflowId": id, "correlationId": long}),
        )
        .await;
    assert_eq!(answer.status, 400, "{}", answer.text);
    // At the bound, it is kept as given.
    let fine = "k".repeat(1024);
    let answer = app
        .post(
            "/api/workflow",
            json!({"name": "two_steps", "correlationId": fine}),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let run = app.workflow(&answer.text).await;
    assert_eq!(run["correlationId"], json!(fine));
    app.stop().await;
}
