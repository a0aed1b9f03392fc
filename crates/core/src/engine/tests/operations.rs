//! Time and outside operations: waits, timeouts, domains, progress reports, pause,
//! restart, rerun, skip, and the jobs system tasks become.

use super::*;

#[test]
fn wait_completes_when_its_duration_passes() {
    let mut h = Harness::new();
    h.start(
        json!({"name": "w", "tasks": [{"name": "wait", "taskReferenceName": "w", "type": "WAIT", "inputParameters": {"duration": "2 seconds"}}, simple("after")]}),
        json!({}),
    );
    assert_eq!(h.tasks(), vec![("w".into(), TaskStatus::InProgress)]);
    assert_eq!(h.state().next_check_at, Some(h.now + 2000));
    h.tick(1999);
    assert_eq!(h.tasks().len(), 1);
    h.tick(1);
    assert_eq!(
        h.tasks(),
        vec![
            ("w".into(), TaskStatus::Completed),
            ("after".into(), TaskStatus::Scheduled)
        ]
    );
}

#[test]
fn wait_without_a_time_waits_for_an_outside_update() {
    let mut h = Harness::new();
    h.start(
        json!({"name": "w", "tasks": [{"name": "wait", "taskReferenceName": "w", "type": "WAIT"}]}),
        json!({}),
    );
    assert_eq!(h.state().next_check_at, None);
    h.complete("w", json!({"approved": true}));
    assert_eq!(h.status(), WorkflowStatus::Completed);
    assert_eq!(h.state().workflow.output, map(json!({"approved": true})));
}

/// While a worker task waits in its queue, its workflow's next check comes no later
/// than the lease a poll would give it, so the claim that leases it finds an earlier
/// check in place and need not write one. Nobody polling, the check finds nothing to
/// do and sets the next, until the task has waited a whole timeout: a task whose
/// workers are down does not bring its workflow back every period.
#[test]
fn a_queued_task_has_a_check_no_later_than_its_lease_would_end() {
    let mut h = Harness::new().task_def(json!({"name": "work", "responseTimeoutSeconds": 5}));
    h.start(
        json!({"name": "w", "tasks": [simple("a"), simple("b")]}),
        json!({}),
    );
    let created = h.state().workflow.create_time;
    assert_eq!(h.state().next_check_at, Some(created + 5000));
    // A step within the same period keeps the check where it was.
    h.tick(1200);
    h.complete("a", json!({}));
    assert_eq!(h.tasks()[1], ("b".into(), TaskStatus::Scheduled));
    assert_eq!(h.state().next_check_at, Some(created + 5000));
    // Nobody polls: the check finds nothing to do and sets the next, in the future.
    h.tick(3800);
    assert_eq!(h.tasks()[1], ("b".into(), TaskStatus::Scheduled));
    assert_eq!(h.state().next_check_at, Some(created + 10_000));
    assert!(h.state().next_check_at > Some(h.now));
    // "b" was scheduled at +1200: at +10000 it has waited a whole timeout.
    h.tick(5000);
    assert_eq!(h.tasks()[1], ("b".into(), TaskStatus::Scheduled));
    assert_eq!(h.state().next_check_at, None);
}

#[test]
fn response_timeout_times_the_task_out_and_retries_it() {
    let mut h = Harness::new().task_def(json!({"name": "work", "responseTimeoutSeconds": 5, "retryCount": 1, "retryDelaySeconds": 0}));
    h.start(json!({"name": "w", "tasks": [simple("a")]}), json!({}));
    // The worker polls it.
    h.with_state(|state, ctx, _| {
        let task = state.task_mut(0).unwrap();
        task.status = TaskStatus::InProgress;
        task.start_time = ctx.now;
        task.update_time = ctx.now;
    });
    h.tick(0);
    assert_eq!(h.state().next_check_at, Some(h.now + 5000));
    h.tick(5000);
    let tasks = h.state().tasks();
    assert_eq!(tasks[0].status, TaskStatus::TimedOut);
    assert!(
        tasks[0]
            .reason_for_incompletion
            .as_deref()
            .unwrap_or("")
            .starts_with("responseTimeout: 5 exceeded")
    );
    assert_eq!(tasks[1].status, TaskStatus::Scheduled);
    assert_eq!(h.status(), WorkflowStatus::Running);
}

