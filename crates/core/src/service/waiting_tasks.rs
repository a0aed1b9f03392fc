//! Tasks that wait for someone to end them (`WAIT`, `HUMAN`, `YIELD`, an `EVENT`
//! or `HTTP` that completes asynchronously): who may end them through the task API,
//! and who may add to their logs. Such a task is ended as a signal ends it, by who
//! may operate its run; a task definition that happens to share the node's name
//! does not reach it, ended or not.

use crate::engine::TaskKind;
use crate::engine::state::WorkflowState;
use crate::error::{CoreError, CoreResult};
use crate::exec::authority::{RunNeeds, may_access_execution};
use crate::exec::command::{self, Command, Target};
use crate::model::Task;
use crate::security::{Access, Actor, Principal};
use crate::service::Runtime;

use super::task::sees_every_task;

/// Whether a task waits for someone to end it: such a task is ended through the
/// task API as a signal ends it, by who may operate its run.
pub(super) fn waits_for_someone(task: &Task) -> bool {
    matches!(
        TaskKind::of_execution(task),
        TaskKind::Wait | TaskKind::Human | TaskKind::Yield | TaskKind::Event | TaskKind::Http
    )
}

/// Whether `principal` may end a task of `owner` that waits for someone (what a
/// signal needs; with `feeds`, what feeding the run data needs too), changing
/// nothing.
pub(super) fn may_end(
    rt: &Runtime,
    principal: &Principal,
    owner: &WorkflowState,
    feeds: bool,
) -> CoreResult<()> {
    let as_run = crate::engine::dynamic::as_run(owner);
    let target = Target {
        workflow: Some(&owner.workflow),
        run: Some(RunNeeds::of(rt, &as_run, &owner.def_revision)),
        brings_new: feeds,
        ..Target::default()
    };
    command::authorize(rt, &Actor::caller(principal), Command::Signal, &target)
}

/// A refusal to touch `task` of `owner`, as `principal` may hear it: why, when
/// it sees the run or the task; otherwise `hidden`, the refusal a missing task
/// gets, so nobody learns what waits in a run it cannot see.
pub(super) fn as_heard(
    rt: &Runtime,
    principal: &Principal,
    owner: &WorkflowState,
    task: &Task,
    refusal: CoreError,
    hidden: impl FnOnce() -> CoreError,
) -> CoreError {
    if !matches!(refusal, CoreError::Forbidden(_)) {
        return refusal;
    }
    let sees = may_access_execution(rt, principal, Access::Read, &owner.workflow)
        || sees_every_task(&rt.authorizer, principal)
        || command::can_see_task(rt, principal, task);
    if sees { refusal } else { hidden() }
}
