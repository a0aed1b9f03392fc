//! Conformance: task queues and claims, and leased jobs.

use super::*;
use crate::store::JobLane;

/// Adds a scheduled task to `state`; returns its queue message.
pub(super) fn schedule(
    state: &mut WorkflowState,
    task_id: &str,
    reference: &str,
    queue: &str,
    priority: i32,
    visible_at: i64,
) -> QueueMessage {
    state.push_task(Task {
        task_id: task_id.into(),
        task_type: "work".into(),
        reference_task_name: reference.into(),
        workflow_instance_id: state.id().to_string(),
        status: TaskStatus::Scheduled,
        ..Task::default()
    });
    QueueMessage {
        queue_name: queue.into(),
        task_id: task_id.into(),
        workflow_id: state.id().to_string(),
        priority,
        visible_at,
    }
}

async fn setup_queue(stores: &Stores, messages: &[(&str, i32, i64)]) -> Vec<String> {
    let maker = Maker::new("queue");
    let refs: Vec<Value> = (0..messages.len())
        .map(|i| simple(&format!("t{i}")))
        .collect();
    let def = definition("q", Value::Array(refs));
    let (mut state, _) = maker.start(&def, StartParams::default(), 1000);
    // Add one scheduled task per message, then the messages themselves.
    let mut pushes = Vec::new();
    let mut ids = Vec::new();
    for (i, (queue, priority, visible_at)) in messages.iter().enumerate() {
        let id = format!("task-{i}");
        pushes.push(schedule(
            &mut state,
            &id,
            &format!("m{i}"),
            queue,
            *priority,
            *visible_at,
        ));
        ids.push(id);
    }
    let changes = ChangeSet {
        queue_pushes: pushes,
        ..ChangeSet::default()
    };
    insert(stores, state, changes).await;
    ids
}

pub(super) async fn claims_hand_each_task_out_once(stores: Stores) {
    let ids = setup_queue(&stores, &[("q1", 0, 0), ("q1", 0, 0), ("q2", 0, 0)]).await;
    let first = stores
        .execution
        .claim(claim("q1", 1, 10, "w1"), mark)
        .await
        .expect("claim");
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].status, TaskStatus::InProgress);
    assert_eq!(first[0].worker_id.as_deref(), Some("w1"));
    let stored = stores
        .execution
        .get_task(&first[0].task_id)
        .await
        .expect("read")
        .expect("task");
    assert_eq!(
        stored.status,
        TaskStatus::InProgress,
        "the claim is persisted"
    );
    assert_eq!(
        stores.execution.next_check_due().await.expect("next check"),
        Some(10 + 5000),
        "the lease end is a check time of the workflow"
    );
    let rest = stores
        .execution
        .claim(claim("q1", 10, 10, "w2"), mark)
        .await
        .expect("claim");
    assert_eq!(rest.len(), 1);
    assert_ne!(rest[0].task_id, first[0].task_id);
    assert!(
        stores
            .execution
            .claim(claim("q1", 10, 10, "w3"), mark)
            .await
            .expect("claim")
            .is_empty()
    );
    let other = stores
        .execution
        .claim(claim("q2", 10, 10, "w"), mark)
        .await
        .expect("claim");
    assert_eq!(
        other.iter().map(|t| t.task_id.clone()).collect::<Vec<_>>(),
        vec![ids[2].clone()]
    );
}

pub(super) async fn claims_respect_visibility_and_priority(stores: Stores) {
    let ids = setup_queue(
        &stores,
        &[("q", 0, 0), ("q", 5, 0), ("q", 9, 100), ("q", 1, 0)],
    )
    .await;
    let got: Vec<String> = stores
        .execution
        .claim(claim("q", 10, 50, "w"), mark)
        .await
        .expect("claim")
        .into_iter()
        .map(|t| t.task_id)
        .collect();
    assert_eq!(
        got,
        vec![ids[1].clone(), ids[3].clone(), ids[0].clone()],
        "higher priority first, delayed ones wait"
    );
    // A count larger than workers usually ask for (a statement not kept prepared).
    let later = stores
        .execution
        .claim(claim("q", 100, 100, "w"), mark)
        .await
        .expect("claim");
    assert_eq!(later.len(), 1);
    assert_eq!(later[0].task_id, ids[2]);
}

