//! Several real `podium serve` processes on one PostgreSQL database, as a cluster
//! behind a load balancer runs them: work moves between nodes, long polls wake
//! across nodes, a task is leased once across all of them, access-control changes
//! reach every node within a second, and a node killed with SIGKILL under load
//! loses nothing. Needs `PODIUM_TEST_DATABASE_URL` (`scripts/test` starts a
//! throwaway server); skipped without it unless `PODIUM_TEST_POSTGRES_REQUIRED` is
//! set.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod process;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use process::{
    Acknowledged, Server, admin_token, client_with, setup, verify, wait_completed, worker,
};
use serde_json::{Value, json};

fn server_url() -> Option<String> {
    podium_store_postgres::testing::server_url("the cluster suite")
}

/// Nodes sharing one database, the server key and the secrets master key: the
/// shared configuration a cluster needs.
struct Cluster {
    nodes: Vec<Option<Server>>,
    bases: Vec<String>,
    /// The database URL every node uses.
    database: String,
    /// Holds each node's data directory and the shared key file.
    dir: tempfile::TempDir,
}

const SECRETS_KEY: &str = "5ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7";

/// Where each node's secrets master key comes from.
enum Keys {
    /// One key for every node, in `PODIUM_SECRETS_KEY`.
    Shared,
    /// Each node's key file and configuration file (for rotation by SIGHUP), in its
    /// data directory, starting with this key.
    Files(String),
}

impl Cluster {
    async fn start(url: &str, name: &str, count: usize) -> Cluster {
        Cluster::start_with(url, name, count, Keys::Shared, &[]).await
    }

