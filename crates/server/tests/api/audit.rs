//! The audit trail: who did what to access control, tokens and secrets, from where,
//! with what outcome; readable by ADMINs; never holding a password, a token or a
//! secret value; and checked by `podium audit verify`, which names the first entry
//! changed.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::TestApp;

/// The trail's entries for a query, once at least `count` are there (sign-ins and
/// secrets are written in the background).
pub(crate) async fn entries(app: &TestApp, query: &str, count: usize) -> Vec<Value> {
    let mut found = Vec::new();
    for _ in 0..100 {
        let answer = app.get(&format!("/api/audit?{query}")).await;
        assert_eq!(answer.status, 200, "{}", answer.text);
        found = answer.json()["results"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if found.len() >= count {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    found
}

#[tokio::test]
async fn security_events_are_recorded_with_their_author_and_no_secret() {
    let app = TestApp::spawn().await;
    let (first, wrong, second) = (
        "first audit passphrase",
        "a wrong guess at it",
        "second audit passphrase",
    );
    let secret_value = "sk-live-audited-4f1e9";
    let created = app
        .call("PUT", "/api/users/carol", Some(json!({"password": first})))
        .await;
    assert_eq!(created.status, 200, "{}", created.text);
    let refused = app.sign_in("carol", wrong).await;
    assert_eq!(refused.status, 401);
    let signed_in = app.sign_in("carol", first).await;
    let carol = signed_in.json()["token"]
        .as_str()
        .expect("token")
        .to_string();
    app.advance(1000);
    let changed = app
        .call_as(
            Some(&carol),
            "POST",
            "/api/users/carol/password",
            Some(json!({"oldPassword": first, "newPassword": second})),
        )
        .await;
    assert_eq!(changed.status, 204, "{}", changed.text);
    let put = app
        .raw(
            "PUT",
            "/api/secrets/partner_key",
            "text/plain",
            secret_value,
        )
        .await;
    assert!(put.status < 300, "{}", put.text);
    assert_eq!(app.get("/api/secrets/partner_key").await.status, 200);

    let mints = entries(&app, "action=token.mint&target=user:carol", 2).await;
    let outcomes: Vec<(&str, &str)> = mints
        .iter()
        .map(|e| {
            (
                e["principal"].as_str().unwrap_or(""),
                e["outcome"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        [("carol", "success"), ("anonymous", "failure")],
        "{mints:?}"
    );
    assert_eq!(mints[0]["client"], "127.0.0.1");
    let password = entries(&app, "action=user.password", 1).await;
    assert_eq!(password[0]["principal"], "carol");
    assert_eq!(password[0]["target"], "user:carol");
    let secrets = entries(&app, "target=SECRET_NAME:partner_key", 2).await;
    let actions: Vec<&str> = secrets
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert!(
        actions.contains(&"secret.put") && actions.contains(&"secret.read"),
        "{actions:?}"
    );
    // Newest first: carol's password change, then the ADMIN application's creation.
    let puts = entries(&app, "action=user.put&target=user:carol", 2).await;
    assert_eq!(puts[0]["principal"], "carol");
    assert!(
        puts[1]["principal"]
            .as_str()
            .expect("principal")
            .starts_with("app:"),
        "{puts:?}"
    );

    let everything = app.get("/api/audit?size=1000").await;
    for leaked in [first, wrong, second, secret_value, carol.as_str()] {
        assert!(
            !everything.text.contains(leaked),
            "the trail holds {leaked}"
        );
    }
    // What a stranger types is kept only so long.
    let huge = "x".repeat(100_000);
    let refused = app.sign_in(&huge, wrong).await;
    assert_eq!(refused.status, 401);
    let anonymous = entries(&app, "principal=anonymous", 2).await;
    let target = anonymous[0]["target"].as_str().expect("target");
    // A control character in what was typed (PostgreSQL refuses NUL in text) is
    // kept escaped, and takes no other event down with it.
    let nul = app.sign_in("\u{0}x", wrong).await;
    assert_eq!(nul.status, 401);
    let escaped = entries(&app, "target=user:%5Cu%7B0%7Dx", 1).await;
    assert_eq!(escaped.len(), 1, "the refusal with NUL was recorded");
    assert!(
        target.starts_with("user:xxx") && target.chars().count() <= 257,
        "{}",
        target.len()
    );
    let bad = app.get("/api/audit?size=0").await;
    assert_eq!(bad.status, 400, "{}", bad.text);
    let new_token = app.sign_in("carol", second).await.json()["token"]
        .as_str()
        .expect("token")
        .to_string();
    let not_admin = app
        .call_as(Some(&new_token), "GET", "/api/audit", None)
        .await;
    assert_eq!(not_admin.status, 403, "{}", not_admin.text);
    app.stop().await;
}

#[tokio::test]
async fn audit_verify_names_the_first_entry_changed() {
    let app = TestApp::spawn_embedded(|_| {}).await;
    for n in 0..3 {
        let answer = app
            .call(
                "PUT",
                &format!("/api/groups/team{n}"),
                Some(json!({"description": "a team"})),
            )
            .await;
        assert_eq!(answer.status, 200, "{}", answer.text);
    }
    let data_dir = app.data_dir();
    let dir = app.stop_keeping_data().await;
    let verify = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_podium"))
            .args(["audit", "verify", "--data-dir"])
            .arg(&data_dir)
            .env_clear()
            .output()
            .expect("podium runs")
    };
    let intact = verify();
    let said = String::from_utf8_lossy(&intact.stdout).to_string();
    assert!(
        intact.status.success(),
        "{said} {}",
        String::from_utf8_lossy(&intact.stderr)
    );
    assert!(said.contains("audit trail intact"), "{said}");

    let db = rusqlite::Connection::open(data_dir.join(podium_server::DATABASE_FILE)).expect("open");
    let changed = db
        .execute(
            "UPDATE audit_log SET principal = 'someone-else' WHERE seq = 2",
            [],
        )
        .expect("tamper");
    assert_eq!(changed, 1);
    drop(db);
    let broken = verify();
    let said = String::from_utf8_lossy(&broken.stdout).to_string();
    assert_eq!(broken.status.code(), Some(1), "{said}");
    assert!(said.contains("broken at entry 2"), "{said}");

    let db = rusqlite::Connection::open(data_dir.join(podium_server::DATABASE_FILE)).expect("open");
    db.execute("DELETE FROM audit_log WHERE seq = 2", [])
        .expect("delete");
    drop(db);
    let deleted = verify();
    let said = String::from_utf8_lossy(&deleted.stdout).to_string();
    assert_eq!(deleted.status.code(), Some(1), "{said}");
    assert!(said.contains("broken at entry 2"), "{said}");
    drop(dir);
}
