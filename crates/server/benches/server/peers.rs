//! S8: Podium against a peer durable workflow engine, Restate, doing the same job in
//! the same run: the S3 workflow (three SIMPLE tasks done by SDK-style HTTP workers)
//! on Podium with SQLite (durability `process`, and `power-loss`) and on PostgreSQL
//! (a throwaway cluster from `scripts/postgres` with fsync and synchronous_commit on),
//! against a Restate workflow of three `ctx.run` steps (the Restate server and its
//! TypeScript SDK from npm, `benches/peers`, driven by `benches/peers/run.mjs`).
//!
//! Every side gets a fresh server (and database) per round and is measured the same
//! way: first the latency of single workflows started one at a time and awaited
//! through the engine's synchronous call on the otherwise idle server, then the
//! completed workflows per second with 400 in flight, with the server-side CPU per
//! workflow (Podium's process and PostgreSQL's; Restate's server and its Node service)
//! over the measured stretch. The load generators are not counted (their CPU is shown
//! apart: Podium's is this process, Restate's the Node process of run.mjs). The sides
//! take turns, starting with a different side each round, so drift on the machine
//! hits them alike.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

use super::Security;
use super::load::{Inputs, S3Load, Store};
use super::postgres::{Cluster, DATABASE_COUNTERS};
use super::procs::{Machine, own_cpu_seconds};

/// Workflows run one at a time before the timed ones.
const WARMUP: usize = 100;
/// Workflows timed one at a time, per side and round.
const SAMPLES: usize = 200;
/// Workflows in flight under load (as in S3).
const IN_FLIGHT: usize = 400;
/// Seconds the load runs before it is measured.
const SETTLE: f64 = 1.0;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Side {
    SqliteProcess,
    SqlitePowerLoss,
    Postgres,
    Restate,
}

impl Side {
    fn name(self) -> &'static str {
        match self {
            Side::SqliteProcess => "Podium, SQLite `process`",
            Side::SqlitePowerLoss => "Podium, SQLite `power-loss`",
            Side::Postgres => "Podium, PostgreSQL",
            Side::Restate => "Restate",
        }
    }

    fn short(self) -> &'static str {
        match self {
            Side::SqliteProcess => "sqlite/process",
            Side::SqlitePowerLoss => "sqlite/power-loss",
            Side::Postgres => "postgres",
            Side::Restate => "restate",
        }
    }

    /// What a step's acknowledgement guarantees.
    fn durability(self) -> &'static str {
        match self {
            Side::SqliteProcess => {
                "committed to the WAL file, not fsynced (WAL, synchronous=NORMAL): survives a crash of the process, not of the machine"
            }
            Side::SqlitePowerLoss => {
                "committed and fsynced (WAL, synchronous=FULL; concurrent requests share a commit): survives power loss"
            }
            Side::Postgres => {
                "committed and flushed (fsync=on, synchronous_commit=on, full_page_writes=on): survives power loss"
            }
            Side::Restate => {
                "appended to the log and fsynced (log-server RocksDB WAL, sync write per batch): survives power loss"
            }
        }
    }
}

/// One side in one round.
struct Run {
    workflows_per_second: f64,
    /// Server-side CPU per completed workflow in µs: the engine's process, and the
    /// other server-side process (PostgreSQL, or Restate's Node service; 0 for none).
    cpu_us: (f64, f64),
    latencies_ms: Vec<f64>,
    /// CPU per completed workflow of the load (starters and workers, or callers), µs.
    load_cpu_us: f64,
    /// The share of the cores other work took meanwhile.
    others: f64,
}

fn repo_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(relative)
}

// ---------------------------------------------------------------------------------
// The two engines
// ---------------------------------------------------------------------------------

/// Podium with the S3 load on `store`: latency, then throughput.
async fn podium_run(
    work: &Path,
    store: Store<'_>,
    seconds: f64,
    other_cpu: impl Fn() -> f64,
) -> Run {
    let load = S3Load::start_on(work, store, Security::On, Inputs::Plain).await;
    let latencies_ms = load.latencies(WARMUP, SAMPLES).await;
    let (result, before, after) = load
        .measure_with(SETTLE, seconds, || (other_cpu(), own_cpu_seconds()))
        .await;
    load.finish().await;
    let elapsed = (result.window_ms.1 - result.window_ms.0) as f64 / 1000.0;
    let workflows = (result.workflows_per_second * elapsed).max(1.0);
    Run {
        workflows_per_second: result.workflows_per_second,
        cpu_us: (
            result.cpu_us_per_update * result.updates_per_second / result.workflows_per_second,
            (after.0 - before.0) * 1e6 / workflows,
        ),
        latencies_ms,
        load_cpu_us: (after.1 - before.1) * 1e6 / workflows,
        others: 0.0,
    }
}

