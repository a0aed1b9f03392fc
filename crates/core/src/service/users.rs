//! Users, groups and grants: who holds which roles, who belongs where, who may do what
//! on which resource, and why a decision came out as it did. Managing users and
//! groups is for administrators; a grant on a resource may be given by an
//! administrator or by the resource's owner.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::identity::role_view;
use super::runtime::Runtime;
use crate::error::{CoreError, CoreResult};
use crate::security::authz::{Decision, Via};
use crate::security::model::{
    Access, AccessSet, Grant, Group, Role, Subject, SubjectType, Target, TargetType, User,
    application_user_id,
};
use crate::security::{
    Directory, Principal, PrincipalKind, Resource, ResourceType, principal_for_user,
};
use crate::store::SecurityOp;

/// Longest id of a user or a group.
const MAX_ID: usize = 256;

/// `UpsertUserRequest`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct UpsertUser {
    pub name: Option<String>,
    pub roles: Option<Vec<String>>,
    pub groups: Option<Vec<String>>,
    /// Podium's addition: a disabled user's tokens are refused from the next request.
    pub disabled: Option<bool>,
}

/// `UpsertGroupRequest`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct UpsertGroup {
    pub description: Option<String>,
    pub roles: Option<Vec<String>>,
    pub default_access: Option<BTreeMap<String, Vec<String>>>,
}

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

fn user_not_found(id: &str) -> CoreError {
    CoreError::NotFound(format!("User '{id}' not found"))
}

fn group_not_found(id: &str) -> CoreError {
    CoreError::NotFound(format!("Group '{id}' not found"))
}

fn check_id(kind: &str, id: &str) -> CoreResult<()> {
    if id.trim().is_empty() || id.len() > MAX_ID || id.chars().any(char::is_control) {
        return Err(CoreError::invalid(format!(
            "A {kind} id must hold 1 to {MAX_ID} characters and no control characters"
        )));
    }
    Ok(())
}

