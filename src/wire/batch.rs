//! One signature for the messages a sender publishes together: a Merkle tree over the messages'
//! canonical bytes, its root signed once, and in each message the path from its leaf to the root
//! (its `batch`), so that every message is still checked on its own.
//!
//! Signing costs an ed25519 scalar multiplication per signature, far more than hashing a message;
//! a coordinator publishing a step's hundred assignments, or an agent its step's reports, pays
//! for one. A reader checks the root's signature once per process and each other message of the
//! batch with a few SHA-256 hashes.
//!
//! The tree is RFC 6962's shape with its domain separation: a leaf is SHA-256 over `0x00` and the
//! message's canonical bytes, an inner node SHA-256 over `0x01` and its two children; a level with
//! an odd count carries its last node up unchanged. What is signed is [`DOMAIN`], the batch's size
//! as 4 big-endian bytes, and the root, so no signature over a batch can pass for a single
//! message's, nor one over a batch of one size for another.

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// Prefix of the bytes a batch signature covers.
pub(crate) const DOMAIN: &[u8] = b"baton batch signature v1\n";

/// The most messages one signature may cover: 16 levels, a path of at most 1,024 hex characters.
pub const MAX_BATCH: usize = 1 << 16;

/// The most messages [`super::sign_all`] signs together: a path of at most five hashes (320 hex
/// characters) against one ed25519 signature for 32 messages. Unbounded batches (a step of the
/// coordinator holds hundreds) made messages a tenth longer and saved no time in the replay bench
/// (19.6 s against 19.2 s for 1,004,032 messages).
pub const SIGNED_TOGETHER: usize = 32;

/// Where a message sits in the batch its signature covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Batch {
    /// The message's place in the batch, from 0.
    pub index: u32,
    /// How many messages the signature covers.
    pub size: u32,
    /// The sibling hashes from the leaf up to the root, 64 lowercase hex characters each.
    pub path: String,
}

pub(crate) type Hash = [u8; 32];

/// The leaf of a message with these canonical bytes.
pub(crate) fn leaf(canonical: &[u8]) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0u8]);
    hasher.update(canonical);
    hasher.finalize().into()
}

fn node(left: &Hash, right: &Hash) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([1u8]);
    hasher.update(left);
    hasher.update(right);
    hasher.finalize().into()
}

/// The bytes signed for a batch of `size` messages with this root.
pub(crate) fn signed_bytes(root: &Hash, size: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(DOMAIN.len() + 4 + 32);
    out.extend_from_slice(DOMAIN);
    out.extend_from_slice(&size.to_be_bytes());
    out.extend_from_slice(root);
    out
}

/// The root over `leaves` (at least one) and each leaf's path to it.
pub(crate) fn tree(leaves: &[Hash]) -> (Hash, Vec<Vec<Hash>>) {
    let mut paths = vec![Vec::new(); leaves.len()];
    // Which node of the current level each leaf is under.
    let mut under: Vec<usize> = (0..leaves.len()).collect();
    let mut level = leaves.to_vec();
    while level.len() > 1 {
        for (path, at) in paths.iter_mut().zip(&mut under) {
            let sibling = *at ^ 1;
            if let Some(hash) = level.get(sibling) {
                path.push(*hash);
            }
            *at /= 2;
        }
        level = level
            .chunks(2)
            .map(|pair| pair.get(1).map_or(pair[0], |right| node(&pair[0], right)))
            .collect();
    }
    (level[0], paths)
}

/// The root a leaf at `index` of a batch of `size` reaches through `path`, or `None` when the
/// path does not fit that place (too short, too long, or an index outside the batch).
pub(crate) fn root_of(leaf: Hash, index: u32, size: u32, path: &[Hash]) -> Option<Hash> {
    if index >= size {
        return None;
    }
    let (mut at, mut count, mut hash) = (index, size, leaf);
    let mut siblings = path.iter();
    while count > 1 {
        if at % 2 == 1 {
            hash = node(siblings.next()?, &hash);
        } else if at + 1 < count {
            hash = node(&hash, siblings.next()?);
        }
        at /= 2;
        count = count.div_ceil(2);
    }
    siblings.next().is_none().then_some(hash)
}

/// A path as it travels: the hashes in hex, one after the other.
pub(crate) fn path_text(path: &[Hash]) -> String {
    super::hex_text(path.as_flattened())
}

/// The hashes of a path's text, or `None` when it is not whole 64-character lowercase hex hashes.
pub(crate) fn parse_path(text: &str) -> Option<Vec<Hash>> {
    if text.len() % 64 != 0 || !super::lower_hex(text.as_bytes()) {
        return None;
    }
    text.as_bytes()
        .chunks(64)
        .map(|chunk| {
            let mut hash = [0u8; 32];
            hex::decode_to_slice(chunk, &mut hash).ok()?;
            Some(hash)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(n: usize) -> Vec<Hash> {
        (0..n).map(|i| leaf(format!("message {i}").as_bytes())).collect()
    }

    #[test]
    fn every_leaf_reaches_the_root_of_every_size() {
        for n in 1..=33 {
            let leaves = leaves(n);
            let (root, paths) = tree(&leaves);
            let size = u32::try_from(n).expect("small");
            for (i, (leaf, path)) in leaves.iter().zip(&paths).enumerate() {
                let index = u32::try_from(i).expect("small");
                assert_eq!(root_of(*leaf, index, size, path), Some(root), "leaf {i} of {n}");
                assert!(path.len() <= 6, "a path grows with the log of the size");
            }
        }
    }

    #[test]
    fn a_path_proves_nothing_elsewhere() {
        let leaves = leaves(7);
        let (root, paths) = tree(&leaves);
        // Another leaf, another place, another size, a path cut short or grown: never the root.
        assert_ne!(root_of(leaves[1], 2, 7, &paths[2]), Some(root));
        assert_ne!(root_of(leaves[2], 3, 7, &paths[2]), Some(root));
        // Where the shape of the tree above a leaf is the same for another size, so is the root:
        // the signature covers the size too.
        let other_size = root_of(leaves[2], 2, 8, &paths[2]).map(|r| signed_bytes(&r, 8));
        assert_ne!(other_size, Some(signed_bytes(&root, 7)));
        assert_eq!(root_of(leaves[2], 2, 7, &paths[2][1..]), None);
        let mut longer = paths[2].clone();
        longer.push(root);
        assert_eq!(root_of(leaves[2], 2, 7, &longer), None);
        assert_eq!(root_of(leaves[2], 7, 7, &paths[2]), None);
    }

    #[test]
    fn paths_travel_as_hex() {
        let (_, paths) = tree(&leaves(5));
        let text = path_text(&paths[0]);
        assert_eq!(text.len(), 64 * paths[0].len());
        assert_eq!(parse_path(&text), Some(paths[0].clone()));
        assert_eq!(parse_path(&text.to_uppercase()), None);
        assert_eq!(parse_path(&text[1..]), None);
        assert_eq!(parse_path(""), Some(Vec::new()));
    }
}
