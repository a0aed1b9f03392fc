//! Conformance: sealed secrets, re-sealing after a rotation, and the read record.

use crate::store::{SecretKind, SecretRead, SecretRecord, Stores};

fn record(kind: SecretKind, name: &str, key_id: &str, sealed: &[u8], at: i64) -> SecretRecord {
    SecretRecord {
        kind,
        name: name.into(),
        key_id: key_id.into(),
        sealed: sealed.to_vec(),
        created_by: "admin".into(),
        created_at: at,
        updated_by: "admin".into(),
        updated_at: at,
    }
}

pub(super) async fn secrets_are_stored_resealed_and_their_reads_recorded(stores: Stores) {
    let store = &stores.secrets;
    assert!(store.load_secrets().await.expect("load").is_empty());
    let a = record(SecretKind::Secret, "api-token", "k1", &[1, 2, 3], 10);
    let env = record(SecretKind::Env, "api-token", "k1", &[4, 5], 11);
    store.put_secret(a.clone()).await.expect("put");
    store.put_secret(env.clone()).await.expect("put env");
    assert_eq!(
        store.load_secrets().await.expect("load"),
        vec![env.clone(), a.clone()],
        "a secret and an environment variable may share a name"
    );

    // An update keeps who created it and when.
    let mut updated = record(SecretKind::Secret, "api-token", "k1", &[9], 20);
    updated.updated_by = "app:x".into();
    updated.created_by = "someone else".into();
    store.put_secret(updated).await.expect("update");
    let loaded = store.load_secrets().await.expect("load");
    let secret = loaded
        .iter()
        .find(|r| r.kind == SecretKind::Secret)
        .expect("secret");
    assert_eq!(
        (
            secret.sealed.as_slice(),
            secret.created_by.as_str(),
            secret.created_at
        ),
        (&[9u8][..], "admin", 10)
    );
    assert_eq!(
        (secret.updated_by.as_str(), secret.updated_at),
        ("app:x", 20)
    );

    // Re-sealing replaces only values still under the old key.
    let resealed = vec![
        record(SecretKind::Secret, "api-token", "k2", &[7, 7], 0),
        record(SecretKind::Env, "api-token", "k2", &[8, 8], 0),
    ];
    store
        .put_secret(record(SecretKind::Env, "api-token", "k2", &[6], 30))
        .await
        .expect("concurrent update");
    assert_eq!(
        store.reseal_secrets(resealed, "k1").await.expect("reseal"),
        1
    );
    let loaded = store.load_secrets().await.expect("load");
    let by_kind = |kind| {
        loaded
            .iter()
            .find(|r: &&SecretRecord| r.kind == kind)
            .expect("kind")
    };
    assert_eq!(by_kind(SecretKind::Secret).sealed, vec![7, 7]);
    assert_eq!(by_kind(SecretKind::Secret).key_id, "k2");
    assert_eq!(
        by_kind(SecretKind::Env).sealed,
        vec![6],
        "a concurrent update is kept"
    );

    // Deleting.
    assert!(
        store
            .delete_secret(SecretKind::Env, "api-token")
            .await
            .expect("delete")
    );
    assert!(
        !store
            .delete_secret(SecretKind::Env, "api-token")
            .await
            .expect("again")
    );
    assert_eq!(store.load_secrets().await.expect("load").len(), 1);

    // Reads, newest first, per name.
    let read = |name: &str, who: &str, at| SecretRead {
        kind: SecretKind::Secret,
        name: name.into(),
        principal: who.into(),
        at,
    };
    store
        .record_secret_reads(vec![read("api-token", "jane", 1), read("db", "app:x", 2)])
        .await
        .expect("record");
    store
        .record_secret_reads(vec![read("api-token", "app:y", 3)])
        .await
        .expect("record");
    let reads = store
        .secret_reads(SecretKind::Secret, Some("api-token"), 10)
        .await
        .expect("reads");
    assert_eq!(
        reads,
        vec![read("api-token", "app:y", 3), read("api-token", "jane", 1)]
    );
    let all = store
        .secret_reads(SecretKind::Secret, None, 2)
        .await
        .expect("all");
    assert_eq!(all.len(), 2);
    assert!(
        store
            .secret_reads(SecretKind::Env, None, 10)
            .await
            .expect("env")
            .is_empty()
    );
}
