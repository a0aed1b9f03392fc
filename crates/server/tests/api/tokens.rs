//! Tokens through the API: minted from a live access key, refused when expired or
//! forged (401), and throttled after repeated failures without locking an owner out.

use serde_json::{Value, json};

use crate::helpers::{ADMIN_KEY_ID, ADMIN_KEY_SECRET, TestApp, application};
use crate::security::assert_status;

#[tokio::test]
async fn tokens_need_a_live_key() {
    let app = TestApp::spawn().await;
    // No token, a garbage token: 401 INVALID_TOKEN, which the SDKs answer by minting.
    let none = app
        .call_as(None, "GET", "/api/metadata/taskdefs", None)
        .await;
    assert_status(&none, 401, Some("INVALID_TOKEN"));
    let garbage = app
        .call_as(Some("not.a.token"), "GET", "/api/metadata/taskdefs", None)
        .await;
    assert_status(&garbage, 401, Some("INVALID_TOKEN"));

    let worker = application(&app, "worker", &["WORKER"]).await;
    let keys = app
        .get(&format!("/api/applications/{}/accessKeys", worker.id))
        .await;
    assert_eq!(keys.status, 200);
    let listed = &keys.json()[0];
    assert_eq!(listed["id"], worker.key_id.as_str());
    assert_eq!(listed["status"], "ACTIVE");
    assert!(listed["createdAt"].is_i64());
    assert!(
        listed["lastUsedAt"].is_i64(),
        "minting records a use: {listed}"
    );
    assert!(
        !keys.text.contains(&worker.secret),
        "secrets are never listed"
    );

    // The token works in either header.
    let ok = app
        .call_as(Some(&worker.token), "GET", "/api/token/userInfo", None)
        .await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    assert_eq!(ok.json()["id"], format!("app:{}", worker.id));
    assert_eq!(ok.json()["applicationUser"], true);
    assert_eq!(ok.json()["roles"][0]["name"], "WORKER");
    let bare = reqwest::Client::new()
        .get(format!("{}/api/token/userInfo", app.base))
        .header("Authorization", format!("Bearer {}", worker.token))
        .send()
        .await
        .expect("sent");
    assert_eq!(bare.status(), 200);
    let body: Value = bare.json().await.expect("json");
    assert_eq!(body["id"], format!("app:{}", worker.id));

    // Wrong secrets and unknown keys get the same answer.
    let wrong = app
        .call_as(
            None,
            "POST",
            "/api/token",
            Some(json!({"keyId": worker.key_id, "keySecret": "nope"})),
        )
        .await;
    let unknown = app
        .call_as(
            None,
            "POST",
            "/api/token",
            Some(json!({"keyId": "no-such-key", "keySecret": "nope"})),
        )
        .await;
    assert_status(&wrong, 401, Some("INVALID_CREDENTIALS"));
    assert_eq!(wrong.json()["message"], unknown.json()["message"]);
    // /api/token ignores a stale token sent along (the JS SDK does that).
    let stale = app
        .call_as(
            Some("stale.token.here"),
            "POST",
            "/api/token",
            Some(json!({"keyId": worker.key_id, "keySecret": worker.secret})),
        )
        .await;
    assert_eq!(stale.status, 200, "{}", stale.text);

    // Pausing the key refuses its tokens on the next request; resuming accepts them.
    let paused = app
        .post(
            &format!(
                "/api/applications/{}/accessKeys/{}/status",
                worker.id, worker.key_id
            ),
            json!({}),
        )
        .await;
    assert_eq!(paused.json()["status"], "INACTIVE");
    let refused = app
        .call_as(Some(&worker.token), "GET", "/api/token/userInfo", None)
        .await;
    assert_status(&refused, 401, Some("INVALID_TOKEN"));
    let mint_paused = app
        .call_as(
            None,
            "POST",
            "/api/token",
            Some(json!({"keyId": worker.key_id, "keySecret": worker.secret})),
        )
        .await;
    assert_status(&mint_paused, 401, None);
    app.post(
        &format!(
            "/api/applications/{}/accessKeys/{}/status",
            worker.id, worker.key_id
        ),
        json!({}),
    )
    .await;
    let resumed = app
        .call_as(Some(&worker.token), "GET", "/api/token/userInfo", None)
        .await;
    assert_eq!(resumed.status, 200);

    // Deleting the key (or the application) ends its tokens.
    let deleted = app
        .call(
            "DELETE",
            &format!(
                "/api/applications/{}/accessKeys/{}",
                worker.id, worker.key_id
            ),
            None,
        )
        .await;
    assert_eq!(deleted.status, 200, "{}", deleted.text);
    let gone = app
        .call_as(Some(&worker.token), "GET", "/api/token/userInfo", None)
        .await;
    assert_status(&gone, 401, Some("INVALID_TOKEN"));
    let other = application(&app, "other", &[]).await;
    app.call("DELETE", &format!("/api/applications/{}", other.id), None)
        .await;
    let gone = app
        .call_as(Some(&other.token), "GET", "/api/token/userInfo", None)
        .await;
    assert_status(&gone, 401, Some("INVALID_TOKEN"));
    let missing = app.get(&format!("/api/applications/{}", other.id)).await;
    assert_eq!(missing.status, 404);
    assert_eq!(
        missing.json()["message"],
        format!("Application '{}' not found", other.id)
    );
    app.stop().await;
}

