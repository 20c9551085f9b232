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
//! pam-bench store-latency [--logins N] [--appendfsync everysec|always|no-aof]
//!                                         per login: file store, Redis plain/TLS, ± WAIT 1
//! pam-bench fleet [--procs 1,4,16] [--logins-per-proc N] [--rounds N] [--appendfsync …]
//!                                         K host processes × N logins against one Redis
//! pam-bench load [--logins N]             dlopen + dlclose of each module, size, page faults
//! pam-bench delivery [--logins N]         (root) a login with a code sent out of band (helper
//!                                         that delivers at once) beside app-code logins, and
//!                                         its parts: helper spawn, state transaction, code
//! pam-bench providers [--sends N]         (root) one code sent through each provider API
//!                                         (the local fake providers, HTTPS on loopback) by
//!                                         the built pam-otp-deliver as the module starts it
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

// A benchmark, not a host process: a broken assumption should stop the run loudly, so unwrap/expect/panic are fine,
// and it reads the clock as the world outside the module does.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::disallowed_methods
)]

mod codes;
mod delivery;
mod devlog;
mod disk;
mod fleet;
mod latency;
mod leak;
mod load;
mod parallel;
mod providers;
mod redis;
mod setup;
mod stats;
mod store_latency;

use std::ffi::c_int;
use std::ffi::CString;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::Instant;

use pam_otp_testkit::in_process::pam_login;

use delivery::{delivery, delivery_block, delivery_parts};
use devlog::private_dev_log;
use disk::disk;
use fleet::{fleet, fleet_worker};
use latency::{block, latency};
use leak::{leak, leak_one, once};
use load::{load, load_block};
use parallel::{parallel, worker};
use providers::providers;
use setup::{me, private_dir, Home, Kind, Module, RemoveUser};
use store_latency::store_latency;

/// One whole PAM transaction through the test kit (pam_start_confdir, pam_authenticate with
/// the answer typed at every prompt, pam_end), as sshd and sudo run it; pam_authenticate's result.
pub(crate) fn login(confdir: &Path, service: &str, user: &str, answer: &str) -> c_int {
    pam_login(Some(confdir), service, user, answer)
}

/// What the command line asked for; child processes get the same through [`Options::child_args`].
pub(crate) struct Options {
    pub(crate) module: PathBuf,
    pub(crate) dir: PathBuf,
    pub(crate) logins: usize,
    pub(crate) procs: Vec<usize>,
    pub(crate) per_proc: usize,
    /// Module names to include (all when empty); pam_permit is always kept as the floor.
    pub(crate) only: Vec<String>,
    /// A second build of pam_otp.so, measured as "pam_otp-B" beside the first (A/B).
    pub(crate) compare: Option<PathBuf>,
    /// `--home`: per-user files in this user's home.
    pub(crate) home: Option<Home>,
}

impl Options {
    /// The user every latency/once login is for.
    pub(crate) fn login_user(&self) -> String {
        self.home.as_ref().map_or_else(me, |h| h.user.clone())
    }
}

pub(crate) fn find_system_module(name: &str) -> Option<PathBuf> {
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

pub(crate) fn modules(opts: &Options) -> Vec<Module> {
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

impl Options {
    /// The options a child process needs to find the same module and scratch directory.
    pub(crate) fn child_args(&self) -> Vec<String> {
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
    if args.first().map(String::as_str) == Some("fleet-worker") {
        return fleet_worker(&args[1..]);
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
    let mut appendfsync = "everysec".to_string();
    let mut rounds = 3;
    let mut sends = 200;
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
            "--appendfsync" => appendfsync = value(),
            "--rounds" => rounds = value().parse().unwrap(),
            "--sends" => sends = value().parse().unwrap(),
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
        "delivery-block" | "delivery-parts" => {
            let count = positional[2].parse().unwrap();
            return if command == "delivery-block" {
                delivery_block(&opts, &positional[1], count)
            } else {
                delivery_parts(&opts, &positional[1], count)
            };
        }
        "load-block" => {
            let count = positional[2].parse().unwrap();
            return load_block(&opts, &positional[1], count);
        }
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
        "store-latency" => {
            if opts.logins == 0 {
                opts.logins = 2000;
            }
            store_latency(&opts, &appendfsync);
        }
        "fleet" => fleet(&opts, &appendfsync, rounds),
        "load" => {
            if opts.logins == 0 {
                opts.logins = 2000;
            }
            load(&opts);
        }
        "delivery" => {
            if opts.logins == 0 {
                opts.logins = 1000;
            }
            delivery(&opts);
        }
        "providers" => providers(sends),
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
            eprintln!(
                "usage: pam-bench latency|parallel|leak|disk|once|store-latency|fleet|load|delivery|providers ... \
                 (see the source's header)"
            );
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
