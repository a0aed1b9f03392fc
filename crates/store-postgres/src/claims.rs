//! Claims on PostgreSQL: queue messages handed to workers, alone or in a unit's
//! transaction (`update-v2`).

use std::collections::HashMap;

use podium_core::model::Task;
use podium_core::store::{Claim, OnClaim, StoreError, StoreResult, ThenClaim, UNREADABLE_RETRY_MS};
use tokio_postgres::Row;
use tokio_postgres::types::Type;

use crate::rows::{self, Writes, get};
use crate::tx::Tx;
use crate::{PostgresStore, map_err};

/// A claim's read, one statement: the next messages of the queue (locked, never
/// waited for), their workflows locked as a unit of work locks them (never waited for
/// either: a claim holding messages never waits, so it cannot deadlock), and for
/// each message its message id, workflow id, whether the workflow was locked, its
/// next check, whether it exists at all, whether the locked row is the version this
/// statement's snapshot shows, the task's JSON from that snapshot and the task's
/// id; in the queue's order.
///
/// The version check matters: in READ COMMITTED a row lock waits for nobody here but
/// does follow an update committed after the snapshot was taken, so the workflow
/// locked can be newer than the tasks read beside it. Every change to a task by a
/// unit of work rewrites its workflow's row, so an unchanged row version (`ctid`; a
/// version this snapshot still sees cannot be reused) means the task read is current.
/// Messages of a workflow that changed are left for the next claim.
///
/// The count is written into the text, not bound: PostgreSQL plans a statement with a
/// bound `LIMIT` again at every call, and planning this one costs about as much as
/// running it. Counts up to [`CACHED_COUNTS`] (what workers ask for) each get a
/// statement prepared once per connection; a larger one is sent with its parameters'
/// types in the same round trip, and not kept.
pub(crate) fn claim_pick(count: usize) -> String {
    CLAIM_PICK.replace("{limit}", &count.to_string())
}

/// Claim counts whose statement stays prepared on the connection.
pub(crate) const CACHED_COUNTS: usize = 32;

const CLAIM_PICK: &str = "WITH picked AS MATERIALIZED (
        SELECT id, task_id, workflow_id, priority, visible_at FROM queue
        WHERE queue_name = $1 AND visible_at <= $2
        ORDER BY priority DESC, visible_at, id LIMIT {limit} FOR UPDATE SKIP LOCKED),
    locked AS MATERIALIZED (
        SELECT id, next_check_at, ctid FROM workflow
        WHERE id IN (SELECT workflow_id FROM picked)
        ORDER BY id FOR UPDATE SKIP LOCKED)
    SELECT p.id, p.workflow_id, l.id IS NOT NULL, l.next_check_at, w.id IS NOT NULL,
        COALESCE(l.ctid = w.ctid, false), t.json, p.task_id
    FROM picked p
    LEFT JOIN locked l ON l.id = p.workflow_id
    LEFT JOIN workflow w ON w.id = p.workflow_id
    LEFT JOIN task t ON t.id = p.task_id
    ORDER BY p.priority DESC, p.visible_at, p.id";

/// Logs a queued task whose row cannot be read; its message is tried again later.
fn unreadable_task(workflow_id: &str, task_id: &str, err: &StoreError) {
    tracing::error!(
        workflow_id = %workflow_id,
        task_id = %task_id,
        error = %podium_core::error::error_chain(err),
        "a queued task's stored row cannot be read; it is not handed out, and its message is tried again in a minute"
    );
}

/// Logs a claim made in a unit's transaction that failed; the unit commits without it.
pub(crate) fn claim_failed(claim: &Claim, err: &StoreError) {
    tracing::warn!(
        queue = %claim.queue_name,
        error = %podium_core::error::error_chain(err),
        "claiming the next task with a worker's update failed; the update is kept and nothing is handed out"
    );
}

impl PostgresStore {
    /// Claims once; returns the tasks and how many messages were passed over because
    /// their workflow was locked by a unit of work at that moment. Two round trips:
    /// `BEGIN` with [`CLAIM_PICK`], then the writes with `COMMIT`.
    async fn claim_once(
        &self,
        claim: &Claim,
        on_claim: OnClaim,
    ) -> StoreResult<(Vec<Task>, usize)> {
        let tx = Tx::new(self.client().await?);
        let sql = claim_pick(claim.count);
        let picked = if claim.count <= CACHED_COUNTS {
            let pick = tx.prepare(&sql).await?;
            tx.begin_with_query(&pick, &[&claim.queue_name, &claim.now])
                .await?
        } else {
            tx.begin_with_typed_query(
                &sql,
                &[(&claim.queue_name, Type::TEXT), (&claim.now, Type::INT8)],
            )
            .await?
        };
        if picked.is_empty() {
            tx.abandon();
            return Ok((Vec::new(), 0));
        }
        let mut writes = Writes::default();
        let taken = self.take_picked(&picked, claim, on_claim, &mut writes)?;
        if writes.is_empty() {
            tx.abandon();
        } else {
            tx.commit(writes).await?;
        }
        Ok(taken)
    }

