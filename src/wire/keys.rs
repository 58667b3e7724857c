//! ed25519 keys: generation and the text forms Hedera tools print (raw hex and DER hex). Errors
//! say what is wrong with a key's text without ever repeating it.

use ed25519_dalek::{SigningKey, VerifyingKey};

use super::WireError;

/// The DER (PKCS#8) prefix Hedera puts before a 32-byte ed25519 private key, as hex.
const SECRET_DER_PREFIX: &str = "302e020100300506032b657004220420";
/// The DER (SPKI) prefix Hedera puts before a 32-byte ed25519 public key, as hex.
const PUBLIC_DER_PREFIX: &str = "302a300506032b6570032100";

/// A fresh key from the operating system's randomness (through `rand`'s thread generator).
#[must_use]
pub fn generate_key() -> SigningKey {
    SigningKey::generate(&mut rand::rng())
}

/// Reads a private key: 64 hex characters, or Hedera's DER form (`302e020100300506032b657004220420`
/// and 64 hex characters); either optionally `0x`-prefixed, in any case.
///
/// # Errors
/// [`WireError::Key`] when the text is neither form.
pub fn parse_secret_key(text: &str) -> Result<SigningKey, WireError> {
    let bytes = key_bytes(text, SECRET_DER_PREFIX, "private")?;
    Ok(SigningKey::from_bytes(&bytes))
}

/// Reads a public key: 64 hex characters, or Hedera's DER form (`302a300506032b6570032100` and 64
/// hex characters); either optionally `0x`-prefixed, in any case.
///
/// # Errors
/// [`WireError::Key`] when the text is neither form or not a point of the curve.
pub fn parse_public_key(text: &str) -> Result<VerifyingKey, WireError> {
    let bytes = key_bytes(text, PUBLIC_DER_PREFIX, "public")?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| WireError::Key {
        reason: "the public key is not a valid ed25519 point".to_owned(),
    })
}

/// The private key as 64 lowercase hex characters (the raw form [`parse_secret_key`] reads).
#[must_use]
pub fn secret_hex(key: &SigningKey) -> String {
    hex::encode(key.as_bytes())
}

/// The public key as 64 lowercase hex characters.
#[must_use]
pub fn public_hex(key: &VerifyingKey) -> String {
    hex::encode(key.as_bytes())
}

/// The 32 key bytes of raw or DER hex text.
fn key_bytes(text: &str, der_prefix: &str, what: &str) -> Result<[u8; 32], WireError> {
    let err = |reason: String| WireError::Key { reason };
    let trimmed = text.trim();
    let digits = trimmed
        .strip_prefix("0x")
        .or_else(|| trimmed.strip_prefix("0X"))
        .unwrap_or(trimmed);
    if digits.is_empty() {
        return Err(err(format!("the {what} key is empty")));
    }
    if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(err(format!("the {what} key is not hexadecimal")));
    }
    let der_len = der_prefix.len() + 64;
    let raw = if digits.len() == 64 {
        digits
    } else if digits.len() == der_len {
        // All ASCII (checked above), so slicing at any index is safe.
        let (prefix, raw) = digits.split_at(der_prefix.len());
        if !prefix.eq_ignore_ascii_case(der_prefix) {
            return Err(err(format!(
                "the {what} key has the length of the DER form but not its ed25519 prefix `{der_prefix}`"
            )));
        }
        raw
    } else {
        return Err(err(format!(
            "a {what} key is 64 hex characters or the {der_len}-character DER form, not {} characters",
            digits.len()
        )));
    };
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(raw, &mut bytes).map_err(|_| err(format!("the {what} key is not hexadecimal")))?;
    Ok(bytes)
}
