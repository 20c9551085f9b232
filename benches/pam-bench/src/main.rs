//! pam-bench: what one login costs with pam_otp.so, beside pam_google_authenticator.so,
//! pam_oath.so and pam_permit.so (the framework's floor), through real libpam.
//!
//! Every login is one whole PAM transaction, as sshd and sudo run it: `pam_start_confdir`
//! (libpam reads a private service file and dlopens the module), `pam_authenticate` (the
//! module asks, the scripted conversation answers), `pam_end` (the module is unloaded). This
//! program links nothing of pam_otp and never dlopens a module itself, so nothing keeps a
//! module loaded between logins; it checks that after each measured series.
//!
//! ```text
//! pam-bench latency [--logins N]          median µs per login, success and wrong-code paths
//! pam-bench parallel [--procs 1,2,4,8] [--logins-per-proc N]
//!                                         logins/s with N processes, distinct users / one user
//! pam-bench leak [--logins 10000]         RSS and open descriptors across N logins
//! pam-bench disk [--logins N]            one durable save, in place vs temp file + rename
//! pam-bench once MODULE COUNT             COUNT success-path logins (for strace -c)
//! common: --only NAME,NAME (modules to include; pam_permit always is)
//!         --module PATH (pam_otp.so, default target/release/libpam_otp.so)
//!         --dir DIR (scratch directory, default $TMPDIR or /var/tmp; it holds the state)
//!         --tmpfs (root: a private tmpfs over the scratch directory, to leave the disk out)
//!         --compare PATH (a second pam_otp.so build, measured as pam_otp-B beside the first)
//!         --home (root; latency and once only: each module reads a per-user file in the
//!                 home of a user created for the run, as that user: pam_otp `secret=%h/.otp`,
//!                 pam_oath `usersfile=${HOME}/…`, pam_google_authenticator `secret=${HOME}/…`)
//! ```
//!
//! Output is Markdown, so that scripts/bench.sh can write it into BENCHMARKS.md as it is.

use std::ffi::{c_int, c_void, CString};
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use hmac::{Hmac, KeyInit, Mac};

// ---------------------------------------------------------------------------------------
// libpam

// Declarations shared with examples/pam_client.rs and tests/prove (a file, not a crate: this
// crate links nothing of pam_otp).
#[path = "../../../tests/support/pam_client_ffi.rs"]
mod pam_ffi;
use pam_ffi::{
    answer_prompts, pam_authenticate, pam_end, pam_start_confdir, PamConv, PamHandle, PAM_SUCCESS,
};

/// One whole transaction; returns pam_authenticate's result.
fn login(confdir: &Path, service: &str, user: &str, answer: &str) -> c_int {
    let service = CString::new(service).unwrap();
    let user = CString::new(user).unwrap();
    let answer = CString::new(answer).unwrap();
    let dir = CString::new(confdir.as_os_str().as_encoded_bytes()).unwrap();
    let conv = PamConv {
        conv: answer_prompts,
        appdata_ptr: answer.as_ptr() as *mut c_void,
    };
    let mut pamh: *mut PamHandle = std::ptr::null_mut();
    // SAFETY: all pointers are live C strings or the conv struct, which outlive the
    // transaction; the handle is used only between a successful start and its end.
    unsafe {
        let rc = pam_start_confdir(
            service.as_ptr(),
            user.as_ptr(),
            &conv,
            dir.as_ptr(),
            &mut pamh,
        );
        assert_eq!(rc, PAM_SUCCESS, "pam_start_confdir failed");
        let rc = pam_authenticate(pamh, 0);
        pam_end(pamh, rc);
        rc
    }
}

// ---------------------------------------------------------------------------------------
// Codes

const KEY: &[u8] = b"pam-bench key 0123456789abcdef!"; // 31 bytes, 248 bits

fn hotp(counter: u64) -> String {
    let mut mac = <Hmac<sha1::Sha1> as KeyInit>::new_from_slice(KEY).unwrap();
    mac.update(&counter.to_be_bytes());
    let d = mac.finalize().into_bytes();
    let off = usize::from(d[19] & 0x0f);
    let bin = u32::from_be_bytes([d[off] & 0x7f, d[off + 1], d[off + 2], d[off + 3]]);
    format!("{:06}", bin % 1_000_000)
}

