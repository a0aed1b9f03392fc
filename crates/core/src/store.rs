//! The store traits: everything Podium persists goes through these, split by concern.
//!
//! Writes are units of work, never open transactions: a [`UnitOfWork`] names the
//! workflow it changes, and its closure runs against that workflow's current state
//! with exclusive access; the store then writes the state's changes and the
//! [`ChangeSet`] (new workflows, queue messages, jobs) atomically and answers only
//! after the commit. Reads may run concurrently and see only committed data.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;

use crate::engine::state::WorkflowState;
use crate::error::CoreError;
use crate::model::{
    PollData, Tag, Task, TaskDef, TaskExecLog, Workflow, WorkflowDef, WorkflowStatus,
};
use crate::security::model::{
    AccessKey, Application, Grant, Group, Ownership, Subject, Target, User,
};
use crate::service::search::{TaskSearch, WorkflowSearch};

/// Why the store could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule was violated; the message is safe to show.
    #[error("{0}")]
    Conflict(String),
    /// The store is shutting down or unreachable.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// Stored data could not be decoded.
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
    /// The database reported an error.
    #[error("database error: {0}")]
    Backend(String),
}

/// Result of a store call.
pub type StoreResult<T> = Result<T, StoreError>;

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
}

/// What a [`Job`] does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Run the asynchronous system task `task_id` (an HTTP call, `UPDATE_SECRET`, or
    /// starting a `SUB_WORKFLOW`'s child).
    SystemTask,
    /// Tell the workflow that its sub-workflow ended.
    SubWorkflowEnded { child_id: String },
    /// Start the failure workflow of the workflow, which has failed.
    FailureWorkflow,
    /// Terminate the workflow (a sub-workflow whose parent ended).
    TerminateWorkflow { reason: Option<String> },
}

impl Effect {
    /// The stored name of the effect's kind.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Effect::SystemTask => "SYSTEM_TASK",
            Effect::SubWorkflowEnded { .. } => "SUB_WORKFLOW_ENDED",
            Effect::FailureWorkflow => "FAILURE_WORKFLOW",
            Effect::TerminateWorkflow { .. } => "TERMINATE_WORKFLOW",
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
}

/// Seals and opens what a store keeps for live workflows and tasks that views show
/// as `***` — the values of `_secrets` and `_masked` maps, and any text or number
/// holding a value the run masks (`maskedFields`) — so that a database file, a
/// backup, a dump or a free-text search never finds them in plain text. The store
/// calls it when it encodes and decodes; the engine and workers see plain values.
pub trait PayloadSealer: Send + Sync {
    /// Seals, in place, every `_secrets` and `_masked` value of a workflow's JSON (or
    /// one of its tasks'), and every text or number holding one of `masked`;
    /// returns the id of the key used, if anything was sealed.
    fn seal(
        &self,
        workflow_id: &str,
        json: &mut serde_json::Value,
        masked: &[Arc<str>],
    ) -> StoreResult<Option<String>>;
    /// Opens what [`PayloadSealer::seal`] sealed; returns the texts that were sealed
    /// for holding a masked value, so a row rewritten without its run at hand (a
    /// claim) seals them again.
    fn open(&self, workflow_id: &str, json: &mut serde_json::Value) -> StoreResult<Vec<Arc<str>>>;
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
    }
}

/// The working area of a unit of work.
#[derive(Debug, Default)]
pub struct Txn {
    /// The locked workflow, when the unit named one and it exists.
    pub state: Option<WorkflowState>,
    /// Further changes to write with it.
    pub changes: ChangeSet,
}

/// The closure of a unit of work. It must not block: it runs while the workflow is
/// locked (on SQLite, on the single writer thread).
pub type Work = Box<dyn FnOnce(&mut Txn) -> Result<(), CoreError> + Send>;

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
}

/// A poll: claim up to `count` visible messages of a queue for a worker.
#[derive(Debug, Clone)]
pub struct Claim {
    pub queue_name: String,
    pub count: usize,
    pub now: i64,
    pub worker_id: String,
}

