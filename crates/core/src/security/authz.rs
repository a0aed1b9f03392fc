//! Authorization: the one decision function services call, and the explanation of
//! every decision (which role, grant, group, tag or ownership allowed it, or that
//! nothing did). Deny by default; everything that allows is a union.

use std::fmt;
use std::sync::Arc;

use parking_lot::RwLock;
use serde::Serialize;

use super::custom_roles::Permission;
use super::directory::{Directory, SubjectId};
use super::model::{Access, AccessSet, Role, Subject, SubjectType, Target, TargetType};
use super::principal::{Principal, PrincipalKind};
use crate::error::CoreError;

/// A kind of resource, as services ask about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResourceType {
    /// Workflow definitions (metadata).
    WorkflowDef,
    /// Task definitions (metadata).
    TaskDef,
    /// Workflow executions, authorized through their definition's grants.
    Workflow,
    /// Task executions and queues, authorized through their task definition's grants
    /// and the domain they are routed to.
    Task,
    Secret,
    EnvVariable,
    Application,
    Domain,
    Tag,
    /// Workflow schedules.
    Schedule,
    /// Schemas that definitions name.
    Schema,
    /// Event handlers.
    EventHandler,
}

impl ResourceType {
    /// The grant target type that governs this kind of resource.
    pub fn target_type(self) -> TargetType {
        match self {
            ResourceType::WorkflowDef | ResourceType::Workflow => TargetType::WorkflowDef,
            ResourceType::TaskDef | ResourceType::Task => TargetType::TaskDef,
            ResourceType::Secret => TargetType::SecretName,
            ResourceType::EnvVariable => TargetType::EnvVariable,
            ResourceType::Application => TargetType::Application,
            ResourceType::Domain => TargetType::Domain,
            ResourceType::Tag => TargetType::Tag,
            ResourceType::Schedule => TargetType::WorkflowSchedule,
            ResourceType::Schema => TargetType::Schema,
            ResourceType::EventHandler => TargetType::EventHandler,
        }
    }

    /// The noun used in refusal messages.
    pub fn noun(self) -> &'static str {
        self.target_type().noun()
    }

    /// Whether resources of this kind are work that principals create from a
    /// definition (executions, tasks and their queues), which ownership of the
    /// definition never reaches.
    pub fn is_work(self) -> bool {
        matches!(self, ResourceType::Workflow | ResourceType::Task)
    }
}

/// One resource: its type, its name, and for tasks the domain it is routed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resource<'a> {
    pub kind: ResourceType,
    pub name: &'a str,
    pub domain: Option<&'a str>,
}