/// A code that no counter below 100,000 produces: wrong for every module, whatever its window.
fn wrong_code() -> String {
    let used: std::collections::HashSet<String> = (0..100_000).map(hotp).collect();
    (0..1_000_000)
        .map(|c| format!("{c:06}"))
        .find(|c| !used.contains(c))
        .unwrap()
}

fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::new();
    for chunk in bytes.chunks(5) {
        let mut buf = [0u8; 5];
        buf[..chunk.len()].copy_from_slice(chunk);
        let v = u64::from_be_bytes([0, 0, 0, buf[0], buf[1], buf[2], buf[3], buf[4]]);
        let chars = (chunk.len() * 8).div_ceil(5);
        for i in 0..chars {
            out.push(ALPHABET[((v >> (35 - 5 * i)) & 31) as usize] as char);
        }
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

// ---------------------------------------------------------------------------------------
// Modules and their set-up

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Permit,
    Otp,
    Oath,
    Google,
}

#[derive(Clone, Debug)]
struct Module {
    kind: Kind,
    name: &'static str,
    path: PathBuf,
}

/// A service, its secrets and its state for some users, ready for logins.
struct Target {
    kind: Kind,
    confdir: PathBuf,
    service: String,
    /// Per user: name, and the next fresh counter (shared memory, for parallel workers).
    users: Vec<String>,
    counters: Vec<PathBuf>,
}

/// `--home`: the user whose home holds each module's per-user file. Created (useradd) by the
/// parent process for the run, with its home in the scratch directory, and removed at the end.
#[derive(Clone, Debug)]
struct Home {
    user: String,
    dir: PathBuf,
    uid: u32,
    gid: u32,
}

