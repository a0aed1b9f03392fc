//! Background loops: the sweeper (timeouts, waits, delayed decisions), the job runner
//! (which runs each job under its declaration in `exec`: HTTP tasks, sub-workflows
//! and failure workflows on behalf of the run's principals, parent notifications as
//! the engine) and the re-sealer. They survive restarts: everything they act on is
//! in the store.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tracing::warn;

use super::runtime::Runtime;
use super::{archive, at_rest};
use crate::engine::{decide, http};
use crate::error::{CoreError, CoreResult};
use crate::exec::delegated::run_job;
use crate::model::{TaskStatus, WorkflowStatus};
use crate::store::{Job, JobLane};

/// How long a claimed job stays invisible to other runners.
const JOB_LEASE_MS: i64 = 10 * 60 * 1000;
/// Most jobs claimed at once.
const JOB_BATCH: usize = 64;
/// Most jobs running at once (HTTP calls in flight).
const JOB_CONCURRENCY: usize = 64;
/// How much longer than its longest evaluation a claimed script job stays invisible.
const SCRIPT_LEASE_MARGIN_MS: i64 = 2 * 60 * 1000;
/// Longest idle wait of a loop before it looks at the store again.
const IDLE_WAIT: Duration = Duration::from_secs(1);
/// Most workflows the sweeper decides per pass.
const SWEEP_BATCH: usize = 200;

/// Sleeps until `at` (epoch ms, capped at the idle wait), a wake-up, or shutdown.
async fn idle(
    rt: &Runtime,
    next_due: Option<i64>,
    wake: &tokio::sync::Notify,
    shutdown: &mut watch::Receiver<bool>,
) {
    let wait = match next_due {
        Some(at) => {
            Duration::from_millis((at - rt.now()).clamp(0, IDLE_WAIT.as_millis() as i64) as u64)
        }
        None => IDLE_WAIT,
    };
    tokio::select! {
        _ = tokio::time::sleep(wait) => {}
        _ = wake.notified() => {}
        _ = shutdown.changed() => {}
    }
}

/// Decides every workflow whose next check time has passed, until shutdown.
pub async fn run_sweeper(rt: Arc<Runtime>, mut shutdown: watch::Receiver<bool>) {
    // Workflows whose rows cannot even be loaded, until when they are left alone.
    let mut skipped: HashMap<String, i64> = HashMap::new();
    while !*shutdown.borrow() {
        let due = match rt
            .stores
            .execution
            .due_workflows(rt.now(), SWEEP_BATCH)
            .await
        {
            Ok(due) => due,
            Err(err) => {
                warn!(error = %err, "sweeper could not read due workflows");
                Vec::new()
            }
        };
        let mut progressed = false;
        for id in &due {
            if skipped.get(id).is_some_and(|until| *until > rt.now()) {
                continue;
            }
            progressed = true;
            if let Err(err) = sweep(&rt, id).await {
                // A workflow the engine cannot decide fails with the reason; the
                // rest keeps running.
                warn!(workflow_id = %id, error = %err, "sweeper could not decide a workflow; it fails");
                if let Err(err) = fail_undecidable(&rt, id, &err).await {
                    tracing::error!(workflow_id = %id, error = %err, "a workflow can be neither decided nor failed; the sweeper leaves it for 10 minutes");
                    skipped.insert(id.clone(), rt.now() + UNDECIDABLE_BACKOFF_MS);
                }
            }
        }
        skipped.retain(|_, until| *until > rt.now());
        if due.len() == SWEEP_BATCH && progressed {
            continue;
        }
        let next = rt.stores.execution.next_check_due().await.ok().flatten();
        idle(&rt, next, &rt.signals.sweeper, &mut shutdown).await;
    }
}

