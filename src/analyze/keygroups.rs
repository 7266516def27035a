//! Rows grouped under computed string keys (case-folded account names and
//! the like), laid out for a million rows.
//!
//! A `HashMap<String, Vec<u32>>` costs two allocations per key, and at a
//! million processes (tens of thousands of keys) building, probing, growing
//! and freeing those scattered blocks took more time than the analysis's
//! actual work, growing faster than the input: the working set outgrew the
//! 2 MiB L2 cache. Here every key's text sits in one array by number (a key
//! of up to 22 bytes, an account name or a logon id, inline), and the table
//! that finds a number holds 8 bytes a slot (a hash tag and the number):
//! a quarter of a map of inline keys, so that at ~100k keys the table and
//! the texts together come near the L2 size instead of several times it,
//! and a fresh table costs a quarter of the page faults. Every group's rows
//! sit in one array: a handful of allocations whatever the number of keys.

use std::hash::BuildHasher;

use foldhash::fast::RandomState;

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

/// Texts looked up together by [`Keys::ids_of`]: enough misses in flight
/// to cover a memory latency, few enough that the batch stays in L1.
pub(super) const BATCH: usize = 16;

/// Asks the CPU to start loading `value`'s cache line (a hint only).
#[inline(always)]
fn prefetch<T>(value: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch reads nothing the program sees and cannot fault;
    // the address is a live reference's anyway.
    unsafe {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        _mm_prefetch::<_MM_HINT_T0>((value as *const T).cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = value;
}

/// An empty slot (a slot holds the key's number + 1).
const EMPTY: u32 = 0;
/// Fewest slots once a key is in.
const MIN_BITS: u32 = 4;

/// Key texts: string → number (numbered from 0 in the order first seen).
#[derive(Default)]
pub(super) struct Keys {
    /// Open addressing, linear probing, at most 3/4 full: (tag, number + 1).
    slots: Vec<(u32, u32)>,
    /// `slots.len()` is `1 << bits` (0 before the first key).
    bits: u32,
    /// Each key's text by number.
    texts: Vec<SlotKey>,
    /// Seeded at random for each table: the keys come from hosts and
    /// snapshot files, and with a fixed seed a hostile one could send
    /// names precomputed to share one run of slots, making every lookup a
    /// walk over all of them (quadratic time). Numbers, and so the
    /// analysis, do not depend on the seed.
    hasher: RandomState,
}

impl Keys {
    /// A key's hash tag: the top half of its 64-bit hash. The table places
    /// a key by the tag's top bits, so growing the table re-places every
    /// slot from its tag alone, without hashing any text again.
    fn tag_of(&self, bytes: &[u8]) -> u32 {
        (self.hasher.hash_one(bytes) >> 32) as u32
    }

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
        if self.slots.is_empty() {
            return None;
        }
        let bytes = text.as_bytes();
        self.find(bytes, self.tag_of(bytes)).ok()
    }

    /// The number of `bytes`, or the empty slot where it would go.
    fn find(&self, bytes: &[u8], tag: u32) -> Result<u32, usize> {
        let mask = self.slots.len() - 1;
        let mut slot = self.home(tag);
        loop {
            match self.slots[slot] {
                (_, EMPTY) => return Err(slot),
                (t, id) if t == tag && self.bytes_of(id - 1) == bytes => return Ok(id - 1),
                _ => slot = (slot + 1) & mask,
            }
        }
    }

    /// The group of `text`, made when new.
    pub fn id(&mut self, text: &str) -> u32 {
        if (self.texts.len() + 1) * 4 > self.slots.len() * 3 {
            self.grow();
        }
        let tag = self.tag_of(text.as_bytes());
        self.number_tagged(text, tag)
    }

    /// The number of `text` (hashed to `tag`), made when new; the table
    /// must have room for one more key.
    fn number_tagged(&mut self, text: &str, tag: u32) -> u32 {
        match self.find(text.as_bytes(), tag) {
            Ok(id) => id,
            Err(slot) => {
                let id = self.texts.len() as u32;
                self.texts.push(SlotKey::new(text));
                self.slots[slot] = (tag, id + 1);
                id
            }
        }
    }

    /// The numbers of a batch of texts (each made when new, in order, as
    /// [`Keys::id`] would number them), written to `ids`. At a million rows
    /// the table and the texts outgrow the L2 cache and each lookup waits
    /// on two dependent misses (slot, then text); here every slot of the
    /// batch is fetched at once, then every text the slots point to, so
    /// the waits overlap instead of adding up.
    pub fn ids_of(&mut self, batch: &[&str], ids: &mut [u32]) {
        let batch = &batch[..batch.len().min(ids.len()).min(BATCH)];
        // Room for the whole batch first: no growth moves a slot between
        // its prefetch and its read.
        while (self.texts.len() + batch.len()) * 4 > self.slots.len() * 3 {
            self.grow();
        }
        let tags = self.tags_prefetched(batch);
        for ((text, &tag), id) in batch.iter().zip(&tags).zip(ids.iter_mut()) {
            *id = self.number_tagged(text, tag);
        }
    }

    /// The numbers of a batch of texts (None for a text not in the table),
    /// their misses overlapped as in [`Keys::ids_of`].
    pub fn get_batch(&self, batch: &[&str], ids: &mut [Option<u32>]) {
        let batch = &batch[..batch.len().min(ids.len()).min(BATCH)];
        if self.slots.is_empty() {
            ids.iter_mut().for_each(|id| *id = None);
            return;
        }
        let tags = self.tags_prefetched(batch);
        for ((text, &tag), id) in batch.iter().zip(&tags).zip(ids.iter_mut()) {
            *id = self.find(text.as_bytes(), tag).ok();
        }
    }

    /// Every text's number (None when absent), in order, looked up a batch at a time.
    pub fn get_all<'t>(&self, texts: impl IntoIterator<Item = &'t str>) -> Vec<Option<u32>> {
        let texts = texts.into_iter();
        let mut all = Vec::with_capacity(texts.size_hint().0);
        let mut batch = [""; BATCH];
        let mut waiting = 0;
        let mut ids = [None; BATCH];
        for text in texts {
            batch[waiting] = text;
            waiting += 1;
            if waiting == BATCH {
                self.get_batch(&batch, &mut ids);
                all.extend_from_slice(&ids);
                waiting = 0;
            }
        }
        self.get_batch(&batch[..waiting], &mut ids);
        all.extend_from_slice(&ids[..waiting]);
        all
    }

    /// The batch's tags, with every home slot, then every text those slots
    /// point to (where the tags match), already on their way to the cache.
    /// The table must not be empty.
    fn tags_prefetched(&self, batch: &[&str]) -> [u32; BATCH] {
        let mut tags = [0u32; BATCH];
        for (tag, text) in tags.iter_mut().zip(batch) {
            *tag = self.tag_of(text.as_bytes());
            prefetch(&self.slots[self.home(*tag)]);
        }
        for &tag in &tags[..batch.len()] {
            if let (t, id) = self.slots[self.home(tag)]
                && id != EMPTY
                && t == tag
                && let Some(text) = self.texts.get(id as usize - 1)
            {
                prefetch(text);
            }
        }
        tags
    }

    /// The slot where a search for `tag` starts.
    fn home(&self, tag: u32) -> usize {
        (tag >> (32 - self.bits)) as usize
    }

    /// Twice the slots, each key re-placed by its tag.
    fn grow(&mut self) {
        let bits = (self.bits + 1).max(MIN_BITS);
        let mut slots = vec![(0, EMPTY); 1 << bits];
        let mask = slots.len() - 1;
        for &(tag, id) in self.slots.iter().filter(|(_, id)| *id != EMPTY) {
            let mut slot = (tag >> (32 - bits)) as usize;
            while slots[slot].1 != EMPTY {
                slot = (slot + 1) & mask;
            }
            slots[slot] = (tag, id);
        }
        self.slots = slots;
        self.bits = bits;
    }

    pub fn len(&self) -> usize {
        self.texts.len()
    }
}

