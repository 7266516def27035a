//! The account a remote scan authenticates as, and where its password comes
//! from. The password lives only until [`Credentials::parse`] turns it into
//! the NT hash (all NTLMv2 needs); every copy of either is zeroed when dropped
//! and redacted in Debug. [`disable_core_dumps`] keeps what remains in memory
//! out of core files.

use std::io::{IsTerminal, Read};
use std::path::Path;

use md4::{Digest, Md4};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// Larger password files are refused: a password is a line, and reading
/// an arbitrary file (a log, a device) into memory is not what was meant.
pub const MAX_PASSWORD_FILE: usize = 64 * 1024;

/// A secret string, zeroed on drop, redacted in Debug.
#[derive(Clone, Zeroize, ZeroizeOnDrop, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    pub fn new(secret: String) -> Self {
        Password(secret)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// MD4 of the UTF-16LE password ([MS-NLMP] NTOWFv1): password-equivalent
/// for NTLM, so kept like the password (zeroed on drop, redacted).
#[derive(Clone, PartialEq, Eq)]
pub struct NtHash(Zeroizing<[u8; 16]>);

impl NtHash {
    /// Hash `password`; the UTF-16 copy made for it is zeroed.
    pub fn of(password: &Password) -> Self {
        let text = password.expose();
        // Sized once, so no reallocation leaves a partial copy behind.
        let mut units = Zeroizing::new(Vec::with_capacity(text.encode_utf16().count() * 2));
        units.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
        let mut hash = Zeroizing::new([0u8; 16]);
        let mut hasher = Md4::new();
        hasher.update(units.as_slice());
        // Written straight into the zeroizing array, not through a temporary.
        hasher.finalize_into(md4::digest::generic_array::GenericArray::from_mut_slice(
            hash.as_mut_slice(),
        ));
        NtHash(hash)
    }

    pub fn expose(&self) -> &[u8; 16] {
        &self.0
    }

    /// An NT hash written as 32 hex digits (surrounding white space ignored).
    pub fn from_hex(text: &str) -> Result<Self, CredentialsError> {
        let text = text.trim();
        let mut hash = Zeroizing::new([0u8; 16]);
        if text.len() != 32 || !text.is_ascii() {
            return Err(CredentialsError::BadNtHash);
        }
        for (byte, pair) in hash.iter_mut().zip(text.as_bytes().chunks(2)) {
            let digit = |c: u8| {
                char::from(c)
                    .to_digit(16)
                    .ok_or(CredentialsError::BadNtHash)
            };
            *byte = (digit(pair[0])? * 16 + digit(pair[1])?) as u8;
        }
        Ok(NtHash(hash))
    }
}

impl std::fmt::Debug for NtHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NtHash(<redacted>)")
    }
}

/// Who to authenticate as: `DOMAIN\user`, `user@domain` or a bare `user`,
/// and how: NTLM with the NT hash, or Kerberos.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    /// NetBIOS or DNS domain as given; empty for a bare user name.
    pub domain: String,
    /// Empty for Kerberos from a ticket cache or keytab (the library
    /// knows the principal).
    pub user: String,
    secret: Secret,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Secret {
    NtHash(NtHash),
    /// Kerberos; with a password the TGT is got by this process.
    Kerberos(Option<Password>),
}

/// How a logon authenticates.
#[derive(Debug, Clone, Copy)]
pub enum Method<'a> {
    Ntlm(&'a [u8; 16]),
    /// Kerberos from the ticket cache or keytab (None), or from the
    /// password of [`Credentials::principal`].
    Kerberos(Option<&'a Password>),
}

#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    #[error("'{0}' is not an account name (expected DOMAIN\\user, user@domain or user)")]
    BadAccount(String),
    #[error("cannot read the password file {path}: {source}")]
    File {
        path: String,
        source: std::io::Error,
    },
    #[error("the password in {var} is not valid UTF-8")]
    EnvNotUnicode { var: String },
    #[error("the password file {0} is not valid UTF-8")]
    FileNotUnicode(String),
    #[error("the password file {path} is larger than {MAX_PASSWORD_FILE} bytes: not a password")]
    FileTooLarge { path: String },
    #[error(
        "no password given: set {var}, use --password-file, or run from a terminal to be prompted"
    )]
    NoPassword { var: String },
    #[error("cannot read the password from the terminal: {0}")]
    Prompt(std::io::Error),
    #[error("an NT hash is 32 hexadecimal digits")]
    BadNtHash,
    #[error("no NT hash given: set {var} or use --nt-hash-file")]
    NoNtHash { var: String },
}

