//! S6: Podium on PostgreSQL against PostgreSQL's own rate for the same state
//! transition (pgbench with the performance plan's transition script), with one
//! node and with two nodes sharing the database, all on one throwaway cluster
//! started with `scripts/postgres`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use super::Security;
use super::load::{Inputs, S3Load, S3Result, Store};

/// What `scripts/postgres` and pgbench need that is missing here, if anything:
/// `all` skips S6 then (an explicit `s6` lets the script install PostgreSQL).
pub fn missing() -> Option<String> {
    for tool in ["initdb", "pgbench"] {
        if pg_tool(tool).is_none() {
            return Some(format!("no /usr/lib/postgresql/*/bin/{tool}"));
        }
    }
    None
}

/// `tool` from the newest `/usr/lib/postgresql/<version>/bin` that has it (where
/// `scripts/postgres` finds initdb).
fn pg_tool(tool: &str) -> Option<PathBuf> {
    let versions = std::fs::read_dir("/usr/lib/postgresql").ok()?;
    versions
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let version: u32 = e.file_name().to_str()?.parse().ok()?;
            let path = e.path().join("bin").join(tool);
            path.is_file().then_some((version, path))
        })
        .max_by_key(|(version, _)| *version)
        .map(|(_, path)| path)
}

// ---------------------------------------------------------------------------------
// The throwaway cluster
// ---------------------------------------------------------------------------------

/// A cluster started by `scripts/postgres`; stopped when dropped (also on a panic),
/// then its directory removed.
pub struct Cluster {
    // Dropped after `Drop::drop` has stopped the cluster.
    dir: tempfile::TempDir,
    /// `postgres://podium@127.0.0.1:PORT/postgres`.
    url: String,
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/postgres")
}

