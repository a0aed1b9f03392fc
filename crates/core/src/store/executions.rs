//! Workflow and task executions: units of work, queues, jobs, the archive and reads.

use std::collections::HashMap;

use async_trait::async_trait;
use serde_json::Value;

use std::sync::Arc;

use super::query::{TaskSearch, WorkflowSearch};
use super::{ClaimLimits, StoreError, StoreResult};
use crate::engine::state::WorkflowState;
use crate::model::{PollData, Task, TaskExecLog, Workflow, WorkflowStatus};

/// A message that makes a task pollable from a named queue.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueMessage {
    /// `taskType` or `domain:taskType`.
    pub queue_name: String,
    pub task_id: String,
    pub workflow_id: String,
    /// Higher first.
    pub priority: i32,
    /// Not pollable before this time (epoch ms).
    pub visible_at: i64,
}

/// Work the server does on its own, durably queued with the state change that needs
/// it. Whom each kind of effect acts as, and what it needs of that principal, is
/// declared in one place (`exec::effects`); the principal is looked up when the job
/// runs, never stored, so a revoked grant or a deleted user stops delegated work too.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub id: String,
    /// The workflow the job acts on.
    pub workflow_id: String,
    pub task_id: Option<String>,
    /// What the job does.
    pub effect: Effect,
    /// Not run before this time (epoch ms).
    pub due_at: i64,
    /// Which claims take it.
    pub lane: JobLane,
}

/// Which claims take a job. Script evaluations (`INLINE`, `JSON_JQ_TRANSFORM`, a
/// switch or decision whose case a script picks, a loop's condition) wait for one of
/// a few slots; in a lane of their own they are claimed only when a slot is free, so
/// a flood of slow scripts never holds the slots of HTTP calls and sub-workflow
/// starts, and never outlives its lease while waiting. The lane is a column of its
/// own, not a kind: a node of an earlier version claims every job and runs a script
/// job as it always did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobLane {
    /// Every job but script evaluations.
    Work,
    /// Script evaluations.
    Scripts,
}

impl JobLane {
    /// The lane's stored number.
    pub fn number(self) -> i16 {
        match self {
            JobLane::Work => 0,
            JobLane::Scripts => 1,
        }
    }
}

/// What a [`Job`] does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Run the asynchronous system task `task_id` (an HTTP call, `UPDATE_SECRET`,
    /// starting a `SUB_WORKFLOW`'s child, a script, a loop's condition).
    SystemTask,
    /// Tell the workflow that its sub-workflow ended.
    SubWorkflowEnded { child_id: String },
    /// Start the failure workflow of the workflow, which has failed.
    FailureWorkflow,
    /// Terminate the workflow (a sub-workflow whose parent ended).
    TerminateWorkflow { reason: Option<String> },
    /// Hand the event the `EVENT` task `task_id` published (or, `incoming`, the
    /// event from outside whose message id is the job's workflow id) to the active
    /// handlers of `event` whose condition holds.
    EventDelivery { event: String, incoming: bool },
    /// Carry out action `action` of handler `handler` for the event the `EVENT`
    /// task `task_id` published (or, `incoming`, the event from outside whose
    /// message id is the job's workflow id).
    EventAction {
        handler: String,
        action: usize,
        event: String,
        incoming: bool,
        /// The handler's revision when the event was delivered (see
        /// `EventHandler::revision`): a handler changed since does not act. None
        /// for jobs written before revisions were kept.
        revision: Option<String>,
    },
}

