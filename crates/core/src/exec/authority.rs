//! What running a workflow definition needs, and whose authority a run carries.
//!
//! The rules (see `docs/architecture.md`, "Threat model"):
//!
//! 1. A run acts as its starter. Starting a definition needs EXECUTE on it, on every
//!    worker task it schedules, and READ on every secret and environment variable
//!    its tasks name — checked for the starter whenever the engine acts for the run,
//!    not only at the API: a sub-workflow, a failure workflow, a system task, a task
//!    handed to its worker, a restart.
//! 2. A definition is code. The starter vouches for the definition they start (and
//!    its author); children and failure workflows inherit that. A definition whose
//!    author the run does not vouch for runs only if its author may read the data
//!    the run hands it, and from then on everything the run does must be allowed to
//!    that author as well (a cosigner): someone else's code gets no more than its
//!    author holds, whoever runs it.
//! 3. Principals are looked up when the engine acts; one that no longer exists, or
//!    is disabled, stops the work (fail closed).

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::engine::TaskKind;
use crate::engine::state::Authority;
use crate::error::{CoreError, CoreResult};
use crate::model::{Workflow, WorkflowDef};
use crate::security::{Access, Actor, Cause, Principal, PrincipalKind, Resource, SecurityMode};
use crate::service::Runtime;
use crate::service::handoff::{self, Reference};

/// The principal recorded as having written a definition version: who last wrote
/// it, else who created it.
pub fn author_of(def: &WorkflowDef) -> Option<&str> {
    def.updated_by
        .as_deref()
        .or(def.created_by.as_deref())
        .filter(|a| !a.is_empty())
}

/// Everything a run of one definition revision does that needs a permission.
pub struct RunNeeds<'d> {
    def: &'d WorkflowDef,
    references: Arc<BTreeSet<Reference>>,
}

impl<'d> RunNeeds<'d> {
    /// The needs of a definition revision.
    pub fn of(rt: &Runtime, def: &'d WorkflowDef, revision: &str) -> RunNeeds<'d> {
        RunNeeds {
            def,
            references: rt.handoffs.definition_references(revision, def),
        }
    }

    /// The secrets and environment variables the definition's tasks name.
    pub fn references(&self) -> &BTreeSet<Reference> {
        &self.references
    }
}

/// Allows `principal` everything a run of the definition does: EXECUTE on it and
/// on every worker task it schedules, READ on every secret and environment variable
/// it names. The refusal names the first thing missing.
pub fn check_run(rt: &Runtime, principal: &Principal, needs: &RunNeeds<'_>) -> CoreResult<()> {
    let authz = &rt.authorizer;
    authz.authorize(
        principal,
        Access::Execute,
        Resource::workflow_def(&needs.def.name),
    )?;
    for task in needs.def.all_tasks() {
        if TaskKind::of(&task.task_type).is_worker_task() {
            authz.authorize(principal, Access::Execute, Resource::task_def(&task.name))?;
        }
    }
    for r in needs.references.iter() {
        authz.authorize(principal, Access::Read, handoff::resource(r.kind, &r.name))?;
    }
    Ok(())
}

/// Whether `principal` may take `access` on one execution: through the grants on its
/// definition, or as the principal who started it (who may read, operate and remove
/// their own runs; re-running one is checked against the run's own principals as
/// well, see `exec::command`).
pub fn may_access_execution(
    rt: &Runtime,
    principal: &Principal,
    access: Access,
    workflow: &Workflow,
) -> bool {
    let own = (matches!(access, Access::Read | Access::Execute | Access::Delete)
        || access.is_for_executions())
        && workflow.created_by.as_deref() == Some(principal.id());
    own || rt.authorizer.can(
        principal,
        access,
        Resource::workflow(&workflow.workflow_name),
    )
}

/// The authority of a run its starter starts: the starter vouches for the
/// definition they chose, and so for its author.
pub fn for_start(principal: &Principal, def: &WorkflowDef) -> Authority {
    let mut vouched = vec![principal.id().to_string()];
    if let Some(author) = author_of(def)
        && author != principal.id()
    {
        vouched.push(author.to_string());
    }
    Authority {
        vouched,
        cosigners: Vec::new(),
        generation: 0,
    }
}

/// The principals a run acts as, looked up now: its starter, then its cosigners.
/// Refused when any no longer exists (fail closed).
pub fn principals_of_run(
    rt: &Runtime,
    starter: Option<&str>,
    authority: &Authority,
    cause: Cause,
) -> Result<Vec<(String, Principal)>, String> {
    let directory = rt.authorizer.directory().read();
    let mode = rt.authorizer.mode();
    let mut out = Vec::with_capacity(1 + authority.cosigners.len());
    let actor = Actor::on_behalf_of(&directory, mode, starter, cause)?;
    out.push((
        format!("the workflow's starter {}", starter.unwrap_or("")),
        actor.into_principal(),
    ));
    for cosigner in &authority.cosigners {
        let actor = Actor::on_behalf_of(&directory, mode, Some(cosigner), cause)?;
        out.push((
            format!("{cosigner}, who wrote a definition it runs"),
            actor.into_principal(),
        ));
    }
    Ok(out)
}

/// A run handing work to a definition: a parent starting its child, a failed
/// workflow its failure workflow, a restart on another definition.
pub struct Handover<'a> {
    /// The run whose data and authority the new run gets.
    pub from: &'a Workflow,
    /// That run's authority.
    pub authority: &'a Authority,
    pub cause: Cause,
}

