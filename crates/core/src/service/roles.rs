//! Roles: the built-in ones, and the custom roles an administrator makes of
//! permission atoms (`/api/roles`), with how both are shown wherever a principal's
//! roles are.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Value, json};

use super::runtime::Runtime;
use super::users::grants_of_subject;
use crate::error::{CoreError, CoreResult};
use crate::security::custom_roles::{
    CustomRole, PERMISSION_TARGETS, Permission, check_role_name, parse_permissions,
};
use crate::security::model::{Role, Subject, SubjectType};
use crate::security::{Directory, Principal};
use crate::store::SecurityOp;

/// `CreateOrUpdateRoleRequest`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RoleRequest {
    pub name: Option<String>,
    pub permissions: Vec<String>,
}

/// A built-in role as `userInfo`, the user APIs and `/api/roles` show it: its name
/// and permission atoms.
pub fn role_view(role: Role) -> Value {
    json!({
        "name": role.name(),
        "permissions": role.atoms().iter().map(|a| json!({"name": a})).collect::<Vec<_>>(),
    })
}

/// A custom role in the same shape.
pub fn custom_role_view(role: &CustomRole) -> Value {
    json!({
        "name": role.name,
        "permissions": role
            .permissions
            .iter()
            .map(|p| json!({"name": p.to_string()}))
            .collect::<Vec<_>>(),
    })
}

/// The roles a principal, user, group or application holds, built-in then custom.
/// A custom role deleted since it was given shows with no permissions.
pub fn held_roles_view(
    directory: &Directory,
    roles: impl IntoIterator<Item = Role>,
    custom: &[String],
) -> Vec<Value> {
    let mut views: Vec<Value> = roles.into_iter().map(role_view).collect();
    views.extend(custom.iter().map(|name| match directory.custom_role(name) {
        Some(role) => custom_role_view(role),
        None => json!({"name": name, "permissions": []}),
    }));
    views
}

/// Role names as a user, group or application is given them: built-in roles, and
/// custom roles that exist now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoleNames {
    pub system: Vec<Role>,
    pub custom: Vec<String>,
}

impl RoleNames {
    /// Sorts names into built-in and custom roles; any other name is a 400 that
    /// lists the roles there are.
    pub fn parse(directory: &Directory, names: &[String]) -> CoreResult<RoleNames> {
        let mut out = RoleNames::default();
        for name in names {
            if let Some(role) = Role::parse(name) {
                if !out.system.contains(&role) {
                    out.system.push(role);
                }
                continue;
            }
            let name = name.trim();
            if directory.custom_role(name).is_none() {
                return Err(unknown_role(name));
            }
            if !out.custom.iter().any(|c| c == name) {
                out.custom.push(name.to_string());
            }
        }
        out.system.sort();
        out.custom.sort();
        Ok(out)
    }

    /// The first custom role that no longer exists, if one was deleted since the
    /// names were parsed.
    pub fn missing<'a>(&'a self, directory: &Directory) -> Option<&'a str> {
        self.custom
            .iter()
            .find(|name| directory.custom_role(name).is_none())
            .map(String::as_str)
    }
}

/// The 400 for a name that is no role. Custom roles are not listed: who may see
/// them is decided where they are read (`GET /api/roles/custom`).
pub fn unknown_role(name: &str) -> CoreError {
    let shown: String = name.chars().take(80).collect();
    let known: Vec<&str> = Role::ALL.iter().map(|r| r.name()).collect();
    CoreError::invalid(format!(
        "Unknown role '{shown}'; built-in roles: {}, or a custom role an ADMIN made (GET /api/roles/custom)",
        known.join(", ")
    ))
}

fn role_not_found(name: &str) -> CoreError {
    let shown: String = name.chars().take(80).collect();
    CoreError::NotFound(format!("Role '{shown}' not found"))
}

fn system_role_unchanged(role: Role) -> CoreError {
    CoreError::invalid(format!(
        "{role} is a system role: its permissions are fixed and it cannot be deleted"
    ))
}

/// The built-in and custom roles.
#[derive(Clone)]
pub struct RoleService {
    rt: Arc<Runtime>,
}

