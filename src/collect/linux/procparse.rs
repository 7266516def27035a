//! Parsers of /proc text (pure, no I/O): stat, status, id files, cgroup, /proc/stat, /etc/passwd.

use std::collections::HashMap;

/// The fields of /proc/PID/stat that we use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcStat<'a> {
    pub pid: u32,
    /// The command name as the kernel keeps it (up to 15 bytes, any bytes but NUL).
    pub comm: &'a [u8],
    pub state: u8,
    pub ppid: u32,
    /// Field 9: the kernel's PF_* flags.
    pub flags: u64,
    /// Field 22: start time in clock ticks after boot.
    pub start_ticks: u64,
}

/// PF_KTHREAD: the process is a kernel thread.
const PF_KTHREAD: u64 = 0x0020_0000;

impl ProcStat<'_> {
    pub fn is_kernel_thread(&self) -> bool {
        self.flags & PF_KTHREAD != 0
    }
}

/// Parse /proc/PID/stat. The command name sits between the first `(` and
/// the *last* `)`, because it may itself contain spaces and parentheses.
pub fn parse_stat(text: &[u8]) -> Option<ProcStat<'_>> {
    let open = text.iter().position(|&b| b == b'(')?;
    let close = text.iter().rposition(|&b| b == b')')?;
    if close < open {
        return None;
    }
    let pid = parse_decimal(trim_ascii(&text[..open]))?;
    let comm = &text[open + 1..close];
    // After ") ": field 3 (state) onwards, space separated.
    let mut fields = text
        .get(close + 1..)?
        .split(|&b| b == b' ')
        .filter(|f| !f.is_empty());
    let state = *fields.next()?.first()?;
    let ppid = parse_decimal(fields.next()?)?;
    // Fields 5..=8 skipped, 9 is flags; 10..=21 skipped, 22 is start time.
    let flags = parse_decimal_u64(fields.nth(4)?)?;
    let start_ticks = parse_decimal_u64(fields.nth(12)?)?;
    Some(ProcStat {
        pid,
        comm,
        state,
        ppid,
        flags,
        start_ticks,
    })
}

fn trim_ascii(bytes: &[u8]) -> &[u8] {
    bytes.trim_ascii()
}

fn parse_decimal_u64(bytes: &[u8]) -> Option<u64> {
    let bytes = trim_ascii(bytes);
    if bytes.is_empty() || bytes.len() > 20 {
        return None;
    }
    bytes.iter().try_fold(0u64, |acc, &b| {
        if b.is_ascii_digit() {
            acc.checked_mul(10)?.checked_add(u64::from(b - b'0'))
        } else {
            None
        }
    })
}

fn parse_decimal(bytes: &[u8]) -> Option<u32> {
    u32::try_from(parse_decimal_u64(bytes)?).ok()
}

