//! A message's bytes as the ledger hands them out: shared by every reader that holds the message
//! (a process that runs the coordinator beside simulated agents reads each message once per
//! replica of the log), with their SHA-256 worked out once for all of them, and what the first
//! reader worked out from them kept for the others ([`Payload::memo`]).

use std::any::Any;
use std::fmt;
use std::ops::Deref;
use std::sync::{Arc, OnceLock};

use sha2::{Digest as _, Sha256};

/// The bytes of a topic message. Cloning shares them; they never change.
#[derive(Clone)]
pub struct Payload(Arc<Shared>);

struct Shared {
    bytes: Box<[u8]>,
    digest: OnceLock<[u8; 32]>,
    memo: OnceLock<Memo>,
}

/// What a reader worked out from a payload's bytes, for the other readers of the same payload:
/// the wire layer keeps the decoded message there, and the key its signature was found good
/// under. The ledger never looks inside.
pub(crate) type Memo = Arc<dyn Any + Send + Sync>;

impl Payload {
    /// SHA-256 of the bytes, taken by the first reader that asks.
    #[must_use]
    pub fn digest(&self) -> &[u8; 32] {
        self.0.digest.get_or_init(|| Sha256::digest(&self.0.bytes).into())
    }

    /// What a reader of these bytes kept for the others ([`Payload::keep_memo`]), if one did.
    pub(crate) fn memo(&self) -> Option<&Memo> {
        self.0.memo.get()
    }

    /// Keeps `memo` with the bytes for every holder of this payload, unless one is kept already
    /// (readers of the same bytes work out the same memo).
    pub(crate) fn keep_memo(&self, memo: Memo) {
        let _ = self.0.memo.set(memo);
    }
}

impl Payload {
    /// Bytes whose SHA-256 the caller has already taken (a sender names what it sends by it).
    /// The memos of decoded messages and of checked signatures trust it as the bytes' name, so
    /// only a digest just taken of these very bytes is given here (debug builds check it).
    #[must_use]
    pub(crate) fn digested(bytes: Vec<u8>, digest: [u8; 32]) -> Self {
        debug_assert_eq!(
            digest,
            <[u8; 32]>::from(Sha256::digest(&bytes)),
            "the digest of these bytes"
        );
        Self(Arc::new(Shared {
            bytes: bytes.into_boxed_slice(),
            digest: OnceLock::from(digest),
            memo: OnceLock::new(),
        }))
    }
}

impl From<Vec<u8>> for Payload {
    fn from(bytes: Vec<u8>) -> Self {
        Self(Arc::new(Shared {
            bytes: bytes.into_boxed_slice(),
            digest: OnceLock::new(),
            memo: OnceLock::new(),
        }))
    }
}

impl From<&[u8]> for Payload {
    fn from(bytes: &[u8]) -> Self {
        Self::from(bytes.to_vec())
    }
}

impl Deref for Payload {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.0.bytes
    }
}

impl AsRef<[u8]> for Payload {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl PartialEq for Payload {
    fn eq(&self, other: &Self) -> bool {
        self[..] == other[..]
    }
}

impl Eq for Payload {}

impl PartialEq<[u8]> for Payload {
    fn eq(&self, other: &[u8]) -> bool {
        self[..] == *other
    }
}

impl<const N: usize> PartialEq<[u8; N]> for Payload {
    fn eq(&self, other: &[u8; N]) -> bool {
        self[..] == other[..]
    }
}

impl<const N: usize> PartialEq<&[u8; N]> for Payload {
    fn eq(&self, other: &&[u8; N]) -> bool {
        self[..] == other[..]
    }
}

impl PartialEq<Vec<u8>> for Payload {
    fn eq(&self, other: &Vec<u8>) -> bool {
        self[..] == other[..]
    }
}

impl fmt::Debug for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self[..], f)
    }
}

#[cfg(test)]
mod tests {
    use super::Payload;

    #[test]
    fn clones_share_the_bytes_and_their_digest_is_sha256() {
        let payload = Payload::from(b"{\"type\":\"tick\"}".to_vec());
        let clone = payload.clone();
        assert_eq!(clone.digest(), &crate::wire::digest(&payload));
        assert!(std::ptr::eq(payload.digest(), clone.digest()));
        assert_eq!(payload, Payload::from(&b"{\"type\":\"tick\"}"[..]));
        assert_ne!(payload, Payload::from(b"{}".to_vec()));
    }

    #[test]
    fn clones_share_the_first_memo_kept() {
        let payload = Payload::from(b"{}".to_vec());
        let clone = payload.clone();
        assert!(payload.memo().is_none());
        clone.keep_memo(std::sync::Arc::new(1_u32));
        payload.keep_memo(std::sync::Arc::new(2_u32));
        let kept = payload.memo().and_then(|m| m.downcast_ref::<u32>());
        assert_eq!(kept, Some(&1));
        assert!(
            Payload::from(b"{}".to_vec()).memo().is_none(),
            "equal bytes elsewhere have none"
        );
    }
}
