//! The decider: given a workflow's state and the time, move it forward as far as it
//! can go without outside help. It schedules the successors of finished tasks,
//! retries failed ones, runs in-place system tasks, applies timeouts, completes or
//! fails the workflow, and records everything to write in a [`ChangeSet`].
//!
//! `decide` is pure: the same state, context and time give the same result.

use serde_json::Value;

use crate::model::{
    JsonMap, RetryLogic, TaskDef, TaskStatus, TaskTimeoutPolicy, WorkflowStatus,
    WorkflowTimeoutPolicy,
};
use crate::store::{ChangeSet, Effect, Job, JobLane};

use super::context::EngineContext;
use super::expr;
use super::graph;
use super::loops;
use super::payload;
use super::schedule::{add_task, at_seconds_after, expr_context, fail_at_schedule, resolve_input};
use super::state::WorkflowState;
use super::system_tasks::{self, TerminateRequest, schedule_node, selected_case};
use super::task_type::TaskKind;

/// How a workflow ends.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkflowEnd {
    pub status: WorkflowStatus,
    pub reason: Option<String>,
    /// Output to set instead of the definition's `outputParameters`.
    pub output: Option<crate::model::JsonMap>,
    /// Whether the failure workflow (if any) is started.
    pub trigger_failure_workflow: bool,
    /// The task whose failure ended the workflow.
    pub failed_task_id: Option<String>,
}

impl WorkflowEnd {
    /// A successful completion with the usual output.
    pub fn completed() -> WorkflowEnd {
        WorkflowEnd {
            status: WorkflowStatus::Completed,
            reason: None,
            output: None,
            trigger_failure_workflow: false,
            failed_task_id: None,
        }
    }
}

/// Moves the workflow forward; see the module documentation.
pub fn decide(state: &mut WorkflowState, ctx: &EngineContext<'_>, out: &mut ChangeSet) {
    if state.status() == WorkflowStatus::Running {
        if let Some(end) = check_workflow_timeout(state, ctx) {
            end_workflow(state, end, ctx, out);
        } else if let Some(end) = check_task_timeouts(state, ctx, out) {
            end_workflow(state, end, ctx, out);
        } else if !run(state, ctx, out) {
            // The passes ran out with work left: the sweeper goes on with it in a
            // unit of its own.
            state.next_check_at = Some(ctx.now);
            return;
        }
    }
    state.next_check_at = next_check(state, ctx);
}

/// Most passes of one decision over a workflow's tasks.
const MAX_PASSES: usize = 10_000;

/// Runs passes until nothing changes; false when the passes ran out first.
fn run(state: &mut WorkflowState, ctx: &EngineContext<'_>, out: &mut ChangeSet) -> bool {
    // Each pass either changes something or stops; the bound keeps one decision
    // short whatever the definition.
    for _ in 0..MAX_PASSES {
        let mut progress = false;
        let mut index = 0;
        while index < state.tasks().len() {
            let task = &state.tasks()[index];
            // Skipped tasks are not processed: the decider steps over them when their
            // predecessor finishes.
            if task.status.is_terminal()
                && task.status != TaskStatus::Skipped
                && !task.executed
                && !task.retried
            {
                progress = true;
                if let Some(end) = handle_finished(state, index, ctx, out) {
                    end_workflow(state, end, ctx, out);
                    return true;
                }
            }
            index += 1;
        }
        let mut index = 0;
        while index < state.tasks().len() {
            let (changed, terminate) = system_tasks::execute(state, index, ctx, out);
            progress |= changed;
            if let Some(request) = terminate {
                // The TERMINATE task itself is processed (and marked executed) first.
                mark_executed(state, index);
                let task_id = state.tasks()[index].task_id.clone();
                end_workflow(state, terminate_end(request, task_id), ctx, out);
                return true;
            }
            index += 1;
        }
        if !progress {
            if is_complete(state) {
                end_workflow(state, WorkflowEnd::completed(), ctx, out);
            }
            return true;
        }
    }
    false
}

