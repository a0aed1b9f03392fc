//! Conformance: what a run records beyond Conductor's workflow — whose authority it
//! carries and which fields it masks — survives the store, and changes only when a
//! unit of work changes it.

use serde_json::json;

use super::*;
use crate::engine::state::Authority;

pub(super) async fn runs_keep_their_authority_and_masks(stores: Stores) {
    let maker = Maker::new("auth");
    let def = definition("w", json!([simple("a")]));
    let authority = Authority {
        vouched: vec!["app:starter".into(), "author".into()],
        cosigners: vec!["app:other".into()],
        // Started by a chain of START_WORKFLOW tasks.
        generation: 3,
    };
    let (state, changes) = maker.start(
        &def,
        StartParams {
            created_by: Some("app:starter".into()),
            authority: authority.clone(),
            masked_fields: vec!["password".into()],
            ..StartParams::default()
        },
        1000,
    );
    let id = insert(&stores, state, changes).await;
    let loaded = load(&stores, &id).await;
    assert_eq!(loaded.authority, authority);
    assert_eq!(loaded.workflow.masked_fields, vec!["password".to_string()]);
    // A unit of work that changes the authority (a restart) writes it.
    let changed = Authority {
        vouched: vec!["app:starter".into()],
        cosigners: Vec::new(),
        generation: 0,
    };
    let written = changed.clone();
    stores
        .execution
        .run(UnitOfWork {
            lock: Some(id.clone()),
            work: Box::new(move |txn| {
                let state = txn
                    .state
                    .as_mut()
                    .ok_or(CoreError::Internal("missing".into()))?;
                state.authority = written;
                state.touch();
                Ok(())
            }),
        })
        .await
        .expect("update");
    let reloaded = load(&stores, &id).await;
    assert_eq!(reloaded.authority, changed);
    // A run that records nothing loads with an empty authority.
    let (plain, changes) = maker.start(&def, StartParams::default(), 2000);
    let plain_id = insert(&stores, plain, changes).await;
    let plain = load(&stores, &plain_id).await;
    assert!(plain.authority.is_empty());
}
