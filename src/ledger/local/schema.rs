//! Opening the database file: pragmas and tables.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, TransactionBehavior};

use super::log::MessageLog;
use super::{Cached, DbContext, FIRST_ENTITY, META_LAST_CONSENSUS, META_LOG_LENGTH, META_NEXT_ENTITY, set_meta};
use crate::ledger::{ConsensusTime, LedgerError, TopicId};

/// The version of the tables below, kept in `PRAGMA user_version`. Versions 1 and 2 kept the
/// messages in the database (see [`MESSAGES_V2`]); since version 3 they are in the message log
/// beside it ([`super::log`]).
const SCHEMA_VERSION: i64 = 3;

/// How long a connection waits for another one (perhaps in another process) to finish writing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Pages of write-ahead log after which a commit checkpoints it itself (128 MiB of 4 KiB pages):
/// the ledger's own thread checkpoints long before ([`super::checkpoint`]), this is for a log it
/// cannot keep up with.
const WAL_CHECKPOINT_PAGES: i64 = 32_768;

/// The messages of every topic as schema version 2 kept them, in a table with row ids (version 1
/// had one without). A ledger of either version is moved to the message log when opened.
const MESSAGES_V2: &str = "
CREATE TABLE IF NOT EXISTS messages (
    topic TEXT NOT NULL REFERENCES topics(id),
    sequence INTEGER NOT NULL,
    consensus INTEGER NOT NULL,
    payload BLOB NOT NULL,
    UNIQUE (topic, sequence)
);
";