#[test]
fn task_timeout_with_time_out_wf_times_the_workflow_out() {
    let mut h = Harness::new().task_def(json!({"name": "work", "timeoutSeconds": 10, "responseTimeoutSeconds": 10, "timeoutPolicy": "TIME_OUT_WF"}));
    h.start(json!({"name": "w", "tasks": [simple("a")]}), json!({}));
    h.with_state(|state, ctx, _| {
        let task = state.task_mut(0).unwrap();
        task.status = TaskStatus::InProgress;
        task.start_time = ctx.now;
        task.update_time = ctx.now + 9000;
    });
    h.tick(10_000);
    assert_eq!(h.status(), WorkflowStatus::TimedOut);
    assert_eq!(h.tasks()[0].1, TaskStatus::TimedOut);
}

#[test]
fn workflow_timeout_follows_its_policy() {
    let mut h = Harness::new();
    h.start(
        json!({"name": "w", "timeoutSeconds": 60, "tasks": [simple("a")]}),
        json!({}),
    );
    h.tick(120_000);
    assert_eq!(
        h.status(),
        WorkflowStatus::Running,
        "ALERT_ONLY is the default"
    );

    let mut h = Harness::new();
    h.start(json!({"name": "w", "timeoutSeconds": 60, "timeoutPolicy": "TIME_OUT_WF", "tasks": [simple("a")]}), json!({}));
    assert_eq!(h.state().next_check_at, Some(h.now + 60_000));
    h.tick(60_000);
    assert_eq!(h.status(), WorkflowStatus::TimedOut);
    assert_eq!(h.tasks()[0].1, TaskStatus::Canceled);
}

#[test]
fn task_to_domain_routes_to_the_first_active_domain_of_a_list() {
    let mut h = Harness::new();
    h.polls
        .0
        .insert(("work".into(), Some("d2".into())), 999_000);
    let params = |mapping: Value| StartParams {
        task_to_domain: mapping.as_object().cloned().unwrap_or_default(),
        ..StartParams::default()
    };
    h.start_with(
        json!({"name": "w", "tasks": [simple("a")]}),
        params(json!({"*": "d1,d2,NO_DOMAIN"})),
    );
    assert_eq!(h.queued(), vec!["d2:work"]);
    h.start_with(
        json!({"name": "w", "tasks": [simple("a")]}),
        params(json!({"work": "d1,NO_DOMAIN"})),
    );
    assert_eq!(h.queued(), vec!["work"]);
    h.start_with(
        json!({"name": "w", "tasks": [simple("a")]}),
        params(json!({"*": "d1"})),
    );
    assert_eq!(h.queued(), vec!["d1:work"]);
}

#[test]
fn in_progress_reports_hand_the_task_back_after_the_callback() {
    let mut h = Harness::new();
    h.start(json!({"name": "w", "tasks": [simple("a")]}), json!({}));
    let result = TaskResult {
        workflow_instance_id: h.state().id().to_string(),
        task_id: h.task_id("a"),
        reason_for_incompletion: None,
        callback_after_seconds: 30,
        worker_id: None,
        status: TaskResultStatus::InProgress,
        output_data: map(json!({"progress": 50})),
        logs: Vec::new(),
        external_output_payload_storage_path: None,
        sub_workflow_id: None,
        extend_lease: false,
    };
    h.with_state(|state, ctx, out| ops::apply_result(state, &result, ctx, out))
        .unwrap();
    assert_eq!(h.tasks()[0].1, TaskStatus::Scheduled);
    assert_eq!(h.out.queue_pushes[0].visible_at, h.now + 30_000);
}

#[test]
fn results_for_ended_tasks_are_ignored() {
    let mut h = Harness::new();
    h.start(json!({"name": "w", "tasks": [simple("a")]}), json!({}));
    h.complete("a", json!({"first": true}));
    let outcome = h.with_state(|state, ctx, out| {
        let result = TaskResult {
            workflow_instance_id: state.id().to_string(),
            task_id: state.tasks()[0].task_id.clone(),
            reason_for_incompletion: None,
            callback_after_seconds: 0,
            worker_id: None,
            status: TaskResultStatus::Failed,
            output_data: JsonMap::new(),
            logs: Vec::new(),
            external_output_payload_storage_path: None,
            sub_workflow_id: None,
            extend_lease: false,
        };
        ops::apply_result(state, &result, ctx, out)
    });
    assert_eq!(outcome.unwrap(), ops::ResultOutcome::Ignored);
    assert_eq!(h.status(), WorkflowStatus::Completed);
    assert_eq!(h.state().workflow.output, map(json!({"first": true})));
}

