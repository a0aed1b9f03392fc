//! For test suites that run on PostgreSQL: the test server `scripts/test` starts, and
//! a new, empty schema on it for each store or cluster under test.

/// The test server's URL (`PODIUM_TEST_DATABASE_URL`), or None when the suite is to
/// be skipped. With `PODIUM_TEST_POSTGRES_REQUIRED` set (as `scripts/test` sets it),
/// a missing server is a failure instead.
///
/// # Panics
///
/// When the server is required and not named: the suite must not pass by running
/// nothing.
#[allow(clippy::panic)]
pub fn server_url(suite: &str) -> Option<String> {
    match std::env::var("PODIUM_TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            if std::env::var_os("PODIUM_TEST_POSTGRES_REQUIRED").is_some() {
                panic!(
                    "PODIUM_TEST_DATABASE_URL is not set, and the PostgreSQL suites are required"
                );
            }
            eprintln!("PODIUM_TEST_DATABASE_URL is not set: {suite} is skipped");
            None
        }
    }
}

/// Makes `schema` new and empty on the server `url` names (dropping what it held);
/// returns a URL whose connections use it.
pub async fn fresh_schema(url: &str, schema: &str) -> Result<String, tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    let driver = tokio::spawn(connection);
    client
        .batch_execute(&format!(
            "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema};"
        ))
        .await?;
    drop(client);
    let _ = driver.await;
    let separator = if url.contains('?') { '&' } else { '?' };
    Ok(format!(
        "{url}{separator}options=-c%20search_path%3D{schema}"
    ))
}
