//! Browser sign-in and sessions: the login page, a session cookie that every API
//! route accepts as it accepts a token, CSRF, session fixation, sign-out, timeouts,
//! account changes, restarts, and Copy Token.

use serde_json::json;

use crate::browser::{Browser, Page};
use crate::helpers::TestApp;

const PASSWORD: &str = "plum kettle harbour 9";

async fn make_user(app: &TestApp, id: &str, roles: &[&str]) {
    let created = app
        .call(
            "PUT",
            &format!("/api/users/{id}"),
            Some(json!({"name": format!("User {id}"), "roles": roles, "password": PASSWORD})),
        )
        .await;
    assert_eq!(created.status, 200, "{}", created.text);
}

/// Signs `user` in at the login page, as Podium's own page posts it.
async fn sign_in(app: &TestApp, browser: &mut Browser, user: &str, password: &str) -> Page {
    browser
        .post_form(
            &format!("{}/login", app.base),
            &[("username", user), ("password", password)],
            Some(&app.base),
        )
        .await
}

/// The form token of the console page at `/`, as its forms carry it.
pub async fn form_token(app: &TestApp, browser: &mut Browser) -> String {
    let page = browser.get(&format!("{}/", app.base)).await;
    assert_eq!(page.status, 200, "{}", page.text);
    let marker = "name=\"csrf\" value=\"";
    let start = page.text.find(marker).expect("a form token") + marker.len();
    let end = start + page.text[start..].find('"').expect("its end");
    page.text[start..end].to_string()
}

/// Signs out with the sign-out button of a console page.
async fn sign_out(app: &TestApp, browser: &mut Browser) -> Page {
    let token = form_token(app, browser).await;
    browser
        .post_form(
            &format!("{}/logout", app.base),
            &[("csrf", &token)],
            Some(&app.base),
        )
        .await
}

async fn session_of(app: &TestApp, browser: &mut Browser, user: &str) -> String {
    let page = sign_in(app, browser, user, PASSWORD).await;
    assert_eq!(page.status, 303, "{}", page.text);
    assert_eq!(page.location.as_deref(), Some(&*format!("{}/", app.base)));
    browser
        .cookie(&app.base, "podium_session")
        .expect("a session cookie")
}

/// `path` with the browser's cookies, as Podium's own page (`origin` true) or
/// with no Origin at all.
async fn api(
    app: &TestApp,
    browser: &mut Browser,
    method: &str,
    path: &str,
    body: Option<serde_json::Value>,
    origin: Option<&str>,
) -> Page {
    let mut headers = vec![("content-type", "application/json".to_string())];
    if let Some(origin) = origin {
        headers.push(("origin", origin.to_string()));
    }
    browser
        .send(
            reqwest::Method::from_bytes(method.as_bytes()).expect("method"),
            &format!("{}{path}", app.base),
            body.map(|b| b.to_string()),
            &headers,
        )
        .await
}

