//! Lookups by the strings messages carry (task ids, message ids), hashed with a seeded fast
//! hasher: the strings come from the network, so the hasher must resist chosen collisions, and
//! SipHash costs several times as much as the fold around it. Nothing iterates these tables:
//! their order, which the seed changes from one process to the next, never reaches a decision.

use std::hash::BuildHasher;

use foldhash::fast::RandomState;
use hashbrown::HashTable;

use crate::check::Festival;

/// A hash set of strings with the hasher the engine uses for what the network sends.
pub(crate) type StrSet = std::collections::HashSet<String, RandomState>;

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