impl RoleService {
    /// The service over a runtime.
    pub fn new(rt: Arc<Runtime>) -> RoleService {
        RoleService { rt }
    }

    fn admin(&self, principal: &Principal, what: &str) -> CoreResult<()> {
        self.rt.authorizer.require_admin(principal, what)
    }

    /// Whether the principal may read a custom role: an administrator, or a holder.
    fn may_read(&self, principal: &Principal, name: &str) -> bool {
        self.admin(principal, "read roles").is_ok()
            || principal.custom_roles().iter().any(|r| r == name)
    }

    /// `GET /api/roles/system`: every built-in role by name.
    pub fn system_roles(&self) -> Value {
        Value::Object(
            Role::ALL
                .into_iter()
                .map(|r| (r.name().to_string(), role_view(r)))
                .collect(),
        )
    }

    /// `GET /api/roles/custom`: the custom roles the principal may read (all of
    /// them for an administrator, else those it holds), by name.
    pub fn custom_roles(&self, principal: &Principal) -> Vec<Value> {
        let directory = self.rt.access.directory().read();
        directory
            .custom_role_list()
            .filter(|r| self.may_read(principal, &r.name))
            .map(custom_role_view)
            .collect()
    }

    /// `GET /api/roles`: the built-in roles, then the custom roles the principal
    /// may read.
    pub fn all_roles(&self, principal: &Principal) -> Vec<Value> {
        let mut roles: Vec<Value> = Role::ALL.into_iter().map(role_view).collect();
        roles.extend(self.custom_roles(principal));
        roles
    }

    /// `GET /api/roles/permissions`: the atoms a custom role can hold, by resource
    /// type.
    pub fn permissions(&self) -> Value {
        Value::Object(
            PERMISSION_TARGETS
                .into_iter()
                .map(|target| {
                    let atoms: Vec<String> = Permission::all()
                        .filter(|p| p.target == target)
                        .map(|p| p.to_string())
                        .collect();
                    (target.name().to_string(), json!(atoms))
                })
                .collect(),
        )
    }

    /// `GET /api/roles/{name}`: a built-in role, or a custom role the principal may
    /// read.
    pub fn get_role(&self, principal: &Principal, name: &str) -> CoreResult<Value> {
        if let Some(role) = Role::parse(name) {
            return Ok(role_view(role));
        }
        // A caller who may not read it does not learn whether it exists.
        if !self.may_read(principal, name) {
            let shown: String = name.chars().take(80).collect();
            return Err(CoreError::Forbidden(format!(
                "You don't have permissions to read role: {shown}"
            )));
        }
        let directory = self.rt.access.directory().read();
        let role = directory
            .custom_role(name)
            .ok_or_else(|| role_not_found(name))?;
        Ok(custom_role_view(role))
    }

    /// `POST /api/roles`: a new custom role. Admin only.
    pub async fn create_role(
        &self,
        principal: &Principal,
        request: RoleRequest,
    ) -> CoreResult<Value> {
        self.admin(principal, "manage roles")?;
        let name = request.name.unwrap_or_default();
        let name = name.trim();
        check_role_name(name)?;
        let permissions = parse_permissions(&request.permissions)?;
        let now = self.rt.now();
        let role = CustomRole {
            name: name.to_string(),
            permissions,
            created_by: principal.id().to_string(),
            updated_by: principal.id().to_string(),
            create_time: now,
            update_time: now,
        };
        let mut refused = None;
        self.rt
            .access
            .commit_with(|directory| {
                refused = directory
                    .custom_role(&role.name)
                    .map(|_| CoreError::Conflict(format!("Role '{}' already exists", role.name)));
                if refused.is_some() {
                    return Vec::new();
                }
                // A name still given to someone (a role deleted while it was being
                // given) is not made again: the new role would reach them unasked.
                let holders = holders_of(directory, &role.name);
                if !holders.is_empty() {
                    refused = Some(still_held(&role.name, &holders, "was deleted but is"));
                    return Vec::new();
                }
                // Nor do grants left to the old role reach the new one.
                let mut ops = grants_of_subject(directory, &role_subject(&role.name));
                ops.push(SecurityOp::PutRole(role.clone()));
                ops
            })
            .await?;
        match refused {
            Some(err) => Err(err),
            None => Ok(custom_role_view(&role)),
        }
    }

