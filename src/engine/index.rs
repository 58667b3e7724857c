//! Lookups by the strings messages carry (task ids, message ids), hashed with a seeded fast
//! hasher: the strings come from the network, so the hasher must resist chosen collisions, and
//! SipHash costs several times as much as the fold around it. Nothing iterates these tables:
//! their order, which the seed changes from one process to the next, never reaches a decision.

use std::hash::BuildHasher;

use foldhash::fast::RandomState;
use hashbrown::HashTable;
use serde::{Deserialize, Serialize};

use crate::check::Festival;

/// A hash map of strings with the hasher the engine uses for what the network sends.
pub(crate) type StrMap<V> = std::collections::HashMap<String, V, RandomState>;

/// Task id to task index, without a copy of the ids: the table holds indices and compares
/// against the festival's own ids.
pub(crate) struct TaskIndex {
    table: HashTable<usize>,
    hasher: RandomState,
}

impl TaskIndex {
    pub(crate) fn new(festival: &Festival) -> Self {
        let hasher = RandomState::default();
        let tasks = &festival.tasks;
        let mut table = HashTable::with_capacity(festival.index.len());
        for &i in festival.index.values() {
            let id = tasks[i].id.value.as_str();
            table.insert_unique(hasher.hash_one(id), i, |&j| hasher.hash_one(tasks[j].id.value.as_str()));
        }
        Self { table, hasher }
    }

    /// The index of task `id` of `festival` (the festival this index was built from).
    pub(crate) fn get(&self, festival: &Festival, id: &str) -> Option<usize> {
        self.table
            .find(self.hasher.hash_one(id), |&i| festival.tasks[i].id.value == id)
            .copied()
    }
}

/// Message ids seen. Every message is looked up and then, most often, inserted: the set hands
/// out the hash of a new id so that it is hashed once. An id of 32 bytes (every id baton makes:
/// 32 hex digits) is kept in the table itself, with no allocation of its own; any other as text.
pub(crate) struct IdSet {
    table: HashTable<Id>,
    hasher: RandomState,
}

/// The ids of an [`IdSet`] as a snapshot keeps them: those of 32 bytes (every id baton makes)
/// sorted and written one after another in one text, `packed`, and any other sorted in a list.
/// A snapshot's JSON then holds one string where it held one per message: the final snapshot of
/// the 10,000-task bench run is written in about 0.8x the time.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PackedIds {
    packed: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    other: Vec<String>,
}

/// A message id as [`IdSet`] keeps it.
#[derive(Debug, PartialEq, Eq)]
enum Id {
    Inline([u8; 32]),
    Text(Box<str>),
}

impl Id {
    fn bytes(&self) -> &[u8] {
        match self {
            Self::Inline(bytes) => bytes,
            Self::Text(text) => text.as_bytes(),
        }
    }
}

