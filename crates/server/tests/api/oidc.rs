//! API calls carrying access tokens of a real OpenID Connect provider
//! (`oidc-provider`): a machine's client credentials token acts as the Podium
//! application of its client id, a person's token as their user with the groups the
//! provider names; and every token the provider did not issue for Podium, or that
//! is no longer valid, is refused.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use podium_server::identity::settings::OidcSettings;
use serde_json::{Value, json};

use crate::helpers::{TestApp, application, grant, task_def};
use crate::oidc_provider::Provider;

fn settings(provider: &Provider) -> OidcSettings {
    OidcSettings {
        issuer_url: provider.issuer.clone(),
        audience: "podium-api".into(),
        group_mapping: BTreeMap::from([("operate-admins".into(), "admins".into())]),
        ..OidcSettings::default()
    }
}

async fn spawn(provider: &Provider) -> TestApp {
    let settings = settings(provider);
    TestApp::spawn_now(move |config| config.oidc = Some(settings)).await
}

async fn bearer(app: &TestApp, token: &str, method: &str, path: &str) -> crate::helpers::Answer {
    let request = app
        .client_without_token()
        .request(
            method.parse().expect("method"),
            format!("{}{path}", app.base),
        )
        .header("authorization", format!("Bearer {token}"));
    crate::helpers::answer_of(request).await
}

#[tokio::test]
async fn a_machine_token_acts_as_the_application_named_by_its_client_id() {
    let Some(provider) = Provider::start().await else {
        return;
    };
    let app = spawn(&provider).await;
    let token = provider
        .client_token("podium-m2m", "m2m-secret", None)
        .await;

    // No application of that name yet: refused, saying what to do.
    let refused = bearer(&app, &token, "GET", "/api/token/userInfo").await;
    assert_eq!(refused.status, 401, "{}", refused.text);
    assert!(
        refused
            .text
            .contains("no application an ADMIN created is named 'podium-m2m'"),
        "{}",
        refused.text
    );
    // Anyone with the USER role may create applications: one of theirs named
    // after the client does not capture it.
    let made = app
        .call(
            "PUT",
            "/api/users/mallory",
            Some(json!({"name": "Mallory", "roles": ["USER"], "password": "violet harbour kettle 9"})),
        )
        .await;
    assert_eq!(made.status, 200, "{}", made.text);
    let signed_in = app.sign_in("mallory", "violet harbour kettle 9").await;
    let mallory = signed_in.json()["token"]
        .as_str()
        .expect("token")
        .to_string();
    let captured = app
        .call_as(
            Some(&mallory),
            "POST",
            "/api/applications",
            Some(json!({"name": "podium-m2m"})),
        )
        .await;
    assert_eq!(captured.status, 200, "{}", captured.text);
    let still = bearer(&app, &token, "GET", "/api/token/userInfo").await;
    assert_eq!(still.status, 401, "{}", still.text);

    // An ADMIN creates it, as a worker of one task.
    let machine = application(&app, "podium-m2m", &["WORKER"]).await;
    app.register(json!([task_def("m2m_task")]), json!({"name": "m2m_flow", "version": 1, "tasks": [{"name": "m2m_task", "taskReferenceName": "t", "type": "SIMPLE"}]}))
        .await;
    let granted = grant(
        &app,
        &format!("app:{}", machine.id),
        "TASK_DEF",
        "m2m_task",
        &["EXECUTE"],
    )
    .await;
    assert_eq!(granted.status, 200, "{}", granted.text);
    let me = bearer(&app, &token, "GET", "/api/token/userInfo").await;
    assert_eq!(me.status, 200, "{}", me.text);
    assert_eq!(
        me.json()["id"],
        format!("app:{}", machine.id),
        "{}",
        me.text
    );
    // The same token in X-Authorization, as the SDKs send it.
    let polled = app
        .call_as(
            Some(&token),
            "GET",
            "/api/tasks/poll/m2m_task?workerid=m2m",
            None,
        )
        .await;
    assert!(
        polled.status == 200 || polled.status == 204,
        "{}",
        polled.text
    );
    // Nothing beyond its roles and grants.
    for path in ["/api/users", "/api/tasks/poll/other_task?workerid=m2m"] {
        let answer = bearer(&app, &token, "GET", path).await;
        assert_eq!(answer.status, 403, "{path}: {}", answer.text);
    }
    // A client no application is named after gets nothing.
    let stranger = provider
        .client_token("reports-m2m", "reports-secret", None)
        .await;
    assert_eq!(
        bearer(&app, &stranger, "GET", "/api/metadata/taskdefs")
            .await
            .status,
        401
    );
    app.stop().await;
}