/// Authorizes running `def` for the run handing over (rules 1–3 above), and returns
/// the authority the new run carries. The refusal says who may not do what.
pub fn delegate(
    rt: &Runtime,
    handover: &Handover<'_>,
    def: &WorkflowDef,
    revision: &str,
) -> Result<Authority, String> {
    let mut authority = handover.authority.clone();
    if rt.authorizer.mode() == SecurityMode::Disabled {
        return Ok(authority);
    }
    let from = handover.from;
    let author = author_of(def).ok_or_else(|| {
        format!(
            "workflow definition {} has no recorded author to vouch for it",
            def.name
        )
    })?;
    // A run recorded before authorities were kept vouches for its starter.
    let vouched = authority.vouches_for(author) || from.created_by.as_deref() == Some(author);
    if !vouched && !authority.cosigners.iter().any(|c| c == author) {
        let directory = rt.authorizer.directory().read();
        let writer = Actor::on_behalf_of(
            &directory,
            rt.authorizer.mode(),
            Some(author),
            handover.cause,
        )?
        .into_principal();
        drop(directory);
        if !may_access_execution(rt, &writer, Access::Read, from) {
            return Err(format!(
                "workflow definition {} was written by {author}, who may not read the data of workflow {} that it would receive",
                def.name, from.workflow_name
            ));
        }
        authority.cosigners.push(author.to_string());
    }
    let needs = RunNeeds::of(rt, def, revision);
    for (who, principal) in
        principals_of_run(rt, from.created_by.as_deref(), &authority, handover.cause)?
    {
        check_run(rt, &principal, &needs).map_err(|err| refused_for(&who, &err))?;
    }
    Ok(authority)
}

/// A principal that hands a run data of its own after its start (a rerun's workflow
/// or task input, a skipped task's input or output), or makes it start work (a
/// terminate that triggers its failure workflow, whose input carries the caller's
/// reason), is from then on one of the run's principals (a cosigner), unless the
/// run already acts as it or vouches for it. The run interprets that data as it goes: a `SUB_WORKFLOW` task's input names
/// the child or carries an inline definition (which counts as the parent
/// definition's author's), an `UPDATE_SECRET` task's input names the secret it
/// writes, a failure workflow's name can come from the input. Without this, the
/// data would run with the starter's authority, beyond what its sender may do.
pub fn feeds_data(
    rt: &Runtime,
    authority: &mut Authority,
    starter: Option<&str>,
    principal: &Principal,
) {
    if rt.authorizer.mode() == SecurityMode::Disabled
        || !matches!(
            principal.kind(),
            PrincipalKind::User | PrincipalKind::Application
        )
    {
        return;
    }
    let id = principal.id();
    if starter == Some(id)
        || authority.vouches_for(id)
        || authority.cosigners.iter().any(|c| c == id)
    {
        return;
    }
    authority.cosigners.push(id.to_string());
}

/// A refusal for one of a run's principals, as a task's or a log's reason.
pub fn refused_for(who: &str, err: &CoreError) -> String {
    match err {
        CoreError::Forbidden(message) => format!("{who} is refused: {message}"),
        other => format!("{who}: {}", other.public_message()),
    }
}
