//! SMB2/3 message integrity and privacy (MS-SMB2 3.1.4): key derivation,
//! signing (HMAC-SHA256, AES-128-CMAC) and encryption in the transform
//! header (AES-128/256 in CCM or GCM mode, MS-SMB2 2.2.41 and 3.1.4.3).
//! Pure functions over bytes; which message must be signed or encrypted is
//! decided by the client (smb_client.rs).

use aes::{Aes128, Aes256};
use aes_gcm::aead::AeadInPlace;
use aes_gcm::{Aes128Gcm, Aes256Gcm, KeyInit};
use ccm::Ccm;
use ccm::consts::{U11, U16};
use cmac::Cmac;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use super::smb2::{
    DIALECT_300, DIALECT_302, DIALECT_311, FLAG_SIGNED, HEADER_LEN, TRANSFORM_PROTOCOL_ID,
};

/// Length of the SMB2 TRANSFORM_HEADER (MS-SMB2 2.2.41).
pub const TRANSFORM_HEADER_LEN: usize = 52;
/// Flags (3.1.1) / EncryptionAlgorithm (3.0, 3.0.2): 0x0001 in both.
const TRANSFORM_FLAG_ENCRYPTED: u16 = 0x0001;

/// The ciphers of SMB2_ENCRYPTION_CAPABILITIES (MS-SMB2 2.2.3.1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cipher {
    Aes128Ccm = 1,
    Aes128Gcm = 2,
    Aes256Ccm = 3,
    Aes256Gcm = 4,
}

impl Cipher {
    /// The client's preference, offered in this order: GCM is faster than
    /// CCM, and 128-bit keys suffice while the session key itself is 128 bits
    /// (NTLM), but a server that insists on 256 gets it.
    pub const PREFERENCE: [Cipher; 4] = [
        Cipher::Aes128Gcm,
        Cipher::Aes128Ccm,
        Cipher::Aes256Gcm,
        Cipher::Aes256Ccm,
    ];

    pub fn from_id(id: u16) -> Option<Cipher> {
        Cipher::PREFERENCE.into_iter().find(|c| *c as u16 == id)
    }

    pub fn name(self) -> &'static str {
        match self {
            Cipher::Aes128Ccm => "AES-128-CCM",
            Cipher::Aes128Gcm => "AES-128-GCM",
            Cipher::Aes256Ccm => "AES-256-CCM",
            Cipher::Aes256Gcm => "AES-256-GCM",
        }
    }

    fn key_len(self) -> usize {
        match self {
            Cipher::Aes128Ccm | Cipher::Aes128Gcm => 16,
            Cipher::Aes256Ccm | Cipher::Aes256Gcm => 32,
        }
    }

    /// CCM takes an 11-byte nonce, GCM a 12-byte one (MS-SMB2 2.2.41).
    pub fn nonce_len(self) -> usize {
        match self {
            Cipher::Aes128Ccm | Cipher::Aes256Ccm => 11,
            Cipher::Aes128Gcm | Cipher::Aes256Gcm => 12,
        }
    }
}

/// SP800-108 counter-mode KDF with HMAC-SHA256 (MS-SMB2 3.1.4.2): `out.len()`
/// bytes, L = 8 × that. `label` includes its terminating NUL, as the spec
/// writes it; the KDF adds its own 0x00 separator.
pub fn kdf_into(key: &[u8], label: &[u8], context: &[u8], out: &mut [u8]) {
    let bits = (out.len() as u32) * 8;
    for (i, chunk) in out.chunks_mut(32).enumerate() {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key)
            .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
        mac.update(&(i as u32 + 1).to_be_bytes());
        mac.update(label);
        mac.update(&[0]);
        mac.update(context);
        mac.update(&bits.to_be_bytes());
        let block = mac.finalize().into_bytes();
        chunk.copy_from_slice(&block[..chunk.len()]);
    }
}

/// 128-bit [`kdf_into`].
pub fn kdf(key: &[u8; 16], label: &[u8], context: &[u8]) -> [u8; 16] {
    let mut out = [0u8; 16];
    kdf_into(key, label, context, &mut out);
    out
}

/// The key that signs messages of a session, per dialect (MS-SMB2 3.2.5.3.1).
/// For 3.1.1 the context is the pre-authentication hash of the whole
/// negotiation and logon, so a rewritten NEGOTIATE yields another key and no
/// signature verifies (MS-SMB2 3.2.5.2, 3.3.5.5.3).
pub fn signing_key(dialect: u16, session_key: &[u8; 16], preauth_hash: &[u8; 64]) -> [u8; 16] {
    match dialect {
        DIALECT_311 => kdf(session_key, b"SMBSigningKey\0", preauth_hash),
        DIALECT_300 | DIALECT_302 => kdf(session_key, b"SMB2AESCMAC\0", b"SmbSign\0"),
        _ => *session_key,
    }
}