#[tokio::test]
async fn a_password_sign_in_starts_a_session_every_route_accepts() {
    let app = TestApp::spawn().await;
    make_user(&app, "carol", &["METADATA_MANAGER"]).await;
    let mut browser = Browser::new();

    let login = browser.get(&format!("{}/login", app.base)).await;
    assert_eq!(login.status, 200);
    assert!(
        login
            .text
            .contains("<form method=\"post\" action=\"/login\">")
    );
    assert!(login.text.contains("<label for=\"password\">"));
    assert!(
        !login.text.contains("Sign in with"),
        "no provider is configured"
    );
    let csp = login.header("content-security-policy");
    assert!(
        csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert_eq!(login.header("x-content-type-options"), "nosniff");
    // Not signed in: the home page sends the browser to the login page.
    let home = browser.get(&format!("{}/", app.base)).await;
    assert_eq!(home.status, 303);
    assert_eq!(
        home.location.as_deref(),
        Some(&*format!("{}/login", app.base))
    );

    // Wrong and unknown credentials get the same page; neither starts a session.
    let wrong = sign_in(&app, &mut browser, "carol", "not the password at all").await;
    let unknown = sign_in(&app, &mut browser, "nobody", "not the password at all").await;
    assert_eq!((wrong.status, unknown.status), (401, 401));
    assert!(wrong.text.contains("Invalid user name or password."));
    assert_eq!(
        wrong.text.replace("carol", "X"),
        unknown.text.replace("nobody", "X")
    );
    assert!(browser.cookie(&app.base, "podium_session").is_none());
    // A sign-in posted by another site (or with no Origin) is refused: nobody can
    // sign a browser in to an account of their choosing.
    for origin in [Some("http://evil.example"), None] {
        let forged = browser
            .post_form(
                &format!("{}/login", app.base),
                &[("username", "carol"), ("password", PASSWORD)],
                origin,
            )
            .await;
        assert_eq!(forged.status, 403, "{origin:?}: {}", forged.text);
    }

    let page = sign_in(&app, &mut browser, "carol", PASSWORD).await;
    assert_eq!(page.status, 303, "{}", page.text);
    let set = page
        .set_cookies
        .iter()
        .find(|c| c.starts_with("podium_session="))
        .expect("the session cookie");
    for part in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(set.contains(part), "{set}");
    }
    assert!(!set.contains("Secure"), "plain HTTP: {set}");
    let cookie = browser.cookie(&app.base, "podium_session").expect("cookie");
    // Only a hash of it is stored.
    assert!(
        !app.stored_bytes()
            .await
            .windows(cookie.len())
            .any(|w| w == cookie.as_bytes())
    );

    let home = browser.get(&format!("{}/", app.base)).await;
    assert_eq!(home.status, 200);
    assert!(home.text.contains("User carol") && home.text.contains("Copy Token"));
    let me = api(&app, &mut browser, "GET", "/api/token/userInfo", None, None).await;
    assert_eq!(me.status, 200, "{}", me.text);
    assert_eq!(me.json()["id"], "carol");
    assert_eq!(me.header("x-content-type-options"), "nosniff");
    // Another site (or a sibling subdomain) cannot use the session, not even for a
    // GET: a poll would take tasks off a queue.
    for site in ["cross-site", "same-site"] {
        for path in [
            "/api/token/userInfo",
            "/api/tasks/poll/batch/anything?count=5",
        ] {
            let from_elsewhere = browser
                .send(
                    reqwest::Method::GET,
                    &format!("{}{path}", app.base),
                    None,
                    &[("sec-fetch-site", site.to_string())],
                )
                .await;
            assert_eq!(
                from_elsewhere.status, 403,
                "{site} {path}: {}",
                from_elsewhere.text
            );
        }
    }
    let own_page = browser
        .send(
            reqwest::Method::GET,
            &format!("{}/api/token/userInfo", app.base),
            None,
            &[("sec-fetch-site", "same-origin".to_string())],
        )
        .await;
    assert_eq!(own_page.status, 200);

    // A change needs Podium's own Origin (or Referer); reads do not.
    let def = json!([{"name": "session_task", "ownerEmail": "c@example.org"}]);
    for origin in [None, Some("http://evil.example"), Some("null")] {
        let forged = api(
            &app,
            &mut browser,
            "POST",
            "/api/metadata/taskdefs",
            Some(def.clone()),
            origin,
        )
        .await;
        assert_eq!(forged.status, 403, "{origin:?}: {}", forged.text);
        assert!(
            forged.text.contains("Podium's own pages"),
            "{}",
            forged.text
        );
    }
    let own = api(
        &app,
        &mut browser,
        "POST",
        "/api/metadata/taskdefs",
        Some(def),
        Some(&app.base),
    )
    .await;
    assert_eq!(own.status, 200, "{}", own.text);
    assert_eq!(
        app.get("/api/metadata/taskdefs/session_task").await.status,
        200
    );
    // Orkes pauses and resumes schedules on GET: with a session, that is a change
    // too (a link followed must not take a schedule over).
    for path in [
        "/api/scheduler/schedules/any/pause",
        "/api/scheduler/schedules/any/resume",
    ] {
        let followed = api(&app, &mut browser, "GET", path, None, None).await;
        assert_eq!(followed.status, 403, "{path}: {}", followed.text);
        assert!(
            followed.text.contains("Podium's own pages"),
            "{}",
            followed.text
        );
    }
    // A token in the request wins over the cookie (and needs no Origin).
    let admin_token = app.token.clone().expect("admin token");
    let as_admin = api(&app, &mut browser, "GET", "/api/users", None, None).await;
    assert_eq!(as_admin.status, 403, "carol is no ADMIN");
    let with_token = browser
        .send(
            reqwest::Method::GET,
            &format!("{}/api/users", app.base),
            None,
            &[("x-authorization", admin_token)],
        )
        .await;
    assert_eq!(with_token.status, 200);

    // Sign-out ends the session at once.
    let forged_out = browser
        .post_form(
            &format!("{}/logout", app.base),
            &[],
            Some("http://evil.example"),
        )
        .await;
    assert_eq!(forged_out.status, 403);
    assert_eq!(
        api(&app, &mut browser, "GET", "/api/token/userInfo", None, None)
            .await
            .status,
        200
    );
    // From Podium's own origin but without the page's form token: refused too.
    let tokenless = browser
        .post_form(&format!("{}/logout", app.base), &[], Some(&app.base))
        .await;
    assert_eq!(tokenless.status, 403, "{}", tokenless.text);
    let out = sign_out(&app, &mut browser).await;
    assert_eq!(out.status, 303);
    assert!(
        out.set_cookies
            .iter()
            .any(|c| c.starts_with("podium_session=;") && c.contains("Max-Age=0"))
    );
    let mut replay = Browser::new();
    replay.plant(&app.base, "podium_session", &cookie);
    let after = api(&app, &mut replay, "GET", "/api/token/userInfo", None, None).await;
    assert_eq!(after.status, 401, "{}", after.text);
    assert_eq!(after.json()["error"], "SESSION_ENDED");

    // The trail is written in the background.
    let starts = crate::audit::entries(&app, "action=session.start", 1).await;
    assert_eq!(starts.len(), 1, "{starts:?}");
    let ends = crate::audit::entries(&app, "action=session.end", 1).await;
    assert_eq!(ends.len(), 1, "{ends:?}");
    let text = format!("{starts:?}{ends:?}");
    assert!(!text.contains(&cookie), "{text}");
    app.stop().await;
}

