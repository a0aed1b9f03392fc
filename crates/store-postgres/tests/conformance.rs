//! Runs the core store conformance suite against PostgreSQL, one fresh schema per
//! case, on the server `PODIUM_TEST_DATABASE_URL` names (`scripts/test` starts a
//! throwaway one). Without it the suite is skipped with a message, unless
//! `PODIUM_TEST_POSTGRES_REQUIRED` is set (as `scripts/test` sets it), when that is
//! a failure.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::sync::Arc;

use podium_store_postgres::{PgOptions, PostgresStore};

use podium_store_postgres::testing::fresh_schema;

fn server_url() -> Option<String> {
    podium_store_postgres::testing::server_url("the PostgreSQL store conformance suite")
}

async fn open(url: &str, schema: &str) -> Arc<PostgresStore> {
    let url = fresh_schema(url, schema).await.expect("schema");
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
    let shared = fresh_schema(&url, "conform_migrations")
        .await
        .expect("schema");
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
    // The nodes' channel was drawn once, at random: not a name another role could
    // derive from the schema's.
    let channels: Vec<String> = client
        .query("SELECT name FROM podium_channel", &[])
        .await
        .expect("channel")
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(channels.len(), 1, "{channels:?}");
    let random = channels[0].strip_prefix("podium_").expect("prefix");
    assert_eq!(random.len(), 32, "{random}");
    assert!(random.bytes().all(|b| b.is_ascii_hexdigit()), "{random}");
    let other = fresh_schema(&url, "conform_migrations_other")
        .await
        .expect("schema");
    PostgresStore::open(&PgOptions::new(other.clone()))
        .await
        .expect("open the other schema");
    let (other_client, other_connection) = tokio_postgres::connect(&other, tokio_postgres::NoTls)
        .await
        .expect("connect");
    let other_driver = tokio::spawn(other_connection);
    let other_channel: String = other_client
        .query_one("SELECT name FROM podium_channel", &[])
        .await
        .expect("channel")
        .get(0);
    assert_ne!(other_channel, channels[0]);
    other_driver.abort();
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn variables_stored_before_the_index_are_indexed_as_people_see_them() {
    let Some(url) = server_url() else { return };
    let schema = fresh_schema(&url, "conform_variables_backfill")
        .await
        .expect("schema");
    let store = PostgresStore::open(&PgOptions::new(schema.clone()))
        .await
        .expect("open");
    podium_core::store::StoreControl::close(store.as_ref());
    let (client, connection) = tokio_postgres::connect(&schema, tokio_postgres::NoTls)
        .await
        .expect("connect");
    let driver = tokio::spawn(connection);
    // Back to the schema before the index (migration 9 and those after it), with
    // rows written then.
    client
        .batch_execute(
            "DROP TABLE operate_variable;
             ALTER TABLE job DROP COLUMN lane;
             DROP TABLE queue_handout;
             DROP INDEX task_in_progress;
             DROP TABLE schedule;
             DROP TABLE schedule_run;
             DROP TABLE schema_def;
             DROP TABLE event_handler;
             DROP TABLE registry_method;
             DROP TABLE registry_proto;
             DROP TABLE registry_service;
             DROP TABLE event_message;
             DROP TABLE event_execution;
             DELETE FROM podium_schema WHERE version >= 9;",
        )
        .await
        .expect("older schema");
    for (table, id, json) in [
        (
            "workflow",
            "live",
            r#"{"workflowId":"live","variables":{"a":1,"_secrets":{"$podiumAtRest":{"v":1}}}}"#,
        ),
        (
            "archived_workflow",
            "old",
            r#"{"workflowId":"old","variables":{"b":"***"}}"#,
        ),
        ("workflow", "damaged", "not json"),
        (
            "workflow",
            "plain",
            r#"{"workflowId":"plain","variables":{"c":2}}"#,
        ),
    ] {
        client
            .execute(
                &format!(
                    "INSERT INTO {table} (id, name, version, status, priority, create_time,
                        start_time, end_time, update_time, def_revision, json)
                     VALUES ($1, 'w', 1, 'COMPLETED', 0, 1, 1, 1, 1, 'r', $2)"
                ),
                &[&id, &json],
            )
            .await
            .expect("row");
    }
    let store = PostgresStore::open(&PgOptions::new(schema.clone()))
        .await
        .expect("migrated");
    podium_core::store::StoreControl::close(store.as_ref());
    let rows: Vec<(String, String, String)> = client
        .query(
            "SELECT w.id, v.name, v.value FROM operate_variable v
             JOIN (SELECT id, operate_seq FROM workflow
                   UNION ALL SELECT id, operate_seq FROM archived_workflow) w
               ON w.operate_seq = v.operate_seq
             ORDER BY w.id, v.name",
            &[],
        )
        .await
        .expect("rows")
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2)))
        .collect();
    let expected = [
        ("live", "_secrets", "\"***\""),
        // A run that masks anything: every value, until its next write.
        ("live", "a", "\"***\""),
        ("old", "b", "\"***\""),
        ("plain", "c", "2"),
    ]
    .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()));
    assert_eq!(rows, expected.to_vec());
    drop(client);
    let _ = driver.await;
}
