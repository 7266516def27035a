//! Ending an SMB session on a server: srvsvc NetrSessionDel over our
//! MS-RPC client from Linux, the native `NetSessionDel` on Windows (which
//! sends the same call, or acts locally for `host` None).

use crate::collect::CollectOptions;

use super::CloseError;

/// Delete the sessions of `user` from `client` on `host` (None: this
/// machine). `client` is as the server listed it (`\\IP` or `IP`).
pub fn delete_session(
    host: Option<&str>,
    options: &CollectOptions,
    client: &str,
    user: &str,
) -> Result<String, CloseError> {
    platform(host, options, client, user)?;
    Ok(format!(
        "SMB session(s) of {user} from {client} deleted{}",
        super::on_host(host)
    ))
}

#[cfg(not(windows))]
fn platform(
    host: Option<&str>,
    options: &CollectOptions,
    client: &str,
    user: &str,
) -> Result<(), CloseError> {
    let Some(host) = host else {
        return Err(CloseError::Unsupported(
            "SMB sessions of this machine's Samba are not closed by lingerscan".into(),
        ));
    };
    let creds = super::remote_credentials(options, host)?;
    crate::collect::msrpc::close_smb_session(
        host,
        creds,
        &crate::collect::remote_options(options),
        client,
        user,
    )
    .map_err(|e| CloseError::Failed(format!("NetrSessionDel on {host}: {e}")))
}

#[cfg(windows)]
fn platform(
    host: Option<&str>,
    _options: &CollectOptions,
    client: &str,
    user: &str,
) -> Result<(), CloseError> {
    let wide = |s: &str| -> Vec<u16> { s.encode_utf16().chain(std::iter::once(0)).collect() };
    let server = host.map(|h| wide(&format!("\\\\{}", h.trim_start_matches('\\'))));
    let client_w = wide(client);
    let user_w = wide(user);
    let status = net_session_del(server.as_deref(), &client_w, &user_w);
    if status == 0 {
        Ok(())
    } else {
        Err(CloseError::Failed(format!(
            "NetSessionDel returned {status} ({})",
            std::io::Error::from_raw_os_error(status as i32)
        )))
    }
}

/// `NetSessionDel`; every argument a NUL-terminated UTF-16 string.
#[cfg(windows)]
fn net_session_del(server: Option<&[u16]>, client: &[u16], user: &[u16]) -> u32 {
    use windows_sys::Win32::Storage::FileSystem::NetSessionDel;
    // SAFETY: each pointer is NULL or a NUL-terminated UTF-16 buffer that
    // outlives the call; NetSessionDel only reads them.
    unsafe {
        NetSessionDel(
            server.map_or(std::ptr::null(), |s| s.as_ptr()),
            client.as_ptr(),
            user.as_ptr(),
        )
    }
}