fn terminate_end(request: TerminateRequest, task_id: String) -> WorkflowEnd {
    let ends_badly = request.status != WorkflowStatus::Completed;
    let reason = match request.reason {
        Some(reason) => Some(reason),
        None if ends_badly => Some(format!(
            "Workflow is {} by TERMINATE task: {task_id}",
            request.status.as_str()
        )),
        None => None,
    };
    WorkflowEnd {
        status: request.status,
        reason,
        output: Some(request.output.unwrap_or_default()),
        trigger_failure_workflow: ends_badly,
        failed_task_id: ends_badly.then_some(task_id),
    }
}

fn mark_executed(state: &mut WorkflowState, index: usize) {
    if let Some(task) = state.task_mut(index) {
        task.executed = true;
    }
}

/// Handles a task that reached a terminal status: schedules what follows, retries it,
/// or says how the workflow ends.
fn handle_finished(
    state: &mut WorkflowState,
    index: usize,
    ctx: &EngineContext<'_>,
    out: &mut ChangeSet,
) -> Option<WorkflowEnd> {
    mark_executed(state, index);
    let task = state.tasks()[index].clone();
    if task.status.is_successful() {
        schedule_successor(state, &task, ctx, out);
        return None;
    }
    let node = graph::find_task(&state.def, &task.reference_task_name).cloned();
    let def = node.as_ref().and_then(|n| ctx.task_def_of(n, &task));
    let allowed_retries = match &def {
        Some(def) => node
            .as_ref()
            .and_then(|n| n.retry_count)
            .unwrap_or(def.retry_count),
        None => 0,
    };
    let kind = TaskKind::of_execution(&task);
    if task.status.is_retriable()
        && !kind.is_control_flow()
        && task.retry_count < allowed_retries
        && let (Some(node), Some(def)) = (node.as_ref(), def.as_ref())
    {
        retry_task(state, index, node, def, ctx, out);
        return None;
    }
    if node.as_ref().is_some_and(|n| n.optional) {
        if let Some(t) = state.task_mut(index) {
            t.status = TaskStatus::CompletedWithErrors;
        }
        schedule_successor(state, &task, ctx, out);
        return None;
    }
    let status = match task.status {
        TaskStatus::Canceled => WorkflowStatus::Terminated,
        TaskStatus::TimedOut => WorkflowStatus::TimedOut,
        _ => WorkflowStatus::Failed,
    };
    Some(WorkflowEnd {
        status,
        reason: Some(task_failure_reason(&task, status)),
        output: None,
        trigger_failure_workflow: true,
        failed_task_id: Some(task.task_id.clone()),
    })
}

/// Conductor's reason for a workflow that ends because a task failed; the status named
/// is the workflow's.
fn task_failure_reason(task: &crate::model::Task, status: WorkflowStatus) -> String {
    format!(
        "Task {} failed with status: {} and reason: '{}'",
        task.task_id,
        status.as_str(),
        task.reason_for_incompletion.as_deref().unwrap_or("null")
    )
}

/// Schedules the node after a successfully finished task, if it has one.
fn schedule_successor(
    state: &mut WorkflowState,
    task: &crate::model::Task,
    ctx: &EngineContext<'_>,
    out: &mut ChangeSet,
) {
    let kind = TaskKind::of_execution(task);
    // What follows a task inside a loop runs in the same iteration.
    let iteration = loops::place_of(task);
    if matches!(kind, TaskKind::Switch | TaskKind::Decision) && task.status != TaskStatus::Skipped {
        // A switch whose selected case has tasks continues through that case.
        let case = task
            .output_data
            .get("selectedCase")
            .or_else(|| task.output_data.get("caseOutput").and_then(|v| v.get(0)))
            .map(expr::java_to_string);
        let def = state.def.clone();
        if let (Some(case), Some(node)) = (case, graph::find_task(&def, &task.reference_task_name))
            && let Some(first) = selected_case(node, &case).first()
        {
            // Scheduled already when the decider picked the case; a case a script
            // picked (a job completed the switch) starts here.
            schedule_node(state, first, iteration, ctx, out);
            return;
        }
    }
    let def = state.def.clone();
    if let Some(next) = runnable_after(state, &def, &task.reference_task_name, iteration) {
        schedule_node(state, next, iteration, ctx, out);
    }
}