impl Effect {
    /// The stored name of the effect's kind.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Effect::SystemTask => "SYSTEM_TASK",
            Effect::SubWorkflowEnded { .. } => "SUB_WORKFLOW_ENDED",
            Effect::FailureWorkflow => "FAILURE_WORKFLOW",
            Effect::TerminateWorkflow { .. } => "TERMINATE_WORKFLOW",
            // Kinds of their own for events from outside: a node from before they
            // were served leaves them to newer nodes instead of dropping them.
            Effect::EventDelivery {
                incoming: false, ..
            } => "EVENT_DELIVERY",
            Effect::EventDelivery { incoming: true, .. } => "INCOMING_EVENT_DELIVERY",
            Effect::EventAction {
                incoming: false, ..
            } => "EVENT_ACTION",
            Effect::EventAction { incoming: true, .. } => "INCOMING_EVENT_ACTION",
        }
    }

    /// The stored parameters of the effect.
    pub fn payload(&self) -> Value {
        match self {
            Effect::SystemTask | Effect::FailureWorkflow => Value::Null,
            Effect::SubWorkflowEnded { child_id } => {
                serde_json::json!({ "subWorkflowId": child_id })
            }
            Effect::TerminateWorkflow { reason } => serde_json::json!({ "reason": reason }),
            Effect::EventDelivery { event, .. } => serde_json::json!({ "event": event }),
            Effect::EventAction {
                handler,
                action,
                event,
                revision,
                ..
            } => serde_json::json!({
                "handler": handler, "action": action, "event": event, "revision": revision
            }),
        }
    }

    /// The effect a stored kind name and parameters describe; None when they
    /// describe none (the row is then dropped, never run).
    pub fn decode(kind: &str, payload: &Value) -> Option<Effect> {
        let text = |key: &str| payload.get(key).and_then(Value::as_str).map(str::to_string);
        match kind {
            "SYSTEM_TASK" => Some(Effect::SystemTask),
            "SUB_WORKFLOW_ENDED" => Some(Effect::SubWorkflowEnded {
                child_id: text("subWorkflowId")?,
            }),
            "FAILURE_WORKFLOW" => Some(Effect::FailureWorkflow),
            "TERMINATE_WORKFLOW" => Some(Effect::TerminateWorkflow {
                reason: text("reason"),
            }),
            "EVENT_DELIVERY" | "INCOMING_EVENT_DELIVERY" => Some(Effect::EventDelivery {
                event: text("event")?,
                incoming: kind.starts_with("INCOMING"),
            }),
            "EVENT_ACTION" | "INCOMING_EVENT_ACTION" => Some(Effect::EventAction {
                handler: text("handler")?,
                action: usize::try_from(payload.get("action")?.as_u64()?).ok()?,
                event: text("event")?,
                incoming: kind.starts_with("INCOMING"),
                revision: text("revision"),
            }),
            _ => None,
        }
    }
}

/// Everything a unit of work writes besides the locked workflow's own changes.
#[derive(Debug, Default)]
pub struct ChangeSet {
    /// Workflows created by this unit (a start, a sub-workflow, a failure workflow).
    pub new_workflows: Vec<WorkflowState>,
    /// Queue messages to add (replacing any message for the same task).
    pub queue_pushes: Vec<QueueMessage>,
    /// Task ids whose queue messages are removed.
    pub queue_removals: Vec<String>,
    /// Jobs to add.
    pub job_adds: Vec<Job>,
    /// Job ids to delete (the job is done).
    pub job_deletes: Vec<String>,
    /// Task log lines to append.
    pub task_logs: Vec<TaskExecLog>,
    /// Workflows to delete with their tasks, queue messages and logs.
    pub workflow_deletes: Vec<String>,
    /// Ended workflows moved to the archive (their live rows go through
    /// `workflow_deletes` in the same unit).
    pub archives: Vec<ArchivedWorkflow>,
    /// Archived workflows taken out of the archive (restored as new workflows in the
    /// same unit).
    pub unarchives: Vec<String>,
    /// Due times of schedules acted on (see `store::schedules`).
    pub schedule_runs: Vec<super::ScheduleRun>,
}

/// An ended workflow as the archive keeps it: the workflow with its tasks, already
/// redacted, and the definition revision it ran.
#[derive(Debug, Clone, PartialEq)]
pub struct ArchivedWorkflow {
    pub workflow: Workflow,
    pub def_revision: String,
    /// The id of the key its `_masked` values are sealed with; None when it holds
    /// none.
    pub sealed_key: Option<String>,
    /// Whose authority the run carried besides its starter's, which a restart from
    /// the archive carries on.
    pub authority: crate::engine::state::Authority,
}

