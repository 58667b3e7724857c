//! The ledger: what the executor needs from Hedera, as a trait, and its backends.
//!
//! Topics with consensus order, sequence numbers and timestamps; accounts; one fungible token with
//! associations and balances; atomic transfers of up to ten token movements; scheduled
//! transactions; transaction ids with de-duplication and receipts. The `local` backend keeps all
//! of it in an embedded database under a state directory. The ledger knows nothing of festivals,
//! tasks or the engine.

#[cfg(feature = "hedera")]
pub mod hedera;
mod local;
mod payload;
mod types;

pub use local::LocalLedger;
pub use payload::Payload;
pub use types::{
    AccountId, ConsensusTime, LedgerError, MAX_TOKEN_MOVES, Receipt, ScheduleId, ScheduledOp, Status, TokenId,
    TokenMove, TokenTransfer, TopicId, TopicMessage, TxId,
};

use std::future::Future;

use tokio_util::sync::CancellationToken;

/// A ledger backend. Every method is one operation on the ledger; none of them retries on its own
/// except where it says so.
pub trait Ledger: Send + Sync {
    /// Creates a topic and returns its id.
    fn create_topic(&self, memo: &str) -> impl Future<Output = Result<TopicId, LedgerError>> + Send;

    /// Appends a message to a topic; returns its sequence number (from 1) and consensus time.
    fn submit(
        &self,
        topic: &TopicId,
        payload: &[u8],
    ) -> impl Future<Output = Result<(u64, ConsensusTime), LedgerError>> + Send;

    /// Appends messages to a topic in the order given, as [`Ledger::submit`] one after the other
    /// would; a backend that can write them at once (one transaction) does. On an error, the
    /// messages before the failing one may be on the topic and the rest are not.
    fn submit_all(
        &self,
        topic: &TopicId,
        payloads: &[Payload],
    ) -> impl Future<Output = Result<(), LedgerError>> + Send {
        async move {
            for payload in payloads {
                self.submit(topic, payload).await?;
            }
            Ok(())
        }
    }

    /// Whether a sender may sign the messages it submits together under one signature over their
    /// batch (`wire::sign_all`: each message then carries its place and path, 64 hex characters
    /// a level). Worth it where signing costs more than bytes; on Hedera every 1,024 bytes of a
    /// message is a transaction of its own, so there each message is signed alone and stays in
    /// one chunk.
    fn batch_signatures(&self) -> bool {
        false
    }

