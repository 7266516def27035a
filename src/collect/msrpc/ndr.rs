//! NDR 2.0 (C706 ch. 14, MS-RPCE 2.2.5), little-endian, 32-bit: the parts the
//! NetrXxxEnum calls use. Unique pointers (referent id or NULL), conformant
//! varying strings, conformant arrays of structures whose embedded string
//! pointers are deferred after the array, alignment relative to the stub.

use super::wire::{DecodeError, PutLe, Reader, from_utf16le, utf16le};

/// Builds a request stub.
#[derive(Debug, Default)]
pub struct NdrWriter {
    buf: Vec<u8>,
    next_referent: u32,
}

impl NdrWriter {
    pub fn new() -> Self {
        NdrWriter {
            buf: Vec::new(),
            next_referent: 0x0002_0000,
        }
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    pub fn u32(&mut self, v: u32) {
        self.buf.pad_to(4);
        self.buf.put_u32(v);
    }

    /// A unique pointer: a fresh referent id, or 0 for NULL.
    pub fn pointer(&mut self, present: bool) {
        if present {
            let id = self.next_referent;
            self.next_referent += 4;
            self.u32(id);
        } else {
            self.u32(0);
        }
    }

    /// `[string] wchar_t*` referent: conformant varying, NUL-terminated UTF-16.
    pub fn wide_string(&mut self, text: &str) {
        let mut units = utf16le(text);
        units.extend_from_slice(&[0, 0]);
        let count = (units.len() / 2) as u32;
        self.u32(count); // max_count
        self.u32(0); // offset
        self.u32(count); // actual_count
        self.buf.extend_from_slice(&units);
    }

    /// A `[in, string, unique] wchar_t*` argument.
    pub fn unique_wide_string(&mut self, text: Option<&str>) {
        self.pointer(text.is_some());
        if let Some(text) = text {
            self.wide_string(text);
        }
    }

    pub fn u8(&mut self, v: u8) {
        self.buf.put_u8(v);
    }

    pub fn u16(&mut self, v: u16) {
        self.buf.pad_to(2);
        self.buf.put_u16(v);
    }

    /// A `hyper` (8-byte aligned).
    pub fn u64(&mut self, v: u64) {
        self.buf.pad_to(8);
        self.buf.put_u64(v);
    }

    /// Raw bytes with no alignment (a context handle, a SID's authority).
    pub fn bytes(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Pad to a multiple of `n` (a structure's alignment before its first member).
    pub fn align(&mut self, n: usize) {
        self.buf.pad_to(n);
    }

    /// The header of an `RPC_UNICODE_STRING` (MS-DTYP 2.3.10): Length and
    /// MaximumLength in bytes, without a terminator, then the unique
    /// pointer to the buffer. The buffer itself is deferred: write it with
    /// [`NdrWriter::unicode_string_buffer`] where NDR puts deferred referents.
    pub fn unicode_string_header(&mut self, text: Option<&str>) {
        let bytes = text.map_or(0, |t| t.encode_utf16().count() * 2);
        let bytes = u16::try_from(bytes).unwrap_or(u16::MAX);
        self.u16(bytes);
        self.u16(bytes);
        self.pointer(text.is_some());
    }

    /// The deferred buffer of an `RPC_UNICODE_STRING`: conformant varying,
    /// counted in UTF-16 units, no terminator.
    pub fn unicode_string_buffer(&mut self, text: &str) {
        let units = utf16le(text);
        let count = (units.len() / 2) as u32;
        self.u32(count);
        self.u32(0);
        self.u32(count);
        self.buf.extend_from_slice(&units);
    }
}

/// Reads a response stub.
pub struct NdrReader<'a> {
    inner: Reader<'a>,
}

impl<'a> NdrReader<'a> {
    pub fn new(stub: &'a [u8], what: &'static str) -> Self {
        NdrReader {
            inner: Reader::new(stub, what),
        }
    }

    pub fn error(&self, detail: impl Into<String>) -> DecodeError {
        self.inner.error(detail)
    }

    pub fn remaining(&self) -> usize {
        self.inner.remaining()
    }

    /// Step to the next multiple of `n` (relative to the stub's start).
    pub fn align(&mut self, n: usize) -> Result<(), DecodeError> {
        let pos = self.inner.position().next_multiple_of(n);
        self.inner.seek(pos)
    }

    pub fn position(&self) -> usize {
        self.inner.position()
    }

    pub fn u8(&mut self) -> Result<u8, DecodeError> {
        self.inner.u8()
    }

    pub fn u16(&mut self) -> Result<u16, DecodeError> {
        self.align(2)?;
        self.inner.u16()
    }

    /// A `hyper` (8-byte aligned).
    pub fn u64(&mut self) -> Result<u64, DecodeError> {
        self.align(8)?;
        self.inner.u64()
    }

    /// `n` raw bytes, unaligned (a context handle, a SID's authority).
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        self.inner.bytes(n)
    }

    /// A conformance or element count that must fit in what is left of the
    /// stub at `min_element_size` bytes per element: a hostile count can
    /// never make the caller reserve more than the answer could hold.
    pub fn count(&mut self, min_element_size: usize) -> Result<usize, DecodeError> {
        let count = self.u32()? as usize;
        if count.saturating_mul(min_element_size.max(1)) > self.remaining() {
            return Err(self.error(format!(
                "count {count} cannot fit in the {} bytes left",
                self.remaining()
            )));
        }
        Ok(count)
    }

    /// The deferred buffer of an `RPC_UNICODE_STRING` whose header said
    /// `length` bytes: conformant varying UTF-16, no terminator required.
    pub fn unicode_string_buffer(&mut self, length: u16) -> Result<String, DecodeError> {
        let bytes = self.wide_string_bytes()?;
        if bytes.len() < usize::from(length) {
            return Err(self.error(format!(
                "string of {} bytes shorter than its Length {length}",
                bytes.len()
            )));
        }
        let mut text = &bytes[..usize::from(length) & !1];
        while let Some(shorter) = text.strip_suffix(&[0, 0]) {
            text = shorter;
        }
        Ok(from_utf16le(text))
    }

    pub fn u32(&mut self) -> Result<u32, DecodeError> {
        self.align(4)?;
        self.inner.u32()
    }

    /// A unique/full pointer: its referent id (0 = NULL).
    pub fn pointer(&mut self) -> Result<u32, DecodeError> {
        self.u32()
    }

    /// A conformant varying UTF-16 string; the terminating NUL is dropped.
    /// One allocation, sized from the wire (exact for ASCII).
    pub fn wide_string(&mut self) -> Result<String, DecodeError> {
        let mut bytes = self.wide_string_bytes()?;
        // Terminators are dropped before allocating: an empty string ("\0"
        // on the wire) then costs no allocation at all.
        while let Some(text) = bytes.strip_suffix(&[0, 0]) {
            bytes = text;
        }
        Ok(from_utf16le(bytes))
    }

    /// Step over a conformant varying string without decoding it.
    pub fn skip_wide_string(&mut self) -> Result<(), DecodeError> {
        self.wide_string_bytes().map(|_| ())
    }

    fn wide_string_bytes(&mut self) -> Result<&'a [u8], DecodeError> {
        let max_count = self.u32()?;
        let offset = self.u32()?;
        let actual = self.u32()?;
        if u64::from(offset) + u64::from(actual) > u64::from(max_count) {
            return Err(self.error(format!(
                "string offset {offset} + length {actual} exceeds max_count {max_count}"
            )));
        }
        self.inner.bytes(actual as usize * 2)
    }
}

