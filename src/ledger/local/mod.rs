//! The embedded local ledger: topics, accounts, one kind of fungible token, atomic transfers,
//! receipts and scheduled transactions, kept in one SQLite file (`ledger.sqlite3`) under a state
//! directory, and the topics' messages in a log beside it (`ledger.messages`, see [`log`]) whose
//! committed length the database keeps.
//!
//! It stands in for Hedera on one machine. Several processes, and several [`LocalLedger`] values
//! in one process, may open the same directory: every write is one `BEGIN IMMEDIATE` transaction,
//! so writes are serialised by the database and consensus times, sequence numbers, entity ids
//! and de-duplication hold across all of them. Consensus time follows the wall clock but never
//! repeats nor goes back. Like the rest of the ledger, it knows nothing of festivals, tasks or
//! the engine.

mod checkpoint;
mod db;
mod group;
mod log;
#[cfg(feature = "hedera")]
mod network;
mod recent;
mod schedules;
mod schema;
#[cfg(test)]
mod tests;
mod tokens;
mod topics;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use rusqlite::{Connection, OptionalExtension};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use db::{Cached, DbContext, data_version, meta, next_consensus, next_entity, now_at, set_meta, wall_clock};

use super::{
    AccountId, ConsensusTime, Ledger, LedgerError, Payload, Receipt, ScheduleId, ScheduledOp, Status, TokenId,
    TokenMove, TokenTransfer, TopicId, TopicMessage, TxId,
};

/// The name of the database file inside the state directory.
const FILE_NAME: &str = "ledger.sqlite3";

/// The first entity number handed out (topics and schedules share one counter).
const FIRST_ENTITY: i64 = 4001;

/// `meta` key of the last consensus time given, in ns.
const META_LAST_CONSENSUS: &str = "last_consensus";

/// `meta` key of the next entity number to hand out.
const META_NEXT_ENTITY: &str = "next_entity";

/// `meta` key of the committed length of the message log, in bytes.
const META_LOG_LENGTH: &str = "log_length";

/// How often `wait_messages` looks at the database for writes of other processes.
const POLL_INTERVAL: Duration = Duration::from_millis(5);

/// The embedded ledger, persisted in `ledger.sqlite3` and `ledger.messages` under a state
/// directory.
pub struct LocalLedger {
    /// Stopped (its connection closed) before [`Self::conn`] closes, which checkpoints what is
    /// left when it is the database's last connection.
    _checkpointer: Option<checkpoint::Checkpointer>,
    path: PathBuf,
    /// Shared with the writer of [`group`]'s submissions.
    conn: Arc<Mutex<Connection>>,
    /// Wakes this value's `wait_messages` when it writes messages; other writers are polled for.
    notify: Notify,
    /// When this value last looked for due schedules; `None` after it scheduled one.
    due_checked: Mutex<Option<Instant>>,
    /// Submissions waiting for the connection, written together ([`group`]).
    waiting: Arc<group::Queue>,
    /// What this value wrote lately, for its own readers ([`recent`]).
    recent: Arc<recent::Recent>,
    /// Kept open for the connection's statements, which find it by the database's path.
    _log: Arc<log::MessageLog>,
}

/// How long a look for due schedules stays fresh: every submit and read looks, and looking costs
/// more than the message it goes with, while schedules are seconds apart.
const DUE_CHECK_EVERY: Duration = Duration::from_millis(1);

/// A transfer as [`LocalLedger::transfers`] lists it: transaction id, memo, movements, status.
type TransferRecord = (TxId, String, Vec<TokenMove>, Status);