fn parse_roles(names: &[String], for_group: bool) -> CoreResult<Vec<Role>> {
    let mut roles = BTreeSet::new();
    for name in names {
        let role = Role::parse(name).ok_or_else(|| {
            CoreError::invalid(format!(
                "Unknown role '{name}'; roles: {}",
                Role::ALL
                    .iter()
                    .map(|r| r.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?;
        if for_group && role == Role::UserReadOnly {
            return Err(CoreError::invalid(
                "USER_READ_ONLY cannot be given to a group",
            ));
        }
        roles.insert(role);
    }
    Ok(roles.into_iter().collect())
}

fn parse_accesses(names: &[String]) -> CoreResult<AccessSet> {
    names
        .iter()
        .map(|name| {
            Access::parse(name).ok_or_else(|| {
                CoreError::invalid(format!(
                    "Unknown access '{name}'; accesses: CREATE, READ, UPDATE, EXECUTE, DELETE"
                ))
            })
        })
        .collect()
}

fn parse_target(target: Option<&RefRequest>) -> CoreResult<Target> {
    let target = target.ok_or_else(|| CoreError::invalid("target is required"))?;
    let kind = TargetType::parse(&target.kind).ok_or_else(|| {
        CoreError::invalid(format!(
            "Unknown target type '{}'; target types: {}",
            target.kind,
            TargetType::ALL
                .iter()
                .map(|t| t.name())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })?;
    if target.id.trim().is_empty() {
        return Err(CoreError::invalid("target.id is required"));
    }
    Ok(Target::new(kind, target.id.trim()))
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
    };
    Resource::new(kind, &target.id)
}

/// The principal a user id names: a user, or an application as `app:<id>`.
pub fn principal_of(directory: &Directory, id: &str) -> CoreResult<Principal> {
    if let Some(app_id) = id.strip_prefix("app:") {
        let app = directory
            .application(app_id)
            .ok_or_else(|| user_not_found(id))?;
        return Ok(Principal::resolved_application(app));
    }
    if directory.user(id).is_none() {
        return Err(user_not_found(id));
    }
    principal_for_user(directory, id).map_err(|_| user_not_found(id))
}

/// Users, groups and grants.
#[derive(Clone)]
pub struct UserService {
    rt: Arc<Runtime>,
}

impl UserService {
    /// The service over a runtime.
    pub fn new(rt: Arc<Runtime>) -> UserService {
        UserService { rt }
    }

    fn admin(&self, principal: &Principal, what: &str) -> CoreResult<()> {
        self.rt.authorizer.require_admin(principal, what)
    }

    fn group_view(group: &Group) -> Value {
        json!({
            "id": group.id,
            "description": group.description,
            "roles": group.roles.iter().map(|r| role_view(*r)).collect::<Vec<_>>(),
            "defaultAccess": group.default_access,
            "contactInformation": {},
        })
    }

    fn user_view(directory: &Directory, user: &User) -> Value {
        json!({
            "id": user.id,
            "name": user.name,
            "roles": user.roles.iter().map(|r| role_view(*r)).collect::<Vec<_>>(),
            "groups": user.groups.iter().filter_map(|g| directory.group(g)).map(Self::group_view).collect::<Vec<_>>(),
            "uuid": user.id,
            "applicationUser": false,
            "disabled": user.disabled,
            "contactInformation": {},
            "namespace": "podium",
        })
    }

    fn app_user_view(app: &crate::security::model::Application) -> Value {
        json!({
            "id": app.user_id(),
            "name": app.name,
            "roles": app.roles.iter().map(|r| role_view(*r)).collect::<Vec<_>>(),
            "groups": [],
            "uuid": app.user_id(),
            "applicationUser": true,
            "contactInformation": {},
            "namespace": "podium",
        })
    }

    // ---- users -------------------------------------------------------------------

    /// Every user, and with `apps` every application as its user. Admin only.
    pub fn list_users(&self, principal: &Principal, apps: bool) -> CoreResult<Vec<Value>> {
        self.admin(principal, "list users")?;
        let directory = self.rt.access.directory().read();
        let mut users: Vec<&User> = directory.users().collect();
        users.sort_by(|a, b| a.id.cmp(&b.id));
        let mut out: Vec<Value> = users
            .iter()
            .map(|u| Self::user_view(&directory, u))
            .collect();
        if apps {
            let mut apps: Vec<_> = directory.applications().collect();
            apps.sort_by(|a, b| a.id.cmp(&b.id));
            out.extend(apps.into_iter().map(Self::app_user_view));
        }
        Ok(out)
    }

    /// One user (`app:<id>` for an application). Admin, or the user themself.
    pub fn get_user(&self, principal: &Principal, id: &str) -> CoreResult<Value> {
        if principal.id() != id {
            self.admin(principal, "read other users")?;
        }
        let directory = self.rt.access.directory().read();
        if let Some(app_id) = id.strip_prefix("app:") {
            return directory
                .application(app_id)
                .map(Self::app_user_view)
                .ok_or_else(|| user_not_found(id));
        }
        directory
            .user(id)
            .map(|u| Self::user_view(&directory, u))
            .ok_or_else(|| user_not_found(id))
    }

    /// Creates or updates a user. Admin only. Absent fields keep their values.
    pub async fn upsert_user(
        &self,
        principal: &Principal,
        id: &str,
        request: UpsertUser,
    ) -> CoreResult<Value> {
        self.admin(principal, "manage users")?;
        check_id("user", id)?;
        if id.starts_with("app:") {
            return Err(CoreError::invalid(
                "Application users are managed through /api/applications",
            ));
        }
        let roles = request
            .roles
            .as_deref()
            .map(|r| parse_roles(r, false))
            .transpose()?;
        let now = self.rt.now();
        let existing = self.rt.access.directory().read().user(id).cloned();
        let mut user = existing.unwrap_or_else(|| User {
            id: id.to_string(),
            name: id.to_string(),
            roles: vec![Role::User],
            groups: Vec::new(),
            password_hash: None,
            disabled: false,
            create_time: now,
            update_time: now,
        });
        if let Some(name) = request.name.filter(|n| !n.trim().is_empty()) {
            user.name = name.trim().to_string();
        }
        if let Some(roles) = roles {
            user.roles = roles;
        }
        if let Some(groups) = request.groups {
            let directory = self.rt.access.directory().read();
            let mut set = BTreeSet::new();
            for group in groups {
                if directory.group(&group).is_none() {
                    return Err(group_not_found(&group));
                }
                set.insert(group);
            }
            if user.roles.contains(&Role::UserReadOnly) && !set.is_empty() {
                return Err(CoreError::invalid(
                    "A USER_READ_ONLY user cannot be added to groups",
                ));
            }
            user.groups = set.into_iter().collect();
        }
        if let Some(disabled) = request.disabled {
            if disabled && principal.id() == id {
                return Err(CoreError::invalid("You cannot disable yourself"));
            }
            user.disabled = disabled;
        }
        user.update_time = now;
        self.rt
            .access
            .commit(vec![SecurityOp::PutUser(user.clone())])
            .await?;
        let directory = self.rt.access.directory().read();
        Ok(Self::user_view(&directory, &user))
    }

    /// Deletes a user with their grants; their tokens stop working at once. Admin
    /// only; nobody deletes themself.
    pub async fn delete_user(&self, principal: &Principal, id: &str) -> CoreResult<()> {
        self.admin(principal, "manage users")?;
        if principal.id() == id {
            return Err(CoreError::invalid("You cannot delete yourself"));
        }
        let ops = {
            let directory = self.rt.access.directory().read();
            if directory.user(id).is_none() {
                return Err(user_not_found(id));
            }
            let mut ops = grants_of_subject(&directory, &Subject::user(id));
            ops.push(SecurityOp::DeleteUser(id.to_string()));
            ops
        };
        self.rt.access.commit(ops).await
    }

    // ---- groups ------------------------------------------------------------------

    /// Every group. Admin only.
    pub fn list_groups(&self, principal: &Principal) -> CoreResult<Vec<Value>> {
        self.admin(principal, "list groups")?;
        let directory = self.rt.access.directory().read();
        let mut groups: Vec<&Group> = directory.groups().collect();
        groups.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(groups.into_iter().map(Self::group_view).collect())
    }

    /// One group. Admin only.
    pub fn get_group(&self, principal: &Principal, id: &str) -> CoreResult<Value> {
        self.admin(principal, "read groups")?;
        self.rt
            .access
            .directory()
            .read()
            .group(id)
            .map(Self::group_view)
            .ok_or_else(|| group_not_found(id))
    }

    /// Creates or updates a group. Admin only.
    pub async fn upsert_group(
        &self,
        principal: &Principal,
        id: &str,
        request: UpsertGroup,
    ) -> CoreResult<Value> {
        self.admin(principal, "manage groups")?;
        check_id("group", id)?;
        let roles = request
            .roles
            .as_deref()
            .map(|r| parse_roles(r, true))
            .transpose()?;
        let default_access = match request.default_access {
            None => None,
            Some(map) => {
                let mut parsed = BTreeMap::new();
                for (kind, accesses) in map {
                    let kind = match TargetType::parse(&kind) {
                        Some(k @ (TargetType::WorkflowDef | TargetType::TaskDef)) => k,
                        _ => {
                            return Err(CoreError::invalid(format!(
                                "defaultAccess takes WORKFLOW_DEF and TASK_DEF, not '{kind}'"
                            )));
                        }
                    };
                    parsed.insert(kind, parse_accesses(&accesses)?);
                }
                Some(parsed)
            }
        };
        let now = self.rt.now();
        let existing = self.rt.access.directory().read().group(id).cloned();
        let mut group = match existing {
            Some(group) => group,
            None => Group {
                id: id.to_string(),
                description: String::new(),
                roles: Vec::new(),
                default_access: BTreeMap::new(),
                create_time: now,
                update_time: now,
            },
        };
        match request.description {
            Some(d) => group.description = d,
            None if group.description.is_empty() => {
                return Err(CoreError::invalid("description is required"));
            }
            None => {}
        }
        if let Some(roles) = roles {
            group.roles = roles;
        }
        if let Some(default_access) = default_access {
            group.default_access = default_access;
        }
        group.update_time = now;
        self.rt
            .access
            .commit(vec![SecurityOp::PutGroup(group.clone())])
            .await?;
        Ok(Self::group_view(&group))
    }

    /// Deletes a group: its members leave it, its grants go. Admin only.
    pub async fn delete_group(&self, principal: &Principal, id: &str) -> CoreResult<()> {
        self.admin(principal, "manage groups")?;
        let ops = {
            let directory = self.rt.access.directory().read();
            if directory.group(id).is_none() {
                return Err(group_not_found(id));
            }
            let mut ops = grants_of_subject(&directory, &Subject::group(id));
            for user in directory
                .users()
                .filter(|u| u.groups.iter().any(|g| g == id))
            {
                let mut user = user.clone();
                user.groups.retain(|g| g != id);
                ops.push(SecurityOp::PutUser(user));
            }
            ops.push(SecurityOp::DeleteGroup(id.to_string()));
            ops
        };
        self.rt.access.commit(ops).await
    }

    /// The members of a group. Admin only.
    pub fn group_users(&self, principal: &Principal, id: &str) -> CoreResult<Vec<Value>> {
        self.admin(principal, "read groups")?;
        let directory = self.rt.access.directory().read();
        if directory.group(id).is_none() {
            return Err(group_not_found(id));
        }
        let mut users: Vec<&User> = directory
            .users()
            .filter(|u| u.groups.iter().any(|g| g == id))
            .collect();
        users.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(users
            .into_iter()
            .map(|u| Self::user_view(&directory, u))
            .collect())
    }

    /// Adds users to a group, or takes them out. Admin only.
    pub async fn change_members(
        &self,
        principal: &Principal,
        group_id: &str,
        user_ids: Vec<String>,
        add: bool,
    ) -> CoreResult<()> {
        self.admin(principal, "manage groups")?;
        let ops = {
            let directory = self.rt.access.directory().read();
            if directory.group(group_id).is_none() {
                return Err(group_not_found(group_id));
            }
            let mut ops = Vec::new();
            for user_id in &user_ids {
                let mut user = directory
                    .user(user_id)
                    .cloned()
                    .ok_or_else(|| user_not_found(user_id))?;
                let member = user.groups.iter().any(|g| g == group_id);
                if add && !member {
                    if user.roles.contains(&Role::UserReadOnly) {
                        return Err(CoreError::invalid(format!(
                            "User '{user_id}' is USER_READ_ONLY and cannot join groups"
                        )));
                    }
                    user.groups.push(group_id.to_string());
                    user.groups.sort();
                } else if !add && member {
                    user.groups.retain(|g| g != group_id);
                } else {
                    continue;
                }
                ops.push(SecurityOp::PutUser(user));
            }
            ops
        };
        self.rt.access.commit(ops).await
    }

    // ---- grants ------------------------------------------------------------------

    /// Whether the principal may give or take grants on `target`: administrators on
    /// anything, owners on what they own (not on tags or domains, which reach other
    /// people's resources).
    fn may_manage_grants(&self, principal: &Principal, target: &Target) -> CoreResult<()> {
        if self.rt.authorizer.require_admin(principal, "").is_ok() {
            return Ok(());
        }
        let owner = matches!(
            self.rt
                .authorizer
                .decide(principal, Access::Update, resource_of(target))
                .via,
            Some(Via::Owner)
        );
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
        let kind = SubjectType::parse(&subject.kind).ok_or_else(|| {
            CoreError::invalid(format!(
                "Unknown subject type '{}'; subject types: USER, ROLE, GROUP",
                subject.kind
            ))
        })?;
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
            SubjectType::Role => Role::parse(id)
                .map(Subject::role)
                .ok_or_else(|| CoreError::invalid(format!("Unknown role '{id}'"))),
        }
    }

    /// Grants accesses (added to what the subject already holds on the target).
    pub async fn grant(
        &self,
        principal: &Principal,
        request: AuthorizationRequest,
    ) -> CoreResult<()> {
        let target = parse_target(request.target.as_ref())?;
        let access = parse_accesses(&request.access)?;
        if access.is_empty() {
            return Err(CoreError::invalid("access must name at least one access"));
        }
        let subject = self.parse_subject(request.subject.as_ref())?;
        self.may_manage_grants(principal, &target)?;
        let held = self.held(&subject, &target);
        self.rt
            .access
            .commit(vec![SecurityOp::PutGrant(Grant {
                subject,
                target,
                access: held.union(access),
            })])
            .await
    }

    /// Takes accesses away (the rest of the subject's grant on the target stays).
    pub async fn revoke(
        &self,
        principal: &Principal,
        request: AuthorizationRequest,
    ) -> CoreResult<()> {
        let target = parse_target(request.target.as_ref())?;
        let access = parse_accesses(&request.access)?;
        let subject = self.parse_subject(request.subject.as_ref())?;
        self.may_manage_grants(principal, &target)?;
        let left = self.held(&subject, &target).minus(access);
        let op = if left.is_empty() {
            SecurityOp::DeleteGrant { subject, target }
        } else {
            SecurityOp::PutGrant(Grant {
                subject,
                target,
                access: left,
            })
        };
        self.rt.access.commit(vec![op]).await
    }

    fn held(&self, subject: &Subject, target: &Target) -> AccessSet {
        self.rt
            .access
            .directory()
            .read()
            .holders(target.kind, &target.id)
            .find(|(s, _)| *s == subject)
            .map(|(_, a)| a)
            .unwrap_or(AccessSet::EMPTY)
    }

    /// Who holds what on one resource: `{ACCESS: [subject]}`. Admin or owner.
    pub fn grants_on(&self, principal: &Principal, kind: &str, id: &str) -> CoreResult<Value> {
        let target = parse_target(Some(&RefRequest {
            kind: kind.to_string(),
            id: id.to_string(),
        }))?;
        self.may_manage_grants(principal, &target)?;
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
        let kind = SubjectType::parse(kind).ok_or_else(|| {
            CoreError::invalid(format!(
                "Unknown subject type '{kind}'; subject types: USER, ROLE, GROUP"
            ))
        })?;
        if !(kind == SubjectType::User && principal.id() == id) {
            self.admin(principal, "read other subjects' grants")?;
        }
        let only = resource_type
            .map(|t| {
                TargetType::parse(t)
                    .ok_or_else(|| CoreError::invalid(format!("Unknown resource type '{t}'")))
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
        let access = Access::parse(access).ok_or_else(|| {
            CoreError::invalid(format!(
                "Unknown access '{access}'; accesses: CREATE, READ, UPDATE, EXECUTE, DELETE"
            ))
        })?;
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

/// Removing every grant a subject holds.
fn grants_of_subject(directory: &Directory, subject: &Subject) -> Vec<SecurityOp> {
    directory
        .all_grants()
        .filter(|g| g.subject == *subject)
        .map(|g| SecurityOp::DeleteGrant {
            subject: g.subject,
            target: g.target,
        })
        .collect()
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

impl Principal {
    /// An application as a principal (no key), for questions about it.
    pub(crate) fn resolved_application(app: &crate::security::model::Application) -> Principal {
        Principal::resolved(
            application_user_id(&app.id),
            PrincipalKind::Application,
            app.name.clone(),
            app.roles.iter().copied().collect(),
            Vec::new(),
            None,
        )
    }
}
