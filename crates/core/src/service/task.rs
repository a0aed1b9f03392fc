//! Tasks and queues: polling with leases and long polls, worker results, logs, queue
//! sizes and task search.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::engine::schedule::{at_seconds_after, queue_name};
use crate::engine::{TaskDefs, ops};
use crate::error::{CoreError, CoreResult};
use crate::exec::command::{self, Command, Target, TaskRef};
use crate::exec::effects::EngineAction;
use crate::model::{
    JsonMap, PollData, SearchResult, Task, TaskExecLog, TaskResult, TaskResultStatus, TaskStatus,
    TaskSummary,
};
use crate::security::{Access, Actor, Authorizer, Principal, Resource, ResourceType};
use crate::store::{Claim, ClaimLimits, ThenClaim};

use super::definition_bounds::MAX_NAME_BYTES;
use super::disclosure;
use super::handoff::{self, SecretText};
use super::masking;
use super::runtime::{QueueSignal, Runtime};
use super::schema_checks;
use super::search::{Filter, SearchValue, TaskField, TaskSearch};
use super::summary;
use super::waiting_tasks;

/// Longest long poll, as in Conductor.
pub const MAX_POLL_TIMEOUT_MS: u64 = 5000;
/// Most tasks one batch poll hands out.
pub const MAX_BATCH_COUNT: usize = 1000;
/// Longest task log line kept.
pub const MAX_LOG_CHARS: usize = 32 * 1024;

/// A poll request.
#[derive(Debug, Clone)]
pub struct Poll {
    pub task_type: String,
    pub worker_id: String,
    pub domain: Option<String>,
    pub count: usize,
    pub timeout_ms: u64,
}

/// The task API.
#[derive(Clone)]
pub struct TaskService {
    pub(super) rt: Arc<Runtime>,
}

/// Whether a principal may see every task (by a role, or as the engine): only then
/// does "no such task" or "no such workflow" tell it nothing it could not see. Asked
/// on refusals only (each question builds an explanation).
pub(super) fn sees_every_task(authz: &Authorizer, principal: &Principal) -> bool {
    disclosure::covers_every(authz, principal, Access::Read, ResourceType::Workflow)
        || disclosure::covers_every(authz, principal, Access::Read, ResourceType::Task)
        || disclosure::covers_every(authz, principal, Access::Execute, ResourceType::Task)
}

/// How a claimed task changes: it is leased to the worker until its response timeout,
/// when the sweeper must look at it.
fn mark_polled(task: &mut Task, claim: &Claim) -> Option<i64> {
    task.status = TaskStatus::InProgress;
    if task.start_time == 0 {
        task.start_time = claim.now;
    }
    if task.first_start_time == 0 {
        task.first_start_time = claim.now;
    }
    task.queue_wait_time = claim.now.saturating_sub(task.scheduled_time).max(0);
    task.callback_after_seconds = 0;
    task.worker_id = Some(claim.worker_id.clone());
    task.poll_count = task.poll_count.saturating_add(1);
    task.update_time = claim.now;
    // The timeout comes from a definition (maybe stored before durations were
    // bounded): the lease end saturates instead of wrapping.
    (task.response_timeout_seconds > 0)
        .then(|| at_seconds_after(claim.now, task.response_timeout_seconds))
}

/// The limits on handing out tasks of a type, from its definition as it is now.
fn claim_limits(rt: &Runtime, task_type: &str) -> Option<ClaimLimits> {
    rt.defs
        .task_def(task_type)
        .as_deref()
        .and_then(ClaimLimits::of)
}

/// The worker a next task is claimed for when the result names none.
const UNKNOWN_WORKER: &str = "unknown";

/// The domain of a task's queue: none when blank.
fn queue_domain(task: &Task) -> Option<&str> {
    task.domain
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty())
}

/// What applying a result came to: the task (and what was claimed with it), or
/// the result back, for a task its caller must be allowed to end as a signal does.
// Made once per update and moved once; the common variant is the large one.
#[allow(clippy::large_enum_variant)]
enum Applied {
    Done(Task, Option<(String, u64)>),
    Operate(Box<TaskResult>),
}

