//! Loaded profiles (`\pipe\winreg` HKEY_USERS) and SID names
//! (`\pipe\lsarpc` LsarLookupSids2) against a real Samba smbd on loopback,
//! with Samba's own `rpcclient` as the peer for the names. Each test owns one
//! address of 127.0.0.170-179 and one port of 14950-14969.
#![cfg(target_os = "linux")]

mod support;

use std::process::{Command, Stdio};

use serde_json::Value;
use support::samba::SambaServer;
use support::samba::remote as samba;

/// Samba's HKEY_USERS is an empty key of its registry.tdb
/// (source3/registry/reg_backend_db.c creates `HKU` with nothing under it),
/// so the tests put hives there the way Windows names them, with `net
/// registry` on the server's own configuration.
fn create_key(server: &SambaServer, path: &str) {
    let conf = server.conf_path().to_str().expect("utf-8 path").to_string();
    support::run("net", &["-s", &conf, "registry", "createkey", path]);
}

/// `rpcclient -c COMMAND` as `user` against the server: Samba's own client.
fn rpcclient(server: &SambaServer, user: &str, password: &str, command: &str) -> String {
    let out = Command::new(support::which("rpcclient").expect("rpcclient installed"))
        .args(["--port", &server.port.to_string(), "-U"])
        .arg(format!("{}\\{user}%{password}", samba::WORKGROUP))
        .args(["-c", command, &server.ip()])
        .stdin(Stdio::null())
        .output()
        .expect("run rpcclient");
    assert!(
        out.status.success(),
        "rpcclient {command}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `lookupnames a b` → the SIDs, in order (`a S-1-5-21-… (User: 1)` lines).
fn sids_of(server: &SambaServer, names: &[&str]) -> Vec<String> {
    let out = rpcclient(
        server,
        samba::ADMIN_USER,
        samba::ADMIN_PASSWORD,
        &format!("lookupnames {}", names.join(" ")),
    );
    names
        .iter()
        .map(|name| {
            out.lines()
                .find_map(|line| line.strip_prefix(&format!("{name} ")))
                .and_then(|rest| rest.split_whitespace().next())
                .unwrap_or_else(|| panic!("no SID for {name} in {out}"))
                .to_string()
        })
        .collect()
}

/// `lookupsids S…` → `DOMAIN\name` per SID (`S-… DOMAIN\name (User: 1)`),
/// None where rpcclient names nothing (`*unknown*`).
fn names_of(server: &SambaServer, sids: &[String]) -> Vec<Option<String>> {
    let out = rpcclient(
        server,
        samba::ADMIN_USER,
        samba::ADMIN_PASSWORD,
        &format!("lookupsids {}", sids.join(" ")),
    );
    sids.iter()
        .map(|sid| {
            let line = out
                .lines()
                .find(|line| line.starts_with(&format!("{sid} ")))
                .unwrap_or_else(|| panic!("no line for {sid} in {out}"));
            let name = line[sid.len() + 1..]
                .rsplit_once(" (")
                .map_or("", |(name, _)| name);
            (!name.contains("*unknown*")).then(|| name.to_string())
        })
        .collect()
}

/// A JSON scan through the CLI, as a user runs it; returns the snapshot.
fn scan(server: &SambaServer, user: &str, password: &str) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_lingerscan"))
        .env("LINGERSCAN_NO_HISTORY", "1")
        .args([
            "scan",
            "--host",
            &server.ip(),
            "--port",
            &server.port.to_string(),
        ])
        .arg("--username")
        .arg(format!("{}\\{user}", samba::WORKGROUP))
        .args(["--timeout", "10s", "-f", "json", "--include-snapshot"])
        .env("LINGERSCAN_PASSWORD", password)
        .stdin(Stdio::null())
        .output()
        .expect("run lingerscan");
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "no JSON ({e}): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    doc["hosts"][0]["snapshot"].clone()
}

fn coverage<'a>(snapshot: &'a Value, method: &str) -> &'a Value {
    snapshot["coverage"]
        .as_array()
        .and_then(|entries| entries.iter().find(|e| e["method"] == method))
        .unwrap_or_else(|| panic!("no coverage entry {method}: {snapshot}"))
}

const WINREG: &str = "winreg BaseRegEnumKey HKEY_USERS";
const LSARPC: &str = "lsarpc LsarLookupSids2";

#[test]
fn an_empty_hkey_users_is_an_answer_with_no_profiles() {
    let server = SambaServer::start(&samba::options("127.0.0.170".parse().unwrap(), 14950));
    let snapshot = scan(&server, samba::ADMIN_USER, samba::ADMIN_PASSWORD);
    assert_eq!(
        snapshot["loaded_profiles"],
        serde_json::json!({"status": "ok", "rows": []}),
        "{snapshot}"
    );
    assert_eq!(coverage(&snapshot, WINREG)["result"], "ok");
    let lsa = coverage(&snapshot, LSARPC);
    assert_eq!(lsa["result"], "not_tried", "{lsa}");
}

