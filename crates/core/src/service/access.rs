//! Keeps the store and the in-memory directory of access control in step: every
//! change is committed to the store, then applied to the directory, one change at a
//! time, so the next request sees it and a restart finds the same state.

use std::sync::Arc;

use parking_lot::RwLock;

use super::audit;
use crate::clock::Clock;
use crate::error::CoreError;
use crate::model::Tag;
use crate::security::model::{AccessSet, Grant, Ownership, Subject, Target, TargetType};
use crate::security::{Directory, Principal, PrincipalKind};
use crate::store::{SecurityOp, SecurityStore, Stores, TagStore};

/// Target types whose resources carry tags that tag grants reach.
const TAGGED: [TargetType; 6] = [
    TargetType::WorkflowDef,
    TargetType::TaskDef,
    TargetType::SecretName,
    TargetType::EnvVariable,
    TargetType::Application,
    TargetType::WorkflowSchedule,
];

/// Times a change computed from the directory is tried when other nodes keep
/// changing access control under it.
const COMMIT_ATTEMPTS: usize = 5;

/// The writer of access-control data.
pub struct AccessControl {
    directory: Arc<RwLock<Directory>>,
    store: Arc<dyn SecurityStore>,
    tags: Arc<dyn TagStore>,
    /// Held while the directory and the store are brought in line; holds the store's
    /// [`SecurityStore::security_version`] the directory was last read at.
    write: tokio::sync::Mutex<i64>,
    /// The same version, readable without waiting for the lock (set after the
    /// directory it names is in place).
    seen: std::sync::atomic::AtomicI64,
    /// The time of audit events.
    clock: Arc<dyn Clock>,
}

/// The directory as the store holds it, with the tags of tagged resources.
async fn read_directory(
    security: &dyn SecurityStore,
    tags: &dyn TagStore,
) -> Result<Directory, CoreError> {
    let data = security.load_security().await?;
    let mut directory = Directory::from_data(data);
    for kind in TAGGED {
        let mut by_name: std::collections::HashMap<String, Vec<String>> = Default::default();
        for (name, tag) in tags.all_tags(kind.name()).await? {
            by_name.entry(name).or_default().push(tag_key(&tag));
        }
        for (name, tags) in by_name {
            directory.set_tags(kind, &name, tags);
        }
    }
    Ok(directory)
}

impl AccessControl {
    /// Loads the directory from the store.
    pub async fn load(stores: &Stores, clock: Arc<dyn Clock>) -> Result<AccessControl, CoreError> {
        let version = stores.security.security_version().await?;
        let directory = read_directory(stores.security.as_ref(), stores.tags.as_ref()).await?;
        Ok(AccessControl {
            directory: Arc::new(RwLock::new(directory)),
            store: stores.security.clone(),
            tags: stores.tags.clone(),
            write: tokio::sync::Mutex::new(version),
            seen: std::sync::atomic::AtomicI64::new(version),
            clock,
        })
    }

    /// Reads the directory from the store again and replaces the one in memory (another
    /// node changed it); local changes wait meanwhile, so none is lost.
    pub async fn reload(&self) -> Result<(), CoreError> {
        let mut version = self.write.lock().await;
        self.read_again(&mut version).await
    }

    /// Brings the directory up to date with the store when another node changed it
    /// since it was read (one cheap query otherwise): called before a change is
    /// computed from the directory, so it is computed from what the store holds.
    pub async fn fresh(&self) -> Result<(), CoreError> {
        // Most of the time nothing changed: no need to wait for the lock to see that.
        let current = self.store.security_version().await?;
        if current == self.seen.load(std::sync::atomic::Ordering::SeqCst) {
            return Ok(());
        }
        let mut version = self.write.lock().await;
        if self.store.security_version().await? != *version {
            self.read_again(&mut version).await?;
        }
        Ok(())
    }

    async fn read_again(&self, version: &mut i64) -> Result<(), CoreError> {
        // The version first: a change made while reading makes the next look read again.
        let at = self.store.security_version().await?;
        let fresh = read_directory(self.store.as_ref(), self.tags.as_ref()).await?;
        self.directory.write().replace_with(fresh);
        *version = at;
        self.seen.store(at, std::sync::atomic::Ordering::SeqCst);
        Ok(())
    }

    /// The directory, shared with the authenticator and the authorizer.
    pub fn directory(&self) -> &Arc<RwLock<Directory>> {
        &self.directory
    }

    /// The changes with their audit events, to commit together.
    fn audited(&self, ops: &[SecurityOp]) -> Vec<SecurityOp> {
        let events = audit::events_of(ops, self.clock.now_millis());
        let mut all = ops.to_vec();
        all.extend(events.into_iter().map(SecurityOp::Audit));
        all
    }

    /// Commits changes, with their audit events, then applies them to the directory.
    pub async fn commit(&self, ops: Vec<SecurityOp>) -> Result<(), CoreError> {
        if ops.is_empty() {
            return Ok(());
        }
        let _one_at_a_time = self.write.lock().await;
        self.store.apply_security(self.audited(&ops)).await?;
        let mut directory = self.directory.write();
        for op in &ops {
            directory.apply(op);
        }
        Ok(())
    }

