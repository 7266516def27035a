//! The system's GSS-API library (MIT Kerberos, `libgssapi_krb5.so.2`),
//! loaded at run time: the build needs no Kerberos headers or libraries,
//! and a machine without them gets a message saying what to install
//! (docs/kerberos.md says why this and not a pure-Rust client).
//!
//! Only the handful of RFC 2744 calls an SMB logon and an LDAP SASL bind
//! (gss_wrap/gss_unwrap for its integrity layer) need are declared here.
//! Every pointer the library hands out is owned by a small Rust value
//! ([`Name`], [`Cred`], [`Context`], [`OwnedBuffer`], [`BufferSet`]) whose
//! Drop gives it back, so no error path leaks or double-frees.

use std::ffi::{c_int, c_void};
use std::ptr;
use std::sync::OnceLock;

use zeroize::Zeroizing;

type Minor = u32;
type Major = u32;

#[repr(C)]
struct BufferDesc {
    length: usize,
    value: *mut c_void,
}

#[repr(C)]
struct OidDesc {
    length: u32,
    elements: *mut c_void,
}

#[repr(C)]
struct OidSetDesc {
    count: usize,
    elements: *mut OidDesc,
}

#[repr(C)]
struct BufferSetDesc {
    count: usize,
    elements: *mut BufferDesc,
}

type Ptr = *mut c_void;

/// DER contents (no tag, no length) of the OIDs used.
pub const KRB5_MECH: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02];
const NT_HOSTBASED_SERVICE: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x01, 0x04];
const NT_USER_NAME: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x01, 0x01];
/// GSS_C_INQ_SSPI_SESSION_KEY (1.2.840.113554.1.2.2.5.5): the key SSPI's
/// QueryContextAttributes(SECPKG_ATTR_SESSION_KEY) gives, which is what
/// SMB signs with (the acceptor subkey when the server sent one).
const INQ_SSPI_SESSION_KEY: &[u8] = &[
    0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02, 0x05, 0x05,
];

const GSS_S_CONTINUE_NEEDED: Major = 1;
const GSS_C_GSS_CODE: c_int = 1;
const GSS_C_MECH_CODE: c_int = 2;
const GSS_C_INITIATE: c_int = 1;
const GSS_C_MUTUAL_FLAG: u32 = 2;
const GSS_C_REPLAY_FLAG: u32 = 4;
const GSS_C_SEQUENCE_FLAG: u32 = 8;
const GSS_C_INTEG_FLAG: u32 = 32;

fn is_error(major: Major) -> bool {
    major & 0xffff_0000 != 0
}

type ImportName =
    unsafe extern "C" fn(*mut Minor, *mut BufferDesc, *mut OidDesc, *mut Ptr) -> Major;
type ReleaseHandle = unsafe extern "C" fn(*mut Minor, *mut Ptr) -> Major;
type InitSecContext = unsafe extern "C" fn(
    *mut Minor,
    Ptr,          // credential
    *mut Ptr,     // context
    Ptr,          // target name
    *mut OidDesc, // mech
    u32,          // req flags
    u32,          // time req
    Ptr,          // channel bindings
    *mut BufferDesc,
    *mut *mut OidDesc,
    *mut BufferDesc,
    *mut u32,
    *mut u32,
) -> Major;
type DeleteSecContext = unsafe extern "C" fn(*mut Minor, *mut Ptr, *mut BufferDesc) -> Major;
type ReleaseBuffer = unsafe extern "C" fn(*mut Minor, *mut BufferDesc) -> Major;
type InquireByOid =
    unsafe extern "C" fn(*mut Minor, Ptr, *mut OidDesc, *mut *mut BufferSetDesc) -> Major;
type ReleaseBufferSet = unsafe extern "C" fn(*mut Minor, *mut *mut BufferSetDesc) -> Major;
type AcquireWithPassword = unsafe extern "C" fn(
    *mut Minor,
    Ptr,
    *mut BufferDesc,
    u32,
    *mut OidSetDesc,
    c_int,
    *mut Ptr,
    *mut *mut OidSetDesc,
    *mut u32,
) -> Major;
type DisplayStatus =
    unsafe extern "C" fn(*mut Minor, u32, c_int, *mut OidDesc, *mut u32, *mut BufferDesc) -> Major;
