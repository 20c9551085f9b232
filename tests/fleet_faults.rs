//! Fleet mode's faults through the built module, each test with its own real `redis-server`
//! and a configuration file (`config=` on the pam.d line, `store = redis`, 300 ms timeouts):
//! a stopped or silent Redis refuses every login (`state_error`, saying why) within the
//! timeouts and leaves no descriptor open; `fail_mode=local` uses this host's state and says
//! so first (`fleet_fallback`); an AOF restart keeps a used code refused; a record of the
//! wrong type or a garbage one is refused and left as it is (also under `fail_mode=local`);
//! a wrong ACL password says WRONGPASS and never the password; an untrusted certificate
//! says so.
//!
//! Logins run under pam_wrapper (the test kit's whole-process client), so that the module's
//! syslog lines are read; what Redis holds is read with redis-cli.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use pam_otp_testkit::child_process::{child, child_mode, open_fds};
use pam_otp_testkit::client::{Client, Outcome};
use pam_otp_testkit::codes::{hotp, Key};
use pam_otp_testkit::fleet::{
    redis_conf, redis_state, user_key, write_conf, CONF_NAME, TIMEOUT_MS,
};
use pam_otp_testkit::in_process::{self, pam_login, wrong_code, Fixture};
use pam_otp_testkit::pam_ffi::{PAM_AUTH_ERR, PAM_SUCCESS};
use pam_otp_testkit::redis_server::{free_port, Certs, RedisOptions, RedisServer};
use pam_otp_testkit::users::current_user;
use pam_otp_testkit::whole_process::Env;
use pam_otp_testkit::write_file;

/// Longer than any login may take with 300 ms timeouts: past it, a host would hang.
const HANG: Duration = Duration::from_secs(5);

/// An HOTP-enrolled user whose service `otp` reads `conf_text` from `config=`.
fn fleet_env(conf_text: &str) -> (Env, Key, PathBuf) {
    let env = Env::new();
    let key = Key::random(20);
    env.write_secret(&key, "type = hotp\n");
    let conf = write_conf(env.dir(), conf_text);
    env.otp_service(&format!("config={}", conf.display()));
    (env, key, conf)
}

/// The pam_otp lines of a login, `fleet_fallback` included, in order.
fn module_lines(out: &Outcome) -> Vec<String> {
    out.syslog
        .iter()
        .filter(|l| {
            let word = l.split([' ', ':']).next().unwrap_or("");
            word == "fleet_fallback" || pam_otp_testkit::syslog::REASONS.contains(&word)
        })
        .cloned()
        .collect()
}

/// The same user, enrolled for in-process logins (no process start, no pam_wrapper) reading
/// the configuration file `dir/pam_otp.conf`: what a login costs the host, timed.
fn timing_fixture() -> Fixture {
    let f = Fixture::new("fleet-timing", "");
    f.service(
        "otp",
        &format!("config={}", f.dir.path().join(CONF_NAME).display()),
    );
    f
}

/// Three in-process logins refused with `conf` in force; prints and returns the longest.
fn refused_in(f: &Fixture, conf: &str, what: &str) -> Duration {
    write_conf(f.dir.path(), conf);
    (1..=3)
        .map(|counter| {
            let started = Instant::now();
            let rc = f.login(&in_process::hotp(counter));
            let took = started.elapsed();
            assert_eq!(rc, PAM_AUTH_ERR, "{what}");
            println!("{what}: a login refused in {took:?}");
            assert!(took < HANG, "{what}: {took:?}: the host would hang");
            took
        })
        .max()
        .unwrap()
}

