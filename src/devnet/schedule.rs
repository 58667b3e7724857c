//! `proto.ScheduleService`, and schedules: creating them with the signatures that came with the
//! creation, adding signatures (`ScheduleSign`, which the SDK sends on the `deleteSchedule`
//! route; every route dispatches on the body), and executing them once complete, or at their
//! expiration time when they wait for it.
//!
//! The inner transaction may be a transfer, a topic message, an account, a topic or a token
//! association. Its payer is the schedule's payer (the creator's payer unless named); the keys it
//! needs are fixed when the schedule is created (accounts' keys do not change on the devnet).

use hiero_sdk_proto::services::schedulable_transaction_body::Data as Inner;
use hiero_sdk_proto::services::transaction_body::Data;
use hiero_sdk_proto::services::{self as pb, ResponseCodeEnum as Code};
use prost::Message;
use sha2::{Digest, Sha256};

use super::model::{Key32, NetOp, NetSchedule, NetTxId, NewSchedule, Step};
use super::node::Node;
use super::ops::{self, Context, Prepared, Reject};
use super::{fees, ids, sign};
use crate::ledger::{AccountId, ConsensusTime, LedgerError};

/// Expiration of a schedule that names none: 30 minutes after creation (Hedera's default).
const DEFAULT_LIFETIME_SECS: u64 = 30 * 60;

/// The furthest a schedule may expire: 62 days after creation (Hedera's long-term limit).
const MAX_LIFETIME_SECS: u64 = 62 * 24 * 60 * 60;

/// The kinds of transaction a schedule may hold, as a transaction body's data.
fn inner_data(inner: Inner) -> Option<Data> {
    Some(match inner {
        Inner::CryptoTransfer(body) => Data::CryptoTransfer(body),
        Inner::ConsensusSubmitMessage(body) => Data::ConsensusSubmitMessage(body),
        Inner::CryptoCreateAccount(body) => Data::CryptoCreateAccount(body),
        Inner::ConsensusCreateTopic(body) => Data::ConsensusCreateTopic(body),
        Inner::TokenAssociate(body) => Data::TokenAssociate(body),
        _ => return None,
    })
}

/// Prepares a `ScheduleCreate`: the inner transaction's keys (its payer's included), those that
/// signed the creation, the expiration, and the fingerprint that finds an identical schedule.
/// What is wrong with the inner transaction refuses the creation at consensus.
pub(crate) fn prepare_create(body: &pb::ScheduleCreateTransactionBody, cx: &Context<'_>) -> Result<Prepared, Reject> {
    if body.memo.len() > ops::MAX_MEMO_BYTES {
        return Err(Code::MemoTooLong.into());
    }
    let inner = body
        .scheduled_transaction_body
        .as_ref()
        .ok_or(Code::InvalidTransaction)?;
    let admin_key = sign::optional_key32(body.admin_key.as_ref())?;
    match new_schedule(body, inner, cx) {
        Ok(mut schedule) => {
            schedule.admin_key = admin_key;
            Ok(Prepared {
                op: NetOp::CreateSchedule(schedule),
                required: admin_key.into_iter().collect(),
            })
        }
        Err(Reject::Code(code)) => Ok(Prepared::refused(code)),
        Err(other) => Err(other),
    }
}

/// The schedule a creation stores (without its admin key); a status refuses it.
fn new_schedule(
    body: &pb::ScheduleCreateTransactionBody,
    inner: &pb::SchedulableTransactionBody,
    cx: &Context<'_>,
) -> Result<NewSchedule, Reject> {
    let data = inner
        .data
        .clone()
        .and_then(inner_data)
        .ok_or(Code::ScheduledTransactionNotInWhitelist)?;
    let payer = match &body.payer_account_id {
        Some(id) => ids::account(id).ok_or(Code::InvalidSchedulePayerId)?,
        None => cx.id.payer.clone(),
    };
    let expiration = expiration(body, cx.now)?;
    let scheduled = NetTxId {
        scheduled: true,
        ..cx.id.clone()
    };
    let required = inner_keys(&data, &payer, &scheduled, cx)?;
    let signatories = cx.opened.map(|o| sign::signatories(o, &required)).unwrap_or_default();
    Ok(NewSchedule {
        fingerprint: fingerprint(body, &payer.0),
        body: inner.encode_to_vec(),
        payer,
        scheduled,
        memo: body.memo.clone(),
        admin_key: None,
        expiration,
        wait_for_expiry: body.wait_for_expiry,
        required,
        signatories,
    })
}

