//! Everything the engine does by itself, with whom it acts as and what it needs.
//!
//! An action either acts on behalf of a run's principals (its starter and
//! cosigners, see `authority`), needing the listed permissions of each of them at
//! the moment it happens, or acts as the engine itself, which only the actions on
//! the allow-list below may, each with the reason it needs nobody's authority.
//! [`authorize`] is the only check the job runner and the hand-off make; the walk in
//! this module's tests fails when an action is added without a declaration.

use std::collections::BTreeSet;

use super::authority::{self, Handover};
use crate::engine::TaskKind;
use crate::engine::state::Authority;
use crate::model::{Workflow, WorkflowDef};
use crate::security::{Access, Cause, Resource};
use crate::service::Runtime;
use crate::service::handoff::{self, Reference};
use crate::store::{Effect, SecretKind};

crate::kinds! {
    /// Everything the engine does by itself.
    pub enum EngineAction {
        /// An `HTTP` task's call, with the secrets its definition node names.
        HttpCall,
        /// `UPDATE_SECRET` writes a secret.
        UpdateSecret,
        /// An `INLINE` task's script, a `JSON_JQ_TRANSFORM` task's program, or the
        /// script that picks a `SWITCH` or `DECISION` case, runs over the task's
        /// input, with the secrets its definition node names.
        EvaluateScript,
        /// A `DYNAMIC` task runs the task its input names, a `FORK_JOIN_DYNAMIC`
        /// task starts the branches its input lists: types chosen by data.
        ChooseTasks,
        /// A `START_WORKFLOW` task starts a workflow of its own (no parent).
        StartWorkflow,
        /// A `SUB_WORKFLOW` task starts its child.
        StartSubWorkflow,
        /// A failed workflow starts its failure workflow.
        StartFailureWorkflow,
        /// An `EVENT` task publishes its input as an event of its own workflow.
        PublishEvent,
        /// An event is handed to the active handlers listening for it.
        DeliverEvent,
        /// An event handler's action runs.
        HandleEvent,
        /// A task is handed to its worker with the secrets its definition node names.
        HandOff,
        /// A child's end is recorded on its parent's `SUB_WORKFLOW` task.
        NotifyParent,
        /// A child whose parent ended is terminated.
        TerminateChild,
        /// A system task that does nothing outside its workflow is settled.
        SettleSystemTask,
        /// Timeouts, retries, delays and waits are decided when due.
        Sweep,
        /// Ended workflows move to the archive.
        Archive,
        /// Sealed values are re-sealed under a new master key.
        Reseal,
    }
}

/// What an action needs of each principal it acts for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Everything a run of the definition it starts does (`authority::check_run`),
    /// for the run's principals and the definition's author if the run does not
    /// vouch for them.
    Run,
    /// That a definition's author the run does not vouch for may read the data
    /// handed to it.
    DataOfRun,
    /// READ on each secret and environment variable the task's definition names.
    References,
    /// Writing the named secret: UPDATE, or the create permission for a new name.
    SecretWrite,
    /// EXECUTE on each worker task type data chose, as if the definition named it.
    ChosenTasks,
}