type VerifyMic =
    unsafe extern "C" fn(*mut Minor, Ptr, *mut BufferDesc, *mut BufferDesc, *mut u32) -> Major;
type Wrap = unsafe extern "C" fn(
    *mut Minor,
    Ptr,   // context
    c_int, // conf_req_flag
    u32,   // qop_req
    *mut BufferDesc,
    *mut c_int, // conf_state
    *mut BufferDesc,
) -> Major;
type Unwrap = unsafe extern "C" fn(
    *mut Minor,
    Ptr,
    *mut BufferDesc,
    *mut BufferDesc,
    *mut c_int, // conf_state
    *mut u32,   // qop_state
) -> Major;

/// The loaded library and the entry points used. The library is kept in a
/// process-wide static and never unloaded, so the function pointers stay valid.
pub struct Gss {
    _lib: libloading::Library,
    import_name: ImportName,
    release_name: ReleaseHandle,
    release_cred: ReleaseHandle,
    init_sec_context: InitSecContext,
    delete_sec_context: DeleteSecContext,
    release_buffer: ReleaseBuffer,
    inquire_by_oid: InquireByOid,
    release_buffer_set: ReleaseBufferSet,
    acquire_with_password: AcquireWithPassword,
    display_status: DisplayStatus,
    verify_mic: VerifyMic,
    wrap: Wrap,
    unwrap: Unwrap,
}

/// The names tried, most specific first.
const LIBRARY_NAMES: [&str; 2] = ["libgssapi_krb5.so.2", "libgssapi_krb5.so"];

/// The process's GSS-API library, loaded on first use; Err says why not.
pub fn library() -> Result<&'static Gss, String> {
    static GSS: OnceLock<Result<Gss, String>> = OnceLock::new();
    GSS.get_or_init(load).as_ref().map_err(Clone::clone)
}

fn load() -> Result<Gss, String> {
    let mut errors = Vec::new();
    for name in LIBRARY_NAMES {
        // SAFETY: loading MIT's GSS-API library runs its initialisers, which
        // only set up its own state (error tables, mutexes); it is a system
        // library meant to be loaded into any process.
        match unsafe { libloading::Library::new(name) } {
            Ok(lib) => return bind(lib),
            Err(err) => errors.push(err.to_string()),
        }
    }
    Err(errors.join("; "))
}

fn bind(lib: libloading::Library) -> Result<Gss, String> {
    macro_rules! sym {
        ($name:literal) => {
            // SAFETY: the declared type is the function's C prototype in
            // MIT's <gssapi/gssapi.h> / <gssapi/gssapi_ext.h>; the pointer is
            // copied out and used only while `lib` is alive (see `Gss`).
            *unsafe { lib.get(concat!($name, "\0").as_bytes()) }
                .map_err(|e| format!("{}: {e}", $name))?
        };
    }
    Ok(Gss {
        import_name: sym!("gss_import_name"),
        release_name: sym!("gss_release_name"),
        release_cred: sym!("gss_release_cred"),
        init_sec_context: sym!("gss_init_sec_context"),
        delete_sec_context: sym!("gss_delete_sec_context"),
        release_buffer: sym!("gss_release_buffer"),
        inquire_by_oid: sym!("gss_inquire_sec_context_by_oid"),
        release_buffer_set: sym!("gss_release_buffer_set"),
        acquire_with_password: sym!("gss_acquire_cred_with_password"),
        display_status: sym!("gss_display_status"),
        verify_mic: sym!("gss_verify_mic"),
        wrap: sym!("gss_wrap"),
        unwrap: sym!("gss_unwrap"),
        _lib: lib,
    })
}

/// A failed call: its codes and the library's own words for them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GssFailure {
    pub call: &'static str,
    pub major: u32,
    pub minor: u32,
    pub message: String,
}

/// An OID descriptor borrowing static bytes (the library only reads it).
fn oid(bytes: &'static [u8]) -> OidDesc {
    OidDesc {
        length: bytes.len() as u32,
        elements: bytes.as_ptr() as *mut c_void,
    }
}

/// A buffer descriptor borrowing `bytes` for one call (the library only reads it).
fn borrowed(bytes: &[u8]) -> BufferDesc {
    BufferDesc {
        length: bytes.len(),
        value: bytes.as_ptr() as *mut c_void,
    }
}