/// Texts back to back in one buffer: a list of computed keys without an
/// allocation per key.
#[derive(Default)]
pub(super) struct TextList {
    text: String,
    ends: Vec<usize>,
}

impl TextList {
    pub fn push(&mut self, text: &str) {
        self.text.push_str(text);
        self.ends.push(self.text.len());
    }

    /// The texts, in the order pushed.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        starts
            .zip(&self.ends)
            .map(|(start, &end)| self.text.get(start..end).unwrap_or_default())
    }

    fn clear(&mut self) {
        self.text.clear();
        self.ends.clear();
    }
}

/// Texts to number a batch at a time ([`Keys::ids_of`]), each with a
/// payload handed back with its number, in the order pushed: for loops
/// that number one computed key per row (the keys are copied here, so the
/// caller's buffer can be reused at once).
pub(super) struct KeyBatch<P> {
    texts: TextList,
    payloads: Vec<P>,
}

impl<P: Copy> KeyBatch<P> {
    pub fn new() -> Self {
        KeyBatch {
            texts: TextList::default(),
            payloads: Vec::with_capacity(BATCH),
        }
    }

    /// Queues `text`; a full batch is numbered in `keys` at once, each
    /// (payload, number) passed to `numbered` in order.
    pub fn push(
        &mut self,
        keys: &mut Keys,
        text: &str,
        payload: P,
        numbered: &mut impl FnMut(P, u32),
    ) {
        self.texts.push(text);
        self.payloads.push(payload);
        if self.payloads.len() == BATCH {
            self.flush(keys, numbered);
        }
    }

