//! Built-in users' passwords: set by an ADMIN or imported as a bcrypt hash (through
//! the API or the configuration file), used to sign in at `POST /api/token`, changed
//! with the old one or reset by an ADMIN, and refused when easy to guess.

use std::time::Duration;

use podium_core::service::passwords::ConfiguredUser;
use serde_json::{Value, json};

use crate::helpers::{Answer, TestApp};

async fn sign_in(app: &TestApp, user: &str, password: &str) -> Answer {
    app.sign_in(user, password).await
}

async fn token(app: &TestApp, user: &str, password: &str) -> String {
    let answer = sign_in(app, user, password).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    answer.json()["token"].as_str().expect("token").to_string()
}

async fn put_user(app: &TestApp, id: &str, body: Value) -> Answer {
    app.call("PUT", &format!("/api/users/{id}"), Some(body))
        .await
}

/// A bcrypt hash as Spring's encoder writes it (`$2a$`).
fn spring_bcrypt(password: &str) -> String {
    bcrypt::hash(password, 4)
        .expect("bcrypt")
        .replacen("$2b$", "$2a$", 1)
}

#[tokio::test]
async fn an_admin_creates_a_user_who_signs_in_with_exactly_their_roles() {
    let app = TestApp::spawn().await;
    let password = "plum kettle harbour 9";
    let created = put_user(
        &app,
        "carol",
        json!({"name": "Carol", "roles": ["METADATA_MANAGER"], "password": password}),
    )
    .await;
    assert_eq!(created.status, 200, "{}", created.text);
    assert!(!created.text.contains(password) && !created.text.contains("argon2"));
    let stored = app.runtime().stored_user("carol").expect("stored");
    let hash = stored.password_hash.expect("a password hash");
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(
        !app.stored_bytes()
            .await
            .windows(password.len())
            .any(|w| w == password.as_bytes())
    );

    let carol = token(&app, "carol", password).await;
    let by_email = app
        .call_as(
            None,
            "POST",
            "/api/token",
            Some(json!({"email": "carol", "password": password})),
        )
        .await;
    assert_eq!(by_email.status, 200, "{}", by_email.text);
    let me = app
        .call_as(Some(&carol), "GET", "/api/token/userInfo", None)
        .await;
    assert_eq!(me.status, 200, "{}", me.text);
    let roles: Vec<Value> = me.json()["roles"]
        .as_array()
        .expect("roles")
        .iter()
        .map(|r| r["name"].clone())
        .collect();
    assert_eq!(me.json()["id"], "carol");
    assert_eq!(roles, [json!("METADATA_MANAGER")]);
    let admin_only = app.call_as(Some(&carol), "GET", "/api/users", None).await;
    assert_eq!(admin_only.status, 403, "{}", admin_only.text);

    // A wrong password and an unknown user get the same answer.
    let wrong = sign_in(&app, "carol", "plum kettle harbour 8").await;
    let unknown = sign_in(&app, "nobody-here", password).await;
    assert_eq!(wrong.status, 401);
    assert_eq!((wrong.status, wrong.text), (unknown.status, unknown.text));
    app.stop().await;
}

#[tokio::test]
async fn guessable_passwords_and_bad_hashes_are_refused_with_a_clear_400() {
    let app = TestApp::spawn().await;
    for (password, why) in [
        ("Sh0rt!pw", "too short"),
        ("Password1234", "attackers try first"),
        ("dave-the-builder", "user's id"),
        ("123456789012", "sequence"),
    ] {
        let answer = put_user(&app, "dave", json!({"password": password})).await;
        assert_eq!(answer.status, 400, "{password}: {}", answer.text);
        assert!(
            answer.json()["message"]
                .as_str()
                .expect("message")
                .contains(why),
            "{}",
            answer.text
        );
        assert!(!answer.text.contains(password), "{}", answer.text);
    }
    for body in [
        json!({"password": "plum kettle harbour 9", "passwordHash": spring_bcrypt("x")}),
        json!({"passwordHash": "plain-text-password"}),
        json!({"passwordHash": format!("$2a$20${}", &spring_bcrypt("x")[7..])}),
        json!({"passwordHash": "$argon2id$v=19$m=4194304,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA"}),
    ] {
        let answer = put_user(&app, "dave", body).await;
        assert_eq!(answer.status, 400, "{}", answer.text);
    }
    let missing = app.get("/api/users/dave").await;
    assert_eq!(missing.status, 404, "no user was created: {}", missing.text);
    // Nobody sets their own password without the old one, ADMINs included.
    let me = app.get("/api/token/userInfo").await.json()["id"]
        .as_str()
        .expect("id")
        .to_string();
    let own = put_user(&app, &me, json!({"password": "plum kettle harbour 9"})).await;
    assert_eq!(own.status, 400, "{}", own.text);
    app.stop().await;
}

