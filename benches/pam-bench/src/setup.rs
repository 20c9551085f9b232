//! The modules measured and their set-up: service files, secrets, state, accounts.

use std::ffi::{c_int, CString};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
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

/// `--home`: the user whose home holds each module's per-user file. Created (useradd) by the
/// parent process for the run, with its home in the scratch directory, and removed at the end.
#[derive(Clone, Debug)]
pub(crate) struct Home {
    pub(crate) user: String,
    pub(crate) dir: PathBuf,
    pub(crate) uid: u32,
    pub(crate) gid: u32,
}

impl Home {
    pub(crate) fn lookup(user: &str, dir: PathBuf) -> Home {
        let name = CString::new(user).unwrap();
        // SAFETY: getpwnam returns a pointer to static storage or NULL; copied at once.
        let (uid, gid) = unsafe {
            let pw = libc::getpwnam(name.as_ptr());
            assert!(!pw.is_null(), "no passwd entry for {user}");
            ((*pw).pw_uid, (*pw).pw_gid)
        };
        Home {
            user: user.to_string(),
            dir,
            uid,
            gid,
        }
    }

    /// Creates the user and its home (mode 0700) under `scratch`, which it must be able to
    /// traverse.
    pub(crate) fn create(scratch: &Path) -> Home {
        let user = format!("pambench{}", std::process::id());
        let dir = scratch.join("home");
        let status = Command::new("useradd")
            .args(["-M", "-U", "-s", "/usr/sbin/nologin", "-d"])
            .arg(&dir)
            .arg(&user)
            .status()
            .expect("run useradd");
        assert!(status.success(), "useradd {user} failed");
        let home = Home::lookup(&user, dir);
        fs::set_permissions(scratch, fs::Permissions::from_mode(0o711)).unwrap();
        private_dir(&home.dir);
        home.give(&home.dir);
        home
    }

    pub(crate) fn give(&self, path: &Path) {
        std::os::unix::fs::chown(path, Some(self.uid), Some(self.gid)).unwrap();
    }
}

/// Removes the `--home` user when the run ends, also when it fails.
pub(crate) struct RemoveUser(pub(crate) String);

impl Drop for RemoveUser {
    fn drop(&mut self) {
        let _ = Command::new("userdel").arg(&self.0).status();
    }
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
        Target::create_in(module, dir, users, extra, None)
    }

    /// As `create`; with `home`, for its user alone, each module's file in that home.
    pub(crate) fn create_in(
        module: &Module,
        dir: &Path,
        users: &[String],
        extra: &str,
        home: Option<&Home>,
    ) -> Target {
        let t = Target::at(module, dir, users);
        let dir = private_dir(dir);
        private_dir(&t.confdir);
        let secrets = private_dir(&dir.join("secrets"));
        let so = module.path.display();
        let line = match (module.kind, home) {
            (Kind::Permit, _) => format!("auth required {so}"),
            (Kind::Otp, Some(_)) => format!(
                "auth required {so} secret=%h/.otp state_dir={} {extra}",
                dir.join("state").display()
            ),
            (Kind::Oath, Some(_)) => {
                format!("auth required {so} usersfile=${{HOME}}/.pam_oath_usersfile window=20")
            }
            (Kind::Google, Some(_)) => {
                format!("auth required {so} secret=${{HOME}}/.google_authenticator")
            }
            (Kind::Otp, None) => format!(
                "auth required {so} secret={}/%u state_dir={} {extra}",
                secrets.display(),
                dir.join("state").display()
            ),
            (Kind::Oath, None) => format!(
                "auth required {so} usersfile={} window=20",
                secrets.join("users.oath").display()
            ),
            (Kind::Google, None) => format!(
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
        // Where each module's per-user file goes: the admin store, or the user's home.
        let file = |user: &str, home_name: &str| match home {
            Some(h) => h.dir.join(home_name),
            None => secrets.join(user),
        };
        let mut oath = String::new();
        for (user, counter) in users.iter().zip(&t.counters) {
            // The first fresh counter of each module's own HOTP convention.
            let first: u64 = match module.kind {
                Kind::Permit => 0,
                Kind::Otp => {
                    write_private(
                        &file(user, ".otp"),
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
                        &file(user, ".google_authenticator"),
                        &format!("{}\n\" HOTP_COUNTER 1\n", base32(KEY)),
                    );
                    1
                }
            };
            fs::write(counter, first.to_ne_bytes()).unwrap();
        }
        if module.kind == Kind::Oath {
            match home {
                Some(h) => write_private(&h.dir.join(".pam_oath_usersfile"), &oath),
                None => write_private(&secrets.join("users.oath"), &oath),
            }
        }
        if let Some(h) = home {
            for name in [".otp", ".google_authenticator", ".pam_oath_usersfile"] {
                if h.dir.join(name).exists() {
                    h.give(&h.dir.join(name));
                }
            }
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