    /// `PUT /api/roles/{name}`: replaces a custom role's permissions; every holder
    /// decides with them from its next request. Admin only; a role keeps its name.
    pub async fn update_role(
        &self,
        principal: &Principal,
        name: &str,
        request: RoleRequest,
    ) -> CoreResult<Value> {
        self.admin(principal, "manage roles")?;
        if let Some(role) = Role::parse(name) {
            return Err(system_role_unchanged(role));
        }
        if let Some(other) = request.name.as_deref().map(str::trim)
            && !other.is_empty()
            && other != name
        {
            return Err(CoreError::invalid(
                "A role cannot be renamed: the name in the body must be the one in the path",
            ));
        }
        let permissions = parse_permissions(&request.permissions)?;
        let now = self.rt.now();
        let mut written = None;
        self.rt
            .access
            .commit_with(|directory| {
                let Some(existing) = directory.custom_role(name) else {
                    written = None;
                    return Vec::new();
                };
                let role = CustomRole {
                    permissions: permissions.clone(),
                    updated_by: principal.id().to_string(),
                    update_time: now,
                    ..existing.clone()
                };
                written = Some(role.clone());
                vec![SecurityOp::PutRole(role)]
            })
            .await?;
        written
            .as_ref()
            .map(custom_role_view)
            .ok_or_else(|| role_not_found(name))
    }

    /// `DELETE /api/roles/{name}`: deletes a custom role nobody holds, with the
    /// grants made to it (a role made again under its name starts with none).
    /// Admin only.
    pub async fn delete_role(&self, principal: &Principal, name: &str) -> CoreResult<()> {
        self.admin(principal, "manage roles")?;
        if let Some(role) = Role::parse(name) {
            return Err(system_role_unchanged(role));
        }
        let mut refused = None;
        self.rt
            .access
            .commit_with(|directory| {
                if directory.custom_role(name).is_none() {
                    refused = Some(role_not_found(name));
                    return Vec::new();
                }
                let holders = holders_of(directory, name);
                if !holders.is_empty() {
                    refused = Some(still_held(name, &holders, "is"));
                    return Vec::new();
                }
                refused = None;
                let mut ops = grants_of_subject(directory, &role_subject(name));
                ops.push(SecurityOp::DeleteRole(name.to_string()));
                ops
            })
            .await?;
        refused.map_or(Ok(()), Err)
    }
}

/// The grant subject of a custom role.
fn role_subject(name: &str) -> Subject {
    Subject {
        kind: SubjectType::Role,
        id: name.to_string(),
    }
}

/// The 409 for a role name still given to `holders` (at least one).
fn still_held(name: &str, holders: &[String], is: &str) -> CoreError {
    let shown: Vec<&str> = holders.iter().take(5).map(String::as_str).collect();
    let more = holders.len().saturating_sub(shown.len());
    let more = if more > 0 {
        format!(" and {more} more")
    } else {
        String::new()
    };
    CoreError::Conflict(format!(
        "Role '{name}' {is} still held by {}{more}: take it from them first",
        shown.join(", ")
    ))
}

/// Who holds a custom role: users, groups and applications, by name, sorted.
fn holders_of(directory: &Directory, name: &str) -> Vec<String> {
    let holds = |roles: &[String]| roles.iter().any(|r| r == name);
    let mut holders: Vec<String> = directory
        .users()
        .filter(|u| holds(&u.custom_roles))
        .map(|u| format!("user {}", u.id))
        .chain(
            directory
                .groups()
                .filter(|g| holds(&g.custom_roles))
                .map(|g| format!("group {}", g.id)),
        )
        .chain(
            directory
                .applications()
                .filter(|a| holds(&a.custom_roles))
                .map(|a| format!("application {}", a.id)),
        )
        .collect();
    holders.sort();
    holders
}
