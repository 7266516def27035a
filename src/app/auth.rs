//! Which credentials a remote scan uses (NTLM with a password or an NT
//! hash, or Kerberos), and the process environment MIT Kerberos reads
//! (KRB5_CONFIG for --dc, KRB5_CLIENT_KTNAME for --keytab).

use std::path::Path;

use anyhow::{Context, Result};

use crate::cli::{RemoteArgs, TargetArgs};
use lingerscan::collect::msrpc::{Credentials, disable_core_dumps, nt_hash_from, read_password};

const PASSWORD_ENV: &str = "LINGERSCAN_PASSWORD";
const NT_HASH_ENV: &str = "LINGERSCAN_NT_HASH";

/// What must outlive the scan: the private krb5.conf's directory.
#[derive(Default)]
pub struct AuthGuard {
    _krb5_dir: Option<tempfile::TempDir>,
}

/// The credentials of a remote scan, and the guard of its Kerberos files.
pub fn credentials(target: &TargetArgs) -> Result<(Option<Credentials>, AuthGuard)> {
    credentials_with(target, None)
}

/// As [`credentials`]; `realm_hint` (from the directory's rootDSE) is the
/// realm for --dc when nothing else names it. --ldap means Kerberos: the
/// directory is read with SASL GSSAPI only.
pub fn credentials_with(
    target: &TargetArgs,
    realm_hint: Option<String>,
) -> Result<(Option<Credentials>, AuthGuard)> {
    let remote = &target.remote;
    let nt_hash = remote.nt_hash || remote.nt_hash_file.is_some();
    let kerberos = remote.kerberos
        || target.directory.ldap
        || remote.keytab.is_some()
        || (remote.username.is_none() && !nt_hash && ticket_cache_present());
    if kerberos && nt_hash {
        anyhow::bail!(
            "--nt-hash is NTLM; it cannot be combined with Kerberos (-k, --keytab, --ldap)"
        );
    }
    if !kerberos && remote.username.is_none() {
        return Ok((None, AuthGuard::default()));
    }
    // Before any secret exists in this process: no core file may hold it
    // (a server-triggered abort, a crash).
    if let Err(err) = disable_core_dumps() {
        eprintln!("warning: cannot disable core dumps for this scan: {err}");
    }
    let mut warn = |warning: String| eprintln!("warning: {warning}");
    if !kerberos {
        let account = remote.username.as_deref().unwrap_or_default();
        let creds = if nt_hash {
            let hash = nt_hash_from(remote.nt_hash_file.as_deref(), NT_HASH_ENV, &mut warn)
                .context("reading the NT hash")?;
            Credentials::with_nt_hash(account, hash)
        } else {
            let password = read_password(
                remote.password_file.as_deref(),
                PASSWORD_ENV,
                "Password: ",
                &mut warn,
            )
            .context("reading the password")?;
            // Hashed and wiped inside parse: the scan keeps only the NT hash.
            Credentials::parse(account, password)
        };
        return Ok((
            Some(creds.context("invalid --username")?),
            AuthGuard::default(),
        ));
    }
    let guard = kerberos_environment(target, realm_hint)?;
    let creds = match &remote.username {
        // A password only when one was given (or no cache can stand in):
        // `kinit` users pass --username for messages without being prompted.
        Some(account)
            if remote.keytab.is_none()
                && (remote.password_file.is_some()
                    || std::env::var_os(PASSWORD_ENV).is_some()
                    || !ticket_cache_present()) =>
        {
            let password = read_password(
                remote.password_file.as_deref(),
                PASSWORD_ENV,
                "Password: ",
                &mut warn,
            )
            .context("reading the password")?;
            Credentials::kerberos_with_password(account, password).context("invalid --username")?
        }
        _ => Credentials::kerberos_from_cache(),
    };
    Ok((Some(creds), guard))
}

/// A ticket cache as `kinit` leaves it: KRB5CCNAME (a FILE: cache must
/// exist), else the default `/tmp/krb5cc_<uid>`.
fn ticket_cache_present() -> bool {
    match std::env::var("KRB5CCNAME") {
        Ok(name) if !name.is_empty() => match name.strip_prefix("FILE:") {
            Some(path) => Path::new(path).exists(),
            None if !name.contains(':') => Path::new(&name).exists(),
            None => true,
        },
        _ => default_cache_path().is_some_and(|p| Path::new(&p).exists()),
    }
}

