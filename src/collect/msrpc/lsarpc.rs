//! MS-LSAT SID to name translation on `\pipe\lsarpc`: LsarOpenPolicy2
//! (opnum 44, POLICY_LOOKUP_NAMES), LsarLookupSids2 (opnum 57) in batches,
//! LsarClose (opnum 0).
//!
//! Why LsarLookupSids2: it is what Windows clients use over a named pipe and
//! what Samba serves there (source3/rpc_server/lsa/srv_lsa_nt.c,
//! `_lsa_LookupSids2` accepts ncacn_np). LsarLookupSids3 needs no policy
//! handle but Samba and Windows refuse it without a Netlogon secure channel
//! over TCP; the older LsarLookupSids (opnum 15) returns the same names
//! without the per-name flags and is not needed by any server still in use.

use super::dcerpc::{Interface, PipeTransport, RpcClient, SyntaxId, uuid};
use super::error::{RemoteError, STATUS_NONE_MAPPED, STATUS_SOME_NOT_MAPPED};
use super::ndr::{NdrReader, NdrWriter};
use super::sid::Sid;
use super::wire::DecodeError;

pub const INTERFACE: Interface = Interface {
    name: "lsarpc",
    syntax: SyntaxId {
        uuid: uuid("12345778-1234-abcd-ef00-0123456789ab"),
        major: 0,
        minor: 0,
    },
};

pub const OPNUM_CLOSE: u16 = 0;
pub const OPNUM_OPEN_POLICY2: u16 = 44;
pub const OPNUM_LOOKUP_SIDS2: u16 = 57;
pub const CALL_NAME: &str = "lsarpc LsarLookupSids2";

/// The only right a lookup needs (MS-LSAD 2.2.1.1.2).
pub const POLICY_LOOKUP_NAMES: u32 = 0x0000_0800;
/// LsapLookupWksta: every view the server has (local accounts, domain, trusts).
pub const LOOKUP_LEVEL_WKSTA: u16 = 1;
/// SIDs per LsarLookupSids2: Windows takes up to 20,480 (Samba's
/// MAX_LOOKUP_SIDS too), but a smaller batch keeps each answer small.
pub const BATCH: usize = 1000;
/// SID_NAME_USE values that mean "no name" (MS-LSAT 2.2.13).
pub const SID_TYPE_INVALID: u16 = 7;
pub const SID_TYPE_UNKNOWN: u16 = 8;
/// A name or domain longer than this is not a real account (Windows caps
/// names at 256 characters); the decoder refuses it.
pub const MAX_NAME_BYTES: u16 = 1024;

pub type PolicyHandle = [u8; 20];

/// One SID and what LSA called it. Unnamed SIDs keep `name` and `domain` None.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SidName {
    pub sid: Sid,
    pub domain: Option<String>,
    pub name: Option<String>,
    /// SID_NAME_USE: 1 user, 2 group, 4 alias, 5 well-known group, 8 unknown, …
    pub use_: u16,
}

/// LsarOpenPolicy2: SystemName NULL (ignored by servers), an empty
/// LSAPR_OBJECT_ATTRIBUTES with its Length 24 as Windows fills it, and the
/// desired access.
pub fn encode_open_policy2(access: u32) -> Vec<u8> {
    let mut w = NdrWriter::new();
    w.pointer(false); // SystemName
    w.u32(24); // Length
    w.pointer(false); // RootDirectory
    w.pointer(false); // ObjectName
    w.u32(0); // Attributes
    w.pointer(false); // SecurityDescriptor
    w.pointer(false); // SecurityQualityOfService
    w.u32(access);
    w.into_bytes()
}

/// The answer to LsarOpenPolicy2 or LsarClose: a handle and the NTSTATUS.
pub fn decode_handle_reply(stub: &[u8]) -> Result<(PolicyHandle, u32), DecodeError> {
    let mut r = NdrReader::new(stub, "LSA handle reply");
    let mut handle = [0u8; 20];
    handle.copy_from_slice(r.bytes(20)?);
    Ok((handle, r.u32()?))
}

pub fn encode_close(handle: &PolicyHandle) -> Vec<u8> {
    let mut w = NdrWriter::new();
    w.bytes(handle);
    w.into_bytes()
}

