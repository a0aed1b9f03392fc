//! Conformance: event handlers are kept by name and found by their event, the
//! active ones alone when asked.

use crate::model::{ActionKind, EventAction, EventHandler};
use crate::store::Stores;

fn handler(name: &str, event: &str, active: bool) -> EventHandler {
    EventHandler {
        name: name.into(),
        event: event.into(),
        condition: Some("$.ok == true".into()),
        actions: vec![EventAction {
            action: ActionKind::CompleteTask,
            start_workflow: None,
            complete_task: Some(Default::default()),
            fail_task: None,
            terminate_workflow: None,
            update_workflow_variables: None,
            expand_inline_json: true,
        }],
        active,
        created_by: Some("alice".into()),
        ..EventHandler::default()
    }
}

pub(super) async fn event_handlers_are_found_by_event(stores: Stores) {
    let s = &stores.events;
    assert!(s.list_event_handlers().await.expect("list").is_empty());
    let on = handler("b_on", "conductor:flow:done", true);
    let off = handler("a_off", "conductor:flow:done", false);
    let other = handler("c_other", "conductor:flow:else", true);
    for h in [&on, &off, &other] {
        assert!(s.insert_event_handler(h).await.expect("insert"));
    }
    assert_eq!(
        s.event_handler("b_on").await.expect("get").as_ref(),
        Some(&on)
    );
    assert_eq!(s.event_handler("missing").await.expect("get"), None);
    // A creation never replaces a handler of its name.
    let taken = handler("b_on", "conductor:other:event", false);
    assert!(!s.insert_event_handler(&taken).await.expect("insert"));
    assert_eq!(
        s.event_handler("b_on").await.expect("get").as_ref(),
        Some(&on)
    );
    let names = |list: Vec<EventHandler>| list.into_iter().map(|h| h.name).collect::<Vec<_>>();
    assert_eq!(
        names(s.list_event_handlers().await.expect("list")),
        ["a_off", "b_on", "c_other"]
    );
    assert_eq!(
        names(
            s.event_handlers_for("conductor:flow:done", true)
                .await
                .expect("for")
        ),
        ["b_on"]
    );
    assert_eq!(
        names(
            s.event_handlers_for("conductor:flow:done", false)
                .await
                .expect("for")
        ),
        ["a_off", "b_on"]
    );
    // A handler moved to another event and switched on is found there only.
    let moved = EventHandler {
        event: "conductor:flow:else".into(),
        active: true,
        ..off.clone()
    };
    assert!(s.put_event_handler(&moved).await.expect("replace"));
    let gone = handler("never_made", "e", true);
    assert!(!s.put_event_handler(&gone).await.expect("replace none"));
    assert_eq!(s.event_handler("never_made").await.expect("get"), None);
    assert_eq!(
        names(
            s.event_handlers_for("conductor:flow:else", true)
                .await
                .expect("for")
        ),
        ["a_off", "c_other"]
    );
    assert!(s.delete_event_handler("a_off").await.expect("delete"));
    assert!(!s.delete_event_handler("a_off").await.expect("delete again"));
    assert_eq!(s.list_event_handlers().await.expect("list").len(), 2);
}
