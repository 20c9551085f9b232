//! The README's worked fleet example, run as written: its `redis.conf` lines (the ACL users for
//! pam_otp, replication and Sentinel), its `sentinel.conf` lines and its
//! `/etc/security/pam_otp.conf` are taken from README.md itself, with only the addresses,
//! passwords and paths put in, so that the example cannot drift from what works. A primary, a
//! replica and three Sentinels on loopback; then what the README tells an admin to do:
//! `pam-otp store check`, `pam-otp store migrate`, and a failover through which the migrated
//! state survives (`redis_wait = 1`) and after which the old primary rejoins as a replica.
//!
//! TLS is left out here (`redis_tls`, `redis_ca_file`): tests/redis_store.rs covers it.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use pam_otp_core::state::State;
use pam_otp_core::store::{FileStore, StateKey, StateStore};
use pam_otp_testkit::built::cli_path;
use pam_otp_testkit::redis_server::{free_port, redis_cli};
use pam_otp_testkit::TestDir;

const PAM_OTP_PW: &str = "pw-for-pam-otp-3a9c";
const REPLICA_PW: &str = "pw-for-replica-77e1";
const SENTINEL_PW: &str = "pw-for-sentinel-0b4d";

/// The fenced block that follows the first line of README.md containing `marker`.
fn readme_block(marker: &str) -> String {
    let readme = fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let after = &readme[readme
        .find(marker)
        .unwrap_or_else(|| panic!("README: {marker}"))..];
    let start = after.find("```\n").expect("a block after the marker") + 4;
    let end = start + after[start..].find("```").expect("the block's end");
    after[start..end].to_string()
}

/// The example's passwords, and its addresses replaced by `primary_port` on loopback.
fn filled(block: &str, primary_port: u16) -> String {
    block
        .replace("CHANGE-ME", PAM_OTP_PW)
        .replace("REPLICA-PW", REPLICA_PW)
        .replace("SENTINEL-PW", SENTINEL_PW)
        .replace("10.0.0.11 6379", &format!("127.0.0.1 {primary_port}"))
}

/// A redis-server process that is killed on drop.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(conf: &Path, sentinel: bool) -> Process {
    let mut cmd = Command::new("redis-server");
    cmd.arg(conf);
    if sentinel {
        cmd.arg("--sentinel");
    }
    Process(
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start redis-server (Debian packages redis-server, redis-sentinel)"),
    )
}

/// Polls `probe` every 100 ms until it holds, for at most `limit`.
fn wait_until(limit: Duration, what: &str, mut probe: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if probe() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{what}: not within {limit:?}");
}

/// Writes the README's `redis.conf` lines for one server on `port` in `dir`.
fn server_conf(dir: &Path, port: u16, primary_port: u16, replica: bool) -> std::path::PathBuf {
    let mut conf = filled(&readme_block("On the Redis side"), primary_port);
    if replica {
        conf = conf.replace("# on the replica only: replicaof", "replicaof");
    }
    conf.push_str(&format!(
        "port {port}\nbind 127.0.0.1\ndir {d}\nlogfile {d}/redis.log\ndaemonize no\n",
        d = dir.display()
    ));
    let path = dir.join("redis.conf");
    fs::write(&path, conf).unwrap();
    path
}

