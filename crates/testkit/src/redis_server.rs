//! Real Redis servers for the fleet tests: Debian's `redis-server` on free loopback ports,
//! each in a temporary directory of its own with a generated configuration, killed (and
//! its directory removed) on drop, so tests run in parallel and leave nothing running.
//!
//! [`RedisServer`] (optionally AOF with `appendfsync always`, a password, an ACL user, a TLS
//! port with certificates made by the `openssl` command, a replica of another),
//! [`Sentinels`] (three Sentinels watching a primary, with short failover times) and
//! [`Certs`]. Set-up and inspection go through `redis-cli`, an independent client, never
//! through the code under test.
//!
//! Needs, and fails (never skips) without: redis-server, redis-sentinel, redis-tools, openssl.

use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pam_otp_core::fleet::settings::HostPort;

use crate::tools::require_tool;
use crate::TestDir;

/// A loopback port free at the time of asking (the caller retries if it is taken meanwhile).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind a free loopback port")
        .port()
}

/// A test CA and a server certificate it signed for `127.0.0.1` and `localhost`.
pub struct Certs {
    /// The CA's certificate (PEM): what `redis_ca_file` names.
    pub ca: PathBuf,
    /// The server's certificate and key.
    pub cert: PathBuf,
    /// The server's private key.
    pub key: PathBuf,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl (Debian package openssl) must be installed");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Certs {
    /// A fresh CA (EC P-256) in `dir`, named `prefix`-ca.crt, and a server certificate.
    pub fn generate(dir: &Path, prefix: &str) -> Certs {
        let ca_key = format!("{prefix}-ca.key");
        let ca = format!("{prefix}-ca.crt");
        let key = format!("{prefix}-server.key");
        let csr = format!("{prefix}-server.csr");
        let cert = format!("{prefix}-server.crt");
        let ext = format!("{prefix}-ext.cnf");
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        let mut args = vec!["req", "-x509"];
        args.extend(ec);
        args.extend(["-keyout", &ca_key, "-out", &ca, "-days", "2", "-subj"]);
        let ca_subject = format!("/CN=pam_otp test CA {prefix}");
        args.push(&ca_subject);
        openssl(dir, &args);
        let mut args = vec!["req"];
        args.extend(ec);
        args.extend(["-keyout", &key, "-out", &csr, "-subj", "/CN=localhost"]);
        openssl(dir, &args);
        fs::write(
            dir.join(&ext),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n\
             keyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                &ca,
                "-CAkey",
                &ca_key,
                "-CAcreateserial",
                "-out",
                &cert,
                "-days",
                "2",
                "-extfile",
                &ext,
            ],
        );
        Certs {
            ca: dir.join(ca),
            cert: dir.join(cert),
            key: dir.join(key),
        }
    }
}

/// What a [`RedisServer`] is started with.
#[derive(Debug, Clone, Default)]
pub struct RedisOptions {
    /// `appendonly yes` with `appendfsync always` (else no persistence at all).
    pub aof: bool,
    /// `requirepass` (the `default` user's password).
    pub password: Option<String>,
    /// An ACL user and its password (`user NAME on >PASSWORD ~* &* +@all`), besides `default`.
    pub acl_user: Option<(String, String)>,
    /// A TLS port as well, with certificates generated in the server's directory.
    pub tls: bool,
    /// `replicaof 127.0.0.1 PORT`.
    pub replica_of: Option<u16>,
}

/// One `redis-server` process (see the module documentation).
pub struct RedisServer {
    /// Its directory (configuration, log, AOF, certificates).
    pub dir: TestDir,
    /// The plain TCP port.
    pub port: u16,
    /// The TLS port, with [`RedisOptions::tls`].
    pub tls_port: Option<u16>,
    /// The certificates, with [`RedisOptions::tls`].
    pub certs: Option<Certs>,
    options: RedisOptions,
    child: Option<Child>,
}

fn require_redis() {
    require_tool("redis-server", &["--version"], "redis-server");
    require_tool("redis-cli", &["--version"], "redis-tools");
}

fn spawn_redis(conf: &Path, sentinel: bool) -> Child {
    let mut cmd = Command::new("redis-server");
    cmd.arg(conf);
    if sentinel {
        cmd.arg("--sentinel");
    }
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start redis-server (Debian package redis-server)")
}

