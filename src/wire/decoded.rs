//! Messages this process decoded lately, in a process that holds several replicas of the log
//! ([`share`]: the coordinator beside simulated agents, each with its own replica). They read
//! the same bytes within moments of each other; parsing them and checking them against the
//! schema again gives the same answer, so the answer is kept for a while: SHA-256 of the bytes to
//! the decoded message. Bounded as [`super::seen`] is: two generations of at most [`GENERATION`]
//! messages, the older forgotten when the newer fills up; a forgotten message is simply decoded
//! again. Only messages that decode are kept. Off unless asked for: a lone reader (a replay,
//! `baton status`) would pay for the copies and never read a message twice.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, Mutex, PoisonError};

use foldhash::fast::RandomState;

use super::body::Body;
use super::envelope::Envelope;

/// Messages per generation: a step's messages are read by every replica well before this many
/// more are written.
const GENERATION: usize = 4096;

type Key = [u8; 32];

/// A decoded message, shared between the memo and the replicas that read it: no reader copies
/// the report it carries.
pub(super) type Message = Arc<(Envelope, Body)>;

/// Digests to what their bytes decode to, hashed with a seeded fast hasher (SipHash cost more
/// than the lookups around it).
type Generation = HashMap<Key, Message, RandomState>;

#[derive(Default)]
struct Decoded {
    current: Generation,
    previous: Generation,
}

static DECODED: LazyLock<Mutex<Decoded>> = LazyLock::new(|| Mutex::new(Decoded::default()));

static SHARED: AtomicBool = AtomicBool::new(false);

/// Keeps what this process decodes from now on, for the other replicas of the log in it.
pub fn share() {
    SHARED.store(true, Ordering::Relaxed);
}

/// Whether this process keeps what it decodes.
pub(crate) fn shared() -> bool {
    SHARED.load(Ordering::Relaxed)
}

/// The message decoded from bytes with this key, if this process decoded it lately.
pub(crate) fn get(key: &Key) -> Option<Message> {
    let decoded = DECODED.lock().unwrap_or_else(PoisonError::into_inner);
    decoded.current.get(key).or_else(|| decoded.previous.get(key)).cloned()
}

/// Keeps a message decoded from bytes with this key.
pub(crate) fn keep(key: Key, message: &Message) {
    let forgotten = {
        let mut decoded = DECODED.lock().unwrap_or_else(PoisonError::into_inner);
        let full = decoded.current.len() >= GENERATION;
        let forgotten = full.then(|| {
            let current = std::mem::replace(
                &mut decoded.current,
                Generation::with_capacity_and_hasher(GENERATION, RandomState::default()),
            );
            std::mem::replace(&mut decoded.previous, current)
        });
        decoded.current.insert(key, message.clone());
        forgotten
    };
    // The older generation's messages are freed after the lock, not while the replicas wait,
    // and on a thread of their own: freeing thousands of decoded reports is work that the
    // sender, often the coordinator in the middle of a step, need not wait for.
    if let Some(forgotten) = forgotten {
        let freeing = std::thread::Builder::new().name("baton-free".into());
        if let Err(e) = freeing.spawn(move || drop(forgotten)) {
            tracing::debug!("freeing decoded messages here: {e}");
        }
    }
}

/// Keeps a message this process sends, made of `body`, under the digest of its bytes
/// ([`super::digest`]), as its readers here would decode it ([`super::fast::as_read`]) when that
/// can be told without reading the bytes; else they decode the bytes when they read them.
pub(crate) fn keep_sent(digest: Key, envelope: Envelope, body: Body) {
    if let Some(body) = super::fast::as_read(&envelope, body) {
        keep(digest, &Arc::new((envelope, body)));
    }
}

/// Forgets every message decoded so far, as a fresh process starts.
pub(crate) fn forget() {
    *DECODED.lock().unwrap_or_else(PoisonError::into_inner) = Decoded::default();
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;

    use crate::wire::{Body, Envelope, Heartbeat, WireError, decode, encode};

    #[test]
    fn bytes_decoded_again_give_the_same_message_and_other_bytes_their_own() {
        super::share();
        let body = Body::Heartbeat(Heartbeat {
            agent_id: "agent-a".into(),
        });
        let envelope = Envelope::new(body.kind(), "fest-1", "agent-a", 1, &body);
        let mut signed = envelope.clone();
        signed.signature = Some("ab".repeat(64));
        let bytes = encode(&signed);
        let first = decode(&bytes).expect("decodes");
        assert_eq!(decode(&bytes).expect("decodes again"), first);
        assert_eq!(first.0, signed);
        // The same message with another sequence number is its own message.
        let mut other = signed.clone();
        other.sequence_num = 2;
        assert_eq!(decode(&encode(&other)).expect("decodes").0.sequence_num, 2);
        // Bytes cut short are refused, whatever was decoded before.
        assert_eq!(decode(&bytes[..bytes.len() - 1]), Err(WireError::NotJson));
    }
}