impl LocalLedger {
    /// Opens the ledger kept in `dir` (created if missing), creating its tables if needed.
    pub fn open(dir: &Path) -> Result<Self, LedgerError> {
        std::fs::create_dir_all(dir).map_err(|e| {
            LedgerError::Other(format!(
                "the ledger's state directory `{}` could not be created: {e}",
                dir.display()
            ))
        })?;
        let path = dir.join(FILE_NAME);
        let mut conn = schema::open_connection(&path)?;
        // Keyed by the path SQLite gives the connection, by which its statements look it up.
        let named = conn.path().map_or_else(|| path.clone(), PathBuf::from);
        let log = log::MessageLog::open(&named)?;
        schema::create_tables(&mut conn, &path, &log)?;
        log.check(&conn)?;
        Ok(Self {
            _checkpointer: checkpoint::Checkpointer::start(&path, log.clone()),
            path,
            conn: Arc::new(Mutex::new(conn)),
            notify: Notify::new(),
            due_checked: Mutex::new(None),
            waiting: Arc::default(),
            recent: Arc::default(),
            _log: log,
        })
    }

    /// The database file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every transfer the ledger has seen, in consensus order: its transaction id, memo, movements
    /// and final status (a refused transfer is listed with its status and moved nothing).
    pub fn transfers(&self) -> Result<Vec<TransferRecord>, LedgerError> {
        self.read(tokens::transfers)
    }

    /// Appends many messages in one write transaction, in the order given: each gets the
    /// sequence number and consensus time [`Ledger::submit`] would give it, one after the other.
    /// For building large logs at once (benchmarks, imports); waiting readers are woken once.
    pub fn submit_many(&self, messages: &[(TopicId, Vec<u8>)]) -> Result<Vec<(u64, ConsensusTime)>, LedgerError> {
        self.run_due()?;
        let payloads: Vec<Payload> = messages.iter().map(|(_, p)| Payload::from(p.as_slice())).collect();
        let messages: Vec<(&TopicId, &Payload)> = messages.iter().map(|(t, _)| t).zip(&payloads).collect();
        let written = self.append_kept(&messages)?;
        self.notify.notify_waiters();
        Ok(written)
    }

    fn lock(&self) -> Result<MutexGuard<'_, Connection>, LedgerError> {
        lock_conn(&self.conn)
    }

    /// Runs `f` on the connection outside any explicit transaction (each statement on its own).
    fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T, LedgerError>) -> Result<T, LedgerError> {
        let conn = self.lock()?;
        f(&conn)
    }

    /// Runs `f` in one `BEGIN IMMEDIATE` transaction, committed if `f` returns `Ok`, rolled back
    /// otherwise.
    /// A write that may append messages: what [`recent`] kept is forgotten.
    fn write<T>(
        &self,
        operation: &'static str,
        f: impl FnOnce(&Connection) -> Result<T, LedgerError>,
    ) -> Result<T, LedgerError> {
        let conn = self.lock()?;
        let written = write_on(&conn, operation, f);
        self.recent.forget();
        written
    }

    /// [`Self::write`] for a write that appends no message (accounts, tokens, transfers).
    fn write_apart<T>(
        &self,
        operation: &'static str,
        f: impl FnOnce(&Connection) -> Result<T, LedgerError>,
    ) -> Result<T, LedgerError> {
        let conn = self.lock()?;
        write_on(&conn, operation, f)
    }

    /// Appends messages in one transaction and keeps them for this value's readers.
    fn append_kept(&self, messages: &[(&TopicId, &Payload)]) -> Result<Vec<(u64, ConsensusTime)>, LedgerError> {
        let conn = self.lock()?;
        append_kept_on(&conn, &self.recent, messages)
    }

    /// Executes the scheduled transactions that are due, each exactly once across every process.
    fn run_due(&self) -> Result<(), LedgerError> {
        {
            let mut checked = self.due_checked.lock().unwrap_or_else(PoisonError::into_inner);
            let now = Instant::now();
            if checked.is_some_and(|at| now.duration_since(at) < DUE_CHECK_EVERY) {
                return Ok(());
            }
            *checked = Some(now);
        }
        // A cheap look first, so that polling does not take the write lock for nothing.
        if !self.read(|conn| schedules::any_due(conn, now_at(conn)?))? {
            return Ok(());
        }
        let executed = self.write("executing scheduled transactions", schedules::execute_due)?;
        if executed > 0 {
            self.notify.notify_waiters();
        }
        Ok(())
    }

    fn messages_now(&self, topic: &TopicId, after: u64, limit: usize) -> Result<Vec<TopicMessage>, LedgerError> {
        self.run_due()?;
        self.read(|conn| {
            if let Some(found) = self.recent.after(data_version(conn)?, topic, after, limit) {
                return Ok(found);
            }
            topics::messages(conn, topic, after, limit)
        })
    }
}

