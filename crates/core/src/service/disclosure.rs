//! What a caller may learn about things it cannot see. Whether a named secret, key,
//! task or workflow exists is itself information: a caller without the right to see
//! it gets the same answer whether it exists or not (the same status and a message
//! built only from what the caller sent), and only a caller whose right covers every
//! resource of the kind hears "not found".

use crate::error::CoreError;
use crate::security::authz::{Authorizer, Via};
use crate::security::{Access, Principal, Resource, ResourceType};

/// Whether `principal` holds `access` on every resource of `kind`: through a role,
/// because security is off, or as the engine. Asked about a resource with an empty
/// name, which no grant, tag or ownership can name, so only a decision that holds
/// for the whole kind allows it.
pub(crate) fn covers_every(
    authorizer: &Authorizer,
    principal: &Principal,
    access: Access,
    kind: ResourceType,
) -> bool {
    let decision = authorizer.decide(principal, access, Resource::new(kind, ""));
    decision.allowed
        && matches!(
            decision.via,
            Some(Via::System | Via::SecurityDisabled | Via::Role { .. } | Via::CustomRole { .. })
        )
}

/// The 403 for something the caller may not touch and may not learn the existence
/// of: `what` names only what the caller sent.
pub(crate) fn hidden(what: impl std::fmt::Display) -> CoreError {
    CoreError::Forbidden(format!("You don't have permissions to {what}"))
}
