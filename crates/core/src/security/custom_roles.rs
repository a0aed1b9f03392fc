//! Custom roles: named bundles of permission atoms an administrator defines, held by
//! users, groups and applications beside the built-in roles.
//!
//! An atom is `<ACCESS>_<TARGET>`, for example `READ_WORKFLOW_DEF`: the access on
//! every resource of that type, as if the holder had that grant on each of them.
//! `UPDATE`, `EXECUTE` and `DELETE` bring `READ` on the same type. An atom is never
//! more than a grant: polling tasks still needs a worker role (with which
//! `EXECUTE_TASK_DEF` reaches every task type in every domain), and nothing but
//! ADMIN manages users, groups or roles.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::model::{Access, AccessSet, TargetType};
use crate::error::{CoreError, CoreResult};

/// Longest custom role name.
const MAX_NAME: usize = 64;

/// Most atoms a role may list (there are fewer distinct ones).
const MAX_PERMISSIONS: usize = 200;

/// The target types atoms can name. Tags and domains are ways of granting, not
/// resources, and no atom names them.
pub const PERMISSION_TARGETS: [TargetType; 8] = [
    TargetType::WorkflowDef,
    TargetType::TaskDef,
    TargetType::SecretName,
    TargetType::EnvVariable,
    TargetType::Application,
    TargetType::WorkflowSchedule,
    TargetType::Schema,
    TargetType::EventHandler,
];

/// The accesses atoms can name.
pub const PERMISSION_ACCESSES: [Access; 5] = [
    Access::Create,
    Access::Read,
    Access::Update,
    Access::Execute,
    Access::Delete,
];

/// One permission atom: an access on every resource of a type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Permission {
    pub access: Access,
    pub target: TargetType,
}

impl Permission {
    /// Every atom, by target type then access.
    pub fn all() -> impl Iterator<Item = Permission> {
        PERMISSION_TARGETS.into_iter().flat_map(|target| {
            PERMISSION_ACCESSES
                .into_iter()
                .map(move |access| Permission { access, target })
        })
    }

    /// Parses an atom such as `READ_WORKFLOW_DEF`, case-insensitively.
    pub fn parse(text: &str) -> Option<Permission> {
        let text = text.trim();
        Permission::all().find(|p| p.to_string().eq_ignore_ascii_case(text))
    }

    /// The accesses the atom brings on its target type.
    pub fn accesses(self) -> AccessSet {
        let set = AccessSet::EMPTY.with(self.access);
        match self.access {
            Access::Update | Access::Execute | Access::Delete => set.with(Access::Read),
            _ => set,
        }
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}_{}", self.access.name(), self.target.name())
    }
}

impl Serialize for Permission {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Permission {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Permission, D::Error> {
        let text = String::deserialize(d)?;
        Permission::parse(&text)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown permission '{text}'")))
    }
}

/// A custom role as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomRole {
    pub name: String,
    /// Sorted, without repeats.
    pub permissions: Vec<Permission>,
    pub created_by: String,
    pub updated_by: String,
    pub create_time: i64,
    pub update_time: i64,
}

impl CustomRole {
    /// The accesses the role brings on every resource of a type.
    pub fn accesses_on(&self, target: TargetType) -> AccessSet {
        self.permissions
            .iter()
            .filter(|p| p.target == target)
            .fold(AccessSet::EMPTY, |set, p| set.union(p.accesses()))
    }

    /// The atom that brings `access` on `target`, if one does.
    pub fn permission_for(&self, access: Access, target: TargetType) -> Option<Permission> {
        self.permissions
            .iter()
            .copied()
            .find(|p| p.target == target && p.accesses().contains(access))
    }
}

/// Checks a new custom role's name: upper-case letters, digits and underscores,
/// starting with a letter, and not a built-in role's name.
pub fn check_role_name(name: &str) -> CoreResult<()> {
    let well_formed = name.len() <= MAX_NAME
        && name.starts_with(|c: char| c.is_ascii_uppercase())
        && name
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
    if !well_formed {
        return Err(CoreError::invalid(format!(
            "A role name holds 1 to {MAX_NAME} upper-case letters, digits and underscores, starting with a letter (for example WORKFLOW_OPERATOR)"
        )));
    }
    if super::model::Role::parse(name).is_some() {
        return Err(CoreError::Conflict(format!(
            "{name} is a system role; a custom role needs another name"
        )));
    }
    Ok(())
}

