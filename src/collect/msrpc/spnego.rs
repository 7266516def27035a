//! The minimum of SPNEGO (RFC 4178) that SMB2 SESSION_SETUP needs to carry
//! NTLMSSP or Kerberos: a NegTokenInit offering one mechanism (NTLM, or
//! Kerberos under both its OIDs), a NegTokenResp carrying the next token,
//! and reading the server's NegTokenResp.

use super::wire::DecodeError;

/// 1.3.6.1.5.5.2 (SPNEGO), DER encoded with tag and length.
const SPNEGO_OID: [u8; 8] = [0x06, 0x06, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x02];
/// 1.3.6.1.4.1.311.2.2.10 (NTLMSSP), DER encoded with tag and length.
const NTLMSSP_OID: [u8; 12] = [
    0x06, 0x0a, 0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x02, 0x0a,
];

/// 1.2.840.48018.1.2.2, the OID Windows 2000 gave Kerberos by mistake and
/// every Windows client still offers first; servers answer to either.
const MS_KRB5_OID: [u8; 11] = [
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x82, 0xf7, 0x12, 0x01, 0x02, 0x02,
];
/// 1.2.840.113554.1.2.2 (Kerberos V5, RFC 4121).
const KRB5_OID: [u8; 11] = [
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02,
];

fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = (len as u32).to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        out.push(0x80 | (4 - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

/// The DER MechTypeList the client offers (NTLMSSP only): the mechListMIC
/// is computed over exactly these bytes (RFC 4178 5).
pub fn mech_types() -> Vec<u8> {
    der(0x30, &NTLMSSP_OID)
}

/// The DER MechTypeList of a Kerberos logon: the MS OID, then the standard one.
pub fn kerberos_mech_types() -> Vec<u8> {
    der(0x30, &[MS_KRB5_OID.as_slice(), &KRB5_OID].concat())
}

/// GSS-API InitialContextToken holding a NegTokenInit with one mechanism (NTLMSSP).
pub fn neg_token_init(ntlm_negotiate: &[u8]) -> Vec<u8> {
    neg_token_init_with(&mech_types(), ntlm_negotiate)
}

/// A NegTokenInit offering `mech_types` (a DER MechTypeList) with the
/// first mechanism's optimistic token.
pub fn neg_token_init_with(mech_types: &[u8], token: &[u8]) -> Vec<u8> {
    let mech_types = der(0xa0, mech_types);
    let mech_token = der(0xa2, &der(0x04, token));
    let init = der(0xa0, &der(0x30, &[mech_types, mech_token].concat()));
    der(0x60, &[SPNEGO_OID.as_slice(), &init].concat())
}

/// NegTokenResp carrying the client's next token and the mechListMIC.
pub fn neg_token_resp(message: &[u8], mech_list_mic: &[u8]) -> Vec<u8> {
    let mut fields = der(0xa2, &der(0x04, message));
    if !mech_list_mic.is_empty() {
        fields.extend(der(0xa3, &der(0x04, mech_list_mic)));
    }
    der(0xa1, &der(0x30, &fields))
}

/// One DER TLV: (tag, content, rest).
fn tlv(data: &[u8]) -> Result<(u8, &[u8], &[u8]), DecodeError> {
    let err = |detail: &str| DecodeError::new("SPNEGO token", detail);
    let (&tag, rest) = data.split_first().ok_or_else(|| err("empty"))?;
    let (&first, rest) = rest.split_first().ok_or_else(|| err("no length"))?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return Err(err("bad length"));
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return Err(err("length beyond the data"));
    }
    Ok((tag, &rest[..len], &rest[len..]))
}

/// negState of a NegTokenResp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NegState {
    AcceptCompleted,
    AcceptIncomplete,
    Reject,
    RequestMic,
}

/// The server's NegTokenResp: its state and the NTLM token it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NegTokenResp {
    pub state: Option<NegState>,
    pub response_token: Option<Vec<u8>>,
    /// The server's mechListMIC, when it sent one.
    pub mech_list_mic: Option<Vec<u8>>,
}