/// In the unit that records a worker's result for `task` (ended), sets up the claim
/// of the worker's next task of the same type and domain, when the worker may poll
/// that queue and it may hold a message: one commit for both. Returns the queue and
/// the signal's mark, to note an empty find against (none for a limited type).
fn claim_next(
    rt: &Runtime,
    actor: &Actor,
    task: &Task,
    worker: Option<String>,
    now: i64,
    txn: &mut crate::store::Txn,
) -> Option<(String, u64)> {
    let domain = queue_domain(task);
    let target = Target {
        task: Some(TaskRef::queue(&task.task_type, domain)),
        ..Target::default()
    };
    command::authorize(rt, actor, Command::Poll, &target).ok()?;
    let queue = queue_name(&task.task_type, domain);
    let signal = rt.signals.queue(&queue);
    if !signal.may_have_messages(now) {
        return None;
    }
    let mark = signal.mark();
    let worker_id = worker
        .or_else(|| task.worker_id.clone())
        .unwrap_or_else(|| UNKNOWN_WORKER.to_string());
    let limits = claim_limits(rt, &task.task_type);
    // A limited type's claim may come back short with messages waiting: no mark.
    let empty_mark = limits.is_none().then(|| (queue.clone(), mark));
    txn.then_claim = Some(ThenClaim {
        claim: Claim {
            queue_name: queue,
            count: 1,
            now,
            worker_id,
            limits,
        },
        on_claim: mark_polled,
    });
    empty_mark
}

/// Set while the caller of a unit still waits for its answer; cleared when the
/// caller's future is dropped (the client went away).
struct CallerWaits(Arc<AtomicBool>);

impl CallerWaits {
    fn new() -> CallerWaits {
        CallerWaits(Arc::new(AtomicBool::new(true)))
    }

    fn flag(&self) -> Arc<AtomicBool> {
        self.0.clone()
    }
}

impl Drop for CallerWaits {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

impl TaskService {
    /// The service over a runtime.
    pub fn new(rt: Arc<Runtime>) -> TaskService {
        TaskService { rt }
    }

    /// Polls up to `count` tasks, waiting up to `timeout_ms` for one to arrive. Each task
    /// is handed to exactly one poller and is leased to it until its response timeout.
    pub async fn poll(&self, principal: &Principal, poll: Poll) -> CoreResult<Vec<Task>> {
        if poll.task_type.trim().is_empty() {
            return Err(CoreError::invalid("taskType cannot be null or empty"));
        }
        if poll.timeout_ms > MAX_POLL_TIMEOUT_MS {
            return Err(CoreError::invalid(
                "Long Poll Timeout value cannot be more than 5 seconds",
            ));
        }
        if poll.task_type.len() > MAX_NAME_BYTES
            || poll
                .domain
                .as_ref()
                .is_some_and(|d| d.len() > MAX_NAME_BYTES)
        {
            return Err(CoreError::invalid(format!(
                "task type and domain must be at most {MAX_NAME_BYTES} bytes long"
            )));
        }
        if poll.count == 0 || poll.count > MAX_BATCH_COUNT {
            return Err(CoreError::invalid(format!(
                "count must be between 1 and {MAX_BATCH_COUNT}"
            )));
        }
        let domain = poll
            .domain
            .as_deref()
            .map(str::trim)
            .filter(|d| !d.is_empty());
        let target = Target {
            task: Some(TaskRef::queue(&poll.task_type, domain)),
            ..Target::default()
        };
        command::authorize(&self.rt, &Actor::caller(principal), Command::Poll, &target)?;
        let queue = queue_name(&poll.task_type, domain);
        self.record_poll(&poll.task_type, domain, &poll.worker_id)
            .await;
        let deadline = tokio::time::Instant::now() + Duration::from_millis(poll.timeout_ms);
        let signal = self.rt.signals.queue(&queue);
        loop {
            let notified = signal.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let mut tasks = Vec::new();
            let now = self.rt.now();
            if signal.may_have_messages(now) {
                let mark = signal.mark();
                let claim = Claim {
                    queue_name: queue.clone(),
                    count: poll.count,
                    now,
                    worker_id: poll.worker_id.clone(),
                    limits: claim_limits(&self.rt, &poll.task_type),
                };
                // A limited type's claim may come back short with messages waiting:
                // the queue is not taken for empty.
                let limited = claim.limits.is_some();
                tasks = self.rt.stores.execution.claim(claim, mark_polled).await?;
                if tasks.len() < poll.count && !limited {
                    signal.found_empty(mark, now);
                }
            }
            if !tasks.is_empty() || tokio::time::Instant::now() >= deadline {
                return Ok(self.hand_off(tasks).await);
            }
            // Messages that become visible without a push (see `QueueSignal`) are
            // found when the hint expires.
            let recheck = tokio::time::Instant::now()
                + Duration::from_millis(QueueSignal::HINT_TTL_MS as u64);
            tokio::select! {
                _ = notified => {}
                _ = tokio::time::sleep_until(deadline.min(recheck)) => {}
            }
        }
    }

