//! With a real process. Crash safety: the server is killed with SIGKILL under load, at
//! several moments, and started again on the same data directory. No acknowledged start
//! or task update may be lost, no task may be completed twice, and every workflow must
//! still complete (the sweeper retries tasks whose leases died with the process).
//! The same with a DO_WHILE, a dynamic fork (its branches listed by an INLINE task)
//! and INLINE tasks in each workflow.
//! Key rotation: SIGHUP takes a new secrets master key while the server serves, and
//! a start with a key that cannot open the sealed workflow data is refused.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

mod process;

use process::{
    Acknowledged, Server, admin_token, client_with, setup, starter, verify, verify_steps,
    wait_completed, workers,
};

const WORKFLOWS: usize = 300;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_under_load_loses_nothing_and_strands_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let acked = Arc::new(Mutex::new(Acknowledged::default()));

    let server = Server::start(&data);
    let token = admin_token(&server.base).await;
    let client = client_with(&token, None);
    setup(&client, &server.base).await;

    // Three rounds: start workflows and work on them under load, then SIGKILL at a
    // different moment each round.
    let server = crash_rounds(
        server,
        &data,
        &token,
        &acked,
        "durable",
        WORKFLOWS / 3,
        &[350, 120, 600],
    )
    .await;

    // Finish everything on the last process.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let running = workers(&server.base, &token, &acked, &stop);
    let started: Vec<String> = acked.lock().unwrap().started.iter().cloned().collect();
    assert!(
        started.len() >= 10,
        "the rounds started workflows ({})",
        started.len()
    );
    let workflows = wait_completed(&client, &server.base, &started, Duration::from_secs(90)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for w in running {
        let _ = w.await;
    }

    let acked = std::mem::take(&mut *acked.lock().unwrap());
    verify(&acked, &workflows);
    server.stop().await;
}

/// The workflow language's durable parts under SIGKILL: workflows with an INLINE
/// task listing the branches of a dynamic fork of worker tasks and its JOIN, and a DO_WHILE over a worker task and
/// an INLINE task, killed at several moments. Every acknowledged
/// workflow completes with each task completed once per branch and iteration, and
/// every acknowledged completion is stored as sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_in_loops_forks_and_scripts_loses_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let acked = Arc::new(Mutex::new(Acknowledged::default()));
    let server = Server::start(&data);
    let token = admin_token(&server.base).await;
    let client = client_with(&token, None);
    setup(&client, &server.base).await;
    let answer = client
        .post(format!(
            "{}/api/metadata/workflow?overwrite=true",
            server.base
        ))
        .json(&mixed_definition())
        .send()
        .await
        .expect("definition");
    assert!(
        answer.status().is_success(),
        "{}",
        answer.text().await.unwrap_or_default()
    );

    let server = crash_rounds(server, &data, &token, &acked, "mixed", 30, &[400, 900]).await;

    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let running = workers(&server.base, &token, &acked, &stop);
    let started: Vec<String> = acked.lock().unwrap().started.iter().cloned().collect();
    assert!(
        started.len() >= 5,
        "the rounds started workflows ({})",
        started.len()
    );
    let workflows = wait_completed(&client, &server.base, &started, Duration::from_secs(120)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for w in running {
        let _ = w.await;
    }
    let acked = std::mem::take(&mut *acked.lock().unwrap());
    for workflow in workflows.values() {
        assert_eq!(workflow["output"]["last"], 20, "{workflow}");
    }
    verify_steps(
        &acked,
        &workflows,
        &[
            "plan", "fan_a", "fan_b", "step__1", "step__2", "count__1", "count__2",
        ],
    );
    server.stop().await;
}