    /// Numbers whatever is queued (call once more after the last push).
    pub fn flush(&mut self, keys: &mut Keys, numbered: &mut impl FnMut(P, u32)) {
        let mut batch = [""; BATCH];
        for (slot, text) in batch.iter_mut().zip(self.texts.iter()) {
            *slot = text;
        }
        let waiting = self.payloads.len();
        let mut ids = [0u32; BATCH];
        keys.ids_of(&batch[..waiting], &mut ids);
        for (payload, id) in self.payloads.drain(..).zip(ids) {
            numbered(payload, id);
        }
        self.texts.clear();
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
        let groups = RowGroups::of_members(&members, keys.len());
        KeyGroups { keys, groups }
    }
}

/// Rows by key number: key `k`'s rows are `rows[starts[k]..starts[k + 1]]`.
/// The numbers may come from a dictionary shared with other sources (see
/// `users::ScriptIndex`), so that one lookup of a text serves them all.
pub(super) struct RowGroups {
    starts: Vec<u32>,
    rows: Vec<u32>,
}

impl RowGroups {
    /// `members` are (key number, row) in the order added; `keys` is how
    /// many numbers there are.
    pub fn of_members(members: &[(u32, u32)], keys: usize) -> Self {
        // A counting sort by key: stable, so each key keeps its rows in
        // the order they were added.
        let mut starts = vec![0u32; keys + 1];
        for &(id, _) in members {
            starts[id as usize + 1] += 1;
        }
        for i in 1..starts.len() {
            starts[i] += starts[i - 1];
        }
        let mut next = starts.clone();
        let mut rows = vec![0u32; members.len()];
        for &(id, row) in members {
            let slot = &mut next[id as usize];
            rows[*slot as usize] = row;
            *slot += 1;
        }
        RowGroups { starts, rows }
    }

    /// The rows added under key number `id` (empty for None or a number with none).
    pub fn get(&self, id: Option<u32>) -> &[u32] {
        let Some(id) = id.map(|id| id as usize) else {
            return &[];
        };
        match (self.starts.get(id), self.starts.get(id + 1)) {
            (Some(&start), Some(&end)) => &self.rows[start as usize..end as usize],
            _ => &[],
        }
    }
}

/// Rows by key; see the module docs.
pub(super) struct KeyGroups {
    keys: Keys,
    groups: RowGroups,
}

impl KeyGroups {
    /// The rows added under `key`, in the order added (empty when none).
    pub fn get(&self, key: &str) -> &[u32] {
        self.groups.get(self.keys.get(key))
    }

