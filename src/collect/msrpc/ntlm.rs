//! NTLMv2 authentication (MS-NLMP), client side: NEGOTIATE, parse
//! CHALLENGE, build AUTHENTICATE and the session key used for SMB signing.
//!
//! No key exchange (NTLMSSP_NEGOTIATE_KEY_EXCH) is offered, so the exported
//! session key is the NTLMv2 session base key; that needs no RC4 and both
//! Windows and Samba accept it.
//!
//! The AUTHENTICATE message carries a MIC over all three messages, announced
//! by MsvAvFlags, and names the service it is meant for in MsvAvTargetName
//! (`cifs/HOST`), so a server cannot strip flags from the negotiation or
//! relay the response to another service that checks the name (MS-NLMP
//! 3.1.5.1.2). Channel bindings (MsvAvChannelBindings) exist only for TLS;
//! SMB has none to offer.

use hmac::{Hmac, Mac};
use md5::{Digest, Md5};
use zeroize::Zeroizing;

use super::wire::{DecodeError, PutLe, Reader, slice_at, utf16le};

const SIGNATURE: &[u8; 8] = b"NTLMSSP\0";

pub const NEGOTIATE_UNICODE: u32 = 0x0000_0001;
pub const REQUEST_TARGET: u32 = 0x0000_0004;
pub const NEGOTIATE_SIGN: u32 = 0x0000_0010;
pub const NEGOTIATE_NTLM: u32 = 0x0000_0200;
pub const NEGOTIATE_ALWAYS_SIGN: u32 = 0x0000_8000;
pub const NEGOTIATE_EXTENDED_SESSIONSECURITY: u32 = 0x0008_0000;
pub const NEGOTIATE_TARGET_INFO: u32 = 0x0080_0000;
pub const NEGOTIATE_VERSION: u32 = 0x0200_0000;
pub const NEGOTIATE_128: u32 = 0x2000_0000;
pub const NEGOTIATE_56: u32 = 0x8000_0000;

const CLIENT_FLAGS: u32 = NEGOTIATE_UNICODE
    | REQUEST_TARGET
    | NEGOTIATE_SIGN
    | NEGOTIATE_NTLM
    | NEGOTIATE_ALWAYS_SIGN
    | NEGOTIATE_EXTENDED_SESSIONSECURITY
    | NEGOTIATE_TARGET_INFO
    | NEGOTIATE_VERSION
    | NEGOTIATE_128
    | NEGOTIATE_56;

/// AV_PAIR ids (MS-NLMP 2.2.2.1).
const AV_EOL: u16 = 0;
const AV_FLAGS: u16 = 6;
/// The server's FILETIME (MsvAvTimestamp).
const AV_TIMESTAMP: u16 = 7;
const AV_TARGET_NAME: u16 = 9;
/// MsvAvFlags bit: the AUTHENTICATE message carries a MIC.
const AV_FLAG_MIC_PRESENT: u32 = 0x0000_0002;

/// Version field: 10.0, NTLM revision 15 (informational only).
const VERSION: [u8; 8] = [10, 0, 0, 0, 0, 0, 0, 0x0F];

/// The NEGOTIATE_MESSAGE (type 1): no domain or workstation supplied.
pub fn negotiate_message() -> Vec<u8> {
    let mut msg = Vec::with_capacity(40);
    msg.extend_from_slice(SIGNATURE);
    msg.put_u32(1);
    msg.put_u32(CLIENT_FLAGS);
    msg.extend_from_slice(&[0; 8]); // DomainNameFields
    msg.extend_from_slice(&[0; 8]); // WorkstationFields
    msg.extend_from_slice(&VERSION);
    msg
}

/// What the server's CHALLENGE_MESSAGE (type 2) tells the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub flags: u32,
    pub server_challenge: [u8; 8],
    /// The AV_PAIR list, echoed into the NTLMv2 response.
    pub target_info: Vec<u8>,
    /// The message as received: the MIC covers it.
    pub raw: Vec<u8>,
    /// The server's Version field (product version and build), when it sent
    /// one: what kind of server this is.
    pub version: Option<[u8; 8]>,
}

impl Challenge {
    /// The server's MsvAvTimestamp, if it sent one.
    pub fn timestamp(&self) -> Option<u64> {
        av_pairs(&self.target_info)
            .into_iter()
            .find(|(id, value)| *id == AV_TIMESTAMP && value.len() == 8)
            .map(|(_, value)| {
                let mut raw = [0u8; 8];
                raw.copy_from_slice(value);
                u64::from_le_bytes(raw)
            })
    }

