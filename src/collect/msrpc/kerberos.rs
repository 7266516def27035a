//! Kerberos logons for SMB: SPNEGO carrying the krb5 mechanism's AP-REQ,
//! the server's AP-REP checked (mutual authentication), and the GSS
//! session key as the SMB session key (MS-SMB2 3.2.5.3.1: its first 16
//! bytes, zero-padded if shorter). The Kerberos work itself is done by the
//! system's MIT library ([`super::gssapi`]), loaded at run time.
//!
//! Failures are mapped from GSS major and krb5 minor codes to what a user
//! can do about them ([`Problem`]).

use crate::model::FailureKind;

/// krb5 error codes (MIT `krb5_err.et`, checked against
/// krb5_get_error_message of libkrb5 1.20): `ERROR_TABLE_BASE_krb5` + n.
const KRB5_BASE: i32 = -1_765_328_384;
const KDC_ERR_C_PRINCIPAL_UNKNOWN: i32 = KRB5_BASE + 6;
const KDC_ERR_S_PRINCIPAL_UNKNOWN: i32 = KRB5_BASE + 7;
const KDC_ERR_CLIENT_REVOKED: i32 = KRB5_BASE + 18;
const KDC_ERR_KEY_EXP: i32 = KRB5_BASE + 23;
const KDC_ERR_PREAUTH_FAILED: i32 = KRB5_BASE + 24;
const AP_ERR_TKT_EXPIRED: i32 = KRB5_BASE + 32;
const AP_ERR_SKEW: i32 = KRB5_BASE + 37;
const REALM_UNKNOWN: i32 = KRB5_BASE + 154;
const KDC_UNREACH: i32 = KRB5_BASE + 156;
const KT_NOTFOUND: i32 = KRB5_BASE + 181;
const CC_NOTFOUND: i32 = KRB5_BASE + 141;
const FCC_NOFILE: i32 = KRB5_BASE + 195;
const NO_TKT_SUPPLIED: i32 = KRB5_BASE + 203;
const REALM_CANT_RESOLVE: i32 = KRB5_BASE + 220;
const CONFIG_NODEFREALM: i32 = KRB5_BASE + 224;

const GSS_S_NO_CRED: u32 = 7 << 16;
const GSS_S_CREDENTIALS_EXPIRED: u32 = 11 << 16;

/// What went wrong, in terms of what the user can change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    ClockSkew,
    NoTicket,
    Expired,
    SpnUnknown,
    KdcUnreachable,
    BadPassword,
    AccountRefused,
    NoRealm,
    KeytabEntry,
}

impl Problem {
    /// Classify a GSS failure by its krb5 minor code, else its major code.
    pub fn of(major: u32, minor: u32) -> Option<Problem> {
        // krb5 codes are negative 32-bit numbers carried in an OM_uint32.
        let problem = match minor as i32 {
            AP_ERR_SKEW => Problem::ClockSkew,
            AP_ERR_TKT_EXPIRED | KDC_ERR_KEY_EXP => Problem::Expired,
            FCC_NOFILE | NO_TKT_SUPPLIED | CC_NOTFOUND => Problem::NoTicket,
            KDC_ERR_S_PRINCIPAL_UNKNOWN => Problem::SpnUnknown,
            KDC_UNREACH | REALM_CANT_RESOLVE | REALM_UNKNOWN => Problem::KdcUnreachable,
            KDC_ERR_PREAUTH_FAILED | KDC_ERR_C_PRINCIPAL_UNKNOWN => Problem::BadPassword,
            KDC_ERR_CLIENT_REVOKED => Problem::AccountRefused,
            CONFIG_NODEFREALM => Problem::NoRealm,
            KT_NOTFOUND => Problem::KeytabEntry,
            _ => match major & 0x00ff_0000 {
                GSS_S_NO_CRED => Problem::NoTicket,
                GSS_S_CREDENTIALS_EXPIRED => Problem::Expired,
                _ => return None,
            },
        };
        Some(problem)
    }

