//! A stored row the store cannot read never stops the work behind it.

use std::sync::Arc;

use serde_json::{Value, json};

use super::queues::schedule;
use super::{Maker, claim, definition, insert, mark, simple};
use crate::engine::ops::StartParams;
use crate::store::sealing::{AT_REST, sealed_object};
use crate::store::{ChangeSet, PayloadSealer, StoreError, StoreResult, Stores};

/// Seals `_secrets` as `{AT_REST: value}`, and cannot open a value whose `key` is
/// `gone`, as when the key that sealed a row is no longer known.
struct LosesAKey;

impl PayloadSealer for LosesAKey {
    fn seal(
        &self,
        _workflow_id: &str,
        json: &mut Value,
        _masked: &[Arc<str>],
    ) -> StoreResult<Option<String>> {
        let Some(input) = json.get_mut("inputData").and_then(Value::as_object_mut) else {
            return Ok(None);
        };
        let Some(secrets) = input.remove("_secrets") else {
            return Ok(None);
        };
        input.insert("_secrets".into(), json!({ AT_REST: secrets }));
        Ok(Some("test-key".into()))
    }

    fn open(&self, _workflow_id: &str, json: &mut Value) -> StoreResult<Vec<Arc<str>>> {
        open_all(json)?;
        Ok(Vec::new())
    }
}

/// Opens every value in the sealed form, wherever it is, as the real sealer does.
fn open_all(json: &mut Value) -> StoreResult<()> {
    if let Some(sealed) = sealed_object(json) {
        let value = Value::Object(sealed.clone());
        if value.get("key").and_then(Value::as_str) == Some("gone") {
            return Err(StoreError::Corrupt(
                "the key that sealed this value is not known".into(),
            ));
        }
        *json = value;
        return Ok(());
    }
    match json {
        Value::Object(map) => map.values_mut().try_for_each(open_all),
        Value::Array(items) => items.iter_mut().try_for_each(open_all),
        _ => Ok(()),
    }
}

/// A workflow with one scheduled task in queue `q`, its input as given.
async fn one_task(stores: &Stores, maker: &Maker, input: Value, priority: i32) -> (String, String) {
    let def = definition("unreadable", Value::Array(vec![simple("t")]));
    let (mut state, _) = maker.start(&def, StartParams::default(), 1000);
    let task_id = format!("{}-task", state.id());
    let message = schedule(&mut state, &task_id, "t", "q", priority, 0);
    let index = state.task_index(&task_id).expect("the task");
    state.task_mut(index).expect("the task").input_data =
        serde_json::from_value(input).unwrap_or_default();
    let changes = ChangeSet {
        queue_pushes: vec![message],
        ..ChangeSet::default()
    };
    (insert(stores, state, changes).await, task_id)
}

/// A task row that cannot be read (here: sealed with a key that is gone) at the head
/// of a queue is passed over: the claim hands out the tasks behind it instead of
/// failing, the claims after it do not fail either, and its message stays queued, to
/// be tried again later (the key may be configured by then).
pub(super) async fn claims_pass_over_rows_they_cannot_read(stores: Stores) {
    stores.control.set_payload_sealer(Arc::new(LosesAKey));
    let maker = Maker::new("unreadable");
    let lost = json!({"_secrets": {"key": "gone", "token": "s3cret"}});
    let (_, unreadable) = one_task(&stores, &maker, lost, 9).await;
    let (_, readable) = one_task(&stores, &maker, json!({"_secrets": {"key": "kept"}}), 0).await;
    let got = stores
        .execution
        .claim(claim("q", 10, 10, "w"), mark)
        .await
        .expect("a row that cannot be read does not fail the claim");
    let ids: Vec<&str> = got.iter().map(|t| t.task_id.as_str()).collect();
    assert!(ids.contains(&readable.as_str()), "{ids:?}");
    // A store that kept the row readable elsewhere (a cache) may hand it out too.
    assert!(
        ids.iter()
            .all(|id| [readable.as_str(), unreadable.as_str()].contains(id))
    );
    for _ in 0..2 {
        assert!(
            stores
                .execution
                .claim(claim("q", 10, 10, "w"), mark)
                .await
                .expect("the claims after it do not fail")
                .is_empty()
        );
    }
    if !ids.contains(&unreadable.as_str()) {
        // Not lost: its message waits, and is tried again later.
        let sizes = stores
            .execution
            .queue_sizes(&["q".to_string()])
            .await
            .expect("sizes");
        assert_eq!(
            sizes.get("q"),
            Some(&1),
            "the unreadable task's message stays"
        );
        let later = 10 + crate::store::UNREADABLE_RETRY_MS;
        let again = stores
            .execution
            .claim(claim("q", 10, later, "w"), mark)
            .await
            .expect("tried again without failing");
        assert!(again.is_empty(), "still unreadable, still not handed out");
        let sizes = stores
            .execution
            .queue_sizes(&["q".to_string()])
            .await
            .expect("sizes");
        assert_eq!(sizes.get("q"), Some(&1), "and still queued");
    }
}

/// A payload that holds the key of a sealed value itself (a workflow's input, a
/// worker's output or an HTTP response can say anything) is stored escaped: the row
/// reads back as written, claims hand the task out, and nothing in it is taken for a
/// sealed value (here one the sealer cannot open).
pub(super) async fn payloads_holding_the_sealed_key_read_back_as_written(stores: Stores) {
    stores.control.set_payload_sealer(Arc::new(LosesAKey));
    let maker = Maker::new("reserved");
    let forged = json!({ AT_REST: {"key": "gone"} });
    let input = json!({
        "_secrets": forged.clone(),
        "payload": [forged.clone(), {"$podiumAtRest$": 1, "other": forged}],
    });
    let (workflow_id, task_id) = one_task(&stores, &maker, input.clone(), 0).await;
    let got = stores
        .execution
        .claim(claim("q", 10, 10, "w"), mark)
        .await
        .expect("the claim reads the row");
    let ids: Vec<&str> = got.iter().map(|t| t.task_id.as_str()).collect();
    assert_eq!(ids, [task_id.as_str()]);
    let claimed = Value::Object(got[0].input_data.clone());
    assert_eq!(claimed, input);
    let state = super::load(&stores, &workflow_id).await;
    let index = state.task_index(&task_id).expect("the task");
    let stored = Value::Object(state.tasks()[index].input_data.clone());
    assert_eq!(stored, input);
}
