//! Workflows and tasks as row JSON and back. Once the server gives the store a
//! [`PayloadSealer`], the values of `_secrets` and `_masked` maps, and the values a
//! run masks wherever they went, are sealed on the way in and opened on the way
//! out, so the live tables never hold them in plain text. Archived rows are written
//! already redacted and never go through it.

use std::sync::{Arc, OnceLock};

use podium_core::model::{Task, Workflow};
use podium_core::service::at_rest::{holds_sealed, may_hold_sealable};
use podium_core::store::{PayloadSealer, StoreError, StoreResult};
use rusqlite::Connection;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::map_err;
use crate::rows::corrupt;

#[derive(Default)]
pub(crate) struct Codec {
    sealer: OnceLock<Arc<dyn PayloadSealer>>,
}

impl Codec {
    /// Sets the sealer; later calls are ignored.
    pub(crate) fn set_sealer(&self, sealer: Arc<dyn PayloadSealer>) {
        let _ = self.sealer.set(sealer);
    }

    /// A workflow's row JSON; `masked` are the values its run masks.
    pub(crate) fn encode_workflow(
        &self,
        conn: &Connection,
        workflow: &Workflow,
        masked: &[Arc<str>],
    ) -> StoreResult<String> {
        self.encode(conn, &workflow.workflow_id, workflow, masked)
    }

    /// A task's row JSON; `masked` are the values its run masks.
    pub(crate) fn encode_task(
        &self,
        conn: &Connection,
        task: &Task,
        masked: &[Arc<str>],
    ) -> StoreResult<String> {
        self.encode(conn, &task.workflow_instance_id, task, masked)
    }

    pub(crate) fn decode_workflow(&self, json: &str) -> StoreResult<Workflow> {
        self.decode(json, "workflow", "workflowId").map(|(w, _)| w)
    }

    pub(crate) fn decode_task(&self, json: &str) -> StoreResult<Task> {
        self.decode(json, "task", "workflowInstanceId")
            .map(|(t, _)| t)
    }

    /// A task, and the texts its row held sealed for holding masked values (to seal
    /// again when the row is rewritten without its run at hand).
    pub(crate) fn decode_task_keeping(&self, json: &str) -> StoreResult<(Task, Vec<Arc<str>>)> {
        self.decode(json, "task", "workflowInstanceId")
    }

    /// The row JSON; a key that seals values is recorded in `payload_key`, in the
    /// same transaction, so a start can tell which keys the live rows need.
    fn encode<T: Serialize>(
        &self,
        conn: &Connection,
        workflow_id: &str,
        value: &T,
        masked: &[Arc<str>],
    ) -> StoreResult<String> {
        let json = plain(value)?;
        let Some(sealer) = self.sealer.get() else {
            return Ok(json);
        };
        if !may_hold_sealable(&json) && masked.is_empty() {
            return Ok(json);
        }
        let mut tree = serde_json::to_value(value)
            .map_err(|e| StoreError::Backend(format!("encoding failed: {e}")))?;
        if let Some(key_id) = sealer.seal(workflow_id, &mut tree, masked)? {
            conn.prepare_cached("INSERT OR IGNORE INTO payload_key (key_id) VALUES (?1)")
                .and_then(|mut s| s.execute([key_id]))
                .map_err(map_err)?;
        }
        plain(&tree)
    }

    fn decode<T: DeserializeOwned>(
        &self,
        json: &str,
        what: &str,
        id_field: &str,
    ) -> StoreResult<(T, Vec<Arc<str>>)> {
        if !holds_sealed(json) {
            return serde_json::from_str(json)
                .map(|v| (v, Vec::new()))
                .map_err(|e| corrupt(what, e));
        }
        let sealer = self.sealer.get().ok_or_else(|| {
            StoreError::Corrupt(format!(
                "a {what} holds sealed values, and this store was opened without the secrets master key"
            ))
        })?;
        let mut tree: Value = serde_json::from_str(json).map_err(|e| corrupt(what, e))?;
        let workflow_id = tree
            .get(id_field)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let sealed_texts = sealer.open(&workflow_id, &mut tree)?;
        let value = serde_json::from_value(tree).map_err(|e| corrupt(what, e))?;
        Ok((value, sealed_texts))
    }
}

fn plain<T: Serialize>(value: &T) -> StoreResult<String> {
    serde_json::to_string(value).map_err(|e| StoreError::Backend(format!("encoding failed: {e}")))
}
