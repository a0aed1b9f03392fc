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
mod tests {
    use super::*;
    use crate::security::model::{Grant, Ownership};
    use crate::store::SecurityOp;

    fn grant(subject: Subject, kind: TargetType, id: &str, access: &[Access]) -> SecurityOp {
        SecurityOp::PutGrant(Grant {
            subject,
            target: Target::new(kind, id),
            access: access.iter().copied().collect(),
        })
    }

    fn setup(ops: &[SecurityOp]) -> Authorizer {
        let mut directory = Directory::default();
        for op in ops {
            directory.apply(op);
        }
        Authorizer::new(SecurityMode::Enforced, Arc::new(RwLock::new(directory)))
    }

    fn app(id: &str, roles: &[Role]) -> Principal {
        Principal::for_tests(id, PrincipalKind::Application, roles, &[])
    }

    #[test]
    fn nothing_allows_by_default() {
        let authz = setup(&[]);
        let p = app("app:a", &[]);
        let d = authz.decide(&p, Access::Read, Resource::workflow_def("w"));
        assert!(!d.allowed);
        assert_eq!(d.missing.as_deref(), Some("READ on WORKFLOW_DEF w"));
        let err = authz
            .authorize(&p, Access::Execute, Resource::task("book_ride", None))
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("You don't have permissions to execute task: book_ride")
        );
    }

    #[test]
    fn the_documented_least_privilege_example() {
        let authz = setup(&[
            grant(
                Subject::user("app:worker"),
                TargetType::TaskDef,
                "task_x",
                &[Access::Execute],
            ),
            grant(
                Subject::user("app:p1"),
                TargetType::WorkflowDef,
                "Workflow_1",
                &[Access::Execute],
            ),
            grant(
                Subject::user("app:p1"),
                TargetType::TaskDef,
                "task_x",
                &[Access::Execute],
            ),
        ]);
        let worker = app("app:worker", &[Role::Worker]);
        let p1 = app("app:p1", &[]);
        // The worker polls task_x and nothing else; it cannot start or read workflows.
        assert!(authz.can(&worker, Access::Execute, Resource::task("task_x", None)));
        assert!(!authz.can(&worker, Access::Execute, Resource::task("task_y", None)));
        assert!(!authz.can(
            &worker,
            Access::Execute,
            Resource::workflow_def("Workflow_1")
        ));
        assert!(!authz.can(&worker, Access::Read, Resource::workflow("Workflow_1")));
        // Program 1 starts Workflow_1 (and may use task_x in it) but cannot poll.
        assert!(authz.can(&p1, Access::Execute, Resource::workflow_def("Workflow_1")));
        assert!(authz.can(&p1, Access::Execute, Resource::task_def("task_x")));
        assert!(!authz.can(&p1, Access::Execute, Resource::workflow_def("Workflow_2")));
        let poll = authz.decide(&p1, Access::Execute, Resource::task("task_x", None));
        assert!(!poll.allowed);
        assert_eq!(poll.missing.as_deref(), Some("the WORKER role"));
    }

    #[test]
    fn explanations_name_what_allowed() {
        let mut directory = Directory::default();
        for op in [
            grant(
                Subject::group("team-a"),
                TargetType::WorkflowDef,
                "w1",
                &[Access::Read],
            ),
            grant(
                Subject::user("u1"),
                TargetType::Tag,
                "org:acct",
                &[Access::Execute],
            ),
            grant(
                Subject::role(Role::User),
                TargetType::WorkflowDef,
                "w3",
                &[Access::Update],
            ),
            grant(
                Subject::user("app:w"),
                TargetType::Domain,
                "blue",
                &[Access::Execute],
            ),
            SecurityOp::PutOwner(Ownership {
                target: Target::new(TargetType::WorkflowDef, "mine"),
                owner: "u1".into(),
            }),
        ] {
            directory.apply(&op);
        }
        directory.set_tags(TargetType::WorkflowDef, "w2", vec!["org:acct".into()]);
        let authz = Authorizer::new(SecurityMode::Enforced, Arc::new(RwLock::new(directory)));
        let u1 = Principal::for_tests("u1", PrincipalKind::User, &[Role::User], &["team-a"]);

        let via = |access, resource| authz.decide(&u1, access, resource).via;
        assert!(matches!(
            via(Access::Read, Resource::workflow("w1")),
            Some(Via::Grant { subject, .. }) if subject == Subject::group("team-a")
        ));
        assert!(matches!(
            via(Access::Execute, Resource::workflow_def("w2")),
            Some(Via::Grant { target, .. }) if target == Target::new(TargetType::Tag, "org:acct")
        ));
        assert!(matches!(
            via(Access::Update, Resource::workflow_def("w3")),
            Some(Via::Grant { subject, .. }) if subject == Subject::role(Role::User)
        ));
        assert_eq!(
            via(Access::Delete, Resource::workflow_def("mine")),
            Some(Via::Owner)
        );
        assert_eq!(
            via(Access::Create, Resource::workflow_def("new")),
            Some(Via::Role { role: Role::User })
        );
        // Untagged, ungranted: refused.
        assert_eq!(via(Access::Execute, Resource::workflow_def("w4")), None);

        let worker = app("app:w", &[Role::Worker]);
        assert!(authz.can(
            &worker,
            Access::Execute,
            Resource::task("any", Some("blue"))
        ));
        assert!(!authz.can(
            &worker,
            Access::Execute,
            Resource::task("any", Some("green"))
        ));
        assert!(!authz.can(&worker, Access::Execute, Resource::task("any", None)));
    }

    #[test]
    fn admins_and_unrestricted_workers() {
        let authz = setup(&[]);
        let admin = app("app:admin", &[Role::Admin]);
        assert_eq!(
            authz
                .decide(
                    &admin,
                    Access::Delete,
                    Resource::new(ResourceType::Secret, "s")
                )
                .via,
            Some(Via::Role { role: Role::Admin })
        );
        let any = app("app:any", &[Role::UnrestrictedWorker]);
        assert!(authz.can(&any, Access::Execute, Resource::task("t", None)));
        assert!(!authz.can(&any, Access::Execute, Resource::workflow_def("w")));
        assert!(authz.require_admin(&any, "manage users").is_err());
        assert!(authz.require_admin(&admin, "manage users").is_ok());
    }

    #[test]
    fn custom_roles_reach_every_resource_of_their_atoms_types() {
        use crate::security::custom_roles::{CustomRole, parse_permissions};
        let role = |name: &str, atoms: &[&str]| {
            SecurityOp::PutRole(CustomRole {
                name: name.into(),
                permissions: parse_permissions(
                    &atoms.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
                )
                .unwrap_or_default(),
                created_by: "admin".into(),
                updated_by: "admin".into(),
                create_time: 0,
                update_time: 0,
            })
        };
        let authz = setup(&[
            role("RUNNER", &["EXECUTE_WORKFLOW_DEF", "EXECUTE_TASK_DEF"]),
            grant(
                Subject::user("nobody"),
                TargetType::WorkflowDef,
                "w",
                &[Access::Read],
            ),
        ]);
        let holder = |roles: &[Role]| {
            Principal::resolved(
                "app:r".into(),
                PrincipalKind::Application,
                "r".into(),
                roles.iter().copied().collect(),
                vec!["RUNNER".into()],
                Vec::new(),
                None,
            )
        };
        let runner = holder(&[]);
        assert!(authz.can(&runner, Access::Execute, Resource::workflow_def("any")));
        // EXECUTE brings READ, here of every execution; never UPDATE or DELETE.
        assert!(authz.can(&runner, Access::Read, Resource::workflow("other")));
        assert!(!authz.can(&runner, Access::Update, Resource::workflow_def("w")));
        assert!(!authz.can(&runner, Access::Delete, Resource::workflow("w")));
        assert!(!authz.can(
            &runner,
            Access::Read,
            Resource::new(ResourceType::Secret, "s")
        ));
        assert_eq!(
            authz
                .decide(&runner, Access::Execute, Resource::workflow_def("w"))
                .via,
            Some(Via::CustomRole {
                role: "RUNNER".into(),
                permission: "EXECUTE_WORKFLOW_DEF".into()
            })
        );
        // An atom is a grant, not a worker role.
        let poll = authz.decide(&runner, Access::Execute, Resource::task("t", None));
        assert_eq!(poll.missing.as_deref(), Some("the WORKER role"));
        let worker = holder(&[Role::Worker]);
        assert!(authz.can(&worker, Access::Execute, Resource::task("t", None)));
        // No atom names domains or tags, and no custom role makes an administrator.
        assert!(!authz.can(
            &runner,
            Access::Read,
            Resource::new(ResourceType::Domain, "d")
        ));
        assert!(authz.require_admin(&runner, "manage users").is_err());
        // A role's change applies to the next decision of every holder.
        authz
            .directory()
            .write()
            .apply(&role("RUNNER", &["READ_SCHEMA"]));
        assert!(!authz.can(&runner, Access::Execute, Resource::workflow_def("any")));
        assert!(authz.can(&runner, Access::Read, Resource::schema("x")));
        authz
            .directory()
            .write()
            .apply(&SecurityOp::DeleteRole("RUNNER".into()));
        assert!(!authz.can(&runner, Access::Read, Resource::schema("x")));
    }

    #[test]
    fn revoking_a_grant_applies_to_the_next_decision() {
        let authz = setup(&[grant(
            Subject::user("app:p"),
            TargetType::WorkflowDef,
            "w",
            &[Access::Execute],
        )]);
        let p = app("app:p", &[]);
        assert!(authz.can(&p, Access::Execute, Resource::workflow_def("w")));
        authz.directory().write().apply(&SecurityOp::DeleteGrant {
            subject: Subject::user("app:p"),
            target: Target::new(TargetType::WorkflowDef, "w"),
        });
        assert!(!authz.can(&p, Access::Execute, Resource::workflow_def("w")));
    }
}
