//! Decision tests: workflows driven through the engine without a store or a server,
//! asserting on the tasks scheduled, the queue messages and jobs produced, and the
//! workflow's status.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Value, json};

use super::context::{EngineContext, EngineLimits, PollActivity, TaskDefs};
use super::decide;
use super::ops::{self, StartParams};
use super::state::WorkflowState;
use crate::clock::SequentialIds;
use crate::model::{
    JsonMap, RerunWorkflowRequest, SkipTaskRequest, TaskDef, TaskResult, TaskResultStatus,
    TaskStatus, WorkflowDef, WorkflowStatus,
};
use crate::store::{ChangeSet, JobKind};

#[derive(Default)]
struct Defs(HashMap<String, Arc<TaskDef>>);

impl TaskDefs for Defs {
    fn task_def(&self, name: &str) -> Option<Arc<TaskDef>> {
        self.0.get(name).cloned()
    }
}

#[derive(Default)]
struct Polls(HashMap<(String, Option<String>), i64>);

impl PollActivity for Polls {
    fn last_poll(&self, task_type: &str, domain: Option<&str>) -> Option<i64> {
        self.0
            .get(&(task_type.to_string(), domain.map(str::to_string)))
            .copied()
    }
}

/// A workflow under test with everything the engine reads.
struct Harness {
    ids: SequentialIds,
    defs: Defs,
    polls: Polls,
    limits: EngineLimits,
    now: i64,
    state: Option<WorkflowState>,
    out: ChangeSet,
}

fn def(value: Value) -> WorkflowDef {
    serde_json::from_value(value).expect("valid definition")
}

fn map(value: Value) -> JsonMap {
    value.as_object().cloned().unwrap_or_default()
}

impl Harness {
    fn new() -> Harness {
        Harness {
            ids: SequentialIds::default(),
            defs: Defs::default(),
            polls: Polls::default(),
            limits: EngineLimits::default(),
            now: 1_000_000,
            state: None,
            out: ChangeSet::default(),
        }
    }

    fn task_def(mut self, value: Value) -> Harness {
        let def: TaskDef = serde_json::from_value(value).expect("valid task definition");
        self.defs.0.insert(def.name.clone(), Arc::new(def));
        self
    }

    fn start_with(&mut self, definition: Value, params: StartParams) {
        let ctx = EngineContext {
            now: self.now,
            ids: &self.ids,
            task_defs: &self.defs,
            polls: &self.polls,
            limits: &self.limits,
        };
        let mut out = ChangeSet::default();
        let state = ops::start(
            Arc::new(def(definition)),
            "rev-1".into(),
            params,
            &ctx,
            &mut out,
        );
        self.state = Some(state);
        self.out = out;
    }

    fn start(&mut self, definition: Value, input: Value) {
        self.start_with(
            definition,
            StartParams {
                input: map(input),
                ..StartParams::default()
            },
        );
    }

    fn state(&self) -> &WorkflowState {
        self.state.as_ref().expect("started")
    }

    fn status(&self) -> WorkflowStatus {
        self.state().status()
    }

    /// (reference, status) of every task, in order.
    fn tasks(&self) -> Vec<(String, TaskStatus)> {
        self.state()
            .tasks()
            .iter()
            .map(|t| (t.reference_task_name.clone(), t.status))
            .collect()
    }

    fn task_id(&self, reference: &str) -> String {
        let index = self
            .state()
            .latest_task_index(reference)
            .expect("task exists");
        self.state().tasks()[index].task_id.clone()
    }

