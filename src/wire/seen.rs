//! Signatures this process made or has already checked. A message is signed once and read by
//! every replica of the log in the same process (the coordinator, simulated agents, a restarted
//! reader); checking the same signature again proves nothing new, so each (key, message,
//! signature) triple is checked once per process. The memo is bounded: it keeps two generations
//! of at most [`GENERATION`] entries (readers in one process read a message about when it is
//! written) and forgets the older one when the newer fills up, so a
//! forgotten signature is simply checked again.

use std::collections::HashSet;
use std::sync::{LazyLock, Mutex, PoisonError};

use ed25519_dalek::VerifyingKey;
use sha2::{Digest as _, Sha256};

/// Entries per generation (32 bytes each).
const GENERATION: usize = 1 << 17;

/// What identifies a good signature: SHA-256 over the key, the signature and the signed bytes.
pub(crate) type Mark = [u8; 32];

#[derive(Default)]
struct Seen {
    current: HashSet<Mark>,
    previous: HashSet<Mark>,
}

static SEEN: LazyLock<Mutex<Seen>> = LazyLock::new(|| Mutex::new(Seen::default()));

/// The mark of `signature` by `key` over `message`.
pub(crate) fn mark(key: &VerifyingKey, message: &[u8], signature: &[u8; 64]) -> Mark {
    let mut hasher = Sha256::new();
    hasher.update(key.as_bytes());
    hasher.update(signature);
    hasher.update(message);
    hasher.finalize().into()
}

/// The mark of a whole encoded message (signature included) good under `key`, from the message's
/// [`digest`].
pub(crate) fn mark_digest(key: &VerifyingKey, digest: &Mark) -> Mark {
    let mut hasher = Sha256::new();
    hasher.update(b"payload");
    hasher.update(key.as_bytes());
    hasher.update(digest);
    hasher.finalize().into()
}

/// SHA-256 of a message's bytes: what names them in [`mark_digest`] and in the decoded-message
/// memo, taken once per read.
pub fn digest(bytes: &[u8]) -> Mark {
    Sha256::digest(bytes).into()
}

/// Whether a signature with this mark was made or checked in this process.
pub(crate) fn known(mark: &Mark) -> bool {
    let seen = SEEN.lock().unwrap_or_else(PoisonError::into_inner);
    seen.current.contains(mark) || seen.previous.contains(mark)
}

/// Records a signature made, or checked and found good.
pub(crate) fn remember(mark: Mark) {
    remember_all([mark]);
}

/// [`remember`] for several, under one lock.
pub(crate) fn remember_all(marks: impl IntoIterator<Item = Mark>) {
    let mut seen = SEEN.lock().unwrap_or_else(PoisonError::into_inner);
    for mark in marks {
        if seen.current.len() >= GENERATION {
            seen.previous = std::mem::take(&mut seen.current);
        }
        seen.current.insert(mark);
    }
}

/// Forgets every signature made or checked so far, as a fresh process starts.
pub(crate) fn forget() {
    *SEEN.lock().unwrap_or_else(PoisonError::into_inner) = Seen::default();
}
