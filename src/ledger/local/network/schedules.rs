//! Schedules of the network layer: an inner transaction kept with the keys it needs and the keys
//! that have signed, executed once when they are complete (or at expiry when it waits for it).
//! Unlike the [`Ledger`](crate::ledger::Ledger) trait's schedules, their bodies are Hedera's
//! `SchedulableTransactionBody`, opaque here; the devnet decodes and executes them.

use hiero_sdk_proto::services::ResponseCodeEnum as Code;
use rusqlite::{Connection, OptionalExtension, Row};

use super::super::Cached;
use super::key_column;
use crate::devnet::model::{Key32, NetSchedule, NetTxId, NewSchedule, ScheduleState};
use crate::ledger::local::{DbContext, next_entity};
use crate::ledger::{AccountId, ConsensusTime, LedgerError, ScheduleId};

const PENDING: &str = "pending";
const EXECUTED: &str = "executed";
const EXPIRED: &str = "expired";

/// The columns [`from_row`] reads, in its order.
const COLUMNS: &str = "id, body, payer, scheduled, expiration, wait_for_expiry, required, signatories, state";

/// What creating a schedule came to.
pub(super) enum Created {
    New(ScheduleId),
    /// An identical schedule exists: its id and the id its execution has.
    Identical(ScheduleId, NetTxId),
}

/// Creates a schedule unless an identical one (same fingerprint) is pending, or executed and not
/// yet expired, as Hedera keeps executed schedules until their expiration. Call inside a write
/// transaction.
pub(super) fn create(conn: &Connection, new: &NewSchedule, now: ConsensusTime) -> Result<Created, LedgerError> {
    let identical: Option<(String, String)> = conn
        .row(
            "SELECT id, scheduled FROM net_schedules WHERE fingerprint = ?1 \
             AND (state = ?2 OR (state = ?3 AND expiration > ?4)) ORDER BY rowid LIMIT 1",
            (&new.fingerprint, PENDING, EXECUTED, now.0),
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()
        .during("looking for an identical schedule")?;
    if let Some((id, scheduled)) = identical {
        return Ok(Created::Identical(ScheduleId(id), parse_json(&scheduled)?));
    }
    let id = ScheduleId(next_entity(conn)?);
    conn.exec(
        "INSERT INTO net_schedules (id, fingerprint, body, payer, scheduled, memo, admin_key, expiration, \
         wait_for_expiry, required, signatories, state) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        rusqlite::params![
            &id.0,
            &new.fingerprint,
            &new.body,
            &new.payer.0,
            to_json(&new.scheduled)?,
            &new.memo,
            new.admin_key.map(|k| k.to_vec()),
            new.expiration.0,
            new.wait_for_expiry,
            keys_json(&new.required)?,
            keys_json(&new.signatories)?,
            PENDING,
        ],
    )
    .during("creating a schedule")?;
    Ok(Created::New(id))
}

/// Adds signatories to a pending schedule; the status says why it could not. Call inside a
/// write transaction.
pub(super) fn sign(conn: &Connection, id: &ScheduleId, signatories: &[Key32]) -> Result<Code, LedgerError> {
    let Some(mut schedule) = schedule(conn, id)? else {
        return Ok(Code::InvalidScheduleId);
    };
    match schedule.state {
        ScheduleState::Executed => return Ok(Code::ScheduleAlreadyExecuted),
        ScheduleState::Expired => return Ok(Code::InvalidScheduleId),
        ScheduleState::Pending => {}
    }
    let before = schedule.signatories.len();
    for key in signatories {
        if schedule.required.contains(key) && !schedule.signatories.contains(key) {
            schedule.signatories.push(*key);
        }
    }
    if schedule.signatories.len() == before {
        return Ok(Code::NoNewValidSignatures);
    }
    conn.exec(
        "UPDATE net_schedules SET signatories = ?2 WHERE id = ?1",
        (&id.0, keys_json(&schedule.signatories)?),
    )
    .during("signing a schedule")?;
    Ok(Code::Success)
}

/// Marks a schedule executed at `consensus`. Call inside a write transaction.
pub(super) fn mark_executed(conn: &Connection, id: &ScheduleId, consensus: ConsensusTime) -> Result<(), LedgerError> {
    conn.exec(
        "UPDATE net_schedules SET state = ?2, resolved = ?3 WHERE id = ?1",
        (&id.0, EXECUTED, consensus.0),
    )
    .during("marking a schedule executed")?;
    Ok(())
}