impl Ledger for LocalLedger {
    async fn create_topic(&self, memo: &str) -> Result<TopicId, LedgerError> {
        self.write("creating a topic", |conn| topics::create(conn, memo))
    }

    async fn submit(&self, topic: &TopicId, payload: &[u8]) -> Result<(u64, ConsensusTime), LedgerError> {
        self.run_due()?;
        let written = self.append_kept(&[(topic, &Payload::from(payload))])?;
        self.notify.notify_waiters();
        written
            .into_iter()
            .next()
            .ok_or_else(|| LedgerError::Other("a submitted message was not numbered".into()))
    }

    async fn submit_all(&self, topic: &TopicId, payloads: &[Payload]) -> Result<(), LedgerError> {
        if payloads.is_empty() {
            return Ok(());
        }
        self.run_due()?;
        self.submit_grouped(topic, payloads).await?;
        self.notify.notify_waiters();
        Ok(())
    }

    /// Signing is what costs here, not bytes: one signature per batch.
    fn batch_signatures(&self) -> bool {
        true
    }

    async fn messages(&self, topic: &TopicId, after: u64, limit: usize) -> Result<Vec<TopicMessage>, LedgerError> {
        self.messages_now(topic, after, limit)
    }

    async fn wait_messages(
        &self,
        topic: &TopicId,
        after: u64,
        limit: usize,
        cancel: &CancellationToken,
    ) -> Result<Vec<TopicMessage>, LedgerError> {
        loop {
            // Registered before looking, so that a submit between the look and the wait is not missed.
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let found = self.messages_now(topic, after, limit)?;
            if !found.is_empty() {
                return Ok(found);
            }
            // Other writers are looked for every POLL_INTERVAL; until then this value's own
            // writes wake the wait, and one that added nothing to this topic needs no look.
            let look_again = tokio::time::sleep(POLL_INTERVAL);
            tokio::pin!(look_again);
            loop {
                tokio::select! {
                    biased;
                    () = cancel.cancelled() => return Ok(Vec::new()),
                    () = &mut notified => {}
                    () = &mut look_again => break,
                }
                notified.set(self.notify.notified());
                notified.as_mut().enable();
                if self.recent.wrote_after(topic, after) != Some(false) {
                    break;
                }
            }
        }
    }

    async fn ensure_account(&self, account: &AccountId, public_key: &[u8; 32]) -> Result<(), LedgerError> {
        self.write_apart("creating an account", |conn| {
            tokens::ensure_account(conn, account, public_key)
        })
    }

    async fn account_key(&self, account: &AccountId) -> Result<Option<[u8; 32]>, LedgerError> {
        self.read(|conn| {
            conn.row("SELECT public_key FROM accounts WHERE id = ?1", [&account.0], |row| {
                row.get(0)
            })
            .optional()
            .during("reading an account's key")
        })
    }

    async fn ensure_token(
        &self,
        id: &TokenId,
        symbol: &str,
        decimals: u32,
        treasury: &AccountId,
        supply: i64,
    ) -> Result<(), LedgerError> {
        let token = tokens::NewToken {
            id,
            symbol,
            decimals,
            treasury,
            supply,
        };
        self.write_apart("creating a token", |conn| tokens::ensure_token(conn, &token))
    }

    async fn associate(&self, account: &AccountId, token: &TokenId) -> Result<(), LedgerError> {
        self.write_apart("associating an account with a token", |conn| {
            tokens::associate(conn, account, token)
        })
    }

    async fn transfer(
        &self,
        tx: &TxId,
        token: &TokenId,
        moves: &[TokenMove],
        memo: &str,
    ) -> Result<Receipt, LedgerError> {
        self.write_apart("transferring tokens", |conn| {
            tokens::transfer(conn, tx, token, moves, memo)
        })
    }

