//! The access-control vocabulary and records: roles, accesses, subjects, targets,
//! applications with their access keys, users, groups and grants. The wire names are
//! Orkes Conductor's, so the SDKs' authorization clients read them unchanged.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// An access a principal may hold on a resource.
///
/// The first five are Orkes Conductor's. The last two are Camunda Operate's
/// per-definition permissions: granted on a workflow definition (or a tag), they
/// reach only the executions of that definition (see `docs/access-control.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Access {
    Create,
    Read,
    Update,
    Execute,
    Delete,
    /// Operate executions: pause, resume, terminate, retry, restart, rerun, skip.
    UpdateProcessInstance,
    /// Remove executions.
    DeleteProcessInstance,
}

impl Access {
    /// Every access, in wire order.
    pub const ALL: [Access; 7] = [
        Access::Create,
        Access::Read,
        Access::Update,
        Access::Execute,
        Access::Delete,
        Access::UpdateProcessInstance,
        Access::DeleteProcessInstance,
    ];

    /// The verb used in refusal messages.
    pub fn verb(self) -> &'static str {
        match self {
            Access::Create => "create",
            Access::Read => "read",
            Access::Update => "update",
            Access::Execute => "execute",
            Access::Delete => "delete",
            Access::UpdateProcessInstance => "update the executions of",
            Access::DeleteProcessInstance => "delete the executions of",
        }
    }

    /// The wire name.
    pub fn name(self) -> &'static str {
        match self {
            Access::Create => "CREATE",
            Access::Read => "READ",
            Access::Update => "UPDATE",
            Access::Execute => "EXECUTE",
            Access::Delete => "DELETE",
            Access::UpdateProcessInstance => "UPDATE_PROCESS_INSTANCE",
            Access::DeleteProcessInstance => "DELETE_PROCESS_INSTANCE",
        }
    }

    /// Whether the access is about a definition's executions only (Operate's
    /// per-definition permissions), never about the definition itself.
    pub fn is_for_executions(self) -> bool {
        matches!(
            self,
            Access::UpdateProcessInstance | Access::DeleteProcessInstance
        )
    }

    /// Parses a wire name, case-insensitively.
    pub fn parse(text: &str) -> Option<Access> {
        Access::ALL
            .into_iter()
            .find(|a| a.name().eq_ignore_ascii_case(text.trim()))
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// A set of accesses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct AccessSet(u8);

impl AccessSet {
    /// No access.
    pub const EMPTY: AccessSet = AccessSet(0);
    /// Every access.
    pub const FULL: AccessSet = AccessSet(0b111_1111);

    /// Whether `access` is in the set.
    pub fn contains(self, access: Access) -> bool {
        self.0 & access.bit() != 0
    }

    /// The set with `access` added.
    pub fn with(self, access: Access) -> AccessSet {
        AccessSet(self.0 | access.bit())
    }

    /// The union of two sets.
    pub fn union(self, other: AccessSet) -> AccessSet {
        AccessSet(self.0 | other.0)
    }

    /// The set without the accesses of `other`.
    pub fn minus(self, other: AccessSet) -> AccessSet {
        AccessSet(self.0 & !other.0)
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The accesses, in wire order.
    pub fn iter(self) -> impl Iterator<Item = Access> {
        Access::ALL.into_iter().filter(move |a| self.contains(*a))
    }

    /// The raw bits, for storage.
    pub fn bits(self) -> u8 {
        self.0
    }

    /// From raw bits; unknown bits are dropped.
    pub fn from_bits(bits: u8) -> AccessSet {
        AccessSet(bits & AccessSet::FULL.0)
    }
}

impl FromIterator<Access> for AccessSet {
    fn from_iter<I: IntoIterator<Item = Access>>(iter: I) -> AccessSet {
        iter.into_iter().fold(AccessSet::EMPTY, AccessSet::with)
    }
}

impl Serialize for AccessSet {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for AccessSet {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<AccessSet, D::Error> {
        Ok(Vec::<Access>::deserialize(d)?.into_iter().collect())
    }
}

/// A role: a named bundle of capabilities. User roles and application roles share
/// one namespace, as in Orkes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Role {
    Admin,
    User,
    MetadataManager,
    WorkflowManager,
    UserReadOnly,
    Worker,
    MetadataApi,
    ApplicationCreator,
    UnrestrictedWorker,
    ApplicationManager,
    /// Operate's OWNER: full access, as ADMIN.
    Owner,
    /// Operate's OPERATOR: read and operate every execution, as WORKFLOW_MANAGER.
    Operator,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 12] = [
        Role::Admin,
        Role::User,
        Role::MetadataManager,
        Role::WorkflowManager,
        Role::UserReadOnly,
        Role::Worker,
        Role::MetadataApi,
        Role::ApplicationCreator,
        Role::UnrestrictedWorker,
        Role::ApplicationManager,
        Role::Owner,
        Role::Operator,
    ];

    /// The wire name.
    pub fn name(self) -> &'static str {
        match self {
            Role::Admin => "ADMIN",
            Role::User => "USER",
            Role::MetadataManager => "METADATA_MANAGER",
            Role::WorkflowManager => "WORKFLOW_MANAGER",
            Role::UserReadOnly => "USER_READ_ONLY",
            Role::Worker => "WORKER",
            Role::MetadataApi => "METADATA_API",
            Role::ApplicationCreator => "APPLICATION_CREATOR",
            Role::UnrestrictedWorker => "UNRESTRICTED_WORKER",
            Role::ApplicationManager => "APPLICATION_MANAGER",
            Role::Owner => "OWNER",
            Role::Operator => "OPERATOR",
        }
    }

    /// Parses a wire name, case-insensitively.
    pub fn parse(text: &str) -> Option<Role> {
        Role::ALL
            .into_iter()
            .find(|r| r.name().eq_ignore_ascii_case(text.trim()))
    }

    /// Roles an application may hold (Operate's roles are people's, as in Operate).
    pub fn for_applications(self) -> bool {
        !matches!(
            self,
            Role::User | Role::UserReadOnly | Role::Owner | Role::Operator
        )
    }

    /// The Podium role whose capabilities an Operate role carries, if it is one.
    pub fn acts_as(self) -> Option<Role> {
        match self {
            Role::Owner => Some(Role::Admin),
            Role::Operator => Some(Role::WorkflowManager),
            _ => None,
        }
    }

    /// Roles only an administrator may give to an application.
    pub fn admin_only_for_applications(self) -> bool {
        matches!(
            self,
            Role::UnrestrictedWorker
                | Role::MetadataManager
                | Role::WorkflowManager
                | Role::ApplicationManager
                | Role::Admin
        )
    }

    /// The permission atoms the role carries, as `userInfo` reports them.
    pub fn atoms(self) -> &'static [&'static str] {
        match self {
            Role::Admin => &[
                "ADMIN_MANAGEMENT",
                "USER_MANAGEMENT",
                "PERMISSION_MANAGEMENT",
                "AUTHORIZATION_MANAGEMENT",
                "APPLICATION_MANAGEMENT",
                "METADATA_MANAGEMENT",
                "METADATA_VIEW",
                "WORKFLOW_MANAGEMENT",
                "WORKFLOW_SEARCH",
                "CREATE_WORKFLOW_DEF",
                "CREATE_TASK_DEF",
                "CREATE_SECRET",
                "CREATE_APPLICATION",
            ],
            Role::User => &[
                "CREATE_WORKFLOW_DEF",
                "CREATE_TASK_DEF",
                "CREATE_SECRET",
                "CREATE_APPLICATION",
                "WORKFLOW_SEARCH",
            ],
            Role::MetadataManager => &["METADATA_MANAGEMENT", "METADATA_VIEW", "CREATE_SECRET"],
            Role::WorkflowManager => &["WORKFLOW_MANAGEMENT", "WORKFLOW_SEARCH", "METADATA_VIEW"],
            Role::UserReadOnly => &[
                "METADATA_VIEW",
                "WORKFLOW_SEARCH",
                "WORKFLOW_VIEW",
                "APPLICATION_VIEW",
            ],
            Role::Worker => &[],
            Role::MetadataApi => &["CREATE_WORKFLOW_DEF", "CREATE_TASK_DEF"],
            Role::ApplicationCreator => &["CREATE_APPLICATION"],
            Role::UnrestrictedWorker => &["UNRESTRICTED_WORKER"],
            Role::ApplicationManager => &["APPLICATION_MANAGEMENT", "CREATE_APPLICATION"],
            Role::Owner => Role::Admin.atoms(),
            Role::Operator => Role::WorkflowManager.atoms(),
        }
    }

    fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of roles.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct RoleSet(u16);

