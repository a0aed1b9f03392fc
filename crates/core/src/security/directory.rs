//! The in-memory directory of everything access control decides with: applications,
//! access keys, users, groups, grants, owners and the tags of resources. It mirrors
//! the store: a change is committed to the store first and then applied here, so the
//! next request on this node sees it. Lookups never allocate.

use std::collections::HashMap;

use super::model::{
    AccessKey, AccessSet, Application, Grant, Group, Ownership, RoleSet, Subject, Target,
    TargetType, User,
};
use crate::store::{SecurityData, SecurityOp};

/// Grants on one resource: who holds what.
pub(crate) type Holders = Vec<(Subject, AccessSet)>;

/// Everything known about identities and grants.
#[derive(Debug, Default)]
pub struct Directory {
    pub(crate) applications: HashMap<String, Application>,
    pub(crate) keys: HashMap<String, AccessKey>,
    pub(crate) users: HashMap<String, User>,
    pub(crate) groups: HashMap<String, Group>,
    /// Grants by target type, then target id.
    pub(crate) grants: HashMap<TargetType, HashMap<String, Holders>>,
    /// The creator of each resource, by target type, then id.
    pub(crate) owners: HashMap<TargetType, HashMap<String, String>>,
    /// `key:value` tags of each resource, by target type, then id.
    pub(crate) tags: HashMap<TargetType, HashMap<String, Vec<String>>>,
}

impl Directory {
    /// A directory holding what the store returned.
    pub fn from_data(data: SecurityData) -> Directory {
        let mut directory = Directory::default();
        for app in data.applications {
            directory.applications.insert(app.id.clone(), app);
        }
        for key in data.keys {
            directory.keys.insert(key.id.clone(), key);
        }
        for user in data.users {
            directory.users.insert(user.id.clone(), user);
        }
        for group in data.groups {
            directory.groups.insert(group.id.clone(), group);
        }
        for grant in data.grants {
            directory.put_grant(grant);
        }
        for ownership in data.owners {
            directory.put_owner(ownership);
        }
        directory
    }

    /// Applies a committed change.
    pub fn apply(&mut self, op: &SecurityOp) {
        match op {
            SecurityOp::PutApplication(app) => {
                self.applications.insert(app.id.clone(), app.clone());
            }
            SecurityOp::DeleteApplication(id) => {
                self.applications.remove(id);
            }
            SecurityOp::PutKey(key) => {
                self.keys.insert(key.id.clone(), key.clone());
            }
            SecurityOp::DeleteKey(id) => {
                self.keys.remove(id);
            }
            SecurityOp::PutUser(user) => {
                self.users.insert(user.id.clone(), user.clone());
            }
            SecurityOp::DeleteUser(id) => {
                self.users.remove(id);
            }
            SecurityOp::PutGroup(group) => {
                self.groups.insert(group.id.clone(), group.clone());
            }
            SecurityOp::DeleteGroup(id) => {
                self.groups.remove(id);
            }
            SecurityOp::PutGrant(grant) => self.put_grant(grant.clone()),
            SecurityOp::DeleteGrant { subject, target } => {
                if let Some(by_id) = self.grants.get_mut(&target.kind)
                    && let Some(holders) = by_id.get_mut(&target.id)
                {
                    holders.retain(|(s, _)| s != subject);
                    if holders.is_empty() {
                        by_id.remove(&target.id);
                    }
                }
            }
            SecurityOp::PutOwner(ownership) => self.put_owner(ownership.clone()),
            SecurityOp::DeleteOwner(target) => {
                if let Some(by_id) = self.owners.get_mut(&target.kind) {
                    by_id.remove(&target.id);
                }
            }
        }
    }

    fn put_grant(&mut self, grant: Grant) {
        let holders = self
            .grants
            .entry(grant.target.kind)
            .or_default()
            .entry(grant.target.id)
            .or_default();
        match holders.iter_mut().find(|(s, _)| *s == grant.subject) {
            Some((_, access)) => *access = grant.access,
            None => holders.push((grant.subject, grant.access)),
        }
    }

    fn put_owner(&mut self, ownership: Ownership) {
        self.owners
            .entry(ownership.target.kind)
            .or_default()
            .insert(ownership.target.id, ownership.owner);
    }

    /// Replaces the tags of a resource (`key:value` strings).
    pub fn set_tags(&mut self, kind: TargetType, id: &str, tags: Vec<String>) {
        let by_id = self.tags.entry(kind).or_default();
        if tags.is_empty() {
            by_id.remove(id);
        } else {
            by_id.insert(id.to_string(), tags);
        }
    }

    /// The grants held on one target.
    pub(crate) fn holders(&self, kind: TargetType, id: &str) -> &[(Subject, AccessSet)] {
        self.grants
            .get(&kind)
            .and_then(|by_id| by_id.get(id))
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// The owner of a resource.
    pub(crate) fn owner(&self, kind: TargetType, id: &str) -> Option<&str> {
        self.owners
            .get(&kind)
            .and_then(|by_id| by_id.get(id))
            .map(String::as_str)
    }

    /// The tags of a resource.
    pub(crate) fn tags_of(&self, kind: TargetType, id: &str) -> &[String] {
        self.tags
            .get(&kind)
            .and_then(|by_id| by_id.get(id))
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// Every grant, for listings.
    pub fn all_grants(&self) -> impl Iterator<Item = Grant> + '_ {
        self.grants.iter().flat_map(|(kind, by_id)| {
            by_id.iter().flat_map(move |(id, holders)| {
                holders.iter().map(move |(subject, access)| Grant {
                    subject: subject.clone(),
                    target: Target::new(*kind, id.clone()),
                    access: *access,
                })
            })
        })
    }

    /// An application.
    pub fn application(&self, id: &str) -> Option<&Application> {
        self.applications.get(id)
    }

    /// Every application.
    pub fn applications(&self) -> impl Iterator<Item = &Application> {
        self.applications.values()
    }

    /// An access key.
    pub fn key(&self, id: &str) -> Option<&AccessKey> {
        self.keys.get(id)
    }

    /// The keys of an application.
    pub fn keys_of(&self, application_id: &str) -> impl Iterator<Item = &AccessKey> {
        self.keys
            .values()
            .filter(move |k| k.application_id == application_id)
    }

    /// A user.
    pub fn user(&self, id: &str) -> Option<&User> {
        self.users.get(id)
    }

    /// Every user.
    pub fn users(&self) -> impl Iterator<Item = &User> {
        self.users.values()
    }

    /// A group.
    pub fn group(&self, id: &str) -> Option<&Group> {
        self.groups.get(id)
    }

    /// Every group.
    pub fn groups(&self) -> impl Iterator<Item = &Group> {
        self.groups.values()
    }

    /// The roles of a set of groups, together.
    pub(crate) fn group_roles(&self, groups: &[String]) -> RoleSet {
        groups
            .iter()
            .filter_map(|g| self.groups.get(g))
            .flat_map(|g| g.roles.iter().copied())
            .collect()
    }

    /// Whether nobody can log in yet: no users and no applications.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty() && self.applications.is_empty()
    }
}