/// The node after `reference`, stepping over nodes that were skipped in advance (in
/// loop iteration `iteration`, 0 outside loops).
fn runnable_after<'d>(
    state: &WorkflowState,
    def: &'d crate::model::WorkflowDef,
    reference: &str,
    iteration: i32,
) -> Option<&'d crate::model::WorkflowTask> {
    let mut next = graph::next_task(def, reference)?;
    while is_skipped(
        state,
        &loops::iteration_ref(&next.task_reference_name, iteration),
    ) {
        next = graph::next_task(def, &next.task_reference_name)?;
    }
    Some(next)
}

/// The first node to run, stepping over nodes that were skipped in advance.
pub fn first_runnable<'d>(
    state: &WorkflowState,
    def: &'d crate::model::WorkflowDef,
) -> Option<&'d crate::model::WorkflowTask> {
    let first = def.tasks.first()?;
    if is_skipped(state, &first.task_reference_name) {
        runnable_after(state, def, &first.task_reference_name, 0)
    } else {
        Some(first)
    }
}

fn is_skipped(state: &WorkflowState, reference: &str) -> bool {
    state
        .latest_task_index(reference)
        .is_some_and(|i| state.tasks()[i].status == TaskStatus::Skipped)
}

/// The delay before retry number `attempt + 1` of a task.
pub fn retry_delay_seconds(def: &TaskDef, attempt: i32) -> i64 {
    let base = def.retry_delay_seconds.max(0);
    let delay = match def.retry_logic {
        RetryLogic::Fixed => base,
        RetryLogic::LinearBackoff => base
            .saturating_mul(def.backoff_scale_factor.max(1))
            .saturating_mul(i64::from(attempt) + 1),
        RetryLogic::ExponentialBackoff => {
            base.saturating_mul(2_i64.saturating_pow(attempt.clamp(0, 62) as u32))
        }
    };
    match def.max_retry_delay_seconds {
        Some(max) if max > 0 => delay.min(max),
        _ => delay,
    }
}

fn retry_task(
    state: &mut WorkflowState,
    index: usize,
    node: &crate::model::WorkflowTask,
    def: &TaskDef,
    ctx: &EngineContext<'_>,
    out: &mut ChangeSet,
) {
    let old = state.tasks()[index].clone();
    if let Some(t) = state.task_mut(index) {
        t.retried = true;
    }
    let task_id = ctx.ids.new_id();
    let mut input = old.input_data.clone();
    // A dynamic fork's branch keeps the input data gave it; a DYNAMIC task the
    // input its choice was made with.
    let given = super::dynamic::is_branch(&state.def, &old.reference_task_name)
        || TaskKind::of(&node.task_type) == TaskKind::Dynamic;
    let resolved = if given {
        Ok(JsonMap::new())
    } else {
        resolve_input(state, node, &task_id, ctx)
    };
    if let Ok(resolved) = &resolved {
        for (key, value) in resolved {
            input.insert(key.clone(), value.clone());
        }
    }
    let retry = crate::model::Task {
        task_id,
        status: TaskStatus::Scheduled,
        retry_count: old.retry_count.saturating_add(1),
        retried_task_id: Some(old.task_id.clone()),
        input_data: input,
        scheduled_time: ctx.now,
        update_time: ctx.now,
        reason_for_incompletion: old.reason_for_incompletion.clone(),
        ..crate::model::Task {
            task_type: old.task_type.clone(),
            reference_task_name: old.reference_task_name.clone(),
            correlation_id: old.correlation_id.clone(),
            task_def_name: old.task_def_name.clone(),
            workflow_instance_id: old.workflow_instance_id.clone(),
            workflow_type: old.workflow_type.clone(),
            response_timeout_seconds: old.response_timeout_seconds,
            domain: old.domain.clone(),
            workflow_priority: old.workflow_priority,
            rate_limit_per_frequency: old.rate_limit_per_frequency,
            rate_limit_frequency_in_seconds: old.rate_limit_frequency_in_seconds,
            isolation_group_id: old.isolation_group_id.clone(),
            execution_name_space: old.execution_name_space.clone(),
            iteration: old.iteration,
            loop_over_task: old.loop_over_task,
            ..crate::model::Task::default()
        }
    };
    let delay = retry_delay_seconds(def, old.retry_count);
    let mut retry = crate::model::Task {
        start_delay_in_seconds: delay,
        ..retry
    };
    let merged = std::mem::take(&mut retry.input_data);
    let max = ctx.limits.max_payload_bytes;
    let checked = resolved.and_then(|_| match payload::check(&merged, max) {
        Ok(_) => Ok(merged),
        Err(excess) => Err(payload::task_reason(
            excess,
            &retry.task_id,
            state.id(),
            max,
        )),
    });
    match checked {
        Ok(input) => retry.input_data = input,
        Err(reason) => fail_at_schedule(&mut retry, reason, ctx.now),
    }
    add_task(state, retry, delay, ctx, out);
}

