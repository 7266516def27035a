//! The few libc calls the Linux collector needs, each in a small safe wrapper.

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// Open `name` relative to the directory `dir` (read-only, close-on-exec).
pub fn open_at(dir: &impl AsRawFd, name: &CStr, directory: bool) -> io::Result<OwnedFd> {
    let mut flags = libc::O_RDONLY | libc::O_CLOEXEC | libc::O_NOCTTY;
    if directory {
        flags |= libc::O_DIRECTORY;
    }
    // SAFETY: `name` is a valid NUL-terminated string for the duration of the
    // call and `dir` is an open descriptor owned by the caller.
    let fd = unsafe { libc::openat(dir.as_raw_fd(), name.as_ptr(), flags) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: openat returned a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// procfs files are small; anything this big is not one.
const MAX_FILE: usize = 16 << 20;

/// Read the whole of `name` under `dir` into `buf` (cleared first), reusing
/// its allocation. procfs files are produced in one go, so a read that
/// returns less than asked is taken as the end (as procps does): usually one
/// `read` per file.
pub fn read_at(dir: &impl AsRawFd, name: &CStr, buf: &mut Vec<u8>) -> io::Result<()> {
    let fd = open_at(dir, name, false)?;
    buf.clear();
    if buf.capacity() < 4096 {
        buf.reserve(4096);
    }
    loop {
        let spare = buf.capacity() - buf.len();
        // SAFETY: the pointer and length describe the uninitialised spare
        // capacity of `buf`, which read() may fill; `fd` is open.
        let n = unsafe {
            libc::read(
                fd.as_raw_fd(),
                buf.as_mut_ptr().add(buf.len()).cast(),
                spare,
            )
        };
        if n < 0 {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(err);
        }
        let n = n as usize;
        // SAFETY: read() initialised exactly `n` more bytes.
        unsafe { buf.set_len(buf.len() + n) };
        if n == 0 || n < spare {
            return Ok(());
        }
        if buf.len() >= MAX_FILE {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "file larger than 16 MiB",
            ));
        }
        buf.reserve(buf.capacity());
    }
}

/// What a path turned out to be when it was not a regular file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Directory,
    Fifo,
    CharDevice,
    BlockDevice,
    Socket,
    Symlink,
    Unknown,
}

impl std::fmt::Display for FileKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FileKind::Directory => "a directory",
            FileKind::Fifo => "a FIFO",
            FileKind::CharDevice => "a character device",
            FileKind::BlockDevice => "a block device",
            FileKind::Socket => "a socket",
            FileKind::Symlink => "a symbolic link",
            FileKind::Unknown => "not a regular file",
        })
    }
}

impl FileKind {
    fn of_mode(mode: libc::mode_t) -> FileKind {
        match mode & libc::S_IFMT {
            libc::S_IFDIR => FileKind::Directory,
            libc::S_IFIFO => FileKind::Fifo,
            libc::S_IFCHR => FileKind::CharDevice,
            libc::S_IFBLK => FileKind::BlockDevice,
            libc::S_IFSOCK => FileKind::Socket,
            libc::S_IFLNK => FileKind::Symlink,
            _ => FileKind::Unknown,
        }
    }
}

/// Why [`read_regular_file`] returned no contents.
#[derive(Debug, thiserror::Error)]
pub enum ReadFileError {
    /// open, fstat or read failed; the io::Error keeps kind and errno.
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("{kind}, not a regular file")]
    NotRegular { kind: FileKind },
    #[error("larger than {max_len} bytes")]
    TooLarge { max_len: usize },
}

