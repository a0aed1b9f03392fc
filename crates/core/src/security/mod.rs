//! Security: principals, authentication into a principal, and authorization.

pub mod authz;
pub mod principal;

pub use authz::{Access, Authorizer, Resource, ResourceType, RouteAccess, SecurityMode};
pub use principal::{Principal, PrincipalKind};

use crate::error::CoreError;

/// Credentials presented with a request, as the HTTP layer found them.
#[derive(Default)]
pub struct Credentials<'a> {
    /// The value of `X-Authorization`, or of `Authorization: Bearer`.
    pub token: Option<&'a str>,
}

/// Turns a request's credentials into a [`Principal`]: the only way one is made.
#[derive(Debug, Clone)]
pub struct Authenticator {
    mode: SecurityMode,
}

impl Authenticator {
    /// An authenticator for a security mode.
    pub fn new(mode: SecurityMode) -> Authenticator {
        Authenticator { mode }
    }

    /// The principal of a request. With security disabled every request is the open
    /// principal, whatever it presents.
    pub fn authenticate(&self, credentials: &Credentials<'_>) -> Result<Principal, CoreError> {
        let _ = credentials.token;
        match self.mode {
            SecurityMode::Disabled => Ok(Principal::open()),
        }
    }

    /// The principal the engine acts as.
    pub fn system(&self) -> Principal {
        Principal::system()
    }
}
