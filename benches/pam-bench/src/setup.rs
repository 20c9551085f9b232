//! The modules measured and their set-up: service files, secrets, state, accounts.

use std::ffi::c_int;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::codes::{base32, hex, KEY};
use crate::find_system_module;
use crate::login;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Kind {
    Permit,
    Otp,
    Oath,
    Google,
}

#[derive(Clone, Debug)]
pub(crate) struct Module {
    pub(crate) kind: Kind,
    pub(crate) name: &'static str,
    pub(crate) path: PathBuf,
}

/// A service, its secrets and its state for some users, ready for logins.
pub(crate) struct Target {
    pub(crate) kind: Kind,
    pub(crate) confdir: PathBuf,
    pub(crate) service: String,
    /// Per user: name, and the next fresh counter (shared memory, for parallel workers).
    pub(crate) users: Vec<String>,
    pub(crate) counters: Vec<PathBuf>,
}

pub(crate) fn write_private(path: &Path, text: &str) {
    pam_otp_testkit::write_file(path, text.as_bytes(), 0o600);
}

pub(crate) fn private_dir(path: &Path) -> PathBuf {
    fs::create_dir_all(path).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(0o700)).unwrap();
    path.to_path_buf()
}

pub(crate) fn me() -> String {
    pam_otp_testkit::users::current_user().name
}

/// Up to `n` accounts with distinct uids from /etc/passwd (pam_otp keys state by uid).
pub(crate) fn accounts(n: usize) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    let mut out = vec![me()];
    // SAFETY: as in `me`.
    seen.insert(unsafe { libc::geteuid() });
    for line in fs::read_to_string("/etc/passwd").unwrap().lines() {
        let f: Vec<&str> = line.split(':').collect();
        if out.len() >= n || f.len() < 7 {
            continue;
        }
        let Ok(uid) = f[2].parse::<u32>() else {
            continue;
        };
        let name = f[0];
        let valid = !name.is_empty()
            && !name.starts_with('-')
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b));
        if valid && seen.insert(uid) {
            out.push(name.to_string());
        }
    }
    assert!(
        out.len() >= n,
        "need {n} accounts with distinct uids in /etc/passwd"
    );
    out.truncate(n);
    out
}

impl Target {
    /// The paths of `module`'s set-up for `users` under `dir` (nothing is written).
    pub(crate) fn at(module: &Module, dir: &Path, users: &[String]) -> Target {
        Target {
            kind: module.kind,
            confdir: dir.join("pam.d"),
            service: "bench".into(),
            users: users.to_vec(),
            counters: users
                .iter()
                .map(|u| dir.join(format!("counter-{u}")))
                .collect(),
        }
    }

    /// Sets up `module` for `users` under `dir`. `extra`: more pam_otp arguments.
    pub(crate) fn create(module: &Module, dir: &Path, users: &[String], extra: &str) -> Target {
        let t = Target::at(module, dir, users);
        let dir = private_dir(dir);
        private_dir(&t.confdir);
        let secrets = private_dir(&dir.join("secrets"));
        let so = module.path.display();
        let line = match module.kind {
            Kind::Permit => format!("auth required {so}"),
            Kind::Otp => format!(
                "auth required {so} secret={}/%u state_dir={} {extra}",
                secrets.display(),
                dir.join("state").display()
            ),
            Kind::Oath => format!(
                "auth required {so} usersfile={} window=20",
                secrets.join("users.oath").display()
            ),
            Kind::Google => format!(
                "auth required {so} secret={}/${{USER}} user={}",
                secrets.display(),
                me()
            ),
        };
        fs::write(t.confdir.join(&t.service), format!("{line}\n")).unwrap();
        // libpam logs a warning on every transaction when the directory has no `other`.
        let deny = find_system_module("pam_deny.so").expect("pam_deny.so not found");
        fs::write(
            t.confdir.join("other"),
            format!("auth required {}\n", deny.display()),
        )
        .unwrap();
        let mut oath = String::new();
        for (user, counter) in users.iter().zip(&t.counters) {
            // The first fresh counter of each module's own HOTP convention.
            let first: u64 = match module.kind {
                Kind::Permit => 0,
                Kind::Otp => {
                    write_private(
                        &secrets.join(user),
                        &format!("type = hotp\nsecret = {}\n", base32(KEY)),
                    );
                    0
                }
                Kind::Oath => {
                    oath.push_str(&format!("HOTP {user} - {}\n", hex(KEY)));
                    0
                }
                Kind::Google => {
                    write_private(
                        &secrets.join(user),
                        &format!("{}\n\" HOTP_COUNTER 1\n", base32(KEY)),
                    );
                    1
                }
            };
            fs::write(counter, first.to_ne_bytes()).unwrap();
        }
        if module.kind == Kind::Oath {
            write_private(&secrets.join("users.oath"), &oath);
        }
        t
    }

    pub(crate) fn login(&self, user: usize, answer: &str) -> c_int {
        login(&self.confdir, &self.service, &self.users[user], answer)
    }
}

/// A counter in a small file shared by every process that maps it.
pub(crate) struct SharedCounter(*mut AtomicU64);

impl SharedCounter {
    pub(crate) fn open(path: &Path) -> SharedCounter {
        let f = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .unwrap();
        use std::os::fd::AsRawFd;
        // SAFETY: maps the file's 8 bytes shared; the mapping lives as long as the process
        // (never unmapped), and every access goes through the atomic.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                8,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                f.as_raw_fd(),
                0,
            )
        };
        assert_ne!(p, libc::MAP_FAILED, "mmap {}", path.display());
        SharedCounter(p as *mut AtomicU64)
    }

    /// Takes the next fresh counter value.
    pub(crate) fn take(&self) -> u64 {
        // SAFETY: `self.0` points at a live, aligned, shared mapping (see `open`).
        unsafe { (*self.0).fetch_add(1, Ordering::SeqCst) }
    }
}
