//! Who is making a request. Every service method takes a `&Principal` first; only this
//! module can construct one, so a handler cannot invent an identity.

use std::fmt;

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

/// The resolved identity of a request.
#[derive(Clone, PartialEq, Eq)]
pub struct Principal {
    id: String,
    kind: PrincipalKind,
}

impl Principal {
    /// The engine's own identity.
    pub(crate) fn system() -> Principal {
        Principal {
            id: "podium:system".to_string(),
            kind: PrincipalKind::System,
        }
    }

    /// The identity of every request while security is switched off.
    pub(crate) fn open() -> Principal {
        Principal {
            id: "anonymous".to_string(),
            kind: PrincipalKind::Open,
        }
    }

    /// The principal's id (a user id, `app:<id>`, or a fixed name for system and open).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The kind of identity.
    pub fn kind(&self) -> PrincipalKind {
        self.kind
    }
}

impl fmt::Debug for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Principal({:?} {})", self.kind, self.id)
    }
}
