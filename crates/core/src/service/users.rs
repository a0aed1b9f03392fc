//! Users and groups: who holds which roles and who belongs where. Managing them is
//! for administrators. Grants and explanations are in `grants`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Value, json};

use super::passwords::new_password_hash;
use super::roles::{RoleNames, held_roles_view};
use super::runtime::Runtime;
use crate::error::{CoreError, CoreResult};
use crate::security::model::{
    Access, AccessSet, Group, IdentitySource, Role, Subject, SubjectType, TargetType, User,
};
use crate::security::password::check_imported_hash;
use crate::security::{Directory, Principal};
use crate::store::SecurityOp;

/// Longest id of a user or a group.
const MAX_ID: usize = 256;

/// `UpsertUserRequest`. Its `Debug` shows no password.
#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct UpsertUser {
    pub name: Option<String>,
    #[serde(deserialize_with = "crate::model::serde_util::one_or_many")]
    pub roles: Option<Vec<String>>,
    pub groups: Option<Vec<String>>,
    /// Podium's addition: a disabled user's tokens are refused from the next request.
    pub disabled: Option<bool>,
    /// Podium's addition: a password for built-in sign-in, which must meet the policy.
    pub password: Option<String>,
    /// Podium's addition: a hash brought from elsewhere instead (bcrypt or argon2id).
    pub password_hash: Option<String>,
    /// Podium's addition: the user is the person of this identity source (`LDAP`,
    /// `OIDC`) who signs in with this id, made ready before their first sign-in.
    pub identity_source: Option<IdentitySource>,
}

impl std::fmt::Debug for UpsertUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpsertUser")
            .field("name", &self.name)
            .field("roles", &self.roles)
            .field("groups", &self.groups)
            .field("disabled", &self.disabled)
            .field("identity_source", &self.identity_source)
            .finish_non_exhaustive()
    }
}

/// `UpsertGroupRequest`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct UpsertGroup {
    pub description: Option<String>,
    #[serde(deserialize_with = "crate::model::serde_util::one_or_many")]
    pub roles: Option<Vec<String>>,
    pub default_access: Option<BTreeMap<String, Vec<String>>>,
}

pub(super) fn user_not_found(id: &str) -> CoreError {
    CoreError::NotFound(format!("User '{id}' not found"))
}

pub(super) fn group_not_found(id: &str) -> CoreError {
    CoreError::NotFound(format!("Group '{id}' not found"))
}

pub(super) fn check_id(kind: &str, id: &str) -> CoreResult<()> {
    if id.trim().is_empty() || id.len() > MAX_ID || id.chars().any(char::is_control) {
        return Err(CoreError::invalid(format!(
            "A {kind} id must hold 1 to {MAX_ID} characters and no control characters"
        )));
    }
    // A path segment of its own in every address that names it.
    if id == "." || id == ".." {
        return Err(CoreError::invalid(format!(
            "A {kind} id cannot be '.' or '..'"
        )));
    }
    Ok(())
}

/// A 400 for a name outside a known set, listing the set.
pub(super) fn unknown<'a>(
    what: &str,
    value: &str,
    known: impl IntoIterator<Item = &'a str>,
) -> CoreError {
    let known: Vec<&str> = known.into_iter().collect();
    CoreError::invalid(format!(
        "Unknown {what} '{value}'; known: {}",
        known.join(", ")
    ))
}

/// An access by its wire name.
pub(super) fn parse_access(name: &str) -> CoreResult<Access> {
    Access::parse(name).ok_or_else(|| unknown("access", name, Access::ALL.map(Access::name)))
}

/// A subject type by its wire name.
pub(super) fn parse_subject_type(name: &str) -> CoreResult<SubjectType> {
    SubjectType::parse(name).ok_or_else(|| unknown("subject type", name, ["USER", "ROLE", "GROUP"]))
}

