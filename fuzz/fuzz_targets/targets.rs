//! Target lists: any text parses to entries or an error naming a line; the
//! set built from them counts what it yields, yields nothing twice, and its
//! shards are disjoint.
#![no_main]

use std::collections::HashSet;

use libfuzzer_sys::fuzz_target;
use lingerscan::targets::{Shard, TargetSet, parse_list};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // Half the list is included, the other half excluded.
    let middle = text
        .char_indices()
        .map(|(i, _)| i)
        .nth(text.chars().count() / 2)
        .unwrap_or(text.len());
    let (include, exclude) = text.split_at(middle);
    let (Ok(include), Ok(exclude)) = (parse_list("fuzz", include), parse_list("fuzz", exclude)) else {
        return;
    };
    let Ok(set) = TargetSet::new(include, exclude, |n| n == "me") else {
        return;
    };
    // Only small sets are walked whole; the count must still be exact.
    if set.len() <= 4096 {
        let all: Vec<_> = set.iter().collect();
        assert_eq!(all.len() as u128, set.len());
        let unique: HashSet<_> = all.iter().collect();
        assert_eq!(unique.len(), all.len());
        let shard = Shard { k: 2, n: 3 };
        assert_eq!(set.shard(shard).count() as u128, set.shard_len(shard));
    }
});
