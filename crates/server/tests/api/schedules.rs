//! The scheduler API: schedules, their runs, and previews of cron expressions.

use serde_json::{Value, json};

use crate::helpers::{TestApp, application, grant, linear, task_def};

#[tokio::test]
async fn next_few_schedules_previews_a_cron_expression() {
    let app = TestApp::spawn().await;
    // 2027-01-15T08:00:00Z.
    let start = 1_800_000_000_000_i64 - 1_800_000_000_000 % 86_400_000 + 8 * 3_600_000;
    let preview = |query: String| {
        let app = &app;
        async move {
            app.get(&format!("/api/scheduler/nextFewSchedules?{query}"))
                .await
        }
    };
    let answer = preview(format!(
        "cronExpression=0+*/5+*+*+*+*&scheduleStartTime={start}&limit=3"
    ))
    .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let five_minutes = 300_000;
    assert_eq!(
        answer.json(),
        serde_json::json!([
            start + five_minutes,
            start + 2 * five_minutes,
            start + 3 * five_minutes
        ])
    );
    // At most five; none after the end; a limit of zero is none.
    let answer = preview(format!(
        "cronExpression=0+*/5+*+*+*+*&scheduleStartTime={start}&limit=50"
    ))
    .await;
    assert_eq!(answer.json().as_array().map(Vec::len), Some(5));
    let end = start + 2 * five_minutes;
    let answer = preview(format!(
        "cronExpression=0+*/5+*+*+*+*&scheduleStartTime={start}&scheduleEndTime={end}"
    ))
    .await;
    assert_eq!(answer.json().as_array().map(Vec::len), Some(2));
    let answer = preview("cronExpression=0+0+*+?+*+*&limit=0".into()).await;
    assert_eq!(answer.json(), json!([]));
    // Without a start, from the server's now (the test clock).
    let answer = preview("cronExpression=0+0+*+?+*+*&limit=1".into()).await;
    let now = app.clock_now_seconds() * 1000;
    let first = answer.json()[0].as_i64().unwrap_or_default();
    assert!(
        first > now && first <= now + 3_600_000,
        "{first} after {now}"
    );
    // What cannot be read is a 400 that names the cron expression (the Python SDK
    // turns such an answer into InvalidCronExpression).
    for query in [
        "cronExpression=0+0+*+*+*",
        "cronExpression=every+day",
        "limit=3",
        "cronExpression=0+0+*+*+*+*&limit=three",
    ] {
        let answer = preview(query.into()).await;
        assert_eq!(answer.status, 400, "{query}: {}", answer.text);
        assert_eq!(answer.json()["status"], 400, "{}", answer.text);
    }
    let answer = preview("cronExpression=0+0+*+*+*".into()).await;
    assert!(answer.text.contains("cron expression"), "{}", answer.text);
    app.stop().await;
}

/// Registers `nightly` (one worker task) for schedules to start.
async fn nightly(app: &TestApp) {
    app.register(
        json!([task_def("nightly_step")]),
        linear("nightly", &[("nightly_step", "a")]),
    )
    .await;
}

fn schedule(name: &str, cron: &str) -> Value {
    json!({"name": name, "cronExpression": cron, "zoneId": "UTC",
           "startWorkflowRequest": {"name": "nightly", "input": {"batch": 7}}})
}

/// The runs of one schedule, as the search answers them.
async fn runs(app: &TestApp, name: &str) -> Value {
    let answer = app
        .get(&format!(
            "/api/scheduler/search/executions?query=scheduleName+IN+({name})&sort=scheduledTime:ASC"
        ))
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    answer.json()
}