fn pam_otp(config: &Path, args: &[&str]) -> Output {
    let out = Command::new(cli_path())
        .arg("--config")
        .arg(config)
        .args(args)
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    eprintln!(
        "pam-otp {args:?}: {}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The primary's port as the Sentinel on `sentinel` names it.
fn named_primary(sentinel: u16) -> Option<u16> {
    let out = redis_cli(
        sentinel,
        None,
        &["SENTINEL", "get-master-addr-by-name", "otp"],
    );
    out.lines().nth(1)?.trim().parse().ok()
}

#[test]
#[ignore = "root: reads a root-only password file and writes root's state"]
fn the_readme_fleet_example_works_as_written() {
    let dir = TestDir::tagged("readme-fleet");
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o700)).unwrap();
    let (primary_dir, replica_dir) = (dir.join("primary"), dir.join("replica"));
    fs::create_dir(&primary_dir).unwrap();
    fs::create_dir(&replica_dir).unwrap();
    let (primary_port, replica_port) = (free_port(), free_port());
    let primary_conf = server_conf(&primary_dir, primary_port, primary_port, false);
    let replica_conf = server_conf(&replica_dir, replica_port, primary_port, true);
    let mut primary = Some(start(&primary_conf, false));
    let _replica = start(&replica_conf, false);
    // `default` is off: the replication user (which may PING) shows the servers are up and
    // that the replica authenticated to the primary with the README's masteruser.
    let synced = |port: u16| {
        redis_cli(port, Some(("replica", REPLICA_PW)), &["PING"]) == "PONG"
            && redis_cli(primary_port, Some(("replica", REPLICA_PW)), &["PING"]) == "PONG"
    };
    wait_until(Duration::from_secs(20), "servers answering", || {
        synced(replica_port)
    });

    let sentinel_block = readme_block("each Sentinel (`sentinel.conf`)");
    let mut sentinels = Vec::new();
    let mut sentinel_ports = Vec::new();
    for n in 0..3 {
        let d = dir.join(format!("sentinel{n}"));
        fs::create_dir(&d).unwrap();
        let port = free_port();
        let conf = format!(
            "{}port {port}\nbind 127.0.0.1\nprotected-mode no\ndir {dd}\nlogfile {dd}/sentinel.log\n",
            filled(&sentinel_block, primary_port),
            dd = d.display()
        );
        fs::write(d.join("sentinel.conf"), conf).unwrap();
        sentinels.push(start(&d.join("sentinel.conf"), true));
        sentinel_ports.push(port);
    }
    wait_until(
        Duration::from_secs(30),
        "Sentinels seeing the replica",
        || {
            sentinel_ports.iter().all(|&p| {
                redis_cli(p, None, &["SENTINEL", "replicas", "otp"])
                    .contains(&replica_port.to_string())
            })
        },
    );

    // The host's side, as the README writes it.
    let password_file = dir.join("pam_otp.redis");
    fs::write(&password_file, format!("{PAM_OTP_PW}\n")).unwrap();
    fs::set_permissions(&password_file, fs::Permissions::from_mode(0o600)).unwrap();
    let sentinel_list = sentinel_ports
        .iter()
        .map(|p| format!("127.0.0.1:{p}"))
        .collect::<Vec<_>>()
        .join(",");
    let state_dir = dir.join("state");
    let mut host_conf = readme_block("On every host, `/etc/security/pam_otp.conf`")
        .replace(
            "10.0.0.11:26379,10.0.0.12:26379,10.0.0.13:26379",
            &sentinel_list,
        )
        .replace(
            "/etc/security/pam_otp.redis",
            password_file.to_str().unwrap(),
        )
        .lines()
        .filter(|l| !l.starts_with("redis_tls") && !l.starts_with("redis_ca_file"))
        .collect::<Vec<_>>()
        .join("\n");
    host_conf.push_str(&format!("\nstate_dir = {}\n", state_dir.display()));
    let config = dir.join("pam_otp.conf");
    fs::write(&config, host_conf).unwrap();
    fs::set_permissions(&config, fs::Permissions::from_mode(0o644)).unwrap();

    wait_until(Duration::from_secs(30), "the replica in sync", || {
        redis_cli(
            replica_port,
            Some(("pam_otp", PAM_OTP_PW)),
            &["INFO", "replication"],
        )
        .contains("master_link_status:up")
    });
    let check = pam_otp(&config, &["store", "check"]);
    assert!(check.status.success());
    assert!(stdout(&check).contains("Replicas connected: 1"));
    assert!(stdout(&check).contains(&format!("127.0.0.1:{primary_port}")));

    // This host's state before fleet mode: root with 3 failures; migrated with WAIT 1.
    FileStore::new(&state_dir, Duration::from_secs(5))
        .transact(
            StateKey {
                uid: 0,
                name: "root",
            },
            &mut |s| State {
                failures: 3,
                ..s.clone()
            },
        )
        .unwrap();
    let migrate = pam_otp(&config, &["store", "migrate"]);
    assert!(migrate.status.success());
    assert!(stdout(&migrate).contains("root (uid 0): copied"));
    let listed = |config: &Path| {
        let out = pam_otp(config, &["locked"]);
        assert!(out.status.success());
        stdout(&out)
            .lines()
            .any(|l| l.starts_with("root ") && l.split_whitespace().nth(2) == Some("3"))
    };
    assert!(listed(&config), "root's 3 failures are in Redis");

    // The primary is lost at once; the Sentinels promote the replica, which has the save.
    drop(primary.take());
    wait_until(Duration::from_secs(60), "failover to the replica", || {
        sentinel_ports
            .iter()
            .all(|&p| named_primary(p) == Some(replica_port))
    });
    assert!(listed(&config), "the migrated state survived the failover");
    // With no replica left, redis_wait = 1 refuses every save, as the README says.
    let refused = pam_otp(&config, &["unlock", "root"]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("replica"));

    // The old primary comes back; the Sentinels make it a replica of the new one.
    let _old = start(&primary_conf, false);
    wait_until(Duration::from_secs(60), "the old primary rejoining", || {
        redis_cli(
            replica_port,
            Some(("pam_otp", PAM_OTP_PW)),
            &["INFO", "replication"],
        )
        .contains("connected_slaves:1")
    });
    let unlock = pam_otp(&config, &["unlock", "root"]);
    assert!(unlock.status.success());
    assert!(!listed(&config), "root is unlocked fleet-wide");
    drop(sentinels);
}
