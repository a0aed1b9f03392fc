//! Grants: who may do what on which resource, given by an administrator or the
//! resource's owner, the Orkes lookups over them, and why a decision came out as it
//! did.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::users::{
    UserService, group_not_found, parse_access, parse_accesses, parse_subject_type, principal_of,
    unknown, user_not_found,
};
use crate::error::{CoreError, CoreResult};
use crate::security::authz::Decision;
use crate::security::model::{
    Access, AccessSet, Grant, Role, Subject, SubjectType, Target, TargetType,
};
use crate::security::{Directory, Principal, Resource, ResourceType};
use crate::store::SecurityOp;

/// `AuthorizationRequest`, kept loose so that unknown types get a clear 400.
#[derive(Debug, Deserialize)]
pub struct AuthorizationRequest {
    pub subject: Option<RefRequest>,
    pub target: Option<RefRequest>,
    #[serde(default)]
    pub access: Vec<String>,
}

/// A `{type, id}` as sent.
#[derive(Debug, Deserialize)]
pub struct RefRequest {
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub id: String,
}

/// One entry of `grantedAccess`.
#[derive(Debug, Serialize)]
pub struct GrantedAccess {
    pub target: Target,
    pub access: AccessSet,
}

/// The answer to "why": the decision and what it rests on.
#[derive(Debug, Serialize)]
pub struct Explanation {
    pub subject: String,
    pub access: Access,
    pub target: Target,
    #[serde(flatten)]
    pub decision: Decision,
    /// The decision in one sentence.
    pub explanation: String,
}

fn parse_target(target: Option<&RefRequest>) -> CoreResult<Target> {
    let target = target.ok_or_else(|| CoreError::invalid("target is required"))?;
    let kind = TargetType::parse(&target.kind).ok_or_else(|| {
        unknown(
            "target type",
            &target.kind,
            TargetType::ALL.map(TargetType::name),
        )
    })?;
    if target.id.trim().is_empty() {
        return Err(CoreError::invalid("target.id is required"));
    }
    Ok(Target::new(kind, target.id.trim()))
}

/// Whether a grant of `access` on a definition reaches the work other principals
/// create from it: READ, EXECUTE and DELETE on a workflow definition also read,
/// operate and remove its executions, and UPDATE_PROCESS_INSTANCE and
/// DELETE_PROCESS_INSTANCE do nothing else; READ and EXECUTE on a task definition
/// also read its tasks and poll its queue.
pub fn reaches_work(kind: TargetType, access: Access) -> bool {
    match kind {
        TargetType::WorkflowDef => {
            matches!(access, Access::Read | Access::Execute | Access::Delete)
                || access.is_for_executions()
        }
        TargetType::TaskDef => matches!(access, Access::Read | Access::Execute),
        _ => false,
    }
}

/// Refuses Operate's per-definition permissions on a target that has no executions:
/// they are granted on a workflow definition, or on a tag that workflow definitions
/// carry.
fn check_applies(target: &Target, access: AccessSet) -> CoreResult<()> {
    if matches!(target.kind, TargetType::WorkflowDef | TargetType::Tag) {
        return Ok(());
    }
    match access.iter().find(|a| a.is_for_executions()) {
        Some(access) => Err(CoreError::invalid(format!(
            "{} applies to the executions of workflow definitions; it cannot be granted on {} {}",
            access.name(),
            target.kind.noun(),
            target.id
        ))),
        None => Ok(()),
    }
}

/// What `subject` holds on `target` in `directory`.
fn held_in(directory: &Directory, subject: &Subject, target: &Target) -> AccessSet {
    directory
        .holders(target.kind, &target.id)
        .find(|(s, _)| *s == subject)
        .map(|(_, a)| a)
        .unwrap_or(AccessSet::EMPTY)
}

/// The resource a grant target governs, for authorization questions.
fn resource_of(target: &Target) -> Resource<'_> {
    let kind = match target.kind {
        TargetType::WorkflowDef => ResourceType::WorkflowDef,
        TargetType::TaskDef => ResourceType::TaskDef,
        TargetType::SecretName => ResourceType::Secret,
        TargetType::EnvVariable => ResourceType::EnvVariable,
        TargetType::Application => ResourceType::Application,
        TargetType::Domain => ResourceType::Domain,
        TargetType::Tag => ResourceType::Tag,
        TargetType::WorkflowSchedule => ResourceType::Schedule,
        TargetType::Schema => ResourceType::Schema,
        TargetType::EventHandler => ResourceType::EventHandler,
    };
    Resource::new(kind, &target.id)
}

