//! Event handlers: kept and read as the SDKs' event clients do it, and acting on
//! what `EVENT` tasks publish, as the principal who last saved each handler.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{TestApp, application, grant, task_def};

fn handler(name: &str, event: &str, actions: Value) -> Value {
    json!({"name": name, "event": event, "active": true, "actions": actions})
}

fn names(list: &Value) -> Vec<String> {
    list.as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|h| h["name"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn handlers_are_added_read_changed_tagged_and_removed() {
    let app = TestApp::spawn().await;
    // A workflow not defined yet is taken, as Orkes does (it is checked when an
    // action starts it).
    let start = json!([{"action": "start_workflow", "start_workflow": {"name": "nowhere"}}]);
    let later = app
        .post("/api/event", handler("h0", "conductor:a:b", start.clone()))
        .await;
    assert_eq!(later.status, 200, "{}", later.text);
    let example = app.get("/api/event/handler/").await;
    assert_eq!(example.status, 200, "{}", example.text);
    assert!(example.json()["actions"].is_array(), "{}", example.text);
    let noop = |name: &str, event: &str| {
        json!({"name": name, "event": event, "active": true, "description": "d",
               "condition": "$.ok == true", "evaluatorType": "javascript",
               "tags": [{"key": "team", "value": "a"}],
               "actions": [{"action": "complete_task",
                            "complete_task": {"workflowId": "${target}", "taskRefName": "wait"}}]})
    };
    // One handler, or a list of them as the Orkes SDK sends it.
    let added = app
        .post("/api/event", noop("h1", "conductor:flow:done"))
        .await;
    assert_eq!(added.status, 200, "{}", added.text);
    let added = app
        .post(
            "/api/event",
            json!([
                noop("h2", "conductor:flow:done"),
                noop("h3", "conductor:flow:other")
            ]),
        )
        .await;
    assert_eq!(added.status, 200, "{}", added.text);
    let again = app.post("/api/event", noop("h1", "x")).await;
    assert_eq!(again.status, 409, "{}", again.text);
    assert!(
        again
            .text
            .contains("EventHandler with name h1 already exists!")
    );

    let one = app.get("/api/event/handler/h1").await;
    assert_eq!(one.status, 200, "{}", one.text);
    let one = one.json();
    assert_eq!(
        (
            one["event"].clone(),
            one["condition"].clone(),
            one["evaluatorType"].clone()
        ),
        (
            json!("conductor:flow:done"),
            json!("$.ok == true"),
            json!("javascript")
        )
    );
    assert!(
        one["createdBy"]
            .as_str()
            .is_some_and(|c| c.starts_with("app:")),
        "{one}"
    );
    assert_eq!(one["tags"], json!([{"key": "team", "value": "a"}]));
    assert_eq!(one["actions"][0]["action"], "complete_task");
    assert_eq!(
        names(&app.get("/api/event").await.json()),
        ["h0", "h1", "h2", "h3"]
    );
    assert_eq!(
        names(&app.get("/api/event/conductor:flow:done").await.json()),
        ["h1", "h2"]
    );

    let mut changed = noop("h2", "conductor:flow:done");
    changed["active"] = json!(false);
    changed["description"] = json!("switched off");
    let updated = app.call("PUT", "/api/event", Some(changed)).await;
    assert_eq!(updated.status, 200, "{}", updated.text);
    let read = app.get("/api/event/handler/h2").await.json();
    assert_eq!(
        (read["active"].clone(), read["description"].clone()),
        (json!(false), json!("switched off"))
    );
    assert_eq!(
        names(&app.get("/api/event/conductor:flow:done").await.json()),
        ["h1"],
        "active ones only by default"
    );
    assert_eq!(
        names(
            &app.get("/api/event/conductor:flow:done?activeOnly=false")
                .await
                .json()
        ),
        ["h1", "h2"]
    );
    let missing = app
        .call("PUT", "/api/event", Some(noop("nope", "conductor:x:y")))
        .await;
    assert_eq!(missing.status, 404, "{}", missing.text);

    // Tags: added, read, one taken away.
    let tag = |key: &str| json!({"key": key, "value": "v"});
    let put = app
        .call(
            "PUT",
            "/api/event/h3/tags",
            Some(json!([tag("x"), tag("y")])),
        )
        .await;
    assert_eq!(put.status, 200, "{}", put.text);
    let removed = app
        .call("DELETE", "/api/event/h3/tags", Some(json!([tag("x")])))
        .await;
    assert_eq!(removed.status, 200, "{}", removed.text);
    let tags = app.get("/api/event/h3/tags").await.json().to_string();
    assert!(tags.contains("\"y\"") && !tags.contains("\"x\""), "{tags}");

    // Bad handlers get a clear 400.
    for (body, says) in [
        (json!({"name": "", "event": "e", "actions": []}), "name"),
        (
            json!({"name": "n", "event": "", "actions": []}),
            "Missing event location",
        ),
        (
            json!({"name": "n", "event": "e", "evaluatorType": "python", "actions": []}),
            "evaluatorType",
        ),
        (
            json!({"name": "n", "event": "e", "actions": [{"action": "fail_task"}]}),
            "fail_task",
        ),
        (
            json!({"name": "n", "event": "e", "actions": [{"action": "explode"}]}),
            "explode",
        ),
    ] {
        let answer = app.post("/api/event", body.clone()).await;
        assert_eq!(answer.status, 400, "{body}: {}", answer.text);
        assert!(answer.text.contains(says), "{says}: {}", answer.text);
    }

    let deleted = app.call("DELETE", "/api/event/h1", None).await;
    assert_eq!(deleted.status, 200, "{}", deleted.text);
    assert_eq!(app.get("/api/event/handler/h1").await.status, 404);
    let again = app.call("DELETE", "/api/event/h1", None).await;
    assert_eq!(again.status, 404, "{}", again.text);
    app.stop().await;
}

/// A workflow that waits, one that publishes, and one an event starts.
async fn flows(app: &TestApp) {
    app.register(
        json!([task_def("follow_up")]),
        json!({"name": "waiter", "version": 1, "tasks": [
            {"name": "wait", "taskReferenceName": "wait", "type": "WAIT"}]}),
    )
    .await;
    app.register(
        json!([]),
        json!({"name": "publisher", "version": 1, "tasks": [
            {"name": "announce", "taskReferenceName": "announce", "type": "EVENT",
             "sink": "conductor:ready",
             "inputParameters": {"target": "${workflow.input.target}", "go": "${workflow.input.go}",
                                 "amount": "${workflow.input.amount}"}}]}),
    )
    .await;
    app.register(
        json!([]),
        json!({"name": "follower", "version": 1, "tasks": [
            {"name": "follow_up", "taskReferenceName": "f", "type": "SIMPLE"}]}),
    )
    .await;
}

/// Waits until `check` holds (the jobs run in real time).
async fn eventually(
    app: &TestApp,
    what: &str,
    check: impl Fn(&Value) -> bool,
    path: &str,
) -> Value {
    for _ in 0..200 {
        let answer = app.get(path).await.json();
        if check(&answer) {
            return answer;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{what}: {}", app.get(path).await.text);
}

#[tokio::test]
async fn an_event_task_signals_another_workflow_and_starts_one_through_handlers() {
    let app = TestApp::spawn().await;
    flows(&app).await;
    let actions = json!([
        {"action": "complete_task",
         "complete_task": {"workflowId": "${target}", "taskRefName": "wait",
                           "output": {"from": "${workflowInstanceId}", "amount": "${amount}"}}},
        {"action": "start_workflow",
         "start_workflow": {"name": "follower", "input": {"origin": "${workflowInstanceId}"},
                            "correlationId": "event-${amount}"}}]);
    let mut conditional = handler("on_ready", "conductor:publisher:ready", actions);
    conditional["condition"] = json!("$.go == true");
    assert_eq!(app.post("/api/event", conditional).await.status, 200);
    // Switched off, or listening elsewhere: these never act.
    let mut off = handler(
        "off",
        "conductor:publisher:ready",
        json!([{"action": "terminate_workflow", "terminate_workflow": {"workflowId": "${target}"}}]),
    );
    off["active"] = json!(false);
    assert_eq!(app.post("/api/event", off).await.status, 200);

    // The condition does not hold: nothing happens to the waiter.
    let waiter = app.start("waiter", json!({})).await;
    let quiet = app
        .start(
            "publisher",
            json!({"target": waiter, "go": false, "amount": 5}),
        )
        .await;
    let published = app.wait_for_status(&quiet, "COMPLETED").await;
    let task = &published["tasks"][0];
    assert_eq!(
        task["outputData"]["event_produced"], "conductor:publisher:ready",
        "{task}"
    );
    assert_eq!(task["outputData"]["workflowInstanceId"], quiet.as_str());
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(app.workflow(&waiter).await["status"], "RUNNING");

    // It holds: the waiter's task completes with the event's data, and the
    // follower starts as the handler's saver.
    let loud = app
        .start(
            "publisher",
            json!({"target": waiter, "go": true, "amount": 7}),
        )
        .await;
    let done = app.wait_for_status(&waiter, "COMPLETED").await;
    let wait = &done["tasks"][0];
    assert_eq!(wait["outputData"]["from"], loud.as_str(), "{wait}");
    assert_eq!(wait["outputData"]["amount"], 7);
    assert_eq!(
        wait["outputData"]["conductor.event.name"],
        "conductor:publisher:ready"
    );
    let found = eventually(
        &app,
        "the follower starts",
        |search| search["totalHits"] == 1,
        "/api/workflow/search?query=workflowType%3D%27follower%27",
    )
    .await;
    let follower = found["results"][0]["workflowId"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let follower = app.workflow(&follower).await;
    assert_eq!(follower["input"]["origin"], loud.as_str(), "{follower}");
    assert_eq!(follower["correlationId"], "event-7");
    let saver = app.get("/api/event/handler/on_ready").await.json()["updatedBy"].clone();
    assert_eq!(follower["createdBy"], saver);
    app.stop().await;
}

#[tokio::test]
async fn a_handler_acts_only_with_the_rights_of_whoever_saved_it_last() {
    let app = TestApp::spawn().await;
    flows(&app).await;
    // Someone who may start the follower saves a handler that starts it.
    let author = application(&app, "author", &["METADATA_API"]).await;
    let author_id = format!("app:{}", author.id);
    for (kind, name, access) in [
        ("WORKFLOW_DEF", "follower", "EXECUTE"),
        ("TASK_DEF", "follow_up", "EXECUTE"),
        // A handler hears only the runs its saver may read.
        ("WORKFLOW_DEF", "publisher", "READ"),
    ] {
        let answer = grant(&app, &author_id, kind, name, &[access]).await;
        assert_eq!(answer.status, 200, "{}", answer.text);
    }
    let starts = json!([{"action": "start_workflow", "start_workflow": {"name": "follower"}}]);
    let saved = app
        .call_as(
            Some(&author.token),
            "POST",
            "/api/event",
            Some(handler(
                "starter",
                "conductor:publisher:ready",
                starts.clone(),
            )),
        )
        .await;
    assert_eq!(saved.status, 200, "{}", saved.text);
    // A stranger cannot change it, nor read it, nor learn it exists.
    let stranger = application(&app, "stranger", &["METADATA_API"]).await;
    let seized = app
        .call_as(
            Some(&stranger.token),
            "PUT",
            "/api/event",
            Some(handler("starter", "conductor:publisher:ready", json!([]))),
        )
        .await;
    assert_eq!(seized.status, 403, "{}", seized.text);
    let peek = app
        .call_as(
            Some(&stranger.token),
            "GET",
            "/api/event/handler/starter",
            None,
        )
        .await;
    let none = app
        .call_as(
            Some(&stranger.token),
            "GET",
            "/api/event/handler/no_such",
            None,
        )
        .await;
    assert_eq!((peek.status, none.status), (403, 403));
    assert!(
        names(
            &app.call_as(Some(&stranger.token), "GET", "/api/event", None)
                .await
                .json()
        )
        .is_empty()
    );
    // Nor may it save a handler starting what it may not start.
    let borrowed = app
        .call_as(
            Some(&stranger.token),
            "POST",
            "/api/event",
            Some(handler("borrowed", "conductor:publisher:ready", starts)),
        )
        .await;
    assert_eq!(borrowed.status, 403, "{}", borrowed.text);

    // A stranger's handler listening for the publisher's event hears nothing of
    // runs it may not read, even starting a workflow of its own.
    let spy = json!({"name": "spy_flow", "version": 1, "tasks": [
        {"name": "n", "taskReferenceName": "n", "type": "NOOP"}]});
    let registered = app
        .call_as(
            Some(&stranger.token),
            "POST",
            "/api/metadata/workflow",
            Some(spy),
        )
        .await;
    assert_eq!(registered.status, 200, "{}", registered.text);
    let listening = app
        .call_as(
            Some(&stranger.token),
            "POST",
            "/api/event",
            Some(handler(
                "spy",
                "conductor:publisher:ready",
                json!([{"action": "start_workflow",
                        "start_workflow": {"name": "spy_flow", "input": {"leak": "${amount}"}}}]),
            )),
        )
        .await;
    assert_eq!(listening.status, 200, "{}", listening.text);
    // While the author may, the event starts the follower as the author.
    let search_path = "/api/workflow/search?query=workflowType%3D%27follower%27";
    let first = app
        .start(
            "publisher",
            json!({"target": "none", "go": true, "amount": 1}),
        )
        .await;
    app.wait_for_status(&first, "COMPLETED").await;
    let found = eventually(
        &app,
        "the follower starts",
        |s| s["totalHits"] == 1,
        search_path,
    )
    .await;
    assert_eq!(
        found["results"][0]["createdBy"],
        author_id.as_str(),
        "{found}"
    );
    // The author loses the right to start the follower: the event comes, the
    // handler's start is refused (and logged), nothing more starts.
    let revoked = app
        .call(
            "DELETE",
            "/api/auth/authorization",
            Some(json!({"subject": {"type": "USER", "id": author_id},
                        "target": {"type": "WORKFLOW_DEF", "id": "follower"}, "access": ["EXECUTE"]})),
        )
        .await;
    assert_eq!(revoked.status, 200, "{}", revoked.text);
    let run = app
        .start(
            "publisher",
            json!({"target": "none", "go": true, "amount": 1}),
        )
        .await;
    app.wait_for_status(&run, "COMPLETED").await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let search = app.get(search_path).await.json();
    assert_eq!(search["totalHits"], 1, "{search}");
    let spied = app
        .get("/api/workflow/search?query=workflowType%3D%27spy_flow%27")
        .await
        .json();
    assert_eq!(spied["totalHits"], 0, "{spied}");
    app.stop().await;
}

#[tokio::test]
async fn an_event_task_with_another_sink_fails_and_async_complete_waits() {
    let app = TestApp::spawn().await;
    app.register(
        json!([]),
        json!({"name": "elsewhere", "version": 1, "tasks": [
            {"name": "e", "taskReferenceName": "e", "type": "EVENT", "sink": "sqs:queue"}]}),
    )
    .await;
    let id = app.start("elsewhere", json!({})).await;
    let failed = app.wait_for_status(&id, "FAILED").await;
    let reason = failed["tasks"][0]["reasonForIncompletion"]
        .as_str()
        .unwrap_or_default();
    assert!(
        reason.contains("Invalid / Unsupported sink specified: sqs:queue"),
        "{reason}"
    );

    app.register(
        json!([]),
        json!({"name": "held", "version": 1, "tasks": [
            {"name": "e", "taskReferenceName": "e", "type": "EVENT", "sink": "conductor",
             "asyncComplete": true}]}),
    )
    .await;
    let id = app.start("held", json!({})).await;
    let task = eventually(
        &app,
        "the EVENT task publishes",
        |wf| wf["tasks"][0]["status"] == "IN_PROGRESS",
        &format!("/api/workflow/{id}"),
    )
    .await;
    assert_eq!(
        task["tasks"][0]["outputData"]["event_produced"],
        "conductor:held:e"
    );
    // A definition's EVENT task needs a sink.
    let answer = app
        .post(
            "/api/metadata/workflow",
            json!({"name": "sinkless", "version": 1, "tasks": [
                {"name": "e", "taskReferenceName": "e", "type": "EVENT"}]}),
        )
        .await;
    assert_eq!(answer.status, 400, "{}", answer.text);
    assert!(
        answer.text.contains("sink field is required"),
        "{}",
        answer.text
    );
    app.stop().await;
}

#[tokio::test]
async fn events_end_only_waiting_tasks_and_a_loop_of_events_stops() {
    let app = TestApp::spawn().await;
    flows(&app).await;
    // A worker's task is not an event's to end.
    app.register(
        json!([task_def("worked")]),
        json!({"name": "worker_flow", "version": 1, "tasks": [
            {"name": "worked", "taskReferenceName": "wait", "type": "SIMPLE"}]}),
    )
    .await;
    let ends = json!([{"action": "complete_task",
        "complete_task": {"workflowId": "${target}", "taskRefName": "wait"}}]);
    assert_eq!(
        app.post(
            "/api/event",
            handler("ender", "conductor:publisher:ready", ends)
        )
        .await
        .status,
        200
    );
    let worked = app.start("worker_flow", json!({})).await;
    let run = app
        .start(
            "publisher",
            json!({"target": worked, "go": true, "amount": 1}),
        )
        .await;
    app.wait_for_status(&run, "COMPLETED").await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    let still = app.workflow(&worked).await;
    assert_eq!(still["tasks"][0]["status"], "SCHEDULED", "{still}");

    // A workflow whose event starts itself again stops after eight generations.
    app.register(
        json!([]),
        json!({"name": "looper", "version": 1, "tasks": [
            {"name": "again", "taskReferenceName": "again", "type": "EVENT", "sink": "conductor"}]}),
    )
    .await;
    let again = json!([{"action": "start_workflow", "start_workflow": {"name": "looper"}}]);
    assert_eq!(
        app.post(
            "/api/event",
            handler("loop", "conductor:looper:again", again)
        )
        .await
        .status,
        200
    );
    app.start("looper", json!({})).await;
    let path = "/api/workflow/search?query=workflowType%3D%27looper%27";
    eventually(&app, "the chain runs", |s| s["totalHits"] == 9, path).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(app.get(path).await.json()["totalHits"], 9);
    app.stop().await;
}

#[tokio::test]
async fn an_event_does_not_borrow_the_handlers_rights_for_whoever_started_its_run() {
    let app = TestApp::spawn().await;
    flows(&app).await;
    // The admin's handler completes the waiting task its event names.
    let ends = json!([{"action": "complete_task",
        "complete_task": {"workflowId": "${target}", "taskRefName": "wait"}}]);
    assert_eq!(
        app.post(
            "/api/event",
            handler("signal", "conductor:publisher:ready", ends)
        )
        .await
        .status,
        200
    );
    let waiter = app.start("waiter", json!({})).await;
    // Someone who may start the publisher, but not touch the admin's waiter,
    // names it in an event: nothing happens to it.
    let outsider = application(&app, "outsider", &[]).await;
    let granted = grant(
        &app,
        &format!("app:{}", outsider.id),
        "WORKFLOW_DEF",
        "publisher",
        &["EXECUTE", "READ"],
    )
    .await;
    assert_eq!(granted.status, 200, "{}", granted.text);
    let started = app
        .call_as(
            Some(&outsider.token),
            "POST",
            "/api/workflow/publisher",
            Some(json!({"target": waiter, "go": true, "amount": 1})),
        )
        .await;
    assert_eq!(started.status, 200, "{}", started.text);
    app.wait_for_status(started.text.trim_matches('"'), "COMPLETED")
        .await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(app.workflow(&waiter).await["status"], "RUNNING");
    // The same event from the admin's own run completes it.
    let own = app
        .start(
            "publisher",
            json!({"target": waiter, "go": true, "amount": 2}),
        )
        .await;
    app.wait_for_status(&own, "COMPLETED").await;
    app.wait_for_status(&waiter, "COMPLETED").await;
    app.stop().await;
}

/// An action acts as its handler was when the event chose it: an action job whose
/// handler has changed since (here, one written with another revision) is dropped,
/// and one written with the handler as it is acts.
#[tokio::test]
async fn a_handler_changed_since_its_event_came_does_not_act() {
    let app = TestApp::spawn().await;
    flows(&app).await;
    let sets = |value: &str| {
        json!([{"action": "update_workflow_variables",
                "update_workflow_variables": {"workflowId": "${target}",
                                              "variables": {"from": value}}}])
    };
    let on = handler("setter", "conductor:publisher:ready", sets("first"));
    assert_eq!(app.post("/api/event", on).await.status, 200);
    let waiter = app.start("waiter", json!({})).await;
    let publisher = app.start("publisher", json!({"target": waiter})).await;
    eventually(
        &app,
        "the handler sets the variable",
        |run| run["variables"]["from"] == "first",
        &format!("/api/workflow/{waiter}"),
    )
    .await;
    let published = app.wait_for_status(&publisher, "COMPLETED").await;
    let task_id = published["tasks"][0]["taskId"]
        .as_str()
        .expect("task id")
        .to_string();
    let changed = handler("setter", "conductor:publisher:ready", sets("second"));
    assert_eq!(
        app.call("PUT", "/api/event", Some(changed)).await.status,
        200
    );

    let rt = app.runtime().clone();
    let action_job = |revision: Option<String>| {
        let (publisher, task_id) = (publisher.clone(), task_id.clone());
        move |txn: &mut podium_core::store::Txn, ctx: &podium_core::engine::EngineContext<'_>| {
            txn.changes.job_adds.push(podium_core::store::Job {
                id: ctx.ids.new_id(),
                workflow_id: publisher,
                task_id: Some(task_id),
                effect: podium_core::store::Effect::EventAction {
                    handler: "setter".into(),
                    action: 0,
                    event: "conductor:publisher:ready".into(),
                    incoming: false,
                    revision,
                },
                due_at: ctx.now,
                lane: podium_core::store::JobLane::Work,
            });
            Ok(())
        }
    };
    rt.mutate(None, action_job(Some("an earlier revision".into())))
        .await
        .expect("job written");
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(app.workflow(&waiter).await["variables"]["from"], "first");

    let now = rt
        .stores()
        .events
        .event_handler("setter")
        .await
        .expect("read")
        .expect("there")
        .revision();
    rt.mutate(None, action_job(Some(now)))
        .await
        .expect("job written");
    eventually(
        &app,
        "the handler as it is acts",
        |run| run["variables"]["from"] == "second",
        &format!("/api/workflow/{waiter}"),
    )
    .await;
    app.stop().await;
}

/// One principal may have made at most 500 handlers (of those there now).
#[tokio::test]
async fn one_principal_makes_a_bounded_number_of_handlers() {
    let app = TestApp::spawn().await;
    let noop = |i: usize| handler(&format!("h{i}"), "conductor:x:y", json!([]));
    for batch in 0..5 {
        let list: Vec<Value> = (batch * 100..(batch + 1) * 100).map(noop).collect();
        let answer = app.post("/api/event", json!(list)).await;
        assert_eq!(answer.status, 200, "{}", answer.text);
    }
    let refused = app.post("/api/event", noop(500)).await;
    assert_eq!(refused.status, 400, "{}", refused.text);
    assert!(
        refused.text.contains("500 event handlers"),
        "{}",
        refused.text
    );
    assert_eq!(app.call("DELETE", "/api/event/h0", None).await.status, 200);
    assert_eq!(app.post("/api/event", noop(500)).await.status, 200);
    app.stop().await;
}

/// An event from outside: handed to the active handlers of the event it names
/// that its sender may read, with the sender allowed what each action does; the
/// message and each action are on record.
#[tokio::test]
async fn an_event_from_outside_reaches_the_handlers_its_sender_may_read() {
    let app = TestApp::spawn().await;
    flows(&app).await;
    let starts = json!([{"action": "start_workflow",
                         "start_workflow": {"name": "follower", "input": {"order": "${order}"}}}]);
    assert_eq!(
        app.post("/api/event", handler("on_order", "orders", starts.clone()))
            .await
            .status,
        200
    );
    // Not an object, or no event named: refused.
    for body in [json!({}), json!({"event": ""}), json!(["orders"])] {
        let answer = app
            .post("/api/event/handleIncomingEvent", body.clone())
            .await;
        assert_eq!(answer.status, 400, "{body}: {}", answer.text);
    }
    let sent = app
        .post(
            "/api/event/handleIncomingEvent",
            json!({"event": "orders", "order": 42, "source": "test"}),
        )
        .await;
    assert_eq!(sent.status, 200, "{}", sent.text);
    let found = eventually(
        &app,
        "the follower starts",
        |search| search["totalHits"] == 1,
        "/api/workflow/search?query=workflowType%3D%27follower%27",
    )
    .await;
    let id = found["results"][0]["workflowId"]
        .as_str()
        .unwrap_or_default();
    assert_eq!(app.workflow(id).await["input"]["order"], 42);
    let done = eventually(
        &app,
        "the action is on record",
        |list| list.as_array().is_some_and(|l| !l.is_empty()),
        "/api/event/execution/on_order",
    )
    .await;
    assert_eq!(done[0]["action"], "start_workflow");
    assert_eq!(done[0]["status"], "COMPLETED", "{done}");
    assert_eq!(done[0]["output"]["workflowId"], id);
    assert_eq!(done[0]["event"], "orders");
    let messages = app.get("/api/event/message/orders").await.json();
    assert_eq!(messages[0]["fullPayload"]["order"], 42, "{messages}");
    assert_eq!(messages[0]["status"], "HANDLED");
    assert_eq!(messages[0]["id"], done[0]["messageId"]);
    let stats = app.get("/api/event/execution").await.json();
    let mine = stats["results"]
        .as_array()
        .and_then(|l| l.iter().find(|h| h["name"] == "on_order").cloned())
        .unwrap_or_default();
    assert_eq!(
        (
            mine["numberOfActions"].clone(),
            mine["numberOfMessages"].clone()
        ),
        (json!(1), json!(1)),
        "{stats}"
    );

    // A sender who may not read the handler reaches nothing, and hears so.
    let stranger = application(&app, "stranger", &["METADATA_API"]).await;
    let refused = app
        .call_as(
            Some(&stranger.token),
            "POST",
            "/api/event/handleIncomingEvent",
            Some(json!({"event": "orders", "order": 7})),
        )
        .await;
    assert_eq!(refused.status, 403, "{}", refused.text);
    // One who may read it, but may not start what it starts: the action is
    // refused, and on record as failed.
    let reader = application(&app, "reader", &[]).await;
    let answer = grant(
        &app,
        &format!("app:{}", reader.id),
        "EVENT_HANDLER",
        "on_order",
        &["READ"],
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let sent = app
        .call_as(
            Some(&reader.token),
            "POST",
            "/api/event/handleIncomingEvent",
            Some(json!({"event": "orders", "order": 8})),
        )
        .await;
    assert_eq!(sent.status, 200, "{}", sent.text);
    let done = eventually(
        &app,
        "the refused action is on record",
        |list| list.as_array().is_some_and(|l| l.len() == 2),
        "/api/event/execution/on_order",
    )
    .await;
    assert_eq!(done[0]["status"], "FAILED", "{done}");
    // The record names nothing the action touched (a handler's reader may not
    // see it): how it ended, in general words.
    let why = done[0]["statusDescription"].as_str().unwrap_or_default();
    assert!(
        why.starts_with("refused") && !why.contains("follower"),
        "{why}"
    );
    let search = app
        .get("/api/workflow/search?query=workflowType%3D%27follower%27")
        .await
        .json();
    assert_eq!(search["totalHits"], 1, "no second start: {search}");
    // Messages carry payloads: only for those who may read every execution.
    let hidden = app
        .call_as(
            Some(&reader.token),
            "GET",
            "/api/event/message/orders",
            None,
        )
        .await;
    assert_eq!(hidden.status, 403, "{}", hidden.text);
    let own = app
        .call_as(
            Some(&reader.token),
            "GET",
            "/api/event/execution/on_order",
            None,
        )
        .await;
    assert_eq!(own.status, 200, "{}", own.text);
    // A handler made again under the name starts with no record.
    assert_eq!(
        app.call("DELETE", "/api/event/on_order", None).await.status,
        200
    );
    let again = app
        .post("/api/event", handler("on_order", "orders", starts))
        .await;
    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!(
        app.get("/api/event/execution/on_order").await.json(),
        json!([])
    );
    app.stop().await;
}

/// One sender sends a node at most 600 events from outside in any minute.
#[tokio::test]
async fn events_from_outside_are_bounded_per_sender_and_minute() {
    let app = TestApp::spawn().await;
    let quiet = handler("quiet", "bursts", json!([]));
    assert_eq!(app.post("/api/event", quiet).await.status, 200);
    for i in 0..600 {
        let answer = app
            .post(
                "/api/event/handleIncomingEvent",
                json!({"event": "bursts", "n": i}),
            )
            .await;
        assert_eq!(answer.status, 200, "{i}: {}", answer.text);
    }
    let refused = app
        .post("/api/event/handleIncomingEvent", json!({"event": "bursts"}))
        .await;
    assert_eq!(refused.status, 429, "{}", refused.text);
    assert!(
        refused.text.contains("600 events a minute"),
        "{}",
        refused.text
    );
    // The window slides: a burst at a minute's end still counts just after it,
    // so nobody sends twice the rate across the boundary.
    app.advance(60_000);
    let boundary = app
        .post("/api/event/handleIncomingEvent", json!({"event": "bursts"}))
        .await;
    assert_eq!(boundary.status, 429, "{}", boundary.text);
    // Half a minute on, half the burst still weighs: room for about 300 more.
    app.advance(30_000);
    let mut allowed = 0;
    for _ in 0..400 {
        let answer = app
            .post("/api/event/handleIncomingEvent", json!({"event": "bursts"}))
            .await;
        match answer.status {
            200 => allowed += 1,
            429 => break,
            other => panic!("{other}: {}", answer.text),
        }
    }
    assert!((299..=301).contains(&allowed), "{allowed}");
    app.stop().await;
}