impl RoleSet {
    /// Whether `role` is in the set.
    pub fn contains(self, role: Role) -> bool {
        self.0 & role.bit() != 0
    }

    /// The set with `role` added.
    pub fn with(self, role: Role) -> RoleSet {
        RoleSet(self.0 | role.bit())
    }

    /// The union of two sets.
    pub fn union(self, other: RoleSet) -> RoleSet {
        RoleSet(self.0 | other.0)
    }

    /// The roles, in declaration order.
    pub fn iter(self) -> impl Iterator<Item = Role> {
        Role::ALL.into_iter().filter(move |r| self.contains(*r))
    }

    /// The set with the roles Operate's roles act as added (OWNER brings ADMIN,
    /// OPERATOR brings WORKFLOW_MANAGER): the roles authorization decides with.
    pub fn effective(self) -> RoleSet {
        self.iter()
            .filter_map(Role::acts_as)
            .fold(self, RoleSet::with)
    }

    /// The role of the set that brings `role`: itself when held, else an Operate
    /// role acting as it. For explaining a decision.
    pub fn source_of(self, role: Role) -> Option<Role> {
        if self.contains(role) {
            return Some(role);
        }
        self.iter().find(|r| r.acts_as() == Some(role))
    }
}

impl FromIterator<Role> for RoleSet {
    fn from_iter<I: IntoIterator<Item = Role>>(iter: I) -> RoleSet {
        iter.into_iter().fold(RoleSet::default(), RoleSet::with)
    }
}

