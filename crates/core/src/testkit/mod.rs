//! The store conformance suite: the behaviour every store backend must show, run by
//! each store crate against a fresh store per case.
//!
//! ```text
//! for case in podium_core::testkit::CASES {
//!     (case.run)(fresh_stores()).await;
//! }
//! ```

// Test support: a failed expectation is the test's failure.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde_json::{Value, json};

use crate::clock::SequentialIds;
use crate::engine::ops::{self, StartParams};
use crate::engine::state::WorkflowState;
use crate::engine::{EngineContext, EngineLimits, PollActivity, TaskDefs};
use crate::error::CoreError;
use crate::model::{
    PollData, Tag, Task, TaskDef, TaskExecLog, TaskStatus, WorkflowDef, WorkflowStatus,
};
use crate::service::search::{Filter, SearchValue, TaskSearch, WorkflowField, WorkflowSearch};
use crate::store::{ChangeSet, Claim, Effect, Job, QueueMessage, Stores, ThenClaim, UnitOfWork};

/// One conformance case.
pub struct Case {
    pub name: &'static str,
    pub run: fn(Stores) -> Pin<Box<dyn Future<Output = ()> + Send>>,
}

mod archive;
mod audit;
mod event_handlers;
mod event_records;
mod executions;
mod limits;
mod metadata;
mod queues;
mod runs;
mod schedules;
mod schemas;
mod secrets;
mod security;
mod service_registry;
mod sessions;
mod unreadable;
mod variables;
use archive::ended_workflows_move_to_the_archive_and_back;
use audit::the_audit_trail_is_one_chain;
use event_handlers::event_handlers_are_found_by_event;
use event_records::event_records_keep_the_latest;
use executions::{
    changed_columns_reach_every_query, deletes_remove_everything_of_a_workflow,
    due_workflows_are_found, idempotency_keys_are_unique_per_definition, logs_and_poll_data,
    lookups_by_correlation_key_and_parent, searches_filter_page_and_sort, units_of_work_are_atomic,
    workflows_round_trip_with_their_tasks,
};
use limits::claims_honour_task_type_limits;
use metadata::{
    tags_are_per_resource, task_definitions_round_trip, workflow_definitions_have_versions,
};
use queues::{
    abandoned_units_release_their_locks, claims_hand_each_task_out_once,
    claims_never_revive_a_task_a_unit_ended, claims_respect_visibility_and_priority,
    concurrent_claims_never_share_a_task, jobs_are_leased, units_claim_in_their_own_transaction,
};
use runs::runs_keep_their_authority_and_masks;
use schedules::schedules_run_once_per_due_time;
use schemas::schemas_have_versions;
use secrets::secrets_are_stored_resealed_and_their_reads_recorded;
use security::security_records_grants_and_owners_round_trip;
use service_registry::services_keep_their_methods_and_protos;
use sessions::sessions_round_trip_and_are_purged;
use unreadable::{
    claims_pass_over_rows_they_cannot_read, payloads_holding_the_sealed_key_read_back_as_written,
};
use variables::the_variables_index_follows_every_workflow;

macro_rules! cases {
    ($($name:ident),* $(,)?) => {
        /// Every conformance case.
        pub const CASES: &[Case] = &[$(Case { name: stringify!($name), run: |stores| Box::pin($name(stores)) }),*];
    };
}

