//! Sealed in the live execution tables: `_secrets` and `_masked` values, and every
//! text or number holding a value the run masks (`maskedFields`, wherever it went:
//! a task's input, a worker's echo, a reason). A workflow started with
//! `{"_secrets": {"token": "..."}}`, a task that fetched a token into `_secrets`
//! (the documented rotation recipe), or a password in a masked field would
//! otherwise sit in the database file in plain text, where a dump or a free-text
//! search finds it. The store seals such values with the secrets master key as it
//! writes a row and opens them as it reads one, so the engine and workers work on
//! plain values; views mask the same values (`masking`).

use std::sync::Arc;

use serde_json::Value;

use super::Runtime;
use super::vault::Vault;
use crate::error::CoreResult;
use crate::store::{PayloadSealer, StoreError, StoreResult};

use crate::store::sealing::sealed_object;
pub use crate::store::sealing::{AT_REST, holds_sealed, may_hold_sealable};

/// The map keys whose values are sealed.
const SEALED_KEYS: [&str; 2] = ["_secrets", "_masked"];

/// What values of one workflow are sealed for.
fn context(workflow_id: &str) -> String {
    format!("podium/at-rest/{workflow_id}")
}

/// Seals with the vault's current key; opens with any key of its keyring.
pub struct VaultSealer {
    vault: Arc<Vault>,
}

impl VaultSealer {
    pub fn new(vault: Arc<Vault>) -> VaultSealer {
        VaultSealer { vault }
    }
}

impl PayloadSealer for VaultSealer {
    fn seal(
        &self,
        workflow_id: &str,
        json: &mut Value,
        masked: &[Arc<str>],
    ) -> StoreResult<Option<String>> {
        let ctx = context(workflow_id);
        let mut used = None;
        let mut seal = |value: &mut Value| -> StoreResult<()> {
            if sealed_object(value).is_some() {
                return Ok(());
            }
            let (sealed, key_id) = self
                .vault
                .seal_json(&ctx, AT_REST, value)
                .map_err(|e| StoreError::backend(format!("sealing a value failed: {e}")))?;
            *value = sealed;
            used = Some(key_id);
            Ok(())
        };
        walk(json, masked, &mut seal)?;
        Ok(used)
    }

    fn open(&self, workflow_id: &str, json: &mut Value) -> StoreResult<Vec<Arc<str>>> {
        let ctx = context(workflow_id);
        let mut by_value = Vec::new();
        open_all(json, false, &mut |value, keyed| {
            let Some(sealed) = sealed_object(value) else {
                return Ok(());
            };
            *value = self
                .vault
                .open_json(&ctx, sealed)
                .map_err(|e| StoreError::Corrupt(format!("workflow {workflow_id}: {e}")))?;
            if !keyed {
                match value {
                    Value::String(text) => by_value.push(Arc::from(text.as_str())),
                    Value::Number(n) => by_value.push(Arc::from(n.to_string().as_str())),
                    _ => {}
                }
            }
            Ok(())
        })?;
        Ok(by_value)
    }
}

/// Whether a text or number holds one of the masked values.
fn holds_masked(value: &Value, masked: &[Arc<str>]) -> bool {
    match value {
        Value::String(text) => masked.iter().any(|m| text.contains(&**m)),
        Value::Number(n) => {
            let text = n.to_string();
            masked.iter().any(|m| **m == *text)
        }
        _ => false,
    }
}

/// Calls `f` on the value of every `_secrets` and `_masked` key, at any depth (not
/// inside those values), and on every text or number holding a masked value.
fn walk(
    value: &mut Value,
    masked: &[Arc<str>],
    f: &mut impl FnMut(&mut Value) -> StoreResult<()>,
) -> StoreResult<()> {
    match value {
        Value::Object(map) => {
            for (key, inner) in map.iter_mut() {
                if SEALED_KEYS.contains(&key.as_str()) {
                    f(inner)?;
                } else {
                    walk(inner, masked, f)?;
                }
            }
            Ok(())
        }
        Value::Array(items) => items.iter_mut().try_for_each(|v| walk(v, masked, f)),
        scalar if !masked.is_empty() && holds_masked(scalar, masked) => f(scalar),
        _ => Ok(()),
    }
}

/// Calls `f` on every value that may be sealed, saying whether it sits under a
/// `_secrets` or `_masked` key.
fn open_all(
    value: &mut Value,
    keyed: bool,
    f: &mut impl FnMut(&mut Value, bool) -> StoreResult<()>,
) -> StoreResult<()> {
    if sealed_object(value).is_some() {
        return f(value, keyed);
    }
    match value {
        Value::Object(map) => {
            for (key, inner) in map.iter_mut() {
                open_all(inner, SEALED_KEYS.contains(&key.as_str()), f)?;
            }
            Ok(())
        }
        Value::Array(items) => items.iter_mut().try_for_each(|v| open_all(v, keyed, f)),
        _ => Ok(()),
    }
}

/// Rewrites, sealed with the current key, the live workflows holding values sealed
/// with a previous one (after a master key rotation), until none is left or `stop`
/// says so. Returns how many were rewritten and how many could not be (logged).
pub async fn reseal_live(rt: &Runtime, stop: impl Fn() -> bool) -> CoreResult<(usize, usize)> {
    let current = rt.vault.current_key_id();
    // The recorded keys say whether any row can be stale, without scanning the rows.
    let keys = rt.stores.execution.payload_keys().await?;
    if keys.iter().all(|k| *k == current) {
        return Ok((0, 0));
    }
    let ids = rt.stores.execution.live_sealed_stale(&current).await?;
    let (mut done, mut failed) = (0, 0);
    for id in ids {
        if stop() {
            break;
        }
        let rewritten = rt
            .mutate(Some(id.clone()), |txn, _| {
                if let Some(state) = txn.state.as_mut() {
                    for index in 0..state.tasks().len() {
                        state.task_mut(index);
                    }
                    state.touch();
                }
                Ok(())
            })
            .await;
        match rewritten {
            Ok(()) => done += 1,
            Err(err) => {
                failed += 1;
                tracing::warn!(workflow_id = %id, error = %err, "a workflow's sealed values could not be re-sealed; it keeps its old key");
            }
        }
    }
    // Forget the old keys only when nothing is left with them (a row written with
    // the old key while the keys were being swapped would show up here).
    if failed == 0
        && !stop()
        && rt
            .stores
            .execution
            .live_sealed_stale(&current)
            .await?
            .is_empty()
    {
        rt.stores
            .execution
            .forget_payload_keys_except(&current)
            .await?;
    }
    Ok((done, failed))
}

/// Why the keys in `known` cannot open the workflow data a store holds: the first
/// key recorded for live rows or archived workflows that is not among them.
pub fn unknown_workflow_key(
    payload_keys: &[String],
    archive_keys: &[String],
    known: impl Fn(&str) -> bool,
) -> Option<String> {
    let live = payload_keys.iter().find(|k| !known(k.as_str()));
    let archived = archive_keys
        .iter()
        .find(|k| k.as_str() != "unknown" && !known(k.as_str()));
    let (key, what) = match (live, archived) {
        (Some(key), _) => (key, "live workflows"),
        (None, Some(key)) => (key, "archived workflows"),
        (None, None) => return None,
    };
    Some(format!(
        "{what} in the store hold values sealed with secrets master key {key}, which is not configured. \
         Configure that key, or list it in PODIUM_SECRETS_PREVIOUS_KEYS while rotating. Nothing was changed."
    ))
}