    /// Records that a worker polled a queue (throttled: most polls write nothing).
    async fn record_poll(&self, task_type: &str, domain: Option<&str>, worker_id: &str) {
        let now = self.rt.now();
        if let Some(record) = self.rt.polls.record(task_type, domain, worker_id, now) {
            // Best effort: the poll itself matters more than its record.
            if let Err(err) = self.rt.stores.execution.record_poll(record).await {
                tracing::warn!(error = %err, "could not record poll data");
            }
        }
    }

    /// Puts secret and environment values into the polled tasks' inputs. A task whose
    /// values cannot be read (removed, or no longer readable by the workflow's starter)
    /// fails with a reason naming the secret, and is not handed over.
    async fn hand_off(&self, tasks: Vec<Task>) -> Vec<Task> {
        let mut out = Vec::with_capacity(tasks.len());
        for mut task in tasks {
            if let Some(reason) = self.schema_refusal(&task, false, &task.input_data).await {
                self.fail_at_hand_off(&task, &reason).await;
                continue;
            }
            if !handoff::has_references(&task.input_data) {
                out.push(task);
                continue;
            }
            match handoff::resolve_task(&self.rt, &mut task, EngineAction::HandOff).await {
                Ok(_) => out.push(task),
                Err(reason) => self.fail_at_hand_off(&task, &reason).await,
            }
        }
        out
    }

    /// Why a task's input (or output) breaks the schema its definition enforces,
    /// if it does: checked before a worker is handed the task, and when a worker
    /// completes it.
    async fn schema_refusal(&self, task: &Task, output: bool, value: &JsonMap) -> Option<String> {
        if !self.rt.defs.enforces_task_schemas() {
            return None;
        }
        let def = self.rt.defs.task_def(&task.task_def_name)?;
        schema_checks::task_refusal(&self.rt, &def, output, value).await
    }

    async fn fail_at_hand_off(&self, task: &Task, reason: &str) {
        tracing::warn!(
            task_id = %task.task_id,
            workflow_id = %task.workflow_instance_id,
            reason,
            "a task could not be handed over and fails"
        );
        let result = TaskResult {
            workflow_instance_id: task.workflow_instance_id.clone(),
            task_id: task.task_id.clone(),
            reason_for_incompletion: Some(format!("Cannot hand the task over: {reason}")),
            callback_after_seconds: 0,
            worker_id: task.worker_id.clone(),
            status: TaskResultStatus::FailedWithTerminalError,
            output_data: JsonMap::new(),
            logs: Vec::new(),
            external_output_payload_storage_path: None,
            sub_workflow_id: None,
            extend_lease: false,
        };
        // The engine fails what it could not hand over (the poller may not even be
        // allowed to report on it).
        if let Err(err) = self.apply_result(Actor::engine(), result, false).await {
            tracing::warn!(task_id = %task.task_id, error = %err, "could not fail the task");
        }
    }

    /// Applies a worker's result (`POST /tasks`). Results for ended tasks or workflows
    /// are accepted and ignored. Returns the updated task. A caller who may not see
    /// the task gets the same 403 whether the workflow and task exist or not.
    pub async fn update(&self, principal: &Principal, result: TaskResult) -> CoreResult<Task> {
        if result.workflow_instance_id.trim().is_empty() {
            return Err(CoreError::invalid("Workflow Id cannot be null or empty"));
        }
        if result.task_id.trim().is_empty() {
            return Err(CoreError::invalid("Task ID cannot be null or empty"));
        }
        self.apply_result(Actor::caller(principal), result, false)
            .await
            .map(|(task, _)| task)
    }