impl Cluster {
    /// Starts a cluster under the target directory (on the disk a real data
    /// directory would use), or under /tmp when that path is too long for the
    /// server's socket. `durable`: fsync, synchronous_commit and full_page_writes on.
    pub fn start(durable: bool) -> Cluster {
        let target = Path::new(env!("CARGO_TARGET_TMPDIR"));
        let parent = if target.as_os_str().len() <= 60 {
            target
        } else {
            Path::new("/tmp")
        };
        let dir = tempfile::Builder::new()
            .prefix("s6-")
            .tempdir_in(parent)
            .expect("cluster dir");
        // The guard exists before the script runs: whatever it started is stopped.
        let mut cluster = Cluster {
            dir,
            url: String::new(),
        };
        let output = Command::new(script())
            .arg("start")
            .arg(cluster.dir.path())
            .env("PODIUM_PG_DURABLE", if durable { "1" } else { "0" })
            .stderr(Stdio::piped())
            .output()
            .expect("run scripts/postgres");
        assert!(
            output.status.success(),
            "scripts/postgres start failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        cluster.url = String::from_utf8_lossy(&output.stdout)
            .lines()
            .last()
            .expect("scripts/postgres prints the URL")
            .trim()
            .to_string();
        cluster
    }

    /// The URL of database `name` on this cluster.
    fn url_of(&self, name: &str) -> String {
        let base = self.url.rsplit_once('/').expect("database in URL").0;
        format!("{base}/{name}")
    }

    fn port(&self) -> String {
        let after = self.url.rsplit_once(':').expect("port in URL").1;
        after.split('/').next().expect("port").to_string()
    }

    /// The postmaster's process id.
    fn postmaster(&self) -> Option<u32> {
        let pid = std::fs::read_to_string(self.dir.path().join("data/postmaster.pid")).ok()?;
        pid.lines().next()?.trim().parse().ok()
    }

    /// CPU seconds the cluster has used so far: the postmaster with the children it
    /// has reaped, and its live children (backends and background processes).
    fn cpu_seconds(&self) -> f64 {
        let Some(postmaster) = self.postmaster() else {
            return f64::NAN;
        };
        let mut total = 0.0;
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return f64::NAN;
        };
        for entry in entries.filter_map(|e| e.ok()) {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                continue;
            };
            let Some((_, rest)) = stat.rsplit_once(')') else {
                continue;
            };
            let fields: Vec<f64> = rest
                .split_whitespace()
                .map(|f| f.parse().unwrap_or(0.0))
                .collect();
            // From the state (field 3): ppid is index 1, utime 11, stime 12, cutime 13, cstime 14.
            if pid == postmaster {
                total += fields[11..=14].iter().sum::<f64>();
            } else if fields.get(1) == Some(&f64::from(postmaster)) {
                total += fields[11] + fields[12];
            }
        }
        total / super::clock_ticks_per_second()
    }

    /// Runs `sql` (several statements) in database `name`.
    async fn execute(&self, name: &str, sql: &str) {
        let client = self.connect(name).await;
        client.batch_execute(sql).await.expect("sql");
    }

    async fn connect(&self, name: &str) -> tokio_postgres::Client {
        let (client, connection) =
            tokio_postgres::connect(&self.url_of(name), tokio_postgres::NoTls)
                .await
                .expect("connect to the benchmark cluster");
        tokio::spawn(connection);
        client
    }

    /// The settings that decide what a commit costs, as the server reports them.
    async fn settings(&self) -> String {
        let client = self.connect("postgres").await;
        let mut shown = vec![];
        for name in [
            "server_version",
            "fsync",
            "synchronous_commit",
            "full_page_writes",
            "wal_sync_method",
            "shared_buffers",
            "max_wal_size",
        ] {
            let row = client
                .query_one(&format!("SHOW {name}"), &[])
                .await
                .expect("show");
            shown.push(format!("{name}={}", row.get::<_, String>(0)));
        }
        shown.join(", ")
    }

    /// The cluster's counters, for what one transition costs it.
    async fn counters(&self) -> Counters {
        let client = self.connect("postgres").await;
        let row = client
            .query_one(
                "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::float8,
                        pg_snapshot_xmax(pg_current_snapshot())::text::float8",
                &[],
            )
            .await
            .expect("counters");
        Counters {
            wal_bytes: row.get(0),
            xids: row.get(1),
            cpu: self.cpu_seconds(),
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new(script())
            .arg("stop")
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// Cluster-wide counters read before and after a run.
#[derive(Clone, Copy)]
struct Counters {
    wal_bytes: f64,
    /// The next transaction id: write transactions started so far.
    xids: f64,
    /// CPU seconds of all the cluster's processes.
    cpu: f64,
}

/// What the cluster did per transition (a pgbench transaction or a task update).
#[derive(Clone, Copy)]
struct PerTransition {
    wal_bytes: f64,
    write_transactions: f64,
    pg_cpu_us: f64,
}

impl Counters {
    fn per(self, after: Counters, transitions: f64) -> PerTransition {
        let n = transitions.max(1.0);
        PerTransition {
            wal_bytes: (after.wal_bytes - self.wal_bytes) / n,
            write_transactions: (after.xids - self.xids) / n,
            pg_cpu_us: (after.cpu - self.cpu) * 1e6 / n,
        }
    }
}

// ---------------------------------------------------------------------------------
// pgbench: the transition script of the performance plan (§5.4, §7)
// ---------------------------------------------------------------------------------

const BENCH_WORKFLOWS: u32 = 100_000;
const BENCH_TASKS: u32 = 1_000_000;

/// A task row's JSON of the size Podium writes (about 300 bytes).
const ROW_JSON: &str = r#"{"taskType":"s3_b","status":"SCHEDULED","referenceTaskName":"s3_b","seq":2,"retryCount":0,"pollCount":0,"workflowType":"s3_flow","workflowInstanceId":"0193a5c4-7f1e-7c3a-9d2b-5e8f1a2b3c4d","taskId":"0193a5c4-7f20-7b11-8a9c-0d1e2f3a4b5c","scheduledTime":1764999999999,"inputData":{"n":42},"outputData":{}}"#;

/// Creates database `bench` with the appendix's tables, 100k workflows and 1M tasks.
async fn pgbench_setup(cluster: &Cluster) {
    cluster.execute("postgres", "CREATE DATABASE bench").await;
    cluster
        .execute(
            "bench",
            &format!(
                "CREATE TABLE workflow (id BIGINT PRIMARY KEY, status TEXT NOT NULL, updated TIMESTAMPTZ NOT NULL, json TEXT NOT NULL);
                 CREATE TABLE task (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, wf_id BIGINT NOT NULL, ref TEXT NOT NULL, status TEXT NOT NULL, updated TIMESTAMPTZ NOT NULL, json TEXT NOT NULL);
                 INSERT INTO workflow SELECT g, 'RUNNING', now(), '{json}' FROM generate_series(1, {BENCH_WORKFLOWS}) g;
                 INSERT INTO task (id, wf_id, ref, status, updated, json)
                     SELECT g, 1 + (g - 1) % {BENCH_WORKFLOWS}, 't0', 'COMPLETED', now(), '{json}' FROM generate_series(1, {BENCH_TASKS}) g;
                 SELECT setval(pg_get_serial_sequence('task', 'id'), {BENCH_TASKS});
                 CREATE INDEX task_wf ON task (wf_id);
                 CREATE INDEX task_status ON task (status, updated);
                 VACUUM ANALYZE;
                 CHECKPOINT;",
                json = ROW_JSON
            ),
        )
        .await;
}

/// The transition script for `pgbench -n -M prepared -f`.
fn transition_script() -> String {
    format!(
        "\\set w random(1, {BENCH_WORKFLOWS})
\\set t random(1, {BENCH_TASKS})
BEGIN;
UPDATE task SET status = 'COMPLETED', updated = now(), json = '{json}' WHERE id = :t;
INSERT INTO task (wf_id, ref, status, updated, json) VALUES (:w, 't1', 'SCHEDULED', now(), '{json}');
UPDATE workflow SET updated = now() WHERE id = :w;
END;
",
        json = ROW_JSON
    )
}

/// pgbench's transactions per second and count over `seconds` with 8 clients.
fn pgbench(cluster: &Cluster, script: &Path, seconds: u64) -> (f64, f64) {
    let bin = pg_tool("pgbench").expect("pgbench (postgresql-client)");
    let output = Command::new(bin)
        .args(["-n", "-M", "prepared", "-c8", "-j2", "-T"])
        .arg(seconds.to_string())
        .arg("-f")
        .arg(script)
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &cluster.port(),
            "-U",
            "podium",
            "bench",
        ])
        .output()
        .expect("run pgbench");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "pgbench failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let field = |prefix: &str| -> f64 {
        stdout
            .lines()
            .find_map(|l| l.trim().strip_prefix(prefix))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no '{prefix}' in pgbench's output:\n{stdout}"))
    };
    (
        field("tps = "),
        field("number of transactions actually processed: "),
    )
}

