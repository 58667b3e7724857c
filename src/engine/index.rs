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
/// out the hash of a new id so that it is hashed once.
pub(crate) struct IdSet {
    table: HashTable<String>,
    hasher: RandomState,
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
        let hash = self.hasher.hash_one(id);
        self.table.find(hash, |seen| seen == id).is_none().then_some(hash)
    }

    /// Every id in the set, in no particular order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &str> {
        self.table.iter().map(String::as_str)
    }

    /// Adds an id that [`IdSet::fresh`] found new, with the hash it gave.
    pub(crate) fn insert(&mut self, hash: u64, id: String) {
        let hasher = &self.hasher;
        self.table
            .insert_unique(hash, id, |seen| hasher.hash_one(seen.as_str()));
    }
}
