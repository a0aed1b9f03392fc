//! Workflow schedules and the record of their runs.
//!
//! A schedule's due time runs once, whatever the nodes and restarts: the unit that
//! starts its workflow also writes the run's record ([`ScheduleRun`]), which is
//! unique per schedule and due time, so a second unit for the same due time fails
//! as a whole (its workflow is not created) with a conflict.

use async_trait::async_trait;

use super::StoreResult;
use crate::model::{ScheduleExecution, ScheduleExecutionState, WorkflowSchedule};

/// A schedule as stored, with when it is due next: none while paused, or once its
/// expression matches no more times.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredSchedule {
    pub schedule: WorkflowSchedule,
    pub next_run_at: Option<i64>,
}

/// One due time of a schedule, acted on in a unit of work.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleRun {
    /// The run's record (its `scheduled_time` is the due time).
    pub execution: ScheduleExecution,
    /// The due time the stored schedule must still have for it to move on: a
    /// schedule saved meanwhile keeps its own next time.
    pub due: i64,
    /// When the schedule is due next.
    pub next_run_at: Option<i64>,
    /// The schedule as it is kept from now on, when the run changes it (paused
    /// because its principal may no longer start the workflow).
    pub schedule: Option<WorkflowSchedule>,
}

/// The order of a search of runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RunOrder {
    #[default]
    ScheduledTime,
    ExecutionTime,
    ScheduleName,
    WorkflowName,
    State,
}

impl RunOrder {
    /// The `schedule_run` column it sorts by (the same in every store).
    pub fn column(self) -> &'static str {
        match self {
            RunOrder::ScheduledTime => "scheduled_time",
            RunOrder::ExecutionTime => "execution_time",
            RunOrder::ScheduleName => "schedule_name",
            RunOrder::WorkflowName => "workflow_name",
            RunOrder::State => "state",
        }
    }
}

/// Which runs a search answers, and in which order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RunSearch {
    /// Only runs of these schedules; none: of every schedule.
    pub schedule_names: Option<Vec<String>>,
    /// Only runs in these states; empty: any.
    pub states: Vec<ScheduleExecutionState>,
    /// Only runs of this workflow.
    pub workflow_name: Option<String>,
    /// Only this run.
    pub execution_id: Option<String>,
    /// Only runs due after this time.
    pub scheduled_after: Option<i64>,
    /// Only runs due before this time.
    pub scheduled_before: Option<i64>,
    pub order: RunOrder,
    pub ascending: bool,
    pub start: usize,
    pub size: usize,
}

/// Where schedules and their runs are kept.
#[async_trait]
pub trait ScheduleStore: Send + Sync {
    /// Replaces the schedule of its name; false (and nothing written) when there
    /// is none, so a change racing a deletion never brings it back.
    async fn put_schedule(&self, stored: StoredSchedule) -> StoreResult<bool>;
    /// Stores a new schedule; false (and nothing written) when its name is taken,
    /// so two creations racing for one name cannot both succeed.
    async fn insert_schedule(&self, stored: StoredSchedule) -> StoreResult<bool>;
    /// The schedule of this name.
    async fn schedule(&self, name: &str) -> StoreResult<Option<StoredSchedule>>;
    /// Every schedule, or those starting one workflow, by name. A stored schedule
    /// that cannot be read is left out (and logged), here and in the due ones.
    async fn list_schedules(&self, workflow_name: Option<&str>)
    -> StoreResult<Vec<StoredSchedule>>;
    /// Deletes a schedule and the record of its runs; whether there was one.
    async fn delete_schedule(&self, name: &str) -> StoreResult<bool>;
    /// Up to `limit` schedules due at `now`, the earliest first.
    async fn due_schedules(&self, now: i64, limit: usize) -> StoreResult<Vec<StoredSchedule>>;
    /// The runs a search selects (a page of them) and how many it selects in all.
    async fn search_schedule_runs(
        &self,
        search: &RunSearch,
    ) -> StoreResult<(u64, Vec<ScheduleExecution>)>;
    /// Deletes the records of runs due before `before`; how many.
    async fn prune_schedule_runs(&self, before: i64) -> StoreResult<u64>;
    /// Moves a schedule still due at `due` on to `next` (a due time whose run was
    /// recorded before); whether it was still due then.
    async fn move_schedule_on(&self, name: &str, due: i64, next: Option<i64>) -> StoreResult<bool>;
}
