//! SMB2 NEGOTIATE (MS-SMB2 2.2.3, 2.2.4) with its 3.1.1 negotiate contexts,
//! and FSCTL_VALIDATE_NEGOTIATE_INFO (2.2.31.4, 2.2.32.6), the 3.0/3.0.2
//! check that nobody rewrote the negotiation.

use super::smb2::{
    CAP_ENCRYPTION, DIALECT_300, DIALECT_302, DIALECT_311, HEADER_LEN, SECURITY_SIGNING_ENABLED,
    SECURITY_SIGNING_REQUIRED, body,
};
use super::smb2_crypto::Cipher;
use super::wire::{DecodeError, PutLe, Reader};

const PREAUTH_INTEGRITY_CAPABILITIES: u16 = 0x0001;
const ENCRYPTION_CAPABILITIES: u16 = 0x0002;
const SHA_512: u16 = 0x0001;

/// FSCTL_VALIDATE_NEGOTIATE_INFO (MS-SMB2 2.2.31).
pub const FSCTL_VALIDATE_NEGOTIATE_INFO: u32 = 0x0014_0204;

/// What the client says in its NEGOTIATE; kept, because VALIDATE_NEGOTIATE_INFO
/// must repeat it exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientOffer {
    pub client_guid: [u8; 16],
    pub salt: [u8; 32],
    /// Ascending; only dialects at or above the scan's minimum.
    pub dialects: Vec<u16>,
}

impl ClientOffer {
    /// Signing is always required by this client (MS-SMB2 3.2.4.2.3 with
    /// RequireMessageSigning): the server then signs every answer of the
    /// session, including the final SESSION_SETUP (3.3.5.5.3).
    pub const SECURITY_MODE: u16 = SECURITY_SIGNING_ENABLED | SECURITY_SIGNING_REQUIRED;

    /// Encryption is offered whenever a 3.x dialect is: a server that
    /// requires it can then be scanned, and one that merely wants it gets it.
    pub fn capabilities(&self) -> u32 {
        if self.dialects.iter().any(|d| *d >= DIALECT_300) {
            CAP_ENCRYPTION
        } else {
            0
        }
    }

