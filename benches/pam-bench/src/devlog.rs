//! A private, drained /dev/log for the run (see `private_dev_log`).

use std::ffi::{c_void, CString};
use std::fs;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::setup::private_dir;

/// Gives this process (and its children) a private /dev in which /dev/log is a socket this
/// program drains, when run as root on a machine without a syslog daemon.
///
/// Without a listener on /dev/log, glibc's syslog() falls back to writing every message to
/// /dev/console when the caller asked for LOG_CONS (pam_google_authenticator does); on a
/// virtual machine's serial console that costs milliseconds and steals CPU from everything
/// else, which no production host (journald, rsyslog) pays. A private mount namespace leaves
/// the rest of the machine untouched. Returns the number of messages received, as a counter.
pub(crate) fn private_dev_log(scratch: &Path, tmpfs: bool) -> Option<std::sync::Arc<AtomicU64>> {
    use std::os::unix::net::UnixDatagram;
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 || scratch.starts_with("/dev") {
        assert!(!tmpfs, "--tmpfs needs root (a private mount namespace)");
        return None;
    }
    let c = |p: &Path| CString::new(p.as_os_str().as_encoded_bytes()).unwrap();
    let mount =
        |src: &Path, dst: &Path, fstype: Option<&str>, flags: libc::c_ulong, data: Option<&str>| {
            let fstype = fstype.map(|f| CString::new(f).unwrap());
            let data = data.map(|d| CString::new(d).unwrap());
            // SAFETY: all pointers are live C strings or null, as mount(2) allows.
            let rc = unsafe {
                libc::mount(
                    c(src).as_ptr(),
                    c(dst).as_ptr(),
                    fstype.as_ref().map_or(std::ptr::null(), |f| f.as_ptr()),
                    flags,
                    data.as_ref()
                        .map_or(std::ptr::null(), |d| d.as_ptr() as *const c_void),
                )
            };
            assert_eq!(
                rc,
                0,
                "mount {} on {}: {}",
                src.display(),
                dst.display(),
                std::io::Error::last_os_error()
            );
        };
    // SAFETY: called before any thread is started; affects only this process and its children.
    if unsafe { libc::unshare(libc::CLONE_NEWNS) } != 0 {
        eprintln!("unshare(CLONE_NEWNS) failed: syslog goes wherever the machine sends it");
        return None;
    }
    let none = Path::new("none");
    mount(
        none,
        Path::new("/"),
        None,
        libc::MS_REC | libc::MS_PRIVATE,
        None,
    );
    if tmpfs {
        // State and secrets in memory: what each module costs without the disk.
        mount(
            Path::new("pam-bench"),
            scratch,
            Some("tmpfs"),
            0,
            Some("mode=0700"),
        );
    }
    if Path::new("/dev/log").exists() {
        return None;
    }
    let old = private_dir(&scratch.join("host-dev"));
    mount(
        Path::new("/dev"),
        &old,
        None,
        libc::MS_BIND | libc::MS_REC,
        None,
    );
    mount(
        Path::new("pam-bench-dev"),
        Path::new("/dev"),
        Some("tmpfs"),
        0,
        Some("mode=0755"),
    );
    for entry in fs::read_dir(&old).unwrap().flatten() {
        let src = entry.path();
        let dst = Path::new("/dev").join(entry.file_name());
        let ft = entry.file_type().unwrap();
        if ft.is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(&src).unwrap(), &dst).unwrap();
        } else if ft.is_dir() {
            fs::create_dir(&dst).unwrap();
            mount(&src, &dst, None, libc::MS_BIND | libc::MS_REC, None);
        } else {
            fs::File::create(&dst).unwrap();
            mount(&src, &dst, None, libc::MS_BIND, None);
        }
    }
    // Detach the view of the host's /dev at once: the entries bound above stay, and the
    // scratch directory (removed at the end) must never lead into the real /dev.
    // SAFETY: a live C string; MNT_DETACH has no other precondition.
    let rc = unsafe { libc::umount2(c(&old).as_ptr(), libc::MNT_DETACH) };
    assert_eq!(rc, 0, "detach {}", old.display());
    fs::remove_dir(&old).unwrap();
    let sock = UnixDatagram::bind("/dev/log").unwrap();
    let count = std::sync::Arc::new(AtomicU64::new(0));
    let seen = count.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        while sock.recv(&mut buf).is_ok() {
            seen.fetch_add(1, Ordering::Relaxed);
        }
    });
    Some(count)
}
