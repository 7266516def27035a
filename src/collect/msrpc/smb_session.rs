//! The logon half of [`SmbClient`]: NEGOTIATE, SESSION_SETUP with NTLMv2,
//! the IPC$ tree connect, and the checks that tie all of it to the session
//! key, so a server that does not know the password, or someone in between,
//! cannot make the client accept anything:
//!
//! - the final SESSION_SETUP answer must be signed with the new key
//!   (MS-SMB2 3.2.5.3.1, 3.2.5.1.3); for 3.1.1 that key is derived from the
//!   hash of every negotiate and session-setup message (3.2.5.2), so a
//!   rewritten NEGOTIATE makes it fail;
//! - for 3.0 and 3.0.2, FSCTL_VALIDATE_NEGOTIATE_INFO repeats the
//!   negotiation under the key (3.2.5.14.12);
//! - dialects below the policy's minimum are neither offered nor accepted.

use sha2::{Digest, Sha512};
use zeroize::Zeroizing;

use super::error::RemoteError;
use super::ntlm;
use super::smb_client::{MAX_IO, Protection, SmbClient, check_status};
use super::smb2::{self, DIALECT_300, DIALECT_302};
use super::smb2_crypto::{self, CipherKeys};
use super::smb2_negotiate::{self, ClientOffer};
use super::spnego;
use super::wire::utf16le;

/// The dialect as people write it: `2.0.2`, `2.1.0`, `3.1.1`.
pub fn dialect_name(dialect: u16) -> String {
    format!(
        "{}.{}.{}",
        dialect >> 8,
        (dialect >> 4) & 0xF,
        dialect & 0xF
    )
}

/// SMB 2.1 by default. Below it is only 2.0.2 (Vista / Server 2008, out of
/// support since 2017/2020), which signs exactly as 2.1 does, so refusing it
/// costs little and removes a dialect nobody should still serve. Raising the
/// default to 3.0 would buy encryption and VALIDATE_NEGOTIATE_INFO, but a
/// downgrade to 2.1 cannot forge or alter rows: every answer is still
/// signed with HMAC-SHA256 under a key derived from the password, and the
/// session's last logon answer is checked with it (docs/remote.md). What a
/// downgrade can take is privacy, which `--encrypt` (3.0 at least) guards.
pub const DEFAULT_MIN_DIALECT: u16 = smb2::DIALECT_210;

/// Parse a dialect as written on the command line: `2.0.2`, `2.1`, `3.0`,
/// `3.0.2`, `3.1.1` (a trailing `.0` may be given).
pub fn parse_dialect(text: &str) -> Result<u16, String> {
    let dialect = match text.trim() {
        "2.0.2" | "2.02" => smb2::DIALECT_202,
        "2.1" | "2.1.0" | "2.10" => smb2::DIALECT_210,
        "3.0" | "3.0.0" | "3" => smb2::DIALECT_300,
        "3.0.2" | "3.02" => smb2::DIALECT_302,
        "3.1.1" | "3.11" => smb2::DIALECT_311,
        other => {
            return Err(format!(
                "unknown SMB dialect '{other}' (use 2.0.2, 2.1, 3.0, 3.0.2 or 3.1.1)"
            ));
        }
    };
    Ok(dialect)
}

