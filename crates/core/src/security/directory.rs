//! The in-memory directory of everything access control decides with: applications,
//! access keys, users, groups, grants, owners and the tags of resources. It mirrors
//! the store: a change is committed to the store first and then applied here, so the
//! next request on this node sees it. Lookups never allocate.

use std::collections::{BTreeMap, HashMap};

use super::custom_roles::CustomRole;
use super::model::{
    AccessKey, AccessSet, Application, Grant, Group, Ownership, RoleSet, Subject, SubjectType,
    Target, TargetType, User,
};
use crate::store::{SecurityData, SecurityOp};

/// Grants on one resource: who (an interned subject) holds what. Kept inline so a
/// decision reads one small array instead of chasing a string per holder.
pub(crate) type Holders = Vec<(SubjectId, AccessSet)>;

/// A subject, interned.
pub(crate) type SubjectId = u32;

/// A map by name with a fast hasher: decisions hash a few short names each, and
/// foldhash keeps that cheap while still seeding per process.
pub(crate) type FastMap<V> = HashMap<String, V, foldhash::fast::RandomState>;

/// One map per target type, indexed by the type (no hashing of the type itself).
#[derive(Debug)]
pub(crate) struct PerType<V> {
    maps: [FastMap<V>; TargetType::ALL.len()],
}

impl<V> Default for PerType<V> {
    fn default() -> Self {
        PerType {
            maps: std::array::from_fn(|_| FastMap::default()),
        }
    }
}

impl<V> PerType<V> {
    pub(crate) fn of(&self, kind: TargetType) -> &FastMap<V> {
        &self.maps[kind as usize]
    }

    pub(crate) fn of_mut(&mut self, kind: TargetType) -> &mut FastMap<V> {
        &mut self.maps[kind as usize]
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (TargetType, &FastMap<V>)> {
        TargetType::ALL
            .into_iter()
            .map(|kind| (kind, &self.maps[kind as usize]))
    }
}

/// Grants on a resource, its creator and its `key:value` tags.
#[derive(Debug, Default)]
pub(crate) struct TargetEntry {
    pub(crate) holders: Holders,
    pub(crate) owner: Option<String>,
    pub(crate) tags: Vec<String>,
}

impl TargetEntry {
    fn is_empty(&self) -> bool {
        self.holders.is_empty() && self.owner.is_none() && self.tags.is_empty()
    }
}

/// Subjects by kind and id, each with a small number.
#[derive(Debug, Default)]
pub(crate) struct Subjects {
    ids: [FastMap<SubjectId>; 3],
    list: Vec<Subject>,
    /// Grows whenever a subject is added, so principals know when to look again.
    pub(crate) generation: u64,
}

impl Subjects {
    /// The number of a subject, giving it one if new.
    fn intern(&mut self, subject: &Subject) -> SubjectId {
        if let Some(id) = self.get(subject.kind, &subject.id) {
            return id;
        }
        let id = self.list.len() as SubjectId;
        self.list.push(subject.clone());
        self.generation += 1;
        self.ids[subject.kind as usize].insert(subject.id.clone(), id);
        id
    }

    /// The number of a subject, if it has one.
    pub(crate) fn get(&self, kind: SubjectType, id: &str) -> Option<SubjectId> {
        self.ids[kind as usize].get(id).copied()
    }

    /// The subject of a number.
    pub(crate) fn subject(&self, id: SubjectId) -> &Subject {
        &self.list[id as usize]
    }
}

/// Everything known about identities and grants.
#[derive(Debug, Default)]
pub struct Directory {
    pub(crate) applications: HashMap<String, Application>,
    pub(crate) keys: HashMap<String, AccessKey>,
    pub(crate) users: HashMap<String, User>,
    pub(crate) groups: HashMap<String, Group>,
    /// Custom roles, by name.
    pub(crate) custom_roles: BTreeMap<String, CustomRole>,
    /// What the directory knows of each resource (grants on it, its owner, its tags),
    /// by target type, then id: one lookup answers a decision.
    pub(crate) targets: PerType<TargetEntry>,
    pub(crate) subjects: Subjects,
    /// Grows with every change that can change a decision.
    version: u64,
}

impl Directory {
    /// A number that grows with every change that can change a decision: a decision
    /// made at one version holds while the version is the same.
    pub fn version(&self) -> u64 {
        self.version
    }

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
        for role in data.roles {
            directory.custom_roles.insert(role.name.clone(), role);
        }
        for grant in data.grants {
            directory.put_grant(grant);
        }
        for ownership in data.owners {
            directory.put_owner(ownership);
        }
        directory
    }

    /// Replaces everything with a freshly loaded directory (another node changed the
    /// store). Its version and subject numbering move past this one's, so no decision
    /// or subject number cached against this directory is taken for the new one's.
    pub fn replace_with(&mut self, mut fresh: Directory) {
        fresh.version = self.version.saturating_add(fresh.version).saturating_add(1);
        fresh.subjects.generation = self
            .subjects
            .generation
            .saturating_add(fresh.subjects.generation)
            .saturating_add(1);
        *self = fresh;
    }