async fn sweep(rt: &Runtime, id: &str) -> CoreResult<()> {
    rt.mutate(Some(id.to_string()), |txn, ctx| {
        let mut changes = std::mem::take(&mut txn.changes);
        if let Some(state) = txn.state.as_mut()
            && state.next_check_at.is_some_and(|at| at <= ctx.now)
        {
            decide(state, ctx, &mut changes);
            // A check that changed nothing must not come straight back.
            if state.next_check_at.is_some_and(|at| at <= ctx.now) {
                state.next_check_at = Some(ctx.now + 1000);
                state.touch();
            }
        }
        txn.changes = changes;
        Ok(())
    })
    .await
}

/// How long the sweeper leaves a workflow it can neither decide nor fail.
const UNDECIDABLE_BACKOFF_MS: i64 = 10 * 60 * 1000;

/// Fails a workflow the engine could not decide (its unit of work failed), without
/// deciding it again: its unfinished tasks are canceled and leave their queues.
async fn fail_undecidable(rt: &Runtime, id: &str, cause: &CoreError) -> CoreResult<()> {
    let reason = format!(
        "Podium could not decide this workflow: {}",
        cause.public_message()
    );
    rt.mutate(Some(id.to_string()), move |txn, ctx| {
        let Some(state) = txn.state.as_mut() else {
            return Ok(());
        };
        if state.status().is_terminal() {
            state.next_check_at = None;
            state.touch();
            return Ok(());
        }
        for index in 0..state.tasks().len() {
            if state.tasks()[index].status.is_terminal() {
                continue;
            }
            if let Some(task) = state.task_mut(index) {
                task.status = TaskStatus::Canceled;
                task.end_time = ctx.now;
                task.update_time = ctx.now;
                txn.changes.queue_removals.push(task.task_id.clone());
            }
        }
        let wf = &mut state.workflow;
        wf.status = WorkflowStatus::Failed;
        wf.reason_for_incompletion = Some(reason);
        wf.end_time = ctx.now;
        wf.update_time = ctx.now;
        state.next_check_at = None;
        state.touch();
        // A parent waiting on it hears that it ended.
        crate::engine::decider::notify_parent(state, ctx, &mut txn.changes);
        Ok(())
    })
    .await
}

/// Values re-sealed per store write after a key rotation.
const RESEAL_BATCH: usize = 100;

/// After a master key rotation: re-seals, under the current key, the secrets, the
/// `_secrets` and `_masked` values of live workflows and the archived `_masked`
/// values sealed with a previous key, while the server serves, and says when the
/// previous keys are no longer needed.
pub async fn run_reseal(rt: Arc<Runtime>, shutdown: watch::Receiver<bool>) {
    let stale = rt.vault.stale_count();
    tracing::info!(
        values = stale,
        key = %rt.vault.current_key_id(),
        "re-sealing secrets and sealed workflow values (live and archived) under the current master key"
    );
    let mut total = 0;
    while !*shutdown.borrow() {
        match rt.vault.reseal_some(RESEAL_BATCH).await {
            Ok(0) => break,
            Ok(done) => total += done,
            Err(err) => {
                warn!(error = %err, "re-sealing secrets stopped; it resumes at the next start");
                return;
            }
        }
        tokio::task::yield_now().await;
    }
    let stop = || *shutdown.borrow();
    let (workflows, skipped) = match archive::reseal_archive(&rt, stop).await {
        Ok(counts) => counts,
        Err(err) => {
            warn!(error = %err, "re-sealing archived values stopped; it resumes at the next start");
            return;
        }
    };
    let (live, live_skipped) = match at_rest::reseal_live(&rt, stop).await {
        Ok(counts) => counts,
        Err(err) => {
            warn!(error = %err, "re-sealing workflow values stopped; it resumes at the next start");
            return;
        }
    };
    let workflows = workflows + live;
    let skipped = skipped + live_skipped;
    let left = rt.vault.stale_count();
    if *shutdown.borrow() {
        tracing::info!(values = total, workflows, "re-sealing paused at shutdown");
    } else if left == 0 && skipped == 0 {
        tracing::info!(
            values = total,
            workflows,
            "every secret and sealed workflow value is sealed under the current master key; previous keys can now be removed from the configuration"
        );
    } else {
        tracing::warn!(
            values = total,
            workflows,
            left,
            skipped,
            "some values are still sealed under keys that are not configured; keep the previous keys until they are re-sealed or removed"
        );
    }
}

