//! Signing and checking messages: one message with its own signature, or the messages a sender
//! publishes together under one signature over their batch ([`super::batch`]). Either way each
//! message is checked on its own, and a signature this process made or checked is not checked
//! again ([`super::seen`]).

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};

use super::batch::{self, Batch, Hash};
use super::body::Body;
use super::envelope::{Envelope, canonical, canonical_split, encode, encode_with};
use super::{WireError, decoded, seen};
use crate::ledger::Payload;

/// Signs the envelope with `key`, alone, replacing any signature it had.
pub fn sign(envelope: &mut Envelope, key: &SigningKey) {
    sign_canonical(envelope, key, &canonical(envelope));
}

/// [`sign`] for an envelope whose canonical bytes are `message`.
fn sign_canonical(envelope: &mut Envelope, key: &SigningKey, message: &[u8]) {
    envelope.batch = None;
    let signature = key.sign(message).to_bytes();
    seen::remember(seen::mark(&key.verifying_key(), message, &signature));
    envelope.signature = Some(super::hex_text(&signature));
}

/// Signs the envelopes with `key` under one signature over their batch, each carrying its place
/// and path in it, in batches of at most [`batch::SIGNED_TOGETHER`]; a single envelope (or one
/// left over) is signed as [`sign`] would when alone.
pub fn sign_all(envelopes: &mut [Envelope], key: &SigningKey) {
    let canonicals: Vec<Vec<u8>> = envelopes.iter().map(canonical).collect();
    sign_all_canonical(envelopes, key, &canonicals);
}

/// [`sign_all`] for envelopes whose canonical bytes are `canonicals`, in the same order.
fn sign_all_canonical<B: AsRef<[u8]>>(envelopes: &mut [Envelope], key: &SigningKey, canonicals: &[B]) {
    let parts = envelopes.chunks_mut(batch::SIGNED_TOGETHER);
    for (part, bytes) in parts.zip(canonicals.chunks(batch::SIGNED_TOGETHER)) {
        if let ([one], [message]) = (&mut *part, bytes) {
            sign_canonical(one, key, message.as_ref());
            continue;
        }
        let leaves: Vec<Hash> = bytes.iter().map(|b| batch::leaf(b.as_ref())).collect();
        let (root, paths) = batch::tree(&leaves);
        let size = u32::try_from(part.len()).unwrap_or(u32::MAX);
        let signed = batch::signed_bytes(&root, size);
        let signature = key.sign(&signed).to_bytes();
        seen::remember(seen::mark(&key.verifying_key(), &signed, &signature));
        let text = super::hex_text(&signature);
        for (index, (envelope, path)) in part.iter_mut().zip(paths).enumerate() {
            envelope.signature = Some(text.clone());
            envelope.batch = Some(Batch {
                index: u32::try_from(index).unwrap_or(u32::MAX),
                size,
                path: batch::path_text(&path),
            });
        }
    }
}

/// Checks that the envelope is signed by `key`, alone or in a batch.
///
/// # Errors
/// [`WireError::Unsigned`] without a signature; [`WireError::BadSignature`] when the signature or
/// the batch path is malformed, or the signature is another key's, or the message was changed
/// after signing.
pub fn verify(envelope: &Envelope, key: &VerifyingKey) -> Result<(), WireError> {
    let text = envelope.signature.as_deref().ok_or(WireError::Unsigned)?;
    let bad = || WireError::BadSignature {
        sender: envelope.sender.clone(),
    };
    let mut bytes = [0u8; 64];
    if text.len() != 128 || !super::lower_hex(text.as_bytes()) {
        return Err(bad());
    }
    hex::decode_to_slice(text, &mut bytes).map_err(|_| bad())?;
    let message = canonical(envelope);
    let signed = match &envelope.batch {
        None => message,
        Some(place) => {
            let path = batch::parse_path(&place.path).ok_or_else(bad)?;
            let root = batch::root_of(batch::leaf(&message), place.index, place.size, &path).ok_or_else(bad)?;
            batch::signed_bytes(&root, place.size)
        }
    };
    let mark = seen::mark(key, &signed, &bytes);
    if seen::known(&mark) {
        return Ok(());
    }
    key.verify_strict(&signed, &Signature::from_bytes(&bytes))
        .map_err(|_| bad())?;
    seen::remember(mark);
    Ok(())
}

/// Signs the envelope with `key` and returns the bytes to submit ([`sign`], then [`encode`]);
/// [`verify_payload`] in this process knows these bytes without checking them again.
#[must_use]
pub fn seal(envelope: &mut Envelope, key: &SigningKey) -> Vec<u8> {
    let sealed = digested(seal_bytes(envelope, key));
    known_good(&key.verifying_key(), std::slice::from_ref(&sealed));
    sealed.0
}

/// [`seal`] for messages published together: signed with [`sign_all`], each encoded.
#[must_use]
pub fn seal_all(envelopes: &mut [Envelope], key: &SigningKey) -> Vec<Vec<u8>> {
    seal_step(envelopes, key, true)
}