    /// Applies a result to a task, reported by `actor`, who must be allowed to
    /// update the task (the engine is, for a task it could not hand over). With
    /// `then_poll`, when the task ended, the same commit claims the worker's next task
    /// (see [`claim_next`]); returns the updated task and what was claimed, not yet
    /// handed off.
    pub(super) async fn apply_result(
        &self,
        actor: Actor,
        result: TaskResult,
        then_poll: bool,
    ) -> CoreResult<(Task, Vec<Task>)> {
        let rt = self.rt.clone();
        let worker = result.worker_id.clone().filter(|w| !w.trim().is_empty());
        let mut result = result;
        // Output that breaks the schema the task's definition enforces fails the
        // task (it may be retried), with the output kept as the worker sent it.
        if result.status == TaskResultStatus::Completed
            && self.rt.defs.enforces_task_schemas()
            && let Some(task) = self.rt.stores.execution.get_task(&result.task_id).await?
            && task.workflow_instance_id == result.workflow_instance_id
            && !task.status.is_terminal()
            && let Some(reason) = self.schema_refusal(&task, true, &result.output_data).await
        {
            result.status = TaskResultStatus::Failed;
            result.reason_for_incompletion = Some(reason);
        }
        // Values this node handed the task are masked here, off the store's writer;
        // otherwise (a restart since, an update without a poll) inside the unit.
        let handed = self.rt.handoffs.take_handed(&result.task_id);
        if let Some(values) = &handed {
            handoff::mask_result(&mut result, values);
        }
        let workflow_id = result.workflow_instance_id.clone();
        let task_id = result.task_id.clone();
        // The unit runs to its end even when the caller gives up; then it claims
        // nothing, since no one would receive the task and it would sit leased.
        let waiting = CallerWaits::new();
        let still_waiting = waiting.flag();
        let caller = actor.cause().is_none() && !actor.is_engine();
        let principal = actor.principal().clone();
        let owner_id = workflow_id.clone();
        let (applied, committed) = self
            .rt
            .mutate_committed(Some(workflow_id.clone()), move |txn, ctx| {
                let mut changes = std::mem::take(&mut txn.changes);
                let sees_all = || sees_every_task(&rt.authorizer, actor.principal());
                let Some(state) = txn.state.as_mut() else {
                    return Err(if sees_all() {
                        CoreError::workflow_not_found(&workflow_id)
                    } else {
                        command::hidden_task_update(&task_id, &workflow_id)
                    });
                };
                let Some(index) = state.task_index(&task_id) else {
                    return Err(if sees_all() {
                        CoreError::task_not_found(&task_id)
                    } else {
                        command::hidden_task_update(&task_id, &workflow_id)
                    });
                };
                let task = &state.tasks()[index];
                if caller && waiting_tasks::waits_for_someone(task) {
                    // A task that waits for someone is ended as a signal ends it:
                    // by who may operate its run, and feed it with data. Ended
                    // already, the result is ignored below, for such a caller only.
                    if !task.status.is_terminal() {
                        txn.changes = changes;
                        return Ok(Applied::Operate(Box::new(result)));
                    }
                    let principal = actor.principal();
                    waiting_tasks::may_end(&rt, principal, state, false).map_err(|refusal| {
                        waiting_tasks::as_heard(&rt, principal, state, task, refusal, || {
                            command::hidden_task_update(&task_id, &workflow_id)
                        })
                    })?;
                } else {
                    // Only a principal allowed to poll the task may update it.
                    let target = Target {
                        task: Some(TaskRef::of(task)),
                        ..Target::default()
                    };
                    command::authorize(&rt, &actor, Command::UpdateTask, &target)?;
                }
                // What a fork starts, and what a DYNAMIC task runs, only the engine
                // decides (see `engine::dynamic`).
                let kind = crate::engine::TaskKind::of_execution(task);
                if matches!(
                    kind,
                    crate::engine::TaskKind::ForkJoin | crate::engine::TaskKind::Dynamic
                ) && !task.status.is_terminal()
                {
                    return Err(CoreError::invalid(format!(
                        "Task {} is a {} the server runs itself; its result cannot be set through the task API",
                        task.task_id, task.task_type
                    )));
                }
                // A worker echoing a secret it was handed does not store it.
                if handed.is_none() {
                    let values = handoff::secret_values_of(&rt, &state.def, task);
                    handoff::mask_result(&mut result, &values);
                }
                // Values the run masks are sealed where they are kept, but log lines
                // and keys are not kept sealed: there they are masked.
                masking::mask_logs_and_keys(&mut result, &masking::run_masked_values(state));
                let outcome = ops::apply_result(state, &result, ctx, &mut changes);
                txn.changes = changes;
                outcome?;
                let task = state.tasks()[index].clone();
                let wanted =
                    then_poll && task.status.is_terminal() && still_waiting.load(Ordering::Acquire);
                let next = wanted
                    .then(|| claim_next(&rt, &actor, &task, worker, ctx.now, txn))
                    .flatten();
                Ok(Applied::Done(task, next))
            })
            .await?;
        let (task, next) = match applied {
            Applied::Done(task, next) => (task, next),
            Applied::Operate(result) => {
                let hidden = || command::hidden_task_update(&result.task_id, &owner_id);
                // Gone since (removed, or restarted): as a missing one.
                let owner = self.rt.stores.execution.get_workflow(&owner_id).await?;
                let task = owner
                    .as_ref()
                    .and_then(|o| o.tasks().iter().find(|t| t.task_id == result.task_id));
                let (Some(owner), Some(task)) = (owner.as_ref(), task) else {
                    return Err(if sees_every_task(&self.rt.authorizer, &principal) {
                        CoreError::task_not_found(&result.task_id)
                    } else {
                        hidden()
                    });
                };
                let feeds = !result.output_data.is_empty();
                if let Err(refusal) = self.allow_data(&principal, owner, feeds).await {
                    return Err(waiting_tasks::as_heard(
                        &self.rt, &principal, owner, task, refusal, hidden,
                    ));
                }
                // Nothing is claimed for the caller on its behalf: its next task
                // comes from a poll of its own.
                return Box::pin(self.apply_result(Actor::engine(), *result, false)).await;
            }
        };
        if let Some((queue, mark)) = next
            && committed.claimed.is_empty()
        {
            self.rt
                .signals
                .queue(&queue)
                .found_empty(mark, self.rt.now());
        }
        Ok((task, committed.claimed))
    }