#[test]
fn pause_holds_scheduling_until_resume() {
    let mut h = Harness::new();
    h.start(
        json!({"name": "w", "tasks": [simple("a"), simple("b")]}),
        json!({}),
    );
    h.with_state(|state, ctx, _| ops::pause(state, ctx))
        .unwrap();
    h.complete("a", json!({}));
    assert_eq!(h.tasks().len(), 1, "nothing is scheduled while paused");
    h.with_state(ops::resume).unwrap();
    assert_eq!(h.tasks()[1], ("b".into(), TaskStatus::Scheduled));
    let err = h.with_state(ops::resume).unwrap_err();
    assert!(err.to_string().contains("is not PAUSED"));
}

#[test]
fn terminate_restart_and_rerun() {
    let mut h = Harness::new();
    h.start(
        json!({"name": "w", "tasks": [simple("a"), simple("b")]}),
        json!({"v": 1}),
    );
    h.complete("a", json!({}));
    h.with_state(|state, ctx, out| ops::terminate(state, Some("stop".into()), false, ctx, out))
        .unwrap();
    assert_eq!(h.status(), WorkflowStatus::Terminated);
    assert_eq!(
        h.state().workflow.reason_for_incompletion.as_deref(),
        Some("stop")
    );
    assert_eq!(h.tasks()[1].1, TaskStatus::Canceled);

    h.with_state(|state, ctx, out| ops::restart(state, None, ctx, out))
        .unwrap();
    assert_eq!(h.status(), WorkflowStatus::Running);
    assert_eq!(h.tasks(), vec![("a".into(), TaskStatus::Scheduled)]);
    h.complete("a", json!({"n": 1}));
    h.complete("b", json!({}));
    assert_eq!(h.status(), WorkflowStatus::Completed);
    let b_seq = h.state().tasks()[1].seq;

    let a_id = h.task_id("a");
    let request = RerunWorkflowRequest {
        re_run_from_task_id: Some(a_id.clone()),
        task_input: Some(map(json!({"again": true}))),
        ..RerunWorkflowRequest::default()
    };
    h.with_state(|state, ctx, out| ops::rerun(state, &request, ctx, out))
        .unwrap();
    assert_eq!(h.tasks(), vec![("a".into(), TaskStatus::Scheduled)]);
    assert_eq!(h.task_id("a"), a_id, "a rerun task keeps its id");
    assert_eq!(h.state().tasks()[0].input_data, map(json!({"again": true})));
    assert!(b_seq > 0);
    let err = h
        .with_state(|state, ctx, out| ops::restart(state, None, ctx, out))
        .unwrap_err();
    assert!(err.to_string().contains("is not in terminal state"));
}

#[test]
fn skipped_tasks_are_stepped_over_when_reached() {
    let mut h = Harness::new();
    h.start(
        json!({"name": "w", "tasks": [simple("a"), simple("b"), simple("c")]}),
        json!({}),
    );
    let request = SkipTaskRequest {
        task_output: Some(map(json!({"skipped": true}))),
        ..SkipTaskRequest::default()
    };
    h.with_state(|state, ctx, out| ops::skip(state, "b", &request, ctx, out))
        .unwrap();
    assert_eq!(
        h.tasks(),
        vec![
            ("a".into(), TaskStatus::Scheduled),
            ("b".into(), TaskStatus::Skipped)
        ]
    );
    h.complete("a", json!({}));
    assert_eq!(h.tasks()[2], ("c".into(), TaskStatus::Scheduled));
    let err = h
        .with_state(|state, ctx, out| ops::skip(state, "a", &request, ctx, out))
        .unwrap_err();
    assert!(err.to_string().contains("has already been processed"));
    h.complete("c", json!({}));
    assert_eq!(h.status(), WorkflowStatus::Completed);
}

#[test]
fn http_and_sub_workflow_tasks_become_jobs() {
    let mut h = Harness::new();
    h.start(
        json!({"name": "w", "tasks": [
            {"name": "call", "taskReferenceName": "call", "type": "HTTP", "inputParameters": {"http_request": {"uri": "http://127.0.0.1:1/x"}}},
            {"name": "child", "taskReferenceName": "child", "type": "SUB_WORKFLOW", "subWorkflowParam": {"name": "kid", "version": 2},
             "inputParameters": {"p": "${call.output.response.body}"}}
        ]}),
        json!({}),
    );
    assert!(h.queued().is_empty());
    assert_eq!(h.out.job_adds.len(), 1);
    assert_eq!(h.out.job_adds[0].effect, Effect::SystemTask);
    h.complete("call", json!({"response": {"body": {"id": 9}}}));
    let child = &h.state().tasks()[1];
    assert_eq!(child.task_type, "SUB_WORKFLOW");
    assert_eq!(child.input_data["subWorkflowName"], json!("kid"));
    assert_eq!(child.input_data["subWorkflowVersion"], json!(2));
    assert_eq!(child.input_data["workflowInput"], json!({"p": {"id": 9}}));
}

