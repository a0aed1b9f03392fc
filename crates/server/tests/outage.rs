//! A PostgreSQL restart under load, with real processes: while the database is away
//! every node answers `503` with a clear message within the pool wait, never a `500`
//! with database text, a panic or a hang; when it is back the nodes recover by
//! themselves, and nothing acknowledged is lost. The test starts a database server
//! of its own (`scripts/postgres`), since it stops it; it runs where
//! `PODIUM_TEST_DATABASE_URL` says PostgreSQL is available.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod process;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use process::{
    Acknowledged, Server, admin_token, client_with, setup, verify, wait_completed, worker,
};
use serde_json::json;

fn postgres_available() -> bool {
    podium_store_postgres::testing::server_url("the outage test").is_some()
}

/// Runs `scripts/postgres <command> <dir>`; returns its last line of output.
fn postgres(command: &str, dir: &Path) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/postgres");
    let output = Command::new("bash")
        .arg(script)
        .arg(command)
        .arg(dir)
        .output()
        .expect("scripts/postgres runs");
    assert!(
        output.status.success(),
        "scripts/postgres {command}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .last()
        .unwrap_or_default()
        .to_string()
}

/// The test's own database server, stopped when the test ends however it ends.
struct Database {
    dir: PathBuf,
}

impl Drop for Database {
    fn drop(&mut self) {
        let _ = std::panic::catch_unwind(|| postgres("stop", &self.dir));
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// One request's answer while the database was away.
struct Refusal {
    status: u16,
    body: String,
    took: Duration,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_database_restart_under_load_answers_503_then_recovers() {
    if !postgres_available() {
        return;
    }
    // A short path: the server's socket lives in it.
    let dir = PathBuf::from(format!("/tmp/podium-outage-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let database = Database { dir: dir.clone() };
    let url = postgres("start", &database.dir);

    let nodes_dir = tempfile::tempdir().expect("temp dir");
    let key_file = nodes_dir
        .path()
        .join("server.key")
        .to_string_lossy()
        .to_string();
    let secrets_key = "0123456789abcdef".repeat(4);
    let env = [
        ("PODIUM_DATABASE_URL", url.as_str()),
        ("PODIUM_SERVER_KEY_FILE", key_file.as_str()),
        ("PODIUM_SECRETS_KEY", secrets_key.as_str()),
        ("PODIUM_DATABASE_POOL_SIZE", "6"),
    ];
    let nodes: Vec<Server> = (0..2)
        .map(|n| Server::start_with(&nodes_dir.path().join(format!("node{n}")), &env))
        .collect();
    let bases: Vec<String> = nodes.iter().map(|n| n.base.clone()).collect();
    let token = admin_token(&bases[0]).await;
    let client = client_with(&token, Some(Duration::from_secs(30)));
    setup(&client, &bases[0]).await;

    // Load on both nodes: two workers each, and a starter alternating between them.
    let acked = Arc::new(Mutex::new(Acknowledged::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for id in 0..4 {
        workers.push(tokio::spawn(worker(
            bases[id % 2].clone(),
            token.clone(),
            acked.clone(),
            stop.clone(),
            id,
        )));
    }
    let starter = {
        let (bases, acked, client, stop) =
            (bases.clone(), acked.clone(), client.clone(), stop.clone());
        tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                if let Ok(answer) = client
                    .post(format!("{}/api/workflow/durable", bases[n % 2]))
                    .json(&json!({"n": n}))
                    .send()
                    .await
                    && answer.status().is_success()
                {
                    let id = answer.text().await.unwrap_or_default();
                    acked.lock().unwrap().started.insert(id);
                } else {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                if acked.lock().unwrap().started.len() >= 400 {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let before = acked.lock().unwrap().started.len();
    assert!(before > 0, "the load runs before the outage");

    // The database goes away (a fast shutdown, as a restart does).
    postgres("stop", &database.dir);
    let down_at = Instant::now();
    let mut refusals: Vec<Refusal> = Vec::new();
    while down_at.elapsed() < Duration::from_secs(4) {
        for base in &bases {
            for request in [
                client.get(format!("{base}/api/workflow/running/durable")),
                client
                    .post(format!("{base}/api/workflow/durable"))
                    .json(&json!({})),
                client.get(format!("{base}/health")),
            ] {
                let sent = Instant::now();
                let answer = request.send().await.expect("the node answers");
                refusals.push(Refusal {
                    status: answer.status().as_u16(),
                    took: sent.elapsed(),
                    body: answer.text().await.unwrap_or_default(),
                });
            }
        }
    }
    let slowest = refusals.iter().map(|r| r.took).max().unwrap_or_default();
    eprintln!(
        "{} requests while the database was away; slowest answer {slowest:?}",
        refusals.len()
    );
    for refusal in &refusals {
        assert_eq!(refusal.status, 503, "{}", refusal.body);
        assert!(
            refusal.took <= Duration::from_millis(6500),
            "an answer took {:?}",
            refusal.took
        );
        let body = &refusal.body;
        assert!(
            body.contains("The database is unavailable; try again shortly.")
                || body.contains("\"database\":\"unreachable\""),
            "{body}"
        );
        for leak in [
            "db error",
            "ERROR",
            "connection refused",
            "Connection refused",
            "postgres",
        ] {
            assert!(!body.contains(leak), "{body}");
        }
    }

    // Back on the same port: the nodes recover by themselves.
    postgres("resume", &database.dir);
    let up_at = Instant::now();
    for base in &bases {
        loop {
            let status = reqwest::get(format!("{base}/health"))
                .await
                .expect("health")
                .status()
                .as_u16();
            if status == 200 {
                break;
            }
            assert!(
                up_at.elapsed() < Duration::from_secs(15),
                "{base} did not recover"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    eprintln!(
        "both nodes healthy {:?} after the database returned",
        up_at.elapsed()
    );
    // More load after the outage, then everything acknowledged completes.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    stop.store(true, Ordering::Relaxed);
    starter.await.expect("starter");
    let started: Vec<String> = acked.lock().unwrap().started.iter().cloned().collect();
    assert!(
        started.len() > before,
        "starts succeed again after the outage"
    );
    let keep_working = Arc::new(AtomicBool::new(false));
    let mut finishers = Vec::new();
    for id in 0..4 {
        finishers.push(tokio::spawn(worker(
            bases[id % 2].clone(),
            token.clone(),
            acked.clone(),
            keep_working.clone(),
            id + 10,
        )));
    }
    for w in workers {
        let _ = w.await;
    }
    let workflows = wait_completed(&client, &bases[0], &started, Duration::from_secs(90)).await;
    keep_working.store(true, Ordering::Relaxed);
    for w in finishers {
        let _ = w.await;
    }
    let acked = std::mem::take(&mut *acked.lock().unwrap());
    verify(&acked, &workflows);
    let completed = workflows
        .values()
        .filter(|w| w["status"] == "COMPLETED")
        .count();
    eprintln!("{completed} acknowledged workflows completed across the outage");
    for node in nodes {
        node.stop().await;
    }
    drop(database);
}