#[test]
fn a_stopped_or_silent_redis_refuses_every_login_within_the_timeouts() {
    let mut server = RedisServer::start(RedisOptions::default());
    let (env, key, conf) = fleet_env(&redis_conf(server.port));
    let f = timing_fixture();
    env.run("otp", &Client::answer(hotp(&key, 0)))
        .expect(PAM_SUCCESS, "ok");

    // Stopped: the connection is refused.
    server.kill();
    for counter in 1..=2 {
        env.run("otp", &Client::answer(hotp(&key, counter)))
            .expect(PAM_AUTH_ERR, "state_error")
            .expect_line_contains(&format!(
                "state server unreachable: connect 127.0.0.1:{}: connection refused",
                server.port
            ));
    }
    refused_in(&f, &redis_conf(server.port), "Redis stopped");

    // Silent: the kernel accepts the connection, nobody answers; the reply timeout ends it.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    write_conf(env.dir(), &redis_conf(port));
    for counter in 1..=2 {
        env.run("otp", &Client::answer(hotp(&key, counter)))
            .expect(PAM_AUTH_ERR, "state_error")
            .expect_line_contains(&format!(
                "state server unreachable: 127.0.0.1:{port}: no reply within {TIMEOUT_MS} ms"
            ));
    }
    let longest = refused_in(&f, &redis_conf(port), "Redis silent");
    assert!(longest >= Duration::from_millis(TIMEOUT_MS), "{longest:?}");
    drop(silent);

    // Back: none of the refused attempts was recorded, so the first of their codes works.
    server.restart();
    write_file(&conf, redis_conf(server.port).as_bytes(), 0o600);
    env.run("otp", &Client::answer(hotp(&key, 1)))
        .expect(PAM_SUCCESS, "ok");
}

#[test]
fn fail_mode_local_uses_this_hosts_state_and_says_so_first() {
    let dead = free_port(); // nothing listens there
    let (env, key, _) = fleet_env(&format!("{}fail_mode = local\n", redis_conf(dead)));
    let out = env.run("otp", &Client::answer(hotp(&key, 0)));
    let lines = module_lines(&out);
    assert_eq!(out.code, PAM_SUCCESS, "{lines:?}");
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines[0].starts_with("fleet_fallback ")
            && lines[0].contains(&format!("127.0.0.1:{dead}"))
            && lines[0].contains(&env.state_dir().display().to_string()),
        "{lines:?}"
    );
    assert!(lines[1].starts_with("ok "), "{lines:?}");
    // This host's state has the code: the same code again is a replay, said the same way.
    assert!(env.state_file().is_file());
    let out = env.run("otp", &Client::answer(hotp(&key, 0)));
    let lines = module_lines(&out);
    assert_eq!(out.code, PAM_AUTH_ERR, "{lines:?}");
    assert!(lines[0].starts_with("fleet_fallback "), "{lines:?}");
    assert!(lines[1].starts_with("replay "), "{lines:?}");
    assert_eq!(lines.len(), 2, "{lines:?}");
}

#[test]
fn after_an_aof_restart_a_used_code_is_still_a_replay() {
    let mut server = RedisServer::start(RedisOptions {
        aof: true,
        ..RedisOptions::default()
    });
    let (env, key, _) = fleet_env(&redis_conf(server.port));
    env.run("otp", &Client::answer(hotp(&key, 0)))
        .expect(PAM_SUCCESS, "ok");
    // SIGKILL, as a crash would stop it, then the same server on its AOF.
    server.restart();
    let state = redis_state(&server, &env.user.name).expect("the record survived");
    assert_eq!(state.hotp_next, Some(1));
    env.run("otp", &Client::answer(hotp(&key, 0)))
        .expect(PAM_AUTH_ERR, "replay");
    env.run("otp", &Client::answer(hotp(&key, 1)))
        .expect(PAM_SUCCESS, "ok");
    // This host's files were never used.
    assert!(!env.state_file().exists());
}

