//! Topics as the network layer sees them: keys, running hashes, chunk information.
//!
//! The running hash chains every message submitted through the network layer. Its input is laid
//! out as Hedera's version 3 (previous hash, version, payer, topic, consensus seconds and nanos,
//! sequence number, SHA-384 of the message), without the Java serialisation framing, so it is
//! deterministic and chains, but is not byte for byte what a Hedera node computes.

use rusqlite::{Connection, OptionalExtension};
use sha2::{Digest, Sha384};

use super::super::Cached;
use super::{entity_numbers, key_column};
use crate::devnet::model::{Key32, NetMessage, NetTopic, RUNNING_HASH_VERSION};
use crate::ledger::local::{DbContext, topics as plain};
use crate::ledger::{AccountId, ConsensusTime, LedgerError, TopicId};

/// Length of a SHA-384 running hash.
const HASH_LEN: usize = 48;

/// Creates a topic with its keys. Call inside a write transaction.
pub(super) fn create(
    conn: &Connection,
    memo: &str,
    admin_key: Option<&Key32>,
    submit_key: Option<&Key32>,
) -> Result<TopicId, LedgerError> {
    let id = plain::create(conn, memo)?;
    conn.exec(
        "INSERT INTO net_topics (id, admin_key, submit_key, running_hash) VALUES (?1, ?2, ?3, ?4)",
        (
            &id.0,
            admin_key.map(|k| k.to_vec()),
            submit_key.map(|k| k.to_vec()),
            [0u8; HASH_LEN].to_vec(),
        ),
    )
    .during("creating a topic")?;
    Ok(id)
}

/// A message appended by [`submit`]: its sequence number, consensus time and running hash.
pub(super) struct Appended {
    pub(super) sequence: u64,
    pub(super) consensus: ConsensusTime,
    pub(super) running_hash: Vec<u8>,
}

/// Appends one message to an existing topic and chains its running hash. Call inside a write
/// transaction.
pub(super) fn submit(
    conn: &Connection,
    topic: &TopicId,
    payload: &[u8],
    chunk: Option<&[u8]>,
    payer: &AccountId,
) -> Result<Appended, LedgerError> {
    let previous = running_hash(conn, topic)?;
    let (sequence, consensus) = plain::append(conn, topic, payload)?;
    let hash = next_hash(&previous, payer, topic, consensus, sequence, payload);
    conn.exec(
        "INSERT INTO net_messages (topic, sequence, running_hash, chunk) VALUES (?1, ?2, ?3, ?4)",
        (&topic.0, i64::try_from(sequence).unwrap_or(i64::MAX), &hash, chunk),
    )
    .during("recording a message's running hash")?;
    conn.exec(
        "INSERT INTO net_topics (id, running_hash) VALUES (?1, ?2) \
         ON CONFLICT(id) DO UPDATE SET running_hash = excluded.running_hash",
        (&topic.0, &hash),
    )
    .during("updating a topic's running hash")?;
    Ok(Appended {
        sequence,
        consensus,
        running_hash: hash,
    })
}

/// The topic's current running hash: zeros before its first message through the network layer.
fn running_hash(conn: &Connection, topic: &TopicId) -> Result<Vec<u8>, LedgerError> {
    let stored: Option<Vec<u8>> = conn
        .row("SELECT running_hash FROM net_topics WHERE id = ?1", [&topic.0], |row| {
            row.get(0)
        })
        .optional()
        .during("reading a topic's running hash")?;
    Ok(stored.unwrap_or_else(|| vec![0; HASH_LEN]))
}

/// The running hash after a message (see the module's documentation).
fn next_hash(
    previous: &[u8],
    payer: &AccountId,
    topic: &TopicId,
    consensus: ConsensusTime,
    sequence: u64,
    payload: &[u8],
) -> Vec<u8> {
    let mut hasher = Sha384::new();
    hasher.update(previous);
    hasher.update(RUNNING_HASH_VERSION.to_be_bytes());
    for number in entity_numbers(&payer.0).into_iter().chain(entity_numbers(&topic.0)) {
        hasher.update(number.to_be_bytes());
    }
    hasher.update(consensus.0.div_euclid(1_000_000_000).to_be_bytes());
    hasher.update(
        i32::try_from(consensus.0.rem_euclid(1_000_000_000))
            .unwrap_or(0)
            .to_be_bytes(),
    );
    hasher.update(sequence.to_be_bytes());
    hasher.update(Sha384::digest(payload));
    hasher.finalize().to_vec()
}

/// A topic with its keys, running hash and last sequence number.
pub(super) fn topic(conn: &Connection, id: &TopicId) -> Result<Option<NetTopic>, LedgerError> {
    type Row = (String, Option<Vec<u8>>, Option<Vec<u8>>, Option<Vec<u8>>);
    let row: Option<Row> = conn
        .row(
            "SELECT t.memo, n.admin_key, n.submit_key, n.running_hash \
             FROM topics t LEFT JOIN net_topics n ON n.id = t.id WHERE t.id = ?1",
            [&id.0],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
        )
        .optional()
        .during("reading a topic")?;
    let Some((memo, admin, submit, hash)) = row else {
        return Ok(None);
    };
    Ok(Some(NetTopic {
        id: id.clone(),
        memo,
        admin_key: key_column(admin),
        submit_key: key_column(submit),
        running_hash: hash.unwrap_or_else(|| vec![0; HASH_LEN]),
        sequence: plain::last_sequence(conn, id)?.unwrap_or(0),
    }))
}

/// Messages of `topic` after sequence `after`, at or after `from`, oldest first, at most
/// `limit`. A message written through the `Ledger` trait has an empty running hash.
pub(super) fn messages(
    conn: &Connection,
    topic: &TopicId,
    after: u64,
    from: ConsensusTime,
    limit: usize,
) -> Result<Vec<NetMessage>, LedgerError> {
    let mut found = Vec::new();
    let mut after = after;
    while found.len() < limit {
        let page = plain::messages(conn, topic, after, limit)?;
        let Some(last) = page.last() else { break };
        after = last.sequence;
        let full = page.len() == limit;
        let wanted = limit - found.len();
        found.extend(page.into_iter().filter(|m| m.consensus >= from).take(wanted));
        if !full {
            break;
        }
    }
    if limit == 0 && !plain::exists(conn, topic)? {
        return Err(LedgerError::UnknownTopic(topic.clone()));
    }
    let mut statement = conn
        .prepare_cached("SELECT running_hash, chunk FROM net_messages WHERE topic = ?1 AND sequence = ?2")
        .during("reading messages")?;
    let mut out = Vec::with_capacity(found.len());
    for message in found {
        let sequence = i64::try_from(message.sequence).unwrap_or(i64::MAX);
        let (running_hash, chunk) = statement
            .query_row((&topic.0, sequence), |row| Ok((row.get(0)?, row.get(1)?)))
            .optional()
            .during("reading messages")?
            .unwrap_or_default();
        out.push(NetMessage {
            sequence: message.sequence,
            consensus: message.consensus,
            payload: message.payload.to_vec(),
            running_hash,
            chunk,
        });
    }
    Ok(out)
}