#[test]
fn loaded_hives_are_listed_and_named_as_rpcclient_names_them() {
    let server = SambaServer::start(&samba::options("127.0.0.171".parse().unwrap(), 14951));
    let sids = sids_of(&server, &[samba::ADMIN_USER, samba::PLAIN_USER]);
    // A SID of this server's domain that names no account.
    let domain = sids[0].rsplit_once('-').expect("a domain SID").0;
    let unknown = format!("{domain}-4242");
    for sid in sids.iter().chain([&unknown]) {
        create_key(&server, &format!("HKU\\{sid}"));
    }
    // Keys that are not user hives.
    create_key(&server, &format!("HKU\\{}_Classes", sids[1]));
    create_key(&server, "HKU\\.DEFAULT");

    let snapshot = scan(&server, samba::ADMIN_USER, samba::ADMIN_PASSWORD);
    let rows = snapshot["loaded_profiles"]["rows"]
        .as_array()
        .unwrap_or_else(|| panic!("loaded_profiles failed: {snapshot}"));
    let mut ours: Vec<(String, Option<String>)> = rows
        .iter()
        .map(|row| {
            let name = row["user"]
                .as_str()
                .map(|user| match row["domain"].as_str() {
                    Some(domain) => format!("{domain}\\{user}"),
                    None => user.to_string(),
                });
            (row["sid"].as_str().unwrap().to_string(), name)
        })
        .collect();
    ours.sort();
    let mut expected_sids: Vec<String> = sids.iter().cloned().chain([unknown.clone()]).collect();
    expected_sids.sort();
    let theirs: Vec<(String, Option<String>)> = expected_sids
        .iter()
        .cloned()
        .zip(names_of(&server, &expected_sids))
        .collect();
    assert_eq!(ours, theirs);
    // The peer named the two accounts (and nothing for the unknown SID).
    assert_eq!(theirs.iter().filter(|(_, name)| name.is_some()).count(), 2);
    assert!(
        theirs
            .iter()
            .any(|(_, name)| name.as_deref() == Some(&format!("LSMSRPCSRV\\{}", samba::PLAIN_USER))),
        "{theirs:?}"
    );
    assert_eq!(coverage(&snapshot, WINREG)["result"], "ok");
    assert_eq!(coverage(&snapshot, LSARPC)["result"], "ok");
}

/// Samba lets any authenticated user open HKU for enumeration (its default
/// HKU descriptor, `O:BAG:SYD:(A;;RPCCRCSW;;;WD)(…BA)(…SY)`, lets Everyone
/// query and enumerate) and look
/// SIDs up (its LSA policy descriptor grants POLICY_LOOKUP_NAMES); an ACL
/// on HKU that admits only administrators shuts winreg for everyone else.
#[test]
fn a_plain_user_reads_both_until_hkey_users_admits_only_administrators() {
    let server = SambaServer::start(&samba::options("127.0.0.172".parse().unwrap(), 14952));
    let sids = sids_of(&server, &[samba::PLAIN_USER]);
    create_key(&server, &format!("HKU\\{}", sids[0]));

    let open = scan(&server, samba::PLAIN_USER, samba::PLAIN_PASSWORD);
    assert_eq!(coverage(&open, WINREG)["result"], "ok", "{open}");
    assert_eq!(coverage(&open, LSARPC)["result"], "ok", "{open}");
    assert_eq!(
        open["loaded_profiles"]["rows"][0]["user"],
        samba::PLAIN_USER,
        "{open}"
    );

    let conf = server.conf_path().to_str().expect("utf-8 path").to_string();
    // Samba's default HKU descriptor, without its Everyone entry
    // (`net registry getsd_sddl HKU`; Samba's SDDL parser knows no KA).
    let admins_only = "O:BAG:SYD:P(A;;RPWPCCDCLCRCWOWDSDSW;;;BA)(A;;RPWPCCDCLCRCWOWDSDSW;;;SY)";
    support::run(
        "net",
        &["-s", &conf, "registry", "setsd_sddl", "HKU", admins_only],
    );
    let shut = scan(&server, samba::PLAIN_USER, samba::PLAIN_PASSWORD);
    let winreg = coverage(&shut, WINREG);
    assert_eq!(winreg["result"], "access_denied", "{winreg}");
    assert_eq!(winreg["code"], 5, "{winreg}");
    // Refused at the open: Samba checks KEY_ENUMERATE_SUB_KEYS against HKU's descriptor.
    assert!(
        winreg["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("OpenUsers"),
        "{winreg}"
    );
    assert!(
        winreg["setting"]
            .as_str()
            .unwrap_or_default()
            .contains("SecurePipeServers\\winreg"),
        "{winreg}"
    );
    assert_eq!(shut["loaded_profiles"]["status"], "failed", "{shut}");
    assert_eq!(shut["loaded_profiles"]["kind"], "access_denied", "{shut}");
    // Nothing to name: LSA was not asked.
    assert_eq!(coverage(&shut, LSARPC)["result"], "not_tried", "{shut}");

    let admin = scan(&server, samba::ADMIN_USER, samba::ADMIN_PASSWORD);
    assert_eq!(coverage(&admin, WINREG)["result"], "ok", "{admin}");
    assert_eq!(
        admin["loaded_profiles"]["rows"].as_array().map(Vec::len),
        Some(1)
    );
}
