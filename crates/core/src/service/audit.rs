//! Who and where the security events come from, and how they reach the trail
//! (`store::audit`). A request's principal and client address are set around its
//! handler ([`scoped`]); every change to access control records its events in its
//! own transaction ([`events_of`], through `AccessControl`); sign-ins and secret
//! reads and writes go through the [`Auditor`], which appends them in batches.

use std::future::Future;
use std::sync::Arc;

use tokio::sync::mpsc;

use crate::security::model::{Subject, Target};
use crate::store::{AuditEvent, AuditStore, SecurityOp};

/// The author of the events a request causes.
#[derive(Debug, Clone)]
pub struct AuditContext {
    pub principal: String,
    pub client: Option<String>,
}

tokio::task_local! {
    static CONTEXT: AuditContext;
}

/// Runs `work` with `context` as the author of the events it causes.
pub async fn scoped<F: Future>(context: AuditContext, work: F) -> F::Output {
    CONTEXT.scope(context, work).await
}

/// The author of events now: the request's, or `podium` (the server itself: the
/// first start, a background job).
pub fn current() -> AuditContext {
    CONTEXT.try_with(Clone::clone).unwrap_or(AuditContext {
        principal: "podium".into(),
        client: None,
    })
}

/// An event by the current author.
pub fn event(now: i64, action: &str, target: String, success: bool) -> AuditEvent {
    let author = current();
    AuditEvent {
        time: now,
        principal: author.principal,
        client: author.client,
        action: action.to_string(),
        target: crate::store::audit::bounded(&target),
        outcome: if success { "success" } else { "failure" }.into(),
    }
}

fn target_text(target: &Target) -> String {
    format!("{}:{}", target.kind.name(), target.id)
}

fn subject_text(subject: &Subject) -> String {
    format!("{}:{}", subject.kind.name(), subject.id)
}

/// The events a list of access-control changes records, one per change.
pub fn events_of(ops: &[SecurityOp], now: i64) -> Vec<AuditEvent> {
    ops.iter()
        .filter_map(|op| {
            let (action, target) = match op {
                SecurityOp::PutApplication(app) => {
                    ("application.put", format!("application:{}", app.id))
                }
                SecurityOp::DeleteApplication(id) => {
                    ("application.delete", format!("application:{id}"))
                }
                SecurityOp::PutKey(key) => (
                    "access_key.put",
                    format!("access_key:{} ({:?})", key.id, key.status),
                ),
                SecurityOp::DeleteKey(id) => ("access_key.delete", format!("access_key:{id}")),
                SecurityOp::PutUser(user) => ("user.put", format!("user:{}", user.id)),
                SecurityOp::DeleteUser(id) => ("user.delete", format!("user:{id}")),
                SecurityOp::PutGroup(group) => ("group.put", format!("group:{}", group.id)),
                SecurityOp::DeleteGroup(id) => ("group.delete", format!("group:{id}")),
                SecurityOp::PutRole(role) => ("role.put", format!("role:{}", role.name)),
                SecurityOp::DeleteRole(name) => ("role.delete", format!("role:{name}")),
                SecurityOp::PutGrant(grant) => {
                    let accesses: Vec<&str> = grant.access.iter().map(|a| a.name()).collect();
                    (
                        "grant.put",
                        format!(
                            "{} to {} [{}]",
                            target_text(&grant.target),
                            subject_text(&grant.subject),
                            accesses.join(",")
                        ),
                    )
                }
                SecurityOp::DeleteGrant { subject, target } => (
                    "grant.delete",
                    format!("{} to {}", target_text(target), subject_text(subject)),
                ),
                SecurityOp::PutOwner(owner) => (
                    "owner.put",
                    format!("{} by {}", target_text(&owner.target), owner.owner),
                ),
                SecurityOp::DeleteOwner(target) => ("owner.delete", target_text(target)),
                SecurityOp::Audit(_) => return None,
            };
            Some(event(now, action, target, true))
        })
        .collect()
}

/// Events waiting for the trail, at most; more are dropped with an error in the log
/// (the store is away or far behind).
const MOST_WAITING: usize = 10_000;

/// Appends events that are not part of an access-control change, in batches, in the
/// background, so a sign-in does not wait for a write. Events not yet written when
/// the process dies are lost: at most the last moment's.
#[derive(Clone)]
pub struct Auditor {
    sender: mpsc::Sender<AuditEvent>,
}

impl Auditor {
    /// Starts the task that appends them.
    pub fn start(store: Arc<dyn AuditStore>) -> Auditor {
        let (sender, mut received) = mpsc::channel::<AuditEvent>(MOST_WAITING);
        tokio::spawn(async move {
            while let Some(first) = received.recv().await {
                let mut batch = vec![first];
                while batch.len() < 256 {
                    match received.try_recv() {
                        Ok(event) => batch.push(event),
                        Err(_) => break,
                    }
                }
                if store.append_audit(batch.clone()).await.is_err() {
                    // One event the store refuses must not take the others down.
                    for event in batch {
                        let action = event.action.clone();
                        if let Err(err) = store.append_audit(vec![event]).await {
                            tracing::error!(error = %err, action = %action, "an audit event could not be written; it is lost");
                        }
                    }
                }
            }
        });
        Auditor { sender }
    }

    /// Queues an event.
    pub fn record(&self, event: AuditEvent) {
        if let Err(err) = self.sender.try_send(event) {
            let action = match &err {
                mpsc::error::TrySendError::Full(e) | mpsc::error::TrySendError::Closed(e) => {
                    e.action.clone()
                }
            };
            tracing::error!(action = %action, "the audit trail is too far behind; an event was dropped");
        }
    }
}

/// Most entries one page of `GET /api/audit` holds.
pub const MAX_PAGE: i64 = 1000;

impl super::identity::IdentityService {
    /// `GET /api/audit`: the trail, newest first, filtered and paged. ADMIN only.
    pub async fn audit_trail(
        &self,
        principal: &crate::security::Principal,
        query: crate::store::AuditQuery,
    ) -> crate::error::CoreResult<(i64, Vec<crate::store::AuditEntry>)> {
        self.rt
            .authorizer
            .require_admin(principal, "read the audit trail")?;
        if query.start < 0 || !(1..=MAX_PAGE).contains(&query.size) {
            return Err(crate::error::CoreError::invalid(format!(
                "start must be 0 or more and size 1 to {MAX_PAGE}"
            )));
        }
        Ok(self.rt.stores.audit.search_audit(&query).await?)
    }

    /// Checks the audit trail's hash chain from its first entry, a page at a time,
    /// as `podium audit verify` does: how many entries are whole, or the first
    /// place it is broken. ADMIN only.
    pub async fn verify_audit(
        &self,
        principal: &crate::security::Principal,
    ) -> crate::error::CoreResult<Result<i64, crate::store::audit::Broken>> {
        self.rt
            .authorizer
            .require_admin(principal, "verify the audit trail")?;
        let mut check = crate::store::audit::ChainCheck::default();
        // From below the first entry, so a row put before it is found too.
        let mut after = i64::MIN;
        loop {
            let page = self.rt.stores.audit.audit_after(after, 1000).await?;
            if page.is_empty() {
                return Ok(Ok(check.checked()));
            }
            if let Some(broken) = page.iter().find_map(|entry| check.check(entry).err()) {
                return Ok(Err(broken));
            }
            after = page.last().map_or(after, |e| e.seq);
        }
    }
}
