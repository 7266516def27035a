//! Loaded user hives: the subkeys of `HKEY_USERS` (this machine, or a
//! remote one through RegConnectRegistryW, which is the remote registry
//! service the Linux build reaches over `\pipe\winreg`), named with
//! LookupAccountSidW (LSA, on the host itself).

use std::ptr::{null, null_mut};

use windows_sys::Win32::Security::{LookupAccountSidW, SID_NAME_USE};
use windows_sys::Win32::System::Registry::{
    HKEY, HKEY_USERS, RegCloseKey, RegConnectRegistryW, RegEnumKeyExW,
};

use crate::collect::msrpc::sid::{Sid, hive_key_sid};
use crate::collect::windows_decode::errors::{ERROR_NO_MORE_ITEMS, ERROR_SUCCESS, win32_failure};
use crate::collect::windows_decode::wide::{fixed_wide, to_wide_nul};
use crate::model::{LoadedProfile, Observed};

/// More subkeys than any real HKEY_USERS holds (one or two per logged-on
/// user and service identity): a bound on what a host can make us read.
const MAX_HIVES: u32 = 10_000;

/// A registry key opened by RegConnectRegistryW; closed on drop.
struct RemoteKey(HKEY);

impl Drop for RemoteKey {
    fn drop(&mut self) {
        // SAFETY: the key came from a successful RegConnectRegistryW and is closed once.
        unsafe { RegCloseKey(self.0) };
    }
}

/// The loaded user hives of this machine (`host` None) or of `host`.
pub fn loaded_profiles(host: Option<&str>) -> Observed<Vec<LoadedProfile>> {
    let where_ = host.unwrap_or("this machine");
    let remote = match host {
        None => None,
        Some(host) => {
            let machine = to_wide_nul(&format!("\\\\{host}"));
            let mut key: HKEY = null_mut();
            // SAFETY: `machine` is NUL-terminated and outlives the call; `key` is a valid out-pointer.
            let code = unsafe { RegConnectRegistryW(machine.as_ptr(), HKEY_USERS, &mut key) };
            if code != ERROR_SUCCESS {
                return Observed::Failed(win32_failure(
                    code,
                    "RegConnectRegistryW(HKEY_USERS)",
                    where_,
                ));
            }
            Some(RemoteKey(key))
        }
    };
    let root = remote.as_ref().map_or(HKEY_USERS, |k| k.0);
    let names = match subkey_names(root) {
        Ok(names) => names,
        Err(code) => {
            return Observed::Failed(win32_failure(code, "RegEnumKeyExW(HKEY_USERS)", where_));
        }
    };
    let system = host.map(to_wide_nul);
    let rows = names
        .iter()
        .filter_map(|name| hive_key_sid(name))
        .map(|sid| {
            let (domain, user) = account_of(system.as_deref(), &sid).unzip();
            LoadedProfile {
                sid: sid.to_string(),
                user,
                domain: domain.filter(|d| !d.is_empty()),
            }
        })
        .collect();
    Observed::ok(rows)
}

/// Every subkey name of `key`, or the Win32 error that stopped the listing.
fn subkey_names(key: HKEY) -> Result<Vec<String>, u32> {
    let mut names = Vec::new();
    // A key name is at most 255 characters.
    let mut buffer = [0u16; 256];
    for index in 0..MAX_HIVES {
        let mut len = buffer.len() as u32;
        // SAFETY: `buffer` holds `len` units; the optional out-pointers are null.
        let code = unsafe {
            RegEnumKeyExW(
                key,
                index,
                buffer.as_mut_ptr(),
                &mut len,
                null(),
                null_mut(),
                null_mut(),
                null_mut(),
            )
        };
        match code {
            ERROR_SUCCESS => names.push(fixed_wide(&buffer[..(len as usize).min(buffer.len())])),
            ERROR_NO_MORE_ITEMS => return Ok(names),
            other => return Err(other),
        }
    }
    Ok(names)
}

/// `(domain, user)` of a SID as LSA on `system` (None: this machine) names it.
fn account_of(system: Option<&[u16]>, sid: &Sid) -> Option<(String, String)> {
    let mut binary = sid.to_bytes();
    let mut name = [0u16; 256];
    let mut domain = [0u16; 256];
    let (mut name_len, mut domain_len) = (name.len() as u32, domain.len() as u32);
    let mut kind: SID_NAME_USE = 0;
    // SAFETY: `binary` is a well-formed SID built by Sid::to_bytes; the
    // buffers hold the lengths passed; `system` is NUL-terminated or null.
    let ok = unsafe {
        LookupAccountSidW(
            system.map_or(null(), <[u16]>::as_ptr),
            binary.as_mut_ptr().cast(),
            name.as_mut_ptr(),
            &mut name_len,
            domain.as_mut_ptr(),
            &mut domain_len,
            &mut kind,
        )
    };
    // ERROR_NONE_MAPPED (a deleted account) and the like: the SID stays a SID.
    if ok == 0 {
        return None;
    }
    let user = fixed_wide(&name[..(name_len as usize).min(name.len())]);
    let domain = fixed_wide(&domain[..(domain_len as usize).min(domain.len())]);
    (!user.is_empty()).then_some((domain, user))
}
