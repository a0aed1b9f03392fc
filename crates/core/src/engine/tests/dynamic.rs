//! `DYNAMIC` and `FORK_JOIN_DYNAMIC`: what data chooses waits for its job (which
//! authorizes it as the run's principals, see `exec::chosen`), then runs under the
//! node's reference or as the fork's branches.

use super::*;

fn dynamic(name: Value) -> Value {
    json!({"name": "w", "tasks": [
        {"name": "dynamic_task", "taskReferenceName": "dyn", "type": "DYNAMIC",
         "dynamicTaskNameParam": "taskToExecute",
         "inputParameters": {"taskToExecute": name, "n": 1, "evaluatorType": "javascript",
                             "expression": "$.n + 1"}},
        simple("after")
    ]})
}

#[test]
fn a_dynamic_task_runs_the_worker_task_its_input_names_once_its_job_allows_it() {
    let mut h = Harness::new().task_def(json!({"name": "resize", "pollTimeoutSeconds": 5}));
    h.start(
        dynamic(json!("${workflow.input.pick}")),
        json!({"pick": "resize"}),
    );
    // Nothing is queued before the choice is authorized.
    let task = &h.state().tasks()[0];
    assert_eq!(
        (task.task_type.as_str(), task.status),
        ("DYNAMIC", TaskStatus::Scheduled)
    );
    assert!(h.queued().is_empty());
    assert_eq!(h.out.job_adds.len(), 1);
    assert_eq!(h.out.job_adds[0].lane, JobLane::Work);
    let placeholder = task.task_id.clone();

    assert!(h.choose("dyn"));
    let task = &h.state().tasks()[0];
    assert_eq!(
        (task.task_type.as_str(), task.task_def_name.as_str()),
        ("resize", "resize")
    );
    assert_eq!(task.task_id, placeholder, "the task keeps its id");
    assert_eq!(task.reference_task_name, "dyn");
    // The name stays in the input, as in Conductor.
    assert_eq!(task.input_data["taskToExecute"], json!("resize"));
    assert_eq!(h.queued(), vec!["resize".to_string()]);
    // A second run of the job finds nothing to do.
    assert!(!h.choose("dyn"));

    // The chosen task's definition governs it: its poll timeout applies.
    h.tick(6_000);
    assert_eq!(h.state().tasks()[0].status, TaskStatus::TimedOut);
}

#[test]
fn a_dynamic_task_may_run_a_script_but_nothing_that_starts_work_or_writes() {
    let mut h = Harness::new();
    h.start(dynamic(json!("INLINE")), json!({}));
    h.choose("dyn");
    assert_eq!(h.state().tasks()[0].task_type, "INLINE");
    assert_eq!(h.out.job_adds.len(), 1);
    assert_eq!(h.out.job_adds[0].lane, JobLane::Scripts);

    for (name, reason) in [
        (
            json!(null),
            "Cannot map a dynamic task based on the parameter and input. Parameter= taskToExecute",
        ),
        (json!("SUB_WORKFLOW"), "cannot run a SUB_WORKFLOW task"),
        (json!("UPDATE_SECRET"), "cannot run a UPDATE_SECRET task"),
        (json!("SET_VARIABLE"), "cannot run a SET_VARIABLE task"),
        (json!("TERMINATE"), "cannot run a TERMINATE task"),
        (json!("queue:type"), "names no task it can run"),
        (json!("x".repeat(300)), "names no task it can run"),
    ] {
        let mut h = Harness::new();
        h.start(dynamic(name), json!({}));
        h.choose("dyn");
        assert_eq!(h.status(), WorkflowStatus::Failed);
        let task = &h.state().tasks()[0];
        assert_eq!(task.status, TaskStatus::FailedWithTerminalError);
        let text = task.reason_for_incompletion.clone().unwrap_or_default();
        assert!(text.contains(reason), "{text}");
    }
}