impl<'a> Resource<'a> {
    /// A resource of a kind.
    pub fn new(kind: ResourceType, name: &'a str) -> Resource<'a> {
        Resource {
            kind,
            name,
            domain: None,
        }
    }

    /// A workflow definition.
    pub fn workflow_def(name: &'a str) -> Resource<'a> {
        Resource::new(ResourceType::WorkflowDef, name)
    }

    /// A task definition.
    pub fn task_def(name: &'a str) -> Resource<'a> {
        Resource::new(ResourceType::TaskDef, name)
    }

    /// A schema.
    pub fn schema(name: &'a str) -> Resource<'a> {
        Resource::new(ResourceType::Schema, name)
    }

    /// A workflow schedule.
    pub fn schedule(name: &'a str) -> Resource<'a> {
        Resource::new(ResourceType::Schedule, name)
    }

    /// The executions of a workflow definition.
    pub fn workflow(name: &'a str) -> Resource<'a> {
        Resource::new(ResourceType::Workflow, name)
    }

    /// The executions and queue of a task type, in a domain or none.
    pub fn task(name: &'a str, domain: Option<&'a str>) -> Resource<'a> {
        Resource {
            kind: ResourceType::Task,
            name,
            domain: domain.filter(|d| !d.is_empty()),
        }
    }
}

/// What a route requires, declared with the route itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteAccess {
    /// No credentials needed (health, token minting).
    Public,
    /// Any authenticated principal; the service decides per resource.
    Authenticated,
    /// An access on resources of a type; the service checks the named resource.
    Resource(ResourceType, Access),
    /// Only administrators.
    Admin,
    /// A page of the web console: a person signed in with a browser session (or
    /// anyone, with security off); the services the page calls decide the rest.
    Page,
}

/// Whether security is enforced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecurityMode {
    /// Every request must carry a valid token and is authorized.
    Enforced,
    /// Every request is allowed, as an open principal (local experiments only).
    Disabled,
}

/// Why a decision allowed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Via {
    /// Podium's own engine acts.
    System,
    /// Security is switched off by configuration.
    SecurityDisabled,
    /// A role of the principal (its own or a group's) allows it.
    Role { role: Role },
    /// A custom role of the principal (its own or a group's) allows it, through
    /// one of its permission atoms.
    CustomRole { role: String, permission: String },
    /// A grant allows it: to the principal, one of its groups or roles, on the
    /// resource itself, one of its tags or its domain.
    Grant {
        subject: Subject,
        target: Target,
        access: AccessSet,
    },
    /// The principal created the resource.
    Owner,
}

impl fmt::Display for Via {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Via::System => f.write_str("Podium's engine acts for itself"),
            Via::SecurityDisabled => f.write_str("security is disabled"),
            Via::Role { role } => write!(f, "role {role}"),
            Via::CustomRole { role, permission } => {
                write!(f, "custom role {role} (its permission {permission})")
            }
            Via::Grant {
                subject, target, ..
            } => {
                let whom = match subject.kind {
                    SubjectType::User => "the principal".to_string(),
                    SubjectType::Group => format!("group {}", subject.id),
                    SubjectType::Role => format!("role {}", subject.id),
                };
                match target.kind {
                    TargetType::Tag => write!(f, "a grant to {whom} on tag {}", target.id),
                    TargetType::Domain => write!(f, "a grant to {whom} on domain {}", target.id),
                    _ => write!(f, "a grant to {whom} on {target}"),
                }
            }
            Via::Owner => f.write_str("the principal created it"),
        }
    }
}

/// The outcome of one authorization question, with its reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub allowed: bool,
    /// What allowed it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub via: Option<Via>,
    /// What is missing, when refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missing: Option<String>,
}

impl Decision {
    fn allow(via: Via) -> Decision {
        Decision {
            allowed: true,
            via: Some(via),
            missing: None,
        }
    }

    fn deny(missing: impl Into<String>) -> Decision {
        Decision {
            allowed: false,
            via: None,
            missing: Some(missing.into()),
        }
    }
}

