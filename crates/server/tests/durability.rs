//! With a real process. Crash safety: the server is killed with SIGKILL under load, at
//! several moments, and started again on the same data directory. No acknowledged start
//! or task update may be lost, no task may be completed twice, and every workflow must
//! still complete (the sweeper retries tasks whose leases died with the process).
//! Key rotation: SIGHUP takes a new secrets master key while the server serves, and
//! a start with a key that cannot open the sealed workflow data is refused.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// A server process, its address and its log lines so far.
struct Server {
    child: Child,
    base: String,
    logs: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// Starts the binary on a port chosen by the OS and reads the port from its log.
    fn start(data_dir: &Path) -> Server {
        Server::start_with(data_dir, &[])
    }

    /// [`Server::start`] with more environment variables.
    fn start_with(data_dir: &Path, env: &[(&str, &str)]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_podium"))
            .envs(env.iter().copied())
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .env("PODIUM_LOG_FORMAT", "text")
            .env("PODIUM_LOG_LEVEL", "info")
            .env("PODIUM_ADMIN_KEY_ID", ADMIN_KEY_ID)
            .env("PODIUM_ADMIN_KEY_SECRET", ADMIN_KEY_SECRET)
            .env_remove("NO_COLOR")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("server starts");
        let stdout = child.stdout.take().expect("stdout");
        let (found_tx, found_rx) = std::sync::mpsc::channel();
        let logs: Arc<Mutex<Vec<String>>> = Arc::default();
        let kept = logs.clone();
        std::thread::spawn(move || {
            let mut found = Some(found_tx);
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(rest) = line.split("listening on http://").nth(1) {
                    let addr: String = rest.chars().take_while(|c| !c.is_whitespace()).collect();
                    if let Some(tx) = found.take() {
                        let _ = tx.send(addr);
                    }
                }
                kept.lock().unwrap().push(line);
            }
        });
        let addr = found_rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the server logs its address");
        Server {
            child,
            base: format!("http://{addr}"),
            logs,
        }
    }

    /// Sends a signal to the process.
    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -{name}");
    }

    /// Waits up to 10 s for a log line containing `text`.
    async fn wait_for_log(&self, text: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.logs.lock().unwrap().iter().any(|l| l.contains(text)) {
            assert!(Instant::now() < deadline, "no log line with {text:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// SIGKILL: no chance to flush or finish anything.
    fn kill(mut self) {
        self.child.kill().expect("kill");
        let _ = self.child.wait();
    }

    /// SIGTERM, then SIGKILL if it does not stop within 10 s.
    async fn stop(mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn now_millis() -> i64 {
    #[allow(clippy::disallowed_methods)] // the test compares with the server's real clock
    let now = std::time::SystemTime::now();
    now.duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// What the test was told was done.
#[derive(Default)]
struct Acknowledged {
    started: HashSet<String>,
    /// task id -> (token sent as its output, when the answer came, epoch ms)
    completed: HashMap<String, (String, i64)>,
}

const WORKFLOWS: usize = 300;
const ADMIN_KEY_ID: &str = "durability-admin";
const ADMIN_KEY_SECRET: &str = "durability-admin-secret-0123456789abcdef";

/// A token of the first admin application, valid for a day. It stays valid across
/// the kills: the server key lives in the data directory.
async fn admin_token(base: &str) -> String {
    let answer = reqwest::Client::new()
        .post(format!("{base}/api/token"))
        .json(&json!({"keyId": ADMIN_KEY_ID, "keySecret": ADMIN_KEY_SECRET, "expiration": 86_400_000}))
        .send()
        .await
        .expect("token request");
    assert!(answer.status().is_success(), "{}", answer.status());
    let body: Value = answer.json().await.expect("token json");
    body["token"].as_str().expect("token").to_string()
}

/// A client that sends `token` with every request.
fn client_with(token: &str, timeout: Option<Duration>) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        "X-Authorization",
        reqwest::header::HeaderValue::from_str(token).expect("header"),
    );
    let mut builder = reqwest::Client::builder().default_headers(headers);
    if let Some(timeout) = timeout {
        builder = builder.timeout(timeout);
    }
    builder.build().expect("client")
}
const TASKS: [&str; 3] = ["dur_a", "dur_b", "dur_c"];

async fn setup(client: &reqwest::Client, base: &str) {
    let defs: Vec<Value> = TASKS
        .iter()
        .map(|name| json!({"name": name, "retryCount": 10, "retryDelaySeconds": 0, "responseTimeoutSeconds": 2}))
        .collect();
    let answer = client
        .post(format!("{base}/api/metadata/taskdefs"))
        .json(&defs)
        .send()
        .await
        .expect("defs");
    assert!(answer.status().is_success());
    let tasks: Vec<Value> = TASKS
        .iter()
        .map(|name| json!({"name": name, "taskReferenceName": name}))
        .collect();
    let workflow = json!({"name": "durable", "version": 1, "tasks": tasks});
    let answer = client
        .post(format!("{base}/api/metadata/workflow?overwrite=true"))
        .json(&workflow)
        .send()
        .await
        .expect("workflow");
    assert!(answer.status().is_success());
}

/// Runs a worker loop against `base` until stopped; records acknowledged completions.
async fn worker(
    base: String,
    token: String,
    acked: Arc<Mutex<Acknowledged>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
    id: usize,
) {
    let client = client_with(&token, Some(Duration::from_secs(5)));
    let mut n = 0u64;
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        let task_type = TASKS[(id + n as usize) % TASKS.len()];
        n += 1;
        let polled = client
            .get(format!(
                "{base}/api/tasks/poll/batch/{task_type}?workerid=w{id}&count=4&timeout=100"
            ))
            .send()
            .await;
        let Ok(polled) = polled else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let Ok(tasks) = polled.json::<Vec<Value>>().await else {
            continue;
        };
        for task in tasks {
            let task_id = task["taskId"].as_str().unwrap_or_default().to_string();
            let token = format!("{task_id}-by-w{id}");
            let sent = client
                .post(format!("{base}/api/tasks"))
                .json(&json!({
                    "workflowInstanceId": task["workflowInstanceId"],
                    "taskId": task_id,
                    "status": "COMPLETED",
                    "workerId": format!("w{id}"),
                    "outputData": {"token": token}
                }))
                .send()
                .await;
            if let Ok(answer) = sent
                && answer.status().is_success()
            {
                acked
                    .lock()
                    .unwrap()
                    .completed
                    .insert(task_id, (token, now_millis()));
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_under_load_loses_nothing_and_strands_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let acked = Arc::new(Mutex::new(Acknowledged::default()));

    let mut server = Server::start(&data);
    let token = admin_token(&server.base).await;
    let client = client_with(&token, None);
    setup(&client, &server.base).await;

    // Three rounds: start workflows and work on them under load, then SIGKILL at a
    // different moment each round.
    for (round, kill_after_ms) in [(0, 350u64), (1, 120), (2, 600)] {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut workers = Vec::new();
        for id in 0..6 {
            workers.push(tokio::spawn(worker(
                server.base.clone(),
                token.clone(),
                acked.clone(),
                stop.clone(),
                id,
            )));
        }
        let starter = {
            let base = server.base.clone();
            let acked = acked.clone();
            let client = client_with(&token, Some(Duration::from_secs(5)));
            tokio::spawn(async move {
                for n in 0..WORKFLOWS / 3 {
                    let answer = client
                        .post(format!("{base}/api/workflow/durable"))
                        .json(&json!({"round": round, "n": n}))
                        .send()
                        .await;
                    match answer {
                        Ok(answer) if answer.status().is_success() => {
                            let id = answer.text().await.unwrap_or_default();
                            acked.lock().unwrap().started.insert(id);
                        }
                        _ => break,
                    }
                }
            })
        };
        tokio::time::sleep(Duration::from_millis(kill_after_ms)).await;
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
        let _ = starter.await;
        for w in workers {
            let _ = w.await;
        }
        server = Server::start(&data);
    }

    // Finish everything on the last process.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut workers = Vec::new();
    for id in 0..6 {
        workers.push(tokio::spawn(worker(
            server.base.clone(),
            token.clone(),
            acked.clone(),
            stop.clone(),
            id,
        )));
    }
    let started: Vec<String> = acked.lock().unwrap().started.iter().cloned().collect();
    assert!(
        started.len() >= 10,
        "the rounds started workflows ({})",
        started.len()
    );
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut workflows: HashMap<String, Value> = HashMap::new();
    for id in &started {
        loop {
            let answer = client
                .get(format!("{}/api/workflow/{id}", server.base))
                .send()
                .await
                .expect("get");
            assert_eq!(
                answer.status().as_u16(),
                200,
                "acknowledged workflow {id} exists after the crashes"
            );
            let workflow: Value = answer.json().await.expect("json");
            if workflow["status"] == "COMPLETED" {
                workflows.insert(id.clone(), workflow);
                break;
            }
            assert!(
                Instant::now() < deadline,
                "workflow {id} is stuck: {}",
                serde_json::to_string_pretty(&workflow).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for w in workers {
        let _ = w.await;
    }

    // Every acknowledged completion is stored as sent; each step completed once.
    let acked = std::mem::take(&mut *acked.lock().unwrap());
    let mut tasks_by_id: HashMap<String, Value> = HashMap::new();
    for workflow in workflows.values() {
        let tasks = workflow["tasks"].as_array().cloned().unwrap_or_default();
        for name in TASKS {
            let completed = tasks
                .iter()
                .filter(|t| t["referenceTaskName"] == name && t["status"] == "COMPLETED")
                .count();
            assert_eq!(
                completed, 1,
                "step {name} of {} completed once",
                workflow["workflowId"]
            );
        }
        for task in tasks {
            tasks_by_id.insert(
                task["taskId"].as_str().unwrap_or_default().to_string(),
                task,
            );
        }
    }
    for (task_id, (token, acked_at)) in acked.completed.iter() {
        let Some(task) = tasks_by_id.get(task_id) else {
            // Completions of workflows whose start was never acknowledged are not tracked.
            continue;
        };
        if task["status"] == "COMPLETED" {
            assert_eq!(
                task["outputData"]["token"],
                json!(token),
                "the stored output is the acknowledged one"
            );
        } else {
            // A result that arrives after the task's lease ran out is accepted and
            // ignored (Conductor's rule). Anything else means an acknowledged update
            // was lost.
            let timed_out_at = task["endTime"].as_i64().unwrap_or(i64::MAX);
            assert!(
                task["status"] == "TIMED_OUT" && timed_out_at <= *acked_at,
                "acknowledged completion of {task_id} at {acked_at} was lost: {task}"
            );
        }
    }
    server.stop().await;
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
