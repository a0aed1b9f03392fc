//! Starting schedules' workflows when they are due.
//!
//! Every node looks for due schedules once a second. A due time is started in a
//! unit of work that also writes its run record, unique per schedule and due time
//! (`store::schedules`), so each due time runs once whatever the nodes and
//! restarts. The workflow starts as the principal who last saved the schedule,
//! checked at that moment as any start is; a refusal records a failed run and
//! pauses the schedule with `pausedReason` "Security Error: ...", to be resumed by
//! hand. Any other failure to start (the definition was deleted, say) records a
//! failed run with the reason, and the schedule goes on.
//!
//! Missed due times (the server was down): without `runCatchupScheduleInstances`
//! the earliest missed time runs once and the schedule goes on from now, as in
//! Conductor; with it, every missed time of the last [`CATCH_UP_WINDOW_MS`] runs in
//! turn, at most [`CATCH_UP_PER_TICK`] per schedule and second (older ones are
//! skipped).
//!
//! A run record keeps the request's name, version, correlation id and priority,
//! not its input (the started workflow has it).

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::watch;
use tracing::{info, warn};

use super::Runtime;
use super::schedules::next_due;
use super::workflow::WorkflowService;
use crate::error::{CoreError, CoreResult};
use crate::model::{ScheduleExecution, ScheduleExecutionState, WorkflowSchedule};
use crate::scheduler::cron::CronSchedule;
use crate::security::{Actor, Cause};
use crate::store::{ScheduleRun, StoredSchedule};

/// How often due schedules are looked for.
pub const TICK: Duration = Duration::from_secs(1);

/// Most schedules started in one look.
const BATCH: usize = 100;

/// Most missed due times one schedule catches up on in one look.
pub const CATCH_UP_PER_TICK: usize = 10;

/// How far back a catching-up schedule runs missed due times.
pub const CATCH_UP_WINDOW_MS: i64 = 24 * 3_600_000;

/// How long the record of a run is kept.
pub const RUN_RETENTION_MS: i64 = 30 * 24 * 3_600_000;

/// The longest reason a failed run records.
const MAX_REASON_CHARS: usize = 999;

