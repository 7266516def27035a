//! logind session membership read from the cgroup tree in one pass.
//!
//! logind puts every session's processes in
//! `user.slice/user-UID.slice/session-ID.scope`. Reading each scope's
//! `cgroup.procs` costs a handful of reads in total, where reading
//! `/proc/PID/cgroup` costs one open/read/close per process: at 10,000
//! processes that is most of a scan's budget. The per-process way stays for
//! non-standard `/proc` directories and when no cgroup hierarchy is mounted.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The hierarchy systemd tracks sessions in: pure cgroup v2 at the root, else
/// the v1 `name=systemd` hierarchy, else the hybrid mode's v2 `unified`.
pub fn find_hierarchy(cgroup_fs: &Path) -> Option<PathBuf> {
    [
        cgroup_fs.to_path_buf(),
        cgroup_fs.join("systemd"),
        cgroup_fs.join("unified"),
    ]
    .into_iter()
    .find(|root| root.join("cgroup.procs").is_file())
}

/// The session id of a `session-ID.scope` directory name.
pub fn session_of_scope(name: &str) -> Option<&str> {
    let id = name.strip_prefix("session-")?.strip_suffix(".scope")?;
    (!id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric())).then_some(id)
}

/// pid → logind session id for every process in a session scope under `hierarchy`.
/// A hierarchy without `user.slice` has no sessions: an empty map.
pub fn session_members(hierarchy: &Path) -> HashMap<u32, String> {
    let mut members = HashMap::new();
    let Ok(user_slices) = std::fs::read_dir(hierarchy.join("user.slice")) else {
        return members;
    };
    for user_slice in user_slices.filter_map(Result::ok) {
        let Ok(scopes) = std::fs::read_dir(user_slice.path()) else {
            continue;
        };
        for scope in scopes.filter_map(Result::ok) {
            let name = scope.file_name();
            let Some(id) = name.to_str().and_then(session_of_scope) else {
                continue;
            };
            collect_procs(&scope.path(), id, &mut members, 0);
        }
    }
    members
}

/// Add the pids of `dir` and of its sub-cgroups (delegated scopes may nest).
fn collect_procs(dir: &Path, session: &str, members: &mut HashMap<u32, String>, depth: usize) {
    if let Ok(text) = std::fs::read_to_string(dir.join("cgroup.procs")) {
        for pid in text.lines().filter_map(|l| l.trim().parse::<u32>().ok()) {
            members.insert(pid, session.to_string());
        }
    }
    if depth >= 8 {
        return;
    }
    let Ok(children) = std::fs::read_dir(dir) else {
        return;
    };
    for child in children.filter_map(Result::ok) {
        if child.file_type().is_ok_and(|t| t.is_dir()) {
            collect_procs(&child.path(), session, members, depth + 1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_of_session_scopes() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        std::fs::write(r.join("cgroup.procs"), "1\n").unwrap();
        let scope = r.join("user.slice/user-1000.slice/session-5.scope");
        std::fs::create_dir_all(scope.join("nested")).unwrap();
        std::fs::write(scope.join("cgroup.procs"), "100\n101\n").unwrap();
        std::fs::write(scope.join("nested/cgroup.procs"), "102\n").unwrap();
        let manager = r.join("user.slice/user-1000.slice/user@1000.service");
        std::fs::create_dir_all(&manager).unwrap();
        std::fs::write(manager.join("cgroup.procs"), "200\n").unwrap();

        assert_eq!(find_hierarchy(r).as_deref(), Some(r));
        let members = session_members(r);
        assert_eq!(members.len(), 3);
        assert_eq!(members.get(&100).map(String::as_str), Some("5"));
        assert_eq!(members.get(&102).map(String::as_str), Some("5"));
        assert_eq!(members.get(&200), None);
    }

    #[test]
    fn no_user_slice_means_no_sessions() {
        let root = tempfile::tempdir().unwrap();
        assert!(session_members(root.path()).is_empty());
        assert_eq!(find_hierarchy(root.path()), None);
    }

    #[test]
    fn scope_names() {
        assert_eq!(session_of_scope("session-12.scope"), Some("12"));
        assert_eq!(session_of_scope("session-c3.scope"), Some("c3"));
        assert_eq!(session_of_scope("session-.scope"), None);
        assert_eq!(session_of_scope("init.scope"), None);
    }
}
