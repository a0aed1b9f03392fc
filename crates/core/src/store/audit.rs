//! The audit trail: security events, appended in order, each holding the SHA-256 of
//! the one before it, so an edit or a deletion anywhere breaks the chain from there
//! on. Changes to access control append theirs in the change's own transaction
//! (`SecurityOp::Audit`); sign-ins and secret reads and writes append through
//! [`AuditStore::append_audit`].

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::StoreResult;

/// The `prev_hash` of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One security event, before it takes its place in the chain. It never holds a
/// secret value, a password or a token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEvent {
    /// Epoch milliseconds.
    pub time: i64,
    /// Who acted: a user id, `app:<id>`, `anonymous` (a failed sign-in) or `podium`
    /// (the server itself).
    pub principal: String,
    /// The client address, when the event came from a request.
    pub client: Option<String>,
    /// What happened, such as `token.mint` or `user.put`.
    pub action: String,
    /// What it happened to, such as `user:carol`.
    pub target: String,
    /// `success` or `failure`.
    pub outcome: String,
}

/// Most characters of an event's target kept: a target can hold what a stranger
/// typed (the user id of a refused sign-in), and the trail must not grow by it.
pub const MAX_TARGET_CHARS: usize = 256;

/// `text`, its control characters written as escapes (`\u{0}`: a database may
/// refuse some, and a log reader must not be fooled by a line break), cut to
/// [`MAX_TARGET_CHARS`] characters (marked with `…` when cut).
pub fn bounded(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(MAX_TARGET_CHARS * 4));
    for (count, c) in text.chars().enumerate() {
        if count == MAX_TARGET_CHARS {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.push_str(&c.escape_unicode().to_string());
        } else {
            out.push(c);
        }
    }
    out
}

/// An event in the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    /// 1 for the first entry, then one more for each.
    pub seq: i64,
    #[serde(flatten)]
    pub event: AuditEvent,
    pub prev_hash: String,
    pub hash: String,
}

/// The hash of an entry: SHA-256, hex, over its fields and the previous hash.
pub fn entry_hash(seq: i64, event: &AuditEvent, prev_hash: &str) -> String {
    let fields = serde_json::json!([
        seq,
        event.time,
        event.principal,
        event.client,
        event.action,
        event.target,
        event.outcome,
        prev_hash,
    ]);
    let digest = Sha256::digest(fields.to_string().as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The entry that follows `last` (seq and hash; none for the first).
pub fn next_entry(last: Option<(i64, String)>, event: AuditEvent) -> AuditEntry {
    let (seq, prev_hash) = match last {
        Some((seq, hash)) => (seq + 1, hash),
        None => (1, GENESIS.to_string()),
    };
    let hash = entry_hash(seq, &event, &prev_hash);
    AuditEntry {
        seq,
        event,
        prev_hash,
        hash,
    }
}

/// Where and why a chain is broken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broken {
    pub seq: i64,
    pub why: String,
}

/// Checks entries in order, one at a time, so a long trail is read in pages.
#[derive(Debug)]
pub struct ChainCheck {
    next_seq: i64,
    prev_hash: String,
}

impl Default for ChainCheck {
    fn default() -> Self {
        ChainCheck {
            next_seq: 1,
            prev_hash: GENESIS.to_string(),
        }
    }
}

impl ChainCheck {
    /// Checks the next entry.
    pub fn check(&mut self, entry: &AuditEntry) -> Result<(), Broken> {
        let broken = |why: String| Broken {
            seq: entry.seq,
            why,
        };
        if entry.seq != self.next_seq {
            return Err(Broken {
                seq: self.next_seq,
                why: format!(
                    "entry {} is missing (the next entry found is {})",
                    self.next_seq, entry.seq
                ),
            });
        }
        if entry.prev_hash != self.prev_hash {
            return Err(broken(
                "its previous hash is not the hash of the entry before it".into(),
            ));
        }
        if entry_hash(entry.seq, &entry.event, &entry.prev_hash) != entry.hash {
            return Err(broken("its content does not match its hash".into()));
        }
        self.next_seq += 1;
        self.prev_hash = entry.hash.clone();
        Ok(())
    }

    /// How many entries were checked.
    pub fn checked(&self) -> i64 {
        self.next_seq - 1
    }
}

/// A search of the trail; every filter is optional.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub principal: Option<String>,
    pub action: Option<String>,
    pub target: Option<String>,
    /// Epoch milliseconds, inclusive.
    pub from: Option<i64>,
    /// Epoch milliseconds, inclusive.
    pub to: Option<i64>,
    pub start: i64,
    pub size: i64,
}