/// How a claimed task is changed (marked in progress for its worker). It returns when
/// the task's workflow must be checked next (its lease ends), which the store merges
/// into the workflow's next check time.
pub type OnClaim = fn(&mut Task, &Claim) -> Option<i64>;

/// Definitions: task definitions, workflow definitions by version, and revisions.
#[async_trait]
pub trait MetadataStore: Send + Sync {
    /// Inserts or replaces task definitions.
    async fn put_task_defs(&self, defs: &[TaskDef]) -> StoreResult<()>;
    /// One task definition.
    async fn get_task_def(&self, name: &str) -> StoreResult<Option<TaskDef>>;
    /// Every task definition, by name.
    async fn list_task_defs(&self) -> StoreResult<Vec<TaskDef>>;
    /// Deletes a task definition; false when there was none.
    async fn delete_task_def(&self, name: &str) -> StoreResult<bool>;

    /// Stores a workflow definition version under a new revision id. With
    /// `overwrite` false an existing (name, version) is a [`StoreError::Conflict`].
    async fn put_workflow_def(
        &self,
        def: &WorkflowDef,
        revision: &str,
        overwrite: bool,
    ) -> StoreResult<()>;
    /// A version of a workflow definition (latest when `version` is None) and its revision.
    async fn get_workflow_def(
        &self,
        name: &str,
        version: Option<i32>,
    ) -> StoreResult<Option<(WorkflowDef, String)>>;
    /// Every version of every workflow definition.
    async fn list_workflow_defs(&self) -> StoreResult<Vec<WorkflowDef>>;
    /// Deletes one version; false when there was none.
    async fn delete_workflow_def(&self, name: &str, version: i32) -> StoreResult<bool>;
    /// A definition by revision id (what a running workflow executes).
    async fn get_def_revision(&self, revision: &str) -> StoreResult<Option<Arc<WorkflowDef>>>;
    /// Stores an inline definition (dynamic workflow) under a revision id.
    async fn put_def_revision(&self, revision: &str, def: &WorkflowDef) -> StoreResult<()>;
}

/// Tags on any resource, addressed by a resource type and name.
#[async_trait]
pub trait TagStore: Send + Sync {
    /// The tags of a resource.
    async fn get_tags(&self, resource_type: &str, name: &str) -> StoreResult<Vec<Tag>>;
    /// Replaces the tags of a resource.
    async fn set_tags(&self, resource_type: &str, name: &str, tags: &[Tag]) -> StoreResult<()>;
    /// Adds tags (keeping existing ones).
    async fn add_tags(&self, resource_type: &str, name: &str, tags: &[Tag]) -> StoreResult<()>;
    /// Removes tags matching key and value.
    async fn remove_tags(&self, resource_type: &str, name: &str, tags: &[Tag]) -> StoreResult<()>;
    /// Every tag of every resource of a type, as (name, tag).
    async fn all_tags(&self, resource_type: &str) -> StoreResult<Vec<(String, Tag)>>;
}

/// Everything access control keeps, as loaded at start-up.
#[derive(Debug, Default, Clone)]
pub struct SecurityData {
    pub applications: Vec<Application>,
    pub keys: Vec<AccessKey>,
    pub users: Vec<User>,
    pub groups: Vec<Group>,
    pub grants: Vec<Grant>,
    pub owners: Vec<Ownership>,
}

/// One change to access-control data. A list of them is applied atomically.
#[derive(Debug, Clone)]
pub enum SecurityOp {
    PutApplication(Application),
    DeleteApplication(String),
    PutKey(AccessKey),
    DeleteKey(String),
    PutUser(User),
    DeleteUser(String),
    PutGroup(Group),
    DeleteGroup(String),
    /// Sets a subject's accesses on a target (replacing what it held there).
    PutGrant(Grant),
    DeleteGrant {
        subject: Subject,
        target: Target,
    },
    PutOwner(Ownership),
    DeleteOwner(Target),
}

