//! Real server processes for the tests that need them (crashes, signals, several
//! nodes), and the load they are put under: workers that record what the server
//! acknowledged, and the check that nothing acknowledged was lost and nothing
//! completed twice.

#![allow(dead_code)]

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// A server process, its address and its log lines so far.
pub struct Server {
    pub child: Child,
    pub base: String,
    pub logs: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// Starts the binary on a port chosen by the OS and reads the port from its log.
    pub fn start(data_dir: &Path) -> Server {
        Server::start_with(data_dir, &[])
    }

    /// [`Server::start`] with more environment variables.
    pub fn start_with(data_dir: &Path, env: &[(&str, &str)]) -> Server {
        let mut command = Command::new(env!("CARGO_BIN_EXE_podium"));
        // The server refuses PODIUM_* variables it does not know, such as the test
        // suites' own: it gets only those given here.
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("PODIUM_") {
                command.env_remove(name);
            }
        }
        let mut child = command
            .envs(env.iter().copied())
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .env("PODIUM_LOG_FORMAT", "text")
            .env("PODIUM_LOG_LEVEL", "info")
            .env("PODIUM_ADMIN_KEY_ID", ADMIN_KEY_ID)
            .env("PODIUM_ADMIN_KEY_SECRET", ADMIN_KEY_SECRET)
            .env_remove("NO_COLOR")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("server starts");
        // What it prints on stderr (a refusal to start) goes with the logs.
        let stderr = child.stderr.take().expect("stderr");
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
        let kept = logs.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                kept.lock().unwrap().push(line);
            }
        });
        let Ok(addr) = found_rx.recv_timeout(Duration::from_secs(30)) else {
            // What it printed last, once its reader caught up.
            let _ = found_rx.recv_timeout(Duration::from_millis(200));
            panic!(
                "the server did not log its address:\n{}",
                logs.lock().unwrap().join("\n")
            );
        };
        Server {
            child,
            base: format!("http://{addr}"),
            logs,
        }
    }

    /// Sends a signal to the process.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -{name}");
    }

    /// Waits up to 10 s for a log line containing `text`.
    pub async fn wait_for_log(&self, text: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.logs.lock().unwrap().iter().any(|l| l.contains(text)) {
            assert!(Instant::now() < deadline, "no log line with {text:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// SIGKILL: no chance to flush or finish anything.
    pub fn kill(mut self) {
        self.child.kill().expect("kill");
        let _ = self.child.wait();
    }

    /// SIGTERM, then SIGKILL if it does not stop within 10 s.
    pub async fn stop(mut self) {
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

pub fn now_millis() -> i64 {
    #[allow(clippy::disallowed_methods)] // the test compares with the server's real clock
    let now = std::time::SystemTime::now();
    now.duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// What the test was told was done.
#[derive(Default)]
pub struct Acknowledged {
    pub started: HashSet<String>,
    /// task id -> (token sent as its output, when the answer came, epoch ms)
    pub completed: HashMap<String, (String, i64)>,
}

pub const ADMIN_KEY_ID: &str = "durability-admin";
pub const ADMIN_KEY_SECRET: &str = "durability-admin-secret-0123456789abcdef";

/// A token of the first admin application, valid for a day. It stays valid across
/// the kills: the server key lives in the data directory.
pub async fn admin_token(base: &str) -> String {
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
pub fn client_with(token: &str, timeout: Option<Duration>) -> reqwest::Client {
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
pub const TASKS: [&str; 3] = ["dur_a", "dur_b", "dur_c"];

pub async fn setup(client: &reqwest::Client, base: &str) {
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
pub async fn worker(
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
        // A refusal (the server or its database is away): try again shortly.
        let Ok(tasks) = polled.json::<Vec<Value>>().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
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

impl Drop for Server {
    /// A test that fails leaves no server running behind it.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until every started workflow completed (at most `limit`), asking `base`;
/// returns them.
pub async fn wait_completed(
    client: &reqwest::Client,
    base: &str,
    started: &[String],
    limit: Duration,
) -> HashMap<String, Value> {
    let deadline = Instant::now() + limit;
    let mut workflows: HashMap<String, Value> = HashMap::new();
    for id in started {
        loop {
            let answer = client
                .get(format!("{base}/api/workflow/{id}"))
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
    workflows
}

/// Six [`worker`]s against `base` until `stop` is set.
pub fn workers(
    base: &str,
    token: &str,
    acked: &Arc<Mutex<Acknowledged>>,
    stop: &Arc<std::sync::atomic::AtomicBool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..6)
        .map(|id| {
            tokio::spawn(worker(
                base.to_string(),
                token.to_string(),
                acked.clone(),
                stop.clone(),
                id,
            ))
        })
        .collect()
}

/// Starts up to `count` workflows of `name` (input `{"round", "n"}`) against `base`,
/// one after the other, recording each acknowledged start; stops at the first
/// failure (the server died).
pub fn starter(
    base: &str,
    token: &str,
    acked: &Arc<Mutex<Acknowledged>>,
    name: &'static str,
    round: usize,
    count: usize,
) -> tokio::task::JoinHandle<()> {
    let (base, acked) = (base.to_string(), acked.clone());
    let client = client_with(token, Some(Duration::from_secs(5)));
    tokio::spawn(async move {
        for n in 0..count {
            let answer = client
                .post(format!("{base}/api/workflow/{name}"))
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
}

/// Checks that every acknowledged completion is stored as sent and that each step
/// of each workflow completed once.
pub fn verify(acked: &Acknowledged, workflows: &HashMap<String, Value>) {
    verify_steps(acked, workflows, &TASKS);
}

/// Checks that every acknowledged completion is stored as sent and that the task of
/// each reference in `steps` completed once in each workflow.
pub fn verify_steps(acked: &Acknowledged, workflows: &HashMap<String, Value>, steps: &[&str]) {
    let mut tasks_by_id: HashMap<String, Value> = HashMap::new();
    for workflow in workflows.values() {
        let tasks = workflow["tasks"].as_array().cloned().unwrap_or_default();
        for name in steps {
            let completed = tasks
                .iter()
                .filter(|t| t["referenceTaskName"] == *name && t["status"] == "COMPLETED")
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
}