/// A value a search filters on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditParam {
    Text(String),
    Int(i64),
}

impl AuditQuery {
    /// The search's `WHERE` clause (empty when nothing is filtered), written with the
    /// store's placeholder for the n-th value (from 1), and the values in order.
    pub fn filter(&self, placeholder: impl Fn(usize) -> String) -> (String, Vec<AuditParam>) {
        let mut conditions = Vec::new();
        let mut values = Vec::new();
        let texts = [
            ("principal", &self.principal),
            ("action", &self.action),
            ("target", &self.target),
        ];
        for (column, value) in texts {
            if let Some(value) = value {
                values.push(AuditParam::Text(value.clone()));
                conditions.push(format!("{column} = {}", placeholder(values.len())));
            }
        }
        for (condition, value) in [("time >=", self.from), ("time <=", self.to)] {
            if let Some(value) = value {
                values.push(AuditParam::Int(value));
                conditions.push(format!("{condition} {}", placeholder(values.len())));
            }
        }
        let clause = if conditions.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", conditions.join(" AND "))
        };
        (clause, values)
    }
}

/// The audit trail.
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Appends events, in order, in one transaction, each chained to the one
    /// before it (whichever node appended that).
    async fn append_audit(&self, events: Vec<AuditEvent>) -> StoreResult<()>;
    /// The entries a query matches, newest first, and how many match in all.
    async fn search_audit(&self, query: &AuditQuery) -> StoreResult<(i64, Vec<AuditEntry>)>;
    /// Up to `limit` entries after `seq`, in order (to walk the whole chain).
    async fn audit_after(&self, seq: i64, limit: usize) -> StoreResult<Vec<AuditEntry>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(n: i64) -> AuditEvent {
        AuditEvent {
            time: n,
            principal: "admin".into(),
            client: Some("127.0.0.1".into()),
            action: "user.put".into(),
            target: format!("user:u{n}"),
            outcome: "success".into(),
        }
    }

    #[test]
    fn long_targets_are_cut() {
        assert_eq!(bounded("user:carol"), "user:carol");
        let long = "é".repeat(MAX_TARGET_CHARS + 10);
        let cut = bounded(&long);
        assert_eq!(cut.chars().count(), MAX_TARGET_CHARS + 1);
        assert!(cut.ends_with('…'));
        assert_eq!(bounded("user:\u{0}x\ny"), "user:\\u{0}x\\u{a}y");
    }

    #[test]
    fn the_chain_detects_an_edit_a_deletion_and_a_reorder() {
        let mut entries: Vec<AuditEntry> = Vec::new();
        for n in 1..=4 {
            let last = entries.last().map(|e| (e.seq, e.hash.clone()));
            entries.push(next_entry(last, event(n)));
        }
        let mut check = ChainCheck::default();
        for entry in &entries {
            check.check(entry).expect("intact");
        }
        assert_eq!(check.checked(), 4);

        let run = |entries: &[AuditEntry]| {
            let mut check = ChainCheck::default();
            entries.iter().try_for_each(|e| check.check(e))
        };
        let mut edited = entries.clone();
        edited[1].event.target = "user:someone-else".into();
        assert_eq!(run(&edited).expect_err("edited").seq, 2);
        let mut deleted = entries.clone();
        deleted.remove(2);
        assert_eq!(run(&deleted).expect_err("deleted").seq, 3);
        let mut rehashed = entries.clone();
        rehashed[1].event.outcome = "failure".into();
        rehashed[1].hash = entry_hash(2, &rehashed[1].event, &rehashed[1].prev_hash);
        assert_eq!(run(&rehashed).expect_err("rehashed").seq, 3);
    }
}
