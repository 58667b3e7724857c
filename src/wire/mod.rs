//! The wire format of baton's festival messages on Hedera topics: a signed JSON envelope and a
//! typed payload for each kind of message.
//!
//! The envelope is the original coordinator's, `{type, sender, recipient?, task_id?,
//! sequence_num, timestamp, payload}`, with three additions: `id` (the message's own random id),
//! `festival` (the festival id) and `signature` (ed25519 over the envelope's [`canonical`] bytes,
//! which are its JSON without `signature` and `batch`, keys sorted, no whitespace; or, for
//! messages a sender publishes together, over the root of a Merkle tree of them, each message
//! carrying its place and path in `batch`, see [`sign_all`]). Messages travel on two
//! topics: the task topic (coordinator to agents) and the status topic (agents and approvers to
//! the coordinator), see [`MessageType::topic`].
//!
//! [`decode`] checks a message against `schemas/message.schema.json` (embedded in the binary)
//! before it reads it into a [`Body`]; [`verify`] checks its signature against a sender's key.
//! A well-formed message is read straight into its fields and checked by hand to the schema's
//! effect, its payload against its own type's schema (`fast`); anything else goes the long
//! way, which gives the reason of a rejection.
//!
//! What this module never does: it talks to no ledger and no network, and reads or writes no
//! file except the [`Keyring`]'s own file, and only when asked to.

mod batch;
mod body;
mod decoded;
mod envelope;
mod fast;
#[cfg(test)]
mod fast_tests;
mod fits;
#[cfg(test)]
mod fits_tests;
mod keyring;
mod keys;
#[cfg(test)]
mod keys_tests;
mod payload;
mod schema;
mod seen;
mod signing;
#[cfg(test)]
mod signing_tests;
#[cfg(test)]
mod tests;

pub use batch::{Batch, MAX_BATCH, SIGNED_TOGETHER};
pub use body::{
    ApprovalAnswer, ApprovalRequest, Assignment, Body, Decision, GateReport, Heartbeat, IntendedPayment, PaymentIntent,
    ResultStatus, Settlement, StatusUpdate, TaskEvent, TaskResult, VerdictRecord, body_kind,
};
pub use decoded::share as share_decoded;
pub use decoded::{decode_payload, verify_read};
pub use ed25519_dalek::{SigningKey, VerifyingKey};
pub use envelope::{Envelope, MessageType, Topic, canonical, decode, decode_digested, decode_shared, encode, rfc3339};
pub use keyring::Keyring;
pub use keys::{generate_key, parse_public_key, parse_secret_key, public_hex, secret_hex};
pub use payload::PayloadJson;
pub use schema::MESSAGE_SCHEMA;
pub use seen::digest;
pub use signing::{
    forget_checked, seal, seal_all, seal_sent, seal_step, sign, sign_all, verify, verify_digested, verify_payload,
};

/// `bytes` as lowercase hex, two characters a byte, written from a table rather than a character at
/// a time (signatures, batch paths and message ids are written for every message sent).
pub(crate) fn hex_text(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = vec![0u8; bytes.len() * 2];
    for (pair, &b) in out.chunks_exact_mut(2).zip(bytes) {
        pair[0] = DIGITS[usize::from(b >> 4)];
        pair[1] = DIGITS[usize::from(b & 0x0f)];
    }
    // Hex digits are ASCII, so this never falls back.
    String::from_utf8(out).unwrap_or_default()
}

/// Whether every byte is a lowercase hex digit. Every byte is looked at, with no early exit, so
/// that the compiler checks many at a time: a message's signature, batch path and id are checked
/// whenever it is written or read, and the byte-by-byte loop was a tenth of the time spent sealing.
pub(crate) fn lower_hex(bytes: &[u8]) -> bool {
    bytes.iter().fold(true, |ok, &b| {
        ok & ((b.wrapping_sub(b'0') < 10) | (b.wrapping_sub(b'a') < 6))
    })
}

/// Whether JSON writes these bytes of a string as they are: no quote, backslash or control
/// character to escape. Checked as [`lower_hex`] is, every byte at once.
pub(crate) fn plain_json(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .fold(true, |ok, &b| ok & (b != b'"') & (b != b'\\') & (b >= 0x20))
}

/// The largest message [`decode`] reads, in bytes; anything larger is rejected before parsing.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;

/// Why a message, a key or the keyring was rejected. The text reads well in a status table, e.g.
/// `schema: /payload/amount: -5 is less than the minimum of 1`; it never contains key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The bytes are not a JSON document.
    #[error("not JSON: the message is not a JSON document")]
    NotJson,
    /// The message is larger than [`MAX_MESSAGE_BYTES`].
    #[error("too large: the message is over {MAX_MESSAGE_BYTES} bytes")]
    TooLarge,
    /// The message does not match the schema or its payload does not fit its type. `reason` is
    /// the first problem: where (a JSON pointer) and what.
    #[error("schema: {reason}")]
    Schema { reason: String },
    /// The signature is malformed or was not made by the sender's key over this message.
    #[error("bad signature: the message is not signed by the key of `{sender}`")]
    BadSignature { sender: String },
    /// The message carries no signature.
    #[error("unsigned: the message has no signature")]
    Unsigned,
    /// A key's text is not a key of the expected form (the text itself is never repeated).
    #[error("key: {reason}")]
    Key { reason: String },
    /// The keyring file could not be read or written.
    #[error("keyring `{path}`: {reason}")]
    Keyring { path: String, reason: String },
}

impl WireError {
    /// The error as one line for a status table or a log.
    #[must_use]
    pub fn reason(&self) -> String {
        self.to_string()
    }
}