/// The kind of a grant's subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum SubjectType {
    User,
    Role,
    Group,
}

impl SubjectType {
    /// The wire name.
    pub fn name(self) -> &'static str {
        match self {
            SubjectType::User => "USER",
            SubjectType::Role => "ROLE",
            SubjectType::Group => "GROUP",
        }
    }

    /// Parses a wire name, case-insensitively (the Orkes docs send lower case).
    pub fn parse(text: &str) -> Option<SubjectType> {
        [SubjectType::User, SubjectType::Role, SubjectType::Group]
            .into_iter()
            .find(|t| t.name().eq_ignore_ascii_case(text.trim()))
    }
}

/// Who a grant is given to: a user (`app:<id>` for an application), a role or a group.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Subject {
    #[serde(rename = "type")]
    pub kind: SubjectType,
    pub id: String,
}

impl Subject {
    /// A user or application subject.
    pub fn user(id: impl Into<String>) -> Subject {
        Subject {
            kind: SubjectType::User,
            id: id.into(),
        }
    }

    /// A group subject.
    pub fn group(id: impl Into<String>) -> Subject {
        Subject {
            kind: SubjectType::Group,
            id: id.into(),
        }
    }

    /// A role subject.
    pub fn role(role: Role) -> Subject {
        Subject {
            kind: SubjectType::Role,
            id: role.name().to_string(),
        }
    }
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind.name(), self.id)
    }
}

/// The kind of resource a grant is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TargetType {
    WorkflowDef,
    TaskDef,
    SecretName,
    EnvVariable,
    Application,
    Domain,
    Tag,
    WorkflowSchedule,
    Schema,
    EventHandler,
}

impl TargetType {
    /// Every target type.
    pub const ALL: [TargetType; 10] = [
        TargetType::WorkflowDef,
        TargetType::TaskDef,
        TargetType::SecretName,
        TargetType::EnvVariable,
        TargetType::Application,
        TargetType::Domain,
        TargetType::Tag,
        TargetType::WorkflowSchedule,
        TargetType::Schema,
        TargetType::EventHandler,
    ];