/// A buffer the library allocated; released on drop.
struct OwnedBuffer<'a> {
    gss: &'a Gss,
    desc: BufferDesc,
}

impl<'a> OwnedBuffer<'a> {
    fn empty(gss: &'a Gss) -> Self {
        OwnedBuffer {
            gss,
            desc: BufferDesc {
                length: 0,
                value: ptr::null_mut(),
            },
        }
    }

    fn bytes(&self) -> &[u8] {
        if self.desc.value.is_null() {
            return &[];
        }
        // SAFETY: the library filled `desc` with a buffer of `length` bytes
        // that stays allocated until gss_release_buffer in Drop.
        unsafe { std::slice::from_raw_parts(self.desc.value as *const u8, self.desc.length) }
    }
}

impl Drop for OwnedBuffer<'_> {
    fn drop(&mut self) {
        if !self.desc.value.is_null() {
            let mut minor = 0;
            // SAFETY: `desc` came from the library and is released once.
            unsafe { (self.gss.release_buffer)(&mut minor, &mut self.desc) };
        }
    }
}

impl Gss {
    fn fail(&self, call: &'static str, major: Major, minor: Minor) -> GssFailure {
        let mut words = self.status_text(major, GSS_C_GSS_CODE);
        let mech = self.status_text(minor, GSS_C_MECH_CODE);
        if minor != 0 && !mech.is_empty() {
            words = format!("{words}: {mech}");
        }
        GssFailure {
            call,
            major,
            minor,
            message: words,
        }
    }

    /// gss_display_status, every message of the chain joined.
    fn status_text(&self, code: u32, kind: c_int) -> String {
        let mut parts = Vec::new();
        let mut context = 0u32;
        // Bounded: a library that never ends its chain cannot hold us.
        for _ in 0..8 {
            let mut minor = 0;
            let mut text = OwnedBuffer::empty(self);
            // SAFETY: out-pointers are valid locals; `text` owns the result.
            let major = unsafe {
                (self.display_status)(
                    &mut minor,
                    code,
                    kind,
                    ptr::null_mut(),
                    &mut context,
                    &mut text.desc,
                )
            };
            if is_error(major) {
                break;
            }
            parts.push(String::from_utf8_lossy(text.bytes()).into_owned());
            if context == 0 {
                break;
            }
        }
        parts.join("; ")
    }

    fn name(&self, text: &str, kind: &'static [u8]) -> Result<Name<'_>, GssFailure> {
        let mut minor = 0;
        let mut handle: Ptr = ptr::null_mut();
        let mut buffer = borrowed(text.as_bytes());
        let mut kind = oid(kind);
        // SAFETY: the input buffer and OID outlive the call; the library
        // copies what it keeps. `handle` is owned by the returned Name.
        let major = unsafe { (self.import_name)(&mut minor, &mut buffer, &mut kind, &mut handle) };
        if is_error(major) {
            return Err(self.fail("gss_import_name", major, minor));
        }
        Ok(Name { gss: self, handle })
    }

    /// `service@host` (GSS_C_NT_HOSTBASED_SERVICE), e.g. `cifs@dc1.example.com`.
    pub fn service_name(&self, service: &str, host: &str) -> Result<Name<'_>, GssFailure> {
        self.name(&format!("{service}@{host}"), NT_HOSTBASED_SERVICE)
    }

    /// A user principal, `user@REALM` or `user` (the default realm).
    pub fn user_name(&self, principal: &str) -> Result<Name<'_>, GssFailure> {
        self.name(principal, NT_USER_NAME)
    }

    /// A TGT for `user` from its password (MIT's gss_acquire_cred_with_password);
    /// it lives in memory only, for this process.
    pub fn acquire_with_password(
        &self,
        user: &Name<'_>,
        password: &[u8],
    ) -> Result<Cred<'_>, GssFailure> {
        let mut minor = 0;
        let mut handle: Ptr = ptr::null_mut();
        let mut secret = borrowed(password);
        let mut mech = oid(KRB5_MECH);
        let mut mechs = OidSetDesc {
            count: 1,
            elements: &mut mech,
        };
        // SAFETY: every input outlives the call; `handle` is owned by the
        // returned Cred; actual mechs and time are not asked for (NULL).
        let major = unsafe {
            (self.acquire_with_password)(
                &mut minor,
                user.handle,
                &mut secret,
                0,
                &mut mechs,
                GSS_C_INITIATE,
                &mut handle,
                ptr::null_mut(),
                ptr::null_mut(),
            )
        };
        if is_error(major) {
            return Err(self.fail("gss_acquire_cred_with_password", major, minor));
        }
        Ok(Cred { gss: self, handle })
    }

    /// A new, not yet started, initiator context.
    pub fn context(&self) -> Context<'_> {
        Context {
            gss: self,
            handle: ptr::null_mut(),
        }
    }
}