    /// Messages of `topic` with a sequence number above `after`, oldest first, at most `limit`.
    /// Returns at once, possibly with none.
    fn messages(
        &self,
        topic: &TopicId,
        after: u64,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<TopicMessage>, LedgerError>> + Send;

    /// Like `messages`, but waits until there is at least one or `cancel` fires (then returns an
    /// empty list). Due scheduled transactions are executed while waiting.
    fn wait_messages(
        &self,
        topic: &TopicId,
        after: u64,
        limit: usize,
        cancel: &CancellationToken,
    ) -> impl Future<Output = Result<Vec<TopicMessage>, LedgerError>> + Send;

    /// Creates an account with the given id (if it does not exist yet) holding `public_key`
    /// (ed25519, 32 bytes). Idempotent: an existing account keeps its key and balance.
    fn ensure_account(
        &self,
        account: &AccountId,
        public_key: &[u8; 32],
    ) -> impl Future<Output = Result<(), LedgerError>> + Send;

    /// The ed25519 public key of an account, if the account exists.
    fn account_key(&self, account: &AccountId) -> impl Future<Output = Result<Option<[u8; 32]>, LedgerError>> + Send;

    /// Creates the token `id` (if it does not exist yet) with `supply` minor units held by
    /// `treasury`, which is associated with it. Idempotent.
    fn ensure_token(
        &self,
        id: &TokenId,
        symbol: &str,
        decimals: u32,
        treasury: &AccountId,
        supply: i64,
    ) -> impl Future<Output = Result<(), LedgerError>> + Send;

    /// Associates an account with a token. Associating twice is not an error.
    fn associate(&self, account: &AccountId, token: &TokenId) -> impl Future<Output = Result<(), LedgerError>> + Send;

    /// Executes an atomic token transfer under transaction id `tx`. The movements must sum to zero
    /// and number at most [`MAX_TOKEN_MOVES`]. Returns the receipt whatever its status (a transfer
    /// the ledger refuses, say for an unassociated account, still consumes its id and moves
    /// nothing). A transaction id already seen is not executed again: the answer is
    /// `Err(LedgerError::Duplicate)` and the first receipt stays the truth.
    fn transfer(
        &self,
        tx: &TxId,
        token: &TokenId,
        moves: &[TokenMove],
        memo: &str,
    ) -> impl Future<Output = Result<Receipt, LedgerError>> + Send;

    /// Executes several transfers, each as [`Ledger::transfer`] would and in the order given:
    /// one answer per transfer, each atomic on its own. `Err` when none of them was executed (a
    /// failure of the ledger itself, not the refusal of one transfer). A ledger that can commit
    /// them together (the local one, in one database transaction) overrides it; the default
    /// submits them one after the other.
    fn transfer_all(
        &self,
        transfers: &[TokenTransfer],
    ) -> impl Future<Output = Result<Vec<Result<Receipt, LedgerError>>, LedgerError>> + Send {
        async move {
            let mut answers = Vec::with_capacity(transfers.len());
            for t in transfers {
                answers.push(self.transfer(&t.tx, &t.token, &t.moves, &t.memo).await);
            }
            Ok(answers)
        }
    }

    /// The receipt of a transaction id, if the ledger has seen it.
    fn receipt(&self, tx: &TxId) -> impl Future<Output = Result<Option<Receipt>, LedgerError>> + Send;

    /// The final outcome of a transaction whose receipt the ledger no longer keeps, for a caller
    /// that got `None` from [`Ledger::receipt`] and then `Duplicate` or `Expired` from submitting
    /// it again: the status and consensus time from a record kept for good (Hedera's mirror
    /// node), or [`Status::TransactionExpired`] once the transaction's validity window is so far
    /// past that it can never execute and no record of it exists. `None` when the ledger cannot
    /// tell yet. Never submits anything.
    ///
    /// The default answers `None`: a ledger that keeps every receipt for good (the local one)
    /// has nothing more to say than [`Ledger::receipt`].
    fn settled_record(&self, tx: &TxId) -> impl Future<Output = Result<Option<Receipt>, LedgerError>> + Send {
        let _ = tx;
        async { Ok(None) }
    }

    /// An account's balance of a token, in minor units.
    fn token_balance(
        &self,
        account: &AccountId,
        token: &TokenId,
    ) -> impl Future<Output = Result<i64, LedgerError>> + Send;

    /// Schedules `op` to execute at `at` (consensus time). An identical schedule (same memo and
    /// op) that has not executed yet is not created twice: its id is returned.
    fn schedule(
        &self,
        op: &ScheduledOp,
        at: ConsensusTime,
        memo: &str,
    ) -> impl Future<Output = Result<ScheduleId, LedgerError>> + Send;

    /// The ledger's consensus clock now.
    fn now(&self) -> impl Future<Output = Result<ConsensusTime, LedgerError>> + Send;

    /// [`Ledger::now`], and then [`Ledger::messages`] of each of `topics` above its sequence
    /// number: every message the answer leaves out of a topic reached it after the clock was
    /// read. A ledger that can read both at one look overrides it.
    fn now_and_messages(
        &self,
        topics: &[(&TopicId, u64)],
        limit: usize,
    ) -> impl Future<Output = Result<(ConsensusTime, Vec<Vec<TopicMessage>>), LedgerError>> + Send {
        async move {
            let now = self.now().await?;
            let mut all = Vec::with_capacity(topics.len());
            for (topic, after) in topics {
                all.push(self.messages(topic, *after, limit).await?);
            }
            Ok((now, all))
        }
    }
}