/// Starts due schedules until `shutdown`, and prunes old run records hourly.
pub async fn run_scheduler(rt: Arc<Runtime>, mut shutdown: watch::Receiver<bool>) {
    let workflows = WorkflowService::new(rt.clone());
    let mut pruned_at = i64::MIN;
    while !*shutdown.borrow() {
        if let Err(err) = fire_due(&rt, &workflows).await {
            warn!(error = %err, "starting due schedules failed; it is tried again in a second");
        }
        let now = rt.now();
        if now.saturating_sub(pruned_at) >= 3_600_000 {
            pruned_at = now;
            match rt
                .stores
                .schedules
                .prune_schedule_runs(now.saturating_sub(RUN_RETENTION_MS))
                .await
            {
                Ok(0) => {}
                Ok(n) => info!(records = n, "removed old schedule run records"),
                Err(err) => warn!(error = %err, "removing old schedule run records failed"),
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(TICK) => {}
            _ = shutdown.changed() => {}
        }
    }
}

/// Starts every schedule due now; returns how many runs were recorded.
pub async fn fire_due(rt: &Runtime, workflows: &WorkflowService) -> CoreResult<usize> {
    if rt
        .scheduling_paused
        .load(std::sync::atomic::Ordering::Acquire)
    {
        return Ok(0);
    }
    let now = rt.now();
    let due = rt.stores.schedules.due_schedules(now, BATCH).await?;
    let mut runs = 0;
    for stored in due {
        runs += fire_schedule(rt, workflows, stored, now).await;
    }
    Ok(runs)
}

/// Runs one schedule's due times (one, or several while catching up).
async fn fire_schedule(
    rt: &Runtime,
    workflows: &WorkflowService,
    mut stored: StoredSchedule,
    now: i64,
) -> usize {
    let name = stored.schedule.name.clone();
    let mut runs = 0;
    for _ in 0..CATCH_UP_PER_TICK {
        let Some(due) = stored.next_run_at.filter(|at| *at <= now) else {
            break;
        };
        if let Err(err) = fire_once(rt, workflows, &stored, due, now).await {
            warn!(schedule = %name, error = %err, "a schedule's due time could not be recorded; it is tried again");
            break;
        }
        // Where it stands now (this run, or another node's, moved it on).
        stored = match rt.stores.schedules.schedule(&name).await {
            Ok(Some(fresh)) => fresh,
            _ => break,
        };
        if stored.next_run_at == Some(due) {
            warn!(schedule = %name, "a schedule did not move on from its due time; it is tried again");
            break;
        }
        runs += 1;
        if !stored.schedule.run_catchup_schedule_instances {
            break;
        }
    }
    runs
}

/// What a run hands its workflow besides the schedule's input, as Conductor does.
fn scheduler_input(schedule: &WorkflowSchedule, run: &ScheduleExecution) -> [(String, Value); 4] {
    [
        (
            "_startedByScheduler".into(),
            Value::from(schedule.name.clone()),
        ),
        ("_scheduledTime".into(), Value::from(run.scheduled_time)),
        ("_executedTime".into(), Value::from(run.execution_time)),
        ("_executionId".into(), Value::from(run.execution_id.clone())),
    ]
}

/// Starts one due time's workflow, or records why it could not start.
async fn fire_once(
    rt: &Runtime,
    workflows: &WorkflowService,
    stored: &StoredSchedule,
    due: i64,
    now: i64,
) -> CoreResult<()> {
    let schedule = &stored.schedule;
    let request = schedule.start_workflow_request.clone().unwrap_or_default();
    let recorded_request = crate::model::StartWorkflowRequest {
        name: request.name.clone(),
        version: request.version,
        correlation_id: request.correlation_id.clone(),
        priority: request.priority,
        ..crate::model::StartWorkflowRequest::default()
    };
    let mut run = ScheduleRun {
        execution: ScheduleExecution {
            execution_id: rt.ids.new_id(),
            schedule_name: schedule.name.clone(),
            scheduled_time: due,
            execution_time: now,
            workflow_name: request.name.clone(),
            workflow_id: None,
            reason: None,
            start_workflow_request: Some(recorded_request),
            state: ScheduleExecutionState::Executed,
            zone_id: schedule.zone_id.clone(),
        },
        due,
        next_run_at: None,
        schedule: None,
    };
    let cron = match CronSchedule::parse(&schedule.cron_expression, schedule.zone_id.as_deref()) {
        Ok(cron) => cron,
        Err(reason) => return paused(rt, run, schedule, reason).await,
    };
    run.next_run_at = if schedule.run_catchup_schedule_instances {
        next_due(
            schedule,
            &cron,
            due.max(now.saturating_sub(CATCH_UP_WINDOW_MS)),
        )
    } else {
        next_due(schedule, &cron, now.max(due))
    };
    let principal = {
        let directory = rt.authorizer.directory().read();
        Actor::on_behalf_of(
            &directory,
            rt.authorizer.mode(),
            schedule
                .updated_by
                .as_deref()
                .or(schedule.created_by.as_deref()),
            Cause::Schedule,
        )
    };
    let principal = match principal {
        Ok(actor) => actor.into_principal(),
        Err(reason) => return paused(rt, run, schedule, security_error(&reason)).await,
    };
    let mut start = request;
    start.created_by = None;
    start
        .input
        .extend(scheduler_input(schedule, &run.execution));
    match workflows
        .start_recorded(
            &principal,
            start,
            Some((run.clone(), schedule.updated_time.unwrap_or(0))),
        )
        .await
    {
        Ok(id) => {
            // A start that named an existing run (by idempotency key) wrote nothing.
            let still_due = rt
                .stores
                .schedules
                .schedule(&schedule.name)
                .await?
                .is_some_and(|s| s.next_run_at == Some(due));
            if still_due {
                run.execution.workflow_id = Some(id);
                record(rt, run).await?;
            }
            Ok(())
        }
        Err(CoreError::Forbidden(reason)) => {
            paused(rt, run, schedule, security_error(&reason)).await
        }
        Err(err) => {
            run.execution.state = ScheduleExecutionState::Failed;
            run.execution.reason = Some(err.to_string().chars().take(MAX_REASON_CHARS).collect());
            record(rt, run).await
        }
    }
}

/// The reason of a run refused for its principal, in Orkes' words.
fn security_error(reason: &str) -> String {
    format!("Security Error: {reason}")
}

/// Records a run that could not start for a reason a new run would meet again (a
/// refusal, an expression that cannot be read), and pauses the schedule.
async fn paused(
    rt: &Runtime,
    mut run: ScheduleRun,
    schedule: &WorkflowSchedule,
    reason: String,
) -> CoreResult<()> {
    warn!(schedule = %schedule.name, reason = %reason, "a schedule cannot start its workflow; it is paused");
    let reason: String = reason.chars().take(MAX_REASON_CHARS).collect();
    let mut paused = schedule.clone();
    paused.paused = true;
    paused.paused_reason = Some(reason.clone());
    paused.updated_time = Some(run.execution.execution_time);
    run.execution.state = ScheduleExecutionState::Failed;
    run.execution.reason = Some(reason);
    run.next_run_at = None;
    run.schedule = Some(paused);
    record(rt, run).await
}

/// Writes a run record alone. When its due time was recorded before (a node whose
/// clock was behind set the schedule back to it), the record is kept and the
/// schedule moves on all the same, so it never sticks on that time.
async fn record(rt: &Runtime, run: ScheduleRun) -> CoreResult<()> {
    let (name, due, next) = (
        run.execution.schedule_name.clone(),
        run.due,
        run.next_run_at,
    );
    match rt
        .mutate(None, move |txn, _| {
            txn.changes.schedule_runs.push(run);
            Ok(())
        })
        .await
    {
        Ok(()) => Ok(()),
        Err(CoreError::Conflict(_)) => {
            rt.stores
                .schedules
                .move_schedule_on(&name, due, next)
                .await?;
            Ok(())
        }
        Err(err) => Err(err),
    }
}
