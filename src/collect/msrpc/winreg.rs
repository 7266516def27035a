//! MS-RRP (remote registry) on `\pipe\winreg`: OpenUsers (opnum 4) gives a
//! handle to HKEY_USERS, BaseRegEnumKey (opnum 9) lists its subkeys, and
//! BaseRegCloseKey (opnum 5) lets it go. A subkey named by a SID is a user
//! hive the host holds loaded — what PsLoggedOn and SharpHound read.
//!
//! Encoders and decoders are pure (tests and fuzzing feed them built bytes);
//! [`loaded_hive_sids`] drives them over a bound [`RpcClient`].

use super::dcerpc::{Interface, PipeTransport, RpcClient, SyntaxId, uuid};
use super::error::RemoteError;
use super::ndr::{NdrReader, NdrWriter};
use super::sid::Sid;
use super::wire::DecodeError;

pub const INTERFACE: Interface = Interface {
    name: "winreg",
    syntax: SyntaxId {
        uuid: uuid("338cd001-2244-31f1-aaaa-900038001003"),
        major: 1,
        minor: 0,
    },
};

pub const OPNUM_OPEN_USERS: u16 = 4;
pub const OPNUM_CLOSE_KEY: u16 = 5;
pub const OPNUM_ENUM_KEY: u16 = 9;
pub const CALL_NAME: &str = "winreg OpenUsers/BaseRegEnumKey";

/// Only what listing subkeys needs: a host whose HKU ACL grants less says
/// so at the open, rather than after a handle that cannot enumerate.
pub const KEY_ENUMERATE_SUB_KEYS: u32 = 0x0000_0008;
pub const ERROR_SUCCESS: u32 = 0;
pub const ERROR_NO_MORE_ITEMS: u32 = 259;

/// Registry key names have at most 255 characters (MS-RRP 3.1.1.2); the
/// buffer offered holds that and a terminator, and a longer name is refused.
pub const NAME_BUFFER_UNITS: u16 = 256;
/// Class strings of HKU's subkeys are empty; a small buffer suffices.
pub const CLASS_BUFFER_UNITS: u16 = 64;
/// HKU of a busy terminal server holds a few hundred hives (two per user).
pub const DEFAULT_MAX_KEYS: usize = 10_000;

/// An RPC_HKEY context handle: 20 opaque bytes.
pub type KeyHandle = [u8; 20];

/// OpenUsers: ServerName NULL (a `PREGISTRY_SERVER_NAME` is ignored by
/// servers), samDesired.
pub fn encode_open_users(access: u32) -> Vec<u8> {
    let mut w = NdrWriter::new();
    w.pointer(false);
    w.u32(access);
    w.into_bytes()
}

/// The answer to OpenUsers (or to BaseRegCloseKey, same layout): the handle
/// and the Win32 error.
pub fn decode_handle_reply(stub: &[u8]) -> Result<(KeyHandle, u32), DecodeError> {
    let mut r = NdrReader::new(stub, "winreg handle reply");
    let mut handle = [0u8; 20];
    handle.copy_from_slice(r.bytes(20)?);
    let status = r.u32()?;
    Ok((handle, status))
}

pub fn encode_close_key(handle: &KeyHandle) -> Vec<u8> {
    let mut w = NdrWriter::new();
    w.bytes(handle);
    w.into_bytes()
}

/// An `RRP_UNICODE_STRING` offered as an output buffer: Length 0,
/// MaximumLength `units * 2`, a buffer of `units` with nothing in it.
fn empty_buffer(w: &mut NdrWriter, units: u16) {
    w.u16(0);
    w.u16(units * 2);
    w.pointer(true);
    w.u32(u32::from(units)); // max_count
    w.u32(0); // offset
    w.u32(0); // actual_count
}

/// BaseRegEnumKey: hKey, dwIndex, lpNameIn (an empty buffer of
/// [`NAME_BUFFER_UNITS`]), lpClassIn (likewise; Samba refuses a NULL class
/// with WERR_INVALID_PARAMETER, source3/rpc_server/winreg/srv_winreg_nt.c),
/// lpftLastWriteTime NULL (not needed).
pub fn encode_enum_key(handle: &KeyHandle, index: u32) -> Vec<u8> {
    let mut w = NdrWriter::new();
    w.bytes(handle);
    w.u32(index);
    empty_buffer(&mut w, NAME_BUFFER_UNITS);
    w.pointer(true);
    empty_buffer(&mut w, CLASS_BUFFER_UNITS);
    w.pointer(false);
    w.into_bytes()
}

/// The answer to BaseRegEnumKey: the subkey's name (None when the call
/// failed or the name pointer was NULL) and the Win32 error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnumKeyReply {
    pub name: Option<String>,
    pub status: u32,
}

/// Decode a BaseRegEnumKey answer: lpNameOut, lplpClassOut,
/// lpftLastWriteTime, ErrorCode. A failing call may carry its out
/// parameters as the server left them: when they do not decode, the final
/// ErrorCode (the stub's last four bytes) still tells what happened.
pub fn decode_enum_key(stub: &[u8]) -> Result<EnumKeyReply, DecodeError> {
    match decode_enum_key_strict(stub) {
        Ok(reply) => Ok(reply),
        Err(err) => match trailing_u32(stub) {
            Some(status) if status != ERROR_SUCCESS => Ok(EnumKeyReply { name: None, status }),
            _ => Err(err),
        },
    }
}

