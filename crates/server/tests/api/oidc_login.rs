//! Browser sign-in through a real OpenID Connect provider (`oidc-provider`): the
//! authorization code flow with PKCE, `state` and `nonce`, ending in a Podium
//! session; and the callbacks an attacker could send a browser to, refused.

use std::collections::BTreeMap;

use podium_server::identity::settings::OidcSettings;

use crate::browser::{Browser, Page};
use crate::helpers::TestApp;
use crate::oidc_provider::{Provider, free_port};

/// A server on a port chosen first, so the provider can send browsers back to it.
async fn spawn(provider: &Provider) -> TestApp {
    let port = free_port();
    let settings = OidcSettings {
        issuer_url: provider.issuer.clone(),
        audience: "podium-api".into(),
        client_id: Some("podium-web".into()),
        client_secret: Some(podium_server::config::SecretValue::new("web-secret")),
        redirect_root_url: Some(format!("http://127.0.0.1:{port}")),
        scopes: "openid profile groups".into(),
        display_name: Some("Test <IdP>".into()),
        group_mapping: BTreeMap::from([("operate-admins".into(), "admins".into())]),
        ..OidcSettings::default()
    };
    TestApp::spawn_now(move |config| {
        config.listen = format!("127.0.0.1:{port}").parse().expect("addr");
        config.oidc = Some(settings);
    })
    .await
}

/// Sends the browser from Podium to the provider and signs `user` in there, as a
/// person would (the login form, then consent); the address the provider sends
/// the browser back to.
async fn at_the_provider(browser: &mut Browser, app: &TestApp, user: &str) -> String {
    let begin = browser.get(&format!("{}/login/oidc", app.base)).await;
    assert_eq!(begin.status, 303, "{}", begin.text);
    let authorize = begin.location.expect("to the provider");
    for part in [
        "code_challenge_method=S256",
        "code_challenge=",
        "state=",
        "nonce=",
        "client_id=podium-web",
    ] {
        assert!(authorize.contains(part), "{authorize} lacks {part}");
    }
    assert!(browser.cookie(&app.base, "podium_oidc").is_some());
    follow_at_provider(browser, &authorize, user).await
}

/// The provider's pages, from the authorization request to the way back.
async fn follow_at_provider(browser: &mut Browser, authorize: &str, user: &str) -> String {
    let hop = |page: Page| {
        page.location
            .unwrap_or_else(|| panic!("no redirect: {} {}", page.status, page.text))
    };
    let interaction = hop(browser.get(authorize).await);
    let resume = hop(browser
        .post_form(
            &interaction,
            &[("prompt", "login"), ("login", user), ("password", "any")],
            None,
        )
        .await);
    let consent = hop(browser.get(&resume).await);
    let resume = hop(browser
        .post_form(&consent, &[("prompt", "consent")], None)
        .await);
    hop(browser.get(&resume).await)
}

