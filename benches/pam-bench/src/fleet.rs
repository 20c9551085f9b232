//! `fleet` (and its child `fleet-worker`): K "hosts" — processes, each loading the module for
//! every login as a fresh sshd connection does — making P logins each against one Redis
//! primary, over distinct users and over one user: logins/s, p50/p99 of one login, and what
//! the primary spent per login (CPU from `INFO`, commands, connections).

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use pam_otp_testkit::pam_ffi::PAM_SUCCESS;

use crate::codes::hotp;
use crate::login;
use crate::redis::{describe, variant_modules, Counters, RedisPair};
use crate::setup::{accounts, Module, SharedCounter, Target};
use crate::stats::percentile;
use crate::Options;

/// One cell of the table, summed over its rounds.
#[derive(Default)]
struct Cell {
    rates: Vec<f64>,
    samples: Vec<f64>, // µs
    ok: u64,
    total: u64,
    spent: Counters,
    busy: f64, // wall seconds the runs took
}

pub(crate) fn fleet(opts: &Options, appendfsync: &str, rounds: usize) {
    let redis = RedisPair::start(appendfsync);
    let mods: Vec<Module> = variant_modules(opts)
        .into_iter()
        .filter(|m| opts.only.is_empty() || opts.only.iter().any(|o| o == m.name))
        .collect();
    let max = *opts.procs.iter().max().unwrap();
    let users = accounts(max);
    println!(
        "### Fleet: K hosts × {} logins against one Redis\n",
        opts.per_proc
    );
    println!(
        "Each host is a fresh `pam-bench fleet-worker` process making its logins one after the \
         other, each a whole PAM transaction (the module loaded, one connection to Redis, \
         unloaded), as each sshd connection is; all K start together and share one Redis \
         primary on 127.0.0.1 (`appendfsync {appendfsync}`; one replica, for `WAIT 1`). \
         *Distinct users*: host i logs in as user i. *One user*: every host logs in as the same \
         user, taking the next HOTP counter from a shared counter, so every save races on one \
         key (check-and-set, retried on conflict) and codes may arrive out of order (refused: \
         *accepted*). pam_otp runs with `max_failures=100 hotp_lookahead=20`. {rounds} rounds, \
         cells taking turns; logins/s is the median of the rounds, p50/p99 over every login of \
         every round; *Redis CPU* is the primary's CPU over the whole run (less the `INFO` \
         reads) over the logins, and *Redis busy* that CPU over the run's wall time (100 % = \
         one core: Redis executes commands on one thread).\n"
    );
    let mut cells: Vec<(usize, &str, usize, Cell)> = Vec::new();
    let mut targets = Vec::new();
    for (i, m) in mods.iter().enumerate() {
        for mode in ["distinct", "one"] {
            let target_users = match mode {
                "distinct" => users.clone(),
                _ => vec![users[0].clone()],
            };
            let extra = format!(
                "max_failures=100 hotp_lookahead=20 {}",
                redis.args(m.name, &format!("bench:fleet:{mode}:{}:", m.name))
            );
            let t = Target::create(
                m,
                &opts.dir.join(format!("fleet-{mode}-{}", m.name)),
                &target_users,
                &extra,
            );
            targets.push(t);
            for &k in &opts.procs {
                cells.push((i, mode, k, Cell::default()));
            }
        }
    }
    for round in 0..rounds {
        let n = cells.len();
        for j in 0..n {
            let c = (round + j) % n;
            let (i, mode, k, ref mut cell) = cells[c];
            let t = &targets[i * 2 + usize::from(mode == "one")];
            let before = redis.counters();
            let started = Instant::now();
            let (ok, total, samples) = run_hosts(t, k, opts.per_proc, mode == "one");
            let wall = started.elapsed().as_secs_f64();
            let after = redis.counters();
            cell.spent.add(&redis.spent(&before, &after));
            cell.rates.push(total as f64 / wall);
            cell.busy += wall;
            cell.samples.extend(samples);
            cell.ok += ok;
            cell.total += total;
        }
    }
    println!(
        "| store | users | K | logins/s | p50 ms | p99 ms | accepted | Redis CPU µs per login | \
         Redis busy | commands per login | connections per login |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (i, mode, k, cell) in &mut cells {
        cell.rates.sort_by(|a, b| a.partial_cmp(b).unwrap());
        cell.samples.sort_by(|a, b| a.partial_cmp(b).unwrap());
        let logins = cell.total as f64;
        println!(
            "| {} | {mode} | {k} | {:.0} | {:.2} | {:.2} | {:.1} % | {:.1} | {:.0} % | {:.2} | {:.2} |",
            describe(mods[*i].name),
            percentile(&cell.rates, 0.5),
            percentile(&cell.samples, 0.5) / 1e3,
            percentile(&cell.samples, 0.99) / 1e3,
            cell.ok as f64 * 100.0 / logins,
            cell.spent.cpu * 1e6 / logins,
            cell.spent.cpu * 100.0 / cell.busy,
            cell.spent.commands as f64 / logins,
            cell.spent.connections as f64 / logins,
        );
    }
    println!();
}

/// Starts `hosts` workers, lets them go together, and returns (accepted, logins, µs of each).
fn run_hosts(t: &Target, hosts: usize, per_host: usize, one_user: bool) -> (u64, u64, Vec<f64>) {
    let exe = std::env::current_exe().unwrap();
    let mut children = Vec::new();
    for i in 0..hosts {
        let user = if one_user { 0 } else { i };
        let mut c = Command::new(&exe)
            .arg("fleet-worker")
            .arg(&t.confdir)
            .arg(&t.service)
            .arg(&t.users[user])
            .arg(&t.counters[user])
            .arg(per_host.to_string())
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
    for (c, _) in &mut children {
        c.stdin.take().unwrap().write_all(b"go\n").unwrap();
    }
    let (mut ok, mut total, mut samples) = (0, 0, Vec::new());
    for (mut c, mut out) in children {
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        let f: Vec<u64> = line
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        assert_eq!(f.len(), 2, "fleet-worker said {line:?}");
        ok += f[0];
        total += f[1];
        line.clear();
        out.read_line(&mut line).unwrap();
        samples.extend(line.split_whitespace().map(|v| v.parse::<f64>().unwrap()));
        assert!(c.wait().unwrap().success());
    }
    (ok, total, samples)
}

/// The child side of `run_hosts`: `COUNT` logins one after the other, then "accepted count"
/// and the µs of each login.
pub(crate) fn fleet_worker(args: &[String]) {
    let [confdir, service, user, counter, count] = args else {
        panic!("fleet-worker CONFDIR SERVICE USER COUNTERFILE COUNT");
    };
    let counter = SharedCounter::open(Path::new(counter));
    let count: usize = count.parse().unwrap();
    println!("ready");
    std::io::stdout().flush().unwrap();
    let mut go = String::new();
    std::io::stdin().read_line(&mut go).unwrap();
    let mut ok = 0;
    let mut samples = Vec::with_capacity(count);
    for _ in 0..count {
        let answer = hotp(counter.take());
        let started = Instant::now();
        if login(Path::new(confdir), service, user, &answer) == PAM_SUCCESS {
            ok += 1;
        }
        samples.push(format!("{:.1}", started.elapsed().as_secs_f64() * 1e6));
    }
    println!("{ok} {count}");
    println!("{}", samples.join(" "));
}