    async fn start_with(
        url: &str,
        name: &str,
        count: usize,
        keys: Keys,
        more_env: &[(&str, &str)],
    ) -> Cluster {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let schema = format!(
            "{name}_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let database = podium_store_postgres::testing::fresh_schema(url, &schema)
            .await
            .expect("schema");
        let dir = tempfile::tempdir().expect("temp dir");
        let key_file: PathBuf = dir.path().join("server.key");
        let key_file = key_file.to_string_lossy().to_string();
        let mut nodes = Vec::new();
        // The first node creates the server key file and the first admin; the others
        // start once it is up and find both.
        for n in 0..count {
            let data = dir.path().join(format!("node{n}"));
            let mut env = vec![
                ("PODIUM_DATABASE_URL".to_string(), database.clone()),
                ("PODIUM_SERVER_KEY_FILE".to_string(), key_file.clone()),
                ("PODIUM_DATABASE_POOL_SIZE".to_string(), "8".to_string()),
            ];
            env.extend(more_env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
            match &keys {
                Keys::Shared => env.push(("PODIUM_SECRETS_KEY".into(), SECRETS_KEY.into())),
                Keys::Files(key) => {
                    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
                    std::fs::DirBuilder::new()
                        .mode(0o700)
                        .create(&data)
                        .expect("data dir");
                    for (file, text) in [
                        ("secrets.key", format!("{key}\n")),
                        ("podium.toml", String::new()),
                    ] {
                        std::fs::write(data.join(file), text).expect("write");
                        std::fs::set_permissions(
                            data.join(file),
                            std::fs::Permissions::from_mode(0o600),
                        )
                        .expect("chmod");
                    }
                    env.push((
                        "PODIUM_CONFIG".into(),
                        data.join("podium.toml").to_string_lossy().to_string(),
                    ));
                }
            }
            let env: Vec<(&str, &str)> =
                env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            nodes.push(Some(Server::start_with(&data, &env)));
        }
        let bases = nodes
            .iter()
            .map(|n| n.as_ref().expect("node").base.clone())
            .collect();
        Cluster {
            nodes,
            bases,
            database,
            dir,
        }
    }

    /// A node's data directory.
    fn data(&self, n: usize) -> PathBuf {
        self.dir.path().join(format!("node{n}"))
    }

    fn base(&self, n: usize) -> &str {
        &self.bases[n]
    }

    async fn stop(self) {
        for node in self.nodes.into_iter().flatten() {
            node.stop().await;
        }
    }
}

/// Polls `base` for one task of `task_type`, waiting up to `timeout_ms`.
async fn poll_one(
    client: &reqwest::Client,
    base: &str,
    task_type: &str,
    timeout_ms: u64,
) -> Option<Value> {
    let answer = client
        .get(format!(
            "{base}/api/tasks/poll/batch/{task_type}?workerid=cluster&count=1&timeout={timeout_ms}"
        ))
        .send()
        .await
        .expect("poll");
    assert!(answer.status().is_success(), "poll: {}", answer.status());
    let tasks: Vec<Value> = answer.json().await.expect("json");
    tasks.into_iter().next()
}

async fn complete(client: &reqwest::Client, base: &str, task: &Value) {
    let answer = client
        .post(format!("{base}/api/tasks"))
        .json(&json!({
            "workflowInstanceId": task["workflowInstanceId"],
            "taskId": task["taskId"],
            "status": "COMPLETED",
            "outputData": {"by": base}
        }))
        .send()
        .await
        .expect("update");
    assert!(answer.status().is_success(), "update: {}", answer.status());
}

/// Starts a workflow; retries for up to a second while the node has not yet heard
/// of a definition registered on another node.
async fn start_workflow(client: &reqwest::Client, base: &str, name: &str, input: Value) -> String {
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        let answer = client
            .post(format!("{base}/api/workflow/{name}"))
            .json(&input)
            .send()
            .await
            .expect("start");
        let status = answer.status();
        let text = answer.text().await.unwrap_or_default();
        if status.is_success() {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "start on {base}: {status} {text}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn median(mut values: Vec<u128>) -> u128 {
    values.sort_unstable();
    values[values.len() / 2]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_workflow_moves_across_three_nodes_and_long_polls_wake_across_them() {
    let Some(url) = server_url() else { return };
    let cluster = Cluster::start(&url, "cluster_move", 3).await;
    let token = admin_token(cluster.base(0)).await;
    let client = client_with(&token, Some(Duration::from_secs(20)));
    // Registered on node 0: every node runs the workflow.
    setup(&client, cluster.base(0)).await;

    // A workflow started on node 1 (which heard of the definition from node 0),
    // each step polled and completed on different nodes.
    let id = start_workflow(&client, cluster.base(1), "durable", json!({})).await;
    for (step, (poll_on, complete_on)) in [(2, 0), (0, 1), (1, 2)].into_iter().enumerate() {
        let task = poll_one(&client, cluster.base(poll_on), process::TASKS[step], 5000)
            .await
            .unwrap_or_else(|| panic!("step {step} reached node {poll_on}"));
        complete(&client, cluster.base(complete_on), &task).await;
    }
    let workflow: Value = client
        .get(format!("{}/api/workflow/{id}", cluster.base(0)))
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(workflow["status"], "COMPLETED", "{workflow}");

    // A synchronous start waiting on one node answers as soon as the workflow ends
    // on another: the end is announced, not found at the waiting node's next look
    // (every 200 ms). Each round's workflow is the only one with tasks to poll.
    let mut answers = Vec::new();
    for round in 0..7 {
        let (wait_on, work_on) = (round % 3, (round + 1) % 3);
        let waiter = {
            let client = client.clone();
            let base = cluster.base(wait_on).to_string();
            tokio::spawn(async move {
                let answer = client
                    .post(format!("{base}/api/workflow/execute/durable/1"))
                    .json(&json!({"input": {"round": round}}))
                    .send()
                    .await
                    .expect("execute");
                assert!(answer.status().is_success(), "execute: {}", answer.status());
                let run: Value = answer.json().await.expect("json");
                (run, Instant::now())
            })
        };
        let mut ended_at = Instant::now();
        for task_type in process::TASKS {
            let task = poll_one(&client, cluster.base(work_on), task_type, 5000)
                .await
                .unwrap_or_else(|| panic!("round {round}: {task_type} reached node {work_on}"));
            complete(&client, cluster.base(work_on), &task).await;
            ended_at = Instant::now();
        }
        let (run, answered_at) = waiter.await.expect("waiter");
        assert_eq!(run["status"], "COMPLETED", "{run}");
        answers.push(answered_at.saturating_duration_since(ended_at).as_millis());
    }
    eprintln!("synchronous starts answered after the end on another node (ms): {answers:?}");
    assert!(
        median(answers.clone()) <= 50,
        "a synchronous start hears of its workflow's end on another node at once: {answers:?}"
    );
    // A long poll parked on one node wakes when a task is scheduled on another.
    let mut waits = Vec::new();
    for round in 0..7 {
        let (poll_on, start_on) = (round % 3, (round + 1) % 3);
        let poller = {
            let client = client.clone();
            let base = cluster.base(poll_on).to_string();
            tokio::spawn(async move {
                let polled = poll_one(&client, &base, process::TASKS[0], 5000).await;
                (polled, Instant::now())
            })
        };
        // Parked before the start.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let started_at = Instant::now();
        start_workflow(
            &client,
            cluster.base(start_on),
            "durable",
            json!({"round": round}),
        )
        .await;
        let (polled, woke_at) = poller.await.expect("poller");
        assert!(
            polled.is_some(),
            "the long poll on node {poll_on} got the task"
        );
        waits.push(woke_at.duration_since(started_at).as_millis());
    }
    eprintln!("cross-node long-poll wake-ups (ms, from the start request): {waits:?}");
    assert!(
        median(waits.clone()) <= 100,
        "long polls wake within 100 ms of a task scheduled on another node: {waits:?}"
    );
    assert!(waits.iter().all(|w| *w < 1000), "{waits:?}");

    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_task_is_leased_to_exactly_one_worker_across_nodes() {
    let Some(url) = server_url() else { return };
    let cluster = Cluster::start(&url, "cluster_lease", 3).await;
    let token = admin_token(cluster.base(0)).await;
    let client = client_with(&token, Some(Duration::from_secs(20)));
    setup(&client, cluster.base(0)).await;
    const COUNT: usize = 90;
    for n in 0..COUNT {
        start_workflow(&client, cluster.base(n % 3), "durable", json!({"n": n})).await;
    }
    // Nine pollers, three per node, take tasks until none is left.
    let seen: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
    let mut pollers = Vec::new();
    for p in 0..9 {
        let client = client.clone();
        let base = cluster.base(p % 3).to_string();
        let seen = seen.clone();
        pollers.push(tokio::spawn(async move {
            let mut empty = 0;
            while empty < 3 {
                let answer = client
                    .get(format!(
                        "{base}/api/tasks/poll/batch/{}?workerid=p{p}&count=4&timeout=200",
                        process::TASKS[0]
                    ))
                    .send()
                    .await
                    .expect("poll");
                let tasks: Vec<Value> = answer.json().await.expect("json");
                if tasks.is_empty() {
                    empty += 1;
                }
                for task in tasks {
                    *seen
                        .lock()
                        .unwrap()
                        .entry(task["taskId"].as_str().unwrap_or_default().to_string())
                        .or_default() += 1;
                }
            }
        }));
    }
    for poller in pollers {
        poller.await.expect("poller");
    }
    let seen = std::mem::take(&mut *seen.lock().unwrap());
    assert_eq!(seen.len(), COUNT, "every task was handed out");
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "tasks handed out twice: {twice:?}");
    cluster.stop().await;
}

/// Sends `request` until `done` holds for the answer's status, at most 5 s; returns
/// how long it took.
async fn until_status(
    request: impl Fn() -> reqwest::RequestBuilder,
    done: impl Fn(u16) -> bool,
    what: &str,
) -> Duration {
    let began = Instant::now();
    loop {
        let status = request().send().await.expect("request").status().as_u16();
        if done(status) {
            return began.elapsed();
        }
        assert!(
            began.elapsed() < Duration::from_secs(5),
            "{what}: still {status} after 5 s"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn access_changes_reach_every_node_within_a_second() {
    let Some(url) = server_url() else { return };
    let cluster = Cluster::start(&url, "cluster_access", 3).await;
    let token = admin_token(cluster.base(0)).await;
    let admin = client_with(&token, Some(Duration::from_secs(20)));
    setup(&admin, cluster.base(0)).await;

    // An application with a key, made on node 0; its token is minted on node 1.
    let app: Value = admin
        .post(format!("{}/api/applications", cluster.base(0)))
        .json(&json!({"name": "cluster-app"}))
        .send()
        .await
        .expect("create")
        .json()
        .await
        .expect("json");
    let app_id = app["id"].as_str().expect("id").to_string();
    let key: Value = admin
        .post(format!(
            "{}/api/applications/{app_id}/accessKeys",
            cluster.base(0)
        ))
        .json(&json!({}))
        .send()
        .await
        .expect("key")
        .json()
        .await
        .expect("json");
    let key_id = key["id"].as_str().expect("key id").to_string();
    let secret = key["secret"].as_str().expect("secret").to_string();
    let mint_started = Instant::now();
    let app_token = loop {
        let answer = reqwest::Client::new()
            .post(format!("{}/api/token", cluster.base(1)))
            .json(&json!({"keyId": key_id, "keySecret": secret}))
            .send()
            .await
            .expect("token");
        if answer.status().is_success() {
            let body: Value = answer.json().await.expect("json");
            break body["token"].as_str().expect("token").to_string();
        }
        assert!(
            mint_started.elapsed() < Duration::from_secs(1),
            "the key reached node 1"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let as_app = client_with(&app_token, Some(Duration::from_secs(20)));
    let read_def = |n: usize| {
        let url = format!("{}/api/metadata/workflow/durable", cluster.bases[n]);
        let client = as_app.clone();
        move || client.get(url.clone())
    };
    assert_eq!(read_def(2)().send().await.expect("read").status(), 403);

    // Each change is made on one node and checked on another: the status the app's
    // token gets there once the change has arrived.
    let grant = json!({"subject": {"type": "USER", "id": format!("app:{app_id}")},
        "target": {"type": "WORKFLOW_DEF", "id": "durable"}, "access": ["READ"]});
    let base = |n: usize| cluster.base(n).to_string();
    let key_status = |n: usize| {
        admin.post(format!(
            "{}/api/applications/{app_id}/accessKeys/{key_id}/status",
            base(n)
        ))
    };
    let steps = vec![
        (
            "grant",
            admin
                .post(format!("{}/api/auth/authorization", base(0)))
                .json(&grant),
            2,
            200,
        ),
        (
            "revoke",
            admin
                .delete(format!("{}/api/auth/authorization", base(1)))
                .json(&grant),
            0,
            403,
        ),
        (
            "role",
            admin
                .post(format!(
                    "{}/api/applications/{app_id}/roles/METADATA_MANAGER",
                    base(2)
                ))
                .json(&json!({})),
            1,
            200,
        ),
        ("paused key", key_status(0), 2, 401),
        ("resumed key", key_status(1), 0, 200),
        (
            "deleted key",
            admin.delete(format!(
                "{}/api/applications/{app_id}/accessKeys/{key_id}",
                base(1)
            )),
            0,
            401,
        ),
    ];
    // Meanwhile a role that can reach the cluster's channel floods it with asks to
    // reload everything: the changes must still arrive within the bound.
    let flooding = Arc::new(AtomicBool::new(true));
    let flood = tokio::spawn(flood_reloads(cluster.database.clone(), flooding.clone()));
    let mut measured = Vec::new();
    for (what, change, checked_on, status) in steps {
        let answer = change.send().await.expect("change");
        assert!(answer.status().is_success(), "{what}: {}", answer.status());
        let took = until_status(read_def(checked_on), |s| s == status, what).await;
        measured.push((what, took));
    }
    flooding.store(false, Ordering::SeqCst);
    let sent = flood.await.expect("flood");
    assert!(sent > 1000, "the flood sent {sent} announcements");
    eprintln!(
        "access changes seen by another node after: {measured:?}, under a flood of {sent} asks to reload"
    );
    for (what, took) in &measured {
        assert!(*took < Duration::from_secs(1), "{what} took {took:?}");
    }
    cluster.stop().await;
}

/// Sends asks to reload everything on the cluster's channel, as fast as the database
/// takes them, until told to stop; returns how many.
async fn flood_reloads(database: String, flooding: Arc<AtomicBool>) -> usize {
    let (client, connection) = tokio_postgres::connect(&database, tokio_postgres::NoTls)
        .await
        .expect("connect");
    let driver = tokio::spawn(connection);
    let channel: String = client
        .query_one("SELECT name FROM podium_channel", &[])
        .await
        .expect("channel")
        .get(0);
    let payloads: Vec<String> = (0..200).map(|i| format!("intruder{i}|resync|")).collect();
    let mut sent = 0;
    while flooding.load(Ordering::SeqCst) {
        client
            .execute(
                "SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p",
                &[&channel, &payloads],
            )
            .await
            .expect("notify");
        sent += payloads.len();
    }
    driver.abort();
    sent
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_node_killed_under_load_loses_nothing_and_its_tasks_move_on() {
    let Some(url) = server_url() else { return };
    let mut cluster = Cluster::start(&url, "cluster_kill", 3).await;
    let token = admin_token(cluster.base(0)).await;
    let client = client_with(&token, Some(Duration::from_secs(20)));
    setup(&client, cluster.base(0)).await;
    let acked = Arc::new(Mutex::new(Acknowledged::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let stop_node1 = Arc::new(AtomicBool::new(false));
    // Two workers per node; those of node 1 move to node 2 when node 1 dies.
    let mut workers = Vec::new();
    for id in 0..6 {
        let on = id % 3;
        let halt = if on == 1 {
            stop_node1.clone()
        } else {
            stop.clone()
        };
        workers.push(tokio::spawn(worker(
            cluster.base(on).to_string(),
            token.clone(),
            acked.clone(),
            halt,
            id,
        )));
    }
    let starter = {
        let bases = cluster.bases.clone();
        let acked = acked.clone();
        let client = client.clone();
        tokio::spawn(async move {
            for n in 0..150 {
                // Round robin over the nodes that are up, as a load balancer does.
                let base = &bases[[0, 2][n % 2]];
                if let Ok(answer) = client
                    .post(format!("{base}/api/workflow/durable"))
                    .json(&json!({"n": n}))
                    .send()
                    .await
                    && answer.status().is_success()
                {
                    let id = answer.text().await.unwrap_or_default();
                    acked.lock().unwrap().started.insert(id);
                }
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(800)).await;
    let killed = cluster.nodes[1].take().expect("node 1");
    {
        let acked = acked.lock().unwrap();
        eprintln!(
            "SIGKILL of node 1 with {} starts and {} completions acknowledged",
            acked.started.len(),
            acked.completed.len()
        );
    }
    killed.kill();
    stop_node1.store(true, Ordering::Relaxed);
    for id in [1, 4] {
        workers.push(tokio::spawn(worker(
            cluster.base(2).to_string(),
            token.clone(),
            acked.clone(),
            stop.clone(),
            id + 10,
        )));
    }
    starter.await.expect("starter");
    let started: Vec<String> = acked.lock().unwrap().started.iter().cloned().collect();
    assert!(started.len() >= 100, "workflows started: {}", started.len());
    let workflows =
        wait_completed(&client, cluster.base(0), &started, Duration::from_secs(60)).await;
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        let _ = w.await;
    }
    let acked = std::mem::take(&mut *acked.lock().unwrap());
    verify(&acked, &workflows);
    cluster.stop().await;
}

/// Writes a file only its owner can read, as key files must be.
fn write_private(path: &std::path::Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).expect("write");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
}

fn new_key_hex() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// The secrets master key rotated one node at a time, each by SIGHUP, while the
/// cluster serves: every node can open what the others seal at every step, so a
/// secret reaches workers through any node throughout.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_secrets_key_rotates_node_by_node_without_downtime() {
    let Some(url) = server_url() else { return };
    let (old_key, new_key) = (new_key_hex(), new_key_hex());
    let cluster =
        Cluster::start_with(&url, "cluster_rotate", 2, Keys::Files(old_key.clone()), &[]).await;
    let token = admin_token(cluster.base(0)).await;
    let client = client_with(&token, Some(Duration::from_secs(20)));
    let put = |n: usize, value: &'static str| {
        let (client, base) = (client.clone(), cluster.base(n).to_string());
        async move {
            let answer = client
                .put(format!("{base}/api/secrets/rotating"))
                .header("content-type", "text/plain")
                .body(value)
                .send()
                .await
                .expect("put");
            assert!(answer.status().is_success(), "put: {}", answer.status());
        }
    };
    put(0, "value-1").await;
    let answer = client
        .post(format!("{}/api/metadata/taskdefs", cluster.base(0)))
        .json(&json!([{"name": "rot_task", "responseTimeoutSeconds": 30}]))
        .send()
        .await
        .expect("def");
    assert!(answer.status().is_success());
    let answer = client
        .post(format!("{}/api/metadata/workflow?overwrite=true", cluster.base(0)))
        .json(&json!({"name": "rot", "version": 1, "tasks": [{"name": "rot_task", "taskReferenceName": "t",
            "inputParameters": {"token": "${workflow.secrets.rotating}"}}]}))
        .send()
        .await
        .expect("workflow");
    assert!(answer.status().is_success());
    // A worker on node `poll_on` gets the secret's value for a workflow started on
    // node `start_on`.
    let handed = |start_on: usize, poll_on: usize| {
        let (client, bases) = (client.clone(), cluster.bases.clone());
        async move {
            start_workflow(&client, &bases[start_on], "rot", json!({})).await;
            let task = poll_one(&client, &bases[poll_on], "rot_task", 5000)
                .await
                .expect("task");
            complete(&client, &bases[poll_on], &task).await;
            task["inputData"]["token"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        }
    };
    assert_eq!(handed(0, 1).await, "value-1");

    // 1. Every node learns the new key as one it may open with.
    for n in 0..2 {
        write_private(
            &cluster.data(n).join("podium.toml"),
            &format!("secrets_previous_keys = \"{new_key}\"\n"),
        );
        cluster.nodes[n].as_ref().expect("node").signal("HUP");
        cluster.nodes[n]
            .as_ref()
            .expect("node")
            .wait_for_log("secrets master keys reloaded")
            .await;
    }
    // 2. One node at a time seals with the new key; between the two, each node opens
    // what the other sealed.
    write_private(
        &cluster.data(0).join("secrets.key"),
        &format!("{new_key}\n"),
    );
    write_private(
        &cluster.data(0).join("podium.toml"),
        &format!("secrets_previous_keys = \"{old_key}\"\n"),
    );
    cluster.nodes[0].as_ref().expect("node").signal("HUP");
    cluster.nodes[0]
        .as_ref()
        .expect("node")
        .wait_for_log("previous keys can now be removed from the configuration")
        .await;
    assert_eq!(
        handed(1, 1).await,
        "value-1",
        "node 1 opens what node 0 re-sealed"
    );
    put(1, "value-2").await;
    // Node 0 reloads secrets when node 1 announces the change: at once, or, right
    // after the burst of reloads the rotation asked for, within its pacing (well
    // inside the bound of a second).
    let changed_at = Instant::now();
    let mut seen = handed(1, 0).await;
    while seen != "value-2" && changed_at.elapsed() < Duration::from_secs(1) {
        tokio::time::sleep(Duration::from_millis(20)).await;
        seen = handed(1, 0).await;
    }
    assert_eq!(
        seen, "value-2",
        "node 0 opens what node 1 sealed with the old key, within a second"
    );
    write_private(
        &cluster.data(1).join("secrets.key"),
        &format!("{new_key}\n"),
    );
    write_private(
        &cluster.data(1).join("podium.toml"),
        &format!("secrets_previous_keys = \"{old_key}\"\n"),
    );
    cluster.nodes[1].as_ref().expect("node").signal("HUP");
    cluster.nodes[1]
        .as_ref()
        .expect("node")
        .wait_for_log("previous keys can now be removed from the configuration")
        .await;
    assert_eq!(handed(0, 1).await, "value-2");
    assert_eq!(handed(1, 0).await, "value-2");

    // 3. Every value is sealed with the new key: the old one can go, node by node.
    let (client_db, connection) = tokio_postgres::connect(&cluster.database, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(connection);
    let old_sealed: i64 = client_db
        .query_one("SELECT COUNT(*) FROM secret_value WHERE key_id <> (SELECT key_id FROM secret_value LIMIT 1)", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(old_sealed, 0, "one key seals every value");
    cluster.stop().await;
}

/// A local service counting the calls it gets per path.
async fn counting_service() -> (String, Arc<Mutex<HashMap<String, usize>>>) {
    let hits: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
    let counted = hits.clone();
    let router = axum::Router::new().route(
        "/hit/{n}",
        axum::routing::post(move |axum::extract::Path(n): axum::extract::Path<String>| {
            let counted = counted.clone();
            async move {
                *counted.lock().unwrap().entry(n).or_default() += 1;
                axum::Json(json!({"ok": true}))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    (format!("http://{addr}"), hits)
}

/// Work the server does itself runs once across the cluster: three nodes share the
/// jobs of HTTP tasks started on all of them, and each call is made once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn system_tasks_run_once_across_the_cluster() {
    let Some(url) = server_url() else { return };
    let (service, hits) = counting_service().await;
    let cluster = Cluster::start_with(
        &url,
        "cluster_jobs",
        3,
        Keys::Shared,
        &[("PODIUM_HTTP_TASK_ALLOW", "127.0.0.1")],
    )
    .await;
    let token = admin_token(cluster.base(0)).await;
    let client = client_with(&token, Some(Duration::from_secs(20)));
    let answer = client
        .post(format!("{}/api/metadata/workflow?overwrite=true", cluster.base(0)))
        .json(&json!({"name": "calls", "version": 1, "tasks": [
            {"name": "call", "taskReferenceName": "call", "type": "HTTP", "inputParameters": {"http_request": {
                "uri": format!("{service}/hit/${{workflow.input.n}}"), "method": "POST", "body": {}
            }}}
        ]}))
        .send()
        .await
        .expect("workflow");
    assert!(answer.status().is_success(), "{}", answer.status());
    const COUNT: usize = 60;
    let mut started = Vec::new();
    for n in 0..COUNT {
        started.push(start_workflow(&client, cluster.base(n % 3), "calls", json!({"n": n})).await);
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    for id in &started {
        loop {
            let workflow: Value = client
                .get(format!("{}/api/workflow/{id}", cluster.base(2)))
                .send()
                .await
                .expect("get")
                .json()
                .await
                .expect("json");
            if workflow["status"] == "COMPLETED" {
                break;
            }
            assert!(Instant::now() < deadline, "{workflow}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    // Settled: no late second call arrives.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let hits = std::mem::take(&mut *hits.lock().unwrap());
    assert_eq!(hits.len(), COUNT, "every workflow called once: {hits:?}");
    let twice: Vec<_> = hits.iter().filter(|(_, n)| **n != 1).collect();
    assert!(twice.is_empty(), "called more than once: {twice:?}");
    cluster.stop().await;
}

/// Signs `user` in at a node's login page; the session cookie's value.
async fn browser_session(base: &str, user: &str, password: &str) -> String {
    let answer = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
        .post(format!("{base}/login"))
        .header("origin", base)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "username={user}&password={}",
            password.replace(' ', "+")
        ))
        .send()
        .await
        .expect("sign-in");
    assert_eq!(answer.status(), 303);
    answer
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix("podium_session="))
        .and_then(|rest| rest.split(';').next())
        .expect("a session cookie")
        .to_string()
}

/// The status of a request with a session cookie (as the node's own page sends it).
async fn with_session(method: reqwest::Method, base: &str, path: &str, cookie: &str) -> u16 {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
        .request(method, format!("{base}{path}"))
        .header("cookie", format!("podium_session={cookie}"))
        .header("origin", base)
        .send()
        .await
        .expect("request")
        .status()
        .as_u16()
}

/// Signs out as the console's sign-out button does: with the form token of the
/// page it is on.
async fn sign_out(base: &str, cookie: &str) -> u16 {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let page = client
        .get(format!("{base}/"))
        .header("cookie", format!("podium_session={cookie}"))
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("page text");
    let marker = "name=\"csrf\" value=\"";
    let start = page.find(marker).expect("a form token on the page") + marker.len();
    let token = &page[start..start + page[start..].find('"').expect("token end")];
    client
        .post(format!("{base}/logout"))
        .header("cookie", format!("podium_session={cookie}"))
        .header("origin", base)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("csrf={token}"))
        .send()
        .await
        .expect("sign out")
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_session_started_on_one_node_works_on_every_node_and_ends_on_all_at_once() {
    let Some(url) = server_url() else { return };
    let cluster = Cluster::start(&url, "cluster_sessions", 2).await;
    let token = admin_token(cluster.base(0)).await;
    let admin = client_with(&token, Some(Duration::from_secs(20)));
    let password = "plum kettle harbour 9";
    let created = admin
        .put(format!("{}/api/users/nora", cluster.base(0)))
        .json(&json!({"name": "Nora", "roles": ["USER"], "password": password}))
        .send()
        .await
        .expect("create");
    assert!(created.status().is_success());
    // The user reaches node 1 (access-control changes travel within a second).
    let cookie = {
        let started = Instant::now();
        loop {
            let answer = reqwest::Client::new()
                .post(format!("{}/api/token", cluster.base(1)))
                .json(&json!({"userId": "nora", "password": password}))
                .send()
                .await
                .expect("token");
            if answer.status().is_success() {
                break browser_session(cluster.base(0), "nora", password).await;
            }
            assert!(
                started.elapsed() < Duration::from_secs(2),
                "nora reached node 1"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    let me = "/api/token/userInfo";
    assert_eq!(
        with_session(reqwest::Method::GET, cluster.base(1), me, &cookie).await,
        200
    );

    // A password reset on node 0 ends the session on node 1 at the very next request.
    let reset = admin
        .post(format!("{}/api/users/nora/password", cluster.base(0)))
        .json(&json!({"newPassword": "another long passphrase 7"}))
        .send()
        .await
        .expect("reset");
    assert!(reset.status().is_success());
    assert_eq!(
        with_session(reqwest::Method::GET, cluster.base(1), me, &cookie).await,
        401
    );

    // Signing out on node 1 ends the session on node 0 at once.
    let cookie = browser_session(cluster.base(0), "nora", "another long passphrase 7").await;
    assert_eq!(
        with_session(reqwest::Method::GET, cluster.base(1), me, &cookie).await,
        200
    );
    let out = sign_out(cluster.base(1), &cookie).await;
    assert_eq!(out, 303);
    assert_eq!(
        with_session(reqwest::Method::GET, cluster.base(0), me, &cookie).await,
        401
    );
    cluster.stop().await;
}

#[tokio::test]
async fn a_schedule_starts_each_due_time_once_across_the_cluster() {
    let Some(url) = server_url() else { return };
    let cluster = Cluster::start(&url, "cluster_schedules", 3).await;
    let token = admin_token(cluster.base(0)).await;
    let client = client_with(&token, Some(Duration::from_secs(20)));
    let answer = client
        .post(format!(
            "{}/api/metadata/workflow?overwrite=true",
            cluster.base(0)
        ))
        .json(&json!({"name": "tick", "version": 1, "tasks": [
            {"name": "say", "taskReferenceName": "say", "type": "INLINE",
             "inputParameters": {"evaluatorType": "javascript", "expression": "'tick'"}}
        ]}))
        .send()
        .await
        .expect("workflow");
    assert!(answer.status().is_success(), "{}", answer.status());
    // The definition reaches node 1 within a second of its registration on node 0.
    let mut answer = None;
    for _ in 0..50 {
        let sent = client
            .post(format!("{}/api/scheduler/schedules", cluster.base(1)))
            .json(
                &json!({"name": "every-second", "cronExpression": "* * * * * *",
                          "startWorkflowRequest": {"name": "tick", "version": 1}}),
            )
            .send()
            .await
            .expect("schedule");
        if sent.status() != reqwest::StatusCode::NOT_FOUND {
            answer = Some(sent.status());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let answer = answer.expect("the definition reached node 1 within 5 s");
    assert!(answer.is_success(), "{answer}");
    // Every node looks for due schedules every second; let them race for a while.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let answer = client
        .put(format!(
            "{}/api/scheduler/schedules/every-second/pause",
            cluster.base(2)
        ))
        .send()
        .await
        .expect("pause");
    assert!(answer.status().is_success(), "{}", answer.status());
    // Settled: a run that was under way when the pause came is recorded.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let runs: Value = client
        .get(format!(
            "{}/api/scheduler/search/executions?query=scheduleName+IN+(every-second)&size=1000",
            cluster.base(0)
        ))
        .send()
        .await
        .expect("runs")
        .json()
        .await
        .expect("json");
    let records = runs["results"].as_array().cloned().unwrap_or_default();
    assert!(records.len() >= 3, "{runs}");
    let started: Value = client
        .get(format!(
            "{}/api/workflow/search?query=workflowType+%3D+'tick'&size=1000",
            cluster.base(0)
        ))
        .send()
        .await
        .expect("search")
        .json()
        .await
        .expect("json");
    assert_eq!(
        started["totalHits"].as_u64(),
        Some(records.len() as u64),
        "one workflow per recorded due time: {started} {runs}"
    );
    let mut due: Vec<i64> = records
        .iter()
        .filter_map(|r| r["scheduledTime"].as_i64())
        .collect();
    due.sort_unstable();
    due.dedup();
    assert_eq!(due.len(), records.len(), "each due time once: {runs}");
    cluster.stop().await;
}
