//! `--ldap`: the computers of the domain as targets, read before the scan
//! (and before its credentials are used for SMB, as the same Kerberos
//! setup serves both).

use std::time::Duration;

use anyhow::{Context, Result};

use super::auth::{self, AuthGuard};
use crate::cli::{TargetArgs, TargetsArgs, TargetsFormat};
use lingerscan::analyze::Outcome;
use lingerscan::collect::msrpc::{Credentials, Method};
use lingerscan::directory::{self, ComputerQuery, Listing, Login, Server};

/// Reading the directory is one conversation for the whole fleet: it gets
/// at least this long, whatever the per-host --timeout.
const MIN_DIRECTORY_TIME: Duration = Duration::from_secs(120);
const LDAP_PORT: u16 = 389;

pub struct FromDirectory {
    pub listing: Listing,
    pub credentials: Option<Credentials>,
    pub guard: AuthGuard,
}

fn server(target: &TargetArgs) -> Result<Server> {
    let dc = target.remote.dc.clone().context(
        "--ldap needs a DC: --dc ADDR, or --realm for finding one through DNS SRV records",
    )?;
    Ok(Server {
        dc,
        port: ldap_port(target),
        resolve: target.remote.resolve.clone(),
        timeout: target.timeout.max(MIN_DIRECTORY_TIME),
        connect_timeout: target.connect_timeout,
        max_entries: directory::DEFAULT_MAX_ENTRIES,
    })
}

/// 389, or the port of the SRV record of a DC found through DNS.
fn ldap_port(target: &TargetArgs) -> u16 {
    target.directory.ldap_port.unwrap_or(LDAP_PORT)
}

/// `--dc` on a scan (or the DC --ldap found through DNS): the directory the session holders' account states
/// are read from (ORPHANED verdicts). It shares the host's deadline.
pub fn accounts_server(target: &TargetArgs) -> Option<Server> {
    let dc = target.remote.dc.clone()?;
    Some(Server {
        dc,
        port: ldap_port(target),
        resolve: target.remote.resolve.clone(),
        timeout: target.timeout,
        connect_timeout: target.connect_timeout,
        max_entries: directory::DEFAULT_MAX_ENTRIES,
    })
}

/// The computers --ldap names, and the credentials that read them.
pub fn list(target: &TargetArgs) -> Result<FromDirectory> {
    let server = server(target)?;
    let remote = &target.remote;
    let realm_known =
        remote.realm.is_some() || remote.username.as_deref().is_some_and(|u| u.contains('@'));
    // The realm for the private krb5.conf, when nothing names it: the
    // domain's naming context, read anonymously from the rootDSE.
    let hint = if realm_known {
        None
    } else {
        directory::read_root_dse(&server)
            .with_context(|| format!("reading the rootDSE of {}", server.dc))?
            .realm()
    };
    let (credentials, guard) = auth::credentials_with(target, hint)?;
    let login = match credentials.as_ref().map(Credentials::method) {
        Some(Method::Kerberos(Some(password))) => Some((
            credentials
                .as_ref()
                .map(Credentials::principal)
                .unwrap_or_default(),
            password,
        )),
        _ => None,
    };
    let login = match &login {
        Some((principal, password)) => Login::Password {
            principal,
            password: password.expose(),
        },
        None => Login::Cache,
    };
    let query = ComputerQuery {
        search_base: target.directory.search_base.clone(),
        filter: target.directory.ldap_filter.clone(),
        active_within: target.directory.active_within,
    };
    let listing = directory::computers::list(&server, &login, &query)
        .with_context(|| format!("listing the computers of the directory at {}", server.dc))?;
    Ok(FromDirectory {
        listing,
        credentials,
        guard,
    })
}

/// What was left out, for standard error.
pub fn summary(listing: &Listing) -> String {
    format!(
        "{} computers under {} ({}); skipped: {} disabled, {} not active within the limit, {} without dNSHostName",
        listing.computers.len(),
        listing.base,
        listing.filter,
        listing.skipped_disabled,
        listing.skipped_inactive,
        listing.skipped_no_dns_name
    )
}

/// `lingerscan targets --ldap ...`.
pub fn targets(args: &TargetsArgs) -> Result<Outcome> {
    anyhow::ensure!(
        args.target.directory.ldap,
        "`targets` lists the computers of the directory: give --ldap (with --dc ADDR, or \
         --realm REALM to find the DCs through DNS)"
    );
    let located = super::dc_locator::locate(&args.target, false)?;
    let found = list(located.as_ref().unwrap_or(&args.target))?;
    let text = match args.format {
        TargetsFormat::Text => {
            eprintln!("{}", summary(&found.listing));
            let mut text = String::new();
            for computer in &found.listing.computers {
                text.push_str(&lingerscan::report::sanitize::for_terminal(&computer.name));
                text.push('\n');
            }
            text
        }
        TargetsFormat::Json => {
            let mut text = serde_json::to_string_pretty(&found.listing)?;
            text.push('\n');
            text
        }
    };
    super::emit(&text)?;
    Ok(Outcome::Clean)
}
