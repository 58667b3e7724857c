//! Scheduled transactions: stored with the time they are due, executed once when it has come.

use rusqlite::{Connection, OptionalExtension};

use super::{Cached, DbContext, next_consensus, next_entity, now_at, topics};
use crate::ledger::{ConsensusTime, LedgerError, ScheduleId, ScheduledOp};

fn op_text(op: &ScheduledOp) -> Result<String, LedgerError> {
    serde_json::to_string(op)
        .map_err(|e| LedgerError::Other(format!("a scheduled transaction could not be stored: {e}")))
}

/// Stores `op` to execute at `at`, or returns the id of an identical pending schedule (same memo
/// and op). Call inside a write transaction.
pub(super) fn schedule(
    conn: &Connection,
    op: &ScheduledOp,
    at: ConsensusTime,
    memo: &str,
) -> Result<ScheduleId, LedgerError> {
    let ScheduledOp::Submit { topic, .. } = op;
    if !topics::exists(conn, topic)? {
        return Err(LedgerError::UnknownTopic(topic.clone()));
    }
    let text = op_text(op)?;
    let pending: Option<String> = conn
        .row(
            "SELECT id FROM schedules WHERE executed IS NULL AND memo = ?1 AND op = ?2 ORDER BY rowid LIMIT 1",
            (memo, &text),
            |row| row.get(0),
        )
        .optional()
        .during("looking up a pending schedule")?;
    if let Some(id) = pending {
        return Ok(ScheduleId(id));
    }
    let id = next_entity(conn)?;
    let created = next_consensus(conn)?;
    conn.exec(
        "INSERT INTO schedules (id, op, at, memo, created) VALUES (?1, ?2, ?3, ?4, ?5)",
        (&id, &text, at.0, memo, created.0),
    )
    .during("scheduling a transaction")?;
    Ok(ScheduleId(id))
}

/// Whether some pending schedule is due at `now`.
pub(super) fn any_due(conn: &Connection, now: ConsensusTime) -> Result<bool, LedgerError> {
    let found = conn
        .row(
            "SELECT 1 FROM schedules WHERE executed IS NULL AND at <= ?1 LIMIT 1",
            [now.0],
            |_| Ok(()),
        )
        .optional()
        .during("looking for due schedules")?;
    Ok(found.is_some())
}

/// Executes every pending schedule that is due, oldest due first, and marks each executed; returns
/// how many. Call inside a write transaction: that is what keeps two processes from executing one
/// schedule twice.
pub(super) fn execute_due(conn: &Connection) -> Result<usize, LedgerError> {
    let now = now_at(conn)?;
    let due: Vec<(String, String)> = {
        let mut statement = conn
            .prepare_cached("SELECT id, op FROM schedules WHERE executed IS NULL AND at <= ?1 ORDER BY at, rowid")
            .during("reading due schedules")?;
        let rows = statement
            .query_map([now.0], |row| Ok((row.get(0)?, row.get(1)?)))
            .during("reading due schedules")?;
        rows.collect::<rusqlite::Result<_>>().during("reading due schedules")?
    };
    for (id, text) in &due {
        let op: ScheduledOp = serde_json::from_str(text)
            .map_err(|e| LedgerError::Other(format!("scheduled transaction `{id}` is unreadable: {e}")))?;
        let executed = execute(conn, id, &op)?;
        conn.exec("UPDATE schedules SET executed = ?2 WHERE id = ?1", (id, executed.0))
            .during("marking a schedule executed")?;
    }
    Ok(due.len())
}

/// Executes one scheduled op; returns its consensus time.
fn execute(conn: &Connection, id: &str, op: &ScheduledOp) -> Result<ConsensusTime, LedgerError> {
    match op {
        ScheduledOp::Submit { topic, payload } => match topics::append(conn, topic, payload) {
            Ok((_, consensus)) => Ok(consensus),
            // Topics are never deleted and `schedule` checks the topic, so this is a damaged file;
            // the schedule is spent all the same, as Hedera would record a failed execution.
            Err(LedgerError::UnknownTopic(topic)) => {
                tracing::warn!(schedule = id, %topic, "scheduled submit to a missing topic was dropped");
                next_consensus(conn)
            }
            Err(other) => Err(other),
        },
    }
}
