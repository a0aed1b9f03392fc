//! Conformance: event messages and executions are kept, the latest first, the
//! latest few of each event and handler.

use serde_json::json;

use crate::model::{ActionKind, EventExecution, EventMessage};
use crate::store::{Effect, Job, JobLane, Stores, UnitOfWork};

fn message(id: &str, event: &str, created: i64) -> EventMessage {
    EventMessage {
        id: id.into(),
        event_target: event.into(),
        event_type: "MESSAGE".into(),
        full_payload: json!({"n": created}),
        created_at: created,
        status: "RECEIVED".into(),
        status_description: None,
        published_by: Some("alice".into()),
    }
}

fn execution(id: &str, handler: &str, created: i64) -> EventExecution {
    EventExecution {
        id: id.into(),
        message_id: "m1".into(),
        name: handler.into(),
        event: "e".into(),
        action: ActionKind::StartWorkflow,
        created,
        status: "COMPLETED".into(),
        status_description: Some("started workflow w".into()),
        output: Default::default(),
    }
}

pub(super) async fn event_records_keep_the_latest(stores: Stores) {
    let s = &stores.event_records;
    for (id, event, at) in [
        ("m1", "e", 1),
        ("m2", "e", 2),
        ("m3", "e", 3),
        ("x1", "f", 1),
    ] {
        s.put_event_message(&message(id, event, at), 2)
            .await
            .expect("message");
    }
    let ids = |list: Vec<EventMessage>| list.into_iter().map(|m| m.id).collect::<Vec<_>>();
    assert_eq!(
        ids(s.event_messages("e", 0, 10).await.expect("list")),
        ["m3", "m2"]
    );
    assert_eq!(
        ids(s.event_messages("e", 1, 10).await.expect("list")),
        ["m2"]
    );
    assert_eq!(s.event_message("m1").await.expect("get"), None);
    // A message stored again (its status settled) is replaced, not added.
    let handled = EventMessage {
        status: "HANDLED".into(),
        ..message("m3", "e", 3)
    };
    s.put_event_message(&handled, 2).await.expect("again");
    assert_eq!(
        s.event_message("m3").await.expect("get").as_ref(),
        Some(&handled)
    );
    // A message that a job still waits to read (named by its id) is kept past
    // the latest few.
    stores
        .execution
        .run(UnitOfWork {
            lock: None,
            work: Box::new(|txn| {
                txn.changes.job_adds = vec![Job {
                    id: "pending".into(),
                    effect: Effect::EventDelivery {
                        event: "g".into(),
                        incoming: true,
                    },
                    workflow_id: "g1".into(),
                    task_id: None,
                    due_at: 10,
                    lane: JobLane::Scripts,
                }];
                Ok(())
            }),
        })
        .await
        .expect("job added");
    for (id, at) in [("g1", 1), ("g2", 2), ("g3", 3)] {
        s.put_event_message(&message(id, "g", at), 1)
            .await
            .expect("message");
    }
    assert_eq!(
        ids(s.event_messages("g", 0, 10).await.expect("list")),
        ["g3", "g1"]
    );
    for (id, handler, at) in [("j1", "h", 1), ("j2", "h", 2), ("j3", "other", 3)] {
        s.put_event_execution(&execution(id, handler, at), 1)
            .await
            .expect("execution");
    }
    let done = s.event_executions("h", 0, 10).await.expect("list");
    assert_eq!(done, [execution("j2", "h", 2)]);
    s.delete_event_executions("other").await.expect("delete");
    assert!(
        s.event_executions("other", 0, 10)
            .await
            .expect("list")
            .is_empty()
    );
    assert!(
        s.event_executions("nobody", 0, 10)
            .await
            .expect("list")
            .is_empty()
    );
    let (messages, executions) = s.event_record_counts().await.expect("counts");
    assert_eq!(
        (messages.get("e"), messages.get("f"), messages.get("g")),
        (Some(&2), Some(&1), Some(&2))
    );
    assert_eq!(
        (executions.get("h"), executions.get("other")),
        (Some(&1), None)
    );
}