/// Whether every task has finished and every top-level node of the definition ended
/// well.
fn is_complete(state: &WorkflowState) -> bool {
    if state.tasks().is_empty() || state.tasks().iter().any(|t| !t.status.is_terminal()) {
        return false;
    }
    state.def.tasks.iter().all(|node| {
        state
            .latest_task_index(&node.task_reference_name)
            .is_some_and(|i| state.tasks()[i].status.is_successful())
    })
}

/// Ends the workflow: sets its status, reason and output, cancels unfinished tasks
/// (terminating their sub-workflows), and queues the follow-up jobs (failure workflow,
/// parent notification).
pub fn end_workflow(
    state: &mut WorkflowState,
    mut end: WorkflowEnd,
    ctx: &EngineContext<'_>,
    out: &mut ChangeSet,
) {
    let now = ctx.now;
    let mut children = Vec::new();
    for index in 0..state.tasks().len() {
        if state.tasks()[index].status.is_terminal() {
            continue;
        }
        if let Some(task) = state.task_mut(index) {
            task.status = TaskStatus::Canceled;
            task.end_time = now;
            task.update_time = now;
            out.queue_removals.push(task.task_id.clone());
            if let Some(child) = &task.sub_workflow_id {
                children.push(child.clone());
            }
        }
    }
    for child in children {
        out.job_adds.push(Job {
            id: ctx.ids.new_id(),
            effect: Effect::TerminateWorkflow {
                reason: Some(format!(
                    "Parent workflow has been terminated with status {}",
                    end.status.as_str()
                )),
            },
            workflow_id: child,
            task_id: None,
            due_at: now,
            lane: JobLane::Work,
        });
    }
    let output = end.output.take().map_or_else(
        || workflow_output(state, ctx),
        |output| checked_output(state, output, ctx),
    );
    let output = match output {
        Ok(output) => output,
        Err(reason) => {
            // As Conductor fails a workflow whose output is too large.
            if end.status == WorkflowStatus::Completed {
                end.status = WorkflowStatus::Failed;
                end.reason = Some(reason);
                end.trigger_failure_workflow = true;
            }
            crate::model::JsonMap::new()
        }
    };
    let (failed_refs, failed_names) = failed_task_names(state);
    let wf = &mut state.workflow;
    wf.status = end.status;
    wf.reason_for_incompletion = end.reason.clone();
    wf.end_time = now;
    wf.update_time = now;
    wf.output = output;
    wf.failed_reference_task_names = failed_refs;
    wf.failed_task_names = failed_names;
    state.touch();
    state.next_check_at = None;
    if end.trigger_failure_workflow
        && end.status != WorkflowStatus::Completed
        && state.def.failure_workflow_name().is_some()
    {
        out.job_adds.push(Job {
            id: ctx.ids.new_id(),
            effect: Effect::FailureWorkflow,
            workflow_id: state.id().to_string(),
            task_id: end.failed_task_id,
            due_at: now,
            lane: JobLane::Work,
        });
    }
    notify_parent(state, ctx, out);
}