#[tokio::test]
async fn expired_and_forged_tokens_are_401() {
    let app = TestApp::spawn().await;
    let worker = application(&app, "short", &[]).await;
    let short = app.mint(&worker.key_id, &worker.secret, Some(2000)).await;
    let fine = app
        .call_as(Some(&short), "GET", "/api/token/userInfo", None)
        .await;
    assert_eq!(fine.status, 200);
    app.advance(3000);
    let expired = app
        .call_as(Some(&short), "GET", "/api/token/userInfo", None)
        .await;
    assert_status(&expired, 401, Some("EXPIRED_TOKEN"));

    // Unsigned, tampered and foreign tokens.
    let parts: Vec<&str> = worker.token.split('.').collect();
    let forged = [
        format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{}.", parts[1]),
        format!("{}.{}x.{}", parts[0], parts[1], parts[2]),
        format!("{}.{}.{}", parts[0], parts[1], "c2lnbmF0dXJl"),
        "a.b.c".to_string(),
        "   ".to_string(),
        "Bearer".to_string(),
    ];
    for token in forged {
        let answer = app
            .call_as(Some(&token), "GET", "/api/token/userInfo", None)
            .await;
        assert_eq!(answer.status, 401, "{token}: {}", answer.text);
        assert_eq!(answer.json()["error"], "INVALID_TOKEN", "{token}");
    }
    app.stop().await;
}

/// Asks for a token; the answer.
async fn mint_answer(app: &TestApp, key_id: &str, secret: &str) -> crate::helpers::Answer {
    app.call_as(
        None,
        "POST",
        "/api/token",
        Some(json!({"keyId": key_id, "keySecret": secret})),
    )
    .await
}

#[tokio::test]
async fn wrong_secrets_for_a_key_never_lock_its_owner_out() {
    let app = TestApp::spawn().await;
    // Twenty wrong secrets for the admin key (the test server sees one address, so the
    // address limit, 30 by default, is not reached here).
    let mut statuses = Vec::new();
    for _ in 0..20 {
        statuses.push(mint_answer(&app, ADMIN_KEY_ID, "wrong-secret").await.status);
    }
    assert_eq!(&statuses[..10], &[401; 10], "{statuses:?}");
    assert_eq!(&statuses[10..], &[429; 10], "{statuses:?}");
    // An unknown key is counted like a known one: its first failures are 401 too.
    let mut unknown = Vec::new();
    for _ in 0..6 {
        unknown.push(
            mint_answer(&app, "no-such-key", "wrong-secret")
                .await
                .status,
        );
    }
    assert_eq!(unknown, vec![401; 6]);
    // The owner's right secret is accepted while the key's counter is over its limit,
    // and the token works.
    let owner = mint_answer(&app, ADMIN_KEY_ID, ADMIN_KEY_SECRET).await;
    assert_eq!(owner.status, 200, "{}", owner.text);
    let token = owner.json()["token"].as_str().expect("token").to_string();
    let used = app
        .call_as(Some(&token), "GET", "/api/metadata/taskdefs", None)
        .await;
    assert_eq!(used.status, 200, "{}", used.text);
    app.stop().await;
}

#[tokio::test]
async fn an_address_over_its_limit_is_refused_before_any_check() {
    let app = TestApp::spawn().await;
    // Thirty failures from this address, each for another key id (so no key's own
    // limit is reached).
    for i in 0..30 {
        let answer = mint_answer(&app, &format!("guess-{i}"), "wrong").await;
        assert_eq!(answer.status, 401, "attempt {i}: {}", answer.text);
    }
    // Now even the right secret is refused from this address, before any check.
    let refused = mint_answer(&app, ADMIN_KEY_ID, ADMIN_KEY_SECRET).await;
    assert_eq!(refused.status, 429, "{}", refused.text);
    assert_eq!(refused.json()["retryable"], true);
    // Tokens already issued keep working; the window passes and the address may try
    // again.
    assert_eq!(app.get("/api/metadata/taskdefs").await.status, 200);
    app.advance(61_000);
    let again = mint_answer(&app, ADMIN_KEY_ID, ADMIN_KEY_SECRET).await;
    assert_eq!(again.status, 200, "{}", again.text);
    app.stop().await;
}
