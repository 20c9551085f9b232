//! Failover through the built module: a primary, a replica and three Sentinels on loopback,
//! the module configured (`config=` file) with `redis_sentinels`, `redis_sentinel_master`
//! and `redis_wait=1`. A code is accepted, the primary is killed at once (SIGKILL) and the
//! Sentinels promote the replica: the code just used is still refused, never accepted again.
//! Until a replica is back, the new primary cannot acknowledge a save, so every login is
//! refused (`state_error`: fail closed); once the old primary has come back as the new
//! primary's replica, the used code is a `replay` and a fresh code logs in.
//!
//! Logins run under pam_wrapper (the test kit's whole-process client) for their syslog
//! lines; what Redis holds is read with redis-cli.

use std::time::{Duration, Instant};

use pam_otp_testkit::client::Client;
use pam_otp_testkit::codes::{hotp, Key};
use pam_otp_testkit::fleet::{redis_state, write_conf};
use pam_otp_testkit::pam_ffi::{PAM_AUTH_ERR, PAM_SUCCESS};
use pam_otp_testkit::redis_server::{redis_cli, RedisOptions, RedisServer, Sentinels};
use pam_otp_testkit::whole_process::Env;

/// Waits until the primary on `port` has `n` replicas online.
fn wait_replicas(port: u16, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let info = redis_cli(port, None, &["INFO", "replication"]);
        if info.matches("state=online").count() >= n {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!(
        "the primary on port {port} never had {n} replica(s):\n{}",
        redis_cli(port, None, &["INFO", "replication"])
    );
}

#[test]
fn a_code_used_just_before_the_primary_dies_stays_used_after_failover() {
    let mut primary = RedisServer::start(RedisOptions::default());
    let replica = RedisServer::start(RedisOptions {
        replica_of: Some(primary.port),
        ..RedisOptions::default()
    });
    replica.wait_replica_synced();
    let sentinels = Sentinels::start(&primary, "fleet", 1);
    let list: Vec<String> = sentinels
        .addrs()
        .iter()
        .map(|a| format!("{}:{}", a.host, a.port))
        .collect();

    let env = Env::new();
    let key = Key::random(20);
    env.write_secret(&key, "type = hotp\n");
    let conf = write_conf(
        env.dir(),
        &format!(
            "store = redis\nredis_sentinels = {}\nredis_sentinel_master = fleet\n\
             redis_wait = 1\nredis_wait_timeout = 1000\n\
             redis_connect_timeout = 300\nredis_timeout = 300\n",
            list.join(",")
        ),
    );
    env.otp_service(&format!("config={}", conf.display()));

    env.run("otp", &Client::answer(hotp(&key, 0)))
        .expect(PAM_SUCCESS, "ok");
    // The module answered only after the replica acknowledged the save: kill the primary
    // at once, with nothing else written.
    let old = primary.port;
    primary.kill();
    let started = Instant::now();
    let new = sentinels.wait_failover(old, Duration::from_secs(30));
    println!("failover to port {new} took {:?}", started.elapsed());
    assert_eq!(new, replica.port);
    let state = redis_state(&replica, &env.user.name).expect("the replica had the save");
    assert_eq!(state.hotp_next, Some(1));

    // No replica left: the new primary cannot acknowledge a save, so nothing is accepted
    // (fail closed), the used code least of all.
    env.run("otp", &Client::answer(hotp(&key, 0)))
        .expect(PAM_AUTH_ERR, "state_error")
        .expect_line_contains("only 0 of 1");

    // The old primary comes back; the Sentinels make it the new primary's replica. The code
    // used before the failover is a replay on the new primary; a fresh code logs in, once.
    primary.restart();
    wait_replicas(new, 1);
    env.run("otp", &Client::answer(hotp(&key, 0)))
        .expect(PAM_AUTH_ERR, "replay");
    env.run("otp", &Client::answer(hotp(&key, 1)))
        .expect(PAM_SUCCESS, "ok");
    env.run("otp", &Client::answer(hotp(&key, 1)))
        .expect(PAM_AUTH_ERR, "replay");
    // The old primary, now a replica, holds the same history.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let state = redis_state(&primary, &env.user.name);
        if state.as_ref().and_then(|s| s.hotp_next) == Some(2) {
            break;
        }
        assert!(Instant::now() < deadline, "the old primary has {state:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}