#[tokio::test]
async fn a_persons_token_acts_as_their_user_with_the_groups_the_provider_names() {
    let Some(provider) = Provider::start().await else {
        return;
    };
    let app = spawn(&provider).await;
    app.put_group("admins", &["ADMIN"]).await;

    let alice = provider.user_token("alice", None).await;
    let me = bearer(&app, &alice, "GET", "/api/token/userInfo").await;
    assert_eq!(me.status, 200, "{}", me.text);
    assert_eq!(me.json()["id"], "alice", "{}", me.text);
    assert_eq!(me.json()["name"], "Alice Admin", "{}", me.text);
    assert_eq!(bearer(&app, &alice, "GET", "/api/users").await.status, 200);
    let record = app.get("/api/users/alice").await.json();
    assert_eq!(record["identitySource"], "OIDC", "{record}");
    assert_eq!(record["groups"][0]["id"], "admins", "{record}");

    // Bob's group maps to nothing by name when the Podium group of that name holds a
    // custom role (one can reach every resource of a type): no roles, nothing to see.
    let made = app
        .post(
            "/api/roles",
            json!({"name": "SECRET_READER", "permissions": ["READ_SECRET_NAME"]}),
        )
        .await;
    assert_eq!(made.status, 200, "{}", made.text);
    app.put_group("operate-viewers", &["SECRET_READER"]).await;
    let bob = provider.user_token("bob", None).await;
    assert_eq!(
        bearer(&app, &bob, "GET", "/api/token/userInfo")
            .await
            .status,
        200
    );
    assert_eq!(bearer(&app, &bob, "GET", "/api/users").await.status, 403);
    let record = app.get("/api/users/bob").await.json();
    assert_eq!(record["groups"], json!([]), "{record}");

    // A built-in user with a Podium password is not the provider's person of the
    // same id.
    let carol = app
        .call(
            "PUT",
            "/api/users/carol",
            Some(
                json!({"name": "Carol", "roles": ["ADMIN"], "password": "violet harbour kettle 9"}),
            ),
        )
        .await;
    assert_eq!(carol.status, 200, "{}", carol.text);
    let not_carol = provider.user_token("carol", None).await;
    let refused = bearer(&app, &not_carol, "GET", "/api/users").await;
    assert_eq!(refused.status, 401, "{}", refused.text);

    // Disabled in Podium: the token stops at once.
    let disabled = app
        .call("PUT", "/api/users/alice", Some(json!({"disabled": true})))
        .await;
    assert_eq!(disabled.status, 200, "{}", disabled.text);
    assert_eq!(
        bearer(&app, &alice, "GET", "/api/token/userInfo")
            .await
            .status,
        401
    );
    app.stop().await;
}

/// A key pair of our own (PKCS#1 DER, as jsonwebtoken reads it), made with openssl.
fn own_rsa_key(dir: &Path) -> Vec<u8> {
    let pem = dir.join("key.pem");
    let der = dir.join("key.der");
    for args in [
        vec!["genrsa", "-out", pem.to_str().expect("path"), "2048"],
        vec![
            "rsa",
            "-in",
            pem.to_str().expect("path"),
            "-outform",
            "DER",
            "-traditional",
            "-out",
            der.to_str().expect("path"),
        ],
    ] {
        let status = Command::new("openssl")
            .args(&args)
            .stderr(std::process::Stdio::null())
            .status()
            .expect("openssl");
        assert!(status.success(), "openssl {args:?}");
    }
    std::fs::read(der).expect("key")
}

fn b64(bytes: &[u8]) -> String {
    use std::fmt::Write;
    // base64url without padding, written out to keep the test free of another crate.
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n =
            chunk.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b)) << (8 * (3 - chunk.len()));
        for i in 0..=chunk.len() {
            let _ = write!(
                out,
                "{}",
                ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char
            );
        }
    }
    out
}

