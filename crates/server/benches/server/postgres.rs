//! S6: Podium on PostgreSQL against PostgreSQL's own rate for the same state
//! transition (pgbench with the performance plan's transition script), with one
//! node and with two nodes sharing the database, all on one throwaway cluster
//! started with `scripts/postgres`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use super::Security;
use super::load::{Inputs, S3Load, S3Result, Store};
use super::procs::{Machine, processes, tree_cpu};

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
    /// Whether pg_stat_statements is loaded.
    statements: bool,
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/postgres")
}

impl Cluster {
    /// Starts a cluster under the target directory (on the disk a real data
    /// directory would use), or under /tmp when that path is too long for the
    /// server's socket. `durable`: fsync, synchronous_commit and full_page_writes on.
    pub fn start(durable: bool, prefix: &str) -> Cluster {
        let target = Path::new(env!("CARGO_TARGET_TMPDIR"));
        let parent = if target.as_os_str().len() <= 60 {
            target
        } else {
            Path::new("/tmp")
        };
        let dir = tempfile::Builder::new()
            .prefix(prefix)
            .tempdir_in(parent)
            .expect("cluster dir");
        // The guard exists before the script runs: whatever it started is stopped.
        let mut cluster = Cluster {
            dir,
            url: String::new(),
            statements: false,
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

    /// Restarts the cluster with pg_stat_statements loaded (it slows statements down a
    /// little: for finding where time goes, not for the figures).
    pub(super) async fn load_statements(&mut self) {
        self.execute(
            "postgres",
            "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'",
        )
        .await;
        for command in ["stop", "resume"] {
            let status = Command::new(script())
                .arg(command)
                .arg(self.dir.path())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .expect("run scripts/postgres");
            assert!(status.success(), "scripts/postgres {command} failed");
        }
        self.execute("postgres", "CREATE EXTENSION pg_stat_statements")
            .await;
        self.statements = true;
    }

    /// Prints the statements database `name` ran since the last reset, the most
    /// time-consuming first, per unit of work done (`per` of them, named `unit`).
    pub(super) async fn print_statements(&self, name: &str, per: f64, unit: &str) {
        let client = self.connect("postgres").await;
        let rows = client
            .query(
                "SELECT s.calls::float8, s.total_exec_time, s.query
                 FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
                 WHERE d.datname = $1 ORDER BY s.total_exec_time DESC",
                &[&name],
            )
            .await
            .expect("pg_stat_statements");
        let calls: f64 = rows.iter().map(|r| r.get::<_, f64>(0)).sum();
        let time: f64 = rows.iter().map(|r| r.get::<_, f64>(1)).sum();
        let per = per.max(1.0);
        println!(
            "    statements of {name}, per {unit}: {:.1} calls, {:.0} us executing (pg_stat_statements; the top 12 by time):",
            calls / per,
            time * 1000.0 / per
        );
        for row in rows.iter().take(12) {
            let (calls, total, query): (f64, f64, String) = (row.get(0), row.get(1), row.get(2));
            let query: String = query.split_whitespace().collect::<Vec<_>>().join(" ");
            println!(
                "      {:>5.2} calls {:>6.1} us/call  {}",
                calls / per,
                total * 1000.0 / calls.max(1.0),
                query.chars().take(100).collect::<String>()
            );
        }
    }

    /// Times the cluster's WAL writes and fsyncs, for [`Cluster::database_counters`].
    pub(super) async fn time_wal_io(&self) {
        self.execute("postgres", "ALTER SYSTEM SET track_wal_io_timing = on")
            .await;
        self.execute("postgres", "SELECT pg_reload_conf()").await;
    }

    /// What the cluster has done so far for database `name`: [transactions committed,
    /// write transactions (transaction ids handed out), WAL records, WAL bytes, WAL
    /// fsyncs, ms spent in them, rows inserted, updated, deleted, and completed
    /// workflows in it]; the transaction ids and WAL figures are cluster-wide.
    pub(super) async fn database_counters(&self, name: &str) -> [f64; DATABASE_COUNTERS + 1] {
        let client = self.connect(name).await;
        let row = client
            .query_one(
                "SELECT d.xact_commit::float8,
                        pg_snapshot_xmax(pg_current_snapshot())::text::float8,
                        w.wal_records::float8, w.wal_bytes::float8, w.wal_sync::float8,
                        w.wal_sync_time::float8,
                        d.tup_inserted::float8, d.tup_updated::float8, d.tup_deleted::float8,
                        (SELECT count(*) FROM pg_tables WHERE tablename = 'workflow')::float8
                 FROM pg_stat_database d, pg_stat_wal w WHERE d.datname = $1",
                &[&name],
            )
            .await
            .expect("counters");
        let mut counters = [0.0; DATABASE_COUNTERS + 1];
        for (i, value) in counters.iter_mut().enumerate().take(DATABASE_COUNTERS) {
            *value = row.get(i);
        }
        if row.get::<_, f64>(DATABASE_COUNTERS) > 0.0 {
            let done = client
                .query_one(
                    "SELECT count(*)::float8 FROM workflow WHERE status = 'COMPLETED'",
                    &[],
                )
                .await
                .expect("completed");
            counters[DATABASE_COUNTERS] = done.get(0);
        }
        counters
    }

    /// The URL of database `name` on this cluster.
    pub(super) fn url_of(&self, name: &str) -> String {
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

    /// CPU seconds the cluster has used so far: the postmaster and every process
    /// under it (backends and background processes), with what they reaped.
    pub(super) fn cpu_seconds(&self) -> f64 {
        self.postmaster()
            .map_or(f64::NAN, |pid| tree_cpu(&processes(), pid))
    }

    /// Runs `sql` (several statements) in database `name`.
    pub(super) async fn execute(&self, name: &str, sql: &str) {
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

/// How many figures [`Cluster::database_counters`] reads besides the completed
/// workflows.
pub(super) const DATABASE_COUNTERS: usize = 9;

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

/// The JSON of rows as Podium stores them for the S3 workflow (taken from its
/// tables): a task once completed (756 bytes), a task when scheduled (693 bytes), and
/// a running workflow (429 bytes).
const TASK_COMPLETED_JSON: &str = r#"{"taskType":"s3_a","status":"COMPLETED","inputData":{"n":42},"referenceTaskName":"s3_a","retryCount":0,"seq":1,"pollCount":1,"taskDefName":"s3_a","scheduledTime":1796545336826,"startTime":1796545336842,"endTime":1796545337018,"updateTime":1796545337018,"startDelayInSeconds":0,"retried":false,"executed":true,"callbackFromWorker":true,"responseTimeoutSeconds":300,"workflowInstanceId":"01a24a72-55fa-7340-90a9-e35518781304","workflowType":"s3_flow","taskId":"01a24a72-55fa-7340-90a9-e356a1c09458","callbackAfterSeconds":0,"workerId":"w1","outputData":{"done":true},"rateLimitPerFrequency":0,"rateLimitFrequencyInSeconds":0,"workflowPriority":0,"iteration":0,"subworkflowChanged":false,"loopOverTask":false,"firstStartTime":1796545336842,"queueWaitTime":16}"#;
const TASK_SCHEDULED_JSON: &str = r#"{"taskType":"s3_b","status":"SCHEDULED","inputData":{"n":42},"referenceTaskName":"s3_b","retryCount":0,"seq":2,"pollCount":0,"taskDefName":"s3_b","scheduledTime":1796545337018,"startTime":0,"endTime":0,"updateTime":1796545337018,"startDelayInSeconds":0,"retried":false,"executed":false,"callbackFromWorker":true,"responseTimeoutSeconds":300,"workflowInstanceId":"01a24a72-55fa-7340-90a9-e35518781304","workflowType":"s3_flow","taskId":"01a24a72-56ba-70e2-a403-9b06cd065a97","callbackAfterSeconds":0,"outputData":{},"rateLimitPerFrequency":0,"rateLimitFrequencyInSeconds":0,"workflowPriority":0,"iteration":0,"subworkflowChanged":false,"loopOverTask":false,"firstStartTime":0,"queueWaitTime":0}"#;
const WORKFLOW_JSON: &str = r#"{"createTime":1796545336826,"updateTime":1796545336826,"createdBy":"anonymous","status":"RUNNING","startTime":1796545336826,"endTime":0,"workflowId":"01a24a72-55fa-7340-90a9-e35518781304","tasks":[],"input":{"n":42,"s":1},"output":{},"taskToDomain":{},"failedReferenceTaskNames":[],"failedTaskNames":[],"priority":0,"variables":{},"lastRetriedTime":0,"history":[],"rateLimited":false,"workflowName":"s3_flow","workflowVersion":1}"#;

/// Creates database `bench` with the appendix's tables, 100k workflows and 1M tasks.
async fn pgbench_setup(cluster: &Cluster) {
    cluster.execute("postgres", "CREATE DATABASE bench").await;
    cluster
        .execute(
            "bench",
            &format!(
                "CREATE TABLE workflow (id BIGINT PRIMARY KEY, status TEXT NOT NULL, updated TIMESTAMPTZ NOT NULL, json TEXT NOT NULL);
                 CREATE TABLE task (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, wf_id BIGINT NOT NULL, ref TEXT NOT NULL, status TEXT NOT NULL, updated TIMESTAMPTZ NOT NULL, json TEXT NOT NULL);
                 INSERT INTO workflow SELECT g, 'RUNNING', now(), '{WORKFLOW_JSON}' FROM generate_series(1, {BENCH_WORKFLOWS}) g;
                 INSERT INTO task (id, wf_id, ref, status, updated, json)
                     SELECT g, 1 + (g - 1) % {BENCH_WORKFLOWS}, 't0', 'SCHEDULED', now(), '{TASK_SCHEDULED_JSON}' FROM generate_series(1, {BENCH_TASKS}) g;
                 SELECT setval(pg_get_serial_sequence('task', 'id'), {BENCH_TASKS});
                 CREATE INDEX task_wf ON task (wf_id);
                 CREATE INDEX task_status ON task (status, updated);"
            ),
        )
        .await;
    // Each on its own: VACUUM cannot run in the transaction of a statement batch.
    cluster.execute("bench", "VACUUM ANALYZE").await;
    cluster.execute("bench", "CHECKPOINT").await;
}

/// `json` for a pgbench script: a space after each `:` that a letter follows, since
/// pgbench takes `:name` for a variable even inside a string literal.
fn pgbench_text(json: &str) -> String {
    let mut text = String::with_capacity(json.len() + 16);
    let mut chars = json.chars().peekable();
    while let Some(c) = chars.next() {
        text.push(c);
        if c == ':' && chars.peek().is_some_and(|n| n.is_alphabetic() || *n == '_') {
            text.push(' ');
        }
    }
    text
}

/// The transition script for `pgbench -n -M prepared -f`.
fn transition_script() -> String {
    let (completed, scheduled) = (
        pgbench_text(TASK_COMPLETED_JSON),
        pgbench_text(TASK_SCHEDULED_JSON),
    );
    format!(
        "\\set w random(1, {BENCH_WORKFLOWS})
\\set t random(1, {BENCH_TASKS})
BEGIN;
UPDATE task SET status = 'COMPLETED', updated = now(), json = '{completed}' WHERE id = :t;
INSERT INTO task (wf_id, ref, status, updated, json) VALUES (:w, 't1', 'SCHEDULED', now(), '{scheduled}');
UPDATE workflow SET updated = now() WHERE id = :w;
END;
"
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

/// Single workflows timed one at a time on a fresh database, after this many
/// untimed ones.
const LATENCY_SAMPLES: usize = 200;
const LATENCY_WARMUP: usize = 50;

/// One S3 run of a side on a fresh database: the throughput under load, what the
/// cluster did per task update, the 99th percentile start-to-complete time of the
/// workflows that completed in the measured stretch (ms, 400 in flight), the median
/// and 99th percentile of single workflows run one at a time before the load (ms, as
/// the client saw them and as the server stamped them), and the average size of the
/// task and workflow JSON Podium stored.
struct NodeRun {
    result: S3Result,
    per: PerTransition,
    p99_ms: f64,
    single_ms: (f64, f64),
    /// The same from the workflows' start and end times in the database.
    stamped_ms: (f64, f64),
    /// The share of the machine other work used while the load ran.
    others: f64,
    json_bytes: (f64, f64),
}

/// A run of `nodes` nodes with `pool` connections each; with `statements`, prints
/// what its statements cost (when pg_stat_statements is loaded).
async fn podium_run(
    cluster: &Cluster,
    work: &Path,
    name: &str,
    (nodes, pool): (usize, usize),
    seconds: f64,
    statements: bool,
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
    // Single workflows through the synchronous start, on the otherwise idle nodes.
    let mut single = load.latencies(LATENCY_WARMUP, LATENCY_SAMPLES).await;
    let singles_end = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    single.sort_by(f64::total_cmp);
    let single_ms = (
        single[single.len() / 2],
        single[(single.len() * 99 / 100).min(single.len() - 1)],
    );
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
    let report_statements = statements && cluster.statements;
    if report_statements {
        cluster
            .execute("postgres", "SELECT pg_stat_statements_reset()")
            .await;
    }
    // Every run starts from a checkpoint, so none pays for another's dirty pages.
    cluster.execute("postgres", "CHECKPOINT").await;
    let (before, done_before) = (cluster.counters().await, completed().await);
    let machine = Machine::now(cluster.cpu_seconds());
    let result = load.measure(1.0, seconds).await;
    let others = machine.others_since(cluster.cpu_seconds());
    load.finish().await;
    let (after, done_after) = (cluster.counters().await, completed().await);
    if report_statements {
        cluster
            .print_statements(name, done_after - done_before, "task update")
            .await;
    }
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
    // The single workflows' own start and end times, as the server stamped them (a
    // synchronous start sees a completion on another node only at its next look).
    let stamped = client
        .query_one(
            &format!(
                "SELECT coalesce(percentile_disc(0.5) WITHIN GROUP (ORDER BY d), 0)::float8,
                        coalesce(percentile_disc(0.99) WITHIN GROUP (ORDER BY d), 0)::float8
                 FROM (SELECT end_time - start_time AS d FROM workflow
                       WHERE status = 'COMPLETED' AND start_time < $1
                       ORDER BY start_time OFFSET {LATENCY_WARMUP}) singles"
            ),
            &[&singles_end],
        )
        .await
        .expect("single latencies");
    drop(client);
    cluster
        .execute("postgres", &format!("DROP DATABASE {name} WITH (FORCE)"))
        .await;
    NodeRun {
        result,
        per,
        p99_ms: row.get(0),
        single_ms,
        stamped_ms: (stamped.get(0), stamped.get(1)),
        others,
        json_bytes: (row.get(1), row.get(2)),
    }
}

// ---------------------------------------------------------------------------------
// S6
// ---------------------------------------------------------------------------------

/// S6: pgbench's transition at 8 clients, the S3 load on one node with 8 database
/// connections, and the S3 load split over two nodes (`node_pool` connections
/// each) sharing one database; `pairs` rounds, alternating the order.
/// With `statements`, pg_stat_statements is loaded and the statements of the first
/// pair's Podium runs are printed.
pub async fn s6(pairs: usize, seconds: f64, durable: bool, node_pool: usize, statements: bool) {
    use crate::median;
    println!();
    println!(
        "S6: Podium on PostgreSQL (3-task SIMPLE workflow, S3 load) vs pgbench's transition script at -c8; one node (pool 8) and two nodes (pool {node_pool} each) on one database"
    );
    println!(
        "  (others: the share of the cores that processes outside the benchmark, or the hypervisor, took during a run)"
    );
    let mut cluster = Cluster::start(durable, "s6-");
    if statements {
        cluster.load_statements().await;
    }
    let cluster = cluster;
    println!("  cluster: {}", cluster.settings().await);
    let started = Instant::now();
    pgbench_setup(&cluster).await;
    println!(
        "  pgbench tables: {BENCH_WORKFLOWS} workflows, {BENCH_TASKS} tasks, JSON as Podium's rows ({}/{} bytes per task, {} per workflow), loaded in {:.1} s",
        TASK_COMPLETED_JSON.len(),
        TASK_SCHEDULED_JSON.len(),
        WORKFLOW_JSON.len(),
        started.elapsed().as_secs_f64()
    );
    let work = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("temp dir");
    let script = work.path().join("transition.sql");
    std::fs::write(&script, transition_script()).expect("script");
    let pgbench_seconds = seconds.round().max(1.0) as u64;

    let (one_node, two_nodes) = ((1, 8), (2, node_pool));
    let (mut benches, mut ones, mut twos) = (vec![], vec![], vec![]);
    let (mut ratios, mut scaling) = (vec![], vec![]);
    for pair in 0..pairs {
        let run_bench = async || {
            cluster.execute("postgres", "CHECKPOINT").await;
            let before = cluster.counters().await;
            let machine = Machine::now(cluster.cpu_seconds());
            let (tps, count) =
                tokio::task::block_in_place(|| pgbench(&cluster, &script, pgbench_seconds));
            let others = machine.others_since(cluster.cpu_seconds());
            (tps, before.per(cluster.counters().await, count), others)
        };
        let one_name = format!("podium_{pair}_one");
        let two_name = format!("podium_{pair}_two");
        let (dir, first) = (work.path(), pair == 0);
        // Alternate the order, so drift on the machine favours no side.
        let (bench, one, two) = if pair % 2 == 0 {
            let bench = run_bench().await;
            let one = podium_run(&cluster, dir, &one_name, one_node, seconds, first).await;
            let two = podium_run(&cluster, dir, &two_name, two_nodes, seconds, first).await;
            (bench, one, two)
        } else {
            let two = podium_run(&cluster, dir, &two_name, two_nodes, seconds, false).await;
            let one = podium_run(&cluster, dir, &one_name, one_node, seconds, false).await;
            (run_bench().await, one, two)
        };
        let ratio = one.result.updates_per_second / bench.0;
        let scale = two.result.updates_per_second / one.result.updates_per_second;
        let side = |run: &NodeRun| {
            format!(
                "{:>4.0} wf/s, {:>5.0} upd/s, {:>4.0} cpu us/upd, p99 {:>4.0} ms loaded; single p50/p99 {:>4.1}/{:>5.1} ms ({:.0}/{:.0} stamped); others {:.0}%",
                run.result.workflows_per_second,
                run.result.updates_per_second,
                run.result.cpu_us_per_update,
                run.p99_ms,
                run.single_ms.0,
                run.single_ms.1,
                run.stamped_ms.0,
                run.stamped_ms.1,
                run.others * 100.0
            )
        };
        println!(
            "  pair {}: pgbench {:>5.0} tx/s, others {:.0}% | 1 node {} | 2 nodes {} | 1 node/pgbench {:.3}, 2 nodes/1 node {:.3}",
            pair + 1,
            bench.0,
            bench.2 * 100.0,
            side(&one),
            side(&two),
            ratio,
            scale
        );
        benches.push(bench);
        ones.push(one);
        twos.push(two);
        ratios.push(ratio);
        scaling.push(scale);
    }
    let of =
        |runs: &[NodeRun], value: fn(&NodeRun) -> f64| median(runs.iter().map(value).collect());
    let side = |runs: &[NodeRun]| {
        format!(
            "{:.0} wf/s, {:.0} task updates/s, {:.0} server cpu us/update, p99 start->complete {:.0} ms with 400 in flight; single workflows p50 {:.1} ms p99 {:.1} ms at the client, {:.0}/{:.0} ms stamped",
            of(runs, |r| r.result.workflows_per_second),
            of(runs, |r| r.result.updates_per_second),
            of(runs, |r| r.result.cpu_us_per_update),
            of(runs, |r| r.p99_ms),
            of(runs, |r| r.single_ms.0),
            of(runs, |r| r.single_ms.1),
            of(runs, |r| r.stamped_ms.0),
            of(runs, |r| r.stamped_ms.1)
        )
    };
    println!(
        "  median: pgbench {:.0} tx/s",
        median(benches.iter().map(|b| b.0).collect())
    );
    println!("  median: 1 node: {}", side(&ones));
    println!("  median: 2 nodes: {} (cpu of both servers)", side(&twos));
    let per_workflow: Vec<f64> = ones
        .iter()
        .zip(&benches)
        .map(|(one, bench)| 4.0 * one.result.workflows_per_second / bench.0)
        .collect();
    println!(
        "  median ratios: server transitions (task updates)/s / pgbench tps {:.3} (target >= 0.5; counting 4 transitions per workflow as S3 does, {:.3}); 2 nodes / 1 node {:.3} (target >= 1.0)",
        median(ratios),
        median(per_workflow),
        median(scaling)
    );
    let describe = |name: &str, per: Vec<PerTransition>| {
        println!(
            "  per transition, {name}: {:.2} write transactions, {:.0} WAL bytes, {:.0} us PostgreSQL CPU",
            median(per.iter().map(|p| p.write_transactions).collect()),
            median(per.iter().map(|p| p.wal_bytes).collect()),
            median(per.iter().map(|p| p.pg_cpu_us).collect())
        );
    };
    describe("pgbench", benches.iter().map(|b| b.1).collect());
    describe(
        "1 node (per task update)",
        ones.iter().map(|r| r.per).collect(),
    );
    describe(
        "2 nodes (per task update)",
        twos.iter().map(|r| r.per).collect(),
    );
    if let Some(run) = ones.last() {
        println!(
            "  Podium's stored JSON: task rows {:.0} bytes, workflow rows {:.0} bytes on average",
            run.json_bytes.0, run.json_bytes.1
        );
    }
}
