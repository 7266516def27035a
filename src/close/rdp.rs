//! Logging off a disconnected (or ghost) RDP/console session: from Linux
//! through [MS-TSTS] TermSrvSession RpcLogoff over our MS-RPC client, on
//! Windows with `WTSLogoffSession` (this machine, or `\\HOST` opened with
//! `WTSOpenServerW`, which sends the same calls). Either way the session is
//! first read again, and left alone unless it is still disconnected and
//! still the same user's.

use crate::collect::CollectOptions;

use super::CloseError;

/// Log off `session_id` of `user` (no domain) on `host` (None: this machine).
pub fn logoff(
    host: Option<&str>,
    options: &CollectOptions,
    session_id: u32,
    user: &str,
) -> Result<String, CloseError> {
    platform(host, options, session_id, user)?;
    Ok(format!(
        "session {session_id} of {user} logged off{}",
        super::on_host(host)
    ))
}

#[cfg(not(windows))]
fn platform(
    host: Option<&str>,
    options: &CollectOptions,
    session_id: u32,
    user: &str,
) -> Result<(), CloseError> {
    use crate::collect::msrpc::{Logoff, logoff_tsts_session};
    let Some(host) = host else {
        return Err(CloseError::Unsupported(
            "this machine has no Terminal Services sessions".into(),
        ));
    };
    let creds = super::remote_credentials(options, host)?;
    match logoff_tsts_session(
        host,
        creds,
        &crate::collect::remote_options(options),
        session_id,
        user,
    ) {
        Ok(Logoff::LoggedOff) => Ok(()),
        Ok(Logoff::Refused(why)) => Err(CloseError::Refused(why)),
        Err(e) => Err(CloseError::Failed(format!("RpcLogoff on {host}: {e}"))),
    }
}

#[cfg(windows)]
fn platform(
    host: Option<&str>,
    _options: &CollectOptions,
    session_id: u32,
    user: &str,
) -> Result<(), CloseError> {
    use crate::collect::windows::wts::{Logoff, logoff};
    match logoff(host, session_id, user) {
        Ok(Logoff::LoggedOff) => Ok(()),
        Ok(Logoff::Refused(why)) => Err(CloseError::Refused(why)),
        Err(code) => Err(CloseError::Failed(format!(
            "WTSLogoffSession returned {code} ({})",
            std::io::Error::from_raw_os_error(code as i32)
        ))),
    }
}
