//! Access-control records: applications, keys, users, groups, grants and owners, and
//! the rows every backend writes and reads them as.

use std::collections::HashMap;

use async_trait::async_trait;
use serde::de::DeserializeOwned;

use super::audit::AuditEvent;
use super::metadata::to_json;
use super::{StoreError, StoreResult};
use crate::security::custom_roles::CustomRole;
use crate::security::model::{
    AccessKey, AccessSet, Application, Grant, Group, Ownership, Subject, SubjectType, Target,
    TargetType, User,
};

/// Everything access control keeps, as loaded at start-up.
#[derive(Debug, Default, Clone)]
pub struct SecurityData {
    pub applications: Vec<Application>,
    pub keys: Vec<AccessKey>,
    pub users: Vec<User>,
    pub groups: Vec<Group>,
    pub roles: Vec<CustomRole>,
    pub grants: Vec<Grant>,
    pub owners: Vec<Ownership>,
}

/// One change to access-control data. A list of them is applied atomically.
#[derive(Debug, Clone)]
pub enum SecurityOp {
    PutApplication(Application),
    DeleteApplication(String),
    PutKey(AccessKey),
    DeleteKey(String),
    PutUser(User),
    DeleteUser(String),
    PutGroup(Group),
    DeleteGroup(String),
    /// Creates or replaces a custom role.
    PutRole(CustomRole),
    DeleteRole(String),
    /// Sets a subject's accesses on a target (replacing what it held there).
    PutGrant(Grant),
    DeleteGrant {
        subject: Subject,
        target: Target,
    },
    PutOwner(Ownership),
    DeleteOwner(Target),
    /// Appends an event to the audit trail, in the same transaction as the changes.
    Audit(AuditEvent),
}

/// Applications, access keys, users, groups, grants and owners. The data is small
/// and read whole at start-up into the in-memory directory; every change is written
/// here first.
#[async_trait]
pub trait SecurityStore: Send + Sync {
    /// Everything, for the directory.
    async fn load_security(&self) -> StoreResult<SecurityData>;
    /// Applies the changes in one transaction.
    async fn apply_security(&self, ops: Vec<SecurityOp>) -> StoreResult<()>;
    /// Applies the changes in one transaction only if access control is still at
    /// `version` ([`SecurityStore::security_version`]) when it commits; false, with
    /// nothing applied, if another node changed it meanwhile. A store only one
    /// process uses applies them at once.
    async fn apply_security_at(&self, ops: Vec<SecurityOp>, version: i64) -> StoreResult<bool> {
        let _ = version;
        self.apply_security(ops).await.map(|()| true)
    }
    /// Records when access keys were last used, as (key id, time).
    async fn record_key_use(&self, uses: Vec<(String, i64)>) -> StoreResult<()>;
    /// A number that changes with every change to access control (tags included)
    /// by any node, so a node can tell whether its copy is current. A store only one
    /// process uses may answer a constant: that process's copy is always current.
    async fn security_version(&self) -> StoreResult<i64> {
        Ok(0)
    }
}

/// What a `security_record` row holds, by its `kind` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordKind {
    Application,
    AccessKey,
    User,
    Group,
    Role,
}

impl RecordKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordKind::Application => "application",
            RecordKind::AccessKey => "access_key",
            RecordKind::User => "user",
            RecordKind::Group => "group",
            RecordKind::Role => "role",
        }
    }
}

/// One row change a [`SecurityOp`] comes to, its record already encoded: what every
/// backend writes, in order, in one transaction.
#[derive(Debug, Clone)]
pub enum SecurityRow {
    /// Inserts or replaces a `security_record` row.
    PutRecord {
        kind: RecordKind,
        id: String,
        json: String,
    },
    /// Deletes a `security_record` row, if there is one.
    DeleteRecord { kind: RecordKind, id: String },
    /// Forgets when an access key was last used (its `access_key_use` row).
    ForgetKeyUse(String),
    /// Inserts or replaces an `access_grant` row; its accesses are never empty.
    PutGrant(Grant),
    /// Deletes an `access_grant` row, if there is one.
    DeleteGrant { subject: Subject, target: Target },
    /// Inserts or replaces a `resource_owner` row.
    PutOwner(Ownership),
    /// Deletes a `resource_owner` row, if there is one.
    DeleteOwner(Target),
    /// Appends an `audit_log` row, chained to the last one.
    Audit(AuditEvent),
}