impl UserService {
    // ---- grants ------------------------------------------------------------------

    /// Whether the principal may give (`giving`) or take grants on `target`:
    /// administrators on anything; owners on what they own (not on tags or domains,
    /// which reach other people's resources), but an owner gives no access that
    /// reaches the work other principals create from a definition (see
    /// [`reaches_work`]): owning a name is not a path to other people's executions
    /// or tasks, for the owner or for anyone the owner chooses.
    fn may_manage_grants(
        &self,
        principal: &Principal,
        target: &Target,
        giving: AccessSet,
    ) -> CoreResult<()> {
        if self.rt.authorizer.require_admin(principal, "").is_ok() {
            return Ok(());
        }
        if let Some(access) = giving.iter().find(|a| reaches_work(target.kind, *a)) {
            return Err(CoreError::Forbidden(format!(
                "You don't have permissions to grant {} on {} {}: it reaches the executions and tasks others create from it, which only administrators may share",
                access.name(),
                target.kind.noun(),
                target.id
            )));
        }
        // Owning it, whatever else (a role) would also allow changing it.
        let owner = self
            .rt
            .authorizer
            .directory()
            .read()
            .owner(target.kind, &target.id)
            == Some(principal.id());
        if owner && !matches!(target.kind, TargetType::Tag | TargetType::Domain) {
            Ok(())
        } else {
            Err(CoreError::Forbidden(format!(
                "You don't have permissions to manage access to {} {}: only administrators and its owner may",
                target.kind.noun(),
                target.id
            )))
        }
    }

    fn parse_subject(&self, subject: Option<&RefRequest>) -> CoreResult<Subject> {
        let subject = subject.ok_or_else(|| CoreError::invalid("subject is required"))?;
        let kind = parse_subject_type(&subject.kind)?;
        let id = subject.id.trim();
        let directory = self.rt.access.directory().read();
        match kind {
            SubjectType::User => {
                let known = match id.strip_prefix("app:") {
                    Some(app) => directory.application(app).is_some(),
                    None => directory.user(id).is_some(),
                };
                if !known {
                    return Err(user_not_found(id));
                }
                Ok(Subject::user(id))
            }
            SubjectType::Group => {
                if directory.group(id).is_none() {
                    return Err(group_not_found(id));
                }
                Ok(Subject::group(id))
            }
            SubjectType::Role => match Role::parse(id) {
                Some(role) => Ok(Subject::role(role)),
                None if directory.custom_role(id).is_some() => Ok(Subject {
                    kind: SubjectType::Role,
                    id: id.to_string(),
                }),
                None => Err(super::roles::unknown_role(id)),
            },
        }
    }

    /// Grants accesses (added to what the subject already holds on the target).
    pub async fn grant(
        &self,
        principal: &Principal,
        request: AuthorizationRequest,
    ) -> CoreResult<()> {
        // Computed from the directory: first take in what other nodes changed.
        self.rt.access.fresh().await?;
        let target = parse_target(request.target.as_ref())?;
        let access = parse_accesses(&request.access)?;
        if access.is_empty() {
            return Err(CoreError::invalid("access must name at least one access"));
        }
        check_applies(&target, access)?;
        let subject = self.parse_subject(request.subject.as_ref())?;
        self.may_manage_grants(principal, &target, access)?;
        self.commit_held(subject, target, |held| Ok(held.union(access)))
            .await
    }

