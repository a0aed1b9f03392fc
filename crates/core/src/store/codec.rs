//! Workflows and tasks as row JSON and back, for every store. Once the server gives
//! the store a [`PayloadSealer`], the values of `_secrets` and `_masked` maps, and the
//! values a run masks wherever they went, are sealed on the way in and opened on the
//! way out, so the live tables never hold them in plain text. Archived rows are
//! written already redacted and never go through it.

use std::sync::{Arc, OnceLock};

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::sealing::{
    contains_sealed, escape_reserved, holds_sealed, may_hold_sealable, unescape_reserved,
};
use super::{PayloadSealer, StoreError, StoreResult};
use crate::model::{Task, Workflow};

/// A row's JSON and the id of the key it holds values sealed with, if any, which
/// the store records in the same transaction (so a start can tell which keys the
/// live rows need).
pub struct Encoded {
    pub json: String,
    pub sealed_with: Option<String>,
}

/// Encodes and decodes execution rows, sealing at rest once a sealer is set.
#[derive(Default)]
pub struct RowCodec {
    sealer: OnceLock<Arc<dyn PayloadSealer>>,
}

fn corrupt(what: &str, err: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {err}"))
}

impl RowCodec {
    /// Sets the sealer; later calls are ignored.
    pub fn set_sealer(&self, sealer: Arc<dyn PayloadSealer>) {
        let _ = self.sealer.set(sealer);
    }

    /// A workflow's row JSON; `masked` are the values its run masks.
    pub fn encode_workflow(
        &self,
        workflow: &Workflow,
        masked: &[Arc<str>],
    ) -> StoreResult<Encoded> {
        self.encode(&workflow.workflow_id, workflow, masked)
    }

    /// A task's row JSON (without its definition node, which the workflow's
    /// definition holds); `masked` are the values its run masks.
    pub fn encode_task(&self, task: &Task, masked: &[Arc<str>]) -> StoreResult<Encoded> {
        if task.workflow_task.is_some() {
            let mut stored = task.clone();
            stored.workflow_task = None;
            self.encode(&task.workflow_instance_id, &stored, masked)
        } else {
            self.encode(&task.workflow_instance_id, task, masked)
        }
    }

    pub fn decode_workflow(&self, json: &str) -> StoreResult<Workflow> {
        self.decode(json, "workflow", "workflowId").map(|(w, _)| w)
    }

    pub fn decode_task(&self, json: &str) -> StoreResult<Task> {
        self.decode(json, "task", "workflowInstanceId")
            .map(|(t, _)| t)
    }

    /// A task, and the texts its row held sealed for holding masked values (to seal
    /// again when the row is rewritten without its run at hand).
    pub fn decode_task_keeping(&self, json: &str) -> StoreResult<(Task, Vec<Arc<str>>)> {
        self.decode(json, "task", "workflowInstanceId")
    }

    fn encode<T: Serialize>(
        &self,
        workflow_id: &str,
        value: &T,
        masked: &[Arc<str>],
    ) -> StoreResult<Encoded> {
        let json = plain(value)?;
        // A payload holding the key of a sealed value (an input, an output, an HTTP
        // response) has it escaped, so that reading the row opens only what was sealed.
        let reserved = holds_sealed(&json);
        let sealer = self.sealer.get();
        let must_seal = sealer.is_some() && (may_hold_sealable(&json) || !masked.is_empty());
        if !reserved && !must_seal {
            return Ok(Encoded {
                json,
                sealed_with: None,
            });
        }
        let mut tree = serde_json::to_value(value).map_err(StoreError::backend)?;
        if reserved {
            escape_reserved(&mut tree);
        }
        let sealed_with = match sealer {
            Some(sealer) if must_seal => sealer.seal(workflow_id, &mut tree, masked)?,
            _ => None,
        };
        Ok(Encoded {
            json: plain(&tree)?,
            sealed_with,
        })
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
        let mut tree: Value = serde_json::from_str(json).map_err(|e| corrupt(what, e))?;
        let sealed_texts = match self.sealer.get() {
            Some(sealer) => {
                let workflow_id = tree
                    .get(id_field)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                sealer.open(&workflow_id, &mut tree)?
            }
            None if contains_sealed(&tree) => {
                return Err(StoreError::Corrupt(format!(
                    "a {what} holds sealed values, and this store was opened without the secrets master key"
                )));
            }
            None => Vec::new(),
        };
        unescape_reserved(&mut tree);
        let value = serde_json::from_value(tree).map_err(|e| corrupt(what, e))?;
        Ok((value, sealed_texts))
    }
}

fn plain<T: Serialize>(value: &T) -> StoreResult<String> {
    serde_json::to_string(value).map_err(StoreError::backend)
}
