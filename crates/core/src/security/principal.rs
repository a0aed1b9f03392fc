//! Who is making a request. Every service method takes a `&Principal` first; only the
//! security module can construct one, so a handler cannot invent an identity.

use std::fmt;
use std::sync::Arc;

use parking_lot::Mutex;

use super::directory::{Directory, SubjectId};
use super::model::{Role, RoleSet, SubjectType};

/// The kind of identity behind a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrincipalKind {
    /// A person (built-in, LDAP or OIDC user).
    User,
    /// An application, acting through one of its access keys.
    Application,
    /// Podium itself: the sweeper, system task runners, recovery.
    System,
    /// Anyone, when security is switched off by configuration.
    Open,
}

/// The resolved identity of a request: who, with which roles (its own and its
/// groups'), in which groups. Resolved again on every request, so a change of roles
/// or membership applies to the next one.
#[derive(Clone)]
pub struct Principal {
    id: String,
    kind: PrincipalKind,
    name: String,
    /// The roles held (own and groups').
    roles: RoleSet,
    /// With the roles Operate's roles act as (see [`RoleSet::effective`]).
    effective: RoleSet,
    /// The custom roles held (own and groups'), by name: what they allow is read
    /// from the directory at each decision, so a role's change applies at once.
    custom_roles: Arc<[String]>,
    groups: Arc<[String]>,
    key_id: Option<String>,
    /// The directory's numbers for the subjects this principal answers to (itself,
    /// its groups, its roles), worked out once per request and again only when the
    /// directory has learnt new subjects since.
    subject_ids: Arc<Mutex<Option<SubjectIds>>>,
}

/// Subject numbers, with the directory generation they were read at.
type SubjectIds = (u64, Arc<[SubjectId]>);

impl PartialEq for Principal {
    fn eq(&self, other: &Principal) -> bool {
        self.id == other.id
            && self.kind == other.kind
            && self.name == other.name
            && self.roles == other.roles
            && self.custom_roles == other.custom_roles
            && self.groups == other.groups
            && self.key_id == other.key_id
    }
}

impl Eq for Principal {}

impl Principal {
    /// The engine's own identity.
    pub(crate) fn system() -> Principal {
        Principal::fixed("podium:system", PrincipalKind::System)
    }

    /// The identity of every request while security is switched off.
    pub(crate) fn open() -> Principal {
        Principal::fixed("anonymous", PrincipalKind::Open)
    }

    fn fixed(id: &str, kind: PrincipalKind) -> Principal {
        Principal {
            id: id.to_string(),
            kind,
            name: id.to_string(),
            roles: RoleSet::default(),
            effective: RoleSet::default(),
            custom_roles: Arc::from(Vec::new()),
            groups: Arc::from(Vec::new()),
            key_id: None,
            subject_ids: Arc::default(),
        }
    }

    /// A user or an application, as the directory resolved it.
    pub(crate) fn resolved(
        id: String,
        kind: PrincipalKind,
        name: String,
        roles: RoleSet,
        custom_roles: Vec<String>,
        groups: Vec<String>,
        key_id: Option<String>,
    ) -> Principal {
        Principal {
            id,
            kind,
            name,
            roles,
            effective: roles.effective(),
            custom_roles: Arc::from(custom_roles),
            groups: Arc::from(groups),
            key_id,
            subject_ids: Arc::default(),
        }
    }

    /// An application as a principal (no key), for questions about it and for work
    /// done on its behalf.
    pub(crate) fn resolved_application(app: &super::model::Application) -> Principal {
        Principal::resolved(
            app.user_id(),
            PrincipalKind::Application,
            app.name.clone(),
            app.roles.iter().copied().collect(),
            app.custom_roles.clone(),
            Vec::new(),
            None,
        )
    }

    /// The directory's numbers for this principal's subjects.
    pub(crate) fn subject_ids(&self, directory: &Directory) -> Arc<[SubjectId]> {
        let generation = directory.subjects.generation;
        let mut cached = self.subject_ids.lock();
        if let Some((seen, ids)) = cached.as_ref()
            && *seen == generation
        {
            return ids.clone();
        }
        let subjects = &directory.subjects;
        let mut ids = Vec::with_capacity(1 + self.groups.len());
        ids.extend(subjects.get(SubjectType::User, &self.id));
        ids.extend(
            self.groups
                .iter()
                .filter_map(|g| subjects.get(SubjectType::Group, g)),
        );
        ids.extend(
            self.effective
                .iter()
                .filter_map(|r| subjects.get(SubjectType::Role, r.name())),
        );
        ids.extend(
            self.custom_roles
                .iter()
                .filter(|r| directory.custom_role(r).is_some())
                .filter_map(|r| subjects.get(SubjectType::Role, r)),
        );
        let ids: Arc<[SubjectId]> = Arc::from(ids);
        *cached = Some((generation, ids.clone()));
        ids
    }

    /// The principal's id: a user id, `app:<id>`, or a fixed name for system and open.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The kind of identity.
    pub fn kind(&self) -> PrincipalKind {
        self.kind
    }

    /// A display name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The roles held: the principal's own and those of its groups.
    pub fn roles(&self) -> RoleSet {
        self.roles
    }

    /// The roles decisions are made with: those held, and the roles Operate's
    /// roles among them act as.
    pub fn effective_roles(&self) -> RoleSet {
        self.effective
    }

    /// Whether the principal has `role`'s capabilities: holds it (directly or
    /// through a group), or an Operate role that acts as it.
    pub fn has_role(&self, role: Role) -> bool {
        self.effective.contains(role)
    }

    /// The custom roles held (own and groups'), by name.
    pub fn custom_roles(&self) -> &[String] {
        &self.custom_roles
    }

    /// The groups the principal belongs to.
    pub fn groups(&self) -> &[String] {
        &self.groups
    }

    /// The access key a request's token was minted from, for applications.
    pub fn key_id(&self) -> Option<&str> {
        self.key_id.as_deref()
    }

    /// Whether every check passes (the engine, or security switched off).
    pub fn is_unrestricted(&self) -> bool {
        matches!(self.kind, PrincipalKind::System | PrincipalKind::Open)
    }
}

impl fmt::Debug for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Principal({:?} {})", self.kind, self.id)
    }
}

#[cfg(any(test, feature = "testkit"))]
impl Principal {
    /// A principal for tests, with the given roles and groups.
    pub fn for_tests(id: &str, kind: PrincipalKind, roles: &[Role], groups: &[&str]) -> Principal {
        Principal::resolved(
            id.to_string(),
            kind,
            id.to_string(),
            roles.iter().copied().collect(),
            Vec::new(),
            groups.iter().map(|g| g.to_string()).collect(),
            None,
        )
    }
}
