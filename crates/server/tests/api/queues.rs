//! Queues: leases, long polls, callbacks, domains and worker updates.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::{TestApp, application, linear, task_def};

#[tokio::test]
async fn concurrent_pollers_never_get_the_same_task() {
    let app = TestApp::spawn().await;
    app.register(
        json!([task_def("busy")]),
        linear("busy_flow", &[("busy", "a")]),
    )
    .await;
    let mut ids = Vec::new();
    for n in 0..60 {
        ids.push(app.start("busy_flow", json!({"n": n})).await);
    }
    let mut pollers = Vec::new();
    for worker in 0..12 {
        let base = app.base.clone();
        let client = app.client.clone();
        pollers.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            let mut empty = 0;
            while empty < 3 {
                let tasks: Vec<Value> = client
                    .get(format!("{base}/api/tasks/poll/batch/busy?workerid=w{worker}&count=2&timeout=50"))
                    .send()
                    .await
                    .expect("poll")
                    .json()
                    .await
                    .expect("json");
                if tasks.is_empty() {
                    empty += 1;
                    continue;
                }
                for task in tasks {
                    assert_eq!(task["workerId"], format!("w{worker}"));
                    client
                        .post(format!("{base}/api/tasks"))
                        .json(&json!({"workflowInstanceId": task["workflowInstanceId"], "taskId": task["taskId"], "status": "COMPLETED", "outputData": {"by": worker}}))
                        .send()
                        .await
                        .expect("update");
                    mine.push(task["taskId"].as_str().unwrap_or_default().to_string());
                }
            }
            mine
        }));
    }
    let mut seen = HashSet::new();
    for poller in pollers {
        for id in poller.await.expect("poller") {
            assert!(seen.insert(id.clone()), "task {id} was delivered twice");
        }
    }
    assert_eq!(seen.len(), 60);
    for id in ids {
        app.wait_for_status(&id, "COMPLETED").await;
    }
    app.stop().await;
}

#[tokio::test]
async fn a_long_poll_parks_until_a_task_arrives() {
    let app = TestApp::spawn().await;
    app.register(
        json!([task_def("late")]),
        linear("late_flow", &[("late", "a")]),
    )
    .await;
    let base = app.base.clone();
    let client = app.client.clone();
    let started = Instant::now();
    let poll = tokio::spawn(async move {
        client
            .get(format!(
                "{base}/api/tasks/poll/batch/late?workerid=w&count=1&timeout=3000"
            ))
            .send()
            .await
            .expect("poll")
            .json::<Vec<Value>>()
            .await
            .expect("json")
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let id = app.start("late_flow", json!({})).await;
    let tasks = poll.await.expect("poll task");
    let waited = started.elapsed();
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0]["workflowInstanceId"], json!(id));
    assert!(
        waited >= Duration::from_millis(300) && waited < Duration::from_millis(2500),
        "{waited:?}"
    );
    // With nothing queued the poll returns empty after its timeout, not before.
    let started = Instant::now();
    assert!(app.poll("late", 1, 400).await.is_empty());
    assert!(started.elapsed() >= Duration::from_millis(380));
    // A single poll with nothing queued answers 204.
    assert_eq!(app.get("/api/tasks/poll/late?workerid=w").await.status, 204);
    app.stop().await;
}

#[tokio::test]
async fn in_progress_with_a_callback_hands_the_task_back_later() {
    let app = TestApp::spawn().await;
    app.register(
        json!([task_def("slow")]),
        linear("slow_flow", &[("slow", "a")]),
    )
    .await;
    app.start("slow_flow", json!({})).await;
    let task = app.poll("slow", 1, 0).await.remove(0);
    let answer = app
        .post(
            "/api/tasks",
            json!({"workflowInstanceId": task["workflowInstanceId"], "taskId": task["taskId"], "status": "IN_PROGRESS", "callbackAfterSeconds": 60, "outputData": {"step": 1}}),
        )
        .await;
    assert_eq!(answer.status, 200);
    assert!(
        app.poll("slow", 1, 0).await.is_empty(),
        "not before its callback"
    );
    app.advance(61_000);
    let again = app.poll("slow", 1, 0).await;
    assert_eq!(again.len(), 1);
    assert_eq!(again[0]["pollCount"], 2);
    assert_eq!(again[0]["outputData"], json!({"step": 1}));
    app.stop().await;
}