#[test]
fn a_record_of_the_wrong_type_or_garbage_is_refused_and_left_unchanged() {
    let server = RedisServer::start(RedisOptions::default());
    for fail_mode in ["closed", "local"] {
        let (env, key, _) = fleet_env(&format!(
            "{}fail_mode = {fail_mode}\n",
            redis_conf(server.port)
        ));
        let record = user_key(&env.user.name);
        server.cli(&["DEL", &record]);
        server.cli(&["SET", &record, "not a hash"]);
        let out = env.run("otp", &Client::answer(hotp(&key, 0)));
        assert_eq!(module_lines(&out).len(), 1, "no fallback: {:?}", out.syslog);
        out.expect(PAM_AUTH_ERR, "state_error")
            .expect_line_contains("not a hash");
        println!("wrong type ({fail_mode}): {}", out.line());
        assert_eq!(server.cli(&["TYPE", &record]), "string");
        assert_eq!(server.cli(&["GET", &record]), "not a hash");

        server.cli(&["DEL", &record]);
        server.cli(&["HSET", &record, "version", "7", "state", "garbage"]);
        let out = env.run("otp", &Client::answer(hotp(&key, 0)));
        assert_eq!(module_lines(&out).len(), 1, "no fallback: {:?}", out.syslog);
        out.expect(PAM_AUTH_ERR, "state_error");
        println!("garbage hash ({fail_mode}): {}", out.line());
        assert_eq!(server.cli(&["HGET", &record, "version"]), "7");
        assert_eq!(server.cli(&["HGET", &record, "state"]), "garbage");
        assert_eq!(server.cli(&["HLEN", &record]), "2");
        // Nothing went to this host's files either.
        assert!(!env.state_file().exists());
    }
}

const RIGHT_PASSWORD: &str = "correct-horse-battery-staple-1";
const WRONG_PASSWORD: &str = "Tr0ub4dor-and-3-wrong-horses";

#[test]
fn a_wrong_acl_password_is_refused_with_wrongpass_and_never_logged() {
    let server = RedisServer::start(RedisOptions {
        acl_user: Some(("pam_otp".into(), RIGHT_PASSWORD.into())),
        ..RedisOptions::default()
    });
    let base = format!("{}redis_user = pam_otp\n", redis_conf(server.port));
    let (env, key, conf) = fleet_env(&format!("{base}redis_password = {WRONG_PASSWORD}\n"));
    // Env::run fails if any captured line (syslog or pam_wrapper's) holds either password.
    env.forbid(RIGHT_PASSWORD);
    env.forbid(WRONG_PASSWORD);
    let out = env.run("otp", &Client::answer(hotp(&key, 0)));
    out.expect(PAM_AUTH_ERR, "state_error")
        .expect_line_contains("WRONGPASS");
    println!("wrong password: {}", out.line());
    assert!(!out.stderr.contains(WRONG_PASSWORD) && !out.stderr.contains(RIGHT_PASSWORD));

    // The same from a password file; then the right password works.
    let password_file = env.dir().join("redis.password");
    write_file(
        &password_file,
        format!("{WRONG_PASSWORD}\n").as_bytes(),
        0o600,
    );
    write_file(
        &conf,
        format!("{base}redis_password_file = {}\n", password_file.display()).as_bytes(),
        0o644,
    );
    env.run("otp", &Client::answer(hotp(&key, 0)))
        .expect(PAM_AUTH_ERR, "state_error")
        .expect_line_contains("WRONGPASS");
    write_file(
        &password_file,
        format!("{RIGHT_PASSWORD}\n").as_bytes(),
        0o600,
    );
    env.run("otp", &Client::answer(hotp(&key, 0)))
        .expect(PAM_SUCCESS, "ok");
}

#[test]
fn tls_with_the_wrong_ca_is_refused_saying_certificate() {
    let server = RedisServer::start(RedisOptions {
        tls: true,
        ..RedisOptions::default()
    });
    let tls = |ca: &Path| {
        format!(
            "store = redis\nredis_url = rediss://127.0.0.1:{}\nredis_ca_file = {}\n\
             redis_connect_timeout = {TIMEOUT_MS}\nredis_timeout = {TIMEOUT_MS}\n",
            server.tls_port.unwrap(),
            ca.display()
        )
    };
    let env = Env::new();
    let other = Certs::generate(env.dir(), "other");
    let (env, key, conf) = {
        let key = Key::random(20);
        env.write_secret(&key, "type = hotp\n");
        let conf = write_conf(env.dir(), &tls(&other.ca));
        env.otp_service(&format!("config={}", conf.display()));
        (env, key, conf)
    };
    env.run("otp", &Client::answer(hotp(&key, 0)))
        .expect(PAM_AUTH_ERR, "state_error")
        .expect_line_contains("TLS: certificate not trusted by redis_ca_file");
    refused_in(&timing_fixture(), &tls(&other.ca), "untrusted certificate");
    // With the server's own CA, the same code logs in.
    let ca = &server.certs.as_ref().unwrap().ca;
    write_file(&conf, tls(ca).as_bytes(), 0o600);
    env.run("otp", &Client::answer(hotp(&key, 0)))
        .expect(PAM_SUCCESS, "ok");
}

