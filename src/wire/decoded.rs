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
use std::sync::{Arc, LazyLock, Mutex, OnceLock, PoisonError};

use ed25519_dalek::VerifyingKey;
use foldhash::fast::RandomState;

use super::body::Body;
use super::envelope::{Envelope, decode_digested};
use super::{WireError, verify_digested};
use crate::ledger::Payload;

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

/// Keeps a message this process sends, made of `body`, with its `payload` as found good under
/// the sender's `key`, as its readers here would decode it ([`super::fast::as_read`]) when that
/// can be told without reading the bytes; `false` when it cannot, and they decode the bytes
/// when they read them. Every reader in this process gets the payload itself from the ledger,
/// so the message is not also kept under its digest in the process's memo: no reader found it
/// there, and it kept messages alive longer (8 MiB at the peak of a shared-replica run).
pub(crate) fn keep_sent(payload: &Payload, envelope: Envelope, body: Body, key: &VerifyingKey) -> bool {
    let Some(body) = super::fast::as_read(&envelope, body) else {
        return false;
    };
    let message = Arc::new((envelope, body));
    let good_under = OnceLock::from(key.to_bytes());
    payload.keep_memo(Arc::new(Read { message, good_under }));
    true
}

/// What the readers of one [`Payload`] in this process keep with it ([`Payload::memo`]): the
/// message its bytes decode to, and the key its signature was found good under once a reader
/// checked it. Every replica of a process holds the same payload (the ledger hands it to each
/// without a copy), so each finds them there without the memos' locks and lookups.
struct Read {
    message: Message,
    good_under: OnceLock<[u8; 32]>,
}

fn read_of(payload: &Payload) -> Option<&Read> {
    payload.memo()?.downcast_ref::<Read>()
}

/// Whether a message is kept with `payload` for its readers.
#[cfg(test)]
pub(super) fn kept(payload: &Payload) -> bool {
    read_of(payload).is_some()
}

/// What `payload`'s bytes decode to ([`decode_digested`]): kept with the payload by its first
/// reader (or its sender) when this process keeps what it decodes ([`share`]).
///
/// # Errors
/// As [`super::decode`].
pub fn decode_payload(payload: &Payload) -> Result<Message, WireError> {
    if let Some(read) = read_of(payload) {
        return Ok(read.message.clone());
    }
    let message = decode_digested(payload, payload.digest())?;
    if shared() {
        let good_under = OnceLock::new();
        payload.keep_memo(Arc::new(Read {
            message: message.clone(),
            good_under,
        }));
    }
    Ok(message)
}

/// [`verify_digested`] for `envelope` decoded from `payload` ([`decode_payload`]): a signature
/// found good under `key` by another reader of the same payload is not looked up again.
///
/// # Errors
/// As [`super::verify`].
pub fn verify_read(payload: &Payload, envelope: &Envelope, key: &VerifyingKey) -> Result<(), WireError> {
    let read = read_of(payload);
    if read.and_then(|r| r.good_under.get()) == Some(key.as_bytes()) {
        return Ok(());
    }
    verify_digested(payload.digest(), envelope, key)?;
    if let Some(read) = read {
        let _ = read.good_under.set(key.to_bytes());
    }
    Ok(())
}

/// Forgets every message decoded so far, as a fresh process starts.
pub(crate) fn forget() {
    *DECODED.lock().unwrap_or_else(PoisonError::into_inner) = Decoded::default();
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;

    use super::super::envelope::decode_fresh;
    use super::{decode_payload, verify_read};
    use crate::ledger::Payload;
    use crate::wire::{Body, Envelope, Heartbeat, SigningKey, WireError, decode, encode, seal_sent, sign};

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

    fn heartbeat(sender: &str) -> (Envelope, Body) {
        let body = Body::Heartbeat(Heartbeat {
            agent_id: sender.into(),
        });
        (Envelope::new(body.kind(), "fest-1", sender, 1, &body), body)
    }

    #[test]
    fn a_message_sealed_here_reads_from_its_payload_as_its_bytes_decode_and_only_its_key_is_good() {
        super::share();
        let (signer, other) = (SigningKey::from_bytes(&[3; 32]), SigningKey::from_bytes(&[4; 32]));
        let sent = seal_sent(vec![heartbeat("agent-a"), heartbeat("agent-a")], &signer, true);
        for payload in &sent {
            assert!(payload.memo().is_some(), "the sender keeps what its readers will read");
            let read = decode_payload(payload).expect("decodes");
            assert_eq!(*read, decode_fresh(payload).expect("the bytes decode"));
            assert_eq!(verify_read(payload, &read.0, &signer.verifying_key()), Ok(()));
            assert_eq!(
                verify_read(payload, &read.0, &other.verifying_key()),
                Err(WireError::BadSignature {
                    sender: "agent-a".into()
                })
            );
        }
    }

    #[test]
    fn the_first_reader_of_a_payload_keeps_it_for_the_others_and_a_forgery_stays_bad() {
        super::share();
        let (key, forger) = (SigningKey::from_bytes(&[5; 32]), SigningKey::from_bytes(&[6; 32]));
        let (mut envelope, _) = heartbeat("agent-b");
        envelope.id = "cd".repeat(16);
        let mut forged = envelope.clone();
        sign(&mut envelope, &key);
        sign(&mut forged, &forger);
        let payload = Payload::from(encode(&envelope));
        let clone = payload.clone();
        assert!(payload.memo().is_none());
        let read = decode_payload(&payload).expect("decodes");
        assert!(clone.memo().is_some(), "kept for every holder of the payload");
        assert_eq!(decode_payload(&clone).expect("decodes"), read);
        assert_eq!(verify_read(&clone, &read.0, &key.verifying_key()), Ok(()));
        assert_eq!(verify_read(&payload, &read.0, &key.verifying_key()), Ok(()));
        let forged = Payload::from(encode(&forged));
        let read = decode_payload(&forged).expect("decodes");
        for _ in 0..2 {
            assert_eq!(
                verify_read(&forged, &read.0, &key.verifying_key()),
                Err(WireError::BadSignature {
                    sender: "agent-b".into()
                })
            );
        }
    }
}