/// Read a whole regular file of at most `max_len` bytes, and nothing else.
///
/// A FIFO would block `open()` until a writer appears and `read()` until the
/// writer goes (logind's `sessions/ID.ref` is held open by the session for
/// its whole life); a device may never end. So the open is non-blocking, and
/// the open descriptor is `fstat`ed before anything is read: a directory,
/// FIFO, device or socket comes back as [`ReadFileError::NotRegular`] at once.
/// With `follow_final_symlink` false a symlink is refused too (`O_NOFOLLOW`).
pub fn read_regular_file(
    path: &std::path::Path,
    max_len: usize,
    follow_final_symlink: bool,
) -> Result<Vec<u8>, ReadFileError> {
    use std::os::unix::ffi::OsStrExt;
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    let mut flags = libc::O_RDONLY | libc::O_NONBLOCK | libc::O_CLOEXEC | libc::O_NOCTTY;
    if !follow_final_symlink {
        flags |= libc::O_NOFOLLOW;
    }
    let fd = open_path(&c_path, flags).map_err(|e| {
        // With O_NOFOLLOW, ELOOP is how the kernel says "the last component is a symlink".
        if !follow_final_symlink && e.raw_os_error() == Some(libc::ELOOP) {
            ReadFileError::NotRegular {
                kind: FileKind::Symlink,
            }
        } else {
            ReadFileError::Io(e)
        }
    })?;
    let stat = fstat(&fd)?;
    if stat.st_mode & libc::S_IFMT != libc::S_IFREG {
        return Err(ReadFileError::NotRegular {
            kind: FileKind::of_mode(stat.st_mode),
        });
    }
    let size_hint = usize::try_from(stat.st_size).unwrap_or(usize::MAX);
    // One byte past the limit tells "exactly max_len" from "more".
    let mut buf = Vec::with_capacity(size_hint.min(max_len).saturating_add(1));
    let mut chunk = [0u8; 8192];
    loop {
        let want = chunk.len().min(max_len + 1 - buf.len());
        let n = read_fd(&fd, &mut chunk[..want])?;
        if n == 0 {
            return Ok(buf);
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.len() > max_len {
            return Err(ReadFileError::TooLarge { max_len });
        }
    }
}

fn open_path(path: &CStr, flags: libc::c_int) -> io::Result<OwnedFd> {
    // SAFETY: `path` is a valid NUL-terminated string for the duration of the call.
    let fd = unsafe { libc::open(path.as_ptr(), flags) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: open returned a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn fstat(fd: &OwnedFd) -> io::Result<libc::stat> {
    // SAFETY: all-zero is a valid `stat` (plain integers).
    let mut stat: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `stat` is writable and the right size; `fd` is open.
    let rc = unsafe { libc::fstat(fd.as_raw_fd(), &mut stat) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(stat)
}

/// One `read` into `buf`, retried on EINTR.
fn read_fd(fd: &OwnedFd, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        // SAFETY: `buf` is valid for writes of `buf.len()` bytes; `fd` is open.
        let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n >= 0 {
            return Ok(n as usize);
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// `struct pidfd_info` (Linux 6.13+, version 0: 64 bytes).
#[repr(C)]
#[derive(Default)]
struct PidfdInfo {
    mask: u64,
    cgroupid: u64,
    pid: u32,
    tgid: u32,
    ppid: u32,
    ruid: u32,
    rgid: u32,
    euid: u32,
    egid: u32,
    suid: u32,
    sgid: u32,
    fsuid: u32,
    fsgid: u32,
    exit_code: i32,
}

/// `_IOWR(PIDFS_IOCTL_MAGIC 0xFF, 11, struct pidfd_info)` with the 64-byte struct.
const PIDFD_GET_INFO: libc::c_ulong = 0xC040_FF0B;
const PIDFD_INFO_PID: u64 = 1 << 0;
const PIDFD_INFO_CREDS: u64 = 1 << 1;

/// A pidfd for `pid` (`pidfd_open`, Linux 5.3+): refers to that very
/// process for as long as it is held, whatever happens to the number.
pub fn pidfd_open(pid: u32) -> io::Result<OwnedFd> {
    let pid = libc::pid_t::try_from(pid).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: pidfd_open takes a pid and flags, no pointers.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    let fd = i32::try_from(fd).map_err(|_| io::Error::from_raw_os_error(libc::EBADF))?;
    // SAFETY: the syscall returned a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The real uid of the process behind a pidfd, via `PIDFD_GET_INFO`
/// (Linux 6.13+): the same value as the first field of `Uid:` in
/// /proc/PID/status, without the kernel formatting that whole file.
pub fn pidfd_real_uid(pidfd: &OwnedFd) -> io::Result<u32> {
    let mut info = PidfdInfo {
        mask: PIDFD_INFO_PID | PIDFD_INFO_CREDS,
        ..PidfdInfo::default()
    };
    // SAFETY: `info` is a properly sized, writable pidfd_info matching the
    // size encoded in the request number; `pidfd` is open.
    let rc = unsafe {
        libc::ioctl(
            pidfd.as_raw_fd(),
            PIDFD_GET_INFO as _,
            &mut info as *mut PidfdInfo,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    if info.mask & PIDFD_INFO_CREDS == 0 {
        return Err(io::Error::from(io::ErrorKind::Unsupported));
    }
    Ok(info.ruid)
}

/// Is a process with this pid alive? `kill(pid, 0)`: success or EPERM mean it
/// exists. Zero, and pids that do not fit a pid_t, are never checked (kill(0)
/// would address our own process group).
pub fn pid_alive(pid: u32) -> Option<bool> {
    let pid = libc::pid_t::try_from(pid).ok().filter(|&p| p > 0)?;
    // SAFETY: signal 0 only checks for existence and permission; nothing is sent.
    let rc = unsafe { libc::kill(pid, 0) };
    if rc == 0 {
        return Some(true);
    }
    match io::Error::last_os_error().raw_os_error() {
        Some(libc::ESRCH) => Some(false),
        Some(libc::EPERM) => Some(true),
        _ => None,
    }
}

/// SIGKILL the process group led by `pid` (a child we started with
/// `process_group(0)`, so the group is ours alone).
pub fn kill_process_group(pid: u32) {
    let Some(pgid) = libc::pid_t::try_from(pid).ok().filter(|&p| p > 1) else {
        return;
    };
    // SAFETY: kill has no memory-safety preconditions; a negative pid
    // addresses exactly the group the caller created.
    unsafe { libc::kill(-pgid, libc::SIGKILL) };
}

/// Clock ticks per second (USER_HZ) for /proc times.
pub fn clock_ticks_per_second() -> u64 {
    // SAFETY: sysconf has no memory-safety preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    u64::try_from(ticks).ok().filter(|&t| t > 0).unwrap_or(100)
}

/// This machine's host name.
pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for `buf.len()` bytes; gethostname writes
    // at most that many.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return String::from("localhost");
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// The user name of `uid` through NSS (LDAP, SSSD …), for uids /etc/passwd lacks.
pub fn user_name_of(uid: u32) -> Option<String> {
    let mut buf = vec![0u8; 4096];
    loop {
        // SAFETY: all-zero is a valid `passwd` (null pointers, zero ids).
        let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        // SAFETY: every pointer is valid for the call; `buf` outlives the use
        // of `pwd`'s string pointers below.
        let rc = unsafe {
            libc::getpwuid_r(
                uid,
                &mut pwd,
                buf.as_mut_ptr().cast(),
                buf.len(),
                &mut result,
            )
        };
        if rc == libc::ERANGE && buf.len() < 1 << 20 {
            buf.resize(buf.len() * 2, 0);
            continue;
        }
        if rc != 0 || result.is_null() || pwd.pw_name.is_null() {
            return None;
        }
        // SAFETY: on success pw_name points to a NUL-terminated string inside `buf`.
        let name = unsafe { CStr::from_ptr(pwd.pw_name) };
        return Some(name.to_string_lossy().into_owned());
    }
}

/// What NSS answered for one account: "no such account" and "could not
/// ask" are kept apart, as only the first makes an account gone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NssLookup<T> {
    Found(T),
    Missing,
    /// The errno getpw*_r returned.
    Error(i32),
}

/// getpwuid_r / getpwnam_r into a growing buffer, `pick` reading the entry.
fn passwd_lookup<T>(
    call: impl Fn(&mut libc::passwd, &mut [u8], &mut *mut libc::passwd) -> libc::c_int,
    pick: impl Fn(&libc::passwd) -> Option<T>,
) -> NssLookup<T> {
    let mut buf = vec![0u8; 4096];
    loop {
        // SAFETY: all-zero is a valid `passwd` (null pointers, zero ids).
        let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        let rc = call(&mut pwd, &mut buf, &mut result);
        if rc == libc::ERANGE && buf.len() < 1 << 20 {
            buf.resize(buf.len() * 2, 0);
            continue;
        }
        // POSIX allows ENOENT/ESRCH/EBADF/EPERM for "not found" besides 0.
        return match rc {
            0 if result.is_null() => NssLookup::Missing,
            0 => pick(&pwd).map_or(NssLookup::Missing, NssLookup::Found),
            libc::ENOENT | libc::ESRCH | libc::EBADF | libc::EPERM => NssLookup::Missing,
            errno => NssLookup::Error(errno),
        };
    }
}

/// The name NSS gives `uid`, or whether it knows none.
pub fn user_name_of_uid(uid: u32) -> NssLookup<String> {
    passwd_lookup(
        |pwd, buf, result| {
            // SAFETY: every pointer is valid for the call; `buf` outlives
            // the reading of `pwd` in `pick`.
            unsafe { libc::getpwuid_r(uid, pwd, buf.as_mut_ptr().cast(), buf.len(), result) }
        },
        |pwd| {
            (!pwd.pw_name.is_null()).then(|| {
                // SAFETY: on success pw_name points to a NUL-terminated string inside `buf`.
                unsafe { CStr::from_ptr(pwd.pw_name) }
                    .to_string_lossy()
                    .into_owned()
            })
        },
    )
}

/// The uid NSS gives `name`, or whether it knows none.
pub fn uid_of_name(name: &str) -> NssLookup<u32> {
    let Ok(c_name) = std::ffi::CString::new(name) else {
        // A name with a NUL byte cannot be an account.
        return NssLookup::Missing;
    };
    passwd_lookup(
        |pwd, buf, result| {
            // SAFETY: as above; `c_name` is NUL-terminated and outlives the call.
            unsafe {
                libc::getpwnam_r(
                    c_name.as_ptr(),
                    pwd,
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    result,
                )
            }
        },
        |pwd| Some(pwd.pw_uid),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_pid_is_alive_and_zero_is_not_checked() {
        assert_eq!(pid_alive(std::process::id()), Some(true));
        assert_eq!(pid_alive(0), None);
        assert_eq!(pid_alive(u32::MAX), None);
    }

    #[test]
    fn reads_a_proc_file_in_full() {
        let proc = std::fs::File::open("/proc/self").unwrap();
        let mut buf = Vec::new();
        read_at(&proc, c"status", &mut buf).unwrap();
        assert!(buf.starts_with(b"Name:"));
        assert!(buf.ends_with(b"\n"));
    }

    #[test]
    fn reads_a_file_larger_than_the_first_buffer() {
        let dir = tempfile::tempdir().unwrap();
        let data: Vec<u8> = (0..20_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(dir.path().join("big"), &data).unwrap();
        let d = std::fs::File::open(dir.path()).unwrap();
        let mut buf = Vec::new();
        read_at(&d, c"big", &mut buf).unwrap();
        assert_eq!(buf, data);
    }

    #[test]
    fn pidfd_gives_the_real_uid_where_the_kernel_supports_it() {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let real_uid: u32 = status
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap();
        let fd = pidfd_open(std::process::id()).unwrap();
        match pidfd_real_uid(&fd) {
            Ok(uid) => assert_eq!(uid, real_uid),
            // Kernels before 6.13: the collector reads status instead.
            Err(e) => assert!(
                matches!(e.raw_os_error(), Some(libc::ENOTTY | libc::EINVAL)),
                "{e}"
            ),
        }
    }

    fn mkfifo(path: &std::path::Path) {
        use std::os::unix::ffi::OsStrExt;
        let c = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
        // SAFETY: `c` is a valid NUL-terminated path for the call.
        let rc = unsafe { libc::mkfifo(c.as_ptr(), 0o600) };
        assert_eq!(rc, 0, "mkfifo: {}", io::Error::last_os_error());
    }

    /// Runs `f` on a thread and fails the test if it has not returned within
    /// a second, instead of hanging the test run on a blocking open or read.
    fn within_a_second<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(f());
        });
        rx.recv_timeout(std::time::Duration::from_secs(1))
            .expect("read_regular_file blocked")
    }

    fn not_regular(result: Result<Vec<u8>, ReadFileError>) -> FileKind {
        match result {
            Err(ReadFileError::NotRegular { kind }) => kind,
            other => panic!("expected NotRegular, got {other:?}"),
        }
    }

    #[test]
    fn fifo_without_writer_is_refused_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("3.ref");
        mkfifo(&fifo);
        let result = within_a_second(move || read_regular_file(&fifo, 1024, false));
        assert_eq!(not_regular(result), FileKind::Fifo);
    }

    #[test]
    fn fifo_held_open_like_a_logind_session_is_refused_at_once() {
        use std::os::unix::fs::OpenOptionsExt;
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("3.ref");
        mkfifo(&fifo);
        // logind's read end (session_create_fifo), then the session's write end.
        let _reader = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&fifo)
            .unwrap();
        let mut writer = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
        std::io::Write::write_all(&mut writer, b"pending").unwrap();
        let path = fifo.clone();
        let result = within_a_second(move || read_regular_file(&path, 1024, true));
        assert_eq!(not_regular(result), FileKind::Fifo);
        drop(writer);
    }

    #[test]
    fn devices_and_directories_are_refused() {
        let null =
            within_a_second(|| read_regular_file(std::path::Path::new("/dev/null"), 1, true));
        assert_eq!(not_regular(null), FileKind::CharDevice);
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            not_regular(read_regular_file(dir.path(), 1, false)),
            FileKind::Directory
        );
    }

    #[test]
    fn symlink_is_refused_only_without_follow() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("real"), b"UID=1\n").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink("real", &link).unwrap();
        assert_eq!(
            not_regular(read_regular_file(&link, 64, false)),
            FileKind::Symlink
        );
        assert_eq!(read_regular_file(&link, 64, true).unwrap(), b"UID=1\n");
    }

    #[test]
    fn size_cap_is_inclusive_and_larger_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let data: Vec<u8> = (0..20_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        assert_eq!(read_regular_file(&path, 20_000, false).unwrap(), data);
        assert!(matches!(
            read_regular_file(&path, 19_999, false),
            Err(ReadFileError::TooLarge { max_len: 19_999 })
        ));
        std::fs::write(&path, b"").unwrap();
        assert_eq!(read_regular_file(&path, 0, false).unwrap(), b"");
    }

    #[test]
    fn io_errors_keep_kind_and_errno() {
        let dir = tempfile::tempdir().unwrap();
        match read_regular_file(&dir.path().join("gone"), 10, false) {
            Err(ReadFileError::Io(e)) => {
                assert_eq!(e.kind(), io::ErrorKind::NotFound);
                assert_eq!(e.raw_os_error(), Some(libc::ENOENT));
            }
            other => panic!("expected Io, got {other:?}"),
        }
    }

    #[test]
    fn root_has_a_name() {
        assert_eq!(user_name_of(0).as_deref(), Some("root"));
        assert_eq!(user_name_of_uid(0), NssLookup::Found("root".to_string()));
        assert_eq!(uid_of_name("root"), NssLookup::Found(0));
        assert_eq!(uid_of_name("no-such-user-lingerscan"), NssLookup::Missing);
        assert_eq!(user_name_of_uid(3_999_999_999), NssLookup::Missing);
        assert!(clock_ticks_per_second() > 0);
        assert!(!hostname().is_empty());
    }
}