/// The expiration asked for, or the default; no further than Hedera allows.
fn expiration(body: &pb::ScheduleCreateTransactionBody, now: ConsensusTime) -> Result<ConsensusTime, Reject> {
    let expiration = match &body.expiration_time {
        Some(at) => ids::time(at).ok_or(Code::InvalidExpirationTime)?,
        None => now.plus_secs(DEFAULT_LIFETIME_SECS),
    };
    if expiration > now.plus_secs(MAX_LIFETIME_SECS) {
        return Err(Code::ScheduleExpirationTimeTooFarInFuture.into());
    }
    Ok(expiration)
}

/// The keys the inner transaction needs: its payer's, then those of its body. An inner
/// transaction that names unknown entities has signers that cannot be resolved.
fn inner_keys(data: &Data, payer: &AccountId, scheduled: &NetTxId, cx: &Context<'_>) -> Result<Vec<Key32>, Reject> {
    let payer_key = cx
        .ledger
        .network_account(payer)?
        .ok_or(Code::InvalidSchedulePayerId)?
        .key;
    let inner_cx = Context {
        ledger: cx.ledger,
        id: scheduled,
        opened: None,
        now: cx.now,
    };
    let prepared = ops::prepare(data, &inner_cx)?;
    if matches!(prepared.op, NetOp::Refused(_)) {
        return Err(Code::UnresolvableRequiredSigners.into());
    }
    let mut required = vec![payer_key];
    required.extend(prepared.required);
    Ok(required)
}

/// Identical schedules have the same body as submitted (inner transaction, memo, admin key,
/// expiration, waiting) and the same payer.
fn fingerprint(body: &pb::ScheduleCreateTransactionBody, payer: &str) -> Vec<u8> {
    let mut hasher = Sha256::new();
    hasher.update(body.encode_to_vec());
    hasher.update(payer.as_bytes());
    hasher.finalize().to_vec()
}

/// Prepares a `ScheduleSign`: the schedule's required keys that signed this transaction.
pub(crate) fn prepare_sign(body: &pb::ScheduleSignTransactionBody, cx: &Context<'_>) -> Result<Prepared, Reject> {
    let id = body
        .schedule_id
        .as_ref()
        .and_then(ids::schedule)
        .ok_or(Code::InvalidScheduleId)?;
    let signatories = match (cx.ledger.network_schedule(&id)?, cx.opened) {
        (Some(schedule), Some(opened)) => sign::signatories(opened, &schedule.required),
        _ => Vec::new(),
    };
    Ok(Prepared {
        op: NetOp::SignSchedule {
            schedule: id,
            signatories,
        },
        required: Vec::new(),
    })
}

/// The step that executes a complete schedule: its inner transaction under the scheduled
/// transaction id, paid by the schedule's payer at the inner kind's fee.
pub(crate) fn execution(node: &Node, schedule: &NetSchedule, now: ConsensusTime) -> Result<Step, LedgerError> {
    let inner = pb::SchedulableTransactionBody::decode(schedule.body.as_slice()).unwrap_or_default();
    let data = inner.data.and_then(inner_data);
    let fee = data.as_ref().and_then(fees::fee).unwrap_or(0);
    let op = match &data {
        None => NetOp::Refused(Code::ScheduledTransactionNotInWhitelist),
        Some(_) if inner.transaction_fee < u64::try_from(fee).unwrap_or(u64::MAX) => {
            NetOp::Refused(Code::InsufficientTxFee)
        }
        Some(data) => {
            let cx = Context {
                ledger: &node.ledger,
                id: &schedule.scheduled,
                opened: None,
                now,
            };
            match ops::prepare(data, &cx) {
                Ok(prepared) => prepared.op,
                Err(Reject::Code(code)) => NetOp::Refused(code),
                Err(Reject::Fee(_)) => NetOp::Refused(Code::InsufficientTxFee),
                Err(Reject::Ledger(e)) => return Err(e),
            }
        }
    };
    Ok(Step {
        id: schedule.scheduled.clone(),
        node: node.account.clone(),
        fee,
        memo: inner.memo,
        hash: Vec::new(),
        op,
        schedule_ref: Some(schedule.id.clone()),
    })
}
