//! `pam-otp --config FILE` with a Redis-backed configuration (`store = redis`, the test's
//! own `redis-server`), after real logins through the built module (the test kit's
//! whole-process client, whose service names the same file with `config=`): `status`,
//! `locked`, `unlock`, `reset`, `repair` of a garbage record, `store check`, `store migrate`
//! and `metrics` act on the record every host shares, and the module's next logins agree.
//!
//! Root only: the shared store's credentials are root's, so `pam-otp` refuses it to anyone
//! else. `#[ignore]`d for ordinary users; `sudo scripts/test.sh` runs them.

use std::path::{Path, PathBuf};
use std::process::Output;

use pam_otp_testkit::client::Client;
use pam_otp_testkit::codes::{hotp, now, Key};
use pam_otp_testkit::fleet::{redis_conf, redis_state, user_key, write_conf};
use pam_otp_testkit::pam_ffi::{PAM_AUTH_ERR, PAM_SUCCESS};
use pam_otp_testkit::redis_server::{RedisOptions, RedisServer};
use pam_otp_testkit::whole_process::Env;

use crate::harness::*;

/// An HOTP-enrolled user whose `otp` service reads `conf_text` (`config=`), with `extra`.
fn fleet_env(conf_text: &str, extra: &str) -> (Env, Key, PathBuf) {
    let env = Env::new();
    let key = Key::random(20);
    env.write_secret(&key, "type = hotp\n");
    let conf = write_conf(env.dir(), conf_text);
    env.otp_service(&format!("config={} {extra}", conf.display()));
    (env, key, conf)
}

/// `pam-otp --secret … --state-dir … --config CONF ARGS`.
fn cli(env: &Env, conf: &Path, args: &[&str]) -> Output {
    let mut all = vec!["--config", conf.to_str().unwrap()];
    all.extend(args);
    env.cli(&all, "")
}

#[test]
#[ignore = "root only: the shared store's credentials are root's"]
fn status_locked_unlock_and_reset_act_on_the_shared_record() {
    let server = RedisServer::start(RedisOptions::default());
    let (env, key, conf) = fleet_env(&redis_conf(server.port), "max_failures=2 lockout=600");
    let user = env.user.name.clone();
    let wrong = pam_otp_testkit::in_process::wrong_code(50);
    env.run("otp", &Client::answer(&wrong))
        .expect(PAM_AUTH_ERR, "bad_code");
    let out = ok(cli(&env, &conf, &["status", "--user", &user]));
    assert!(out.contains("Failures:        1"), "{out}");
    assert!(out.contains("Locked out:      no"), "{out}");
    env.run("otp", &Client::answer(&wrong))
        .expect(PAM_AUTH_ERR, "bad_code");
    let out = ok(cli(&env, &conf, &["status", "--user", &user]));
    assert!(out.contains("Locked out:      yes"), "{out}");
    let out = ok(cli(&env, &conf, &["locked"]));
    assert!(
        out.lines().any(|l| l.starts_with(&user)),
        "{user} not listed:\n{out}"
    );
    env.run("otp", &Client::answer(hotp(&key, 0)))
        .expect(PAM_AUTH_ERR, "locked");
    // This host's files were never written: all of it came from Redis.
    assert!(!env.state_file().exists());

    let out = ok(cli(&env, &conf, &["unlock", &user]));
    assert!(out.contains("Unlocked"), "{out}");
    let state = redis_state(&server, &user).unwrap();
    assert_eq!((state.failures, state.locked_until), (0, 0));
    assert!(!state.is_locked(now()));
    let out = ok(cli(&env, &conf, &["locked"]));
    assert!(out.contains("No user is locked out"), "{out}");
    env.run("otp", &Client::answer(hotp(&key, 0)))
        .expect(PAM_SUCCESS, "ok");

    // reset: the enrolment goes (the secret file to its backup); the shared history stays,
    // so the code just used is still no use.
    let out = ok(cli(&env, &conf, &["reset", &user, "--yes"]));
    assert!(!env.secret_path().exists(), "{out}");
    assert!(env.secret_backup().exists(), "{out}");
    let out = env.run("otp", &Client::answer(hotp(&key, 0)));
    assert_eq!(out.code, PAM_AUTH_ERR, "{:?}", out.syslog);
    assert_eq!(redis_state(&server, &user).unwrap().hotp_next, Some(1));
}