#[tokio::test]
async fn tokens_not_issued_for_podium_or_no_longer_valid_are_refused() {
    let Some(provider) = Provider::start().await else {
        return;
    };
    let app = spawn(&provider).await;
    application(&app, "podium-m2m", &["ADMIN"]).await;
    let good = provider
        .client_token("podium-m2m", "m2m-secret", None)
        .await;
    assert_eq!(bearer(&app, &good, "GET", "/api/users").await.status, 200);

    let now = app.clock_now_seconds();
    let claims = json!({
        "iss": provider.issuer, "aud": "podium-api", "sub": "podium-m2m",
        "client_id": "podium-m2m", "iat": now, "exp": now + 300,
    });
    let dir = tempfile::tempdir().expect("dir");
    let own = EncodingKey::from_rsa_der(&own_rsa_key(dir.path()));
    let mut with_their_kid = Header::new(Algorithm::RS256);
    with_their_kid.kid = Some("podium-test-rs256".into());
    let mut unknown_kid = Header::new(Algorithm::RS256);
    unknown_kid.kid = Some("someone-elses-key".into());
    let jwks: Value = reqwest::get(format!("{}/jwks", provider.issuer))
        .await
        .expect("jwks")
        .json()
        .await
        .expect("jwks json");
    let public_as_secret = EncodingKey::from_secret(jwks.to_string().as_bytes()).expect("key");
    let modulus_as_secret =
        EncodingKey::from_secret(jwks["keys"][0]["n"].as_str().unwrap_or_default().as_bytes())
            .expect("key");
    let mut hs = Header::new(Algorithm::HS256);
    hs.kid = Some("podium-test-rs256".into());
    let sign = |header: &Header, key: &EncodingKey| {
        jsonwebtoken::encode(header, &claims, key).expect("sign")
    };
    // The provider's own token with its claims changed keeps a signature that no
    // longer matches.
    let parts: Vec<&str> = good.split('.').collect();
    let mut changed: Value = serde_json::from_slice(
        &jsonwebtoken::dangerous::insecure_decode_claims::<Value>(&good)
            .map(|c| serde_json::to_vec(&c).unwrap_or_default())
            .unwrap_or_default(),
    )
    .unwrap_or_default();
    changed["sub"] = json!("someone-else");
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        b64(changed.to_string().as_bytes()),
        parts[2]
    );
    let none = format!(
        "{}.{}.",
        b64(br#"{"alg":"none","typ":"JWT"}"#),
        b64(claims.to_string().as_bytes())
    );
    let other_audience = provider
        .client_token("podium-m2m", "m2m-secret", Some("urn:other:api"))
        .await;
    let elsewhere = Provider::start().await.expect("a second provider");
    let other_issuer = elsewhere
        .client_token("podium-m2m", "m2m-secret", None)
        .await;
    for (what, token) in [
        (
            "signed by a key not in the provider's set",
            sign(&with_their_kid, &own),
        ),
        (
            "naming a key the provider does not have",
            sign(&unknown_kid, &own),
        ),
        (
            "HS256 with the provider's public keys as the secret",
            sign(&hs, &public_as_secret),
        ),
        (
            "HS256 with the public modulus as the secret",
            sign(&hs, &modulus_as_secret),
        ),
        ("alg none", none),
        ("changed after signing", tampered),
        ("for another audience", other_audience),
        ("from another issuer", other_issuer),
    ] {
        for header in ["authorization", "x-authorization"] {
            let value = if header == "authorization" {
                format!("Bearer {token}")
            } else {
                token.clone()
            };
            let request = app
                .client_without_token()
                .get(format!("{}/api/users", app.base))
                .header(header, value);
            let answer = crate::helpers::answer_of(request).await;
            assert_eq!(answer.status, 401, "{what} in {header}: {}", answer.text);
            assert_eq!(
                answer.json()["error"],
                "INVALID_TOKEN",
                "{what}: {}",
                answer.text
            );
        }
    }

    // A token signed with the provider's key but naming another issuer: a server
    // whose issuer is the second provider, with the first provider's keys, refuses
    // the first provider's tokens.
    let mut crossed = settings(&provider);
    crossed.issuer_url = elsewhere.issuer.clone();
    crossed.jwks_uri = Some(format!("{}/jwks", provider.issuer));
    let second = TestApp::spawn_now(move |config| config.oidc = Some(crossed)).await;
    application(&second, "podium-m2m", &["ADMIN"]).await;
    let wrong_issuer = bearer(&second, &good, "GET", "/api/users").await;
    assert_eq!(wrong_issuer.status, 401, "{}", wrong_issuer.text);
    second.stop().await;

    // A valid token stops at its expiry (300 s, and 30 s for clocks that differ),
    // whether it was seen before or is seen for the first time.
    let fresh = provider
        .client_token("podium-m2m", "m2m-secret", None)
        .await;
    // The provider stamps real time and the server's clock stands where it was
    // started: past the later token's expiry (with the 30 s allowed), however long
    // the run took to get here.
    let exp = {
        use base64::Engine;
        let payload = fresh.split('.').nth(1).expect("a JWT");
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .expect("base64url");
        serde_json::from_slice::<Value>(&bytes).expect("claims")["exp"]
            .as_i64()
            .expect("exp")
    };
    let past = (exp - app.clock_now_seconds() + 31).max(331);
    app.advance(past * 1000);
    for token in [&good, &fresh] {
        let expired = bearer(&app, token, "GET", "/api/users").await;
        assert_eq!(expired.status, 401, "{}", expired.text);
        assert_eq!(expired.json()["error"], "EXPIRED_TOKEN", "{}", expired.text);
    }
    app.stop().await;
}

#[tokio::test]
async fn every_route_is_closed_to_provider_tokens_with_nothing() {
    let Some(provider) = Provider::start().await else {
        return;
    };
    let app = spawn(&provider).await;
    let fixture = crate::route_walk::aim(&app).await;
    // A machine whose application has no roles and no grants.
    application(&app, "podium-m2m", &[]).await;
    let machine = provider
        .client_token("podium-m2m", "m2m-secret", None)
        .await;
    crate::route_walk::walk(&app, &machine, &fixture).await;
    // A person with no roles and no groups that map.
    let bob = provider.user_token("bob", None).await;
    crate::route_walk::walk(&app, &bob, &fixture).await;
    app.stop().await;
}
