//! Archival: ended workflows older than the retention leave the live tables for the
//! archive, where get and search still find them. On the way, values under
//! `_secrets` and the definition's `maskedFields` are replaced by `***` for good,
//! while values under `_masked` are kept, sealed with the secrets master key, so a
//! restart of the archived workflow can open them again.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};
use tokio::sync::watch;
use tracing::{info, warn};

use super::Runtime;
use super::handoff::MASK;
use super::vault::Vault;
use crate::engine::state::WorkflowState;
use crate::error::{CoreError, CoreResult};
use crate::model::{JsonMap, Workflow};
use crate::store::ArchivedWorkflow;

/// Workflows archived per store read.
const BATCH: usize = 100;

/// How often the archiver looks for ended workflows past the retention.
const INTERVAL: Duration = Duration::from_secs(60);

/// The key of a sealed value in archived JSON.
pub const SEALED: &str = "$podiumSealed";

/// What archived values are sealed for.
fn context(workflow_id: &str) -> String {
    format!("podium/archive/{workflow_id}")
}

/// Archives ended workflows past the retention, every minute, until shutdown.
pub async fn run_archiver(
    rt: Arc<Runtime>,
    retention_ms: i64,
    mut shutdown: watch::Receiver<bool>,
) {
    while !*shutdown.borrow() {
        match archive_due(&rt, retention_ms).await {
            Ok(0) => {}
            Ok(n) => info!(workflows = n, "archived ended workflows"),
            Err(err) => warn!(error = %err, "archiving stopped; it runs again later"),
        }
        tokio::select! {
            _ = tokio::time::sleep(INTERVAL) => {}
            _ = shutdown.changed() => {}
        }
    }
}

/// Archives every workflow that ended more than `retention_ms` ago; returns how
/// many it archived.
pub async fn archive_due(rt: &Runtime, retention_ms: i64) -> CoreResult<usize> {
    let cutoff = rt.now() - retention_ms;
    let mut done = 0;
    loop {
        let ids = rt
            .stores
            .execution
            .archive_candidates(cutoff, BATCH)
            .await?;
        let mut moved = 0;
        for id in &ids {
            if archive_one(rt, id, cutoff).await? {
                moved += 1;
            }
        }
        done += moved;
        if ids.len() < BATCH || moved == 0 {
            return Ok(done);
        }
    }
}

async fn archive_one(rt: &Runtime, id: &str, cutoff: i64) -> CoreResult<bool> {
    let vault = rt.vault.clone();
    let owned = id.to_string();
    rt.mutate(Some(id.to_string()), move |txn, _ctx| {
        let Some(state) = txn.state.take() else {
            return Ok(false);
        };
        let end = state.workflow.end_time;
        if !state.status().is_terminal() || end == 0 || end >= cutoff {
            txn.state = Some(state);
            return Ok(false);
        }
        let mut workflow = state.to_workflow(true);
        let masked = state.def.masked_fields.clone().unwrap_or_default();
        let sealed_key = redact(&mut workflow, &masked, &vault)?;
        txn.changes.archives.push(ArchivedWorkflow {
            workflow,
            def_revision: state.def_revision.clone(),
            sealed_key,
            authority: state.authority.clone(),
        });
        txn.changes.workflow_deletes.push(owned);
        Ok(true)
    })
    .await
}

/// Redacts a workflow for the archive (see the module documentation); returns the
/// id of the key its `_masked` values were sealed with, if it had any.
pub fn redact(
    workflow: &mut Workflow,
    masked_fields: &[String],
    vault: &Vault,
) -> CoreResult<Option<String>> {
    let ctx = context(&workflow.workflow_id);
    let mut fields = workflow.masked_fields.clone();
    fields.extend(masked_fields.iter().cloned());
    // Wherever the masked values went (a task's input, an echo), they go for good.
    let values = super::masking::masked_values(workflow, &fields);
    for field in &fields {
        for map in [&mut workflow.input, &mut workflow.output] {
            if let Some(value) = map.get_mut(field) {
                *value = Value::String(MASK.to_string());
            }
        }
    }
    let mut sealed_with = None;
    for_each_map(workflow, &mut |map| {
        redact_map(map, vault, &ctx, &mut sealed_with)
    })?;
    // Then what the run masked, wherever else it went; `_masked` values are sealed
    // by now (kept for a restart), so they are left as they are.
    super::masking::mask_everywhere(workflow, &values);
    workflow.masked_values.clear();
    Ok(sealed_with)
}

