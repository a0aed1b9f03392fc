//! `DO_WHILE`: iterations with `__N` references, the condition asked through a job
//! (whose outcome is applied here as the job would), lists, `keepLastN`, failures,
//! retry, rerun, and a crash in the middle of a loop.

use super::*;
use crate::engine::loops::{self, ConditionOutcome};

fn counting_loop(times: i64) -> Value {
    json!({"name": "w", "tasks": [
        {"name": "loop", "taskReferenceName": "loop", "type": "DO_WHILE",
         "inputParameters": {"value": times},
         "loopCondition": "if ($.loop['iteration'] < $.value) { true; } else { false; }",
         "loopOver": [simple("a"), simple("b")]},
        simple("after")
    ]})
}

impl Harness {
    /// The loop's condition answered `outcome` for the iteration it asked about,
    /// as the job applies it.
    fn condition(&mut self, reference: &str, outcome: ConditionOutcome) {
        let id = self.task_id(reference);
        let index = self.state().task_index(&id).expect("loop");
        let asked = loops::asked_iteration(&self.state().tasks()[index]).expect("asked");
        self.with_state(|state, ctx, out| {
            loops::apply_condition(state, &id, asked, outcome, ctx, out)
        })
        .expect("applies");
    }

    fn loop_task(&self) -> &crate::model::Task {
        let index = self.state().latest_task_index("loop").expect("loop");
        &self.state().tasks()[index]
    }

    fn script_jobs(&self) -> usize {
        self.out
            .job_adds
            .iter()
            .filter(|j| j.lane == JobLane::Scripts)
            .count()
    }
}

#[test]
fn iterations_run_with_suffixed_references_until_the_condition_is_false() {
    let mut h = Harness::new();
    h.start(counting_loop(2), json!({}));
    assert_eq!(
        h.tasks(),
        vec![
            ("loop".into(), TaskStatus::InProgress),
            ("a__1".into(), TaskStatus::Scheduled)
        ]
    );
    let a1 = &h.state().tasks()[1];
    assert!(a1.loop_over_task);
    assert_eq!(a1.iteration, 1);
    assert_eq!(h.loop_task().output_data["iteration"], json!(1));
    h.complete("a__1", json!({"n": 1}));
    assert_eq!(h.tasks()[2], ("b__1".into(), TaskStatus::Scheduled));
    assert_eq!(h.script_jobs(), 0, "the iteration is not over");
    h.complete("b__1", json!({"m": 1}));
    // The iteration ended: its outputs are recorded and a job asks the condition.
    assert_eq!(h.script_jobs(), 1);
    assert_eq!(h.out.job_adds[0].task_id, Some(h.task_id("loop")));
    assert_eq!(
        h.loop_task().output_data["1"],
        json!({"a": {"n": 1}, "b": {"m": 1}})
    );
    // A decision meanwhile asks nothing again.
    h.tick(10);
    assert_eq!(h.script_jobs(), 0);
    // What the condition sees, as Conductor lays it out.
    let loop_task = h.loop_task().clone();
    let document = loops::condition_input(h.state(), &loop_task, &loop_task.input_data);
    assert_eq!(document["value"], json!(2));
    assert_eq!(document["loop"]["iteration"], json!(1));
    assert_eq!(document["b"], json!({"m": 1}));

    h.condition("loop", Ok(true));
    assert_eq!(h.loop_task().output_data["iteration"], json!(2));
    assert_eq!(h.tasks().last().unwrap().0, "a__2");
    h.complete("a__2", json!({"n": 2}));
    h.complete("b__2", json!({"m": 2}));
    h.condition("loop", Ok(false));
    assert_eq!(h.loop_task().status, TaskStatus::Completed);
    assert_eq!(h.loop_task().output_data["iteration"], json!(2));
    assert_eq!(h.loop_task().output_data["2"]["a"], json!({"n": 2}));
    assert_eq!(h.tasks().last().unwrap().0, "after");
    h.complete("after", json!({}));
    assert_eq!(h.status(), WorkflowStatus::Completed);
}

