//! The remote-registry and LSA step of a remote scan: the SIDs of the user
//! hives loaded under HKEY_USERS (`\pipe\winreg`), then one LSA lookup
//! (`\pipe\lsarpc`) naming them together with the owners of the processes
//! another step read by SID only.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::time::Instant;

use crate::model::{HostSnapshot, LoadedProfile, Observed};

use super::coverage::{LSARPC_LOOKUP_SIDS, WINREG_ENUM_HKU};
use super::error::RemoteError;
use super::lsarpc::{self, SidName};
use super::sid::Sid;
use super::smb_client::SmbClient;
use super::{RemoteOptions, bind_pipe, dcerpc, open_and_bind, winreg, with_pipe};

/// Fill `snapshot.loaded_profiles`, name the SIDs of `snapshot.processes`
/// that have no user yet, and record both methods in `snapshot.coverage`.
pub(super) fn read_profiles(
    client: &RefCell<SmbClient>,
    snapshot: &mut HostSnapshot,
    options: &RemoteOptions,
    deadline: Instant,
) {
    if Instant::now() >= deadline {
        let err = RemoteError::Timeout {
            during: "reading loaded profiles",
        };
        snapshot.loaded_profiles = Observed::Failed(err.to_failure(winreg::CALL_NAME));
        snapshot.coverage.push(WINREG_ENUM_HKU.failed(&err));
        snapshot
            .coverage
            .push(LSARPC_LOOKUP_SIDS.not_tried("the scan ran out of time"));
        return;
    }
    // LSA is asked only for SIDs to name. When the process owners already
    // give some (a Windows host's Terminal Services), both pipes are opened,
    // then bound, in two round trips; otherwise (Samba, whose HKEY_USERS
    // holds no logon's hive) the LSA pipe is opened only if a hive turns
    // up: every pipe costs the server a hand-off to its RPC daemon.
    let owners_to_name = snapshot.processes.rows().is_some_and(|rows| {
        rows.iter()
            .any(|row| row.user.is_none() && owner_sid(row).is_some())
    });
    let interfaces: &[&dcerpc::Interface] = if owners_to_name {
        &[&winreg::INTERFACE, &lsarpc::INTERFACE]
    } else {
        &[&winreg::INTERFACE]
    };
    let mut bound =
        open_and_bind(&mut client.borrow_mut(), interfaces, options.max_frag).into_iter();
    let mut next = || {
        bound.next().unwrap_or(Err(RemoteError::Timeout {
            during: "opening pipes",
        }))
    };
    let reg_bound = next();
    let lsa_bound = owners_to_name.then(&mut next);
    let reg_pipe = bind_pipe(client, reg_bound, &winreg::INTERFACE, options.max_frag);
    let max_keys = options.max_rows.min(winreg::DEFAULT_MAX_KEYS);
    let hives = with_pipe(client, reg_pipe, |rpc| {
        winreg::loaded_hive_sids(rpc, max_keys)
    })
    .map(|(sids, _)| sids);
    snapshot.coverage.push(WINREG_ENUM_HKU.entry(&hives));

    let wanted = sids_to_name(hives.as_deref().unwrap_or_default(), snapshot);
    let names = if matches!(hives, Err(RemoteError::Timeout { .. })) {
        // Nothing more can be asked on this connection; the pipe is left to the logoff.
        snapshot
            .coverage
            .push(LSARPC_LOOKUP_SIDS.not_tried("the scan ran out of time"));
        BTreeMap::new()
    } else if wanted.is_empty() {
        if let Some(lsa_bound) = lsa_bound {
            let lsa_pipe = bind_pipe(client, lsa_bound, &lsarpc::INTERFACE, options.max_frag);
            let _ = with_pipe(client, lsa_pipe, |_| Ok(()));
        }
        snapshot
            .coverage
            .push(LSARPC_LOOKUP_SIDS.not_tried("no SIDs to name"));
        BTreeMap::new()
    } else {
        let lsa_bound = lsa_bound.unwrap_or_else(|| {
            open_and_bind(
                &mut client.borrow_mut(),
                &[&lsarpc::INTERFACE],
                options.max_frag,
            )
            .pop()
            .unwrap_or(Err(RemoteError::Timeout {
                during: "opening pipes",
            }))
        });
        let lsa_pipe = bind_pipe(client, lsa_bound, &lsarpc::INTERFACE, options.max_frag);
        let named = with_pipe(client, lsa_pipe, |rpc| lsarpc::lookup_sids(rpc, &wanted))
            .map(|(names, _)| names);
        snapshot.coverage.push(LSARPC_LOOKUP_SIDS.entry(&named));
        match named {
            Ok(names) => names
                .into_iter()
                .map(|name| (name.sid.to_string(), name))
                .collect(),
            Err(err) => {
                snapshot.notes.push(format!(
                    "msrpc: {}: {err}; {} SIDs stay unnamed",
                    lsarpc::CALL_NAME,
                    wanted.len()
                ));
                BTreeMap::new()
            }
        }
    };

    snapshot.loaded_profiles = match hives {
        Ok(sids) => Observed::ok(
            sids.iter()
                .map(|sid| {
                    let text = sid.to_string();
                    let found = names.get(&text);
                    LoadedProfile {
                        user: found.and_then(|n| n.name.clone()),
                        domain: found.and_then(|n| n.domain.clone()),
                        sid: text,
                    }
                })
                .collect(),
        ),
        Err(err) => Observed::Failed(err.to_failure(winreg::CALL_NAME)),
    };
    name_processes(snapshot, &names);
    // Rows read on a connection that failed an integrity check are not kept.
    if let Some(err) = client.borrow().integrity_failure() {
        snapshot.loaded_profiles = Observed::Failed(err.to_failure(winreg::CALL_NAME));
    }
}

