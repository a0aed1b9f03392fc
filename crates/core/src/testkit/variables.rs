//! Conformance: the variables index follows every workflow's variables, as people
//! see them, through changes, the archive and deletes.

use serde_json::{Value, json};

use super::{Maker, insert, simple, write_changes};
use crate::engine::ops::StartParams;
use crate::engine::state::WorkflowState;
use crate::error::CoreError;
use crate::model::{WorkflowDef, WorkflowStatus};
use crate::store::query::{Filter, Op, Search, SearchValue, SortOrder, VariableField};
use crate::store::variables::{VariableRow, low_bits};
use crate::store::{ArchivedWorkflow, ChangeSet, Stores, UnitOfWork};

fn with_variables(name: &str, variables: Value) -> WorkflowDef {
    serde_json::from_value(json!({
        "name": name, "version": 1, "tasks": [simple("a")], "variables": variables,
    }))
    .unwrap_or_default()
}

fn by(field: VariableField, value: &str) -> Filter<VariableField> {
    Filter::Compare(field, Op::Eq, SearchValue::Text(value.into()))
}

async fn find(
    stores: &Stores,
    filter: Option<Filter<VariableField>>,
    size: i64,
) -> (i64, Vec<VariableRow>) {
    stores
        .execution
        .search_variables(&Search {
            filter,
            free_text: None,
            start: 0,
            size,
            sort: vec![
                (VariableField::OperateSeq, SortOrder::Asc),
                (VariableField::Low, SortOrder::Asc),
            ],
        })
        .await
        .expect("search")
}

/// Moves the live workflow `id` to the archive, ended; its state as it was.
async fn archive(stores: &Stores, id: &str) -> WorkflowState {
    let state = stores
        .execution
        .get_workflow(id)
        .await
        .expect("read")
        .expect("live");
    let mut ended = state.to_workflow(true);
    ended.status = WorkflowStatus::Completed;
    let mut changes = ChangeSet::default();
    changes.workflow_deletes.push(id.to_string());
    changes.archives.push(ArchivedWorkflow {
        workflow: ended,
        def_revision: state.def_revision.clone(),
        sealed_key: None,
        authority: state.authority.clone(),
    });
    write_changes(stores, changes).await;
    state
}