    /// Commits the changes `change` computes from the directory as the store holds
    /// it now, with no other change of this node in between: for a change that must
    /// not undo one made since its caller looked (a password hash replaced only if
    /// it is still the one that was checked).
    ///
    /// Across nodes too: the changes are applied only if no node changed access
    /// control since the directory was read, else the directory is read again and
    /// the changes computed anew (a few times, then 409).
    pub async fn commit_with(
        &self,
        mut change: impl FnMut(&Directory) -> Vec<SecurityOp>,
    ) -> Result<(), CoreError> {
        let mut version = self.write.lock().await;
        for _ in 0..COMMIT_ATTEMPTS {
            if self.store.security_version().await? != *version {
                self.read_again(&mut version).await?;
            }
            let ops = change(&self.directory.read());
            if ops.is_empty() {
                return Ok(());
            }
            if !self
                .store
                .apply_security_at(self.audited(&ops), *version)
                .await?
            {
                continue;
            }
            let mut directory = self.directory.write();
            for op in &ops {
                directory.apply(op);
            }
            return Ok(());
        }
        Err(CoreError::Conflict(
            "Access control is being changed by other nodes; try again".into(),
        ))
    }

    /// Records when access keys were last used (best effort).
    pub async fn record_key_use(&self, uses: Vec<(String, i64)>) -> Result<(), CoreError> {
        self.store.record_key_use(uses.clone()).await?;
        let mut directory = self.directory.write();
        for (key_id, at) in uses {
            if let Some(key) = directory.keys.get_mut(&key_id) {
                key.last_used_at = Some(at);
            }
        }
        Ok(())
    }

    /// Reloads the tags of one resource after they changed in the tag store.
    pub async fn refresh_tags(&self, kind: TargetType, name: &str) -> Result<(), CoreError> {
        let tags = self.tags.get_tags(kind.name(), name).await?;
        let _one_at_a_time = self.write.lock().await;
        self.directory
            .write()
            .set_tags(kind, name, tags.iter().map(tag_key).collect());
        Ok(())
    }

    /// Adds tags to a resource, or removes them; tag grants follow at once. A tag
    /// needs a key.
    pub async fn change_tags(
        &self,
        kind: TargetType,
        name: &str,
        tags: &[Tag],
        remove: bool,
    ) -> Result<(), CoreError> {
        if tags.iter().any(|t| t.key.trim().is_empty()) {
            return Err(CoreError::invalid("A tag needs a non-empty key"));
        }
        if remove {
            self.tags.remove_tags(kind.name(), name, tags).await?;
        } else {
            self.tags.add_tags(kind.name(), name, tags).await?;
        }
        self.refresh_tags(kind, name).await
    }

    /// Removes every tag of a deleted resource, and the reach of its tag grants.
    pub async fn clear_tags(&self, kind: TargetType, name: &str) -> Result<(), CoreError> {
        if self.tags.get_tags(kind.name(), name).await?.is_empty() {
            return Ok(());
        }
        self.tags.set_tags(kind.name(), name, &[]).await?;
        self.refresh_tags(kind, name).await
    }

    /// What creating a resource grants: full access to its creator, and to each of
    /// the creator's groups the group's default access for that type.
    pub fn creation_ops(&self, principal: &Principal, target: Target) -> Vec<SecurityOp> {
        if matches!(
            principal.kind(),
            PrincipalKind::System | PrincipalKind::Open
        ) {
            return Vec::new();
        }
        let directory = self.directory.read();
        let mut ops = Vec::new();
        match directory.owner(target.kind, &target.id) {
            // A name created again by someone allowed to update its owner's resource
            // (an administrator, a manager role) stays its owner's.
            Some(owner) if owner != principal.id() => return ops,
            // Its owner creates it again (the name outlived a delete).
            Some(_) => {}
            None => ops.push(SecurityOp::PutOwner(Ownership {
                target: target.clone(),
                owner: principal.id().to_string(),
            })),
        }
        for group_id in principal.groups() {
            let Some(group) = directory.group(group_id) else {
                continue;
            };
            let Some(access) = group.default_access.get(&target.kind).copied() else {
                continue;
            };
            if access.is_empty() {
                continue;
            }
            let held = directory
                .holders(target.kind, &target.id)
                .find(|(s, _)| {
                    s.kind == crate::security::model::SubjectType::Group && s.id == *group_id
                })
                .map(|(_, a)| a)
                .unwrap_or(AccessSet::EMPTY);
            ops.push(SecurityOp::PutGrant(Grant {
                subject: Subject::group(group_id.clone()),
                target: target.clone(),
                access: held.union(access),
            }));
        }
        ops
    }

    /// What deleting a resource removes: every grant on it. Its owner stays, so
    /// the name is not free for anyone else to claim (to create it again needs
    /// UPDATE on it, see `Authorizer::authorize_create`): workflows that still
    /// refer to it by name must never reach a resource someone else made.
    pub fn deletion_ops(&self, target: &Target) -> Vec<SecurityOp> {
        let directory = self.directory.read();
        let mut ops = Vec::new();
        for (subject, _) in directory.holders(target.kind, &target.id) {
            ops.push(SecurityOp::DeleteGrant {
                subject: subject.clone(),
                target: target.clone(),
            });
        }
        ops
    }
}

/// A tag as grants name it: `key:value`.
pub fn tag_key(tag: &Tag) -> String {
    format!("{}:{}", tag.key, tag.value)
}
