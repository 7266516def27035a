//! The order a fleet is scanned in: spread over the list, not in list order.
//!
//! Dead or filtered hosts come in blocks (a decommissioned subnet, the end
//! of a DHCP range). Scanned in list order, such a block arrives together,
//! fills every slot with hosts that only time out, and leaves the live
//! hosts' work and theirs one after the other: a tail of
//! `ceil(dead / concurrency) × timeout` with nothing else to do. Visiting
//! index `i × stride mod len` with a stride near `len / φ` (coprime with
//! `len`, so every index comes exactly once) spreads any block evenly over
//! the run, where its waits overlap the live hosts' work; it also spreads
//! the load over subnets, as masscan does. The order is deterministic, and
//! shards (`--shard K/N`) keep their members: only the visiting order
//! within a shard changes.

use super::set::{Target, TargetSet};

/// The targets of `members` (indices into the set's canonical order,
/// `first, first + step, …`, `count` of them) in spread order.
pub fn spread(
    set: &TargetSet,
    first: u128,
    step: u128,
    count: u128,
) -> impl Iterator<Item = Target> + Send + '_ {
    let stride = stride_for(count);
    let index = set.index();
    (0..count).filter_map(move |i| {
        let j = if count == 0 {
            0
        } else {
            mul_mod(i, stride, count)
        };
        index.nth(set, first + j * step)
    })
}

/// A stride near `len / φ` that is coprime with `len` (1 for tiny lists).
fn stride_for(len: u128) -> u128 {
    if len < 3 {
        return 1;
    }
    // len × (√5 − 1) / 2, in integers: 0.6180339887 ≈ 6180339887 / 10^10.
    let mut stride = (len / 10_000_000_000) * 6_180_339_887
        + (len % 10_000_000_000) * 6_180_339_887 / 10_000_000_000;
    stride = stride.clamp(1, len - 1);
    while gcd(stride, len) != 1 {
        stride += 1;
    }
    stride
}

fn gcd(mut a: u128, mut b: u128) -> u128 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// `a × b mod m` without overflow (m ≤ 2^32 targets, so the product fits).
fn mul_mod(a: u128, b: u128, m: u128) -> u128 {
    (a % m).saturating_mul(b % m) % m
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::targets::parse_line;
    use proptest::prelude::*;

    fn set(entries: &[&str]) -> TargetSet {
        let specs = entries
            .iter()
            .enumerate()
            .flat_map(|(i, e)| parse_line("--host", i + 1, e).unwrap())
            .collect::<Vec<_>>();
        TargetSet::new(specs, Vec::new(), |_| false).unwrap()
    }

    #[test]
    fn a_dead_block_at_the_end_is_spread_over_the_run() {
        // 900 live addresses, then a block of 100 dead ones.
        let s = set(&["10.0.0.0-10.0.3.131", "10.9.0.0-10.9.0.99"]);
        assert_eq!(s.len(), 1000);
        let order: Vec<Target> = spread(&s, 0, 1, 1000).collect();
        let dead_at: Vec<usize> = order
            .iter()
            .enumerate()
            .filter(|(_, t)| t.to_string().starts_with("10.9."))
            .map(|(i, _)| i)
            .collect();
        assert_eq!(dead_at.len(), 100);
        // Every tenth of the run holds about a tenth of the dead block.
        for tenth in 0..10 {
            let n = dead_at.iter().filter(|&&i| i / 100 == tenth).count();
            assert!((5..=15).contains(&n), "tenth {tenth}: {n} dead hosts");
        }
    }

    proptest! {
        #[test]
        fn every_target_comes_exactly_once(
            a in 0u32..300, len in 0u32..300, names in 0usize..5, local in any::<bool>(),
        ) {
            let mut entries: Vec<String> = (0..names).map(|i| format!("host{i}")).collect();
            if len > 0 {
                let start = std::net::Ipv4Addr::from(0x0a00_0000 + a);
                let end = std::net::Ipv4Addr::from(0x0a00_0000 + a + len - 1);
                entries.push(format!("{start}-{end}"));
            }
            if local {
                entries.push(".".to_string());
            }
            let refs: Vec<&str> = entries.iter().map(String::as_str).collect();
            let specs = refs
                .iter()
                .enumerate()
                .flat_map(|(i, e)| parse_line("--host", i + 1, e).unwrap())
                .collect::<Vec<_>>();
            let s = TargetSet::new(specs, Vec::new(), |n| n == ".").unwrap();
            let mut canonical: Vec<String> = s.iter().map(|t| t.to_string()).collect();
            let mut spread_order: Vec<String> =
                spread(&s, 0, 1, s.len()).map(|t| t.to_string()).collect();
            prop_assert_eq!(spread_order.len(), canonical.len());
            canonical.sort();
            spread_order.sort();
            prop_assert_eq!(spread_order, canonical);
        }

        #[test]
        fn a_shard_keeps_its_members(len in 1u32..400, n in 1u64..6, k_seed in 0u64..6) {
            let k = k_seed % n + 1;
            let start = std::net::Ipv4Addr::from(0x0a00_0000);
            let end = std::net::Ipv4Addr::from(0x0a00_0000 + len - 1);
            let s = set(&[&format!("{start}-{end}")]);
            let shard = crate::targets::Shard::new(k, n).unwrap();
            let mut members: Vec<String> = s.shard(shard).map(|t| t.to_string()).collect();
            let count = s.shard_len(shard);
            let mut spread_members: Vec<String> =
                spread(&s, u128::from(k - 1), u128::from(n), count).map(|t| t.to_string()).collect();
            members.sort();
            spread_members.sort();
            prop_assert_eq!(spread_members, members);
        }
    }
}
