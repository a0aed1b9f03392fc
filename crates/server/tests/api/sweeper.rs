//! A stored workflow the engine cannot even load (its definition revision is gone,
//! as in a damaged database) does not stop the sweeper: it is left alone, and every
//! other workflow's timers go on.

use std::sync::Arc;

use podium_core::engine::ops::{self, StartParams};
use podium_core::engine::{EngineContext, EngineLimits, PollActivity, TaskDefs};
use podium_core::model::{TaskDef, WorkflowDef};
use podium_core::store::ChangeSet;
use podium_core::testkit::write_changes;
use serde_json::json;

use crate::helpers::TestApp;

struct NoDefs;
impl TaskDefs for NoDefs {
    fn task_def(&self, _: &str) -> Option<Arc<TaskDef>> {
        None
    }
}
struct NoPolls;
impl PollActivity for NoPolls {
    fn last_poll(&self, _: &str, _: Option<&str>) -> Option<i64> {
        None
    }
}

#[tokio::test]
async fn a_workflow_that_cannot_be_loaded_does_not_stop_the_sweeper() {
    let app = TestApp::spawn().await;
    let wait = json!({"name": "waiting", "version": 1, "tasks": [
        {"name": "wait", "taskReferenceName": "w", "type": "WAIT", "inputParameters": {"duration": "1 seconds"}}]});
    app.register(json!([]), wait.clone()).await;
    // A damaged row: a waiting workflow whose definition revision is not stored.
    let def: WorkflowDef = serde_json::from_value(wait).expect("definition");
    let ids = podium_core::clock::SequentialIds::default();
    let limits = EngineLimits::default();
    let ctx = EngineContext {
        now: podium_core::clock::Clock::now_millis(&app.clock),
        ids: &ids,
        task_defs: &NoDefs,
        polls: &NoPolls,
        limits: &limits,
    };
    let mut changes = ChangeSet::default();
    let damaged = ops::start(
        Arc::new(def),
        "revision-that-is-gone".into(),
        StartParams::default(),
        &ctx,
        &mut changes,
    );
    let damaged_id = damaged.id().to_string();
    changes.new_workflows.push(damaged);
    write_changes(app.runtime().stores(), changes).await;
    let healthy = app.start("waiting", json!({})).await;
    // Both are due once the clock passes their waits.
    app.advance(2_000);
    let done = app.wait_for_status(&healthy, "COMPLETED").await;
    assert_eq!(done["tasks"][0]["status"], "COMPLETED");
    // The damaged one is reported, not served, and the server keeps answering.
    let answer = app.get(&format!("/api/workflow/{damaged_id}")).await;
    assert_eq!(answer.status, 500, "{}", answer.text);
    assert!(
        !answer.text.contains("revision-that-is-gone"),
        "{}",
        answer.text
    );
    assert_eq!(app.get("/health").await.status, 200);
    app.stop().await;
}
