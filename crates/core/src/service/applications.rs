//! Applications and their access keys: create, read, rename, delete, roles, tags,
//! and keys whose secrets are shown once and kept only as keyed hashes.

use serde::Serialize;

use super::disclosure::{covers_every, hidden};
use super::grants::GrantedAccess;
use super::identity::{IdentityService, new_key_id, new_key_secret};
use crate::error::{CoreError, CoreResult};
use crate::model::Tag;
use crate::security::model::{
    AccessKey, Application, KeyStatus, Role, Subject, Target, TargetType,
};
use crate::security::{Access, Principal, Resource, ResourceType};
use crate::store::SecurityOp;

/// Tag resource type of applications.
pub const APPLICATION_TAGS: &str = "APPLICATION";

/// A created access key: the only time its secret is shown.
#[derive(Serialize)]
pub struct CreatedKey {
    pub id: String,
    pub secret: String,
}

/// An access key as listed.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyView {
    pub id: String,
    pub created_at: i64,
    pub status: KeyStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<i64>,
}

impl From<&AccessKey> for KeyView {
    fn from(key: &AccessKey) -> KeyView {
        KeyView {
            id: key.id.clone(),
            created_at: key.created_at,
            status: key.status,
            last_used_at: key.last_used_at,
        }
    }
}

/// An application as the API shows it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationView {
    pub id: String,
    pub name: String,
    pub created_by: String,
    pub updated_by: String,
    pub create_time: i64,
    pub update_time: i64,
    pub tags: Vec<Tag>,
}

fn application_not_found(id: &str) -> CoreError {
    CoreError::NotFound(format!("Application '{id}' not found"))
}

/// A trimmed, non-empty application name.
fn application_name(name: &str) -> CoreResult<&str> {
    let name = name.trim();
    if name.is_empty() {
        return Err(CoreError::invalid("Application name cannot be empty"));
    }
    Ok(name)
}

impl IdentityService {
    async fn view(&self, app: &Application) -> CoreResult<ApplicationView> {
        let tags = self
            .rt
            .stores
            .tags
            .get_tags(APPLICATION_TAGS, &app.id)
            .await?;
        Ok(ApplicationView {
            id: app.id.clone(),
            name: app.name.clone(),
            created_by: app.created_by.clone(),
            updated_by: app.updated_by.clone(),
            create_time: app.create_time,
            update_time: app.update_time,
            tags,
        })
    }

    fn application(&self, id: &str) -> CoreResult<Application> {
        self.rt
            .access
            .directory()
            .read()
            .application(id)
            .cloned()
            .ok_or_else(|| application_not_found(id))
    }

    fn authorize_app(&self, principal: &Principal, access: Access, id: &str) -> CoreResult<()> {
        self.rt.authorizer.authorize(
            principal,
            access,
            Resource::new(ResourceType::Application, id),
        )
    }

    /// Creates an application; its creator owns it.
    pub async fn create_application(
        &self,
        principal: &Principal,
        name: &str,
    ) -> CoreResult<ApplicationView> {
        // Computed from the directory: first take in what other nodes changed.
        self.rt.access.fresh().await?;
        let name = application_name(name)?;
        self.authorize_app(principal, Access::Create, name)?;
        let now = self.rt.now();
        let app = Application {
            id: self.rt.ids.new_id(),
            name: name.to_string(),
            roles: Vec::new(),
            custom_roles: Vec::new(),
            created_by: principal.id().to_string(),
            updated_by: principal.id().to_string(),
            create_time: now,
            update_time: now,
        };
        let mut ops = vec![SecurityOp::PutApplication(app.clone())];
        ops.extend(self.rt.access.creation_ops(
            principal,
            Target::new(TargetType::Application, app.id.clone()),
        ));
        self.rt.access.commit(ops).await?;
        self.view(&app).await
    }

