//! The order to try SRV targets in (RFC 2782, "Usage rules"): lowest
//! priority first; within one priority, a weighted random draw: the
//! records with weight 0 first, then repeatedly pick a number between 0
//! and the sum of the weights left and take the first record whose
//! running sum reaches it. The draw is from 0 to the sum inclusive, as
//! the RFC says, so a target with weight 3 comes before one with weight 1
//! three times out of five (not four: the RFC's rule favours the first
//! record a little, which keeps weight-0 records reachable).
//!
//! The randomness comes from the caller: a seeded generator
//! ([`SplitMix64`]), seeded from the operating system by discovery, and
//! from a fixed seed in tests (the same seed gives the same order).

use super::message::SrvRecord;

/// A small generator (SplitMix64, Steele et al. 2014): good enough to
/// spread load over DCs, not for secrets.
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64(seed)
    }

    /// Seeded from the operating system's random source; from the clock
    /// if that fails (the order then is merely less random).
    pub fn from_entropy() -> SplitMix64 {
        let mut seed = [0u8; 8];
        if getrandom::fill(&mut seed).is_err() {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0);
            seed = nanos.to_le_bytes();
        }
        SplitMix64(u64::from_le_bytes(seed))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..=bound`.
    pub fn up_to(&mut self, bound: u32) -> u32 {
        (self.next_u64() % (u64::from(bound) + 1)) as u32
    }
}

/// The records in the order to try them; duplicates (same target and
/// port) are kept once, at their first place.
pub fn order(mut records: Vec<SrvRecord>, random: &mut SplitMix64) -> Vec<SrvRecord> {
    records.sort_by_key(|r| r.priority);
    let mut ordered: Vec<SrvRecord> = Vec::with_capacity(records.len());
    let mut rest = records.as_slice();
    while let Some(first) = rest.first() {
        let same = rest
            .iter()
            .take_while(|r| r.priority == first.priority)
            .count();
        let (group, after) = rest.split_at(same);
        for record in weighted(group.to_vec(), random) {
            if !ordered
                .iter()
                .any(|o| o.target == record.target && o.port == record.port)
            {
                ordered.push(record);
            }
        }
        rest = after;
    }
    ordered
}

/// One priority's records in weighted random order.
fn weighted(mut group: Vec<SrvRecord>, random: &mut SplitMix64) -> Vec<SrvRecord> {
    // Weight 0 first: they are chosen only when the sum is 0 or the draw is 0.
    group.sort_by_key(|r| r.weight != 0);
    let mut out = Vec::with_capacity(group.len());
    while !group.is_empty() {
        let total: u32 = group.iter().map(|r| u32::from(r.weight)).sum();
        let draw = random.up_to(total);
        let mut running = 0u32;
        let index = group
            .iter()
            .position(|r| {
                running += u32::from(r.weight);
                running >= draw
            })
            .unwrap_or(0);
        out.push(group.remove(index));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn srv(priority: u16, weight: u16, target: &str) -> SrvRecord {
        SrvRecord {
            priority,
            weight,
            port: 389,
            target: target.to_string(),
        }
    }

    fn targets(records: &[SrvRecord]) -> Vec<&str> {
        records.iter().map(|r| r.target.as_str()).collect()
    }

    #[test]
    fn lower_priority_always_first() {
        let records = vec![srv(10, 100, "c"), srv(0, 0, "a"), srv(5, 65535, "b")];
        for seed in 0..50 {
            let ordered = order(records.clone(), &mut SplitMix64::new(seed));
            assert_eq!(targets(&ordered), ["a", "b", "c"]);
        }
    }

    #[test]
    fn weights_share_the_first_place() {
        let records = vec![srv(0, 1, "light"), srv(0, 3, "heavy")];
        let mut random = SplitMix64::new(7);
        let heavy_first = (0..4000)
            .filter(|_| order(records.clone(), &mut random)[0].target == "heavy")
            .count();
        // RFC 2782's draw is from 0 to the sum inclusive: 0 and 1 pick
        // "light", 2, 3 and 4 pick "heavy": 3 in 5.
        assert!((2200..2600).contains(&heavy_first), "{heavy_first}");
    }

    #[test]
    fn same_seed_same_order_and_nothing_lost() {
        let records: Vec<_> = (0..20)
            .map(|i| srv(i % 3, i * 7, &format!("dc{i}")))
            .collect();
        let a = order(records.clone(), &mut SplitMix64::new(42));
        let b = order(records.clone(), &mut SplitMix64::new(42));
        assert_eq!(a, b);
        let mut names = targets(&a);
        names.sort_unstable();
        let mut all = targets(&records);
        all.sort_unstable();
        assert_eq!(names, all);
    }

    #[test]
    fn duplicates_kept_once() {
        let records = vec![srv(0, 1, "a"), srv(0, 1, "a"), srv(1, 0, "a")];
        assert_eq!(order(records, &mut SplitMix64::new(1)).len(), 1);
    }
}