/// Waits (the scheduler looks once a second) until a schedule recorded `count` runs.
async fn wait_for_runs(app: &TestApp, name: &str, count: usize) -> Vec<Value> {
    for _ in 0..100 {
        let found = runs(app, name).await["results"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if found.len() >= count {
            return found;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!(
        "{name} did not record {count} runs: {}",
        runs(app, name).await
    );
}

#[tokio::test]
async fn schedules_are_saved_read_paused_resumed_tagged_and_deleted() {
    let app = TestApp::spawn().await;
    nightly(&app).await;
    let answer = app
        .post(
            "/api/scheduler/schedules",
            schedule("nightly-run", "0 0 2 * * ?"),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let got = app.get("/api/scheduler/schedules/nightly-run").await;
    assert_eq!(got.status, 200, "{}", got.text);
    let got = got.json();
    assert_eq!(got["cronExpression"], "0 0 2 * * ?");
    assert_eq!(got["startWorkflowRequest"]["input"]["batch"], 7);
    assert_eq!(got["paused"], false);
    assert!(got["createTime"].as_i64().is_some(), "{got}");
    assert!(
        got["createdBy"].as_str().is_some_and(|c| !c.is_empty()),
        "{got}"
    );
    let listed = app
        .get("/api/scheduler/schedules?workflowName=nightly")
        .await;
    assert_eq!(
        listed.json().as_array().map(Vec::len),
        Some(1),
        "{}",
        listed.text
    );
    let none = app.get("/api/scheduler/schedules?workflowName=other").await;
    assert_eq!(none.json(), json!([]));

    // Pause with PUT and a reason, resume with GET (the SDKs' fallback).
    let answer = app
        .call(
            "PUT",
            "/api/scheduler/schedules/nightly-run/pause?reason=maintenance",
            None,
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let got = app.get("/api/scheduler/schedules/nightly-run").await.json();
    assert_eq!(
        (got["paused"].clone(), got["pausedReason"].clone()),
        (json!(true), json!("maintenance"))
    );
    let answer = app.get("/api/scheduler/schedules/nightly-run/resume").await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let got = app.get("/api/scheduler/schedules/nightly-run").await.json();
    assert_eq!(got["paused"], false);
    assert!(got.get("pausedReason").is_none_or(Value::is_null), "{got}");

    // Tags.
    let tag = json!([{"key": "team", "value": "billing"}]);
    let answer = app
        .call(
            "PUT",
            "/api/scheduler/schedules/nightly-run/tags",
            Some(tag.clone()),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let tags = app
        .get("/api/scheduler/schedules/nightly-run/tags")
        .await
        .json();
    assert_eq!(tags[0]["key"], "team");
    assert_eq!(
        app.get("/api/scheduler/schedules/nightly-run").await.json()["tags"][0]["value"],
        "billing"
    );
    let answer = app
        .call(
            "DELETE",
            "/api/scheduler/schedules/nightly-run/tags",
            Some(tag),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(
        app.get("/api/scheduler/schedules/nightly-run/tags")
            .await
            .json(),
        json!([])
    );

    // Deleted: 404 with the message the SDKs look for; deleting again succeeds.
    let answer = app
        .call("DELETE", "/api/scheduler/schedules/nightly-run", None)
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let gone = app.get("/api/scheduler/schedules/nightly-run").await;
    assert_eq!(gone.status, 404, "{}", gone.text);
    assert_eq!(gone.json()["message"], "Schedule 'nightly-run' not found");
    let answer = app
        .call("DELETE", "/api/scheduler/schedules/nightly-run", None)
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    app.stop().await;
}

#[tokio::test]
async fn what_cannot_be_scheduled_is_refused_clearly() {
    let app = TestApp::spawn().await;
    nightly(&app).await;
    let mut no_request = schedule("s1", "0 0 * * * *");
    no_request["startWorkflowRequest"] = Value::Null;
    let mut backwards = schedule("s1", "0 0 * * * *");
    backwards["scheduleStartTime"] = json!(2_000);
    backwards["scheduleEndTime"] = json!(1_000);
    let mut prioritized = schedule("s1", "0 0 * * * *");
    prioritized["startWorkflowRequest"]["priority"] = json!(500);
    let mut bad_zone = schedule("s1", "0 0 * * * *");
    bad_zone["zoneId"] = json!("Mars/Olympus");
    for (body, says) in [
        (schedule("s1", "0 0 * * *"), "cron expression"),
        (schedule("s1", "every day"), "cron expression"),
        (bad_zone, "Mars/Olympus"),
        (no_request, "startWorkflowRequest"),
        (backwards, "scheduleEndTime"),
        (schedule("bad name!", "0 0 * * * *"), "Schedule name"),
        (schedule("", "0 0 * * * *"), "Schedule name"),
        (schedule("..", "0 0 * * * *"), "Schedule name"),
        (prioritized, "priority"),
    ] {
        let answer = app.post("/api/scheduler/schedules", body.clone()).await;
        assert_eq!(answer.status, 400, "{body}: {}", answer.text);
        assert!(answer.text.contains(says), "{says}: {}", answer.text);
    }
    let mut unknown = schedule("s1", "0 0 * * * *");
    unknown["startWorkflowRequest"]["name"] = json!("no_such_flow");
    let answer = app.post("/api/scheduler/schedules", unknown).await;
    assert_eq!(answer.status, 404, "{}", answer.text);
    assert!(answer.text.contains("no_such_flow"), "{}", answer.text);
    let answer = app
        .post("/api/scheduler/schedules", json!("not a schedule"))
        .await;
    assert_eq!(answer.status, 400, "{}", answer.text);
    for query in ["query=owner+%3D+me", "query=state+IN+(DONE)", "size=-1"] {
        let answer = app
            .get(&format!("/api/scheduler/search/executions?{query}"))
            .await;
        assert_eq!(answer.status, 400, "{query}: {}", answer.text);
    }
    assert_eq!(app.get("/api/scheduler/schedules").await.json(), json!([]));
    app.stop().await;
}

#[tokio::test]
async fn a_due_schedule_starts_its_workflow_once_as_its_saver() {
    let app = TestApp::spawn().await;
    nightly(&app).await;
    let answer = app
        .post(
            "/api/scheduler/schedules",
            schedule("every-minute", "0 * * * * *"),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    // Nothing is due until the minute turns.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(runs(&app, "every-minute").await["totalHits"], 0);
    app.advance(60_000);
    let found = wait_for_runs(&app, "every-minute", 1).await;
    let run = &found[0];
    assert_eq!(run["state"], "EXECUTED", "{run}");
    assert_eq!(run["scheduleName"], "every-minute");
    assert_eq!(run["workflowName"], "nightly");
    let id = run["workflowId"].as_str().unwrap_or_default().to_string();
    let started = app.workflow(&id).await;
    assert_eq!(started["input"]["batch"], 7);
    assert_eq!(started["input"]["_startedByScheduler"], "every-minute");
    assert_eq!(started["input"]["_scheduledTime"], run["scheduledTime"]);
    let saver = app
        .get("/api/scheduler/schedules/every-minute")
        .await
        .json()["updatedBy"]
        .clone();
    assert_eq!(started["createdBy"], saver);
    // Three minutes missed: without catch-up, one run, then on from now.
    app.advance(180_000);
    let found = wait_for_runs(&app, "every-minute", 2).await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(
        runs(&app, "every-minute").await["totalHits"],
        2,
        "{found:?}"
    );
    // With catch-up, every missed minute runs.
    let mut catching_up = schedule("every-minute", "0 * * * * *");
    catching_up["runCatchupScheduleInstances"] = json!(true);
    let answer = app.post("/api/scheduler/schedules", catching_up).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    app.advance(180_000);
    let found = wait_for_runs(&app, "every-minute", 5).await;
    let due: Vec<i64> = found
        .iter()
        .filter_map(|r| r["scheduledTime"].as_i64())
        .collect();
    assert_eq!(due.len(), 5, "{found:?}");
    assert!(
        due.windows(2).all(|w| w[0] < w[1]),
        "each due time once: {due:?}"
    );
    // Paused: nothing more runs.
    app.call("PUT", "/api/scheduler/schedules/every-minute/pause", None)
        .await;
    app.advance(120_000);
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(runs(&app, "every-minute").await["totalHits"], 5);
    app.stop().await;
}

#[tokio::test]
async fn a_schedule_runs_only_what_its_saver_may_start() {
    let app = TestApp::spawn().await;
    nightly(&app).await;
    let planner = application(&app, "planner", &["METADATA_API"]).await;
    // Without EXECUTE on the workflow, it may not schedule it.
    let answer = app
        .call_as(
            Some(&planner.token),
            "POST",
            "/api/scheduler/schedules",
            Some(schedule("planned", "0 * * * * *")),
        )
        .await;
    assert_eq!(answer.status, 403, "{}", answer.text);
    for (kind, name) in [("WORKFLOW_DEF", "nightly"), ("TASK_DEF", "nightly_step")] {
        let subject = format!("app:{}", planner.id);
        let granted = grant(&app, &subject, kind, name, &["EXECUTE"]).await;
        assert_eq!(granted.status, 200, "{}", granted.text);
    }
    let answer = app
        .call_as(
            Some(&planner.token),
            "POST",
            "/api/scheduler/schedules",
            Some(schedule("planned", "0 * * * * *")),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    // Another caller without rights on it cannot read, change or delete it.
    let other = application(&app, "other", &["METADATA_API"]).await;
    for (method, path, body) in [
        ("GET", "/api/scheduler/schedules/planned", None),
        ("PUT", "/api/scheduler/schedules/planned/pause", None),
        ("DELETE", "/api/scheduler/schedules/planned", None),
        (
            "POST",
            "/api/scheduler/schedules",
            Some(schedule("planned", "0 0 * * * *")),
        ),
    ] {
        let answer = app.call_as(Some(&other.token), method, path, body).await;
        assert_eq!(answer.status, 403, "{method} {path}: {}", answer.text);
    }
    let listed = app
        .call_as(Some(&other.token), "GET", "/api/scheduler/schedules", None)
        .await;
    assert_eq!(listed.json(), json!([]));
    // The saver loses EXECUTE: the next due time is refused, recorded, and the
    // schedule pauses with the reason.
    let revoked = app
        .call(
            "DELETE",
            "/api/auth/authorization",
            Some(json!({"subject": {"type": "USER", "id": format!("app:{}", planner.id)},
                        "target": {"type": "WORKFLOW_DEF", "id": "nightly"}, "access": ["EXECUTE"]})),
        )
        .await;
    assert_eq!(revoked.status, 200, "{}", revoked.text);
    app.advance(60_000);
    let found = wait_for_runs(&app, "planned", 1).await;
    assert_eq!(found[0]["state"], "FAILED", "{found:?}");
    assert!(
        found[0]["reason"]
            .as_str()
            .is_some_and(|r| r.starts_with("Security Error:")),
        "{found:?}"
    );
    let paused = app.get("/api/scheduler/schedules/planned").await.json();
    assert_eq!(paused["paused"], true, "{paused}");
    assert!(
        paused["pausedReason"]
            .as_str()
            .is_some_and(|r| r.starts_with("Security Error:")),
        "{paused}"
    );
    assert!(
        app.poll("nightly_step", 1, 0).await.is_empty(),
        "nothing was started"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_schedule_outlives_a_restart_and_runs_its_missed_time_once() {
    let app = TestApp::spawn().await;
    nightly(&app).await;
    let answer = app
        .post(
            "/api/scheduler/schedules",
            schedule("hourly", "0 0 * * * *"),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    // Down while it was due: it runs once after the restart.
    let app = app.restart().await;
    app.advance(2 * 3_600_000);
    let found = wait_for_runs(&app, "hourly", 1).await;
    assert_eq!(found[0]["state"], "EXECUTED", "{found:?}");
    let app = app.restart().await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(runs(&app, "hourly").await["totalHits"], 1);
    let id = found[0]["workflowId"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(app.workflow(&id).await["status"], "RUNNING");
    app.stop().await;
}

#[tokio::test]
async fn an_editor_of_the_workflow_does_not_borrow_the_savers_rights() {
    let app = TestApp::spawn().await;
    nightly(&app).await;
    let answer = app
        .call("PUT", "/api/secrets/vault_key", Some(json!("s3cr3t-value")))
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    // The admin schedules `nightly`; an editor may change `nightly` but may not
    // read the admin's secret.
    let answer = app
        .post(
            "/api/scheduler/schedules",
            schedule("admins-nightly", "0 * * * * *"),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let editor = application(&app, "editor", &["METADATA_API"]).await;
    let subject = format!("app:{}", editor.id);
    for (kind, name, access) in [
        (
            "WORKFLOW_DEF",
            "nightly",
            &["UPDATE", "READ", "EXECUTE"][..],
        ),
        ("TASK_DEF", "nightly_step", &["EXECUTE"][..]),
    ] {
        let granted = grant(&app, &subject, kind, name, access).await;
        assert_eq!(granted.status, 200, "{}", granted.text);
    }
    app.advance(1_000);
    let changed = json!({"name": "nightly", "version": 1, "tasks": [
        {"name": "nightly_step", "taskReferenceName": "a", "type": "SIMPLE",
         "inputParameters": {"key": "${workflow.secrets.vault_key}"}}
    ]});
    let answer = app
        .call_as(
            Some(&editor.token),
            "POST",
            "/api/metadata/workflow?overwrite=true",
            Some(changed),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    app.advance(60_000);
    let found = wait_for_runs(&app, "admins-nightly", 1).await;
    assert_eq!(found[0]["state"], "FAILED", "{found:?}");
    let reason = found[0]["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains(&editor.id) && reason.contains("vault_key"),
        "{reason}"
    );
    assert!(!reason.contains("s3cr3t-value"), "{reason}");
    assert_eq!(
        app.get("/api/scheduler/schedules/admins-nightly")
            .await
            .json()["paused"],
        true
    );
    assert!(
        app.poll("nightly_step", 1, 0).await.is_empty(),
        "nothing was started"
    );
    app.stop().await;
}

#[tokio::test]
async fn schedules_are_paused_and_resumed_in_bulk_and_scheduling_stopped_by_an_admin() {
    let app = TestApp::spawn().await;
    nightly(&app).await;
    for name in ["bulk-a", "bulk-b"] {
        let answer = app
            .post("/api/scheduler/schedules", schedule(name, "0 * * * * *"))
            .await;
        assert_eq!(answer.status, 200, "{}", answer.text);
    }
    let paused = app
        .call(
            "PUT",
            "/api/scheduler/bulk/pause",
            Some(json!(["bulk-a", "bulk-b", "no-such-schedule"])),
        )
        .await;
    assert_eq!(paused.status, 200, "{}", paused.text);
    let paused = paused.json();
    assert_eq!(paused["bulkSuccessfulResults"], json!(["bulk-a", "bulk-b"]));
    assert!(
        paused["bulkErrorResults"]["no-such-schedule"].is_string(),
        "{paused}"
    );
    assert_eq!(
        app.get("/api/scheduler/schedules/bulk-b").await.json()["paused"],
        true
    );
    // Someone who may not change them changes none.
    let stranger = application(&app, "stranger", &["METADATA_API"]).await;
    let refused = app
        .call_as(
            Some(&stranger.token),
            "PUT",
            "/api/scheduler/bulk/resume",
            Some(json!(["bulk-a"])),
        )
        .await;
    assert_eq!(refused.status, 200, "{}", refused.text);
    assert!(refused.json()["bulkErrorResults"]["bulk-a"].is_string());
    let resumed = app
        .call("PUT", "/api/scheduler/bulk/resume", Some(json!(["bulk-a"])))
        .await;
    assert_eq!(resumed.json()["bulkSuccessfulResults"], json!(["bulk-a"]));

    // An admin stops all scheduling on the node: a due time passes without a run,
    // and is run once scheduling resumes.
    let stopped = app.get("/api/scheduler/admin/pause").await;
    assert_eq!(stopped.status, 200, "{}", stopped.text);
    assert_eq!(stopped.json()["schedulingPaused"], true);
    app.advance(60_000);
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(runs(&app, "bulk-a").await["totalHits"], 0);
    let requeued = app.get("/api/scheduler/admin/requeue").await;
    assert_eq!(requeued.status, 200, "{}", requeued.text);
    for path in ["/api/scheduler/admin/pause", "/api/scheduler/admin/resume"] {
        let refused = app.call_as(Some(&stranger.token), "GET", path, None).await;
        assert_eq!(refused.status, 403, "{path}: {}", refused.text);
    }
    let started = app.get("/api/scheduler/admin/resume").await;
    assert_eq!(started.json()["schedulingPaused"], false);
    wait_for_runs(&app, "bulk-a", 1).await;
    assert_eq!(runs(&app, "bulk-b").await["totalHits"], 0, "still paused");
    app.stop().await;
}

/// One principal may have made at most 500 schedules (of those there now).
#[tokio::test]
async fn one_principal_makes_a_bounded_number_of_schedules() {
    let app = TestApp::spawn().await;
    nightly(&app).await;
    let yearly = "0 0 0 1 1 ?";
    for i in 0..500 {
        let answer = app
            .post(
                "/api/scheduler/schedules",
                schedule(&format!("s{i}"), yearly),
            )
            .await;
        assert_eq!(answer.status, 200, "{i}: {}", answer.text);
    }
    let refused = app
        .post("/api/scheduler/schedules", schedule("s500", yearly))
        .await;
    assert_eq!(refused.status, 400, "{}", refused.text);
    assert!(refused.text.contains("500 schedules"), "{}", refused.text);
    // Changing one of its own is not making another.
    let again = app
        .post("/api/scheduler/schedules", schedule("s1", yearly))
        .await;
    assert_eq!(again.status, 200, "{}", again.text);
    let gone = app
        .call("DELETE", "/api/scheduler/schedules/s0", None)
        .await;
    assert_eq!(gone.status, 200, "{}", gone.text);
    let answer = app
        .post("/api/scheduler/schedules", schedule("s500", yearly))
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    app.stop().await;
}
