//! Workflow and access-control benchmarks, each measured side by side with its
//! baseline in one run (scenarios S3, S4, S1, S5, S7 and S6 of the performance plan,
//! and S8 against a peer engine).
//!
//! - `s3`: a 3-task SIMPLE workflow driven by HTTP workers against a real server
//!   process, against a raw SQLite "state transition" harness on the same disk with
//!   the same durability. Runs alternate (raw, server, raw, server, ...); the report
//!   gives the median ratio of completed workflows per second and the task updates per
//!   second.
//! - `s4`: 40 sequential SIMPLE tasks with one long-polling worker, end to end, against
//!   the same 40 steps run in process on the services (no HTTP, no polling).
//! - `s1`: the S3 load alternating between two live servers, security on and off.
//! - `s7`: the S3 load with ten secret references in every task's input against the
//!   same values written literally.
//! - `s5`: minting tokens against a plain authenticated JSON POST, and the cost of a
//!   wrong secret against a right one.
//! - `s9`, `s10`: the worker loop with OpenID Connect tokens against access-key
//!   tokens, and password sign-ins against key sign-ins (`server::identity`).
//! - `s6 [--pg-fast] [--node-pool=N] [--pg-statements]`: the S3 load on PostgreSQL (a
//!   throwaway cluster from `scripts/postgres`, fsync and synchronous_commit on unless
//!   `--pg-fast`), one node with 8 connections and two nodes sharing the database (`N`
//!   connections each, 4 by default), against pgbench running the plan's transition
//!   script with 8 clients on the same cluster (`--pg-statements`: also what the
//!   server's statements cost, from pg_stat_statements). `all` skips it when
//!   PostgreSQL is not installed.
//! - `s8 [--no-pg] [--rounds=N] [--only=SIDE,...] [--pg-statements] [--pg-pool=N]`:
//!   Podium (the S3 load on SQLite with durability `process` and `power-loss`, and on
//!   PostgreSQL with fsync on and a pool of 8 connections unless `--pg-pool`) against
//!   Restate running the same 3-step job (`benches/peers`, installed with `npm ci`
//!   when missing): completed workflows per second, start-to-completed latency of
//!   single workflows and server-side CPU per workflow, the sides taking turns, 5
//!   rounds unless `--rounds`; `--only` picks sides (`sqlite/process`,
//!   `sqlite/power-loss`, `postgres`, `restate`), e.g. to profile one;
//!   `--pg-statements` prints what the PostgreSQL side's statements cost. Not in `all`.
//! - `inline`, `loop`: an INLINE evaluation in its runner process against one on a
//!   thread (p50/p99), 3-task INLINE workflows against 3-task SIMPLE ones, and a
//!   100-iteration DO_WHILE against 100 tasks in a row (`server::scripts`).
//! - `s3-server [--security-off] [--inputs=secrets|literals]`: one S3 pass, to run
//!   under a profiler (the S7 task inputs with `--inputs`).
//!
//! Run: `cargo bench -p podium-server --bench workflow -- [s3|s4|s1|s7|s5|s6|s8|inline|loop|all] [--full]`
//! (`--full` also runs S3 with `durability = power-loss` against the FULL harness).

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]
#![allow(clippy::disallowed_methods)] // a benchmark measures real time

mod server;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use server::load::{Inputs, S3Load, S3Result, S7_SECRETS};
use server::{Security, Server, client, post};