pub(super) async fn concurrent_claims_never_share_a_task(stores: Stores) {
    let messages: Vec<(&str, i32, i64)> = (0..200).map(|_| ("busy", 0, 0)).collect();
    setup_queue(&stores, &messages).await;
    let mut handles = Vec::new();
    for worker in 0..16 {
        let execution = stores.execution.clone();
        handles.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let got = execution
                    .claim(claim("busy", 3, 10, &format!("w{worker}")), mark)
                    .await
                    .expect("claim");
                if got.is_empty() {
                    break;
                }
                mine.extend(got.into_iter().map(|t| t.task_id));
            }
            mine
        }));
    }
    let mut seen = HashSet::new();
    let mut total = 0;
    for handle in handles {
        for id in handle.await.expect("worker") {
            total += 1;
            assert!(seen.insert(id.clone()), "task {id} was handed out twice");
        }
    }
    assert_eq!(total, 200);
}

pub(super) async fn jobs_are_leased(stores: Stores) {
    let jobs = vec![
        Job {
            id: "j1".into(),
            effect: Effect::SubWorkflowEnded {
                child_id: "c".into(),
            },
            workflow_id: "w".into(),
            task_id: Some("t".into()),
            due_at: 100,
            lane: JobLane::Work,
        },
        Job {
            id: "j2".into(),
            effect: Effect::FailureWorkflow,
            workflow_id: "w".into(),
            task_id: None,
            due_at: 500,
            lane: JobLane::Work,
        },
        Job {
            id: "s1".into(),
            effect: Effect::SystemTask,
            workflow_id: "w".into(),
            task_id: Some("t2".into()),
            due_at: 50,
            lane: JobLane::Scripts,
        },
    ];
    stores
        .execution
        .run(UnitOfWork {
            lock: None,
            work: Box::new(move |txn| {
                txn.changes.job_adds = jobs;
                Ok(())
            }),
        })
        .await
        .expect("jobs added");
    let next = |lane| {
        let stores = stores.clone();
        async move { stores.execution.next_job_due(lane).await.expect("next") }
    };
    let claim = |now, lane| {
        let stores = stores.clone();
        async move {
            stores
                .execution
                .claim_jobs(now, 10, 1000, lane)
                .await
                .expect("claim")
        }
    };
    assert_eq!(next(JobLane::Work).await, Some(100));
    assert_eq!(next(JobLane::Scripts).await, Some(50));
    assert!(
        claim(60, JobLane::Work).await.is_empty(),
        "a due script evaluation is not in the lane of the other jobs"
    );
    let due = claim(200, JobLane::Work).await;
    assert_eq!(due.len(), 1);
    assert_eq!(
        due[0].effect,
        Effect::SubWorkflowEnded {
            child_id: "c".into()
        }
    );
    assert!(claim(300, JobLane::Work).await.is_empty(), "leased");
    let scripts = claim(300, JobLane::Scripts).await;
    assert_eq!(scripts.len(), 1, "the scripts' lane has its own job");
    assert_eq!(
        (
            scripts[0].effect.clone(),
            scripts[0].task_id.as_deref(),
            scripts[0].lane
        ),
        (Effect::SystemTask, Some("t2"), JobLane::Scripts)
    );
    assert!(claim(400, JobLane::Scripts).await.is_empty(), "leased");
    assert_eq!(next(JobLane::Scripts).await, Some(1300), "its lease ends");
    let again = claim(1300, JobLane::Work).await;
    assert_eq!(again.len(), 2, "the lease ran out and j2 is due");
    stores
        .execution
        .run(UnitOfWork {
            lock: None,
            work: Box::new(|txn| {
                txn.changes.job_deletes = vec!["j1".into(), "j2".into(), "s1".into()];
                Ok(())
            }),
        })
        .await
        .expect("deleted");
    assert_eq!(next(JobLane::Work).await, None);
    assert_eq!(next(JobLane::Scripts).await, None);
}