    /// Commits a unit's writes with a claim made after them in the same transaction
    /// (which sees them): the writes and the pick in one round trip, the claim's
    /// writes and `COMMIT` in the next. Returns the tasks claimed. The claim runs
    /// behind a savepoint: when it fails, the unit's writes are committed all the
    /// same, with nothing claimed (the worker polls again).
    pub(crate) async fn commit_with_claim(
        &self,
        tx: Tx,
        writes: Writes,
        next: &ThenClaim,
    ) -> StoreResult<Vec<Task>> {
        let claim = &next.claim;
        if let Some(limits) = &claim.limits {
            return self
                .commit_with_limited_claim(tx, writes, next, limits)
                .await;
        }
        let sql = claim_pick(claim.count);
        let pick = if claim.count <= CACHED_COUNTS {
            tx.prepare(&sql).await
        } else {
            tx.client().prepare(&sql).await.map_err(map_err)
        };
        let pick = match pick {
            Ok(pick) => pick,
            Err(err) => {
                claim_failed(claim, &err);
                tx.commit(writes).await?;
                return Ok(Vec::new());
            }
        };
        let picked = tx
            .write_then_query_apart(writes, &pick, &[&claim.queue_name, &claim.now])
            .await?;
        let mut claim_writes = Writes::default();
        let taken = picked
            .and_then(|picked| self.take_picked(&picked, claim, next.on_claim, &mut claim_writes));
        let claimed = match taken {
            Ok((claimed, _)) => claimed,
            Err(err) => {
                claim_failed(claim, &err);
                tx.back_to_savepoint().await?;
                claim_writes = Writes::default();
                Vec::new()
            }
        };
        tx.commit(claim_writes).await?;
        Ok(claimed)
    }

    /// Takes the tasks of a pick's rows ([`CLAIM_PICK`]): each changed by `on_claim`
    /// and its row rewritten, its message dropped, its workflow's next check moved up
    /// to the lease end; all added to `writes`. Returns the tasks and how many
    /// messages were passed over (their workflow busy or changed since the pick's
    /// snapshot).
    pub(crate) fn take_picked(
        &self,
        picked: &[Row],
        claim: &Claim,
        on_claim: OnClaim,
        writes: &mut Writes,
    ) -> StoreResult<(Vec<Task>, usize)> {
        let mut dropped: Vec<i64> = Vec::new();
        let mut claimed = Vec::with_capacity(picked.len());
        let mut next_checks: HashMap<String, Option<i64>> = HashMap::new();
        let mut passed_over = 0;
        for row in picked {
            let (queue_id, workflow_id): (i64, String) = (get(row, 0)?, get(row, 1)?);
            let (locked, exists, current): (bool, bool, bool) =
                (get(row, 2)?, get(row, 4)?, get(row, 5)?);
            if !exists {
                // The workflow is gone: its message goes with it.
                dropped.push(queue_id);
                continue;
            }
            if !locked || !current {
                // Busy, or changed after this statement's snapshot was taken (so the
                // task read with it may be stale): left for the next claim.
                passed_over += 1;
                continue;
            }
            let Some(json) = get::<Option<String>>(row, 6)? else {
                dropped.push(queue_id);
                continue;
            };
            let next_check = next_checks
                .entry(workflow_id.clone())
                .or_insert(get::<Option<i64>>(row, 3)?);
            // The texts the row held sealed are sealed again as it is rewritten.
            let (mut task, masked) = match self.codec.decode_task_keeping(&json) {
                Ok(decoded) => decoded,
                Err(err) => {
                    // Its message waits: a row no claim can read must not stop the
                    // queue behind it at every poll, nor be lost.
                    unreadable_task(&workflow_id, &get::<String>(row, 7)?, &err);
                    writes.push(
                        "UPDATE queue SET visible_at = $2 WHERE id = $1",
                        vec![
                            Box::new(queue_id),
                            Box::new(claim.now.saturating_add(UNREADABLE_RETRY_MS)),
                        ],
                    );
                    continue;
                }
            };
            dropped.push(queue_id);
            // Stale messages (ended tasks) are dropped, as Conductor does.
            if task.status.is_terminal() {
                continue;
            }
            let check_by = on_claim(&mut task, claim);
            rows::write_task(writes, &self.codec, &task, false, &masked)?;
            // The lease end becomes the workflow's next check, unless an earlier
            // check is already due.
            if let Some(at) = check_by
                && next_check.is_none_or(|n| n > at)
            {
                *next_check = Some(at);
                writes.push(
                    "UPDATE workflow SET next_check_at = $2 WHERE id = $1",
                    vec![Box::new(workflow_id), Box::new(at)],
                );
            }
            claimed.push(task);
        }
        match dropped.as_slice() {
            [] => {}
            // A plan for one row is made once; one for an array at every call.
            [one] => writes.push("DELETE FROM queue WHERE id = $1", vec![Box::new(*one)]),
            _ => writes.push(
                "DELETE FROM queue WHERE id = ANY($1)",
                vec![Box::new(dropped)],
            ),
        }
        Ok((claimed, passed_over))
    }

    pub(crate) async fn claim_tasks(
        &self,
        claim: Claim,
        on_claim: OnClaim,
    ) -> StoreResult<Vec<Task>> {
        // Messages passed over because their workflow was busy are tried again after
        // a moment, so a poll does not wait for a wake-up that already happened.
        let mut attempts = 0;
        loop {
            let (tasks, passed_over) = match &claim.limits {
                None => self.claim_once(&claim, on_claim).await?,
                Some(limits) => self.claim_limited_once(&claim, limits, on_claim).await?,
            };
            attempts += 1;
            if !tasks.is_empty() || passed_over == 0 || attempts == 5 {
                return Ok(tasks);
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    }
}
