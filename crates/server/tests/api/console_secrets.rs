//! The console's secrets and environment variables pages over HTTP: a secret's
//! value is written but never shown (not in the list, not on its page), tags are
//! text, who read it is shown to administrators, and a person with nothing to do
//! with secrets has no page.

use crate::console::{person, post};
use crate::helpers::TestApp;

#[tokio::test]
async fn a_secret_is_written_tagged_and_deleted_but_its_value_never_shown() {
    let app = TestApp::spawn().await;
    let mut ada = person(&app, "ada", &["ADMIN"]).await;
    let value = "correct-horse-battery-staple-41";
    let added = post(
        &app,
        &mut ada,
        "/secrets",
        &[("name", "db_password"), ("value", value)],
    )
    .await;
    assert_eq!(added.status, 303, "{}", added.text);
    assert!(
        added
            .location
            .as_deref()
            .is_some_and(|l| l.ends_with("/secrets/db_password"))
    );
    let page = ada.get(&format!("{}/secrets/db_password", app.base)).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(!page.text.contains(value));
    let list = ada.get(&format!("{}/secrets", app.base)).await;
    assert!(list.text.contains("db_password") && !list.text.contains(value));

    // Replaced: the workflow reads the new value; the page still shows none.
    let replaced = post(
        &app,
        &mut ada,
        "/secrets/db_password/value",
        &[("value", "second-value-77")],
    )
    .await;
    assert_eq!(replaced.status, 303, "{}", replaced.text);
    assert_eq!(
        app.get("/api/secrets/db_password").await.text,
        "second-value-77"
    );
    let page = ada.get(&format!("{}/secrets/db_password", app.base)).await;
    assert!(!page.text.contains("second-value-77"));
    // That read was the admin application's: the page says who read it.
    assert!(page.text.contains("Who read it"));
    assert!(
        !page.text.contains("Nobody has read its value"),
        "{}",
        page.text
    );

    // A tag is text, however it is written.
    let tagged = post(
        &app,
        &mut ada,
        "/secrets/db_password/tags",
        &[("key", "team"), ("value", "<script>alert(1)</script>")],
    )
    .await;
    assert_eq!(tagged.status, 303, "{}", tagged.text);
    let list = ada.get(&format!("{}/secrets", app.base)).await;
    assert!(
        !list.text.contains("<script>alert(1)</script>"),
        "{}",
        list.text
    );
    assert!(
        list.text.contains("team:&#60;script&#62;") || list.text.contains("team:&lt;script&gt;"),
        "{}",
        list.text
    );
    let tags = app.get("/api/secrets/db_password/tags").await.json();
    assert_eq!(tags[0]["value"], "<script>alert(1)</script>");
    let untagged = post(
        &app,
        &mut ada,
        "/secrets/db_password/tags/remove",
        &[("key", "team"), ("value", "<script>alert(1)</script>")],
    )
    .await;
    assert_eq!(untagged.status, 303, "{}", untagged.text);
    assert_eq!(
        app.get("/api/secrets/db_password/tags").await.json(),
        serde_json::json!([])
    );

    let ask = ada
        .get(&format!("{}/secrets/db_password/delete", app.base))
        .await;
    assert_eq!(ask.status, 200);
    assert_eq!(app.get("/api/secrets/db_password/exists").await.status, 200);
    let deleted = post(&app, &mut ada, "/secrets/db_password/delete", &[]).await;
    assert_eq!(deleted.status, 303, "{}", deleted.text);
    assert_eq!(app.get("/api/secrets/db_password/exists").await.status, 404);
    app.stop().await;
}

#[tokio::test]
async fn an_environment_variable_shows_its_value_to_its_readers() {
    let app = TestApp::spawn().await;
    let mut ada = person(&app, "ada", &["ADMIN"]).await;
    let added = post(
        &app,
        &mut ada,
        "/environment",
        &[("name", "region"), ("value", "eu-west")],
    )
    .await;
    assert_eq!(added.status, 303, "{}", added.text);
    let page = ada.get(&format!("{}/environment/region", app.base)).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(
        page.text
            .contains("<code id=\"current-value\">eu-west</code>")
    );
    assert!(!page.text.contains("Who read it"));
    app.stop().await;
}

#[tokio::test]
async fn who_reads_no_secret_has_no_secrets_page_and_a_reader_cannot_write() {
    let app = TestApp::spawn().await;
    assert_eq!(
        app.call(
            "PUT",
            "/api/secrets/api_key",
            Some(serde_json::json!("v-123"))
        )
        .await
        .status,
        200
    );
    let mut nell = person(&app, "nell", &[]).await;
    let home = nell.get(&format!("{}/", app.base)).await;
    assert!(!home.text.contains("href=\"/secrets\""));
    let page = nell.get(&format!("{}/secrets", app.base)).await;
    assert_eq!(page.status, 403, "{}", page.text);
    let one = nell.get(&format!("{}/secrets/api_key", app.base)).await;
    assert_eq!(one.status, 403, "{}", one.text);

    // READ on the secret: its page, without its value, and no way to change it.
    let granted = app
        .call(
            "POST",
            "/api/auth/authorization",
            Some(serde_json::json!({
                "subject": {"type": "USER", "id": "nell"},
                "target": {"type": "SECRET_NAME", "id": "api_key"},
                "access": ["READ"]
            })),
        )
        .await;
    assert_eq!(granted.status, 200, "{}", granted.text);
    let one = nell.get(&format!("{}/secrets/api_key", app.base)).await;
    assert_eq!(one.status, 200, "{}", one.text);
    assert!(!one.text.contains("v-123"));
    assert!(
        one.text
            .contains("Only administrators see who read a secret")
    );
    let write = post(
        &app,
        &mut nell,
        "/secrets/api_key/value",
        &[("value", "mine")],
    )
    .await;
    assert_eq!(write.status, 403, "{}", write.text);
    assert_eq!(app.get("/api/secrets/api_key").await.text, "v-123");
    app.stop().await;
}