    /// Makes the subject's grant on the target exactly `access` (none: the grant
    /// goes), in one commit: what the console's permission row saves. Checked as a
    /// grant of the new accesses would be, before anything changes.
    pub async fn set_grant(
        &self,
        principal: &Principal,
        request: AuthorizationRequest,
    ) -> CoreResult<()> {
        // Computed from the directory: first take in what other nodes changed.
        self.rt.access.fresh().await?;
        let target = parse_target(request.target.as_ref())?;
        let access = parse_accesses(&request.access)?;
        check_applies(&target, access)?;
        let subject = self.parse_subject(request.subject.as_ref())?;
        let checked = self.held(&subject, &target);
        self.may_manage_grants(principal, &target, access.minus(checked))?;
        // What was checked is what is replaced: an access taken away meanwhile
        // (by an administrator, on any node) is not given back unchecked.
        self.commit_held(subject, target, |held| {
            if held == checked {
                Ok(access)
            } else {
                Err(CoreError::Conflict(
                    "The grant changed while the request was checked; try again".into(),
                ))
            }
        })
        .await
    }

    /// Takes accesses away (the rest of the subject's grant on the target stays).
    pub async fn revoke(
        &self,
        principal: &Principal,
        request: AuthorizationRequest,
    ) -> CoreResult<()> {
        // Computed from the directory: first take in what other nodes changed.
        self.rt.access.fresh().await?;
        let target = parse_target(request.target.as_ref())?;
        let access = parse_accesses(&request.access)?;
        let subject = self.parse_subject(request.subject.as_ref())?;
        self.may_manage_grants(principal, &target, AccessSet::EMPTY)?;
        self.commit_held(subject, target, |held| Ok(held.minus(access)))
            .await
    }

    /// Writes the subject's grant on the target as `next` makes it from what the
    /// subject holds when the change commits (none: the grant goes), so nothing
    /// granted or taken away meanwhile, by another request or node, is written
    /// over. `next` may refuse.
    async fn commit_held(
        &self,
        subject: Subject,
        target: Target,
        next: impl Fn(AccessSet) -> CoreResult<AccessSet>,
    ) -> CoreResult<()> {
        let mut refused = None;
        self.rt
            .access
            .commit_with(|directory| {
                refused = None;
                match next(held_in(directory, &subject, &target)) {
                    Err(err) => {
                        refused = Some(err);
                        Vec::new()
                    }
                    Ok(access) if access.is_empty() => vec![SecurityOp::DeleteGrant {
                        subject: subject.clone(),
                        target: target.clone(),
                    }],
                    Ok(access) => vec![SecurityOp::PutGrant(Grant {
                        subject: subject.clone(),
                        target: target.clone(),
                        access,
                    })],
                }
            })
            .await?;
        refused.map_or(Ok(()), Err)
    }

    fn held(&self, subject: &Subject, target: &Target) -> AccessSet {
        held_in(&self.rt.access.directory().read(), subject, target)
    }

    /// Who holds what on one resource: `{ACCESS: [subject]}`. Admin or owner.
    pub fn grants_on(&self, principal: &Principal, kind: &str, id: &str) -> CoreResult<Value> {
        let target = parse_target(Some(&RefRequest {
            kind: kind.to_string(),
            id: id.to_string(),
        }))?;
        self.may_manage_grants(principal, &target, AccessSet::EMPTY)?;
        let directory = self.rt.access.directory().read();
        let mut by_access: BTreeMap<&'static str, Vec<&Subject>> = BTreeMap::new();
        for (subject, access) in directory.holders(target.kind, &target.id) {
            for a in access.iter() {
                by_access.entry(a.name()).or_default().push(subject);
            }
        }
        Ok(json!(by_access))
    }

    /// The grants a user (or `app:<id>`) holds directly: `{grantedAccess: [...]}`.
    /// Admin, or the user themself.
    pub fn user_permissions(&self, principal: &Principal, id: &str) -> CoreResult<Value> {
        if principal.id() != id {
            self.admin(principal, "read other users' permissions")?;
        }
        let directory = self.rt.access.directory().read();
        principal_of(&directory, id)?;
        Ok(granted(&directory, &Subject::user(id)))
    }