/// Reference and definition names of every failed task (retried attempts included).
fn failed_task_names(state: &WorkflowState) -> (Vec<String>, Vec<String>) {
    let mut refs: Vec<String> = Vec::new();
    let mut names: Vec<String> = Vec::new();
    for task in state.tasks() {
        if matches!(
            task.status,
            TaskStatus::Failed | TaskStatus::FailedWithTerminalError
        ) {
            if !refs.contains(&task.reference_task_name) {
                refs.push(task.reference_task_name.clone());
            }
            if !names.contains(&task.task_def_name) {
                names.push(task.task_def_name.clone());
            }
        }
    }
    (refs, names)
}

/// Queues the notification of a parent workflow that this sub-workflow changed status.
pub fn notify_parent(state: &WorkflowState, ctx: &EngineContext<'_>, out: &mut ChangeSet) {
    let wf = &state.workflow;
    if let (Some(parent), Some(parent_task)) = (&wf.parent_workflow_id, &wf.parent_workflow_task_id)
    {
        out.job_adds.push(Job {
            id: ctx.ids.new_id(),
            effect: Effect::SubWorkflowEnded {
                child_id: wf.workflow_id.clone(),
            },
            workflow_id: parent.clone(),
            task_id: Some(parent_task.clone()),
            due_at: ctx.now,
            lane: JobLane::Work,
        });
    }
}

/// The workflow's output: its `outputParameters` resolved, or else the output of the
/// last task. The error is why the workflow cannot have it.
fn workflow_output(
    state: &WorkflowState,
    ctx: &EngineContext<'_>,
) -> Result<crate::model::JsonMap, String> {
    if !state.def.output_parameters.is_empty() {
        let output = expr::resolve_map(
            &state.def.output_parameters,
            &expr_context(state, None, ctx.limits),
        )
        .map_err(|err| match err.bound {
            expr::Bound::Size { at_least, limit } => payload::workflow_reason(
                payload::Excess::AtLeast { size: at_least },
                state.id(),
                limit,
            ),
            _ => format!("The output of the workflow cannot be resolved: {err}"),
        })?;
        return checked_output(state, output, ctx);
    }
    let last = state
        .tasks()
        .iter()
        .rev()
        .find(|t| t.status.is_terminal())
        .map(|t| t.output_data.clone())
        .unwrap_or_default();
    checked_output(state, last, ctx)
}

/// Checks a workflow output against the payload limits.
fn checked_output(
    state: &WorkflowState,
    output: crate::model::JsonMap,
    ctx: &EngineContext<'_>,
) -> Result<crate::model::JsonMap, String> {
    let max = ctx.limits.max_payload_bytes;
    match payload::check(&output, max) {
        Ok(_) => Ok(output),
        Err(excess) => Err(payload::workflow_reason(excess, state.id(), max)),
    }
}

fn check_workflow_timeout(state: &WorkflowState, ctx: &EngineContext<'_>) -> Option<WorkflowEnd> {
    let def = &state.def;
    if def.timeout_seconds <= 0 || def.timeout_policy != WorkflowTimeoutPolicy::TimeOutWf {
        return None;
    }
    let elapsed = ctx.now.saturating_sub(workflow_clock_start(state));
    if elapsed < def.timeout_seconds.saturating_mul(1000) {
        return None;
    }
    Some(WorkflowEnd {
        status: WorkflowStatus::TimedOut,
        reason: Some(format!(
            "Workflow timed out after {} seconds. Timeout configured as {} seconds. Timeout policy configured to TIME_OUT_WF",
            elapsed / 1000,
            def.timeout_seconds
        )),
        output: None,
        trigger_failure_workflow: true,
        failed_task_id: None,
    })
}

/// The workflow timeout counts from the last retry or resume, else from creation.
fn workflow_clock_start(state: &WorkflowState) -> i64 {
    let wf = &state.workflow;
    if wf.last_retried_time > 0 {
        wf.last_retried_time
    } else {
        wf.create_time
    }
}

/// Which timeout a deadline belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TimeoutKind {
    /// `pollTimeoutSeconds`: not polled in time; follows the timeout policy.
    Poll,
    /// `responseTimeoutSeconds`: no word from the worker; always retried.
    Response,
    /// `timeoutSeconds`: running too long; follows the timeout policy.
    Run,
}

