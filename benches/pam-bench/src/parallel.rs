//! `parallel` (and its child `worker`): logins per second with N processes.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use pam_otp_testkit::pam_ffi::PAM_SUCCESS;

use crate::codes::hotp;
use crate::login;
use crate::setup::{accounts, Kind, SharedCounter, Target};
use crate::{modules, Options};

/// Logins per second with P processes at once, over distinct users and over one user.
pub(crate) fn parallel(opts: &Options) {
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

pub(crate) fn run_workers(t: &Target, procs: usize, per_proc: usize, one_user: bool) -> (f64, f64) {
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

pub(crate) fn worker(args: &[String]) {
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