/// Calls `f` on every top-level map of a workflow that archival redacts.
fn for_each_map(
    workflow: &mut Workflow,
    f: &mut impl FnMut(&mut JsonMap) -> CoreResult<()>,
) -> CoreResult<()> {
    f(&mut workflow.input)?;
    f(&mut workflow.output)?;
    f(&mut workflow.variables)?;
    for task in &mut workflow.tasks {
        f(&mut task.input_data)?;
        f(&mut task.output_data)?;
    }
    Ok(())
}

fn redact_map(
    map: &mut JsonMap,
    vault: &Vault,
    ctx: &str,
    sealed_with: &mut Option<String>,
) -> CoreResult<()> {
    for (key, value) in map.iter_mut() {
        match key.as_str() {
            "_secrets" => *value = Value::String(MASK.to_string()),
            "_masked" => *value = seal(value, vault, ctx, sealed_with)?,
            _ => redact_value(value, vault, ctx, sealed_with)?,
        }
    }
    Ok(())
}

fn redact_value(
    value: &mut Value,
    vault: &Vault,
    ctx: &str,
    sealed_with: &mut Option<String>,
) -> CoreResult<()> {
    match value {
        Value::Object(map) => redact_map(map, vault, ctx, sealed_with),
        Value::Array(items) => {
            for item in items {
                redact_value(item, vault, ctx, sealed_with)?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

fn seal(
    value: &Value,
    vault: &Vault,
    ctx: &str,
    sealed_with: &mut Option<String>,
) -> CoreResult<Value> {
    let (sealed, key_id) = vault.seal_json(ctx, SEALED, value)?;
    *sealed_with = Some(key_id);
    Ok(sealed)
}

/// Opens the sealed `_masked` values of an archived workflow, for a restart.
pub fn unseal(workflow: &mut Workflow, vault: &Vault) -> CoreResult<()> {
    let ctx = context(&workflow.workflow_id);
    for_each_map(workflow, &mut |map| {
        visit_sealed(
            map,
            &mut |value: &mut Value, sealed: &Map<String, Value>| {
                *value = vault.open_json(&ctx, sealed)?;
                Ok(())
            },
        )
    })
}

/// Seals the `_masked` values of an archived workflow again with the current key
/// (after a master key rotation); returns the id of that key.
pub fn reseal(workflow: &mut Workflow, vault: &Vault) -> CoreResult<String> {
    let ctx = context(&workflow.workflow_id);
    let mut sealed_with = None;
    for_each_map(workflow, &mut |map| {
        visit_sealed(
            map,
            &mut |value: &mut Value, sealed: &Map<String, Value>| {
                let plain = vault.open_json(&ctx, sealed)?;
                *value = seal(&plain, vault, &ctx, &mut sealed_with)?;
                Ok(())
            },
        )
    })?;
    Ok(sealed_with.unwrap_or_else(|| vault.current_key_id().to_string()))
}

/// Calls `f` on every sealed `_masked` value in a map, at any depth, with the
/// sealed object.
fn visit_sealed(
    map: &mut JsonMap,
    f: &mut impl FnMut(&mut Value, &Map<String, Value>) -> CoreResult<()>,
) -> CoreResult<()> {
    for (key, value) in map.iter_mut() {
        if key == "_masked"
            && let Some(sealed) = value.get(SEALED).and_then(Value::as_object).cloned()
        {
            f(value, &sealed)?;
        } else if let Value::Object(inner) = value {
            visit_sealed(inner, f)?;
        } else if let Value::Array(items) = value {
            for item in items.iter_mut() {
                if let Value::Object(inner) = item {
                    visit_sealed(inner, f)?;
                }
            }
        }
    }
    Ok(())
}

/// Re-seals, with the current key, the archived workflows whose `_masked` values
/// are sealed with a previous one, a batch at a time, until none is left or
/// `stop` says so. A workflow that does not open (its key is no longer configured)
/// is skipped with a warning and left as it is. Returns how many were re-sealed and
/// how many skipped.
pub async fn reseal_archive(rt: &Runtime, stop: impl Fn() -> bool) -> CoreResult<(usize, usize)> {
    let current = rt.vault.current_key_id().to_string();
    let (mut done, mut skipped) = (0, 0);
    let mut after = String::new();
    while !stop() {
        let ids = rt
            .stores
            .execution
            .archived_sealed_stale(&current, &after, BATCH)
            .await?;
        let Some(last) = ids.last() else {
            break;
        };
        after = last.clone();
        for id in ids {
            let Some(mut archived) = rt.stores.execution.get_archived(&id).await? else {
                continue;
            };
            let Some(from) = archived.sealed_key.clone() else {
                continue;
            };
            match reseal(&mut archived.workflow, &rt.vault) {
                Ok(key) => {
                    archived.sealed_key = Some(key);
                    if rt.stores.execution.reseal_archived(archived, &from).await? {
                        done += 1;
                    }
                }
                Err(err) => {
                    skipped += 1;
                    warn!(workflow_id = %id, error = %err, "an archived workflow could not be re-sealed; it keeps its old key");
                }
            }
        }
        tokio::task::yield_now().await;
    }
    Ok((done, skipped))
}

/// Brings an archived workflow back into the live tables (for a restart), with its
/// `_masked` values opened, and removes it from the archive, in one unit of work.
/// Refused when its input lost values for good.
pub async fn restore(rt: &Runtime, archived: ArchivedWorkflow) -> CoreResult<()> {
    let id = archived.workflow.workflow_id.clone();
    let def = rt
        .stores
        .metadata
        .get_def_revision(&archived.def_revision)
        .await?
        .ok_or_else(|| {
            CoreError::Internal(format!(
                "archived workflow {id} refers to a missing definition revision"
            ))
        })?;
    let masked = super::masking::masked_fields(&archived.workflow, Some(&def));
    if let Some(what) = lost_input(&archived.workflow, &masked) {
        return Err(CoreError::Conflict(format!(
            "Workflow {id} was archived and its {what} were removed for good, so it cannot be restarted"
        )));
    }
    let mut workflow = archived.workflow;
    unseal(&mut workflow, &rt.vault)?;
    let mut tasks = std::mem::take(&mut workflow.tasks);
    tasks.sort_by_key(|t| t.seq);
    workflow.workflow_definition = None;
    let mut state = WorkflowState::new(workflow, def, archived.def_revision);
    // Its cosigners stay its cosigners.
    state.authority = archived.authority;
    for mut task in tasks {
        task.workflow_task = None;
        state.push_task(task);
    }
    state.regraft();
    rt.mutate(None, move |txn, _| {
        txn.changes.unarchives.push(id);
        txn.changes.new_workflows.push(state);
        Ok(())
    })
    .await
}

/// Whether a restart of an archived workflow would run on values removed for good:
/// `***` where its input held `_secrets` or a masked field.
pub fn lost_input(workflow: &Workflow, masked_fields: &[String]) -> Option<String> {
    fn has_secrets(map: &JsonMap) -> bool {
        map.iter().any(|(k, v)| {
            (k == "_secrets" && v == MASK)
                || match v {
                    Value::Object(inner) => has_secrets(inner),
                    Value::Array(items) => {
                        items.iter().any(|i| i.as_object().is_some_and(has_secrets))
                    }
                    _ => false,
                }
        })
    }
    let mut lost = Vec::new();
    if has_secrets(&workflow.input) || has_secrets(&workflow.variables) {
        lost.push("values under _secrets");
    }
    if masked_fields
        .iter()
        .any(|f| workflow.input.get(f).is_some_and(|v| v == MASK))
    {
        lost.push("fields named in maskedFields");
    }
    (!lost.is_empty()).then(|| lost.join(" and "))
}
