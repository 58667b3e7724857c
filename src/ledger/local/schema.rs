//! Opening the database file: pragmas and tables.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, TransactionBehavior};

use super::{DbContext, FIRST_ENTITY, META_LAST_CONSENSUS, META_NEXT_ENTITY};
use crate::ledger::LedgerError;

/// The version of the tables below, kept in `PRAGMA user_version`. Version 1 kept messages in a
/// table without row ids, keyed by topic and sequence; see [`MESSAGES`].
const SCHEMA_VERSION: i64 = 2;

/// How long a connection waits for another one (perhaps in another process) to finish writing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Pages of write-ahead log after which a commit checkpoints it itself (128 MiB of 4 KiB pages):
/// the ledger's own thread checkpoints long before ([`super::checkpoint`]), this is for a log it
/// cannot keep up with.
const WAL_CHECKPOINT_PAGES: i64 = 32_768;

/// The messages of every topic, in a table with row ids: its rows hold up to 4 KiB in their
/// page, where a table without row ids (schema version 1) kept only about 1,000 bytes and put
/// the rest of every longer message (a result with its report, a payment intent) on a page of
/// its own. A run wrote a third fewer pages with this one, its database a third smaller.
const MESSAGES: &str = "
CREATE TABLE IF NOT EXISTS messages (
    topic TEXT NOT NULL REFERENCES topics(id),
    sequence INTEGER NOT NULL,
    consensus INTEGER NOT NULL,
    payload BLOB NOT NULL,
    UNIQUE (topic, sequence)
);
";

/// Every table of the ledger but [`MESSAGES`]. A balance row is an association; its amount is in minor units.
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

/// Opens (creating if needed) the database at `path`, sets it up for several writers in several
/// processes, and creates the tables that are missing.
pub(super) fn open_connection(path: &Path) -> Result<Connection, LedgerError> {
    let open_error = |source| LedgerError::Open {
        path: path.to_owned(),
        source,
    };
    let mut conn = Connection::open(path).map_err(open_error)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(open_error)?;
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
    create_tables(&mut conn, path)?;
    Ok(conn)
}

fn create_tables(conn: &mut Connection, path: &Path) -> Result<(), LedgerError> {
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
        // A version 1 ledger's messages, moved into the table of `MESSAGES` in log order.
        tx.execute_batch("ALTER TABLE messages RENAME TO messages_v1;")
            .and_then(|()| tx.execute_batch(MESSAGES))
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
    tx.execute_batch(MESSAGES).during("creating the tables")?;
    tx.execute(
        "INSERT OR IGNORE INTO meta (key, value) VALUES (?1, 0), (?2, ?3)",
        (META_LAST_CONSENSUS, META_NEXT_ENTITY, FIRST_ENTITY),
    )
    .during("initialising the counters")?;
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)
        .during("writing the schema version")?;
    tx.commit().during("creating the tables")
}
