//! Lookups by the strings messages carry (task ids, message ids), hashed with a seeded fast
//! hasher: the strings come from the network, so the hasher must resist chosen collisions, and
//! SipHash costs several times as much as the fold around it. Nothing iterates these tables:
//! their order, which the seed changes from one process to the next, never reaches a decision.

use std::hash::BuildHasher;

use foldhash::fast::RandomState;
use hashbrown::HashTable;

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

    fn text(&self) -> String {
        String::from_utf8_lossy(self.bytes()).into_owned()
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

    /// Every id in the set, in no particular order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = String> {
        self.table.iter().map(Id::text)
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
    use super::IdSet;

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
        let mut back: Vec<String> = set.iter().collect();
        back.sort();
        let mut written: Vec<String> = ids.iter().map(|id| (*id).to_string()).collect();
        written.sort();
        assert_eq!(back, written);
    }
}
