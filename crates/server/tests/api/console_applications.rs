//! The console's applications pages over HTTP, as a browser posts their forms:
//! create, rename, roles, keys whose secret is shown once, pause and resume with
//! the key's tokens refused meanwhile, permissions, deletion after asking; and
//! what a person with fewer roles, or a forged form, gets.

use serde_json::json;

use crate::browser::Browser;
use crate::console::{person, post};
use crate::helpers::TestApp;
use crate::sessions::form_token;

/// The text between `before` and the next `after` in `text`.
fn between<'a>(text: &'a str, before: &str, after: &str) -> &'a str {
    let start = text
        .find(before)
        .unwrap_or_else(|| panic!("{before} in {text}"))
        + before.len();
    let end = start + text[start..].find(after).expect("end");
    &text[start..end]
}

/// Creates an application through the page; answers its id.
async fn create(app: &TestApp, browser: &mut Browser, name: &str) -> String {
    let created = post(app, browser, "/applications", &[("name", name)]).await;
    assert_eq!(created.status, 303, "{}", created.text);
    let location = created.location.expect("location");
    location.rsplit('/').next().expect("id").to_string()
}

#[tokio::test]
async fn an_administrator_manages_an_application_and_its_keys_in_the_pages() {
    let app = TestApp::spawn().await;
    let mut ada = person(&app, "ada", &["ADMIN"]).await;
    let home = ada.get(&format!("{}/", app.base)).await;
    assert!(
        home.text
            .contains("<a href=\"/applications\">Applications</a>")
    );

    let id = create(&app, &mut ada, "billing <img src=x onerror=alert(1)>").await;
    let page = ada.get(&format!("{}/applications/{id}", app.base)).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(!page.text.contains("<img src=x"), "names are text");
    let renamed = post(
        &app,
        &mut ada,
        &format!("/applications/{id}/name"),
        &[("name", "billing")],
    )
    .await;
    assert_eq!(renamed.status, 303, "{}", renamed.text);
    assert_eq!(
        app.get(&format!("/api/applications/{id}")).await.json()["name"],
        "billing"
    );

    // A role given on the page is the application's at once.
    let given = post(
        &app,
        &mut ada,
        &format!("/applications/{id}/roles"),
        &[("role", "WORKER"), ("change", "add")],
    )
    .await;
    assert_eq!(given.status, 303, "{}", given.text);
    let roles = app.get(&format!("/api/users/app:{id}")).await.json()["roles"].clone();
    assert!(roles.to_string().contains("WORKER"), "{roles}");

    // A key's secret is on the answer to its creation, and nowhere after.
    let made = post(&app, &mut ada, &format!("/applications/{id}/keys"), &[]).await;
    assert_eq!(made.status, 200, "{}", made.text);
    assert!(made.text.contains("will not be shown again"));
    assert_eq!(made.header("cache-control"), "no-store");
    let key = between(&made.text, "<code id=\"key-id\">", "</code>").to_string();
    let secret = between(&made.text, "id=\"key-secret\" readonly value=\"", "\"").to_string();
    let token = app.mint(&key, &secret, None).await;
    let me = |token: String| {
        let app = &app;
        async move {
            app.call_as(Some(&token), "GET", "/api/token/userInfo", None)
                .await
                .status
        }
    };
    assert_eq!(me(token.clone()).await, 200);
    let page = ada.get(&format!("{}/applications/{id}", app.base)).await;
    assert!(page.text.contains(&key) && !page.text.contains(&secret));
    assert!(page.text.contains("Active"));

    // Paused, its tokens are refused at once; the same form sent twice keeps it
    // paused; resumed, they work again.
    let status = format!("/applications/{id}/keys/{key}/status");
    for _ in 0..2 {
        let paused = post(&app, &mut ada, &status, &[("status", "INACTIVE")]).await;
        assert_eq!(paused.status, 303, "{}", paused.text);
        assert_eq!(me(token.clone()).await, 401);
    }
    assert!(
        ada.get(&format!("{}/applications/{id}", app.base))
            .await
            .text
            .contains("Paused")
    );
    let resumed = post(&app, &mut ada, &status, &[("status", "ACTIVE")]).await;
    assert_eq!(resumed.status, 303, "{}", resumed.text);
    assert_eq!(me(token.clone()).await, 200);

    // Permissions: added with the accesses ticked, removed by row.
    let added = post(
        &app,
        &mut ada,
        &format!("/applications/{id}/permissions"),
        &[
            ("type", "WORKFLOW_DEF"),
            ("name", "payments"),
            ("access", "READ"),
            ("access", "EXECUTE"),
        ],
    )
    .await;
    assert_eq!(added.status, 303, "{}", added.text);
    let holders = app
        .get("/api/auth/authorization/WORKFLOW_DEF/payments")
        .await
        .json();
    assert!(
        holders["EXECUTE"]
            .to_string()
            .contains(&format!("app:{id}")),
        "{holders}"
    );
    let page = ada.get(&format!("{}/applications/{id}", app.base)).await;
    assert!(page.text.contains("<td>payments</td>"));
    assert!(
        page.text
            .contains("id=\"p-1-READ\" name=\"access\" value=\"READ\" checked")
    );
    assert!(
        page.text
            .contains("id=\"p-1-EXECUTE\" name=\"access\" value=\"EXECUTE\" checked")
    );
    assert!(
        !page
            .text
            .contains("id=\"p-1-DELETE\" name=\"access\" value=\"DELETE\" checked")
    );
    // Changed in its row: exactly the accesses ticked.
    let changed = post(
        &app,
        &mut ada,
        &format!("/applications/{id}/permissions/set"),
        &[
            ("type", "WORKFLOW_DEF"),
            ("name", "payments"),
            ("access", "READ"),
            ("access", "DELETE"),
        ],
    )
    .await;
    assert_eq!(changed.status, 303, "{}", changed.text);
    let holders = app
        .get("/api/auth/authorization/WORKFLOW_DEF/payments")
        .await
        .json();
    let holds = |access: &str| holders[access].to_string().contains(&format!("app:{id}"));
    assert!(
        holds("READ") && holds("DELETE") && !holds("EXECUTE"),
        "{holders}"
    );
    // A row saved with an access that does not apply changes nothing at all.
    let wrong = post(
        &app,
        &mut ada,
        &format!("/applications/{id}/permissions"),
        &[("type", "TASK_DEF"), ("name", "charge"), ("access", "READ")],
    )
    .await;
    assert_eq!(wrong.status, 303, "{}", wrong.text);
    let refused = post(
        &app,
        &mut ada,
        &format!("/applications/{id}/permissions/set"),
        &[
            ("type", "TASK_DEF"),
            ("name", "charge"),
            ("access", "UPDATE_PROCESS_INSTANCE"),
        ],
    )
    .await;
    assert_eq!(refused.status, 400, "{}", refused.text);
    let task_holders = app
        .get("/api/auth/authorization/TASK_DEF/charge")
        .await
        .json();
    assert!(
        task_holders["READ"]
            .to_string()
            .contains(&format!("app:{id}")),
        "{task_holders}"
    );
    let removed = post(
        &app,
        &mut ada,
        &format!("/applications/{id}/permissions/remove"),
        &[("type", "WORKFLOW_DEF"), ("name", "payments")],
    )
    .await;
    assert_eq!(removed.status, 303, "{}", removed.text);
    let holders = app
        .get("/api/auth/authorization/WORKFLOW_DEF/payments")
        .await
        .json();
    assert!(
        !holders.to_string().contains(&format!("app:{id}")),
        "{holders}"
    );

    // Deleting asks first; then the key's tokens stop.
    let ask = ada
        .get(&format!("{}/applications/{id}/keys/{key}/delete", app.base))
        .await;
    assert_eq!(ask.status, 200);
    assert!(ask.text.contains("cannot be undone"));
    assert_eq!(me(token.clone()).await, 200, "asking deletes nothing");
    let deleted = post(
        &app,
        &mut ada,
        &format!("/applications/{id}/keys/{key}/delete"),
        &[],
    )
    .await;
    assert_eq!(deleted.status, 303, "{}", deleted.text);
    assert_eq!(me(token).await, 401);
    let gone = post(&app, &mut ada, &format!("/applications/{id}/delete"), &[]).await;
    assert_eq!(gone.status, 303, "{}", gone.text);
    assert_eq!(
        app.get(&format!("/api/applications/{id}")).await.status,
        404
    );
    app.stop().await;
}