/// An INLINE task listing two worker tasks (`dur_a`, `dur_b`), the dynamic fork that
/// starts them with its join, then
/// a two-iteration loop over a worker task (`dur_c`) and an INLINE task.
fn mixed_definition() -> Value {
    json!({"name": "mixed", "version": 1, "tasks": [
        {"name": "plan", "taskReferenceName": "plan", "type": "INLINE", "inputParameters": {
            "n": "${workflow.input.n}",
            "expression": "({tasks: [{name: 'dur_a', taskReferenceName: 'fan_a', type: 'SIMPLE'}, {name: 'dur_b', taskReferenceName: 'fan_b', type: 'SIMPLE'}], inputs: {fan_a: {n: $.n}, fan_b: {n: $.n}}})"}},
        {"name": "fan", "taskReferenceName": "fan", "type": "FORK_JOIN_DYNAMIC",
         "dynamicForkTasksParam": "tasks", "dynamicForkTasksInputParamName": "inputs",
         "inputParameters": {"tasks": "${plan.output.result.tasks}", "inputs": "${plan.output.result.inputs}"}},
        {"name": "fan_join", "taskReferenceName": "fan_join", "type": "JOIN"},
        {"name": "loop", "taskReferenceName": "loop", "type": "DO_WHILE",
         "inputParameters": {"times": 2},
         "loopCondition": "$.loop['iteration'] < $.times",
         "loopOver": [
            {"name": "dur_c", "taskReferenceName": "step"},
            {"name": "count", "taskReferenceName": "count", "type": "INLINE",
             "inputParameters": {"i": "${loop.output.iteration}", "expression": "$.i * 10"}}
         ]}
    ], "outputParameters": {"last": "${count.output.result}"}})
}

/// One round per entry of `kills`: workers work and a starter starts up to `starts`
/// workflows of `name` on `server`, which is killed with SIGKILL after that many
/// milliseconds and started again on `data`. Returns the last process.
async fn crash_rounds(
    mut server: Server,
    data: &Path,
    token: &str,
    acked: &Arc<Mutex<Acknowledged>>,
    name: &'static str,
    starts: usize,
    kills: &[u64],
) -> Server {
    for (round, kill_after_ms) in kills.iter().enumerate() {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let running = workers(&server.base, token, acked, &stop);
        let starting = starter(&server.base, token, acked, name, round, starts);
        tokio::time::sleep(Duration::from_millis(*kill_after_ms)).await;
        {
            let acked = acked.lock().unwrap();
            eprintln!(
                "round {round}: SIGKILL after {kill_after_ms} ms with {} starts and {} completions acknowledged so far",
                acked.started.len(),
                acked.completed.len()
            );
        }
        server.kill();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let _ = starting.await;
        for w in running {
            let _ = w.await;
        }
        server = Server::start(data);
    }
    server
}

/// Starts the binary expecting it to refuse to start; returns what it printed.
async fn start_refused(data_dir: &Path) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_podium"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .env("PODIUM_LOG_FORMAT", "text")
        .env_remove("NO_COLOR")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary runs");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            assert!(!status.success(), "the start was refused");
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the server started instead of refusing");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let output = child.wait_with_output().expect("output");
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Registers `{name}_flow`, one `{name}_task` whose input holds `{"_secrets": {"t"}}`,
/// and starts it with `value` there: a live workflow with a value sealed at rest.
async fn start_with_secret(client: &reqwest::Client, base: &str, name: &str, value: &str) {
    let answer = client
        .post(format!("{base}/api/metadata/workflow"))
        .json(
            &json!({"name": format!("{name}_flow"), "version": 1, "tasks": [
                {"name": format!("{name}_task"), "taskReferenceName": "work", "type": "SIMPLE",
                 "inputParameters": {"_secrets": {"t": "${workflow.input._secrets.tok}"}}}
            ]}),
        )
        .send()
        .await
        .expect("register");
    assert!(answer.status().is_success(), "{}", answer.status());
    let answer = client
        .post(format!("{base}/api/workflow/{name}_flow"))
        .json(&json!({"_secrets": {"tok": value}}))
        .send()
        .await
        .expect("start");
    assert!(answer.status().is_success(), "{}", answer.status());
}

/// A fresh 32-byte key in hex, as `secrets_key` takes it.
/// Writes a key file as an operator should: readable by its owner only (the server
/// refuses to start with key files in its data directory that others can read).
fn write_key(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).expect("key file");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
}