#[test]
fn a_rerun_dynamic_task_chooses_again() {
    let mut h = Harness::new();
    h.start(
        dynamic(json!("${workflow.input.pick}")),
        json!({"pick": "resize"}),
    );
    h.choose("dyn");
    h.report("dyn", TaskResultStatus::FailedWithTerminalError, json!({}));
    assert_eq!(h.status(), WorkflowStatus::Failed);
    let request = RerunWorkflowRequest {
        re_run_from_task_id: Some(h.task_id("dyn")),
        ..RerunWorkflowRequest::default()
    };
    h.with_state(|state, ctx, out| ops::rerun(state, &request, ctx, out))
        .unwrap();
    let task = &h.state().tasks()[0];
    assert_eq!(
        (task.task_type.as_str(), task.status),
        ("DYNAMIC", TaskStatus::Scheduled)
    );
    assert!(h.queued().is_empty());
    assert_eq!(
        h.out.job_adds.len(),
        1,
        "its job authorizes the choice again"
    );
    h.choose("dyn");
    assert_eq!(h.queued(), vec!["resize".to_string()]);
}

fn dynamic_fork() -> Value {
    json!({"name": "w", "tasks": [
        {"name": "fan", "taskReferenceName": "fan", "type": "FORK_JOIN_DYNAMIC",
         "dynamicForkTasksParam": "dynamicTasks", "dynamicForkTasksInputParamName": "dynamicTasksInput",
         "inputParameters": {"dynamicTasks": "${workflow.input.tasks}",
                             "dynamicTasksInput": "${workflow.input.inputs}"}},
        {"name": "join", "taskReferenceName": "join", "type": "JOIN"},
        simple("after")
    ]})
}

fn branch(reference: &str) -> Value {
    json!({"name": "work", "taskReferenceName": reference, "type": "SIMPLE", "optional": true})
}

fn two_branches() -> Value {
    json!({"tasks": [branch("a"), branch("b")], "inputs": {"a": {"x": 1}, "b": {"x": 2}}})
}

#[test]
fn a_dynamic_fork_starts_the_branches_its_input_lists_and_its_join_waits_for_them() {
    let mut h = Harness::new();
    h.start(
        dynamic_fork(),
        json!({"tasks": [branch("a"), branch("b")],
               "inputs": {"a": {"x": 1}, "b": {"x": "${workflow.secrets.key}"}}}),
    );
    assert_eq!(h.tasks(), vec![("fan".into(), TaskStatus::Scheduled)]);
    assert_eq!(h.out.job_adds.len(), 1);
    h.choose("fan");
    let refs: Vec<String> = h.tasks().into_iter().map(|(r, _)| r).collect();
    assert_eq!(refs, ["fan", "a", "b", "join"]);
    let fork = &h.state().tasks()[0];
    assert_eq!(
        (fork.task_type.as_str(), fork.status),
        ("FORK", TaskStatus::Completed)
    );
    assert_eq!(fork.input_data["forkedTasks"], json!(["a", "b"]));
    assert_eq!(h.state().tasks()[1].input_data, map(json!({"x": 1})));
    // Data is not resolved again, and a grafted node has no template: the text of a
    // secret reference in a branch's input is text, never a reference.
    assert_eq!(
        h.state().tasks()[2].input_data["x"],
        json!("${workflow.secrets.key}")
    );
    let node = crate::engine::graph::find_task(&h.state().def, "b").expect("grafted");
    assert!(node.input_parameters.is_empty());
    assert_eq!(h.queued(), vec!["work".to_string(), "work".to_string()]);

    // After a restart the branches are found again (here: `b` is optional).
    h.reload();
    h.complete("a", json!({"done": "a"}));
    h.report("b", TaskResultStatus::FailedWithTerminalError, json!({}));
    let join = &h.state().tasks()[3];
    // As Conductor: an optional branch that failed completes the join with errors.
    assert_eq!(join.status, TaskStatus::CompletedWithErrors);
    assert_eq!(join.output_data["a"], json!({"done": "a"}));
    assert_eq!(h.tasks()[4], ("after".into(), TaskStatus::Scheduled));
}

