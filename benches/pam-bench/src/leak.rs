//! `leak` (and `leak-one`) and `once`: memory and descriptors across many logins; a fixed count of logins for strace.

use std::fs;
use std::process::{Command, Stdio};

use pam_otp_testkit::pam_ffi::PAM_SUCCESS;

use crate::codes::hotp;
use crate::latency::module_named;
use crate::setup::{me, Kind, SharedCounter, Target};
use crate::{modules, Options};

pub(crate) fn rss_kib() -> u64 {
    fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap()
}

pub(crate) fn open_fds() -> usize {
    fs::read_dir("/proc/self/fd").unwrap().count()
}

/// Resident memory and open descriptors across many logins in one process.
pub(crate) fn leak(opts: &Options) {
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
pub(crate) fn leak_one(opts: &Options, which: &str) {
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
pub(crate) fn once(opts: &Options, which: &str, count: usize) {
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
