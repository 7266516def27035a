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

    fn align(&mut self, n: usize) -> Result<(), DecodeError> {
        let pos = self.inner.position().next_multiple_of(n);
        self.inner.seek(pos)
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
    pub fn wide_string(&mut self) -> Result<String, DecodeError> {
        let max_count = self.u32()?;
        let offset = self.u32()?;
        let actual = self.u32()?;
        if u64::from(offset) + u64::from(actual) > u64::from(max_count) {
            return Err(self.error(format!(
                "string offset {offset} + length {actual} exceeds max_count {max_count}"
            )));
        }
        let bytes = self.inner.bytes(actual as usize * 2)?;
        let mut text = from_utf16le(bytes);
        while text.ends_with('\0') {
            text.pop();
        }
        Ok(text)
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

/// Decode an `*_ENUM_STRUCT` reply whose level has the given structure `layout`.
pub fn decode_enum_reply(
    stub: &[u8],
    what: &'static str,
    layout: &[Field],
) -> Result<EnumReply, DecodeError> {
    let mut r = NdrReader::new(stub, what);
    let level = r.u32()?;
    let tag = r.u32()?;
    if tag != level {
        return Err(r.error(format!("union tag {tag} differs from level {level}")));
    }
    let mut rows = Vec::new();
    if r.pointer()? != 0 {
        let entries_read = r.u32()?;
        if r.pointer()? != 0 {
            let count = r.u32()? as usize;
            if count < entries_read as usize {
                return Err(r.error(format!(
                    "array of {count} holds fewer than EntriesRead {entries_read}"
                )));
            }
            // Each element needs 4 bytes per field: refuse counts the data cannot hold.
            if count.saturating_mul(4 * layout.len().max(1)) > r.remaining() {
                return Err(r.error(format!("array count {count} larger than the data")));
            }
            let mut fixed = Vec::with_capacity(count);
            for _ in 0..count {
                let mut row = Vec::with_capacity(layout.len());
                for field in layout {
                    row.push(match field {
                        Field::Str => r.pointer()?,
                        Field::U32 => r.u32()?,
                    });
                }
                fixed.push(row);
            }
            // Deferred referents: element by element, field by field.
            rows.reserve(count);
            for row in fixed {
                let mut values = Vec::with_capacity(layout.len());
                for (field, raw) in layout.iter().zip(row) {
                    values.push(match field {
                        Field::U32 => Value::U32(raw),
                        Field::Str if raw == 0 => Value::Str(None),
                        Field::Str => Value::Str(Some(r.wide_string()?)),
                    });
                }
                rows.push(values);
            }
            rows.truncate(entries_read as usize);
        }
    }
    let total_entries = r.u32()?;
    let resume_handle = if r.pointer()? != 0 {
        Some(r.u32()?)
    } else {
        None
    };
    let status = r.u32()?;
    Ok(EnumReply {
        level,
        rows,
        total_entries,
        resume_handle,
        status,
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