#[test]
fn inline_tasks_become_jobs_and_their_result_flows_on() {
    let mut h = Harness::new();
    h.start(
        json!({"name": "w", "tasks": [
            {"name": "calc", "taskReferenceName": "calc", "type": "INLINE", "inputParameters": {
                "evaluatorType": "graaljs", "expression": "$.n * 2", "n": "${workflow.input.n}"}},
            {"name": "use", "taskReferenceName": "use", "inputParameters": {"doubled": "${calc.output.result}"}}
        ]}),
        json!({"n": 21}),
    );
    // The decider never runs the script: a job in the scripts' lane does, outside
    // any lock.
    assert!(h.queued().is_empty());
    assert_eq!(h.out.job_adds.len(), 1);
    assert_eq!(h.out.job_adds[0].lane, JobLane::Scripts);
    let calc = &h.state().tasks()[0];
    assert_eq!(calc.task_type, "INLINE");
    assert_eq!(calc.status, TaskStatus::Scheduled);
    assert_eq!(calc.input_data["n"], json!(21));
    h.complete("calc", json!({"result": 42}));
    assert_eq!(h.state().tasks()[1].input_data["doubled"], json!(42));

    // A jq transform, the same way.
    let mut h = Harness::new();
    h.start(
        json!({"name": "w", "tasks": [
            {"name": "jq", "taskReferenceName": "jq", "type": "JSON_JQ_TRANSFORM",
             "inputParameters": {"queryExpression": ".x", "x": 1}}
        ]}),
        json!({}),
    );
    assert_eq!(h.out.job_adds.len(), 1);
    assert_eq!(h.out.job_adds[0].lane, JobLane::Scripts);
    assert_eq!(h.state().tasks()[0].task_type, "JSON_JQ_TRANSFORM");
    h.complete("jq", json!({"result": 1, "resultList": [1]}));
    assert_eq!(h.status(), WorkflowStatus::Completed);
}

#[test]
fn a_switch_whose_case_a_script_picks_waits_for_its_job() {
    let mut h = Harness::new();
    h.start(
        json!({"name": "w", "tasks": [
            {"name": "s", "taskReferenceName": "s", "type": "SWITCH", "evaluatorType": "graaljs",
             "expression": "$.n > 1 ? 'big' : 'small'", "inputParameters": {"n": "${workflow.input.n}"},
             "decisionCases": {"big": [{"name": "b", "taskReferenceName": "b"}],
                               "small": [{"name": "sm", "taskReferenceName": "sm"}]},
             "defaultCase": [{"name": "d", "taskReferenceName": "d"}]},
            {"name": "after", "taskReferenceName": "after"}
        ]}),
        json!({"n": 5}),
    );
    // Nothing is picked in the decider: a job evaluates the script.
    assert_eq!(h.state().tasks().len(), 1);
    assert_eq!(h.state().tasks()[0].status, TaskStatus::Scheduled);
    assert_eq!(h.out.job_adds.len(), 1);
    assert_eq!(h.out.job_adds[0].lane, JobLane::Scripts);
    h.complete(
        "s",
        json!({"evaluationResult": ["big"], "selectedCase": "big"}),
    );
    let refs: Vec<&str> = h
        .state()
        .tasks()
        .iter()
        .map(|t| t.reference_task_name.as_str())
        .collect();
    assert_eq!(refs, ["s", "b"]);
    h.complete("b", json!({}));
    assert_eq!(
        h.state()
            .tasks()
            .last()
            .map(|t| t.reference_task_name.as_str()),
        Some("after")
    );

    // A rerun from the switch evaluates its script again, through a new job.
    h.complete("after", json!({}));
    assert_eq!(h.status(), WorkflowStatus::Completed);
    let request = RerunWorkflowRequest {
        re_run_from_task_id: Some(h.task_id("s")),
        ..RerunWorkflowRequest::default()
    };
    h.with_state(|state, ctx, out| ops::rerun(state, &request, ctx, out))
        .unwrap();
    assert_eq!(h.tasks(), vec![("s".into(), TaskStatus::Scheduled)]);
    assert_eq!(
        h.out.job_adds.len(),
        1,
        "the switch waits for a new evaluation"
    );
    assert_eq!(h.out.job_adds[0].lane, JobLane::Scripts);
    assert_eq!(h.out.job_adds[0].task_id, Some(h.task_id("s")));

    // A retry of a switch whose script failed evaluates it again, through a job.
    let mut h = Harness::new();
    h.start(
        json!({"name": "w", "tasks": [
            {"name": "s", "taskReferenceName": "s", "type": "SWITCH", "evaluatorType": "javascript",
             "expression": "$.x.y", "decisionCases": {"a": [simple("a")]}}
        ]}),
        json!({}),
    );
    h.report("s", TaskResultStatus::FailedWithTerminalError, json!({}));
    assert_eq!(h.status(), WorkflowStatus::Failed);
    h.with_state(ops::retry).unwrap();
    assert_eq!(h.tasks(), vec![("s".into(), TaskStatus::Scheduled)]);
    assert_eq!(h.out.job_adds.len(), 1);
    assert_eq!(h.out.job_adds[0].lane, JobLane::Scripts);

    // A DECISION with a caseExpression, the same way; an empty case runs the default.
    let mut h = Harness::new();
    h.start(
        json!({"name": "w", "tasks": [
            {"name": "dec", "taskReferenceName": "dec", "type": "DECISION", "caseExpression": "'none'",
             "decisionCases": {"none": []}, "defaultCase": [{"name": "d", "taskReferenceName": "d"}]}
        ]}),
        json!({}),
    );
    assert_eq!(h.out.job_adds.len(), 1);
    h.complete("dec", json!({"caseOutput": ["none"]}));
    assert_eq!(
        h.state()
            .tasks()
            .last()
            .map(|t| t.reference_task_name.as_str()),
        Some("d")
    );
}