/// Installs the Restate side's packages from the lockfile when they are missing;
/// why the side cannot run, if it cannot.
fn prepare_restate() -> Result<(), String> {
    let dir = repo_path("benches/peers");
    let node = Command::new("node").arg("--version").output();
    if !node.is_ok_and(|o| o.status.success()) {
        return Err("`node` is not on PATH".into());
    }
    if dir.join("node_modules/@restatedev/restate-sdk").is_dir() {
        return Ok(());
    }
    println!("  installing benches/peers with `npm ci`");
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(&dir)
        .stdout(Stdio::null())
        .status()
        .map_err(|e| format!("npm: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`npm ci` in {} failed", dir.display()))
    }
}

/// One round of `benches/peers/run.mjs`; the settings it reports go to `settings`.
fn restate_run(work: &Path, seconds: f64, settings: &mut String) -> Run {
    let output = Command::new("node")
        .arg(repo_path("benches/peers/run.mjs"))
        .arg(format!("--data-dir={}", work.display()))
        .arg(format!("--seconds={seconds}"))
        .arg(format!("--settle={SETTLE}"))
        .arg(format!("--in-flight={IN_FLIGHT}"))
        .arg(format!("--warmup={WARMUP}"))
        .arg(format!("--latency={SAMPLES}"))
        .stderr(Stdio::piped())
        .output()
        .expect("run node benches/peers/run.mjs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let answer: Value = stdout
        .lines()
        .last()
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or(Value::Null);
    assert!(
        output.status.success() && answer["error"].is_null(),
        "the Restate side failed: {}\n{}",
        answer["error"],
        String::from_utf8_lossy(&output.stderr)
    );
    let number = |key: &str| answer[key].as_f64().expect(key);
    *settings = format!(
        "{} ({})",
        answer["version"].as_str().unwrap_or("?"),
        answer["settings"].as_str().unwrap_or("?")
    );
    Run {
        workflows_per_second: number("workflows_per_second"),
        cpu_us: (
            number("server_cpu_us_per_workflow"),
            number("service_cpu_us_per_workflow"),
        ),
        latencies_ms: answer["latencies_ms"]
            .as_array()
            .expect("latencies")
            .iter()
            .filter_map(Value::as_f64)
            .collect(),
        load_cpu_us: number("load_cpu_us_per_workflow"),
        others: 0.0,
    }
}

// ---------------------------------------------------------------------------------
// S8
// ---------------------------------------------------------------------------------

/// The `q` quantile of `values` (nearest rank).
fn quantile(values: &[f64], q: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(|a, b| a.total_cmp(b));
    let rank = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len().max(1));
    sorted.get(rank - 1).copied().unwrap_or(f64::NAN)
}

/// What S8 runs besides its sides.
pub struct Options {
    pub rounds: usize,
    /// Seconds measured under load, per side and round.
    pub seconds: f64,
    /// Whether the PostgreSQL side runs, and its server's pool of connections.
    pub postgres: bool,
    pub pool: usize,
    /// Short names of the sides to run; all when empty.
    pub only: Vec<String>,
    /// Whether pg_stat_statements is loaded and the statements of the PostgreSQL
    /// side's first round are printed (it slows statements down a little).
    pub statements: bool,
}

