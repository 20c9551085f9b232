//! The Redis state store behind Sentinel, against real processes started by the test kit
//! (a primary, a replica and three Sentinels on loopback): discovery finds the primary and
//! skips a Sentinel that is down; with `redis_wait=1` a saved state survives the primary's
//! sudden loss and a failover; a server Sentinel names that is a replica is refused.

use std::time::{Duration, Instant};

use pam_otp_core::fleet::redis_store::RedisStore;
use pam_otp_core::fleet::settings::{HostPort, RedisEndpoint, RedisSettings};
use pam_otp_core::state::State;
use pam_otp_core::store::{Inspection, StateKey, StateStore, StoreError};
use pam_otp_testkit::redis_server::{free_port, RedisOptions, RedisServer, Sentinels};

const ALICE: StateKey<'static> = StateKey {
    uid: 1000,
    name: "alice",
};

fn via(sentinels: Vec<HostPort>, master: &str) -> RedisSettings {
    RedisSettings::new(RedisEndpoint::Sentinel {
        sentinels,
        master: master.to_string(),
    })
}

fn primary_and_replica() -> (RedisServer, RedisServer) {
    let primary = RedisServer::start(RedisOptions::default());
    let replica = RedisServer::start(RedisOptions {
        replica_of: Some(primary.port),
        ..RedisOptions::default()
    });
    replica.wait_replica_synced();
    (primary, replica)
}

#[test]
fn discovery_finds_the_primary_and_skips_a_sentinel_that_is_down() {
    let (primary, _replica) = primary_and_replica();
    let sentinels = Sentinels::start(&primary, "fleet", 1);
    let down = HostPort {
        host: "127.0.0.1".into(),
        port: free_port(), // nothing listens there
    };
    let mut list = vec![down];
    list.extend(sentinels.addrs());
    let store = RedisStore::new(via(list, "fleet")).unwrap();
    assert!(
        store
            .location()
            .starts_with("sentinel fleet via 127.0.0.1:"),
        "{}",
        store.location()
    );
    let saved = store
        .transact(ALICE, &mut |s| State {
            failures: s.failures + 1,
            ..s.clone()
        })
        .unwrap();
    // It went to the primary (the replica would have refused the write).
    assert_eq!(primary.cli(&["HGET", "pam_otp:user:alice", "version"]), "1");
    assert_eq!(store.inspect(ALICE).unwrap(), Inspection::Usable(saved));
    let report = store.check().unwrap();
    assert_eq!((report.role.as_str(), report.replicas), ("master", 1));

    // A master name no Sentinel monitors: refused, saying why for each Sentinel.
    let unknown = RedisStore::new(via(sentinels.addrs(), "nosuch")).unwrap();
    match unknown.inspect(ALICE) {
        Err(StoreError::Unreachable(why)) => {
            assert!(why.contains("does not monitor nosuch"), "{why}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_state_saved_with_wait_survives_a_failover() {
    let (mut primary, replica) = primary_and_replica();
    let sentinels = Sentinels::start(&primary, "fleet", 1);
    let mut settings = via(sentinels.addrs(), "fleet");
    settings.wait_replicas = 1;
    settings.wait_timeout = Duration::from_millis(1000);
    let store = RedisStore::new(settings).unwrap();
    let saved = store
        .transact(ALICE, &mut |s| State {
            last_step: Some(77_777_777),
            failures: 3,
            ..s.clone()
        })
        .unwrap();
    // The primary dies at once after the answer; the replica had acknowledged the save.
    let old = primary.port;
    primary.kill();
    let start = Instant::now();
    let new = sentinels.wait_failover(old, Duration::from_secs(30));
    println!("failover to port {new} took {:?}", start.elapsed());
    assert_eq!(new, replica.port);
    assert_eq!(
        store.inspect(ALICE).unwrap(),
        Inspection::Usable(saved.clone())
    );
    // Logins continue on the new primary (writes, with WAIT 1 and no replica left, are
    // saved but refused for too few acknowledgements: fail closed).
    match store.transact(ALICE, &mut |s| State {
        failures: s.failures + 1,
        ..s.clone()
    }) {
        Err(StoreError::Server(why)) => assert!(why.contains("only 0 of 1"), "{why}"),
        other => panic!("{other:?}"),
    }
    let mut no_wait = via(sentinels.addrs(), "fleet");
    no_wait.wait_replicas = 0;
    let next = RedisStore::new(no_wait)
        .unwrap()
        .transact(ALICE, &mut |s| State {
            failures: s.failures + 1,
            ..s.clone()
        })
        .unwrap();
    assert_eq!(next.failures, 5);
    assert_eq!(next.last_step, Some(77_777_777));
}

#[test]
fn a_replica_named_as_primary_is_refused() {
    // A "Sentinel" that names the replica: the ROLE check sent with the first read refuses it.
    let (primary, replica) = primary_and_replica();
    let sentinels = Sentinels::start(&primary, "fleet", 1);
    let liar = sentinels.ports[0];
    let out =
        pam_otp_testkit::redis_server::redis_cli(liar, None, &["SENTINEL", "REMOVE", "fleet"]);
    assert_eq!(out, "OK");
    let out = pam_otp_testkit::redis_server::redis_cli(
        liar,
        None,
        &[
            "SENTINEL",
            "MONITOR",
            "fleet",
            "127.0.0.1",
            &replica.port.to_string(),
            "2",
        ],
    );
    assert_eq!(out, "OK");
    let store = RedisStore::new(via(
        vec![HostPort {
            host: "127.0.0.1".into(),
            port: liar,
        }],
        "fleet",
    ))
    .unwrap();
    match store.inspect(ALICE) {
        Err(StoreError::Unreachable(why)) => {
            assert!(why.contains("but it is a slave"), "{why}")
        }
        other => panic!("{other:?}"),
    }
}
