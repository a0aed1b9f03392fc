//! The console's users, groups and "why allowed" pages over HTTP: an administrator
//! creates, changes, disables, resets and deletes users and manages groups; a
//! person who is not one has no such pages and their forged forms change nothing;
//! anyone asks why they may or may not do something.

use crate::browser::Browser;
use crate::console::{person, post};
use crate::helpers::TestApp;

async fn signs_in(app: &TestApp, user: &str, password: &str) -> u16 {
    Browser::new()
        .post_form(
            &format!("{}/login", app.base),
            &[("username", user), ("password", password)],
            Some(&app.base),
        )
        .await
        .status
}

#[tokio::test]
async fn an_administrator_manages_users_and_groups_in_the_pages() {
    let app = TestApp::spawn().await;
    let mut ada = person(&app, "ada", &["ADMIN"]).await;
    let home = ada.get(&format!("{}/", app.base)).await;
    assert!(home.text.contains("href=\"/users\""));

    let made = post(
        &app,
        &mut ada,
        "/users",
        &[
            ("id", "bob"),
            ("name", "Bob <b>Builder</b>"),
            ("password", "brick mortar trowel 12"),
            ("role", "USER"),
            ("role", "OPERATOR"),
        ],
    )
    .await;
    assert_eq!(made.status, 303, "{}", made.text);
    assert_eq!(signs_in(&app, "bob", "brick mortar trowel 12").await, 303);
    let page = ada.get(&format!("{}/users/bob", app.base)).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(!page.text.contains("<b>Builder</b>"));
    assert!(page.text.contains("value=\"OPERATOR\" checked"));
    let again = post(
        &app,
        &mut ada,
        "/users",
        &[("id", "bob"), ("role", "ADMIN")],
    )
    .await;
    assert_eq!(
        again.status, 409,
        "creating never overwrites: {}",
        again.text
    );

    let changed = post(
        &app,
        &mut ada,
        "/users/bob",
        &[("name", "Bob"), ("role", "USER"), ("groups", "")],
    )
    .await;
    assert_eq!(changed.status, 303, "{}", changed.text);
    let roles = app.get("/api/users/bob").await.json()["roles"].to_string();
    assert!(
        roles.contains("\"USER\"") && !roles.contains("OPERATOR"),
        "{roles}"
    );

    let mut bob = Browser::new();
    bob.post_form(
        &format!("{}/login", app.base),
        &[("username", "bob"), ("password", "brick mortar trowel 12")],
        Some(&app.base),
    )
    .await;
    assert_eq!(bob.get(&format!("{}/", app.base)).await.status, 200);
    let off = post(
        &app,
        &mut ada,
        "/users/bob/disabled",
        &[("disabled", "true")],
    )
    .await;
    assert_eq!(off.status, 303, "{}", off.text);
    assert_eq!(
        bob.get(&format!("{}/", app.base)).await.status,
        303,
        "signed out at once"
    );
    let on = post(
        &app,
        &mut ada,
        "/users/bob/disabled",
        &[("disabled", "false")],
    )
    .await;
    assert_eq!(on.status, 303, "{}", on.text);
    let reset = post(
        &app,
        &mut ada,
        "/users/bob/password",
        &[("password", "new quarry stone 34")],
    )
    .await;
    assert_eq!(reset.status, 303, "{}", reset.text);
    assert_eq!(signs_in(&app, "bob", "brick mortar trowel 12").await, 401);
    assert_eq!(signs_in(&app, "bob", "new quarry stone 34").await, 303);

    // A group with a role and a member.
    let group = post(
        &app,
        &mut ada,
        "/groups",
        &[
            ("id", "ops team"),
            ("description", "on call"),
            ("role", "WORKFLOW_MANAGER"),
        ],
    )
    .await;
    assert_eq!(group.status, 303, "{}", group.text);
    assert_eq!(
        group.location.as_deref(),
        Some(&*format!("{}/groups/ops%20team", app.base))
    );
    let saved = post(
        &app,
        &mut ada,
        "/groups/ops%20team",
        &[
            ("description", "on call"),
            ("role", "WORKFLOW_MANAGER"),
            ("wf_access", "READ"),
            ("wf_access", "EXECUTE"),
        ],
    )
    .await;
    assert_eq!(saved.status, 303, "{}", saved.text);
    let defaults = app.get("/api/groups/ops%20team").await.json()["defaultAccess"].clone();
    let workflow = defaults["WORKFLOW_DEF"].to_string();
    assert!(
        workflow.contains("READ") && workflow.contains("EXECUTE"),
        "{defaults}"
    );
    let page = ada.get(&format!("{}/groups/ops%20team", app.base)).await;
    assert!(
        page.text.contains("value=\"EXECUTE\" checked"),
        "{}",
        page.text
    );
    let joined = post(
        &app,
        &mut ada,
        "/groups/ops%20team/members",
        &[("change", "add"), ("user", "bob")],
    )
    .await;
    assert_eq!(joined.status, 303, "{}", joined.text);
    let page = ada.get(&format!("{}/groups/ops%20team", app.base)).await;
    assert!(page.text.contains("href=\"/users/bob\""), "{}", page.text);
    let members = app
        .get("/api/groups/ops%20team/users")
        .await
        .json()
        .to_string();
    assert!(members.contains("bob"));
    let left = post(
        &app,
        &mut ada,
        "/groups/ops%20team/members",
        &[("change", "remove"), ("user", "bob")],
    )
    .await;
    assert_eq!(left.status, 303, "{}", left.text);
    let gone = post(&app, &mut ada, "/groups/ops%20team/delete", &[]).await;
    assert_eq!(gone.status, 303, "{}", gone.text);
    assert_eq!(app.get("/api/groups/ops%20team").await.status, 404);

    // Her own password needs her current one.
    let own = ada.get(&format!("{}/users/ada", app.base)).await;
    assert!(own.text.contains("Current password"));
    let without = post(
        &app,
        &mut ada,
        "/users/ada/password",
        &[("password", "sky harbour lamp 88")],
    )
    .await;
    assert_eq!(without.status, 400, "{}", without.text);
    let with = post(
        &app,
        &mut ada,
        "/users/ada/password",
        &[
            ("old_password", crate::console::PASSWORD),
            ("password", " sky harbour lamp 88 "),
        ],
    )
    .await;
    assert_eq!(with.status, 303, "{}", with.text);
    // Every session of hers ended with the change, this one too.
    assert_eq!(ada.get(&format!("{}/", app.base)).await.status, 303);
    let mut ada = Browser::new();
    let signed = ada
        .post_form(
            &format!("{}/login", app.base),
            &[("username", "ada"), ("password", " sky harbour lamp 88 ")],
            Some(&app.base),
        )
        .await;
    assert_eq!(signed.status, 303, "not trimmed: {}", signed.text);

    let ask = ada.get(&format!("{}/users/bob/delete", app.base)).await;
    assert_eq!(ask.status, 200);
    let deleted = post(&app, &mut ada, "/users/bob/delete", &[]).await;
    assert_eq!(deleted.status, 303, "{}", deleted.text);
    assert_eq!(app.get("/api/users/bob").await.status, 404);
    app.stop().await;
}

