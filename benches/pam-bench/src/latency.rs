//! `latency` (and its child `block`): median µs per login on the success and wrong-code paths.

use std::process::{Command, Stdio};
use std::time::Instant;

use pam_otp_testkit::pam_ffi::PAM_SUCCESS;

use crate::codes::{hotp, wrong_code};
use crate::setup::{Kind, Module, SharedCounter, Target};
use crate::stats::{percentile, still_loaded, Series};
use crate::{modules, Options};

/// Logins per block: each block runs in a fresh process (see `latency`).
pub(crate) const BLOCK: usize = 50;

/// Median µs per login for each module on the success path and the wrong-code path.
///
/// Logins are measured in blocks of BLOCK, each block in a fresh `pam-bench block` process
/// (as each sudo, and each sshd connection, is a process of its own), modules taking turns
/// in rotating order so that drift in the machine's load falls on every module alike. A
/// fresh process per block also keeps one module's after-effects in the host process (heap
/// growth, a leak) from being charged to the next module.
pub(crate) fn latency(opts: &Options) {
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
pub(crate) fn run_block(opts: &Options, module: &Module, path: &str) -> Vec<f64> {
    run_block_cpu(opts, module, path).0
}

/// As `run_block`, with the CPU seconds (user + system) the block's process spent in its
/// measured logins (`block_logins` transactions).
pub(crate) fn run_block_cpu(opts: &Options, module: &Module, path: &str) -> (Vec<f64>, f64) {
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
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    let samples = lines
        .next()
        .unwrap()
        .split_whitespace()
        .map(|v| v.parse().unwrap())
        .collect();
    (samples, lines.next().unwrap().trim().parse().unwrap())
}

/// The PAM transactions of a block's measured loop: `count` logins and, on the wrong-code
/// path, pam_otp's unmeasured correct login before every 4 wrong ones.
pub(crate) fn block_logins(path: &str, kind: Kind, count: usize) -> usize {
    if path == "wrong" && kind == Kind::Otp {
        count + count / 4
    } else {
        count
    }
}

/// User + system CPU of this process so far, in seconds.
pub(crate) fn own_cpu() -> f64 {
    // SAFETY: getrusage writes into the zeroed struct we own.
    let u = unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut u);
        u
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(u.ru_utime) + secs(u.ru_stime)
}

/// The child side of `run_block`: one warm-up login, then `count` measured ones, printed in µs.
pub(crate) fn block(opts: &Options, which: &str, path: &str, count: usize) {
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
    let cpu = own_cpu();
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
    let cpu = own_cpu() - cpu;
    assert!(!still_loaded(&m), "{} stayed loaded after pam_end", m.name);
    let text: Vec<String> = samples.iter().map(|s| format!("{s:.1}")).collect();
    println!("{}", text.join(" "));
    println!("{cpu:.6}");
}

pub(crate) fn module_named(opts: &Options, which: &str) -> Module {
    modules(opts)
        .into_iter()
        .chain(crate::redis::variant_modules(opts))
        .find(|m| m.name == which)
        .unwrap_or_else(|| panic!("unknown or missing module {which}"))
}