    /// The server's AV pairs with the client's added (MS-NLMP 3.1.5.1.2):
    /// MsvAvFlags with the MIC bit (merged into the server's flags, if it
    /// sent any), MsvAvTargetName, then MsvAvEOL.
    fn client_target_info(&self, target_name: &str) -> Vec<u8> {
        let mut flags = AV_FLAG_MIC_PRESENT;
        let mut out = Vec::with_capacity(self.target_info.len() + 64);
        for (id, value) in av_pairs(&self.target_info) {
            match id {
                AV_FLAGS if value.len() == 4 => {
                    flags |= u32::from_le_bytes([value[0], value[1], value[2], value[3]]);
                }
                // The client supplies its own target name.
                AV_TARGET_NAME => {}
                _ => put_av(&mut out, id, value),
            }
        }
        put_av(&mut out, AV_FLAGS, &flags.to_le_bytes());
        put_av(&mut out, AV_TARGET_NAME, &utf16le(target_name));
        put_av(&mut out, AV_EOL, &[]);
        out
    }
}

/// The AV pairs before MsvAvEOL (or the end of a truncated list).
fn av_pairs(info: &[u8]) -> Vec<(u16, &[u8])> {
    let mut r = Reader::new(info, "NTLM target info");
    let mut out = Vec::new();
    while r.remaining() >= 4 {
        let (Ok(id), Ok(len)) = (r.u16(), r.u16()) else {
            break;
        };
        let Ok(value) = r.bytes(usize::from(len)) else {
            break;
        };
        if id == AV_EOL {
            break;
        }
        out.push((id, value));
    }
    out
}

fn put_av(out: &mut Vec<u8>, id: u16, value: &[u8]) {
    out.put_u16(id);
    // AV values here are names and small fixed fields, far below 64 KiB.
    out.put_u16(u16::try_from(value.len()).unwrap_or(u16::MAX));
    out.extend_from_slice(value);
}

pub fn parse_challenge(bytes: &[u8]) -> Result<Challenge, DecodeError> {
    let mut r = Reader::new(bytes, "NTLM CHALLENGE message");
    if r.bytes(8)? != SIGNATURE {
        return Err(r.error("missing NTLMSSP signature"));
    }
    let kind = r.u32()?;
    if kind != 2 {
        return Err(r.error(format!("message type {kind}, expected 2")));
    }
    r.skip(8)?; // TargetNameFields
    let flags = r.u32()?;
    let server_challenge = r.array::<8>()?;
    r.skip(8)?; // Reserved
    let target_info = if r.remaining() >= 8 {
        let len = usize::from(r.u16()?);
        r.skip(2)?;
        let offset = r.u32()? as usize;
        slice_at(bytes, offset, len, "NTLM target info")?.to_vec()
    } else {
        Vec::new()
    };
    // MS-NLMP 2.2.1.2: the Version follows when NEGOTIATE_VERSION is set.
    let version = if flags & NEGOTIATE_VERSION != 0 && r.remaining() >= 8 {
        Some(r.array::<8>()?)
    } else {
        None
    };
    Ok(Challenge {
        flags,
        server_challenge,
        target_info,
        raw: bytes.to_vec(),
        version,
    })
}

/// Who is authenticating. The NT hash is borrowed; nothing here keeps it.
pub struct Identity<'a> {
    pub user: &'a str,
    pub domain: &'a str,
    /// MD4 of the UTF-16LE password (NTOWFv1); the password itself never
    /// reaches this module (see credentials.rs).
    pub nt_hash: &'a [u8; 16],
}

/// The messages the AUTHENTICATE answers, and the service it is for.
pub struct Exchange<'a> {
    /// Our NEGOTIATE_MESSAGE, as sent.
    pub negotiate: &'a [u8],
    pub challenge: &'a Challenge,
    /// MsvAvTargetName, e.g. `cifs/SRV01`.
    pub target_name: &'a str,
}

/// The AUTHENTICATE_MESSAGE and the key SMB signing derives from.
pub struct Authenticate {
    pub message: Vec<u8>,
    pub session_key: Zeroizing<[u8; 16]>,
}