#[tokio::test]
async fn a_person_without_applications_has_no_page_and_a_creator_gives_only_what_it_may() {
    let app = TestApp::spawn().await;
    let admin_made = app
        .post("/api/applications", json!({"name": "theirs"}))
        .await;
    let theirs = admin_made.json()["id"].as_str().expect("id").to_string();

    let mut nell = person(&app, "nell", &[]).await;
    let home = nell.get(&format!("{}/", app.base)).await;
    assert!(
        !home.text.contains("href=\"/applications\""),
        "not in the menu"
    );
    let page = nell.get(&format!("{}/applications", app.base)).await;
    assert_eq!(page.status, 403, "{}", page.text);
    assert!(page.text.contains("neither create one nor read any"));
    let refused = post(&app, &mut nell, "/applications", &[("name", "mine")]).await;
    assert_eq!(refused.status, 403, "{}", refused.text);
    let other = nell
        .get(&format!("{}/applications/{theirs}", app.base))
        .await;
    assert_eq!(other.status, 403, "{}", other.text);

    let mut cleo = person(&app, "cleo", &["USER"]).await;
    let list = cleo.get(&format!("{}/applications", app.base)).await;
    assert_eq!(list.status, 200, "{}", list.text);
    assert!(!list.text.contains(&theirs), "only what she may read");
    let id = create(&app, &mut cleo, "cleo's").await;
    let worker = post(
        &app,
        &mut cleo,
        &format!("/applications/{id}/roles"),
        &[("role", "WORKER"), ("change", "add")],
    )
    .await;
    // A creator who is not an administrator gives only roles it holds itself.
    assert_eq!(worker.status, 403, "{}", worker.text);
    assert!(
        worker.text.contains("you do not hold it yourself"),
        "{}",
        worker.text
    );
    let admin = post(
        &app,
        &mut cleo,
        &format!("/applications/{id}/roles"),
        &[("role", "ADMIN"), ("change", "add")],
    )
    .await;
    assert_eq!(admin.status, 403, "{}", admin.text);
    let roles = app.get(&format!("/api/users/app:{id}")).await.json()["roles"].to_string();
    assert!(
        !roles.contains("WORKER") && !roles.contains("ADMIN"),
        "{roles}"
    );
    // Who may only read an application (USER_READ_ONLY reads them all) does not
    // see whose roles, keys and grants it holds.
    let mut rhea = person(&app, "rhea", &["USER_READ_ONLY"]).await;
    let read_only = rhea
        .get(&format!("{}/applications/{theirs}", app.base))
        .await;
    assert_eq!(read_only.status, 200, "{}", read_only.text);
    assert!(read_only.text.contains("shown to who may manage it"));
    assert!(!read_only.text.contains("Access keys") && !read_only.text.contains("Give the role"));
    // Nor does any key route answer them, a status that would not change included.
    let key = app
        .post(&format!("/api/applications/{theirs}/accessKeys"), json!({}))
        .await
        .json()["id"]
        .as_str()
        .expect("key id")
        .to_string();
    let same = post(
        &app,
        &mut rhea,
        &format!("/applications/{theirs}/keys/{key}/status"),
        &[("status", "ACTIVE")],
    )
    .await;
    assert_eq!(same.status, 403, "{}", same.text);
    let ask = rhea
        .get(&format!(
            "{}/applications/{theirs}/keys/{key}/delete",
            app.base
        ))
        .await;
    assert_eq!(ask.status, 403, "{}", ask.text);
    // Its own application's page is hers, keys and all.
    let made = post(&app, &mut cleo, &format!("/applications/{id}/keys"), &[]).await;
    assert_eq!(made.status, 200, "{}", made.text);
    app.stop().await;
}