    /// Each key's number (None when absent), looked up a batch at a time;
    /// [`KeyGroups::rows_of`] then gives its rows.
    pub fn ids_of_all<'t>(&self, keys: impl IntoIterator<Item = &'t str>) -> Vec<Option<u32>> {
        self.keys.get_all(keys)
    }

    /// The rows added under key number `id` (empty for None).
    pub fn rows_of(&self, id: Option<u32>) -> &[u32] {
        self.groups.get(id)
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

    #[test]
    fn each_table_has_its_own_seed() {
        // Where keys land cannot be worked out in advance: two tables
        // place the same texts differently (all eight tags equal by chance
        // would be a 2^-256 event).
        let (a, b) = (Keys::default(), Keys::default());
        let texts = [
            "alice", "bob", "carol", "dave", "eve", "frank", "grace", "heidi",
        ];
        assert!(
            texts
                .iter()
                .any(|t| a.tag_of(t.as_bytes()) != b.tag_of(t.as_bytes()))
        );
    }

    #[test]
    fn numbers_survive_growth() {
        let mut keys = Keys::default();
        assert_eq!(keys.get("absent"), None);
        let texts: Vec<String> = (0..50_000).map(|i| format!("user{i:06}")).collect();
        for (i, text) in texts.iter().enumerate() {
            assert_eq!(keys.id(text), i as u32);
        }
        for (i, text) in texts.iter().enumerate() {
            assert_eq!(keys.get(text), Some(i as u32));
            assert_eq!(keys.id(text), i as u32);
            assert_eq!(keys.text_of(i as u32), text);
        }
        assert_eq!(keys.len(), texts.len());
        assert_eq!(keys.get("user050000"), None);
    }
}

#[cfg(test)]
mod batch_tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// A batch numbers its texts exactly as one lookup at a time would,
        /// across table growth, repeats inside a batch, and long keys.
        #[test]
        fn batches_number_as_single_lookups(
            texts in prop::collection::vec("[a-c]{0,3}|x{20,26}", 0..300),
            batch in 1..=BATCH,
        ) {
            let mut one_by_one = Keys::default();
            let expected: Vec<u32> = texts.iter().map(|t| one_by_one.id(t)).collect();
            let mut batched = Keys::default();
            let mut got = Vec::new();
            for chunk in texts.chunks(batch) {
                let chunk: Vec<&str> = chunk.iter().map(String::as_str).collect();
                let mut ids = [0u32; BATCH];
                batched.ids_of(&chunk, &mut ids);
                got.extend_from_slice(&ids[..chunk.len()]);
            }
            prop_assert_eq!(&got, &expected);
            prop_assert_eq!(batched.len(), one_by_one.len());
            for (id, text) in expected.iter().zip(&texts) {
                prop_assert_eq!(batched.text_of(*id), text.as_str());
            }
            let looked_up = batched.get_all(texts.iter().map(String::as_str).chain(["absent"]));
            let mut want: Vec<Option<u32>> = expected.iter().copied().map(Some).collect();
            want.push(None);
            prop_assert_eq!(looked_up, want);
        }

        /// A [`KeyBatch`] hands every payload back once, in the order
        /// pushed, with the number one lookup at a time would give, however
        /// the pushes fall across batches.
        #[test]
        fn key_batch_keeps_order_and_numbers(
            texts in prop::collection::vec("[a-c]{0,3}|y{21,24}", 0..200),
        ) {
            let mut one_by_one = Keys::default();
            let expected: Vec<(usize, u32)> =
                texts.iter().enumerate().map(|(i, t)| (i, one_by_one.id(t))).collect();
            let mut keys = Keys::default();
            let mut got = Vec::new();
            let mut numbered = |row: usize, id: u32| got.push((row, id));
            let mut batch = KeyBatch::new();
            for (row, text) in texts.iter().enumerate() {
                batch.push(&mut keys, text, row, &mut numbered);
            }
            batch.flush(&mut keys, &mut numbered);
            prop_assert_eq!(got, expected);
        }
    }
}
