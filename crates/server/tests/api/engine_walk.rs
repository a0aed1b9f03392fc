//! The route walk extended to the engine's own actions: a program that holds every
//! grant a workflow's whole run needs, but one, starts it; whatever the engine does
//! later for the program (start the sub-workflow, hand the child's task over with a
//! secret, start the failure workflow) is refused exactly where the missing grant
//! is needed, with a reason, and nothing runs there. Restart, retry and rerun are
//! walked the same way for an operator.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{App, TestApp, application, grant, task_def};

/// Every grant a run of `ew_parent` needs, start to failure workflow.
const GRANTS: [(&str, &str, &str); 7] = [
    ("WORKFLOW_DEF", "ew_parent", "EXECUTE"),
    ("TASK_DEF", "ew_step", "EXECUTE"),
    ("WORKFLOW_DEF", "ew_child", "EXECUTE"),
    ("TASK_DEF", "ew_child_step", "EXECUTE"),
    ("SECRET_NAME", "ew_secret", "READ"),
    ("WORKFLOW_DEF", "ew_cleanup", "EXECUTE"),
    ("TASK_DEF", "ew_cleanup_step", "EXECUTE"),
];

async fn setup(app: &TestApp) {
    app.raw(
        "PUT",
        "/api/secrets/ew_secret",
        "text/plain",
        "ew-secret-value",
    )
    .await;
    let defs = json!([
        task_def("ew_step"),
        task_def("ew_child_step"),
        task_def("ew_cleanup_step")
    ]);
    app.register(
        defs,
        json!({"name": "ew_child", "version": 1, "tasks": [
            {"name": "ew_child_step", "taskReferenceName": "c", "type": "SIMPLE",
             "inputParameters": {"s": "${workflow.secrets.ew_secret}"}}]}),
    )
    .await;
    app.register(
        json!([]),
        json!({"name": "ew_cleanup", "version": 1, "tasks": [
            {"name": "ew_cleanup_step", "taskReferenceName": "x", "type": "SIMPLE", "inputParameters": {}}]}),
    )
    .await;
    app.register(
        json!([]),
        json!({"name": "ew_parent", "version": 1, "failureWorkflow": "ew_cleanup", "tasks": [
            {"name": "ew_step", "taskReferenceName": "s", "type": "SIMPLE", "inputParameters": {}},
            {"name": "ew_child", "taskReferenceName": "sub", "type": "SUB_WORKFLOW",
             "subWorkflowParam": {"name": "ew_child"}, "inputParameters": {}}]}),
    )
    .await;
}

async fn program(app: &TestApp, name: &str, grants: &[(&str, &str, &str)]) -> App {
    let program = application(app, name, &[]).await;
    for (kind, target, access) in grants {
        let answer = grant(app, &format!("app:{}", program.id), kind, target, &[access]).await;
        assert_eq!(answer.status, 200, "{}", answer.text);
    }
    program
}

/// The next task of a type for a workflow, polled as the admin.
async fn next_task(app: &TestApp, task_type: &str, workflow_id: Option<&str>) -> Option<Value> {
    for _ in 0..20 {
        for task in app.poll(task_type, 10, 50).await {
            if workflow_id.is_none_or(|id| task["workflowInstanceId"] == id) {
                return Some(task);
            }
        }
    }
    None
}