    /// Applications the caller may read.
    pub async fn list_applications(
        &self,
        principal: &Principal,
    ) -> CoreResult<Vec<ApplicationView>> {
        let mut apps: Vec<Application> = self
            .rt
            .access
            .directory()
            .read()
            .applications()
            .filter(|a| {
                self.rt.authorizer.can(
                    principal,
                    Access::Read,
                    Resource::new(ResourceType::Application, &a.id),
                )
            })
            .cloned()
            .collect();
        apps.sort_by(|a, b| a.create_time.cmp(&b.create_time).then(a.id.cmp(&b.id)));
        let mut views = Vec::with_capacity(apps.len());
        for app in &apps {
            views.push(self.view(app).await?);
        }
        Ok(views)
    }

    /// One application.
    pub async fn get_application(
        &self,
        principal: &Principal,
        id: &str,
    ) -> CoreResult<ApplicationView> {
        self.authorize_app(principal, Access::Read, id)?;
        let app = self.application(id)?;
        self.view(&app).await
    }

    /// Renames an application.
    pub async fn update_application(
        &self,
        principal: &Principal,
        id: &str,
        name: &str,
    ) -> CoreResult<ApplicationView> {
        // Computed from the directory: first take in what other nodes changed.
        self.rt.access.fresh().await?;
        let name = application_name(name)?;
        self.authorize_app(principal, Access::Update, id)?;
        let admin = self.is_admin(principal);
        self.change_app(principal, id, |directory, app| {
            // An identity provider's client acts as the application an ADMIN made
            // under its id: renaming one would hand it to another client.
            if !admin && crate::security::made_by_an_admin(directory, app) {
                return Err(CoreError::Forbidden(format!(
                    "You don't have permissions to rename application {}: an ADMIN made it, and only administrators rename it",
                    app.id
                )));
            }
            app.name = name.to_string();
            Ok(())
        })
        .await
    }

    fn is_admin(&self, principal: &Principal) -> bool {
        self.rt.authorizer.require_admin(principal, "").is_ok()
    }

    /// Changes an application as the store holds it when the change commits (so
    /// no change made meanwhile is written back); `change` may refuse.
    async fn change_app(
        &self,
        principal: &Principal,
        id: &str,
        mut change: impl FnMut(&crate::security::Directory, &mut Application) -> CoreResult<()>,
    ) -> CoreResult<ApplicationView> {
        let now = self.rt.now();
        let (mut refused, mut written) = (None, None);
        self.rt
            .access
            .commit_with(|directory| {
                (refused, written) = (None, None);
                let Some(mut app) = directory.application(id).cloned() else {
                    refused = Some(application_not_found(id));
                    return Vec::new();
                };
                if let Err(err) = change(directory, &mut app) {
                    refused = Some(err);
                    return Vec::new();
                }
                app.updated_by = principal.id().to_string();
                app.update_time = now;
                written = Some(app.clone());
                vec![SecurityOp::PutApplication(app)]
            })
            .await?;
        if let Some(err) = refused {
            return Err(err);
        }
        let app =
            written.ok_or_else(|| CoreError::Internal("the application was not written".into()))?;
        self.view(&app).await
    }

    /// Deletes an application, its keys (their tokens stop at once), its grants and
    /// the grants on it.
    pub async fn delete_application(&self, principal: &Principal, id: &str) -> CoreResult<()> {
        // Computed from the directory: first take in what other nodes changed.
        self.rt.access.fresh().await?;
        self.authorize_app(principal, Access::Delete, id)?;
        let app = self.application(id)?;
        let user_id = app.user_id();
        let mut ops: Vec<SecurityOp> = {
            let directory = self.rt.access.directory().read();
            let mut ops: Vec<SecurityOp> = directory
                .keys_of(id)
                .map(|k| SecurityOp::DeleteKey(k.id.clone()))
                .collect();
            ops.extend(
                directory
                    .all_grants()
                    .filter(|g| {
                        g.subject.kind == crate::security::model::SubjectType::User
                            && g.subject.id == user_id
                    })
                    .map(|g| SecurityOp::DeleteGrant {
                        subject: g.subject,
                        target: g.target,
                    }),
            );
            ops
        };
        ops.extend(
            self.rt
                .access
                .deletion_ops(&Target::new(TargetType::Application, id)),
        );
        ops.push(SecurityOp::DeleteApplication(id.to_string()));
        self.rt.access.commit(ops).await?;
        self.rt
            .stores
            .tags
            .set_tags(APPLICATION_TAGS, id, &[])
            .await?;
        self.rt
            .access
            .refresh_tags(TargetType::Application, id)
            .await
    }

