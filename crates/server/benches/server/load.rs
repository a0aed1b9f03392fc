//! The S3 load: a 3-task workflow kept in flight by starters, and workers
//! batch-polling and completing its tasks over HTTP, against one server process.
//! S3, S1 and S7 measure it.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{Security, Server, post};

pub const S3_TYPES: [&str; 3] = ["s3_a", "s3_b", "s3_c"];

/// What the S3 tasks get as input besides the workflow's `n`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Inputs {
    /// Nothing else.
    Plain,
    /// Ten `${workflow.secrets.*}` references, resolved when each task is handed over.
    Secrets,
    /// The same ten values written literally.
    Literals,
}

pub const S7_SECRETS: usize = 10;

fn s7_value(i: usize) -> String {
    format!("s7-secret-value-{i:02}-0123456789abcdef")
}

async fn s3_register(client: &reqwest::Client, base: &str, inputs: Inputs) {
    let defs: Vec<Value> = S3_TYPES
        .iter()
        .map(|t| json!({"name": t, "retryCount": 0, "responseTimeoutSeconds": 300}))
        .collect();
    post(
        client,
        format!("{base}/api/metadata/taskdefs"),
        &json!(defs),
    )
    .await;
    let mut params = serde_json::Map::new();
    params.insert("n".into(), json!("${workflow.input.n}"));
    for i in 0..S7_SECRETS {
        let value = match inputs {
            Inputs::Plain => continue,
            Inputs::Secrets => {
                let answer = client
                    .put(format!("{base}/api/secrets/s7-secret-{i}"))
                    .header("content-type", "text/plain")
                    .body(s7_value(i))
                    .send()
                    .await
                    .expect("put secret");
                assert!(answer.status().is_success(), "{}", answer.status());
                format!("${{workflow.secrets.s7-secret-{i}}}")
            }
            Inputs::Literals => s7_value(i),
        };
        params.insert(format!("s{i}"), json!(value));
    }
    let tasks: Vec<Value> = S3_TYPES
        .iter()
        .map(|t| json!({"name": t, "taskReferenceName": t, "inputParameters": params}))
        .collect();
    post(
        client,
        format!("{base}/api/metadata/workflow?overwrite=true"),
        &json!({"name": "s3_flow", "version": 1, "tasks": tasks}),
    )
    .await;
}

/// The S3 load on one server: starters keeping 400 workflows in flight and, per task
/// type, four workers batch-polling and completing tasks. It runs only while
/// `active` is set (paused otherwise), and counts only while `measuring` is.
pub struct S3Load {
    server: Server,
    data: std::path::PathBuf,
    active: Arc<AtomicBool>,
    measuring: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    completed: Arc<AtomicU64>,
    updates: Arc<AtomicU64>,
    in_flight: Arc<tokio::sync::Semaphore>,
    handles: Vec<tokio::task::JoinHandle<()>>,
}

/// What one measured stretch of an [`S3Load`] did.
pub struct S3Result {
    pub workflows_per_second: f64,
    pub updates_per_second: f64,
    /// Server CPU time (all threads) per task update while measuring, in µs.
    pub cpu_us_per_update: f64,
}

