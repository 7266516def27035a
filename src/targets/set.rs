//! A deduplicated target list that is never materialised: names (as many as
//! were written) and merged address intervals (a /8 is one pair of numbers).
//! Iteration yields each target once, in a fixed order: this machine, names
//! in the order first written, IPv4 ascending, IPv6 ascending.

use std::collections::HashSet;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::parse::Spec;

/// The most targets one run takes: 2^32 (an IPv6 /96), far beyond any sweep
/// that could finish, but a /64 typed by mistake is refused at once.
pub const MAX_TARGETS: u128 = 1 << 32;

/// One host to scan.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Target {
    Local,
    Name(String),
    Ip(IpAddr),
}

impl Target {
    /// What the collector is given: the name or the address (None: this machine).
    pub fn host(&self) -> Option<String> {
        match self {
            Target::Local => None,
            Target::Name(name) => Some(name.clone()),
            Target::Ip(ip) => Some(ip.to_string()),
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Local => f.write_str("localhost"),
            Target::Name(name) => f.write_str(name),
            Target::Ip(ip) => write!(f, "{ip}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SetError {
    #[error("{count} targets is more than one run takes ({MAX_TARGETS}); split the ranges")]
    TooMany { count: u128 },
    #[error("shard {k}/{n}: K must be from 1 to N")]
    BadShard { k: u64, n: u64 },
}

/// `--shard K/N`: the K-th (1-based) of N interleaved slices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub k: u64,
    pub n: u64,
}

impl Shard {
    pub fn new(k: u64, n: u64) -> Result<Shard, SetError> {
        if n == 0 || k == 0 || k > n {
            return Err(SetError::BadShard { k, n });
        }
        Ok(Shard { k, n })
    }

    /// `K/N`.
    pub fn parse(text: &str) -> Result<Shard, String> {
        let (k, n) = text
            .split_once('/')
            .ok_or_else(|| format!("'{text}' is not K/N (e.g. 2/8)"))?;
        let number = |s: &str| {
            s.trim()
                .parse::<u64>()
                .map_err(|_| format!("'{text}' is not K/N (e.g. 2/8)"))
        };
        Shard::new(number(k)?, number(n)?).map_err(|e| e.to_string())
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetSet {
    local: bool,
    names: Vec<String>,
    v4: Vec<(u32, u32)>,
    v6: Vec<(u128, u128)>,
}

impl TargetSet {
    /// `include` minus `exclude`, duplicates removed. `is_local` says which
    /// names mean this machine (its own host name, for example).
    pub fn new(
        include: impl IntoIterator<Item = Spec>,
        exclude: impl IntoIterator<Item = Spec>,
        is_local: impl Fn(&str) -> bool,
    ) -> Result<TargetSet, SetError> {
        let mut set = TargetSet::default();
        let mut seen = HashSet::new();
        for spec in include {
            match spec {
                Spec::Local => set.local = true,
                Spec::Name(name) if is_local(&name) => set.local = true,
                Spec::Name(name) => {
                    if seen.insert(name.to_ascii_lowercase()) {
                        set.names.push(name);
                    }
                }
                Spec::V4(a, b) => set.v4.push((a, b)),
                Spec::V6(a, b) => set.v6.push((a, b)),
            }
        }
        let (mut out_v4, mut out_v6) = (Vec::new(), Vec::new());
        let mut out_names = HashSet::new();
        for spec in exclude {
            match spec {
                Spec::Local => set.local = false,
                Spec::Name(name) if is_local(&name) => set.local = false,
                Spec::Name(name) => {
                    out_names.insert(name.to_ascii_lowercase());
                }
                Spec::V4(a, b) => out_v4.push((a, b)),
                Spec::V6(a, b) => out_v6.push((a, b)),
            }
        }
        set.names
            .retain(|name| !out_names.contains(&name.to_ascii_lowercase()));
        set.v4 = subtract(merge(set.v4), &merge(out_v4));
        set.v6 = subtract(merge(set.v6), &merge(out_v6));
        let count = set.len();
        if count > MAX_TARGETS {
            return Err(SetError::TooMany { count });
        }
        Ok(set)
    }

    /// How many targets (each counted once).
    pub fn len(&self) -> u128 {
        let v4: u128 = self.v4.iter().map(|&(a, b)| u128::from(b - a) + 1).sum();
        let v6: u128 = self
            .v6
            .iter()
            .map(|&(a, b)| (b - a).saturating_add(1))
            .fold(0, u128::saturating_add);
        // `::/0` alone is 2^128 addresses: the count saturates rather than wraps.
        u128::from(self.local)
            .saturating_add(self.names.len() as u128)
            .saturating_add(v4)
            .saturating_add(v6)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether any target is another machine (then credentials are needed).
    pub fn has_remote(&self) -> bool {
        !self.names.is_empty() || !self.v4.is_empty() || !self.v6.is_empty()
    }

    /// The first remote target, to name in an error.
    pub fn first_remote(&self) -> Option<Target> {
        self.iter().find(|t| *t != Target::Local)
    }

    /// Every target, once, lazily.
    pub fn iter(&self) -> impl Iterator<Item = Target> + Send + '_ {
        let local = self.local.then_some(Target::Local);
        let names = self.names.iter().map(|n| Target::Name(n.clone()));
        let v4 = self
            .v4
            .iter()
            .flat_map(|&(a, b)| (a..=b).map(|n| Target::Ip(IpAddr::V4(Ipv4Addr::from(n)))));
        let v6 = self
            .v6
            .iter()
            .flat_map(|&(a, b)| (a..=b).map(|n| Target::Ip(IpAddr::V6(Ipv6Addr::from(n)))));
        local.into_iter().chain(names).chain(v4).chain(v6)
    }

    /// Prefix counts for [`SetIndex::nth`]: random access in the canonical
    /// order (the order of [`TargetSet::iter`]) in O(log ranges).
    pub fn index(&self) -> SetIndex {
        let prefix = |sizes: &mut dyn Iterator<Item = u128>| {
            let mut total = 0u128;
            sizes
                .map(|size| {
                    total = total.saturating_add(size);
                    total
                })
                .collect()
        };
        SetIndex {
            v4_ends: prefix(&mut self.v4.iter().map(|&(a, b)| u128::from(b - a) + 1)),
            v6_ends: prefix(&mut self.v6.iter().map(|&(a, b)| (b - a).saturating_add(1))),
        }
    }

    /// The targets of one shard: every N-th, starting at the K-th. The
    /// shards of one list are disjoint and together are the list.
    pub fn shard(&self, shard: Shard) -> impl Iterator<Item = Target> + Send + '_ {
        // n ≤ u64::MAX, and step_by takes usize: on 64-bit targets it fits.
        let step = usize::try_from(shard.n).unwrap_or(usize::MAX);
        let skip = usize::try_from(shard.k - 1).unwrap_or(usize::MAX);
        self.iter().skip(skip).step_by(step)
    }

    /// How many targets one shard holds.
    pub fn shard_len(&self, shard: Shard) -> u128 {
        let total = self.len();
        let (k, n) = (u128::from(shard.k), u128::from(shard.n));
        if total < k { 0 } else { (total - k) / n + 1 }
    }

    /// The single target, when the set holds exactly one.
    pub fn single(&self) -> Option<Target> {
        if self.len() == 1 {
            self.iter().next()
        } else {
            None
        }
    }
}

/// Cumulative range sizes of a [`TargetSet`], for random access.
#[derive(Debug, Clone)]
pub struct SetIndex {
    v4_ends: Vec<u128>,
    v6_ends: Vec<u128>,
}

impl SetIndex {
    /// The `i`-th target of `set` in its canonical order.
    pub fn nth(&self, set: &TargetSet, mut i: u128) -> Option<Target> {
        if set.local {
            if i == 0 {
                return Some(Target::Local);
            }
            i -= 1;
        }
        let names = set.names.len() as u128;
        if i < names {
            return set.names.get(i as usize).cloned().map(Target::Name);
        }
        i -= names;
        let v4_total = self.v4_ends.last().copied().unwrap_or(0);
        if i < v4_total {
            let range = self.v4_ends.partition_point(|&end| end <= i);
            let before = range.checked_sub(1).map_or(0, |r| self.v4_ends[r]);
            let (a, _) = *set.v4.get(range)?;
            let n = u32::try_from(i - before).ok()?;
            return Some(Target::Ip(IpAddr::V4(Ipv4Addr::from(a.checked_add(n)?))));
        }
        i -= v4_total;
        let range = self.v6_ends.partition_point(|&end| end <= i);
        let before = range.checked_sub(1).map_or(0, |r| self.v6_ends[r]);
        let (a, _) = *set.v6.get(range)?;
        Some(Target::Ip(IpAddr::V6(Ipv6Addr::from(
            a.checked_add(i - before)?,
        ))))
    }
}

/// Sorted, overlapping and adjacent intervals joined.
fn merge<T: Copy + Ord + Step>(mut ranges: Vec<(T, T)>) -> Vec<(T, T)> {
    ranges.sort_unstable();
    let mut out: Vec<(T, T)> = Vec::with_capacity(ranges.len());
    for (a, b) in ranges {
        match out.last_mut() {
            Some(last) if a <= last.1.next_or_max() => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

/// `ranges` without `holes` (both merged and sorted).
fn subtract<T: Copy + Ord + Step>(ranges: Vec<(T, T)>, holes: &[(T, T)]) -> Vec<(T, T)> {
    let mut out = Vec::with_capacity(ranges.len());
    let mut hole = 0;
    for (mut a, b) in ranges {
        // Holes entirely before this range matter to no later range either.
        while hole < holes.len() && holes[hole].1 < a {
            hole += 1;
        }
        let mut h = hole;
        let mut open = true;
        while open && h < holes.len() && holes[h].0 <= b {
            let (ha, hb) = holes[h];
            if ha > a {
                out.push((a, ha.prev()));
            }
            if hb >= b {
                open = false;
            } else {
                a = hb.next_or_max();
                h += 1;
            }
        }
        if open {
            out.push((a, b));
        }
    }
    out
}

/// Integer neighbours, for interval arithmetic on u32 and u128.
trait Step: Sized {
    fn next_or_max(self) -> Self;
    fn prev(self) -> Self;
}

impl Step for u32 {
    fn next_or_max(self) -> Self {
        self.saturating_add(1)
    }
    fn prev(self) -> Self {
        self.saturating_sub(1)
    }
}

impl Step for u128 {
    fn next_or_max(self) -> Self {
        self.saturating_add(1)
    }
    fn prev(self) -> Self {
        self.saturating_sub(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::targets::parse::parse_entry;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    fn specs(entries: &[&str]) -> Vec<Spec> {
        entries.iter().map(|e| parse_entry(e).unwrap()).collect()
    }

    fn set(include: &[&str], exclude: &[&str]) -> TargetSet {
        TargetSet::new(specs(include), specs(exclude), |n| n == "me").unwrap()
    }

    fn shown(set: &TargetSet) -> Vec<String> {
        set.iter().map(|t| t.to_string()).collect()
    }

    #[test]
    fn duplicates_once_in_a_fixed_order() {
        let s = set(
            &[
                "10.0.0.5",
                "SRV",
                "10.0.0.4-6",
                "srv",
                ".",
                "me",
                "localhost",
                "::2",
                "10.0.0.5",
            ],
            &[],
        );
        assert_eq!(
            shown(&s),
            [
                "localhost",
                "SRV",
                "10.0.0.4",
                "10.0.0.5",
                "10.0.0.6",
                "::2"
            ]
        );
        assert_eq!(s.len(), 6);
    }

    #[test]
    fn exclusions_in_every_form() {
        let s = set(
            &["10.0.0.0/29", "a", "b", "."],
            &["10.0.0.2-3", "B", "localhost", "10.0.0.6/32"],
        );
        assert_eq!(shown(&s), ["a", "10.0.0.1", "10.0.0.4", "10.0.0.5"]);
    }

    /// Found by the `targets` fuzz target: the whole IPv6 space plus a
    /// name overflowed the count instead of being refused as too many.
    #[test]
    fn the_whole_ipv6_space_is_too_many_not_an_overflow() {
        let result = TargetSet::new(specs(&["::/0", "yqm", "me"]), specs(&[]), |n| n == "me");
        assert!(
            matches!(result, Err(SetError::TooMany { .. })),
            "{result:?}"
        );
    }

    #[test]
    fn a_slash_8_is_not_materialised() {
        let s = set(&["10.0.0.0/8"], &["10.1.0.0/16"]);
        assert_eq!(s.len(), (1 << 24) - 2 - (1 << 16) + 2);
        assert_eq!(s.v4.len(), 2, "two intervals, not millions of addresses");
        assert_eq!(
            s.iter().next(),
            Some(Target::Ip("10.0.0.1".parse().unwrap()))
        );
        let shard = Shard::new(3, 1000).unwrap();
        assert_eq!(
            s.shard(shard).next(),
            Some(Target::Ip("10.0.0.3".parse().unwrap()))
        );
    }

    #[test]
    fn a_v6_slash_64_is_refused() {
        let err = TargetSet::new(specs(&["fd00::/64"]), [], |_| false).unwrap_err();
        assert!(matches!(err, SetError::TooMany { .. }), "{err}");
    }

    #[test]
    fn shards() {
        assert_eq!(Shard::parse("2/8"), Ok(Shard { k: 2, n: 8 }));
        for bad in ["0/8", "9/8", "1/0", "x/2", "3"] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
    }

    /// An entry over a small space, so a naive set can check the answer.
    fn small_entry() -> impl Strategy<Value = String> {
        prop_oneof![
            (0u8..40).prop_map(|d| format!("10.0.0.{d}")),
            (0u8..40, 0u8..40).prop_map(|(a, b)| format!("10.0.0.{}-{}", a.min(b), a.max(b))),
            (0u8..40, 28u8..=32).prop_map(|(d, p)| format!("10.0.0.{d}/{p}")),
            (0u16..40).prop_map(|d| format!("::{d:x}")),
            (0u16..40, 124u8..=128).prop_map(|(d, p)| format!("::{d:x}/{p}")),
            "[a-c]{1,2}".prop_map(|s| s),
            Just(".".to_string()),
        ]
    }

    fn naive(entries: &[String]) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        for e in entries {
            let one = TargetSet::new([parse_entry(e).unwrap()], [], |_| false).unwrap();
            // A single entry's own expansion: its intervals are not merged with anything.
            out.extend(one.iter().map(|t| t.to_string().to_ascii_lowercase()));
        }
        out
    }

    proptest! {
        #[test]
        fn iteration_is_the_set_difference_without_repeats(
            include in prop::collection::vec(small_entry(), 0..8),
            exclude in prop::collection::vec(small_entry(), 0..4),
        ) {
            let set = TargetSet::new(
                include.iter().map(|e| parse_entry(e).unwrap()),
                exclude.iter().map(|e| parse_entry(e).unwrap()),
                |_| false,
            ).unwrap();
            let got: Vec<String> = set.iter().map(|t| t.to_string().to_ascii_lowercase()).collect();
            let unique: BTreeSet<String> = got.iter().cloned().collect();
            prop_assert_eq!(unique.len(), got.len(), "a target repeats: {:?}", got);
            prop_assert_eq!(set.len(), got.len() as u128);
            let want: BTreeSet<String> = naive(&include).difference(&naive(&exclude)).cloned().collect();
            prop_assert_eq!(unique, want);
        }

        #[test]
        fn shards_partition_the_list(
            include in prop::collection::vec(small_entry(), 0..8),
            n in 1u64..6,
        ) {
            let set = TargetSet::new(include.iter().map(|e| parse_entry(e).unwrap()), [], |_| false).unwrap();
            let all: Vec<Target> = set.iter().collect();
            let mut joined = Vec::new();
            for k in 1..=n {
                let shard = Shard::new(k, n).unwrap();
                let part: Vec<Target> = set.shard(shard).collect();
                prop_assert_eq!(part.len() as u128, set.shard_len(shard));
                joined.extend(part);
            }
            let mut all_sorted: Vec<String> = all.iter().map(ToString::to_string).collect();
            let mut joined_sorted: Vec<String> = joined.iter().map(ToString::to_string).collect();
            all_sorted.sort();
            joined_sorted.sort();
            prop_assert_eq!(all_sorted, joined_sorted);
        }

        #[test]
        fn the_parser_never_panics(text in "\\PC{0,40}") {
            let _ = parse_entry(&text);
        }

        #[test]
        fn addresses_and_names_round_trip(a in any::<u32>(), b in any::<u128>(), name in "[a-z][a-z0-9-]{0,20}[a-z0-9]") {
            let v4 = Ipv4Addr::from(a).to_string();
            prop_assert_eq!(parse_entry(&v4), Ok(Spec::V4(a, a)));
            let v6 = Ipv6Addr::from(b).to_string();
            prop_assert_eq!(parse_entry(&v6), Ok(Spec::V6(b, b)));
            prop_assert_eq!(parse_entry(&name), Ok(Spec::Name(name.clone())));
        }
    }
}
