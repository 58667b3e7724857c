//! Topics: creating them, submitting messages (chunked above 1024 bytes) and reading them back
//! through the mirror feeds.

use hiero_sdk::{Status as Code, TopicCreateTransaction, TopicMessageSubmitTransaction};
use tokio_util::sync::CancellationToken;

use super::client::retry::Backoff;
use super::client::{Connection, Executed, guarded};
use super::feed::{Feeds, wall_clock};
use super::ids;
use super::status::{is_transient, ledger_error, precheck, refused};
use crate::ledger::{ConsensusTime, LedgerError, TopicId, TopicMessage};

/// The largest chunk of a topic message, in bytes.
pub(crate) const CHUNK_BYTES: usize = 1024;
/// The most chunks the SDK splits a message into.
const MAX_CHUNKS: usize = 20;

/// Creates a topic with no admin or submit key (anyone may submit; messages authenticate
/// themselves with signatures) and returns its id.
pub(crate) async fn create(conn: &Connection, memo: &str) -> Result<TopicId, LedgerError> {
    let operation = format!("creating a topic with memo `{memo}`");
    let mut tx = TopicCreateTransaction::new();
    tx.topic_memo(memo);
    let executed = conn.execute_fresh("create_topic", &operation, tx.into()).await?;
    let receipt = succeeded(&operation, executed)?.receipt;
    receipt
        .topic_id
        .map(|id| ids::from_topic(&id))
        .ok_or_else(|| missing(&operation, "topic id"))
}

/// Submits `payload` to `topic`; returns the sequence number and consensus time of its last
/// chunk (the point where the mirror delivers it whole), from the records.
pub(crate) async fn submit(
    conn: &Connection,
    topic: &TopicId,
    payload: &[u8],
) -> Result<(u64, ConsensusTime), LedgerError> {
    let operation = format!("submitting a message to topic `{topic}`");
    if payload.len() > CHUNK_BYTES * MAX_CHUNKS {
        return Err(LedgerError::Unsupported {
            operation,
            reason: format!(
                "the message is {} bytes; a topic message is at most {MAX_CHUNKS} chunks of {CHUNK_BYTES} bytes",
                payload.len()
            ),
        });
    }
    let sdk_topic = ids::topic(topic)?;
    let mut tx = TopicMessageSubmitTransaction::new();
    tx.topic_id(sdk_topic).message(payload.to_vec());
    let chunks = if payload.len() <= CHUNK_BYTES {
        vec![conn.execute_fresh("submit", &operation, tx.into()).await]
    } else {
        submit_chunks(conn, &operation, tx)
            .await
            .map_err(|e| unknown_topic(e, topic))?
    };
    let mut last = (0, ConsensusTime(i64::MIN));
    for chunk in chunks {
        let executed = chunk
            .and_then(|e| succeeded(&operation, e))
            .map_err(|e| unknown_topic(e, topic))?;
        let consensus = executed.consensus.unwrap_or_else(|| {
            tracing::warn!(%topic, transaction = %executed.id, "no record: the message's consensus time is the wall clock's");
            wall_clock()
        });
        last = last.max((executed.receipt.topic_sequence_number, consensus));
    }
    Ok(last)
}

/// Submits a message of several chunks. Only the first chunk's id can be chosen, and the SDK
/// stops at the first chunk that fails, so a retry after a failure midway (including a chunk the
/// SDK sent twice and the network called `DUPLICATE_TRANSACTION`) submits the whole message again
/// under fresh ids: the topic may then hold it twice (readers drop a repeated message id) or
/// hold an incomplete copy the mirror never delivers.
async fn submit_chunks(
    conn: &Connection,
    operation: &str,
    tx: TopicMessageSubmitTransaction,
) -> Result<Vec<Result<Executed, LedgerError>>, LedgerError> {
    let mut backoff = Backoff::operation();
    let responses = loop {
        // A copy of the unfrozen transaction each time: every attempt gets fresh ids.
        let error = match guarded(tx.clone().execute_all(conn.client())).await {
            Ok(responses) => break responses,
            Err(error) => error,
        };
        let again = is_transient(&error) || precheck(&error) == Some(Code::DuplicateTransaction);
        if !again || !backoff.pause(conn.stop()).await {
            return Err(ledger_error(operation, &error));
        }
        tracing::warn!(operation, %error, "submitting the chunks again");
    };
    let mut executed = Vec::with_capacity(responses.len());
    for response in responses {
        executed.push(conn.settle("submit", operation, response.transaction_id).await);
    }
    Ok(executed)
}

/// Messages of `topic` above sequence number `after`, at most `limit`, once the mirror has
/// delivered the topic's history.
pub(crate) async fn messages(
    feeds: &Feeds,
    topic: &TopicId,
    after: u64,
    limit: usize,
) -> Result<Vec<TopicMessage>, LedgerError> {
    let feed = feeds.get(topic)?;
    feed.history(topic).await?;
    Ok(feed.after(after, limit).unwrap_or_default())
}

/// Like [`messages`], but waits for at least one (or `cancel`, then none).
pub(crate) async fn wait_messages(
    feeds: &Feeds,
    topic: &TopicId,
    after: u64,
    limit: usize,
    cancel: &CancellationToken,
) -> Result<Vec<TopicMessage>, LedgerError> {
    let feed = feeds.get(topic)?;
    loop {
        let changed = feed.changed();
        tokio::pin!(changed);
        changed.as_mut().enable();
        if let Some(found) = feed.after(after, limit).filter(|f| !f.is_empty()) {
            return Ok(found);
        }
        tokio::select! {
            biased;
            () = cancel.cancelled() => return Ok(Vec::new()),
            () = &mut changed => {}
        }
    }
}

/// The executed transaction if it succeeded; a refusal with its status otherwise.
pub(crate) fn succeeded(operation: &str, executed: Executed) -> Result<Executed, LedgerError> {
    if executed.receipt.status == Code::Success {
        Ok(executed)
    } else {
        Err(refused(operation, executed.receipt.status))
    }
}

/// A receipt that lacks what its transaction creates.
pub(crate) fn missing(operation: &str, what: &str) -> LedgerError {
    LedgerError::Network {
        operation: operation.to_owned(),
        reason: format!("the receipt carries no {what}"),
    }
}

/// `INVALID_TOPIC_ID` as the ledger's unknown topic.
pub(crate) fn unknown_topic(error: LedgerError, topic: &TopicId) -> LedgerError {
    match error {
        LedgerError::Refused { status, .. } if status == Code::InvalidTopicId.as_str_name() => {
            LedgerError::UnknownTopic(topic.clone())
        }
        other => other,
    }
}
