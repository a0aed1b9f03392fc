//! Every command a request makes on workflow executions and tasks, with what it
//! needs of its caller. Services authorize a command here and nowhere else; a new
//! command cannot compile without a declaration (the match has no default arm).

use super::authority::{self, RunNeeds};
use crate::error::{CoreError, CoreResult};
use crate::model::{Task, Workflow};
use crate::security::authz::refusal;
use crate::security::{Access, Actor, Principal, Resource};
use crate::service::{Runtime, disclosure};

crate::kinds! {
    /// What a request asks of workflow executions and tasks.
    pub enum Command {
        /// Start a workflow (by name, with an inline definition, or execute-and-wait).
        Start,
        /// Read an execution (and its tasks).
        Read,
        Pause,
        Resume,
        Terminate,
        /// Restart an ended run from the beginning (possibly on the latest definition).
        Restart,
        /// Move a running run to another version of its definition.
        Upgrade,
        /// Bring an archived run back into the live tables, to restart it.
        Restore,
        /// Retry the failed tasks of an ended run.
        Retry,
        /// Rerun an ended run from a task, possibly with new input.
        Rerun,
        /// Skip a task of a running run, possibly with its input and output.
        SkipTask,
        /// Set variables of a running run (data the run acts on).
        UpdateVariables,
        /// Signal the run's waiting task (`WAIT`, `YIELD`), completing it with data.
        Signal,
        /// Run the decider on a run now.
        Decide,
        /// Hand a run's tasks that wait for a callback back to their queues now.
        ResetCallbacks,
        /// Delete a run.
        Remove,
        /// Poll a task type's queue.
        Poll,
        /// Report a task's result (or update it by reference name).
        UpdateTask,
        /// Append to a task's log.
        AddTaskLog,
    }
}

/// What a command needs of its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Everything a run of the workflow's definition does (`authority::check_run`):
    /// commands that start work or put data into a run need what a start needs, so
    /// nobody re-runs work, or feeds it input, beyond what they could start.
    Run,
    /// [`Need::Run`], unless the caller may operate the execution through
    /// UPDATE_PROCESS_INSTANCE and the command brings the run nothing new (no data
    /// of the caller's, the definition it already runs): an operator re-runs work
    /// as it was started, acting for the run's own principals, who are checked
    /// again at that moment (`authority::delegate`).
    RunUnlessOperator,
    /// One of these accesses on the execution (its definition's grants, or having
    /// started it); a refusal names the first.
    Execution(&'static [Access]),
    /// An access on the task (its type and the domain it is routed to).
    Task(Access),
}

/// Operating an execution: Orkes's EXECUTE, or Operate's UPDATE_PROCESS_INSTANCE.
pub const OPERATE: &[Access] = &[Access::UpdateProcessInstance, Access::Execute];
/// Removing an execution: Orkes's DELETE, or Operate's DELETE_PROCESS_INSTANCE.
pub const REMOVE: &[Access] = &[Access::DeleteProcessInstance, Access::Delete];

impl Command {
    /// The declaration: what the command needs of its caller.
    pub fn needs(self) -> &'static [Need] {
        use Need::*;
        match self {
            Command::Start => &[Run],
            Command::Read => &[Execution(&[Access::Read])],
            Command::Pause
            | Command::Resume
            | Command::Terminate
            | Command::Decide
            | Command::ResetCallbacks
            | Command::Restore => &[Execution(OPERATE)],
            Command::Restart
            | Command::Upgrade
            | Command::Retry
            | Command::Rerun
            | Command::SkipTask
            | Command::UpdateVariables => &[Execution(OPERATE), RunUnlessOperator],
            // Its data is the waiting task's output, which the run acts on.
            Command::Signal => &[Execution(OPERATE), RunUnlessOperator],
            Command::Remove => &[Execution(REMOVE)],
            Command::Poll | Command::UpdateTask | Command::AddTaskLog => &[Task(Access::Execute)],
        }
    }
}

/// What a command acts on, for checking its needs.
#[derive(Default)]
pub struct Target<'a> {
    /// The execution.
    pub workflow: Option<&'a Workflow>,
    /// The definition a run would execute.
    pub run: Option<RunNeeds<'a>>,
    /// The task, or the queue a poll names.
    pub task: Option<TaskRef<'a>>,
    /// Whether the command brings the run something new: data of the caller's, or
    /// a definition other than the one it runs.
    pub brings_new: bool,
}

/// A task type and domain, and the task itself when the caller named one by id.
#[derive(Clone, Copy)]
pub struct TaskRef<'a> {
    pub task_type: &'a str,
    pub domain: Option<&'a str>,
    pub task: Option<&'a Task>,
}