impl Credentials {
    /// Parse `DOMAIN\user`, `user@domain` or `user`. The password is hashed
    /// at once and dropped (zeroed) here: a scan never holds it.
    pub fn parse(account: &str, password: Password) -> Result<Self, CredentialsError> {
        let nt_hash = NtHash::of(&password);
        drop(password);
        Self::with_nt_hash(account, nt_hash)
    }

    /// NTLM with an NT hash given as such (`--nt-hash`).
    pub fn with_nt_hash(account: &str, nt_hash: NtHash) -> Result<Self, CredentialsError> {
        let (domain, user) = split_account(account)?;
        Ok(Credentials {
            domain,
            user,
            secret: Secret::NtHash(nt_hash),
        })
    }

    /// Kerberos from the ticket cache or the keytab the library is pointed at.
    pub fn kerberos_from_cache() -> Self {
        Credentials {
            domain: String::new(),
            user: String::new(),
            secret: Secret::Kerberos(None),
        }
    }

    /// Kerberos with a TGT got from `account`'s password. The password is
    /// kept (zeroed on drop) because every logon may need a new TGT.
    pub fn kerberos_with_password(
        account: &str,
        password: Password,
    ) -> Result<Self, CredentialsError> {
        let (domain, user) = split_account(account)?;
        Ok(Credentials {
            domain,
            user,
            secret: Secret::Kerberos(Some(password)),
        })
    }

    /// The Kerberos principal for the account: `user@REALM`, the realm
    /// being the domain upper-cased (AD realms are the DNS domain in
    /// capitals); a bare user gets the default realm.
    pub fn principal(&self) -> String {
        if self.domain.is_empty() {
            self.user.clone()
        } else {
            format!("{}@{}", self.user, self.domain.to_uppercase())
        }
    }

    /// How this logon authenticates.
    pub fn method(&self) -> Method<'_> {
        match &self.secret {
            Secret::NtHash(hash) => Method::Ntlm(hash.expose()),
            Secret::Kerberos(password) => Method::Kerberos(password.as_ref()),
        }
    }

    /// The NT hash NTLMv2 keys from (None for Kerberos).
    pub fn nt_hash(&self) -> Option<&[u8; 16]> {
        match &self.secret {
            Secret::NtHash(hash) => Some(hash.expose()),
            Secret::Kerberos(_) => None,
        }
    }

    /// `DOMAIN\user` for messages (never includes the password).
    pub fn account(&self) -> String {
        if self.user.is_empty() {
            "the Kerberos ticket cache's principal".into()
        } else if self.domain.is_empty() {
            self.user.clone()
        } else {
            format!("{}\\{}", self.domain, self.user)
        }
    }
}

/// `DOMAIN\user`, `user@domain` or `user` as (domain, user).
fn split_account(account: &str) -> Result<(String, String), CredentialsError> {
    {
        let account = account.trim();
        let bad = || CredentialsError::BadAccount(account.to_string());
        let (domain, user) = if let Some((domain, user)) = account.split_once('\\') {
            (domain, user)
        } else if let Some((user, domain)) = account.rsplit_once('@') {
            (domain, user)
        } else {
            ("", account)
        };
        let invalid = |s: &str| s.contains(['\\', '@', '/']) || s.chars().any(char::is_control);
        if user.is_empty()
            || invalid(user)
            || invalid(domain)
            || (account.contains(['\\', '@']) && domain.is_empty())
        {
            return Err(bad());
        }
        Ok((domain.to_string(), user.to_string()))
    }
}

/// The NT hash for `--nt-hash`: from `file` when given, else from the
/// environment variable `var` (never from the command line, where other
/// users could read it in the process list).
pub fn nt_hash_from(
    file: Option<&Path>,
    var: &str,
    warn: &mut dyn FnMut(String),
) -> Result<NtHash, CredentialsError> {
    let text = match file {
        Some(path) => password_from_file(path, warn)?,
        None => password_from_env(var)?.ok_or_else(|| CredentialsError::NoNtHash {
            var: var.to_string(),
        })?,
    };
    NtHash::from_hex(text.expose())
}

/// The password from environment variable `var`, if set.
pub fn password_from_env(var: &str) -> Result<Option<Password>, CredentialsError> {
    match std::env::var_os(var) {
        None => Ok(None),
        // The environment block itself cannot be wiped from here; the copy is.
        Some(value) => value
            .into_string()
            .map(|s| Some(Password::new(s)))
            .map_err(|_| CredentialsError::EnvNotUnicode {
                var: var.to_string(),
            }),
    }
}