impl SecurityRow {
    /// The row changes for a list of operations, in their order. Deleting a key
    /// forgets its uses too; a grant of no access is the grant's deletion.
    pub fn encode(ops: Vec<SecurityOp>) -> StoreResult<Vec<SecurityRow>> {
        let mut rows = Vec::with_capacity(ops.len());
        for op in ops {
            match op {
                SecurityOp::PutApplication(app) => {
                    rows.push(record(RecordKind::Application, &app.id, &app)?);
                }
                SecurityOp::DeleteApplication(id) => rows.push(SecurityRow::DeleteRecord {
                    kind: RecordKind::Application,
                    id,
                }),
                SecurityOp::PutKey(key) => rows.push(record(RecordKind::AccessKey, &key.id, &key)?),
                SecurityOp::DeleteKey(id) => {
                    rows.push(SecurityRow::DeleteRecord {
                        kind: RecordKind::AccessKey,
                        id: id.clone(),
                    });
                    rows.push(SecurityRow::ForgetKeyUse(id));
                }
                SecurityOp::PutUser(user) => rows.push(record(RecordKind::User, &user.id, &user)?),
                SecurityOp::DeleteUser(id) => rows.push(SecurityRow::DeleteRecord {
                    kind: RecordKind::User,
                    id,
                }),
                SecurityOp::PutGroup(group) => {
                    rows.push(record(RecordKind::Group, &group.id, &group)?);
                }
                SecurityOp::DeleteGroup(id) => rows.push(SecurityRow::DeleteRecord {
                    kind: RecordKind::Group,
                    id,
                }),
                SecurityOp::PutRole(role) => {
                    rows.push(record(RecordKind::Role, &role.name, &role)?);
                }
                SecurityOp::DeleteRole(name) => rows.push(SecurityRow::DeleteRecord {
                    kind: RecordKind::Role,
                    id: name,
                }),
                SecurityOp::PutGrant(grant) if grant.access.is_empty() => {
                    rows.push(SecurityRow::DeleteGrant {
                        subject: grant.subject,
                        target: grant.target,
                    });
                }
                SecurityOp::PutGrant(grant) => rows.push(SecurityRow::PutGrant(grant)),
                SecurityOp::DeleteGrant { subject, target } => {
                    rows.push(SecurityRow::DeleteGrant { subject, target });
                }
                SecurityOp::PutOwner(ownership) => rows.push(SecurityRow::PutOwner(ownership)),
                SecurityOp::DeleteOwner(target) => rows.push(SecurityRow::DeleteOwner(target)),
                SecurityOp::Audit(event) => rows.push(SecurityRow::Audit(event)),
            }
        }
        Ok(rows)
    }
}

fn record<T: serde::Serialize>(kind: RecordKind, id: &str, value: &T) -> StoreResult<SecurityRow> {
    Ok(SecurityRow::PutRecord {
        kind,
        id: id.to_string(),
        json: to_json(value)?,
    })
}

/// An `access_grant` row as read.
#[derive(Debug, Clone)]
pub struct StoredGrant {
    pub target_type: String,
    pub target_id: String,
    pub subject_type: String,
    pub subject_id: String,
    /// The [`AccessSet`] bits.
    pub access: i64,
}

/// A `resource_owner` row as read.
#[derive(Debug, Clone)]
pub struct StoredOwner {
    pub target_type: String,
    pub target_id: String,
    pub owner: String,
}

/// Access-control data as read from the tables, before decoding: each backend
/// fills it (records of a kind ordered by id) and [`StoredSecurity::decode`] makes
/// the [`SecurityData`].
#[derive(Debug, Default, Clone)]
pub struct StoredSecurity {
    /// The JSON of the `security_record` rows of kind [`RecordKind::Application`].
    pub applications: Vec<String>,
    /// The same for [`RecordKind::AccessKey`].
    pub keys: Vec<String>,
    /// The same for [`RecordKind::User`].
    pub users: Vec<String>,
    /// The same for [`RecordKind::Group`].
    pub groups: Vec<String>,
    /// The same for [`RecordKind::Role`].
    pub roles: Vec<String>,
    /// `access_key_use` rows: (key id, last used at).
    pub key_uses: Vec<(String, i64)>,
    pub grants: Vec<StoredGrant>,
    pub owners: Vec<StoredOwner>,
}

impl StoredSecurity {
    /// Decodes everything; a record, type name or access set that cannot be read is
    /// corrupt. Each key carries its last recorded use.
    pub fn decode(self) -> StoreResult<SecurityData> {
        let mut keys: Vec<AccessKey> = decode_records(RecordKind::AccessKey, &self.keys)?;
        let uses: HashMap<String, i64> = self.key_uses.into_iter().collect();
        for key in &mut keys {
            if let Some(at) = uses.get(&key.id) {
                key.last_used_at = Some(*at);
            }
        }
        let grants = self
            .grants
            .into_iter()
            .map(decode_grant)
            .collect::<StoreResult<Vec<_>>>()?;
        let owners = self
            .owners
            .into_iter()
            .map(|row| {
                Ok(Ownership {
                    target: decode_target(&row.target_type, row.target_id)?,
                    owner: row.owner,
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(SecurityData {
            applications: decode_records(RecordKind::Application, &self.applications)?,
            keys,
            users: decode_records(RecordKind::User, &self.users)?,
            groups: decode_records(RecordKind::Group, &self.groups)?,
            roles: decode_records(RecordKind::Role, &self.roles)?,
            grants,
            owners,
        })
    }
}

fn decode_records<T: DeserializeOwned>(kind: RecordKind, jsons: &[String]) -> StoreResult<Vec<T>> {
    jsons
        .iter()
        .map(|json| {
            serde_json::from_str(json)
                .map_err(|e| StoreError::Corrupt(format!("{}: {e}", kind.as_str())))
        })
        .collect()
}

fn decode_target(kind: &str, id: String) -> StoreResult<Target> {
    TargetType::parse(kind)
        .map(|k| Target::new(k, id))
        .ok_or_else(|| StoreError::Corrupt(format!("unknown grant target type {kind}")))
}

fn decode_grant(row: StoredGrant) -> StoreResult<Grant> {
    let kind = SubjectType::parse(&row.subject_type).ok_or_else(|| {
        StoreError::Corrupt(format!("unknown grant subject type {}", row.subject_type))
    })?;
    let bits = u8::try_from(row.access)
        .map_err(|_| StoreError::Corrupt(format!("grant access {} is out of range", row.access)))?;
    Ok(Grant {
        subject: Subject {
            kind,
            id: row.subject_id,
        },
        target: decode_target(&row.target_type, row.target_id)?,
        access: AccessSet::from_bits(bits),
    })
}
