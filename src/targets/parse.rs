//! One target entry in text → a [`Spec`]: this machine, a host name, or an
//! inclusive range of IPv4 or IPv6 addresses. Pure: no I/O, no resolution.
//!
//! Forms (as NetExec's `nxc/parsers/ip.py` accepts them, plus full ranges):
//! `10.1.2.3`, `10.1.2.0/24`, `10.1.2.10-40` (last octet),
//! `10.1.2.10-10.1.3.40`, `fd00::1`, `fd00::/120`, `fd00::1-fd00::9`,
//! `srv01`, `srv01.example.com`, `\\SRV01`, and `.` or `localhost`.

use std::net::{Ipv4Addr, Ipv6Addr};

/// What one entry names.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Spec {
    /// This machine (`.`, `localhost`): scanned with the local collector.
    Local,
    /// A host name, as written (case kept; compared case-insensitively).
    Name(String),
    /// IPv4 addresses `first..=last`.
    V4(u32, u32),
    /// IPv6 addresses `first..=last`.
    V6(u128, u128),
}

/// Why an entry is not a target.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryError {
    #[error("empty entry")]
    Empty,
    #[error("not a valid IPv4 address ('{0}')")]
    BadIpv4(String),
    #[error("not a valid IP address ('{0}')")]
    BadIp(String),
    #[error("prefix length '{prefix}' is not a number from 0 to {max}")]
    BadPrefix { prefix: String, max: u8 },
    #[error("range end '{0}' is not a number from 0 to 255 nor an address of the same family")]
    BadRangeEnd(String),
    #[error("range {first}-{last} runs backwards")]
    Backwards { first: String, last: String },
    #[error("not a valid host name (letters, digits, '-', '_' and '.', labels of 1-63)")]
    BadName(String),
}

/// The longest host name DNS allows.
const MAX_NAME: usize = 253;

/// Parse one entry (already trimmed of comments).
pub fn parse_entry(text: &str) -> Result<Spec, EntryError> {
    let entry = text.trim();
    if entry.is_empty() {
        return Err(EntryError::Empty);
    }
    if entry == "." || entry.eq_ignore_ascii_case("localhost") {
        return Ok(Spec::Local);
    }
    if let Some((address, prefix)) = entry.split_once('/') {
        return parse_cidr(address, prefix);
    }
    if let Some((first, last)) = entry.split_once('-')
        && looks_like_ip(first)
    {
        return parse_range(first, last);
    }
    if let Some(ip) = parse_ip(entry)? {
        return Ok(ip);
    }
    parse_name(entry)
}

/// Does `text` try to be an address (so a bad one is an error, not a name)?
/// Digits and dots only (an IPv4 attempt), or any colon (IPv6; names have none).
fn looks_like_ip(text: &str) -> bool {
    let text = text.trim();
    text.contains(':')
        || (!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit() || b == b'.'))
}

/// An address alone: Some(spec) when it is one, None when it is not trying
/// to be one, an error when it tries and fails.
fn parse_ip(text: &str) -> Result<Option<Spec>, EntryError> {
    let text = text.trim();
    let unbracketed = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(text);
    if let Ok(v4) = unbracketed.parse::<Ipv4Addr>() {
        let n = u32::from(v4);
        return Ok(Some(Spec::V4(n, n)));
    }
    if let Ok(v6) = unbracketed.parse::<Ipv6Addr>() {
        let n = u128::from(v6);
        return Ok(Some(Spec::V6(n, n)));
    }
    if unbracketed.contains(':') {
        return Err(EntryError::BadIp(text.to_string()));
    }
    if looks_like_ip(unbracketed) {
        return Err(EntryError::BadIpv4(text.to_string()));
    }
    Ok(None)
}