    /// Gives an application a role (`add`) or takes it away. Roles beyond WORKER,
    /// METADATA_API and APPLICATION_CREATOR need an administrator either way, and
    /// a principal who is not an administrator gives only a role it holds itself:
    /// creating applications is no path to roles (or to the grants made to roles)
    /// that the creator lacks.
    pub async fn change_role(
        &self,
        principal: &Principal,
        id: &str,
        role: &str,
        add: bool,
    ) -> CoreResult<ApplicationView> {
        // Computed from the directory: first take in what other nodes changed.
        self.rt.access.fresh().await?;
        if Role::parse(role).is_none() {
            return self
                .change_custom_role(principal, id, role.trim(), add)
                .await;
        }
        let role = parse_app_role(role)?;
        self.authorize_app(principal, Access::Update, id)?;
        if role.admin_only_for_applications() {
            let what = if add {
                format!("give an application the {role} role")
            } else {
                format!("take the {role} role from an application")
            };
            self.rt.authorizer.require_admin(principal, &what)?;
        }
        if add
            && !principal.has_role(role)
            && self
                .rt
                .authorizer
                .require_admin(principal, "give a role")
                .is_err()
        {
            return Err(CoreError::Forbidden(format!(
                "You don't have permissions to give an application the {role} role: you do not hold it yourself"
            )));
        }
        self.change_app(principal, id, |_, app| {
            app.roles.retain(|r| *r != role);
            if add {
                app.roles.push(role);
                app.roles.sort();
            }
            Ok(())
        })
        .await
    }

    /// A key acts as its application: a principal who is not an administrator
    /// makes one only for an application whose roles (custom ones included) it
    /// holds itself, so managing applications is no way to roles it lacks.
    fn may_act_as(&self, principal: &Principal, app: &Application) -> CoreResult<()> {
        if self
            .rt
            .authorizer
            .require_admin(principal, "act as an application")
            .is_ok()
        {
            return Ok(());
        }
        let lacking = app
            .roles
            .iter()
            .find(|r| !principal.has_role(**r))
            .map(|r| r.name().to_string())
            .or_else(|| {
                app.custom_roles
                    .iter()
                    .find(|r| !principal.custom_roles().contains(r))
                    .cloned()
            });
        match lacking {
            None => Ok(()),
            Some(role) => Err(CoreError::Forbidden(format!(
                "You don't have permissions to create an access key for application {}: it holds the role {role}, which you do not hold",
                app.id
            ))),
        }
    }

    /// Gives an application a custom role, or takes it away: for administrators
    /// only, as a custom role may reach every resource of a type. A role deleted
    /// since it was given can still be taken away.
    async fn change_custom_role(
        &self,
        principal: &Principal,
        id: &str,
        role: &str,
        add: bool,
    ) -> CoreResult<ApplicationView> {
        let what = if add {
            format!("give an application the custom role {role}")
        } else {
            format!("take the custom role {role} from an application")
        };
        self.rt.authorizer.require_admin(principal, &what)?;
        self.authorize_app(principal, Access::Update, id)?;
        self.change_app(principal, id, |directory, app| {
            let taking_held = !add && app.custom_roles.iter().any(|r| r == role);
            if directory.custom_role(role).is_none() && !taking_held {
                return Err(super::roles::unknown_role(role));
            }
            app.custom_roles.retain(|r| r != role);
            if add {
                app.custom_roles.push(role.to_string());
                app.custom_roles.sort();
            }
            Ok(())
        })
        .await
    }