#[tokio::test]
async fn a_form_without_the_sessions_token_changes_nothing() {
    let app = TestApp::spawn().await;
    let mut ada = person(&app, "ada", &["ADMIN"]).await;
    let id = create(&app, &mut ada, "steady").await;
    let mut eve = person(&app, "eve", &["ADMIN"]).await;
    let foreign = form_token(&app, &mut eve).await;
    for token in ["", "bm90IGEgdG9rZW4", foreign.as_str()] {
        let forged = ada
            .post_form(
                &format!("{}/applications/{id}/name", app.base),
                &[("csrf", token), ("name", "taken over")],
                Some(&app.base),
            )
            .await;
        assert_eq!(forged.status, 403, "{}", forged.text);
        assert!(forged.text.contains("nothing was changed"));
    }
    // Nor does one from another site, token or not.
    let own = form_token(&app, &mut ada).await;
    let cross = ada
        .post_form(
            &format!("{}/applications/{id}/name", app.base),
            &[("csrf", &own), ("name", "taken over")],
            Some("http://evil.example"),
        )
        .await;
    assert_eq!(cross.status, 403, "{}", cross.text);
    assert_eq!(
        app.get(&format!("/api/applications/{id}")).await.json()["name"],
        "steady"
    );
    app.stop().await;
}
