//! The local ledger's network layer: what `baton devnet` needs beyond the [`Ledger`] trait to
//! behave like a Hedera network. HBAR balances, accounts with network-assigned ids, topic keys
//! and running hashes, token names and supplies, schedules with collected signatures, and one
//! record per transaction id (receipt and record in one), all in the same database file and the
//! same write transactions as the rest of the ledger.
//!
//! Its tables are created when the devnet starts (`network_genesis`), so a ledger that never
//! served a devnet has none of them. Entity ids come from the ledger's one counter, as topics
//! and schedules already do. A transaction executes in one `BEGIN IMMEDIATE` write: the fee is
//! charged first, the operation runs inside a savepoint (rolled back when it fails, the fee
//! stays), then the record is stored; a transaction id with a record is never executed again.
//!
//! [`Ledger`]: crate::ledger::Ledger

mod accounts;
mod ops;
mod schedules;
#[cfg(test)]
mod tests;
mod topics;

use rusqlite::{Connection, OptionalExtension};
use tokio::sync::futures::Notified;

use super::{Cached, DbContext, LocalLedger, now_at, tokens};
use crate::devnet::model::{Key32, NetAccount, NetMessage, NetRecord, NetSchedule, NetToken, NetTopic, Step};
use crate::ledger::{AccountId, ConsensusTime, LedgerError, ScheduleId, TokenId, TopicId};