#[test]
fn the_newer_form_names_its_branches_and_an_empty_list_joins_at_once() {
    let mut h = Harness::new();
    h.start(
        json!({"name": "w", "tasks": [
            {"name": "fan", "taskReferenceName": "fan", "type": "FORK_JOIN_DYNAMIC",
             "inputParameters": {"forkTaskName": "resize", "forkTaskInputs": "${workflow.input.items}"}},
            {"name": "join", "taskReferenceName": "join", "type": "JOIN"}
        ]}),
        json!({"items": [7, {"url": "u"}]}),
    );
    h.choose("fan");
    let tasks = h.state().tasks();
    assert_eq!(tasks[1].reference_task_name, "_resize_0");
    assert_eq!(tasks[1].task_type, "resize");
    assert_eq!(tasks[1].input_data, map(json!({"input": 7, "__index": 0})));
    assert_eq!(tasks[2].input_data, map(json!({"url": "u", "__index": 1})));
    h.complete("_resize_0", json!({}));
    h.complete("_resize_1", json!({}));
    assert_eq!(h.status(), WorkflowStatus::Completed);

    let mut h = Harness::new();
    h.start(dynamic_fork(), json!({"tasks": [], "inputs": {}}));
    h.choose("fan");
    assert_eq!(h.status(), WorkflowStatus::Running);
    assert_eq!(h.tasks()[1], ("join".into(), TaskStatus::Completed));
    assert_eq!(h.tasks()[2], ("after".into(), TaskStatus::Scheduled));
}

#[test]
fn a_dynamic_fork_refuses_what_data_may_not_start() {
    let long = "r".repeat(300);
    for (input, reason) in [
        (
            json!({"tasks": [{"name": "s", "taskReferenceName": "s", "type": "UPDATE_SECRET"}], "inputs": {}}),
            "is a UPDATE_SECRET, which a dynamic fork does not start",
        ),
        (
            json!({"tasks": [{"name": "v", "taskReferenceName": "v", "type": "SET_VARIABLE"}], "inputs": {}}),
            "is a SET_VARIABLE, which a dynamic fork does not start",
        ),
        (
            json!({"tasks": [branch("a"), branch("a")], "inputs": {}}),
            "duplicate task reference name: a",
        ),
        (
            json!({"tasks": [branch("after")], "inputs": {}}),
            "duplicate task reference name: after",
        ),
        (
            json!({"tasks": [branch("workflow")], "inputs": {}}),
            "'workflow' cannot be a task reference name",
        ),
        (
            json!({"tasks": [branch("x__2")], "inputs": {}}),
            "ends like a loop iteration's",
        ),
        (
            json!({"tasks": [branch(&long)], "inputs": {}}),
            "cannot be a task reference name",
        ),
        (
            json!({"tasks": [{"name": long, "taskReferenceName": "a"}], "inputs": {}}),
            "has no name a task can run under",
        ),
        (
            json!({"tasks": [{"name": "DO_WHILE", "taskReferenceName": "a"}], "inputs": {}}),
            "has no name a task can run under",
        ),
        (
            json!({"tasks": [branch("a")], "inputs": "nope"}),
            "is not a map",
        ),
        (
            json!({"tasks": "nope", "inputs": {}}),
            "Cannot deserialize a list of Workflow Tasks",
        ),
    ] {
        let mut h = Harness::new();
        h.start(dynamic_fork(), input);
        h.choose("fan");
        assert_eq!(h.status(), WorkflowStatus::Failed);
        let fork = &h.state().tasks()[0];
        assert_eq!(fork.status, TaskStatus::FailedWithTerminalError);
        let text = fork.reason_for_incompletion.clone().unwrap_or_default();
        assert!(text.contains(reason), "{text}");
    }
}

