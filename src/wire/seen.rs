//! Signatures this process made or has already checked. A message is signed once and read by
//! every replica of the log in the same process (the coordinator, simulated agents, a restarted
//! reader); checking the same signature again proves nothing new, so each (key, message,
//! signature) triple is checked once per process. The memo is bounded: it keeps two generations
//! of at most [`GENERATION`] entries (readers in one process read a message about when it is
//! written) and forgets the older one when the newer fills up, so a
//! forgotten signature is simply checked again.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex, PoisonError};

use ed25519_dalek::VerifyingKey;
use foldhash::fast::RandomState;
use sha2::{Digest as _, Sha256};

/// Entries per generation (64 bytes each).
const GENERATION: usize = 1 << 17;

/// A SHA-256: of a message's bytes ([`digest`]), or over a key, a signature and the signed bytes
/// ([`mark`]).
pub(crate) type Mark = [u8; 32];

/// A good signature, as the memo keeps it: the message's bytes by their [`digest`] and the key
/// they were found good under; or, for a signature checked over other bytes than a message's
/// own ([`mark`]), that mark and the key. The two never meet: the bytes of a message are JSON and
/// a mark hashes a key first, so no message's digest is a mark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Good {
    named: Mark,
    key: [u8; 32],
}

/// One generation: what names a good signature to the key it is good under. A digest found under
/// another key is not known, and is checked.
type Generation = HashMap<Mark, [u8; 32], RandomState>;

#[derive(Default)]
struct Seen {
    current: Generation,
    previous: Generation,
}

static SEEN: LazyLock<Mutex<Seen>> = LazyLock::new(|| Mutex::new(Seen::default()));

/// The mark of `signature` by `key` over `message`.
pub(crate) fn mark(key: &VerifyingKey, message: &[u8], signature: &[u8; 64]) -> Good {
    let mut hasher = Sha256::new();
    hasher.update(key.as_bytes());
    hasher.update(signature);
    hasher.update(message);
    Good {
        named: hasher.finalize().into(),
        key: key.to_bytes(),
    }
}

/// A whole encoded message (signature included) good under `key`, by the message's [`digest`].
pub(crate) fn mark_digest(key: &VerifyingKey, digest: &Mark) -> Good {
    Good {
        named: *digest,
        key: key.to_bytes(),
    }
}

/// SHA-256 of a message's bytes: what names them in [`mark_digest`] and in the decoded-message
/// memo, taken once per read.
pub fn digest(bytes: &[u8]) -> Mark {
    Sha256::digest(bytes).into()
}

/// Whether a signature with this mark was made or checked in this process.
pub(crate) fn known(good: &Good) -> bool {
    let seen = SEEN.lock().unwrap_or_else(PoisonError::into_inner);
    let found = seen.current.get(&good.named).or_else(|| seen.previous.get(&good.named));
    found == Some(&good.key)
}

/// Records a signature made, or checked and found good.
pub(crate) fn remember(good: Good) {
    remember_all([good]);
}

/// [`remember`] for several, under one lock.
pub(crate) fn remember_all(goods: impl IntoIterator<Item = Good>) {
    let mut seen = SEEN.lock().unwrap_or_else(PoisonError::into_inner);
    for good in goods {
        if seen.current.len() >= GENERATION {
            seen.previous = std::mem::take(&mut seen.current);
        }
        seen.current.insert(good.named, good.key);
    }
}

/// Forgets every signature made or checked so far, as a fresh process starts.
pub(crate) fn forget() {
    *SEEN.lock().unwrap_or_else(PoisonError::into_inner) = Seen::default();
}
