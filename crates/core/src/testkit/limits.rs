//! Conformance: claims honour a task type's concurrency limit and rate, counted over
//! every queue (domain) of the type, in a unit's claim too, and under concurrent
//! claims.

use super::queues::schedule;
use super::*;
use crate::store::{ClaimLimits, RateLimit};

fn limits(task_type: &str, in_progress: Option<u32>, rate: Option<(u32, i64)>) -> ClaimLimits {
    ClaimLimits {
        task_type: task_type.into(),
        in_progress,
        rate: rate.map(|(count, window_ms)| RateLimit { count, window_ms }),
    }
}

fn limited(queue: &str, count: usize, now: i64, limits: &ClaimLimits) -> Claim {
    Claim {
        limits: Some(limits.clone()),
        ..claim(queue, count, now, "w")
    }
}

/// One workflow holding a scheduled task of `task_type` per queue given (ids from
/// `first` on); returns the workflow's id.
async fn queued(
    stores: &Stores,
    maker: &Maker,
    (task_type, first): (&str, usize),
    queues: &[&str],
) -> String {
    let def = definition("limits", json!([simple("a")]));
    let (mut state, _) = maker.start(&def, StartParams::default(), 1000);
    let mut pushes = Vec::new();
    for (i, queue) in queues.iter().enumerate() {
        let id = format!("{task_type}-{}", first + i);
        pushes.push(schedule(
            &mut state,
            &id,
            &format!("{task_type}{i}"),
            queue,
            0,
            0,
        ));
        let index = state.task_index(&id).expect("its task");
        state.task_mut(index).expect("task").task_type = task_type.into();
    }
    let changes = ChangeSet {
        queue_pushes: pushes,
        ..ChangeSet::default()
    };
    insert(stores, state, changes).await
}

/// Ends a task in a unit, and claims in the same unit when `then` is given.
async fn end_task(stores: &Stores, workflow: &str, task_id: &str, then: Option<Claim>) -> usize {
    let task_id = task_id.to_string();
    let committed = stores
        .execution
        .run(UnitOfWork {
            lock: Some(workflow.to_string()),
            work: Box::new(move |txn| {
                let state = txn.state.as_mut().expect("the workflow");
                let index = state.task_index(&task_id).expect("its task");
                state.task_mut(index).expect("task").status = TaskStatus::Completed;
                txn.then_claim = then.map(|claim| ThenClaim {
                    claim,
                    on_claim: mark,
                });
                Ok(())
            }),
        })
        .await
        .expect("the unit commits");
    committed.claimed.len()
}

pub(super) async fn claims_honour_task_type_limits(stores: Stores) {
    let maker = Maker::new("limits");
    // At most two in progress, over both of the type's queues.
    let two = limits("capped", Some(2), None);
    let workflow = queued(&stores, &maker, ("capped", 0), &["capped"; 4]).await;
    queued(&stores, &maker, ("capped", 4), &["blue:capped"]).await;
    let first = stores
        .execution
        .claim(limited("capped", 10, 10, &two), mark)
        .await
        .expect("claim");
    assert_eq!(first.len(), 2, "the limit caps a batch");
    for queue in ["capped", "blue:capped"] {
        let more = stores
            .execution
            .claim(limited(queue, 1, 11, &two), mark)
            .await
            .expect("claim");
        assert!(more.is_empty(), "{queue}: no place while two are running");
    }
    // Without limits (the definition changed) the queue hands out as usual.
    let free = stores
        .execution
        .claim(claim("capped", 1, 12, "w"), mark)
        .await
        .expect("claim");
    assert_eq!(free.len(), 1);
    // A place freed in a unit is seen by the claim made in that unit.
    let ended = &first[0].task_id;
    let taken = end_task(
        &stores,
        &workflow,
        ended,
        Some(limited("capped", 5, 13, &two)),
    )
    .await;
    assert_eq!(taken, 0, "three were running: one ended leaves two");
    let ended = &first[1].task_id;
    let taken = end_task(
        &stores,
        &workflow,
        ended,
        Some(limited("capped", 5, 14, &two)),
    )
    .await;
    assert_eq!(taken, 1, "one place after two ended");

    // At most three hand-outs in any second.
    let rate = limits("paced", None, Some((3, 1000)));
    queued(&stores, &maker, ("paced", 0), &["paced"; 8]).await;
    let count = |now: i64| {
        let execution = stores.execution.clone();
        let rate = rate.clone();
        async move {
            execution
                .claim(limited("paced", 10, now, &rate), mark)
                .await
                .expect("claim")
                .len()
        }
    };
    assert_eq!(count(1000).await, 3);
    assert_eq!(count(1500).await, 0, "the window is full");
    assert_eq!(count(2000).await, 3, "a window later, three more");
    assert_eq!(count(2999).await, 0);
    assert_eq!(count(3000).await, 2, "the rest");

    // Claims made at once never pass the limit together.
    let three = limits("crowded", Some(3), None);
    queued(&stores, &maker, ("crowded", 0), &["crowded"; 20]).await;
    let mut claimers = Vec::new();
    for _ in 0..12 {
        let execution = stores.execution.clone();
        let three = three.clone();
        claimers.push(tokio::spawn(async move {
            let mut got = 0;
            for now in 20..30 {
                got += execution
                    .claim(limited("crowded", 2, now, &three), mark)
                    .await
                    .expect("claim")
                    .len();
            }
            got
        }));
    }
    let mut total = 0;
    for claimer in claimers {
        total += claimer.await.expect("claimer");
    }
    assert_eq!(total, 3, "three in progress, whatever the claims' order");
}
