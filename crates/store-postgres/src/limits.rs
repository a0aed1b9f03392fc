//! Claims of a task type with limits on its hand-outs (`concurrentExecLimit`, a rate):
//! the claims of one limited type, on every node, take turns on a transaction-scoped
//! advisory lock, and each counts the type's running tasks and recent hand-outs only
//! once it holds the lock, in a statement of its own (so its snapshot shows what the
//! claim before it committed). Claims of types without limits never take the lock.

use podium_core::model::Task;
use podium_core::store::{Claim, ClaimLimits, OnClaim, StoreResult, ThenClaim};
use tokio_postgres::Row;
use tokio_postgres::types::Type;

use crate::claims::{CACHED_COUNTS, claim_failed, claim_pick};
use crate::rows::{Writes, get};
use crate::tx::Tx;
use crate::{PostgresStore, map_err};

/// Waits for the type's turn; released when the transaction ends.
const TAKE_TURN: &str = "SELECT pg_advisory_xact_lock(hashtextextended('podium.claim:' || $1, 0))";

/// The type's tasks in progress (when `$3`), and its hand-outs after the window's
/// start (when `$4`); a count not asked for is not made.
const COUNT: &str = "SELECT
    CASE WHEN $3 THEN
        (SELECT count(*) FROM task WHERE task_type = $1 AND status = 'IN_PROGRESS')
    ELSE 0 END,
    CASE WHEN $4 THEN
        (SELECT count(*) FROM queue_handout WHERE task_type = $1 AND at > $2)
    ELSE 0 END";

impl PostgresStore {
    /// Claims once for a limited type; returns the tasks and how many messages were
    /// passed over (as `claim_once` does).
    pub(crate) async fn claim_limited_once(
        &self,
        claim: &Claim,
        limits: &ClaimLimits,
        on_claim: OnClaim,
    ) -> StoreResult<(Vec<Task>, usize)> {
        let tx = Tx::new(self.client().await?);
        let turn = tx.prepare(TAKE_TURN).await?;
        tx.begin_with_query(&turn, &[&limits.task_type]).await?;
        let picked = self.limited_pick(&tx, claim, limits).await?;
        if picked.is_empty() {
            tx.abandon();
            return Ok((Vec::new(), 0));
        }
        let mut writes = Writes::default();
        let (claimed, passed_over) = self.take_picked(&picked, claim, on_claim, &mut writes)?;
        note_handouts(&mut writes, claim, limits, claimed.len());
        if writes.is_empty() {
            tx.abandon();
        } else {
            tx.commit(writes).await?;
        }
        Ok((claimed, passed_over))
    }

    /// A unit's writes with a limited claim after them (see `commit_with_claim`): the
    /// writes and the turn in one round trip, then the counts and the pick. A claim
    /// that fails is undone alone, and the unit's writes commit.
    pub(crate) async fn commit_with_limited_claim(
        &self,
        tx: Tx,
        writes: Writes,
        next: &ThenClaim,
        limits: &ClaimLimits,
    ) -> StoreResult<Vec<Task>> {
        let claim = &next.claim;
        let turn = match tx.prepare(TAKE_TURN).await {
            Ok(turn) => turn,
            Err(err) => {
                claim_failed(claim, &err);
                tx.commit(writes).await?;
                return Ok(Vec::new());
            }
        };
        let taken = match tx
            .write_then_query_apart(writes, &turn, &[&limits.task_type])
            .await?
        {
            Ok(_) => {
                let mut claim_writes = Writes::default();
                match self
                    .limited_pick(&tx, claim, limits)
                    .await
                    .and_then(|picked| {
                        self.take_picked(&picked, claim, next.on_claim, &mut claim_writes)
                    }) {
                    Ok((claimed, _)) => {
                        note_handouts(&mut claim_writes, claim, limits, claimed.len());
                        Ok((claimed, claim_writes))
                    }
                    Err(err) => Err(err),
                }
            }
            Err(err) => Err(err),
        };
        match taken {
            Ok((claimed, claim_writes)) => {
                tx.commit(claim_writes).await?;
                Ok(claimed)
            }
            Err(err) => {
                claim_failed(claim, &err);
                tx.back_to_savepoint().await?;
                tx.commit(Writes::default()).await?;
                Ok(Vec::new())
            }
        }
    }

    /// With the type's turn held: counts what the limits allow and picks that many
    /// messages ([`claim_pick`]).
    async fn limited_pick(
        &self,
        tx: &Tx,
        claim: &Claim,
        limits: &ClaimLimits,
    ) -> StoreResult<Vec<Row>> {
        let count = tx.prepare(COUNT).await?;
        let row = tx
            .client()
            .query_one(
                &count,
                &[
                    &limits.task_type,
                    &limits.window_start(claim.now),
                    &limits.in_progress.is_some(),
                    &limits.rate.is_some(),
                ],
            )
            .await
            .map_err(map_err)?;
        let wanted = limits.allowance(claim.count, get(&row, 0)?, get(&row, 1)?);
        if wanted == 0 {
            return Ok(Vec::new());
        }
        let sql = claim_pick(wanted);
        if wanted <= CACHED_COUNTS {
            let pick = tx.prepare(&sql).await?;
            tx.client()
                .query(&pick, &[&claim.queue_name, &claim.now])
                .await
                .map_err(map_err)
        } else {
            tx.client()
                .query_typed(
                    &sql,
                    &[(&claim.queue_name, Type::TEXT), (&claim.now, Type::INT8)],
                )
                .await
                .map_err(map_err)
        }
    }
}

/// Records `count` hand-outs of a rate-limited type at the claim's time, and drops
/// those older than the window.
fn note_handouts(writes: &mut Writes, claim: &Claim, limits: &ClaimLimits, count: usize) {
    if limits.rate.is_none() {
        return;
    }
    writes.push(
        "DELETE FROM queue_handout WHERE task_type = $1 AND at <= $2",
        vec![
            Box::new(limits.task_type.clone()),
            Box::new(limits.window_start(claim.now)),
        ],
    );
    if count > 0 {
        writes.push(
            "INSERT INTO queue_handout (task_type, at) SELECT $1, $2 FROM generate_series(1, $3)",
            vec![
                Box::new(limits.task_type.clone()),
                Box::new(claim.now),
                Box::new(i32::try_from(count).unwrap_or(i32::MAX)),
            ],
        );
    }
}
