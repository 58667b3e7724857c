//! The Hedera backend of the ledger, through hiero-sdk: testnet, previewnet, mainnet or a custom
//! network (one consensus node and a mirror, such as `baton devnet`), configured from `.env`.
//!
//! How the [`Ledger`] trait maps onto Hedera:
//!
//! - `create_topic`: a topic with no admin or submit key; messages authenticate themselves with
//!   signatures. `submit`: `TopicMessageSubmitTransaction`, split by the SDK into chunks of 1024
//!   bytes (at most 20); the sequence number and consensus time returned are the last chunk's,
//!   from the records (the wall clock when no record can be read).
//! - `messages` / `wait_messages`: one mirror subscription per topic, started on first use with
//!   an explicit start time (the epoch: the whole log), buffered in memory in sequence order (see
//!   `feed`). A topic is served only once its history up to the subscription's start has
//!   arrived. A stream that ends or fails is opened again from the last message kept (minus a
//!   rewind, duplicates skipped) with back-off; a topic the mirror does not see yet (`NOT_FOUND`)
//!   is asked for again. `wait_messages` waits on the buffer or the cancel token.
//! - `now`: the mirror lags consensus, so the log's horizon is the wall clock minus
//!   `mirror_lag` (never going back). `LogReader` returns only messages up to `now()`, so its
//!   merge of the two topics is in consensus order **as long as the mirror delivers every
//!   message within `mirror_lag` of its consensus time** and the local clock is close to the
//!   network's. A message the mirror delivers later than that can be folded after a younger one.
//! - `ensure_account`: the network chooses account ids, so this only checks that the account
//!   exists and holds the key (a clear error otherwise); `account_key` reads it (single ed25519
//!   keys only). `ensure_token` checks the token exists with those decimals. `associate` works
//!   for the operator's own account; any other account must sign: [`HederaLedger::associate_as`].
//! - `transfer`: a `TransferTransaction` under the engine's transaction id (payer and valid
//!   start), which must be paid by the operator, with the configured maximum fee. Pre-check
//!   `DUPLICATE_TRANSACTION` is [`LedgerError::Duplicate`], `TRANSACTION_EXPIRED` and
//!   `INVALID_TRANSACTION_START` are [`LedgerError::Expired`]; a receipt with a failure status is
//!   `Ok` with that status, as on the local ledger, when [`super::Status`] names it (a status it
//!   does not name, such as `TOKEN_IS_PAUSED`, is a [`LedgerError::Refused`] naming it).
//! - `receipt`: `TransactionReceiptQuery` (nodes keep receipts about three minutes), `None` when
//!   the network does not know the id within a few seconds.
//! - `settled_record`: for a transaction whose receipt is gone, its record from the mirror's
//!   REST API (`GET /api/v1/transactions/{payer}-{secs}-{nanos}`, see `rest`), the first
//!   execution under the id; with no record once its validity window (at most 180 s) is past by
//!   more than the mirror's lag and a margin, a receipt `TRANSACTION_EXPIRED`: it never executed
//!   and never will (see `records`). While the record may still appear, the mirror is asked
//!   again every few seconds until that point. [`HederaLedger::record`] reads the mirror alone.
//! - `token_balance`: from the node on a custom network; from the mirror's REST API
//!   (`GET /api/v1/accounts/{id}/tokens?token.id={token}`) on public networks, whose nodes no
//!   longer report token balances ([`HederaLedger::mirror_token_balance`] reads it anywhere).
//! - `schedule`: `ScheduleCreateTransaction` around a one-chunk topic message, expiring at the
//!   given time with `wait_for_expiry`, so the network executes it then. An identical schedule
//!   (same message, memo and time) returns the existing id.
//!
//! Every transaction has its id before its first attempt and keeps it through the retries of
//! transient failures (timeouts, unavailable or busy nodes the SDK gave up on), so no retry can
//! execute twice. The fees of executed transactions are read from their records and added up by
//! operation ([`HederaLedger::spent`]). Keys are never printed or logged.
//!
//! The mirror's REST API is Hedera's own on public networks (`https://testnet.mirrornode.hedera.com`,
//! ...) and `HEDERA_MIRROR_REST` on a custom one (`baton devnet` serves it); a custom network
//! without one has no `settled_record` and no [`HederaLedger::mirror_token_balance`].