    /// Creates an access key; its secret is in the answer and nowhere else.
    pub async fn create_key(&self, principal: &Principal, id: &str) -> CoreResult<CreatedKey> {
        // Computed from the directory: first take in what other nodes changed.
        self.rt.access.fresh().await?;
        let Some(hasher) = self.hasher.clone() else {
            return Err(CoreError::invalid(
                "Access keys need security: this server runs with security disabled",
            ));
        };
        self.authorize_app(principal, Access::Update, id)?;
        let app = self.application(id)?;
        self.may_act_as(principal, &app)?;
        let (key_id, secret) = (new_key_id()?, new_key_secret()?);
        let key = AccessKey {
            id: key_id.clone(),
            application_id: id.to_string(),
            secret_hash: hasher.hash(&secret),
            status: KeyStatus::Active,
            created_at: self.rt.now(),
            last_used_at: None,
        };
        self.rt.access.commit(vec![SecurityOp::PutKey(key)]).await?;
        Ok(CreatedKey { id: key_id, secret })
    }

    /// The keys of an application.
    pub async fn list_keys(&self, principal: &Principal, id: &str) -> CoreResult<Vec<KeyView>> {
        self.authorize_app(principal, Access::Read, id)?;
        self.application(id)?;
        let mut keys: Vec<KeyView> = self
            .rt
            .access
            .directory()
            .read()
            .keys_of(id)
            .map(KeyView::from)
            .collect();
        keys.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        Ok(keys)
    }

    fn key_of(&self, app_id: &str, key_id: &str) -> CoreResult<AccessKey> {
        self.rt
            .access
            .directory()
            .read()
            .key(key_id)
            .filter(|k| k.application_id == app_id)
            .cloned()
            .ok_or_else(|| CoreError::NotFound(format!("Access key '{key_id}' not found")))
    }

    /// Flips a key between ACTIVE and INACTIVE; tokens from an inactive key are
    /// refused from the next request on.
    pub async fn toggle_key(
        &self,
        principal: &Principal,
        app_id: &str,
        key_id: &str,
    ) -> CoreResult<KeyView> {
        // Computed from the directory: first take in what other nodes changed.
        self.rt.access.fresh().await?;
        self.authorize_app(principal, Access::Update, app_id)?;
        self.application(app_id)?;
        let mut key = self.key_of(app_id, key_id)?;
        key.status = match key.status {
            KeyStatus::Active => KeyStatus::Inactive,
            KeyStatus::Inactive => KeyStatus::Active,
        };
        self.rt
            .access
            .commit(vec![SecurityOp::PutKey(key.clone())])
            .await?;
        Ok(KeyView::from(&key))
    }

    /// Deletes a key; its tokens are refused from the next request on.
    pub async fn delete_key(
        &self,
        principal: &Principal,
        app_id: &str,
        key_id: &str,
    ) -> CoreResult<()> {
        // Computed from the directory: first take in what other nodes changed.
        self.rt.access.fresh().await?;
        self.authorize_app(principal, Access::Update, app_id)?;
        self.application(app_id)?;
        self.key_of(app_id, key_id)?;
        self.rt
            .access
            .commit(vec![SecurityOp::DeleteKey(key_id.to_string())])
            .await
    }

    /// The application that owns a key. A caller who may not read that application
    /// gets the same 403 as for a key that does not exist; "not found" only goes to
    /// callers who may read every application.
    pub async fn application_of_key(
        &self,
        principal: &Principal,
        key_id: &str,
    ) -> CoreResult<ApplicationView> {
        let app_id = self
            .rt
            .access
            .directory()
            .read()
            .key(key_id)
            .map(|k| k.application_id.clone());
        let authz = &self.rt.authorizer;
        match app_id {
            Some(app_id)
                if authz.can(
                    principal,
                    Access::Read,
                    Resource::new(ResourceType::Application, &app_id),
                ) =>
            {
                self.get_application(principal, &app_id).await
            }
            None if covers_every(authz, principal, Access::Read, ResourceType::Application) => Err(
                CoreError::NotFound(format!("Access key '{key_id}' not found")),
            ),
            _ => Err(hidden(format_args!(
                "read the application of access key: {key_id}"
            ))),
        }
    }