impl ChangeSet {
    /// Whether the change set writes nothing.
    pub fn is_empty(&self) -> bool {
        self.new_workflows.is_empty()
            && self.queue_pushes.is_empty()
            && self.queue_removals.is_empty()
            && self.job_adds.is_empty()
            && self.job_deletes.is_empty()
            && self.task_logs.is_empty()
            && self.workflow_deletes.is_empty()
            && self.archives.is_empty()
            && self.unarchives.is_empty()
            && self.schedule_runs.is_empty()
    }
}

/// The working area of a unit of work.
#[derive(Debug, Default)]
pub struct Txn {
    /// The locked workflow, when the unit named one and it exists.
    pub state: Option<WorkflowState>,
    /// Further changes to write with it.
    pub changes: ChangeSet,
    /// A claim to make in the unit's own transaction after its writes, if the unit
    /// succeeds; the tasks come back in [`Committed::claimed`].
    pub then_claim: Option<ThenClaim>,
}

/// A claim made in a unit's transaction: `update-v2` hands a worker its next task
/// with the same commit that records the result of its last one.
#[derive(Debug)]
pub struct ThenClaim {
    pub claim: Claim,
    pub on_claim: OnClaim,
}

/// The closure of a unit of work. It must not block: it runs while the workflow is
/// locked (on SQLite, on the single writer thread).
pub type Work = Box<dyn FnOnce(&mut Txn) -> Result<(), Refusal> + Send>;

/// What a unit of work's closure refuses with: the caller's own error, which `run`
/// hands back untouched.
pub type Refusal = Box<dyn std::error::Error + Send + Sync>;

/// Why a unit of work did not commit.
#[derive(Debug, thiserror::Error)]
pub enum UnitError {
    /// Its closure refused; nothing was written.
    #[error("{0}")]
    Refused(Refusal),
    /// The store could not commit it; nothing was written.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A change applied atomically, and acknowledged only after it is committed.
pub struct UnitOfWork {
    /// The workflow to load and lock for the closure.
    pub lock: Option<String>,
    /// The change itself. An error leaves the store untouched.
    pub work: Work,
}

/// What a finished unit of work wrote, so the caller can wake pollers and watchers.
#[derive(Debug, Default, Clone)]
pub struct Committed {
    /// Queue names that received messages visible now or soon.
    pub queues: Vec<(String, i64)>,
    /// Workflows whose state changed, with their status after the change.
    pub workflows: Vec<(String, WorkflowStatus)>,
    /// Whether jobs were added.
    pub jobs_added: bool,
    /// The earliest `next_check_at` written, if any.
    pub earliest_check: Option<i64>,
    /// The tasks the unit's [`Txn::then_claim`] claimed.
    pub claimed: Vec<Task>,
}

/// A poll: claim up to `count` visible messages of a queue for a worker.
#[derive(Debug, Clone)]
pub struct Claim {
    pub queue_name: String,
    pub count: usize,
    pub now: i64,
    pub worker_id: String,
    /// The task type's limits on hand-outs, when its definition sets any.
    pub limits: Option<ClaimLimits>,
}

/// How much later a claim tries again a queued task whose stored row it cannot read
/// (say, sealed with a key this node was not given): its message stays, so nothing is
/// lost once the row can be read, and the tasks behind it are handed out meanwhile.
pub const UNREADABLE_RETRY_MS: i64 = 60_000;

/// How a claimed task is changed (marked in progress for its worker). It returns when
/// the task's workflow must be checked next (its lease ends), which the store merges
/// into the workflow's next check time.
pub type OnClaim = fn(&mut Task, &Claim) -> Option<i64>;

/// Workflow and task executions, their queues, jobs and logs.
#[async_trait]
pub trait ExecutionStore: Send + Sync {
    /// Runs a unit of work atomically; see the module documentation. When the work
    /// sets [`Txn::then_claim`], the claim is made in the same transaction after the
    /// unit's writes (it sees them), exactly as [`ExecutionStore::claim`] would make
    /// it, and commits with them.
    async fn run(&self, unit: UnitOfWork) -> Result<Committed, UnitError>;

    /// Claims up to `count` visible messages of a queue: each claimed task is changed
    /// by `on_claim` (marked in progress), its message removed, and the tasks returned.
    /// A task is never handed to two claims.
    async fn claim(&self, claim: Claim, on_claim: OnClaim) -> StoreResult<Vec<Task>>;

