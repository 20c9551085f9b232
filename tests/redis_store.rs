//! The Redis state store against real `redis-server` processes started by the test kit, one
//! per test on its own loopback port: saves and reads back, loses no increment when
//! transactions race, refuses (and leaves alone) records it cannot use, fails closed with a
//! clear reason on a wrong password, a wrong ACL user, an untrusted certificate, a stopped
//! or silent server, and keeps state across an AOF restart.
//!
//! Through the core's `RedisStore` directly; the module's use of it is tested elsewhere.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use pam_otp_core::fleet::redis_store::RedisStore;
use pam_otp_core::fleet::settings::{HostPort, RedisEndpoint, RedisSettings};
use pam_otp_core::state::State;
use pam_otp_core::store::{Inspection, StateKey, StateStore, StoreError};
use pam_otp_testkit::redis_server::{Certs, RedisOptions, RedisServer};
use zeroize::Zeroizing;

const ALICE: StateKey<'static> = StateKey {
    uid: 1000,
    name: "alice",
};

fn settings(addr: HostPort) -> RedisSettings {
    RedisSettings::new(RedisEndpoint::Direct(addr))
}

fn store(server: &RedisServer) -> RedisStore {
    RedisStore::new(settings(server.addr())).unwrap()
}

fn bump(state: &State) -> State {
    State {
        failures: state.failures + 1,
        ..state.clone()
    }
}

fn unreachable_text(result: Result<State, StoreError>) -> String {
    match result {
        Err(StoreError::Unreachable(why)) => why,
        other => panic!("expected Unreachable, got {other:?}"),
    }
}

#[test]
fn transact_creates_the_record_reads_it_back_and_saves_changes() {
    let server = RedisServer::start(RedisOptions::default());
    let store = store(&server);
    assert_eq!(store.inspect(ALICE).unwrap(), Inspection::Missing);
    // An unchanged state writes nothing.
    let seen = store.transact(ALICE, &mut |s| s.clone()).unwrap();
    assert_eq!(seen, State::default());
    assert_eq!(server.cli(&["EXISTS", "pam_otp:user:alice"]), "0");
    // A changed one is saved, as the file store's encoding, with version 1, then 2.
    let saved = store
        .transact(ALICE, &mut |s| State {
            last_step: Some(123),
            ..bump(s)
        })
        .unwrap();
    assert_eq!(saved.failures, 1);
    assert_eq!(server.cli(&["HGET", "pam_otp:user:alice", "version"]), "1");
    assert_eq!(
        store.inspect(ALICE).unwrap(),
        Inspection::Usable(saved.clone())
    );
    let again = store.transact(ALICE, &mut bump).unwrap();
    assert_eq!((again.failures, again.last_step), (2, Some(123)));
    assert_eq!(server.cli(&["HGET", "pam_otp:user:alice", "version"]), "2");
    // Another user, and the decoy, are other keys.
    let bob = StateKey {
        uid: 1001,
        name: "bob",
    };
    assert_eq!(store.inspect(bob).unwrap(), Inspection::Missing);
    store.transact(StateKey::DECOY, &mut bump).unwrap();
    assert_eq!(server.cli(&["HGET", "pam_otp:decoy", "version"]), "1");
    let mut keys: Vec<String> = server
        .cli(&["KEYS", "*"])
        .lines()
        .map(str::to_string)
        .collect();
    keys.sort();
    assert_eq!(keys, ["pam_otp:decoy", "pam_otp:user:alice"]);
    // users() lists the user records, not the decoy.
    let users = store.users().unwrap();
    assert_eq!(
        users,
        vec![("alice".to_string(), Inspection::Usable(again))]
    );
    assert!(
        store.location().starts_with("redis://127.0.0.1:"),
        "{}",
        store.location()
    );
}

#[test]
fn racing_transactions_lose_no_increment() {
    let server = RedisServer::start(RedisOptions::default());
    let store = Arc::new(store(&server));
    let per_thread = 300;
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                let mut calls = 0u32;
                for _ in 0..per_thread {
                    store
                        .transact(ALICE, &mut |s| {
                            calls += 1;
                            bump(s)
                        })
                        .unwrap();
                }
                calls
            })
        })
        .collect();
    let calls: u32 = threads.into_iter().map(|t| t.join().unwrap()).sum();
    let Inspection::Usable(state) = store.inspect(ALICE).unwrap() else {
        panic!("no state");
    };
    assert_eq!(state.failures, 4 * per_thread);
    println!(
        "4 threads x {per_thread} transactions: {calls} decisions for {} saves ({} retried)",
        4 * per_thread,
        calls - 4 * per_thread
    );
}