/// The real uid from /proc/PID/status (`Uid:\treal\teffective\tsaved\tfs`).
pub fn parse_status_uid(text: &[u8]) -> Option<u32> {
    let start = find(text, b"\nUid:")
        .map(|i| i + 5)
        .or_else(|| text.starts_with(b"Uid:").then_some(4))?;
    let rest = &text[start..];
    let rest = &rest[rest.iter().position(|b| !b.is_ascii_whitespace())?..];
    let end = rest
        .iter()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(rest.len());
    parse_decimal(&rest[..end])
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A /proc id file (loginuid, sessionid): 4294967295 means unset → None.
pub fn parse_id_file(text: &[u8]) -> Option<u32> {
    parse_decimal(text).filter(|&v| v != u32::MAX)
}

/// The logind session from /proc/PID/cgroup: a `session-N.scope` path
/// component in any hierarchy (v2 `0::`, or v1 `name=systemd`).
pub fn parse_cgroup_session(text: &[u8]) -> Option<&str> {
    text.split(|&b| b == b'\n').find_map(|line| {
        let path = line.splitn(3, |&b| b == b':').nth(2)?;
        std::str::from_utf8(path)
            .ok()?
            .split('/')
            .find_map(super::cgroup::session_of_scope)
    })
}

/// Boot time (`btime`, seconds since the epoch) from /proc/stat.
pub fn parse_btime(text: &[u8]) -> Option<u64> {
    let start = find(text, b"btime ")? + 6;
    let rest = &text[start..];
    let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
    parse_decimal_u64(&rest[..end])
}

/// /etc/passwd text → uid → name. Malformed lines are skipped.
pub fn parse_passwd(text: &str) -> HashMap<u32, String> {
    let mut names = HashMap::new();
    for line in text.lines() {
        let mut fields = line.split(':');
        let (Some(name), Some(_), Some(uid)) = (fields.next(), fields.next(), fields.next()) else {
            continue;
        };
        if let Ok(uid) = uid.parse::<u32>() {
            // The first entry for a uid wins, as getpwuid does.
            names.entry(uid).or_insert_with(|| name.to_string());
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn stat_line(pid: u32, comm: &str, ppid: u32, start: u64) -> String {
        let mut fields = vec!["S".to_string(), ppid.to_string()];
        fields.extend((5..=21).map(|i| i.to_string()));
        fields.push(start.to_string());
        fields.extend(["100", "200"].map(String::from));
        format!("{pid} ({comm}) {}\n", fields.join(" "))
    }

    #[test]
    fn parses_real_stat_of_self() {
        let text = std::fs::read("/proc/self/stat").unwrap();
        let stat = parse_stat(&text).unwrap();
        assert_eq!(stat.pid, std::process::id());
        assert!(stat.ppid > 0);
        assert!(stat.start_ticks > 0);
    }

    #[test]
    fn comm_with_spaces_and_parens() {
        let text = stat_line(42, "a) (b c) x", 7, 12345);
        let stat = parse_stat(text.as_bytes()).unwrap();
        assert_eq!(stat.comm, b"a) (b c) x");
        assert_eq!(
            (stat.pid, stat.ppid, stat.start_ticks, stat.state),
            (42, 7, 12345, b'S')
        );
    }

    #[test]
    fn kernel_thread_flag() {
        let mut fields: Vec<String> = (5..=21).map(|i| i.to_string()).collect();
        fields[4] = (0x0020_0040u64).to_string(); // field 9: PF_KTHREAD | PF_FORKNOEXEC
        let text = format!("2 (kthreadd) S 0 {} 77 0 0\n", fields.join(" "));
        let stat = parse_stat(text.as_bytes()).unwrap();
        assert!(stat.is_kernel_thread());
        assert_eq!(stat.start_ticks, 77);
        let user = stat_line(5, "sleep", 1, 9);
        assert!(!parse_stat(user.as_bytes()).unwrap().is_kernel_thread());
    }

    #[test]
    fn truncated_stat_is_rejected() {
        assert_eq!(parse_stat(b"42 (x) S 1 2 3"), None);
        assert_eq!(parse_stat(b"42 x) S 1"), None);
        assert_eq!(parse_stat(b""), None);
        assert_eq!(parse_stat(b") 42 ("), None);
    }

    #[test]
    fn status_real_uid() {
        let text = b"Name:\tsleep\nUmask:\t0022\nState:\tS\nUid:\t1001\t0\t0\t0\nGid:\t1001\t1001\t1001\t1001\n";
        assert_eq!(parse_status_uid(text), Some(1001));
        assert_eq!(parse_status_uid(b"Uid:\t5\t5\t5\t5\n"), Some(5));
        assert_eq!(parse_status_uid(b"Name:\tx\n"), None);
        assert_eq!(parse_status_uid(b"Name:\tx\nUid:\t\n"), None);
    }

    #[test]
    fn id_files() {
        assert_eq!(parse_id_file(b"4242"), Some(4242));
        assert_eq!(parse_id_file(b"4294967295"), None);
        assert_eq!(parse_id_file(b"x"), None);
    }

    #[test]
    fn cgroup_sessions() {
        assert_eq!(
            parse_cgroup_session(b"0::/user.slice/user-1000.slice/session-3.scope\n"),
            Some("3")
        );
        assert_eq!(
            parse_cgroup_session(
                b"12:cpu:/\n1:name=systemd:/user.slice/user-0.slice/session-c12.scope\n0::/\n"
            ),
            Some("c12")
        );
        assert_eq!(
            parse_cgroup_session(b"0::/system.slice/sshd.service\n"),
            None
        );
        assert_eq!(
            parse_cgroup_session(b"0::/user.slice/session-.scope\n"),
            None
        );
    }

    #[test]
    fn btime_and_passwd() {
        assert_eq!(
            parse_btime(b"cpu  1 2 3\nintr 5\nbtime 1700000000\nprocesses 9\n"),
            Some(1_700_000_000)
        );
        assert_eq!(parse_btime(b"cpu 1\n"), None);
        let names = parse_passwd(
            "root:x:0:0:root:/root:/bin/bash\nbad line\nalice:x:1000:1000::/home/alice:/bin/sh\ndup:x:0:0::/:/bin/sh\n",
        );
        assert_eq!(names.get(&0).map(String::as_str), Some("root"));
        assert_eq!(names.get(&1000).map(String::as_str), Some("alice"));
        assert_eq!(names.len(), 2);
    }

    proptest! {
        #[test]
        fn stat_roundtrip(pid in 1u32..4_000_000, comm in "[^\\x00\\n]{0,15}", ppid in 0u32..4_000_000, start in any::<u64>()) {
            let text = stat_line(pid, &comm, ppid, start);
            let stat = parse_stat(text.as_bytes()).unwrap();
            prop_assert_eq!(stat.comm, comm.as_bytes());
            prop_assert_eq!((stat.pid, stat.ppid, stat.start_ticks), (pid, ppid, start));
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = parse_stat(&bytes);
            let _ = parse_status_uid(&bytes);
            let _ = parse_id_file(&bytes);
            let _ = parse_cgroup_session(&bytes);
            let _ = parse_btime(&bytes);
        }
    }
}
