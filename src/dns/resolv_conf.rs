//! The system's DNS servers: the `nameserver` lines of `/etc/resolv.conf`
//! (resolv.conf(5); glibc uses at most 3, so does this).

use std::net::{IpAddr, SocketAddr};

use super::DNS_PORT;

/// glibc's MAXNS.
pub const MAX_NAMESERVERS: usize = 3;
pub const PATH: &str = "/etc/resolv.conf";

/// The servers named in resolv.conf text, in order, port 53. Lines that
/// are not `nameserver ADDRESS` are skipped, and so are link-local IPv6
/// addresses with a zone (`fe80::1%eth0`).
pub fn nameservers(text: &str) -> Vec<SocketAddr> {
    let mut servers = Vec::new();
    for line in text.lines() {
        let line = line.split(['#', ';']).next().unwrap_or_default();
        let mut words = line.split_whitespace();
        if words.next() != Some("nameserver") {
            continue;
        }
        let Some(address) = words.next().and_then(|w| w.parse::<IpAddr>().ok()) else {
            continue;
        };
        let server = SocketAddr::new(address, DNS_PORT);
        if !servers.contains(&server) {
            servers.push(server);
        }
        if servers.len() == MAX_NAMESERVERS {
            break;
        }
    }
    servers
}

/// The servers of `/etc/resolv.conf`; an unreadable file names none.
pub fn system_nameservers() -> Result<Vec<SocketAddr>, std::io::Error> {
    // resolv.conf is a few lines; a larger file is not one.
    let text = std::fs::read(PATH)?;
    let text = String::from_utf8_lossy(&text[..text.len().min(64 * 1024)]);
    Ok(nameservers(&text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nameserver_lines() {
        let text = "# generated\nsearch samdom.test\nnameserver 10.0.0.1 # first\n\
                    nameserver ::1\nnameserver fe80::1%eth0\nnameserver bogus\n\
                    nameserver 10.0.0.1\n;nameserver 10.9.9.9\n  nameserver\t10.0.0.2\n\
                    nameserver 10.0.0.3\n";
        let servers: Vec<String> = nameservers(text).iter().map(|s| s.to_string()).collect();
        assert_eq!(servers, ["10.0.0.1:53", "[::1]:53", "10.0.0.2:53"]);
        assert!(nameservers("").is_empty());
    }
}