/// The password from a file: its content without one trailing newline
/// (`\n` or `\r\n`). A file others can read is still used, but `warn` is
/// told (as ssh does for keys); one over [`MAX_PASSWORD_FILE`] is refused.
pub fn password_from_file(
    path: &Path,
    warn: &mut dyn FnMut(String),
) -> Result<Password, CredentialsError> {
    let shown = || path.display().to_string();
    let file_error = |source| CredentialsError::File {
        path: shown(),
        source,
    };
    let file = std::fs::File::open(path).map_err(file_error)?;
    // Checked on the open file, not the path: what is read is what was checked.
    let metadata = file.metadata().map_err(file_error)?;
    if let Some(mode) = readable_by_others(&metadata) {
        warn(format!(
            "the password file {} can be read by other users (mode {mode:04o}); \
             `chmod 600` it",
            shown()
        ));
    }
    // Room for one byte past the limit, reserved up front: reading never
    // reallocates, so no copy of the secret is left in freed memory.
    let mut bytes = Zeroizing::new(Vec::with_capacity(MAX_PASSWORD_FILE + 2));
    file.take(MAX_PASSWORD_FILE as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(file_error)?;
    if bytes.len() > MAX_PASSWORD_FILE {
        return Err(CredentialsError::FileTooLarge { path: shown() });
    }
    let text =
        std::str::from_utf8(&bytes).map_err(|_| CredentialsError::FileNotUnicode(shown()))?;
    let text = text
        .strip_suffix('\n')
        .map(|t| t.strip_suffix('\r').unwrap_or(t))
        .unwrap_or(text);
    Ok(Password::new(text.to_string()))
}

/// The permission bits of a regular file that group or others may read
/// (pipes such as `<(pass show x)` are private to the process tree).
#[cfg(unix)]
fn readable_by_others(metadata: &std::fs::Metadata) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    let mode = metadata.permissions().mode() & 0o7777;
    (metadata.is_file() && mode & 0o044 != 0).then_some(mode)
}

#[cfg(not(unix))]
fn readable_by_others(_metadata: &std::fs::Metadata) -> Option<u32> {
    None
}

/// Ask on the terminal without echo; refuses when stdin is not a terminal.
pub fn password_from_prompt(prompt: &str, env_var: &str) -> Result<Password, CredentialsError> {
    if !std::io::stdin().is_terminal() {
        return Err(CredentialsError::NoPassword {
            var: env_var.to_string(),
        });
    }
    rpassword::prompt_password(prompt)
        .map(Password::new)
        .map_err(CredentialsError::Prompt)
}

/// The password by precedence: `--password-file`, then `env_var`, then a
/// prompt. `warn` hears about a password file others can read.
pub fn read_password(
    file: Option<&Path>,
    env_var: &str,
    prompt: &str,
    warn: &mut dyn FnMut(String),
) -> Result<Password, CredentialsError> {
    if let Some(path) = file {
        return password_from_file(path, warn);
    }
    if let Some(password) = password_from_env(env_var)? {
        return Ok(password);
    }
    password_from_prompt(prompt, env_var)
}