    pub fn advice(self) -> &'static str {
        match self {
            Problem::ClockSkew => {
                "this machine's clock and the domain's differ by more than Kerberos allows \
                 (5 minutes by default): synchronise the clock (chrony, ntpdate, w32tm)"
            }
            Problem::NoTicket => {
                "no Kerberos ticket: run `kinit user@REALM` (or set KRB5CCNAME to the cache), \
                 or give --keytab FILE, or --username with a password"
            }
            Problem::Expired => "the Kerberos ticket has expired: run `kinit` again",
            Problem::SpnUnknown => {
                "the KDC knows no service principal cifs/HOST for this name: scan the host by \
                 its DNS name as registered in the directory (not an address or alias), with \
                 --resolve NAME=ADDR if DNS does not know it"
            }
            Problem::KdcUnreachable => {
                "no KDC could be reached for the realm: give --dc ADDR, or check DNS SRV \
                 records and that port 88 is open"
            }
            Problem::BadPassword => "the KDC refused the user name or password",
            Problem::AccountRefused => "the KDC refuses the account (disabled or locked out)",
            Problem::NoRealm => {
                "no Kerberos realm is known: give --username user@REALM or --realm REALM"
            }
            Problem::KeytabEntry => "the keytab holds no key for the principal",
        }
    }

    fn kind(self) -> FailureKind {
        match self {
            Problem::KdcUnreachable => FailureKind::Unreachable,
            _ => FailureKind::LogonFailure,
        }
    }
}

/// Why a Kerberos logon failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum KerberosError {
    #[error(
        "Kerberos needs the system's GSS-API library and it cannot be loaded ({detail}): \
         install libgssapi-krb5-2 (Debian/Ubuntu) or krb5-libs (RHEL/Fedora)"
    )]
    LibraryMissing { detail: String },
    #[error("Kerberos: {call} failed: {message}{}", advice_suffix(*major, *minor))]
    Gss {
        call: &'static str,
        major: u32,
        minor: u32,
        message: String,
    },
    #[error("Kerberos: {0}")]
    Protocol(String),
    #[error("Kerberos logons are made by Windows itself in the Windows build")]
    NotOnThisPlatform,
}

fn advice_suffix(major: u32, minor: u32) -> String {
    Problem::of(major, minor).map_or_else(String::new, |p| format!(" ({})", p.advice()))
}

impl KerberosError {
    pub fn problem(&self) -> Option<Problem> {
        match self {
            KerberosError::Gss { major, minor, .. } => Problem::of(*major, *minor),
            _ => None,
        }
    }

    pub fn kind(&self) -> FailureKind {
        match self {
            KerberosError::LibraryMissing { .. } | KerberosError::NotOnThisPlatform => {
                FailureKind::NotSupported
            }
            KerberosError::Gss { .. } => self
                .problem()
                .map_or(FailureKind::LogonFailure, Problem::kind),
            KerberosError::Protocol(_) => FailureKind::LogonFailure,
        }
    }

    /// The krb5 (minor) code, as `klist`/`kinit` users know it.
    pub fn code(&self) -> Option<i64> {
        match self {
            KerberosError::Gss { minor, .. } if *minor != 0 => Some(i64::from(*minor as i32)),
            _ => None,
        }
    }
}

#[cfg(unix)]
impl From<super::gssapi::GssFailure> for KerberosError {
    fn from(failure: super::gssapi::GssFailure) -> Self {
        KerberosError::Gss {
            call: failure.call,
            major: failure.major,
            minor: failure.minor,
            message: failure.message,
        }
    }
}

#[cfg(unix)]
mod logon {
    use zeroize::Zeroizing;

    use super::KerberosError;
    use crate::collect::msrpc::credentials::Password;
    use crate::collect::msrpc::error::RemoteError;
    use crate::collect::msrpc::smb_client::{SmbClient, check_status};
    use crate::collect::msrpc::smb_session::chain_hash;
    use crate::collect::msrpc::{gssapi, smb2, spnego};

    /// Rounds of SESSION_SETUP allowed: Kerberos needs one (two at most
    /// with a KRB-ERROR retry); a server asking for more is not followed.
    const MAX_ROUNDS: usize = 4;

