//! Decoding of the structures Windows APIs return, separate from the calls.
//!
//! This module compiles on every target: the FFI layer in
//! `collect::windows` (Windows only) hands the decoders a [`RawEntries`]
//! view of the buffer an API returned, and tests on Linux hand them buffers
//! built in owned memory ([`arena::WideArena`]). The `#[repr(C)]` mirror
//! structs here have the Win32 layouts (checked against `windows-sys` at
//! compile time on Windows), so the same decoder reads both.

pub mod arena;
pub mod errors;
pub mod lsa;
pub mod netapi;
pub mod paging;
pub mod process;
pub mod sid;
pub mod time;
pub mod wide;
pub mod wmi;
pub mod wts;

/// A slice of Win32 structures whose embedded pointers are known to be valid.
///
/// Decoders are safe functions over this type: the one `unsafe` promise is
/// made where the view is created, by the code that owns the buffer.
#[derive(Debug, Clone, Copy)]
pub struct RawEntries<'a, T> {
    entries: &'a [T],
}

impl<'a, T> RawEntries<'a, T> {
    /// # Safety
    /// Every pointer field inside `entries` is either null or points to
    /// memory that stays valid for `'a` and has the form the field's
    /// documentation states (a NUL-terminated UTF-16 string, a SID, a
    /// counted UTF-16 buffer of the stated length).
    pub unsafe fn new(entries: &'a [T]) -> Self {
        RawEntries { entries }
    }

    /// A view of `count` structures at `ptr`; a null `ptr` is an empty view
    /// (Win32 APIs may succeed with a NULL buffer when there is nothing).
    ///
    /// # Safety
    /// Unless `ptr` is null, it is aligned for `T`, points to `count`
    /// initialised structures valid for `'a`, and those structures satisfy
    /// the contract of [`RawEntries::new`].
    pub unsafe fn from_raw(ptr: *const T, count: usize) -> Self {
        if ptr.is_null() || count == 0 {
            return RawEntries { entries: &[] };
        }
        // SAFETY: the caller promises `count` valid, aligned structures at `ptr`.
        let entries = unsafe { std::slice::from_raw_parts(ptr, count) };
        RawEntries { entries }
    }

    pub fn iter(&self) -> std::slice::Iter<'a, T> {
        self.entries.iter()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}