fn policy_name(policy: TaskTimeoutPolicy) -> &'static str {
    match policy {
        TaskTimeoutPolicy::Retry => "RETRY",
        TaskTimeoutPolicy::TimeOutWf => "TIME_OUT_WF",
        TaskTimeoutPolicy::AlertOnly => "ALERT_ONLY",
    }
}

/// The deadlines of a task that lead to a state change, with their kind.
fn task_deadlines(task: &crate::model::Task, def: Option<&TaskDef>) -> Vec<(i64, TimeoutKind)> {
    let mut deadlines = Vec::new();
    if task.status.is_terminal() {
        return deadlines;
    }
    if let Some(at) = task.wait_until {
        deadlines.push((at, TimeoutKind::Run));
        return deadlines;
    }
    let Some(def) = def else { return deadlines };
    let kind = TaskKind::of_execution(task);
    // Every number here can come from a definition or a worker's result: the sums
    // saturate (a deadline past the end of time never comes) instead of wrapping.
    let delay = task.start_delay_in_seconds.max(0);
    let callback = task.callback_after_seconds.max(0);
    let alert_only = def.timeout_policy == TaskTimeoutPolicy::AlertOnly;
    // A task its worker handed back (reported in progress, to be called back) is in
    // progress for Conductor: its response timeout runs from the hand-back (or from a
    // reset of its callback), and the poll timeout no longer applies.
    let handed_back = task.status == TaskStatus::Scheduled && task.start_time > 0;
    if kind.is_worker_task()
        && task.status == TaskStatus::Scheduled
        && !handed_back
        && !alert_only
        && let Some(poll) = def.poll_timeout_seconds.filter(|p| *p > 0)
    {
        let after = delay.saturating_add(poll).saturating_add(callback);
        deadlines.push((
            at_seconds_after(task.scheduled_time, after),
            TimeoutKind::Poll,
        ));
    }
    if kind.is_worker_task()
        && (task.status == TaskStatus::InProgress || handed_back)
        && task.response_timeout_seconds > 0
    {
        let after = task.response_timeout_seconds.saturating_add(callback);
        deadlines.push((
            at_seconds_after(task.update_time, after),
            TimeoutKind::Response,
        ));
    }
    if def.timeout_seconds > 0 && task.start_time > 0 && !alert_only {
        let after = delay.saturating_add(def.timeout_seconds);
        deadlines.push((at_seconds_after(task.start_time, after), TimeoutKind::Run));
    }
    deadlines
}

/// Whole seconds from `since` plus a delay to `now`, for timeout reasons.
fn seconds_since(now: i64, since: i64, delay_seconds: i64) -> i64 {
    now.saturating_sub(at_seconds_after(since, delay_seconds)) / 1000
}

/// Times out tasks whose deadlines passed. A `TIME_OUT_WF` timeout ends the workflow.
fn check_task_timeouts(
    state: &mut WorkflowState,
    ctx: &EngineContext<'_>,
    out: &mut ChangeSet,
) -> Option<WorkflowEnd> {
    let now = ctx.now;
    let mut timed_out: Vec<(usize, String)> = Vec::new();
    let mut end = None;
    for (index, task) in state.tasks().iter().enumerate() {
        if task.wait_until.is_some() || task.status.is_terminal() {
            continue; // a WAIT timer completes its task; it is not a timeout
        }
        let node = graph::find_task(&state.def, &task.reference_task_name);
        let Some(def) = node.and_then(|n| ctx.task_def_of(n, task)) else {
            continue;
        };
        let Some((_, kind)) = task_deadlines(task, Some(&def))
            .into_iter()
            .find(|(at, _)| now >= *at)
        else {
            continue;
        };
        let policy = policy_name(def.timeout_policy);
        let reason = match kind {
            TimeoutKind::Poll => format!(
                "Task poll timed out after {} seconds. Poll timeout configured as {} seconds. Timeout policy configured to {policy}",
                seconds_since(now, task.scheduled_time, task.start_delay_in_seconds),
                def.poll_timeout_seconds.unwrap_or(0)
            ),
            TimeoutKind::Response => format!(
                "responseTimeout: {} exceeded for the taskId: {} with Task Definition: {}",
                task.response_timeout_seconds, task.task_id, task.task_def_name
            ),
            TimeoutKind::Run => format!(
                "Task timed out after {} seconds. Timeout configured as {} seconds. Timeout policy configured to {policy}",
                seconds_since(now, task.start_time, task.start_delay_in_seconds),
                def.timeout_seconds
            ),
        };
        if kind != TimeoutKind::Response
            && def.timeout_policy == TaskTimeoutPolicy::TimeOutWf
            && end.is_none()
        {
            end = Some((task.task_id.clone(), reason.clone()));
        }
        timed_out.push((index, reason));
    }
    for (index, reason) in timed_out {
        if let Some(task) = state.task_mut(index) {
            task.status = TaskStatus::TimedOut;
            task.reason_for_incompletion = Some(reason);
            task.end_time = now;
            task.update_time = now;
            out.queue_removals.push(task.task_id.clone());
        }
    }
    let (task_id, reason) = end?;
    if let Some(index) = state.task_index(&task_id) {
        mark_executed(state, index);
    }
    Some(WorkflowEnd {
        status: WorkflowStatus::TimedOut,
        reason: Some(reason),
        output: None,
        trigger_failure_workflow: true,
        failed_task_id: Some(task_id),
    })
}