impl SmbClient {
    /// NEGOTIATE, offering the dialects from the policy's minimum up.
    pub(super) fn negotiate(&mut self) -> Result<(), RemoteError> {
        let mut offer = ClientOffer {
            client_guid: [0; 16],
            salt: [0; 32],
            dialects: smb2::DIALECTS
                .into_iter()
                .filter(|d| *d >= self.policy.min_dialect)
                .collect(),
        };
        fill_random(&mut offer.client_guid)?;
        fill_random(&mut offer.salt)?;
        let request = self.build(smb2::NEGOTIATE, &offer.request())?;
        self.preauth_hash = chain_hash(&[0; 64], &request);
        self.send_raw(&request, "negotiating")?;
        let (header, response) = self.receive(0, "negotiating")?;
        if header.status == smb2::STATUS_NOT_SUPPORTED {
            return Err(RemoteError::NoCommonDialect {
                minimum: dialect_name(self.policy.min_dialect),
            });
        }
        check_status(&header, "NEGOTIATE")?;
        let negotiated = smb2_negotiate::parse_negotiate_response(&response)?;
        if negotiated.dialect < self.policy.min_dialect {
            return Err(RemoteError::DialectRefused {
                chosen: dialect_name(negotiated.dialect),
                minimum: dialect_name(self.policy.min_dialect),
            });
        }
        if !offer.dialects.contains(&negotiated.dialect) {
            return Err(RemoteError::Decode(super::wire::DecodeError::new(
                "SMB2 NEGOTIATE response",
                format!(
                    "server chose dialect 0x{:04x}, which was not offered",
                    negotiated.dialect
                ),
            )));
        }
        if self.policy.encrypt && negotiated.cipher.is_none() {
            return Err(RemoteError::EncryptionUnavailable {
                detail: format!(
                    "the server offers no cipher with SMB {}",
                    dialect_name(negotiated.dialect)
                ),
            });
        }
        self.dialect = negotiated.dialect;
        self.max_read = negotiated.max_read_size.clamp(4096, MAX_IO);
        self.max_transact = negotiated.max_transact_size.clamp(4096, MAX_IO);
        if self.dialect == smb2::DIALECT_311 {
            self.preauth_hash = chain_hash(&self.preauth_hash, &response);
        }
        self.negotiated = Some(negotiated);
        self.offer = Some(offer);
        Ok(())
    }

    /// NTLMv2 over SPNEGO. Refuses guest and anonymous sessions: their answers
    /// would not be those the named account is entitled to. `server` names
    /// the host for MsvAvTargetName (`cifs/<server>`).
    pub fn session_setup(
        &mut self,
        identity: &ntlm::Identity<'_>,
        server: &str,
    ) -> Result<(), RemoteError> {
        let mut hash = self.preauth_hash;
        let negotiate = ntlm::negotiate_message();
        let first = spnego::neg_token_init(&negotiate);
        let request = self.build(smb2::SESSION_SETUP, &smb2::session_setup_request(&first))?;
        hash = chain_hash(&hash, &request);
        self.send_raw(&request, "authenticating")?;
        let (header, response) = self.receive(self.next_message_id - 1, "authenticating")?;
        if header.status != smb2::STATUS_MORE_PROCESSING_REQUIRED {
            refused_ntlm(&header)?;
            check_status(&header, "SESSION_SETUP")?;
            return Err(RemoteError::Authentication {
                detail: "the server ended authentication before the NTLM challenge".into(),
            });
        }
        hash = chain_hash(&hash, &response);
        self.session_id = header.session_id;
        let setup = smb2::parse_session_setup_response(&response)?;
        let token = spnego::parse_neg_token_resp(&setup.security_buffer)?;
        let challenge_bytes = token
            .response_token
            .ok_or_else(|| RemoteError::Authentication {
                detail: "the server's SPNEGO answer carried no NTLM challenge".into(),
            })?;
        let challenge = ntlm::parse_challenge(&challenge_bytes)?;
        self.server_version = challenge.version;
        let mut client_challenge = [0u8; 8];
        fill_random(&mut client_challenge)?;
        let auth = ntlm::authenticate_message(
            identity,
            &ntlm::Exchange {
                negotiate: &negotiate,
                challenge: &challenge,
                target_name: &format!("cifs/{server}"),
            },
            client_challenge,
            ntlm::filetime_now(),
        );
        let mech_list_mic = ntlm::mech_list_mic(&auth.session_key, &spnego::mech_types());
        let request = self.build(
            smb2::SESSION_SETUP,
            &smb2::session_setup_request(&spnego::neg_token_resp(&auth.message, &mech_list_mic)),
        )?;
        hash = chain_hash(&hash, &request);
        self.send_raw(&request, "authenticating")?;
        let (header, response) = self.receive(self.next_message_id - 1, "authenticating")?;
        refused_ntlm(&header)?;
        check_status(&header, "SESSION_SETUP")?;
        self.accept_final_answer(&auth.session_key, &hash, &header, &response)
    }