/// Runs due jobs until shutdown, but script evaluations (see [`run_script_jobs`]).
pub async fn run_jobs(
    rt: Arc<Runtime>,
    caller: Arc<dyn http::HttpCaller>,
    mut shutdown: watch::Receiver<bool>,
) {
    let permits = Arc::new(Semaphore::new(JOB_CONCURRENCY));
    while !*shutdown.borrow() {
        let jobs = claim_jobs(&rt, JOB_BATCH, JOB_LEASE_MS, JobLane::Work).await;
        let claimed = jobs.len();
        for job in jobs {
            let Ok(permit) = permits.clone().acquire_owned().await else {
                return;
            };
            spawn_job(&rt, &caller, job, permit);
        }
        if claimed == JOB_BATCH {
            continue;
        }
        let next = rt
            .stores
            .execution
            .next_job_due(JobLane::Work)
            .await
            .ok()
            .flatten();
        idle(&rt, next, &rt.signals.jobs, &mut shutdown).await;
    }
}

/// Runs due script evaluations until shutdown. It claims only as many as there are
/// free evaluation slots, so a job never waits for a slot under its lease, and a
/// flood of slow scripts holds none of the slots of the other jobs.
pub async fn run_script_jobs(
    rt: Arc<Runtime>,
    caller: Arc<dyn http::HttpCaller>,
    mut shutdown: watch::Receiver<bool>,
) {
    let slots = Arc::new(Semaphore::new(rt.scripts.max_concurrent()));
    // Long enough for an evaluation, the runner's kill and the unit of work after it.
    let lease = i64::try_from(rt.scripts.max_time().as_millis())
        .unwrap_or(i64::MAX)
        .saturating_add(SCRIPT_LEASE_MARGIN_MS);
    while !*shutdown.borrow() {
        let first = tokio::select! {
            permit = slots.clone().acquire_owned() => permit,
            changed = shutdown.changed() => match changed {
                Ok(()) => continue,
                // The sender is gone: nobody will say stop, so stop now.
                Err(_) => return,
            },
        };
        let Ok(first) = first else { return };
        let mut free = vec![first];
        while let Ok(permit) = slots.clone().try_acquire_owned() {
            free.push(permit);
        }
        let wanted = free.len();
        let jobs = claim_jobs(&rt, wanted, lease, JobLane::Scripts).await;
        let claimed = jobs.len();
        for (job, permit) in jobs.into_iter().zip(free) {
            spawn_job(&rt, &caller, job, permit);
        }
        if claimed == wanted {
            continue;
        }
        let next = rt
            .stores
            .execution
            .next_job_due(JobLane::Scripts)
            .await
            .ok()
            .flatten();
        idle(&rt, next, &rt.signals.scripts, &mut shutdown).await;
    }
}

/// Claims due jobs of a lane; none when the store fails (it is logged).
async fn claim_jobs(rt: &Runtime, limit: usize, lease_ms: i64, lane: JobLane) -> Vec<Job> {
    match rt
        .stores
        .execution
        .claim_jobs(rt.now(), limit, lease_ms, lane)
        .await
    {
        Ok(jobs) => jobs,
        Err(err) => {
            warn!(error = %err, ?lane, "job runner could not claim jobs");
            Vec::new()
        }
    }
}

/// Runs a claimed job on its own task, holding `permit` until it ends.
fn spawn_job(
    rt: &Arc<Runtime>,
    caller: &Arc<dyn http::HttpCaller>,
    job: Job,
    permit: OwnedSemaphorePermit,
) {
    let rt = rt.clone();
    let caller = caller.clone();
    tokio::spawn(async move {
        let id = job.id.clone();
        let kind = job.effect.kind_name();
        if let Err(err) = run_job(&rt, caller.as_ref(), job).await {
            warn!(job_id = %id, kind, error = %err, "job failed; it runs again after its lease");
        }
        drop(permit);
    });
}