#[test]
fn a_key_of_another_type_or_a_garbage_hash_is_refused_and_left_unchanged() {
    let server = RedisServer::start(RedisOptions::default());
    let store = store(&server);
    server.cli(&["SET", "pam_otp:user:alice", "not a hash"]);
    match store.transact(ALICE, &mut bump) {
        Err(StoreError::Server(why)) => assert!(why.contains("not a hash"), "{why}"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        store.inspect(ALICE).unwrap(),
        Inspection::Unusable(StoreError::Server(_))
    ));
    assert_eq!(server.cli(&["GET", "pam_otp:user:alice"]), "not a hash");

    let carol = StateKey {
        uid: 1002,
        name: "carol",
    };
    for garbage in [
        &["version", "1", "state", "garbage"][..],
        &["version", "x", "state", ""],
        &["state", "abc"],
        &["other", "field"],
    ] {
        server.cli(&["DEL", "pam_otp:user:carol"]);
        let mut args = vec!["HSET", "pam_otp:user:carol"];
        args.extend_from_slice(garbage);
        server.cli(&args);
        let before = server.cli(&["HGETALL", "pam_otp:user:carol"]);
        assert_eq!(store.transact(carol, &mut bump), Err(StoreError::Corrupt));
        assert_eq!(
            store.inspect(carol).unwrap(),
            Inspection::Unusable(StoreError::Corrupt)
        );
        assert_eq!(server.cli(&["HGETALL", "pam_otp:user:carol"]), before);
    }

    // Repair: the unusable record is kept as evidence and replaced in one step.
    store.replace(carol, &State::default(), "broken").unwrap();
    assert_eq!(
        store.inspect(carol).unwrap(),
        Inspection::Usable(State::default())
    );
    assert_eq!(
        server.cli(&["HGETALL", "pam_otp:evidence:carol:broken"]),
        "other\nfield"
    );
    store.replace(ALICE, &State::default(), "broken").unwrap();
    assert_eq!(
        server.cli(&["GET", "pam_otp:evidence:alice:broken"]),
        "not a hash"
    );
    // A second repair keeps the first evidence and uses the next name.
    store.replace(ALICE, &State::default(), "broken").unwrap();
    assert_eq!(
        server.cli(&["TYPE", "pam_otp:evidence:alice:broken.1"]),
        "hash"
    );
    assert_eq!(server.cli(&["HGET", "pam_otp:user:alice", "version"]), "2");
}

#[test]
fn a_wrong_password_or_acl_user_is_unreachable_with_a_clear_message() {
    let server = RedisServer::start(RedisOptions {
        password: Some("right-password".into()),
        acl_user: Some(("pamotp".into(), "acl-secret".into())),
        ..RedisOptions::default()
    });
    let with = |user: Option<&str>, password: Option<&str>| {
        let mut s = settings(server.addr());
        s.user = user.map(str::to_string);
        s.password = password.map(|p| Zeroizing::new(p.to_string()));
        RedisStore::new(s).unwrap()
    };
    // Right credentials, both ways.
    with(None, Some("right-password"))
        .transact(ALICE, &mut bump)
        .unwrap();
    with(Some("pamotp"), Some("acl-secret"))
        .transact(ALICE, &mut bump)
        .unwrap();
    for (user, password) in [
        (None, Some("wrong-password")),
        (Some("pamotp"), Some("wrong-password")),
        (Some("nobody"), Some("acl-secret")),
    ] {
        let why = unreachable_text(with(user, password).transact(ALICE, &mut bump));
        assert!(
            why.contains("WRONGPASS: the password or ACL user is wrong"),
            "{why}"
        );
        assert!(
            !why.contains("password\"") && !why.contains(password.unwrap()),
            "{why}"
        );
    }
    let why = unreachable_text(with(None, None).transact(ALICE, &mut bump));
    assert!(why.contains("NOAUTH"), "{why}");
    assert_eq!(server.cli(&["HGET", "pam_otp:user:alice", "version"]), "2");
}

