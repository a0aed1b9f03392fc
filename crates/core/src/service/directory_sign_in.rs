//! Signing in through a directory (LDAP, Active Directory): the directory checks the
//! password and names the person and their groups; Podium keeps a user record for
//! them, so that roles and grants can be given to them and every request resolves
//! them like any user. Their groups come from the directory, refreshed at every
//! sign-in; their roles are Podium's.

use std::sync::Arc;

use super::identity::IdentityService;
use super::runtime::Runtime;
use crate::security::Directory;
use crate::security::external::{
    ExternalIdentity, ExternalRefusal, GroupMapping, PasswordDirectory, PodiumGroup,
};
use crate::security::model::{IdentitySource, Role, User};
use crate::security::token::{Claims, ISSUER};
use crate::store::SecurityOp;

/// A directory people sign in through, and how its groups map onto Podium's.
pub struct DirectorySignIn {
    pub directory: Arc<dyn PasswordDirectory>,
    pub mapping: GroupMapping,
}

/// Why a sign-in was refused.
#[derive(Debug)]
pub(super) enum SignInRefusal {
    /// The one answer for every wrong name or password.
    BadCredentials,
    /// The directory refused the password because of the account's state.
    Account(&'static str),
    /// The directory could not be asked.
    Unavailable,
}

/// What the user record of a person from elsewhere turned out to be.
pub enum ExternalUser {
    /// Signed in, with the token version of the record.
    Version(i64),
    /// The id is a built-in user's (with a password of Podium's), another source's,
    /// or disabled; the text is for the log.
    Refused(&'static str),
}

impl IdentityService {
    /// Signs a person in through the directory; creates or refreshes their user
    /// record (display name, groups), and answers the token's claims.
    pub(super) async fn directory_claims(
        &self,
        sign_in: &DirectorySignIn,
        name: &str,
        password: &str,
        (now, ttl): (i64, i64),
    ) -> Result<Claims, SignInRefusal> {
        let source = sign_in.directory.source();
        let identity = match sign_in.directory.sign_in(name, password).await {
            Ok(identity) => identity,
            Err(ExternalRefusal::BadCredentials) => return Err(SignInRefusal::BadCredentials),
            Err(ExternalRefusal::Account(reason)) => {
                tracing::info!(reason, "the directory refused a sign-in: {reason}");
                return Err(SignInRefusal::Account(reason));
            }
            Err(ExternalRefusal::Unavailable(why)) => {
                tracing::warn!(error = %why, "could not check a password with {}", source.name());
                return Err(SignInRefusal::Unavailable);
            }
        };
        let version = refresh_external_user(&self.rt, source, &identity, &sign_in.mapping)
            .await
            .map_err(|err| {
                tracing::warn!(user = %identity.id, error = %err, "could not store a directory user");
                SignInRefusal::Unavailable
            })?;
        match version {
            ExternalUser::Version(version) => Ok(Claims {
                sub: identity.id,
                key: None,
                iat: now,
                exp: now + ttl,
                iss: ISSUER.into(),
                ver: Some(version),
                sid: None,
            }),
            ExternalUser::Refused(why) => {
                tracing::warn!(user = %identity.id, "directory sign-in refused: {why}");
                Err(SignInRefusal::BadCredentials)
            }
        }
    }
}

/// Creates the user record of a person whose identity `source` keeps, or brings its
/// name and groups up to date (written only when something changed). Refused for a
/// built-in user, a user of another source or bound to another entry, and a
/// disabled user. Decided on the directory as it is first, so that a refusal or a
/// sign-in that changes nothing takes no write lock.
pub async fn refresh_external_user(
    rt: &Runtime,
    source: IdentitySource,
    identity: &ExternalIdentity,
    mapping: &GroupMapping,
) -> crate::error::CoreResult<ExternalUser> {
    if !usable_id(&identity.id) {
        return Ok(ExternalUser::Refused(
            "the user id is one Podium cannot use (empty, too long, spaces at its ends, control characters, app:, or a name Podium uses itself)",
        ));
    }
    let now = rt.now();
    let planned = plan(
        &rt.access.directory().read(),
        source,
        identity,
        mapping,
        now,
    );
    let (mut outcome, None) = planned else {
        let mut outcome = ExternalUser::Refused("not signed in");
        rt.access
            .commit_with(|directory| {
                let (decided, write) = plan(directory, source, identity, mapping, now);
                outcome = decided;
                write.map(SecurityOp::PutUser).into_iter().collect()
            })
            .await?;
        return Ok(outcome);
    };
    if matches!(outcome, ExternalUser::Version(_)) {
        outcome = planned_version(&rt.access.directory().read(), identity).unwrap_or(outcome);
    }
    Ok(outcome)
}

/// The token version of a user as the directory holds it.
fn planned_version(directory: &Directory, identity: &ExternalIdentity) -> Option<ExternalUser> {
    directory
        .user(&identity.id)
        .map(|u| ExternalUser::Version(u.token_version))
}

/// What a sign-in of `identity` means on `directory`: the outcome, and the user
/// record to write when it changes.
fn plan(
    directory: &Directory,
    source: IdentitySource,
    identity: &ExternalIdentity,
    mapping: &GroupMapping,
    now: i64,
) -> (ExternalUser, Option<User>) {
    let groups = mapping.podium_groups(&identity.groups, |id| match directory.group(id) {
        None => PodiumGroup::Missing,
        // A custom role can reach every resource of a type, as a manager role does.
        Some(group)
            if group.roles.iter().any(|r| privileged(*r)) || !group.custom_roles.is_empty() =>
        {
            PodiumGroup::Privileged
        }
        Some(_) => PodiumGroup::Plain,
    });
    let mut user = match directory.user(&identity.id).cloned() {
        // A built-in user is never taken over by a person from elsewhere: an ADMIN
        // marks a user made ready for one (`identitySource`).
        Some(user) if user.source != Some(source) => {
            return (
                ExternalUser::Refused(
                    "a built-in user, or one of another identity source, has this id",
                ),
                None,
            );
        }
        // Bound to another entry or subject at an earlier sign-in.
        Some(user)
            if user
                .external_id
                .as_deref()
                .is_some_and(|bound| bound != identity.key) =>
        {
            return (
                ExternalUser::Refused(
                    "the user is bound to another entry of the identity source (another DN or subject names the same id)",
                ),
                None,
            );
        }
        Some(user) if user.disabled => {
            return (
                ExternalUser::Refused("the user is disabled in Podium"),
                None,
            );
        }
        Some(user) => user,
        None => {
            // No role of its own: what a person from elsewhere may do comes from
            // their groups and what an ADMIN gives them.
            let mut user = User {
                id: identity.id.clone(),
                name: identity.id.clone(),
                roles: Vec::new(),
                custom_roles: Vec::new(),
                groups: Vec::new(),
                password_hash: None,
                disabled: false,
                token_version: 0,
                source: Some(source),
                external_id: None,
                create_time: now,
                update_time: now,
            };
            user.token_version = user.next_token_version(now);
            user
        }
    };
    let before = directory.user(&identity.id).cloned();
    user.source = Some(source);
    user.external_id = Some(identity.key.clone());
    user.password_hash = None;
    if let Some(name) = identity.display_name.as_deref().map(display_name)
        && !name.is_empty()
    {
        user.name = name;
    }
    // Orkes's rule: a read-only user is in no group.
    user.groups = if user.roles.contains(&Role::UserReadOnly) {
        Vec::new()
    } else {
        groups
    };
    let outcome = ExternalUser::Version(user.token_version);
    if before.as_ref() == Some(&user) {
        return (outcome, None);
    }
    user.update_time = now;
    (outcome, Some(user))
}

/// Whether a role reaches beyond what its holder was given: a group holding one is
/// reached from a directory or a provider only through the mapping table.
fn privileged(role: Role) -> bool {
    role.admin_only_for_applications() || role.acts_as().is_some()
}

/// Whether a source's user id can be a Podium user's.
fn usable_id(id: &str) -> bool {
    let lower = id.to_ascii_lowercase();
    super::users::check_id("user", id).is_ok()
        && id.trim() == id
        && !lower.starts_with("app:")
        && !lower.starts_with("podium:")
        && !matches!(lower.as_str(), "anonymous" | "podium")
}

/// A display name as kept: without control characters, at most 256 characters.
fn display_name(name: &str) -> String {
    name.trim()
        .chars()
        .filter(|c| !c.is_control())
        .take(256)
        .collect()
}