impl Home {
    fn lookup(user: &str, dir: PathBuf) -> Home {
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
    fn create(scratch: &Path) -> Home {
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

    fn give(&self, path: &Path) {
        std::os::unix::fs::chown(path, Some(self.uid), Some(self.gid)).unwrap();
    }
}

/// Removes the `--home` user when the run ends, also when it fails.
struct RemoveUser(String);

impl Drop for RemoveUser {
    fn drop(&mut self) {
        let _ = Command::new("userdel").arg(&self.0).status();
    }
}

fn write_private(path: &Path, text: &str) {
    let _ = fs::remove_file(path);
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
    f.write_all(text.as_bytes()).unwrap();
}

fn private_dir(path: &Path) -> PathBuf {
    fs::create_dir_all(path).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(0o700)).unwrap();
    path.to_path_buf()
}

fn me() -> String {
    // SAFETY: getpwuid returns a pointer to static storage or NULL; copied at once.
    unsafe {
        let pw = libc::getpwuid(libc::geteuid());
        assert!(!pw.is_null(), "the current uid has no passwd entry");
        std::ffi::CStr::from_ptr((*pw).pw_name)
            .to_string_lossy()
            .into_owned()
    }
}

/// Up to `n` accounts with distinct uids from /etc/passwd (pam_otp keys state by uid).
fn accounts(n: usize) -> Vec<String> {
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
    fn at(module: &Module, dir: &Path, users: &[String]) -> Target {
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
    fn create(module: &Module, dir: &Path, users: &[String], extra: &str) -> Target {
        Target::create_in(module, dir, users, extra, None)
    }

    /// As `create`; with `home`, for its user alone, each module's file in that home.
    fn create_in(
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

    fn login(&self, user: usize, answer: &str) -> c_int {
        login(&self.confdir, &self.service, &self.users[user], answer)
    }
}

/// A counter in a small file shared by every process that maps it.
struct SharedCounter(*mut AtomicU64);

impl SharedCounter {
    fn open(path: &Path) -> SharedCounter {
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
    fn take(&self) -> u64 {
        // SAFETY: `self.0` points at a live, aligned, shared mapping (see `open`).
        unsafe { (*self.0).fetch_add(1, Ordering::SeqCst) }
    }
}

// ---------------------------------------------------------------------------------------
// Statistics

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let idx = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[idx]
}

struct Series {
    samples: Vec<f64>, // µs
}

impl Series {
    fn sorted(&self) -> Vec<f64> {
        let mut s = self.samples.clone();
        s.sort_by(|a, b| a.partial_cmp(b).unwrap());
        s
    }
    fn median(&self) -> f64 {
        percentile(&self.sorted(), 0.5)
    }
}

/// Whether a module's file is still mapped in this process (it must not be, after pam_end).
fn still_loaded(module: &Module) -> bool {
    let maps = fs::read_to_string("/proc/self/maps").unwrap_or_default();
    let name = module
        .path
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    maps.lines().any(|l| l.ends_with(&name))
}

// ---------------------------------------------------------------------------------------
// Commands

struct Options {
    module: PathBuf,
    dir: PathBuf,
    logins: usize,
    procs: Vec<usize>,
    per_proc: usize,
    /// Module names to include (all when empty); pam_permit is always kept as the floor.
    only: Vec<String>,
    /// A second build of pam_otp.so, measured as "pam_otp-B" beside the first (A/B).
    compare: Option<PathBuf>,
    /// `--home`: per-user files in this user's home.
    home: Option<Home>,
}

impl Options {
    /// The user every latency/once login is for.
    fn login_user(&self) -> String {
        self.home.as_ref().map_or_else(me, |h| h.user.clone())
    }
}

fn find_system_module(name: &str) -> Option<PathBuf> {
    let mut dirs = vec![
        PathBuf::from("/lib/security"),
        PathBuf::from("/usr/lib64/security"),
    ];
    for base in ["/lib", "/usr/lib"] {
        if let Ok(entries) = fs::read_dir(base) {
            for e in entries.flatten() {
                dirs.push(e.path().join("security"));
            }
        }
        dirs.push(PathBuf::from(base).join("security"));
    }
    dirs.into_iter().map(|d| d.join(name)).find(|p| p.exists())
}

fn modules(opts: &Options) -> Vec<Module> {
    let mut out = Vec::new();
    let permit = find_system_module("pam_permit.so").expect("pam_permit.so not found");
    out.push(Module {
        kind: Kind::Permit,
        name: "pam_permit",
        path: permit,
    });
    assert!(
        opts.module.exists(),
        "{} not found: build it with cargo build --release",
        opts.module.display()
    );
    out.push(Module {
        kind: Kind::Otp,
        name: "pam_otp",
        path: fs::canonicalize(&opts.module).unwrap(),
    });
    if let Some(path) = &opts.compare {
        out.push(Module {
            kind: Kind::Otp,
            name: "pam_otp-B",
            path: path.clone(),
        });
    }
    for (kind, name, file, package) in [
        (Kind::Oath, "pam_oath", "pam_oath.so", "libpam-oath"),
        (
            Kind::Google,
            "pam_google_authenticator",
            "pam_google_authenticator.so",
            "libpam-google-authenticator",
        ),
    ] {
        match find_system_module(file) {
            Some(path) => out.push(Module { kind, name, path }),
            None => eprintln!("{file} not found (Debian package {package}): left out"),
        }
    }
    out.retain(|m| {
        m.kind == Kind::Permit || opts.only.is_empty() || opts.only.iter().any(|o| o == m.name)
    });
    out
}

/// Logins per block: each block runs in a fresh process (see `latency`).
const BLOCK: usize = 50;

/// Median µs per login for each module on the success path and the wrong-code path.
///
/// Logins are measured in blocks of BLOCK, each block in a fresh `pam-bench block` process
/// (as each sudo, and each sshd connection, is a process of its own), modules taking turns
/// in rotating order so that drift in the machine's load falls on every module alike. A
/// fresh process per block also keeps one module's after-effects in the host process (heap
/// growth, a leak) from being charged to the next module.
fn latency(opts: &Options) {
    let mods = modules(opts);
    let user = vec![opts.login_user()];
    let rounds = opts.logins.div_ceil(BLOCK);
    println!("### Latency: one login per PAM transaction\n");
    println!(
        "{} logins per module and path, in blocks of {BLOCK}, each block in a fresh process \
         after one unmeasured warm-up login; modules take turns block by block.\n",
        rounds * BLOCK
    );
    let mut results: Vec<(&str, Vec<(String, Series)>)> = Vec::new();
    for path in ["success", "wrong"] {
        for m in &mods {
            Target::create_in(
                m,
                &opts.dir.join(format!("latency-{path}-{}", m.name)),
                &user,
                "",
                opts.home.as_ref(),
            );
        }
        let mut series: Vec<Series> = mods.iter().map(|_| Series { samples: vec![] }).collect();
        for round in 0..rounds {
            for k in 0..mods.len() {
                let i = (round + k) % mods.len();
                series[i].samples.extend(run_block(opts, &mods[i], path));
            }
        }
        results.push((
            path,
            mods.iter()
                .map(|m| m.name.to_string())
                .zip(series)
                .collect(),
        ));
    }

    println!("| path | module | median µs | p10 µs | p90 µs | above floor µs | × pam_otp's cost above floor |");
    println!("|---|---|---:|---:|---:|---:|---:|");
    let mut summary = Vec::new();
    for (path, series) in &results {
        let floor = series[0].1.median();
        let otp_above = series
            .iter()
            .find(|(n, _)| n == "pam_otp")
            .map(|(_, s)| s.median() - floor);
        for (name, s) in series {
            let sorted = s.sorted();
            let above = s.median() - floor;
            let ratio = match otp_above {
                Some(otp) if name != "pam_permit" => format!("{:.2}", above / otp),
                _ => "—".to_string(),
            };
            println!(
                "| {} | {name} | {:.0} | {:.0} | {:.0} | {} | {ratio} |",
                if *path == "success" {
                    "HOTP success"
                } else {
                    "wrong code"
                },
                s.median(),
                percentile(&sorted, 0.1),
                percentile(&sorted, 0.9),
                if name == "pam_permit" {
                    "(floor)".to_string()
                } else {
                    format!("{above:.0}")
                },
            );
            summary.push((path.to_string(), name.clone(), above));
        }
    }
    println!();
    let above = |path: &str, name: &str| {
        summary
            .iter()
            .find(|(p, n, _)| p == path && n == name)
            .map(|(_, _, a)| *a)
    };
    for path in ["success", "wrong"] {
        let Some(otp) = above(path, "pam_otp") else {
            continue;
        };
        let mut parts = vec![format!("pam_otp {otp:.0} µs above the floor")];
        if let Some(oath) = above(path, "pam_oath") {
            parts.push(format!(
                "{:.2} of pam_oath's (target ≤ 0.50: {})",
                otp / oath,
                if otp <= oath / 2.0 { "met" } else { "not met" }
            ));
        }
        if let Some(ga) = above(path, "pam_google_authenticator") {
            parts.push(format!(
                "{:.2} of pam_google_authenticator's (target ≤ 0.20: {})",
                otp / ga,
                if otp <= ga / 5.0 { "met" } else { "not met" }
            ));
        }
        println!(
            "- {}: {}.",
            if path == "success" {
                "HOTP success path"
            } else {
                "Wrong-code path"
            },
            parts.join("; ")
        );
    }
    println!("- Every module was unloaded by each `pam_end` (checked in /proc/self/maps).\n");
}

/// Runs one block of `module` on `path` in a fresh process; returns its timings in µs.
fn run_block(opts: &Options, module: &Module, path: &str) -> Vec<f64> {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["block", module.name, path, &BLOCK.to_string()])
        .args(opts.child_args())
        .stderr(Stdio::inherit())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "block of {} on {path} failed",
        module.name
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .map(|v| v.parse().unwrap())
        .collect()
}

/// The child side of `run_block`: one warm-up login, then `count` measured ones, printed in µs.
fn block(opts: &Options, which: &str, path: &str, count: usize) {
    let m = module_named(opts, which);
    let t = Target::at(
        &m,
        &opts.dir.join(format!("latency-{path}-{}", m.name)),
        &[opts.login_user()],
    );
    let counter = SharedCounter::open(&t.counters[0]);
    let wrong = wrong_code();
    let fresh = || {
        if m.kind == Kind::Permit {
            String::new()
        } else {
            hotp(counter.take())
        }
    };
    // pam_otp counts wrong codes and locks the account after 5 (its default); an unmeasured
    // correct login before every 4 wrong ones keeps each measured login a plain wrong code.
    let reset = |n: usize| {
        if path == "wrong" && m.kind == Kind::Otp && n.is_multiple_of(4) {
            assert_eq!(t.login(0, &fresh()), PAM_SUCCESS, "pam_otp reset login");
        }
    };
    reset(0);
    let answer = if path == "success" {
        fresh()
    } else {
        wrong.clone()
    };
    t.login(0, &answer); // warm-up: first use of the files in this process
    let mut samples = Vec::with_capacity(count);
    for n in 0..count {
        reset(n + 1);
        let answer = if path == "success" {
            fresh()
        } else {
            wrong.clone()
        };
        let started = Instant::now();
        let rc = t.login(0, &answer);
        samples.push(started.elapsed().as_secs_f64() * 1e6);
        let expect_ok = path == "success" || m.kind == Kind::Permit;
        assert_eq!(
            rc == PAM_SUCCESS,
            expect_ok,
            "{} on the {path} path returned {rc}",
            m.name
        );
    }
    assert!(!still_loaded(&m), "{} stayed loaded after pam_end", m.name);
    let text: Vec<String> = samples.iter().map(|s| format!("{s:.1}")).collect();
    println!("{}", text.join(" "));
}

fn module_named(opts: &Options, which: &str) -> Module {
    modules(opts)
        .into_iter()
        .find(|m| m.name == which)
        .unwrap_or_else(|| panic!("unknown or missing module {which}"))
}

/// Logins per second with P processes at once, over distinct users and over one user.
fn parallel(opts: &Options) {
    let mods = modules(opts);
    let max = *opts.procs.iter().max().unwrap();
    let users = accounts(max);
    println!(
        "### Parallel logins: P processes at once, {} logins each\n",
        opts.per_proc
    );
    println!(
        "Each process is a fresh `pam-bench worker`; all start together. *Distinct users*: \
         process i logs in as its own user. *One user*: every process logs in as the same user, \
         taking the next HOTP counter from a shared counter, so concurrent codes may reach the \
         module out of order: an HOTP module then refuses the older one (counted in \
         *accepted*). logins/s counts every completed transaction; *scaling* is logins/s over \
         that of one process.\n"
    );
    print!("| module | users |");
    for p in &opts.procs {
        print!(" P={p} logins/s |");
    }
    for p in &opts.procs {
        print!(" P={p} accepted |");
    }
    println!(" scaling at P={max} |");
    print!("|---|---|");
    for _ in 0..opts.procs.len() * 2 + 1 {
        print!("---:|");
    }
    println!();
    for m in &mods {
        for mode in ["distinct", "one"] {
            let target_users: Vec<String> = match mode {
                "distinct" => users.clone(),
                _ => vec![users[0].clone()],
            };
            let t = Target::create(
                m,
                &opts.dir.join(format!("parallel-{mode}-{}", m.name)),
                &target_users,
                "max_failures=100",
            );
            let mut rates = Vec::new();
            let mut accepted = Vec::new();
            for &p in &opts.procs {
                let (rate, acc) = run_workers(&t, p, opts.per_proc, mode == "one");
                rates.push(rate);
                accepted.push(acc);
            }
            print!(
                "| {} | {} |",
                m.name,
                if mode == "one" { "one" } else { "distinct" }
            );
            for r in &rates {
                print!(" {r:.0} |");
            }
            for a in &accepted {
                print!(" {:.1} % |", a * 100.0);
            }
            println!(" {:.2}× |", rates.last().unwrap() / rates[0]);
        }
    }
    println!();
}

fn run_workers(t: &Target, procs: usize, per_proc: usize, one_user: bool) -> (f64, f64) {
    let exe = std::env::current_exe().unwrap();
    let mut children = Vec::new();
    for i in 0..procs {
        let user = if one_user { 0 } else { i };
        let mut c = Command::new(&exe)
            .arg("worker")
            .arg(&t.confdir)
            .arg(&t.service)
            .arg(&t.users[user])
            .arg(&t.counters[user])
            .arg(per_proc.to_string())
            .arg(if t.kind == Kind::Permit {
                "permit"
            } else {
                "otp"
            })
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut out = BufReader::new(c.stdout.take().unwrap());
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "ready");
        children.push((c, out));
    }
    let started = Instant::now();
    for (c, _) in &mut children {
        c.stdin.take().unwrap().write_all(b"go\n").unwrap();
    }
    let mut ok = 0u64;
    let mut total = 0u64;
    for (mut c, mut out) in children {
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        let f: Vec<u64> = line
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        assert_eq!(f.len(), 2, "worker said {line:?}");
        ok += f[0];
        total += f[1];
        assert!(c.wait().unwrap().success());
    }
    let wall = started.elapsed().as_secs_f64();
    (total as f64 / wall, ok as f64 / total as f64)
}

fn worker(args: &[String]) {
    let [confdir, service, user, counter, count, kind] = args else {
        panic!("worker CONFDIR SERVICE USER COUNTERFILE COUNT KIND");
    };
    let counter = SharedCounter::open(Path::new(counter));
    let count: usize = count.parse().unwrap();
    println!("ready");
    std::io::stdout().flush().unwrap();
    let mut go = String::new();
    std::io::stdin().read_line(&mut go).unwrap();
    let mut ok = 0;
    for _ in 0..count {
        let answer = if kind == "permit" {
            String::new()
        } else {
            hotp(counter.take())
        };
        if login(Path::new(confdir), service, user, &answer) == PAM_SUCCESS {
            ok += 1;
        }
    }
    println!("{ok} {count}");
}

fn rss_kib() -> u64 {
    fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap()
}

fn open_fds() -> usize {
    fs::read_dir("/proc/self/fd").unwrap().count()
}

/// Resident memory and open descriptors across many logins in one process.
fn leak(opts: &Options) {
    let mods = modules(opts);
    let n = opts.logins;
    let step = (n / 10).max(1);
    println!("### Leak check: {n} success-path logins in one process, per module\n");
    println!(
        "A fresh process per module; RSS (VmRSS) and open descriptors after {step} warm-up \
         logins (start) and after {n} more (end), sampled every {step}. A module that leaks \
         per login grows linearly here.\n"
    );
    println!("| module | RSS KiB at start | RSS KiB at end | growth KiB | bytes per login | fds at start | fds at end |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for m in &mods {
        Target::create(m, &opts.dir.join(format!("leak-{}", m.name)), &[me()], "");
        let out = Command::new(std::env::current_exe().unwrap())
            .args(["leak-one", m.name])
            .args(opts.child_args())
            .stderr(Stdio::inherit())
            .output()
            .unwrap();
        assert!(out.status.success(), "leak run of {} failed", m.name);
        print!("{}", String::from_utf8_lossy(&out.stdout));
    }
    println!();
}

/// The child side of `leak`, for one module.
fn leak_one(opts: &Options, which: &str) {
    let m = module_named(opts, which);
    let t = Target::at(&m, &opts.dir.join(format!("leak-{}", m.name)), &[me()]);
    let counter = SharedCounter::open(&t.counters[0]);
    let n = opts.logins;
    let step = (n / 10).max(1);
    let run = |k: usize| {
        for _ in 0..k {
            let answer = if m.kind == Kind::Permit {
                String::new()
            } else {
                hotp(counter.take())
            };
            assert_eq!(t.login(0, &answer), PAM_SUCCESS, "{} leak run", m.name);
        }
    };
    run(step);
    let (rss0, fds0) = (rss_kib(), open_fds());
    let mut samples = Vec::new();
    for _ in 0..n / step {
        run(step);
        samples.push((rss_kib(), open_fds()));
    }
    let (rss1, fds1) = *samples.last().unwrap();
    let growth = rss1 as i64 - rss0 as i64;
    println!(
        "| {} | {rss0} | {rss1} | {growth} | {:.0} | {fds0} | {fds1} |",
        m.name,
        growth as f64 * 1024.0 / n as f64
    );
    let open: Vec<String> = fs::read_dir("/proc/self/fd")
        .unwrap()
        .flatten()
        .filter_map(|e| fs::read_link(e.path()).ok())
        .map(|t| t.display().to_string())
        .collect();
    eprintln!(
        "{}: RSS KiB every {step} logins: {:?}; fds: {:?}; open at the end: {open:?}",
        m.name,
        samples.iter().map(|s| s.0).collect::<Vec<_>>(),
        samples.iter().map(|s| s.1).collect::<Vec<_>>()
    );
}

/// COUNT success-path logins of one module, nothing else (for `strace -c`).
fn once(opts: &Options, which: &str, count: usize) {
    let m = module_named(opts, which);
    let t = Target::create_in(
        &m,
        &opts.dir.join(format!("once-{}", m.name)),
        &[opts.login_user()],
        "",
        opts.home.as_ref(),
    );
    let counter = SharedCounter::open(&t.counters[0]);
    for _ in 0..count {
        let answer = if m.kind == Kind::Permit {
            String::new()
        } else {
            hotp(counter.take())
        };
        assert_eq!(t.login(0, &answer), PAM_SUCCESS);
    }
}

/// What one durable save costs on the scratch directory's disk, by the two designs DESIGN.md
/// compares: in place (pwrite of one slot + fdatasync, as pam_otp's store does) and by
/// temporary file + fsync + rename + fsync of the directory (what a rewrite-the-file
/// design needs to be durable).
fn disk(opts: &Options) {
    use std::os::unix::fs::FileExt;
    let n = opts.logins.max(1);
    let dir = private_dir(&opts.dir.join("disk"));
    let slot = [0x5au8; 77];
    let file = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(dir.join("inplace"))
        .unwrap();
    file.write_all_at(&[0u8; 8192], 0).unwrap();
    file.sync_all().unwrap();
    let dirfd = fs::File::open(&dir).unwrap();
    let image = [0x33u8; 8192];
    let mut inplace = Series { samples: vec![] };
    let mut rename = Series { samples: vec![] };
    for i in 0..n {
        let started = Instant::now();
        file.write_all_at(&slot, (i % 2 * 4096) as u64).unwrap();
        file.sync_data().unwrap();
        inplace.samples.push(started.elapsed().as_secs_f64() * 1e6);

        let started = Instant::now();
        let temp = dir.join("state.new");
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temp)
            .unwrap();
        f.write_all(&image).unwrap();
        f.sync_all().unwrap();
        fs::rename(&temp, dir.join("state")).unwrap();
        dirfd.sync_all().unwrap();
        rename.samples.push(started.elapsed().as_secs_f64() * 1e6);
    }
    println!("### One durable save on this disk ({n} of each, interleaved)\n");
    println!("| design | median µs | p10 µs | p90 µs |");
    println!("|---|---:|---:|---:|");
    for (name, s) in [
        ("in place: pwrite one slot + fdatasync (pam_otp)", &inplace),
        (
            "temporary file + fsync + rename + fsync of the directory",
            &rename,
        ),
    ] {
        let sorted = s.sorted();
        println!(
            "| {name} | {:.0} | {:.0} | {:.0} |",
            s.median(),
            percentile(&sorted, 0.1),
            percentile(&sorted, 0.9)
        );
    }
    println!();
}

