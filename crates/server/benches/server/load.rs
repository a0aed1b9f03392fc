//! The S3 load: a 3-task workflow kept in flight by starters, and workers
//! batch-polling and completing its tasks over HTTP, against one server process on
//! SQLite, or one or more processes sharing a PostgreSQL database. S3, S1, S7, S6 and
//! S8 measure it.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{Security, Server, bearer_client, post};

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

/// Where the servers of an [`S3Load`] keep their data.
#[derive(Debug, Clone, Copy)]
pub enum Store<'a> {
    /// One server on SQLite in its data directory, with this `durability`.
    Sqlite(&'a str),
    /// `nodes` servers sharing the PostgreSQL database at `url` (and one server key),
    /// each with a pool of `pool` connections.
    Postgres {
        url: &'a str,
        nodes: usize,
        pool: usize,
    },
}

/// The secrets master key every PostgreSQL node shares.
const SHARED_SECRETS_KEY: &str = "5ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7";

/// Starts the servers `store` names, data under `data` (the first is started alone:
/// it migrates a new database and creates the server key and the first admin).
fn start_servers(data: &Path, store: Store<'_>, security: Security) -> Vec<Server> {
    match store {
        Store::Sqlite(durability) => vec![Server::start(data, durability, security)],
        Store::Postgres { url, nodes, pool } => {
            std::fs::create_dir_all(data).expect("data dir");
            let env = vec![
                ("PODIUM_DATABASE_URL".to_string(), url.to_string()),
                ("PODIUM_DATABASE_POOL_SIZE".to_string(), pool.to_string()),
                (
                    "PODIUM_SERVER_KEY_FILE".to_string(),
                    data.join("server.key").to_string_lossy().to_string(),
                ),
                (
                    "PODIUM_SECRETS_KEY".to_string(),
                    SHARED_SECRETS_KEY.to_string(),
                ),
            ];
            (0..nodes.max(1))
                .map(|n| {
                    Server::start_with(&data.join(format!("node{n}")), "process", security, &env)
                })
                .collect()
        }
    }
}

