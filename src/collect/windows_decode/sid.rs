//! Security identifiers: the binary SID layout and its `S-1-…` string form.
//!
//! Binary layout (MS-DTYP 2.4.2.2): revision (1 byte), sub-authority count
//! (1 byte), identifier authority (6 bytes, big-endian), then `count`
//! sub-authorities (4 bytes each, little-endian).

/// Windows never builds a SID with more sub-authorities than this.
pub const SID_MAX_SUB_AUTHORITIES: usize = 15;
const SID_HEADER_LEN: usize = 8;

use crate::collect::msrpc::sid::Sid;

/// Length in bytes of the SID that starts with `header` (at least 2 bytes),
/// or `None` if its sub-authority count is impossible.
pub fn sid_len_from_header(header: &[u8]) -> Option<usize> {
    let count = usize::from(*header.get(1)?);
    (count <= SID_MAX_SUB_AUTHORITIES).then_some(SID_HEADER_LEN + 4 * count)
}

/// The `S-1-5-21-…` form of a binary SID, or `None` if `bytes` is not one.
/// Trailing bytes after the SID are ignored.
pub fn sid_to_string(bytes: &[u8]) -> Option<String> {
    Sid::from_bytes(bytes).ok().map(|(sid, _)| sid.to_string())
}

/// Read a binary SID from memory and format it.
///
/// # Safety
/// `ptr` is null or points to a readable SID (its 8-byte header and the
/// sub-authorities its count announces).
pub unsafe fn read_sid_string(ptr: *const u8) -> Option<String> {
    if ptr.is_null() {
        return None;
    }
    // SAFETY: every SID has at least its 8-byte header.
    let header = unsafe { std::slice::from_raw_parts(ptr, SID_HEADER_LEN) };
    let len = sid_len_from_header(header)?;
    // SAFETY: the caller promises the sub-authorities the header announces.
    let sid = unsafe { std::slice::from_raw_parts(ptr, len) };
    sid_to_string(sid)
}

/// Build a binary SID (tests and fuzzing build their input with this).
pub fn sid_bytes(authority: u64, sub_authorities: &[u32]) -> Vec<u8> {
    Sid {
        revision: 1,
        authority,
        sub_authorities: sub_authorities.to_vec(),
    }
    .to_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn well_known_sids() {
        assert_eq!(
            sid_to_string(&sid_bytes(5, &[18])).as_deref(),
            Some("S-1-5-18")
        );
        assert_eq!(
            sid_to_string(&sid_bytes(
                5,
                &[21, 1004336348, 1177238915, 682003330, 1001]
            ))
            .as_deref(),
            Some("S-1-5-21-1004336348-1177238915-682003330-1001")
        );
        assert_eq!(
            sid_to_string(&sid_bytes(1, &[0])).as_deref(),
            Some("S-1-1-0")
        );
        assert_eq!(
            sid_to_string(&sid_bytes(0x0001_0000_0000, &[7])).as_deref(),
            Some("S-1-0x000100000000-7")
        );
    }

    #[test]
    fn truncated_or_oversized_is_rejected() {
        let sid = sid_bytes(5, &[21, 1, 2, 3]);
        assert_eq!(sid_to_string(&sid[..sid.len() - 1]), None);
        assert_eq!(sid_to_string(&[1]), None);
        assert_eq!(sid_to_string(&[]), None);
        let mut too_many = sid_bytes(5, &[1; 16]);
        too_many[1] = 16;
        assert_eq!(sid_to_string(&too_many), None);
    }

    #[test]
    fn reads_from_memory() {
        let sid = sid_bytes(5, &[32, 544]);
        // SAFETY: `sid` is a complete SID.
        assert_eq!(
            unsafe { read_sid_string(sid.as_ptr()) }.as_deref(),
            Some("S-1-5-32-544")
        );
        // SAFETY: null is allowed.
        assert_eq!(unsafe { read_sid_string(std::ptr::null()) }, None);
    }

    proptest! {
        #[test]
        fn any_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            let _ = sid_to_string(&bytes);
        }

        #[test]
        fn built_sids_format_every_part(authority in 0u64..(1 << 32), subs in proptest::collection::vec(any::<u32>(), 0..=15)) {
            let text = sid_to_string(&sid_bytes(authority, &subs)).unwrap();
            let parts: Vec<&str> = text.split('-').collect();
            prop_assert_eq!(parts[0], "S");
            prop_assert_eq!(parts[1], "1");
            prop_assert_eq!(parts[2].parse::<u64>().unwrap(), authority);
            let parsed: Vec<u32> = parts[3..].iter().map(|p| p.parse().unwrap()).collect();
            prop_assert_eq!(parsed, subs);
        }
    }
}