/// One field of a structure in an enumeration array.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// `[string] wchar_t*`
    Str,
    /// `DWORD`
    U32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Str(Option<String>),
    U32(u32),
}

/// A NULL string: what an unfilled field reads as.
impl Default for Value {
    fn default() -> Self {
        Value::Str(None)
    }
}

impl Value {
    pub fn text(&self) -> Option<&str> {
        match self {
            Value::Str(s) => s.as_deref(),
            Value::U32(_) => None,
        }
    }
    pub fn number(&self) -> Option<u32> {
        match self {
            Value::U32(n) => Some(*n),
            Value::Str(_) => None,
        }
    }
}

/// The widest structure decoded here (SESSION_INFO_502 has 8 fields).
pub const MAX_FIELDS: usize = 8;

/// One structure of an enumeration array as decoded, fields in layout order.
/// A row builder moves the strings out, so each string is allocated once,
/// straight from the wire, and no per-row vector exists.
#[derive(Debug, Default)]
pub struct Fields {
    values: [Value; MAX_FIELDS],
}

impl Fields {
    /// Fields from values (tests and the generic decoder); those past
    /// [`MAX_FIELDS`] are dropped.
    pub fn from_values(values: impl IntoIterator<Item = Value>) -> Self {
        let mut fields = Fields::default();
        for (slot, value) in fields.values.iter_mut().zip(values) {
            *slot = value;
        }
        fields
    }

