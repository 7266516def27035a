//! The winreg and lsarpc stubs against impacket, an independent NDR
//! implementation (tests/impacket/profiles_stubs.py): our requests equal its
//! encoding of the same requests byte for byte (referent ids renumbered as
//! ours are, padding content free), and our decoders read its answers.
//! Unix only: the Windows build's test run (under Wine) cannot start the
//! Linux venv's python.
#![cfg(unix)]

use lingerscan::collect::msrpc::lsarpc::{self, POLICY_LOOKUP_NAMES};
use lingerscan::collect::msrpc::sid::Sid;
use lingerscan::collect::msrpc::winreg;

const HANDLE: [u8; 20] = [
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20,
];

/// impacket's stub for `args` (see the script), or None without its venv.
fn impacket(args: &[&str]) -> Option<Vec<u8>> {
    let root = env!("CARGO_MANIFEST_DIR");
    let python = format!("{root}/target/impacket-venv/bin/python");
    if !std::path::Path::new(&python).exists() {
        eprintln!(
            "\n!!!!!!!! SKIPPED: impacket venv missing ({python}); run scripts/setup.d/40-impacket.sh !!!!!!!!\n"
        );
        return None;
    }
    let out = std::process::Command::new(python)
        .arg(format!("{root}/tests/impacket/profiles_stubs.py"))
        .args(args)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "impacket {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let hex = String::from_utf8(out.stdout).expect("hex");
    Some(
        (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex digit"))
            .collect(),
    )
}

/// Equal bytes, except that NDR padding (zero in ours) may hold impacket's
/// fill bytes: its alignment pads are 0xAA, 0xAB, 0xBF or 0xEE.
fn assert_same_stub(what: &str, ours: &[u8], theirs: &[u8]) {
    let differs = ours.len() != theirs.len()
        || ours
            .iter()
            .zip(theirs)
            .any(|(a, b)| a != b && !(*a == 0 && matches!(b, 0xAA | 0xAB | 0xBF | 0xEE)));
    assert!(
        !differs,
        "{what}:\n ours     {}\n impacket {}",
        hex(ours),
        hex(theirs)
    );
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn sids(texts: &[&str]) -> Vec<Sid> {
    texts.iter().map(|t| t.parse().unwrap()).collect()
}

#[test]
fn winreg_requests_equal_impacket_encoding() {
    let Some(open) = impacket(&["open_users", "8"]) else {
        return;
    };
    assert_same_stub(
        "OpenUsers",
        &winreg::encode_open_users(winreg::KEY_ENUMERATE_SUB_KEYS),
        &open,
    );
    for index in ["0", "3", "4294967295"] {
        let theirs = impacket(&["enum_key", index]).unwrap();
        let ours = winreg::encode_enum_key(&HANDLE, index.parse().unwrap());
        assert_same_stub("BaseRegEnumKey", &ours, &theirs);
    }
    let close = impacket(&["close_key"]).unwrap();
    assert_same_stub(
        "BaseRegCloseKey",
        &winreg::encode_close_key(&HANDLE),
        &close,
    );
}

#[test]
fn lsarpc_requests_equal_impacket_encoding() {
    let Some(open) = impacket(&["open_policy2", "2048"]) else {
        return;
    };
    assert_same_stub(
        "LsarOpenPolicy2",
        &lsarpc::encode_open_policy2(POLICY_LOOKUP_NAMES),
        &open,
    );
    for texts in [
        &["S-1-5-21-1-2-3-1001"][..],
        &["S-1-5-21-1-2-3-1001", "S-1-5-32-544", "S-1-5-18", "S-1-1-0"][..],
        &["S-1-5-21-4294967295-1-2-3-4-5-6-7-8-9-10-11-12-13"][..],
    ] {
        let mut args = vec!["lookup_sids2"];
        args.extend_from_slice(texts);
        let theirs = impacket(&args).unwrap();
        let ours = lsarpc::encode_lookup_sids2(&HANDLE, &sids(texts));
        assert_same_stub("LsarLookupSids2", &ours, &theirs);
    }
    let close = impacket(&["close_policy"]).unwrap();
    assert_same_stub("LsarClose", &lsarpc::encode_close(&HANDLE), &close);
}

#[test]
fn our_decoders_read_impacket_answers() {
    let Some(reply) = impacket(&["enum_key_reply", "S-1-5-21-1-2-3-1001", "0"]) else {
        return;
    };
    let decoded = winreg::decode_enum_key(&reply).unwrap();
    assert_eq!(decoded.name.as_deref(), Some("S-1-5-21-1-2-3-1001"));
    assert_eq!(decoded.status, 0);
    let end = impacket(&["enum_key_reply", "", "259"]).unwrap();
    assert_eq!(winreg::decode_enum_key(&end).unwrap().status, 259);

    let reply = impacket(&[
        "lookup_sids2_reply",
        "0x107",
        "HOST:S-1-5-21-1-2-3",
        "BUILTIN:S-1-5-32",
        "1:alice:0",
        "8:-:-1",
        "4:Administrators:1",
    ])
    .unwrap();
    let decoded = lsarpc::decode_lookup_sids2(&reply, 3).unwrap();
    assert_eq!(decoded.status, 0x107);
    assert_eq!(decoded.mapped_count, 2);
    let asked = sids(&["S-1-5-21-1-2-3-1001", "S-1-5-21-1-2-3-9", "S-1-5-32-544"]);
    let named: Vec<(Option<String>, Option<String>)> = lsarpc::names_from(&asked, &decoded)
        .into_iter()
        .map(|n| (n.domain, n.name))
        .collect();
    assert_eq!(
        named,
        [
            (Some("HOST".into()), Some("alice".into())),
            (None, None),
            (Some("BUILTIN".into()), Some("Administrators".into())),
        ]
    );
}
