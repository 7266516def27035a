//! Ending an SMB session on a server: srvsvc NetrSessionDel over our
//! MS-RPC client from Linux, the native `NetSessionDel` on Windows.

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
    let Some(host) = host else {
        return Err(CloseError::Unsupported(
            "SMB sessions of this machine are not closed by lingerscan yet".into(),
        ));
    };
    let _ = (options, client, user);
    Err(CloseError::Unsupported(format!(
        "NetrSessionDel on {host} is not done yet"
    )))
}
