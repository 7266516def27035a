//! UTF-16 strings as Win32 hands them out: NUL-terminated pointers, counted
//! `UNICODE_STRING`s and fixed arrays. Invalid UTF-16 is replaced, not rejected:
//! names from the OS are data and must not make a source fail.

/// Longest NUL-terminated string we are willing to scan (in UTF-16 units).
/// Win32 names are far shorter; the cap bounds the damage of a missing NUL.
pub const MAX_WIDE_LEN: usize = 1 << 16;

/// `UNICODE_STRING` / `LSA_UNICODE_STRING`: a length in bytes and a buffer
/// that need not be NUL-terminated.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct CountedWide {
    /// Length in bytes, not counting any terminator.
    pub length: u16,
    pub maximum_length: u16,
    pub buffer: *const u16,
}

impl CountedWide {
    pub const EMPTY: CountedWide = CountedWide {
        length: 0,
        maximum_length: 0,
        buffer: std::ptr::null(),
    };
}

/// Read a NUL-terminated UTF-16 string; `None` for a null pointer.
///
/// # Safety
/// `ptr` is null or points to readable UTF-16 units up to and including a
/// NUL (or at least [`MAX_WIDE_LEN`] readable units).
pub unsafe fn read_wide_cstr(ptr: *const u16) -> Option<String> {
    if ptr.is_null() {
        return None;
    }
    let mut len = 0;
    // SAFETY: the caller promises readable units up to the terminator (or the cap).
    while len < MAX_WIDE_LEN && unsafe { *ptr.add(len) } != 0 {
        len += 1;
    }
    // SAFETY: the `len` units before the terminator were just read one by one.
    let units = unsafe { std::slice::from_raw_parts(ptr, len) };
    Some(String::from_utf16_lossy(units))
}

/// Read a counted string; `None` when its buffer is null.
///
/// # Safety
/// `s.buffer` is null or points to at least `s.length / 2` readable units.
pub unsafe fn read_counted(s: &CountedWide) -> Option<String> {
    if s.buffer.is_null() {
        return None;
    }
    let units = usize::from(s.length) / 2;
    // SAFETY: the caller promises `length` readable bytes at `buffer`.
    let slice = unsafe { std::slice::from_raw_parts(s.buffer, units) };
    Some(String::from_utf16_lossy(slice))
}

/// A fixed-size UTF-16 array (e.g. `szExeFile[260]`), up to its first NUL.
pub fn fixed_wide(units: &[u16]) -> String {
    let end = units.iter().position(|&u| u == 0).unwrap_or(units.len());
    String::from_utf16_lossy(&units[..end])
}

/// Empty strings become `None`: Win32 uses "" and NULL alike for "no value".
pub fn non_empty(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.is_empty())
}

/// A Rust string as NUL-terminated UTF-16, for passing to Win32.
pub fn to_wide_nul(s: &str) -> Vec<u16> {
    s.encode_utf16().chain(std::iter::once(0)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn null_pointer_is_none_and_empty_is_empty() {
        // SAFETY: null is allowed.
        assert_eq!(unsafe { read_wide_cstr(std::ptr::null()) }, None);
        let empty = [0u16];
        // SAFETY: a NUL-terminated local buffer.
        assert_eq!(
            unsafe { read_wide_cstr(empty.as_ptr()) },
            Some(String::new())
        );
        // SAFETY: null buffer is allowed.
        assert_eq!(unsafe { read_counted(&CountedWide::EMPTY) }, None);
    }

    #[test]
    fn counted_string_needs_no_terminator_and_ignores_spare_capacity() {
        let units: Vec<u16> = "aliceXYZ".encode_utf16().collect();
        let s = CountedWide {
            length: 10,
            maximum_length: 16,
            buffer: units.as_ptr(),
        };
        // SAFETY: `units` holds 8 units, more than length/2 = 5.
        assert_eq!(unsafe { read_counted(&s) }.as_deref(), Some("alice"));
    }

    #[test]
    fn unpaired_surrogate_is_replaced_not_rejected() {
        let units = [0x61, 0xD800, 0x62, 0];
        // SAFETY: NUL-terminated local buffer.
        assert_eq!(
            unsafe { read_wide_cstr(units.as_ptr()) }.as_deref(),
            Some("a\u{FFFD}b")
        );
    }

    #[test]
    fn fixed_array_stops_at_nul_or_end() {
        let mut arr = [0u16; 8];
        for (slot, u) in arr.iter_mut().zip("cmd.exe".encode_utf16()) {
            *slot = u;
        }
        assert_eq!(fixed_wide(&arr), "cmd.exe");
        let full: Vec<u16> = "12345678".encode_utf16().collect();
        assert_eq!(fixed_wide(&full), "12345678");
    }

    proptest! {
        #[test]
        fn wide_round_trip(s in "[^\u{0}]{0,64}") {
            let w = to_wide_nul(&s);
            // SAFETY: `to_wide_nul` terminates the buffer.
            prop_assert_eq!(unsafe { read_wide_cstr(w.as_ptr()) }, Some(s.clone()));
            prop_assert_eq!(fixed_wide(&w), s);
        }
    }
}