/// The two directions' encryption keys of a session (MS-SMB2 3.2.5.3.1).
pub struct CipherKeys {
    pub cipher: Cipher,
    /// Client to server ("EncryptionKey").
    pub encrypt: Zeroizing<Vec<u8>>,
    /// Server to client ("DecryptionKey").
    pub decrypt: Zeroizing<Vec<u8>>,
}

impl CipherKeys {
    /// With an NTLM session key (16 bytes) the "full session key" of the
    /// 256-bit ciphers is that same key; only L grows to 256.
    pub fn derive(
        dialect: u16,
        cipher: Cipher,
        session_key: &[u8; 16],
        preauth_hash: &[u8; 64],
    ) -> CipherKeys {
        let mut encrypt = Zeroizing::new(vec![0u8; cipher.key_len()]);
        let mut decrypt = Zeroizing::new(vec![0u8; cipher.key_len()]);
        if dialect == DIALECT_311 {
            kdf_into(
                session_key,
                b"SMBC2SCipherKey\0",
                preauth_hash,
                &mut encrypt,
            );
            kdf_into(
                session_key,
                b"SMBS2CCipherKey\0",
                preauth_hash,
                &mut decrypt,
            );
        } else {
            kdf_into(session_key, b"SMB2AESCCM\0", b"ServerIn \0", &mut encrypt);
            kdf_into(session_key, b"SMB2AESCCM\0", b"ServerOut\0", &mut decrypt);
        }
        CipherKeys {
            cipher,
            encrypt,
            decrypt,
        }
    }
}

/// The 16-byte signature of a message whose signature field is zero.
pub fn signature(dialect: u16, key: &[u8; 16], msg: &[u8]) -> [u8; 16] {
    let mut out = [0u8; 16];
    if dialect >= DIALECT_300 {
        let mut mac = <Cmac<Aes128> as Mac>::new_from_slice(key)
            .unwrap_or_else(|_| unreachable!("AES-128 CMAC takes a 16-byte key"));
        mac.update(msg);
        out.copy_from_slice(&mac.finalize().into_bytes());
    } else {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key)
            .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
        mac.update(msg);
        out.copy_from_slice(&mac.finalize().into_bytes()[..16]);
    }
    out
}

/// Set the SIGNED flag and write the signature into a built message.
pub fn sign_message(dialect: u16, key: &[u8; 16], msg: &mut [u8]) {
    if msg.len() < HEADER_LEN {
        return;
    }
    let flags = u32::from_le_bytes([msg[16], msg[17], msg[18], msg[19]]) | FLAG_SIGNED;
    msg[16..20].copy_from_slice(&flags.to_le_bytes());
    msg[48..64].fill(0);
    let sig = signature(dialect, key, msg);
    msg[48..64].copy_from_slice(&sig);
}

/// Whether a message carries the SIGNED flag and a signature that verifies
/// (MS-SMB2 3.2.5.1.3). An unsigned message never verifies.
pub fn verify_signature(dialect: u16, key: &[u8; 16], msg: &[u8]) -> bool {
    if msg.len() < HEADER_LEN {
        return false;
    }
    let flags = u32::from_le_bytes([msg[16], msg[17], msg[18], msg[19]]);
    if flags & FLAG_SIGNED == 0 {
        return false;
    }
    let mut copy = msg.to_vec();
    copy[48..64].fill(0);
    let expected = signature(dialect, key, &copy);
    // Not secret-dependent timing that matters here (the key never repeats
    // across connections), but compare all bytes anyway.
    expected
        .iter()
        .zip(&msg[48..64])
        .fold(0u8, |acc, (a, b)| acc | (a ^ b))
        == 0
}

/// Why an encrypted message was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    #[error("an encrypted message was too short or not a transform header")]
    Malformed,
    #[error("an encrypted message was for another session")]
    WrongSession,
    #[error("an encrypted message failed authentication (altered or not from the server)")]
    Forged,
    #[error("cannot encrypt the message")]
    Encrypt,
}

/// Whether a received SMB2 message is a TRANSFORM_HEADER (encrypted).
pub fn is_transform(msg: &[u8]) -> bool {
    msg.starts_with(&TRANSFORM_PROTOCOL_ID)
}

