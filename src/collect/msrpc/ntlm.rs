//! NTLMv2 authentication (MS-NLMP), client side: NEGOTIATE, parse
//! CHALLENGE, build AUTHENTICATE and the session key used for SMB signing.
//!
//! No key exchange (NTLMSSP_NEGOTIATE_KEY_EXCH) is offered, so the exported
//! session key is the NTLMv2 session base key; that needs no RC4 and both
//! Windows and Samba accept it.

use hmac::{Hmac, Mac};
use md5::Md5;
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

/// AV_PAIR id of the server's FILETIME (MsvAvTimestamp).
const AV_TIMESTAMP: u16 = 7;
const AV_EOL: u16 = 0;

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
}

impl Challenge {
    /// The server's MsvAvTimestamp, if it sent one.
    pub fn timestamp(&self) -> Option<u64> {
        let mut r = Reader::new(&self.target_info, "NTLM target info");
        while r.remaining() >= 4 {
            let id = r.u16().ok()?;
            let len = usize::from(r.u16().ok()?);
            let value = r.bytes(len).ok()?;
            match id {
                AV_EOL => return None,
                AV_TIMESTAMP if len == 8 => {
                    let mut raw = [0u8; 8];
                    raw.copy_from_slice(value);
                    return Some(u64::from_le_bytes(raw));
                }
                _ => {}
            }
        }
        None
    }
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
    Ok(Challenge {
        flags,
        server_challenge,
        target_info,
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

/// NTOWFv2: HMAC-MD5 keyed by MD4(password) over UPPER(user) + domain.
fn ntowf_v2(identity: &Identity<'_>) -> Zeroizing<[u8; 16]> {
    let who = utf16le(&(identity.user.to_uppercase() + identity.domain));
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

/// Build the NTLMv2 AUTHENTICATE_MESSAGE (type 3).
/// `client_challenge` must be random; `now` is used when the server sent no timestamp.
pub fn authenticate_message(
    identity: &Identity<'_>,
    challenge: &Challenge,
    client_challenge: [u8; 8],
    now: u64,
) -> Authenticate {
    let response_key = ntowf_v2(identity);
    let server_time = challenge.timestamp();
    let mut temp = Vec::with_capacity(28 + challenge.target_info.len() + 4);
    temp.extend_from_slice(&[1, 1, 0, 0, 0, 0, 0, 0]);
    temp.put_u64(server_time.unwrap_or(now));
    temp.extend_from_slice(&client_challenge);
    temp.extend_from_slice(&[0; 4]);
    temp.extend_from_slice(&challenge.target_info);
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

    const HEADER_LEN: usize = 72;
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
    for payload in payloads {
        msg.extend_from_slice(payload);
    }
    Authenticate {
        message: msg,
        session_key,
    }
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
        };
        let auth = authenticate_message(
            &Identity {
                user: USER,
                domain: DOMAIN,
                nt_hash: &NT_HASH,
            },
            &challenge,
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
