//! The consensus node: accepting transactions (pre-check), putting them in consensus order,
//! executing them on the ledger, and resolving schedules.
//!
//! Every accepted transaction goes through one queue to one consensus task, so consensus order
//! is acceptance order. An accepted transaction is "pending" (its receipt is `UNKNOWN`) until
//! it has executed; with no consensus latency the node answers only after that, so a receipt
//! asked for right away is there.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hiero_sdk_proto::services::{self as pb, ResponseCodeEnum as Code};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::faults::{Dice, Drop, Faults};
use super::model::{NetOp, NetRecord, NetTxId, Step};
use super::ops::{self, Context, Reject};
use super::sign::{self, Opened};
use super::{fees, ids, schedule};
use crate::ledger::{AccountId, ConsensusTime, LedgerError, LocalLedger};

/// Shortest and longest validity a transaction may ask for, in seconds (Hedera's bounds).
const VALIDITY_SECONDS: std::ops::RangeInclusive<i64> = 15..=180;

/// How often the schedule clock looks for schedules whose expiration has come.
const SCHEDULE_TICK: Duration = Duration::from_millis(100);

/// Work for the consensus task.
pub(crate) enum Job {
    /// Execute `step` once `due` has come, then say so on `done`.
    Execute {
        step: Box<Step>,
        due: Instant,
        done: oneshot::Sender<()>,
    },
    /// Resolve the schedules that are due.
    Tick,
}

/// Where a transaction id stands, for receipt and record queries.
pub(crate) enum Lookup {
    Found(Box<NetRecord>),
    /// Accepted, not yet at consensus.
    Pending,
    NotFound,
}

/// The node's shared state.
pub(crate) struct Node {
    pub(crate) ledger: LocalLedger,
    /// The node's own account (0.0.3), paid the fees.
    pub(crate) account: AccountId,
    pub(crate) dice: Dice,
    pub(crate) cancel: CancellationToken,
    /// Keys of accepted transactions not yet executed.
    pending: Mutex<HashSet<String>>,
    jobs: mpsc::UnboundedSender<Job>,
}

impl Node {
    pub(crate) fn new(
        ledger: LocalLedger,
        account: AccountId,
        faults: Faults,
        cancel: CancellationToken,
    ) -> (Arc<Node>, mpsc::UnboundedReceiver<Job>) {
        let (jobs, receiver) = mpsc::unbounded_channel();
        let node = Node {
            ledger,
            account,
            dice: Dice::new(faults),
            cancel,
            pending: Mutex::new(HashSet::new()),
            jobs,
        };
        (Arc::new(node), receiver)
    }

    /// Handles a transaction submission on any route: faults, pre-check, then consensus.
    pub(crate) async fn submit(&self, tx: pb::Transaction) -> Result<pb::TransactionResponse, tonic::Status> {
        let dropped = self.dice.drop_submission();
        if dropped == Some(Drop::Before) {
            return Err(dropped_call());
        }
        if self.dice.busy() {
            return Ok(answer(Code::Busy, 0));
        }
        let answered = match self.ingest(&tx) {
            Ok(step) => {
                self.enqueue(step).await;
                answer(Code::Ok, 0)
            }
            Err(Reject::Code(code)) => answer(code, 0),
            Err(Reject::Fee(fee)) => answer(Code::InsufficientTxFee, u64::try_from(fee).unwrap_or(0)),
            Err(Reject::Ledger(e)) => return Err(tonic::Status::internal(e.to_string())),
        };
        if dropped == Some(Drop::After) {
            return Err(dropped_call());
        }
        Ok(answered)
    }