#[test]
fn a_later_task_reads_the_latest_iteration_by_the_bare_reference() {
    let mut h = Harness::new();
    h.start(
        json!({"name": "w", "tasks": [
            {"name": "loop", "taskReferenceName": "loop", "type": "DO_WHILE", "loopCondition": "true",
             "loopOver": [{"name": "work", "taskReferenceName": "a",
                           "inputParameters": {"prev": "${a.output.n}", "it": "${loop.output.iteration}"}}]},
            {"name": "work", "taskReferenceName": "after", "inputParameters": {"last": "${a.output.n}"}}
        ]}),
        json!({}),
    );
    h.complete("a__1", json!({"n": 1}));
    h.condition("loop", Ok(true));
    let a2 = &h.state().tasks()[h.state().latest_task_index("a__2").unwrap()];
    assert_eq!(a2.input_data["prev"], json!(1));
    assert_eq!(a2.input_data["it"], json!(2));
    h.complete("a__2", json!({"n": 2}));
    h.condition("loop", Ok(false));
    let after = &h.state().tasks()[h.state().latest_task_index("after").unwrap()];
    assert_eq!(after.input_data["last"], json!(2));
}

#[test]
fn switches_forks_and_joins_stay_inside_their_iteration() {
    let mut h = Harness::new();
    h.start(
        json!({"name": "w", "tasks": [
            {"name": "loop", "taskReferenceName": "loop", "type": "DO_WHILE", "loopCondition": "true",
             "loopOver": [
                {"name": "s", "taskReferenceName": "s", "type": "SWITCH", "evaluatorType": "value-param",
                 "expression": "c", "inputParameters": {"c": "x"},
                 "decisionCases": {"x": [simple("in_case")]}},
                {"name": "f", "taskReferenceName": "f", "type": "FORK_JOIN",
                 "forkTasks": [[simple("l")], [simple("r")]]},
                {"name": "j", "taskReferenceName": "j", "type": "JOIN", "joinOn": ["l", "r"]}
             ]}
        ]}),
        json!({}),
    );
    for iteration in 1..=2 {
        let at = |r: &str| format!("{r}__{iteration}");
        assert_eq!(
            h.state().tasks()[h.state().latest_task_index(&at("s")).unwrap()].status,
            TaskStatus::Completed
        );
        h.complete(&at("in_case"), json!({"i": iteration}));
        h.complete(&at("l"), json!({"side": "l"}));
        assert_eq!(h.script_jobs(), 0, "the join waits for r");
        h.complete(&at("r"), json!({"side": "r"}));
        let join = &h.state().tasks()[h.state().latest_task_index(&at("j")).unwrap()];
        assert_eq!(join.status, TaskStatus::Completed);
        assert_eq!(join.output_data["l"], json!({"side": "l"}));
        let recorded = &h.loop_task().output_data[&iteration.to_string()];
        assert_eq!(recorded["in_case"], json!({"i": iteration}));
        assert!(recorded.get("j").is_some());
        h.condition("loop", Ok(iteration < 2));
    }
    assert_eq!(h.status(), WorkflowStatus::Completed);
}

#[test]
fn a_list_runs_once_per_item_and_an_empty_list_not_at_all() {
    let mut h = Harness::new();
    let list_loop = json!({"name": "w", "tasks": [
        {"name": "loop", "taskReferenceName": "loop", "type": "DO_WHILE", "loopCondition": "",
         "items": "${workflow.input.list}",
         "loopOver": [{"name": "work", "taskReferenceName": "a",
                       "inputParameters": {"item": "${loop.output.loopItem}"}}]}
    ]});
    h.start(list_loop.clone(), json!({"list": ["x", "y"]}));
    assert_eq!(h.loop_task().output_data["loopItem"], json!("x"));
    assert_eq!(h.state().tasks()[1].input_data["item"], json!("x"));
    h.complete("a__1", json!({}));
    // No condition: the list alone decides, still through a job, so one decision
    // never runs iteration after iteration.
    assert_eq!(h.script_jobs(), 1);
    h.condition("loop", Ok(false));
    assert_eq!(h.loop_task().output_data["loopIndex"], json!(1));
    assert_eq!(
        h.state().tasks()[h.state().latest_task_index("a__2").unwrap()].input_data["item"],
        json!("y")
    );
    h.complete("a__2", json!({}));
    h.condition("loop", Ok(false));
    assert_eq!(h.status(), WorkflowStatus::Completed);
    assert_eq!(h.loop_task().output_data["iteration"], json!(2));

    let mut h = Harness::new();
    h.start(list_loop, json!({"list": []}));
    assert_eq!(h.loop_task().status, TaskStatus::Completed);
    assert_eq!(h.loop_task().output_data["iteration"], json!(0));
    assert_eq!(h.status(), WorkflowStatus::Completed);

    // A condition and a list: the loop stops at whichever ends first.
    let mut h = Harness::new();
    h.start(
        json!({"name": "w", "tasks": [
            {"name": "loop", "taskReferenceName": "loop", "type": "DO_WHILE", "loopCondition": "true",
             "inputParameters": {"_items": [1, 2, 3]}, "loopOver": [simple("a")]}
        ]}),
        json!({}),
    );
    h.complete("a__1", json!({}));
    h.condition("loop", Ok(false));
    assert_eq!(h.status(), WorkflowStatus::Completed);
    assert_eq!(h.loop_task().output_data["iteration"], json!(1));
}