fn parse_cidr(address: &str, prefix: &str) -> Result<Spec, EntryError> {
    let spec = parse_ip(address)?.ok_or_else(|| EntryError::BadIp(address.trim().to_string()))?;
    let bad_prefix = |max| EntryError::BadPrefix {
        prefix: prefix.trim().to_string(),
        max,
    };
    let digits_only = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    let prefix = prefix.trim();
    match spec {
        Spec::V4(ip, _) => {
            let bits: u32 = prefix
                .parse()
                .ok()
                .filter(|&b| b <= 32 && digits_only(prefix))
                .ok_or_else(|| bad_prefix(32))?;
            // Host bits set are allowed (non-strict, as NetExec does).
            let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
            let (network, broadcast) = (ip & mask, ip | !mask);
            // Network and broadcast addresses hold no host (Python's
            // ipaddress `hosts()`); /31 and /32 have neither.
            Ok(if bits <= 30 {
                Spec::V4(network + 1, broadcast - 1)
            } else {
                Spec::V4(network, broadcast)
            })
        }
        Spec::V6(ip, _) => {
            let bits: u32 = prefix
                .parse()
                .ok()
                .filter(|&b| b <= 128 && digits_only(prefix))
                .ok_or_else(|| bad_prefix(128))?;
            let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
            Ok(Spec::V6(ip & mask, ip | !mask))
        }
        Spec::Local | Spec::Name(_) => Err(EntryError::BadIp(address.trim().to_string())),
    }
}

fn parse_range(first: &str, last: &str) -> Result<Spec, EntryError> {
    let start = parse_ip(first)?.ok_or_else(|| EntryError::BadIp(first.trim().to_string()))?;
    let last = last.trim();
    let backwards = || EntryError::Backwards {
        first: first.trim().to_string(),
        last: last.to_string(),
    };
    match (start, parse_ip(last)) {
        (Spec::V4(a, _), Ok(Some(Spec::V4(b, _)))) => (a <= b).then_some(Spec::V4(a, b)),
        (Spec::V6(a, _), Ok(Some(Spec::V6(b, _)))) => (a <= b).then_some(Spec::V6(a, b)),
        // `10.1.2.10-40`: the last octet.
        (Spec::V4(a, _), _) if !last.is_empty() && last.bytes().all(|b| b.is_ascii_digit()) => {
            let octet: u8 = last
                .parse()
                .map_err(|_| EntryError::BadRangeEnd(last.to_string()))?;
            let b = (a & !0xff) | u32::from(octet);
            (a <= b).then_some(Spec::V4(a, b))
        }
        _ => return Err(EntryError::BadRangeEnd(last.to_string())),
    }
    .ok_or_else(backwards)
}

fn parse_name(entry: &str) -> Result<Spec, EntryError> {
    // `\\SRV01`, as Windows tools write a server.
    let name = entry.trim_start_matches('\\');
    let name = name.strip_suffix('.').unwrap_or(name);
    let label_ok = |label: &str| {
        (1..=63).contains(&label.len())
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    if name.is_empty() || name.len() > MAX_NAME || !name.split('.').all(label_ok) {
        return Err(EntryError::BadName(entry.to_string()));
    }
    Ok(Spec::Name(name.to_string()))
}

/// An entry of a list with its comment removed: `#` starts a comment
/// anywhere on a line (names and addresses never hold one).
pub fn strip_comment(line: &str) -> &str {
    line.split_once('#').map_or(line, |(entry, _)| entry).trim()
}

/// Where a bad entry came from, for the error message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}:{line}: '{entry}': {reason}")]
pub struct LineError {
    /// The file name, `<stdin>`, `--host` or `--exclude`.
    pub origin: String,
    /// 1-based.
    pub line: usize,
    pub entry: String,
    pub reason: EntryError,
}

/// Every entry of a list (one per line, `#` comments, blank lines skipped),
/// in order; the first bad one is an error naming its line.
pub fn parse_list(origin: &str, text: &str) -> Result<Vec<Spec>, LineError> {
    let mut specs = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if let Some(spec) = parse_line(origin, index + 1, line)? {
            specs.push(spec);
        }
    }
    Ok(specs)
}