// ---------------------------------------------------------------------------------
// Podium on the cluster
// ---------------------------------------------------------------------------------

/// One measured S3 run of `nodes` servers on a fresh database, and what the
/// cluster did per task update, the 99th percentile start-to-complete time of the
/// workflows that completed in the measured stretch (ms), and the average size of
/// the task and workflow JSON Podium stored.
struct NodeRun {
    result: S3Result,
    per: PerTransition,
    p99_ms: f64,
    json_bytes: (f64, f64),
}

async fn podium_run(
    cluster: &Cluster,
    work: &Path,
    name: &str,
    nodes: usize,
    pool: usize,
    seconds: f64,
) -> NodeRun {
    cluster
        .execute("postgres", &format!("CREATE DATABASE {name}"))
        .await;
    let url = cluster.url_of(name);
    let load = S3Load::start_on(
        work,
        Store::Postgres {
            url: &url,
            nodes,
            pool,
        },
        Security::On,
        Inputs::Plain,
    )
    .await;
    let client = cluster.connect(name).await;
    let completed = async || -> f64 {
        let row = client
            .query_one(
                "SELECT count(*)::float8 FROM task WHERE status = 'COMPLETED'",
                &[],
            )
            .await
            .expect("count");
        row.get(0)
    };
    let (before, done_before) = (cluster.counters().await, completed().await);
    let result = load.measure(1.0, seconds).await;
    load.finish().await;
    let (after, done_after) = (cluster.counters().await, completed().await);
    let per = before.per(after, done_after - done_before);
    let (start, end) = result.window_ms;
    let row = client
        .query_one(
            "SELECT coalesce(percentile_disc(0.99) WITHIN GROUP (ORDER BY end_time - start_time), 0)::float8,
                    (SELECT coalesce(avg(length(json)), 0)::float8 FROM task),
                    (SELECT coalesce(avg(length(json)), 0)::float8 FROM workflow)
             FROM workflow WHERE status = 'COMPLETED' AND end_time BETWEEN $1 AND $2",
            &[&start, &end],
        )
        .await
        .expect("latency");
    drop(client);
    cluster
        .execute("postgres", &format!("DROP DATABASE {name} WITH (FORCE)"))
        .await;
    NodeRun {
        result,
        per,
        p99_ms: row.get(0),
        json_bytes: (row.get(1), row.get(2)),
    }
}

// ---------------------------------------------------------------------------------
// S6
// ---------------------------------------------------------------------------------