/// Whom an action acts as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActsAs {
    /// The run's principals, each needing all of the listed permissions.
    OnBehalfOf(Cause, &'static [Need]),
    /// The engine itself, for the stated reason.
    Engine(&'static str),
}

impl EngineAction {
    /// The declaration of the action: every variant has one, no default.
    pub fn acts_as(self) -> ActsAs {
        use ActsAs::*;
        use Need::*;
        match self {
            EngineAction::HttpCall => OnBehalfOf(Cause::SystemTask, &[References]),
            EngineAction::UpdateSecret => OnBehalfOf(Cause::SystemTask, &[References, SecretWrite]),
            EngineAction::EvaluateScript => OnBehalfOf(Cause::SystemTask, &[References]),
            EngineAction::ChooseTasks => OnBehalfOf(Cause::SystemTask, &[ChosenTasks]),
            EngineAction::StartSubWorkflow => OnBehalfOf(Cause::SubWorkflow, &[Run, DataOfRun]),
            EngineAction::StartWorkflow => OnBehalfOf(Cause::StartWorkflow, &[Run, DataOfRun]),
            EngineAction::StartFailureWorkflow => {
                OnBehalfOf(Cause::FailureWorkflow, &[Run, DataOfRun])
            }
            EngineAction::HandOff => OnBehalfOf(Cause::HandOff, &[References]),
            EngineAction::PublishEvent => Engine(
                "an EVENT task publishes its own data under its own workflow's name (conductor:<workflow>:<name>), with the values its run masks masked; it runs nothing",
            ),
            EngineAction::DeliverEvent => Engine(
                "finds the active handlers of an event and evaluates their conditions in the script sandbox; each action is a job of its own",
            ),
            EngineAction::HandleEvent => Engine(
                "carries out a handler's action as the principal who last saved the handler, through the same checks as that principal's own request (exec::events)",
            ),
            EngineAction::NotifyParent => Engine(
                "records a child's result on the parent task that started it, as the parent's definition asked; it starts nothing",
            ),
            EngineAction::TerminateChild => {
                Engine("stops a child whose parent ended; it starts nothing and reads nothing")
            }
            EngineAction::SettleSystemTask => {
                Engine("ends a system task that touches nothing outside its own workflow")
            }
            EngineAction::Sweep => Engine(
                "decides what a run's own definition and timeouts say; whatever it starts for the run is a job checked as the run's principals",
            ),
            EngineAction::Archive => Engine("moves ended runs to the archive, redacted"),
            EngineAction::Reseal => Engine(
                "re-encrypts sealed values under a new master key; nothing is opened outside the vault",
            ),
        }
    }

    /// The action a stored job carries out; for a system task, by its task's type.
    pub fn of_job(effect: &Effect, task_kind: TaskKind) -> EngineAction {
        match effect {
            Effect::SystemTask => match task_kind {
                TaskKind::Http => EngineAction::HttpCall,
                TaskKind::UpdateSecret => EngineAction::UpdateSecret,
                TaskKind::Inline | TaskKind::JsonJqTransform => EngineAction::EvaluateScript,
                TaskKind::SubWorkflow => EngineAction::StartSubWorkflow,
                TaskKind::StartWorkflow => EngineAction::StartWorkflow,
                TaskKind::Event => EngineAction::PublishEvent,
                // A switch or decision has a job only when a script picks its case, a
                // loop when a script decides whether it goes on.
                TaskKind::Switch | TaskKind::Decision | TaskKind::DoWhile => {
                    EngineAction::EvaluateScript
                }
                // A fork has a job only when data chooses its branches.
                TaskKind::Dynamic | TaskKind::ForkJoin | TaskKind::ForkJoinDynamic => {
                    EngineAction::ChooseTasks
                }
                TaskKind::Simple
                | TaskKind::Join
                | TaskKind::ExclusiveJoin
                | TaskKind::Wait
                | TaskKind::Terminate
                | TaskKind::SetVariable
                | TaskKind::Noop
                | TaskKind::Human
                | TaskKind::Yield
                | TaskKind::Unsupported => EngineAction::SettleSystemTask,
            },
            Effect::SubWorkflowEnded { .. } => EngineAction::NotifyParent,
            Effect::FailureWorkflow => EngineAction::StartFailureWorkflow,
            Effect::TerminateWorkflow { .. } => EngineAction::TerminateChild,
            Effect::EventDelivery { .. } => EngineAction::DeliverEvent,
            Effect::EventAction { .. } => EngineAction::HandleEvent,
        }
    }
}

/// What an action is about, for checking its needs.
pub struct Scope<'a> {
    /// The principal who started the run the action is for.
    pub starter: Option<&'a str>,
    /// That run's authority.
    pub authority: &'a Authority,
    /// The run's record, when the action hands its data to a definition.
    pub run: Option<&'a Workflow>,
    /// A definition the action starts, with its revision.
    pub start: Option<(&'a WorkflowDef, &'a str)>,
    /// The secrets and environment variables the action's task names.
    pub references: Option<&'a BTreeSet<Reference>>,
    /// The secret the action writes.
    pub secret: Option<&'a str>,
    /// The worker task types data chose.
    pub chosen: Option<&'a BTreeSet<String>>,
}

/// Allows an action, checking each of its needs for each principal it acts for at
/// this moment, and returns the authority a run it starts carries. Fails closed: a
/// principal that no longer exists, or a need whose subject is missing, refuses.
pub fn authorize(
    rt: &Runtime,
    action: EngineAction,
    scope: &Scope<'_>,
) -> Result<Authority, String> {
    let (cause, needs) = match action.acts_as() {
        ActsAs::Engine(_) => return Ok(scope.authority.clone()),
        ActsAs::OnBehalfOf(cause, needs) => (cause, needs),
    };
    let mut authority = scope.authority.clone();
    if needs.contains(&Need::Run) || needs.contains(&Need::DataOfRun) {
        let (def, revision) = scope
            .start
            .ok_or("nothing to start was named, so nothing is allowed")?;
        let from = scope
            .run
            .ok_or("the run handing over was not named, so nothing is allowed")?;
        let handover = Handover {
            from,
            authority: scope.authority,
            cause,
        };
        authority = authority::delegate(rt, &handover, def, revision)?;
    }
    let principals = authority::principals_of_run(rt, scope.starter, &authority, cause)?;
    for need in needs {
        check(rt, *need, scope, &principals)?;
    }
    Ok(authority)
}

/// Allows one need of an action (which must declare it), for each principal the
/// action acts for: the part of an action that can be checked before the rest is
/// known (a system task's references, before its input names the secret it writes).
pub fn authorize_need(
    rt: &Runtime,
    action: EngineAction,
    need: Need,
    scope: &Scope<'_>,
) -> Result<(), String> {
    let cause = match action.acts_as() {
        ActsAs::OnBehalfOf(cause, needs) if needs.contains(&need) => cause,
        ActsAs::Engine(_) => return Ok(()),
        ActsAs::OnBehalfOf(..) => {
            return Err(format!(
                "{action:?} does not declare {need:?}, so it is refused"
            ));
        }
    };
    let principals = authority::principals_of_run(rt, scope.starter, scope.authority, cause)?;
    check(rt, need, scope, &principals)
}