fn parse_roles(directory: &Directory, names: &[String], for_group: bool) -> CoreResult<RoleNames> {
    let roles = RoleNames::parse(directory, names)?;
    if for_group && roles.system.contains(&Role::UserReadOnly) {
        return Err(CoreError::invalid(
            "USER_READ_ONLY cannot be given to a group",
        ));
    }
    Ok(roles)
}

/// The 400 for a custom role deleted while it was being given.
fn role_gone(name: &str) -> CoreError {
    CoreError::invalid(format!("Role '{name}' was deleted meanwhile"))
}

pub(super) fn parse_accesses(names: &[String]) -> CoreResult<AccessSet> {
    names.iter().map(|name| parse_access(name)).collect()
}

/// The principal a user id names: a user, or an application as `app:<id>`.
pub fn principal_of(directory: &Directory, id: &str) -> CoreResult<Principal> {
    crate::security::principal_of(directory, id).ok_or_else(|| user_not_found(id))
}

/// Users, groups and grants.
#[derive(Clone)]
pub struct UserService {
    pub(super) rt: Arc<Runtime>,
}

impl UserService {
    /// The service over a runtime.
    pub fn new(rt: Arc<Runtime>) -> UserService {
        UserService { rt }
    }

    /// Whether `principal` manages users and groups (an administrator): what the
    /// console's menu asks.
    pub fn may_manage(&self, principal: &Principal) -> bool {
        self.admin(principal, "manage users").is_ok()
    }

    pub(super) fn admin(&self, principal: &Principal, what: &str) -> CoreResult<()> {
        self.rt.authorizer.require_admin(principal, what)
    }

    fn group_view(directory: &Directory, group: &Group) -> Value {
        json!({
            "id": group.id,
            "description": group.description,
            "roles": held_roles_view(directory, group.roles.iter().copied(), &group.custom_roles),
            "defaultAccess": group.default_access,
            "contactInformation": {},
        })
    }

    fn user_view(directory: &Directory, user: &User) -> Value {
        let mut view = json!({
            "id": user.id,
            "name": user.name,
            "roles": held_roles_view(directory, user.roles.iter().copied(), &user.custom_roles),
            "groups": user.groups.iter().filter_map(|g| directory.group(g)).map(|g| Self::group_view(directory, g)).collect::<Vec<_>>(),
            "uuid": user.id,
            "applicationUser": false,
            "disabled": user.disabled,
            "contactInformation": {},
            "namespace": "podium",
        });
        // Podium's own: where a directory user's password and groups are kept.
        if let (Some(source), Some(object)) = (user.source, view.as_object_mut()) {
            object.insert("identitySource".into(), json!(source));
        }
        view
    }

