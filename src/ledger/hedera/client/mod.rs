//! One operator's SDK client: built without background tasks, executing transactions under
//! explicit ids with bounded retries, reading their records and adding up the fees paid.
//!
//! Every transaction gets its id before the first attempt (the engine's for a transfer, a fresh
//! one otherwise) and keeps it through every retry, so a retry after a timeout can never execute
//! twice: the network answers `DUPLICATE_TRANSACTION` and the record of the first execution is
//! read instead.

mod guard;
pub(crate) mod retry;

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use hiero_sdk::{
    AnyTransaction, Client, Hbar, PrivateKey, Status as Code, TransactionId, TransactionReceipt,
    TransactionReceiptQuery, TransactionRecordQuery,
};
use hiero_sdk_proto::services::Timestamp;
use tokio_util::sync::CancellationToken;

pub(crate) use self::guard::guarded;
use self::retry::Backoff;
use super::config::HederaConfig;
use super::ids;
use super::network::{Network, check_endpoint};
use super::status::{is_transient, last_attempt, ledger_error, precheck};
use crate::ledger::{AccountId, ConsensusTime, LedgerError};

/// How long the SDK may spend on one request, its own retries included.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The SDK client of one operator, with what it has paid.
pub(crate) struct Connection {
    client: Client,
    /// The paying account, as the ledger and as the SDK name it.
    pub(crate) operator: AccountId,
    operator_sdk: hiero_sdk::AccountId,
    pub(crate) network: Network,
    max_fee: Hbar,
    /// Tinybars of fees by kind of operation, from the records of executed transactions.
    spent: Mutex<BTreeMap<&'static str, i64>>,
    /// Cuts retry pauses short when the ledger is dropped.
    stop: CancellationToken,
}

/// An executed transaction: its receipt, and its consensus time when its record could be read.
#[derive(Debug)]
pub(crate) struct Executed {
    pub(crate) id: TransactionId,
    pub(crate) receipt: TransactionReceipt,
    pub(crate) consensus: Option<ConsensusTime>,
}

/// Why a transaction was not executed.
#[derive(Debug)]
pub(crate) enum Failed {
    /// Pre-check `DUPLICATE_TRANSACTION`: the id was submitted before (by this call's own earlier
    /// attempt or by someone else); its first execution is the truth.
    Duplicate(TransactionId),
    /// Another pre-check status: nothing was executed.
    Precheck(Code),
    /// The network kept failing, or the SDK refused the transaction.
    Ledger(LedgerError),
}

impl Connection {
    /// Builds the client for `config`: the network's nodes and mirror, the operator and the
    /// maximum fee. Starts no background task, so it works outside a tokio runtime.
    pub(crate) fn open(config: &HederaConfig, stop: CancellationToken) -> Result<Connection, LedgerError> {
        let mut nodes = HashMap::new();
        for (address, account) in config.network.nodes() {
            check_endpoint(&address).map_err(|reason| LedgerError::Config {
                variable: "HEDERA_NODE",
                reason,
            })?;
            nodes.insert(address, ids::account(&account)?);
        }
        let mirror = config.network.mirror();
        check_endpoint(&mirror).map_err(|reason| LedgerError::Config {
            variable: "HEDERA_MIRROR",
            reason,
        })?;
        if config.max_fee_tinybars <= 0 {
            return Err(LedgerError::Config {
                variable: "HEDERA_MAX_FEE",
                reason: format!("{} tinybars is not a positive fee", config.max_fee_tinybars),
            });
        }
        let client = Client::for_network(nodes).map_err(|e| LedgerError::Config {
            variable: "HEDERA_NODE",
            reason: e.to_string(),
        })?;
        client.set_mirror_network([mirror]);
        let key = PrivateKey::from_bytes_ed25519(config.operator_key.as_bytes()).map_err(|_| LedgerError::Config {
            variable: "OPERATOR_KEY",
            reason: "not an ed25519 private key".to_owned(),
        })?;
        let operator_sdk = ids::account(&config.operator)?;
        client.set_operator(operator_sdk, key);
        let max_fee = Hbar::from_tinybars(config.max_fee_tinybars);
        client.set_default_max_transaction_fee(max_fee);
        client.set_default_max_query_payment(max_fee);
        client.set_request_timeout(Some(REQUEST_TIMEOUT));
        Ok(Connection {
            client,
            operator: config.operator.clone(),
            operator_sdk,
            network: config.network.clone(),
            max_fee,
            spent: Mutex::new(BTreeMap::new()),
            stop,
        })
    }

    pub(crate) fn client(&self) -> &Client {
        &self.client
    }

    pub(crate) fn stop(&self) -> &CancellationToken {
        &self.stop
    }

    /// A new transaction id paid by the operator, its valid start a few seconds in the past (as
    /// the SDK makes them, to allow for clocks running ahead of the network's).
    pub(crate) fn fresh_id(&self) -> TransactionId {
        TransactionId::generate(self.operator_sdk)
    }