const PAIRS: usize = 5;
const RUN_SECONDS: f64 = 6.0;

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let which = args
        .iter()
        .find(|a| !a.starts_with('-'))
        .cloned()
        .unwrap_or_else(|| "all".into());
    let full = args.iter().any(|a| a == "--full");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    println!(
        "podium workflow benchmarks ({} pairs per ratio, {RUN_SECONDS} s per run)",
        PAIRS
    );
    println!(
        "machine: {} cores",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0)
    );
    if which == "s3-server" {
        // One server run only (for profiling with BENCH_SERVER_WRAP).
        let dir = bench_dir();
        let security = if args.iter().any(|a| a == "--security-off") {
            Security::Off
        } else {
            Security::On
        };
        let inputs = match args.iter().find_map(|a| a.strip_prefix("--inputs=")) {
            Some("secrets") => Inputs::Secrets,
            Some("literals") => Inputs::Literals,
            _ => Inputs::Plain,
        };
        let result = runtime.block_on(s3_server_run(
            dir.path(),
            "process",
            RUN_SECONDS,
            security,
            inputs,
        ));
        println!(
            "server {:.0} wf/s, {:.0} task updates/s, {:.1} cpu us/update",
            result.workflows_per_second, result.updates_per_second, result.cpu_us_per_update
        );
        return;
    }
    if which == "s3" || which == "all" {
        runtime.block_on(s3("process", false));
        if full {
            runtime.block_on(s3("power-loss", true));
        }
    }
    if which == "s4" || which == "all" {
        runtime.block_on(s4());
    }
    if which == "s1" || which == "all" {
        runtime.block_on(s1());
    }
    if which == "s7" || which == "all" {
        runtime.block_on(s7());
    }
    if which == "s5" || which == "all" {
        runtime.block_on(s5());
    }
    if which == "inline" || which == "all" {
        let dir = bench_dir();
        runtime.block_on(server::scripts::inline(dir.path(), PAIRS, RUN_SECONDS));
    }
    if which == "loop" || which == "all" {
        let dir = bench_dir();
        runtime.block_on(server::scripts::loops(dir.path(), PAIRS));
    }
    if which == "s9" || which == "all" {
        runtime.block_on(server::identity::s9());
    }
    if which == "s10" || which == "all" {
        runtime.block_on(server::identity::s10());
    }
    if which == "s8" {
        // Without PostgreSQL installed (or with --no-pg), the SQLite sides and Restate.
        let postgres =
            !args.iter().any(|a| a == "--no-pg") && server::postgres::missing().is_none();
        let rounds = args
            .iter()
            .find_map(|a| a.strip_prefix("--rounds="))
            .map_or(PAIRS, |n| n.parse().expect("--rounds=N"));
        let only: Vec<String> = args
            .iter()
            .find_map(|a| a.strip_prefix("--only="))
            .map(|o| o.split(',').map(str::to_string).collect())
            .unwrap_or_default();
        runtime.block_on(server::peers::s8(server::peers::Options {
            rounds,
            seconds: RUN_SECONDS,
            postgres,
            pool: args
                .iter()
                .find_map(|a| a.strip_prefix("--pg-pool="))
                .map_or(8, |n| n.parse().expect("--pg-pool=N")),
            only,
            statements: args.iter().any(|a| a == "--pg-statements"),
        }));
    }
    if which == "s6" || which == "all" {
        match server::postgres::missing() {
            Some(why) if which == "all" => {
                println!("\nS6 skipped: {why} (PostgreSQL is not installed)")
            }
            _ => {
                let durable = !args.iter().any(|a| a == "--pg-fast");
                let node_pool = args
                    .iter()
                    .find_map(|a| a.strip_prefix("--node-pool="))
                    .map_or(4, |n| n.parse().expect("--node-pool=N"));
                let statements = args.iter().any(|a| a == "--pg-statements");
                runtime.block_on(server::postgres::s6(
                    PAIRS,
                    RUN_SECONDS,
                    durable,
                    node_pool,
                    statements,
                ));
            }
        }
    }
}

/// Requests per second from `clients` concurrent loops of `request` for `seconds`,
/// and the 99th percentile latency in microseconds.
async fn rate<F, Fut>(clients: usize, seconds: f64, request: F) -> (f64, f64)
where
    F: Fn() -> Fut + Send + Sync + Clone + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let stop = Arc::new(AtomicBool::new(false));
    let mut handles = Vec::new();
    for _ in 0..clients {
        let (stop, request) = (stop.clone(), request.clone());
        handles.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                assert!(request().await, "request failed");
                latencies.push(t.elapsed().as_secs_f64() * 1e6);
            }
            latencies
        }));
    }
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    for handle in handles {
        all.extend(handle.await.expect("client"));
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    let p99 = all.get(all.len() * 99 / 100).copied().unwrap_or(0.0);
    (all.len() as f64 / elapsed, p99)
}

