//! The account a remote scan authenticates as, and where its password comes
//! from. The password is never printed (Debug redacts it) and is zeroed when
//! dropped.

use std::io::IsTerminal;
use std::path::Path;

use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

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

/// Who to authenticate as: `DOMAIN\user`, `user@domain` or a bare `user`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    /// NetBIOS or DNS domain as given; empty for a bare user name.
    pub domain: String,
    pub user: String,
    pub password: Password,
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
    #[error(
        "no password given: set {var}, use --password-file, or run from a terminal to be prompted"
    )]
    NoPassword { var: String },
    #[error("cannot read the password from the terminal: {0}")]
    Prompt(std::io::Error),
}

impl Credentials {
    /// Parse `DOMAIN\user`, `user@domain` or `user`.
    pub fn parse(account: &str, password: Password) -> Result<Self, CredentialsError> {
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
        Ok(Credentials {
            domain: domain.to_string(),
            user: user.to_string(),
            password,
        })
    }

    /// `DOMAIN\user` for messages (never includes the password).
    pub fn account(&self) -> String {
        if self.domain.is_empty() {
            self.user.clone()
        } else {
            format!("{}\\{}", self.domain, self.user)
        }
    }
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

/// The password from a file: its content without one trailing newline (`\n` or `\r\n`).
pub fn password_from_file(path: &Path) -> Result<Password, CredentialsError> {
    let bytes = Zeroizing::new(
        std::fs::read(path).map_err(|source| CredentialsError::File {
            path: path.display().to_string(),
            source,
        })?,
    );
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| CredentialsError::FileNotUnicode(path.display().to_string()))?;
    let text = text
        .strip_suffix('\n')
        .map(|t| t.strip_suffix('\r').unwrap_or(t))
        .unwrap_or(text);
    Ok(Password::new(text.to_string()))
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

/// The password by precedence: `--password-file`, then `env_var`, then a prompt.
pub fn read_password(
    file: Option<&Path>,
    env_var: &str,
    prompt: &str,
) -> Result<Password, CredentialsError> {
    if let Some(path) = file {
        return password_from_file(path);
    }
    if let Some(password) = password_from_env(env_var)? {
        return Ok(password);
    }
    password_from_prompt(prompt, env_var)
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
            assert_eq!(password_from_file(&path).unwrap().expose(), want);
        }
        assert!(matches!(
            password_from_file(&dir.path().join("missing")),
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
            read_password(Some(&path), var, "p: ").unwrap().expose(),
            "from-file"
        );
        assert!(password_from_env(var).unwrap().is_none());
        // Under cargo test stdin is not a terminal: an error, not a hang.
        if !std::io::stdin().is_terminal() {
            assert!(matches!(
                read_password(None, var, "p: "),
                Err(CredentialsError::NoPassword { .. })
            ));
        }
    }
}