    /// `POST /tasks/update-v2`: applies the result; when the task ended, hands the
    /// worker its next task of the same type and domain, claimed in the same commit.
    pub async fn update_and_poll(
        &self,
        principal: &Principal,
        result: TaskResult,
    ) -> CoreResult<Option<Task>> {
        if result.workflow_instance_id.trim().is_empty() {
            return Err(CoreError::invalid("Workflow Id cannot be null or empty"));
        }
        if result.task_id.trim().is_empty() {
            return Err(CoreError::invalid("Task ID cannot be null or empty"));
        }
        let worker = result.worker_id.clone().filter(|w| !w.trim().is_empty());
        let then_poll = !result.extend_lease;
        let (task, claimed) = self
            .apply_result(Actor::caller(principal), result, then_poll)
            .await?;
        let next = self.hand_off(claimed).await.into_iter().next();
        if then_poll && task.status.is_terminal() {
            let worker = worker
                .or_else(|| task.worker_id.clone())
                .unwrap_or_else(|| UNKNOWN_WORKER.to_string());
            self.record_poll(&task.task_type, queue_domain(&task), &worker)
                .await;
        }
        Ok(next)
    }

    /// One task, as people see it.
    pub async fn get(&self, principal: &Principal, task_id: &str) -> CoreResult<Task> {
        let mut task = self.readable(principal, task_id).await?;
        let masked = self.masked_of(&task.workflow_instance_id).await?;
        masking::view_task(&mut task, &masked);
        Ok(task)
    }