/// Waits until `base` (a node other than the one everything was set up on) knows
/// the workers' grants and the workflow: a poll answers 200 and a start succeeds.
/// Returns how many workflows it started (0 or 1).
async fn wait_ready(base: &str, workers: &reqwest::Client, starter: &reqwest::Client) -> usize {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let polled = workers
            .get(format!(
                "{base}/api/tasks/poll/batch/{}?workerid=probe&count=1&timeout=0",
                S3_TYPES[0]
            ))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200);
        if polled
            && starter
                .post(format!("{base}/api/workflow/s3_flow"))
                .json(&json!({"n": 0}))
                .send()
                .await
                .is_ok_and(|r| r.status() == 200)
        {
            return 1;
        }
        assert!(
            Instant::now() < deadline,
            "{base} did not learn the S3 setup within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The S3 load on its servers: starters keeping 400 workflows in flight and, per task
/// type, four workers batch-polling and completing tasks (spread over the servers
/// round-robin when there are several). It runs only while `active` is set (paused
/// otherwise), and counts only while `measuring` is.
pub struct S3Load {
    servers: Vec<Server>,
    data: std::path::PathBuf,
    /// The starter program's client and the first server, for [`S3Load::latencies`].
    starter: reqwest::Client,
    base: String,
    active: Arc<AtomicBool>,
    /// Whether the starters start workflows while the load is active (not while
    /// [`S3Load::latencies`] runs its workflows one at a time).
    starting: Arc<AtomicBool>,
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
    /// The measured stretch, in milliseconds since the Unix epoch (as the server
    /// stamps start and end times).
    pub window_ms: (i64, i64),
}

fn epoch_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
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

/// How the S3 workers authenticate.
pub enum WorkerAuth {
    /// A token minted from an access key of their application.
    Key,
    /// An access token of the OpenID Connect provider's client credentials grant;
    /// their application is named by the client id.
    Bearer { client: String, token: String },
}

impl S3Load {
    /// Starts a server on SQLite with the S3 definitions and its load, paused.
    pub async fn start(dir: &Path, durability: &str, security: Security, inputs: Inputs) -> S3Load {
        S3Load::start_on(dir, Store::Sqlite(durability), security, inputs).await
    }

    /// Starts the servers `store` names with the S3 definitions and the load, paused.
    pub async fn start_on(
        dir: &Path,
        store: Store<'_>,
        security: Security,
        inputs: Inputs,
    ) -> S3Load {
        let data = dir.join(format!("server-{}", uuid::Uuid::new_v4()));
        let servers = start_servers(&data, store, security);
        S3Load::launch(servers, data, inputs, WorkerAuth::Key).await
    }

    /// Starts a server on SQLite that accepts the access tokens of the OpenID
    /// Connect provider at `issuer` (audience `podium-api`), with the S3 load,
    /// paused; its workers authenticate as `workers` says.
    pub async fn start_oidc(dir: &Path, issuer: &str, workers: WorkerAuth) -> S3Load {
        let data = dir.join(format!("server-{}", uuid::Uuid::new_v4()));
        let env = [
            ("PODIUM_OIDC_ISSUER_URL".to_string(), issuer.to_string()),
            ("PODIUM_OIDC_AUDIENCE".to_string(), "podium-api".to_string()),
        ];
        let servers = vec![Server::start_with(&data, "process", Security::On, &env)];
        S3Load::launch(servers, data, Inputs::Plain, workers).await
    }

    /// Registers the S3 definitions on `servers` and starts the load, paused.
    async fn launch(
        servers: Vec<Server>,
        data: PathBuf,
        inputs: Inputs,
        workers: WorkerAuth,
    ) -> S3Load {
        let server = &servers[0];
        let base = server.base.clone();
        let bases: Vec<String> = servers.iter().map(|s| s.base.clone()).collect();
        s3_register(&server.admin().await, &base, inputs).await;
        // A starter program and a worker application with only what they need.
        let mut grants: Vec<(&str, &str)> = S3_TYPES.iter().map(|t| ("TASK_DEF", *t)).collect();
        let workers_http = match workers {
            WorkerAuth::Key => server.application("s3-workers", &["WORKER"], &grants).await,
            WorkerAuth::Bearer { client, token } => {
                // The application the provider's client acts as, named by its id.
                server.new_key(&client, &["WORKER"], &grants).await;
                bearer_client(&token)
            }
        };
        grants.push(("WORKFLOW_DEF", "s3_flow"));
        let secret_names: Vec<String> = (0..S7_SECRETS).map(|i| format!("s7-secret-{i}")).collect();
        if inputs == Inputs::Secrets {
            grants.extend(secret_names.iter().map(|n| ("SECRET_NAME", n.as_str())));
        }
        let http = server.application("s3-starter", &[], &grants).await;
        // The other nodes hear of the setup from the database; each starts a workflow
        // once it has, which stays in flight with the load's.
        let mut probes = 0;
        for other in &bases[1..] {
            probes += wait_ready(other, &workers_http, &http).await;
        }
        let mut load = S3Load {
            servers,
            data,
            starter: http.clone(),
            base: base.clone(),
            active: Arc::new(AtomicBool::new(false)),
            starting: Arc::new(AtomicBool::new(true)),
            measuring: Arc::new(AtomicBool::new(false)),
            stop: Arc::new(AtomicBool::new(false)),
            completed: Arc::new(AtomicU64::new(0)),
            updates: Arc::new(AtomicU64::new(0)),
            in_flight: Arc::new(tokio::sync::Semaphore::new(400 - probes)),
            handles: Vec::new(),
        };
        // Starters: keep up to 400 workflows in flight.
        for s in 0..4 {
            let (http, base, stop, active, in_flight) = (
                http.clone(),
                bases[s % bases.len()].clone(),
                load.stop.clone(),
                load.active.clone(),
                load.in_flight.clone(),
            );
            let starting = load.starting.clone();
            load.handles.push(tokio::spawn(async move {
                let mut n = 0u64;
                while wait_active(&active, &stop).await {
                    if !starting.load(Ordering::Relaxed) {
                        tokio::time::sleep(Duration::from_millis(5)).await;
                        continue;
                    }
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
                    bases[w % bases.len()].clone(),
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

    /// Runs `warmup` workflows and then `samples` more one at a time, each through the
    /// synchronous start (`POST /api/workflow/execute/s3_flow/1`, answered once the
    /// workflow has completed) while the workers poll as under load and the starters
    /// rest; returns the samples' start-to-completed times in milliseconds.
    pub async fn latencies(&self, warmup: usize, samples: usize) -> Vec<f64> {
        self.starting.store(false, Ordering::Relaxed);
        self.active.store(true, Ordering::Relaxed);
        let url = format!("{}/api/workflow/execute/s3_flow/1", self.base);
        let mut times = Vec::with_capacity(samples);
        for i in 0..warmup + samples {
            let started = Instant::now();
            let run: Value = post(&self.starter, url.clone(), &json!({"input": {"n": i}}))
                .await
                .json()
                .await
                .expect("execute answer");
            let elapsed = started.elapsed().as_secs_f64() * 1000.0;
            assert_eq!(
                run["targetWorkflowStatus"], "COMPLETED",
                "a synchronous start did not complete: {run}"
            );
            if i >= warmup {
                times.push(elapsed);
            }
        }
        self.active.store(false, Ordering::Relaxed);
        self.starting.store(true, Ordering::Relaxed);
        times
    }

    /// Runs the load for `settle` seconds, then measures it for `seconds`, then
    /// pauses it.
    pub async fn measure(&self, settle: f64, seconds: f64) -> S3Result {
        self.measure_with(settle, seconds, || ()).await.0
    }

    /// [`S3Load::measure`], and `sample` taken at the start and at the end of the
    /// measured stretch (e.g. the CPU time of other processes).
    pub async fn measure_with<T>(
        &self,
        settle: f64,
        seconds: f64,
        sample: impl Fn() -> T,
    ) -> (S3Result, T, T) {
        self.active.store(true, Ordering::Relaxed);
        tokio::time::sleep(Duration::from_secs_f64(settle)).await;
        let (completed, updates) = (
            self.completed.load(Ordering::Relaxed),
            self.updates.load(Ordering::Relaxed),
        );
        self.measuring.store(true, Ordering::Relaxed);
        let (cpu_before, sample_before) = (self.cpu_seconds(), sample());
        let (started, started_ms) = (Instant::now(), epoch_ms());
        tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
        self.measuring.store(false, Ordering::Relaxed);
        let elapsed = started.elapsed().as_secs_f64();
        let window_ms = (started_ms, epoch_ms());
        let sample_after = sample();
        let cpu = cpu_before
            .zip(self.cpu_seconds())
            .map_or(f64::NAN, |(before, after)| after - before);
        self.active.store(false, Ordering::Relaxed);
        let updates = (self.updates.load(Ordering::Relaxed) - updates) as f64;
        let completed = (self.completed.load(Ordering::Relaxed) - completed) as f64;
        let result = S3Result {
            workflows_per_second: completed / elapsed,
            updates_per_second: updates / elapsed,
            cpu_us_per_update: cpu * 1e6 / updates.max(1.0),
            window_ms,
        };
        (result, sample_before, sample_after)
    }

    /// CPU time all the load's servers have used so far.
    fn cpu_seconds(&self) -> Option<f64> {
        self.servers.iter().map(Server::cpu_seconds).sum()
    }

    /// Stops the load and the servers, and removes their data.
    pub async fn finish(self) {
        self.stop.store(true, Ordering::Relaxed);
        self.in_flight.add_permits(10_000);
        for handle in self.handles {
            let _ = tokio::time::timeout(Duration::from_secs(5), handle).await;
        }
        for server in self.servers {
            server.stop();
        }
        let _ = std::fs::remove_dir_all(&self.data);
    }
}