/// An imported name; released on drop.
pub struct Name<'a> {
    gss: &'a Gss,
    handle: Ptr,
}

impl Drop for Name<'_> {
    fn drop(&mut self) {
        let mut minor = 0;
        // SAFETY: the handle came from gss_import_name and is released once.
        unsafe { (self.gss.release_name)(&mut minor, &mut self.handle) };
    }
}

/// Acquired credentials; released on drop.
pub struct Cred<'a> {
    gss: &'a Gss,
    handle: Ptr,
}

impl Drop for Cred<'_> {
    fn drop(&mut self) {
        let mut minor = 0;
        // SAFETY: the handle came from gss_acquire_cred* and is released once.
        unsafe { (self.gss.release_cred)(&mut minor, &mut self.handle) };
    }
}

/// What one gss_init_sec_context step gave.
pub struct Step {
    /// The token to send (may be empty).
    pub token: Vec<u8>,
    /// The context is established (and, with mutual auth, the server proved itself).
    pub complete: bool,
}

/// A Kerberos initiator context; deleted on drop.
pub struct Context<'a> {
    gss: &'a Gss,
    handle: Ptr,
}

impl Context<'_> {
    /// One gss_init_sec_context step with the krb5 mechanism, mutual
    /// authentication asked for: the first call (`input` None) makes the
    /// AP-REQ, the next takes the server's AP-REP and checks it.
    pub fn step(
        &mut self,
        cred: Option<&Cred<'_>>,
        target: &Name<'_>,
        input: Option<&[u8]>,
    ) -> Result<Step, GssFailure> {
        let gss = self.gss;
        let mut minor = 0;
        let mut mech = oid(KRB5_MECH);
        let mut input_desc = input.map(borrowed);
        let input_ptr = input_desc
            .as_mut()
            .map_or(ptr::null_mut(), |d| d as *mut BufferDesc);
        let mut output = OwnedBuffer::empty(gss);
        let flags = GSS_C_MUTUAL_FLAG | GSS_C_REPLAY_FLAG | GSS_C_SEQUENCE_FLAG | GSS_C_INTEG_FLAG;
        // SAFETY: all inputs outlive the call; the context handle is owned
        // by self (deleted on drop), `output` owns the produced token.
        let major = unsafe {
            (gss.init_sec_context)(
                &mut minor,
                cred.map_or(ptr::null_mut(), |c| c.handle),
                &mut self.handle,
                target.handle,
                &mut mech,
                flags,
                0,
                ptr::null_mut(),
                input_ptr,
                ptr::null_mut(),
                &mut output.desc,
                ptr::null_mut(),
                ptr::null_mut(),
            )
        };
        if is_error(major) {
            return Err(gss.fail("gss_init_sec_context", major, minor));
        }
        Ok(Step {
            token: output.bytes().to_vec(),
            complete: major & GSS_S_CONTINUE_NEEDED == 0,
        })
    }

    /// The established context's session key (GSS_C_INQ_SSPI_SESSION_KEY).
    pub fn session_key(&self) -> Result<Zeroizing<Vec<u8>>, GssFailure> {
        let gss = self.gss;
        let mut minor = 0;
        let mut what = oid(INQ_SSPI_SESSION_KEY);
        let mut set: *mut BufferSetDesc = ptr::null_mut();
        // SAFETY: the context is established; `set` is released below.
        let major = unsafe { (gss.inquire_by_oid)(&mut minor, self.handle, &mut what, &mut set) };
        if is_error(major) {
            return Err(gss.fail("gss_inquire_sec_context_by_oid", major, minor));
        }
        let set = BufferSet { gss, set };
        set.first()
            .filter(|key| !key.is_empty())
            .map(|key| Zeroizing::new(key.to_vec()))
            .ok_or_else(|| GssFailure {
                call: "gss_inquire_sec_context_by_oid",
                major: 0,
                minor: 0,
                message: "the library returned no session key".into(),
            })
    }

    /// Check `mic` over `message` with the context's key (the SPNEGO mechListMIC).
    pub fn verify_mic(&self, message: &[u8], mic: &[u8]) -> Result<(), GssFailure> {
        let gss = self.gss;
        let mut minor = 0;
        let mut message = borrowed(message);
        let mut token = borrowed(mic);
        // SAFETY: both buffers outlive the call; the QOP out-pointer may be NULL.
        let major = unsafe {
            (gss.verify_mic)(
                &mut minor,
                self.handle,
                &mut message,
                &mut token,
                ptr::null_mut(),
            )
        };
        if is_error(major) {
            return Err(gss.fail("gss_verify_mic", major, minor));
        }
        Ok(())
    }

    /// gss_wrap without confidentiality: the message with an integrity
    /// token (what SASL GSSAPI's integrity layer sends, RFC 4752 3.3).
    pub fn wrap_integrity(&self, message: &[u8]) -> Result<Vec<u8>, GssFailure> {
        let gss = self.gss;
        let mut minor = 0;
        let mut input = borrowed(message);
        let mut output = OwnedBuffer::empty(gss);
        // SAFETY: the input outlives the call; `output` owns the produced
        // token; the conf_state out-pointer may be NULL.
        let major = unsafe {
            (gss.wrap)(
                &mut minor,
                self.handle,
                0,
                0,
                &mut input,
                ptr::null_mut(),
                &mut output.desc,
            )
        };
        if is_error(major) {
            return Err(gss.fail("gss_wrap", major, minor));
        }
        Ok(output.bytes().to_vec())
    }

    /// gss_unwrap: the message inside a wrap token, its integrity checked
    /// (and decrypted if the peer sealed it).
    pub fn unwrap(&self, token: &[u8]) -> Result<Vec<u8>, GssFailure> {
        let gss = self.gss;
        let mut minor = 0;
        let mut input = borrowed(token);
        let mut output = OwnedBuffer::empty(gss);
        // SAFETY: the input outlives the call; `output` owns the message;
        // conf_state and qop_state out-pointers may be NULL.
        let major = unsafe {
            (gss.unwrap)(
                &mut minor,
                self.handle,
                &mut input,
                &mut output.desc,
                ptr::null_mut(),
                ptr::null_mut(),
            )
        };
        if is_error(major) {
            return Err(gss.fail("gss_unwrap", major, minor));
        }
        Ok(output.bytes().to_vec())
    }
}