pub fn parse_neg_token_resp(data: &[u8]) -> Result<NegTokenResp, DecodeError> {
    let err = |detail: &str| DecodeError::new("SPNEGO token", detail);
    let (tag, body, _) = tlv(data)?;
    if tag != 0xa1 {
        return Err(err("not a NegTokenResp"));
    }
    let (tag, mut fields, _) = tlv(body)?;
    if tag != 0x30 {
        return Err(err("NegTokenResp is not a SEQUENCE"));
    }
    let mut out = NegTokenResp {
        state: None,
        response_token: None,
        mech_list_mic: None,
    };
    while !fields.is_empty() {
        let (tag, content, rest) = tlv(fields)?;
        fields = rest;
        match tag {
            0xa0 => {
                let (inner_tag, value, _) = tlv(content)?;
                if inner_tag != 0x0a || value.len() != 1 {
                    return Err(err("negState is not an ENUMERATED"));
                }
                out.state = Some(match value[0] {
                    0 => NegState::AcceptCompleted,
                    1 => NegState::AcceptIncomplete,
                    2 => NegState::Reject,
                    3 => NegState::RequestMic,
                    _ => return Err(err("unknown negState")),
                });
            }
            0xa2 => {
                let (inner_tag, value, _) = tlv(content)?;
                if inner_tag != 0x04 {
                    return Err(err("responseToken is not an OCTET STRING"));
                }
                out.response_token = Some(value.to_vec());
            }
            0xa3 => {
                let (inner_tag, value, _) = tlv(content)?;
                if inner_tag != 0x04 {
                    return Err(err("mechListMIC is not an OCTET STRING"));
                }
                out.mech_list_mic = Some(value.to_vec());
            }
            _ => {} // supportedMech
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_token_is_well_formed_der() {
        let token = neg_token_init(&[0x42; 200]);
        let (tag, body, rest) = tlv(&token).unwrap();
        assert_eq!(tag, 0x60);
        assert!(rest.is_empty());
        assert!(body.starts_with(&SPNEGO_OID));
        assert!(token.windows(200).any(|w| w == [0x42; 200]));
    }

    #[test]
    fn resp_round_trip_and_long_lengths() {
        let payload = vec![7u8; 70_000];
        let parsed = parse_neg_token_resp(&neg_token_resp(&payload, &[])).unwrap();
        assert_eq!(parsed.response_token.as_deref(), Some(payload.as_slice()));
        assert_eq!(parsed.state, None);
    }

    #[test]
    fn resp_carries_the_mech_list_mic_after_the_token() {
        let token = neg_token_resp(&[1, 2], &[9; 16]);
        assert!(token.ends_with(&[
            0xa3, 18, 0x04, 16, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9
        ]));
        let parsed = parse_neg_token_resp(&token).unwrap();
        assert_eq!(parsed.response_token, Some(vec![1, 2]));
    }

    #[test]
    fn server_resp_with_state_and_mic() {
        // a1 { 30 { a0{0a 01 01} a1{06 ..ntlm oid} a2{04 03 010203} a3{04 00} } }
        let mut seq = der(0xa0, &[0x0a, 0x01, 0x01]);
        seq.extend(der(0xa1, &NTLMSSP_OID));
        seq.extend(der(0xa2, &der(0x04, &[1, 2, 3])));
        seq.extend(der(0xa3, &der(0x04, &[])));
        let token = der(0xa1, &der(0x30, &seq));
        let parsed = parse_neg_token_resp(&token).unwrap();
        assert_eq!(parsed.state, Some(NegState::AcceptIncomplete));
        assert_eq!(parsed.response_token, Some(vec![1, 2, 3]));
        assert!(parse_neg_token_resp(&token[..token.len() - 3]).is_err());
        assert!(parse_neg_token_resp(&[0xa1, 0x85, 1, 2, 3, 4, 5]).is_err());
    }
}