#[test]
#[ignore = "root only: the shared store's credentials are root's"]
fn repair_of_a_garbage_record_keeps_it_as_evidence_and_logins_work_again() {
    let server = RedisServer::start(RedisOptions::default());
    let (env, key, conf) = fleet_env(&redis_conf(server.port), "");
    let user = env.user.name.clone();
    env.run("otp", &Client::answer(hotp(&key, 0)))
        .expect(PAM_SUCCESS, "ok");
    let record = user_key(&user);
    server.cli(&["HSET", &record, "state", "garbage"]);
    env.run("otp", &Client::answer(hotp(&key, 1)))
        .expect(PAM_AUTH_ERR, "state_error");
    let out = ok(cli(&env, &conf, &["status", "--user", &user]));
    println!("status of a garbage record:\n{out}");

    // The token's next code is counter 1 (the refused attempt saved nothing).
    let out = ok(cli(&env, &conf, &["repair", &user, "--hotp-counter", "1"]));
    assert!(out.contains("was unusable"), "{out}");
    let evidence: Vec<String> = server
        .cli(&["KEYS", &format!("pam_otp:evidence:{user}:*")])
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(evidence.len(), 1, "{evidence:?}\n{out}");
    assert_eq!(server.cli(&["HGET", &evidence[0], "state"]), "garbage");
    // The code used before the corruption stays refused (the repaired record starts at
    // counter 1: nothing below it reopens); the next one logs in, once.
    env.run("otp", &Client::answer(hotp(&key, 0)))
        .expect(PAM_AUTH_ERR, "replay");
    env.run("otp", &Client::answer(hotp(&key, 1)))
        .expect(PAM_SUCCESS, "ok");
    env.run("otp", &Client::answer(hotp(&key, 1)))
        .expect(PAM_AUTH_ERR, "replay");
    // A readable record is not repaired again without --force.
    fails(cli(&env, &conf, &["repair", &user]), 1, "nothing to repair");
}

const PASSWORD: &str = "correct-horse-battery-staple-2";
const WRONG_PASSWORD: &str = "Tr0ub4dor-and-3-wrong-horses-2";

#[test]
#[ignore = "root only: the shared store's credentials are root's"]
fn store_check_prints_each_step_and_fails_clearly_with_a_wrong_password() {
    let server = RedisServer::start(RedisOptions {
        password: Some(PASSWORD.into()),
        ..RedisOptions::default()
    });
    let (env, _, conf) = fleet_env(
        &format!("{}redis_password = {PASSWORD}\n", redis_conf(server.port)),
        "",
    );
    let out = ok(cli(&env, &conf, &["store", "check"]));
    println!("{out}");
    assert!(
        out.contains(&format!("Store: redis://127.0.0.1:{}", server.port)),
        "{out}"
    );
    assert!(out.contains("role master"), "{out}");
    let steps = out
        .lines()
        .filter(|l| l.trim_end().ends_with(" ms"))
        .count();
    assert!(steps >= 2, "no timed steps:\n{out}");
    assert!(out.contains("The shared store works"), "{out}");
    assert!(!out.contains(PASSWORD));
    // The scratch key is gone again: only what logins write stays.
    assert_eq!(server.cli(&["DBSIZE"]), "0");

    write_conf(
        env.dir(),
        &format!(
            "{}redis_password = {WRONG_PASSWORD}\n",
            redis_conf(server.port)
        ),
    );
    let o = cli(&env, &conf, &["store", "check"]);
    let err = fails(o.clone(), 1, "WRONGPASS");
    for text in [stdout(&o), err] {
        assert!(
            !text.contains(WRONG_PASSWORD) && !text.contains(PASSWORD),
            "{text}"
        );
    }
}