fn hmac_md5(key: &[u8], parts: &[&[u8]]) -> [u8; 16] {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<Md5> as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// Upper-case as Windows does (RtlUpcaseUnicodeChar) and Samba does
/// (toupper_m): one UTF-16 unit to one. A character whose upper case is not
/// exactly one BMP character stays as it is, so `ß` stays `ß` (Rust's full
/// mapping would make it `SS` and the NTLMv2 response would not match).
pub fn upcase_like_windows(text: &str) -> String {
    text.chars()
        .map(|c| {
            let mut upper = c.to_uppercase();
            match (upper.next(), upper.next()) {
                (Some(u), None) if u.len_utf16() == 1 && c.len_utf16() == 1 => u,
                _ => c,
            }
        })
        .collect()
}

/// NTOWFv2: HMAC-MD5 keyed by MD4(password) over UPPER(user) + domain
/// (MS-NLMP 3.3.2; the domain is not upper-cased).
fn ntowf_v2(identity: &Identity<'_>) -> Zeroizing<[u8; 16]> {
    let who = utf16le(&(upcase_like_windows(identity.user) + identity.domain));
    Zeroizing::new(hmac_md5(identity.nt_hash, &[&who]))
}

/// Current time as a Windows FILETIME (100 ns since 1601).
pub fn filetime_now() -> u64 {
    const EPOCH_DIFF_SECS: u64 = 11_644_473_600;
    let since_unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    (since_unix.as_secs() + EPOCH_DIFF_SECS) * 10_000_000
        + u64::from(since_unix.subsec_nanos() / 100)
}

/// Build the NTLMv2 AUTHENTICATE_MESSAGE (type 3) with its MIC.
/// `client_challenge` must be random; `now` is used when the server sent no timestamp.
pub fn authenticate_message(
    identity: &Identity<'_>,
    exchange: &Exchange<'_>,
    client_challenge: [u8; 8],
    now: u64,
) -> Authenticate {
    let challenge = exchange.challenge;
    let target_info = challenge.client_target_info(exchange.target_name);
    let mut auth = authenticate_with_info(identity, challenge, &target_info, client_challenge, now);
    // MS-NLMP 3.1.5.1.2: MIC = HMAC_MD5(ExportedSessionKey, NEGOTIATE ||
    // CHALLENGE || AUTHENTICATE with the MIC field zero).
    let mic = hmac_md5(
        auth.session_key.as_slice(),
        &[exchange.negotiate, &challenge.raw, &auth.message],
    );
    auth.message[MIC_OFFSET..MIC_OFFSET + 16].copy_from_slice(&mic);
    auth
}

/// Where the MIC sits: after the six payload fields, the flags and the version.
const MIC_OFFSET: usize = 72;

/// The AUTHENTICATE message with `target_info` in the NTLMv2 response and a
/// zero MIC field.
fn authenticate_with_info(
    identity: &Identity<'_>,
    challenge: &Challenge,
    target_info: &[u8],
    client_challenge: [u8; 8],
    now: u64,
) -> Authenticate {
    let response_key = ntowf_v2(identity);
    let server_time = challenge.timestamp();
    let mut temp = Vec::with_capacity(28 + target_info.len() + 4);
    temp.extend_from_slice(&[1, 1, 0, 0, 0, 0, 0, 0]);
    temp.put_u64(server_time.unwrap_or(now));
    temp.extend_from_slice(&client_challenge);
    temp.extend_from_slice(&[0; 4]);
    temp.extend_from_slice(target_info);
    temp.extend_from_slice(&[0; 4]);
    let nt_proof = hmac_md5(
        response_key.as_slice(),
        &[&challenge.server_challenge, &temp],
    );
    let mut nt_response = nt_proof.to_vec();
    nt_response.extend_from_slice(&temp);
    // With a server timestamp, MS-NLMP says send Z(24) as the LM response.
    let lm_response = if server_time.is_some() {
        vec![0u8; 24]
    } else {
        let mut lm = hmac_md5(
            response_key.as_slice(),
            &[&challenge.server_challenge, &client_challenge],
        )
        .to_vec();
        lm.extend_from_slice(&client_challenge);
        lm
    };
    let session_key = Zeroizing::new(hmac_md5(response_key.as_slice(), &[&nt_proof]));

    let domain = utf16le(identity.domain);
    let user = utf16le(identity.user);
    let workstation: Vec<u8> = Vec::new();
    let flags = challenge.flags & CLIENT_FLAGS | NEGOTIATE_UNICODE;

    const HEADER_LEN: usize = MIC_OFFSET + 16;
    let payloads: [&[u8]; 6] = [
        &lm_response,
        &nt_response,
        &domain,
        &user,
        &workstation,
        &[],
    ];
    let mut msg = Vec::with_capacity(HEADER_LEN + payloads.iter().map(|p| p.len()).sum::<usize>());
    msg.extend_from_slice(SIGNATURE);
    msg.put_u32(3);
    let mut offset = HEADER_LEN;
    for payload in payloads {
        // Payloads are tiny (names and a response of a few hundred bytes); u16 lengths suffice.
        let len = u16::try_from(payload.len()).unwrap_or(u16::MAX);
        msg.put_u16(len);
        msg.put_u16(len);
        msg.put_u32(offset as u32);
        offset += payload.len();
    }
    msg.put_u32(flags);
    msg.extend_from_slice(&VERSION);
    msg.extend_from_slice(&[0; 16]); // MIC, filled in by the caller
    for payload in payloads {
        msg.extend_from_slice(payload);
    }
    Authenticate {
        message: msg,
        session_key,
    }
}

/// The SPNEGO mechListMIC (RFC 4178 5, MS-SPNG 3.1.5.1): the NTLM signature
/// (MS-NLMP 3.4.4.2, extended session security, no key exchange so no RC4)
/// of the DER MechTypeList, sequence number 0, with the client-to-server
/// signing key. Samba demands it once the NTLM message carries a MIC.
pub fn mech_list_mic(exported_session_key: &[u8; 16], mech_types: &[u8]) -> [u8; 16] {
    let mut hasher = Md5::new();
    hasher.update(exported_session_key);
    hasher.update(b"session key to client-to-server signing key magic constant\0");
    let signing_key: Zeroizing<[u8; 16]> = Zeroizing::new(hasher.finalize().into());
    let sequence = 0u32.to_le_bytes();
    let checksum = hmac_md5(signing_key.as_slice(), &[&sequence, mech_types]);
    let mut out = [0u8; 16];
    out[..4].copy_from_slice(&1u32.to_le_bytes());
    out[4..12].copy_from_slice(&checksum[..8]);
    out[12..].copy_from_slice(&sequence);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// MS-NLMP 4.2.4 test vectors (NTLMv2).
    const USER: &str = "User";
    const DOMAIN: &str = "Domain";
    /// NTOWFv1("Password"), MS-NLMP 4.2.2.1.2.
    const NT_HASH: [u8; 16] = [
        0xa4, 0xf4, 0x9c, 0x40, 0x65, 0x10, 0xbd, 0xca, 0xb6, 0x82, 0x4e, 0xe7, 0xc3, 0x0f, 0xd8,
        0x52,
    ];
    const SERVER_CHALLENGE: [u8; 8] = [0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef];
    const CLIENT_CHALLENGE: [u8; 8] = [0xaa; 8];

    fn spec_target_info() -> Vec<u8> {
        // MsvAvNbDomainName "Domain", MsvAvNbComputerName "Server", MsvAvEOL.
        let mut info = Vec::new();
        for (id, text) in [(2u16, "Domain"), (1u16, "Server")] {
            let value = utf16le(text);
            info.put_u16(id);
            info.put_u16(value.len() as u16);
            info.extend_from_slice(&value);
        }
        info.extend_from_slice(&[0; 4]);
        info
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn ntowfv2_matches_ms_nlmp_vector() {
        let key = ntowf_v2(&Identity {
            user: USER,
            domain: DOMAIN,
            nt_hash: &NT_HASH,
        });
        assert_eq!(hex(key.as_slice()), "0c868a403bfd7a93a3001ef22ef02e3f");
    }

    #[test]
    fn authenticate_matches_ms_nlmp_vector() {
        let challenge = Challenge {
            flags: 0xe28a8233,
            server_challenge: SERVER_CHALLENGE,
            target_info: spec_target_info(),
            raw: Vec::new(),
            version: None,
        };
        // The spec's vector has the server's AV pairs only.
        let auth = authenticate_with_info(
            &Identity {
                user: USER,
                domain: DOMAIN,
                nt_hash: &NT_HASH,
            },
            &challenge,
            &challenge.target_info,
            CLIENT_CHALLENGE,
            0,
        );
        // NTProofStr and SessionBaseKey from MS-NLMP 4.2.4.2.2 / 4.2.4.1.
        let nt_offset = u32::from_le_bytes(auth.message[24..28].try_into().unwrap()) as usize;
        assert_eq!(
            hex(&auth.message[nt_offset..nt_offset + 16]),
            "68cd0ab851e51c96aabc927bebef6a1c"
        );
        assert_eq!(
            hex(auth.session_key.as_slice()),
            "8de40ccadbc14a82f15cb0ad0de95ca3"
        );
        let lm_offset = u32::from_le_bytes(auth.message[16..20].try_into().unwrap()) as usize;
        assert_eq!(
            hex(&auth.message[lm_offset..lm_offset + 24]),
            "86c35097ac9cec102554764a57cccc19aaaaaaaaaaaaaaaa"
        );
    }

    #[test]
    fn upper_case_is_one_to_one_as_in_windows() {
        assert_eq!(upcase_like_windows("ußer1"), "UßER1");
        assert_eq!(upcase_like_windows("üser2"), "ÜSER2");
        assert_eq!(upcase_like_windows("ǆ"), "Ǆ");
        // U+FB00 (ff ligature) upper-cases to "FF" in Unicode: kept.
        assert_eq!(upcase_like_windows("\u{FB00}x"), "\u{FB00}X");
        // Outside the BMP Windows' table does not apply: kept.
        assert_eq!(upcase_like_windows("\u{10428}"), "\u{10428}");
    }

    #[test]
    fn client_av_pairs_add_mic_flag_and_target_name_before_eol() {
        let mut info = spec_target_info();
        info.truncate(info.len() - 4);
        put_av(&mut info, AV_FLAGS, &1u32.to_le_bytes());
        put_av(&mut info, AV_TARGET_NAME, &utf16le("evil/other"));
        put_av(&mut info, AV_EOL, &[]);
        let challenge = Challenge {
            flags: 0,
            server_challenge: SERVER_CHALLENGE,
            target_info: info,
            raw: Vec::new(),
            version: None,
        };
        let ours = challenge.client_target_info("cifs/SRV01");
        let pairs = av_pairs(&ours);
        let ids: Vec<u16> = pairs.iter().map(|(id, _)| *id).collect();
        assert_eq!(ids, [2, 1, AV_FLAGS, AV_TARGET_NAME]);
        assert_eq!(
            pairs[2].1,
            3u32.to_le_bytes(),
            "server's flags kept, MIC bit added"
        );
        assert_eq!(pairs[3].1, utf16le("cifs/SRV01"));
        assert!(ours.ends_with(&[0, 0, 0, 0]));
    }

    #[test]
    fn mic_covers_all_three_messages() {
        let challenge = Challenge {
            flags: 0xe28a8233,
            server_challenge: SERVER_CHALLENGE,
            target_info: spec_target_info(),
            raw: b"challenge bytes".to_vec(),
            version: None,
        };
        let identity = Identity {
            user: USER,
            domain: DOMAIN,
            nt_hash: &NT_HASH,
        };
        let negotiate = negotiate_message();
        let exchange = Exchange {
            negotiate: &negotiate,
            challenge: &challenge,
            target_name: "cifs/SRV01",
        };
        let auth = authenticate_message(&identity, &exchange, CLIENT_CHALLENGE, 0);
        let mut zeroed = auth.message.clone();
        zeroed[MIC_OFFSET..MIC_OFFSET + 16].fill(0);
        let expected = hmac_md5(
            auth.session_key.as_slice(),
            &[&negotiate, &challenge.raw, &zeroed],
        );
        assert_eq!(auth.message[MIC_OFFSET..MIC_OFFSET + 16], expected);
        // Payload offsets start after the MIC.
        let lm_offset = u32::from_le_bytes(auth.message[16..20].try_into().unwrap());
        assert_eq!(lm_offset as usize, MIC_OFFSET + 16);
    }

    #[test]
    fn challenge_round_trip_and_rejects_garbage() {
        let info = spec_target_info();
        let mut msg = Vec::new();
        msg.extend_from_slice(SIGNATURE);
        msg.put_u32(2);
        msg.extend_from_slice(&[0; 8]);
        msg.put_u32(0x1234);
        msg.extend_from_slice(&SERVER_CHALLENGE);
        msg.extend_from_slice(&[0; 8]);
        msg.put_u16(info.len() as u16);
        msg.put_u16(info.len() as u16);
        msg.put_u32(48);
        msg.extend_from_slice(&info);
        let parsed = parse_challenge(&msg).unwrap();
        assert_eq!(parsed.flags, 0x1234);
        assert_eq!(parsed.server_challenge, SERVER_CHALLENGE);
        assert_eq!(parsed.target_info, info);
        assert_eq!(parsed.timestamp(), None);
        assert!(parse_challenge(&msg[..30]).is_err());
        msg[8] = 3;
        assert!(parse_challenge(&msg).is_err());
    }
}
