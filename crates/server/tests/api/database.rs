//! The database API tests run on: the embedded SQLite in each test's data directory,
//! or, when `PODIUM_TEST_DATABASE_URL` names a PostgreSQL server (`scripts/test`
//! starts a throwaway one), a new empty schema on it for each test server.

use std::sync::atomic::{AtomicU64, Ordering};

use podium_server::config::{Config, SecretValue};

/// The PostgreSQL server to run on, if any.
pub fn server_url() -> Option<String> {
    std::env::var("PODIUM_TEST_DATABASE_URL")
        .ok()
        .filter(|url| !url.is_empty())
}

async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("connect to the test database server");
    tokio::spawn(connection);
    client
}

/// Points a configuration at a new, empty schema of the test server, unless it
/// names a database already (a restart) or there is no test server.
pub async fn use_test_database(config: &mut Config) {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let Some(url) = server_url() else { return };
    if config.database_url.is_some() {
        return;
    }
    let schema = format!(
        "api_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let database = podium_store_postgres::testing::fresh_schema(&url, &schema)
        .await
        .expect("create the test schema");
    config.database_url = Some(SecretValue::new(database));
}

/// Every row of every table the database URL's schema holds, as text (what a dump
/// of the database would show).
pub async fn dump(url: &str) -> Vec<u8> {
    let client = connect(url).await;
    let tables = client
        .query(
            "SELECT table_name::text FROM information_schema.tables
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
            &[],
        )
        .await
        .expect("list tables");
    let mut bytes = Vec::new();
    for table in tables {
        let name: String = table.get(0);
        let rows = client
            .query(&format!("SELECT t::text FROM {name} t"), &[])
            .await
            .expect("read table");
        for row in rows {
            let text: String = row.get(0);
            bytes.extend(text.as_bytes());
            bytes.push(b'\n');
        }
    }
    bytes
}