    /// Move the string of field `i` out (None: NULL pointer, a number, or absent).
    pub fn take_text(&mut self, i: usize) -> Option<String> {
        match self.values.get_mut(i).map(std::mem::take) {
            Some(Value::Str(text)) => text,
            _ => None,
        }
    }

    pub fn number(&self, i: usize) -> Option<u32> {
        self.values.get(i).and_then(Value::number)
    }

    fn into_values(self, len: usize) -> Vec<Value> {
        self.values.into_iter().take(len).collect()
    }
}

/// The `*_ENUM_STRUCT` answer shared by NetrWkstaUserEnum and NetrSessionEnum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnumReply {
    pub level: u32,
    /// One row per structure, fields in the layout's order.
    pub rows: Vec<Vec<Value>>,
    pub total_entries: u32,
    pub resume_handle: Option<u32>,
    /// The call's Win32 return value.
    pub status: u32,
}

/// What a decoded page says besides its rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageInfo {
    pub level: u32,
    /// Rows this page added (its EntriesRead).
    pub rows: usize,
    /// What the allocator holds for those rows' strings (an estimate, see
    /// [`heap_footprint`]); the rows themselves are `rows * size_of::<R>()`.
    pub heap_bytes: usize,
    pub total_entries: u32,
    pub resume_handle: Option<u32>,
    /// The call's Win32 return value.
    pub status: u32,
}

/// Why a page was not taken.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The page holds more entries than the caller has room for; nothing was decoded.
    #[error("a page of {entries} entries, with room left for {room}")]
    TooManyRows { entries: u32, room: usize },
}

/// Bytes glibc's malloc takes for a block of `capacity` bytes: 8 bytes of
/// header, 16-byte granules, 32 at least. Counting this rather than string
/// lengths keeps a byte limit close to what the process really holds.
pub fn heap_footprint(capacity: usize) -> usize {
    if capacity == 0 {
        0
    } else {
        capacity
            .saturating_add(8)
            .checked_next_multiple_of(16)
            .unwrap_or(usize::MAX)
            .max(32)
    }
}

/// Encode `{Level, [switch_is(Level)] union { CONTAINER* }}` with an empty
/// container, then PreferredMaximumLength and the unique ResumeHandle.
pub fn encode_enum_tail(
    w: &mut NdrWriter,
    level: u32,
    preferred_max: u32,
    resume_handle: Option<u32>,
) {
    w.u32(level);
    w.u32(level); // union discriminant
    w.pointer(true); // container
    w.u32(0); // EntriesRead
    w.pointer(false); // Buffer
    w.u32(preferred_max);
    w.pointer(resume_handle.is_some());
    if let Some(handle) = resume_handle {
        w.u32(handle);
    }
}