mod accounts;
mod client;
mod config;
mod feed;
mod ids;
mod network;
mod records;
mod rest;
mod schedules;
mod status;
mod tokens;
mod topics;

pub use config::HederaConfig;
pub use network::Network;

use std::fmt;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use self::client::Connection;
use self::feed::{Feeds, wall_clock};
use self::rest::MirrorRest;
use super::{
    AccountId, ConsensusTime, Ledger, LedgerError, Receipt, ScheduleId, ScheduledOp, TokenId, TokenMove, TopicId,
    TopicMessage, TxId,
};
use crate::wire::{SigningKey, VerifyingKey};

/// A ledger on a Hedera network, paid for by one operator.
pub struct HederaLedger {
    conn: Connection,
    feeds: Feeds,
    /// The mirror's REST API, when the network has one.
    rest: Option<MirrorRest>,
    mirror_lag: Duration,
    /// The last horizon `now` gave, so that it never goes back.
    last_now: AtomicI64,
    /// Stops the mirror subscriptions and pending retries when the ledger is dropped.
    stop: CancellationToken,
}

impl fmt::Debug for HederaLedger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HederaLedger")
            .field("network", &self.conn.network)
            .field("operator", &self.conn.operator)
            .finish_non_exhaustive()
    }
}

impl Drop for HederaLedger {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl HederaLedger {
    /// A client of `config`'s network paid by its operator. Starts nothing in the background
    /// (mirror subscriptions start on the first read, inside the runtime), so it works outside
    /// a tokio runtime.
    pub fn connect(config: HederaConfig) -> Result<HederaLedger, LedgerError> {
        let stop = CancellationToken::new();
        let conn = Connection::open(&config, stop.clone())?;
        let feeds = Feeds::new(conn.client().clone(), config.mirror_lag, stop.clone());
        let rest = config
            .network
            .mirror_rest()
            .map(|base| MirrorRest::new(base, stop.clone()))
            .transpose()?;
        Ok(HederaLedger {
            conn,
            feeds,
            rest,
            mirror_lag: config.mirror_lag,
            last_now: AtomicI64::new(i64::MIN),
            stop,
        })
    }

    /// The account that pays for this client's transactions.
    #[must_use]
    pub fn operator(&self) -> &AccountId {
        &self.conn.operator
    }

    /// Creates an account holding `key` with `initial_tinybars` from the operator; the network
    /// chooses its id.
    pub async fn create_account(&self, key: &VerifyingKey, initial_tinybars: i64) -> Result<AccountId, LedgerError> {
        accounts::create(&self.conn, key, initial_tinybars).await
    }

    /// Creates a fungible token whose treasury is the operator, holding all of `supply` (minor
    /// units); the network chooses its id.
    pub async fn create_token(
        &self,
        name: &str,
        symbol: &str,
        decimals: u32,
        supply: i64,
    ) -> Result<TokenId, LedgerError> {
        tokens::create(&self.conn, name, symbol, decimals, supply).await
    }

    /// Associates `account` with `token`, signed with the account's `key` and paid by the
    /// operator. `TOKEN_ALREADY_ASSOCIATED_TO_ACCOUNT` is not an error.
    pub async fn associate_as(
        &self,
        account: &AccountId,
        key: &SigningKey,
        token: &TokenId,
    ) -> Result<(), LedgerError> {
        tokens::associate(&self.conn, account, Some(key), token).await
    }

    /// An account's hbar balance, in tinybars.
    pub async fn hbar_balance(&self, account: &AccountId) -> Result<i64, LedgerError> {
        accounts::hbar_balance(&self.conn, account).await
    }

    /// Adds `key`'s signature to schedule `schedule`, paid by the operator.
    pub async fn sign_schedule(&self, schedule: &ScheduleId, key: &SigningKey) -> Result<(), LedgerError> {
        schedules::sign(&self.conn, schedule, key).await
    }

    /// The receipt the mirror's record of `tx` amounts to (the first execution under its id,
    /// with its status and consensus time), read from the mirror's REST API, which keeps records
    /// for good; `None` when the mirror has no record of it (yet: the mirror lags consensus).
    pub async fn record(&self, tx: &TxId) -> Result<Option<Receipt>, LedgerError> {
        let operation = format!("reading the mirror's record of transaction `{tx}`");
        records::record(self.rest(&operation)?, tx).await
    }

