//! Ending an SMB session on a remote server: srvsvc NetrSessionDel over the
//! same connection code a scan uses (log on, IPC$, open and bind the pipe).

use std::cell::RefCell;
use std::time::Instant;

use super::error::RemoteError;
use super::{Credentials, RemoteOptions, bind_pipe, connect_and_log_on, open_and_bind, srvsvc};

/// NERR_Success.
const SUCCESS: u32 = 0;

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
    let deadline = Instant::now() + options.timeout;
    let mut smb = connect_and_log_on(host, creds, options, deadline)?;
    if let Err(error) = smb.connect_ipc(host) {
        smb.disconnect();
        return Err(error);
    }
    let cell = RefCell::new(smb);
    let status = {
        let bound = open_and_bind(
            &mut cell.borrow_mut(),
            &[&srvsvc::INTERFACE],
            options.max_frag,
        )
        .into_iter()
        .next()
        .unwrap_or(Err(RemoteError::Timeout {
            during: "opening the srvsvc pipe",
        }));
        match bind_pipe(&cell, bound, &srvsvc::INTERFACE, options.max_frag) {
            Ok((_, Ok(mut rpc))) => rpc
                .call(
                    srvsvc::OPNUM_SESSION_DEL,
                    &srvsvc::encode_session_del_request(host, client, user),
                )
                .and_then(|reply| Ok(srvsvc::decode_session_del_response(&reply)?)),
            Ok((_, Err(error))) | Err(error) => Err(error),
        }
    };
    cell.into_inner().disconnect();
    match status? {
        SUCCESS => Ok(()),
        code => Err(RemoteError::Win32 {
            call: srvsvc::SESSION_DEL_CALL,
            code,
        }),
    }
}
