//! Row JSON for SQLite: the core's [`RowCodec`], plus recording in `payload_key`
//! (in the same transaction) each key that seals a row.

use std::sync::Arc;

use podium_core::model::{Task, Workflow};
use podium_core::store::{Encoded, RowCodec, StoreResult};
use rusqlite::Connection;

use crate::map_err;

#[derive(Default)]
pub(crate) struct Codec {
    rows: RowCodec,
}

impl std::ops::Deref for Codec {
    type Target = RowCodec;
    fn deref(&self) -> &RowCodec {
        &self.rows
    }
}

impl Codec {
    /// A workflow's row JSON; `masked` are the values its run masks.
    pub(crate) fn encode_workflow(
        &self,
        conn: &Connection,
        workflow: &Workflow,
        masked: &[Arc<str>],
    ) -> StoreResult<String> {
        record(conn, self.rows.encode_workflow(workflow, masked)?)
    }

    /// A task's row JSON; `masked` are the values its run masks.
    pub(crate) fn encode_task(
        &self,
        conn: &Connection,
        task: &Task,
        masked: &[Arc<str>],
    ) -> StoreResult<String> {
        record(conn, self.rows.encode_task(task, masked)?)
    }
}

fn record(conn: &Connection, encoded: Encoded) -> StoreResult<String> {
    if let Some(key_id) = encoded.sealed_with {
        conn.prepare_cached("INSERT OR IGNORE INTO payload_key (key_id) VALUES (?1)")
            .and_then(|mut s| s.execute([key_id]))
            .map_err(map_err)?;
    }
    Ok(encoded.json)
}