#[test]
fn a_branch_keeps_only_what_data_may_choose_and_its_input_as_given() {
    let mut h = Harness::new();
    h.start(
        dynamic_fork(),
        json!({"tasks": [
            {"name": "work", "taskReferenceName": "a", "type": "SIMPLE",
             "retryCount": 2147483647, "startDelay": 100, "taskToDomain": {"*": "x"},
             "taskDefinition": {"name": "work", "retryCount": 5, "retryDelaySeconds": 0,
                                "inputTemplate": {"loot": "${workflow.input}"}}},
            {"name": "c", "taskReferenceName": "c", "type": "SUB_WORKFLOW",
             "subWorkflowParam": {"name": "child", "version": 2, "taskToDomain": {"*": "staging"},
                                  "priority": "${workflow.input}",
                                  "workflowDefinition": {"name": "x", "tasks": []}}}],
              "inputs": {"a": {"n": 1}, "c": {"m": 2}}}),
    );
    h.choose("fan");
    let node = crate::engine::graph::find_task(&h.state().def, "a").expect("grafted");
    assert_eq!(node.task_definition, None);
    assert_eq!(node.retry_count, None);
    assert_eq!(node.start_delay, 0);
    let child = crate::engine::graph::find_task(&h.state().def, "c").expect("grafted");
    let params = child.sub_workflow_param.clone().expect("child");
    assert_eq!(
        (params.name.as_str(), params.version),
        ("child", Some(json!(2)))
    );
    assert_eq!(
        (
            params.task_to_domain,
            params.workflow_definition,
            params.priority
        ),
        (None, None, None)
    );
    let c = &h.state().tasks()[h.state().latest_task_index("c").unwrap()];
    assert_eq!(c.input_data["subWorkflowName"], json!("child"));
    assert_eq!(c.input_data["subWorkflowTaskToDomain"], Value::Null);
    assert_eq!(c.input_data["subWorkflowDefinition"], Value::Null);
    assert_eq!(c.input_data["workflowInput"], json!({"m": 2}));

    // The ad-hoc definition of `work` retries it, with the input it was given.
    h.report("a", TaskResultStatus::Failed, json!({}));
    let retry = &h.state().tasks()[h.state().latest_task_index("a").unwrap()];
    assert_eq!(retry.retry_count, 1);
    assert_eq!(retry.input_data, map(json!({"n": 1})));
}

#[test]
fn a_workflow_starts_a_bounded_number_of_dynamic_branches() {
    let mut h = Harness::new();
    h.limits.max_dynamic_branches = 3;
    h.start(
        dynamic_fork(),
        json!({"tasks": [branch("a"), branch("b"), branch("c"), branch("d")], "inputs": {}}),
    );
    h.choose("fan");
    let text = h.state().tasks()[0]
        .reason_for_incompletion
        .clone()
        .unwrap_or_default();
    assert!(
        text.contains("more than the 3 a workflow may start"),
        "{text}"
    );
    assert_eq!(h.status(), WorkflowStatus::Failed);
}

#[test]
fn the_join_of_an_optional_dynamic_fork_that_failed_joins_nothing() {
    let mut def = dynamic_fork();
    def["tasks"][0]["optional"] = json!(true);
    let mut h = Harness::new();
    h.start(def, json!({"tasks": "nope", "inputs": {}}));
    h.choose("fan");
    assert_eq!(
        h.tasks()[0],
        ("fan".into(), TaskStatus::CompletedWithErrors)
    );
    assert_eq!(h.tasks()[1], ("join".into(), TaskStatus::Completed));
    assert_eq!(h.tasks()[2], ("after".into(), TaskStatus::Scheduled));
}

fn finished_fork() -> Harness {
    let mut h = Harness::new();
    h.start(dynamic_fork(), two_branches());
    h.choose("fan");
    h.complete("a", json!({}));
    h.complete("b", json!({}));
    h.complete("after", json!({}));
    assert_eq!(h.status(), WorkflowStatus::Completed);
    h
}

#[test]
fn a_restarted_workflow_forks_again_from_its_stored_definition() {
    let mut h = finished_fork();
    h.with_state(|state, ctx, out| ops::restart(state, None, ctx, out))
        .unwrap();
    assert_eq!(h.tasks(), vec![("fan".into(), TaskStatus::Scheduled)]);
    assert!(
        crate::engine::graph::find_task(&h.state().def, "a").is_none(),
        "the old branches are no longer grafted"
    );
    h.choose("fan");
    let refs: Vec<String> = h.tasks().into_iter().map(|(r, _)| r).collect();
    assert_eq!(refs, ["fan", "a", "b", "join"]);
    h.complete("a", json!({}));
    h.complete("b", json!({}));
    h.complete("after", json!({}));
    assert_eq!(h.status(), WorkflowStatus::Completed);
}

#[test]
fn a_rerun_from_the_fork_forks_again_with_its_new_input() {
    let mut h = finished_fork();
    let request = RerunWorkflowRequest {
        re_run_from_task_id: Some(h.task_id("fan")),
        task_input: Some(map(
            json!({"dynamicTasks": [branch("z")], "dynamicTasksInput": {}}),
        )),
        ..RerunWorkflowRequest::default()
    };
    h.with_state(|state, ctx, out| ops::rerun(state, &request, ctx, out))
        .unwrap();
    assert_eq!(h.tasks(), vec![("fan".into(), TaskStatus::Scheduled)]);
    assert_eq!(h.out.job_adds.len(), 1);
    h.choose("fan");
    let refs: Vec<String> = h.tasks().into_iter().map(|(r, _)| r).collect();
    assert_eq!(refs, ["fan", "z", "join"]);
    h.complete("z", json!({}));
    h.complete("after", json!({}));
    assert_eq!(h.status(), WorkflowStatus::Completed);
}

