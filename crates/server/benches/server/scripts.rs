//! Scripts and loops, each side by side with its baseline in one run:
//!
//! - `inline`: what one evaluation costs (p50/p99) in a `podium script-runner`
//!   process, as the server runs it, against the same evaluation on a thread of this
//!   process; then the throughput of a 3-task workflow of `INLINE` tasks against
//!   the same workflow of `SIMPLE` tasks with do-nothing workers, both driven by the
//!   same clients through the synchronous start (`POST /api/workflow/execute`),
//!   the two sides taking turns on one server.
//! - `loop`: a 100-iteration `DO_WHILE` over one `SIMPLE` task, end to end, against
//!   the same 100 tasks in a row without a loop, with the same worker.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use podium_core::exec::script::{ScriptLimits, Scripts};
use serde_json::{Value, json};

use super::{Security, Server, post};

/// Evaluations measured per side (after as many to warm up).
const EVALUATIONS: usize = 200;
/// Clients calling the synchronous start at once.
const CLIENTS: usize = 16;
/// Iterations of the `loop` scenario.
const ITERATIONS: usize = 100;
/// The task type the do-nothing workers serve.
const STEP: &str = "bench_step";

/// The value at quantile `q` of sorted samples.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let at = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[at.min(sorted.len() - 1)]
}

fn sorted(mut values: Vec<f64>) -> Vec<f64> {
    values.sort_by(f64::total_cmp);
    values
}

