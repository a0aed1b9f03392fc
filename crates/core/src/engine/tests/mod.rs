//! Decision tests: workflows driven through the engine without a store or a server,
//! asserting on the tasks scheduled, the queue messages and jobs produced, and the
//! workflow's status. The harness is here; the cases are split by what they drive.

mod dynamic;
mod flow;
mod joins;
mod limits;
mod loops;
mod operations;

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Value, json};

use super::context::{EngineContext, EngineLimits, PollActivity, TaskDefs};
use super::decide;
use super::ops::{self, StartParams};
use super::state::WorkflowState;
use crate::clock::SequentialIds;
use crate::model::{
    JsonMap, RerunWorkflowRequest, SkipTaskRequest, TaskDef, TaskResult, TaskResultStatus,
    TaskStatus, WorkflowDef, WorkflowStatus,
};
use crate::store::{ChangeSet, Effect, JobLane};

#[derive(Default)]
struct Defs(HashMap<String, Arc<TaskDef>>);

impl TaskDefs for Defs {
    fn task_def(&self, name: &str) -> Option<Arc<TaskDef>> {
        self.0.get(name).cloned()
    }
}

#[derive(Default)]
struct Polls(HashMap<(String, Option<String>), i64>);

impl PollActivity for Polls {
    fn last_poll(&self, task_type: &str, domain: Option<&str>) -> Option<i64> {
        self.0
            .get(&(task_type.to_string(), domain.map(str::to_string)))
            .copied()
    }
}

/// A workflow under test with everything the engine reads.
struct Harness {
    ids: SequentialIds,
    defs: Defs,
    polls: Polls,
    limits: EngineLimits,
    now: i64,
    state: Option<WorkflowState>,
    out: ChangeSet,
}

fn def(value: Value) -> WorkflowDef {
    serde_json::from_value(value).expect("valid definition")
}

fn map(value: Value) -> JsonMap {
    value.as_object().cloned().unwrap_or_default()
}

impl Harness {
    fn new() -> Harness {
        Harness {
            ids: SequentialIds::default(),
            defs: Defs::default(),
            polls: Polls::default(),
            limits: EngineLimits::default(),
            now: 1_000_000,
            state: None,
            out: ChangeSet::default(),
        }
    }

    fn task_def(mut self, value: Value) -> Harness {
        let def: TaskDef = serde_json::from_value(value).expect("valid task definition");
        self.defs.0.insert(def.name.clone(), Arc::new(def));
        self
    }

    fn start_with(&mut self, definition: Value, params: StartParams) {
        let ctx = EngineContext {
            now: self.now,
            ids: &self.ids,
            task_defs: &self.defs,
            polls: &self.polls,
            limits: &self.limits,
        };
        let mut out = ChangeSet::default();
        let state = ops::start(
            Arc::new(def(definition)),
            "rev-1".into(),
            params,
            &ctx,
            &mut out,
        );
        self.state = Some(state);
        self.out = out;
    }

    fn start(&mut self, definition: Value, input: Value) {
        self.start_with(
            definition,
            StartParams {
                input: map(input),
                ..StartParams::default()
            },
        );
    }

    fn state(&self) -> &WorkflowState {
        self.state.as_ref().expect("started")
    }

    fn status(&self) -> WorkflowStatus {
        self.state().status()
    }

    /// (reference, status) of every task, in order.
    fn tasks(&self) -> Vec<(String, TaskStatus)> {
        self.state()
            .tasks()
            .iter()
            .map(|t| (t.reference_task_name.clone(), t.status))
            .collect()
    }

    fn task_id(&self, reference: &str) -> String {
        let index = self
            .state()
            .latest_task_index(reference)
            .expect("task exists");
        self.state().tasks()[index].task_id.clone()
    }

    fn with_state<T>(
        &mut self,
        f: impl FnOnce(&mut WorkflowState, &EngineContext<'_>, &mut ChangeSet) -> T,
    ) -> T {
        let mut state = self.state.take().expect("started");
        let mut out = ChangeSet::default();
        let ctx = EngineContext {
            now: self.now,
            ids: &self.ids,
            task_defs: &self.defs,
            polls: &self.polls,
            limits: &self.limits,
        };
        let value = f(&mut state, &ctx, &mut out);
        self.state = Some(state);
        self.out = out;
        value
    }

    fn report(&mut self, reference: &str, status: TaskResultStatus, output: Value) {
        let result = TaskResult {
            workflow_instance_id: self.state().id().to_string(),
            task_id: self.task_id(reference),
            reason_for_incompletion: (status != TaskResultStatus::Completed)
                .then(|| "boom".to_string()),
            callback_after_seconds: 0,
            worker_id: Some("w".into()),
            status,
            output_data: map(output),
            logs: Vec::new(),
            external_output_payload_storage_path: None,
            sub_workflow_id: None,
            extend_lease: false,
        };
        self.with_state(|state, ctx, out| ops::apply_result(state, &result, ctx, out))
            .expect("result applies");
    }

    fn complete(&mut self, reference: &str, output: Value) {
        self.report(reference, TaskResultStatus::Completed, output);
    }

    fn tick(&mut self, millis: i64) {
        self.now += millis;
        self.with_state(decide);
    }

    /// The process stopped: the workflow as the store holds it is loaded again.
    fn reload(&mut self) {
        let state = self.state.take().expect("started");
        let workflow: crate::model::Workflow =
            serde_json::from_value(serde_json::to_value(&state.workflow).unwrap()).unwrap();
        let tasks = state
            .tasks()
            .iter()
            .map(|t| serde_json::from_value(serde_json::to_value(t).unwrap()).unwrap())
            .collect();
        self.state = Some(WorkflowState::loaded(
            workflow,
            state.base_def().clone(),
            state.def_revision.clone(),
            state.next_check_at,
            state.authority.clone(),
            tasks,
        ));
    }

    /// The job of the task `reference` that applies what its input chose, as
    /// `exec::chosen` runs it once the run's principals may run the chosen types.
    fn choose(&mut self, reference: &str) -> bool {
        let index = self
            .state()
            .latest_task_index(reference)
            .expect("task exists");
        let task = self.state().tasks()[index].clone();
        self.with_state(|state, ctx, out| {
            super::dynamic::apply_choice(state, &task.task_id, &task.input_data, ctx, out)
        })
    }

    fn queued(&self) -> Vec<String> {
        self.out
            .queue_pushes
            .iter()
            .map(|m| m.queue_name.clone())
            .collect()
    }
}

fn simple(reference: &str) -> Value {
    json!({"name": "work", "taskReferenceName": reference, "type": "SIMPLE"})
}