#[tokio::test]
async fn a_planted_session_id_never_becomes_a_signed_in_session() {
    let app = TestApp::spawn().await;
    make_user(&app, "dora", &[]).await;
    let planted = "ab".repeat(32);
    let mut browser = Browser::new();
    browser.plant(&app.base, "podium_session", &planted);
    let before = api(&app, &mut browser, "GET", "/api/token/userInfo", None, None).await;
    assert_eq!(before.status, 401);
    let cookie = session_of(&app, &mut browser, "dora").await;
    assert_ne!(cookie, planted, "every sign-in gets a new id");
    let mut attacker = Browser::new();
    attacker.plant(&app.base, "podium_session", &planted);
    let hijack = api(
        &app,
        &mut attacker,
        "GET",
        "/api/token/userInfo",
        None,
        None,
    )
    .await;
    assert_eq!(hijack.status, 401, "{}", hijack.text);
    // Two session cookies (one planted for a parent domain): neither is trusted.
    let mut doubled = Browser::new();
    let twice = doubled
        .send(
            reqwest::Method::GET,
            &format!("{}/api/token/userInfo", app.base),
            None,
            &[(
                "cookie",
                format!("podium_session={cookie}; podium_session={planted}"),
            )],
        )
        .await;
    assert_eq!(twice.status, 401, "{}", twice.text);
    // Junk and oversized cookies are refused without harm.
    for junk in ["x", &"z".repeat(64), &"a".repeat(10_000)] {
        let mut other = Browser::new();
        other.plant(&app.base, "podium_session", junk);
        assert_eq!(
            api(&app, &mut other, "GET", "/api/token/userInfo", None, None)
                .await
                .status,
            401
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn sessions_end_when_idle_at_their_limit_and_when_the_account_changes() {
    let app = TestApp::spawn_with(|c| {
        c.session_idle_seconds = 60;
        c.session_max_seconds = 150;
    })
    .await;
    make_user(&app, "erin", &[]).await;
    let mut browser = Browser::new();

    // Used every 50 s, it lives until its absolute end.
    session_of(&app, &mut browser, "erin").await;
    for _ in 0..2 {
        app.advance(50_000);
        let me = api(&app, &mut browser, "GET", "/api/token/userInfo", None, None).await;
        assert_eq!(me.status, 200, "{}", me.text);
        // The last use is written in the background.
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    app.advance(51_000);
    let ended = api(&app, &mut browser, "GET", "/api/token/userInfo", None, None).await;
    assert_eq!(ended.status, 401, "past 150 s: {}", ended.text);

    // Unused for a minute, it ends.
    session_of(&app, &mut browser, "erin").await;
    app.advance(61_000);
    assert_eq!(
        api(&app, &mut browser, "GET", "/api/token/userInfo", None, None)
            .await
            .status,
        401
    );

    // A password reset, disabling and deleting the user each end it at once.
    let reset = json!({"newPassword": "another long passphrase 7"});
    session_of(&app, &mut browser, "erin").await;
    assert_eq!(
        app.post("/api/users/erin/password", reset).await.status,
        204
    );
    assert_eq!(
        api(&app, &mut browser, "GET", "/api/token/userInfo", None, None)
            .await
            .status,
        401
    );
    let back = json!({"newPassword": PASSWORD});
    assert_eq!(app.post("/api/users/erin/password", back).await.status, 204);

    session_of(&app, &mut browser, "erin").await;
    let disabled = app
        .call("PUT", "/api/users/erin", Some(json!({"disabled": true})))
        .await;
    assert_eq!(disabled.status, 200, "{}", disabled.text);
    assert_eq!(
        api(&app, &mut browser, "GET", "/api/token/userInfo", None, None)
            .await
            .status,
        401
    );
    app.call("PUT", "/api/users/erin", Some(json!({"disabled": false})))
        .await;

    session_of(&app, &mut browser, "erin").await;
    let deleted = app.call("DELETE", "/api/users/erin", None).await;
    assert!((200..300).contains(&deleted.status), "{}", deleted.text);
    make_user(&app, "erin", &[]).await;
    assert_eq!(
        api(&app, &mut browser, "GET", "/api/token/userInfo", None, None)
            .await
            .status,
        401,
        "a new user of the same name does not inherit the session"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_session_survives_a_restart() {
    let app = TestApp::spawn().await;
    make_user(&app, "fred", &[]).await;
    let mut browser = Browser::new();
    session_of(&app, &mut browser, "fred").await;
    let app = app.restart().await;
    // The restarted server listens elsewhere: carry the cookie over.
    let cookie = browser.cookie_anywhere("podium_session").expect("cookie");
    let mut again = Browser::new();
    again.plant(&app.base, "podium_session", &cookie);
    let me = api(&app, &mut again, "GET", "/api/token/userInfo", None, None).await;
    assert_eq!(me.status, 200, "{}", me.text);
    assert_eq!(me.json()["id"], "fred");
    app.stop().await;
}

#[tokio::test]
async fn copy_token_gives_a_token_that_ends_with_the_session() {
    let app = TestApp::spawn_with(|c| c.session_max_seconds = 1800).await;
    make_user(&app, "gina", &["USER_READ_ONLY"]).await;
    let mut browser = Browser::new();
    session_of(&app, &mut browser, "gina").await;
    let now = app.clock_now_seconds();

    let copied = api(&app, &mut browser, "GET", "/api/token/user", None, None).await;
    assert_eq!(copied.status, 200, "{}", copied.text);
    assert_eq!(copied.header("cache-control"), "no-store");
    let body = copied.json();
    assert_eq!(body["userId"], "gina");
    let token = body["token"].as_str().expect("token").to_string();
    // The session ends before the default token lifetime (an hour): so does the token.
    let expires = body["expiresAt"].as_i64().expect("expiresAt");
    assert_eq!(expires, (now + 1800) * 1000);
    let me = app
        .call_as(Some(&token), "GET", "/api/token/userInfo", None)
        .await;
    assert_eq!(me.status, 200, "{}", me.text);
    assert_eq!(me.json()["id"], "gina");
    // Exactly her access: a read-only user cannot change definitions with it.
    let change = app
        .call_as(
            Some(&token),
            "POST",
            "/api/metadata/taskdefs",
            Some(json!([{"name": "t"}])),
        )
        .await;
    assert_eq!(change.status, 403);

    // Only with a session, and only to Podium's own pages.
    let with_a_token = app.call("GET", "/api/token/user", None).await;
    assert_eq!(with_a_token.status, 400, "{}", with_a_token.text);
    let cross = browser
        .send(
            reqwest::Method::GET,
            &format!("{}/api/token/user", app.base),
            None,
            &[("sec-fetch-site", "cross-site".to_string())],
        )
        .await;
    assert_eq!(cross.status, 403);

    // Signing out ends the copied token too.
    assert_eq!(sign_out(&app, &mut browser).await.status, 303);
    let after = app
        .call_as(Some(&token), "GET", "/api/token/userInfo", None)
        .await;
    assert_eq!(after.status, 401, "{}", after.text);
    assert_eq!(after.json()["error"], "INVALID_TOKEN");
    app.stop().await;
}

#[tokio::test]
async fn every_route_treats_a_session_as_it_treats_a_token() {
    let app = TestApp::spawn().await;
    let fixture = crate::route_walk::aim(&app).await;
    make_user(&app, "walker", &[]).await;
    let mut browser = Browser::new();
    let cookie = session_of(&app, &mut browser, "walker").await;
    crate::route_walk::walk_as(&app, &crate::route_walk::Caller::Session(cookie), &fixture).await;
    app.stop().await;
}
