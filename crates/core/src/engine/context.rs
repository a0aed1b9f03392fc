//! What the engine reads besides the workflow itself: the time, id generation, task
//! definitions, worker activity for domain routing, and limits. All injected, so a
//! decision is a pure function of its inputs.

use std::sync::Arc;

use crate::clock::IdGen;
use crate::model::{Task, TaskDef, WorkflowTask};

use super::task_type::TaskKind;

/// Looks up registered task definitions.
pub trait TaskDefs: Send + Sync {
    /// The registered definition of a task name.
    fn task_def(&self, name: &str) -> Option<Arc<TaskDef>>;
}

/// When workers last polled, for routing tasks across a list of domains.
pub trait PollActivity: Send + Sync {
    /// The last poll of a task type in a domain (None = no domain), in epoch ms.
    fn last_poll(&self, task_type: &str, domain: Option<&str>) -> Option<i64>;
}

/// Default for [`EngineLimits::max_payload_bytes`]: 10 MiB, Conductor's largest task
/// input or output (`maxTaskInputPayloadSizeThreshold`) and Podium's largest request
/// body.
pub const DEFAULT_MAX_PAYLOAD_BYTES: usize = 10 * 1024 * 1024;
/// Most levels of `${` inside `${` in one expression (`${a.${b}}` is two).
pub const MAX_EXPRESSION_NESTING: usize = 16;
/// Most `${...}` expressions one resolution (a task's input, a workflow's output)
/// evaluates.
pub const MAX_EXPRESSIONS: usize = 10_000;
/// Most JSONPath queries (paths beyond plain keys and indexes) one resolution runs;
/// each one may walk a whole task output.
pub const MAX_PATH_QUERIES: usize = 256;

/// Engine limits. `active_worker_window_ms` and `max_payload_bytes` come from
/// configuration; the others bound the work of one decision and are fixed.
#[derive(Debug, Clone)]
pub struct EngineLimits {
    /// A worker counts as active in a domain if it polled within this window (ms).
    pub active_worker_window_ms: i64,
    /// Largest size of a workflow's variables, as JSON bytes.
    pub max_variables_bytes: usize,
    /// Largest task input or output and workflow input or output, as JSON bytes. A
    /// task whose payload would be larger fails (`FAILED_WITH_TERMINAL_ERROR`), as in
    /// Conductor; so does a workflow whose output would be.
    pub max_payload_bytes: usize,
    /// Most levels of `${` inside `${`.
    pub max_expression_nesting: usize,
    /// Most expressions evaluated by one resolution.
    pub max_expressions: usize,
    /// Most JSONPath queries run by one resolution.
    pub max_path_queries: usize,
    /// Most tasks one `DO_WHILE` keeps in its workflow, all iterations together.
    pub max_loop_tasks: usize,
    /// Most branches the dynamic forks of one workflow start, all forks together.
    pub max_dynamic_branches: usize,
}

impl Default for EngineLimits {
    fn default() -> Self {
        EngineLimits {
            active_worker_window_ms: 10_000,
            max_variables_bytes: 256 * 1024,
            max_payload_bytes: DEFAULT_MAX_PAYLOAD_BYTES,
            max_expression_nesting: MAX_EXPRESSION_NESTING,
            max_expressions: MAX_EXPRESSIONS,
            max_path_queries: MAX_PATH_QUERIES,
            max_loop_tasks: super::loops::MAX_LOOP_TASKS,
            max_dynamic_branches: MAX_WORKFLOW_BRANCHES,
        }
    }
}

/// Most branches the dynamic forks of one workflow start by default.
pub const MAX_WORKFLOW_BRANCHES: usize = 10_000;

/// Everything a decision depends on besides the workflow state.
pub struct EngineContext<'a> {
    /// The time of the decision (epoch ms).
    pub now: i64,
    pub ids: &'a dyn IdGen,
    pub task_defs: &'a dyn TaskDefs,
    pub polls: &'a dyn PollActivity,
    pub limits: &'a EngineLimits,
}

impl EngineContext<'_> {
    /// The definition that governs a node: inline, else registered, else, for worker
    /// tasks only, Conductor's ad-hoc defaults. System tasks without a definition have
    /// none (and so no retries).
    pub fn task_def_for(&self, node: &WorkflowTask) -> Option<Arc<TaskDef>> {
        if let Some(inline) = &node.task_definition {
            return Some(Arc::new(inline.clone()));
        }
        if let Some(registered) = self.task_defs.task_def(&node.name) {
            return Some(registered);
        }
        TaskKind::of(&node.task_type)
            .is_worker_task()
            .then(|| Arc::new(TaskDef::ad_hoc(&node.name)))
    }

    /// The definition that governs a task of `node`: for a `DYNAMIC` node, that of
    /// the task it chose (none before the choice).
    pub fn task_def_of(&self, node: &WorkflowTask, task: &Task) -> Option<Arc<TaskDef>> {
        if TaskKind::of(&node.task_type) == TaskKind::Dynamic {
            return super::dynamic::chosen_node_of(node, task).and_then(|n| self.task_def_for(&n));
        }
        self.task_def_for(node)
    }
}