    /// The wire name.
    pub fn name(self) -> &'static str {
        match self {
            TargetType::WorkflowDef => "WORKFLOW_DEF",
            TargetType::TaskDef => "TASK_DEF",
            TargetType::SecretName => "SECRET_NAME",
            TargetType::EnvVariable => "ENV_VARIABLE",
            TargetType::Application => "APPLICATION",
            TargetType::Domain => "DOMAIN",
            TargetType::WorkflowSchedule => "WORKFLOW_SCHEDULE",
            TargetType::Schema => "SCHEMA",
            TargetType::EventHandler => "EVENT_HANDLER",
            TargetType::Tag => "TAG",
        }
    }

    /// Parses a wire name, case-insensitively; `SECRET` (in the Python SDK's list) is
    /// read as `SECRET_NAME`.
    pub fn parse(text: &str) -> Option<TargetType> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("SECRET") {
            return Some(TargetType::SecretName);
        }
        TargetType::ALL
            .into_iter()
            .find(|t| t.name().eq_ignore_ascii_case(text))
    }

    /// The noun used in refusal messages.
    pub fn noun(self) -> &'static str {
        match self {
            TargetType::WorkflowDef => "workflow",
            TargetType::TaskDef => "task",
            TargetType::SecretName => "secret",
            TargetType::EnvVariable => "environment variable",
            TargetType::Application => "application",
            TargetType::Domain => "domain",
            TargetType::Tag => "tag",
            TargetType::WorkflowSchedule => "schedule",
            TargetType::Schema => "schema",
            TargetType::EventHandler => "event handler",
        }
    }
}

/// A resource a grant is on.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Target {
    #[serde(rename = "type")]
    pub kind: TargetType,
    pub id: String,
}

impl Target {
    /// A target.
    pub fn new(kind: TargetType, id: impl Into<String>) -> Target {
        Target {
            kind,
            id: id.into(),
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind.name(), self.id)
    }
}

/// A grant: a subject holds some accesses on a target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    pub subject: Subject,
    pub target: Target,
    pub access: AccessSet,
}

/// Whether an access key can be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum KeyStatus {
    Active,
    Inactive,
}

/// An application: a service account whose access keys mint tokens. It is also the
/// user `app:<id>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Application {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub roles: Vec<Role>,
    /// Custom roles held, by name (see `custom_roles`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub custom_roles: Vec<String>,
    pub created_by: String,
    pub updated_by: String,
    pub create_time: i64,
    pub update_time: i64,
}

impl Application {
    /// The application's user id.
    pub fn user_id(&self) -> String {
        application_user_id(&self.id)
    }
}

/// The user id of an application.
pub fn application_user_id(application_id: &str) -> String {
    format!("app:{application_id}")
}

/// An access key of an application. Only a keyed hash of the secret is kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessKey {
    pub id: String,
    pub application_id: String,
    /// HMAC-SHA256 of the secret under the server's key-hash key, hex.
    pub secret_hash: String,
    pub status: KeyStatus,
    pub created_at: i64,
    #[serde(default)]
    pub last_used_at: Option<i64>,
}

/// A person known to Podium. Its `Debug` leaves the password hash out.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub roles: Vec<Role>,
    /// Custom roles held, by name (see `custom_roles`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub custom_roles: Vec<String>,
    #[serde(default)]
    pub groups: Vec<String>,
    /// An argon2id PHC string for built-in login; none for users who log in elsewhere.
    #[serde(default)]
    pub password_hash: Option<String>,
    #[serde(default)]
    pub disabled: bool,
    /// The version a token of this user must carry (`Claims::ver`): moved on when
    /// the user is created, their password changes, or they are disabled or enabled,
    /// so every token issued before stops working.
    #[serde(default)]
    pub token_version: i64,
    /// Where the person's identity is kept, when not in Podium: their password
    /// and their groups come from there, refreshed at every sign-in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<IdentitySource>,
    /// What the source knows the person by (an entry's DN, a token's subject),
    /// bound at their first sign-in: another entry naming the same id is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    pub create_time: i64,
    pub update_time: i64,
}