/// S5: `POST /api/token` against a plain authenticated JSON POST on the same server
/// (a correlation lookup naming no workflows: body parsed, token checked, JSON
/// answered, no store work), alternating; then, in process, what accepting a right
/// secret and refusing a wrong one cost.
async fn s5() {
    println!();
    println!(
        "S5: token minting vs a plain JSON POST on the same server, 64 concurrent clients, alternating"
    );
    let dir = bench_dir();
    let server = Server::start(&dir.path().join("s5"), "process", Security::On);
    let base = server.base.clone();
    let admin = server.admin().await;
    let (key_id, secret) = server.new_key("s5", &[], &[]).await;
    let body = json!({"keyId": key_id, "keySecret": secret});
    let plain = client();
    let mut ratios = Vec::new();
    for pair in 0..PAIRS {
        let (mint_client, mint_url, mint_body) =
            (plain.clone(), format!("{base}/api/token"), body.clone());
        let mint = move || {
            let (c, u, b) = (mint_client.clone(), mint_url.clone(), mint_body.clone());
            async move {
                c.post(u)
                    .json(&b)
                    .send()
                    .await
                    .is_ok_and(|r| r.status() == 200)
            }
        };
        let (post_client, post_url) = (
            admin.clone(),
            format!("{base}/api/workflow/correlated/batch"),
        );
        let plain_post = move || {
            let (c, u) = (post_client.clone(), post_url.clone());
            async move {
                c.post(u)
                    .json(&json!({"workflowNames": [], "correlationIds": []}))
                    .send()
                    .await
                    .is_ok_and(|r| r.status() == 200)
            }
        };
        let seconds = RUN_SECONDS / 2.0;
        let ((mint_rate, mint_p99), (post_rate, post_p99)) = if pair % 2 == 0 {
            let m = rate(64, seconds, mint.clone()).await;
            (m, rate(64, seconds, plain_post.clone()).await)
        } else {
            let p = rate(64, seconds, plain_post.clone()).await;
            (rate(64, seconds, mint.clone()).await, p)
        };
        let ratio = mint_rate / post_rate;
        println!(
            "  pair {}: token {:>6.0}/s (p99 {:>6.0} us) | plain POST {:>6.0}/s (p99 {:>6.0} us) | ratio {:.3}",
            pair + 1,
            mint_rate,
            mint_p99,
            post_rate,
            post_p99,
            ratio
        );
        ratios.push(ratio);
    }
    server.stop();
    println!(
        "  median token/plain: {:.3} (target >= 0.5)",
        median(ratios)
    );

    // In process: the work behind a right and a wrong secret, interleaved.
    use podium_core::security::crypto::{MasterKey, SecretHasher};
    use podium_core::security::token::{Claims, TokenKeys};
    let master = MasterKey::from_bytes(&[7u8; 32]).expect("key");
    let hasher = SecretHasher::new(&master);
    let tokens = TokenKeys::new(&master).expect("tokens");
    let secret = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    let stored = hasher.hash(secret);
    let wrong = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdeX";
    let claims = Claims {
        sub: "app:x".into(),
        key: Some("k".into()),
        iat: 0,
        exp: 3600,
        iss: "podium".into(),
        ver: None,
        sid: None,
    };
    // Both paths verify the secret and sign a token (the refusal throws its away).
    let attempt = |candidate: &str| {
        let ok = hasher.verify(candidate, &stored);
        std::hint::black_box(tokens.mint(&claims).expect("mint"));
        ok
    };
    let (mut right_ns, mut wrong_ns) = (Vec::new(), Vec::new());
    for _ in 0..50 {
        let t = Instant::now();
        for _ in 0..1000 {
            assert!(attempt(secret));
        }
        right_ns.push(t.elapsed().as_secs_f64() * 1e6);
        let t = Instant::now();
        for _ in 0..1000 {
            assert!(!attempt(wrong));
        }
        wrong_ns.push(t.elapsed().as_secs_f64() * 1e6);
    }
    let (right, wrong) = (median(right_ns), median(wrong_ns));
    println!(
        "  in process, per attempt: right secret {right:.0} ns, wrong secret {wrong:.0} ns, wrong/right {:.3} (target within 5%)",
        wrong / right
    );
}

/// S1 slices: pairs of a short measured stretch on each server.
const S1_PAIRS: usize = 14;
/// Seconds a slice runs before it is measured (the load ramps up again).
const S1_SETTLE: f64 = 0.5;
/// Seconds a slice is measured.
const S1_SLICE: f64 = 2.5;

