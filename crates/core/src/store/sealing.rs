//! Sealing at rest of what views show as `***`.

use std::sync::Arc;

use super::StoreResult;

/// Seals and opens what a store keeps for live workflows and tasks that views show
/// as `***` — the values of `_secrets` and `_masked` maps, and any text or number
/// holding a value the run masks (`maskedFields`) — so that a database file, a
/// backup, a dump or a free-text search never finds them in plain text. The store
/// calls it when it encodes and decodes; the engine and workers see plain values.
pub trait PayloadSealer: Send + Sync {
    /// Seals, in place, every `_secrets` and `_masked` value of a workflow's JSON (or
    /// one of its tasks'), and every text or number holding one of `masked`;
    /// returns the id of the key used, if anything was sealed.
    fn seal(
        &self,
        workflow_id: &str,
        json: &mut serde_json::Value,
        masked: &[Arc<str>],
    ) -> StoreResult<Option<String>>;
    /// Opens what [`PayloadSealer::seal`] sealed; returns the texts that were sealed
    /// for holding a masked value, so a row rewritten without its run at hand (a
    /// claim) seals them again.
    fn open(&self, workflow_id: &str, json: &mut serde_json::Value) -> StoreResult<Vec<Arc<str>>>;
}

/// The key of a value sealed at rest.
pub const AT_REST: &str = "$podiumAtRest";

/// Whether encoded JSON may hold a value to seal (a cheap test before parsing).
pub fn may_hold_sealable(json: &str) -> bool {
    json.contains("\"_secrets\"") || json.contains("\"_masked\"")
}

/// Whether encoded JSON holds sealed values.
pub fn holds_sealed(json: &str) -> bool {
    json.contains(AT_REST)
}
