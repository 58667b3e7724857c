//! The database's helpers: errors naming their operation, cached statements, and the counters
//! in `meta` (the consensus clock, entity numbers).

use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::Connection;

use super::{META_LAST_CONSENSUS, META_NEXT_ENTITY};
use crate::ledger::{ConsensusTime, LedgerError};

/// Turns a database error into a [`LedgerError::Database`] naming what was being done.
pub(super) trait DbContext<T> {
    fn during(self, operation: &'static str) -> Result<T, LedgerError>;
}

impl<T> DbContext<T> for rusqlite::Result<T> {
    fn during(self, operation: &'static str) -> Result<T, LedgerError> {
        self.map_err(|source| LedgerError::Database { operation, source })
    }
}

/// `execute` and `query_row` through the connection's cache of prepared statements: the ledger
/// runs the same few statements for every message, and parsing them again each time cost more
/// than running them.
pub(super) trait Cached {
    fn exec<P: rusqlite::Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize>;
    fn row<T, P: rusqlite::Params, F: FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>>(
        &self,
        sql: &str,
        params: P,
        f: F,
    ) -> rusqlite::Result<T>;
}

impl Cached for Connection {
    fn exec<P: rusqlite::Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize> {
        self.prepare_cached(sql)?.execute(params)
    }

    fn row<T, P: rusqlite::Params, F: FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>>(
        &self,
        sql: &str,
        params: P,
        f: F,
    ) -> rusqlite::Result<T> {
        self.prepare_cached(sql)?.query_row(params, f)
    }
}

/// The connection's `data_version`: it changes when another connection commits.
pub(super) fn data_version(conn: &Connection) -> Result<i64, LedgerError> {
    conn.row("PRAGMA data_version", [], |row| row.get(0))
        .during("looking for other writers")
}

/// The wall clock, in ns since the Unix epoch (0 before it, `i64::MAX` past 2262).
pub(super) fn wall_clock() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

pub(super) fn meta(conn: &Connection, key: &str) -> Result<i64, LedgerError> {
    conn.row("SELECT value FROM meta WHERE key = ?1", [key], |row| row.get(0))
        .during("reading the ledger's counters")
}

pub(super) fn set_meta(conn: &Connection, key: &str, value: i64) -> Result<(), LedgerError> {
    conn.exec("UPDATE meta SET value = ?2 WHERE key = ?1", (key, value))
        .during("writing the ledger's counters")?;
    Ok(())
}

/// The consensus clock now: the wall clock, but never before the last consensus time given.
pub(super) fn now_at(conn: &Connection) -> Result<ConsensusTime, LedgerError> {
    Ok(ConsensusTime(wall_clock().max(meta(conn, META_LAST_CONSENSUS)?)))
}

/// Hands out the next consensus time, strictly after every earlier one. Call inside a write
/// transaction.
pub(super) fn next_consensus(conn: &Connection) -> Result<ConsensusTime, LedgerError> {
    let last = meta(conn, META_LAST_CONSENSUS)?;
    let next = wall_clock().max(last.saturating_add(1));
    set_meta(conn, META_LAST_CONSENSUS, next)?;
    Ok(ConsensusTime(next))
}

/// Hands out the next entity number as an id `0.0.N`. Call inside a write transaction.
pub(super) fn next_entity(conn: &Connection) -> Result<String, LedgerError> {
    let number = meta(conn, META_NEXT_ENTITY)?;
    set_meta(conn, META_NEXT_ENTITY, number.saturating_add(1))?;
    Ok(format!("0.0.{number}"))
}