/// S1: the S3 load (workers batch-polling and updating over HTTP, a program
/// starting workflows) against a server with security on, least-privilege
/// applications and tokens, and the same binary with security off. Both servers
/// run for the whole benchmark and the load alternates between them every few
/// seconds (as the performance plan asks), so the two sides of a pair are seconds
/// apart and see the same machine. Besides throughput it reports the server's CPU
/// time per task update.
async fn s1() {
    println!();
    println!(
        "S1: worker loop with security on (tokens, WORKER + grants) vs off: two live servers, load alternating every {S1_SLICE} s (+{S1_SETTLE} s settle)"
    );
    let dir = bench_dir();
    let off = S3Load::start(dir.path(), "process", Security::Off, Inputs::Plain).await;
    let on = S3Load::start(dir.path(), "process", Security::On, Inputs::Plain).await;
    alternate(("off", &off), ("on", &on), "on/off", 0.95).await;
    off.finish().await;
    on.finish().await;
}

/// S7: the S3 workflow with ten `${workflow.secrets.*}` references in every task's
/// input (resolved at each hand-off, as the starter, and masked on the way back)
/// against the same workflow with the ten values written literally; both servers
/// with security on, the load alternating between them.
async fn s7() {
    println!();
    println!(
        "S7: tasks with {S7_SECRETS} secret references vs the same {S7_SECRETS} values literally: two live servers, load alternating every {S1_SLICE} s (+{S1_SETTLE} s settle)"
    );
    let dir = bench_dir();
    let literal = S3Load::start(dir.path(), "process", Security::On, Inputs::Literals).await;
    let secrets = S3Load::start(dir.path(), "process", Security::On, Inputs::Secrets).await;
    alternate(
        ("literal", &literal),
        ("secrets", &secrets),
        "secrets/literal",
        0.95,
    )
    .await;
    literal.finish().await;
    secrets.finish().await;
}