fn new_key_hex() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// The documented rotation without a restart: the old key listed in
/// `PODIUM_SECRETS_PREVIOUS_KEYS`, the new key written to the key file, SIGHUP.
/// Values stay readable throughout, are re-sealed under the new key, and the next
/// start needs only the new key. A broken key file is refused and the server keeps
/// its keys.
#[tokio::test]
async fn sighup_takes_a_new_secrets_key_without_a_restart() {
    let dir = tempfile::tempdir().expect("dir");
    let data = dir.path().join("data");
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&data)
            .expect("data dir");
    }
    let key_file = data.join("secrets.key");
    let (old_key, new_key) = (new_key_hex(), new_key_hex());
    write_key(&key_file, &format!("{old_key}\n"));
    let server = Server::start_with(&data, &[("PODIUM_SECRETS_PREVIOUS_KEYS", &old_key)]);
    let client = client_with(&admin_token(&server.base).await, None);
    let put = |name: &'static str, value: &'static str| {
        let (client, base) = (client.clone(), server.base.clone());
        async move {
            let answer = client
                .put(format!("{base}/api/secrets/{name}"))
                .header("content-type", "text/plain")
                .body(value)
                .send()
                .await
                .expect("put");
            assert!(answer.status().is_success(), "{}", answer.status());
        }
    };
    let get = |name: &'static str| {
        let (client, base) = (client.clone(), server.base.clone());
        async move {
            client
                .get(format!("{base}/api/secrets/{name}"))
                .send()
                .await
                .expect("get")
                .text()
                .await
                .expect("text")
        }
    };
    put("rotated-1", "value-before-rotation").await;
    // A live workflow whose input holds a `_secrets` map, sealed at rest.
    start_with_secret(
        &client,
        &server.base,
        "rotated",
        "live-token-before-rotation",
    )
    .await;

    // A key file that holds no key: refused, the server keeps its keys.
    write_key(&key_file, "not a key\n");
    server.signal("HUP");
    server
        .wait_for_log("the secrets keys were not reloaded")
        .await;
    assert_eq!(get("rotated-1").await, "value-before-rotation");

    // The new key: taken at once, the old value re-sealed in the background.
    write_key(&key_file, &format!("{new_key}\n"));
    server.signal("HUP");
    server.wait_for_log("secrets master keys reloaded").await;
    server
        .wait_for_log("previous keys can now be removed from the configuration")
        .await;
    assert_eq!(get("rotated-1").await, "value-before-rotation");
    put("rotated-2", "value-after-rotation").await;
    server.stop().await;

    // The next start needs only the new key: every value is sealed with it.
    let server = Server::start(&data);
    let client = client_with(&admin_token(&server.base).await, None);
    for (name, value) in [
        ("rotated-1", "value-before-rotation"),
        ("rotated-2", "value-after-rotation"),
    ] {
        let got = client
            .get(format!("{}/api/secrets/{name}", server.base))
            .send()
            .await
            .expect("get");
        assert_eq!(got.text().await.expect("text"), value);
    }
    // The live workflow's `_secrets` were re-sealed too: its worker gets the value.
    let polled: Value = client
        .get(format!("{}/api/tasks/poll/rotated_task", server.base))
        .send()
        .await
        .expect("poll")
        .json()
        .await
        .expect("task");
    assert_eq!(
        polled["inputData"]["_secrets"]["t"],
        "live-token-before-rotation"
    );
    server.stop().await;
}

/// Workflow data sealed at rest is guarded like secrets: with no secret stored but a
/// live workflow holding `_secrets`, a start without the key file, or with another
/// key, is refused and changes nothing; the right key starts and the worker still
/// gets its value.
#[tokio::test]
async fn a_start_with_a_key_that_cannot_open_workflow_data_is_refused() {
    let dir = tempfile::tempdir().expect("dir");
    let data = dir.path().join("data");
    let server = Server::start(&data);
    let client = client_with(&admin_token(&server.base).await, None);
    start_with_secret(&client, &server.base, "guarded", "guarded-value-8").await;
    server.stop().await;

    let key_file = data.join("secrets.key");
    let key = std::fs::read_to_string(&key_file).expect("generated key");
    std::fs::remove_file(&key_file).expect("remove");
    let refused = start_refused(&data).await;
    assert!(refused.contains("missing"), "{refused}");
    assert!(!key_file.exists(), "no new key was generated");
    write_key(&key_file, &format!("{}\n", new_key_hex()));
    let refused = start_refused(&data).await;
    assert!(refused.contains("live workflows"), "{refused}");
    assert!(refused.contains("Nothing was changed"), "{refused}");

    write_key(&key_file, &key);
    let server = Server::start(&data);
    let client = client_with(&admin_token(&server.base).await, None);
    let polled: Value = client
        .get(format!("{}/api/tasks/poll/guarded_task", server.base))
        .send()
        .await
        .expect("poll")
        .json()
        .await
        .expect("task");
    assert_eq!(polled["inputData"]["_secrets"]["t"], "guarded-value-8");
    server.stop().await;
}