    /// In one database transaction.
    async fn transfer_all(
        &self,
        transfers: &[TokenTransfer],
    ) -> Result<Vec<Result<Receipt, LedgerError>>, LedgerError> {
        self.write_apart("transferring tokens", |conn| tokens::transfer_all(conn, transfers))
    }

    async fn receipt(&self, tx: &TxId) -> Result<Option<Receipt>, LedgerError> {
        self.read(|conn| tokens::receipt(conn, tx))
    }

    async fn token_balance(&self, account: &AccountId, token: &TokenId) -> Result<i64, LedgerError> {
        self.read(|conn| tokens::balance(conn, account, token))
    }

    async fn schedule(&self, op: &ScheduledOp, at: ConsensusTime, memo: &str) -> Result<ScheduleId, LedgerError> {
        let id = self.write("scheduling a transaction", |conn| {
            schedules::schedule(conn, op, at, memo)
        })?;
        *self.due_checked.lock().unwrap_or_else(PoisonError::into_inner) = None;
        Ok(id)
    }

    async fn now(&self) -> Result<ConsensusTime, LedgerError> {
        self.run_due()?;
        self.read(now_at)
    }

    /// At one look at the connection: the clock, then the connection's `data_version` once for
    /// every topic's kept messages, then each topic.
    async fn now_and_messages(
        &self,
        topics: &[(&TopicId, u64)],
        limit: usize,
    ) -> Result<(ConsensusTime, Vec<Vec<TopicMessage>>), LedgerError> {
        self.run_due()?;
        self.read(|conn| {
            let now = now_at(conn)?;
            let version = data_version(conn)?;
            let mut all = Vec::with_capacity(topics.len());
            for &(topic, after) in topics {
                all.push(match self.recent.after(version, topic, after, limit) {
                    Some(found) => found,
                    None => topics::messages(conn, topic, after, limit)?,
                });
            }
            Ok((now, all))
        })
    }
}

/// The connection, for this value or the writer of its submissions ([`group`]).
fn lock_conn(conn: &Mutex<Connection>) -> Result<MutexGuard<'_, Connection>, LedgerError> {
    conn.lock()
        .map_err(|_| LedgerError::Other("the local ledger's connection mutex is poisoned".to_owned()))
}

/// Runs `f` on `conn` in one `BEGIN IMMEDIATE` transaction, committed if `f` returns `Ok`,
/// rolled back otherwise.
fn write_on<T>(
    conn: &Connection,
    operation: &'static str,
    f: impl FnOnce(&Connection) -> Result<T, LedgerError>,
) -> Result<T, LedgerError> {
    // `BEGIN` and `COMMIT` as cached statements: a transaction is written per step, and parsing
    // them again each time showed in profiles.
    conn.exec("BEGIN IMMEDIATE", []).during(operation)?;
    let done = f(conn).and_then(|value| conn.exec("COMMIT", []).during(operation).map(|_| value));
    if done.is_err() && !conn.is_autocommit() {
        // Nothing of a failed write stays; the error to report is the first one.
        let _ = conn.exec("ROLLBACK", []);
    }
    done
}

/// Appends messages in one transaction on `conn` and keeps them in `recent`, with the
/// connection's `data_version` read inside the transaction: a write by another connection after
/// this commit changes it, and the kept runs are dropped at the next read.
fn append_kept_on(
    conn: &Connection,
    recent: &recent::Recent,
    messages: &[(&TopicId, &Payload)],
) -> Result<Vec<(u64, ConsensusTime)>, LedgerError> {
    let ((written, appended), version) = write_on(conn, "submitting messages", |conn| {
        Ok((topics::append_many(conn, messages)?, data_version(conn)?))
    })?;
    // Committed: whatever happens now, the messages are in the log.
    if let Ok(log) = log::MessageLog::of(conn) {
        log.committed(appended, messages.iter().map(|(topic, _)| *topic));
    }
    recent.wrote(
        version,
        messages.iter().zip(&written).map(|((t, p), (s, c))| (*t, *s, *c, *p)),
    );
    Ok(written)
}
