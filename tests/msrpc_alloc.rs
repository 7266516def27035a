//! What decoding a page of NetrWkstaUserEnum / NetrSessionEnum costs in
//! allocations, measured with a counting global allocator. Before issue 9
//! the path (generic rows, then model rows) took 3.4 (wkssvc level 1) and
//! 6.4 (srvsvc level 1) bytes allocated per wire byte, in 10 and 8
//! allocations per row; rows are now built while decoding, each string
//! allocated once.
//!
//! The pages come from impacket's NDR engine when its venv exists (an
//! encoder independent of ours), else from our own encoder.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use lingerscan::collect::msrpc::ndr::{
    EnumReply, Field, Value, decode_enum_page, encode_enum_reply,
};
use lingerscan::collect::msrpc::{srvsvc, wkssvc};

/// Counts every allocation (and growth) the test thread and others make.
struct Counting;

static BYTES: AtomicUsize = AtomicUsize::new(0);
static COUNT: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every method forwards to the system allocator with the caller's
// own arguments, so GlobalAlloc's contract holds as it holds for System; the
// counters are plain atomics and never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        BYTES.fetch_add(layout.size(), Relaxed);
        COUNT.fetch_add(1, Relaxed);
        // SAFETY: same layout the caller gave us, which it guarantees valid.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: ptr came from System.alloc/realloc with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        BYTES.fetch_add(new_size, Relaxed);
        COUNT.fetch_add(1, Relaxed);
        // SAFETY: ptr came from System with `layout`; the caller vouches for new_size.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const ROWS: usize = 1000;

fn s(text: String) -> Value {
    Value::Str(Some(text))
}

/// A level-1 page from impacket (tests/hostile/rpc_server.py's encoder), or None.
fn impacket_page(pipe: &str) -> Option<Vec<u8>> {
    let root = env!("CARGO_MANIFEST_DIR");
    let python = format!("{root}/target/impacket-venv/bin/python");
    if !std::path::Path::new(&python).exists() {
        return None;
    }
    let script = format!(
        "import sys; sys.path.insert(0, '{root}/tests/hostile'); import rpc_server as r; \
         sys.stdout.buffer.write(r.{pipe}_page())"
    );
    let out = std::process::Command::new(python)
        .args(["-c", &script])
        .output()
        .ok()?;
    out.status.success().then_some(out.stdout)
}

fn wkssvc_page() -> Vec<u8> {
    impacket_page("wkssvc").unwrap_or_else(|| {
        let rows = (0..ROWS)
            .map(|i| {
                vec![
                    s(format!("user{i:06}")),
                    s("HOSTILE".into()),
                    s(String::new()),
                    s("EVIL".into()),
                ]
            })
            .collect();
        page(rows, &wkssvc::LEVEL1)
    })
}

fn srvsvc_page() -> Vec<u8> {
    impacket_page("srvsvc").unwrap_or_else(|| {
        let rows = (0..ROWS)
            .map(|i| {
                vec![
                    s(format!("10.0.{}.{}", i >> 8, i & 255)),
                    s(format!("user{i:06}")),
                    Value::U32(1),
                    Value::U32(60),
                    Value::U32(0),
                    Value::U32(0),
                ]
            })
            .collect();
        page(rows, &srvsvc::LEVEL1)
    })
}

fn page(rows: Vec<Vec<Value>>, layout: &[Field]) -> Vec<u8> {
    encode_enum_reply(
        &EnumReply {
            level: 1,
            rows,
            total_entries: ROWS as u32,
            resume_handle: Some(0),
            status: 234,
        },
        layout,
    )
}

/// Allocated bytes and allocations while `work` runs.
fn measure<T>(work: impl FnOnce() -> T) -> (T, usize, usize) {
    let (bytes, count) = (BYTES.load(Relaxed), COUNT.load(Relaxed));
    let out = work();
    (
        out,
        BYTES.load(Relaxed) - bytes,
        COUNT.load(Relaxed) - count,
    )
}

#[test]
fn decoding_a_page_allocates_about_its_own_size_once_per_string() {
    let wks = wkssvc_page();
    let srv = srvsvc_page();
    let (users, wks_bytes, wks_count) = measure(|| {
        let mut out = Vec::new();
        decode_enum_page(
            &wks,
            "test",
            &wkssvc::LEVEL1,
            usize::MAX,
            &mut out,
            wkssvc::user_from,
        )
        .map(|_| out)
    });
    let (sessions, srv_bytes, srv_count) = measure(|| {
        let mut out = Vec::new();
        decode_enum_page(&srv, "test", &srvsvc::LEVEL1, usize::MAX, &mut out, |f| {
            srvsvc::session_from(1, f)
        })
        .map(|_| out)
    });
    let users = users.unwrap();
    let sessions = sessions.unwrap();
    assert_eq!((users.len(), sessions.len()), (ROWS, ROWS));
    assert_eq!(users[7].user, "user000007");
    assert_eq!(users[7].logon_domain, "HOSTILE");
    assert_eq!(sessions[7].user.as_deref(), Some("user000007"));
    let ratio = |bytes: usize, wire: usize| bytes as f64 / wire as f64;
    eprintln!(
        "wkssvc level 1: {} wire bytes, {wks_bytes} allocated ({:.2} B/B) in {wks_count} allocations ({:.1}/row)",
        wks.len(),
        ratio(wks_bytes, wks.len()),
        wks_count as f64 / ROWS as f64
    );
    eprintln!(
        "srvsvc level 1: {} wire bytes, {srv_bytes} allocated ({:.2} B/B) in {srv_count} allocations ({:.1}/row)",
        srv.len(),
        ratio(srv_bytes, srv.len()),
        srv_count as f64 / ROWS as f64
    );
    // One allocation per non-empty string (wkssvc: 3 of 4; srvsvc: 2) and the row vector.
    assert!(wks_count <= 3 * ROWS + 1, "{wks_count}");
    assert!(srv_count <= 2 * ROWS + 1, "{srv_count}");
    // The rows themselves are most of it: model rows are wide structs.
    let wks_floor = ROWS * size_of::<lingerscan::model::WorkstationUser>();
    let srv_floor = ROWS * size_of::<lingerscan::model::SmbSession>();
    assert!(wks_bytes < wks_floor + wks.len() / 2, "{wks_bytes}");
    assert!(srv_bytes < srv_floor + srv.len() / 2, "{srv_bytes}");
}