/// Marks a pending schedule expired. Call inside a write transaction.
pub(super) fn expire(conn: &Connection, id: &ScheduleId) -> Result<(), LedgerError> {
    conn.exec(
        "UPDATE net_schedules SET state = ?2 WHERE id = ?1 AND state = ?3",
        (&id.0, EXPIRED, PENDING),
    )
    .during("expiring a schedule")?;
    Ok(())
}

/// A schedule by id.
pub(super) fn schedule(conn: &Connection, id: &ScheduleId) -> Result<Option<NetSchedule>, LedgerError> {
    let sql = format!("SELECT {COLUMNS} FROM net_schedules WHERE id = ?1");
    let row = conn
        .row(&sql, [&id.0], raw_row)
        .optional()
        .during("reading a schedule")?;
    row.map(from_row).transpose()
}

/// Pending schedules that are complete and do not wait, or whose expiration has come.
pub(super) fn due(conn: &Connection, now: ConsensusTime) -> Result<Vec<NetSchedule>, LedgerError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM net_schedules WHERE state = ?1 AND (wait_for_expiry = 0 OR expiration <= ?2) \
         ORDER BY expiration, rowid"
    );
    let mut statement = conn.prepare_cached(&sql).during("reading due schedules")?;
    let rows = statement
        .query_map((PENDING, now.0), raw_row)
        .during("reading due schedules")?
        .collect::<rusqlite::Result<Vec<_>>>()
        .during("reading due schedules")?;
    let mut due = Vec::new();
    for row in rows {
        let schedule = from_row(row)?;
        if schedule.expiration <= now || schedule.satisfied() {
            due.push(schedule);
        }
    }
    Ok(due)
}

/// The earliest expiration of a pending schedule.
pub(super) fn next_expiry(conn: &Connection) -> Result<Option<ConsensusTime>, LedgerError> {
    let at: Option<i64> = conn
        .row(
            "SELECT MIN(expiration) FROM net_schedules WHERE state = ?1",
            [PENDING],
            |row| row.get(0),
        )
        .during("reading the next schedule expiry")?;
    Ok(at.map(ConsensusTime))
}

/// A schedule row as stored.
struct RawRow {
    id: String,
    body: Vec<u8>,
    payer: String,
    scheduled: String,
    expiration: i64,
    wait_for_expiry: bool,
    required: String,
    signatories: String,
    state: String,
}

fn raw_row(row: &Row<'_>) -> rusqlite::Result<RawRow> {
    Ok(RawRow {
        id: row.get(0)?,
        body: row.get(1)?,
        payer: row.get(2)?,
        scheduled: row.get(3)?,
        expiration: row.get(4)?,
        wait_for_expiry: row.get(5)?,
        required: row.get(6)?,
        signatories: row.get(7)?,
        state: row.get(8)?,
    })
}

fn from_row(row: RawRow) -> Result<NetSchedule, LedgerError> {
    let state = match row.state.as_str() {
        PENDING => ScheduleState::Pending,
        EXECUTED => ScheduleState::Executed,
        _ => ScheduleState::Expired,
    };
    Ok(NetSchedule {
        scheduled: parse_json(&row.scheduled)?,
        required: parse_keys(&row.required)?,
        signatories: parse_keys(&row.signatories)?,
        id: ScheduleId(row.id),
        body: row.body,
        payer: AccountId(row.payer),
        expiration: ConsensusTime(row.expiration),
        wait_for_expiry: row.wait_for_expiry,
        state,
    })
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, LedgerError> {
    serde_json::to_string(value).map_err(|e| LedgerError::Other(format!("a schedule could not be stored: {e}")))
}

fn parse_json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, LedgerError> {
    serde_json::from_str(text).map_err(|e| LedgerError::Other(format!("a stored schedule is unreadable: {e}")))
}

/// Keys are stored as a JSON list of hex strings.
fn keys_json(keys: &[Key32]) -> Result<String, LedgerError> {
    to_json(&keys.iter().map(hex::encode).collect::<Vec<_>>())
}

fn parse_keys(text: &str) -> Result<Vec<Key32>, LedgerError> {
    let texts: Vec<String> = parse_json(text)?;
    Ok(texts.iter().filter_map(|t| key_column(hex::decode(t).ok())).collect())
}