async fn finish(app: &TestApp, task: &Value, status: &str) {
    let answer = app
        .post(
            "/api/tasks",
            json!({"workflowInstanceId": task["workflowInstanceId"], "taskId": task["taskId"], "status": status}),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
}

/// The failure workflow's outcome recorded on a failed run.
async fn failure_outcome(app: &TestApp, id: &str) -> String {
    for _ in 0..200 {
        let outcome = app.workflow(id).await["output"]["conductor.failure_workflow"].clone();
        if let Some(text) = outcome.as_str() {
            return text.to_string();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("workflow {id} recorded no failure workflow outcome");
}

#[tokio::test]
async fn every_delegated_action_is_checked_for_every_missing_grant() {
    let app = TestApp::spawn().await;
    setup(&app).await;
    for missing in 0..=GRANTS.len() {
        let held: Vec<_> = GRANTS
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != missing)
            .map(|(_, g)| *g)
            .collect();
        let lacking = GRANTS
            .get(missing)
            .map(|(_, name, access)| format!("{} {name}", access.to_lowercase()));
        let case = lacking.clone().unwrap_or_else(|| "nothing".into());
        let p = program(&app, &format!("p{missing}"), &held).await;
        let started = app
            .call_as(
                Some(&p.token),
                "POST",
                "/api/workflow/ew_parent",
                Some(json!({})),
            )
            .await;
        // The start itself needs the parent's own grants.
        if missing < 2 {
            assert_eq!(started.status, 403, "lacking {case}: {}", started.text);
            continue;
        }
        assert_eq!(started.status, 200, "lacking {case}: {}", started.text);
        let id = started.text;
        let step = next_task(&app, "ew_step", Some(&id))
            .await
            .expect("the parent's step");
        finish(&app, &step, "COMPLETED").await;
        if (2..5).contains(&missing) {
            // The child is refused where the missing grant is needed, and the parent
            // fails with the reason; the child's worker never sees a task.
            let failed = app.wait_for_status(&id, "FAILED").await;
            let reason = failed["tasks"][1]["reasonForIncompletion"]
                .as_str()
                .unwrap_or_default();
            assert!(
                reason.starts_with("Cannot start sub-workflow ew_child"),
                "{case}: {reason}"
            );
            let wanted = lacking
                .clone()
                .unwrap_or_default()
                .replace("execute ", "")
                .replace("read ", "");
            assert!(reason.contains(&wanted), "lacking {case}: {reason}");
            assert!(failed["tasks"][1]["subWorkflowId"].is_null());
        } else {
            // The child runs, its task is handed over with the secret read as the
            // program, and fails; so does the parent.
            let child_task = next_task(&app, "ew_child_step", None)
                .await
                .expect("the child's task");
            assert_eq!(child_task["inputData"]["s"], "ew-secret-value", "{case}");
            finish(&app, &child_task, "FAILED_WITH_TERMINAL_ERROR").await;
            app.wait_for_status(&id, "FAILED").await;
        }
        let outcome = failure_outcome(&app, &id).await;
        if (5..GRANTS.len()).contains(&missing) {
            assert!(
                outcome.starts_with("Error workflow ew_cleanup failed to start."),
                "lacking {case}: {outcome}"
            );
        } else {
            let cleanup = app.workflow(&outcome).await;
            assert_eq!(
                cleanup["workflowName"], "ew_cleanup",
                "lacking {case}: {outcome}"
            );
            let task = next_task(&app, "ew_cleanup_step", Some(&outcome))
                .await
                .expect("cleanup task");
            finish(&app, &task, "COMPLETED").await;
        }
    }
    assert!(next_task(&app, "ew_child_step", None).await.is_none());
    assert!(next_task(&app, "ew_cleanup_step", None).await.is_none());
    app.stop().await;
}

#[tokio::test]
async fn rerunning_work_is_checked_for_every_missing_grant() {
    let app = TestApp::spawn().await;
    setup(&app).await;
    let id = app.start("ew_parent", json!({})).await;
    let step = next_task(&app, "ew_step", Some(&id)).await.expect("step");
    finish(&app, &step, "FAILED_WITH_TERMINAL_ERROR").await;
    app.wait_for_status(&id, "FAILED").await;
    // An operator needs EXECUTE on the runs and what a run of the parent needs.
    let needed = [
        ("WORKFLOW_DEF", "ew_parent", "EXECUTE"),
        ("TASK_DEF", "ew_step", "EXECUTE"),
    ];
    for missing in 0..=needed.len() {
        let held: Vec<_> = needed
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != missing)
            .map(|(_, g)| *g)
            .collect();
        let operator = program(&app, &format!("op{missing}"), &held).await;
        for (path, body) in [
            (format!("/api/workflow/{id}/retry"), None),
            (
                format!("/api/workflow/{id}/rerun"),
                Some(json!({"workflowInput": {"x": 1}})),
            ),
            (format!("/api/workflow/{id}/restart"), None),
        ] {
            let answer = app
                .call_as(Some(&operator.token), "POST", &path, body)
                .await;
            if missing < needed.len() {
                assert!(
                    answer.status == 403 || answer.status == 404,
                    "{path} lacking {:?}: {} {}",
                    needed[missing],
                    answer.status,
                    answer.text
                );
            } else {
                assert!(
                    answer.status < 300,
                    "{path}: {} {}",
                    answer.status,
                    answer.text
                );
                // Ended again, for the next command.
                let step = next_task(&app, "ew_step", Some(&id))
                    .await
                    .expect("step again");
                finish(&app, &step, "FAILED_WITH_TERMINAL_ERROR").await;
                app.wait_for_status(&id, "FAILED").await;
            }
        }
    }
    app.stop().await;
}