    /// Claims due jobs of a lane, making each invisible for `lease_ms`; a job comes
    /// back if it is not deleted before its lease ends.
    async fn claim_jobs(
        &self,
        now: i64,
        limit: usize,
        lease_ms: i64,
        lane: JobLane,
    ) -> StoreResult<Vec<Job>>;
    /// When the next job of a lane is due (or its lease ends), if any.
    async fn next_job_due(&self, lane: JobLane) -> StoreResult<Option<i64>>;

    /// A workflow with its tasks, as committed.
    async fn get_workflow(&self, id: &str) -> StoreResult<Option<WorkflowState>>;
    /// A workflow record without tasks.
    async fn get_workflow_record(&self, id: &str) -> StoreResult<Option<Workflow>>;
    /// One task.
    async fn get_task(&self, id: &str) -> StoreResult<Option<Task>>;

    /// Workflows whose `next_check_at` has passed.
    async fn due_workflows(&self, now: i64, limit: usize) -> StoreResult<Vec<String>>;
    /// The earliest `next_check_at` of any workflow.
    async fn next_check_due(&self) -> StoreResult<Option<i64>>;

    /// Number of visible-or-delayed messages per queue name; all queues when `names` is empty.
    async fn queue_sizes(&self, names: &[String]) -> StoreResult<HashMap<String, i64>>;
    /// Number of workflows per status.
    async fn workflow_counts(&self) -> StoreResult<HashMap<WorkflowStatus, i64>>;

    /// Searches workflows, live and archived; returns the total and one page of
    /// records (tasks may be left out).
    async fn search_workflows(&self, search: &WorkflowSearch) -> StoreResult<(i64, Vec<Workflow>)>;
    /// Searches tasks; returns the total and one page.
    async fn search_tasks(&self, search: &TaskSearch) -> StoreResult<(i64, Vec<Task>)>;
    /// Ids of workflows of a name with a correlation id, newest first.
    async fn workflows_by_correlation(
        &self,
        name: &str,
        correlation_id: &str,
        include_closed: bool,
    ) -> StoreResult<Vec<String>>;
    /// Ids of running workflows of a name, optionally one version and a start-time window.
    async fn running_workflows(
        &self,
        name: &str,
        version: Option<i32>,
        start_after: Option<i64>,
        start_before: Option<i64>,
    ) -> StoreResult<Vec<String>>;
    /// The workflow started with an idempotency key, if any.
    async fn workflow_by_idempotency_key(
        &self,
        name: &str,
        key: &str,
    ) -> StoreResult<Option<(String, WorkflowStatus)>>;
    /// The sub-workflow started for a parent task, if any.
    async fn child_of_task(&self, parent_task_id: &str) -> StoreResult<Option<String>>;
    /// The Operate sequence numbers of workflows, live or archived (see
    /// `docs/adr/0006-operate-keys.md`), as (id, number); ids not stored are left out.
    async fn operate_seqs(&self, ids: Vec<String>) -> StoreResult<Vec<(String, i64)>>;
    /// The workflow, live or archived, with an Operate sequence number.
    async fn workflow_of_operate_seq(&self, seq: i64) -> StoreResult<Option<String>>;
    /// A search of the variables index (`store::variables`) of live and archived
    /// workflows: the total and one page of rows, ordered by the search's sort,
    /// then the Operate number, the key's low bits and the name.
    async fn search_variables(
        &self,
        search: &super::query::VariableSearch,
    ) -> StoreResult<(i64, Vec<super::variables::VariableRow>)>;

    /// Log lines of a task, oldest first.
    async fn task_logs(&self, task_id: &str) -> StoreResult<Vec<TaskExecLog>>;