#[test]
fn a_condition_that_fails_fails_the_loop_and_the_workflow() {
    let mut h = Harness::new();
    h.start(counting_loop(3), json!({}));
    h.complete("a__1", json!({}));
    h.complete("b__1", json!({}));
    h.condition("loop", Err("ReferenceError: x is not defined".into()));
    assert_eq!(h.loop_task().status, TaskStatus::FailedWithTerminalError);
    assert!(
        h.loop_task()
            .reason_for_incompletion
            .as_deref()
            .unwrap()
            .starts_with("Unable to evaluate condition if ($.loop['iteration'] < $.value)")
    );
    assert_eq!(h.status(), WorkflowStatus::Failed);
    // A retry asks the condition of the same iteration again.
    h.with_state(ops::retry).unwrap();
    assert_eq!(h.status(), WorkflowStatus::Running);
    assert_eq!(h.loop_task().status, TaskStatus::InProgress);
    assert_eq!(h.script_jobs(), 1);
    h.condition("loop", Ok(false));
    h.complete("after", json!({}));
    assert_eq!(h.status(), WorkflowStatus::Completed);
}

#[test]
fn a_failed_task_fails_the_workflow_and_a_retry_resumes_its_iteration() {
    let mut h = Harness::new();
    h.start(counting_loop(3), json!({}));
    h.complete("a__1", json!({}));
    h.complete("b__1", json!({}));
    h.condition("loop", Ok(true));
    h.complete("a__2", json!({}));
    // Retried by its definition first, in the same iteration.
    h.report("b__2", TaskResultStatus::Failed, json!({}));
    assert_eq!(h.status(), WorkflowStatus::Running);
    let again = &h.state().tasks()[h.state().latest_task_index("b__2").unwrap()];
    assert_eq!((again.retry_count, again.iteration), (1, 2));
    h.report("b__2", TaskResultStatus::FailedWithTerminalError, json!({}));
    assert_eq!(h.status(), WorkflowStatus::Failed);
    assert_eq!(h.loop_task().status, TaskStatus::Canceled);
    h.with_state(ops::retry).unwrap();
    assert_eq!(h.loop_task().status, TaskStatus::InProgress);
    assert_eq!(h.loop_task().iteration, 2);
    let retried = &h.state().tasks()[h.state().latest_task_index("b__2").unwrap()];
    assert_eq!(
        (retried.status, retried.iteration),
        (TaskStatus::Scheduled, 2)
    );
    assert!(retried.loop_over_task);
    h.complete("b__2", json!({"ok": true}));
    assert_eq!(h.loop_task().output_data["2"]["b"], json!({"ok": true}));
    h.condition("loop", Ok(false));
    h.complete("after", json!({}));
    assert_eq!(h.status(), WorkflowStatus::Completed);
}