cases!(
    task_definitions_round_trip,
    workflow_definitions_have_versions,
    tags_are_per_resource,
    units_of_work_are_atomic,
    workflows_round_trip_with_their_tasks,
    claims_hand_each_task_out_once,
    claims_respect_visibility_and_priority,
    concurrent_claims_never_share_a_task,
    jobs_are_leased,
    abandoned_units_release_their_locks,
    claims_never_revive_a_task_a_unit_ended,
    claims_pass_over_rows_they_cannot_read,
    payloads_holding_the_sealed_key_read_back_as_written,
    units_claim_in_their_own_transaction,
    claims_honour_task_type_limits,
    searches_filter_page_and_sort,
    lookups_by_correlation_key_and_parent,
    idempotency_keys_are_unique_per_definition,
    logs_and_poll_data,
    deletes_remove_everything_of_a_workflow,
    due_workflows_are_found,
    changed_columns_reach_every_query,
    security_records_grants_and_owners_round_trip,
    secrets_are_stored_resealed_and_their_reads_recorded,
    ended_workflows_move_to_the_archive_and_back,
    runs_keep_their_authority_and_masks,
    the_audit_trail_is_one_chain,
    sessions_round_trip_and_are_purged,
    the_variables_index_follows_every_workflow,
    schedules_run_once_per_due_time,
    schemas_have_versions,
    event_handlers_are_found_by_event,
    services_keep_their_methods_and_protos,
    event_records_keep_the_latest,
);

struct NoDefs;
impl TaskDefs for NoDefs {
    fn task_def(&self, _name: &str) -> Option<Arc<TaskDef>> {
        None
    }
}
struct NoPolls;
impl PollActivity for NoPolls {
    fn last_poll(&self, _: &str, _: Option<&str>) -> Option<i64> {
        None
    }
}

/// Builds new workflows the way the services do.
struct Maker {
    ids: SequentialIds,
    limits: EngineLimits,
}

fn definition(name: &str, tasks: Value) -> WorkflowDef {
    serde_json::from_value(json!({"name": name, "version": 1, "tasks": tasks})).unwrap_or_default()
}

fn simple(reference: &str) -> Value {
    json!({"name": "work", "taskReferenceName": reference})
}

impl Maker {
    fn new(prefix: &str) -> Maker {
        let _ = prefix;
        Maker {
            ids: SequentialIds::default(),
            limits: EngineLimits::default(),
        }
    }

    /// A started workflow and its change set.
    fn start(
        &self,
        def: &WorkflowDef,
        params: StartParams,
        now: i64,
    ) -> (WorkflowState, ChangeSet) {
        let ctx = EngineContext {
            now,
            ids: &self.ids,
            task_defs: &NoDefs,
            polls: &NoPolls,
            limits: &self.limits,
        };
        let mut out = ChangeSet::default();
        let state = ops::start(Arc::new(def.clone()), "rev".into(), params, &ctx, &mut out);
        (state, out)
    }
}

/// Stores a definition revision and a started workflow; returns its id.
async fn insert(stores: &Stores, state: WorkflowState, changes: ChangeSet) -> String {
    stores
        .metadata
        .put_def_revision(&state.def_revision, &state.def)
        .await
        .expect("revision stored");
    let id = state.id().to_string();
    let mut changes = changes;
    changes.new_workflows.push(state);
    write_changes(stores, changes).await;
    id
}

/// A stored workflow with its tasks, which must exist.
async fn load(stores: &Stores, id: &str) -> WorkflowState {
    stores
        .execution
        .get_workflow(id)
        .await
        .expect("read")
        .expect("exists")
}

/// Writes a change set in one unit of work that locks no workflow (for tests that
/// store a row the engine would not write, such as a damaged one).
pub async fn write_changes(stores: &Stores, changes: ChangeSet) {
    stores
        .execution
        .run(UnitOfWork {
            lock: None,
            work: Box::new(move |txn| {
                txn.changes = changes;
                Ok(())
            }),
        })
        .await
        .expect("changes written");
}

fn mark(task: &mut Task, claim: &Claim) -> Option<i64> {
    task.status = TaskStatus::InProgress;
    task.worker_id = Some(claim.worker_id.clone());
    task.poll_count += 1;
    Some(claim.now + 5000)
}

fn claim(queue: &str, count: usize, now: i64, worker: &str) -> Claim {
    Claim {
        queue_name: queue.into(),
        count,
        now,
        worker_id: worker.into(),
        limits: None,
    }
}