/// Where a person's identity is kept, when not in Podium.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum IdentitySource {
    /// An LDAP directory or Active Directory.
    Ldap,
    /// An OpenID Connect provider whose access tokens are accepted.
    Oidc,
}

impl IdentitySource {
    /// How people call it.
    pub fn name(self) -> &'static str {
        match self {
            IdentitySource::Ldap => "the LDAP directory",
            IdentitySource::Oidc => "the OpenID Connect provider",
        }
    }
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("roles", &self.roles)
            .field("custom_roles", &self.custom_roles)
            .field("groups", &self.groups)
            .field("disabled", &self.disabled)
            .field("token_version", &self.token_version)
            .field("source", &self.source)
            .field("external_id", &self.external_id)
            .finish_non_exhaustive()
    }
}

impl User {
    /// The next [`User::token_version`]: past every earlier one, and past any a
    /// deleted user of the same id could have had (it is at least the time now).
    pub fn next_token_version(&self, now_ms: i64) -> i64 {
        self.token_version.saturating_add(1).max(now_ms)
    }
}

/// A group of users: its roles and grants reach every member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Group {
    pub id: String,
    pub description: String,
    #[serde(default)]
    pub roles: Vec<Role>,
    /// Custom roles held, by name (see `custom_roles`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub custom_roles: Vec<String>,
    /// Accesses the group receives on what its members create, by target type.
    #[serde(default)]
    pub default_access: BTreeMap<TargetType, AccessSet>,
    pub create_time: i64,
    pub update_time: i64,
}

/// Who created a resource: the creator holds every access on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ownership {
    pub target: Target,
    pub owner: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_round_trip() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.name()), Some(role));
            assert_eq!(
                serde_json::to_value(role).ok(),
                Some(serde_json::json!(role.name()))
            );
        }
        for kind in TargetType::ALL {
            assert_eq!(TargetType::parse(kind.name()), Some(kind));
            assert_eq!(
                serde_json::to_value(kind).ok(),
                Some(serde_json::json!(kind.name()))
            );
        }
        assert_eq!(TargetType::parse("secret"), Some(TargetType::SecretName));
        assert_eq!(SubjectType::parse("user"), Some(SubjectType::User));
        assert_eq!(TargetType::parse("PROMPT"), None);
    }

    #[test]
    fn access_sets_serialize_as_lists() {
        let set: AccessSet = [Access::Execute, Access::Read].into_iter().collect();
        assert_eq!(
            serde_json::to_string(&set).ok().as_deref(),
            Some(r#"["READ","EXECUTE"]"#)
        );
        let back: AccessSet = serde_json::from_str(r#"["DELETE","READ"]"#).unwrap_or_default();
        assert!(back.contains(Access::Delete) && back.contains(Access::Read));
        assert!(!back.contains(Access::Create));
        assert_eq!(AccessSet::from_bits(0xff), AccessSet::FULL);
    }

    #[test]
    fn operate_roles_act_as_podium_roles_and_explain_by_their_own_name() {
        let held: RoleSet = [Role::Operator].into_iter().collect();
        let effective = held.effective();
        assert!(effective.contains(Role::WorkflowManager) && effective.contains(Role::Operator));
        assert!(!effective.contains(Role::Admin));
        assert_eq!(held.source_of(Role::WorkflowManager), Some(Role::Operator));
        assert_eq!(held.source_of(Role::Admin), None);
        let owner: RoleSet = [Role::Owner, Role::Admin].into_iter().collect();
        assert_eq!(owner.source_of(Role::Admin), Some(Role::Admin));
        assert!(!Role::Owner.for_applications() && !Role::Operator.for_applications());
        let wire: AccessSet =
            serde_json::from_str(r#"["UPDATE_PROCESS_INSTANCE","DELETE_PROCESS_INSTANCE"]"#)
                .unwrap_or_default();
        assert!(wire.iter().all(Access::is_for_executions) && wire.iter().count() == 2);
        assert_eq!(
            Access::parse("update_process_instance"),
            Some(Access::UpdateProcessInstance)
        );
    }
}