    /// Pre-checks a transaction as a Hedera node does before submitting it to consensus; on
    /// success it is registered as pending.
    fn ingest(&self, tx: &pb::Transaction) -> Result<Step, Reject> {
        let opened = sign::open(tx)?;
        let body = &opened.body;
        let now = self.ledger.network_now()?;
        let id = self.check_envelope(body, now)?;
        let data = body.data.as_ref().ok_or(Code::InvalidTransactionBody)?;
        let fee = fees::fee(data).ok_or(Code::NotSupported)?;
        let payer = self
            .ledger
            .network_account(&id.payer)?
            .ok_or(Code::PayerAccountNotFound)?;
        if self.is_pending(&id.key()) || self.ledger.network_seen(&id.key())? {
            return Err(Code::DuplicateTransaction.into());
        }
        if !sign::signed_by(&opened, &payer.key) {
            return Err(Code::InvalidSignature.into());
        }
        let cx = Context {
            ledger: &self.ledger,
            id: &id,
            opened: Some(&opened),
            now,
        };
        let prepared = ops::prepare(data, &cx)?;
        if body.transaction_fee < u64::try_from(fee).unwrap_or(u64::MAX) {
            return Err(Reject::Fee(fee));
        }
        if payer.tinybars < fee {
            return Err(Code::InsufficientPayerBalance.into());
        }
        let op = signed_op(&opened, prepared);
        self.register(&id.key())?;
        Ok(Step {
            node: self.account.clone(),
            fee,
            memo: body.memo.clone(),
            hash: opened.hash.clone(),
            op,
            schedule_ref: None,
            id,
        })
    }

    /// The transaction id, the node account, the validity window against the devnet's clock,
    /// and the memo; the transaction id when they are right.
    fn check_envelope(&self, body: &pb::TransactionBody, now: ConsensusTime) -> Result<NetTxId, Code> {
        let id = body
            .transaction_id
            .as_ref()
            .and_then(ids::tx_id)
            .ok_or(Code::InvalidTransactionId)?;
        if id.scheduled || id.nonce != 0 {
            return Err(Code::TransactionIdFieldNotAllowed);
        }
        if body.node_account_id.as_ref().and_then(ids::account).as_ref() != Some(&self.account) {
            return Err(Code::InvalidNodeAccount);
        }
        let seconds = body.transaction_valid_duration.as_ref().map_or(0, |d| d.seconds);
        if !VALIDITY_SECONDS.contains(&seconds) {
            return Err(Code::InvalidTransactionDuration);
        }
        if id.valid_start > now {
            return Err(Code::InvalidTransactionStart);
        }
        if id.valid_start.plus_secs(seconds.unsigned_abs()) <= now {
            return Err(Code::TransactionExpired);
        }
        if body.memo.len() > ops::MAX_MEMO_BYTES {
            return Err(Code::MemoTooLong);
        }
        Ok(id)
    }

    /// Marks an accepted transaction pending. A second one with the same id, or one whose id was
    /// executed since it was first looked up, is a duplicate.
    fn register(&self, key: &str) -> Result<(), Reject> {
        let inserted = self.pending.lock().map_err(|_| Code::Unknown)?.insert(key.to_owned());
        if !inserted {
            return Err(Code::DuplicateTransaction.into());
        }
        if self.ledger.network_seen(key)? {
            self.unregister(key);
            return Err(Code::DuplicateTransaction.into());
        }
        Ok(())
    }

    fn unregister(&self, key: &str) {
        if let Ok(mut pending) = self.pending.lock() {
            pending.remove(key);
        }
    }

    fn is_pending(&self, key: &str) -> bool {
        self.pending.lock().is_ok_and(|p| p.contains(key))
    }

    /// Queues a step for consensus; with no latency, waits until it has executed.
    async fn enqueue(&self, step: Step) {
        let latency = self.dice.faults().consensus_latency;
        let (done, executed) = oneshot::channel();
        let key = step.id.key();
        let job = Job::Execute {
            step: Box::new(step),
            due: Instant::now() + latency,
            done,
        };
        if self.jobs.send(job).is_err() {
            self.unregister(&key);
            return;
        }
        if latency.is_zero() {
            tokio::select! {
                _ = executed => {}
                () = self.cancel.cancelled() => {}
            }
        }
    }

    /// Executes a step at consensus, then any schedule it completed.
    fn consensus(&self, step: &Step) {
        if let Err(e) = self.ledger.network_execute(step) {
            tracing::error!(tx = %step.id.key(), error = %e, "a transaction could not be executed");
        }
        self.resolve_schedules();
        self.unregister(&step.id.key());
    }