/// Runs `redis-cli -p port [auth] args…` and returns its output (stdout, trimmed).
pub fn redis_cli(port: u16, auth: Option<(&str, &str)>, args: &[&str]) -> String {
    let mut cmd = Command::new("redis-cli");
    cmd.args([
        "-h",
        "127.0.0.1",
        "-p",
        &port.to_string(),
        "--no-auth-warning",
    ]);
    if let Some((user, password)) = auth {
        cmd.args(["--user", user, "--pass", password]);
    }
    let out = cmd
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run redis-cli (Debian package redis-tools)");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

impl RedisServer {
    /// Starts a server with `options` and waits until it answers PING.
    pub fn start(options: RedisOptions) -> RedisServer {
        require_redis();
        let dir = TestDir::tagged("redis");
        let certs = options.tls.then(|| Certs::generate(dir.path(), "redis"));
        let mut server = RedisServer {
            dir,
            port: 0,
            tls_port: None,
            certs,
            options,
            child: None,
        };
        for _ in 0..5 {
            server.port = free_port();
            server.tls_port = server.options.tls.then(free_port);
            if server.spawn() {
                return server;
            }
        }
        panic!("redis-server did not start; its log:\n{}", server.log());
    }

    /// The `default` user's (or the ACL user's) credentials, for redis-cli.
    fn auth(&self) -> Option<(&str, &str)> {
        match (&self.options.acl_user, &self.options.password) {
            (Some((u, p)), _) => Some((u, p)),
            (None, Some(p)) => Some(("default", p)),
            (None, None) => None,
        }
    }

    fn write_conf(&self) -> PathBuf {
        let d = self.dir.path().display();
        let mut conf = format!(
            "port {}\nbind 127.0.0.1\nprotected-mode no\ndaemonize no\ndir {d}\n\
             logfile {d}/redis.log\nsave \"\"\n",
            self.port
        );
        if self.options.aof {
            conf.push_str("appendonly yes\nappendfsync always\n");
        } else {
            conf.push_str("appendonly no\n");
        }
        if let Some(p) = &self.options.password {
            conf.push_str(&format!("requirepass {p}\n"));
        }
        if let Some((u, p)) = &self.options.acl_user {
            conf.push_str(&format!("user {u} on >{p} ~* &* +@all\n"));
        }
        if let (Some(port), Some(c)) = (self.tls_port, &self.certs) {
            conf.push_str(&format!(
                "tls-port {port}\ntls-cert-file {}\ntls-key-file {}\ntls-ca-cert-file {}\n\
                 tls-auth-clients no\n",
                c.cert.display(),
                c.key.display(),
                c.ca.display()
            ));
        }
        if let Some(primary) = self.options.replica_of {
            conf.push_str(&format!("replicaof 127.0.0.1 {primary}\n"));
        }
        let path = self.dir.join("redis.conf");
        fs::write(&path, conf).unwrap();
        path
    }

    /// Starts the process on the current ports; `false` if it exited (a port was taken).
    fn spawn(&mut self) -> bool {
        let conf = self.write_conf();
        self.child = Some(spawn_redis(&conf, false));
        self.wait_ready()
    }

    fn wait_ready(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Some(child) = self.child.as_mut() {
                if child.try_wait().unwrap().is_some() {
                    self.child = None;
                    return false;
                }
            }
            if redis_cli(self.port, self.auth(), &["PING"]) == "PONG" {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("redis-server on port {} did not answer PING", self.port);
    }

    /// Kills the server at once (SIGKILL, as a crash or power loss would stop it).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again, on the same ports and directory (its AOF, if any).
    pub fn restart(&mut self) {
        self.kill();
        assert!(
            self.spawn(),
            "redis-server did not restart:\n{}",
            self.log()
        );
    }

    /// The server's address (plain port).
    pub fn addr(&self) -> HostPort {
        HostPort {
            host: "127.0.0.1".to_string(),
            port: self.port,
        }
    }

    /// The TLS port's address.
    pub fn tls_addr(&self) -> HostPort {
        HostPort {
            host: "127.0.0.1".to_string(),
            port: self.tls_port.expect("started with tls"),
        }
    }

    /// `redis-cli` against this server (authenticated as configured).
    pub fn cli(&self, args: &[&str]) -> String {
        redis_cli(self.port, self.auth(), args)
    }

    /// `redis-cli --raw` against this server: the reply's bytes as sent (a binary value
    /// intact), without the newline redis-cli adds.
    pub fn cli_raw(&self, args: &[&str]) -> Vec<u8> {
        let mut cmd = Command::new("redis-cli");
        cmd.args([
            "-h",
            "127.0.0.1",
            "-p",
            &self.port.to_string(),
            "--no-auth-warning",
            "--raw",
        ]);
        if let Some((user, password)) = self.auth() {
            cmd.args(["--user", user, "--pass", password]);
        }
        let out = cmd
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run redis-cli (Debian package redis-tools)");
        let mut bytes = out.stdout;
        if bytes.last() == Some(&b'\n') {
            bytes.pop();
        }
        bytes
    }

    /// Waits until this replica's link to its primary is up.
    pub fn wait_replica_synced(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if self
                .cli(&["INFO", "replication"])
                .contains("master_link_status:up")
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("replica on port {} never synced", self.port);
    }

    /// The server's log, for failure messages.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.join("redis.log")).unwrap_or_default()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Three Sentinels watching one primary as `master` (quorum 2), failing over after 500 ms.
pub struct Sentinels {
    /// Their ports, in start order.
    pub ports: Vec<u16>,
    /// The monitored master's name.
    pub master: String,
    dirs: Vec<TestDir>,
    children: Vec<Child>,
}

impl Sentinels {
    /// Starts three Sentinels for `primary` and waits until each knows the other two and
    /// `replicas` replicas.
    pub fn start(primary: &RedisServer, master: &str, replicas: usize) -> Sentinels {
        require_tool("redis-server", &["--version"], "redis-sentinel");
        let mut s = Sentinels {
            ports: Vec::new(),
            master: master.to_string(),
            dirs: Vec::new(),
            children: Vec::new(),
        };
        for _ in 0..3 {
            let dir = TestDir::tagged("sentinel");
            let mut started = false;
            for _ in 0..5 {
                let port = free_port();
                let d = dir.path().display();
                let conf = format!(
                    "port {port}\nbind 127.0.0.1\nprotected-mode no\ndaemonize no\ndir {d}\n\
                     logfile {d}/sentinel.log\n\
                     sentinel monitor {master} 127.0.0.1 {} 2\n\
                     sentinel down-after-milliseconds {master} 500\n\
                     sentinel failover-timeout {master} 3000\n\
                     sentinel parallel-syncs {master} 1\n",
                    primary.port
                );
                let path = dir.join("sentinel.conf");
                fs::write(&path, conf).unwrap();
                let mut child = spawn_redis(&path, true);
                let deadline = Instant::now() + Duration::from_secs(20);
                while Instant::now() < deadline {
                    if child.try_wait().unwrap().is_some() {
                        break;
                    }
                    if redis_cli(port, None, &["PING"]) == "PONG" {
                        started = true;
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                if started {
                    s.ports.push(port);
                    s.children.push(child);
                    break;
                }
                let _ = child.kill();
                let _ = child.wait();
            }
            assert!(started, "a Sentinel did not start");
            s.dirs.push(dir);
        }
        s.wait_known(replicas);
        s
    }

    fn wait_known(&self, replicas: usize) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            let ready = self.ports.iter().all(|&p| {
                let peers = redis_cli(p, None, &["SENTINEL", "sentinels", &self.master]);
                let reps = redis_cli(p, None, &["SENTINEL", "replicas", &self.master]);
                peers.matches("runid").count() >= 2 && reps.matches("runid").count() >= replicas
            });
            if ready {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("the Sentinels never found each other and the replicas");
    }

    /// Their addresses, in start order.
    pub fn addrs(&self) -> Vec<HostPort> {
        self.ports
            .iter()
            .map(|&port| HostPort {
                host: "127.0.0.1".to_string(),
                port,
            })
            .collect()
    }

    /// The primary's port as the first Sentinel sees it.
    pub fn primary_port(&self) -> Option<u16> {
        let out = redis_cli(
            self.ports[0],
            None,
            &["SENTINEL", "get-master-addr-by-name", &self.master],
        );
        out.lines().nth(1)?.trim().parse().ok()
    }

    /// Waits (at most `limit`) until every Sentinel names a primary other than `old_port`;
    /// returns the new port.
    pub fn wait_failover(&self, old_port: u16, limit: Duration) -> u16 {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            let seen: Vec<Option<u16>> = self
                .ports
                .iter()
                .map(|&p| {
                    redis_cli(
                        p,
                        None,
                        &["SENTINEL", "get-master-addr-by-name", &self.master],
                    )
                    .lines()
                    .nth(1)
                    .and_then(|l| l.trim().parse().ok())
                })
                .collect();
            if let Some(Some(new)) = seen.first() {
                if *new != old_port && seen.iter().all(|s| *s == Some(*new)) {
                    return *new;
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("no failover away from port {old_port} within {limit:?}");
    }
}

impl Drop for Sentinels {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