/// S6: pgbench's transition at 8 clients, the S3 load on one node with 8 database
/// connections, and the S3 load split over two nodes (`node_pool` connections
/// each) sharing one database; `pairs` rounds, alternating the order.
pub async fn s6(pairs: usize, seconds: f64, durable: bool, node_pool: usize) {
    use crate::median;
    println!();
    println!(
        "S6: Podium on PostgreSQL (3-task SIMPLE workflow, S3 load) vs pgbench's transition script at -c8; one node (pool 8) and two nodes (pool {node_pool} each) on one database"
    );
    let cluster = Cluster::start(durable);
    println!("  cluster: {}", cluster.settings().await);
    let started = Instant::now();
    pgbench_setup(&cluster).await;
    println!(
        "  pgbench tables: {BENCH_WORKFLOWS} workflows, {BENCH_TASKS} tasks, {}-byte JSON, loaded in {:.1} s",
        ROW_JSON.len(),
        started.elapsed().as_secs_f64()
    );
    let work = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("temp dir");
    let script = work.path().join("transition.sql");
    std::fs::write(&script, transition_script()).expect("script");
    let pgbench_seconds = seconds.round().max(1.0) as u64;

    let (mut bench_tps, mut one_upd, mut two_upd) = (vec![], vec![], vec![]);
    let (mut one_wf, mut two_wf, mut ratios, mut scaling) = (vec![], vec![], vec![], vec![]);
    let (mut one_cpu, mut two_cpu, mut one_p99, mut two_p99) = (vec![], vec![], vec![], vec![]);
    let (mut bench_per, mut one_per, mut two_per) = (vec![], vec![], vec![]);
    let mut json_bytes = (0.0, 0.0);
    for pair in 0..pairs {
        let run_bench = async || {
            let before = cluster.counters().await;
            let (tps, count) =
                tokio::task::block_in_place(|| pgbench(&cluster, &script, pgbench_seconds));
            (tps, before.per(cluster.counters().await, count))
        };
        let one_name = format!("podium_{pair}_one");
        let two_name = format!("podium_{pair}_two");
        // Alternate the order, so drift on the machine favours no side.
        let (bench, one, two) = if pair % 2 == 0 {
            let bench = run_bench().await;
            let one = podium_run(&cluster, work.path(), &one_name, 1, 8, seconds).await;
            let two = podium_run(&cluster, work.path(), &two_name, 2, node_pool, seconds).await;
            (bench, one, two)
        } else {
            let two = podium_run(&cluster, work.path(), &two_name, 2, node_pool, seconds).await;
            let one = podium_run(&cluster, work.path(), &one_name, 1, 8, seconds).await;
            (run_bench().await, one, two)
        };
        let ratio = one.result.updates_per_second / bench.0;
        let scale = two.result.updates_per_second / one.result.updates_per_second;
        println!(
            "  pair {}: pgbench {:>5.0} tx/s | 1 node {:>5.0} wf/s, {:>5.0} upd/s, {:>4.0} cpu us/upd, p99 {:>4.0} ms | 2 nodes {:>5.0} wf/s, {:>5.0} upd/s, {:>4.0} cpu us/upd, p99 {:>4.0} ms | 1 node/pgbench {:.3}, 2 nodes/1 node {:.3}",
            pair + 1,
            bench.0,
            one.result.workflows_per_second,
            one.result.updates_per_second,
            one.result.cpu_us_per_update,
            one.p99_ms,
            two.result.workflows_per_second,
            two.result.updates_per_second,
            two.result.cpu_us_per_update,
            two.p99_ms,
            ratio,
            scale
        );
        bench_tps.push(bench.0);
        bench_per.push(bench.1);
        one_upd.push(one.result.updates_per_second);
        two_upd.push(two.result.updates_per_second);
        one_wf.push(one.result.workflows_per_second);
        two_wf.push(two.result.workflows_per_second);
        one_cpu.push(one.result.cpu_us_per_update);
        two_cpu.push(two.result.cpu_us_per_update);
        one_p99.push(one.p99_ms);
        two_p99.push(two.p99_ms);
        one_per.push(one.per);
        two_per.push(two.per);
        ratios.push(ratio);
        scaling.push(scale);
        json_bytes = one.json_bytes;
    }
    println!(
        "  median: pgbench {:.0} tx/s; 1 node {:.0} wf/s, {:.0} task updates/s, {:.0} cpu us/update, p99 start->complete {:.0} ms; 2 nodes {:.0} wf/s, {:.0} task updates/s, {:.0} cpu us/update (both servers), p99 {:.0} ms",
        median(bench_tps),
        median(one_wf),
        median(one_upd),
        median(one_cpu),
        median(one_p99),
        median(two_wf),
        median(two_upd),
        median(two_cpu),
        median(two_p99)
    );
    println!(
        "  median ratios: server transitions/s / pgbench tps {:.3} (target >= 0.5); 2 nodes / 1 node {:.3} (target >= 1.0)",
        median(ratios),
        median(scaling)
    );
    let describe = |name: &str, per: &[PerTransition]| {
        println!(
            "  per transition, {name}: {:.2} write transactions, {:.0} WAL bytes, {:.0} us PostgreSQL CPU",
            median(per.iter().map(|p| p.write_transactions).collect()),
            median(per.iter().map(|p| p.wal_bytes).collect()),
            median(per.iter().map(|p| p.pg_cpu_us).collect())
        );
    };
    describe("pgbench", &bench_per);
    describe("1 node (per task update)", &one_per);
    describe("2 nodes (per task update)", &two_per);
    println!(
        "  Podium's stored JSON: task rows {:.0} bytes, workflow rows {:.0} bytes on average (pgbench rows {} bytes)",
        json_bytes.0,
        json_bytes.1,
        ROW_JSON.len()
    );
}