impl Drop for Context<'_> {
    fn drop(&mut self) {
        if !self.handle.is_null() {
            let mut minor = 0;
            // SAFETY: the handle came from gss_init_sec_context; no output token is asked for.
            unsafe { (self.gss.delete_sec_context)(&mut minor, &mut self.handle, ptr::null_mut()) };
        }
    }
}

/// A buffer set the library allocated; zeroed (it holds a key) and released on drop.
struct BufferSet<'a> {
    gss: &'a Gss,
    set: *mut BufferSetDesc,
}

impl BufferSet<'_> {
    fn first(&self) -> Option<&[u8]> {
        if self.set.is_null() {
            return None;
        }
        // SAFETY: a non-null set from the library holds `count` descriptors
        // at `elements`, valid until released in Drop.
        unsafe {
            let set = &*self.set;
            if set.count == 0 || set.elements.is_null() {
                return None;
            }
            let first = &*set.elements;
            if first.value.is_null() {
                return None;
            }
            Some(std::slice::from_raw_parts(
                first.value as *const u8,
                first.length,
            ))
        }
    }
}

impl Drop for BufferSet<'_> {
    fn drop(&mut self) {
        if self.set.is_null() {
            return;
        }
        // SAFETY: as in `first`; the key bytes are wiped before the library frees them.
        unsafe {
            let set = &*self.set;
            if !set.elements.is_null() {
                for i in 0..set.count {
                    let buffer = &*set.elements.add(i);
                    if !buffer.value.is_null() {
                        std::ptr::write_bytes(buffer.value as *mut u8, 0, buffer.length);
                    }
                }
            }
            let mut minor = 0;
            (self.gss.release_buffer_set)(&mut minor, &mut self.set);
        }
    }
}