#[test]
#[ignore = "root only: the shared store's credentials are root's"]
fn store_migrate_copies_a_hosts_state_without_reopening_a_code_and_merges() {
    let server = RedisServer::start(RedisOptions::default());
    let (env, key, conf) = fleet_env(&redis_conf(server.port), "");
    let user = env.user.name.clone();
    // This host, before fleet mode: its own files.
    env.otp_service("");
    env.run("otp", &Client::answer(hotp(&key, 0)))
        .expect(PAM_SUCCESS, "ok");
    assert!(env.state_file().is_file());

    let out = ok(cli(&env, &conf, &["store", "migrate", "--dry-run"]));
    assert!(
        out.contains(&format!("{user} (uid {}): would be copied", env.user.uid)),
        "{out}"
    );
    assert_eq!(server.cli(&["EXISTS", &user_key(&user)]), "0", "{out}");
    let out = ok(cli(&env, &conf, &["store", "migrate"]));
    assert!(
        out.contains(&format!("{user} (uid {}): copied", env.user.uid)),
        "{out}"
    );
    assert_eq!(redis_state(&server, &user).unwrap().hotp_next, Some(1));

    // Fleet mode on: the code used on the files is a replay through Redis.
    env.otp_service(&format!("config={}", conf.display()));
    env.run("otp", &Client::answer(hotp(&key, 0)))
        .expect(PAM_AUTH_ERR, "replay");
    env.run("otp", &Client::answer(hotp(&key, 1)))
        .expect(PAM_SUCCESS, "ok");

    // Twice changes nothing: the record is newer than this host's file.
    let before = server.cli(&["HGETALL", &user_key(&user)]);
    let out = ok(cli(&env, &conf, &["store", "migrate"]));
    assert!(
        out.contains("merged with the record already there"),
        "{out}"
    );
    assert_eq!(server.cli(&["HGETALL", &user_key(&user)]), before);

    // Both moved on: this host's files saw counter 5 (a token pressed ahead, within the
    // look-ahead), Redis saw 1. Merged, neither reopens.
    env.otp_service("");
    env.run("otp", &Client::answer(hotp(&key, 5)))
        .expect(PAM_SUCCESS, "ok");
    let out = ok(cli(&env, &conf, &["store", "migrate"]));
    assert!(
        out.contains("merged with the record already there"),
        "{out}"
    );
    assert_eq!(redis_state(&server, &user).unwrap().hotp_next, Some(6));
    env.otp_service(&format!("config={}", conf.display()));
    env.run("otp", &Client::answer(hotp(&key, 5)))
        .expect(PAM_AUTH_ERR, "replay");
    env.run("otp", &Client::answer(hotp(&key, 2)))
        .expect(PAM_AUTH_ERR, "bad_code");
    env.run("otp", &Client::answer(hotp(&key, 6)))
        .expect(PAM_SUCCESS, "ok");
}

#[test]
#[ignore = "root only: the shared store's credentials are root's"]
fn metrics_count_the_shared_records() {
    let server = RedisServer::start(RedisOptions::default());
    let (env, key, conf) = fleet_env(&redis_conf(server.port), "max_failures=2");
    let wrong = pam_otp_testkit::in_process::wrong_code(50);
    env.run("otp", &Client::answer(hotp(&key, 0)))
        .expect(PAM_SUCCESS, "ok");
    for _ in 0..2 {
        env.run("otp", &Client::answer(&wrong))
            .expect(PAM_AUTH_ERR, "bad_code");
    }
    env.run("otp", &Client::answer(&wrong))
        .expect(PAM_AUTH_ERR, "locked");
    let text = ok(cli(&env, &conf, &["metrics"]));
    let sample = |name: &str| -> u64 {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("no sample {name} in:\n{text}"))
    };
    assert_eq!(sample("pam_otp_logins_total{outcome=\"ok\"}"), 1);
    assert_eq!(sample("pam_otp_logins_total{outcome=\"bad_code\"}"), 2);
    assert_eq!(sample("pam_otp_logins_total{outcome=\"locked\"}"), 1);
    assert_eq!(sample("pam_otp_lockouts_total"), 1);
    assert!(!env.state_file().exists(), "all of it came from Redis");
}