    /// The NEGOTIATE request body; with 3.1.1 offered, a SHA-512
    /// pre-authentication integrity context and the ciphers (2.2.3.1).
    pub fn request(&self) -> Vec<u8> {
        let with_contexts = self.dialects.contains(&DIALECT_311);
        let mut b = Vec::new();
        b.put_u16(36);
        b.put_u16(self.dialects.len() as u16);
        b.put_u16(Self::SECURITY_MODE);
        b.put_u16(0);
        b.put_u32(self.capabilities());
        b.extend_from_slice(&self.client_guid);
        let context_offset_at = b.len();
        b.put_u32(0); // NegotiateContextOffset (3.1.1), patched below; else ClientStartTime
        b.put_u16(if with_contexts { 2 } else { 0 });
        b.put_u16(0);
        for dialect in &self.dialects {
            b.put_u16(*dialect);
        }
        if !with_contexts {
            return b;
        }
        let context = |b: &mut Vec<u8>, kind: u16, data: &[u8]| {
            // Every context starts 8-aligned, measured from the SMB2 header.
            while (HEADER_LEN + b.len()) % 8 != 0 {
                b.push(0);
            }
            b.put_u16(kind);
            b.put_u16(data.len() as u16);
            b.put_u32(0);
            b.extend_from_slice(data);
        };
        while (HEADER_LEN + b.len()) % 8 != 0 {
            b.push(0);
        }
        let context_offset = (HEADER_LEN + b.len()) as u32;
        b.set_u32(context_offset_at, context_offset);
        let mut preauth = Vec::new();
        preauth.put_u16(1); // HashAlgorithmCount
        preauth.put_u16(self.salt.len() as u16);
        preauth.put_u16(SHA_512);
        preauth.extend_from_slice(&self.salt);
        context(&mut b, PREAUTH_INTEGRITY_CAPABILITIES, &preauth);
        let mut ciphers = Vec::new();
        ciphers.put_u16(Cipher::PREFERENCE.len() as u16);
        for cipher in Cipher::PREFERENCE {
            ciphers.put_u16(cipher as u16);
        }
        context(&mut b, ENCRYPTION_CAPABILITIES, &ciphers);
        b
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NegotiateResponse {
    pub security_mode: u16,
    pub dialect: u16,
    pub server_guid: [u8; 16],
    pub capabilities: u32,
    pub max_transact_size: u32,
    pub max_read_size: u32,
    pub max_write_size: u32,
    /// The cipher the session would encrypt with, if the server can.
    pub cipher: Option<Cipher>,
}

/// Parse the server's NEGOTIATE response. The dialect is returned as the
/// server chose it; whether it is acceptable is the caller's decision.
pub fn parse_negotiate_response(msg: &[u8]) -> Result<NegotiateResponse, DecodeError> {
    let mut r = Reader::new(body(msg), "SMB2 NEGOTIATE response");
    if r.u16()? != 65 {
        return Err(r.error("StructureSize is not 65"));
    }
    let security_mode = r.u16()?;
    let dialect = r.u16()?;
    let context_count = r.u16()?;
    let server_guid = r.array::<16>()?;
    let capabilities = r.u32()?;
    let max_transact_size = r.u32()?;
    let max_read_size = r.u32()?;
    let max_write_size = r.u32()?;
    r.skip(8 + 8 + 2 + 2)?; // SystemTime, ServerStartTime, security buffer
    let context_offset = r.u32()? as usize;
    let cipher = match dialect {
        DIALECT_311 => parse_contexts(msg, context_offset, context_count)?,
        DIALECT_300 | DIALECT_302 if capabilities & CAP_ENCRYPTION != 0 => Some(Cipher::Aes128Ccm),
        _ => None,
    };
    Ok(NegotiateResponse {
        security_mode,
        dialect,
        server_guid,
        capabilities,
        max_transact_size,
        max_read_size,
        max_write_size,
        cipher,
    })
}

/// The 3.1.1 response contexts (MS-SMB2 3.2.5.2): exactly one SHA-512
/// pre-authentication context, and the one cipher the server chose (0: none).
fn parse_contexts(msg: &[u8], offset: usize, count: u16) -> Result<Option<Cipher>, DecodeError> {
    let what = "SMB2 NEGOTIATE contexts";
    let mut r = Reader::new(msg, what);
    r.seek(offset)?;
    let mut preauth = false;
    let mut cipher = None;
    for i in 0..count {
        if i > 0 {
            let pad = (8 - (r.position() % 8)) % 8;
            r.skip(pad)?;
        }
        let kind = r.u16()?;
        let len = usize::from(r.u16()?);
        r.skip(4)?;
        let mut data = Reader::new(r.bytes(len)?, what);
        match kind {
            PREAUTH_INTEGRITY_CAPABILITIES => {
                if preauth || data.u16()? != 1 {
                    return Err(data.error("the server must choose exactly one preauth hash"));
                }
                data.skip(2)?; // SaltLength
                if data.u16()? != SHA_512 {
                    return Err(data.error("the preauth hash is not SHA-512"));
                }
                preauth = true;
            }
            ENCRYPTION_CAPABILITIES => {
                if cipher.is_some() || data.u16()? != 1 {
                    return Err(data.error("the server must choose exactly one cipher"));
                }
                cipher = match data.u16()? {
                    0 => None,
                    id => Some(
                        Cipher::from_id(id)
                            .ok_or_else(|| data.error(format!("cipher {id} was not offered")))?,
                    ),
                };
            }
            _ => {} // compression, signing, transport: not offered, ignored
        }
    }
    if !preauth {
        return Err(DecodeError::new(
            what,
            "no pre-authentication integrity context",
        ));
    }
    Ok(cipher)
}

/// The input of FSCTL_VALIDATE_NEGOTIATE_INFO: what the client sent in its
/// NEGOTIATE, again, now under the session's signature (MS-SMB2 3.2.4.20.12 —
/// sent after the tree connect; 2.2.31.4).
pub fn validate_negotiate_input(offer: &ClientOffer) -> Vec<u8> {
    let mut b = Vec::with_capacity(24 + 2 * offer.dialects.len());
    b.put_u32(offer.capabilities());
    b.extend_from_slice(&offer.client_guid);
    b.put_u16(ClientOffer::SECURITY_MODE);
    b.put_u16(offer.dialects.len() as u16);
    for dialect in &offer.dialects {
        b.put_u16(*dialect);
    }
    b
}

/// Check the server's VALIDATE_NEGOTIATE_INFO output against its NEGOTIATE
/// response (MS-SMB2 3.2.5.14.12): any difference means the negotiation the
/// client saw is not the one the server had. Returns what differs.
pub fn validate_negotiate_output(
    output: &[u8],
    negotiated: &NegotiateResponse,
) -> Result<(), String> {
    let mut r = Reader::new(output, "VALIDATE_NEGOTIATE_INFO response");
    let parse =
        (|| -> Result<_, DecodeError> { Ok((r.u32()?, r.array::<16>()?, r.u16()?, r.u16()?)) })();
    let (capabilities, guid, security_mode, dialect) =
        parse.map_err(|e| format!("unreadable answer ({e})"))?;
    let mut differs = Vec::new();
    if capabilities != negotiated.capabilities {
        differs.push("capabilities");
    }
    if guid != negotiated.server_guid {
        differs.push("server GUID");
    }
    if security_mode != negotiated.security_mode {
        differs.push("security mode");
    }
    if dialect != negotiated.dialect {
        differs.push("dialect");
    }
    if differs.is_empty() {
        Ok(())
    } else {
        Err(format!("the server's {} differ", differs.join(", ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::msrpc::smb2::DIALECTS;

    fn offer() -> ClientOffer {
        ClientOffer {
            client_guid: [1; 16],
            salt: [9; 32],
            dialects: DIALECTS.to_vec(),
        }
    }

    #[test]
    fn contexts_are_8_aligned_from_the_header_and_carry_the_salt_and_ciphers() {
        let b = offer().request();
        let offset = u32::from_le_bytes(b[28..32].try_into().unwrap()) as usize;
        assert_eq!(offset % 8, 0);
        let at = offset - HEADER_LEN;
        assert_eq!(u16::from_le_bytes([b[at], b[at + 1]]), 1);
        assert!(b.windows(32).any(|w| w == [9; 32]));
        let second = (at + 8 + 38).next_multiple_of(8);
        assert_eq!(u16::from_le_bytes([b[second], b[second + 1]]), 2);
        assert_eq!(b[second + 8], 4, "four ciphers");
    }

    #[test]
    fn without_3_1_1_there_are_no_contexts_and_without_3_x_no_encryption() {
        let mut offer = offer();
        offer.dialects = vec![DIALECT_302];
        let b = offer.request();
        assert_eq!(u16::from_le_bytes([b[32], b[33]]), 0);
        assert_eq!(b.len(), 36 + 2);
        assert_eq!(offer.capabilities(), CAP_ENCRYPTION);
        offer.dialects = vec![0x0210];
        assert_eq!(offer.capabilities(), 0);
    }

    #[test]
    fn validate_output_names_what_differs() {
        let negotiated = NegotiateResponse {
            security_mode: 1,
            dialect: DIALECT_300,
            server_guid: [4; 16],
            capabilities: 0x40,
            max_transact_size: 0,
            max_read_size: 0,
            max_write_size: 0,
            cipher: Some(Cipher::Aes128Ccm),
        };
        let mut out = Vec::new();
        out.put_u32(0x40);
        out.extend_from_slice(&[4; 16]);
        out.put_u16(1);
        out.put_u16(DIALECT_300);
        assert_eq!(validate_negotiate_output(&out, &negotiated), Ok(()));
        out[22] = 0x02;
        let err = validate_negotiate_output(&out, &negotiated).unwrap_err();
        assert!(err.contains("dialect"), "{err}");
        assert!(validate_negotiate_output(&out[..10], &negotiated).is_err());
    }
}