    /// The tags of an application.
    pub async fn application_tags(&self, principal: &Principal, id: &str) -> CoreResult<Vec<Tag>> {
        self.authorize_app(principal, Access::Read, id)?;
        self.application(id)?;
        Ok(self.rt.stores.tags.get_tags(APPLICATION_TAGS, id).await?)
    }

    /// Changes the tags of an application: `replace` sets them, otherwise `remove`
    /// takes the given ones away or they are added.
    pub async fn change_application_tags(
        &self,
        principal: &Principal,
        id: &str,
        tags: Vec<Tag>,
        remove: bool,
    ) -> CoreResult<()> {
        self.authorize_app(principal, Access::Update, id)?;
        self.application(id)?;
        if remove {
            self.rt
                .stores
                .tags
                .remove_tags(APPLICATION_TAGS, id, &tags)
                .await?;
        } else {
            self.rt
                .stores
                .tags
                .add_tags(APPLICATION_TAGS, id, &tags)
                .await?;
        }
        self.rt
            .access
            .refresh_tags(TargetType::Application, id)
            .await
    }
}

/// What an application may do: the roles it holds and the grants made to it.
pub struct ApplicationAccess {
    /// Built-in roles, then custom roles, by name.
    pub roles: Vec<String>,
    /// The grants made to the application (as its user `app:<id>`).
    pub grants: Vec<GrantedAccess>,
}

impl IdentityService {
    /// Whether `principal` has applications to look at: it may create one, or read
    /// one (what the console's menu asks).
    pub fn may_use_applications(&self, principal: &Principal) -> bool {
        let authz = &self.rt.authorizer;
        self.may_create_applications(principal)
            || self.rt.access.directory().read().applications().any(|a| {
                authz.can(
                    principal,
                    Access::Read,
                    Resource::new(ResourceType::Application, &a.id),
                )
            })
    }

    /// Whether `principal` may create applications (by its roles: an application
    /// is created under a name of the creator's choosing).
    pub fn may_create_applications(&self, principal: &Principal) -> bool {
        self.rt.authorizer.can(
            principal,
            Access::Create,
            Resource::new(ResourceType::Application, ""),
        )
    }

    /// The roles and grants of an application, to whom may manage it (UPDATE on
    /// it): the API shows them to administrators and the application itself, and
    /// reading an application (every `USER_READ_ONLY` may) is not knowing whose
    /// keys are worth stealing.
    pub fn application_access(
        &self,
        principal: &Principal,
        id: &str,
    ) -> CoreResult<ApplicationAccess> {
        self.authorize_app(principal, Access::Update, id)?;
        let app = self.application(id)?;
        let subject = Subject::user(app.user_id());
        let directory = self.rt.access.directory().read();
        let mut grants: Vec<GrantedAccess> = directory
            .all_grants()
            .filter(|g| g.subject == subject)
            .map(|g| GrantedAccess {
                target: g.target.clone(),
                access: g.access,
            })
            .collect();
        grants.sort_by(|a, b| a.target.cmp(&b.target));
        let roles = app
            .roles
            .iter()
            .map(|r| r.name().to_string())
            .chain(app.custom_roles.iter().cloned())
            .collect();
        Ok(ApplicationAccess { roles, grants })
    }
}

fn parse_app_role(text: &str) -> CoreResult<Role> {
    let role = Role::parse(text).ok_or_else(|| {
        CoreError::invalid(format!(
            "Unknown role '{text}'; application roles: {}",
            Role::ALL
                .iter()
                .filter(|r| r.for_applications())
                .map(|r| r.name())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })?;
    if !role.for_applications() {
        return Err(CoreError::invalid(format!(
            "Role {role} is for users, not applications"
        )));
    }
    Ok(role)
}
