//! `load` (and its child `load-block`): what loading and unloading each module costs by
//! itself — `dlopen(RTLD_NOW)` + `dlclose`, as libpam does in every `pam_start`/`pam_end` —
//! with the file's size, its mapped size and the page faults of one load.
//!
//! libpam loads every module of a service when the transaction starts and unloads it at the
//! end, and sshd runs each connection's PAM transaction in a process of its own, so this cost
//! is paid by every login (it is part of every latency table's numbers, this isolates it).

use std::ffi::CString;
use std::fs;
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::latency::module_named;
use crate::setup::Module;
use crate::stats::{percentile, still_loaded, Series};
use crate::{modules, Options};

/// Loads per block (each block in a fresh process, after its first load, measured apart).
const BLOCK: usize = 50;

/// What one block reports: the first load in the fresh process, then the later ones, and the
/// minor page faults of each, and the module's mapped size while loaded.
struct BlockResult {
    first: f64,
    samples: Vec<f64>,
    faults: Vec<f64>,
    mapped_kib: u64,
}

pub(crate) fn load(opts: &Options) {
    let mods = modules(opts);
    let rounds = opts.logins.div_ceil(BLOCK);
    println!("### Module load: dlopen + dlclose\n");
    println!(
        "`dlopen(path, RTLD_NOW)` then `dlclose`, as libpam loads a module in `pam_start` and \
         unloads it in `pam_end`, {} times per module in blocks of {BLOCK}, each block in a \
         fresh process (modules taking turns); *first* is the first load in each fresh process \
         (what a new sshd connection process pays; the files are in the page cache), *again* \
         the later ones. *Faults* are minor page faults (getrusage) per load; *mapped* is the \
         size of the module's own mappings while loaded (libraries it pulls in not counted). \
         The benchmark's process already has libc and libpam loaded, as sshd has.\n",
        rounds * BLOCK
    );
    let mut results: Vec<(Series, Series, Series, u64)> = mods
        .iter()
        .map(|_| {
            (
                Series { samples: vec![] },
                Series { samples: vec![] },
                Series { samples: vec![] },
                0,
            )
        })
        .collect();
    for round in 0..rounds {
        for k in 0..mods.len() {
            let i = (round + k) % mods.len();
            let r = run_load_block(opts, &mods[i]);
            results[i].0.samples.push(r.first);
            results[i].1.samples.extend(r.samples);
            results[i].2.samples.extend(r.faults);
            results[i].3 = r.mapped_kib;
        }
    }
    println!(
        "| module | file KiB | mapped KiB | first µs (median) | again µs (median) | again p10 µs | \
         again p90 µs | faults per load | first, above pam_permit µs |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    let floor = results[0].0.median();
    for (m, (first, again, faults, mapped)) in mods.iter().zip(&results) {
        let sorted = again.sorted();
        println!(
            "| {} | {} | {mapped} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} | {} |",
            m.name,
            fs::metadata(&m.path).unwrap().len() / 1024,
            first.median(),
            again.median(),
            percentile(&sorted, 0.1),
            percentile(&sorted, 0.9),
            faults.median(),
            if m.name == "pam_permit" {
                "(floor)".to_string()
            } else {
                format!("{:.0}", first.median() - floor)
            },
        );
    }
    println!();
}

fn run_load_block(opts: &Options, module: &Module) -> BlockResult {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["load-block", module.name, &BLOCK.to_string()])
        .args(opts.child_args())
        .stderr(Stdio::inherit())
        .output()
        .unwrap();
    assert!(out.status.success(), "load block of {} failed", module.name);
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    let mut numbers = || -> Vec<f64> {
        lines
            .next()
            .unwrap()
            .split_whitespace()
            .map(|v| v.parse().unwrap())
            .collect()
    };
    let head = numbers();
    BlockResult {
        first: head[0],
        mapped_kib: head[1] as u64,
        samples: numbers(),
        faults: numbers(),
    }
}

fn minor_faults() -> i64 {
    // SAFETY: getrusage writes into the zeroed struct we own.
    unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut u);
        u.ru_minflt
    }
}

/// Loads and unloads once: µs and minor faults of the two calls, and (with `measure_map`)
/// the mapped KiB while loaded, read between them and not counted.
fn load_once(m: &Module, path: &CString, measure_map: bool) -> (f64, i64, u64) {
    let f0 = minor_faults();
    let started = Instant::now();
    // SAFETY: a live C string; the handle is closed below and nothing of the module is used.
    let handle = unsafe { libc::dlopen(path.as_ptr(), libc::RTLD_NOW) };
    let opened = started.elapsed();
    let f1 = minor_faults();
    assert!(!handle.is_null(), "dlopen {} failed", m.path.display());
    let mapped = if measure_map { mapped_kib(m) } else { 0 };
    let f2 = minor_faults();
    let closing = Instant::now();
    // SAFETY: the handle from dlopen above, closed once.
    let rc = unsafe { libc::dlclose(handle) };
    let closed = closing.elapsed();
    let f3 = minor_faults();
    assert_eq!(rc, 0, "dlclose {}", m.path.display());
    (
        (opened + closed).as_secs_f64() * 1e6,
        (f1 - f0) + (f3 - f2),
        mapped,
    )
}

/// The size of the module file's mappings in this process.
fn mapped_kib(m: &Module) -> u64 {
    let name = m.path.to_string_lossy().into_owned();
    fs::read_to_string("/proc/self/maps")
        .unwrap()
        .lines()
        .filter(|l| l.ends_with(&name))
        .map(|l| {
            let range = l.split_whitespace().next().unwrap();
            let (a, b) = range.split_once('-').unwrap();
            (u64::from_str_radix(b, 16).unwrap() - u64::from_str_radix(a, 16).unwrap()) / 1024
        })
        .sum()
}

/// The child side: the first load, then `count` more; prints "first mapped", the µs of the
/// others, and the faults of the others.
pub(crate) fn load_block(opts: &Options, which: &str, count: usize) {
    let m = module_named(opts, which);
    let path = CString::new(m.path.as_os_str().as_encoded_bytes()).unwrap();
    let (first, _, mapped) = load_once(&m, &path, true);
    let mut samples = Vec::with_capacity(count);
    let mut faults = Vec::with_capacity(count);
    for _ in 0..count {
        let (us, f, _) = load_once(&m, &path, false);
        samples.push(format!("{us:.1}"));
        faults.push(f.to_string());
    }
    assert!(!still_loaded(&m), "{} stayed loaded after dlclose", m.name);
    println!("{first:.1} {mapped}");
    println!("{}", samples.join(" "));
    println!("{}", faults.join(" "));
}