/// LsarLookupSids2: PolicyHandle, SidEnumBuffer {Entries, SidInfo*}, an
/// empty TranslatedNames, LookupLevel (a 16-bit NDR enum), MappedCount 0,
/// LookupOptions 0, ClientRevision 1.
pub fn encode_lookup_sids2(handle: &PolicyHandle, sids: &[Sid]) -> Vec<u8> {
    let mut w = NdrWriter::new();
    w.bytes(handle);
    let count = sids.len() as u32;
    w.u32(count);
    w.pointer(!sids.is_empty());
    if !sids.is_empty() {
        w.u32(count); // conformance
        for _ in sids {
            w.pointer(true);
        }
        for sid in sids {
            sid.write_ndr(&mut w);
        }
    }
    w.u32(0); // TranslatedNames.Entries
    w.pointer(false); // TranslatedNames.Names
    w.u16(LOOKUP_LEVEL_WKSTA);
    w.u32(0); // MappedCount
    w.u32(0); // LookupOptions
    w.u32(1); // ClientRevision
    w.into_bytes()
}

/// One LSAPR_TRANSLATED_NAME_EX.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TranslatedName {
    pub use_: u16,
    pub name: Option<String>,
    pub domain_index: i32,
}

/// A decoded LsarLookupSids2 answer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LookupReply {
    /// ReferencedDomains: each domain's name (None: NULL or empty).
    pub domains: Vec<Option<String>>,
    pub names: Vec<TranslatedName>,
    pub mapped_count: u32,
    pub status: u32,
}

/// An `RPC_UNICODE_STRING` header: Length and whether its buffer follows.
fn string_header(r: &mut NdrReader<'_>) -> Result<(u16, bool), DecodeError> {
    // The structure holds a pointer: it is 4-aligned (after a 16-bit Use).
    r.align(4)?;
    let length = r.u16()?;
    let _maximum = r.u16()?;
    let present = r.pointer()? != 0;
    if length > MAX_NAME_BYTES {
        return Err(r.error(format!("a name of {length} bytes")));
    }
    Ok((length, present))
}

fn string_body(
    r: &mut NdrReader<'_>,
    (length, present): (u16, bool),
) -> Result<Option<String>, DecodeError> {
    if !present {
        return Ok(None);
    }
    let text = r.unicode_string_buffer(length)?;
    Ok(Some(text).filter(|t| !t.is_empty()))
}

/// Decode an LsarLookupSids2 answer: ReferencedDomains, TranslatedNames,
/// MappedCount, ErrorCode. Arrays are bounded by what the stub can hold
/// ([`NdrReader::count`]) and the names by `expected` (the SIDs asked).
pub fn decode_lookup_sids2(stub: &[u8], expected: usize) -> Result<LookupReply, DecodeError> {
    let mut r = NdrReader::new(stub, "LsarLookupSids2 reply");
    let mut reply = LookupReply::default();
    if r.pointer()? != 0 {
        let entries = r.u32()? as usize;
        let array = r.pointer()?;
        let _max_entries = r.u32()?;
        if array != 0 {
            // LSAPR_TRUST_INFORMATION: RPC_UNICODE_STRING (8) + PRPC_SID (4).
            let count = r.count(12)?;
            if entries > count {
                return Err(r.error(format!("{entries} domains in an array of {count}")));
            }
            let mut headers = Vec::with_capacity(count);
            for _ in 0..count {
                let name = string_header(&mut r)?;
                let sid = r.pointer()? != 0;
                headers.push((name, sid));
            }
            for (name, sid) in headers {
                let name = string_body(&mut r, name)?;
                if sid {
                    Sid::read_ndr(&mut r)?;
                }
                reply.domains.push(name);
            }
            reply.domains.truncate(entries);
        }
    }
    let entries = r.u32()? as usize;
    if r.pointer()? != 0 {
        // LSAPR_TRANSLATED_NAME_EX: Use (2 + 2 pad), RPC_UNICODE_STRING (8),
        // DomainIndex (4), Flags (4).
        let count = r.count(20)?;
        if entries > count || count > expected {
            return Err(r.error(format!(
                "{entries} names in an array of {count} for {expected} SIDs"
            )));
        }
        let mut headers = Vec::with_capacity(count);
        for _ in 0..count {
            let use_ = r.u16()?;
            let name = string_header(&mut r)?;
            let domain_index = r.u32()? as i32;
            let _flags = r.u32()?;
            headers.push((use_, name, domain_index));
        }
        for (use_, name, domain_index) in headers {
            let name = string_body(&mut r, name)?;
            reply.names.push(TranslatedName {
                use_,
                name,
                domain_index,
            });
        }
        reply.names.truncate(entries);
    }
    reply.mapped_count = r.u32()?;
    reply.status = r.u32()?;
    Ok(reply)
}

