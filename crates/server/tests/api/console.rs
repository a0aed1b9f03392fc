//! The web console over HTTP: its door (no session, no page; a token is no way in),
//! the home page as the services show it to the person signed in, escaping, the
//! headers of every page, and the form token sign-out needs.

use serde_json::json;

use crate::browser::{Browser, Page};
use crate::helpers::TestApp;
use crate::sessions::form_token;

/// The password of every person `person` makes.
pub const PASSWORD: &str = "amber violin ledge 3";

/// A person with `roles`, signed in in a browser of their own.
pub async fn person(app: &TestApp, id: &str, roles: &[&str]) -> Browser {
    let created = app
        .call(
            "PUT",
            &format!("/api/users/{id}"),
            Some(json!({"name": format!("Person {id}"), "roles": roles, "password": PASSWORD})),
        )
        .await;
    assert_eq!(created.status, 200, "{}", created.text);
    let mut browser = Browser::new();
    let signed = browser
        .post_form(
            &format!("{}/login", app.base),
            &[("username", id), ("password", PASSWORD)],
            Some(&app.base),
        )
        .await;
    assert_eq!(signed.status, 303, "{}", signed.text);
    browser
}

/// Posts a form of a console page as the page does: with the person's form token
/// and Podium's own `Origin`.
pub async fn post(
    app: &TestApp,
    browser: &mut Browser,
    path: &str,
    fields: &[(&str, &str)],
) -> Page {
    let token = form_token(app, browser).await;
    let mut all = vec![("csrf", token.as_str())];
    all.extend_from_slice(fields);
    browser
        .post_form(&format!("{}{path}", app.base), &all, Some(&app.base))
        .await
}

/// Two runs of a waiting workflow: one running, one terminated with `reason`.
async fn runs(app: &TestApp, reason: &str) {
    app.register(
        json!([]),
        json!({"name": "console_hold", "version": 1, "tasks": [
            {"name": "hold", "taskReferenceName": "hold", "type": "WAIT"}
        ]}),
    )
    .await;
    app.start("console_hold", json!({})).await;
    let ended = app.start("console_hold", json!({})).await;
    let terminated = app
        .call(
            "DELETE",
            &format!(
                "/api/workflow/{ended}?reason={}",
                reason
                    .replace('<', "%3C")
                    .replace('>', "%3E")
                    .replace(' ', "%20")
            ),
            None,
        )
        .await;
    assert_eq!(terminated.status, 200, "{}", terminated.text);
}

#[tokio::test]
async fn without_a_session_a_page_sends_the_browser_to_sign_in() {
    let app = TestApp::spawn().await;
    let mut browser = Browser::new();
    let page = browser.get(&format!("{}/", app.base)).await;
    assert_eq!(page.status, 303);
    assert_eq!(
        page.location.as_deref(),
        Some(&*format!("{}/login", app.base))
    );
    // The admin's token opens the API, not the pages.
    let token = app.token.clone().expect("admin token");
    let with_token = browser
        .send(
            reqwest::Method::GET,
            &format!("{}/", app.base),
            None,
            &[("x-authorization", token)],
        )
        .await;
    assert_eq!(with_token.status, 303);
    // A session from another site's page opens nothing either.
    let mut signed = person(&app, "erin", &["USER"]).await;
    let cross = signed
        .send(
            reqwest::Method::GET,
            &format!("{}/", app.base),
            None,
            &[("sec-fetch-site", "cross-site".to_string())],
        )
        .await;
    assert_eq!(cross.status, 403, "{}", cross.text);
    // A link followed from another site opens the page: a read, never framed.
    let navigation = [
        ("sec-fetch-site", "cross-site".to_string()),
        ("sec-fetch-mode", "navigate".to_string()),
        ("sec-fetch-dest", "document".to_string()),
    ];
    let opened = signed
        .send(
            reqwest::Method::GET,
            &format!("{}/", app.base),
            None,
            &navigation,
        )
        .await;
    assert_eq!(opened.status, 200, "{}", opened.text);
    // Not a post, though: that takes Podium's own page.
    let mut posted = navigation.to_vec();
    posted.push(("content-type", "application/x-www-form-urlencoded".into()));
    let forged = signed
        .send(
            reqwest::Method::POST,
            &format!("{}/", app.base),
            Some(String::new()),
            &posted,
        )
        .await;
    assert!(
        forged.status == 403 || forged.status == 405,
        "{}",
        forged.text
    );
    app.stop().await;
}

