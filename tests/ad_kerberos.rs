//! Kerberos and NT-hash logons against a real Active Directory domain
//! controller (Samba's AD DC on 127.0.0.200, tests/support/samba_dc.rs),
//! through the lingerscan binary as a user runs it.
//!
//! The tests share one DC and one of them changes its NTLM policy, so they
//! take turns (LOCK).

#![cfg(target_os = "linux")]

mod support;

use std::process::{Command, Output};
use std::sync::Mutex;

use serde_json::Value;
use support::samba_dc::{self, ADDRESS, ADMIN_PASSWORD, HOST, REALM, SambaDc};

static LOCK: Mutex<()> = Mutex::new(());

fn ready(test: &str) -> Option<&'static SambaDc> {
    let mut programs = samba_dc::PROGRAMS.to_vec();
    programs.push("klist");
    support::require(test, true, &programs).then(SambaDc::get)
}

/// The binary, with no inherited Kerberos or lingerscan secrets.
fn lingerscan(args: &[&str], env: &[(&str, String)]) -> Output {
    let resolve = format!("{HOST}={ADDRESS}");
    let args = [
        &["--host", HOST, "--resolve", &resolve],
        args,
        &["-f", "json", "--timeout", "30s"],
    ]
    .concat();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    samba_dc::lingerscan(&args, &env)
}

fn report(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn failure<'a>(report: &'a Value, source: &str) -> Option<&'a Value> {
    report["hosts"][0]["analysis"]["failed_sources"]
        .as_array()?
        .iter()
        .find(|f| f["source"] == source)
        .map(|f| &f["failure"])
}

/// srvsvc answered (our own SMB session is listed) and wkssvc answered
/// nca_op_rng_error, as the DC does: the logon worked.
fn assert_scanned(out: &Output, dc: &SambaDc) {
    let report = report(out);
    assert!(
        failure(&report, "smb_sessions").is_none(),
        "srvsvc failed: {report:#}\n{}",
        dc.log_tail()
    );
    let rows = report["hosts"][0]["evidence_rows"]["smb_sessions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        rows.iter().any(|r| r["user"]
            .as_str()
            .is_some_and(|u| u.eq_ignore_ascii_case("SAMDOM\\Administrator"))),
        "no SMB session of the administrator: {report:#}"
    );
    let wkssvc = failure(&report, "workstation_users").expect("the DC's wkssvc refuses");
    assert!(
        wkssvc["message"]
            .as_str()
            .is_some_and(|m| m.contains("nca_op_rng_error")),
        "{wkssvc:#}"
    );
}

fn nt_hash_hex() -> String {
    use lingerscan::collect::msrpc::{NtHash, Password};
    NtHash::of(&Password::new(ADMIN_PASSWORD.into()))
        .expose()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn kerberos_from_kinit_cache_scans_the_dc() {
    let _turn = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let Some(dc) = ready("kerberos_from_kinit_cache_scans_the_dc") else {
        return;
    };
    let tmp = tempfile::tempdir().expect("temp dir");
    let ccname = dc.kinit_admin(&tmp.path().join("cc"));
    let out = lingerscan(&["--dc", ADDRESS, "-k"], &[("KRB5CCNAME", ccname.clone())]);
    assert_scanned(&out, dc);
    // A cache present and no --username: Kerberos without -k.
    let out = lingerscan(&["--dc", ADDRESS], &[("KRB5CCNAME", ccname)]);
    assert_scanned(&out, dc);
}

#[test]
fn kerberos_from_keytab_and_from_password() {
    let _turn = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let Some(dc) = ready("kerberos_from_keytab_and_from_password") else {
        return;
    };
    let tmp = tempfile::tempdir().expect("temp dir");
    let keytab = tmp.path().join("admin.keytab");
    dc.export_keytab(&format!("administrator@{REALM}"), &keytab);
    let keytab = keytab.display().to_string();
    let nowhere = format!("FILE:{}", tmp.path().join("none").display());
    let out = lingerscan(
        &["--dc", ADDRESS, "--keytab", &keytab],
        &[("KRB5CCNAME", nowhere.clone())],
    );
    assert_scanned(&out, dc);
    let out = lingerscan(
        &[
            "--dc",
            ADDRESS,
            "-k",
            "--username",
            "administrator@samdom.test",
        ],
        &[
            ("KRB5CCNAME", nowhere),
            ("LINGERSCAN_PASSWORD", ADMIN_PASSWORD.into()),
        ],
    );
    assert_scanned(&out, dc);
}

#[test]
fn no_ticket_and_unknown_spn_say_what_to_do() {
    let _turn = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let Some(_dc) = ready("no_ticket_and_unknown_spn_say_what_to_do") else {
        return;
    };
    let tmp = tempfile::tempdir().expect("temp dir");
    let nowhere = format!("FILE:{}", tmp.path().join("none").display());
    let out = lingerscan(&["--dc", ADDRESS, "-k"], &[("KRB5CCNAME", nowhere)]);
    let report = report(&out);
    let failure = failure(&report, "smb_sessions").expect("no ticket: the logon fails");
    let message = failure["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("no Kerberos ticket: run `kinit"),
        "{message}"
    );
    assert_eq!(failure["kind"], "logon_failure");
    // The DC scanned by address: no cifs/ADDRESS principal exists.
    let ccname = _dc.kinit_admin(&tmp.path().join("cc"));
    let out = Command::new(env!("CARGO_BIN_EXE_lingerscan"))
        .env("LINGERSCAN_NO_HISTORY", "1")
        .args(["--host", ADDRESS, "--dc", ADDRESS, "--realm", REALM, "-k"])
        .args(["-f", "json", "--timeout", "30s"])
        .env("KRB5CCNAME", ccname)
        .env_remove("KRB5_CONFIG")
        .output()
        .expect("run lingerscan");
    let report = crate::report(&out);
    let message = crate::failure(&report, "smb_sessions").expect("SPN unknown")["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        message.contains("no service principal cifs/HOST"),
        "{message}"
    );
}

#[test]
fn nt_hash_ntlm_works_until_the_dc_refuses_ntlm() {
    let _turn = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let Some(dc) = ready("nt_hash_ntlm_works_until_the_dc_refuses_ntlm") else {
        return;
    };
    let tmp = tempfile::tempdir().expect("temp dir");
    let hash_file = tmp.path().join("hash");
    std::fs::write(&hash_file, format!("{}\n", nt_hash_hex())).expect("write hash");
    let hash_file = hash_file.display().to_string();
    let account = ["--username", "SAMDOM\\administrator"];
    let out = lingerscan(
        &[&account[..], &["--nt-hash-file", &hash_file]].concat(),
        &[],
    );
    assert_scanned(&out, dc);
    let out = lingerscan(
        &[&account[..], &["--nt-hash"]].concat(),
        &[("LINGERSCAN_NT_HASH", nt_hash_hex())],
    );
    assert_scanned(&out, dc);

    dc.set_ntlm_auth("disabled");
    let refused = lingerscan(
        &[&account[..], &["--nt-hash-file", &hash_file]].concat(),
        &[],
    );
    let ccname = dc.kinit_admin(&tmp.path().join("cc"));
    let kerberos = lingerscan(&["--dc", ADDRESS, "-k"], &[("KRB5CCNAME", ccname)]);
    dc.set_ntlm_auth("ntlmv2-only");

    let report = report(&refused);
    let failure = failure(&report, "smb_sessions").expect("NTLM refused");
    let message = failure["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("refuses NTLM logons by policy") && message.contains("-k"),
        "{message}"
    );
    assert_scanned(&kerberos, dc);
}