/// Roles that allow an access on a kind of resource without any grant.
fn roles_allowing(access: Access, kind: ResourceType) -> &'static [Role] {
    use Access::*;
    use ResourceType as R;
    match (kind, access) {
        (R::WorkflowDef | R::TaskDef, Create) => {
            &[Role::User, Role::MetadataApi, Role::MetadataManager]
        }
        (R::WorkflowDef | R::TaskDef, Read) => &[
            Role::MetadataManager,
            Role::WorkflowManager,
            Role::UserReadOnly,
        ],
        (R::WorkflowDef | R::TaskDef, Update | Delete) => &[Role::MetadataManager],
        (R::WorkflowDef | R::TaskDef, Execute) => &[Role::WorkflowManager],
        // About executions; `Authorizer::evaluate` asks them of `Workflow`.
        (R::WorkflowDef, UpdateProcessInstance | DeleteProcessInstance) => &[Role::WorkflowManager],
        (R::TaskDef, UpdateProcessInstance | DeleteProcessInstance) => &[],
        (R::Workflow, Read) => &[Role::WorkflowManager, Role::UserReadOnly],
        (R::Workflow, _) => &[Role::WorkflowManager],
        (R::Task, Read) => &[Role::WorkflowManager, Role::UserReadOnly],
        (R::Task, Execute) => &[Role::UnrestrictedWorker],
        (R::Task, _) => &[],
        (R::Secret, Create) => &[Role::User, Role::MetadataManager],
        // Documented as the Admin or Metadata roles.
        (R::EnvVariable, Create) => &[Role::MetadataApi, Role::MetadataManager],
        (R::EnvVariable, _) => &[Role::MetadataManager],
        (R::Application, Create) => &[
            Role::User,
            Role::ApplicationCreator,
            Role::ApplicationManager,
        ],
        (R::Application, Read) => &[Role::ApplicationManager, Role::UserReadOnly],
        (R::Application, _) => &[Role::ApplicationManager],
        // A schedule runs as whoever last saved it, so managing others' schedules
        // lends nobody else's rights.
        (R::Schedule, Create) => &[Role::User, Role::MetadataApi, Role::WorkflowManager],
        (R::Schedule, Read) => &[Role::WorkflowManager, Role::UserReadOnly],
        (R::Schedule, _) => &[Role::WorkflowManager],
        // Schemas are metadata: whoever may create definitions may create them.
        (R::Schema, Create) => &[Role::User, Role::MetadataApi, Role::MetadataManager],
        (R::Schema, Read) => &[
            Role::MetadataManager,
            Role::WorkflowManager,
            Role::UserReadOnly,
        ],
        (R::Schema, _) => &[Role::MetadataManager],
        // A handler acts as whoever last saved it, so managing others' handlers
        // lends nobody else's rights.
        (R::EventHandler, Create) => &[Role::User, Role::MetadataApi, Role::MetadataManager],
        (R::EventHandler, Read) => &[
            Role::MetadataManager,
            Role::WorkflowManager,
            Role::UserReadOnly,
        ],
        (R::EventHandler, _) => &[Role::MetadataManager],
        (R::Secret | R::Domain | R::Tag, _) => &[],
    }
}

/// Roles that let a principal poll and update tasks at all.
const WORKER_ROLES: [Role; 3] = [Role::Worker, Role::UnrestrictedWorker, Role::Admin];

/// The one place that decides whether a principal may do something.
#[derive(Debug, Clone)]
pub struct Authorizer {
    mode: SecurityMode,
    directory: Arc<RwLock<Directory>>,
}

impl Authorizer {
    /// An authorizer deciding with `directory`.
    pub fn new(mode: SecurityMode, directory: Arc<RwLock<Directory>>) -> Authorizer {
        Authorizer { mode, directory }
    }

    /// An authorizer that allows everything (security switched off).
    pub fn disabled() -> Authorizer {
        Authorizer::new(SecurityMode::Disabled, Arc::default())
    }

    /// The mode in force.
    pub fn mode(&self) -> SecurityMode {
        self.mode
    }

    /// The directory decisions are made with.
    pub fn directory(&self) -> &Arc<RwLock<Directory>> {
        &self.directory
    }

    /// Decides, and says why.
    pub fn decide(
        &self,
        principal: &Principal,
        access: Access,
        resource: Resource<'_>,
    ) -> Decision {
        let directory = self.directory.read();
        match self.evaluate(&directory, principal, access, resource) {
            Outcome::Allowed(found) => Decision::allow(found.into_via(&directory, resource)),
            Outcome::NeedsWorkerRole => Decision::deny("the WORKER role"),
            Outcome::Refused => Decision::deny(format!(
                "{} on {} {}",
                access.name(),
                resource.kind.target_type().name(),
                resource.name
            )),
        }
    }

    /// Decides without explaining: no allocation on either answer.
    fn allows(&self, principal: &Principal, access: Access, resource: Resource<'_>) -> bool {
        let directory = self.directory.read();
        matches!(
            self.evaluate(&directory, principal, access, resource),
            Outcome::Allowed(_)
        )
    }