    /// An account's balance of a token, in minor units, from the mirror's REST API (0 when the
    /// account is not associated with the token). The mirror lags consensus by a few seconds.
    pub async fn mirror_token_balance(&self, account: &AccountId, token: &TokenId) -> Result<i64, LedgerError> {
        let operation = format!("reading the balance of token `{token}` of account `{account}`");
        self.rest(&operation)?
            .token_balance(account, token)
            .await?
            .ok_or_else(|| LedgerError::UnknownAccount(account.clone()))
    }

    /// The mirror's REST API, or why `operation` cannot be done without one.
    fn rest(&self, operation: &str) -> Result<&MirrorRest, LedgerError> {
        self.rest.as_ref().ok_or_else(|| LedgerError::Unsupported {
            operation: operation.to_owned(),
            reason: format!(
                "this {} network has no mirror REST API: set `HEDERA_MIRROR_REST` (`baton devnet` prints it)",
                self.conn.network.name()
            ),
        })
    }

    /// Tinybars of fees this client paid, by operation (`associate`, `create_account`,
    /// `create_token`, `create_topic`, `schedule`, `schedule_sign`, `submit`, `transfer`), from
    /// the records of its transactions. Query payments are not included.
    #[must_use]
    pub fn spent(&self) -> Vec<(String, i64)> {
        self.conn.spent()
    }
}

impl Ledger for HederaLedger {
    async fn create_topic(&self, memo: &str) -> Result<TopicId, LedgerError> {
        topics::create(&self.conn, memo).await
    }

    async fn submit(&self, topic: &TopicId, payload: &[u8]) -> Result<(u64, ConsensusTime), LedgerError> {
        topics::submit(&self.conn, topic, payload).await
    }

    async fn messages(&self, topic: &TopicId, after: u64, limit: usize) -> Result<Vec<TopicMessage>, LedgerError> {
        topics::messages(&self.feeds, topic, after, limit).await
    }

    async fn wait_messages(
        &self,
        topic: &TopicId,
        after: u64,
        limit: usize,
        cancel: &CancellationToken,
    ) -> Result<Vec<TopicMessage>, LedgerError> {
        topics::wait_messages(&self.feeds, topic, after, limit, cancel).await
    }

    async fn ensure_account(&self, account: &AccountId, public_key: &[u8; 32]) -> Result<(), LedgerError> {
        accounts::ensure(&self.conn, account, public_key).await
    }

    async fn account_key(&self, account: &AccountId) -> Result<Option<[u8; 32]>, LedgerError> {
        accounts::key(&self.conn, account).await
    }

    /// Checks the token exists with `decimals`; its symbol, treasury and supply are the network's.
    async fn ensure_token(
        &self,
        id: &TokenId,
        _symbol: &str,
        decimals: u32,
        _treasury: &AccountId,
        _supply: i64,
    ) -> Result<(), LedgerError> {
        tokens::ensure(&self.conn, id, decimals).await
    }

    async fn associate(&self, account: &AccountId, token: &TokenId) -> Result<(), LedgerError> {
        if *account != self.conn.operator {
            return Err(LedgerError::Unsupported {
                operation: format!("associating account `{account}` with token `{token}`"),
                reason: format!(
                    "the account must sign and this client holds only the key of operator `{}`: use \
                     `HederaLedger::associate_as` with the account's key",
                    self.conn.operator
                ),
            });
        }
        tokens::associate(&self.conn, account, None, token).await
    }

    async fn transfer(
        &self,
        tx: &TxId,
        token: &TokenId,
        moves: &[TokenMove],
        memo: &str,
    ) -> Result<Receipt, LedgerError> {
        tokens::transfer(&self.conn, tx, token, moves, memo).await
    }

    async fn receipt(&self, tx: &TxId) -> Result<Option<Receipt>, LedgerError> {
        tokens::receipt(&self.conn, tx).await
    }

    /// The mirror's record (the network's receipts are gone), or `TRANSACTION_EXPIRED` once the
    /// mirror's silence proves the transaction never executed; see the module's documentation.
    async fn settled_record(&self, tx: &TxId) -> Result<Option<Receipt>, LedgerError> {
        let operation = format!("settling transaction `{tx}` from the mirror");
        records::settled(self.rest(&operation)?, tx, self.mirror_lag, &self.stop).await
    }

