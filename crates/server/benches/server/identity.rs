//! Benchmarks of people's and machines' sign-in (issue 12):
//!
//! - S9: the S1 worker loop with the workers' calls carrying an OpenID Connect
//!   provider's client credentials token, against the same loop with a token minted
//!   from a Podium access key; both servers accept the provider's tokens, the load
//!   alternates between them. Needs the test provider installed
//!   (`npm ci` in `tests/peers/oidc`, which `scripts/test` does).
//! - S10: `POST /api/token` with a built-in user's password against the same with an
//!   access key, 64 concurrent clients, alternating; and the cost of one argon2id
//!   check in process.

use std::time::Instant;

use serde_json::{Value, json};

use super::load::{S3Load, WorkerAuth};
use super::{Security, Server, client};

/// The test provider, started as the API tests start it (the benchmark needs only
/// machine tokens).
#[path = "../../tests/api/oidc_provider.rs"]
#[allow(dead_code)]
mod oidc_provider;

use oidc_provider::Provider;

/// S9: the worker loop with the provider's tokens against Podium's own.
pub async fn s9() {
    println!();
    println!(
        "S9: worker loop with an OIDC client credentials token vs a Podium access-key token: two live servers accepting both, load alternating"
    );
    let Some(provider) = Provider::start().await else {
        println!("  skipped: the OIDC provider is not installed (npm ci in tests/peers/oidc)");
        return;
    };
    let dir = crate::bench_dir();
    let token = provider
        .client_token("podium-m2m", "m2m-secret", None)
        .await;
    let key = S3Load::start_oidc(dir.path(), &provider.issuer, WorkerAuth::Key).await;
    let oidc = S3Load::start_oidc(
        dir.path(),
        &provider.issuer,
        WorkerAuth::Bearer {
            client: "podium-m2m".into(),
            token,
        },
    )
    .await;
    crate::alternate(("key", &key), ("oidc", &oidc), "oidc/key", 0.97).await;
    key.finish().await;
    oidc.finish().await;
}

/// S10: password sign-ins against access-key token requests.
pub async fn s10() {
    println!();
    println!(
        "S10: POST /api/token with a built-in user's password vs with an access key, 64 concurrent clients, alternating"
    );
    let dir = crate::bench_dir();
    let server = Server::start(&dir.path().join("s10"), "process", Security::On);
    let base = server.base.clone();
    let admin = server.admin().await;
    let password = "plum kettle harbour 9";
    let created = admin
        .put(format!("{base}/api/users/bench-person"))
        .json(&json!({"name": "Bench", "password": password}))
        .send()
        .await
        .expect("user");
    assert!(created.status().is_success(), "{}", created.status());
    let (key_id, secret) = server.new_key("s10", &[], &[]).await;
    let request = |body: Value| {
        let (c, url) = (client(), format!("{base}/api/token"));
        move || {
            let (c, u, b) = (c.clone(), url.clone(), body.clone());
            async move {
                c.post(u)
                    .json(&b)
                    .send()
                    .await
                    .is_ok_and(|r| r.status() == 200)
            }
        }
    };
    let by_key = request(json!({"keyId": key_id, "keySecret": secret}));
    let by_password = request(json!({"userId": "bench-person", "password": password}));
    let mut ratios = Vec::new();
    for pair in 0..crate::PAIRS {
        let seconds = crate::RUN_SECONDS / 2.0;
        let ((key_rate, key_p99), (password_rate, password_p99)) = if pair % 2 == 0 {
            let k = crate::rate(64, seconds, by_key.clone()).await;
            (k, crate::rate(64, seconds, by_password.clone()).await)
        } else {
            let p = crate::rate(64, seconds, by_password.clone()).await;
            (crate::rate(64, seconds, by_key.clone()).await, p)
        };
        let ratio = password_rate / key_rate;
        println!(
            "  pair {}: access key {:>6.0}/s (p99 {:>7.0} us) | password {:>5.0}/s (p99 {:>7.0} us) | password/key {:.4}",
            pair + 1,
            key_rate,
            key_p99,
            password_rate,
            password_p99,
            ratio
        );
        ratios.push(ratio);
    }
    server.stop();
    println!(
        "  median password/key: {:.4} (reported: a password check is an argon2id hash, by design)",
        crate::median(ratios)
    );

    // In process: one argon2id check (m = 19 MiB, t = 2, p = 1: OWASP's minimum).
    let hash = podium_core::security::password::hash_password(password).expect("hash");
    let rounds = 20;
    let started = Instant::now();
    for _ in 0..rounds {
        let checked = podium_core::security::password::verify_stored(password, &hash);
        assert!(checked.matches);
    }
    let each = started.elapsed() / rounds;
    println!(
        "  one argon2id check in process: {:.1} ms ({hash_prefix})",
        each.as_secs_f64() * 1000.0,
        hash_prefix = hash.split('$').take(4).collect::<Vec<_>>().join("$")
    );
}