#[test]
fn tls_works_with_the_right_ca_and_is_refused_with_another() {
    let server = RedisServer::start(RedisOptions {
        tls: true,
        ..RedisOptions::default()
    });
    let tls = |ca: &std::path::Path, host: &str| {
        let mut s = settings(HostPort {
            host: host.to_string(),
            port: server.tls_addr().port,
        });
        s.tls = true;
        s.ca_file = Some(ca.to_path_buf());
        RedisStore::new(s).unwrap()
    };
    let right = server.certs.as_ref().unwrap().ca.clone();
    let saved = tls(&right, "127.0.0.1").transact(ALICE, &mut bump).unwrap();
    assert_eq!(saved.failures, 1);
    assert_eq!(
        tls(&right, "localhost").inspect(ALICE).unwrap(),
        Inspection::Usable(saved)
    );
    assert!(tls(&right, "127.0.0.1").location().starts_with("rediss://"));

    let other = Certs::generate(server.dir.path(), "other");
    let why = unreachable_text(tls(&other.ca, "127.0.0.1").transact(ALICE, &mut bump));
    assert!(
        why.contains("certificate not trusted by redis_ca_file"),
        "{why}"
    );
    // TLS without a CA file is a configuration error, never "trust anything".
    let mut s = settings(server.tls_addr());
    s.tls = true;
    assert!(RedisStore::new(s).unwrap_err().0.contains("redis_ca_file"));
    // Plain text to the TLS port does not pass for a server either.
    let mut plain = settings(server.tls_addr());
    plain.timeout = Duration::from_millis(300);
    let why = unreachable_text(RedisStore::new(plain).unwrap().transact(ALICE, &mut bump));
    println!("plain text to the TLS port: {why}");
    assert_eq!(server.cli(&["HGET", "pam_otp:user:alice", "version"]), "1");
}

#[test]
fn a_stopped_server_is_unreachable_within_the_connect_timeout() {
    let mut server = RedisServer::start(RedisOptions::default());
    let mut s = settings(server.addr());
    s.connect_timeout = Duration::from_millis(300);
    let store = RedisStore::new(s).unwrap();
    store.transact(ALICE, &mut bump).unwrap();
    server.kill();
    let start = Instant::now();
    let why = unreachable_text(store.transact(ALICE, &mut bump));
    let took = start.elapsed();
    println!("server stopped: refused in {took:?}: {why}");
    assert!(
        why.contains("connect 127.0.0.1:") && why.contains("refused"),
        "{why}"
    );
    assert!(took < Duration::from_millis(300 + 100), "{took:?}");
}

#[test]
fn a_server_that_never_answers_is_unreachable_within_the_timeout() {
    // Accepts TCP connections (the kernel completes them) but never replies.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut s = settings(HostPort {
        host: "127.0.0.1".into(),
        port: silent.local_addr().unwrap().port(),
    });
    s.timeout = Duration::from_millis(250);
    let store = RedisStore::new(s).unwrap();
    let start = Instant::now();
    let why = unreachable_text(store.transact(ALICE, &mut bump));
    let took = start.elapsed();
    println!("silent server: refused in {took:?}: {why}");
    assert!(why.contains("no reply within 250 ms"), "{why}");
    assert!(
        took >= Duration::from_millis(250) && took < Duration::from_millis(250 + 100),
        "{took:?}"
    );
    drop(silent);
}

#[test]
fn state_survives_a_restart_with_aof() {
    let mut server = RedisServer::start(RedisOptions {
        aof: true,
        ..RedisOptions::default()
    });
    let store = store(&server);
    let saved = store
        .transact(ALICE, &mut |s| State {
            last_step: Some(55_555_555),
            ..bump(s)
        })
        .unwrap();
    // SIGKILL right after the answer: appendfsync always had it on disk before replying.
    server.restart();
    assert_eq!(store.inspect(ALICE).unwrap(), Inspection::Usable(saved));
}

#[test]
fn check_runs_the_script_on_a_scratch_key_and_reports_each_step() {
    let server = RedisServer::start(RedisOptions::default());
    let report = store(&server).check().unwrap();
    println!("{report:#?}");
    assert_eq!(report.role, "master");
    assert!(report.server_version.starts_with('7'), "{report:?}");
    assert_eq!(report.replicas, 0);
    assert_eq!(report.steps.len(), 4);
    assert_eq!(
        server.cli(&["DBSIZE"]),
        "0",
        "the scratch key was left behind"
    );
    // With WAIT for a replica that does not exist: the save happened, but the check fails.
    let mut s = settings(server.addr());
    s.wait_replicas = 1;
    s.wait_timeout = Duration::from_millis(100);
    match RedisStore::new(s).unwrap().check() {
        Err(StoreError::Server(why)) => {
            assert!(why.contains("only 0 of 1 replicas"), "{why}")
        }
        other => panic!("{other:?}"),
    }
}
