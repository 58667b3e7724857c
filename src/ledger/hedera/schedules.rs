//! Scheduled transactions: a topic message the network submits at a given time, and signing a
//! schedule with another key.

use hiero_sdk::{
    PrivateKey, ScheduleCreateTransaction, ScheduleSignTransaction, Status as Code, TopicMessageSubmitTransaction,
};

use super::client::Connection;
use super::ids;
use super::status::refused;
use super::topics::{CHUNK_BYTES, missing, unknown_topic};
use crate::ledger::{ConsensusTime, LedgerError, ScheduleId, ScheduledOp};
use crate::wire::SigningKey;

/// Schedules `op` to execute at `at`: a schedule that waits for its expiry, so the network runs
/// it then. An identical schedule (same message, memo and time) is not created twice: the
/// network answers `IDENTICAL_SCHEDULE_ALREADY_CREATED` with the existing id, which is returned.
pub(crate) async fn create(
    conn: &Connection,
    op: &ScheduledOp,
    at: ConsensusTime,
    memo: &str,
) -> Result<ScheduleId, LedgerError> {
    let ScheduledOp::Submit { topic, payload } = op;
    let operation = format!("scheduling a message to topic `{topic}` at {at}");
    if payload.len() > CHUNK_BYTES {
        return Err(LedgerError::Unsupported {
            operation,
            reason: format!(
                "the message is {} bytes; a scheduled message is one chunk of at most {CHUNK_BYTES}",
                payload.len()
            ),
        });
    }
    let mut inner = TopicMessageSubmitTransaction::new();
    inner.topic_id(ids::topic(topic)?).message(payload.clone());
    let mut tx = ScheduleCreateTransaction::new();
    tx.scheduled_transaction(inner)
        .expiration_time(ids::timestamp(at).into())
        .wait_for_expiry(true)
        .schedule_memo(memo);
    let executed = conn.execute_fresh("schedule", &operation, tx.into()).await;
    let receipt = executed.map_err(|e| unknown_topic(e, topic))?.receipt;
    match receipt.status {
        Code::Success | Code::IdenticalScheduleAlreadyCreated => receipt
            .schedule_id
            .map(|id| ids::from_schedule(&id))
            .ok_or_else(|| missing(&operation, "schedule id")),
        Code::InvalidTopicId => Err(LedgerError::UnknownTopic(topic.clone())),
        other => Err(refused(&operation, other)),
    }
}

/// Adds the signature of `key` to schedule `id` (for a scheduled transaction that needs more
/// signers than its creator). A signature it already has is not an error.
pub(crate) async fn sign(conn: &Connection, id: &ScheduleId, key: &SigningKey) -> Result<(), LedgerError> {
    let operation = format!("signing schedule `{id}`");
    let private = PrivateKey::from_bytes_ed25519(key.as_bytes())
        .map_err(|_| LedgerError::Other(format!("{operation}: the key is not an ed25519 key")))?;
    let mut tx = ScheduleSignTransaction::new();
    tx.schedule_id(ids::schedule(id)?).sign(private);
    let status = match conn.execute_fresh("schedule_sign", &operation, tx.into()).await {
        Ok(executed) => executed.receipt.status,
        Err(LedgerError::Refused { status, .. }) => Code::from_str_name(&status).unwrap_or(Code::Unknown),
        Err(other) => return Err(other),
    };
    match status {
        Code::Success | Code::NoNewValidSignatures => Ok(()),
        other => Err(refused(&operation, other)),
    }
}