impl IdSet {
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        Self {
            table: HashTable::with_capacity(capacity),
            hasher: RandomState::default(),
        }
    }

    /// The hash of `id` to insert it with, or `None` if it is in the set.
    pub(crate) fn fresh(&self, id: &str) -> Option<u64> {
        let hash = self.hasher.hash_one(id.as_bytes());
        let found = self.table.find(hash, |seen| seen.bytes() == id.as_bytes());
        found.is_none().then_some(hash)
    }

    /// The ids as a snapshot keeps them ([`PackedIds`]).
    pub(crate) fn packed(&self) -> PackedIds {
        let mut inline: Vec<[u8; 32]> = Vec::with_capacity(self.table.len());
        let mut other = Vec::new();
        for id in &self.table {
            match id {
                Id::Inline(bytes) => inline.push(*bytes),
                Id::Text(text) => other.push(text.to_string()),
            }
        }
        // In the order of their bytes, compared as two numbers rather than byte by byte.
        inline.sort_unstable_by_key(|id| {
            let (high, low) = id.split_at(16);
            let number = |half: &[u8]| <[u8; 16]>::try_from(half).map_or(0, u128::from_be_bytes);
            (number(high), number(low))
        });
        other.sort_unstable();
        // Every id was text, so their bytes one after another are too.
        let packed =
            String::from_utf8(inline.concat()).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
        PackedIds { packed, other }
    }

    /// The set of the ids `ids` holds (any repeated once).
    ///
    /// # Errors
    /// The packed text is not a whole number of ids of 32 bytes, each of them text.
    pub(crate) fn from_packed(ids: &PackedIds) -> Result<Self, String> {
        let bytes = ids.packed.as_bytes();
        if bytes.len() % 32 != 0 {
            return Err(format!(
                "{} bytes of packed ids are not ids of 32 bytes each",
                bytes.len()
            ));
        }
        let mut set = Self::with_capacity(bytes.len() / 32 + ids.other.len());
        for chunk in bytes.chunks_exact(32) {
            let id = std::str::from_utf8(chunk).map_err(|_| "a packed id is not text".to_string())?;
            set.add(id);
        }
        for id in &ids.other {
            set.add(id);
        }
        Ok(set)
    }

    fn add(&mut self, id: &str) {
        if let Some(hash) = self.fresh(id) {
            self.insert(hash, id);
        }
    }

    /// Adds an id that [`IdSet::fresh`] found new, with the hash it gave.
    pub(crate) fn insert(&mut self, hash: u64, id: &str) {
        let id = match <[u8; 32]>::try_from(id.as_bytes()) {
            Ok(bytes) => Id::Inline(bytes),
            Err(_) => Id::Text(id.into()),
        };
        let hasher = &self.hasher;
        self.table.insert_unique(hash, id, |seen| hasher.hash_one(seen.bytes()));
    }
}

#[cfg(test)]
mod tests {
    use super::{IdSet, PackedIds};

    #[test]
    fn ids_read_back_as_written_whether_kept_inline_or_as_text() {
        let ids = [
            "9747b4eb59259bfe5d33bfb9598e5286",
            "00000000000000000000000000000000",
            "9747B4EB59259BFE5D33BFB9598E5286",
            "9747b4eb59259bfe5d33bfb9598e528",
            "9747b4eb59259bfe5d33bfb9598e5286a",
            "not-hex-at-all-but-32-chars-long",
            "é-and-30-more-bytes-of-any-sort",
            "",
            "m-1",
        ];
        let mut set = IdSet::with_capacity(1);
        for id in ids {
            let hash = set.fresh(id).unwrap_or_else(|| panic!("{id:?} is new"));
            set.insert(hash, id);
            assert_eq!(set.fresh(id), None, "{id:?} is seen");
        }
        let packed = set.packed();
        let unpacked = IdSet::from_packed(&packed).expect("packed ids unpack");
        assert_eq!(unpacked.packed(), packed);
        for id in ids {
            assert_eq!(unpacked.fresh(id), None, "{id:?} is seen after unpacking");
        }
        assert!(unpacked.fresh("9747b4eb59259bfe5d33bfb9598e5287").is_some());
        let mut back: Vec<String> = packed
            .packed
            .as_bytes()
            .chunks(32)
            .map(|id| String::from_utf8_lossy(id).into_owned())
            .chain(packed.other.iter().cloned())
            .collect();
        back.sort();
        let mut written: Vec<String> = ids.iter().map(|id| (*id).to_string()).collect();
        written.sort();
        assert_eq!(back, written);
    }

    #[test]
    fn packed_ids_that_are_not_whole_ids_of_text_are_refused() {
        let cut = PackedIds {
            packed: "9747b4eb59259bfe5d33bfb9598e5286a".into(),
            other: Vec::new(),
        };
        assert!(IdSet::from_packed(&cut).is_err());
        // 32 bytes that end inside a character.
        let split = PackedIds {
            packed: format!("{}é{}", "a".repeat(31), "b".repeat(31)),
            other: Vec::new(),
        };
        assert!(IdSet::from_packed(&split).is_err());
    }
}
