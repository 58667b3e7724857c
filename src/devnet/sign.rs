//! Opening a submitted transaction and checking its signatures.
//!
//! A transaction arrives as `signedTransactionBytes` (a `SignedTransaction`: body bytes and a
//! signature map) or in the deprecated form with `bodyBytes` and `sigMap` on the `Transaction`
//! itself. A key has signed when some pair of the map has a public-key prefix that the key
//! starts with (an empty prefix matches any key) and an ed25519 signature of the body bytes
//! that the key verifies. Only ed25519 keys are known to the devnet.

use ed25519_dalek::{Signature, VerifyingKey};
use hiero_sdk_proto::services::{self as pb, ResponseCodeEnum as Code};
use prost::Message;
use sha2::{Digest, Sha384};

use super::model::Key32;

/// The largest transaction accepted, in bytes (Hedera's limit).
pub(crate) const MAX_TRANSACTION_BYTES: usize = 6144;

/// A transaction's body and signatures, as submitted.
#[derive(Debug, Clone)]
pub(crate) struct Opened {
    pub(crate) body: pb::TransactionBody,
    pub(crate) body_bytes: Vec<u8>,
    pub(crate) pairs: Vec<pb::SignaturePair>,
    /// SHA-384 of the signed transaction bytes (of the whole transaction in the old form).
    pub(crate) hash: Vec<u8>,
}

/// Opens a submitted transaction; the status says what is wrong with it.
#[allow(deprecated)]
pub(crate) fn open(tx: &pb::Transaction) -> Result<Opened, Code> {
    if tx.encoded_len() > MAX_TRANSACTION_BYTES {
        return Err(Code::TransactionOversize);
    }
    let (body_bytes, sig_map, hash) = if !tx.signed_transaction_bytes.is_empty() {
        if !tx.body_bytes.is_empty() || tx.sig_map.is_some() {
            return Err(Code::InvalidTransaction);
        }
        let signed = pb::SignedTransaction::decode(tx.signed_transaction_bytes.as_slice())
            .map_err(|_| Code::InvalidTransaction)?;
        let hash = Sha384::digest(&tx.signed_transaction_bytes).to_vec();
        (signed.body_bytes, signed.sig_map, hash)
    } else if !tx.body_bytes.is_empty() {
        let hash = Sha384::digest(tx.encode_to_vec()).to_vec();
        (tx.body_bytes.clone(), tx.sig_map.clone(), hash)
    } else {
        return Err(Code::InvalidTransaction);
    };
    let body = pb::TransactionBody::decode(body_bytes.as_slice()).map_err(|_| Code::InvalidTransactionBody)?;
    Ok(Opened {
        body,
        body_bytes,
        pairs: sig_map.map(|m| m.sig_pair).unwrap_or_default(),
        hash,
    })
}

/// Whether `key` has signed the body.
pub(crate) fn signed_by(opened: &Opened, key: &Key32) -> bool {
    let Ok(verifying) = VerifyingKey::from_bytes(key) else {
        return false;
    };
    opened.pairs.iter().any(|pair| {
        let Some(pb::signature_pair::Signature::Ed25519(bytes)) = &pair.signature else {
            return false;
        };
        key.starts_with(&pair.pub_key_prefix)
            && Signature::from_slice(bytes).is_ok_and(|sig| verifying.verify_strict(&opened.body_bytes, &sig).is_ok())
    })
}

/// Those of `keys` that have signed the body, each once.
pub(crate) fn signatories(opened: &Opened, keys: &[Key32]) -> Vec<Key32> {
    let mut signed: Vec<Key32> = Vec::new();
    for key in keys {
        if !signed.contains(key) && signed_by(opened, key) {
            signed.push(*key);
        }
    }
    signed
}

/// An ed25519 key from a protobuf `Key`; other kinds are not supported by the devnet.
pub(crate) fn key32(key: &pb::Key) -> Result<Key32, Code> {
    match &key.key {
        Some(pb::key::Key::Ed25519(bytes)) => {
            let key = Key32::try_from(bytes.as_slice()).map_err(|_| Code::BadEncoding)?;
            VerifyingKey::from_bytes(&key).map_err(|_| Code::BadEncoding)?;
            Ok(key)
        }
        Some(_) => Err(Code::NotSupported),
        None => Err(Code::KeyRequired),
    }
}

/// An optional key field: absent is `None`, present must be ed25519.
pub(crate) fn optional_key32(key: Option<&pb::Key>) -> Result<Option<Key32>, Code> {
    key.map(key32).transpose()
}

/// The protobuf form of an ed25519 key.
pub(crate) fn pb_key(key: &Key32) -> pb::Key {
    pb::Key {
        key: Some(pb::key::Key::Ed25519(key.to_vec())),
    }
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::{Signer, SigningKey};

    use super::*;

    fn opened_signed_by(signer: &SigningKey, prefix_len: usize) -> Opened {
        let body = pb::TransactionBody {
            memo: "hello".into(),
            ..Default::default()
        };
        let body_bytes = body.encode_to_vec();
        let public = signer.verifying_key().to_bytes();
        let pair = pb::SignaturePair {
            pub_key_prefix: public[..prefix_len].to_vec(),
            signature: Some(pb::signature_pair::Signature::Ed25519(
                signer.sign(&body_bytes).to_bytes().to_vec(),
            )),
        };
        let signed = pb::SignedTransaction {
            body_bytes,
            sig_map: Some(pb::SignatureMap { sig_pair: vec![pair] }),
            use_serialized_tx_message_hash_algorithm: false,
        };
        let tx = pb::Transaction {
            signed_transaction_bytes: signed.encode_to_vec(),
            ..Default::default()
        };
        match open(&tx) {
            Ok(opened) => opened,
            Err(code) => panic!("a well-formed transaction was refused: {code:?}"),
        }
    }

    #[test]
    fn a_signature_counts_for_its_key_only() {
        let signer = SigningKey::from_bytes(&[7; 32]);
        let other = SigningKey::from_bytes(&[8; 32]).verifying_key().to_bytes();
        for prefix in [32, 4, 0] {
            let opened = opened_signed_by(&signer, prefix);
            assert!(
                signed_by(&opened, &signer.verifying_key().to_bytes()),
                "prefix {prefix}"
            );
            assert!(!signed_by(&opened, &other), "prefix {prefix}");
        }
    }

    #[test]
    fn garbage_is_refused_with_a_status() {
        let tx = pb::Transaction {
            signed_transaction_bytes: vec![0xff, 0xff, 0xff],
            ..Default::default()
        };
        assert_eq!(open(&tx).err(), Some(Code::InvalidTransaction));
        assert_eq!(open(&pb::Transaction::default()).err(), Some(Code::InvalidTransaction));
        let big = pb::Transaction {
            signed_transaction_bytes: vec![0; MAX_TRANSACTION_BYTES + 1],
            ..Default::default()
        };
        assert_eq!(open(&big).err(), Some(Code::TransactionOversize));
    }
}