#[test]
fn no_descriptor_stays_open_after_fleet_logins_and_faults() {
    let server = RedisServer::start(RedisOptions::default());
    let locked = RedisServer::start(RedisOptions {
        password: Some(RIGHT_PASSWORD.into()),
        ..RedisOptions::default()
    });
    let tls = RedisServer::start(RedisOptions {
        tls: true,
        ..RedisOptions::default()
    });
    // In a child process of its own, so that no other test opens files meanwhile.
    let f = Fixture::new("fleet-fds", "");
    f.service(
        "otp",
        &format!("config={}", f.dir.path().join(CONF_NAME).display()),
    );
    let other = Certs::generate(f.dir.path(), "other");
    let out = child("fds")
        .env("PROVE_DIR", f.dir.path())
        .env("PROVE_PORT", server.port.to_string())
        .env("PROVE_LOCKED_PORT", locked.port.to_string())
        .env("PROVE_TLS_PORT", tls.tls_port.unwrap().to_string())
        .env("PROVE_OTHER_CA", &other.ca)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("PROVE fds ok"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn fds_child(dir: &Path) {
    let inherited: Vec<String> = open_fds(&[]).into_iter().map(|(fd, _)| fd).collect();
    let open_now = || open_fds(&inherited);
    let var = |name: &str| std::env::var(name).unwrap();
    let port: u16 = var("PROVE_PORT").parse().unwrap();
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    let services = dir.join("services");
    let me = current_user().name;
    let use_conf = |text: &str| write_file(&dir.join(CONF_NAME), text.as_bytes(), 0o600);
    let login = |code: &str| pam_login(Some(&services), "otp", &me, code);
    let faults = [
        redis_conf(free_port()), // nothing listens there
        redis_conf(silent_port),
        format!(
            "{}redis_password = {WRONG_PASSWORD}\n",
            redis_conf(var("PROVE_LOCKED_PORT").parse().unwrap())
        ),
        format!(
            "store = redis\nredis_url = rediss://127.0.0.1:{}\nredis_ca_file = {}\n",
            var("PROVE_TLS_PORT"),
            var("PROVE_OTHER_CA")
        ),
    ];
    let wrong = wrong_code(100);

    // The first login may open what the host keeps for itself (libc's syslog socket);
    // nothing that points into the test's files may stay open, even then.
    use_conf(&redis_conf(port));
    assert_eq!(login(&in_process::hotp(0)), PAM_SUCCESS);
    let before = open_now();
    for (fd, target) in &before {
        assert!(
            !target.starts_with(dir.to_str().unwrap()),
            "descriptor {fd} -> {target} left open by the module"
        );
    }
    // Then every path, many times: the set (Redis connections included) must not change.
    for counter in 1..=10 {
        use_conf(&redis_conf(port));
        assert_eq!(login(&in_process::hotp(counter)), PAM_SUCCESS);
        assert_eq!(login(&in_process::hotp(counter)), PAM_AUTH_ERR); // replay
        assert_eq!(login(&wrong), PAM_AUTH_ERR);
        for fault in &faults {
            use_conf(fault);
            assert_eq!(login(&in_process::hotp(counter + 1)), PAM_AUTH_ERR);
        }
    }
    assert_eq!(
        open_now(),
        before,
        "descriptors changed across 70 fleet logins"
    );
    drop(silent);
    println!("PROVE fds ok");
}

/// Does nothing unless started as a child by the test above.
#[test]
fn child_process_entry() {
    let Some(mode) = child_mode() else {
        return;
    };
    match mode.as_str() {
        "fds" => fds_child(Path::new(&std::env::var("PROVE_DIR").unwrap())),
        other => panic!("unknown child mode {other}"),
    }
}
