//! Rows grouped under computed string keys (case-folded account names and
//! the like), laid out for a million rows.
//!
//! A `HashMap<String, Vec<u32>>` costs two allocations per key, and at a
//! million processes (tens of thousands of keys) building, probing, growing
//! and freeing those scattered blocks took more time than the analysis's
//! actual work, growing faster than the input: the working set outgrew the
//! 2 MiB L2 cache, and each probe then paid a miss for the table slot and
//! another for the key text it points to. Here a key of up to 22 bytes (an
//! account name, a logon id) is stored in the table slot itself, so a probe
//! reads one slot; and every group's rows sit in one array: a handful of
//! allocations whatever the number of keys.

use std::borrow::Borrow;
use std::hash::{Hash, Hasher};

use foldhash::HashMap;

/// Longest key kept inline in its table slot.
const INLINE: usize = 22;

/// A key's text, inline when short (no allocation, no pointer to follow).
#[derive(Clone, PartialEq, Eq)]
enum SlotKey {
    Inline { len: u8, bytes: [u8; INLINE] },
    Heap(Box<str>),
}

impl SlotKey {
    fn new(text: &str) -> Self {
        if text.len() <= INLINE {
            let mut bytes = [0u8; INLINE];
            bytes[..text.len()].copy_from_slice(text.as_bytes());
            SlotKey::Inline {
                len: text.len() as u8,
                bytes,
            }
        } else {
            SlotKey::Heap(text.into())
        }
    }

    fn as_bytes(&self) -> &[u8] {
        match self {
            SlotKey::Inline { len, bytes } => &bytes[..*len as usize],
            SlotKey::Heap(text) => text.as_bytes(),
        }
    }

    fn as_str(&self) -> &str {
        // The bytes were copied from a `str` whole, so they are UTF-8.
        std::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }
}

/// Hashed and compared as its bytes, so that a `&[u8]` looks it up
/// (bytes, not `str`: no UTF-8 check on every probe).
impl Hash for SlotKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state);
    }
}

impl Borrow<[u8]> for SlotKey {
    fn borrow(&self) -> &[u8] {
        self.as_bytes()
    }
}

/// Key texts: string → group number (numbered from 0 in the order first seen).
#[derive(Default)]
pub(super) struct Keys {
    ids: HashMap<SlotKey, u32>,
    /// Each key's text by number, for the few who ask (not touched by lookups).
    texts: Vec<SlotKey>,
}

impl Keys {
    /// The text of key `id` (as numbered by [`Keys::id`]).
    pub fn text_of(&self, id: u32) -> &str {
        self.texts.get(id as usize).map_or("", SlotKey::as_str)
    }

    /// The bytes of key `id`: to sort keys, which orders them as their
    /// texts (`str` compares bytes) without a UTF-8 check per comparison.
    pub fn bytes_of(&self, id: u32) -> &[u8] {
        self.texts.get(id as usize).map_or(&[], SlotKey::as_bytes)
    }

    pub fn get(&self, text: &str) -> Option<u32> {
        self.ids.get(text.as_bytes()).copied()
    }

    /// The group of `text`, made when new.
    pub fn id(&mut self, text: &str) -> u32 {
        if let Some(&id) = self.ids.get(text.as_bytes()) {
            return id;
        }
        let id = self.texts.len() as u32;
        let key = SlotKey::new(text);
        self.texts.push(key.clone());
        self.ids.insert(key, id);
        id
    }

    pub fn len(&self) -> usize {
        self.texts.len()
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
        let mut starts = vec![0u32; keys.len() + 1];
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
    fn long_and_short_keys() {
        let long = "CONTOSO\\a-rather-long-account-name";
        let mut keys = Keys::default();
        let (a, b, c) = (keys.id("alice"), keys.id(long), keys.id(""));
        assert_eq!((a, b, c), (0, 1, 2));
        assert_eq!(keys.id(long), 1);
        assert_eq!(keys.get("alice"), Some(0));
        assert_eq!(keys.get("alice "), None);
        assert_eq!(keys.text_of(1), long);
        assert_eq!(keys.text_of(2), "");
        let exactly = "x".repeat(INLINE);
        let over = "x".repeat(INLINE + 1);
        let (d, e) = (keys.id(&exactly), keys.id(&over));
        assert_ne!(d, e);
        assert_eq!((keys.get(&exactly), keys.get(&over)), (Some(d), Some(e)));
    }
}
