//! Conformance: ended workflows move to the archive and back.

use serde_json::json;

use super::{Maker, definition, insert, simple, write_changes};
use crate::engine::ops::StartParams;
use crate::engine::state::WorkflowState;
use crate::model::WorkflowStatus;
use crate::service::search::WorkflowSearch;
use crate::store::{ArchivedWorkflow, ChangeSet, Stores};

pub(super) async fn ended_workflows_move_to_the_archive_and_back(stores: Stores) {
    let maker = Maker::new("archive");
    let def = definition("archived", json!([simple("a")]));
    let (mut ended, changes) = maker.start(&def, StartParams::default(), 1000);
    ended.workflow.status = WorkflowStatus::Completed;
    ended.workflow.end_time = 5000;
    let ended_id = insert(&stores, ended, changes).await;
    let (running, changes) = maker.start(&def, StartParams::default(), 2000);
    let running_id = insert(&stores, running, changes).await;

    let execution = &stores.execution;
    assert_eq!(
        execution
            .archive_candidates(10_000, 10)
            .await
            .expect("candidates"),
        vec![ended_id.clone()],
        "only ended workflows, ended before the cut-off"
    );
    assert!(
        execution
            .archive_candidates(5000, 10)
            .await
            .expect("none")
            .is_empty()
    );

    // Archive: the live rows go, one archive row holds the workflow and its tasks.
    let state = execution
        .get_workflow(&ended_id)
        .await
        .expect("read")
        .expect("live");
    let mut changes = ChangeSet::default();
    changes.workflow_deletes.push(ended_id.clone());
    changes.archives.push(ArchivedWorkflow {
        workflow: state.to_workflow(true),
        def_revision: state.def_revision.clone(),
    });
    write_changes(&stores, changes).await;
    assert!(
        execution
            .get_workflow(&ended_id)
            .await
            .expect("read")
            .is_none()
    );
    let archived = execution
        .get_archived(&ended_id)
        .await
        .expect("read")
        .expect("archived");
    assert_eq!(archived.def_revision, "rev");
    assert_eq!(archived.workflow.status, WorkflowStatus::Completed);
    assert_eq!(archived.workflow.tasks.len(), 1);
    assert!(
        execution
            .get_archived(&running_id)
            .await
            .expect("read")
            .is_none()
    );
    assert!(
        execution
            .archive_candidates(10_000, 10)
            .await
            .expect("none")
            .is_empty()
    );

    // Searches see live and archived workflows.
    let search = WorkflowSearch::parse(
        Some("workflowType = archived"),
        None,
        Some(0),
        Some(10),
        None,
    )
    .expect("search");
    let (total, page) = execution.search_workflows(&search).await.expect("search");
    assert_eq!(total, 2);
    let mut ids: Vec<String> = page.into_iter().map(|w| w.workflow_id).collect();
    ids.sort();
    let mut expected = vec![ended_id.clone(), running_id];
    expected.sort();
    assert_eq!(ids, expected);

    // And back: restored live, the archive row gone, in one unit.
    let mut workflow = archived.workflow;
    let tasks = std::mem::take(&mut workflow.tasks);
    workflow.workflow_definition = None;
    let mut restored = WorkflowState::new(workflow, state.def.clone(), archived.def_revision);
    for task in tasks {
        restored.push_task(task);
    }
    let mut changes = ChangeSet::default();
    changes.unarchives.push(ended_id.clone());
    changes.new_workflows.push(restored);
    write_changes(&stores, changes).await;
    assert!(
        execution
            .get_archived(&ended_id)
            .await
            .expect("read")
            .is_none()
    );
    let live = execution
        .get_workflow(&ended_id)
        .await
        .expect("read")
        .expect("restored");
    assert_eq!(live.tasks().len(), 1);
}