/// Milliseconds of `count` evaluations of a typical script, one at a time.
async fn evaluations(scripts: &Scripts, count: usize) -> Vec<f64> {
    let script =
        "(function () { return {total: $.items.reduce((a, b) => a + b, 0), n: $.n * 2}; })();";
    let mut times = Vec::with_capacity(count);
    for n in 0..count {
        let input = json!({"items": [1, 2, 3, n], "n": n});
        let started = Instant::now();
        let value = scripts.javascript(script, &input).await.expect("evaluates");
        times.push(started.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(value["n"], json!(n * 2));
    }
    times
}

/// The `inline` scenario.
pub async fn inline(dir: &Path, pairs: usize, seconds: f64) {
    println!();
    println!("INLINE: one evaluation in a script-runner process vs on a thread of this process");
    let runner = Scripts::new(ScriptLimits {
        runner: Some(env!("CARGO_BIN_EXE_podium").into()),
        max_concurrent: 1,
        ..ScriptLimits::default()
    });
    let in_process = Scripts::new(ScriptLimits {
        max_concurrent: 1,
        ..ScriptLimits::default()
    });
    evaluations(&runner, EVALUATIONS).await;
    evaluations(&in_process, EVALUATIONS).await;
    let process = sorted(evaluations(&runner, EVALUATIONS).await);
    let thread = sorted(evaluations(&in_process, EVALUATIONS).await);
    println!(
        "  runner process: p50 {:.2} ms, p99 {:.2} ms | in process: p50 {:.3} ms, p99 {:.3} ms | p50 ratio {:.1}",
        quantile(&process, 0.5),
        quantile(&process, 0.99),
        quantile(&thread, 0.5),
        quantile(&thread, 0.99),
        quantile(&process, 0.5) / quantile(&thread, 0.5)
    );

    println!();
    println!("INLINE vs SIMPLE: 3-task workflows through the synchronous start, {CLIENTS} clients");
    let bench = Bench::start(dir).await;
    let mut ratios = Vec::new();
    let (mut simple_rates, mut inline_rates) = (Vec::new(), Vec::new());
    for pair in 0..pairs {
        let simple = bench.executions("simple3", seconds).await;
        let inline = bench.executions("inline3", seconds).await;
        println!(
            "  pair {}: SIMPLE {:>6.0} wf/s | INLINE {:>6.0} wf/s | ratio {:.3}",
            pair + 1,
            simple,
            inline,
            inline / simple
        );
        ratios.push(inline / simple);
        simple_rates.push(simple);
        inline_rates.push(inline);
    }
    println!(
        "  median: SIMPLE {:.0} wf/s, INLINE {:.0} wf/s, ratio {:.3}",
        crate::median(simple_rates),
        crate::median(inline_rates),
        crate::median(ratios)
    );
    bench.finish().await;
}

/// The `loop` scenario.
pub async fn loops(dir: &Path, pairs: usize) {
    println!();
    println!(
        "DO_WHILE: {ITERATIONS} iterations of one SIMPLE task vs {ITERATIONS} SIMPLE tasks in a row, end to end"
    );
    let bench = Bench::start(dir).await;
    let (mut looped, mut linear, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for pair in 0..pairs {
        let in_row = bench.end_to_end("linear100").await;
        let in_loop = bench.end_to_end("loop100").await;
        println!(
            "  pair {}: in a row {:>7.0} ms | loop {:>7.0} ms | ratio {:.2}",
            pair + 1,
            in_row,
            in_loop,
            in_loop / in_row
        );
        linear.push(in_row);
        looped.push(in_loop);
        ratios.push(in_loop / in_row);
    }
    println!(
        "  median: in a row {:.0} ms, loop {:.0} ms ({:.1} ms per iteration), ratio {:.2}",
        crate::median(linear),
        crate::median(looped.clone()),
        crate::median(looped) / ITERATIONS as f64,
        crate::median(ratios)
    );
    bench.finish().await;
}

/// A server with the scenarios' definitions and do-nothing workers for `STEP`.
struct Bench {
    server: Server,
    data: std::path::PathBuf,
    admin: reqwest::Client,
    stop: Arc<AtomicBool>,
    workers: Vec<tokio::task::JoinHandle<()>>,
}

impl Bench {
    async fn start(dir: &Path) -> Bench {
        let data = dir.join(format!("scripts-{}", uuid::Uuid::new_v4()));
        let server = Server::start(&data, "process", Security::On);
        let admin = server.admin().await;
        let base = server.base.clone();
        post(
            &admin,
            format!("{base}/api/metadata/taskdefs"),
            &json!([{"name": STEP, "retryCount": 0, "responseTimeoutSeconds": 300}]),
        )
        .await;
        let step = |r: String| json!({"name": STEP, "taskReferenceName": r, "inputParameters": {"n": "${workflow.input.n}"}});
        let inline = |r: &str, from: &str| {
            json!({"name": r, "taskReferenceName": r, "type": "INLINE", "inputParameters": {
                "evaluatorType": "graaljs", "n": from, "expression": "$.n + 1"}})
        };
        let definitions = json!([
            {"name": "simple3", "version": 1,
             "tasks": [step("a".into()), step("b".into()), step("c".into())]},
            {"name": "inline3", "version": 1, "tasks": [
                inline("a", "${workflow.input.n}"), inline("b", "${a.output.result}"),
                inline("c", "${b.output.result}")]},
            {"name": "linear100", "version": 1,
             "tasks": (0..ITERATIONS).map(|i| step(format!("s{i}"))).collect::<Vec<_>>()},
            {"name": "loop100", "version": 1, "tasks": [
                {"name": "loop", "taskReferenceName": "loop", "type": "DO_WHILE",
                 "inputParameters": {"times": ITERATIONS},
                 "loopCondition": "$.loop['iteration'] < $.times",
                 "loopOver": [step("s".into())]}]}
        ]);
        let answer = admin
            .put(format!("{base}/api/metadata/workflow"))
            .json(&definitions)
            .send()
            .await
            .expect("register");
        assert!(answer.status().is_success(), "{}", answer.status());
        let stop = Arc::new(AtomicBool::new(false));
        let workers = (0..4)
            .map(|w| tokio::spawn(work(admin.clone(), base.clone(), w, stop.clone())))
            .collect();
        Bench {
            server,
            data,
            admin,
            stop,
            workers,
        }
    }

    /// Workflows of `name` completed per second by [`CLIENTS`] clients each running
    /// one at a time through the synchronous start, for `seconds`.
    async fn executions(&self, name: &str, seconds: f64) -> f64 {
        let url = format!("{}/api/workflow/execute/{name}/1", self.server.base);
        let completed = Arc::new(AtomicU64::new(0));
        let deadline = Instant::now() + Duration::from_secs_f64(seconds);
        let started = Instant::now();
        let clients: Vec<_> = (0..CLIENTS)
            .map(|c| {
                let (http, url, completed) = (self.admin.clone(), url.clone(), completed.clone());
                tokio::spawn(async move {
                    let mut n = 0;
                    while Instant::now() < deadline {
                        n += 1;
                        let run: Value = post(&http, url.clone(), &json!({"input": {"n": n + c}}))
                            .await
                            .json()
                            .await
                            .expect("execute answer");
                        assert_eq!(run["targetWorkflowStatus"], "COMPLETED", "{run}");
                        completed.fetch_add(1, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        for client in clients {
            client.await.expect("client");
        }
        completed.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
    }

    /// Milliseconds from the start of a workflow of `name` to its completion.
    async fn end_to_end(&self, name: &str) -> f64 {
        let base = &self.server.base;
        let started = Instant::now();
        let id = post(
            &self.admin,
            format!("{base}/api/workflow/{name}"),
            &json!({"n": 1}),
        )
        .await
        .text()
        .await
        .expect("id");
        loop {
            let run: Value = self
                .admin
                .get(format!("{base}/api/workflow/{id}?includeTasks=false"))
                .send()
                .await
                .expect("status")
                .json()
                .await
                .expect("status json");
            match run["status"].as_str() {
                Some("COMPLETED") => return started.elapsed().as_secs_f64() * 1000.0,
                Some("RUNNING") => tokio::time::sleep(Duration::from_millis(2)).await,
                other => panic!("{name} ended {other:?}: {run}"),
            }
        }
    }

    async fn finish(self) {
        self.stop.store(true, Ordering::Relaxed);
        for worker in self.workers {
            let _ = tokio::time::timeout(Duration::from_secs(5), worker).await;
        }
        self.server.stop();
        let _ = std::fs::remove_dir_all(&self.data);
    }
}

/// A do-nothing worker of `STEP`: batch polls, and completes each task through
/// `update-v2`, taking the next task it answers.
async fn work(http: reqwest::Client, base: String, w: usize, stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::Relaxed) {
        let Ok(answer) = http
            .get(format!(
                "{base}/api/tasks/poll/batch/{STEP}?workerid=w{w}&count=16&timeout=100"
            ))
            .send()
            .await
        else {
            return;
        };
        let Ok(mut queue) = answer.json::<Vec<Value>>().await else {
            return;
        };
        while let Some(task) = queue.pop() {
            let result = json!({
                "workflowInstanceId": task["workflowInstanceId"],
                "taskId": task["taskId"],
                "status": "COMPLETED",
                "workerId": format!("w{w}"),
                "outputData": {"done": true}
            });
            let Ok(answer) = http
                .post(format!("{base}/api/tasks/update-v2"))
                .json(&result)
                .send()
                .await
            else {
                return;
            };
            if answer.status().as_u16() == 200
                && let Ok(next) = answer.json::<Value>().await
            {
                queue.push(next);
            }
        }
    }
}
