//! Conformance: the audit trail is one chain, whichever way entries are appended,
//! and searches filter and page it.

use crate::store::audit::ChainCheck;
use crate::store::{AuditEvent, AuditQuery, SecurityOp, Stores};

fn event(n: i64, principal: &str, action: &str) -> AuditEvent {
    AuditEvent {
        time: 1000 + n,
        principal: principal.into(),
        client: (n % 2 == 0).then(|| "10.0.0.1".to_string()),
        action: action.into(),
        target: format!("user:u{n}"),
        outcome: "success".into(),
    }
}

pub(super) async fn the_audit_trail_is_one_chain(stores: Stores) {
    let audit = &stores.audit;
    assert!(audit.audit_after(0, 10).await.expect("empty").is_empty());
    audit
        .append_audit(vec![
            event(1, "admin", "token.mint"),
            event(2, "admin", "user.put"),
        ])
        .await
        .expect("append");
    // With a change to access control, in its transaction.
    stores
        .security
        .apply_security(vec![SecurityOp::Audit(event(3, "carol", "group.put"))])
        .await
        .expect("with a change");
    let appends: Vec<_> = (4..=13)
        .map(|n| {
            let audit = audit.clone();
            tokio::spawn(async move {
                audit
                    .append_audit(vec![event(n, "bob", "token.mint")])
                    .await
            })
        })
        .collect();
    for append in appends {
        append.await.expect("joined").expect("concurrent append");
    }

    let mut check = ChainCheck::default();
    let mut after = 0;
    loop {
        let page = audit.audit_after(after, 4).await.expect("page");
        if page.is_empty() {
            break;
        }
        for entry in &page {
            check.check(entry).expect("one unbroken chain");
            after = entry.seq;
        }
    }
    assert_eq!(check.checked(), 13);

    let (total, newest) = audit
        .search_audit(&AuditQuery {
            size: 2,
            ..AuditQuery::default()
        })
        .await
        .expect("search");
    assert_eq!(total, 13);
    assert_eq!(newest.iter().map(|e| e.seq).collect::<Vec<_>>(), [13, 12]);
    let (total, bobs) = audit
        .search_audit(&AuditQuery {
            principal: Some("bob".into()),
            action: Some("token.mint".into()),
            from: Some(1006),
            to: Some(1008),
            size: 10,
            ..AuditQuery::default()
        })
        .await
        .expect("filtered");
    assert_eq!(total, 3);
    assert!(bobs.iter().all(|e| e.event.principal == "bob"));
    let (_, carol) = audit
        .search_audit(&AuditQuery {
            target: Some("user:u3".into()),
            size: 10,
            ..AuditQuery::default()
        })
        .await
        .expect("by target");
    assert_eq!(carol.len(), 1);
    assert_eq!(carol[0].event, event(3, "carol", "group.put"));
    let (total, past_the_end) = audit
        .search_audit(&AuditQuery {
            start: 20,
            size: 5,
            ..AuditQuery::default()
        })
        .await
        .expect("paged");
    assert_eq!((total, past_the_end.len()), (13, 0));
}