    impl SmbClient {
        /// SESSION_SETUP with Kerberos for `cifs@server`, from the ticket
        /// cache (or the client keytab MIT reads from KRB5_CLIENT_KTNAME),
        /// or from a TGT got here from `principal` and `password`.
        pub fn session_setup_kerberos(
            &mut self,
            server: &str,
            password: Option<(&str, &Password)>,
        ) -> Result<(), RemoteError> {
            let gss =
                gssapi::library().map_err(|detail| KerberosError::LibraryMissing { detail })?;
            let krb = |failure: gssapi::GssFailure| RemoteError::from(KerberosError::from(failure));
            let protocol = |what: &str| RemoteError::from(KerberosError::Protocol(what.into()));
            let target = gss.service_name("cifs", server).map_err(krb)?;
            let cred = match password {
                Some((principal, password)) => {
                    let user = gss.user_name(principal).map_err(krb)?;
                    Some(
                        gss.acquire_with_password(&user, password.expose().as_bytes())
                            .map_err(krb)?,
                    )
                }
                None => None,
            };
            let mut context = gss.context();
            let first = context.step(cred.as_ref(), &target, None).map_err(krb)?;
            let mut complete = first.complete;
            let mech_types = spnego::kerberos_mech_types();
            let mut message = spnego::neg_token_init_with(&mech_types, &first.token);
            let mut hash = self.preauth_hash;
            for _ in 0..MAX_ROUNDS {
                let request =
                    self.build(smb2::SESSION_SETUP, &smb2::session_setup_request(&message))?;
                hash = chain_hash(&hash, &request);
                self.send_raw(&request, "authenticating")?;
                let (header, response) =
                    self.receive(self.next_message_id - 1, "authenticating")?;
                let more = header.status == smb2::STATUS_MORE_PROCESSING_REQUIRED;
                if !more {
                    check_status(&header, "SESSION_SETUP")?;
                }
                self.session_id = header.session_id;
                let setup = smb2::parse_session_setup_response(&response)?;
                let answer = if setup.security_buffer.is_empty() {
                    None
                } else {
                    Some(spnego::parse_neg_token_resp(&setup.security_buffer)?)
                };
                if answer
                    .as_ref()
                    .is_some_and(|a| a.state == Some(spnego::NegState::Reject))
                {
                    return Err(protocol("the server rejected the Kerberos mechanism"));
                }
                let mut next = Vec::new();
                if let Some(token) = answer.as_ref().and_then(|a| a.response_token.as_deref()) {
                    if complete {
                        return Err(protocol(
                            "the server sent a token after the logon was complete",
                        ));
                    }
                    let step = context
                        .step(cred.as_ref(), &target, Some(token))
                        .map_err(krb)?;
                    complete = step.complete;
                    next = step.token;
                }
                if more {
                    hash = chain_hash(&hash, &response);
                    message = spnego::neg_token_resp(&next, &[]);
                    continue;
                }
                if !complete {
                    return Err(protocol(
                        "the server accepted the logon without proving it holds the service \
                         key (no AP-REP): mutual authentication failed",
                    ));
                }
                // RFC 4178 5: a MIC the server sends must verify.
                if let Some(mic) = answer.as_ref().and_then(|a| a.mech_list_mic.as_deref()) {
                    context.verify_mic(&mech_types, mic).map_err(krb)?;
                }
                let key = context.session_key().map_err(krb)?;
                let mut session_key = Zeroizing::new([0u8; 16]);
                let n = key.len().min(16);
                session_key[..n].copy_from_slice(&key[..n]);
                return self.accept_final_answer(&session_key, &hash, &header, &response);
            }
            Err(protocol(
                "the server asked for more logon rounds than Kerberos takes",
            ))
        }
    }
}

#[cfg(not(unix))]
impl super::smb_client::SmbClient {
    pub fn session_setup_kerberos(
        &mut self,
        _server: &str,
        _password: Option<(&str, &super::credentials::Password)>,
    ) -> Result<(), super::error::RemoteError> {
        Err(KerberosError::NotOnThisPlatform.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn krb5_codes_map_to_advice() {
        let of = |minor: i32| Problem::of(13 << 16, minor as u32);
        assert_eq!(of(-1_765_328_347), Some(Problem::ClockSkew));
        assert_eq!(of(-1_765_328_352), Some(Problem::Expired));
        assert_eq!(of(-1_765_328_377), Some(Problem::SpnUnknown));
        assert_eq!(of(-1_765_328_228), Some(Problem::KdcUnreachable));
        assert_eq!(of(-1_765_328_189), Some(Problem::NoTicket));
        assert_eq!(of(-1_765_328_360), Some(Problem::BadPassword));
        assert_eq!(of(12345), None);
        assert_eq!(Problem::of(GSS_S_NO_CRED, 0), Some(Problem::NoTicket));
        assert_eq!(
            Problem::of(GSS_S_CREDENTIALS_EXPIRED, 0),
            Some(Problem::Expired)
        );
        let skew = KerberosError::Gss {
            call: "gss_init_sec_context",
            major: 13 << 16,
            minor: AP_ERR_SKEW as u32,
            message: "Clock skew too great".into(),
        };
        assert!(skew.to_string().contains("synchronise the clock"), "{skew}");
        assert_eq!(skew.kind(), FailureKind::LogonFailure);
        assert_eq!(skew.code(), Some(-1_765_328_347));
        let unreachable = KerberosError::Gss {
            call: "gss_init_sec_context",
            major: 13 << 16,
            minor: KDC_UNREACH as u32,
            message: String::new(),
        };
        assert_eq!(unreachable.kind(), FailureKind::Unreachable);
        assert!(unreachable.to_string().contains("--dc ADDR"));
        let missing = KerberosError::LibraryMissing { detail: "x".into() };
        assert!(missing.to_string().contains("libgssapi-krb5-2"));
        assert_eq!(missing.kind(), FailureKind::NotSupported);
    }
}