    /// Executes the schedules whose signatures are complete (at their expiry if they wait for
    /// it) and expires those whose time ran out unsigned.
    pub(crate) fn resolve_schedules(&self) {
        if let Err(e) = self.try_resolve_schedules() {
            tracing::error!(error = %e, "schedules could not be resolved");
        }
    }

    fn try_resolve_schedules(&self) -> Result<(), LedgerError> {
        let now = self.ledger.network_now()?;
        for due in self.ledger.network_due_schedules(now)? {
            if due.satisfied() {
                let step = schedule::execution(self, &due, now)?;
                self.ledger.network_execute(&step)?;
            } else {
                self.ledger.network_expire_schedule(&due.id)?;
            }
        }
        Ok(())
    }

    /// Where a transaction id stands, as receipt and record queries see it. A record younger
    /// than the receipt delay fault is not found yet, and one older than the receipt lifetime
    /// fault no longer (the mirror keeps it).
    pub(crate) fn lookup(&self, id: &NetTxId) -> Result<Lookup, LedgerError> {
        let key = id.key();
        if let Some(record) = self.ledger.network_record(&key)? {
            let faults = self.dice.faults();
            let nanos = |d: std::time::Duration| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX);
            let age = wall_clock().saturating_sub(record.consensus.0);
            let forgotten = !faults.receipt_ttl.is_zero() && age >= nanos(faults.receipt_ttl);
            if age < nanos(faults.receipt_delay) || forgotten {
                return Ok(Lookup::NotFound);
            }
            return Ok(Lookup::Found(Box::new(record)));
        }
        Ok(if self.is_pending(&key) {
            Lookup::Pending
        } else {
            Lookup::NotFound
        })
    }
}

/// The operation to execute: refused with `INVALID_SIGNATURE` when a required key other than
/// the payer's has not signed (the payer still pays, as on Hedera).
fn signed_op(opened: &Opened, prepared: ops::Prepared) -> NetOp {
    if prepared.required.iter().all(|key| sign::signed_by(opened, key)) {
        prepared.op
    } else {
        NetOp::Refused(Code::InvalidSignature)
    }
}

fn answer(code: Code, cost: u64) -> pb::TransactionResponse {
    pb::TransactionResponse {
        node_transaction_precheck_code: code as i32,
        cost,
    }
}

/// What a dropped connection looks like to a gRPC client.
pub(crate) fn dropped_call() -> tonic::Status {
    tonic::Status::unavailable("connection dropped (devnet fault)")
}

/// Nanoseconds since the Unix epoch.
fn wall_clock() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// The consensus task: executes queued steps in order, each when it is due.
pub(crate) async fn run_consensus(node: Arc<Node>, mut jobs: mpsc::UnboundedReceiver<Job>) {
    loop {
        let job = tokio::select! {
            biased;
            () = node.cancel.cancelled() => return,
            job = jobs.recv() => match job {
                Some(job) => job,
                None => return,
            },
        };
        match job {
            Job::Execute { step, due, done } => {
                tokio::select! {
                    biased;
                    () = node.cancel.cancelled() => return,
                    () = tokio::time::sleep_until(due) => {}
                }
                node.consensus(&step);
                let _ = done.send(());
            }
            Job::Tick => node.resolve_schedules(),
        }
    }
}

/// The schedule clock: asks the consensus task to resolve schedules when one has expired (and
/// once at start, for schedules left complete by an earlier run).
pub(crate) async fn run_schedule_clock(node: Arc<Node>) {
    let _ = node.jobs.send(Job::Tick);
    loop {
        tokio::select! {
            biased;
            () = node.cancel.cancelled() => return,
            () = tokio::time::sleep(SCHEDULE_TICK) => {}
        }
        let due = match (node.ledger.network_next_expiry(), node.ledger.network_now()) {
            (Ok(Some(at)), Ok(now)) => at <= now,
            _ => false,
        };
        if due && node.jobs.send(Job::Tick).is_err() {
            return;
        }
    }
}