#[test]
fn a_rerun_inside_the_loop_carries_on_from_that_iteration() {
    let mut h = Harness::new();
    h.start(counting_loop(2), json!({}));
    for iteration in 1..=2 {
        h.complete(&format!("a__{iteration}"), json!({"i": iteration}));
        h.complete(&format!("b__{iteration}"), json!({}));
        h.condition("loop", Ok(iteration < 2));
    }
    h.complete("after", json!({}));
    assert_eq!(h.status(), WorkflowStatus::Completed);
    let request = RerunWorkflowRequest {
        re_run_from_task_id: Some(h.task_id("b__1")),
        ..RerunWorkflowRequest::default()
    };
    h.with_state(|state, ctx, out| ops::rerun(state, &request, ctx, out))
        .unwrap();
    assert_eq!(h.loop_task().status, TaskStatus::InProgress);
    assert_eq!(h.loop_task().iteration, 1);
    assert!(h.loop_task().output_data.get("2").is_none());
    h.complete("b__1", json!({}));
    h.condition("loop", Ok(true));
    h.complete("a__2", json!({}));
    h.complete("b__2", json!({}));
    h.condition("loop", Ok(false));
    h.complete("after", json!({}));
    assert_eq!(h.status(), WorkflowStatus::Completed);
}

#[test]
fn a_crash_in_the_middle_of_a_loop_loses_nothing_and_repeats_nothing() {
    let mut h = Harness::new();
    h.start(counting_loop(3), json!({}));
    h.complete("a__1", json!({}));
    h.complete("b__1", json!({}));
    h.condition("loop", Ok(true));
    h.complete("a__2", json!({}));
    h.complete("b__2", json!({}));
    // The unit that ended iteration 2 committed with its job; then the process died.
    assert_eq!(h.script_jobs(), 1);
    h.reload();
    h.tick(1);
    assert_eq!(h.script_jobs(), 0, "the stored job is the one that asks");
    assert_eq!(loops::asked_iteration(h.loop_task()), Some(2));
    h.condition("loop", Ok(true));
    // The job ran again after its lease (its unit's reply was lost): no effect.
    let id = h.task_id("loop");
    h.with_state(|state, ctx, out| loops::apply_condition(state, &id, 2, Ok(true), ctx, out))
        .unwrap();
    assert_eq!(h.loop_task().iteration, 3);
    assert_eq!(
        h.tasks().iter().filter(|(r, _)| r == "a__3").count(),
        1,
        "iteration 3 started once"
    );
    h.reload();
    h.complete("a__3", json!({}));
    h.complete("b__3", json!({}));
    h.condition("loop", Ok(false));
    h.complete("after", json!({}));
    assert_eq!(h.status(), WorkflowStatus::Completed);
}

#[test]
fn keep_last_n_drops_old_iterations_and_a_loop_without_it_is_bounded() {
    let mut h = Harness::new();
    h.start(
        json!({"name": "w", "tasks": [
            {"name": "loop", "taskReferenceName": "loop", "type": "DO_WHILE", "loopCondition": "true",
             "inputParameters": {"keepLastN": 2}, "loopOver": [simple("a")]}
        ]}),
        json!({}),
    );
    for iteration in 1..=4 {
        h.complete(&format!("a__{iteration}"), json!({"i": iteration}));
        h.condition("loop", Ok(true));
    }
    let kept: Vec<String> = h.tasks().into_iter().map(|(r, _)| r).collect();
    assert_eq!(kept, ["loop", "a__3", "a__4", "a__5"]);
    let keys: Vec<&String> = h.loop_task().output_data.keys().collect();
    assert_eq!(keys, ["iteration", "3", "4"]);

    let mut h = Harness::new();
    h.start(
        json!({"name": "w", "tasks": [
            {"name": "loop", "taskReferenceName": "loop", "type": "DO_WHILE", "loopCondition": "true",
             "loopOver": [{"name": "n", "taskReferenceName": "n", "type": "NOOP"}]}
        ]}),
        json!({}),
    );
    for _ in 0..loops::MAX_KEPT_ITERATIONS {
        h.condition("loop", Ok(true));
    }
    assert_eq!(h.status(), WorkflowStatus::Failed);
    assert!(
        h.loop_task()
            .reason_for_incompletion
            .as_deref()
            .unwrap()
            .contains("set keepLastN")
    );
}

#[test]
fn an_optional_task_that_fails_lets_the_loop_go_on() {
    let mut h = Harness::new();
    h.start(
        json!({"name": "w", "tasks": [
            {"name": "loop", "taskReferenceName": "loop", "type": "DO_WHILE", "loopCondition": "false",
             "loopOver": [{"name": "work", "taskReferenceName": "a", "optional": true}, simple("b")]}
        ]}),
        json!({}),
    );
    h.report("a__1", TaskResultStatus::FailedWithTerminalError, json!({}));
    h.complete("b__1", json!({}));
    h.condition("loop", Ok(false));
    assert_eq!(h.status(), WorkflowStatus::Completed);
}

