//! Targets from Active Directory (`--ldap`) against a real domain
//! controller (Samba's AD DC, tests/support/samba_dc.rs) holding 1,500
//! enabled and a few disabled computer objects, compared with what
//! OpenLDAP's `ldapsearch -Y GSSAPI` reads from the same directory.

#![cfg(target_os = "linux")]

mod support;

use std::process::Output;
use std::time::Instant;

use serde_json::Value;
use support::samba_dc::{self, ADDRESS, ADMIN_PASSWORD, HOST, SambaDc, lingerscan};
use support::samba_dc_directory::{self as directory, Admin, COMPUTERS, DISABLED};

fn ready(test: &str) -> Option<(&'static SambaDc, &'static Admin)> {
    let mut programs = samba_dc::PROGRAMS.to_vec();
    programs.extend_from_slice(directory::PROGRAMS);
    if !support::require(test, true, &programs) {
        return None;
    }
    let dc = SambaDc::get();
    Some((dc, directory::ensure_computers(dc)))
}

fn json(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "lingerscan failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

fn targets(admin: &Admin, extra: &[&str]) -> Value {
    let mut args = vec!["targets", "--ldap", "--dc", ADDRESS, "-f", "json"];
    args.extend_from_slice(extra);
    json(&lingerscan(&args, &[("KRB5CCNAME", &admin.ccache)]))
}

#[test]
fn ldap_targets_are_every_enabled_computer_as_ldapsearch_sees_them() {
    let Some((dc, admin)) =
        ready("ldap_targets_are_every_enabled_computer_as_ldapsearch_sees_them")
    else {
        return;
    };
    let started = Instant::now();
    let listing = targets(admin, &[]);
    eprintln!("listed in {:?}", started.elapsed());
    let ours = samba_dc::computer_names(&listing);
    let mut peer: Vec<String> = admin
        .search(
            dc,
            "(&(objectCategory=computer)(!(userAccountControl:1.2.840.113556.1.4.803:=2)))",
            "dNSHostName",
        )
        .into_iter()
        .map(|n| n.to_lowercase())
        .collect();
    peer.sort();
    assert_eq!(ours, peer, "our list and ldapsearch's differ");
    let bulk = ours
        .iter()
        .filter(|n| n.starts_with("lscan") && !n.starts_with("lscanoff"))
        .count();
    assert_eq!(bulk, COMPUTERS, "paging must return every computer");
    assert!(
        ours.iter().all(|n| !n.starts_with("lscanoff")),
        "disabled ones listed"
    );
    assert!(ours.contains(&HOST.to_string()));
    assert!(listing["skipped_disabled"].as_u64().unwrap_or(0) >= DISABLED as u64);
    // The text form is a hosts file: one name a line.
    let text = lingerscan(
        &["targets", "--ldap", "--dc", ADDRESS],
        &[("KRB5CCNAME", &admin.ccache)],
    );
    assert!(text.status.success());
    assert_eq!(
        String::from_utf8_lossy(&text.stdout).lines().count(),
        ours.len()
    );
}

#[test]
fn ldap_filter_search_base_active_within_and_password_login() {
    let Some((_dc, admin)) = ready("ldap_filter_search_base_active_within_and_password_login")
    else {
        return;
    };
    let filtered = samba_dc::computer_names(&targets(admin, &["--ldap-filter", "(cn=LSCAN00*)"]));
    assert_eq!(filtered.len(), 99, "{filtered:?}");
    let controllers = targets(
        admin,
        &["--search-base", "OU=Domain Controllers,DC=samdom,DC=test"],
    );
    assert_eq!(samba_dc::computer_names(&controllers), [HOST]);
    // The bulk computers never logged on: not active within any limit.
    let recent = targets(admin, &["--active-within", "90d"]);
    assert!(
        !samba_dc::computer_names(&recent)
            .iter()
            .any(|n| n.starts_with("lscan"))
    );
    assert!(recent["skipped_inactive"].as_u64().unwrap_or(0) >= COMPUTERS as u64);
    // A TGT from --username and a password; the realm from the rootDSE is not needed.
    let tmp = tempfile::tempdir().expect("temp dir");
    let nowhere = format!("FILE:{}", tmp.path().join("none").display());
    let out = lingerscan(
        &[
            "targets",
            "--ldap",
            "--dc",
            ADDRESS,
            "-f",
            "json",
            "--username",
            "administrator@samdom.test",
            "--ldap-filter",
            "(cn=LSCAN000*)",
        ],
        &[
            ("KRB5CCNAME", &nowhere),
            ("LINGERSCAN_PASSWORD", ADMIN_PASSWORD),
        ],
    );
    assert_eq!(samba_dc::computer_names(&json(&out)).len(), 9);
    // No ticket: the advice, not a bare GSS code.
    let out = lingerscan(
        &["targets", "--ldap", "--dc", ADDRESS],
        &[("KRB5CCNAME", &nowhere)],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr.contains("kinit"), "{stderr}");
    // A filter that does not parse is refused before anything is sent.
    let out = lingerscan(
        &[
            "targets",
            "--ldap",
            "--dc",
            ADDRESS,
            "--ldap-filter",
            "(cn=x",
        ],
        &[("KRB5CCNAME", &admin.ccache)],
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("LDAP filter"));
}

#[test]
fn ldap_targets_feed_the_scan() {
    let Some((dc, admin)) = ready("ldap_targets_feed_the_scan") else {
        return;
    };
    let out = lingerscan(
        &[
            "--ldap",
            "--dc",
            ADDRESS,
            "--search-base",
            "OU=Domain Controllers,DC=samdom,DC=test",
            "--resolve",
            &format!("{HOST}={ADDRESS}"),
            "-f",
            "json",
            "--timeout",
            "30s",
        ],
        &[("KRB5CCNAME", &admin.ccache)],
    );
    dc.assert_scanned(&out);
}
