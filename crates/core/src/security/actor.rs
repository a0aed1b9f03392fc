//! Who an action is taken as. A request acts as its caller. Work the engine carries
//! on later for someone — a child or failure workflow, a system task, a task handed
//! to a worker, a run restarted on another definition — acts on behalf of that
//! principal, looked up in the directory at the moment it happens, so a revoked
//! grant, a deleted application or a disabled user stops it. The engine's own
//! bookkeeping (timeouts, telling a parent its child ended) acts as the engine, and
//! only the effects on a short allow-list may (`exec::effects`).
//!
//! Only this module makes an actor from an id, and it fails closed: work whose
//! principal cannot be found does not run.

use super::directory::Directory;
use super::principal::Principal;
use super::{SecurityMode, principal_of};

/// Why the engine acts on someone's behalf.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cause {
    /// A `SUB_WORKFLOW` task starts its child.
    SubWorkflow,
    /// A failed workflow starts its failure workflow.
    FailureWorkflow,
    /// A `START_WORKFLOW` task starts a workflow.
    StartWorkflow,
    /// A system task runs (an HTTP call, `UPDATE_SECRET`).
    SystemTask,
    /// A task is handed to its worker with the secrets its definition names.
    HandOff,
    /// A run is restarted, retried or rerun (possibly on another definition).
    Rerun,
    /// A schedule starts its workflow.
    Schedule,
    /// An event handler acts on an event.
    EventHandler,
}

impl Cause {
    /// A few words for refusals and logs.
    pub fn describe(self) -> &'static str {
        match self {
            Cause::SubWorkflow => "start a sub-workflow",
            Cause::FailureWorkflow => "start a failure workflow",
            Cause::StartWorkflow => "start a workflow",
            Cause::SystemTask => "run a system task",
            Cause::HandOff => "hand a task over",
            Cause::Rerun => "run a workflow again",
            Cause::Schedule => "start a scheduled workflow",
            Cause::EventHandler => "act for an event handler",
        }
    }
}

/// Who an action is taken as.
#[derive(Debug, Clone)]
pub struct Actor(Kind);

#[derive(Debug, Clone)]
enum Kind {
    /// The principal of a request.
    Caller(Principal),
    /// The engine, carrying on a principal's work.
    OnBehalfOf { principal: Principal, cause: Cause },
    /// The engine, for itself (its own principal, which every check allows).
    Engine(Principal),
}

impl Actor {
    /// A request's caller.
    pub fn caller(principal: &Principal) -> Actor {
        Actor(Kind::Caller(principal.clone()))
    }

    /// The engine carrying on the work of the principal with id `id`, as the
    /// directory knows it now. Refused (with the reason) when there is no id or the
    /// principal no longer exists or is disabled. With security disabled every
    /// action is allowed, as for requests.
    pub fn on_behalf_of(
        directory: &Directory,
        mode: SecurityMode,
        id: Option<&str>,
        cause: Cause,
    ) -> Result<Actor, String> {
        if mode == SecurityMode::Disabled {
            return Ok(Actor(Kind::OnBehalfOf {
                principal: Principal::open(),
                cause,
            }));
        }
        let id = id.ok_or_else(|| {
            format!(
                "cannot {}: the workflow has no recorded starter to act as",
                cause.describe()
            )
        })?;
        let principal = principal_of(directory, id).ok_or_else(|| {
            format!(
                "cannot {}: principal {id}, whose work it is, no longer exists or is disabled",
                cause.describe()
            )
        })?;
        Ok(Actor(Kind::OnBehalfOf { principal, cause }))
    }

    /// The engine acting for itself, for the effects on its allow-list.
    pub(crate) fn engine() -> Actor {
        Actor(Kind::Engine(Principal::system()))
    }

    /// The principal whose rights the action is checked against (the engine's own
    /// principal, which every check allows, for [`Actor::engine`]).
    pub fn principal(&self) -> &Principal {
        match &self.0 {
            Kind::Caller(principal)
            | Kind::OnBehalfOf { principal, .. }
            | Kind::Engine(principal) => principal,
        }
    }

    /// The principal, owned.
    pub fn into_principal(self) -> Principal {
        match self.0 {
            Kind::Caller(principal)
            | Kind::OnBehalfOf { principal, .. }
            | Kind::Engine(principal) => principal,
        }
    }

    /// Why the engine acts, when it acts for someone.
    pub fn cause(&self) -> Option<Cause> {
        match &self.0 {
            Kind::OnBehalfOf { cause, .. } => Some(*cause),
            Kind::Caller(_) | Kind::Engine(_) => None,
        }
    }

    /// Whether this is the engine acting for itself.
    pub fn is_engine(&self) -> bool {
        matches!(self.0, Kind::Engine(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn work_for_a_missing_principal_fails_closed() {
        let directory = Directory::default();
        let missing = Actor::on_behalf_of(
            &directory,
            SecurityMode::Enforced,
            Some("app:gone"),
            Cause::SubWorkflow,
        );
        assert!(missing.is_err_and(|reason| reason.contains("no longer exists")));
        let nobody = Actor::on_behalf_of(&directory, SecurityMode::Enforced, None, Cause::HandOff);
        assert!(nobody.is_err_and(|reason| reason.contains("no recorded starter")));
    }
}