/// When the sweeper must look at this workflow again.
fn next_check(state: &WorkflowState, ctx: &EngineContext<'_>) -> Option<i64> {
    if state.status() != WorkflowStatus::Running {
        return None;
    }
    let mut next: Option<i64> = None;
    let mut consider = |at: i64| next = Some(next.map_or(at, |n| n.min(at)));
    let def = &state.def;
    if def.timeout_seconds > 0 && def.timeout_policy == WorkflowTimeoutPolicy::TimeOutWf {
        consider(at_seconds_after(
            workflow_clock_start(state),
            def.timeout_seconds,
        ));
    }
    // Ended tasks have no deadline: their nodes are not looked up.
    for task in state.tasks().iter().filter(|t| !t.status.is_terminal()) {
        let node = graph::find_task(def, &task.reference_task_name);
        let task_def = node.and_then(|n| ctx.task_def_of(n, task));
        for (at, _) in task_deadlines(task, task_def.as_deref()) {
            consider(at);
        }
        if let Some(at) = earliest_lease_end(task, state.workflow.create_time, ctx.now) {
            consider(at);
        }
    }
    next
}

/// A worker task waiting in its queue is leased for its response timeout when it is
/// polled, and its workflow must be looked at when that lease ends. A check no later
/// than any such lease end (were the task polled now) is set while it waits, so the
/// claim that leases it finds an earlier check in place and writes none: claims stay
/// off the workflow's row. The check, if it comes, finds nothing due and sets the next.
///
/// Any time after now and within one timeout of it will do. The one chosen is the end
/// of the current period of that length counted from the workflow's creation, so the
/// steps of a workflow that runs for less than a period keep the same check time, and
/// rewriting its row changes no indexed column (PostgreSQL then updates it in place).
///
/// Only while the task has waited less than one timeout: a task nobody polls (its
/// workers are down) costs its workflow one such check, not one every period, and
/// the claim that finally leases it writes the check itself.
fn earliest_lease_end(task: &crate::model::Task, created: i64, now: i64) -> Option<i64> {
    if task.status != TaskStatus::Scheduled
        || task.response_timeout_seconds <= 0
        || !TaskKind::of_execution(task).is_worker_task()
        || now >= at_seconds_after(task.scheduled_time, task.response_timeout_seconds)
    {
        return None;
    }
    let period = task.response_timeout_seconds.saturating_mul(1000);
    // A creation time after now (another node's clock) counts from now.
    let base = created.max(0).min(now);
    let periods = now.saturating_sub(base) / period + 1;
    Some(base.saturating_add(periods.saturating_mul(period)))
}

/// Skipped or rerun tasks may leave a JSON `null` input; keep the shape of a map.
pub fn as_map(value: Value) -> crate::model::JsonMap {
    match value {
        Value::Object(map) => map,
        _ => crate::model::JsonMap::new(),
    }
}