/// Sleeps while the load is paused; false once it is stopped.
async fn wait_active(active: &AtomicBool, stop: &AtomicBool) -> bool {
    while !active.load(Ordering::Relaxed) {
        if stop.load(Ordering::Relaxed) {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    !stop.load(Ordering::Relaxed)
}

impl S3Load {
    /// Starts a server with the S3 definitions and its load, paused.
    pub async fn start(dir: &Path, durability: &str, security: Security, inputs: Inputs) -> S3Load {
        let data = dir.join(format!("server-{}", uuid::Uuid::new_v4()));
        let server = Server::start(&data, durability, security);
        let base = server.base.clone();
        s3_register(&server.admin().await, &base, inputs).await;
        // A starter program and a worker application with only what they need.
        let mut grants: Vec<(&str, &str)> = S3_TYPES.iter().map(|t| ("TASK_DEF", *t)).collect();
        let workers_http = server.application("s3-workers", &["WORKER"], &grants).await;
        grants.push(("WORKFLOW_DEF", "s3_flow"));
        let secret_names: Vec<String> = (0..S7_SECRETS).map(|i| format!("s7-secret-{i}")).collect();
        if inputs == Inputs::Secrets {
            grants.extend(secret_names.iter().map(|n| ("SECRET_NAME", n.as_str())));
        }
        let http = server.application("s3-starter", &[], &grants).await;
        let mut load = S3Load {
            server,
            data,
            active: Arc::new(AtomicBool::new(false)),
            measuring: Arc::new(AtomicBool::new(false)),
            stop: Arc::new(AtomicBool::new(false)),
            completed: Arc::new(AtomicU64::new(0)),
            updates: Arc::new(AtomicU64::new(0)),
            in_flight: Arc::new(tokio::sync::Semaphore::new(400)),
            handles: Vec::new(),
        };
        // Starters: keep up to 400 workflows in flight.
        for s in 0..4 {
            let (http, base, stop, active, in_flight) = (
                http.clone(),
                base.clone(),
                load.stop.clone(),
                load.active.clone(),
                load.in_flight.clone(),
            );
            load.handles.push(tokio::spawn(async move {
                let mut n = 0u64;
                while wait_active(&active, &stop).await {
                    let Ok(permit) = in_flight.clone().acquire_owned().await else {
                        break;
                    };
                    permit.forget();
                    n += 1;
                    let sent = http
                        .post(format!("{base}/api/workflow/s3_flow"))
                        .json(&json!({"n": n, "s": s}))
                        .send()
                        .await;
                    if sent.is_err() {
                        break;
                    }
                }
            }));
        }
        // Workers: per task type, batch polls and update-v2 chains, as the SDK workers do.
        for (index, task_type) in S3_TYPES.iter().enumerate() {
            for w in 0..4 {
                let (http, base, stop, active, in_flight) = (
                    workers_http.clone(),
                    base.clone(),
                    load.stop.clone(),
                    load.active.clone(),
                    load.in_flight.clone(),
                );
                let (completed, updates, measuring) = (
                    load.completed.clone(),
                    load.updates.clone(),
                    load.measuring.clone(),
                );
                let last = index == S3_TYPES.len() - 1;
                load.handles.push(tokio::spawn(async move {
                    while wait_active(&active, &stop).await {
                        let Ok(response) = http
                            .get(format!("{base}/api/tasks/poll/batch/{task_type}?workerid=w{w}&count=16&timeout=100"))
                            .send()
                            .await
                        else {
                            break;
                        };
                        let Ok(tasks) = response.json::<Vec<Value>>().await else { break };
                        let mut queue: Vec<Value> = tasks;
                        while let Some(task) = queue.pop() {
                            let result = json!({
                                "workflowInstanceId": task["workflowInstanceId"],
                                "taskId": task["taskId"],
                                "status": "COMPLETED",
                                "workerId": format!("w{w}"),
                                "outputData": {"done": true}
                            });
                            let Ok(response) = http.post(format!("{base}/api/tasks/update-v2")).json(&result).send().await else {
                                break;
                            };
                            if measuring.load(Ordering::Relaxed) {
                                updates.fetch_add(1, Ordering::Relaxed);
                                if last {
                                    completed.fetch_add(1, Ordering::Relaxed);
                                }
                            }
                            if last {
                                in_flight.add_permits(1);
                            }
                            if response.status().as_u16() == 200
                                && let Ok(next) = response.json::<Value>().await
                            {
                                queue.push(next);
                            }
                        }
                    }
                }));
            }
        }
        load
    }

    /// Runs the load for `settle` seconds, then measures it for `seconds`, then
    /// pauses it.
    pub async fn measure(&self, settle: f64, seconds: f64) -> S3Result {
        self.active.store(true, Ordering::Relaxed);
        tokio::time::sleep(Duration::from_secs_f64(settle)).await;
        let (completed, updates) = (
            self.completed.load(Ordering::Relaxed),
            self.updates.load(Ordering::Relaxed),
        );
        self.measuring.store(true, Ordering::Relaxed);
        let cpu_before = self.server.cpu_seconds();
        let started = Instant::now();
        tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
        self.measuring.store(false, Ordering::Relaxed);
        let elapsed = started.elapsed().as_secs_f64();
        let cpu = cpu_before
            .zip(self.server.cpu_seconds())
            .map_or(f64::NAN, |(before, after)| after - before);
        self.active.store(false, Ordering::Relaxed);
        let updates = (self.updates.load(Ordering::Relaxed) - updates) as f64;
        let completed = (self.completed.load(Ordering::Relaxed) - completed) as f64;
        S3Result {
            workflows_per_second: completed / elapsed,
            updates_per_second: updates / elapsed,
            cpu_us_per_update: cpu * 1e6 / updates.max(1.0),
        }
    }

    /// Stops the load and the server, and removes its data.
    pub async fn finish(self) {
        self.stop.store(true, Ordering::Relaxed);
        self.in_flight.add_permits(10_000);
        for handle in self.handles {
            let _ = tokio::time::timeout(Duration::from_secs(5), handle).await;
        }
        self.server.stop();
        let _ = std::fs::remove_dir_all(&self.data);
    }
}
