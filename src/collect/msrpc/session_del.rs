//! Ending an SMB session on a remote server: srvsvc NetrSessionDel over the
//! same connection code a scan uses (log on, IPC$, open and bind the pipe).

use std::cell::RefCell;
use std::time::Instant;

use super::error::RemoteError;
use super::{Credentials, RemoteOptions, bind_pipe, connect_and_log_on, open_and_bind, srvsvc};

/// NERR_Success.
const SUCCESS: u32 = 0;

/// Log on to `host`, open and bind `interface`'s pipe on IPC$, run `job` on
/// it, and disconnect (also after a failure): the frame of every clean-up
/// action, which each needs one call or two on one pipe.
fn on_one_pipe<T>(
    host: &str,
    creds: &Credentials,
    options: &RemoteOptions,
    interface: &super::dcerpc::Interface,
    job: impl FnOnce(&mut super::dcerpc::RpcClient<super::SmbPipe<'_>>) -> Result<T, RemoteError>,
) -> Result<T, RemoteError> {
    let deadline = Instant::now() + options.timeout;
    let mut smb = connect_and_log_on(host, creds, options, deadline)?;
    if let Err(error) = smb.connect_ipc(host) {
        smb.disconnect();
        return Err(error);
    }
    let cell = RefCell::new(smb);
    let result = {
        let bound = open_and_bind(&mut cell.borrow_mut(), &[interface], options.max_frag)
            .into_iter()
            .next()
            .unwrap_or(Err(RemoteError::Timeout {
                during: "opening the pipe",
            }));
        match bind_pipe(&cell, bound, interface, options.max_frag) {
            Ok((_, Ok(mut rpc))) => job(&mut rpc),
            Ok((_, Err(error))) | Err(error) => Err(error),
        }
    };
    cell.into_inner().disconnect();
    result
}

/// Delete the sessions of `user` from `client` on `host` (NetrSessionDel).
/// Windows and Samba allow it to administrators only (Samba: root, or a
/// member of the Domain Admins group); others get WERR_ACCESS_DENIED.
pub fn close_smb_session(
    host: &str,
    creds: &Credentials,
    options: &RemoteOptions,
    client: &str,
    user: &str,
) -> Result<(), RemoteError> {
    let status = on_one_pipe(host, creds, options, &srvsvc::INTERFACE, |rpc| {
        rpc.call(
            srvsvc::OPNUM_SESSION_DEL,
            &srvsvc::encode_session_del_request(host, client, user),
        )
        .and_then(|reply| Ok(srvsvc::decode_session_del_response(&reply)?))
    });
    match status? {
        SUCCESS => Ok(()),
        code => Err(RemoteError::Win32 {
            call: srvsvc::SESSION_DEL_CALL,
            code,
        }),
    }
}

/// What became of a logoff that reached the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Logoff {
    LoggedOff,
    /// The re-check just before found the session no longer disconnected,
    /// or someone else's: left alone, and why.
    Refused(String),
}

/// WINSTATIONSTATECLASS State_Disconnected.
const STATE_DISCONNECTED: u32 = 4;

/// Log off Terminal Services session `session_id` on `host` ([MS-TSTS]
/// TermSrvSession: RpcOpenSession, RpcLogoff, RpcCloseSession, as
/// impacket's `tstool.py logoff`), once RpcGetSessionInformationEx on the
/// same pipe shows it still disconnected and still `user`'s (a session id
/// is reused as soon as its session ends). Windows allows it to
/// administrators (and to the session's own user); others get E_ACCESSDENIED.
pub fn logoff_tsts_session(
    host: &str,
    creds: &Credentials,
    options: &RemoteOptions,
    session_id: u32,
    user: &str,
) -> Result<Logoff, RemoteError> {
    use super::tsts::sessions;

    on_one_pipe(host, creds, options, &sessions::SESSION, |rpc| {
        match rpc
            .call(
                sessions::OPNUM_GET_SESSION_INFORMATION_EX,
                &sessions::encode_get_session_information_ex(session_id, 1),
            )
            .and_then(|reply| sessions::decode_get_session_information_ex(&reply))
        {
            Ok(now) if now.state != STATE_DISCONNECTED => Ok(Logoff::Refused(format!(
                "session {session_id} is no longer disconnected (state {}): left alone",
                now.state
            ))),
            Ok(now) if !crate::identity::eq_ignore_case(&now.user, user) => {
                Ok(Logoff::Refused(format!(
                    "session {session_id} is now {}\\{}'s, not {user}'s: left alone",
                    now.domain, now.user
                )))
            }
            Ok(_) => logoff_open(rpc, session_id).map(|()| Logoff::LoggedOff),
            Err(RemoteError::Win32 { code, .. })
                if code == super::tsts::ERROR_CTX_WINSTATION_NOT_FOUND =>
            {
                Ok(Logoff::Refused(format!(
                    "session {session_id} is gone already"
                )))
            }
            Err(error) => Err(error),
        }
    })
}

/// RpcOpenSession, RpcLogoff, then RpcCloseSession whatever the logoff gave.
fn logoff_open(
    rpc: &mut super::dcerpc::RpcClient<impl super::dcerpc::PipeTransport>,
    session_id: u32,
) -> Result<(), RemoteError> {
    use super::tsts::logoff;
    rpc.call(
        logoff::OPNUM_OPEN_SESSION,
        &logoff::encode_open_session(session_id),
    )
    .and_then(|reply| logoff::decode_open_session(&reply))
    .and_then(|handle| {
        let done = rpc
            .call(
                logoff::OPNUM_LOGOFF,
                &logoff::encode_session_handle(&handle),
            )
            .and_then(|reply| logoff::decode_logoff(&reply));
        // The handle is freed whatever the logoff gave; its
        // answer changes nothing (the pipe closes next anyway).
        if !matches!(done, Err(RemoteError::Timeout { .. })) {
            let _ = rpc.call(
                logoff::OPNUM_CLOSE_SESSION,
                &logoff::encode_session_handle(&handle),
            );
        }
        done
    })
}
