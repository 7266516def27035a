//! Rows grouped under computed string keys (case-folded account names and
//! the like), laid out for a million rows.
//!
//! A `HashMap<String, Vec<u32>>` costs two allocations per key, and at a
//! million processes (tens of thousands of keys) building, probing, growing
//! and freeing those scattered blocks took more time than the analysis's
//! actual work, growing faster than the input (the working set outgrew the
//! caches). Here every key's text sits in one arena string, the map holds
//! only 64-bit hashes and group numbers (growing it never reads a key), and
//! every group's rows sit in one array: a handful of allocations whatever
//! the number of keys.

use std::hash::BuildHasher;

use foldhash::HashMap;

/// No further key with the same hash.
const END: u32 = u32::MAX;

struct Key {
    start: usize,
    end: usize,
    /// The next key whose 64-bit hash is the same (collisions are chained, never merged).
    next: u32,
}

/// Key texts and their hashes: string → group number (numbered from 0 in
/// the order first seen).
#[derive(Default)]
pub(super) struct Keys {
    hasher: foldhash::fast::RandomState,
    /// Hash → the first key with it.
    slots: HashMap<u64, u32>,
    keys: Vec<Key>,
    arena: String,
}

impl Keys {
    fn text(&self, key: &Key) -> &str {
        &self.arena[key.start..key.end]
    }

    fn find(&self, hash: u64, text: &str) -> Option<u32> {
        let mut id = *self.slots.get(&hash)?;
        while id != END {
            let key = &self.keys[id as usize];
            if self.text(key) == text {
                return Some(id);
            }
            id = key.next;
        }
        None
    }

    /// The text of key `id` (as numbered by [`Keys::id`]).
    pub fn text_of(&self, id: u32) -> &str {
        self.keys.get(id as usize).map_or("", |key| self.text(key))
    }

    pub fn get(&self, text: &str) -> Option<u32> {
        self.find(self.hasher.hash_one(text), text)
    }

    /// The group of `text`, made when new.
    pub fn id(&mut self, text: &str) -> u32 {
        let hash = self.hasher.hash_one(text);
        if let Some(id) = self.find(hash, text) {
            return id;
        }
        let id = self.keys.len() as u32;
        let start = self.arena.len();
        self.arena.push_str(text);
        let next = self.slots.insert(hash, id).unwrap_or(END);
        self.keys.push(Key {
            start,
            end: self.arena.len(),
            next,
        });
        id
    }
}

/// Builds [`KeyGroups`]: rows are added under their key, in any order.
#[derive(Default)]
pub(super) struct KeyGroupsBuilder {
    keys: Keys,
    /// (group, row) in the order added.
    members: Vec<(u32, u32)>,
}

impl KeyGroupsBuilder {
    pub fn with_capacity(rows: usize) -> Self {
        KeyGroupsBuilder {
            keys: Keys::default(),
            members: Vec::with_capacity(rows),
        }
    }

    pub fn add(&mut self, key: &str, row: u32) {
        let id = self.keys.id(key);
        self.members.push((id, row));
    }

    pub fn finish(self) -> KeyGroups {
        let KeyGroupsBuilder { keys, members } = self;
        // A counting sort by group: stable, so each group keeps its rows in
        // the order they were added.
        let mut starts = vec![0u32; keys.keys.len() + 1];
        for &(id, _) in &members {
            starts[id as usize + 1] += 1;
        }
        for i in 1..starts.len() {
            starts[i] += starts[i - 1];
        }
        let mut next = starts.clone();
        let mut rows = vec![0u32; members.len()];
        for (id, row) in members {
            let slot = &mut next[id as usize];
            rows[*slot as usize] = row;
            *slot += 1;
        }
        KeyGroups { keys, starts, rows }
    }
}

/// Rows by key; see the module docs.
pub(super) struct KeyGroups {
    keys: Keys,
    /// Group `g` is `rows[starts[g]..starts[g + 1]]`.
    starts: Vec<u32>,
    rows: Vec<u32>,
}

impl KeyGroups {
    /// The rows added under `key`, in the order added (empty when none).
    pub fn get(&self, key: &str) -> &[u32] {
        match self.keys.get(key) {
            Some(id) => {
                &self.rows[self.starts[id as usize] as usize..self.starts[id as usize + 1] as usize]
            }
            None => &[],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_stay_under_their_key_in_order() {
        let mut builder = KeyGroupsBuilder::default();
        builder.add("b", 1);
        builder.add("a", 2);
        builder.add("b", 3);
        builder.add("b", 4);
        builder.add("", 5);
        builder.add("a", 0);
        let groups = builder.finish();
        assert_eq!(groups.get("b"), [1, 3, 4]);
        assert_eq!(groups.get("a"), [2, 0]);
        assert_eq!(groups.get(""), [5]);
        assert_eq!(groups.get("c"), [] as [u32; 0]);
    }

    #[test]
    fn colliding_hashes_stay_apart() {
        let mut keys = Keys::default();
        // Force a collision: two texts filed under one hash.
        let (a, b) = (keys.id("alice"), 1u32);
        keys.slots.insert(7, a);
        keys.keys[a as usize].next = END;
        let start = keys.arena.len();
        keys.arena.push_str("bob");
        keys.keys.push(Key {
            start,
            end: keys.arena.len(),
            next: a,
        });
        keys.slots.insert(7, b);
        assert_eq!(keys.find(7, "alice"), Some(a));
        assert_eq!(keys.find(7, "bob"), Some(b));
        assert_eq!(keys.find(7, "carol"), None);
    }
}