    fn with_state<T>(
        &mut self,
        f: impl FnOnce(&mut WorkflowState, &EngineContext<'_>, &mut ChangeSet) -> T,
    ) -> T {
        let mut state = self.state.take().expect("started");
        let mut out = ChangeSet::default();
        let ctx = EngineContext {
            now: self.now,
            ids: &self.ids,
            task_defs: &self.defs,
            polls: &self.polls,
            limits: &self.limits,
        };
        let value = f(&mut state, &ctx, &mut out);
        self.state = Some(state);
        self.out = out;
        value
    }

    fn report(&mut self, reference: &str, status: TaskResultStatus, output: Value) {
        let result = TaskResult {
            workflow_instance_id: self.state().id().to_string(),
            task_id: self.task_id(reference),
            reason_for_incompletion: (status != TaskResultStatus::Completed)
                .then(|| "boom".to_string()),
            callback_after_seconds: 0,
            worker_id: Some("w".into()),
            status,
            output_data: map(output),
            logs: Vec::new(),
            external_output_payload_storage_path: None,
            sub_workflow_id: None,
            extend_lease: false,
        };
        self.with_state(|state, ctx, out| ops::apply_result(state, &result, ctx, out))
            .expect("result applies");
    }

    fn complete(&mut self, reference: &str, output: Value) {
        self.report(reference, TaskResultStatus::Completed, output);
    }

    fn tick(&mut self, millis: i64) {
        self.now += millis;
        self.with_state(decide);
    }

    fn queued(&self) -> Vec<String> {
        self.out
            .queue_pushes
            .iter()
            .map(|m| m.queue_name.clone())
            .collect()
    }
}

fn simple(reference: &str) -> Value {
    json!({"name": "work", "taskReferenceName": reference, "type": "SIMPLE"})
}

#[test]
fn a_linear_workflow_runs_to_completion_with_outputs() {
    let mut h = Harness::new();
    h.start(
        json!({"name": "linear", "tasks": [
            {"name": "work", "taskReferenceName": "a", "inputParameters": {"x": "${workflow.input.x}"}},
            {"name": "work", "taskReferenceName": "b", "inputParameters": {"y": "${a.output.y}", "text": "got ${a.output.y}"}}
        ], "outputParameters": {"result": "${b.output.z}"}}),
        json!({"x": 7}),
    );
    assert_eq!(h.tasks(), vec![("a".into(), TaskStatus::Scheduled)]);
    assert_eq!(h.queued(), vec!["work"]);
    assert_eq!(h.state().tasks()[0].input_data, map(json!({"x": 7})));
    h.complete("a", json!({"y": [1, 2]}));
    assert_eq!(h.tasks()[1], ("b".into(), TaskStatus::Scheduled));
    assert_eq!(
        h.state().tasks()[1].input_data,
        map(json!({"y": [1, 2], "text": "got [1, 2]"}))
    );
    h.complete("b", json!({"z": "done"}));
    assert_eq!(h.status(), WorkflowStatus::Completed);
    assert_eq!(h.state().workflow.output, map(json!({"result": "done"})));
    assert!(h.out.queue_removals.iter().any(|id| *id == h.task_id("b")));
}

#[test]
fn without_output_parameters_the_last_task_output_is_the_output() {
    let mut h = Harness::new();
    h.start(json!({"name": "w", "tasks": [simple("a")]}), json!({}));
    h.complete("a", json!({"k": "v"}));
    assert_eq!(h.state().workflow.output, map(json!({"k": "v"})));
}

#[test]
fn failed_tasks_are_retried_with_the_configured_delay_then_fail_the_workflow() {
    let mut h = Harness::new().task_def(json!({"name": "work", "retryCount": 2, "retryLogic": "EXPONENTIAL_BACKOFF", "retryDelaySeconds": 3}));
    h.start(
        json!({"name": "w", "failureWorkflow": "", "tasks": [simple("a")]}),
        json!({}),
    );
    h.report("a", TaskResultStatus::Failed, json!({}));
    let tasks = h.state().tasks();
    assert_eq!(tasks.len(), 2);
    assert!(tasks[0].retried);
    assert_eq!(tasks[1].retry_count, 1);
    assert_eq!(
        tasks[1].retried_task_id.as_deref(),
        Some(tasks[0].task_id.as_str())
    );
    assert_eq!(h.out.queue_pushes[0].visible_at, h.now + 3_000);
    h.report("a", TaskResultStatus::Failed, json!({}));
    assert_eq!(h.out.queue_pushes[0].visible_at, h.now + 6_000);
    h.report("a", TaskResultStatus::Failed, json!({}));
    assert_eq!(h.status(), WorkflowStatus::Failed);
    let reason = h
        .state()
        .workflow
        .reason_for_incompletion
        .clone()
        .unwrap_or_default();
    assert!(
        reason.contains("failed with status: FAILED and reason: 'boom'"),
        "{reason}"
    );
    assert_eq!(h.state().workflow.failed_reference_task_names, vec!["a"]);
    assert!(
        h.out.job_adds.is_empty(),
        "an empty failureWorkflow starts nothing"
    );
}

#[test]
fn terminal_errors_are_not_retried_and_optional_tasks_let_the_workflow_go_on() {
    let mut h = Harness::new();
    h.start(json!({"name": "w", "tasks": [simple("a")]}), json!({}));
    h.report("a", TaskResultStatus::FailedWithTerminalError, json!({}));
    assert_eq!(h.status(), WorkflowStatus::Failed);

    let mut h = Harness::new();
    h.start(
        json!({"name": "w", "tasks": [{"name": "work", "taskReferenceName": "a", "optional": true, "retryCount": 0}, simple("b")]}),
        json!({}),
    );
    h.report("a", TaskResultStatus::Failed, json!({}));
    assert_eq!(
        h.tasks(),
        vec![
            ("a".into(), TaskStatus::CompletedWithErrors),
            ("b".into(), TaskStatus::Scheduled)
        ]
    );
}

#[test]
fn linear_backoff_and_the_delay_cap() {
    let def: TaskDef = serde_json::from_value(json!({"name": "t", "retryLogic": "LINEAR_BACKOFF", "retryDelaySeconds": 2, "backoffScaleFactor": 3, "maxRetryDelaySeconds": 10})).unwrap();
    assert_eq!(super::decider::retry_delay_seconds(&def, 0), 6);
    assert_eq!(super::decider::retry_delay_seconds(&def, 1), 10);
}

#[test]
fn switch_follows_the_matching_case_then_continues_after_it() {
    let definition = json!({"name": "w", "tasks": [
        {"name": "sw", "taskReferenceName": "sw", "type": "SWITCH", "evaluatorType": "value-param", "expression": "switchCaseValue",
         "inputParameters": {"switchCaseValue": "${workflow.input.kind}"},
         "decisionCases": {"a": [simple("in_a")], "b": []}, "defaultCase": [simple("in_default")]},
        simple("after")
    ]});
    let mut h = Harness::new();
    h.start(definition.clone(), json!({"kind": "a"}));
    assert_eq!(
        h.tasks(),
        vec![
            ("sw".into(), TaskStatus::Completed),
            ("in_a".into(), TaskStatus::Scheduled)
        ]
    );
    assert_eq!(
        h.state().tasks()[0].output_data,
        map(json!({"evaluationResult": ["a"], "selectedCase": "a"}))
    );
    h.complete("in_a", json!({}));
    assert_eq!(h.tasks()[2], ("after".into(), TaskStatus::Scheduled));

    let mut h = Harness::new();
    h.start(definition.clone(), json!({"kind": "b"}));
    assert_eq!(
        h.tasks()[1],
        ("after".into(), TaskStatus::Scheduled),
        "an empty case goes straight on"
    );

    let mut h = Harness::new();
    h.start(definition, json!({"kind": "zzz"}));
    assert_eq!(h.tasks()[1], ("in_default".into(), TaskStatus::Scheduled));
}

#[test]
fn a_decision_treats_an_empty_case_as_missing() {
    // Conductor's DecisionTaskMapper falls back to the default case for an empty list,
    // unlike SWITCH.
    let definition = json!({"name": "w", "tasks": [
        {"name": "d", "taskReferenceName": "d", "type": "DECISION", "caseValueParam": "kind",
         "inputParameters": {"kind": "${workflow.input.kind}"},
         "decisionCases": {"b": []}, "defaultCase": [simple("in_default")]},
        simple("after")
    ]});
    let mut h = Harness::new();
    h.start(definition, json!({"kind": "b"}));
    assert_eq!(h.tasks()[1], ("in_default".into(), TaskStatus::Scheduled));
    assert_eq!(
        h.state().tasks()[0].output_data,
        map(json!({"caseOutput": ["b"]}))
    );
    h.complete("in_default", json!({}));
    assert_eq!(h.tasks()[2], ("after".into(), TaskStatus::Scheduled));
}

#[test]
fn fork_runs_branches_in_parallel_and_join_collects_their_outputs() {
    let mut h = Harness::new();
    h.start(
        json!({"name": "w", "tasks": [
            {"name": "fork", "taskReferenceName": "fork", "type": "FORK_JOIN", "forkTasks": [[simple("a1"), simple("a2")], [simple("b1")]]},
            {"name": "join", "taskReferenceName": "join", "type": "JOIN", "joinOn": ["a2", "b1"]},
            simple("after")
        ]}),
        json!({}),
    );
    let refs: Vec<String> = h.tasks().into_iter().map(|(r, _)| r).collect();
    assert_eq!(refs, vec!["fork", "a1", "b1", "join"]);
    assert_eq!(h.state().tasks()[0].task_type, "FORK");
    h.complete("b1", json!({"b": 1}));
    h.complete("a1", json!({}));
    assert_eq!(h.tasks()[3].1, TaskStatus::Scheduled, "join waits for a2");
    h.complete("a2", json!({"a": 2}));
    let join = &h.state().tasks()[h.state().latest_task_index("join").unwrap()];
    assert_eq!(join.status, TaskStatus::Completed);
    assert_eq!(
        join.output_data,
        map(json!({"a2": {"a": 2}, "b1": {"b": 1}}))
    );
    assert_eq!(
        h.tasks().last().unwrap(),
        &("after".to_string(), TaskStatus::Scheduled)
    );
}

#[test]
fn a_failed_branch_fails_the_workflow_and_cancels_the_rest() {
    let mut h = Harness::new();
    h.start(
        json!({"name": "w", "tasks": [
            {"name": "fork", "taskReferenceName": "fork", "type": "FORK_JOIN", "forkTasks": [[{"name": "x", "taskReferenceName": "a", "retryCount": 0}], [simple("b")]]},
            {"name": "join", "taskReferenceName": "join", "type": "JOIN", "joinOn": ["a", "b"]}
        ]}),
        json!({}),
    );
    h.report("a", TaskResultStatus::Failed, json!({}));
    assert_eq!(h.status(), WorkflowStatus::Failed);
    let statuses: HashMap<String, TaskStatus> = h.tasks().into_iter().collect();
    assert_eq!(statuses["b"], TaskStatus::Canceled);
    assert_eq!(statuses["join"], TaskStatus::Canceled);
    h.with_state(ops::retry).expect("retry");
    assert_eq!(h.status(), WorkflowStatus::Running);
    let scheduled: Vec<String> = h
        .tasks()
        .into_iter()
        .filter(|(_, s)| *s == TaskStatus::Scheduled)
        .map(|(r, _)| r)
        .collect();
    assert_eq!(scheduled, vec!["a", "b"]);
    h.complete("a", json!({}));
    h.complete("b", json!({}));
    assert_eq!(h.status(), WorkflowStatus::Completed);
}

#[test]
fn terminate_ends_the_workflow_with_its_status_and_output() {
    let mut h = Harness::new();
    h.start(
        json!({"name": "w", "failureWorkflow": "on_failure", "tasks": [
            {"name": "fork", "taskReferenceName": "fork", "type": "FORK_JOIN", "forkTasks": [[simple("a")], [{"name": "t", "taskReferenceName": "t", "type": "TERMINATE",
              "inputParameters": {"terminationStatus": "FAILED", "workflowOutput": {"why": "${workflow.input.why}"}}}]]},
            {"name": "join", "taskReferenceName": "join", "type": "JOIN", "joinOn": ["a", "t"]}
        ]}),
        json!({"why": "because"}),
    );
    assert_eq!(h.status(), WorkflowStatus::Failed);
    assert_eq!(h.state().workflow.output, map(json!({"why": "because"})));
    let reason = h
        .state()
        .workflow
        .reason_for_incompletion
        .clone()
        .unwrap_or_default();
    assert!(
        reason.starts_with("Workflow is FAILED by TERMINATE task"),
        "{reason}"
    );
    assert!(
        h.out
            .job_adds
            .iter()
            .any(|j| j.kind == JobKind::FailureWorkflow)
    );
    let statuses: HashMap<String, TaskStatus> = h.tasks().into_iter().collect();
    assert_eq!(statuses["a"], TaskStatus::Canceled);
    assert_eq!(statuses["t"], TaskStatus::Completed);
}

#[test]
fn set_variable_merges_and_is_visible_to_later_tasks() {
    let mut h = Harness::new();
    h.start(
        json!({"name": "w", "variables": {"keep": 1}, "tasks": [
            {"name": "sv", "taskReferenceName": "sv", "type": "SET_VARIABLE", "inputParameters": {"count": "${workflow.input.n}"}},
            {"name": "work", "taskReferenceName": "a", "inputParameters": {"c": "${workflow.variables.count}", "k": "${workflow.variables.keep}"}}
        ]}),
        json!({"n": 5}),
    );
    assert_eq!(
        h.state().workflow.variables,
        map(json!({"keep": 1, "count": 5}))
    );
    assert_eq!(
        h.state().tasks()[1].input_data,
        map(json!({"c": 5, "k": 1}))
    );

    let mut h = Harness::new();
    h.limits.max_variables_bytes = 10;
    h.start(
        json!({"name": "w", "tasks": [{"name": "sv", "taskReferenceName": "sv", "type": "SET_VARIABLE", "inputParameters": {"big": "0123456789"}}]}),
        json!({}),
    );
    assert_eq!(h.status(), WorkflowStatus::Failed);
}

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
    assert_eq!(h.out.job_adds[0].kind, JobKind::SystemTask);
    h.complete("call", json!({"response": {"body": {"id": 9}}}));
    let child = &h.state().tasks()[1];
    assert_eq!(child.task_type, "SUB_WORKFLOW");
    assert_eq!(child.input_data["subWorkflowName"], json!("kid"));
    assert_eq!(child.input_data["subWorkflowVersion"], json!(2));
    assert_eq!(child.input_data["workflowInput"], json!({"p": {"id": 9}}));
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
