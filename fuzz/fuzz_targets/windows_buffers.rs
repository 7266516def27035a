//! Win32 result buffers built from fuzz input (strings of any UTF-16,
//! including unpaired surrogates and empty or NULL pointers, any numbers)
//! through every decoder: one row per entry, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lingerscan::collect::windows_decode::RawEntries;
use lingerscan::collect::windows_decode::arena::WideArena;
use lingerscan::collect::windows_decode::lsa::{LogonSessionData, Luid, decode_logon_sessions};
use lingerscan::collect::windows_decode::netapi::*;
use lingerscan::collect::windows_decode::wide::CountedWide;
use lingerscan::collect::windows_decode::wts::{
    WtsClientAddress, WtsSessionInfo1, decode_client_address, decode_sessions_ex,
};

/// Reads fuzz bytes as a stream of values.
struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn byte(&mut self) -> u8 {
        let (first, rest) = self.0.split_first().map_or((0, &[][..]), |(f, r)| (*f, r));
        self.0 = rest;
        first
    }
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.byte(), self.byte(), self.byte(), self.byte()])
    }
    /// NULL (1 in 8), or a NUL-terminated string of 0..=15 arbitrary non-NUL units.
    fn wide(&mut self, arena: &mut WideArena) -> *const u16 {
        let head = self.byte();
        if head % 8 == 0 {
            return std::ptr::null();
        }
        let mut units: Vec<u16> = (0..head % 16)
            .map(|_| u16::from_le_bytes([self.byte(), self.byte()]).max(1))
            .collect();
        units.push(0);
        arena.units(units)
    }
    fn counted(&mut self, arena: &mut WideArena) -> CountedWide {
        let ptr = self.wide(arena);
        if ptr.is_null() {
            return CountedWide::EMPTY;
        }
        // SAFETY: `ptr` is NUL-terminated (made by `wide`).
        let len = (0..).take_while(|&i| unsafe { *ptr.add(i) } != 0).count();
        let bytes = (len * 2) as u16;
        CountedWide {
            length: bytes,
            maximum_length: bytes,
            buffer: ptr,
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input(data);
    let mut arena = WideArena::new();
    let count = usize::from(input.byte() % 8);

    let wksta: Vec<_> = (0..count)
        .map(|_| WkstaUserInfo1 {
            username: input.wide(&mut arena),
            logon_domain: input.wide(&mut arena),
            oth_domains: input.wide(&mut arena),
            logon_server: input.wide(&mut arena),
        })
        .collect();
    let sessions: Vec<_> = (0..count)
        .map(|_| SessionInfo502 {
            cname: input.wide(&mut arena),
            username: input.wide(&mut arena),
            num_opens: input.u32(),
            time: input.u32(),
            idle_time: input.u32(),
            user_flags: input.u32(),
            cltype_name: input.wide(&mut arena),
            transport: input.wide(&mut arena),
        })
        .collect();
    let wts: Vec<_> = (0..count)
        .map(|_| WtsSessionInfo1 {
            exec_env_id: input.u32(),
            state: input.u32() as i32,
            session_id: input.u32(),
            session_name: input.wide(&mut arena),
            host_name: input.wide(&mut arena),
            user_name: input.wide(&mut arena),
            domain_name: input.wide(&mut arena),
            farm_name: input.wide(&mut arena),
        })
        .collect();
    let lsa: Vec<_> = (0..count)
        .map(|_| LogonSessionData {
            size: input.u32(),
            logon_id: Luid {
                low_part: input.u32(),
                high_part: input.u32() as i32,
            },
            user_name: input.counted(&mut arena),
            logon_domain: input.counted(&mut arena),
            authentication_package: input.counted(&mut arena),
            logon_type: input.u32(),
            session: input.u32(),
            sid: std::ptr::null(),
            logon_time: i64::from(input.u32()) << 24,
            logon_server: input.counted(&mut arena),
            dns_domain_name: input.counted(&mut arena),
            upn: input.counted(&mut arena),
        })
        .collect();

    // SAFETY: every pointer is null or points into `arena` (NUL-terminated
    // strings, counted buffers of the stated length), alive for this scope.
    unsafe {
        assert_eq!(decode_wksta_users(RawEntries::new(&wksta)).len(), count);
        assert_eq!(decode_sessions_502(RawEntries::new(&sessions)).len(), count);
        assert_eq!(decode_sessions_ex(RawEntries::new(&wts)).len(), count);
        assert_eq!(decode_logon_sessions(RawEntries::new(&lsa)).len(), count);
    }
    let mut address = WtsClientAddress {
        address_family: input.u32() % 32,
        address: [0; 20],
    };
    for byte in &mut address.address {
        *byte = input.byte();
    }
    let _ = decode_client_address(&address);
});