/// Each SID of `sids` with what `reply` says of it. A SID the server could
/// not map (SidTypeUnknown/Invalid: Samba then sends the SID's text as its
/// "name") stays unnamed.
pub fn names_from(sids: &[Sid], reply: &LookupReply) -> Vec<SidName> {
    sids.iter()
        .enumerate()
        .map(|(i, sid)| {
            let unnamed = SidName {
                sid: sid.clone(),
                domain: None,
                name: None,
                use_: SID_TYPE_UNKNOWN,
            };
            let Some(found) = reply.names.get(i) else {
                return unnamed;
            };
            if matches!(found.use_, SID_TYPE_UNKNOWN | SID_TYPE_INVALID) || found.name.is_none() {
                return SidName {
                    use_: found.use_,
                    ..unnamed
                };
            }
            let domain = usize::try_from(found.domain_index)
                .ok()
                .and_then(|d| reply.domains.get(d).cloned().flatten());
            SidName {
                sid: sid.clone(),
                domain,
                name: found.name.clone(),
                use_: found.use_,
            }
        })
        .collect()
}

/// Name `sids` (any number; asked [`BATCH`] at a time on one policy handle).
/// STATUS_SOME_NOT_MAPPED is a partial answer, STATUS_NONE_MAPPED an answer
/// that names nobody; any other failure fails the whole lookup.
pub fn lookup_sids<T: PipeTransport>(
    rpc: &mut RpcClient<T>,
    sids: &[Sid],
) -> Result<Vec<SidName>, RemoteError> {
    let reply = rpc.call(
        OPNUM_OPEN_POLICY2,
        &encode_open_policy2(POLICY_LOOKUP_NAMES),
    )?;
    let (handle, status) = decode_handle_reply(&reply)?;
    if status != 0 {
        return Err(RemoteError::NtStatus {
            call: "LsarOpenPolicy2",
            status,
        });
    }
    let named = lookup_batches(rpc, &handle, sids);
    if !matches!(named, Err(RemoteError::Timeout { .. })) {
        let _ = rpc.call(OPNUM_CLOSE, &encode_close(&handle));
    }
    named
}

fn lookup_batches<T: PipeTransport>(
    rpc: &mut RpcClient<T>,
    handle: &PolicyHandle,
    sids: &[Sid],
) -> Result<Vec<SidName>, RemoteError> {
    let mut out = Vec::with_capacity(sids.len());
    for batch in sids.chunks(BATCH) {
        let stub = rpc.call(OPNUM_LOOKUP_SIDS2, &encode_lookup_sids2(handle, batch))?;
        let reply = match decode_lookup_sids2(&stub, batch.len()) {
            Ok(reply) => reply,
            // Nobody named: what the out parameters hold does not matter.
            Err(_) if stub.ends_with(&STATUS_NONE_MAPPED.to_le_bytes()) => LookupReply {
                status: STATUS_NONE_MAPPED,
                ..LookupReply::default()
            },
            Err(err) => return Err(err.into()),
        };
        match reply.status {
            0 | STATUS_SOME_NOT_MAPPED => out.extend(names_from(batch, &reply)),
            STATUS_NONE_MAPPED => out.extend(names_from(batch, &LookupReply::default())),
            status => {
                return Err(RemoteError::NtStatus {
                    call: "LsarLookupSids2",
                    status,
                });
            }
        }
    }
    Ok(out)
}

/// An LsarLookupSids2 answer as a server encodes it (tests, fuzz seeds):
/// `domains` are (name, SID), `names` are (use, name, domain index).
pub fn encode_lookup_sids2_reply(
    domains: &[(&str, Sid)],
    names: &[(u16, Option<&str>, i32)],
    mapped_count: u32,
    status: u32,
) -> Vec<u8> {
    let mut w = NdrWriter::new();
    w.pointer(true);
    w.u32(domains.len() as u32);
    w.pointer(!domains.is_empty());
    w.u32(32); // MaxEntries, as Windows sends it
    if !domains.is_empty() {
        w.u32(domains.len() as u32);
        for (name, _) in domains {
            w.unicode_string_header(Some(name));
            w.pointer(true);
        }
        for (name, sid) in domains {
            w.unicode_string_buffer(name);
            sid.write_ndr(&mut w);
        }
    }
    w.u32(names.len() as u32);
    w.pointer(!names.is_empty());
    if !names.is_empty() {
        w.u32(names.len() as u32);
        for (use_, name, index) in names {
            w.u16(*use_);
            w.align(4);
            w.unicode_string_header(*name);
            w.u32(*index as u32);
            w.u32(0);
        }
        for (_, name, _) in names {
            if let Some(name) = name {
                w.unicode_string_buffer(name);
            }
        }
    }
    w.u32(mapped_count);
    w.u32(status);
    w.into_bytes()
}

#[cfg(test)]
#[path = "lsarpc_tests.rs"]
mod tests;
