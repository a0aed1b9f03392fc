//! PostgreSQL-only behaviour of writes that must not undo others: a claim made in a
//! unit's transaction (`update-v2`) when it fails, and access-control changes
//! computed from a stale copy.
//! Runs on the server `PODIUM_TEST_DATABASE_URL` names, as the conformance suite.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::time::Duration;

use podium_core::model::{Task, TaskExecLog, TaskStatus};
use podium_core::store::{Claim, ThenClaim, UnitOfWork};
use podium_store_postgres::testing::fresh_schema;
use podium_store_postgres::{PgOptions, PostgresStore};

fn mark(task: &mut Task, claim: &Claim) -> Option<i64> {
    task.status = TaskStatus::InProgress;
    task.worker_id = Some(claim.worker_id.clone());
    Some(claim.now + 5000)
}

/// The claim that follows a worker's result fails (here: another session holds the
/// queue table locked past the statement timeout). The result must be kept: the
/// unit commits its writes with nothing claimed, rather than failing as a whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_claim_keeps_the_units_writes() {
    let Some(url) = podium_store_postgres::testing::server_url("the PostgreSQL claim-failure test")
    else {
        return;
    };
    let schema = fresh_schema(&url, "claim_fails").await.expect("schema");
    let mut options = PgOptions::new(schema.clone());
    options.statement_timeout = Duration::from_millis(300);
    let store = PostgresStore::open(&options).await.expect("open");
    let stores = store.stores();
    let (client, connection) = tokio_postgres::connect(&schema, tokio_postgres::NoTls)
        .await
        .expect("connect");
    let driver = tokio::spawn(connection);
    client
        .batch_execute("BEGIN; LOCK TABLE queue IN ACCESS EXCLUSIVE MODE")
        .await
        .expect("lock");
    let committed = stores
        .execution
        .run(UnitOfWork {
            lock: None,
            work: Box::new(|txn| {
                txn.changes.task_logs.push(TaskExecLog {
                    log: "kept".into(),
                    task_id: Some("t1".into()),
                    created_time: 1,
                });
                txn.then_claim = Some(ThenClaim {
                    claim: Claim {
                        queue_name: "q".into(),
                        count: 1,
                        now: 10,
                        worker_id: "w".into(),
                        limits: None,
                    },
                    on_claim: mark,
                });
                Ok(())
            }),
        })
        .await
        .expect("the unit commits although its claim failed");
    assert!(committed.claimed.is_empty());
    client.batch_execute("ROLLBACK").await.expect("unlock");
    let logs = stores.execution.task_logs("t1").await.expect("logs");
    assert_eq!(logs.len(), 1, "the unit's write was kept");
    assert_eq!(logs[0].log, "kept");
    podium_core::store::StoreControl::close(store.as_ref());
    drop(client);
    driver.await.expect("joined").expect("connection");
}

fn group(id: &str) -> podium_core::security::model::Group {
    podium_core::security::model::Group {
        id: id.into(),
        description: "a team".into(),
        roles: Vec::new(),
        custom_roles: Vec::new(),
        default_access: Default::default(),
        create_time: 1,
        update_time: 1,
    }
}

/// A change to access control computed from a copy another node has since changed
/// is not applied (a password reset must not be undone by a node that read the
/// user before it): `apply_security_at` with the old version applies nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_computed_from_a_stale_copy_is_not_applied() {
    use podium_core::store::{SecurityOp, SecurityStore};
    let Some(url) =
        podium_store_postgres::testing::server_url("the PostgreSQL security-version test")
    else {
        return;
    };
    let schema = fresh_schema(&url, "stale_security").await.expect("schema");
    let store = PostgresStore::open(&PgOptions::new(schema))
        .await
        .expect("open");
    let seen = store.security_version().await.expect("version");
    // Another node changes access control.
    store
        .apply_security(vec![SecurityOp::PutGroup(group("first"))])
        .await
        .expect("a change");
    let applied = store
        .apply_security_at(vec![SecurityOp::PutGroup(group("stale"))], seen)
        .await
        .expect("no error");
    assert!(!applied, "a change computed at an old version is refused");
    let now = store.security_version().await.expect("version");
    assert!(
        store
            .apply_security_at(vec![SecurityOp::PutGroup(group("fresh"))], now)
            .await
            .expect("applied")
    );
    let groups: Vec<String> = store
        .load_security()
        .await
        .expect("load")
        .groups
        .into_iter()
        .map(|g| g.id)
        .collect();
    assert_eq!(groups, ["first", "fresh"]);
    podium_core::store::StoreControl::close(store.as_ref());
}
