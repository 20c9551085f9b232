//! `store-latency`: one login with pam_otp's file store and with its Redis store on loopback
//! (plain TCP and TLS, each with and without `WAIT 1`), beside the incumbents, measured as
//! `latency` measures (blocks of logins in fresh processes, modules taking turns); and what
//! the Redis primary spent per login (CPU, commands, connections: `INFO` around each block).

use crate::latency::{block_logins, run_block_cpu, BLOCK};
use crate::redis::{describe, variant_modules, Counters, RedisPair, VARIANTS};
use crate::setup::{Kind, Module, Target};
use crate::stats::{percentile, Series};
use crate::{modules, Options};

/// The PAM transactions a `block` child makes on `path` (its warm-up and, on the wrong-code
/// path, pam_otp's unmeasured correct logins before every 4 wrong ones included).
fn transactions(path: &str) -> usize {
    match path {
        "success" => BLOCK + 1,
        _ => BLOCK + 1 + 1 + BLOCK / 4,
    }
}

pub(crate) fn store_latency(opts: &Options, appendfsync: &str) {
    let redis = RedisPair::start(appendfsync);
    let mut mods: Vec<Module> = modules(opts);
    // The Redis variants right after the file-store build(s).
    let at = mods.iter().rposition(|m| m.kind == Kind::Otp).unwrap() + 1;
    let variants = variant_modules(opts);
    mods.splice(at..at, variants.into_iter().filter(|v| keep(opts, v.name)));
    let user = vec![opts.login_user()];
    let rounds = opts.logins.div_ceil(BLOCK);
    println!("### Per login: file store against Redis on loopback\n");
    println!(
        "{} logins per module and path, measured as in the latency table (blocks of {BLOCK} in \
         fresh processes, modules taking turns). One Redis primary on 127.0.0.1 ({}; \
         `appendfsync {appendfsync}`, a plain and a TLS port, TLS 1.3 with an EC P-256 \
         certificate) and one replica of it for `WAIT 1` (`redis_wait=1`). *Redis CPU* is the \
         primary's `used_cpu_sys + used_cpu_user` over each block (less one `INFO` read) over \
         the block's PAM transactions; *commands* and *connections* are its \
         `total_commands_processed` and `total_connections_received` the same way. *Login \
         process CPU* is the user + system CPU the block's process spent in its measured logins \
         (getrusage) per login, less pam_permit's: what the module costs the host in CPU, \
         where *above floor* is what it costs in time.\n",
        rounds * BLOCK,
        crate::redis::version(),
    );
    let mut rows = Vec::new();
    for path in ["success", "wrong"] {
        for m in &mods {
            let extra = if VARIANTS.contains(&m.name) {
                redis.args(m.name, &format!("bench:{path}:{}:", m.name))
            } else {
                String::new()
            };
            Target::create_in(
                m,
                &opts.dir.join(format!("latency-{path}-{}", m.name)),
                &user,
                &extra,
                None,
            );
        }
        let mut series: Vec<Series> = mods.iter().map(|_| Series { samples: vec![] }).collect();
        let mut spent: Vec<Counters> = mods.iter().map(|_| Counters::default()).collect();
        let mut host_cpu: Vec<f64> = mods.iter().map(|_| 0.0).collect();
        for round in 0..rounds {
            for k in 0..mods.len() {
                let i = (round + k) % mods.len();
                let on_redis = VARIANTS.contains(&mods[i].name);
                let before = on_redis.then(|| redis.counters());
                let (samples, cpu) = run_block_cpu(opts, &mods[i], path);
                series[i].samples.extend(samples);
                host_cpu[i] += cpu / block_logins(path, mods[i].kind, BLOCK) as f64;
                if let Some(before) = before {
                    spent[i].add(&redis.spent(&before, &redis.counters()));
                }
            }
        }
        let transactions = (rounds * transactions(path)) as f64;
        let floor = series[0].median();
        let file = series
            .iter()
            .zip(&mods)
            .find(|(_, m)| m.name == "pam_otp")
            .map(|(s, _)| s.median());
        let host_floor = host_cpu[0] / rounds as f64;
        for (((m, s), c), h) in mods.iter().zip(&series).zip(&spent).zip(&host_cpu) {
            let sorted = s.sorted();
            let on_redis = VARIANTS.contains(&m.name);
            rows.push(format!(
                "| {} | {} | {} | {:.0} | {:.0} | {:.0} | {} | {} | {} | {} | {} | {} |",
                if path == "success" {
                    "HOTP success"
                } else {
                    "wrong code"
                },
                m.name,
                describe(m.name),
                s.median(),
                percentile(&sorted, 0.1),
                percentile(&sorted, 0.9),
                if m.kind == Kind::Permit {
                    "(floor)".to_string()
                } else {
                    format!("{:.0}", s.median() - floor)
                },
                match file {
                    Some(f) if on_redis => format!("{:+.0}", s.median() - f),
                    _ => "—".into(),
                },
                if m.kind == Kind::Permit {
                    format!("{:.0} (floor)", host_floor * 1e6)
                } else {
                    format!("{:.0}", (h / rounds as f64 - host_floor) * 1e6)
                },
                if on_redis {
                    format!("{:.1}", c.cpu * 1e6 / transactions)
                } else {
                    "—".into()
                },
                if on_redis {
                    format!("{:.2}", c.commands as f64 / transactions)
                } else {
                    "—".into()
                },
                if on_redis {
                    format!("{:.2}", c.connections as f64 / transactions)
                } else {
                    "—".into()
                },
            ));
        }
    }
    println!(
        "| path | module | store | median µs | p10 µs | p90 µs | above floor µs | \
         against pam_otp's file store µs | login process CPU µs, above floor | \
         Redis CPU µs per login | commands per login | connections per login |"
    );
    println!("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in rows {
        println!("{r}");
    }
    println!();
}

/// `--only` applies to the Redis variants too (pam_otp's file store is always kept, as the
/// reference, unless `--only` leaves it out by name).
fn keep(opts: &Options, name: &str) -> bool {
    opts.only.is_empty() || opts.only.iter().any(|o| o == name)
}