/// A unit that refuses, panics or is dropped part-way (a cancelled request) after
/// locking a workflow releases it: the next unit locks the same workflow at once,
/// whichever connection or thread it gets. Claims that find nothing, or only tasks
/// that ended, leave nothing held either. Each step must finish within seconds; a
/// lock left behind would hold the next unit until the database's statement timeout.
pub(super) async fn abandoned_units_release_their_locks(stores: Stores) {
    use std::time::Duration;
    let ids = setup_queue(&stores, &[("held", 0, 0)]).await;
    let workflow = stores
        .execution
        .get_task(&ids[0])
        .await
        .expect("read")
        .expect("task")
        .workflow_instance_id;
    let stored_update = load(&stores, &workflow).await.tasks()[0].update_time;
    let soon = Duration::from_secs(5);
    let lock = |work: crate::store::Work| UnitOfWork {
        lock: Some(workflow.clone()),
        work,
    };
    for round in 0..6 {
        let refused = tokio::time::timeout(
            soon,
            stores.execution.run(lock(Box::new(|txn| {
                assert!(txn.state.is_some(), "the workflow is loaded");
                Err(Box::new(CoreError::Conflict("no".into())))
            }))),
        )
        .await
        .expect("a refused unit ends");
        assert!(refused.is_err(), "round {round}: the refusal comes back");
        let panicked = tokio::time::timeout(
            soon,
            stores.execution.run(lock(Box::new(|_| {
                panic!("a unit that panics while locked")
            }))),
        )
        .await
        .expect("a panicking unit ends");
        assert!(panicked.is_err(), "round {round}: the panic is an error");
        // Polled once, then dropped: its statements may be on their way already.
        let cancelled = tokio::time::timeout(
            Duration::ZERO,
            stores.execution.run(lock(Box::new(|_| Ok(())))),
        )
        .await;
        drop(cancelled);
        let empty = tokio::time::timeout(
            soon,
            stores
                .execution
                .claim(claim("nothing-here", 5, 10, "w"), mark),
        )
        .await
        .expect("an empty claim ends")
        .expect("claim");
        assert!(empty.is_empty());
        tokio::time::timeout(
            soon,
            stores.execution.run(lock(Box::new(|txn| {
                let state = txn.state.as_mut().expect("the workflow is there");
                state.task_mut(0).expect("its task").update_time += 1;
                Ok(())
            }))),
        )
        .await
        .unwrap_or_else(|_| panic!("round {round}: the workflow is still locked"))
        .expect("the next unit commits");
    }
    let state = load(&stores, &workflow).await;
    assert_eq!(
        state.tasks()[0].update_time,
        stored_update + 6,
        "the six committed units changed the task, the others nothing"
    );
    let claimed = stores
        .execution
        .claim(claim("held", 1, 10, "w"), mark)
        .await
        .expect("claim");
    assert_eq!(claimed.len(), 1, "the task is still there to claim");
}