/// Every table of the ledger. A balance row is an association; its amount is in minor units.
/// `schedules.executed` is the consensus time of execution, NULL while pending.
const TABLES: &str = "
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS topics (
    id TEXT PRIMARY KEY,
    memo TEXT NOT NULL,
    created INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS accounts (
    id TEXT PRIMARY KEY,
    public_key BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS tokens (
    id TEXT PRIMARY KEY,
    symbol TEXT NOT NULL,
    decimals INTEGER NOT NULL,
    treasury TEXT NOT NULL REFERENCES accounts(id)
);
CREATE TABLE IF NOT EXISTS balances (
    account TEXT NOT NULL REFERENCES accounts(id),
    token TEXT NOT NULL REFERENCES tokens(id),
    amount INTEGER NOT NULL,
    PRIMARY KEY (account, token)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS receipts (
    tx TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    consensus INTEGER NOT NULL,
    memo TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS transfers (
    tx TEXT PRIMARY KEY REFERENCES receipts(tx),
    token TEXT NOT NULL,
    memo TEXT NOT NULL,
    moves TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS schedules (
    id TEXT PRIMARY KEY,
    op TEXT NOT NULL,
    at INTEGER NOT NULL,
    memo TEXT NOT NULL,
    created INTEGER NOT NULL,
    executed INTEGER
);
CREATE INDEX IF NOT EXISTS schedules_pending ON schedules (executed, at);
";

/// Opens (creating if needed) the database at `path` and sets it up for several writers in
/// several processes.
///
/// Turning write-ahead logging on takes the database alone and does not wait for a busy one:
/// where another connection (perhaps another process starting at the same moment) holds it, the
/// opening is tried again, for up to [`BUSY_TIMEOUT`] in all.
pub(super) fn open_connection(path: &Path) -> Result<Connection, LedgerError> {
    let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
    let mut pause = Duration::from_millis(2);
    loop {
        match try_open(path) {
            Err(LedgerError::Open { source, .. }) if is_busy(&source) && std::time::Instant::now() < deadline => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(100));
            }
            opened => return opened,
        }
    }
}

/// Whether SQLite said another connection holds the database.
fn is_busy(error: &rusqlite::Error) -> bool {
    matches!(
        error.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

/// The page size of a new database. A run commits a transaction per step, most of them changing
/// a row or two of small tables, and each changed page goes whole to the write-ahead log: with
/// SQLite's 4 KiB pages the log took 9.5 MB for a 10,000-task run, with 1 KiB 4.4 MB, and the
/// run 0.96 to 0.98x the time (512 and 2,048 bytes gained less).
pub(super) const PAGE_SIZE: i64 = 1024;

fn try_open(path: &Path) -> Result<Connection, LedgerError> {
    let open_error = |source| LedgerError::Open {
        path: path.to_owned(),
        source,
    };
    let conn = Connection::open(path).map_err(open_error)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(open_error)?;
    // Before write-ahead logging: a new database takes it, one made with another size keeps its own.
    conn.pragma_update(None, "page_size", PAGE_SIZE).map_err(open_error)?;
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
        .map_err(open_error)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(LedgerError::Other(format!(
            "the ledger's database at `{}` refused write-ahead logging (journal mode `{mode}`)",
            path.display()
        )));
    }
    // WAL with NORMAL loses no committed transaction when the process dies, only on power loss.
    conn.pragma_update(None, "synchronous", "NORMAL").map_err(open_error)?;
    conn.pragma_update(None, "foreign_keys", true).map_err(open_error)?;
    // Keeps a prepared statement's plan whatever is bound to it: otherwise the bundled SQLite
    // (built with STAT4) prepares a read of a topic again each time its `after` changes.
    conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)
        .map_err(open_error)?;
    conn.set_prepared_statement_cache_capacity(64);
    // Commits leave checkpoints to the ledger's thread: a run writes a transaction per step, and
    // a checkpoint inside one holds up every writer waiting behind it.
    conn.pragma_update(None, "wal_autocheckpoint", WAL_CHECKPOINT_PAGES)
        .map_err(open_error)?;
    Ok(conn)
}

/// Creates the tables that are missing and moves an older ledger's messages to `log`.
pub(super) fn create_tables(conn: &mut Connection, path: &Path, log: &MessageLog) -> Result<(), LedgerError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .during("creating the tables")?;
    let version: i64 = tx
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .during("reading the schema version")?;
    if version > SCHEMA_VERSION {
        return Err(LedgerError::Other(format!(
            "the ledger's database at `{}` has schema version {version}, newer than this baton's {SCHEMA_VERSION}",
            path.display()
        )));
    }
    if version == 1 {
        // A version 1 ledger's messages, in a table of `MESSAGES_V2` in log order.
        tx.execute_batch("ALTER TABLE messages RENAME TO messages_v1;")
            .and_then(|()| tx.execute_batch(MESSAGES_V2))
            .and_then(|()| {
                tx.execute_batch(
                    "INSERT INTO messages (topic, sequence, consensus, payload) \
                     SELECT topic, sequence, consensus, payload FROM messages_v1 ORDER BY consensus, topic, sequence; \
                     DROP TABLE messages_v1;",
                )
            })
            .during("moving the messages to schema version 2")?;
    }
    tx.execute_batch(TABLES).during("creating the tables")?;
    tx.execute(
        "INSERT OR IGNORE INTO meta (key, value) VALUES (?1, 0), (?2, ?3), (?4, 0)",
        (META_LAST_CONSENSUS, META_NEXT_ENTITY, FIRST_ENTITY, META_LOG_LENGTH),
    )
    .during("initialising the counters")?;
    if version == 1 || version == 2 {
        move_to_log(&tx, log)?;
    }
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)
        .during("writing the schema version")?;
    tx.commit().during("creating the tables")
}

/// Moves the messages of a version 1 or 2 ledger (in a table of [`MESSAGES_V2`]) to the message
/// log, in log order, and drops the table; all of it is undone if the transaction is.
fn move_to_log(conn: &Connection, log: &MessageLog) -> Result<(), LedgerError> {
    set_meta(conn, META_LOG_LENGTH, 0)?;
    let mut statement = conn
        .prepare("SELECT topic, sequence, consensus, payload FROM messages ORDER BY rowid")
        .during("reading the messages to move")?;
    let mut rows = statement.query([]).during("reading the messages to move")?;
    let mut batch: Vec<(TopicId, u64, ConsensusTime, Vec<u8>)> = Vec::new();
    loop {
        let row = rows.next().during("reading the messages to move")?;
        if let Some(row) = row {
            let read = (|| {
                let sequence: i64 = row.get(1)?;
                Ok::<_, rusqlite::Error>((
                    TopicId(row.get(0)?),
                    u64::try_from(sequence).unwrap_or_default(),
                    ConsensusTime(row.get(2)?),
                    row.get(3)?,
                ))
            })();
            batch.push(read.during("reading the messages to move")?);
        }
        if batch.len() >= 4096 || (row.is_none() && !batch.is_empty()) {
            let records: Vec<_> = batch.iter().map(|(t, s, c, p)| (t, *s, *c, &p[..])).collect();
            // Indexed by the first reader, once the move has committed.
            let _ = log.append(conn, &mut log.caught_up(conn)?, &records)?;
            batch.clear();
        }
        if row.is_none() {
            break;
        }
    }
    drop(rows);
    drop(statement);
    conn.exec("DROP TABLE messages", [])
        .during("moving the messages to the log")?;
    Ok(())
}
