//! Conformance: ended workflows move to the archive and back.

use serde_json::json;

use super::{Maker, definition, insert, simple, write_changes};
use crate::engine::ops::StartParams;
use crate::engine::state::{Authority, WorkflowState};
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
    // Operate sequence numbers: given in the order workflows are stored, kept in the
    // archive and back, and found again by number.
    let seqs = execution
        .operate_seqs(vec![running_id.clone(), ended_id.clone(), "missing".into()])
        .await
        .expect("seqs");
    let seq_of = |seqs: &[(String, i64)], id: &str| {
        seqs.iter()
            .find(|(found, _)| found == id)
            .map(|(_, seq)| *seq)
            .expect("a sequence number")
    };
    assert_eq!(seqs.len(), 2, "{seqs:?}");
    let ended_seq = seq_of(&seqs, &ended_id);
    assert!(
        ended_seq >= 1 && ended_seq < seq_of(&seqs, &running_id),
        "{seqs:?}"
    );
    assert_eq!(
        execution
            .workflow_of_operate_seq(ended_seq)
            .await
            .expect("by seq"),
        Some(ended_id.clone())
    );
    assert_eq!(
        execution.workflow_of_operate_seq(-1).await.expect("none"),
        None
    );
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
    let authority = Authority {
        vouched: vec!["starter".into()],
        cosigners: vec!["cosigner".into()],
        generation: 0,
    };
    changes.archives.push(ArchivedWorkflow {
        workflow: state.to_workflow(true),
        def_revision: state.def_revision.clone(),
        sealed_key: Some("key-a".into()),
        authority: authority.clone(),
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
    assert_eq!(archived.authority, authority, "its cosigners are kept");
    let archived_seqs = execution
        .operate_seqs(vec![ended_id.clone()])
        .await
        .expect("seqs");
    assert_eq!(archived_seqs, vec![(ended_id.clone(), ended_seq)]);
    assert_eq!(
        execution
            .workflow_of_operate_seq(ended_seq)
            .await
            .expect("by seq"),
        Some(ended_id.clone())
    );
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
    let mut expected = vec![ended_id.clone(), running_id.clone()];
    expected.sort();
    assert_eq!(ids, expected);

    // A key rotation finds the archived workflows sealed with another key, and
    // replaces one only while it is still sealed with the key it was read with.
    assert_eq!(archived.sealed_key.as_deref(), Some("key-a"));
    assert_eq!(
        execution.archived_seal_keys().await.expect("keys"),
        vec!["key-a".to_string()]
    );
    // Without a payload sealer nothing is sealed at rest, so no key is recorded.
    assert!(execution.payload_keys().await.expect("keys").is_empty());
    let stale = async |current: &str, after: &str| {
        execution
            .archived_sealed_stale(current, after, 10)
            .await
            .expect("stale")
    };
    assert_eq!(stale("key-b", "").await, vec![ended_id.clone()]);
    assert!(stale("key-a", "").await.is_empty());
    assert!(
        stale("key-b", &ended_id).await.is_empty(),
        "after the cursor"
    );
    let mut resealed = archived.clone();
    resealed.sealed_key = Some("key-b".into());
    resealed
        .workflow
        .input
        .insert("resealed".into(), json!(true));
    assert!(
        execution
            .reseal_archived(resealed.clone(), "key-a")
            .await
            .expect("reseal")
    );
    assert!(
        !execution
            .reseal_archived(resealed, "key-a")
            .await
            .expect("reseal again"),
        "no longer sealed with key-a"
    );
    assert!(stale("key-b", "").await.is_empty());
    let archived = execution
        .get_archived(&ended_id)
        .await
        .expect("read")
        .expect("archived");
    assert_eq!(archived.sealed_key.as_deref(), Some("key-b"));
    assert_eq!(archived.workflow.input.get("resealed"), Some(&json!(true)));

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
    let restored_seqs = execution
        .operate_seqs(vec![ended_id.clone()])
        .await
        .expect("seqs");
    assert_eq!(restored_seqs, vec![(ended_id.clone(), ended_seq)], "kept");
    // A workflow stored later takes a larger number than every one before.
    let (later, changes) = maker.start(&def, StartParams::default(), 3000);
    let later_id = insert(&stores, later, changes).await;
    let all = execution
        .operate_seqs(vec![ended_id.clone(), running_id.clone(), later_id.clone()])
        .await
        .expect("seqs");
    let later_seq = seq_of(&all, &later_id);
    assert!(
        all.iter()
            .all(|(id, seq)| id == &later_id || *seq < later_seq),
        "{all:?}"
    );
    // The newest deleted, the next one stored still takes a new number: a key is
    // never given to two executions.
    let mut changes = ChangeSet::default();
    changes.workflow_deletes.push(later_id.clone());
    write_changes(&stores, changes).await;
    let (newest, changes) = maker.start(&def, StartParams::default(), 4000);
    let newest_id = insert(&stores, newest, changes).await;
    let newest_seqs = execution
        .operate_seqs(vec![newest_id.clone()])
        .await
        .expect("seqs");
    assert!(
        seq_of(&newest_seqs, &newest_id) > later_seq,
        "{newest_seqs:?}"
    );
    assert_eq!(
        execution
            .workflow_of_operate_seq(later_seq)
            .await
            .expect("by seq"),
        None
    );
}