#[tokio::test]
async fn who_is_no_administrator_has_no_user_pages_and_asks_only_about_themself() {
    let app = TestApp::spawn().await;
    let mut nell = person(&app, "nell", &["USER"]).await;
    let home = nell.get(&format!("{}/", app.base)).await;
    assert!(!home.text.contains("href=\"/users\""));
    assert!(home.text.contains("href=\"/access/explain\""));
    for path in ["/users", "/groups", "/users/ada"] {
        let page = nell.get(&format!("{}{path}", app.base)).await;
        assert_eq!(page.status, 403, "{path}: {}", page.text);
    }
    let forged = post(
        &app,
        &mut nell,
        "/users",
        &[("id", "mallory"), ("role", "ADMIN")],
    )
    .await;
    assert_eq!(forged.status, 403, "{}", forged.text);
    assert_eq!(app.get("/api/users/mallory").await.status, 404);
    let forged = post(&app, &mut nell, "/users/nell", &[("role", "ADMIN")]).await;
    assert_eq!(forged.status, 403, "{}", forged.text);

    let mine = nell
        .get(&format!(
            "{}/access/explain?access=DELETE&type=WORKFLOW_DEF&id=payments",
            app.base
        ))
        .await;
    assert_eq!(mine.status, 200, "{}", mine.text);
    assert!(mine.text.contains(">Refused</h2>"), "{}", mine.text);
    assert!(mine.text.contains("nell may not delete"), "{}", mine.text);
    let theirs = nell
        .get(&format!(
            "{}/access/explain?subject=ada&access=READ&type=WORKFLOW_DEF&id=payments",
            app.base
        ))
        .await;
    assert_eq!(theirs.status, 403, "{}", theirs.text);

    let mut ada = person(&app, "ada", &["ADMIN"]).await;
    let answer = ada
        .get(&format!(
            "{}/access/explain?subject=nell&access=CREATE&type=WORKFLOW_DEF&id=payments",
            app.base
        ))
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert!(answer.text.contains(">Allowed</h2>"), "{}", answer.text);
    app.stop().await;
}