/// Claims racing units of work that cancel the same tasks: whichever commits first,
/// every task ends cancelled. A claim never rewrites a task from a read older than
/// the cancellation (which would hand out, and store as in progress, a task of a
/// stopped workflow).
pub(super) async fn claims_never_revive_a_task_a_unit_ended(stores: Stores) {
    let maker = Maker::new("race");
    let def = definition("race", json!([simple("a")]));
    let mut workflows = Vec::new();
    for w in 0..40 {
        let (mut state, _) = maker.start(&def, StartParams::default(), 1000);
        let task_id = format!("race-{w}");
        let message = schedule(&mut state, &task_id, &format!("r{w}"), "race", 0, 0);
        let changes = ChangeSet {
            queue_pushes: vec![message],
            ..ChangeSet::default()
        };
        workflows.push((insert(&stores, state, changes).await, task_id));
    }
    let mut claimers = Vec::new();
    for worker in 0..4 {
        let execution = stores.execution.clone();
        claimers.push(tokio::spawn(async move {
            for _ in 0..200 {
                let got = execution
                    .claim(claim("race", 2, 10, &format!("w{worker}")), mark)
                    .await
                    .expect("claim");
                if got.is_empty() {
                    tokio::task::yield_now().await;
                }
            }
        }));
    }
    let mut cancels = Vec::new();
    for (workflow, task_id) in workflows.clone() {
        let execution = stores.execution.clone();
        cancels.push(tokio::spawn(async move {
            execution
                .run(UnitOfWork {
                    lock: Some(workflow),
                    work: Box::new(move |txn| {
                        let state = txn.state.as_mut().expect("the workflow");
                        let index = state.task_index(&task_id).expect("its task");
                        state.task_mut(index).expect("task").status = TaskStatus::Canceled;
                        txn.changes.queue_removals.push(task_id);
                        Ok(())
                    }),
                })
                .await
                .expect("cancelled");
        }));
    }
    for handle in cancels.into_iter().chain(claimers) {
        handle.await.expect("joined");
    }
    for (workflow, task_id) in workflows {
        let state = load(&stores, &workflow).await;
        let task = &state.tasks()[state.task_index(&task_id).expect("task")];
        assert_eq!(
            task.status,
            TaskStatus::Canceled,
            "task {task_id} stays cancelled"
        );
    }
}

fn then_claim() -> ThenClaim {
    ThenClaim {
        claim: claim("then", 10, 10, "w"),
        on_claim: mark,
    }
}

/// A unit's `then_claim` claims in the unit's own transaction: it sees the unit's
/// writes (a task the unit scheduled is claimed with the one queued before it), the
/// tasks come back in `Committed::claimed` and are stored as claimed, and a refused
/// unit claims nothing.
pub(super) async fn units_claim_in_their_own_transaction(stores: Stores) {
    let maker = Maker::new("then");
    let def = definition("then", json!([simple("a"), simple("b")]));
    let (mut state, _) = maker.start(&def, StartParams::default(), 1000);
    let message = schedule(&mut state, "then-0", "m0", "then", 0, 0);
    let changes = ChangeSet {
        queue_pushes: vec![message],
        ..ChangeSet::default()
    };
    let workflow = insert(&stores, state, changes).await;
    let refused = stores
        .execution
        .run(UnitOfWork {
            lock: Some(workflow.clone()),
            work: Box::new(|txn| {
                txn.then_claim = Some(then_claim());
                Err("refused".into())
            }),
        })
        .await;
    assert!(refused.is_err());
    let committed = stores
        .execution
        .run(UnitOfWork {
            lock: Some(workflow.clone()),
            work: Box::new(|txn| {
                let state = txn.state.as_mut().expect("the workflow");
                let message = schedule(state, "then-1", "m1", "then", 5, 0);
                txn.changes.queue_pushes.push(message);
                txn.then_claim = Some(then_claim());
                Ok(())
            }),
        })
        .await
        .expect("the unit commits");
    let ids: Vec<&str> = committed
        .claimed
        .iter()
        .map(|t| t.task_id.as_str())
        .collect();
    assert_eq!(
        ids,
        ["then-1", "then-0"],
        "the unit's own task (higher priority) first, then the one queued before"
    );
    let state = load(&stores, &workflow).await;
    for id in ["then-0", "then-1"] {
        let task = &state.tasks()[state.task_index(id).expect("task")];
        assert_eq!(
            task.status,
            TaskStatus::InProgress,
            "{id} stored as claimed"
        );
        assert_eq!(task.worker_id.as_deref(), Some("w"));
    }
    assert!(
        stores
            .execution
            .claim(claim("then", 10, 10, "w2"), mark)
            .await
            .expect("claim")
            .is_empty(),
        "their messages are gone"
    );
}