    /// The final SESSION_SETUP success: it must be signed with the key that
    /// only a server knowing the password (and, for 3.1.1, having seen the
    /// same negotiation) can derive (MS-SMB2 3.2.5.3.1). Then the session
    /// is protected: signed, or encrypted when the server or the policy asks.
    pub(super) fn accept_final_answer(
        &mut self,
        session_key: &[u8; 16],
        hash: &[u8; 64],
        header: &smb2::ResponseHeader,
        response: &[u8],
    ) -> Result<(), RemoteError> {
        let setup = smb2::parse_session_setup_response(response)?;
        if setup.session_flags & (smb2::SESSION_FLAG_IS_GUEST | smb2::SESSION_FLAG_IS_NULL) != 0 {
            return Err(RemoteError::Authentication {
                detail: "the server accepted the logon only as guest or anonymous".into(),
            });
        }
        let signing_key = Zeroizing::new(smb2_crypto::signing_key(self.dialect, session_key, hash));
        let signed = header.flags & smb2::FLAG_SIGNED != 0;
        if !signed || !smb2_crypto::verify_signature(self.dialect, &signing_key, response) {
            return Err(RemoteError::Authentication {
                detail: format!(
                    "the server's answer to the logon was {}: it does not know the \
                     account's password, or the exchange was altered on the way",
                    if signed {
                        "signed with another key (not verified)"
                    } else {
                        "not signed"
                    }
                ),
            });
        }
        let cipher = self
            .negotiated
            .as_ref()
            .and_then(|n| n.cipher)
            .map(|cipher| CipherKeys::derive(self.dialect, cipher, session_key, hash));
        let mut nonce_random = [0u8; 8];
        fill_random(&mut nonce_random)?;
        self.protection = Some(Protection {
            signing_key,
            cipher,
            encrypting: false,
            nonce_random,
            nonce_counter: 0,
        });
        if self.policy.encrypt || setup.session_flags & smb2::SESSION_FLAG_ENCRYPT_DATA != 0 {
            self.start_encrypting("the session")?;
        }
        Ok(())
    }

    /// Encrypt from the next request on; `who` asked for it.
    fn start_encrypting(&mut self, who: &str) -> Result<(), RemoteError> {
        let dialect = self.dialect;
        let protection =
            self.protection
                .as_mut()
                .ok_or_else(|| RemoteError::EncryptionUnavailable {
                    detail: "the session is not established".into(),
                })?;
        if protection.cipher.is_none() {
            return Err(RemoteError::EncryptionUnavailable {
                detail: format!(
                    "{who} requires encryption and SMB {} with this server has no cipher",
                    dialect_name(dialect)
                ),
            });
        }
        protection.encrypting = true;
        Ok(())
    }

    /// TREE_CONNECT `\\server\IPC$`; then, for 3.0 and 3.0.2, validate the
    /// negotiation under the session's signature.
    pub fn connect_ipc(&mut self, server: &str) -> Result<(), RemoteError> {
        let path = utf16le(&format!("\\\\{server}\\IPC$"));
        let (header, response) = self.call(
            smb2::TREE_CONNECT,
            &smb2::tree_connect_request(&path),
            "connecting to IPC$",
        )?;
        check_status(&header, "TREE_CONNECT IPC$")?;
        self.tree_id = header.tree_id;
        let share_flags = smb2::parse_tree_connect_response(&response)?;
        if share_flags & smb2::SHAREFLAG_ENCRYPT_DATA != 0 && !self.encrypted() {
            self.start_encrypting("the IPC$ share")?;
        }
        if matches!(self.dialect, DIALECT_300 | DIALECT_302) {
            self.validate_negotiate()?;
        }
        Ok(())
    }

