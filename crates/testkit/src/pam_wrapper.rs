//! pam_wrapper (Debian: libpam-wrapper): an `LD_PRELOAD` library that makes libpam read its
//! service files from a directory of the test's choosing and print every `pam_syslog` line
//! on stderr (read back with [`crate::syslog`]).
//!
//! pam_wrapper picks its runtime directory (`/tmp/pam.X`, one letter) with a racy
//! check-then-create, and removes it when the process exits; two processes starting at the
//! same instant can share one and remove it under each other. So the start of every wrapped
//! process is serialised across threads and test processes by [`StartLock`].

use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// libpam_wrapper.so's absolute path: `$PAM_WRAPPER_LIB` if set, else the first found in the
/// usual library directories (an absolute `LD_PRELOAD` fails loudly if it is missing, where
/// a bare name would only warn and let the run use the system's /etc/pam.d).
pub fn pam_wrapper_lib() -> PathBuf {
    static LIB: OnceLock<PathBuf> = OnceLock::new();
    LIB.get_or_init(|| {
        if let Some(path) = std::env::var_os("PAM_WRAPPER_LIB") {
            let path = PathBuf::from(path);
            assert!(
                path.is_file(),
                "PAM_WRAPPER_LIB={} is not a file; install the Debian package \
                 `libpam-wrapper` (apt-get install libpam-wrapper)",
                path.display()
            );
            return path;
        }
        let mut dirs: Vec<PathBuf> = Vec::new();
        for root in ["/usr/lib", "/usr/lib64", "/lib", "/usr/local/lib"] {
            dirs.push(PathBuf::from(root));
            if let Ok(entries) = fs::read_dir(root) {
                dirs.extend(
                    entries
                        .flatten()
                        .map(|e| e.path())
                        .filter(|p| p.to_string_lossy().contains("-linux-")),
                );
            }
        }
        dirs.into_iter()
            .map(|d| d.join("libpam_wrapper.so"))
            .find(|p| p.is_file())
            .unwrap_or_else(|| {
                panic!(
                    "libpam_wrapper.so not found; these tests need pam_wrapper: install the \
                     Debian package `libpam-wrapper` (apt-get install libpam-wrapper), or set \
                     PAM_WRAPPER_LIB to its path"
                )
            })
    })
    .clone()
}

/// One of pam_wrapper's test modules (`pam_set_items.so`, `pam_matrix.so`, …).
pub fn pam_wrapper_module(name: &str) -> PathBuf {
    let lib = pam_wrapper_lib();
    let path = lib
        .parent()
        .expect("libpam_wrapper.so has a directory")
        .join("pam_wrapper")
        .join(name);
    assert!(
        path.is_file(),
        "{} not found; install the Debian package `libpam-wrapper`",
        path.display()
    );
    path
}

/// Makes `cmd` run under pam_wrapper with the service files of `services`, its syslog lines
/// on stderr, and nothing from the caller's environment changing that.
pub fn wrap<'a>(cmd: &'a mut Command, services: &Path) -> &'a mut Command {
    cmd.env("LD_PRELOAD", pam_wrapper_lib())
        .env("PAM_WRAPPER", "1")
        .env("PAM_WRAPPER_SERVICE_DIR", services)
        .env("PAM_WRAPPER_DEBUGLEVEL", "2")
        .env_remove("PAM_WRAPPER_USE_SYSLOG")
        .env_remove("PAM_WRAPPER_KEEP_DIR")
}

/// An exclusive `flock` on a file in the temp dir, shared by all test processes: hold it
/// while a wrapped process starts (see the module documentation).
pub struct StartLock {
    /// Held, not read: closing the file on drop releases the lock.
    _file: File,
}

impl StartLock {
    pub fn acquire() -> StartLock {
        let path = std::env::temp_dir().join("pam_otp-tests-pam_wrapper.lock");
        let file = loop {
            // Opened read-only when it exists: flock needs no write access, and another
            // user (root or not) may have created it.
            match File::open(&path) {
                Ok(f) => break f,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => panic!("open {}: {e}", path.display()),
            }
            // Two processes may both find it missing: one creates it, the other opens it on
            // its next turn round the loop.
            match OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o644)
                .open(&path)
            {
                Ok(f) => break f,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => panic!("create {}: {e}", path.display()),
            }
        };
        file.lock()
            .unwrap_or_else(|e| panic!("lock {}: {e}", path.display()));
        StartLock { _file: file }
    }
}
