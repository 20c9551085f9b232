//! The Redis side of the fleet benchmarks: one primary (a plain and a TLS port) and one replica
//! of it, real `redis-server` processes on loopback started through the test kit (and stopped
//! when this value is dropped); the pam_otp variants that use them; and the server's own
//! counters (CPU, commands, connections), read with `INFO`.

use pam_otp_testkit::redis_server::{RedisOptions, RedisServer};

use crate::setup::{Kind, Module};
use crate::stats::percentile;
use crate::Options;

/// pam_otp with the Redis store, by how it reaches the primary.
pub(crate) const VARIANTS: [&str; 4] = [
    "pam_otp-redis",
    "pam_otp-redis-wait",
    "pam_otp-rediss",
    "pam_otp-rediss-wait",
];

/// What a variant's name says, for the tables.
pub(crate) fn describe(name: &str) -> &'static str {
    match name {
        "pam_otp-redis" => "Redis, plain TCP",
        "pam_otp-redis-wait" => "Redis, plain TCP, WAIT 1",
        "pam_otp-rediss" => "Redis, TLS",
        "pam_otp-rediss-wait" => "Redis, TLS, WAIT 1",
        "pam_permit" => "(floor)",
        "pam_otp" | "pam_otp-B" => "files",
        _ => "files",
    }
}

/// The Redis variants as modules (the same pam_otp.so; the service line differs).
pub(crate) fn variant_modules(opts: &Options) -> Vec<Module> {
    VARIANTS
        .iter()
        .map(|&name| Module {
            kind: Kind::Otp,
            name,
            path: std::fs::canonicalize(&opts.module).unwrap(),
        })
        .collect()
}

/// A primary with TLS and a synchronised replica (for `WAIT 1`).
pub(crate) struct RedisPair {
    pub(crate) primary: RedisServer,
    /// Kept for `WAIT 1`: stopped when the pair is dropped.
    _replica: RedisServer,
    /// Server CPU of one `INFO` read through redis-cli (connection included), in seconds;
    /// subtracted from every measured interval.
    info_cpu: f64,
}

/// `appendfsync` of the primary: `everysec` (the usual production setting), `always`, or
/// `no-aof` (no persistence at all).
pub(crate) fn check_appendfsync(mode: &str) {
    assert!(
        matches!(mode, "everysec" | "always" | "no-aof"),
        "--appendfsync everysec|always|no-aof"
    );
}

impl RedisPair {
    pub(crate) fn start(appendfsync: &str) -> RedisPair {
        check_appendfsync(appendfsync);
        let primary = RedisServer::start(RedisOptions {
            tls: true,
            ..RedisOptions::default()
        });
        if appendfsync != "no-aof" {
            // The test kit's AOF option is `always`; set what was asked for at run time.
            assert_eq!(
                primary.cli(&["CONFIG", "SET", "appendfsync", appendfsync]),
                "OK"
            );
            assert_eq!(primary.cli(&["CONFIG", "SET", "appendonly", "yes"]), "OK");
        }
        let replica = RedisServer::start(RedisOptions {
            replica_of: Some(primary.port),
            ..RedisOptions::default()
        });
        replica.wait_replica_synced();
        let mut pair = RedisPair {
            primary,
            _replica: replica,
            info_cpu: 0.0,
        };
        pair.info_cpu = pair.calibrate();
        pair
    }

    /// The median server CPU between two back-to-back `INFO` reads.
    fn calibrate(&self) -> f64 {
        let mut last = self.counters();
        let mut deltas = Vec::new();
        for _ in 0..21 {
            let now = self.counters();
            deltas.push(now.cpu - last.cpu);
            last = now;
        }
        deltas.sort_by(|a, b| a.partial_cmp(b).unwrap());
        percentile(&deltas, 0.5)
    }

    /// The module arguments of `variant`, its keys under `namespace`.
    pub(crate) fn args(&self, variant: &str, namespace: &str) -> String {
        let tls = variant.starts_with("pam_otp-rediss");
        let url = if tls {
            let ca = &self.primary.certs.as_ref().expect("TLS certificates").ca;
            format!(
                "redis_url=rediss://127.0.0.1:{} redis_ca_file={}",
                self.primary.tls_port.expect("TLS port"),
                ca.display()
            )
        } else {
            format!("redis_url=redis://127.0.0.1:{}", self.primary.port)
        };
        let wait = if variant.ends_with("-wait") {
            " redis_wait=1"
        } else {
            ""
        };
        format!("store=redis {url} redis_namespace={namespace}{wait}")
    }

    /// The primary's counters now.
    pub(crate) fn counters(&self) -> Counters {
        Counters::parse(&self.primary.cli(&["INFO"]))
    }

    /// What the primary did between `before` and `after`, less the `INFO` read that opened
    /// the interval (one command, one connection and its CPU).
    pub(crate) fn spent(&self, before: &Counters, after: &Counters) -> Counters {
        Counters {
            cpu: (after.cpu - before.cpu - self.info_cpu).max(0.0),
            commands: after.commands.saturating_sub(before.commands + 1),
            connections: after.connections.saturating_sub(before.connections + 1),
        }
    }
}

/// A Redis server's cumulative counters: `used_cpu_sys + used_cpu_user` (seconds, every
/// thread of the process), `total_commands_processed`, `total_connections_received`.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Counters {
    pub(crate) cpu: f64,
    pub(crate) commands: u64,
    pub(crate) connections: u64,
}

impl Counters {
    fn parse(info: &str) -> Counters {
        let field = |name: &str| {
            info.lines()
                .find_map(|l| l.trim().strip_prefix(name)?.strip_prefix(':'))
                .unwrap_or_else(|| panic!("INFO has no {name}"))
                .trim()
                .to_string()
        };
        Counters {
            cpu: field("used_cpu_sys").parse::<f64>().unwrap()
                + field("used_cpu_user").parse::<f64>().unwrap(),
            commands: field("total_commands_processed").parse().unwrap(),
            connections: field("total_connections_received").parse().unwrap(),
        }
    }

    pub(crate) fn add(&mut self, other: &Counters) {
        self.cpu += other.cpu;
        self.commands += other.commands;
        self.connections += other.connections;
    }
}

/// `redis-server`'s version line, for the tables.
pub(crate) fn version() -> String {
    std::process::Command::new("redis-server")
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|_| "redis-server not found".into())
}