fn check(
    rt: &Runtime,
    need: Need,
    scope: &Scope<'_>,
    principals: &[(String, crate::security::Principal)],
) -> Result<(), String> {
    match need {
        // Checked by `authority::delegate`, which needs the definition.
        Need::Run | Need::DataOfRun => Ok(()),
        Need::References => {
            let refs = scope
                .references
                .ok_or("the task's references were not named, so none may be read")?;
            for (who, principal) in principals {
                if let Err(r) = handoff::check_readable(rt, principal, refs.iter()) {
                    return Err(handoff::unreadable(rt, who, r));
                }
            }
            Ok(())
        }
        Need::ChosenTasks => {
            let chosen = scope.chosen.ok_or("no chosen tasks were named")?;
            for (who, principal) in principals {
                for name in chosen {
                    rt.authorizer
                        .authorize(principal, Access::Execute, Resource::task_def(name))
                        .map_err(|err| authority::refused_for(who, &err))?;
                }
            }
            Ok(())
        }
        Need::SecretWrite => {
            let name = scope.secret.ok_or("no secret was named to write")?;
            for (who, principal) in principals {
                let allowed = if rt.vault.exists(SecretKind::Secret, name) {
                    rt.authorizer.authorize(
                        principal,
                        Access::Update,
                        handoff::resource(SecretKind::Secret, name),
                    )
                } else {
                    crate::service::secrets::authorize_new(rt, principal, SecretKind::Secret, name)
                };
                allowed.map_err(|err| authority::refused_for(who, &err))?;
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The effect walk, twin of the route walk: every action the engine can take is
    /// declared, acting for a run's principals with something to check, or on the
    /// engine's allow-list with a reason.
    #[test]
    fn every_engine_action_declares_whom_it_acts_as() {
        const ENGINE_ALLOW_LIST: &[EngineAction] = &[
            EngineAction::NotifyParent,
            EngineAction::TerminateChild,
            EngineAction::SettleSystemTask,
            EngineAction::Sweep,
            EngineAction::Archive,
            EngineAction::Reseal,
            EngineAction::PublishEvent,
            EngineAction::DeliverEvent,
            EngineAction::HandleEvent,
        ];
        for action in EngineAction::ALL {
            match action.acts_as() {
                ActsAs::OnBehalfOf(_, needs) => {
                    assert!(
                        !needs.is_empty(),
                        "{action:?} acts for someone but checks nothing"
                    );
                    assert!(
                        !ENGINE_ALLOW_LIST.contains(action),
                        "{action:?} is on the allow-list but acts for someone"
                    );
                }
                ActsAs::Engine(reason) => {
                    assert!(
                        ENGINE_ALLOW_LIST.contains(action),
                        "{action:?} acts as the engine without being on its allow-list"
                    );
                    assert!(!reason.is_empty());
                }
            }
        }
    }

    /// Every stored effect, and every system task type, maps to a declared action;
    /// the ones that start work or read secrets act on someone's behalf.
    #[test]
    fn every_job_maps_to_a_declared_action() {
        let effects = [
            Effect::SystemTask,
            Effect::SubWorkflowEnded {
                child_id: "c".into(),
            },
            Effect::FailureWorkflow,
            Effect::TerminateWorkflow { reason: None },
            Effect::EventDelivery {
                event: "e".into(),
                incoming: false,
            },
            Effect::EventDelivery {
                event: "e".into(),
                incoming: true,
            },
            Effect::EventAction {
                handler: "h".into(),
                action: 0,
                event: "e".into(),
                incoming: false,
                revision: Some("r".into()),
            },
            Effect::EventAction {
                handler: "h".into(),
                action: 0,
                event: "e".into(),
                incoming: true,
                revision: Some("r".into()),
            },
        ];
        for effect in &effects {
            for kind in TaskKind::ALL {
                let action = EngineAction::of_job(effect, *kind);
                let delegated = matches!(action.acts_as(), ActsAs::OnBehalfOf(..));
                // An EVENT task reads no secret and starts nothing for its run: the
                // handlers that take its event act as their savers (exec::events).
                let publishes = *kind == TaskKind::Event;
                let starts_or_reads = matches!(effect, Effect::FailureWorkflow)
                    || (matches!(effect, Effect::SystemTask)
                        && !publishes
                        && (kind.is_async_system()
                            || kind.may_run_script()
                            || kind.may_choose_tasks()));
                assert_eq!(
                    delegated, starts_or_reads,
                    "{effect:?} of a {kind:?} task must act on behalf of the run exactly when it starts work or reads secrets"
                );
            }
        }
    }
}