/// S8, as `options` say.
pub async fn s8(options: Options) {
    let Options {
        rounds,
        seconds,
        postgres,
        pool,
        only,
        statements,
    } = options;
    use crate::median;
    println!();
    println!(
        "S8: Podium (S3 workflow, 3 SIMPLE tasks, SDK-style HTTP workers) vs Restate (workflow of 3 ctx.run steps, TypeScript SDK) side by side; per side and round: {SAMPLES} single workflows one at a time (after {WARMUP}), then {IN_FLIGHT} in flight for {seconds} s (+{SETTLE} s settle)"
    );
    let mut sides = vec![Side::SqliteProcess, Side::SqlitePowerLoss];
    if postgres {
        sides.push(Side::Postgres);
    }
    sides.push(Side::Restate);
    sides.retain(|side| only.is_empty() || only.iter().any(|o| o == side.short()));
    assert!(!sides.is_empty(), "--only names none of the sides");
    if sides.contains(&Side::Restate)
        && let Err(why) = prepare_restate()
    {
        panic!("S8 cannot run the Restate side: {why}");
    }
    // A cluster with production durability (fsync, synchronous_commit and
    // full_page_writes on), stopped when dropped.
    let mut cluster = sides
        .contains(&Side::Postgres)
        .then(|| Cluster::start(true, "s8-"));
    if let Some(cluster) = &mut cluster {
        cluster.time_wal_io().await;
        if statements {
            cluster.load_statements().await;
        }
    }
    for side in &sides {
        println!("  {}: {}", side.name(), side.durability());
    }
    let work = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("temp dir");
    let mut runs: Vec<Vec<Run>> = sides.iter().map(|_| Vec::new()).collect();
    let mut restate_settings = String::new();
    for round in 0..rounds {
        for k in 0..sides.len() {
            let i = (round + k) % sides.len();
            let machine = Machine::now(cluster.as_ref().map_or(0.0, Cluster::cpu_seconds));
            let mut run = match sides[i] {
                Side::SqliteProcess => {
                    podium_run(work.path(), Store::Sqlite("process"), seconds, || 0.0).await
                }
                Side::SqlitePowerLoss => {
                    podium_run(work.path(), Store::Sqlite("power-loss"), seconds, || 0.0).await
                }
                Side::Postgres => {
                    let cluster = cluster.as_ref().expect("cluster");
                    let name = format!("s8_{round}");
                    cluster
                        .execute("postgres", &format!("CREATE DATABASE {name}"))
                        .await;
                    let url = cluster.url_of(&name);
                    let store = Store::Postgres {
                        url: &url,
                        nodes: 1,
                        pool,
                    };
                    if statements {
                        cluster
                            .execute("postgres", "SELECT pg_stat_statements_reset()")
                            .await;
                    }
                    let before = cluster.database_counters(&name).await;
                    let run =
                        podium_run(work.path(), store, seconds, || cluster.cpu_seconds()).await;
                    // The servers have stopped: their statistics have reached the cluster.
                    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
                    let after = cluster.database_counters(&name).await;
                    let per: Vec<f64> = (0..DATABASE_COUNTERS)
                        .map(|i| (after[i] - before[i]) / after[DATABASE_COUNTERS].max(1.0))
                        .collect();
                    println!(
                        "    postgres, per completed workflow (all phases): {:.1} commits, {:.1} write transactions, {:.0} WAL records, {:.0} WAL bytes, {:.2} WAL fsyncs taking {:.2} ms, rows {:.1} inserted / {:.1} updated / {:.1} deleted",
                        per[0], per[1], per[2], per[3], per[4], per[5], per[6], per[7], per[8]
                    );
                    if statements && round == 0 {
                        cluster
                            .print_statements(&name, after[DATABASE_COUNTERS], "completed workflow")
                            .await;
                    }
                    // Nothing of this run is left for the cluster to do during the next.
                    // Each on its own: DROP DATABASE cannot run in a batch's transaction.
                    cluster
                        .execute("postgres", &format!("DROP DATABASE {name} WITH (FORCE)"))
                        .await;
                    cluster.execute("postgres", "CHECKPOINT").await;
                    run
                }
                Side::Restate => tokio::task::block_in_place(|| {
                    restate_run(work.path(), seconds, &mut restate_settings)
                }),
            };
            run.others = machine.others_since(cluster.as_ref().map_or(0.0, Cluster::cpu_seconds));
            runs[i].push(run);
        }
        let line: Vec<String> = sides
            .iter()
            .zip(&runs)
            .map(|(side, runs)| {
                let run = &runs[round];
                format!(
                    "{} {:>4.0} wf/s, {:>5.0} cpu us/wf, p50 {:>5.1} ms, others {:.0}%",
                    side.short(),
                    run.workflows_per_second,
                    run.cpu_us.0 + run.cpu_us.1,
                    quantile(&run.latencies_ms, 0.5),
                    run.others * 100.0
                )
            })
            .collect();
        println!("  round {}: {}", round + 1, line.join(" | "));
    }
    if !restate_settings.is_empty() {
        println!("  Restate: {restate_settings}");
    }
    println!();
    println!(
        "  | side | completed wf/s (median of {rounds}) | p50 start->completed | p99 | server CPU per workflow | load CPU per workflow |"
    );
    println!("  |---|---|---|---|---|---|");
    let restate_rate = sides
        .iter()
        .position(|side| *side == Side::Restate)
        .map(|i| median(runs[i].iter().map(|r| r.workflows_per_second).collect()));
    for (side, runs) in sides.iter().zip(&runs) {
        let latencies: Vec<f64> = runs.iter().flat_map(|r| r.latencies_ms.clone()).collect();
        let rate = median(runs.iter().map(|r| r.workflows_per_second).collect());
        let own = median(runs.iter().map(|r| r.cpu_us.0).collect());
        let other = median(runs.iter().map(|r| r.cpu_us.1).collect());
        let total = median(runs.iter().map(|r| r.cpu_us.0 + r.cpu_us.1).collect());
        let cpu = match side {
            Side::Postgres => {
                format!("{total:.0} us ({own:.0} Podium + {other:.0} PostgreSQL)")
            }
            Side::Restate => format!("{total:.0} us ({own:.0} server + {other:.0} service)"),
            _ => format!("{total:.0} us"),
        };
        let versus = match restate_rate {
            Some(restate) if *side != Side::Restate => format!(" ({:.2}x Restate)", rate / restate),
            _ => String::new(),
        };
        println!(
            "  | {} | {rate:.0}{versus} | {:.1} ms | {:.1} ms | {cpu} | {:.0} us |",
            side.name(),
            quantile(&latencies, 0.5),
            quantile(&latencies, 0.99),
            median(runs.iter().map(|r| r.load_cpu_us).collect()),
        );
    }
}