    fn app_user_view(directory: &Directory, app: &crate::security::model::Application) -> Value {
        json!({
            "id": app.user_id(),
            "name": app.name,
            "roles": held_roles_view(directory, app.roles.iter().copied(), &app.custom_roles),
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
            out.extend(apps.into_iter().map(|a| Self::app_user_view(&directory, a)));
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
                .map(|a| Self::app_user_view(&directory, a))
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
        // Computed from the directory: first take in what other nodes changed.
        self.rt.access.fresh().await?;
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
            .map(|r| parse_roles(&self.rt.access.directory().read(), r, false))
            .transpose()?;
        let now = self.rt.now();
        let groups = match request.groups {
            Some(groups) => {
                let directory = self.rt.access.directory().read();
                let mut set = BTreeSet::new();
                for group in groups {
                    if directory.group(&group).is_none() {
                        return Err(group_not_found(&group));
                    }
                    set.insert(group);
                }
                Some(set.into_iter().collect::<Vec<_>>())
            }
            None => None,
        };
        if request.disabled == Some(true) && principal.id() == id {
            return Err(CoreError::invalid("You cannot disable yourself"));
        }
        let identity_source = request.identity_source;
        if identity_source.is_some()
            && (request.password.is_some() || request.password_hash.is_some())
        {
            return Err(CoreError::invalid(
                "A user whose identity is kept elsewhere (identitySource) has no Podium password",
            ));
        }
        let password_hash = match (request.password, request.password_hash) {
            (Some(_), Some(_)) => {
                return Err(CoreError::invalid(
                    "Send password or passwordHash, not both",
                ));
            }
            (Some(_), None) | (None, Some(_)) if principal.id() == id => {
                return Err(CoreError::invalid(
                    "Change your own password with POST /api/users/{id}/password, giving the old one",
                ));
            }
            (Some(password), None) => Some(new_password_hash(id, &password).await?),
            (None, Some(hash)) => {
                check_imported_hash(hash.trim())?;
                Some(hash.trim().to_string())
            }
            (None, None) => None,
        };
        let name = request.name.filter(|n| !n.trim().is_empty());
        // The changes are made to the user as the store holds it when they are
        // committed, so a change made meanwhile (a password) is not written back.
        let mut refused = None;
        let mut written = None;
        self.rt
            .access
            .commit_with(|directory| {
                (refused, written) = (None, None);
                let existing = directory.user(id).cloned();
                let new = existing.is_none();
                let mut user = existing.unwrap_or_else(|| User {
                    id: id.to_string(),
                    name: id.to_string(),
                    roles: vec![Role::User],
                    custom_roles: Vec::new(),
                    groups: Vec::new(),
                    password_hash: None,
                    disabled: false,
                    token_version: 0,
                    source: None,
                    external_id: None,
                    create_time: now,
                    update_time: now,
                });
                if let Some(name) = &name {
                    user.name = name.trim().to_string();
                }
                if let Some(roles) = &roles {
                    if let Some(gone) = roles.missing(directory) {
                        refused = Some(role_gone(gone));
                        return Vec::new();
                    }
                    user.roles = roles.system.clone();
                    user.custom_roles = roles.custom.clone();
                }
                if let Some(source) = identity_source
                    && user.source != Some(source)
                {
                    if user.password_hash.is_some() {
                        refused = Some(CoreError::invalid(format!(
                            "User '{id}' has a Podium password; a user kept by {} has none (delete the user first)",
                            source.name()
                        )));
                        return Vec::new();
                    }
                    user.source = Some(source);
                    user.external_id = None;
                    user.groups = Vec::new();
                }
                if let Some(source) = user.source
                    && (groups.as_ref().is_some_and(|g| *g != user.groups)
                        || password_hash.is_some())
                {
                    refused = Some(super::passwords::kept_elsewhere(id, source));
                    return Vec::new();
                }
                if let Some(groups) = &groups {
                    if user.roles.contains(&Role::UserReadOnly) && !groups.is_empty() {
                        refused = Some(CoreError::invalid(
                            "A USER_READ_ONLY user cannot be added to groups",
                        ));
                        return Vec::new();
                    }
                    user.groups = groups.clone();
                }
                let mut end_tokens = new;
                if let Some(disabled) = request.disabled {
                    end_tokens |= disabled != user.disabled;
                    user.disabled = disabled;
                }
                if let Some(hash) = &password_hash {
                    user.password_hash = Some(hash.clone());
                    end_tokens = true;
                }
                if end_tokens {
                    // Tokens issued before (with an old password, before a disabling,
                    // or to a deleted user of the same id) stop working.
                    user.token_version = user.next_token_version(now);
                }
                user.update_time = now;
                written = Some(user.clone());
                vec![SecurityOp::PutUser(user)]
            })
            .await?;
        if let Some(err) = refused {
            return Err(err);
        }
        let user = written.ok_or_else(|| CoreError::Internal("the user was not written".into()))?;
        let directory = self.rt.access.directory().read();
        Ok(Self::user_view(&directory, &user))
    }

    /// Deletes a user with their grants; their tokens stop working at once. Admin
    /// only; nobody deletes themself.
    pub async fn delete_user(&self, principal: &Principal, id: &str) -> CoreResult<()> {
        // Computed from the directory: first take in what other nodes changed.
        self.rt.access.fresh().await?;
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
        Ok(groups
            .into_iter()
            .map(|g| Self::group_view(&directory, g))
            .collect())
    }

    /// One group. Admin only.
    pub fn get_group(&self, principal: &Principal, id: &str) -> CoreResult<Value> {
        self.admin(principal, "read groups")?;
        let directory = self.rt.access.directory().read();
        directory
            .group(id)
            .map(|g| Self::group_view(&directory, g))
            .ok_or_else(|| group_not_found(id))
    }

    /// Creates or updates a group. Admin only.
    pub async fn upsert_group(
        &self,
        principal: &Principal,
        id: &str,
        request: UpsertGroup,
    ) -> CoreResult<Value> {
        // Computed from the directory: first take in what other nodes changed.
        self.rt.access.fresh().await?;
        self.admin(principal, "manage groups")?;
        check_id("group", id)?;
        let roles = request
            .roles
            .as_deref()
            .map(|r| parse_roles(&self.rt.access.directory().read(), r, true))
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
                    let access = parse_accesses(&accesses)?;
                    if let Some(a) = access.iter().find(|a| a.is_for_executions())
                        && kind != TargetType::WorkflowDef
                    {
                        return Err(CoreError::invalid(format!(
                            "defaultAccess for {} cannot hold {}: it applies to the executions of workflow definitions",
                            kind.name(),
                            a.name()
                        )));
                    }
                    parsed.insert(kind, access);
                }
                Some(parsed)
            }
        };
        let now = self.rt.now();
        // Made from the group as the store holds it when committed, with the custom
        // roles it is given still there.
        let mut refused = None;
        let mut written = None;
        self.rt
            .access
            .commit_with(|directory| {
                (refused, written) = (None, None);
                let mut group = directory.group(id).cloned().unwrap_or_else(|| Group {
                    id: id.to_string(),
                    description: String::new(),
                    roles: Vec::new(),
                    custom_roles: Vec::new(),
                    default_access: BTreeMap::new(),
                    create_time: now,
                    update_time: now,
                });
                match &request.description {
                    Some(d) => group.description = d.clone(),
                    None if group.description.is_empty() => {
                        refused = Some(CoreError::invalid("description is required"));
                        return Vec::new();
                    }
                    None => {}
                }
                if let Some(roles) = &roles {
                    if let Some(gone) = roles.missing(directory) {
                        refused = Some(role_gone(gone));
                        return Vec::new();
                    }
                    group.roles = roles.system.clone();
                    group.custom_roles = roles.custom.clone();
                }
                if let Some(default_access) = &default_access {
                    group.default_access = default_access.clone();
                }
                group.update_time = now;
                written = Some(group.clone());
                vec![SecurityOp::PutGroup(group)]
            })
            .await?;
        if let Some(err) = refused {
            return Err(err);
        }
        let group =
            written.ok_or_else(|| CoreError::Internal("the group was not written".into()))?;
        let directory = self.rt.access.directory().read();
        Ok(Self::group_view(&directory, &group))
    }

    /// Deletes a group: its members leave it, its grants go. Admin only.
    pub async fn delete_group(&self, principal: &Principal, id: &str) -> CoreResult<()> {
        // Computed from the directory: first take in what other nodes changed.
        self.rt.access.fresh().await?;
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
        // Computed from the directory: first take in what other nodes changed.
        self.rt.access.fresh().await?;
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
                if let Some(source) = user.source
                    && add != member
                {
                    return Err(super::passwords::kept_elsewhere(user_id, source));
                }
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
}

/// Removing every grant a subject holds.
pub(super) fn grants_of_subject(directory: &Directory, subject: &Subject) -> Vec<SecurityOp> {
    directory
        .all_grants()
        .filter(|g| g.subject == *subject)
        .map(|g| SecurityOp::DeleteGrant {
            subject: g.subject,
            target: g.target,
        })
        .collect()
}