#[tokio::test]
async fn the_home_page_counts_only_what_its_person_may_read() {
    let app = TestApp::spawn().await;
    let hostile = "<script>alert(1)</script>";
    runs(&app, hostile).await;

    let mut admin = person(&app, "ada", &["ADMIN"]).await;
    let page = admin.get(&format!("{}/", app.base)).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(page.header("content-type").starts_with("text/html"));
    let csp = page.header("content-security-policy");
    assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"));
    assert!(csp.contains("frame-ancestors 'none'"));
    assert_eq!(page.header("x-content-type-options"), "nosniff");
    assert_eq!(page.header("cache-control"), "no-store");
    assert!(
        page.text
            .contains("<span class=\"count\" id=\"count-running\">1</span>")
    );
    assert!(
        page.text
            .contains("<span class=\"count\" id=\"count-failed\">1</span>")
    );
    assert!(
        page.text
            .contains("Signed in as <strong id=\"who\">Person ada</strong>")
    );
    // What a workflow said is text, never markup.
    assert!(!page.text.contains(hostile), "{}", page.text);
    assert!(
        page.text
            .contains("&#60;script&#62;alert(1)&#60;/script&#62;")
            || page.text.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{}",
        page.text
    );

    // Someone who may read no workflow sees none of them.
    let mut nobody = person(&app, "nell", &[]).await;
    let page = nobody.get(&format!("{}/", app.base)).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(
        page.text
            .contains("<span class=\"count\" id=\"count-running\">0</span>")
    );
    assert!(
        page.text
            .contains("<span class=\"count\" id=\"count-failed\">0</span>")
    );
    assert!(!page.text.contains("console_hold"));
    app.stop().await;
}

#[tokio::test]
async fn sign_out_needs_the_form_token_of_the_session() {
    let app = TestApp::spawn().await;
    let mut carol = person(&app, "carol", &["USER"]).await;
    let mut dave = person(&app, "dave", &["USER"]).await;
    // Another session's token does not sign carol out.
    let foreign = form_token(&app, &mut dave).await;
    let refused = carol
        .post_form(
            &format!("{}/logout", app.base),
            &[("csrf", &foreign)],
            Some(&app.base),
        )
        .await;
    assert_eq!(refused.status, 403, "{}", refused.text);
    assert_eq!(carol.get(&format!("{}/", app.base)).await.status, 200);
    let own = form_token(&app, &mut carol).await;
    let out = carol
        .post_form(
            &format!("{}/logout", app.base),
            &[("csrf", &own)],
            Some(&app.base),
        )
        .await;
    assert_eq!(out.status, 303);
    assert_eq!(carol.get(&format!("{}/", app.base)).await.status, 303);
    app.stop().await;
}

#[tokio::test]
async fn with_security_off_the_pages_open_without_signing_in() {
    let app = TestApp::spawn_with(|config| {
        config.security = podium_server::config::Security::Disabled;
    })
    .await;
    let mut browser = Browser::new();
    let page = browser.get(&format!("{}/", app.base)).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(!page.text.contains("Copy Token"));
    assert!(!page.text.contains("action=\"/logout\""));
    // Nobody signs in, but another site still cannot post the pages' forms.
    let form = [("name", "anything"), ("input", "{}")];
    let forged = browser
        .post_form(
            &format!("{}/executions", app.base),
            &form,
            Some("http://evil.example"),
        )
        .await;
    assert_eq!(forged.status, 403, "{}", forged.text);
    let unnamed = browser
        .post_form(&format!("{}/executions", app.base), &form, None)
        .await;
    assert_eq!(unnamed.status, 403, "{}", unnamed.text);
    let own = browser
        .post_form(&format!("{}/executions", app.base), &form, Some(&app.base))
        .await;
    assert_eq!(
        own.status, 404,
        "refused by the service, not the door: {}",
        own.text
    );
    // A name another site controls, made to resolve here (DNS rebinding), is not
    // this server's own, whatever its Origin says.
    let rebound = browser
        .send(
            reqwest::Method::POST,
            &format!("{}/executions", app.base),
            Some("name=anything&input=%7B%7D".into()),
            &[
                ("host", "evil.example:8080".to_string()),
                ("origin", "http://evil.example:8080".to_string()),
                (
                    "content-type",
                    "application/x-www-form-urlencoded".to_string(),
                ),
            ],
        )
        .await;
    assert_eq!(rebound.status, 403, "{}", rebound.text);
    app.stop().await;
}
