//! The task types Podium knows, and how each one is run.

use crate::model::{Task, WorkflowTask};

crate::kinds! {
/// A task type, parsed from a definition's `type`.
pub enum TaskKind {
    /// A worker task, queued for polling. Unknown types are worker tasks too.
    Simple,
    Http,
    Switch,
    Decision,
    ForkJoin,
    Join,
    SubWorkflow,
    Wait,
    Terminate,
    SetVariable,
    Noop,
    /// Upserts a secret from `_secrets.secretKey` and `_secrets.secretValue`.
    UpdateSecret,
    /// Evaluates a script (`expression`, by `evaluatorType`) over its input.
    Inline,
    /// Runs a jq program (`queryExpression`) over its input.
    JsonJqTransform,
    /// Runs its `loopOver` tasks again while its `loopCondition` holds.
    DoWhile,
    /// Waits, in progress, until completed through the task update API.
    Human,
    /// Orkes' `YIELD`: waits, in progress, until a signal (or a task update)
    /// completes it.
    Yield,
    /// A fork whose branches come from its input; its task is a `FORK`.
    ForkJoinDynamic,
    /// A node whose task is the one its input names (`dynamicTaskNameParam`); its
    /// executions carry that task's type, never this one.
    Dynamic,
    /// Takes the outcome of the first of its `joinOn` tasks that ran (after a switch).
    ExclusiveJoin,
    /// Starts another workflow and completes with its id, without waiting for it.
    StartWorkflow,
    /// Publishes its input as an event (the `conductor` sink) to the event
    /// handlers listening for it.
    Event,
    /// A type Conductor has that Podium does not run yet.
    Unsupported,
}
}

/// Task types Conductor defines that this version of Podium cannot run: definitions
/// using them are stored, and refused when a workflow would start (see
/// `service::validation::runnable`), so a run never fails half-way for that reason.
const NOT_YET_SUPPORTED: &[&str] = &["LAMBDA", "KAFKA_PUBLISH", "USER_DEFINED"];

impl TaskKind {
    /// Parses a definition's `type` (case-sensitive, as Conductor).
    pub fn of(task_type: &str) -> TaskKind {
        match task_type {
            "SIMPLE" | "" => TaskKind::Simple,
            "HTTP" => TaskKind::Http,
            "SWITCH" => TaskKind::Switch,
            "DECISION" => TaskKind::Decision,
            "FORK_JOIN" | "FORK" => TaskKind::ForkJoin,
            "JOIN" => TaskKind::Join,
            "SUB_WORKFLOW" => TaskKind::SubWorkflow,
            "WAIT" => TaskKind::Wait,
            "TERMINATE" => TaskKind::Terminate,
            "SET_VARIABLE" => TaskKind::SetVariable,
            "NOOP" => TaskKind::Noop,
            "UPDATE_SECRET" => TaskKind::UpdateSecret,
            "INLINE" => TaskKind::Inline,
            "JSON_JQ_TRANSFORM" => TaskKind::JsonJqTransform,
            "DO_WHILE" => TaskKind::DoWhile,
            "HUMAN" => TaskKind::Human,
            "YIELD" => TaskKind::Yield,
            "DYNAMIC" => TaskKind::Dynamic,
            "FORK_JOIN_DYNAMIC" => TaskKind::ForkJoinDynamic,
            "EXCLUSIVE_JOIN" => TaskKind::ExclusiveJoin,
            "START_WORKFLOW" => TaskKind::StartWorkflow,
            "EVENT" => TaskKind::Event,
            other if NOT_YET_SUPPORTED.contains(&other) => TaskKind::Unsupported,
            _ => TaskKind::Simple,
        }
    }

    /// The kind of a task execution, from its `taskType`.
    pub fn of_execution(task: &Task) -> TaskKind {
        TaskKind::of(&task.task_type)
    }

    /// Control-flow types Conductor never retries automatically.
    pub fn is_control_flow(self) -> bool {
        matches!(
            self,
            TaskKind::Switch
                | TaskKind::Decision
                | TaskKind::ForkJoin
                | TaskKind::Join
                | TaskKind::ExclusiveJoin
                | TaskKind::DoWhile
                | TaskKind::ForkJoinDynamic
        )
    }

    /// Whether a task of this kind may evaluate a script: `INLINE` always, `SWITCH`
    /// and `DECISION` when [`decides_by_script`] says so, `DO_WHILE` its condition.
    pub fn may_run_script(self) -> bool {
        matches!(
            self,
            TaskKind::Inline | TaskKind::Switch | TaskKind::Decision | TaskKind::DoWhile
        )
    }

    /// Whether a task of this kind may run tasks its input chooses: `DYNAMIC`, and a
    /// fork when its node is a `FORK_JOIN_DYNAMIC`.
    pub fn may_choose_tasks(self) -> bool {
        matches!(
            self,
            TaskKind::Dynamic | TaskKind::ForkJoin | TaskKind::ForkJoinDynamic
        )
    }

    /// Whether workers poll this task from a queue.
    pub fn is_worker_task(self) -> bool {
        self == TaskKind::Simple
    }

    /// Whether the server runs the task asynchronously through a job (HTTP calls,
    /// starting a sub-workflow, writing a secret, evaluating a script).
    pub fn is_async_system(self) -> bool {
        matches!(
            self,
            TaskKind::Http
                | TaskKind::SubWorkflow
                | TaskKind::StartWorkflow
                | TaskKind::Event
                | TaskKind::UpdateSecret
                | TaskKind::Inline
                | TaskKind::JsonJqTransform
        )
    }

    /// The `taskType` of an execution of `node`: the task name for worker tasks (their
    /// queue), the type name for system tasks (`FORK` for a fork).
    pub fn execution_type(node: &WorkflowTask) -> String {
        match TaskKind::of(&node.task_type) {
            TaskKind::Simple => node.name.clone(),
            TaskKind::ForkJoin | TaskKind::ForkJoinDynamic => "FORK".to_string(),
            _ => node.task_type.clone(),
        }
    }
}

/// Whether a `SWITCH` or `DECISION` node picks its case with JavaScript (a SWITCH with
/// `evaluatorType` `javascript` or `graaljs`, a DECISION with a `caseExpression` and
/// no `caseValueParam`). Such a task is evaluated by a job, never by the decider.
pub fn decides_by_script(node: &WorkflowTask) -> bool {
    match TaskKind::of(&node.task_type) {
        TaskKind::Switch => matches!(
            node.evaluator_type.as_deref(),
            Some("javascript" | "graaljs")
        ),
        TaskKind::Decision => {
            node.case_value_param
                .as_deref()
                .is_none_or(|p| p.trim().is_empty())
                && node
                    .case_expression
                    .as_deref()
                    .is_some_and(|e| !e.trim().is_empty())
        }
        _ => false,
    }
}
