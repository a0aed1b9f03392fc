//! Background work: the sweeper (timeouts, waits, delayed decisions) and the job runner
//! (HTTP tasks, sub-workflows, failure workflows, parent notifications). Both act as
//! the system principal and survive restarts: everything they act on is in the store.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::{Semaphore, watch};
use tracing::{debug, warn};

use super::{archive, at_rest};
use crate::engine::ops::{self, StartParams};
use crate::engine::{TaskKind, decide, http};
use crate::error::CoreResult;
use crate::model::{JsonMap, Task, TaskResult, TaskResultStatus, TaskStatus, WorkflowDef};
use crate::security::model::{Access, Target, TargetType};
use crate::store::SecretKind;
use crate::store::{Job, JobKind};

use super::handoff;
use super::runtime::Runtime;
use super::validation;

/// How long a claimed job stays invisible to other runners.
const JOB_LEASE_MS: i64 = 10 * 60 * 1000;
/// Most jobs claimed at once.
const JOB_BATCH: usize = 64;
/// Most jobs running at once (HTTP calls in flight).
const JOB_CONCURRENCY: usize = 64;
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
        for id in &due {
            if let Err(err) = sweep(&rt, id).await {
                warn!(workflow_id = %id, error = %err, "sweeper could not decide a workflow");
            }
        }
        if due.len() == SWEEP_BATCH {
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

/// Runs due jobs until shutdown.
pub async fn run_jobs(
    rt: Arc<Runtime>,
    caller: Arc<dyn http::HttpCaller>,
    mut shutdown: watch::Receiver<bool>,
) {
    let permits = Arc::new(Semaphore::new(JOB_CONCURRENCY));
    while !*shutdown.borrow() {
        let jobs = match rt
            .stores
            .execution
            .claim_jobs(rt.now(), JOB_BATCH, JOB_LEASE_MS)
            .await
        {
            Ok(jobs) => jobs,
            Err(err) => {
                warn!(error = %err, "job runner could not claim jobs");
                Vec::new()
            }
        };
        let claimed = jobs.len();
        for job in jobs {
            let Ok(permit) = permits.clone().acquire_owned().await else {
                return;
            };
            let rt = rt.clone();
            let caller = caller.clone();
            tokio::spawn(async move {
                let id = job.id.clone();
                let kind = job.kind;
                if let Err(err) = run_job(&rt, caller.as_ref(), job).await {
                    warn!(job_id = %id, kind = kind.as_str(), error = %err, "job failed; it runs again after its lease");
                }
                drop(permit);
            });
        }
        if claimed == JOB_BATCH {
            continue;
        }
        let next = rt.stores.execution.next_job_due().await.ok().flatten();
        idle(&rt, next, &rt.signals.jobs, &mut shutdown).await;
    }
}

/// Deletes a job that has nothing (left) to do.
async fn drop_job(rt: &Runtime, job: &Job) -> CoreResult<()> {
    let id = job.id.clone();
    rt.mutate(None, move |txn, _| {
        txn.changes.job_deletes.push(id);
        Ok(())
    })
    .await
}

/// Runs one job. Each handler deletes its job in the same unit of work as its effect.
pub async fn run_job(rt: &Runtime, caller: &dyn http::HttpCaller, job: Job) -> CoreResult<()> {
    debug!(job_id = %job.id, kind = job.kind.as_str(), workflow_id = %job.workflow_id, "running job");
    match job.kind {
        JobKind::SystemTask => run_system_task(rt, caller, job).await,
        JobKind::SubWorkflowEnded => sub_workflow_ended(rt, job).await,
        JobKind::FailureWorkflow => start_failure_workflow(rt, job).await,
        JobKind::TerminateWorkflow => terminate_workflow(rt, job).await,
    }
}

async fn run_system_task(rt: &Runtime, caller: &dyn http::HttpCaller, job: Job) -> CoreResult<()> {
    let Some(task_id) = job.task_id.clone() else {
        return drop_job(rt, &job).await;
    };
    let Some(task) = rt.stores.execution.get_task(&task_id).await? else {
        return drop_job(rt, &job).await;
    };
    if task.status.is_terminal() {
        return drop_job(rt, &job).await;
    }
    let kind = TaskKind::of_execution(&task);
    if !matches!(kind, TaskKind::Http | TaskKind::UpdateSecret) {
        return match kind {
            TaskKind::SubWorkflow => start_sub_workflow(rt, job, task).await,
            _ => drop_job(rt, &job).await,
        };
    }
    // Secrets and environment values go into the copy this runner uses, read as the
    // workflow's starter.
    let mut task = task;
    let handed = match handoff::resolve_task(rt, &mut task).await {
        Ok(resolved) => resolved,
        Err(reason) => {
            let reason = format!("Cannot hand the task over: {reason}");
            return fail_task(
                rt,
                &job,
                task.workflow_instance_id,
                task_id,
                reason,
                Then::Decide,
            )
            .await;
        }
    };
    if kind == TaskKind::UpdateSecret {
        return update_secret(rt, job, &task).await;
    }
    let workflow_id = task.workflow_instance_id;
    run_http(
        rt,
        caller,
        job,
        task.input_data,
        handed,
        workflow_id,
        task_id,
    )
    .await
}

/// `UPDATE_SECRET`: upserts `_secrets.secretKey` with `_secrets.secretValue`, as the
/// workflow's starter (UPDATE on an existing secret, the create permission for a new
/// one). Missing fields terminate the workflow.
async fn update_secret(rt: &Runtime, job: Job, task: &Task) -> CoreResult<()> {
    let workflow_id = task.workflow_instance_id.clone();
    let task_id = task.task_id.clone();
    let fields = task.input_data.get("_secrets").and_then(Value::as_object);
    let text = |field: &str| {
        fields
            .and_then(|f| f.get(field))
            .and_then(|v| match v {
                Value::String(s) => Some(s.clone()),
                Value::Null => None,
                other => Some(other.to_string()),
            })
            .filter(|s| !s.is_empty())
    };
    let (Some(key), Some(value)) = (text("secretKey"), text("secretValue")) else {
        let reason = "UPDATE_SECRET needs _secrets.secretKey and _secrets.secretValue in its input, both non-empty".to_string();
        return fail_task(rt, &job, workflow_id, task_id, reason, Then::Terminate).await;
    };
    let state = rt
        .stores
        .execution
        .get_workflow_record(&workflow_id)
        .await?;
    let created_by = state.and_then(|w| w.created_by);
    let outcome = async {
        let starter = handoff::starter(rt, created_by.as_deref())?;
        let exists = rt.vault.exists(SecretKind::Secret, &key);
        let access = if exists {
            Access::Update
        } else {
            Access::Create
        };
        if let Some(principal) = &starter {
            rt.authorizer
                .authorize(
                    principal,
                    access,
                    handoff::resource(SecretKind::Secret, &key),
                )
                .map_err(|e| e.to_string())?;
        }
        let by = created_by.clone().unwrap_or_else(|| "podium:system".into());
        let created = rt
            .vault
            .put(SecretKind::Secret, &key, &value, &by, rt.now())
            .await
            .map_err(|e| e.to_string())?;
        if created && let Some(principal) = &starter {
            let target = Target::new(TargetType::SecretName, key.clone());
            let ops = rt.access.creation_ops(principal, target);
            rt.access.commit(ops).await.map_err(|e| e.to_string())?;
        }
        Ok::<(), String>(())
    }
    .await;
    match outcome {
        Ok(()) => {
            let result = TaskResult {
                workflow_instance_id: workflow_id.clone(),
                task_id,
                reason_for_incompletion: None,
                callback_after_seconds: 0,
                worker_id: None,
                status: TaskResultStatus::Completed,
                output_data: JsonMap::new(),
                logs: Vec::new(),
                external_output_payload_storage_path: None,
                sub_workflow_id: None,
                extend_lease: false,
            };
            finish_task(rt, &job, workflow_id, result).await
        }
        Err(reason) => {
            let mut reason = reason;
            handoff::mask_text_values(&mut reason, &[Arc::from(value.as_str())]);
            fail_task(rt, &job, workflow_id, task_id, reason, Then::Decide).await
        }
    }
}

/// Finishes a system task with a result, in the unit of work that deletes its job.
async fn finish_task(
    rt: &Runtime,
    job: &Job,
    workflow_id: String,
    result: TaskResult,
) -> CoreResult<()> {
    let job_id = job.id.clone();
    rt.mutate(Some(workflow_id), move |txn, ctx| {
        let mut changes = std::mem::take(&mut txn.changes);
        if let Some(state) = txn.state.as_mut() {
            ops::apply_result(state, &result, ctx, &mut changes)?;
        }
        changes.job_deletes.push(job_id);
        txn.changes = changes;
        Ok(())
    })
    .await
}

/// What a system task's failure does to its workflow.
#[derive(Clone, Copy, PartialEq)]
enum Then {
    /// The workflow decides, as for any failed task.
    Decide,
    /// The workflow is terminated with the same reason.
    Terminate,
}

async fn fail_task(
    rt: &Runtime,
    job: &Job,
    workflow_id: String,
    task_id: String,
    reason: String,
    then: Then,
) -> CoreResult<()> {
    let job_id = job.id.clone();
    rt.mutate(Some(workflow_id), move |txn, ctx| {
        let mut changes = std::mem::take(&mut txn.changes);
        if let Some(state) = txn.state.as_mut() {
            match then {
                Then::Decide => {
                    ops::fail_system_task(state, &task_id, reason, true, ctx, &mut changes)
                }
                Then::Terminate => {
                    ops::terminate_for_task(state, &task_id, reason, ctx, &mut changes)?
                }
            }
        }
        changes.job_deletes.push(job_id);
        txn.changes = changes;
        Ok(())
    })
    .await
}

async fn run_http(
    rt: &Runtime,
    caller: &dyn http::HttpCaller,
    job: Job,
    input: JsonMap,
    handed: Vec<handoff::SecretText>,
    workflow_id: String,
    task_id: String,
) -> CoreResult<()> {
    let call = match http::call_from_input(&input) {
        Ok(call) => call,
        Err(mut reason) => {
            handoff::mask_text_values(&mut reason, &handed);
            return fail_task(rt, &job, workflow_id, task_id, reason, Then::Decide).await;
        }
    };
    let (status, output, reason) = match caller.call(call).await {
        Ok(answer) => {
            let output = http::output_of(&answer);
            match http::failure_reason(&answer) {
                None => (TaskResultStatus::Completed, output, None),
                Some(reason) => (TaskResultStatus::Failed, output, Some(reason)),
            }
        }
        Err(reason) => (
            TaskResultStatus::Failed,
            JsonMap::new(),
            Some(format!("Failed to invoke HTTP task due to: {reason}")),
        ),
    };
    let mut result = TaskResult {
        workflow_instance_id: workflow_id.clone(),
        task_id,
        reason_for_incompletion: reason,
        callback_after_seconds: 0,
        worker_id: None,
        status,
        output_data: output,
        logs: Vec::new(),
        external_output_payload_storage_path: None,
        sub_workflow_id: None,
        extend_lease: false,
    };
    // A response echoing a secret the request carried does not store it.
    handoff::mask_result(&mut result, &handed);
    finish_task(rt, &job, workflow_id, result).await
}

/// The definition a `SUB_WORKFLOW` task names (inline, or registered by name and
/// version), when this version can run it.
async fn child_definition(
    rt: &Runtime,
    input: &JsonMap,
) -> Result<(Arc<WorkflowDef>, String), String> {
    let (def, revision) = named_child_definition(rt, input).await?;
    if let Some(first) = validation::runnable(&def).first() {
        return Err(format!(
            "Sub-workflow {} cannot run: {}",
            def.name, first.message
        ));
    }
    Ok((def, revision))
}

async fn named_child_definition(
    rt: &Runtime,
    input: &JsonMap,
) -> Result<(Arc<WorkflowDef>, String), String> {
    if let Some(inline) = input.get("subWorkflowDefinition").filter(|v| !v.is_null()) {
        let def: WorkflowDef = serde_json::from_value(inline.clone())
            .map_err(|e| format!("The inline sub-workflow definition is not valid: {e}"))?;
        let errors = validation::workflow_def(&def);
        if let Some(first) = errors.first() {
            return Err(format!(
                "The inline sub-workflow definition is not valid: {}",
                first.message
            ));
        }
        let revision = rt.ids.new_id();
        rt.stores
            .metadata
            .put_def_revision(&revision, &def)
            .await
            .map_err(|e| e.to_string())?;
        return Ok((Arc::new(def), revision));
    }
    let name = match input.get("subWorkflowName") {
        Some(Value::String(name)) if !name.trim().is_empty() => name.clone(),
        _ => return Err("SubWorkflow name is null and no workflowDefinition supplied".to_string()),
    };
    let version = match input.get("subWorkflowVersion") {
        Some(Value::Number(n)) => n.as_i64().map(|v| v as i32).filter(|v| *v > 0),
        Some(Value::String(s)) => s.trim().parse::<i32>().ok().filter(|v| *v > 0),
        _ => None,
    };
    rt.defs.workflow(&name, version).ok_or_else(|| {
        format!(
            "No such workflow defined. name={name}, version={}",
            version.map_or_else(|| "null".to_string(), |v| v.to_string())
        )
    })
}

async fn start_sub_workflow(rt: &Runtime, job: Job, task: crate::model::Task) -> CoreResult<()> {
    let workflow_id = task.workflow_instance_id.clone();
    let task_id = task.task_id.clone();
    if task.status != TaskStatus::Scheduled {
        return drop_job(rt, &job).await;
    }
    if let Some(child) = rt.stores.execution.child_of_task(&task_id).await? {
        // Started before a crash: record it and move on.
        let job_id = job.id.clone();
        return rt
            .mutate(Some(workflow_id), move |txn, ctx| {
                if let Some(state) = txn.state.as_mut() {
                    ops::sub_workflow_started(state, &task_id, &child, ctx.now);
                }
                txn.changes.job_deletes.push(job_id);
                Ok(())
            })
            .await;
    }
    let (def, revision) = match child_definition(rt, &task.input_data).await {
        Ok(found) => found,
        Err(reason) => {
            return fail_task(rt, &job, workflow_id, task_id, reason, Then::Decide).await;
        }
    };
    let input = task.input_data;
    let job_id = job.id.clone();
    rt.mutate(Some(workflow_id), move |txn, ctx| {
        let mut changes = std::mem::take(&mut txn.changes);
        if let Some(parent) = txn.state.as_mut() {
            let still_scheduled = parent
                .task_index(&task_id)
                .is_some_and(|i| parent.tasks()[i].status == TaskStatus::Scheduled);
            if still_scheduled {
                let child_input = match input.get("workflowInput") {
                    Some(Value::Object(map)) if !map.is_empty() => map.clone(),
                    _ => input.clone(),
                };
                let task_to_domain = match input.get("subWorkflowTaskToDomain") {
                    Some(Value::Object(map)) => map.clone(),
                    _ => parent.workflow.task_to_domain.clone(),
                };
                let priority = input
                    .get("priority")
                    .and_then(Value::as_i64)
                    .map(|p| p.clamp(0, 99) as i32)
                    .unwrap_or(parent.workflow.priority);
                let params = StartParams {
                    input: child_input,
                    correlation_id: parent.workflow.correlation_id.clone(),
                    priority,
                    task_to_domain,
                    created_by: parent.workflow.created_by.clone(),
                    parent_workflow_id: Some(parent.id().to_string()),
                    parent_workflow_task_id: Some(task_id.clone()),
                    ..StartParams::default()
                };
                let child = ops::start(def, revision, params, ctx, &mut changes);
                ops::sub_workflow_started(parent, &task_id, child.id(), ctx.now);
                changes.new_workflows.push(child);
            }
        }
        changes.job_deletes.push(job_id);
        txn.changes = changes;
        Ok(())
    })
    .await
}

async fn sub_workflow_ended(rt: &Runtime, job: Job) -> CoreResult<()> {
    let child_id = job
        .payload
        .get("subWorkflowId")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let (Some(parent_task), Some(child)) = (
        job.task_id.clone(),
        rt.stores.execution.get_workflow_record(&child_id).await?,
    ) else {
        return drop_job(rt, &job).await;
    };
    let job_id = job.id.clone();
    rt.mutate(Some(job.workflow_id.clone()), move |txn, ctx| {
        let mut changes = std::mem::take(&mut txn.changes);
        if let Some(parent) = txn.state.as_mut() {
            ops::sub_workflow_ended(parent, &parent_task, &child, ctx, &mut changes)?;
        }
        changes.job_deletes.push(job_id);
        txn.changes = changes;
        Ok(())
    })
    .await
}

async fn terminate_workflow(rt: &Runtime, job: Job) -> CoreResult<()> {
    let reason = job
        .payload
        .get("reason")
        .and_then(Value::as_str)
        .map(str::to_string);
    let job_id = job.id.clone();
    rt.mutate(Some(job.workflow_id.clone()), move |txn, ctx| {
        let mut changes = std::mem::take(&mut txn.changes);
        if let Some(state) = txn.state.as_mut()
            && !state.status().is_terminal()
        {
            ops::terminate(state, reason, false, ctx, &mut changes)?;
        }
        changes.job_deletes.push(job_id);
        txn.changes = changes;
        Ok(())
    })
    .await
}

/// The failure workflow's name: the definition's, or read from the failed workflow's
/// input when written as `$workflow.input.<key>`.
fn failure_workflow_name(def: &WorkflowDef, input: &JsonMap) -> Option<String> {
    let name = def.failure_workflow_name()?;
    if let Some(path) = name.strip_prefix('$') {
        let key = path.split('.').nth(2)?;
        return input.get(key).and_then(Value::as_str).map(str::to_string);
    }
    Some(name.to_string())
}

async fn start_failure_workflow(rt: &Runtime, job: Job) -> CoreResult<()> {
    let Some(failed) = rt.stores.execution.get_workflow(&job.workflow_id).await? else {
        return drop_job(rt, &job).await;
    };
    let Some(name) = failure_workflow_name(&failed.def, &failed.workflow.input) else {
        return drop_job(rt, &job).await;
    };
    let found = rt.defs.workflow(&name, failed.def.failure_workflow_version);
    let failed_task_id = job.task_id.clone();
    let snapshot = serde_json::to_value(failed.to_workflow(true)).unwrap_or(Value::Null);
    let job_id = job.id.clone();
    rt.mutate(Some(job.workflow_id.clone()), move |txn, ctx| {
        let mut changes = std::mem::take(&mut txn.changes);
        if let Some(state) = txn.state.as_mut() {
            let outcome = match found {
                Some((def, revision)) => {
                    let mut input = state.workflow.input.clone();
                    input.insert("workflowId".into(), Value::String(state.id().to_string()));
                    input.insert(
                        "reason".into(),
                        state.workflow.reason_for_incompletion.clone().map_or(Value::Null, Value::String),
                    );
                    input.insert("failureStatus".into(), Value::String(state.status().as_str().to_string()));
                    if let Some(task_id) = &failed_task_id {
                        input.insert("failureTaskId".into(), Value::String(task_id.clone()));
                    }
                    input.insert("failedWorkflow".into(), snapshot);
                    let params = StartParams {
                        input,
                        correlation_id: state.workflow.correlation_id.clone(),
                        priority: state.workflow.priority,
                        task_to_domain: state.workflow.task_to_domain.clone(),
                        created_by: state.workflow.created_by.clone(),
                        ..StartParams::default()
                    };
                    let started = ops::start(def, revision, params, ctx, &mut changes);
                    let id = started.id().to_string();
                    changes.new_workflows.push(started);
                    id
                }
                None => format!("Error workflow {name} failed to start.  reason: No such workflow defined. name={name}"),
            };
            state
                .workflow
                .output
                .insert("conductor.failure_workflow".into(), Value::String(outcome));
            state.touch();
        }
        changes.job_deletes.push(job_id);
        txn.changes = changes;
        Ok(())
    })
    .await
}
