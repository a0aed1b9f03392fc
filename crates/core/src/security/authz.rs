//! Authorization: the vocabulary of accesses and resources, the permission each route
//! declares, and the one decision function services call.

use crate::error::CoreError;

use super::principal::{Principal, PrincipalKind};

/// An access a principal may hold on a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Access {
    Create,
    Read,
    Update,
    Execute,
    Delete,
}

impl Access {
    /// The verb used in refusal messages.
    pub fn verb(self) -> &'static str {
        match self {
            Access::Create => "create",
            Access::Read => "read",
            Access::Update => "update",
            Access::Execute => "execute",
            Access::Delete => "delete",
        }
    }
}

/// A kind of resource that access can be granted on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResourceType {
    WorkflowDef,
    TaskDef,
    /// Workflow executions, authorized through their definition.
    Workflow,
    /// Task executions and queues, authorized through their task definition.
    Task,
    Domain,
    Tag,
}

impl ResourceType {
    /// The noun used in refusal messages.
    pub fn noun(self) -> &'static str {
        match self {
            ResourceType::WorkflowDef | ResourceType::Workflow => "workflow",
            ResourceType::TaskDef | ResourceType::Task => "task",
            ResourceType::Domain => "domain",
            ResourceType::Tag => "tag",
        }
    }
}

/// One resource: its type and name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resource<'a> {
    pub kind: ResourceType,
    pub name: &'a str,
}

impl<'a> Resource<'a> {
    /// A workflow definition (or its executions).
    pub fn workflow(name: &'a str) -> Resource<'a> {
        Resource {
            kind: ResourceType::WorkflowDef,
            name,
        }
    }

    /// A task definition (or its executions and queue).
    pub fn task(name: &'a str) -> Resource<'a> {
        Resource {
            kind: ResourceType::TaskDef,
            name,
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
    /// Every request is allowed, as an open principal (local experiments only).
    Disabled,
}

/// The one place that decides whether a principal may do something.
#[derive(Debug, Clone)]
pub struct Authorizer {
    mode: SecurityMode,
}

impl Authorizer {
    /// An authorizer for a security mode.
    pub fn new(mode: SecurityMode) -> Authorizer {
        Authorizer { mode }
    }

    /// The mode in force.
    pub fn mode(&self) -> SecurityMode {
        self.mode
    }

    /// Allows or refuses `access` on `resource`; a refusal names both.
    pub fn authorize(
        &self,
        principal: &Principal,
        access: Access,
        resource: Resource<'_>,
    ) -> Result<(), CoreError> {
        let allowed =
            principal.kind() == PrincipalKind::System || self.mode == SecurityMode::Disabled;
        if allowed {
            Ok(())
        } else {
            Err(CoreError::Forbidden(format!(
                "You don't have permissions to {} {}: {}",
                access.verb(),
                resource.kind.noun(),
                resource.name
            )))
        }
    }

    /// Whether `principal` may read `resource`, for filtering lists before paging.
    pub fn can(&self, principal: &Principal, access: Access, resource: Resource<'_>) -> bool {
        self.authorize(principal, access, resource).is_ok()
    }
}
