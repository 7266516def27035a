//! Security identifiers (MS-DTYP 2.4.2): the `S-1-5-21-…` text form, the
//! binary form (2.4.2.2, as Windows embeds it in answers such as a
//! process's owner), and the NDR `RPC_SID` (2.4.2.3) that LSA calls carry.

use std::fmt;
use std::str::FromStr;

use super::ndr::{NdrReader, NdrWriter};
use super::wire::{DecodeError, Reader};

/// MS-DTYP 2.4.2: at most 15 sub-authorities.
pub const MAX_SUB_AUTHORITIES: usize = 15;

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sid {
    pub revision: u8,
    /// The 48-bit IdentifierAuthority (big-endian on the wire).
    pub authority: u64,
    pub sub_authorities: Vec<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a SID: {0}")]
pub struct SidParseError(String);

impl Sid {
    /// The last sub-authority (the account's RID for a domain SID).
    pub fn rid(&self) -> Option<u32> {
        self.sub_authorities.last().copied()
    }

    /// Bytes of the binary form.
    pub fn binary_len(&self) -> usize {
        8 + 4 * self.sub_authorities.len()
    }

    /// The binary form (MS-DTYP 2.4.2.2).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.binary_len());
        out.push(self.revision);
        out.push(self.sub_authorities.len() as u8);
        out.extend_from_slice(&self.authority.to_be_bytes()[2..]);
        for sub in &self.sub_authorities {
            out.extend_from_slice(&sub.to_le_bytes());
        }
        out
    }

    /// Read the binary form from the start of `bytes`; returns the SID and
    /// how many bytes it took.
    pub fn from_bytes(bytes: &[u8]) -> Result<(Sid, usize), DecodeError> {
        let mut r = Reader::new(bytes, "SID");
        let revision = r.u8()?;
        let count = usize::from(r.u8()?);
        if count > MAX_SUB_AUTHORITIES {
            return Err(r.error(format!("{count} sub-authorities, at most 15")));
        }
        let authority = authority_from(r.array::<6>()?);
        let sub_authorities = (0..count).map(|_| r.u32()).collect::<Result<_, _>>()?;
        Ok((
            Sid {
                revision,
                authority,
                sub_authorities,
            },
            r.position(),
        ))
    }

    /// An NDR `RPC_SID` in place (its conformance first, as NDR hoists it).
    pub fn write_ndr(&self, w: &mut NdrWriter) {
        w.u32(self.sub_authorities.len() as u32);
        w.u8(self.revision);
        w.u8(self.sub_authorities.len() as u8);
        w.bytes(&self.authority.to_be_bytes()[2..]);
        for sub in &self.sub_authorities {
            w.u32(*sub);
        }
    }

    /// Read an NDR `RPC_SID` (conformance, then the structure). The
    /// conformance must match SubAuthorityCount.
    pub fn read_ndr(r: &mut NdrReader<'_>) -> Result<Sid, DecodeError> {
        let conformance = r.u32()?;
        let revision = r.u8()?;
        let count = r.u8()?;
        if u32::from(count) != conformance || usize::from(count) > MAX_SUB_AUTHORITIES {
            return Err(r.error(format!(
                "RPC_SID with {count} sub-authorities and conformance {conformance}"
            )));
        }
        let mut authority = [0u8; 6];
        authority.copy_from_slice(r.bytes(6)?);
        let sub_authorities = (0..count).map(|_| r.u32()).collect::<Result<_, _>>()?;
        Ok(Sid {
            revision,
            authority: authority_from(authority),
            sub_authorities,
        })
    }
}

fn authority_from(bytes: [u8; 6]) -> u64 {
    let mut wide = [0u8; 8];
    wide[2..].copy_from_slice(&bytes);
    u64::from_be_bytes(wide)
}

/// MS-DTYP 2.4.2.1: the authority in decimal below 2^32, else in hex.
impl fmt::Display for Sid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "S-{}-", self.revision)?;
        if self.authority < 1 << 32 {
            write!(f, "{}", self.authority)?;
        } else {
            write!(f, "0x{:012X}", self.authority)?;
        }
        for sub in &self.sub_authorities {
            write!(f, "-{sub}")?;
        }
        Ok(())
    }
}