fn trailing_u32(stub: &[u8]) -> Option<u32> {
    let at = stub.len().checked_sub(4)?;
    let bytes: [u8; 4] = stub.get(at..)?.try_into().ok()?;
    Some(u32::from_le_bytes(bytes))
}

fn decode_enum_key_strict(stub: &[u8]) -> Result<EnumKeyReply, DecodeError> {
    let mut r = NdrReader::new(stub, "BaseRegEnumKey reply");
    let name = read_unicode_string(&mut r)?;
    if r.pointer()? != 0 {
        // The class: read to step over it, not used.
        read_unicode_string(&mut r)?;
    }
    if r.pointer()? != 0 {
        r.u32()?; // FILETIME low
        r.u32()?; // FILETIME high
    }
    let status = r.u32()?;
    Ok(EnumKeyReply { name, status })
}

/// An `RRP_UNICODE_STRING` with its buffer right after it (as it stands
/// alone in a top-level parameter), bounded to [`NAME_BUFFER_UNITS`].
fn read_unicode_string(r: &mut NdrReader<'_>) -> Result<Option<String>, DecodeError> {
    r.align(4)?;
    let length = r.u16()?;
    let _maximum = r.u16()?;
    let pointer = r.pointer()?;
    if usize::from(length) > usize::from(NAME_BUFFER_UNITS) * 2 {
        return Err(r.error(format!("a key name of {length} bytes")));
    }
    if pointer == 0 {
        return Ok(None);
    }
    r.unicode_string_buffer(length).map(Some)
}

/// The SID a subkey of HKU names, if it names a user's hive (shared with
/// the Windows build's HKEY_USERS listing).
pub use super::sid::hive_key_sid as hive_sid;

/// The SIDs of the user hives loaded on the host: OpenUsers, BaseRegEnumKey
/// 0, 1, … until ERROR_NO_MORE_ITEMS, BaseRegCloseKey. More than `max_keys`
/// subkeys is a [`RemoteError::Limit`], never a shortened list. Each call
/// is bounded by the transport's deadline.
pub fn loaded_hive_sids<T: PipeTransport>(
    rpc: &mut RpcClient<T>,
    max_keys: usize,
) -> Result<Vec<Sid>, RemoteError> {
    let reply = rpc.call(OPNUM_OPEN_USERS, &encode_open_users(KEY_ENUMERATE_SUB_KEYS))?;
    let (handle, status) = decode_handle_reply(&reply)?;
    if status != ERROR_SUCCESS {
        return Err(RemoteError::Win32 {
            call: "OpenUsers",
            code: status,
        });
    }
    let listed = enumerate_subkeys(rpc, &handle, max_keys);
    // The handle is released even when the listing failed, unless the
    // connection is out of time: then nothing more can be asked.
    if !matches!(listed, Err(RemoteError::Timeout { .. })) {
        let _ = rpc.call(OPNUM_CLOSE_KEY, &encode_close_key(&handle));
    }
    let mut sids: Vec<Sid> = listed?.iter().filter_map(|name| hive_sid(name)).collect();
    sids.sort();
    sids.dedup();
    Ok(sids)
}

fn enumerate_subkeys<T: PipeTransport>(
    rpc: &mut RpcClient<T>,
    handle: &KeyHandle,
    max_keys: usize,
) -> Result<Vec<String>, RemoteError> {
    let mut names = Vec::new();
    for index in 0..=max_keys {
        let index32 = u32::try_from(index).map_err(|_| RemoteError::Limit {
            limit: format!("{max_keys} subkeys of HKEY_USERS"),
        })?;
        let reply = decode_enum_key(&rpc.call(OPNUM_ENUM_KEY, &encode_enum_key(handle, index32))?)?;
        match reply.status {
            ERROR_NO_MORE_ITEMS => return Ok(names),
            ERROR_SUCCESS if index == max_keys => break,
            ERROR_SUCCESS => {
                let name = reply.name.ok_or_else(|| {
                    DecodeError::new("BaseRegEnumKey reply", "success without a key name")
                })?;
                names.push(name);
            }
            code => {
                return Err(RemoteError::Win32 {
                    call: "BaseRegEnumKey",
                    code,
                });
            }
        }
    }
    Err(RemoteError::Limit {
        limit: format!("{max_keys} subkeys of HKEY_USERS"),
    })
}

/// A BaseRegEnumKey answer as a server encodes it (tests, fuzz seeds).
pub fn encode_enum_key_reply(name: Option<&str>, status: u32) -> Vec<u8> {
    let mut w = NdrWriter::new();
    match name {
        Some(text) => {
            // As Windows and Samba send it: Length counts the terminator.
            let with_nul = format!("{text}\0");
            let bytes = u16::try_from(with_nul.encode_utf16().count() * 2).unwrap_or(u16::MAX);
            w.u16(bytes);
            w.u16(NAME_BUFFER_UNITS * 2);
            w.pointer(true);
            w.u32(u32::from(NAME_BUFFER_UNITS));
            w.u32(0);
            w.u32(u32::from(bytes / 2));
            w.bytes(&super::wire::utf16le(&with_nul));
        }
        None => {
            w.u16(0);
            w.u16(0);
            w.pointer(false);
        }
    }
    w.pointer(true); // class: empty
    w.u16(0);
    w.u16(0);
    w.pointer(false);
    w.pointer(false); // no last write time
    w.u32(status);
    w.into_bytes()
}

#[cfg(test)]
#[path = "winreg_tests.rs"]
mod tests;
