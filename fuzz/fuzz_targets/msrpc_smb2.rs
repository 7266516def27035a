//! What an SMB server sends before and during authentication: SMB2 responses,
//! SPNEGO tokens, NTLM CHALLENGE messages, signed and encrypted (transform)
//! messages.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lingerscan::collect::msrpc::{ntlm, smb2, smb2_crypto, smb2_negotiate, spnego};

fuzz_target!(|data: &[u8]| {
    let _ = smb2::parse_header(data);
    let _ = smb2_negotiate::parse_negotiate_response(data);
    let _ = smb2::parse_session_setup_response(data);
    let _ = smb2::parse_tree_connect_response(data);
    let _ = smb2::parse_create_response(data);
    let _ = smb2::parse_ioctl_response(data);
    let _ = smb2::parse_read_response(data);
    for dialect in [smb2::DIALECT_210, smb2::DIALECT_311] {
        assert!(!smb2_crypto::verify_signature(dialect, &[0; 16], data) || data.len() >= 64);
    }
    if smb2_crypto::is_transform(data) {
        for cipher in [
            smb2_crypto::Cipher::Aes128Ccm,
            smb2_crypto::Cipher::Aes128Gcm,
            smb2_crypto::Cipher::Aes256Ccm,
            smb2_crypto::Cipher::Aes256Gcm,
        ] {
            let keys = smb2_crypto::CipherKeys::derive(smb2::DIALECT_311, cipher, &[7; 16], &[0; 64]);
            // A forged transform never decrypts: the tag cannot match.
            assert!(smb2_crypto::decrypt(&keys, 1, data).is_err());
        }
    }
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
        let exchange = ntlm::Exchange {
            negotiate: b"negotiate",
            challenge: &challenge,
            target_name: "cifs/SRV01",
        };
        let _ = ntlm::authenticate_message(&identity, &exchange, [0; 8], 0);
    }
});
