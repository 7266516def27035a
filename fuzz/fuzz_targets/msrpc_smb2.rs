//! What an SMB server sends before and during authentication: SMB2 responses,
//! SPNEGO tokens and NTLM CHALLENGE messages.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lingerscan::collect::msrpc::{ntlm, smb2, spnego};

fuzz_target!(|data: &[u8]| {
    let _ = smb2::parse_header(data);
    let _ = smb2::parse_negotiate_response(data);
    let _ = smb2::parse_session_setup_response(data);
    let _ = smb2::parse_create_response(data);
    let _ = smb2::parse_ioctl_response(data);
    let _ = smb2::parse_read_response(data);
    let _ = smb2::verify_signature(smb2::DIALECT_311, &[0; 16], data);
    if let Some(inner) = spnego::parse_neg_token_resp(data).ok().and_then(|t| t.response_token) {
        let _ = ntlm::parse_challenge(&inner);
    }
    if let Ok(challenge) = ntlm::parse_challenge(data) {
        let _ = challenge.timestamp();
        let identity = ntlm::Identity {
            user: "u",
            domain: "d",
            nt_hash: &[0; 16],
        };
        let _ = ntlm::authenticate_message(&identity, &challenge, [0; 8], 0);
    }
});