/// Wrap `msg` in a TRANSFORM_HEADER and encrypt it (MS-SMB2 3.1.4.3): the
/// AEAD's associated data is the header from the nonce on, its tag goes in
/// the signature field. `nonce` must never repeat under one key; only its
/// first [`Cipher::nonce_len`] bytes are used.
pub fn encrypt(
    keys: &CipherKeys,
    session_id: u64,
    nonce: &[u8; 16],
    msg: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let size = u32::try_from(msg.len()).map_err(|_| CryptoError::Encrypt)?;
    let mut out = Vec::with_capacity(TRANSFORM_HEADER_LEN + msg.len());
    out.extend_from_slice(&TRANSFORM_PROTOCOL_ID);
    out.extend_from_slice(&[0; 16]);
    let used = keys.cipher.nonce_len();
    out.extend_from_slice(&nonce[..used]);
    out.extend_from_slice(&[0u8; 16][used..]);
    out.extend_from_slice(&size.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&TRANSFORM_FLAG_ENCRYPTED.to_le_bytes());
    out.extend_from_slice(&session_id.to_le_bytes());
    let mut buffer = msg.to_vec();
    let aad = &out[20..TRANSFORM_HEADER_LEN];
    let tag = seal(keys.cipher, &keys.encrypt, &aad[..used], aad, &mut buffer)?;
    out[4..20].copy_from_slice(&tag);
    out.extend_from_slice(&buffer);
    Ok(out)
}

/// Decrypt a TRANSFORM_HEADER message of `session_id` and return the SMB2
/// message inside (MS-SMB2 3.2.5.1.1.1).
pub fn decrypt(keys: &CipherKeys, session_id: u64, msg: &[u8]) -> Result<Vec<u8>, CryptoError> {
    if msg.len() < TRANSFORM_HEADER_LEN || !is_transform(msg) {
        return Err(CryptoError::Malformed);
    }
    let header = &msg[..TRANSFORM_HEADER_LEN];
    let size = u32::from_le_bytes([header[36], header[37], header[38], header[39]]) as usize;
    let flags = u16::from_le_bytes([header[42], header[43]]);
    let mut sid = [0u8; 8];
    sid.copy_from_slice(&header[44..52]);
    if u64::from_le_bytes(sid) != session_id {
        return Err(CryptoError::WrongSession);
    }
    if flags != TRANSFORM_FLAG_ENCRYPTED || size != msg.len() - TRANSFORM_HEADER_LEN {
        return Err(CryptoError::Malformed);
    }
    let mut tag = [0u8; 16];
    tag.copy_from_slice(&header[4..20]);
    let used = keys.cipher.nonce_len();
    let mut buffer = msg[TRANSFORM_HEADER_LEN..].to_vec();
    open(
        keys.cipher,
        &keys.decrypt,
        &header[20..20 + used],
        &header[20..],
        &mut buffer,
        &tag,
    )?;
    Ok(buffer)
}

type Aes128Ccm = Ccm<Aes128, U16, U11>;
type Aes256Ccm = Ccm<Aes256, U16, U11>;

/// Encrypt `buffer` in place; returns the tag. Keys have the cipher's length
/// by construction ([`CipherKeys::derive`]); anything else is refused.
fn seal(
    cipher: Cipher,
    key: &[u8],
    nonce: &[u8],
    aad: &[u8],
    buffer: &mut [u8],
) -> Result<[u8; 16], CryptoError> {
    let tag = match cipher {
        Cipher::Aes128Gcm => Aes128Gcm::new_from_slice(key)
            .map_err(|_| CryptoError::Encrypt)?
            .encrypt_in_place_detached(nonce.into(), aad, buffer),
        Cipher::Aes256Gcm => Aes256Gcm::new_from_slice(key)
            .map_err(|_| CryptoError::Encrypt)?
            .encrypt_in_place_detached(nonce.into(), aad, buffer),
        Cipher::Aes128Ccm => Aes128Ccm::new_from_slice(key)
            .map_err(|_| CryptoError::Encrypt)?
            .encrypt_in_place_detached(nonce.into(), aad, buffer),
        Cipher::Aes256Ccm => Aes256Ccm::new_from_slice(key)
            .map_err(|_| CryptoError::Encrypt)?
            .encrypt_in_place_detached(nonce.into(), aad, buffer),
    }
    .map_err(|_| CryptoError::Encrypt)?;
    let mut out = [0u8; 16];
    out.copy_from_slice(&tag);
    Ok(out)
}

