//! Owned memory shaped like Win32 output, for exercising the decoders
//! without Windows (unit tests, property tests, fuzz targets).

use super::wide::CountedWide;

/// Owns UTF-16 strings and SIDs and hands out stable pointers to them.
/// Each string lives in its own heap allocation, so pointers stay valid
/// while the arena lives, however many more strings are added.
#[derive(Debug, Default)]
pub struct WideArena {
    strings: Vec<Vec<u16>>,
    bytes: Vec<Vec<u8>>,
}

impl WideArena {
    pub fn new() -> Self {
        Self::default()
    }

    /// A NUL-terminated copy of `s`, or null for `None`.
    pub fn ptr(&mut self, s: Option<&str>) -> *const u16 {
        match s {
            None => std::ptr::null(),
            Some(s) => self.units(s.encode_utf16().chain(std::iter::once(0)).collect()),
        }
    }

    /// Store raw UTF-16 units as given (the caller decides about the terminator).
    pub fn units(&mut self, units: Vec<u16>) -> *const u16 {
        self.strings.push(units);
        self.strings.last().map_or(std::ptr::null(), |v| v.as_ptr())
    }

    /// A counted string (no terminator), or a null one for `None`.
    pub fn counted(&mut self, s: Option<&str>) -> CountedWide {
        match s {
            None => CountedWide::EMPTY,
            Some(s) => {
                let units: Vec<u16> = s.encode_utf16().collect();
                let bytes = u16::try_from(units.len() * 2).unwrap_or(0xFFFE);
                CountedWide {
                    length: bytes,
                    maximum_length: bytes,
                    buffer: self.units(units),
                }
            }
        }
    }

    /// Raw bytes (a SID), or null for `None`.
    pub fn bytes(&mut self, b: Option<Vec<u8>>) -> *const u8 {
        match b {
            None => std::ptr::null(),
            Some(b) => {
                self.bytes.push(b);
                self.bytes.last().map_or(std::ptr::null(), |v| v.as_ptr())
            }
        }
    }
}