/// Gives this process (and its children) a private /dev in which /dev/log is a socket this
/// program drains, when run as root on a machine without a syslog daemon.
///
/// Without a listener on /dev/log, glibc's syslog() falls back to writing every message to
/// /dev/console when the caller asked for LOG_CONS (pam_google_authenticator does); on a
/// virtual machine's serial console that costs milliseconds and steals CPU from everything
/// else, which no production host (journald, rsyslog) pays. A private mount namespace leaves
/// the rest of the machine untouched. Returns the number of messages received, as a counter.
fn private_dev_log(scratch: &Path, tmpfs: bool) -> Option<std::sync::Arc<AtomicU64>> {
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

impl Options {
    /// The options a child process needs to find the same module and scratch directory.
    fn child_args(&self) -> Vec<String> {
        let mut args = vec![
            "--module".into(),
            self.module.display().to_string(),
            "--exact-dir".into(),
            self.dir.display().to_string(),
            "--logins".into(),
            self.logins.to_string(),
        ];
        if let Some(b) = &self.compare {
            args.extend(["--compare".into(), b.display().to_string()]);
        }
        if let Some(h) = &self.home {
            args.extend(["--home-user".into(), h.user.clone()]);
        }
        args
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("worker") {
        return worker(&args[1..]);
    }
    let mut opts = Options {
        module: PathBuf::from("target/release/libpam_otp.so"),
        dir: std::env::var_os("TMPDIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/var/tmp")),
        logins: 0,
        procs: vec![1, 2, 4, 8],
        per_proc: 500,
        only: Vec::new(),
        compare: None,
        home: None,
    };
    let mut exact_dir = false;
    let mut tmpfs = false;
    let mut home = false;
    let mut home_user = None;
    let mut positional = Vec::new();
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{a} needs a value"));
        match a.as_str() {
            "--module" => opts.module = fs::canonicalize(value()).expect("--module path"),
            "--dir" => opts.dir = PathBuf::from(value()),
            "--exact-dir" => {
                opts.dir = PathBuf::from(value());
                exact_dir = true;
            }
            "--logins" => opts.logins = value().parse().unwrap(),
            "--tmpfs" => tmpfs = true,
            "--home" => home = true,
            "--home-user" => home_user = Some(value()),
            "--compare" => opts.compare = Some(fs::canonicalize(value()).expect("--compare path")),
            "--logins-per-proc" => opts.per_proc = value().parse().unwrap(),
            "--only" => opts.only = value().split(',').map(str::to_string).collect(),
            "--procs" => {
                opts.procs = value().split(',').map(|p| p.parse().unwrap()).collect();
            }
            _ => positional.push(a),
        }
    }
    let command = positional.first().cloned().unwrap_or_default();
    if let Some(user) = &home_user {
        opts.home = Some(Home::lookup(user, opts.dir.join("home")));
    }
    // Child processes of this program work in their parent's directory.
    match command.as_str() {
        "block" => {
            let count = positional[3].parse().unwrap();
            return block(&opts, &positional[1], &positional[2], count);
        }
        "leak-one" => return leak_one(&opts, &positional[1]),
        _ => {}
    }
    assert!(
        !exact_dir,
        "--exact-dir is for the program's own child processes"
    );
    // A scratch directory of our own, removed at the end.
    opts.dir = opts.dir.join(format!("pam-bench.{}", std::process::id()));
    private_dir(&opts.dir);
    let sink = private_dev_log(&opts.dir, tmpfs);
    if home {
        assert!(
            matches!(command.as_str(), "latency" | "once"),
            "--home is for latency and once"
        );
        // SAFETY: geteuid has no preconditions.
        assert_eq!(unsafe { libc::geteuid() }, 0, "--home needs root (useradd)");
        opts.home = Some(Home::create(&opts.dir));
    }
    let remove_user = opts.home.as_ref().map(|h| RemoveUser(h.user.clone()));
    let started = Instant::now();
    match command.as_str() {
        "latency" => {
            if opts.logins == 0 {
                opts.logins = 2000;
            }
            latency(&opts);
        }
        "parallel" => parallel(&opts),
        "disk" => {
            if opts.logins == 0 {
                opts.logins = 1000;
            }
            disk(&opts);
        }
        "leak" => {
            if opts.logins == 0 {
                opts.logins = 10_000;
            }
            leak(&opts);
        }
        "once" => {
            let which = positional.get(1).expect("once MODULE COUNT");
            let count = positional.get(2).and_then(|c| c.parse().ok()).unwrap_or(1);
            once(&opts, which, count);
        }
        _ => {
            eprintln!("usage: pam-bench latency|parallel|leak|once ... (see the source's header)");
            std::process::exit(2);
        }
    }
    match sink {
        Some(n) => eprintln!(
            "({:.1} s; {} syslog messages to a private /dev/log)",
            started.elapsed().as_secs_f64(),
            n.load(Ordering::Relaxed)
        ),
        None => eprintln!("({:.1} s)", started.elapsed().as_secs_f64()),
    }
    drop(remove_user);
    if tmpfs {
        // The tmpfs goes with this process's mount namespace; the directory under it stays.
        let dir = CString::new(opts.dir.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a live C string; MNT_DETACH has no other precondition.
        unsafe { libc::umount2(dir.as_ptr(), libc::MNT_DETACH) };
    }
    let _ = fs::remove_dir_all(&opts.dir);
}