    /// Executes `tx` under its transaction id (a fresh one if it has none) with the maximum fee,
    /// retrying transient failures with that same id, then reads its record and charges its fee
    /// to `kind`. Any receipt status is returned; callers judge it.
    pub(crate) async fn execute(
        &self,
        kind: &'static str,
        operation: &str,
        mut tx: AnyTransaction,
    ) -> Result<Executed, Failed> {
        let id = tx.get_transaction_id().unwrap_or_else(|| self.fresh_id());
        tx.transaction_id(id).max_transaction_fee(self.max_fee);
        let mut backoff = Backoff::operation();
        loop {
            let error = match guarded(tx.execute(&self.client)).await {
                Ok(_) => return self.settle(kind, operation, id).await.map_err(Failed::Ledger),
                Err(error) => error,
            };
            match precheck(&error) {
                Some(Code::DuplicateTransaction) => return Err(Failed::Duplicate(id)),
                Some(code) if !is_transient(&error) => return Err(Failed::Precheck(code)),
                _ => {}
            }
            if !is_transient(&error) {
                return Err(Failed::Ledger(ledger_error(operation, &error)));
            }
            tracing::warn!(operation, transaction = %id, %error, "retrying with the same transaction id");
            if !backoff.pause(&self.stop).await {
                return Err(Failed::Ledger(ledger_error(operation, &error)));
            }
        }
    }

    /// Like [`Connection::execute`], for operations where an id already used can only be this
    /// call's own earlier attempt (a fresh id): a duplicate is settled from its record, and a
    /// pre-check refusal becomes an error naming `operation`.
    pub(crate) async fn execute_fresh(
        &self,
        kind: &'static str,
        operation: &str,
        tx: AnyTransaction,
    ) -> Result<Executed, LedgerError> {
        match self.execute(kind, operation, tx).await {
            Ok(executed) => Ok(executed),
            Err(Failed::Duplicate(id)) => self.settle(kind, operation, id).await,
            Err(Failed::Precheck(code)) => Err(super::status::refused(operation, code)),
            Err(Failed::Ledger(error)) => Err(error),
        }
    }

    /// The outcome of transaction `id`: its record (receipt, consensus time, and the fee, charged
    /// to `kind`), or only its receipt when the record cannot be read.
    pub(crate) async fn settle(
        &self,
        kind: &'static str,
        operation: &str,
        id: TransactionId,
    ) -> Result<Executed, LedgerError> {
        let record = self.record(id).await;
        match record {
            Ok(record) => {
                self.charge(kind, record.transaction_fee.to_tinybars());
                Ok(Executed {
                    id,
                    consensus: Some(ids::consensus(&Timestamp::from(record.consensus_timestamp))),
                    receipt: record.receipt,
                })
            }
            Err(error) => {
                tracing::warn!(operation, transaction = %id, %error, "no record: its fee is not counted");
                let receipt = self
                    .receipt(id)
                    .await
                    .map_err(|e| ledger_error(&format!("{operation}: reading the receipt of `{id}`"), &e))?;
                Ok(Executed {
                    id,
                    receipt,
                    consensus: None,
                })
            }
        }
    }

    /// The record of `id`, whatever its status.
    pub(crate) async fn record(&self, id: TransactionId) -> hiero_sdk::Result<hiero_sdk::TransactionRecord> {
        self.query(|| async move {
            let mut query = TransactionRecordQuery::new();
            query.transaction_id(id).validate_status(false);
            query.execute(&self.client).await
        })
        .await
    }

    /// The receipt of `id`, whatever its status.
    pub(crate) async fn receipt(&self, id: TransactionId) -> hiero_sdk::Result<TransactionReceipt> {
        self.receipt_within(id, REQUEST_TIMEOUT).await
    }

    /// The receipt of `id`, whatever its status, waiting at most about `wait` for the network to
    /// know the transaction (the SDK asks again while it answers `RECEIPT_NOT_FOUND`).
    pub(crate) async fn receipt_within(
        &self,
        id: TransactionId,
        wait: Duration,
    ) -> hiero_sdk::Result<TransactionReceipt> {
        self.query(|| async move {
            let mut query = TransactionReceiptQuery::new();
            query.transaction_id(id).validate_status(false);
            query.execute_with_timeout(&self.client, wait).await
        })
        .await
    }

    /// Runs a query, again after a pause while it fails transiently (bounded). A receipt or record
    /// the network still did not have when the SDK gave up (not found, or `UNKNOWN`: not at
    /// consensus yet, which the SDK reports as the pre-check status `OK`) is not asked for again.
    pub(crate) async fn query<T, F, Fut>(&self, mut attempt: F) -> hiero_sdk::Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = hiero_sdk::Result<T>>,
    {
        let mut backoff = Backoff::operation();
        loop {
            let error = match guarded(attempt()).await {
                Ok(answer) => return Ok(answer),
                Err(error) => error,
            };
            let not_found = matches!(
                precheck(last_attempt(&error)),
                Some(Code::ReceiptNotFound | Code::RecordNotFound | Code::Ok)
            );
            if not_found || !is_transient(&error) || !backoff.pause(&self.stop).await {
                return Err(error);
            }
            tracing::debug!(%error, "retrying a query");
        }
    }

    /// Adds a fee paid to an operation's total.
    fn charge(&self, kind: &'static str, tinybars: i64) {
        let mut spent = self.spent.lock().unwrap_or_else(PoisonError::into_inner);
        let total = spent.entry(kind).or_insert(0);
        *total = total.saturating_add(tinybars);
    }

    /// Tinybars of fees paid, by operation, in the operations' alphabetical order.
    pub(crate) fn spent(&self) -> Vec<(String, i64)> {
        let spent = self.spent.lock().unwrap_or_else(PoisonError::into_inner);
        spent.iter().map(|(kind, total)| ((*kind).to_owned(), *total)).collect()
    }
}