pub(super) async fn the_variables_index_follows_every_workflow(stores: Stores) {
    let maker = Maker::new("variables");
    let a_def = with_variables(
        "vars-a",
        json!({"order": "A-1", "n": 5, "_secrets": {"k": "plain-secret"}}),
    );
    let (a, changes) = maker.start(&a_def, StartParams::default(), 1000);
    let a_id = insert(&stores, a, changes).await;
    let b_def = with_variables("vars-b", json!({"order": "B-2"}));
    let (b, changes) = maker.start(&b_def, StartParams::default(), 2000);
    let b_id = insert(&stores, b, changes).await;
    let seqs = stores
        .execution
        .operate_seqs(vec![a_id.clone(), b_id.clone()])
        .await
        .expect("seqs");
    let seq_of = |id: &str| {
        seqs.iter()
            .find(|(found, _)| found == id)
            .map(|(_, seq)| *seq)
            .expect("a number")
    };
    let (a_seq, b_seq) = (seq_of(&a_id), seq_of(&b_id));

    // Every variable of every workflow, in key order, as people see it.
    let (total, rows) = find(&stores, None, 10).await;
    assert_eq!(total, 4, "{rows:?}");
    let mut keys: Vec<(i64, i64)> = rows.iter().map(|r| (r.seq, r.low)).collect();
    let in_order = keys.clone();
    keys.sort();
    assert_eq!(keys, in_order, "key order");
    let order_a = rows
        .iter()
        .find(|r| r.seq == a_seq && r.name == "order")
        .expect("order of a");
    assert_eq!(order_a.value, "\"A-1\"");
    assert_eq!(order_a.low, low_bits("order"));
    assert!(!order_a.truncated);
    let secret = rows
        .iter()
        .find(|r| r.name == "_secrets")
        .expect("the secrets map");
    assert_eq!(secret.value, "\"***\"", "masked, never the value");
    assert!(rows.iter().all(|r| !r.value.contains("plain-secret")));

    // Filters: by name, by value, by workflow name; a page and its total.
    let (total, rows) = find(&stores, Some(by(VariableField::Name, "order")), 1).await;
    assert_eq!((total, rows.len()), (2, 1));
    assert_eq!(rows[0].seq, a_seq);
    let (_, rows) = find(&stores, Some(by(VariableField::Value, "\"B-2\"")), 10).await;
    assert_eq!(rows.iter().map(|r| r.seq).collect::<Vec<_>>(), vec![b_seq]);
    let (_, rows) = find(
        &stores,
        Some(Filter::In(
            VariableField::WorkflowType,
            vec![SearchValue::Text("vars-b".into())],
        )),
        10,
    )
    .await;
    assert_eq!(rows.len(), 1);
    let (total, _) = find(
        &stores,
        Some(by(VariableField::Value, "\"plain-secret\"")),
        10,
    )
    .await;
    assert_eq!(total, 0, "a masked value cannot be found by guessing it");

    // A unit of work that changes the variables changes the rows with it.
    stores
        .execution
        .run(UnitOfWork {
            lock: Some(a_id.clone()),
            work: Box::new(|txn| {
                let state = txn
                    .state
                    .as_mut()
                    .ok_or(CoreError::Internal("missing".into()))?;
                state
                    .workflow
                    .variables
                    .insert("order".into(), json!("A-2"));
                state.workflow.variables.remove("n");
                state.touch();
                Ok(())
            }),
        })
        .await
        .expect("changed");
    let (total, _) = find(&stores, Some(by(VariableField::Value, "\"A-1\"")), 10).await;
    assert_eq!(total, 0);
    let (total, _) = find(&stores, Some(by(VariableField::Value, "\"A-2\"")), 10).await;
    assert_eq!(total, 1);
    let (total, _) = find(&stores, Some(by(VariableField::Name, "n")), 10).await;
    assert_eq!(total, 0, "a removed variable leaves the index");

    // The archive keeps the rows; deleting a live or an archived workflow removes them.
    let state = archive(&stores, &a_id).await;
    let by_a = Some(Filter::Compare(
        VariableField::OperateSeq,
        Op::Eq,
        SearchValue::Number(a_seq),
    ));
    assert_eq!(find(&stores, by_a.clone(), 10).await.0, 2, "archived");
    let mut changes = ChangeSet::default();
    changes.workflow_deletes.push(b_id.clone());
    write_changes(&stores, changes).await;
    assert_eq!(
        find(&stores, Some(by(VariableField::Name, "order")), 10)
            .await
            .0,
        1,
        "the deleted workflow's rows are gone"
    );
    // Back from the archive (a restart): the rows are the restored run's.
    let archived = stores
        .execution
        .get_archived(&a_id)
        .await
        .expect("read")
        .expect("archived");
    let mut workflow = archived.workflow;
    workflow.tasks.clear();
    workflow.workflow_definition = None;
    workflow.variables = serde_json::from_value(json!({"order": "A-3"})).unwrap_or_default();
    let restored = WorkflowState::new(workflow, state.def.clone(), archived.def_revision);
    let mut changes = ChangeSet::default();
    changes.unarchives.push(a_id.clone());
    changes.new_workflows.push(restored);
    write_changes(&stores, changes).await;
    let (total, rows) = find(&stores, by_a.clone(), 10).await;
    assert_eq!(total, 1, "{rows:?}");
    assert_eq!(
        (rows[0].seq, rows[0].value.as_str()),
        (a_seq, "\"A-3\""),
        "the same number, the new variables"
    );

    // Archived again, then removed from the archive: its rows go.
    archive(&stores, &a_id).await;
    assert_eq!(find(&stores, by_a.clone(), 10).await.0, 1, "archived");
    let mut changes = ChangeSet::default();
    changes.unarchives.push(a_id.clone());
    write_changes(&stores, changes).await;
    assert_eq!(
        find(&stores, by_a, 10).await.0,
        0,
        "removed from the archive"
    );
}