#[tokio::test]
async fn a_bcrypt_hash_is_imported_and_replaced_by_argon2id_at_sign_in() {
    let app = TestApp::spawn().await;
    let password = "spring imported secret";
    let hash = spring_bcrypt(password);
    let created = put_user(
        &app,
        "erin",
        json!({"passwordHash": hash, "roles": ["USER"]}),
    )
    .await;
    assert_eq!(created.status, 200, "{}", created.text);
    assert_eq!(
        sign_in(&app, "erin", "spring imported secreT").await.status,
        401
    );
    token(&app, "erin", password).await;
    let mut rehashed = String::new();
    for _ in 0..100 {
        rehashed = app
            .runtime()
            .stored_user("erin")
            .and_then(|u| u.password_hash)
            .unwrap_or_default();
        if rehashed.starts_with("$argon2id$") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(rehashed.starts_with("$argon2id$"), "{rehashed}");
    token(&app, "erin", password).await;
    app.stop().await;
}

#[tokio::test]
async fn users_change_their_own_password_with_the_old_one_and_old_tokens_stop() {
    let app = TestApp::spawn().await;
    let (first, second, third) = (
        "first long passphrase",
        "second long passphrase",
        "third long passphrase",
    );
    assert_eq!(
        put_user(&app, "frank", json!({"password": first}))
            .await
            .status,
        200
    );
    assert_eq!(
        put_user(&app, "gina", json!({"password": first}))
            .await
            .status,
        200
    );
    let frank = token(&app, "frank", first).await;
    let change = |old: Option<&str>, new: &str| {
        let mut body = json!({"newPassword": new});
        if let Some(old) = old {
            body["oldPassword"] = json!(old);
        }
        body
    };
    let path = "/api/users/frank/password";
    for (body, status) in [
        (change(Some("not the password"), second), 400),
        (change(None, second), 400),
        (change(Some(first), "Password1234"), 400),
    ] {
        let answer = app.call_as(Some(&frank), "POST", path, Some(body)).await;
        assert_eq!(answer.status, status, "{}", answer.text);
    }
    let others = app
        .call_as(
            Some(&frank),
            "POST",
            "/api/users/gina/password",
            Some(change(Some(first), second)),
        )
        .await;
    assert_eq!(others.status, 403, "{}", others.text);

    // Within the second the token was issued in: it stops working all the same.
    let changed = app
        .call_as(
            Some(&frank),
            "POST",
            path,
            Some(change(Some(first), second)),
        )
        .await;
    assert_eq!(changed.status, 204, "{}", changed.text);
    let old_token = app
        .call_as(Some(&frank), "GET", "/api/token/userInfo", None)
        .await;
    assert_eq!(old_token.status, 401, "{}", old_token.text);
    assert_eq!(sign_in(&app, "frank", first).await.status, 401);
    token(&app, "frank", second).await;

    // An ADMIN resets it without the old one.
    let reset = app.call("POST", path, Some(change(None, third))).await;
    assert_eq!(reset.status, 204, "{}", reset.text);
    assert_eq!(sign_in(&app, "frank", second).await.status, 401);
    let frank = token(&app, "frank", third).await;

    // Disabling and enabling again, or deleting and creating again, ends the
    // tokens issued before.
    let status_with = |token: String| {
        let app = &app;
        async move {
            app.call_as(Some(&token), "GET", "/api/token/userInfo", None)
                .await
                .status
        }
    };
    assert_eq!(status_with(frank.clone()).await, 200);
    for body in [json!({"disabled": true}), json!({"disabled": false})] {
        assert_eq!(put_user(&app, "frank", body).await.status, 200);
    }
    assert_eq!(status_with(frank).await, 401);
    let frank = token(&app, "frank", third).await;
    let deleted = app.call("DELETE", "/api/users/frank", None).await;
    assert!(deleted.status < 300, "{}", deleted.text);
    assert_eq!(
        put_user(&app, "frank", json!({"password": third}))
            .await
            .status,
        200
    );
    assert_eq!(status_with(frank).await, 401);
    token(&app, "frank", third).await;
    app.stop().await;
}

#[tokio::test]
async fn configured_users_are_created_at_start_and_left_alone_after() {
    let password = "configured admin passphrase";
    let hash = spring_bcrypt(password);
    let app = TestApp::spawn_with(move |config| {
        config.users = vec![ConfiguredUser {
            id: "hank".into(),
            display_name: Some("Hank".into()),
            password_hash: Some(hash),
            roles: vec!["ADMIN".into()],
        }];
    })
    .await;
    let hank = token(&app, "hank", password).await;
    let me = app
        .call_as(Some(&hank), "GET", "/api/token/userInfo", None)
        .await;
    assert_eq!(me.json()["name"], "Hank", "{}", me.text);
    assert_eq!(me.json()["roles"][0]["name"], "ADMIN", "{}", me.text);
    let changed = app
        .call_as(
            Some(&hank),
            "POST",
            "/api/users/hank/password",
            Some(json!({"oldPassword": password, "newPassword": "a newer admin passphrase"})),
        )
        .await;
    assert_eq!(changed.status, 204, "{}", changed.text);
    // A restart with the same configuration keeps the user as it is now.
    let app = app.restart().await;
    assert_eq!(sign_in(&app, "hank", password).await.status, 401);
    token(&app, "hank", "a newer admin passphrase").await;
    app.stop().await;
}

/// A server whose failed sign-ins delay from 200 ms to 800 ms, with ivy.
async fn delaying_server() -> TestApp {
    let app = TestApp::spawn_with(|config| {
        config.token_failure_delay_ms = 200;
        config.token_failure_max_delay_ms = 800;
        config.token_max_failures_per_key = 1000;
    })
    .await;
    let created = put_user(&app, "ivy", json!({"name": "Ivy", "password": IVY})).await;
    assert_eq!(created.status, 200, "{}", created.text);
    app
}

const IVY: &str = "plum kettle harbour 9";

#[tokio::test]
async fn failed_sign_ins_slow_the_guesser_down_but_never_lock_the_owner_out() {
    // Every attempt for an account from this address, a known user or not, waits
    // longer: free, free, free, free, then 200, 400, 800, 800 ms after the one
    // before began.
    for user in ["ivy", "nobody-at-all"] {
        let app = delaying_server().await;
        let origin = std::time::Instant::now();
        let mut spans = Vec::new();
        for _ in 0..8 {
            let began = origin.elapsed();
            let answer = sign_in(&app, user, "wrong guess for ivy").await;
            assert_eq!(answer.status, 401, "{}", answer.text);
            spans.push((began, origin.elapsed()));
        }
        for (i, least) in [(4, 200), (5, 400), (6, 800), (7, 800)] {
            let gap = spans[i].1 - spans[i - 1].0;
            assert!(
                gap >= Duration::from_millis(least),
                "{user}: attempt {} ended {gap:?} after the one before began, expected at least {least} ms: {spans:?}",
                i + 1,
            );
        }
        assert!(
            spans[1].1 - spans[0].0 < Duration::from_millis(200),
            "{spans:?}"
        );
        app.stop().await;
    }

    let app = delaying_server().await;
    for _ in 0..6 {
        assert_eq!(sign_in(&app, "ivy", "wrong guess").await.status, 401);
    }
    // Attempts sent at once take turns: those beyond the longest delay are refused.
    let burst: Vec<u16> = futures_statuses(&app, 4).await;
    assert!(burst.contains(&429), "{burst:?}");
    // The right password still signs in when its turn comes.
    tokio::time::sleep(Duration::from_millis(900)).await;
    let right = sign_in(&app, "ivy", IVY).await;
    assert_eq!(right.status, 200, "{}", right.text);
    app.stop().await;
}

/// Statuses of `n` wrong sign-ins for ivy sent at once.
async fn futures_statuses(app: &TestApp, n: usize) -> Vec<u16> {
    let mut handles = Vec::new();
    for _ in 0..n {
        let (base, client) = (app.base.clone(), reqwest::Client::new());
        handles.push(tokio::spawn(async move {
            client
                .post(format!("{base}/api/token"))
                .json(&json!({"userId": "ivy", "password": "burst guess"}))
                .send()
                .await
                .map(|r| r.status().as_u16())
                .unwrap_or(0)
        }));
    }
    let mut statuses = Vec::new();
    for handle in handles {
        statuses.push(handle.await.unwrap_or(0));
    }
    statuses
}
