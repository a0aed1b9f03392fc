//! Security: principals, authentication into a principal, and authorization.
//!
//! Every request becomes a [`Principal`] in [`Authenticator::authenticate`], the only
//! place one is made from credentials; every decision is made by
//! [`Authorizer::decide`]. Both read the same in-memory [`Directory`], which mirrors
//! the store, so a change applies to the very next request.

pub mod actor;
pub mod authz;
pub mod crypto;
pub mod custom_roles;
pub mod directory;
pub mod external;
pub mod model;
pub mod password;
pub mod password_policy;
pub mod principal;
pub mod secret_box;
pub mod sign_in_delay;
pub mod throttle;
pub mod token;

use std::sync::Arc;

use parking_lot::RwLock;

pub use actor::{Actor, Cause};
pub use authz::{Authorizer, Decision, Resource, ResourceType, RouteAccess, SecurityMode, Via};
pub use directory::Directory;
pub use model::{Access, Role};
pub use principal::{Principal, PrincipalKind};

use crate::clock::Clock;
use crate::error::CoreError;
use model::{KeyStatus, RoleSet};
use token::{TokenError, TokenKeys, VerifiedTokens};

/// Credentials presented with a request, as the HTTP layer found them.
#[derive(Default)]
pub struct Credentials<'a> {
    /// The value of `X-Authorization`, or of `Authorization: Bearer`.
    pub token: Option<&'a str>,
}

/// Who a request is. A token copied from a browser session names that session:
/// the principal stands only while the session lives, which the caller checks
/// (`SessionService::check_bound`) before using it.
#[must_use]
#[derive(Debug)]
pub struct Authenticated {
    pub principal: Principal,
    /// The store key of the session the token is bound to.
    pub session: Option<String>,
}

/// The 401 the SDKs answer by minting a new token.
pub fn invalid_token(message: impl Into<String>) -> CoreError {
    CoreError::Unauthenticated {
        code: "INVALID_TOKEN",
        message: message.into(),
    }
}

fn expired_token() -> CoreError {
    CoreError::Unauthenticated {
        code: "EXPIRED_TOKEN",
        message: "The token has expired: get a new one from POST /api/token".into(),
    }
}

/// Turns a request's credentials into a [`Principal`]: the only way one is made.
#[derive(Clone)]
pub struct Authenticator {
    mode: SecurityMode,
    tokens: Option<Arc<TokenKeys>>,
    verified: Arc<VerifiedTokens>,
    directory: Arc<RwLock<Directory>>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Authenticator({:?})", self.mode)
    }
}

impl Authenticator {
    /// Every request is the open principal (security switched off).
    pub fn disabled(clock: Arc<dyn Clock>) -> Authenticator {
        Authenticator {
            mode: SecurityMode::Disabled,
            tokens: None,
            verified: Arc::default(),
            directory: Arc::default(),
            clock,
        }
    }

    /// Every request must carry a token signed with `tokens` whose principal the
    /// directory still knows and allows.
    pub fn enforced(
        tokens: TokenKeys,
        directory: Arc<RwLock<Directory>>,
        clock: Arc<dyn Clock>,
    ) -> Authenticator {
        Authenticator {
            mode: SecurityMode::Enforced,
            tokens: Some(Arc::new(tokens)),
            verified: Arc::default(),
            directory,
            clock,
        }
    }

    /// The mode in force.
    pub fn mode(&self) -> SecurityMode {
        self.mode
    }

    /// The token keys, when security is enforced.
    pub fn tokens(&self) -> Option<&TokenKeys> {
        self.tokens.as_deref()
    }

    /// Whether `token` looks like one of Podium's own (its header is the one Podium
    /// mints); any other is for the identity provider, when one is configured.
    pub fn minted_here(&self, token: &str) -> bool {
        self.tokens.as_deref().is_some_and(|t| t.minted_here(token))
    }

    /// The principal of a request. With security disabled every request is the open
    /// principal, whatever it presents.
    pub fn authenticate(&self, credentials: &Credentials<'_>) -> Result<Authenticated, CoreError> {
        let Some(tokens) = self.tokens.as_deref() else {
            return Ok(Authenticated {
                principal: Principal::open(),
                session: None,
            });
        };
        let token = credentials.token.ok_or_else(|| {
            invalid_token("Missing token: send X-Authorization with a token from POST /api/token")
        })?;
        let now = self.clock.now_millis() / 1000;
        let claims = self
            .verified
            .verify(tokens, token, now)
            .map_err(|e| match e {
                TokenError::Expired => expired_token(),
                TokenError::Invalid => {
                    invalid_token("Invalid token: get a new one from POST /api/token")
                }
            })?;
        let directory = self.directory.read();
        let principal = match claims.key.as_deref() {
            Some(key_id) => principal_for_key(&directory, key_id, &claims.sub),
            None => {
                let changed = directory
                    .user(&claims.sub)
                    .is_some_and(|u| claims.ver.unwrap_or(0) != u.token_version);
                if changed {
                    return Err(invalid_token(
                        "Invalid token: the user's password or status changed after it was issued; get a new one from POST /api/token",
                    ));
                }
                principal_for_user(&directory, &claims.sub)
            }
        }?;
        Ok(Authenticated {
            principal,
            session: claims.sid.clone(),
        })
    }
}