impl FromStr for Sid {
    type Err = SidParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || SidParseError(text.chars().take(80).collect());
        let rest = text
            .strip_prefix("S-")
            .or_else(|| text.strip_prefix("s-"))
            .ok_or_else(bad)?;
        let mut parts = rest.split('-');
        let revision = parts
            .next()
            .and_then(|p| p.parse::<u8>().ok())
            .ok_or_else(bad)?;
        let authority_text = parts.next().ok_or_else(bad)?;
        let authority = match authority_text
            .strip_prefix("0x")
            .or_else(|| authority_text.strip_prefix("0X"))
        {
            Some(hex) => u64::from_str_radix(hex, 16).ok(),
            None => authority_text.parse::<u64>().ok(),
        }
        .filter(|a| *a < 1 << 48)
        .ok_or_else(bad)?;
        let sub_authorities = parts
            .map(|p| {
                if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                    None
                } else {
                    p.parse::<u32>().ok()
                }
            })
            .collect::<Option<Vec<u32>>>()
            .ok_or_else(bad)?;
        if sub_authorities.len() > MAX_SUB_AUTHORITIES {
            return Err(bad());
        }
        Ok(Sid {
            revision,
            authority,
            sub_authorities,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn text_and_binary_forms_agree_with_ms_dtyp_examples() {
        // MS-DTYP 2.4.2.2: S-1-5-32-544 (BUILTIN\Administrators).
        let sid: Sid = "S-1-5-32-544".parse().unwrap();
        assert_eq!(
            sid.to_bytes(),
            [1, 2, 0, 0, 0, 0, 0, 5, 0x20, 0, 0, 0, 0x20, 2, 0, 0]
        );
        assert_eq!(sid.rid(), Some(544));
        let (back, used) = Sid::from_bytes(&sid.to_bytes()).unwrap();
        assert_eq!((back.to_string(), used), ("S-1-5-32-544".to_string(), 16));
        // Authorities of 2^32 and above are written in hex.
        let big = Sid {
            revision: 1,
            authority: 1 << 40,
            sub_authorities: vec![7],
        };
        assert_eq!(big.to_string(), "S-1-0x010000000000-7");
        assert_eq!(big.to_string().parse::<Sid>().unwrap(), big);
    }

    #[test]
    fn malformed_text_and_bytes_are_refused() {
        for bad in [
            "", "S-", "S-1", "X-1-5", "S-1-5-", "S-1-5-a", "S-1-5--1", "S-1-5-+1",
        ] {
            assert!(bad.parse::<Sid>().is_err(), "{bad}");
        }
        let sixteen = format!("S-1-5{}", "-1".repeat(16));
        assert!(sixteen.parse::<Sid>().is_err());
        assert!(Sid::from_bytes(&[1, 16, 0, 0, 0, 0, 0, 5]).is_err());
        assert!(Sid::from_bytes(&[1, 2, 0, 0, 0, 0, 0, 5, 1, 0, 0]).is_err());
    }

    #[test]
    fn ndr_form_round_trips_and_checks_its_conformance() {
        let sid: Sid = "S-1-5-21-1-2-3-1001".parse().unwrap();
        let mut w = NdrWriter::new();
        sid.write_ndr(&mut w);
        let bytes = w.into_bytes();
        assert_eq!(bytes.len(), 4 + 8 + 4 * 5);
        let mut r = NdrReader::new(&bytes, "test");
        assert_eq!(Sid::read_ndr(&mut r).unwrap(), sid);
        let mut lying = bytes.clone();
        lying[0] = 4;
        assert!(Sid::read_ndr(&mut NdrReader::new(&lying, "test")).is_err());
    }

    proptest! {
        #[test]
        fn any_sid_survives_text_and_binary(
            revision in any::<u8>(),
            authority in 0u64..(1 << 48),
            subs in proptest::collection::vec(any::<u32>(), 0..=15),
        ) {
            let sid = Sid { revision, authority, sub_authorities: subs };
            prop_assert_eq!(&sid.to_string().parse::<Sid>().unwrap(), &sid);
            let (back, used) = Sid::from_bytes(&sid.to_bytes()).unwrap();
            prop_assert_eq!(back, sid.clone());
            prop_assert_eq!(used, sid.binary_len());
        }

        #[test]
        fn any_bytes_decode_or_fail_without_panic(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            if let Ok((sid, used)) = Sid::from_bytes(&bytes) {
                prop_assert!(used <= bytes.len());
                prop_assert_eq!(sid.to_bytes(), bytes[..used].to_vec());
            }
        }
    }
}