/// The hive SIDs and the process owners known only by SID, each once.
fn sids_to_name(hives: &[Sid], snapshot: &HostSnapshot) -> Vec<Sid> {
    let mut wanted: Vec<Sid> = hives.to_vec();
    if let Some(rows) = snapshot.processes.rows() {
        wanted.extend(
            rows.iter()
                .filter(|row| row.user.is_none())
                .filter_map(owner_sid),
        );
    }
    wanted.sort();
    wanted.dedup();
    wanted
}

/// A process owner's SID, when the row has one that parses.
fn owner_sid(row: &crate::model::ProcessRow) -> Option<Sid> {
    row.sid.as_deref()?.parse().ok()
}

/// `DOMAIN\name` as Windows writes a process owner, or the bare name.
fn account(name: &SidName) -> Option<String> {
    let user = name.name.as_deref()?;
    Some(match name.domain.as_deref() {
        Some(domain) => format!("{domain}\\{user}"),
        None => user.to_string(),
    })
}

fn name_processes(snapshot: &mut HostSnapshot, names: &BTreeMap<String, SidName>) {
    let Observed::Ok { rows } = &mut snapshot.processes else {
        return;
    };
    for row in rows.iter_mut().filter(|row| row.user.is_none()) {
        // Keyed by the canonical text: a SID written `s-1-5-…` still matches.
        let key = row
            .sid
            .as_deref()
            .and_then(|text| text.parse::<Sid>().ok())
            .map(|sid| sid.to_string());
        if let Some(name) = key.and_then(|key| names.get(&key)) {
            row.user = account(name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Platform, ProcessRow};

    fn named(sid: &str, domain: Option<&str>, user: Option<&str>) -> (String, SidName) {
        let sid: Sid = sid.parse().unwrap();
        (
            sid.to_string(),
            SidName {
                sid,
                domain: domain.map(str::to_string),
                name: user.map(str::to_string),
                use_: 1,
            },
        )
    }

    #[test]
    fn process_owners_known_by_sid_are_named_and_the_rest_stay_sids() {
        let mut snapshot = HostSnapshot::empty("h", Platform::Windows, "msrpc");
        let row = |pid, sid: &str, user: Option<&str>| ProcessRow {
            pid,
            name: "x.exe".into(),
            sid: Some(sid.into()),
            user: user.map(str::to_string),
            ..ProcessRow::default()
        };
        snapshot.processes = Observed::ok(vec![
            row(1, "S-1-5-21-1-2-3-1001", None),
            row(2, "S-1-5-21-1-2-3-4242", None),
            row(3, "S-1-5-21-1-2-3-1001", Some("KEPT\\as-is")),
            row(4, "s-1-5-18", None),
        ]);
        let hives: Vec<Sid> = vec!["S-1-5-21-1-2-3-1001".parse().unwrap()];
        let wanted: Vec<String> = sids_to_name(&hives, &snapshot)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            wanted,
            ["S-1-5-18", "S-1-5-21-1-2-3-1001", "S-1-5-21-1-2-3-4242"]
        );
        let names: BTreeMap<_, _> = [
            named("S-1-5-21-1-2-3-1001", Some("HOST"), Some("alice")),
            named("S-1-5-21-1-2-3-4242", None, None),
            named("S-1-5-18", Some("NT AUTHORITY"), Some("SYSTEM")),
        ]
        .into_iter()
        .collect();
        name_processes(&mut snapshot, &names);
        let users: Vec<Option<String>> = snapshot
            .processes
            .rows()
            .unwrap()
            .iter()
            .map(|r| r.user.clone())
            .collect();
        assert_eq!(
            users,
            [
                Some("HOST\\alice".to_string()),
                None,
                Some("KEPT\\as-is".to_string()),
                Some("NT AUTHORITY\\SYSTEM".to_string()),
            ]
        );
    }
}
