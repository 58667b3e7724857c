//! A ledger that counts the transactions its client sends through the one it wraps: topic
//! messages (one transaction per chunk of 1024 bytes, as the SDK splits them), transfers,
//! schedule creations and topic creations, plus receipt queries. Only calls that succeeded are
//! counted; a retry inside the wrapped ledger keeps its transaction id, so it is one transaction.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use baton::ledger::{
    AccountId, ConsensusTime, Ledger, LedgerError, Receipt, ScheduleId, ScheduledOp, TokenId, TokenMove, TopicId,
    TopicMessage, TxId,
};
use tokio_util::sync::CancellationToken;

/// The largest chunk of a topic message the SDK sends in one transaction.
const CHUNK_BYTES: usize = 1024;

/// Transactions and queries counted, shared by every ledger of one party.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    /// Topic message transactions (chunks).
    pub(crate) message_chunks: AtomicU64,
    /// Topic messages, whatever their size.
    pub(crate) messages: AtomicU64,
    pub(crate) transfers: AtomicU64,
    pub(crate) schedules: AtomicU64,
    pub(crate) topics: AtomicU64,
    pub(crate) receipts: AtomicU64,
}

impl Tally {
    pub(crate) fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

/// `inner`, with every transaction it sends counted in `tally`.
pub(crate) struct Counted<L> {
    pub(crate) inner: L,
    pub(crate) tally: Arc<Tally>,
}

impl<L: Ledger> Ledger for Counted<L> {
    async fn create_topic(&self, memo: &str) -> Result<TopicId, LedgerError> {
        let topic = self.inner.create_topic(memo).await?;
        Tally::add(&self.tally.topics, 1);
        Ok(topic)
    }

    async fn submit(&self, topic: &TopicId, payload: &[u8]) -> Result<(u64, ConsensusTime), LedgerError> {
        let done = self.inner.submit(topic, payload).await?;
        let chunks = payload.len().div_ceil(CHUNK_BYTES).max(1);
        Tally::add(&self.tally.message_chunks, chunks as u64);
        Tally::add(&self.tally.messages, 1);
        Ok(done)
    }

    async fn messages(&self, topic: &TopicId, after: u64, limit: usize) -> Result<Vec<TopicMessage>, LedgerError> {
        self.inner.messages(topic, after, limit).await
    }

    async fn wait_messages(
        &self,
        topic: &TopicId,
        after: u64,
        limit: usize,
        cancel: &CancellationToken,
    ) -> Result<Vec<TopicMessage>, LedgerError> {
        self.inner.wait_messages(topic, after, limit, cancel).await
    }

    async fn ensure_account(&self, account: &AccountId, public_key: &[u8; 32]) -> Result<(), LedgerError> {
        self.inner.ensure_account(account, public_key).await
    }

    async fn account_key(&self, account: &AccountId) -> Result<Option<[u8; 32]>, LedgerError> {
        self.inner.account_key(account).await
    }

    async fn ensure_token(
        &self,
        id: &TokenId,
        symbol: &str,
        decimals: u32,
        treasury: &AccountId,
        supply: i64,
    ) -> Result<(), LedgerError> {
        self.inner.ensure_token(id, symbol, decimals, treasury, supply).await
    }

    async fn associate(&self, account: &AccountId, token: &TokenId) -> Result<(), LedgerError> {
        self.inner.associate(account, token).await
    }

    async fn transfer(
        &self,
        tx: &TxId,
        token: &TokenId,
        moves: &[TokenMove],
        memo: &str,
    ) -> Result<Receipt, LedgerError> {
        let receipt = self.inner.transfer(tx, token, moves, memo).await?;
        Tally::add(&self.tally.transfers, 1);
        Ok(receipt)
    }

    async fn receipt(&self, tx: &TxId) -> Result<Option<Receipt>, LedgerError> {
        Tally::add(&self.tally.receipts, 1);
        self.inner.receipt(tx).await
    }

    async fn token_balance(&self, account: &AccountId, token: &TokenId) -> Result<i64, LedgerError> {
        self.inner.token_balance(account, token).await
    }

    async fn schedule(&self, op: &ScheduledOp, at: ConsensusTime, memo: &str) -> Result<ScheduleId, LedgerError> {
        let id = self.inner.schedule(op, at, memo).await?;
        Tally::add(&self.tally.schedules, 1);
        Ok(id)
    }

    async fn now(&self) -> Result<ConsensusTime, LedgerError> {
        self.inner.now().await
    }
}