/// The bytes of messages a sender publishes in one step: signed together ([`seal_all`]) when
/// `together`, as a ledger that takes batches wants, else each alone ([`seal`]).
#[must_use]
pub fn seal_step(envelopes: &mut [Envelope], key: &SigningKey, together: bool) -> Vec<Vec<u8>> {
    seal_step_digested(envelopes, key, together)
        .into_iter()
        .map(|(bytes, _)| bytes)
        .collect()
}

/// [`seal_step`] for the messages of a step this process sends and reads back: where it keeps
/// what it decodes ([`super::decoded`]), each message is kept as its readers here would decode
/// its bytes, so that they do not read them again: each envelope comes with the body it was
/// made of ([`Envelope::new`]), kept as it is where reading it back gives it again.
///
/// A message kept with its payload so is known good there, and its digest is not taken unless a
/// reader asks for it; only the others are remembered as good by their digest
/// ([`super::seen`]). Where this process keeps nothing decoded, the bytes come with their
/// digest, by which they are remembered as good.
#[must_use]
pub fn seal_sent(messages: Vec<(Envelope, Body)>, key: &SigningKey, together: bool) -> Vec<Payload> {
    let (mut envelopes, bodies): (Vec<Envelope>, Vec<Body>) = messages.into_iter().unzip();
    if !decoded::shared() {
        return seal_step_digested(&mut envelopes, key, together)
            .into_iter()
            .map(|(bytes, digest)| Payload::digested(bytes, digest))
            .collect();
    }
    // Kept with their payload, the messages need no name: their digest is taken only for those
    // that are not, or when a reader asks for it.
    let payloads: Vec<Payload> = seal_step_bytes(&mut envelopes, key, together)
        .into_iter()
        .map(Payload::from)
        .collect();
    let public = key.verifying_key();
    let mut unkept = Vec::new();
    for ((envelope, body), payload) in envelopes.into_iter().zip(bodies).zip(&payloads) {
        if !decoded::keep_sent(payload, envelope, body, &public) {
            unkept.push(seen::mark_digest(&public, payload.digest()));
        }
    }
    seen::remember_all(unkept);
    payloads
}

/// A sealed message's bytes and their [`super::digest`], which names them in the memos.
type Sealed = (Vec<u8>, [u8; 32]);

/// [`seal_step_bytes`], each message with its digest, by which it is remembered as good.
fn seal_step_digested(envelopes: &mut [Envelope], key: &SigningKey, together: bool) -> Vec<Sealed> {
    let sealed: Vec<Sealed> = seal_step_bytes(envelopes, key, together)
        .into_iter()
        .map(digested)
        .collect();
    known_good(&key.verifying_key(), &sealed);
    sealed
}

/// The bytes of an envelope signed alone.
fn seal_bytes(envelope: &mut Envelope, key: &SigningKey) -> Vec<u8> {
    sign(envelope, key);
    encode(envelope)
}

/// The bytes of envelopes signed together.
fn seal_all_bytes(envelopes: &mut [Envelope], key: &SigningKey) -> Vec<Vec<u8>> {
    // Each envelope's canonical bytes serve its leaf and then its encoding.
    let canonicals: Vec<(Vec<u8>, usize)> = envelopes.iter().map(canonical_split).collect();
    let bytes: Vec<&[u8]> = canonicals.iter().map(|(c, _)| c.as_slice()).collect();
    sign_all_canonical(envelopes, key, &bytes);
    envelopes
        .iter()
        .zip(&canonicals)
        .map(|(envelope, (canonical, at))| encode_with(envelope, canonical, *at))
        .collect()
}

/// The bytes of a step's envelopes: signed together when `together`, else each alone.
fn seal_step_bytes(envelopes: &mut [Envelope], key: &SigningKey, together: bool) -> Vec<Vec<u8>> {
    if together {
        seal_all_bytes(envelopes, key)
    } else {
        envelopes.iter_mut().map(|e| seal_bytes(e, key)).collect()
    }
}

fn digested(bytes: Vec<u8>) -> Sealed {
    let digest = seen::digest(&bytes);
    (bytes, digest)
}

/// Remembers sealed messages signed by `public`'s key as good.
fn known_good(public: &VerifyingKey, sealed: &[Sealed]) {
    seen::remember_all(sealed.iter().map(|(_, digest)| seen::mark_digest(public, digest)));
}

/// Forgets the signatures this process made or checked and the messages it decoded, so that the
/// next reads are done in full as in a fresh process: for measuring a cold reader of a log
/// written in the same process.
pub fn forget_checked() {
    seen::forget();
    super::decoded::forget();
}

/// [`verify`] for an envelope decoded from `payload`: the same bytes already checked (or sealed)
/// with the same key in this process are not checked again, nor re-encoded.
///
/// # Errors
/// As [`verify`].
pub fn verify_payload(payload: &[u8], envelope: &Envelope, key: &VerifyingKey) -> Result<(), WireError> {
    verify_digested(&seen::digest(payload), envelope, key)
}

/// [`verify_payload`] from the payload's [`super::digest`], for a reader that took it to decode.
///
/// # Errors
/// As [`verify`].
pub fn verify_digested(digest: &[u8; 32], envelope: &Envelope, key: &VerifyingKey) -> Result<(), WireError> {
    let mark = seen::mark_digest(key, digest);
    if seen::known(&mark) {
        return Ok(());
    }
    verify(envelope, key)?;
    seen::remember(mark);
    Ok(())
}