/// Decode an `*_ENUM_STRUCT` reply whose level has the structure `layout`,
/// appending one `build(fields)` per entry to `out`. A page of more than
/// `room` entries is refused before anything is decoded. Allocates only the
/// strings it hands to `build` (and `out`'s growth): the fixed part of each
/// element is read where it lies in the stub, never copied.
pub fn decode_enum_page<R>(
    stub: &[u8],
    what: &'static str,
    layout: &[Field],
    room: usize,
    out: &mut Vec<R>,
    mut build: impl FnMut(&mut Fields) -> R,
) -> Result<PageInfo, PageError> {
    if layout.len() > MAX_FIELDS {
        return Err(DecodeError::new(what, "structure wider than the decoder supports").into());
    }
    let mut r = NdrReader::new(stub, what);
    let level = r.u32()?;
    let tag = r.u32()?;
    if tag != level {
        return Err(r
            .error(format!("union tag {tag} differs from level {level}"))
            .into());
    }
    let mut rows = 0;
    let mut heap_bytes = 0;
    if r.pointer()? != 0 {
        let entries_read = r.u32()?;
        if r.pointer()? != 0 {
            let count = r.u32()? as usize;
            if count < entries_read as usize {
                return Err(r
                    .error(format!(
                        "array of {count} holds fewer than EntriesRead {entries_read}"
                    ))
                    .into());
            }
            if entries_read as usize > room {
                return Err(PageError::TooManyRows {
                    entries: entries_read,
                    room,
                });
            }
            // Every field is 4 bytes (a DWORD or a pointer), so elements
            // have a fixed stride and need no padding.
            let stride = 4 * layout.len().max(1);
            let array = r.inner.position();
            // Refuses counts the data cannot hold before anything is reserved.
            r.inner.skip(count.saturating_mul(stride))?;
            out.reserve(entries_read as usize);
            let mut fields = Fields::default();
            // Deferred referents follow the array: element by element, field by field.
            for i in 0..count {
                let keep = i < entries_read as usize;
                for (j, field) in layout.iter().enumerate() {
                    let raw = u32_at(stub, array + i * stride + 4 * j, what)?;
                    let value = match field {
                        Field::U32 => Value::U32(raw),
                        Field::Str if raw == 0 => Value::Str(None),
                        Field::Str if keep => {
                            let text = r.wide_string()?;
                            heap_bytes += heap_footprint(text.capacity());
                            Value::Str(Some(text))
                        }
                        Field::Str => {
                            r.skip_wide_string()?;
                            Value::Str(None)
                        }
                    };
                    fields.values[j] = value;
                }
                if keep {
                    out.push(build(&mut fields));
                    rows += 1;
                }
            }
        }
    }
    let total_entries = r.u32()?;
    let resume_handle = if r.pointer()? != 0 {
        Some(r.u32()?)
    } else {
        None
    };
    let status = r.u32()?;
    Ok(PageInfo {
        level,
        rows,
        heap_bytes,
        total_entries,
        resume_handle,
        status,
    })
}

fn u32_at(stub: &[u8], at: usize, what: &'static str) -> Result<u32, DecodeError> {
    let mut r = Reader::new(stub, what);
    r.seek(at)?;
    r.u32()
}

/// [`decode_enum_page`] into generic rows, for tests, fuzzing and diagnostics.
pub fn decode_enum_reply(
    stub: &[u8],
    what: &'static str,
    layout: &[Field],
) -> Result<EnumReply, DecodeError> {
    let mut rows = Vec::new();
    let page = decode_enum_page(stub, what, layout, usize::MAX, &mut rows, |fields| {
        std::mem::take(fields).into_values(layout.len())
    })
    .map_err(|err| match err {
        PageError::Decode(err) => err,
        // Unreachable with unlimited room, but an error is not a panic.
        other => DecodeError::new(what, other.to_string()),
    })?;
    Ok(EnumReply {
        level: page.level,
        rows,
        total_entries: page.total_entries,
        resume_handle: page.resume_handle,
        status: page.status,
    })
}

/// Encode a reply as a server would: for property tests and fuzz seeds.
pub fn encode_enum_reply(reply: &EnumReply, layout: &[Field]) -> Vec<u8> {
    let mut w = NdrWriter::new();
    w.u32(reply.level);
    w.u32(reply.level);
    w.pointer(true);
    w.u32(reply.rows.len() as u32);
    w.pointer(true);
    w.u32(reply.rows.len() as u32);
    for row in &reply.rows {
        for (field, value) in layout.iter().zip(row) {
            match (field, value) {
                (Field::Str, Value::Str(s)) => w.pointer(s.is_some()),
                (Field::U32, Value::U32(n)) => w.u32(*n),
                _ => w.u32(0),
            }
        }
    }
    for row in &reply.rows {
        for value in row {
            if let Value::Str(Some(s)) = value {
                w.wide_string(s);
            }
        }
    }
    w.u32(reply.total_entries);
    w.pointer(reply.resume_handle.is_some());
    if let Some(h) = reply.resume_handle {
        w.u32(h);
    }
    w.u32(reply.status);
    w.into_bytes()
}

#[cfg(test)]
#[path = "ndr_tests.rs"]
mod tests;