    /// The values a workflow run masks (none once it is gone).
    async fn masked_of(&self, workflow_id: &str) -> CoreResult<Vec<SecretText>> {
        let Some(record) = self
            .rt
            .stores
            .execution
            .get_workflow_record(workflow_id)
            .await?
        else {
            return Ok(Vec::new());
        };
        let def = self
            .rt
            .defs
            .workflow(&record.workflow_name, Some(record.workflow_version))
            .map(|(def, _)| def);
        let fields = masking::masked_fields(&record, def.as_deref());
        Ok(masking::masked_values(&record, &fields))
    }

    /// One task the caller may see, as stored. A task the caller may not see and a
    /// task id that does not exist get the same 403, unless the caller may see every
    /// task (then a missing one is 404).
    async fn readable(&self, principal: &Principal, task_id: &str) -> CoreResult<Task> {
        match self.rt.stores.execution.get_task(task_id).await? {
            Some(task) if self.can_read(principal, &task) => Ok(task),
            None if sees_every_task(&self.rt.authorizer, principal) => {
                Err(CoreError::task_not_found(task_id))
            }
            _ => Err(disclosure::hidden(format_args!("read task: {task_id}"))),
        }
    }

    /// Whether the caller may see a task: READ on its task definition or its
    /// workflow, or being allowed to poll it.
    fn can_read(&self, principal: &Principal, task: &Task) -> bool {
        command::can_see_task(&self.rt, principal, task)
    }

    /// The log lines of a task.
    pub async fn logs(&self, principal: &Principal, task_id: &str) -> CoreResult<Vec<TaskExecLog>> {
        let task = self.readable(principal, task_id).await?;
        let mut logs = self.rt.stores.execution.task_logs(task_id).await?;
        // Lines are masked as they are written; values masked since are masked here.
        let masked = self.masked_of(&task.workflow_instance_id).await?;
        for log in &mut logs {
            handoff::mask_log(log, &masked);
        }
        Ok(logs)
    }

    /// Appends a log line to a task.
    pub async fn add_log(
        &self,
        principal: &Principal,
        task_id: &str,
        line: String,
    ) -> CoreResult<()> {
        let task = self.readable(principal, task_id).await?;
        if waiting_tasks::waits_for_someone(&task) {
            // Written to by who may end it, ended or not.
            let Some(owner) = self
                .rt
                .stores
                .execution
                .get_workflow(&task.workflow_instance_id)
                .await?
            else {
                return Err(CoreError::task_not_found(task_id));
            };
            waiting_tasks::may_end(&self.rt, principal, &owner, false)?;
        } else {
            let target = Target {
                task: Some(TaskRef::of(&task)),
                ..Target::default()
            };
            command::authorize(
                &self.rt,
                &Actor::caller(principal),
                Command::AddTaskLog,
                &target,
            )?;
        }
        let mut log = TaskExecLog {
            log: line.chars().take(MAX_LOG_CHARS).collect(),
            task_id: Some(task_id.to_string()),
            created_time: self.rt.now(),
        };
        handoff::mask_log(
            &mut log,
            &handoff::secret_values_of_task(&self.rt, &task).await,
        );
        handoff::mask_log(&mut log, &self.masked_of(&task.workflow_instance_id).await?);
        self.rt
            .mutate(None, move |txn, _| {
                txn.changes.task_logs.push(log);
                Ok(())
            })
            .await
    }

    /// Pending messages per queue name (`/tasks/queue/sizes`): a task type, or
    /// `domain:type` for a domain queue.
    pub async fn queue_sizes(
        &self,
        principal: &Principal,
        task_types: &[String],
    ) -> CoreResult<HashMap<String, i64>> {
        // As in Conductor, each name is a queue name: `T` is the queue of type T
        // without a domain, `domain:T` the queue of that domain.
        for name in task_types {
            if !self.can_see_queue(principal, name) {
                let task_type = name.rsplit_once(':').map_or(name.as_str(), |(_, t)| t);
                return Err(crate::security::authz::refusal(
                    Access::Read,
                    Resource::task(task_type, None),
                ));
            }
        }
        let sizes = self.rt.stores.execution.queue_sizes(task_types).await?;
        Ok(task_types
            .iter()
            .map(|name| (name.clone(), sizes.get(name).copied().unwrap_or(0)))
            .collect())
    }