/// Parses a role's permission atoms: each must be one of [`Permission::all`]; the
/// answer is sorted and without repeats.
pub fn parse_permissions(names: &[String]) -> CoreResult<Vec<Permission>> {
    if names.len() > MAX_PERMISSIONS {
        return Err(CoreError::invalid(format!(
            "A role lists at most {MAX_PERMISSIONS} permissions"
        )));
    }
    let mut permissions = Vec::with_capacity(names.len());
    for name in names {
        let permission = Permission::parse(name).ok_or_else(|| {
            let shown: String = name.chars().take(80).collect();
            CoreError::invalid(format!(
                "Unknown permission '{shown}': a permission is an access and a resource type such as READ_WORKFLOW_DEF or EXECUTE_TASK_DEF (GET /api/roles/permissions lists them)"
            ))
        })?;
        permissions.push(permission);
    }
    permissions.sort();
    permissions.dedup();
    Ok(permissions)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atoms_round_trip_and_imply_read() {
        let all: Vec<Permission> = Permission::all().collect();
        assert_eq!(all.len(), 40);
        for p in &all {
            assert_eq!(Permission::parse(&p.to_string()), Some(*p));
        }
        let read = Permission::parse("read_workflow_def");
        assert_eq!(
            read,
            Some(Permission {
                access: Access::Read,
                target: TargetType::WorkflowDef
            })
        );
        assert_eq!(Permission::parse("workflow:read"), None);
        assert_eq!(Permission::parse("READ_TAG"), None);
        assert_eq!(Permission::parse("EXECUTE_DOMAIN"), None);
        let execute = Permission::parse("EXECUTE_TASK_DEF").map(Permission::accesses);
        assert!(execute.is_some_and(|a| a.contains(Access::Read) && !a.contains(Access::Update)));
        let update = Permission::parse("UPDATE_SECRET_NAME").map(Permission::accesses);
        assert!(update.is_some_and(|a| !a.contains(Access::Delete)));
        let create = Permission::parse("CREATE_SCHEMA").map(Permission::accesses);
        assert!(create.is_some_and(|a| !a.contains(Access::Read)));
    }

    #[test]
    fn names_and_lists_are_checked() {
        assert!(check_role_name("WORKFLOW_OPERATOR_2").is_ok());
        for bad in ["", "lower", "_X", "A-B", "A B", &"A".repeat(65)] {
            assert!(check_role_name(bad).is_err(), "{bad}");
        }
        assert!(matches!(
            check_role_name("ADMIN"),
            Err(CoreError::Conflict(_))
        ));
        let parsed = parse_permissions(&[
            "EXECUTE_WORKFLOW_DEF".into(),
            "READ_WORKFLOW_DEF".into(),
            "read_workflow_def".into(),
        ]);
        assert_eq!(parsed.map(|p| p.len()).ok(), Some(2));
        let err = parse_permissions(&["workflow:read".into()]).err();
        assert!(err.is_some_and(|e| e.to_string().contains("workflow:read")));
        let role = CustomRole {
            name: "R".into(),
            permissions: parse_permissions(&["DELETE_WORKFLOW_DEF".into()]).unwrap_or_default(),
            created_by: "a".into(),
            updated_by: "a".into(),
            create_time: 0,
            update_time: 0,
        };
        let on = role.accesses_on(TargetType::WorkflowDef);
        assert!(on.contains(Access::Delete) && on.contains(Access::Read));
        assert!(role.accesses_on(TargetType::TaskDef).is_empty());
        assert_eq!(
            role.permission_for(Access::Read, TargetType::WorkflowDef)
                .map(|p| p.to_string())
                .as_deref(),
            Some("DELETE_WORKFLOW_DEF")
        );
    }
}