    fn evaluate<'d>(
        &self,
        directory: &'d Directory,
        principal: &Principal,
        access: Access,
        resource: Resource<'_>,
    ) -> Outcome<'d> {
        match principal.kind() {
            PrincipalKind::System => return Outcome::Allowed(Found::System),
            PrincipalKind::Open => return Outcome::Allowed(Found::SecurityDisabled),
            PrincipalKind::User | PrincipalKind::Application => {}
        }
        if self.mode == SecurityMode::Disabled {
            return Outcome::Allowed(Found::SecurityDisabled);
        }
        // Operate's per-definition permissions are about a definition's executions.
        let resource = if access.is_for_executions() && resource.kind == ResourceType::WorkflowDef {
            Resource::workflow(resource.name)
        } else {
            resource
        };
        let roles = principal.effective_roles();
        let held = principal.roles();
        if roles.contains(Role::Admin) {
            return Outcome::Allowed(Found::Role(
                held.source_of(Role::Admin).unwrap_or(Role::Admin),
            ));
        }
        if let Some(role) = roles_allowing(access, resource.kind)
            .iter()
            .find(|r| roles.contains(**r))
        {
            return Outcome::Allowed(Found::Role(held.source_of(*role).unwrap_or(*role)));
        }
        // Polling and updating tasks is for workers only, whatever the grants.
        if resource.kind == ResourceType::Task
            && access == Access::Execute
            && !WORKER_ROLES.iter().any(|r| roles.contains(*r))
        {
            return Outcome::NeedsWorkerRole;
        }
        if let Some(found) = custom_role_allowing(directory, principal, access, resource) {
            return Outcome::Allowed(found);
        }
        match find_grant(directory, principal, access, resource) {
            Some(found) => Outcome::Allowed(found),
            None => Outcome::Refused,
        }
    }

    /// Allows or refuses `access` on `resource`; a refusal names both.
    pub fn authorize(
        &self,
        principal: &Principal,
        access: Access,
        resource: Resource<'_>,
    ) -> Result<(), CoreError> {
        if self.allows(principal, access, resource) {
            Ok(())
        } else {
            Err(refusal(access, resource))
        }
    }

    /// Allows creating a resource under a name: CREATE, or UPDATE when the name has
    /// an owner other than the principal. A deleted resource's name stays its
    /// owner's, so a delete frees no name for someone else to claim.
    pub fn authorize_create(
        &self,
        principal: &Principal,
        resource: Resource<'_>,
    ) -> Result<(), CoreError> {
        let owned_by_other = {
            let directory = self.directory.read();
            directory
                .owner(resource.kind.target_type(), resource.name)
                .is_some_and(|owner| owner != principal.id())
        };
        let access = if owned_by_other {
            Access::Update
        } else {
            Access::Create
        };
        self.authorize(principal, access, resource)
    }

    /// Whether `principal` may do `access` on `resource`, for filtering lists.
    pub fn can(&self, principal: &Principal, access: Access, resource: Resource<'_>) -> bool {
        self.allows(principal, access, resource)
    }

    /// Refuses unless the principal is an administrator.
    pub fn require_admin(&self, principal: &Principal, what: &str) -> Result<(), CoreError> {
        if principal.is_unrestricted()
            || self.mode == SecurityMode::Disabled
            || principal.has_role(Role::Admin)
        {
            Ok(())
        } else {
            Err(CoreError::Forbidden(format!(
                "You don't have permissions to {what}: only administrators may"
            )))
        }
    }

    /// Whether the principal holds a role (directly or through a group), or is
    /// unrestricted.
    pub fn has_role(&self, principal: &Principal, role: Role) -> bool {
        principal.is_unrestricted()
            || self.mode == SecurityMode::Disabled
            || principal.has_role(role)
            || principal.has_role(Role::Admin)
    }
}

/// The 403 for a refused access, in the words the SDK examples show.
pub fn refusal(access: Access, resource: Resource<'_>) -> CoreError {
    CoreError::Forbidden(format!(
        "You don't have permissions to {} {}: {}",
        access.verb(),
        resource.kind.noun(),
        resource.name
    ))
}