    /// FSCTL_VALIDATE_NEGOTIATE_INFO (MS-SMB2 3.2.5.14.12): the server
    /// repeats, signed, what it negotiated; a server that saw another
    /// NEGOTIATE than ours refuses and drops the connection (Samba answers
    /// STATUS_ACCESS_DENIED first, source3/smbd/smb2_ioctl_network_fs.c).
    fn validate_negotiate(&mut self) -> Result<(), RemoteError> {
        let (Some(offer), Some(negotiated)) = (self.offer.clone(), self.negotiated.clone()) else {
            return Ok(());
        };
        let body = smb2::ioctl_request(
            smb2_negotiate::FSCTL_VALIDATE_NEGOTIATE_INFO,
            &[0xFF; 16],
            &smb2_negotiate::validate_negotiate_input(&offer),
            24,
        );
        let tampered = |detail: String| RemoteError::Tampered { detail };
        let answer = self.call(smb2::IOCTL, &body, "validating the negotiation");
        let (header, response) = match answer {
            Ok(answer) => answer,
            Err(err @ (RemoteError::Timeout { .. } | RemoteError::Tampered { .. })) => {
                return Err(err);
            }
            Err(err) => {
                return Err(tampered(format!(
                    "the server dropped the connection when asked to confirm the \
                     negotiation ({err}): it saw another NEGOTIATE than the one sent"
                )));
            }
        };
        if header.status == smb2::STATUS_ACCESS_DENIED {
            return Err(tampered(
                "the server refused to confirm the negotiation: it saw another \
                 NEGOTIATE than the one sent"
                    .into(),
            ));
        }
        check_status(&header, "FSCTL_VALIDATE_NEGOTIATE_INFO")?;
        let output = smb2::parse_ioctl_response(&response)?;
        smb2_negotiate::validate_negotiate_output(output, &negotiated).map_err(|what| {
            tampered(format!(
                "the negotiation does not validate: {what} from its NEGOTIATE answer"
            ))
        })
    }
}

/// STATUS_NTLM_BLOCKED (Samba's `ntlm auth = disabled`, Windows' Restrict
/// NTLM) and STATUS_NOT_SUPPORTED to an NTLM SESSION_SETUP mean policy,
/// not a wrong password: say so, and what to use instead.
fn refused_ntlm(header: &smb2::ResponseHeader) -> Result<(), RemoteError> {
    match header.status {
        smb2::STATUS_NTLM_BLOCKED | smb2::STATUS_NOT_SUPPORTED => Err(RemoteError::NtlmRefused {
            status: header.status,
        }),
        _ => Ok(()),
    }
}

pub(super) fn chain_hash(previous: &[u8; 64], msg: &[u8]) -> [u8; 64] {
    let mut hasher = Sha512::new();
    hasher.update(previous);
    hasher.update(msg);
    hasher.finalize().into()
}

pub(super) fn fill_random(buf: &mut [u8]) -> Result<(), RemoteError> {
    getrandom::fill(buf).map_err(|e| RemoteError::Io {
        during: "gathering randomness",
        source: std::io::Error::other(e.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dialects_parse_as_written_and_print_back() {
        assert_eq!(parse_dialect("2.1"), Ok(smb2::DIALECT_210));
        assert_eq!(parse_dialect("3.0"), Ok(smb2::DIALECT_300));
        assert_eq!(parse_dialect(" 3.1.1 "), Ok(smb2::DIALECT_311));
        assert!(
            parse_dialect("1.0")
                .unwrap_err()
                .contains("unknown SMB dialect")
        );
        assert_eq!(dialect_name(smb2::DIALECT_302), "3.0.2");
        assert_eq!(DEFAULT_MIN_DIALECT, smb2::DIALECT_210);
    }
}
