//! Conformance: sessions round-trip, are touched forward only, end one at a time,
//! and are purged by their absolute end or their idle time.

use crate::store::{StoredSession, Stores};

fn session(id: &str, user: &str, seen: i64, expires: i64) -> StoredSession {
    StoredSession {
        id: id.into(),
        user_id: user.into(),
        token_version: 1_700_000_000_123,
        method: "password".into(),
        client: (user == "alice").then(|| "10.0.0.7".to_string()),
        created_at: 1000,
        last_seen_at: seen,
        expires_at: expires,
    }
}

pub(super) async fn sessions_round_trip_and_are_purged(stores: Stores) {
    let sessions = &stores.sessions;
    assert_eq!(sessions.session("none").await.expect("read"), None);
    let alice = session("a1", "alice", 1000, 50_000);
    sessions.put_session(alice.clone()).await.expect("put");
    sessions
        .put_session(session("b1", "bob", 1000, 9000))
        .await
        .expect("put");
    sessions
        .put_session(session("c1", "carol", 1000, 90_000))
        .await
        .expect("put");
    assert_eq!(
        sessions.session("a1").await.expect("read"),
        Some(alice.clone())
    );

    // A use moves the time forward, never back.
    sessions.touch_session("a1", 5000).await.expect("touch");
    sessions
        .touch_session("a1", 4000)
        .await
        .expect("touch back");
    let touched = sessions.session("a1").await.expect("read").expect("there");
    assert_eq!(touched.last_seen_at, 5000);
    assert_eq!(touched.expires_at, 50_000);
    sessions
        .touch_session("none", 5000)
        .await
        .expect("touch of none");

    // Replacing keeps one row.
    let mut replaced = alice.clone();
    replaced.token_version = 7;
    sessions.put_session(replaced).await.expect("replace");
    let read = sessions.session("a1").await.expect("read").expect("there");
    assert_eq!(read.token_version, 7);

    // Purged at 10 000 with the idle cut at 1000: bob ended at 9000 and carol was
    // last used at 1000; alice was used at 6000 and stays.
    sessions.touch_session("a1", 6000).await.expect("touch");
    let purged = sessions.purge_sessions(10_000, 1000).await.expect("purge");
    assert_eq!(purged, 2);
    assert!(sessions.session("a1").await.expect("read").is_some());
    assert_eq!(sessions.session("b1").await.expect("read"), None);
    assert_eq!(sessions.session("c1").await.expect("read"), None);

    assert!(sessions.delete_session("a1").await.expect("delete"));
    assert!(!sessions.delete_session("a1").await.expect("delete again"));
    assert_eq!(sessions.session("a1").await.expect("read"), None);
}
