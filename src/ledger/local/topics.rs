//! Topics and their messages.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension};

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

/// The sequence number of `topic`'s last message (0 when it has none); an unknown topic is an
/// error.
fn last_sequence(conn: &Connection, topic: &TopicId) -> Result<i64, LedgerError> {
    if !exists(conn, topic)? {
        return Err(LedgerError::UnknownTopic(topic.clone()));
    }
    conn.row(
        "SELECT COALESCE(MAX(sequence), 0) FROM messages WHERE topic = ?1",
        [&topic.0],
        |row| row.get(0),
    )
    .during("numbering a message")
}

/// Appends a message to `topic`: the next sequence number and consensus time. Call inside a
/// write transaction.
pub(super) fn append(conn: &Connection, topic: &TopicId, payload: &[u8]) -> Result<(u64, ConsensusTime), LedgerError> {
    let sequence = last_sequence(conn, topic)?.saturating_add(1);
    let consensus = next_consensus(conn)?;
    conn.exec(
        "INSERT INTO messages (topic, sequence, consensus, payload) VALUES (?1, ?2, ?3, ?4)",
        (&topic.0, sequence, consensus.0, payload),
    )
    .during("appending a message")?;
    Ok((sequence_number(sequence), consensus))
}

/// Messages of `topic` with a sequence number above `after`, oldest first, at most `limit`.
/// `UnknownTopic` if there are none because the topic does not exist.
pub(super) fn messages(
    conn: &Connection,
    topic: &TopicId,
    after: u64,
    limit: usize,
) -> Result<Vec<TopicMessage>, LedgerError> {
    let after = i64::try_from(after).unwrap_or(i64::MAX);
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut statement = conn
        .prepare_cached(
            "SELECT sequence, consensus, payload FROM messages WHERE topic = ?1 AND sequence > ?2 \
             ORDER BY sequence LIMIT ?3",
        )
        .during("reading messages")?;
    let rows = statement
        .query_map((&topic.0, after, limit), |row| {
            Ok(TopicMessage {
                topic: topic.clone(),
                sequence: sequence_number(row.get(0)?),
                consensus: ConsensusTime(row.get(1)?),
                payload: row.get::<_, Vec<u8>>(2)?.into(),
            })
        })
        .during("reading messages")?;
    let found = rows.collect::<rusqlite::Result<Vec<_>>>().during("reading messages")?;
    if found.is_empty() && !exists(conn, topic)? {
        return Err(LedgerError::UnknownTopic(topic.clone()));
    }
    Ok(found)
}

/// Sequence numbers are stored as SQLite integers and are always at least 1.
fn sequence_number(stored: i64) -> u64 {
    u64::try_from(stored).unwrap_or_default()
}

/// Appends messages in the order given, each with the sequence number and consensus time
/// [`append`] would give it, with statements prepared once. Call inside a write transaction.
pub(super) fn append_many(
    conn: &Connection,
    messages: &[(&TopicId, &Payload)],
) -> Result<Vec<(u64, ConsensusTime)>, LedgerError> {
    let mut last_sequence: HashMap<&TopicId, i64> = HashMap::new();
    for &(topic, _) in messages {
        if last_sequence.contains_key(topic) {
            continue;
        }
        last_sequence.insert(topic, self::last_sequence(conn, topic)?);
    }
    let mut consensus = meta(conn, META_LAST_CONSENSUS)?;
    let mut insert = conn
        .prepare_cached("INSERT INTO messages (topic, sequence, consensus, payload) VALUES (?1, ?2, ?3, ?4)")
        .during("appending a message")?;
    let mut out = Vec::with_capacity(messages.len());
    for &(topic, payload) in messages {
        let sequence = last_sequence.get_mut(topic).map_or(1, |s| {
            *s = s.saturating_add(1);
            *s
        });
        consensus = wall_clock().max(consensus.saturating_add(1));
        insert
            .execute((&topic.0, sequence, consensus, &**payload))
            .during("appending a message")?;
        out.push((sequence_number(sequence), ConsensusTime(consensus)));
    }
    set_meta(conn, META_LAST_CONSENSUS, consensus)?;
    Ok(out)
}