/// The application behind an access key, if the key is active and both still exist.
pub fn principal_for_key(
    directory: &Directory,
    key_id: &str,
    subject: &str,
) -> Result<Principal, CoreError> {
    let key = directory
        .key(key_id)
        .ok_or_else(|| invalid_token("Invalid token: its access key no longer exists"))?;
    if key.status != KeyStatus::Active {
        return Err(invalid_token("Invalid token: its access key is inactive"));
    }
    let app = directory
        .application(&key.application_id)
        .ok_or_else(|| invalid_token("Invalid token: its application no longer exists"))?;
    let user_id = app.user_id();
    if user_id != subject {
        return Err(invalid_token(
            "Invalid token: get a new one from POST /api/token",
        ));
    }
    let roles: RoleSet = app.roles.iter().copied().collect();
    Ok(Principal::resolved(
        user_id,
        PrincipalKind::Application,
        app.name.clone(),
        roles,
        app.custom_roles.clone(),
        Vec::new(),
        Some(key.id.clone()),
    ))
}

/// A user, if it exists and is enabled; its roles include its groups' roles.
pub fn principal_for_user(directory: &Directory, user_id: &str) -> Result<Principal, CoreError> {
    let user = directory
        .user(user_id)
        .filter(|u| !u.disabled)
        .ok_or_else(|| invalid_token("Invalid token: the user is unknown or disabled"))?;
    let own: RoleSet = user.roles.iter().copied().collect();
    let roles = own.union(directory.group_roles(&user.groups));
    Ok(Principal::resolved(
        user.id.clone(),
        PrincipalKind::User,
        user.name.clone(),
        roles,
        directory.custom_roles_of(&user.custom_roles, &user.groups),
        user.groups.clone(),
        None,
    ))
}

/// Who an access token of an identity provider speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExternalSubject {
    /// A person, by Podium user id; their record must come from `source` and be
    /// bound to `key` (the token's subject).
    User {
        id: String,
        source: model::IdentitySource,
        key: String,
    },
    /// A machine (a client credentials grant): the Podium application of that name
    /// (`id`: the one found when the token was checked, tried first).
    Application { name: String, id: Option<String> },
}

/// The principal an identity provider's token speaks for, as the directory knows it
/// now: a user of that source, enabled; or the one application with the client's
/// name.
pub fn principal_for_external(
    directory: &Directory,
    subject: &ExternalSubject,
) -> Result<Principal, CoreError> {
    match subject {
        ExternalSubject::User { id, source, key } => {
            // Of that source, and bound to the token's subject (an ADMIN may have
            // handed the id to another person since the token was first seen).
            if directory.user(id).is_some_and(|u| {
                u.source != Some(*source) || u.external_id.as_deref().is_some_and(|k| k != key)
            }) {
                return Err(invalid_token(format!(
                    "Invalid token: user '{id}' is not one of {}'s",
                    source.name()
                )));
            }
            principal_for_user(directory, id)
        }
        ExternalSubject::Application { name, id } => {
            if let Some(app) = id
                .as_deref()
                .and_then(|id| directory.application(id))
                .filter(|app| app.name == *name && made_by_an_admin(directory, app))
            {
                return Ok(Principal::resolved_application(app));
            }
            application_for_client(directory, name).map(Principal::resolved_application)
        }
    }
}

/// Whether an application was created by a principal who holds ADMIN now: only
/// those act for an identity provider's clients, so nobody else can take a
/// client's name by creating or renaming an application.
pub fn made_by_an_admin(directory: &Directory, app: &model::Application) -> bool {
    principal_of(directory, &app.created_by).is_some_and(|creator| creator.has_role(Role::Admin))
}

/// The one application an ADMIN created under a client's id, which the client's
/// tokens act as.
pub fn application_for_client<'d>(
    directory: &'d Directory,
    name: &str,
) -> Result<&'d model::Application, CoreError> {
    let mut named = directory
        .applications()
        .filter(|a| a.name == name && made_by_an_admin(directory, a));
    match (named.next(), named.next()) {
        (Some(app), None) => Ok(app),
        (None, _) => Err(invalid_token(format!(
            "Invalid token: no application an ADMIN created is named '{name}' (the token's client id); an ADMIN creates one of that name to give the client access"
        ))),
        (Some(_), Some(_)) => Err(invalid_token(format!(
            "Invalid token: several applications are named '{name}' (the token's client id); rename all but one"
        ))),
    }
}

/// The principal with an id (a user id, or `app:<id>` for an application), as the
/// directory knows it now: None when it no longer exists, or is a disabled user.
pub fn principal_of(directory: &Directory, id: &str) -> Option<Principal> {
    if let Some(app_id) = id.strip_prefix("app:") {
        return directory
            .application(app_id)
            .map(Principal::resolved_application);
    }
    principal_for_user(directory, id).ok()
}