#[cfg(unix)]
fn default_cache_path() -> Option<String> {
    // SAFETY: getuid has no failure mode and touches no memory.
    let uid = unsafe { libc::getuid() };
    Some(format!("/tmp/krb5cc_{uid}"))
}

#[cfg(not(unix))]
fn default_cache_path() -> Option<String> {
    None
}

/// Point MIT Kerberos at --keytab and a private krb5.conf for --dc.
fn kerberos_environment(target: &TargetArgs, realm_hint: Option<String>) -> Result<AuthGuard> {
    let remote = &target.remote;
    let mut guard = AuthGuard::default();
    if let Some(keytab) = &remote.keytab {
        let path = std::path::absolute(keytab)
            .with_context(|| format!("--keytab {}", keytab.display()))?;
        anyhow::ensure!(path.is_file(), "--keytab {}: no such file", path.display());
        set_env("KRB5_CLIENT_KTNAME", &format!("FILE:{}", path.display()));
        // The TGT got from the keytab goes to memory, not into the user's cache.
        set_env("KRB5CCNAME", "MEMORY:lingerscan-keytab");
    }
    if let Some(dc) = &remote.dc {
        let realm = realm_for(remote, &target.host).or(realm_hint).context(
            "--dc needs the realm: give --realm, --username user@REALM, or the host by its DNS name",
        )?;
        let dir = tempfile::Builder::new()
            .prefix("lingerscan-krb5.")
            .tempdir()
            .context("creating a directory for the private krb5.conf")?;
        let path = dir.path().join("krb5.conf");
        std::fs::write(&path, krb5_conf(&realm, dc))
            .with_context(|| format!("writing {}", path.display()))?;
        set_env("KRB5_CONFIG", &path.display().to_string());
        guard._krb5_dir = Some(dir);
    }
    Ok(guard)
}

/// The realm: --realm, the domain of `user@domain.tld`, else the domain
/// part of the first host named by DNS name, upper-cased.
fn realm_for(remote: &RemoteArgs, hosts: &[String]) -> Option<String> {
    if let Some(realm) = &remote.realm {
        return Some(realm.to_uppercase());
    }
    let from_user = remote
        .username
        .as_deref()
        .and_then(|u| u.rsplit_once('@'))
        .map(|(_, domain)| domain);
    let from_host = || {
        hosts
            .iter()
            .filter(|h| h.parse::<std::net::IpAddr>().is_err())
            .find_map(|h| h.split_once('.').map(|(_, domain)| domain))
    };
    from_user
        .or_else(from_host)
        .filter(|d| !d.is_empty())
        .map(str::to_uppercase)
}

/// A krb5.conf that needs no DNS: the KDC by address, names used as given.
fn krb5_conf(realm: &str, kdc: &str) -> String {
    let kdc = if kdc.contains(':')
        && !kdc.starts_with('[')
        && kdc.parse::<std::net::Ipv6Addr>().is_ok()
    {
        format!("[{kdc}]")
    } else {
        kdc.to_string()
    };
    format!(
        "[libdefaults]\n\
         \tdefault_realm = {realm}\n\
         \tdns_lookup_kdc = false\n\
         \tdns_lookup_realm = false\n\
         \tdns_canonicalize_hostname = false\n\
         \trdns = false\n\
         [realms]\n\
         \t{realm} = {{\n\t\tkdc = {kdc}\n\t}}\n\
         [domain_realm]\n\
         \t.{lower} = {realm}\n\
         \t{lower} = {realm}\n",
        lower = realm.to_lowercase()
    )
}

fn set_env(key: &str, value: &str) {
    // SAFETY: called while the command line is being turned into options,
    // before this process starts any thread (scans, name lookups and the
    // progress bar come later), so nothing reads the environment concurrently.
    unsafe { std::env::set_var(key, value) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_krb5_conf_names_the_kdc() {
        let conf = krb5_conf("SAMDOM.TEST", "127.0.0.200");
        assert!(conf.contains("default_realm = SAMDOM.TEST"));
        assert!(conf.contains("kdc = 127.0.0.200"));
        assert!(conf.contains("rdns = false"));
        assert!(conf.contains("dns_canonicalize_hostname = false"));
        assert!(krb5_conf("R", "::1").contains("kdc = [::1]"));
    }
}
