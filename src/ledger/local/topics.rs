//! Topics and their messages.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension};

use super::log::{Appended, MessageLog};
use super::{Cached, DbContext, META_LAST_CONSENSUS, meta, next_consensus, next_entity, set_meta, wall_clock};
use crate::ledger::{ConsensusTime, LedgerError, Payload, TopicId, TopicMessage};

/// Creates a topic with a new id. Call inside a write transaction.
pub(super) fn create(conn: &Connection, memo: &str) -> Result<TopicId, LedgerError> {
    let id = TopicId(next_entity(conn)?);
    let created = next_consensus(conn)?;
    conn.exec(
        "INSERT INTO topics (id, memo, created) VALUES (?1, ?2, ?3)",
        (&id.0, memo, created.0),
    )
    .during("creating a topic")?;
    Ok(id)
}

pub(super) fn exists(conn: &Connection, topic: &TopicId) -> Result<bool, LedgerError> {
    let found = conn
        .row("SELECT 1 FROM topics WHERE id = ?1", [&topic.0], |_| Ok(()))
        .optional()
        .during("looking up a topic")?;
    Ok(found.is_some())
}

/// Appends a message to `topic`: the next sequence number and consensus time. Call inside a
/// write transaction.
pub(super) fn append(conn: &Connection, topic: &TopicId, payload: &[u8]) -> Result<(u64, ConsensusTime), LedgerError> {
    if !exists(conn, topic)? {
        return Err(LedgerError::UnknownTopic(topic.clone()));
    }
    let log = MessageLog::of(conn)?;
    let mut view = log.caught_up(conn)?;
    let sequence = view.last_sequence(topic) + 1;
    let consensus = next_consensus(conn)?;
    // Indexed by the next reader: this transaction may append again, or not commit.
    let _ = log.append(conn, &mut view, &[(topic, sequence, consensus, payload)])?;
    Ok((sequence, consensus))
}

/// Messages of `topic` with a sequence number above `after`, oldest first, at most `limit`.
/// `UnknownTopic` if there are none because the topic does not exist.
pub(super) fn messages(
    conn: &Connection,
    topic: &TopicId,
    after: u64,
    limit: usize,
) -> Result<Vec<TopicMessage>, LedgerError> {
    let log = MessageLog::of(conn)?;
    let found = log.read(&log.caught_up(conn)?, topic, after, limit)?;
    if found.is_empty() && !exists(conn, topic)? {
        return Err(LedgerError::UnknownTopic(topic.clone()));
    }
    Ok(found)
}

/// The sequence number of `topic`'s last message (0 when it has none), or `None` for a topic
/// that does not exist.
#[cfg(feature = "hedera")]
pub(super) fn last_sequence(conn: &Connection, topic: &TopicId) -> Result<Option<u64>, LedgerError> {
    if !exists(conn, topic)? {
        return Ok(None);
    }
    let log = MessageLog::of(conn)?;
    let last = log.caught_up(conn)?.last_sequence(topic);
    Ok(Some(last))
}

/// Appends messages in the order given, each with the sequence number and consensus time
/// [`append`] would give it. Call inside a write transaction; once it has committed, hand what
/// was appended to [`MessageLog::committed`].
pub(super) fn append_many(
    conn: &Connection,
    messages: &[(&TopicId, &Payload)],
) -> Result<(Vec<(u64, ConsensusTime)>, Appended), LedgerError> {
    let log = MessageLog::of(conn)?;
    let mut view = log.caught_up(conn)?;
    let mut last_sequence: HashMap<&TopicId, u64> = HashMap::new();
    for &(topic, _) in messages {
        if last_sequence.contains_key(topic) {
            continue;
        }
        // A topic with a message in the log exists: only one without is looked up.
        let last = view.last_sequence(topic);
        if last == 0 && !exists(conn, topic)? {
            return Err(LedgerError::UnknownTopic(topic.clone()));
        }
        last_sequence.insert(topic, last);
    }
    let mut consensus = meta(conn, META_LAST_CONSENSUS)?;
    let mut records = Vec::with_capacity(messages.len());
    for &(topic, payload) in messages {
        let sequence = last_sequence.get_mut(topic).map_or(1, |s| {
            *s += 1;
            *s
        });
        consensus = wall_clock().max(consensus.saturating_add(1));
        records.push((topic, sequence, ConsensusTime(consensus), &payload[..]));
    }
    let appended = log.append(conn, &mut view, &records)?;
    drop(view);
    set_meta(conn, META_LAST_CONSENSUS, consensus)?;
    Ok((records.into_iter().map(|(_, s, c, _)| (s, c)).collect(), appended))
}
