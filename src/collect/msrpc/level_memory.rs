//! Which NetrSessionEnum info level a kind of server answers, remembered
//! for one run.
//!
//! lingerscan asks for level 502, then 10, then 1 (the richest first).
//! Samba serves only 0 and 1 and refuses the others with
//! WERR_INVALID_LEVEL: two wasted round trips per Samba host, which a fleet
//! of Samba servers pays thousands of times. The NTLM CHALLENGE's Version
//! field (product version and build, MS-NLMP 2.2.2.10) tells one kind of
//! server from another before any RPC call; once a kind has answered at a
//! level, the next host of that kind starts there. A kind that answered
//! 502 starts at 502, so a host that serves the richer levels never loses
//! them; only levels a server of the same kind refused are skipped.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The NTLM Version field of a server's CHALLENGE.
pub type ServerKind = [u8; 8];

/// Shared by every host of a run (clones share one table).
#[derive(Debug, Clone, Default)]
pub struct LevelMemory(Arc<Mutex<HashMap<ServerKind, u32>>>);

impl LevelMemory {
    /// The level a server of this kind answered at before, if any.
    pub fn start_level(&self, kind: &ServerKind) -> Option<u32> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(kind)
            .copied()
    }

    /// A server of this kind answered at `level`.
    pub fn learned(&self, kind: ServerKind, level: u32) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(kind, level);
    }
}

/// Two options are equal when they share the same table.
impl PartialEq for LevelMemory {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for LevelMemory {}

/// The levels to try, in order: from the remembered one on (levels before
/// it were refused by this kind of server), or all of them.
pub fn levels_from<T: Copy>(levels: &[(u32, T)], start: Option<u32>) -> Vec<(u32, T)> {
    let from = start
        .and_then(|level| levels.iter().position(|&(l, _)| l == level))
        .unwrap_or(0);
    levels[from..].to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kind_remembers_its_level_and_clones_share_it() {
        let memory = LevelMemory::default();
        let samba = [6, 1, 0xb0, 0x1d, 0, 0, 0, 15];
        let windows = [10, 0, 0x63, 0x45, 0, 0, 0, 15];
        assert_eq!(memory.start_level(&samba), None);
        memory.clone().learned(samba, 1);
        assert_eq!(memory.start_level(&samba), Some(1));
        assert_eq!(memory.start_level(&windows), None);
        assert_eq!(memory, memory.clone());
        assert_ne!(memory, LevelMemory::default());
    }

    #[test]
    fn levels_start_at_the_remembered_one() {
        let levels = [(502, 'a'), (10, 'b'), (1, 'c'), (0, 'd')];
        assert_eq!(levels_from(&levels, None), levels.to_vec());
        assert_eq!(levels_from(&levels, Some(1)), vec![(1, 'c'), (0, 'd')]);
        assert_eq!(levels_from(&levels, Some(502)), levels.to_vec());
        assert_eq!(
            levels_from(&levels, Some(7)),
            levels.to_vec(),
            "unknown level: all"
        );
    }
}