/// The network layer's tables. `net_accounts.tinybars` is an account's HBAR balance (an account
/// without a row holds none); `net_messages` adds the running hash and chunk information to
/// `messages`; `net_records.record` is a JSON [`NetRecord`].
const TABLES: &str = "
CREATE TABLE IF NOT EXISTS net_accounts (
    id TEXT PRIMARY KEY REFERENCES accounts(id),
    tinybars INTEGER NOT NULL,
    memo TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS net_topics (
    id TEXT PRIMARY KEY REFERENCES topics(id),
    admin_key BLOB,
    submit_key BLOB,
    running_hash BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS net_messages (
    topic TEXT NOT NULL,
    sequence INTEGER NOT NULL,
    running_hash BLOB NOT NULL,
    chunk BLOB,
    PRIMARY KEY (topic, sequence)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS net_tokens (
    id TEXT PRIMARY KEY REFERENCES tokens(id),
    name TEXT NOT NULL,
    memo TEXT NOT NULL,
    admin_key BLOB,
    total_supply INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS net_records (
    tx TEXT PRIMARY KEY,
    consensus INTEGER NOT NULL,
    record TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS net_schedules (
    id TEXT PRIMARY KEY,
    fingerprint BLOB NOT NULL,
    body BLOB NOT NULL,
    payer TEXT NOT NULL,
    scheduled TEXT NOT NULL,
    memo TEXT NOT NULL,
    admin_key BLOB,
    expiration INTEGER NOT NULL,
    wait_for_expiry INTEGER NOT NULL,
    required TEXT NOT NULL,
    signatories TEXT NOT NULL,
    state TEXT NOT NULL,
    resolved INTEGER
);
CREATE INDEX IF NOT EXISTS net_schedules_pending ON net_schedules (state, expiration);
CREATE INDEX IF NOT EXISTS net_schedules_fingerprint ON net_schedules (fingerprint);
";

impl LocalLedger {
    /// Creates the network layer's tables if needed, and the operator and node accounts on the
    /// first start: both hold `key`, and the operator is given `tinybars`. Later starts change
    /// nothing, so balances persist.
    pub(crate) fn network_genesis(
        &self,
        operator: &AccountId,
        node: &AccountId,
        key: &Key32,
        tinybars: i64,
    ) -> Result<(), LedgerError> {
        self.write("preparing the network layer", |conn| {
            conn.execute_batch(TABLES).during("creating the network tables")?;
            for (account, balance) in [(operator, tinybars), (node, 0)] {
                tokens::ensure_account(conn, account, key)?;
                conn.exec(
                    "INSERT OR IGNORE INTO net_accounts (id, tinybars) VALUES (?1, ?2)",
                    (&account.0, balance),
                )
                .during("funding a genesis account")?;
            }
            Ok(())
        })
    }

    /// Executes one transaction at consensus and returns its record; `None` when its id already
    /// has one (nothing is done).
    pub(crate) fn network_execute(&self, step: &Step) -> Result<Option<NetRecord>, LedgerError> {
        let record = self.write("executing a transaction", |conn| ops::execute(conn, step))?;
        if record.is_some() {
            self.notify.notify_waiters();
        }
        Ok(record)
    }

    /// The record of a transaction id key ([`NetTxId::key`]).
    ///
    /// [`NetTxId::key`]: crate::devnet::model::NetTxId::key
    pub(crate) fn network_record(&self, key: &str) -> Result<Option<NetRecord>, LedgerError> {
        self.read(|conn| ops::record(conn, key))
    }

    /// Whether the ledger has executed this transaction id, through the network layer or the
    /// [`Ledger`](crate::ledger::Ledger) trait's transfers.
    pub(crate) fn network_seen(&self, key: &str) -> Result<bool, LedgerError> {
        self.read(|conn| ops::seen(conn, key))
    }

    /// An account with its key, HBAR balance and token relationships.
    pub(crate) fn network_account(&self, id: &AccountId) -> Result<Option<NetAccount>, LedgerError> {
        self.read(|conn| accounts::account(conn, id))
    }

    /// A topic with its keys, running hash and last sequence number.
    pub(crate) fn network_topic(&self, id: &TopicId) -> Result<Option<NetTopic>, LedgerError> {
        self.read(|conn| topics::topic(conn, id))
    }

    /// A token with its name, supply and keys.
    pub(crate) fn network_token(&self, id: &TokenId) -> Result<Option<NetToken>, LedgerError> {
        self.read(|conn| accounts::token(conn, id))
    }

    /// Messages of `topic` with a sequence number above `after` and a consensus time at or after
    /// `from`, oldest first, at most `limit`. `UnknownTopic` if the topic does not exist.
    pub(crate) fn network_messages(
        &self,
        topic: &TopicId,
        after: u64,
        from: ConsensusTime,
        limit: usize,
    ) -> Result<Vec<NetMessage>, LedgerError> {
        self.read(|conn| topics::messages(conn, topic, after, from, limit))
    }

    /// Resolves when this value next writes messages or executes a transaction. Create it (and
    /// `enable` it) before reading, so that a write between the read and the wait is not missed.
    pub(crate) fn network_changed(&self) -> Notified<'_> {
        self.notify.notified()
    }

    /// The consensus clock now.
    pub(crate) fn network_now(&self) -> Result<ConsensusTime, LedgerError> {
        self.read(now_at)
    }

    /// A schedule by id.
    pub(crate) fn network_schedule(&self, id: &ScheduleId) -> Result<Option<NetSchedule>, LedgerError> {
        self.read(|conn| schedules::schedule(conn, id))
    }

    /// Pending schedules to resolve at `now`: those whose signatures are complete and which do
    /// not wait for their expiry, and those whose expiration time has come. Oldest first.
    pub(crate) fn network_due_schedules(&self, now: ConsensusTime) -> Result<Vec<NetSchedule>, LedgerError> {
        self.read(|conn| schedules::due(conn, now))
    }

    /// The earliest expiration time of a pending schedule.
    pub(crate) fn network_next_expiry(&self) -> Result<Option<ConsensusTime>, LedgerError> {
        self.read(schedules::next_expiry)
    }

    /// Marks a pending schedule expired without executing it.
    pub(crate) fn network_expire_schedule(&self, id: &ScheduleId) -> Result<(), LedgerError> {
        self.write("expiring a schedule", |conn| schedules::expire(conn, id))
    }
}

/// An optional ed25519 key column.
fn key_column(stored: Option<Vec<u8>>) -> Option<Key32> {
    stored.and_then(|bytes| Key32::try_from(bytes.as_slice()).ok())
}

/// The three numbers of a `shard.realm.num` id (zeros where unreadable).
fn entity_numbers(id: &str) -> [i64; 3] {
    let mut numbers = [0; 3];
    for (slot, part) in numbers.iter_mut().zip(id.split('.')) {
        *slot = part.parse().unwrap_or(0);
    }
    numbers
}

/// Whether a row matching `sql` with `params` exists.
fn exists(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    what: &'static str,
) -> Result<bool, LedgerError> {
    Ok(conn.row(sql, params, |_| Ok(())).optional().during(what)?.is_some())
}