    /// Ended workflows whose end is before `ended_before`, oldest first.
    async fn archive_candidates(&self, ended_before: i64, limit: usize)
    -> StoreResult<Vec<String>>;
    /// An archived workflow (with its tasks) and its definition revision.
    async fn get_archived(&self, id: &str) -> StoreResult<Option<ArchivedWorkflow>>;
    /// Archived workflows holding values sealed with a key other than `current`, in
    /// id order after `after`.
    async fn archived_sealed_stale(
        &self,
        current: &str,
        after: &str,
        limit: usize,
    ) -> StoreResult<Vec<String>>;
    /// The ids of the keys live workflow rows may hold values sealed with (each key
    /// is recorded when it first seals a row, and forgotten once no row uses it).
    async fn payload_keys(&self) -> StoreResult<Vec<String>>;
    /// Forgets every recorded payload key but `current` (after a re-seal left no
    /// row sealed with them).
    async fn forget_payload_keys_except(&self, current: &str) -> StoreResult<()>;
    /// The keys archived workflows are sealed with (`unknown` for rows archived
    /// before keys were recorded).
    async fn archived_seal_keys(&self) -> StoreResult<Vec<String>>;
    /// Live workflows with a row (the workflow's or a task's) holding values sealed
    /// at rest (`podium_core::service::at_rest`) with a key other than `current`.
    async fn live_sealed_stale(&self, current: &str) -> StoreResult<Vec<String>>;
    /// Replaces an archived workflow re-sealed after a key rotation, only if it is
    /// still sealed with `from_key`; false when it was not (restored or re-sealed
    /// meanwhile).
    async fn reseal_archived(
        &self,
        archived: ArchivedWorkflow,
        from_key: &str,
    ) -> StoreResult<bool>;

    /// Records that a worker polled a queue.
    async fn record_poll(&self, poll: PollData) -> StoreResult<()>;
    /// Poll records, for one task type or all.
    async fn poll_data(&self, task_type: Option<&str>) -> StoreResult<Vec<PollData>>;
}

/// The rows persisting a workflow's state writes, the same for every store.
pub struct RowPlan<'a> {
    /// Whether the workflow's row is inserted (a new workflow) or updated.
    pub new: bool,
    /// The values the run masks, which are sealed wherever they went.
    pub masked: Vec<Arc<str>>,
    /// The tasks to write, each with whether its row is inserted.
    pub tasks: Vec<(&'a Task, bool)>,
    /// Tasks a restart or rerun dropped: their rows and queue messages go.
    pub removed: &'a [String],
    /// The workflow's rows in the variables index, when they are (re)written: the
    /// store replaces every row of the workflow's Operate number with these.
    pub variables: Option<Vec<super::variables::IndexedVariable>>,
}

/// Whether persisting a state writes anything, and if so the values its run masks
/// (recorded on the state), for [`RowPlan::of`].
pub fn rows_to_write(state: &mut WorkflowState) -> Option<Vec<Arc<str>>> {
    if !state.is_dirty() && !state.is_new() {
        return None;
    }
    Some(crate::engine::masked::record_masked_values(state))
}

impl<'a> RowPlan<'a> {
    /// What persisting a state writes, given [`rows_to_write`]'s masked values. They
    /// can grow (the workflow's output is masked too), so a run that masks anything
    /// rewrites every task: a value must not stay plain in a task written before it
    /// was known. After writing, call [`RowPlan::written`].
    pub fn of(state: &'a WorkflowState, masked: Vec<Arc<str>>) -> RowPlan<'a> {
        let new = state.is_new();
        let tasks = if new {
            state.tasks().iter().map(|t| (t, true)).collect()
        } else if masked.is_empty() {
            state
                .dirty_tasks()
                .map(|t| (t, state.is_unsaved(&t.task_id)))
                .collect()
        } else {
            state
                .tasks()
                .iter()
                .map(|t| (t, state.is_unsaved(&t.task_id)))
                .collect()
        };
        // Masked values can grow without the variables changing, and a variable
        // may hold one: the rows are rewritten when either changed.
        let variables = (new || state.variables_changed() || state.masking_changed())
            .then(|| super::variables::rows(&state.workflow.variables, &masked));
        RowPlan {
            new,
            masked,
            tasks,
            removed: if new { &[] } else { state.removed_task_ids() },
            variables,
        }
    }
}

impl RowPlan<'_> {
    /// Records a written state in what the unit committed, and marks it clean.
    pub fn written(state: &mut WorkflowState, committed: &mut Committed) {
        committed
            .workflows
            .push((state.id().to_string(), state.status()));
        if let Some(at) = state.next_check_at {
            committed.earliest_check = Some(committed.earliest_check.map_or(at, |e| e.min(at)));
        }
        state.mark_clean();
    }
}