    pub async fn all_queue_sizes(&self, principal: &Principal) -> CoreResult<HashMap<String, i64>> {
        let all = self.rt.stores.execution.queue_sizes(&[]).await?;
        Ok(all
            .into_iter()
            .filter(|(queue, _)| self.can_see_queue(principal, queue))
            .collect())
    }

    /// Whether the caller may see a queue (`type` or `domain:type`): READ on the task,
    /// or being allowed to poll it.
    fn can_see_queue(&self, principal: &Principal, queue: &str) -> bool {
        let (domain, task_type) = match queue.rsplit_once(':') {
            Some((domain, task_type)) => (Some(domain), task_type),
            None => (None, queue),
        };
        let resource = Resource::task(task_type, domain);
        self.rt.authorizer.can(principal, Access::Read, resource)
            || self.rt.authorizer.can(principal, Access::Execute, resource)
    }

    /// Poll records of a task type, or of all.
    pub async fn poll_data(
        &self,
        principal: &Principal,
        task_type: Option<&str>,
    ) -> CoreResult<Vec<PollData>> {
        let records = self.rt.stores.execution.poll_data(task_type).await?;
        Ok(records
            .into_iter()
            .filter(|p| self.can_see_queue(principal, &p.queue_name))
            .collect())
    }

    /// Searches tasks the caller may read.
    pub async fn search(
        &self,
        principal: &Principal,
        search: TaskSearch,
    ) -> CoreResult<SearchResult<TaskSummary>> {
        let (total, tasks) = self.search_tasks(principal, search).await?;
        Ok(SearchResult {
            total_hits: total,
            results: tasks.iter().map(summary::task_summary).collect(),
        })
    }

    /// Searches tasks the caller may read, as full tasks.
    pub async fn search_tasks(
        &self,
        principal: &Principal,
        mut search: TaskSearch,
    ) -> CoreResult<(i64, Vec<Task>)> {
        // Filter inside the query, so paging and totals count only readable tasks.
        if let Some(allowed) = self.readable_filter(principal) {
            search.filter = Some(match search.filter.take() {
                Some(filter) => Filter::And(vec![allowed, filter]),
                None => allowed,
            });
        }
        let (total, tasks) = self.rt.stores.execution.search_tasks(&search).await?;
        let mut masked: HashMap<String, Vec<SecretText>> = HashMap::new();
        let mut readable = Vec::with_capacity(tasks.len());
        for mut task in tasks {
            if !self.can_read(principal, &task) {
                continue;
            }
            if !masked.contains_key(&task.workflow_instance_id) {
                let values = self.masked_of(&task.workflow_instance_id).await?;
                masked.insert(task.workflow_instance_id.clone(), values);
            }
            let values = masked
                .get(&task.workflow_instance_id)
                .map(Vec::as_slice)
                .unwrap_or_default();
            masking::view_task(&mut task, values);
            readable.push(task);
        }
        Ok((total, readable))
    }

    /// The tasks a caller may read, as a filter: by task definition (READ, or being
    /// allowed to poll) or by workflow (READ). None when the caller reads everything.
    fn readable_filter(&self, principal: &Principal) -> Option<Filter<TaskField>> {
        let authz = &self.rt.authorizer;
        if authz.can(principal, Access::Read, Resource::workflow("*"))
            && authz.can(principal, Access::Read, Resource::task("*", None))
        {
            return None;
        }
        let tasks: Vec<SearchValue> = self
            .rt
            .defs
            .all_task_defs()
            .iter()
            .filter(|d| {
                let resource = Resource::task(&d.name, None);
                authz.can(principal, Access::Read, resource)
                    || authz.can(principal, Access::Execute, resource)
            })
            .map(|d| SearchValue::Text(d.name.clone()))
            .collect();
        let workflows: Vec<SearchValue> = self
            .rt
            .defs
            .all_workflows()
            .iter()
            .filter(|d| authz.can(principal, Access::Read, Resource::workflow(&d.name)))
            .map(|d| SearchValue::Text(d.name.clone()))
            .collect();
        Some(Filter::Or(vec![
            Filter::In(TaskField::TaskDefName, tasks),
            Filter::In(TaskField::WorkflowType, workflows),
        ]))
    }
}