    /// `GET /api/auth/subjects/{type}/{id}/grants`: a subject's grants as
    /// `[{target, access}]`, optionally of one target type. Admin, or about oneself.
    pub fn subject_grants(
        &self,
        principal: &Principal,
        kind: &str,
        id: &str,
        resource_type: Option<&str>,
    ) -> CoreResult<Vec<GrantedAccess>> {
        let kind = parse_subject_type(kind)?;
        if !(kind == SubjectType::User && principal.id() == id) {
            self.admin(principal, "read other subjects' grants")?;
        }
        let only = resource_type
            .map(|t| {
                TargetType::parse(t).ok_or_else(|| {
                    unknown("resource type", t, TargetType::ALL.map(TargetType::name))
                })
            })
            .transpose()?;
        let subject = Subject {
            kind,
            id: id.to_string(),
        };
        let directory = self.rt.access.directory().read();
        let mut list: Vec<GrantedAccess> = directory
            .all_grants()
            .filter(|g| g.subject == subject && only.is_none_or(|k| g.target.kind == k))
            .map(|g| GrantedAccess {
                target: g.target,
                access: g.access,
            })
            .collect();
        list.sort_by(|a, b| a.target.cmp(&b.target));
        Ok(list)
    }

    /// The grants a group holds. Admin only.
    pub fn group_permissions(&self, principal: &Principal, id: &str) -> CoreResult<Value> {
        self.admin(principal, "read groups' permissions")?;
        let directory = self.rt.access.directory().read();
        if directory.group(id).is_none() {
            return Err(group_not_found(id));
        }
        Ok(granted(&directory, &Subject::group(id)))
    }

    /// `checkPermissions`: what a user may do on one resource, `{ACCESS: bool}`.
    /// Admin, or the user themself.
    pub fn check_permissions(
        &self,
        principal: &Principal,
        user_id: &str,
        kind: &str,
        id: &str,
    ) -> CoreResult<Value> {
        if principal.id() != user_id {
            self.admin(principal, "check other users' permissions")?;
        }
        let target = parse_target(Some(&RefRequest {
            kind: kind.to_string(),
            id: id.to_string(),
        }))?;
        let subject = {
            let directory = self.rt.access.directory().read();
            principal_of(&directory, user_id)?
        };
        let mut out = serde_json::Map::new();
        for access in Access::ALL {
            let allowed = self
                .rt
                .authorizer
                .can(&subject, access, resource_of(&target));
            out.insert(access.name().to_string(), Value::Bool(allowed));
        }
        Ok(Value::Object(out))
    }

    /// Whether `subject_id` (the caller when none) may do `access` on a target, and
    /// what allows it, or that nothing does. Admin, or about oneself.
    pub fn explain(
        &self,
        principal: &Principal,
        subject_id: Option<&str>,
        access: &str,
        kind: &str,
        id: &str,
    ) -> CoreResult<Explanation> {
        let access = parse_access(access)?;
        let target = parse_target(Some(&RefRequest {
            kind: kind.to_string(),
            id: id.to_string(),
        }))?;
        let subject = match subject_id.filter(|s| !s.trim().is_empty() && *s != principal.id()) {
            None => principal.clone(),
            Some(other) => {
                self.admin(principal, "explain other principals' access")?;
                let directory = self.rt.access.directory().read();
                principal_of(&directory, other.trim())?
            }
        };
        let decision = self
            .rt
            .authorizer
            .decide(&subject, access, resource_of(&target));
        let explanation = match (&decision.via, &decision.missing) {
            (Some(via), _) => format!(
                "{} may {} {} {}: {via}",
                subject.id(),
                access.verb(),
                target.kind.noun(),
                target.id
            ),
            (None, Some(missing)) => format!(
                "{} may not {} {} {}: nothing allows it (it needs {missing}, from a role, a grant to it, its groups or roles, a tag or domain grant, or ownership)",
                subject.id(),
                access.verb(),
                target.kind.noun(),
                target.id
            ),
            (None, None) => format!("{} may not {} it", subject.id(), access.verb()),
        };
        Ok(Explanation {
            subject: subject.id().to_string(),
            access,
            target,
            decision,
            explanation,
        })
    }
}

fn granted(directory: &Directory, subject: &Subject) -> Value {
    let mut list: Vec<GrantedAccess> = directory
        .all_grants()
        .filter(|g| g.subject == *subject)
        .map(|g| GrantedAccess {
            target: g.target,
            access: g.access,
        })
        .collect();
    list.sort_by(|a, b| a.target.cmp(&b.target));
    json!({ "grantedAccess": list })
}