/// Alternates the load between two live servers, `S1_PAIRS` pairs, and prints the
/// ratio of task updates per second, b over a, with the server CPU per update.
async fn alternate(a: (&str, &S3Load), b: (&str, &S3Load), ratio_name: &str, target: f64) {
    let ((a_name, a), (b_name, b)) = (a, b);
    // Warm both up.
    a.measure(1.0, 0.5).await;
    b.measure(1.0, 0.5).await;
    let mut ratios = Vec::new();
    let mut cpu_ratios = Vec::new();
    let (mut total_a, mut total_b) = (0.0, 0.0);
    let (mut cpu_a, mut cpu_b) = (Vec::new(), Vec::new());
    for pair in 0..S1_PAIRS {
        // Alternate which goes first, so drift on the machine favours neither.
        let (ra, rb) = if pair % 2 == 0 {
            let ra = a.measure(S1_SETTLE, S1_SLICE).await;
            (ra, b.measure(S1_SETTLE, S1_SLICE).await)
        } else {
            let rb = b.measure(S1_SETTLE, S1_SLICE).await;
            (a.measure(S1_SETTLE, S1_SLICE).await, rb)
        };
        let ratio = rb.updates_per_second / ra.updates_per_second;
        let cpu_ratio = rb.cpu_us_per_update / ra.cpu_us_per_update;
        println!(
            "  pair {:>2}: {a_name} {:>5.0} wf/s, {:>5.0} upd/s, {:>5.1} cpu us/upd | {b_name} {:>5.0} wf/s, {:>5.0} upd/s, {:>5.1} cpu us/upd | {ratio_name} {:.3} (cpu per update {:.3})",
            pair + 1,
            ra.workflows_per_second,
            ra.updates_per_second,
            ra.cpu_us_per_update,
            rb.workflows_per_second,
            rb.updates_per_second,
            rb.cpu_us_per_update,
            ratio,
            cpu_ratio
        );
        total_a += ra.updates_per_second;
        total_b += rb.updates_per_second;
        ratios.push(ratio);
        cpu_ratios.push(cpu_ratio);
        cpu_a.push(ra.cpu_us_per_update);
        cpu_b.push(rb.cpu_us_per_update);
    }
    println!(
        "  task updates/s {ratio_name}: median of pairs {:.3}, all slices {:.3} (target >= {target}); server cpu per update {:.1} us {b_name}, {:.1} us {a_name}, median ratio {:.3}",
        median(ratios),
        total_b / total_a,
        median(cpu_b),
        median(cpu_a),
        median(cpu_ratios)
    );
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    let n = values.len();
    if n == 0 {
        return 0.0;
    }
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

// ---------------------------------------------------------------------------------
// Raw SQLite transition harness (performance.md §5.2 / §7)
// ---------------------------------------------------------------------------------

/// Transactions per second of the 3-statement transition (update a task, insert the
/// next, update the workflow), sequential keys, prepared statements.
fn raw_transitions(dir: &Path, full_sync: bool, seconds: f64) -> f64 {
    let path = dir.join("raw.db");
    let _ = std::fs::remove_file(&path);
    let conn = rusqlite::Connection::open(&path).expect("open raw db");
    conn.execute_batch(&format!(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = {};
         CREATE TABLE workflow (id INTEGER PRIMARY KEY, status TEXT, updated INTEGER, json TEXT);
         CREATE TABLE task (id INTEGER PRIMARY KEY, wf_id INTEGER, ref TEXT, status TEXT, updated INTEGER, json TEXT);
         CREATE INDEX task_wf ON task (wf_id);
         CREATE INDEX task_status ON task (status, updated);",
        if full_sync { "FULL" } else { "NORMAL" }
    ))
    .expect("schema");
    let body = "x".repeat(256);
    for w in 0..10_000 {
        conn.execute(
            "INSERT INTO workflow (id, status, updated, json) VALUES (?1, 'RUNNING', 0, ?2)",
            rusqlite::params![w, body],
        )
        .expect("seed");
    }
    conn.execute(
        "INSERT INTO task (wf_id, ref, status, updated, json) VALUES (0, 't0', 'SCHEDULED', 0, ?1)",
        [&body],
    )
    .expect("seed task");
    let started = Instant::now();
    let mut count: u64 = 0;
    let mut task_id: i64 = 1;
    while started.elapsed().as_secs_f64() < seconds {
        let tx = conn.unchecked_transaction().expect("begin");
        let now = count as i64;
        tx.prepare_cached(
            "UPDATE task SET status = 'COMPLETED', updated = ?1, json = ?2 WHERE id = ?3",
        )
        .expect("prepare")
        .execute(rusqlite::params![now, body, task_id])
        .expect("update task");
        tx.prepare_cached("INSERT INTO task (wf_id, ref, status, updated, json) VALUES (?1, 't1', 'SCHEDULED', ?2, ?3)")
            .expect("prepare")
            .execute(rusqlite::params![count as i64 % 10_000, now, body])
            .expect("insert task");
        task_id = tx.last_insert_rowid();
        tx.prepare_cached("UPDATE workflow SET updated = ?1 WHERE id = ?2")
            .expect("prepare")
            .execute(rusqlite::params![now, count as i64 % 10_000])
            .expect("update workflow");
        tx.commit().expect("commit");
        count += 1;
    }
    count as f64 / started.elapsed().as_secs_f64()
}

// ---------------------------------------------------------------------------------
// S3: throughput of a 3-task workflow against the raw transition ceiling
// ---------------------------------------------------------------------------------

/// One S3 run on a fresh server: 1 s of warm-up, then `seconds` measured.
async fn s3_server_run(
    dir: &Path,
    durability: &str,
    seconds: f64,
    security: Security,
    inputs: Inputs,
) -> S3Result {
    let load = S3Load::start(dir, durability, security, inputs).await;
    let result = load.measure(1.0, seconds).await;
    load.finish().await;
    result
}

async fn s3(durability: &str, full_sync: bool) {
    println!();
    println!(
        "S3: 3-task SIMPLE workflow over loopback HTTP vs raw SQLite transitions (WAL, synchronous={})",
        if full_sync { "FULL" } else { "NORMAL" }
    );
    let dir = bench_dir();
    let mut ratios = Vec::new();
    let mut server_wf = Vec::new();
    let mut server_updates = Vec::new();
    let mut raw_wf = Vec::new();
    for pair in 0..PAIRS {
        let tx = {
            let path = dir.path().to_path_buf();
            tokio::task::spawn_blocking(move || raw_transitions(&path, full_sync, RUN_SECONDS))
                .await
                .expect("raw run")
        };
        let raw_workflows = tx / 4.0;
        let result = s3_server_run(
            dir.path(),
            durability,
            RUN_SECONDS,
            Security::On,
            Inputs::Plain,
        )
        .await;
        let ratio = result.workflows_per_second / raw_workflows;
        println!(
            "  pair {}: raw {:>8.0} tx/s = {:>6.0} wf/s | server {:>6.0} wf/s, {:>6.0} task updates/s | ratio {:.3}",
            pair + 1,
            tx,
            raw_workflows,
            result.workflows_per_second,
            result.updates_per_second,
            ratio
        );
        ratios.push(ratio);
        server_wf.push(result.workflows_per_second);
        server_updates.push(result.updates_per_second);
        raw_wf.push(raw_workflows);
    }
    println!(
        "  median: raw {:.0} wf/s, server {:.0} wf/s, {:.0} task updates/s, ratio {:.3} (target >= 0.30, and >= 2600 updates/s)",
        median(raw_wf),
        median(server_wf),
        median(server_updates),
        median(ratios)
    );
}

// ---------------------------------------------------------------------------------
// S4: 40 sequential tasks end to end
// ---------------------------------------------------------------------------------

const S4_STEPS: usize = 40;

/// A scratch directory under the build's target directory: on the same disk as a
/// real data directory (not a tmpfs /tmp), and never inside the source tree.
fn bench_dir() -> tempfile::TempDir {
    tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("temp dir")
}

async fn s4_server_once(http: &reqwest::Client, base: &str) -> Duration {
    let worker = {
        let (http, base) = (http.clone(), base.to_string());
        tokio::spawn(async move {
            let mut done = 0;
            while done < S4_STEPS {
                let response = http
                    .get(format!(
                        "{base}/api/tasks/poll/batch/s4_step?workerid=w&count=1&timeout=1000"
                    ))
                    .send()
                    .await
                    .expect("poll");
                let mut next: Option<Value> = response
                    .json::<Vec<Value>>()
                    .await
                    .expect("json")
                    .into_iter()
                    .next();
                while let Some(task) = next.take() {
                    let result = json!({"workflowInstanceId": task["workflowInstanceId"], "taskId": task["taskId"], "status": "COMPLETED", "workerId": "w", "outputData": {"i": done}});
                    let response = http
                        .post(format!("{base}/api/tasks/update-v2"))
                        .json(&result)
                        .send()
                        .await
                        .expect("update");
                    done += 1;
                    if response.status().as_u16() == 200 {
                        next = response.json::<Value>().await.ok();
                    }
                }
            }
        })
    };
    // The worker is parked in its long poll before the workflow starts.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    let id = post(http, format!("{base}/api/workflow/s4_flow"), &json!({}))
        .await
        .text()
        .await
        .expect("id");
    worker.await.expect("worker");
    loop {
        let status: Value = http
            .get(format!("{base}/api/workflow/{id}/status"))
            .send()
            .await
            .expect("status")
            .json()
            .await
            .expect("json");
        if status["status"] == "COMPLETED" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    started.elapsed()
}

fn s4_definition() -> Value {
    let tasks: Vec<Value> = (0..S4_STEPS)
        .map(|i| json!({"name": "s4_step", "taskReferenceName": format!("step_{i}"), "inputParameters": {"previous": if i == 0 { json!(null) } else { json!(format!("${{step_{}.output.i}}", i - 1)) }}}))
        .collect();
    json!({"name": "s4_flow", "version": 1, "tasks": tasks})
}

/// The same 40 steps on the services in process: start, then claim and complete each
/// task directly (no HTTP, no long poll).
async fn s4_direct_once(dir: &Path) -> Duration {
    use podium_core::clock::{SystemClock, UuidGen};
    use podium_core::engine::EngineLimits;
    use podium_core::model::{StartWorkflowRequest, TaskResult, TaskResultStatus};
    use podium_core::security::{Authenticator, SecurityMode};
    use podium_core::service::task::Poll;
    use podium_core::service::{MetadataService, Runtime, TaskService, WorkflowService};
    use podium_store_sqlite::{SqliteOptions, SqliteStore};

    let data = dir.join(format!("direct-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&data).expect("dir");
    let store = SqliteStore::open(&SqliteOptions::new(data.join("podium.db"))).expect("store");
    let runtime = Runtime::new(
        store.stores(),
        Arc::new(SystemClock),
        Arc::new(UuidGen),
        EngineLimits::default(),
        SecurityMode::Disabled,
        podium_core::service::runtime::VaultSettings {
            keyring: podium_core::security::secret_box::Keyring::new(
                &podium_core::security::crypto::MasterKey::from_bytes(&[7u8; 32]).expect("key"),
                &[],
            )
            .expect("keyring"),
            max_value_bytes: 1024,
        },
        podium_core::exec::script::ScriptLimits::default(),
    )
    .await
    .expect("runtime");
    let principal = Authenticator::disabled(Arc::new(SystemClock))
        .authenticate(&Default::default())
        .expect("principal")
        .principal;
    let metadata = MetadataService::new(runtime.clone());
    let workflows = WorkflowService::new(runtime.clone());
    let tasks = TaskService::new(runtime.clone());
    metadata
        .register_workflow_def(
            &principal,
            serde_json::from_value(s4_definition()).expect("def"),
            true,
        )
        .await
        .expect("register");
    let started = Instant::now();
    let request = StartWorkflowRequest {
        name: "s4_flow".into(),
        ..StartWorkflowRequest::default()
    };
    workflows.start(&principal, request).await.expect("start");
    for i in 0..S4_STEPS {
        let poll = Poll {
            task_type: "s4_step".into(),
            worker_id: "w".into(),
            domain: None,
            count: 1,
            timeout_ms: 0,
        };
        let task = tasks.poll(&principal, poll).await.expect("poll").remove(0);
        let mut output = serde_json::Map::new();
        output.insert("i".into(), json!(i));
        let result = TaskResult {
            workflow_instance_id: task.workflow_instance_id.clone(),
            task_id: task.task_id.clone(),
            reason_for_incompletion: None,
            callback_after_seconds: 0,
            worker_id: Some("w".into()),
            status: TaskResultStatus::Completed,
            output_data: output,
            logs: Vec::new(),
            external_output_payload_storage_path: None,
            sub_workflow_id: None,
            extend_lease: false,
        };
        tasks.update(&principal, result).await.expect("update");
    }
    let elapsed = started.elapsed();
    store.close();
    let _ = std::fs::remove_dir_all(&data);
    elapsed
}

async fn s4() {
    println!();
    println!("S4: {S4_STEPS} sequential SIMPLE tasks, one long-polling worker, end to end");
    let dir = bench_dir();
    let data = dir.path().join("server");
    let server = Server::start(&data, "process", Security::On);
    let http = server.admin().await;
    post(
        &http,
        format!("{}/api/metadata/workflow?overwrite=true", server.base),
        &s4_definition(),
    )
    .await;
    let mut server_times = Vec::new();
    let mut direct_times = Vec::new();
    for run in 0..PAIRS {
        let direct = s4_direct_once(dir.path()).await;
        let over_http = s4_server_once(&http, &server.base).await;
        println!(
            "  run {}: server {:>6.1} ms end to end | services in process {:>6.1} ms | per task {:.2} ms vs {:.2} ms",
            run + 1,
            over_http.as_secs_f64() * 1000.0,
            direct.as_secs_f64() * 1000.0,
            over_http.as_secs_f64() * 1000.0 / S4_STEPS as f64,
            direct.as_secs_f64() * 1000.0 / S4_STEPS as f64
        );
        server_times.push(over_http.as_secs_f64());
        direct_times.push(direct.as_secs_f64());
    }
    server.stop();
    let server_median = median(server_times);
    let direct_median = median(direct_times);
    println!(
        "  median: server {:.1} ms (target < 200 ms; Hatchet 1.2 s, Windmill 2.1 s, Temporal 3.0 s published), in process {:.1} ms, overhead ratio {:.2}x",
        server_median * 1000.0,
        direct_median * 1000.0,
        server_median / direct_median
    );
}