#[tokio::test]
async fn a_lost_lease_times_the_task_out_and_retries_it() {
    let app = TestApp::spawn().await;
    app.register(
        json!([{"name": "flaky", "retryCount": 1, "retryDelaySeconds": 0, "responseTimeoutSeconds": 5}]),
        linear("flaky_flow", &[("flaky", "a")]),
    )
    .await;
    let id = app.start("flaky_flow", json!({})).await;
    let first = app.poll("flaky", 1, 0).await.remove(0);
    assert!(
        app.poll("flaky", 1, 0).await.is_empty(),
        "leased to the first worker"
    );
    app.advance(6_000);
    let mut retried = Vec::new();
    for _ in 0..100 {
        retried = app.poll("flaky", 1, 0).await;
        if !retried.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(retried.len(), 1, "the sweeper retried the timed-out task");
    assert_eq!(retried[0]["retryCount"], 1);
    let workflow = app.workflow(&id).await;
    assert_eq!(workflow["tasks"][0]["status"], "TIMED_OUT");
    // The first worker's late answer is accepted and ignored.
    assert_eq!(
        app.complete(&first, json!({"late": true})).await.status,
        200
    );
    assert_eq!(app.workflow(&id).await["tasks"][0]["status"], "TIMED_OUT");
    app.complete(&retried[0], json!({})).await;
    app.wait_for_status(&id, "COMPLETED").await;
    app.stop().await;
}

#[tokio::test]
async fn update_v2_hands_over_the_next_task() {
    let app = TestApp::spawn().await;
    app.register(
        json!([task_def("chain")]),
        linear("chain_flow", &[("chain", "a"), ("chain", "b")]),
    )
    .await;
    let id = app.start("chain_flow", json!({})).await;
    let a = app.poll("chain", 1, 0).await.remove(0);
    let result = |task: &Value| json!({"workflowInstanceId": task["workflowInstanceId"], "taskId": task["taskId"], "status": "COMPLETED", "workerId": "w1"});
    let next = app.post("/api/tasks/update-v2", result(&a)).await;
    assert_eq!(next.status, 200, "{}", next.text);
    let b = next.json();
    assert_eq!(b["referenceTaskName"], "b");
    assert_eq!(b["workerId"], "w1");
    let last = app.post("/api/tasks/update-v2", result(&b)).await;
    assert_eq!(last.status, 204);
    app.wait_for_status(&id, "COMPLETED").await;
    app.stop().await;
}

#[tokio::test]
async fn update_by_reference_name_and_task_reads() {
    let app = TestApp::spawn().await;
    app.register(
        json!([task_def("named")]),
        linear("named_flow", &[("named", "a")]),
    )
    .await;
    let id = app.start("named_flow", json!({})).await;
    let answer = app
        .post(
            &format!("/api/tasks/{id}/a/COMPLETED?workerid=me"),
            json!({"merged": true}),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert!(answer.content_type.starts_with("text/plain"));
    let task = app.get(&format!("/api/tasks/{}", answer.text)).await.json();
    assert_eq!(task["status"], "COMPLETED");
    assert_eq!(task["outputData"], json!({"merged": true}));
    assert_eq!(task["workerId"], "me");
    app.wait_for_status(&id, "COMPLETED").await;
    let none = app
        .post(&format!("/api/tasks/{id}/a/COMPLETED"), json!({}))
        .await;
    assert_eq!((none.status, none.text.as_str()), (200, ""));
    let bad = app
        .post(&format!("/api/tasks/{id}/a/DONE"), json!({}))
        .await;
    assert_eq!(bad.status, 400);
    app.stop().await;
}

#[tokio::test]
async fn queue_sizes_and_poll_data() {
    let app = TestApp::spawn().await;
    app.register(
        json!([task_def("counted")]),
        linear("counted_flow", &[("counted", "a")]),
    )
    .await;
    for _ in 0..3 {
        app.start("counted_flow", json!({})).await;
    }
    let sizes = app
        .get("/api/tasks/queue/sizes?taskType=counted&taskType=other")
        .await
        .json();
    assert_eq!(sizes, json!({"counted": 3, "other": 0}));
    assert_eq!(app.get("/api/tasks/queue/all").await.json()["counted"], 3);
    // A domain queue is its own queue name: not counted under the bare type.
    let routed = app
        .post(
            "/api/workflow",
            json!({"name": "counted_flow", "taskToDomain": {"counted": "green"}}),
        )
        .await;
    assert_eq!(routed.status, 200);
    let sizes = app
        .get("/api/tasks/queue/sizes?taskType=counted&taskType=green:counted")
        .await
        .json();
    assert_eq!(sizes, json!({"counted": 3, "green:counted": 1}));
    app.poll("counted", 1, 0).await;
    let polls = app
        .get("/api/tasks/queue/polldata?taskType=counted")
        .await
        .json();
    assert_eq!(polls[0]["workerId"], "tester");
    assert_eq!(polls[0]["queueName"], "counted");
    let metrics = app.get("/metrics").await.text;
    assert!(
        metrics.contains("podium_queue_depth{queue=\"counted\"} 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("podium_workflows{status=\"RUNNING\"} 4"),
        "{metrics}"
    );
    assert!(metrics.contains("podium_http_requests_total{"));
    app.stop().await;
}

#[tokio::test]
async fn domains_route_tasks_to_their_workers() {
    let app = TestApp::spawn().await;
    app.register(
        json!([task_def("routed")]),
        linear("routed_flow", &[("routed", "a")]),
    )
    .await;
    let start = app
        .post(
            "/api/workflow",
            json!({"name": "routed_flow", "taskToDomain": {"*": "blue"}}),
        )
        .await;
    assert_eq!(start.status, 200);
    assert!(
        app.poll("routed", 1, 0).await.is_empty(),
        "no domain: not for me"
    );
    let blue = app
        .get("/api/tasks/poll/batch/routed?workerid=w&domain=blue&count=1&timeout=0")
        .await
        .json();
    assert_eq!(blue[0]["domain"], "blue");
    let start = app
        .post(
            "/api/workflow",
            json!({"name": "routed_flow", "taskToDomain": {"routed": "red,NO_DOMAIN"}}),
        )
        .await;
    assert_eq!(start.status, 200);
    assert_eq!(
        app.poll("routed", 1, 0).await.len(),
        1,
        "no red worker active: falls back to no domain"
    );
    app.stop().await;
}

/// A unit of work runs to its end, and wakes the long polls it concerns, even when
/// its caller stops waiting for it part-way (a request its client gave up on): the
/// unit below completes the first task of a workflow while its caller waits 50 ms
/// only, and a long poll for the second task, already waiting, gets it at once
/// (without the wake-up it would find it only when its queue hint expires, a second
/// later, or never if the unit had been cut off before its commit).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_unit_whose_caller_gives_up_still_ends_and_wakes_long_polls() {
    let app = TestApp::spawn().await;
    app.register(
        json!([task_def("given_up_a"), task_def("given_up_b")]),
        linear("given_up", &[("given_up_a", "a"), ("given_up_b", "b")]),
    )
    .await;
    let id = app.start("given_up", json!({})).await;
    let first = app
        .poll("given_up_a", 1, 1000)
        .await
        .pop()
        .expect("first task");
    let result: podium_core::model::TaskResult = serde_json::from_value(json!({
        "workflowInstanceId": id,
        "taskId": first["taskId"],
        "status": "COMPLETED",
    }))
    .expect("result");
    let rt = app.runtime().clone();
    let unit = rt.mutate(Some(id.clone()), move |txn, ctx| {
        // Long enough for the caller to give up while the unit runs; a unit's work
        // is synchronous, so a slow one blocks like this.
        #[allow(clippy::disallowed_methods)]
        std::thread::sleep(Duration::from_millis(200));
        let state = txn.state.as_mut().expect("workflow");
        let mut changes = std::mem::take(&mut txn.changes);
        let outcome = podium_core::engine::ops::apply_result(state, &result, ctx, &mut changes);
        txn.changes = changes;
        outcome.map(|_| ())
    });
    let began = Instant::now();
    let (second, gave_up) = tokio::join!(app.poll("given_up_b", 1, 5000), async {
        // The long poll is waiting on an empty queue before the unit starts.
        tokio::time::sleep(Duration::from_millis(100)).await;
        tokio::time::timeout(Duration::from_millis(50), unit).await
    });
    assert!(gave_up.is_err(), "the caller gave up before the unit ended");
    assert_eq!(second.len(), 1, "the long poll got the second task");
    let waited = began.elapsed();
    assert!(
        waited < Duration::from_millis(800),
        "the long poll was woken by the unit, not by its queue hint expiring: {waited:?}"
    );
    app.stop().await;
}

/// A worker whose `update-v2` call gave up (a client timeout) before its unit ran
/// is not handed a next task: the result is still recorded, but nothing is claimed
/// for a caller who will never receive it, so the next task is not left leased to
/// nobody until its response timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_v2_whose_caller_gave_up_claims_nothing() {
    let app = TestApp::spawn().await;
    app.register(
        json!([task_def("gone")]),
        linear("gone_flow", &[("gone", "a")]),
    )
    .await;
    let id = app.start("gone_flow", json!({})).await;
    let first = app.poll("gone", 1, 1000).await.pop().expect("first task");
    let other = app.start("gone_flow", json!({})).await;
    // A slow unit on the same workflow holds it while the caller gives up.
    let rt = app.runtime().clone();
    let held = id.clone();
    let slow = tokio::spawn(async move {
        rt.mutate(Some(held), |_, _| {
            // On PostgreSQL the unit runs on a runtime thread: its timers must go on.
            #[allow(clippy::disallowed_methods)]
            tokio::task::block_in_place(|| std::thread::sleep(Duration::from_millis(300)));
            Ok(())
        })
        .await
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let update = app
        .client
        .post(format!("{}/api/tasks/update-v2", app.base))
        .json(&json!({"workflowInstanceId": id, "taskId": first["taskId"],
                       "status": "COMPLETED", "workerId": "w1"}))
        .timeout(Duration::from_millis(100))
        .send()
        .await;
    assert!(
        update.is_err(),
        "the caller gave up before the unit ran: {:?}",
        update.map(|r| r.status())
    );
    slow.await.expect("joined").expect("the slow unit");
    // The result was recorded all the same, and the other run's task waits in its
    // queue for the next poll.
    app.wait_for_status(&id, "COMPLETED").await;
    let next = app.poll("gone", 1, 2000).await;
    assert_eq!(
        next.len(),
        1,
        "the next task was not claimed for the gone caller"
    );
    assert_eq!(next[0]["workflowInstanceId"], other);
    app.stop().await;
}

#[tokio::test]
async fn a_task_types_limits_hold_its_tasks_back_until_there_is_room() {
    let app = TestApp::spawn().await;
    let mut capped = task_def("capped");
    capped["concurrentExecLimit"] = json!(1);
    let mut paced = task_def("paced");
    paced["rateLimitPerFrequency"] = json!(2);
    paced["rateLimitFrequencyInSeconds"] = json!(60);
    app.register(
        json!([capped.clone(), paced]),
        linear("capped_flow", &[("capped", "a")]),
    )
    .await;
    app.register(json!([]), linear("paced_flow", &[("paced", "a")]))
        .await;
    for n in 0..3 {
        app.start("capped_flow", json!({"n": n})).await;
        app.start("paced_flow", json!({"n": n})).await;
    }

    // One in progress at a time: a batch gets one, and the next poll none.
    let first = app.poll("capped", 3, 0).await;
    assert_eq!(first.len(), 1);
    assert!(app.poll("capped", 3, 100).await.is_empty());
    // Its worker's update-v2 frees the place and is handed the next task.
    let answer = app
        .post(
            "/api/tasks/update-v2",
            json!({
                "workflowInstanceId": first[0]["workflowInstanceId"],
                "taskId": first[0]["taskId"],
                "status": "COMPLETED",
                "workerId": "tester"
            }),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.json()["taskType"], "capped", "{}", answer.text);
    assert!(app.poll("capped", 3, 0).await.is_empty());
    // A raised limit counts from the next poll.
    capped["concurrentExecLimit"] = json!(5);
    let answer = app
        .call("PUT", "/api/metadata/taskdefs", Some(capped))
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(app.poll("capped", 3, 0).await.len(), 1);

    // Two hand-outs a minute.
    assert_eq!(app.poll("paced", 3, 0).await.len(), 2);
    assert!(app.poll("paced", 3, 0).await.is_empty());
    app.advance(61_000);
    let last = app.poll("paced", 3, 0).await;
    assert_eq!(last.len(), 1);
    let task = app
        .get(&format!(
            "/api/tasks/{}",
            last[0]["taskId"].as_str().unwrap_or_default()
        ))
        .await
        .json();
    assert_eq!(task["rateLimitPerFrequency"], 2);
    assert_eq!(task["rateLimitFrequencyInSeconds"], 60);
    app.stop().await;
}

#[tokio::test]
async fn reset_callbacks_hands_a_waiting_task_back_now() {
    let app = TestApp::spawn().await;
    let mut patient = task_def("patient");
    // A poll timeout does not apply to a task its worker handed back: it is in
    // progress, as in Conductor.
    patient["pollTimeoutSeconds"] = json!(10);
    app.register(
        json!([patient]),
        linear("patient_flow", &[("patient", "a")]),
    )
    .await;
    let id = app.start("patient_flow", json!({})).await;
    let task = app.poll("patient", 1, 0).await.remove(0);
    let answer = app
        .post(
            "/api/tasks",
            json!({"workflowInstanceId": id, "taskId": task["taskId"], "status": "IN_PROGRESS", "callbackAfterSeconds": 3600}),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert!(app.poll("patient", 1, 0).await.is_empty());
    app.advance(20_000);
    let answer = app
        .post(&format!("/api/workflow/{id}/resetcallbacks"), json!({}))
        .await;
    assert_eq!(answer.status, 204, "{}", answer.text);
    assert_eq!(app.workflow(&id).await["status"], "RUNNING");
    let again = app.poll("patient", 1, 0).await;
    assert_eq!(again.len(), 1, "handed back without waiting an hour");
    assert_eq!(again[0]["callbackAfterSeconds"], 0);
    app.complete(&again[0], json!({})).await;
    app.wait_for_status(&id, "COMPLETED").await;
    // An ended workflow has no callbacks to reset: Conductor answers a conflict.
    let answer = app
        .post(&format!("/api/workflow/{id}/resetcallbacks"), json!({}))
        .await;
    assert_eq!(answer.status, 409, "{}", answer.text);
    assert!(
        answer.text.contains("Workflow is in terminal state"),
        "{}",
        answer.text
    );
    // A caller who may not operate the workflow is refused as for a missing one.
    let stranger = application(&app, "stranger", &["WORKER"]).await;
    let answer = app
        .call_as(
            Some(&stranger.token),
            "POST",
            &format!("/api/workflow/{id}/resetcallbacks"),
            None,
        )
        .await;
    assert_eq!(answer.status, 403, "{}", answer.text);
    app.stop().await;
}

#[tokio::test]
async fn requeue_queues_a_types_waiting_tasks_again_in_the_callers_executions() {
    let app = TestApp::spawn().await;
    app.register(
        json!([task_def("requeued")]),
        linear("requeue_flow", &[("requeued", "a")]),
    )
    .await;
    let handed_back = app.start("requeue_flow", json!({"n": 1})).await;
    let task = app.poll("requeued", 1, 0).await.remove(0);
    let answer = app
        .post(
            "/api/tasks",
            json!({"workflowInstanceId": handed_back, "taskId": task["taskId"],
                   "status": "IN_PROGRESS", "callbackAfterSeconds": 3600}),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let held = app.start("requeue_flow", json!({"n": 2})).await;
    let held_task = app.poll("requeued", 1, 0).await.remove(0);
    assert_eq!(held_task["workflowInstanceId"], held.as_str());
    let waiting = app.start("requeue_flow", json!({"n": 3})).await;

    // A caller who may operate none of them queues nothing.
    let stranger = application(&app, "stranger", &["WORKER"]).await;
    let nothing = app
        .call_as(
            Some(&stranger.token),
            "POST",
            "/api/tasks/queue/requeue/requeued",
            None,
        )
        .await;
    assert_eq!(nothing.status, 200, "{}", nothing.text);
    assert_eq!(nothing.text, "0");

    // The two waiting tasks are queued again (the one a worker holds stays with it).
    let answer = app
        .post("/api/tasks/queue/requeue/requeued", json!({}))
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert!(
        answer.content_type.starts_with("text/plain"),
        "{}",
        answer.content_type
    );
    assert_eq!(answer.text, "2");
    // Each is handed out once: the waiting one now, the handed-back one when its
    // callback runs out, counted from its last update.
    let now = app.poll("requeued", 5, 0).await;
    assert_eq!(now.len(), 1, "{now:?}");
    assert_eq!(now[0]["workflowInstanceId"], waiting.as_str());
    app.advance(3_601_000);
    let later = app.poll("requeued", 5, 0).await;
    assert_eq!(later.len(), 1, "{later:?}");
    assert_eq!(later[0]["workflowInstanceId"], handed_back.as_str());
    let answer = app.post("/api/tasks/queue/requeue/%20", json!({})).await;
    assert_eq!(answer.status, 400, "{}", answer.text);
    app.stop().await;
}