impl<'a> TaskRef<'a> {
    /// A task the caller named.
    pub fn of(task: &'a Task) -> TaskRef<'a> {
        TaskRef {
            task_type: &task.task_def_name,
            domain: task.domain.as_deref(),
            task: Some(task),
        }
    }

    /// A queue the caller named.
    pub fn queue(task_type: &'a str, domain: Option<&'a str>) -> TaskRef<'a> {
        TaskRef {
            task_type,
            domain,
            task: None,
        }
    }
}

/// Whether the caller may see a task: READ on its task definition or its workflow,
/// or being allowed to poll it.
pub fn can_see_task(rt: &Runtime, principal: &Principal, task: &Task) -> bool {
    let authz = &rt.authorizer;
    let resource = Resource::task(&task.task_def_name, task.domain.as_deref());
    authz.can(principal, Access::Read, resource)
        || authz.can(
            principal,
            Access::Read,
            Resource::workflow(&task.workflow_type),
        )
        || authz.can(principal, Access::Execute, resource)
}

/// The refusal for a workflow execution the caller may not see, the same whether
/// it exists or not (see `service::disclosure`).
pub fn hidden_workflow(id: &str) -> CoreError {
    disclosure::hidden(format_args!("access workflow {id}"))
}

/// The refusal for updating a task the caller may not see, the same whether it (or
/// its workflow) exists or not.
pub fn hidden_task_update(task_id: &str, workflow_id: &str) -> CoreError {
    disclosure::hidden(format_args!(
        "update task {task_id} of workflow {workflow_id}"
    ))
}

/// Allows a command, checking each of its needs for the actor. A caller who may not
/// even see an execution or a task it named gets the refusal it would get for a
/// missing one. Fails closed when a need's subject is missing.
pub fn authorize(
    rt: &Runtime,
    actor: &Actor,
    command: Command,
    target: &Target<'_>,
) -> CoreResult<()> {
    let principal = actor.principal();
    for need in command.needs() {
        match need {
            Need::Run => check_run(rt, principal, command, target)?,
            Need::RunUnlessOperator => {
                let operator = !target.brings_new
                    && target.workflow.is_some_and(|workflow| {
                        authority::may_access_execution(
                            rt,
                            principal,
                            Access::UpdateProcessInstance,
                            workflow,
                        )
                    });
                if !operator {
                    check_run(rt, principal, command, target)?;
                }
            }
            Need::Execution(accesses) => {
                let workflow = target
                    .workflow
                    .ok_or_else(|| missing(command, "an execution"))?;
                let allowed = accesses
                    .iter()
                    .any(|a| authority::may_access_execution(rt, principal, *a, workflow));
                if !allowed {
                    if !authority::may_access_execution(rt, principal, Access::Read, workflow) {
                        return Err(hidden_workflow(&workflow.workflow_id));
                    }
                    let first = accesses.first().copied().unwrap_or(Access::Read);
                    return Err(refusal(first, Resource::workflow(&workflow.workflow_name)));
                }
            }
            Need::Task(access) => {
                let task = target.task.ok_or_else(|| missing(command, "a task"))?;
                let resource = Resource::task(task.task_type, task.domain);
                if !rt.authorizer.can(principal, *access, resource) {
                    if let Some(named) = task.task
                        && !can_see_task(rt, principal, named)
                    {
                        return Err(hidden_task_update(
                            &named.task_id,
                            &named.workflow_instance_id,
                        ));
                    }
                    return Err(refusal(*access, resource));
                }
            }
        }
    }
    Ok(())
}

fn check_run(
    rt: &Runtime,
    principal: &Principal,
    command: Command,
    target: &Target<'_>,
) -> CoreResult<()> {
    let needs = target
        .run
        .as_ref()
        .ok_or_else(|| missing(command, "a definition"))?;
    authority::check_run(rt, principal, needs)
}

fn missing(command: Command, what: &str) -> CoreError {
    CoreError::Internal(format!("{command:?} was authorized without {what}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every command declares something to check, and every command that starts or
    /// re-runs work needs what a start needs (re-runs: unless an operator re-runs it
    /// as it was started).
    #[test]
    fn every_command_declares_its_needs() {
        for command in Command::ALL {
            let needs = command.needs();
            assert!(!needs.is_empty(), "{command:?} checks nothing");
            let reruns = matches!(
                command,
                Command::Start
                    | Command::Restart
                    | Command::Upgrade
                    | Command::Retry
                    | Command::Rerun
                    | Command::SkipTask
                    | Command::UpdateVariables
                    | Command::Signal
            );
            assert_eq!(
                needs.contains(&Need::Run) || needs.contains(&Need::RunUnlessOperator),
                reruns,
                "{command:?}: commands that start work or feed a run data need what a start needs, others do not"
            );
            assert_eq!(needs.contains(&Need::Run), *command == Command::Start);
        }
    }
}