/// Applications, access keys, users, groups, grants and owners. The data is small
/// and read whole at start-up into the in-memory directory; every change is written
/// here first.
#[async_trait]
pub trait SecurityStore: Send + Sync {
    /// Everything, for the directory.
    async fn load_security(&self) -> StoreResult<SecurityData>;
    /// Applies the changes in one transaction.
    async fn apply_security(&self, ops: Vec<SecurityOp>) -> StoreResult<()>;
    /// Records when access keys were last used, as (key id, time).
    async fn record_key_use(&self, uses: Vec<(String, i64)>) -> StoreResult<()>;
}

/// What a stored value is: a secret (masked, never shown but to its readers) or an
/// environment variable (plain configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SecretKind {
    Secret,
    Env,
}

impl SecretKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            SecretKind::Secret => "SECRET",
            SecretKind::Env => "ENV",
        }
    }

    /// Parses a stored name.
    pub fn parse(text: &str) -> Option<SecretKind> {
        match text {
            "SECRET" => Some(SecretKind::Secret),
            "ENV" => Some(SecretKind::Env),
            _ => None,
        }
    }
}

/// A secret or environment variable as stored: its value sealed, never plain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretRecord {
    pub kind: SecretKind,
    pub name: String,
    /// The id of the master key that sealed the value.
    pub key_id: String,
    /// The sealed value.
    pub sealed: Vec<u8>,
    pub created_by: String,
    pub created_at: i64,
    pub updated_by: String,
    pub updated_at: i64,
}

/// One read of a secret's value through the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretRead {
    pub kind: SecretKind,
    pub name: String,
    /// Who read it (a principal id).
    pub principal: String,
    /// When (epoch ms).
    pub at: i64,
}

/// Secrets and environment variables, sealed, and the record of who read which.
/// The data is small and read whole at start-up; every change is written here first.
#[async_trait]
pub trait SecretStore: Send + Sync {
    /// Every secret and environment variable.
    async fn load_secrets(&self) -> StoreResult<Vec<SecretRecord>>;
    /// Inserts or replaces one.
    async fn put_secret(&self, record: SecretRecord) -> StoreResult<()>;
    /// Deletes one; false when there was none.
    async fn delete_secret(&self, kind: SecretKind, name: &str) -> StoreResult<bool>;
    /// Replaces sealed values after a key rotation: each record is written only if
    /// its stored value is still sealed under `from_key`, so a concurrent update is
    /// never overwritten. Returns how many were replaced.
    async fn reseal_secrets(
        &self,
        records: Vec<SecretRecord>,
        from_key: &str,
    ) -> StoreResult<usize>;
    /// Records reads of values.
    async fn record_secret_reads(&self, reads: Vec<SecretRead>) -> StoreResult<()>;
    /// The latest reads of one secret (or of all of a kind), newest first.
    async fn secret_reads(
        &self,
        kind: SecretKind,
        name: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<SecretRead>>;
}

/// Workflow and task executions, their queues, jobs and logs.
#[async_trait]
pub trait ExecutionStore: Send + Sync {
    /// Runs a unit of work atomically; see the module documentation.
    async fn run(&self, unit: UnitOfWork) -> Result<Committed, CoreError>;

    /// Claims up to `count` visible messages of a queue: each claimed task is changed
    /// by `on_claim` (marked in progress), its message removed, and the tasks returned.
    /// A task is never handed to two claims.
    async fn claim(&self, claim: Claim, on_claim: OnClaim) -> StoreResult<Vec<Task>>;

    /// Claims due jobs, making each invisible for `lease_ms`; a job comes back if it is
    /// not deleted before its lease ends.
    async fn claim_jobs(&self, now: i64, limit: usize, lease_ms: i64) -> StoreResult<Vec<Job>>;
    /// When the next job is due, if any.
    async fn next_job_due(&self) -> StoreResult<Option<i64>>;

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

/// The store a server runs on: one value holding every concern.
#[derive(Clone)]
pub struct Stores {
    pub metadata: Arc<dyn MetadataStore>,
    pub tags: Arc<dyn TagStore>,
    pub execution: Arc<dyn ExecutionStore>,
    pub security: Arc<dyn SecurityStore>,
    pub secrets: Arc<dyn SecretStore>,
}