#[test]
fn a_choice_made_for_other_input_is_not_applied() {
    let mut h = Harness::new();
    h.start(dynamic_fork(), two_branches());
    let id = h.task_id("fan");
    let other = map(json!({"dynamicTasks": [branch("z")], "dynamicTasksInput": {}}));
    let applied = h.with_state(|state, ctx, out| {
        crate::engine::dynamic::apply_choice(state, &id, &other, ctx, out)
    });
    assert!(!applied);
    assert_eq!(h.tasks(), vec![("fan".into(), TaskStatus::Scheduled)]);
}

#[test]
fn names_are_checked_before_they_are_copied_into_branches() {
    let mut h = Harness::new();
    h.start(
        json!({"name": "w", "tasks": [
            {"name": "fan", "taskReferenceName": "fan", "type": "FORK_JOIN_DYNAMIC",
             "inputParameters": {"forkTaskName": "${workflow.input.name}", "forkTaskInputs": [1, 2]}},
            {"name": "join", "taskReferenceName": "join", "type": "JOIN"}
        ]}),
        json!({"name": "n".repeat(1000)}),
    );
    h.choose("fan");
    let text = h.state().tasks()[0]
        .reason_for_incompletion
        .clone()
        .unwrap_or_default();
    assert!(text.contains("cannot name a task"), "{text}");
    assert!(text.len() < 600, "the reason is bounded");
}

#[test]
fn a_system_task_branch_runs_under_its_type_never_a_name_data_gives() {
    let mut h = Harness::new().task_def(json!({"name": "billing", "retryCount": 9}));
    h.start(
        dynamic_fork(),
        json!({"tasks": [{"name": "billing", "taskReferenceName": "h", "type": "HUMAN"}], "inputs": {}}),
    );
    h.choose("fan");
    let task = &h.state().tasks()[h.state().latest_task_index("h").unwrap()];
    assert_eq!(
        (task.task_type.as_str(), task.task_def_name.as_str()),
        ("HUMAN", "HUMAN")
    );
}

#[test]
fn a_dynamic_task_in_a_loop_keeps_its_iteration() {
    let mut h = Harness::new();
    h.start(
        json!({"name": "w", "tasks": [
            {"name": "loop", "taskReferenceName": "loop", "type": "DO_WHILE",
             "loopCondition": "", "loopOver": [
                {"name": "dynamic_task", "taskReferenceName": "dyn", "type": "DYNAMIC",
                 "dynamicTaskNameParam": "t", "inputParameters": {"t": "resize"}}
             ]}
        ]}),
        json!({}),
    );
    h.choose("dyn__1");
    let task = &h.state().tasks()[h.state().latest_task_index("dyn__1").unwrap()];
    assert_eq!(
        (
            task.reference_task_name.as_str(),
            task.task_type.as_str(),
            task.iteration
        ),
        ("dyn__1", "resize", 1)
    );
}

#[test]
fn a_branch_record_the_engine_could_not_have_written_is_never_grafted() {
    let mut h = Harness::new();
    h.start(dynamic_fork(), two_branches());
    h.choose("fan");
    let base = h.state().base_def().clone();
    let mut tasks = h.state().tasks().to_vec();
    for (forged, why) in [
        (
            json!([{"name": "s", "taskReferenceName": "s", "type": "UPDATE_SECRET"}]),
            "a type data may not choose",
        ),
        (
            json!([{"name": "work", "taskReferenceName": "after", "type": "SIMPLE"}]),
            "a definition node's reference",
        ),
    ] {
        tasks[0].input_data.insert("forkedTaskDefs".into(), forged);
        let def = crate::engine::dynamic::grafted(&base, &tasks);
        let fork = crate::engine::graph::find_task(&def, "fan").expect("fork");
        assert!(fork.fork_tasks.is_empty(), "{why}");
    }
}