/// Decrypt `buffer` in place if the tag verifies.
fn open(
    cipher: Cipher,
    key: &[u8],
    nonce: &[u8],
    aad: &[u8],
    buffer: &mut [u8],
    tag: &[u8; 16],
) -> Result<(), CryptoError> {
    match cipher {
        Cipher::Aes128Gcm => Aes128Gcm::new_from_slice(key)
            .map_err(|_| CryptoError::Forged)?
            .decrypt_in_place_detached(nonce.into(), aad, buffer, tag.into()),
        Cipher::Aes256Gcm => Aes256Gcm::new_from_slice(key)
            .map_err(|_| CryptoError::Forged)?
            .decrypt_in_place_detached(nonce.into(), aad, buffer, tag.into()),
        Cipher::Aes128Ccm => Aes128Ccm::new_from_slice(key)
            .map_err(|_| CryptoError::Forged)?
            .decrypt_in_place_detached(nonce.into(), aad, buffer, tag.into()),
        Cipher::Aes256Ccm => Aes256Ccm::new_from_slice(key)
            .map_err(|_| CryptoError::Forged)?
            .decrypt_in_place_detached(nonce.into(), aad, buffer, tag.into()),
    }
    .map_err(|_| CryptoError::Forged)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::msrpc::smb2::{DIALECTS, RequestHeader, build_message};

    #[test]
    fn signing_round_trip_all_dialects() {
        let key = [3u8; 16];
        for dialect in DIALECTS {
            let mut msg = build_message(&RequestHeader::default(), b"payload");
            assert!(!verify_signature(dialect, &key, &msg), "unsigned");
            sign_message(dialect, &key, &mut msg);
            assert!(verify_signature(dialect, &key, &msg));
            msg[70] ^= 1;
            assert!(!verify_signature(dialect, &key, &msg));
        }
    }

    #[test]
    fn aes_cmac_rfc4493_vector() {
        // RFC 4493 example 2: key 2b7e1516..., message 6bc1bee2... (16 bytes).
        let key: [u8; 16] = [
            0x2b, 0x7e, 0x15, 0x16, 0x28, 0xae, 0xd2, 0xa6, 0xab, 0xf7, 0x15, 0x88, 0x09, 0xcf,
            0x4f, 0x3c,
        ];
        let msg: [u8; 16] = [
            0x6b, 0xc1, 0xbe, 0xe2, 0x2e, 0x40, 0x9f, 0x96, 0xe9, 0x3d, 0x7e, 0x11, 0x73, 0x93,
            0x17, 0x2a,
        ];
        let expected: [u8; 16] = [
            0x07, 0x0a, 0x16, 0xb4, 0x6b, 0x4d, 0x41, 0x44, 0xf7, 0x9b, 0xdd, 0x9d, 0xd0, 0x4a,
            0x28, 0x7c,
        ];
        assert_eq!(signature(DIALECT_300, &key, &msg), expected);
    }

    #[test]
    fn kdf_256_extends_the_128_bit_output_with_a_second_block() {
        // The first block of a 256-bit derivation differs from the 128-bit
        // one (L is part of the input), and the output has two blocks.
        let key = [7u8; 16];
        let mut long = [0u8; 32];
        kdf_into(&key, b"SMBC2SCipherKey\0", &[1; 64], &mut long);
        let short = kdf(&key, b"SMBC2SCipherKey\0", &[1; 64]);
        assert_ne!(&long[..16], &short);
        assert_ne!(&long[..16], &long[16..]);
    }

    #[test]
    fn encrypt_then_decrypt_with_the_other_sides_keys_for_every_cipher() {
        for cipher in Cipher::PREFERENCE {
            let client = CipherKeys::derive(DIALECT_311, cipher, &[5; 16], &[6; 64]);
            // The server's keys are the client's, swapped.
            let server = CipherKeys {
                cipher,
                encrypt: client.decrypt.clone(),
                decrypt: client.encrypt.clone(),
            };
            let msg = build_message(&RequestHeader::default(), b"rows");
            let sealed = encrypt(&client, 42, &[9; 16], &msg).unwrap();
            assert!(is_transform(&sealed));
            assert_eq!(decrypt(&server, 42, &sealed).unwrap(), msg, "{cipher:?}");
            assert_eq!(
                decrypt(&server, 43, &sealed),
                Err(CryptoError::WrongSession)
            );
            let mut altered = sealed.clone();
            let last = altered.len() - 1;
            altered[last] ^= 1;
            assert_eq!(decrypt(&server, 42, &altered), Err(CryptoError::Forged));
            assert_eq!(decrypt(&client, 42, &sealed), Err(CryptoError::Forged));
        }
    }
}