/// One line of a list: None when blank or only a comment.
pub fn parse_line(origin: &str, line: usize, text: &str) -> Result<Option<Spec>, LineError> {
    let entry = strip_comment(text);
    if entry.is_empty() {
        return Ok(None);
    }
    let error = |reason| LineError {
        origin: origin.to_string(),
        line,
        entry: entry.chars().take(200).collect(),
        reason,
    };
    if entry.contains(char::is_whitespace) {
        // Two entries on one line is more likely a mistake than a name.
        return Err(error(EntryError::BadName(entry.to_string())));
    }
    parse_entry(entry).map(Some).map_err(error)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(a: &str, b: &str) -> Spec {
        Spec::V4(
            u32::from(a.parse::<Ipv4Addr>().unwrap()),
            u32::from(b.parse::<Ipv4Addr>().unwrap()),
        )
    }

    #[test]
    fn forms() {
        assert_eq!(parse_entry("."), Ok(Spec::Local));
        assert_eq!(parse_entry("LocalHost"), Ok(Spec::Local));
        assert_eq!(parse_entry("10.1.2.3"), Ok(v4("10.1.2.3", "10.1.2.3")));
        assert_eq!(parse_entry("10.1.2.0/24"), Ok(v4("10.1.2.1", "10.1.2.254")));
        assert_eq!(
            parse_entry("10.1.2.77/24"),
            Ok(v4("10.1.2.1", "10.1.2.254"))
        );
        assert_eq!(parse_entry("10.1.2.4/31"), Ok(v4("10.1.2.4", "10.1.2.5")));
        assert_eq!(parse_entry("10.1.2.4/32"), Ok(v4("10.1.2.4", "10.1.2.4")));
        assert_eq!(
            parse_entry("0.0.0.0/0"),
            Ok(v4("0.0.0.1", "255.255.255.254"))
        );
        assert_eq!(
            parse_entry("10.1.2.10-40"),
            Ok(v4("10.1.2.10", "10.1.2.40"))
        );
        assert_eq!(
            parse_entry("10.1.2.250-10.1.3.4"),
            Ok(v4("10.1.2.250", "10.1.3.4"))
        );
        assert_eq!(parse_entry("::1"), Ok(Spec::V6(1, 1)));
        assert_eq!(parse_entry("[::1]"), Ok(Spec::V6(1, 1)));
        assert_eq!(parse_entry("::/126"), Ok(Spec::V6(0, 3)));
        assert_eq!(parse_entry("::1-::4"), Ok(Spec::V6(1, 4)));
        assert_eq!(parse_entry("srv-01"), Ok(Spec::Name("srv-01".into())));
        assert_eq!(parse_entry("\\\\SRV01"), Ok(Spec::Name("SRV01".into())));
        assert_eq!(
            parse_entry("a.example.com."),
            Ok(Spec::Name("a.example.com".into()))
        );
    }

    #[test]
    fn mistakes_are_errors_not_names() {
        for bad in [
            "10.1.2.300",
            "10.1.2",
            "10.1.2.0/33",
            "10.1.2.0/x",
            "10.1.2.0/",
            "10.1.2.40-10",
            "10.1.2.10-256",
            "10.1.2.10-::1",
            "::1-10.0.0.1",
            "fe80:::1",
            "srv/24",
            "-srv",
            "srv..x",
            "sr v",
            "a;b",
            "",
        ] {
            assert!(parse_entry(bad).is_err(), "{bad} parsed");
        }
    }

    #[test]
    fn lists_skip_comments_and_name_the_bad_line() {
        let specs = parse_list("f", "# fleet\n\nsrv1 # main\n10.0.0.1\n").unwrap();
        assert_eq!(specs.len(), 2);
        let err = parse_list("hosts.txt", "srv1\n\n10.0.0.999 # typo\n").unwrap_err();
        assert_eq!(err.line, 3);
        assert_eq!(
            err.to_string(),
            "hosts.txt:3: '10.0.0.999': not a valid IPv4 address ('10.0.0.999')"
        );
    }
}
