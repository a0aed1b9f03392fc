//! Runs the core store conformance suite against PostgreSQL, one fresh schema per
//! case, on the server `PODIUM_TEST_DATABASE_URL` names (`scripts/test` starts a
//! throwaway one). Without it the suite is skipped with a message, unless
//! `PODIUM_TEST_POSTGRES_REQUIRED` is set (as `scripts/test` sets it), when that is
//! a failure.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::sync::Arc;

use podium_store_postgres::{PgOptions, PostgresStore};

/// The test server's URL, or None when the suite is skipped.
fn server_url() -> Option<String> {
    match std::env::var("PODIUM_TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var_os("PODIUM_TEST_POSTGRES_REQUIRED").is_none(),
                "PODIUM_TEST_DATABASE_URL is not set, and the PostgreSQL suite is required"
            );
            eprintln!("PODIUM_TEST_DATABASE_URL is not set: the PostgreSQL suite is skipped");
            None
        }
    }
}

/// A URL whose connections use a new, empty schema of their own.
async fn fresh_schema(url: &str, name: &str) -> String {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("connect to the test server");
    let driver = tokio::spawn(connection);
    client
        .batch_execute(&format!(
            "DROP SCHEMA IF EXISTS {name} CASCADE; CREATE SCHEMA {name};"
        ))
        .await
        .expect("create schema");
    drop(client);
    let _ = driver.await;
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}options=-c%20search_path%3D{name}")
}

async fn open(url: &str, schema: &str) -> Arc<PostgresStore> {
    let url = fresh_schema(url, schema).await;
    PostgresStore::open(&PgOptions::new(url))
        .await
        .expect("open")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_store_conforms() {
    let Some(url) = server_url() else { return };
    for case in podium_core::testkit::CASES {
        println!("conformance case: {}", case.name);
        let store = open(&url, &format!("conform_{}", case.name)).await;
        (case.run)(store.stores()).await;
        podium_core::store::StoreControl::close(store.as_ref());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_starting_together_migrate_once_and_a_newer_schema_is_refused() {
    let Some(url) = server_url() else { return };
    let shared = fresh_schema(&url, "conform_migrations").await;
    let opens = (0..4).map(|_| {
        let url = shared.clone();
        tokio::spawn(async move { PostgresStore::open(&PgOptions::new(url)).await })
    });
    for open in opens {
        open.await.expect("joined").expect("every node opens");
    }
    let store = PostgresStore::open(&PgOptions::new(shared.clone()))
        .await
        .expect("reopen");
    podium_core::store::StoreControl::ping(store.as_ref())
        .await
        .expect("ping");
    let (client, connection) = tokio_postgres::connect(&shared, tokio_postgres::NoTls)
        .await
        .expect("connect");
    let driver = tokio::spawn(connection);
    let row = client
        .query_one(
            "SELECT COUNT(*), MAX(version)::bigint FROM podium_schema",
            &[],
        )
        .await
        .expect("count");
    let (applied, newest): (i64, i64) = (row.get(0), row.get(1));
    assert!(newest >= 2, "the migrations ran ({newest})");
    assert_eq!(applied, newest, "each migration is recorded once");
    client
        .execute(
            "INSERT INTO podium_schema (version, name) VALUES (999, 'future')",
            &[],
        )
        .await
        .expect("bump");
    drop(client);
    let _ = driver.await;
    let err = PostgresStore::open(&PgOptions::new(shared))
        .await
        .err()
        .expect("refused");
    assert!(err.to_string().contains("newer Podium"), "{err}");
}