/// The result of evaluating one question.
enum Outcome<'d> {
    Allowed(Found<'d>),
    NeedsWorkerRole,
    Refused,
}

/// What allowed a decision, borrowed from the directory until it must be explained.
enum Found<'d> {
    System,
    SecurityDisabled,
    Role(Role),
    CustomRole(&'d str, Permission),
    Owner,
    Grant {
        who: SubjectId,
        target_kind: TargetType,
        target_id: TargetId<'d>,
        access: AccessSet,
    },
}

/// The id of a grant's target: the resource itself, its domain, or one of its tags.
enum TargetId<'d> {
    Resource,
    Domain,
    Tag(&'d str),
}

impl Found<'_> {
    fn into_via(self, directory: &Directory, resource: Resource<'_>) -> Via {
        match self {
            Found::System => Via::System,
            Found::SecurityDisabled => Via::SecurityDisabled,
            Found::Role(role) => Via::Role { role },
            Found::CustomRole(role, permission) => Via::CustomRole {
                role: role.to_string(),
                permission: permission.to_string(),
            },
            Found::Owner => Via::Owner,
            Found::Grant {
                who,
                target_kind,
                target_id,
                access,
            } => Via::Grant {
                subject: directory.subjects.subject(who).clone(),
                target: Target::new(
                    target_kind,
                    match target_id {
                        TargetId::Resource => resource.name,
                        TargetId::Domain => resource.domain.unwrap_or_default(),
                        TargetId::Tag(tag) => tag,
                    },
                ),
                access,
            },
        }
    }
}

/// A custom role of the principal whose atoms reach `access` on every resource of
/// the kind: as a grant on each of them would.
fn custom_role_allowing<'d>(
    directory: &'d Directory,
    principal: &Principal,
    access: Access,
    resource: Resource<'_>,
) -> Option<Found<'d>> {
    let target = resource.kind.target_type();
    principal.custom_roles().iter().find_map(|name| {
        let role = directory.custom_role(name)?;
        let permission = role.permission_for(access, target)?;
        Some(Found::CustomRole(role.name.as_str(), permission))
    })
}

fn find_grant<'d>(
    directory: &'d Directory,
    principal: &Principal,
    access: Access,
    resource: Resource<'_>,
) -> Option<Found<'d>> {
    let kind = resource.kind.target_type();
    let entry = directory.entry(kind, resource.name);
    // Owning a definition is the right to change it, never access to the executions
    // and tasks other principals create from it.
    if !resource.kind.is_work() && entry.is_some_and(|e| e.owner.as_deref() == Some(principal.id()))
    {
        return Some(Found::Owner);
    }
    let domain = resource
        .domain
        .map(|d| directory.holder_ids(TargetType::Domain, d))
        .unwrap_or(&[]);
    if entry.is_none() && domain.is_empty() {
        return None;
    }
    let mine = principal.subject_ids(directory);
    let holds = |holders: &[(SubjectId, AccessSet)]| -> Option<(SubjectId, AccessSet)> {
        holders
            .iter()
            .find(|(who, granted)| granted.contains(access) && mine.contains(who))
            .copied()
    };
    let grant = |who, target_kind, target_id, access| Found::Grant {
        who,
        target_kind,
        target_id,
        access,
    };
    if let Some(entry) = entry {
        if let Some((who, access)) = holds(&entry.holders) {
            return Some(grant(who, kind, TargetId::Resource, access));
        }
        for tag in &entry.tags {
            if let Some((who, access)) = holds(directory.holder_ids(TargetType::Tag, tag)) {
                return Some(grant(who, TargetType::Tag, TargetId::Tag(tag), access));
            }
        }
    }
    holds(domain).map(|(who, access)| grant(who, TargetType::Domain, TargetId::Domain, access))
}

#[cfg(test)]
#[path = "authz_tests.rs"]
mod tests;
