//! Claims on SQLite: queue messages handed to workers, alone or in a unit's
//! transaction (`update-v2`).

use podium_core::model::Task;
use podium_core::service::masking::run_masked_values;
use podium_core::store::{Claim, ClaimLimits, OnClaim, UNREADABLE_RETRY_MS};
use rusqlite::{OptionalExtension, params};

use crate::codec::Codec;
use crate::map_err;
use crate::rows;
use crate::writer::{Failure, WriteCtx};

/// A claim's pick: the queue's visible messages in the order they are handed out.
///
/// Written so that SQLite plans it once per connection. A bound value in an indexable
/// range (`visible_at <= ?`) or in a LIMIT makes SQLite plan the statement again at
/// every run, and so does a bare `queue_name = ?1` next to an ORDER BY (SQLite marks
/// the parameter as one the plan may depend on); `CAST(?1 AS TEXT)` is the same
/// comparison without that mark. So the index serves the queue name and the order,
/// the time is checked row by row (`+visible_at`), and the count is taken by the
/// caller: the rows stream in index order, so stepping stops after the last one
/// needed.
pub(crate) const CLAIM_PICK: &str = "SELECT id, task_id, workflow_id FROM queue
    WHERE queue_name = CAST(?1 AS TEXT) AND +visible_at <= ?2
    ORDER BY priority DESC, visible_at, id";

/// Claims up to `claim.count` visible messages of a queue in the writer's
/// transaction: each task is changed by `on_claim`, its message removed, and the
/// workflow's next check moved up to the lease end.
pub(crate) fn claim_in(
    ctx: &mut WriteCtx<'_>,
    codec: &Codec,
    claim: &Claim,
    on_claim: OnClaim,
) -> Result<Vec<Task>, Failure> {
    let conn = ctx.conn;
    let wanted = match &claim.limits {
        None => claim.count,
        Some(limits) => allowance(conn, limits, claim)?,
    };
    if wanted == 0 {
        return Ok(Vec::new());
    }
    let mut pick = conn.prepare_cached(CLAIM_PICK).map_err(map_err)?;
    let picked: Vec<(i64, String, String)> = pick
        .query_map(params![claim.queue_name, claim.now], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?))
        })
        .map_err(map_err)?
        .take(wanted)
        .collect::<Result<_, _>>()
        .map_err(map_err)?;
    let mut claimed = Vec::with_capacity(picked.len());
    for (queue_id, task_id, workflow_id) in picked {
        // The values the run masks are sealed again as the row is
        // rewritten: from the run when the writer holds it, else the
        // texts the row held sealed.
        let held = ctx.cache.get_mut(&workflow_id).and_then(|state| {
            let task = state
                .tasks()
                .iter()
                .find(|t| t.task_id == task_id)
                .cloned()?;
            Some((task, run_masked_values(state)))
        });
        let task = match held {
            Some(held) => Some(held),
            None => {
                let json: Option<String> = conn
                    .prepare_cached("SELECT json FROM task WHERE id = ?1")
                    .and_then(|mut s| s.query_row([&task_id], |row| row.get(0)).optional())
                    .map_err(map_err)?;
                match json.map(|json| codec.decode_task_keeping(&json)) {
                    Some(Err(err)) => {
                        // Its message waits: a row no claim can read must not stop
                        // the queue behind it at every poll, nor be lost.
                        tracing::error!(
                            workflow_id = %workflow_id,
                            task_id = %task_id,
                            error = %podium_core::error::error_chain(&err),
                            "a queued task's stored row cannot be read; it is not handed out, and its message is tried again in a minute"
                        );
                        conn.prepare_cached("UPDATE queue SET visible_at = ?2 WHERE id = ?1")
                            .and_then(|mut s| {
                                s.execute(params![
                                    queue_id,
                                    claim.now.saturating_add(UNREADABLE_RETRY_MS)
                                ])
                            })
                            .map_err(map_err)?;
                        continue;
                    }
                    Some(Ok(task)) => Some(task),
                    None => None,
                }
            }
        };
        conn.prepare_cached("DELETE FROM queue WHERE id = ?1")
            .and_then(|mut s| s.execute([queue_id]))
            .map_err(map_err)?;
        let Some((mut task, masked)) = task else {
            continue;
        };
        // Stale messages (ended tasks) are dropped, as Conductor does.
        if task.status.is_terminal() {
            continue;
        }
        let check_by = on_claim(&mut task, claim);
        rows::update_task(conn, codec, &task, &masked)?;
        // The lease end becomes the workflow's next check, unless an
        // earlier check is already due.
        let held = ctx.cache.get_mut(&workflow_id);
        let earlier = |current: Option<i64>, at: i64| current.is_none_or(|n| n > at);
        let needed = match (&held, check_by) {
            (_, None) => false,
            (Some(state), Some(at)) => earlier(state.next_check_at, at),
            (None, Some(_)) => true,
        };
        if let Some(state) = held {
            state.refresh_task(task.clone());
            if let Some(at) = check_by.filter(|at| earlier(state.next_check_at, *at)) {
                state.next_check_at = Some(at);
            }
        }
        if let (true, Some(at)) = (needed, check_by) {
            conn.prepare_cached(
                    "UPDATE workflow SET next_check_at = ?2 WHERE id = ?1 AND (next_check_at IS NULL OR next_check_at > ?2)",
                )
                .and_then(|mut s| s.execute(params![workflow_id, at]))
                .map_err(map_err)?;
        }
        claimed.push(task);
    }
    if let Some(limits) = claim.limits.as_ref().filter(|l| l.rate.is_some()) {
        let mut note = conn
            .prepare_cached("INSERT INTO queue_handout (task_type, at) VALUES (?1, ?2)")
            .map_err(map_err)?;
        for _ in &claimed {
            note.execute(params![limits.task_type, claim.now])
                .map_err(map_err)?;
        }
    }
    Ok(claimed)
}

/// How many tasks a claim of a limited type may take now: the type's tasks in
/// progress and its hand-outs in the window are counted (the writer runs one claim
/// at a time, so no other claim takes a place meanwhile). Hand-outs older than the
/// window are removed.
fn allowance(
    conn: &rusqlite::Connection,
    limits: &ClaimLimits,
    claim: &Claim,
) -> Result<usize, Failure> {
    let running: i64 = match limits.in_progress {
        None => 0,
        Some(_) => conn
            .prepare_cached(
                "SELECT count(*) FROM task WHERE task_type = ?1 AND status = 'IN_PROGRESS'",
            )
            .and_then(|mut s| s.query_row([&limits.task_type], |row| row.get(0)))
            .map_err(map_err)?,
    };
    let handed_out: i64 = match limits.rate {
        None => 0,
        Some(_) => {
            let start = limits.window_start(claim.now);
            conn.prepare_cached("DELETE FROM queue_handout WHERE task_type = ?1 AND at <= ?2")
                .and_then(|mut s| s.execute(params![limits.task_type, start]))
                .map_err(map_err)?;
            conn.prepare_cached("SELECT count(*) FROM queue_handout WHERE task_type = ?1")
                .and_then(|mut s| s.query_row([&limits.task_type], |row| row.get(0)))
                .map_err(map_err)?
        }
    };
    Ok(limits.allowance(claim.count, running, handed_out))
}