    /// Applies a committed change.
    pub fn apply(&mut self, op: &SecurityOp) {
        self.version += 1;
        match op {
            // The trail is not part of the directory.
            SecurityOp::Audit(_) => {}
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
            SecurityOp::PutRole(role) => {
                self.custom_roles.insert(role.name.clone(), role.clone());
            }
            SecurityOp::DeleteRole(name) => {
                self.custom_roles.remove(name);
            }
            SecurityOp::PutGrant(grant) => self.put_grant(grant.clone()),
            SecurityOp::DeleteGrant { subject, target } => {
                let Some(who) = self.subjects.get(subject.kind, &subject.id) else {
                    return;
                };
                self.change_entry(target.kind, &target.id, |entry| {
                    entry.holders.retain(|(s, _)| *s != who);
                });
            }
            SecurityOp::PutOwner(ownership) => self.put_owner(ownership.clone()),
            SecurityOp::DeleteOwner(target) => {
                self.change_entry(target.kind, &target.id, |entry| entry.owner = None);
            }
        }
    }

    /// Changes an existing entry, dropping it when nothing is left in it.
    fn change_entry(&mut self, kind: TargetType, id: &str, change: impl FnOnce(&mut TargetEntry)) {
        let map = self.targets.of_mut(kind);
        if let Some(entry) = map.get_mut(id) {
            change(entry);
            if entry.is_empty() {
                map.remove(id);
            }
        }
    }

    fn put_grant(&mut self, grant: Grant) {
        let who = self.subjects.intern(&grant.subject);
        let holders = &mut self
            .targets
            .of_mut(grant.target.kind)
            .entry(grant.target.id)
            .or_default()
            .holders;
        match holders.iter_mut().find(|(s, _)| *s == who) {
            Some((_, access)) => *access = grant.access,
            None => holders.push((who, grant.access)),
        }
    }

    fn put_owner(&mut self, ownership: Ownership) {
        self.targets
            .of_mut(ownership.target.kind)
            .entry(ownership.target.id)
            .or_default()
            .owner = Some(ownership.owner);
    }

    /// Replaces the tags of a resource (`key:value` strings).
    pub fn set_tags(&mut self, kind: TargetType, id: &str, tags: Vec<String>) {
        self.version += 1;
        if tags.is_empty() {
            self.change_entry(kind, id, |entry| entry.tags.clear());
        } else {
            self.targets
                .of_mut(kind)
                .entry(id.to_string())
                .or_default()
                .tags = tags;
        }
    }

    /// What the directory knows of one resource.
    pub(crate) fn entry(&self, kind: TargetType, id: &str) -> Option<&TargetEntry> {
        self.targets.of(kind).get(id)
    }

    /// The grants held on one target, by interned subject.
    pub(crate) fn holder_ids(&self, kind: TargetType, id: &str) -> &[(SubjectId, AccessSet)] {
        self.entry(kind, id)
            .map(|e| e.holders.as_slice())
            .unwrap_or(&[])
    }

    /// The grants held on one target.
    pub(crate) fn holders(
        &self,
        kind: TargetType,
        id: &str,
    ) -> impl Iterator<Item = (&Subject, AccessSet)> + '_ {
        self.holder_ids(kind, id)
            .iter()
            .map(|(who, access)| (self.subjects.subject(*who), *access))
    }

    /// The owner of a resource.
    pub(crate) fn owner(&self, kind: TargetType, id: &str) -> Option<&str> {
        self.entry(kind, id).and_then(|e| e.owner.as_deref())
    }

    /// Every grant, for listings.
    pub fn all_grants(&self) -> impl Iterator<Item = Grant> + '_ {
        self.targets.iter().flat_map(move |(kind, by_id)| {
            by_id.iter().flat_map(move |(id, entry)| {
                entry.holders.iter().map(move |(who, access)| Grant {
                    subject: self.subjects.subject(*who).clone(),
                    target: Target::new(kind, id.clone()),
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

    /// The custom roles a user holds: their own and their groups', once each.
    pub(crate) fn custom_roles_of(&self, own: &[String], groups: &[String]) -> Vec<String> {
        let mut roles: Vec<String> = own.to_vec();
        for group in groups.iter().filter_map(|g| self.groups.get(g)) {
            for role in &group.custom_roles {
                if !roles.contains(role) {
                    roles.push(role.clone());
                }
            }
        }
        roles
    }

    /// A custom role.
    pub fn custom_role(&self, name: &str) -> Option<&CustomRole> {
        self.custom_roles.get(name)
    }

    /// Every custom role, by name.
    pub fn custom_role_list(&self) -> impl Iterator<Item = &CustomRole> {
        self.custom_roles.values()
    }

    /// Whether nobody can log in yet: no users and no applications.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty() && self.applications.is_empty()
    }
}