/// How many refused provider sign-ins the audit trail records, once it has
/// recorded at least `least` (it is written in the background).
async fn audited_sign_ins(app: &TestApp, least: i64) -> i64 {
    for _ in 0..100 {
        let trail = app.get("/api/audit?action=sign_in").await;
        let hits = trail.json()["totalHits"].as_i64().expect("totalHits");
        if hits >= least {
            return hits;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("fewer than {least} refused sign-ins recorded");
}

#[tokio::test]
async fn a_person_signs_in_through_the_provider_and_gets_a_session() {
    let Some(provider) = Provider::start().await else {
        return;
    };
    let app = spawn(&provider).await;
    app.put_group("admins", &["ADMIN"]).await;
    let mut browser = Browser::new();
    let login = browser.get(&format!("{}/login", app.base)).await;
    assert!(
        login
            .text
            .contains("href=\"/login/oidc\">Sign in with Test &lt;IdP&gt;</a>"),
        "{}",
        login.text
    );

    let back = at_the_provider(&mut browser, &app, "alice").await;
    assert!(
        back.starts_with(&format!("{}/login/oidc/callback?", app.base)),
        "{back}"
    );
    let done = browser.get(&back).await;
    assert_eq!(done.status, 303, "{}", done.text);
    assert_eq!(done.location.as_deref(), Some(&*format!("{}/", app.base)));
    assert!(browser.cookie(&app.base, "podium_session").is_some());
    assert!(
        browser.cookie(&app.base, "podium_oidc").is_none(),
        "the pending sign-in is cleared"
    );

    let home = browser.get(&format!("{}/", app.base)).await;
    assert_eq!(home.status, 200);
    assert!(home.text.contains("Alice Admin"), "{}", home.text);
    let me = browser
        .get(&format!("{}/api/token/userInfo", app.base))
        .await;
    assert_eq!(me.status, 200, "{}", me.text);
    assert_eq!(me.json()["id"], "alice");
    // Her provider group maps to Podium's admins group.
    let users = browser.get(&format!("{}/api/users", app.base)).await;
    assert_eq!(users.status, 200, "{}", users.text);
    let record = app.get("/api/users/alice").await.json();
    assert_eq!(record["identitySource"], "OIDC", "{record}");
    assert_eq!(record["groups"][0]["id"], "admins", "{record}");
    // Copy Token works for her as for anyone with a session.
    let copied = browser.get(&format!("{}/api/token/user", app.base)).await;
    assert_eq!(copied.status, 200, "{}", copied.text);

    // The way back cannot be replayed: the pending sign-in is gone.
    let mut replay = Browser::new();
    let again = replay.get(&back).await;
    assert_eq!(again.status, 401, "{}", again.text);
    assert!(replay.cookie(&app.base, "podium_session").is_none());
    let trail = app.get("/api/audit?action=session.start").await;
    assert!(trail.text.contains("user:alice (oidc)"), "{}", trail.text);
    app.stop().await;
}

#[tokio::test]
async fn callbacks_an_attacker_could_send_a_browser_to_are_refused() {
    let Some(provider) = Provider::start().await else {
        return;
    };
    let app = spawn(&provider).await;
    let callback = format!("{}/login/oidc/callback", app.base);

    // The attacker signs in at the provider as themselves and sends their code to
    // a victim's browser, which started no sign-in: refused (no login CSRF).
    let mut attacker = Browser::new();
    let attackers_way_back = at_the_provider(&mut attacker, &app, "bob").await;
    let mut victim = Browser::new();
    let planted = victim.get(&attackers_way_back).await;
    assert_eq!(planted.status, 401, "{}", planted.text);
    assert!(
        planted.text.contains("not started here"),
        "{}",
        planted.text
    );
    assert!(victim.cookie(&app.base, "podium_session").is_none());

    // The victim started a sign-in of their own: the attacker's code and state
    // still do not match it.
    let begun = victim.get(&format!("{}/login/oidc", app.base)).await;
    assert_eq!(begun.status, 303);
    let mismatched = victim.get(&attackers_way_back).await;
    assert_eq!(mismatched.status, 401, "{}", mismatched.text);
    assert!(
        mismatched.text.contains("state does not match"),
        "{}",
        mismatched.text
    );

    // A provider's refusal, junk, repeated and oversized parameters: clear pages.
    for query in [
        "error=access_denied&error_description=%3Cscript%3E",
        "",
        "code=a&code=b&state=c",
        &format!("code={}&state=x", "c".repeat(5000)),
    ] {
        victim.get(&format!("{}/login/oidc", app.base)).await;
        let page = victim.get(&format!("{callback}?{query}")).await;
        assert_eq!(page.status, 401, "{query}: {}", page.text);
        assert!(!page.text.contains("<script>"), "{}", page.text);
    }
    // Only the error codes of the standards are repeated on the page.
    victim.get(&format!("{}/login/oidc", app.base)).await;
    let made_up = victim.get(&format!("{callback}?error=Call+0800+now")).await;
    assert!(made_up.text.contains("an unknown error") && !made_up.text.contains("0800"));
    victim.get(&format!("{}/login/oidc", app.base)).await;
    let denied = victim.get(&format!("{callback}?error=access_denied")).await;
    assert!(denied.text.contains("(access_denied)"), "{}", denied.text);
    // A forged pending cookie does not open.
    let mut forger = Browser::new();
    forger.plant(&app.base, "podium_oidc", "eyJzdGF0ZSI6InMifQ.00");
    let forged = forger.get(&format!("{callback}?code=x&state=s")).await;
    assert_eq!(forged.status, 401);
    assert!(forger.cookie(&app.base, "podium_session").is_none());

    // The trail records the sign-ins this server started and the provider or the
    // answer refused (the mismatched state, the provider's three errors, the
    // missing and the oversized code), not answers nobody here asked for (the
    // planted code, the forged cookie, the repeated parameter), so a flood of
    // those cannot fill it.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(audited_sign_ins(&app, 6).await, 6);
    app.stop().await;
}