#[test]
fn a_paused_workflow_starts_no_iteration_until_it_is_resumed() {
    let mut h = Harness::new();
    h.start(counting_loop(3), json!({}));
    h.complete("a__1", json!({}));
    h.complete("b__1", json!({}));
    h.with_state(|state, ctx, _| ops::pause(state, ctx))
        .unwrap();
    h.condition("loop", Ok(true));
    assert_eq!(h.loop_task().iteration, 2);
    assert!(
        h.state().latest_task_index("a__2").is_none(),
        "nothing scheduled while paused"
    );
    h.with_state(ops::resume).unwrap();
    assert_eq!(
        h.tasks().last().unwrap(),
        &("a__2".to_string(), TaskStatus::Scheduled)
    );
}

#[test]
fn loops_the_starts_refuse_fail_when_they_run_anyway() {
    // A loop inside a loop (a restart on a later definition, a failure workflow).
    let mut h = Harness::new();
    h.start(
        json!({"name": "w", "tasks": [
            {"name": "outer", "taskReferenceName": "outer", "type": "DO_WHILE", "loopCondition": "true",
             "loopOver": [{"name": "inner", "taskReferenceName": "inner", "type": "DO_WHILE",
                           "loopCondition": "true", "loopOver": [simple("w")]}]}
        ]}),
        json!({}),
    );
    assert_eq!(h.status(), WorkflowStatus::Failed);
    let inner = &h.state().tasks()[1];
    assert_eq!(inner.reference_task_name, "inner__1");
    assert_eq!(inner.status, TaskStatus::FailedWithTerminalError);
    assert!(
        inner
            .reason_for_incompletion
            .as_deref()
            .unwrap()
            .contains("a DO_WHILE inside a DO_WHILE is not supported")
    );
    // A task inside a loop cannot be skipped in advance.
    let mut h = Harness::new();
    h.start(counting_loop(2), json!({}));
    let err = h
        .with_state(|state, ctx, out| ops::skip(state, "b", &SkipTaskRequest::default(), ctx, out))
        .unwrap_err();
    assert!(err.to_string().contains("inside a DO_WHILE"), "{err}");
}

#[test]
fn a_loop_keeps_a_bounded_number_of_tasks() {
    // keepLastN past the iteration bound counts as the bound, and the tasks the
    // loop keeps are bounded (here at 100).
    let mut h = Harness::new();
    h.limits.max_loop_tasks = 100;
    let body: Vec<Value> = (0..20)
        .map(|i| json!({"name": "n", "taskReferenceName": format!("n{i}"), "type": "NOOP"}))
        .collect();
    h.start(
        json!({"name": "w", "tasks": [
            {"name": "loop", "taskReferenceName": "loop", "type": "DO_WHILE", "loopCondition": "true",
             "inputParameters": {"keepLastN": 2147483647}, "loopOver": body}
        ]}),
        json!({}),
    );
    let mut rounds = 0;
    while h.status() == WorkflowStatus::Running {
        h.condition("loop", Ok(true));
        rounds += 1;
        assert!(rounds <= 10, "the loop was not stopped");
    }
    assert_eq!(h.status(), WorkflowStatus::Failed);
    let reason = h.loop_task().reason_for_incompletion.clone().unwrap();
    assert!(
        reason.contains("holds 120 tasks, more than the 100 a loop may keep"),
        "{reason}"
    );
}

#[test]
fn a_condition_value_holds_as_in_conductor() {
    for (value, holds) in [
        (json!(true), true),
        (json!(false), false),
        (json!(2), true),
        (json!(0), false),
        (json!(-1), false),
        (json!("true"), false),
        (json!(null), false),
        (json!({}), false),
    ] {
        assert_eq!(loops::holds(&value), holds, "{value}");
    }
    assert_eq!(loops::split_iteration("a__12"), Some(("a", 12)));
    assert_eq!(loops::split_iteration("a__b__3"), Some(("a__b", 3)));
    assert_eq!(loops::split_iteration("a__"), None);
    assert_eq!(loops::split_iteration("a__x"), None);
    assert_eq!(loops::split_iteration("__1"), None);
}