#[test]
fn an_http_output_filter_becomes_the_output_once_the_call_succeeded() {
    let mut h = Harness::new();
    h.start(
        json!({"name": "w", "tasks": [
            {"name": "fetch", "taskReferenceName": "fetch", "type": "HTTP", "inputParameters": {
                "uri": "http://127.0.0.1:1/token",
                "outputFilter": {
                    "_secrets": {"token": "$${fetch.output.response.body.token}"},
                    "status": "$${fetch.output.response.statusCode}"
                }}},
            {"name": "use", "taskReferenceName": "use", "inputParameters": {"t": "${fetch.output._secrets.token}"}}
        ]}),
        json!({}),
    );
    // Scheduling leaves the filter unevaluated, with `$${` turned into `${`.
    assert_eq!(
        h.state().tasks()[0].input_data["outputFilter"]["status"],
        json!("${fetch.output.response.statusCode}")
    );
    h.complete(
        "fetch",
        json!({"response": {"statusCode": 200, "body": {"token": "t-1", "other": "x"}}}),
    );
    assert_eq!(
        Value::Object(h.state().tasks()[0].output_data.clone()),
        json!({"_secrets": {"token": "t-1"}, "status": 200})
    );
    assert_eq!(h.state().tasks()[1].input_data["t"], json!("t-1"));
}

#[test]
fn sub_workflow_end_completes_the_parent_task() {
    let mut h = Harness::new();
    h.start(json!({"name": "w", "tasks": [{"name": "child", "taskReferenceName": "child", "type": "SUB_WORKFLOW", "subWorkflowParam": {"name": "kid"}}]}), json!({}));
    let task_id = h.task_id("child");
    h.with_state(|state, ctx, _| ops::sub_workflow_started(state, &task_id, "kid-1", ctx.now));
    let mut child = crate::model::Workflow {
        workflow_id: "kid-1".into(),
        status: WorkflowStatus::Completed,
        output: map(json!({"answer": 42})),
        ..crate::model::Workflow::default()
    };
    h.with_state(|state, ctx, out| ops::sub_workflow_ended(state, &task_id, &child, ctx, out))
        .unwrap();
    assert_eq!(h.status(), WorkflowStatus::Completed);
    assert_eq!(
        h.state().workflow.output,
        map(json!({"answer": 42, "subWorkflowId": "kid-1"}))
    );
    child.status = WorkflowStatus::Failed;
    h.with_state(|state, ctx, out| ops::sub_workflow_ended(state, &task_id, &child, ctx, out))
        .unwrap();
    assert_eq!(
        h.status(),
        WorkflowStatus::Completed,
        "a second report changes nothing"
    );
}

#[test]
fn the_decider_is_deterministic() {
    let run = || {
        let mut h = Harness::new();
        h.start(
            json!({"name": "w", "tasks": [
                {"name": "fork", "taskReferenceName": "fork", "type": "FORK_JOIN", "forkTasks": [[simple("a")], [simple("b")]]},
                {"name": "join", "taskReferenceName": "join", "type": "JOIN", "joinOn": ["a", "b"]}
            ]}),
            json!({"x": 1}),
        );
        h.complete("b", json!({"b": 1}));
        serde_json::to_value(h.state().to_workflow(true)).unwrap()
    };
    assert_eq!(run(), run());
}