/// Keep this process out of core dumps and debuggers of the same user:
/// after a crash (or a server-triggered abort) no core file holds the NT
/// hash or anything derived from it. Linux only; elsewhere it does nothing.
#[cfg(target_os = "linux")]
pub fn disable_core_dumps() -> std::io::Result<()> {
    // SAFETY: PR_SET_DUMPABLE takes integer arguments only and changes only
    // this process's dumpable flag; no memory is passed.
    if unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let none = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `none` is a valid rlimit that outlives the call, which only reads it.
    if unsafe { libc::setrlimit(libc::RLIMIT_CORE, &none) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(not(target_os = "linux"))]
pub fn disable_core_dumps() -> std::io::Result<()> {
    Ok(())
}

/// Whether this process may still write a core dump (dumpable flag set and
/// a core size limit above zero). Linux only; elsewhere None.
#[cfg(target_os = "linux")]
pub fn core_dumps_possible() -> Option<bool> {
    // SAFETY: PR_GET_DUMPABLE takes no pointers and only reads a flag.
    let dumpable = unsafe { libc::prctl(libc::PR_GET_DUMPABLE, 0, 0, 0, 0) };
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid, writable rlimit that outlives the call.
    if unsafe { libc::getrlimit(libc::RLIMIT_CORE, &mut limit) } != 0 || dumpable < 0 {
        return None;
    }
    Some(dumpable != 0 && limit.rlim_cur > 0)
}

#[cfg(not(target_os = "linux"))]
pub fn core_dumps_possible() -> Option<bool> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pw() -> Password {
        Password::new("s3cret".into())
    }

    #[test]
    fn parses_the_three_account_forms() {
        let c = Credentials::parse("CONTOSO\\admin", pw()).unwrap();
        assert_eq!((c.domain.as_str(), c.user.as_str()), ("CONTOSO", "admin"));
        let c = Credentials::parse("admin@contoso.com", pw()).unwrap();
        assert_eq!(
            (c.domain.as_str(), c.user.as_str()),
            ("contoso.com", "admin")
        );
        let c = Credentials::parse(" admin ", pw()).unwrap();
        assert_eq!((c.domain.as_str(), c.user.as_str()), ("", "admin"));
        assert_eq!(c.account(), "admin");
        for bad in ["", "\\admin", "CONTOSO\\", "a\\b\\c", "@x", "x@", "a/b"] {
            assert!(Credentials::parse(bad, pw()).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn debug_never_shows_the_password() {
        let c = Credentials::parse("D\\u", pw()).unwrap();
        let shown = format!("{c:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("redacted"));
    }

    #[test]
    fn file_password_drops_one_trailing_newline_only() {
        let dir = tempfile::tempdir().unwrap();
        for (content, want) in [
            ("pw\n", "pw"),
            ("pw\r\n", "pw"),
            ("pw", "pw"),
            ("p w \n\n", "p w \n"),
            ("", ""),
        ] {
            let path = dir.path().join("pw");
            std::fs::write(&path, content).unwrap();
            assert_eq!(
                password_from_file(&path, &mut |_| {}).unwrap().expose(),
                want
            );
        }
        assert!(matches!(
            password_from_file(&dir.path().join("missing"), &mut |_| {}),
            Err(CredentialsError::File { .. })
        ));
    }

    #[test]
    fn file_beats_env_and_no_tty_means_no_prompt() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pw");
        std::fs::write(&path, "from-file\n").unwrap();
        let var = "LINGERSCAN_TEST_PASSWORD_UNSET_VAR";
        assert_eq!(
            read_password(Some(&path), var, "p: ", &mut |_| {})
                .unwrap()
                .expose(),
            "from-file"
        );
        assert!(password_from_env(var).unwrap().is_none());
        // Under cargo test stdin is not a terminal: an error, not a hang.
        if !std::io::stdin().is_terminal() {
            assert!(matches!(
                read_password(None, var, "p: ", &mut |_| {}),
                Err(CredentialsError::NoPassword { .. })
            ));
        }
    }

    /// MS-NLMP 4.2.2.1.2: NTOWFv1("Password").
    #[test]
    fn nt_hash_matches_ms_nlmp_and_the_password_is_not_kept() {
        let c = Credentials::parse("Domain\\User", Password::new("Password".into())).unwrap();
        let hex: String = c
            .nt_hash()
            .unwrap()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(hex, "a4f49c406510bdcab6824ee7c30fd852");
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("a4f49c") && shown.contains("redacted"),
            "{shown}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_password_file_others_can_read_is_used_with_a_warning() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pw");
        std::fs::write(&path, "pw\n").unwrap();
        for (mode, warned) in [(0o600, false), (0o400, false), (0o640, true), (0o604, true)] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            let mut warnings = Vec::new();
            let password = password_from_file(&path, &mut |w| warnings.push(w)).unwrap();
            assert_eq!(password.expose(), "pw");
            assert_eq!(
                warnings.len(),
                usize::from(warned),
                "mode {mode:o}: {warnings:?}"
            );
            if warned {
                assert!(warnings[0].contains("chmod 600"), "{warnings:?}");
                assert!(warnings[0].contains(&format!("{mode:04o}")), "{warnings:?}");
            }
        }
    }

    #[test]
    fn a_password_file_past_the_size_limit_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pw");
        std::fs::write(&path, vec![b'a'; MAX_PASSWORD_FILE]).unwrap();
        assert_eq!(
            password_from_file(&path, &mut |_| {})
                .unwrap()
                .expose()
                .len(),
            MAX_PASSWORD_FILE
        );
        std::fs::write(&path, vec![b'a'; MAX_PASSWORD_FILE + 1]).unwrap();
        let err = password_from_file(&path, &mut |_| {}).unwrap_err();
        assert!(
            matches!(err, CredentialsError::FileTooLarge { .. }),
            "{err}"
        );
        assert!(err.to_string().contains("65536 bytes"), "{err}");
    }

    #[test]
    fn nt_hash_from_hex() {
        let hash = NtHash::from_hex(" 18fdf9a3de721d3c1c71dd994ff03cdf\n").unwrap();
        assert_eq!(hash.expose()[0], 0x18);
        assert_eq!(hash.expose()[15], 0xdf);
        for bad in [
            "",
            "18fdf9a3",
            "zz fdf9a3de721d3c1c71dd994ff03cdf",
            "é8fdf9a3de721d3c1c71dd994ff03cd",
        ] {
            assert!(NtHash::from_hex(bad).is_err(), "{bad:?}");
        }
        let c = Credentials::with_nt_hash("D\\u", hash).unwrap();
        assert!(matches!(c.method(), Method::Ntlm(_)));
        assert!(!format!("{c:?}").contains("18fd"));
    }
}