    /// From the node on a custom network, from the mirror on public networks (whose nodes no
    /// longer report token balances).
    async fn token_balance(&self, account: &AccountId, token: &TokenId) -> Result<i64, LedgerError> {
        if self.conn.network.is_public() {
            return self.mirror_token_balance(account, token).await;
        }
        tokens::balance(&self.conn, account, token).await
    }

    async fn schedule(&self, op: &ScheduledOp, at: ConsensusTime, memo: &str) -> Result<ScheduleId, LedgerError> {
        schedules::create(&self.conn, op, at, memo).await
    }

    /// The wall clock minus the mirror's lag, never earlier than an earlier answer.
    async fn now(&self) -> Result<ConsensusTime, LedgerError> {
        let lag = i64::try_from(self.mirror_lag.as_nanos()).unwrap_or(i64::MAX);
        let horizon = wall_clock().0.saturating_sub(lag);
        let previous = self.last_now.fetch_max(horizon, Ordering::SeqCst);
        Ok(ConsensusTime(previous.max(horizon)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn devnet_config() -> HederaConfig {
        HederaConfig {
            network: Network::Custom {
                node: "127.0.0.1:1".into(),
                node_account: AccountId("0.0.3".into()),
                mirror: "127.0.0.1:2".into(),
                rest: None,
            },
            operator: AccountId("0.0.2".into()),
            operator_key: SigningKey::from_bytes(&[9; 32]),
            max_fee_tinybars: 100_000_000,
            mirror_lag: Duration::from_millis(300),
        }
    }

    #[test]
    fn connecting_needs_no_runtime_and_shows_no_key() {
        let ledger = HederaLedger::connect(devnet_config()).expect("a valid configuration");
        assert_eq!(ledger.operator(), &AccountId("0.0.2".into()));
        assert!(ledger.spent().is_empty());
        let shown = format!("{ledger:?}");
        assert!(!shown.contains(&hex::encode([9u8; 32])), "{shown}");
    }

    #[test]
    fn a_fee_that_is_not_positive_is_refused() {
        let config = HederaConfig {
            max_fee_tinybars: 0,
            ..devnet_config()
        };
        let error = HederaLedger::connect(config).expect_err("refused");
        assert!(error.to_string().starts_with("`HEDERA_MAX_FEE`"), "{error}");
    }

    #[tokio::test]
    async fn now_lags_the_wall_clock_and_never_goes_back() {
        let ledger = HederaLedger::connect(devnet_config()).expect("valid");
        let before = wall_clock();
        let first = ledger.now().await.expect("a time");
        assert!(
            first.0 >= before.0 - 300_000_000,
            "{first} lags {before} by more than 300 ms"
        );
        assert!(first < before, "{first} is not behind the wall clock {before}");
        let second = ledger.now().await.expect("a time");
        assert!(second >= first);
    }

    #[tokio::test]
    async fn a_network_without_a_mirror_rest_api_says_which_variable_to_set() {
        let ledger = HederaLedger::connect(devnet_config()).expect("valid");
        let tx: TxId = "0.0.2@1700000000.000000000".parse().expect("valid");
        let error = ledger.settled_record(&tx).await.expect_err("no REST API");
        assert!(error.to_string().contains("`HEDERA_MIRROR_REST`"), "{error}");
        assert!(error.to_string().contains("0.0.2@1700000000.000000000"), "{error}");
    }

    #[tokio::test]
    async fn associating_another_account_asks_for_its_key() {
        let ledger = HederaLedger::connect(devnet_config()).expect("valid");
        let error = ledger
            .associate(&AccountId("0.0.1001".into()), &TokenId("0.0.5005".into()))
            .await
            .expect_err("needs the account's key");
        assert!(error.to_string().contains("associate_as"), "{error}");
    }

    #[tokio::test]
    async fn transfers_paid_by_another_account_are_refused_before_sending() {
        let ledger = HederaLedger::connect(devnet_config()).expect("valid");
        let tx: TxId = "0.0.77@1700000000.000000000".parse().expect("valid");
        let error = ledger
            .transfer(&tx, &TokenId("0.0.5005".into()), &[], "memo")
            .await
            .expect_err("not the operator's");
        assert!(error.to_string().contains("`0.0.77`"), "{error}");
    }
}
