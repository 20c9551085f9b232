//! The Redis client library (pam_otp_redis.so) as the module finds and checks it: installed
//! as `pam_otp.so` in a directory of its own, the module loads `pam_otp_redis.so` from that
//! directory and logs in on Redis; without it the file store still works, but `store=redis`
//! refuses with `state_error` naming the library — also under `fail_mode=local`, which
//! falls back only for a Redis that cannot be reached, never for a packaging error; a
//! library that is group-writable, a symbolic link, not pam_otp's, or from another build
//! is refused the same way, and no login succeeds through it.
//!
//! Each test has its own real `redis-server` and its own copy of the built module (and,
//! where it needs one, of the library), under pam_wrapper so that the syslog is read.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use pam_otp_testkit::built::{module_path, redis_library_path};
use pam_otp_testkit::client::{Client, Outcome};
use pam_otp_testkit::codes::{hotp, Key};
use pam_otp_testkit::fleet::{redis_conf, redis_state, write_conf};
use pam_otp_testkit::pam_ffi::{PAM_AUTH_ERR, PAM_SUCCESS};
use pam_otp_testkit::redis_server::{free_port, RedisOptions, RedisServer};
use pam_otp_testkit::whole_process::Env;

/// The module copied to `env.dir()/lib/pam_otp.so` (its installed name), with the library
/// copied beside it as `pam_otp_redis.so` when `library` is true; returns the directory.
fn installed(env: &Env, library: bool) -> PathBuf {
    let lib = env.dir().join("lib");
    fs::create_dir(&lib).unwrap();
    fs::set_permissions(&lib, fs::Permissions::from_mode(0o755)).unwrap();
    fs::copy(module_path(), lib.join("pam_otp.so")).unwrap();
    if library {
        fs::copy(redis_library_path(), lib.join("pam_otp_redis.so")).unwrap();
    }
    lib
}

/// An HOTP-enrolled user whose service `otp` loads `dir/pam_otp.so` with `conf` as its
/// configuration file.
fn service_using(env: &Env, dir: &Path, conf: &str) -> Key {
    let key = Key::random(20);
    env.write_secret(&key, "type = hotp\n");
    let conf = write_conf(env.dir(), conf);
    env.service(
        "otp",
        &format!(
            "auth required {} {} config={}\n",
            dir.join("pam_otp.so").display(),
            env.module_args(),
            conf.display()
        ),
    );
    key
}

/// The login's one pam_otp line (with `fleet_fallback`, if any, there would be two).
fn only_line(out: &Outcome) -> String {
    let lines: Vec<&String> = out
        .syslog
        .iter()
        .filter(|l| {
            let word = l.split([' ', ':']).next().unwrap_or("");
            word == "fleet_fallback" || pam_otp_testkit::syslog::REASONS.contains(&word)
        })
        .collect();
    assert_eq!(lines.len(), 1, "{lines:?}");
    lines[0].clone()
}

/// Asserts that the right code is refused with `state_error` and a line naming the library
/// and saying `why`, and that Redis was not touched.
fn refused_saying(env: &Env, key: &Key, server: &RedisServer, why: &str) {
    let out = env.run("otp", &Client::answer(hotp(key, 0)));
    let line = only_line(&out);
    assert_eq!(out.code, PAM_AUTH_ERR, "{line}");
    assert!(line.starts_with("state_error "), "{line}");
    assert!(line.contains("pam_otp_redis.so"), "{line}");
    assert!(line.contains(why), "{line}");
    assert_eq!(redis_state(server, &env.user.name), None);
    assert!(!env.state_file().exists(), "no local state either");
}

#[test]
fn the_installed_module_loads_the_library_beside_it_and_logs_in_on_redis() {
    let server = RedisServer::start(RedisOptions::default());
    let env = Env::new();
    let dir = installed(&env, true);
    let key = service_using(&env, &dir, &redis_conf(server.port));
    let out = env.run("otp", &Client::answer(hotp(&key, 0)));
    assert_eq!(out.code, PAM_SUCCESS, "{:?}", out.syslog);
    assert!(only_line(&out).starts_with("ok "));
    assert_eq!(
        redis_state(&server, &env.user.name).and_then(|s| s.hotp_next),
        Some(1)
    );
    env.run("otp", &Client::answer(hotp(&key, 0)))
        .expect(PAM_AUTH_ERR, "replay");
}

#[test]
fn without_the_library_the_file_store_works_and_redis_refuses_even_with_fail_mode_local() {
    let server = RedisServer::start(RedisOptions::default());
    let env = Env::new();
    let dir = installed(&env, false);

    // The file store needs no library.
    let key = service_using(&env, &dir, "store = file\n");
    env.run("otp", &Client::answer(hotp(&key, 0)))
        .expect(PAM_SUCCESS, "ok");
    fs::remove_file(env.state_file()).unwrap();

    let key = service_using(&env, &dir, &redis_conf(server.port));
    refused_saying(&env, &key, &server, "is missing");

    // fail_mode=local falls back for an unreachable Redis only: this one is reachable,
    // but so is one that is not, and neither falls back without the library.
    let conf = format!("{}fail_mode = local\n", redis_conf(server.port));
    let key = service_using(&env, &dir, &conf);
    refused_saying(&env, &key, &server, "is missing");
    let conf = format!("{}fail_mode = local\n", redis_conf(free_port()));
    let key = service_using(&env, &dir, &conf);
    refused_saying(&env, &key, &server, "is missing");
}

#[test]
fn an_unsafe_library_is_refused() {
    let server = RedisServer::start(RedisOptions::default());
    let env = Env::new();
    let dir = installed(&env, true);
    let library = dir.join("pam_otp_redis.so");
    let key = service_using(&env, &dir, &redis_conf(server.port));

    fs::set_permissions(&library, fs::Permissions::from_mode(0o775)).unwrap();
    refused_saying(&env, &key, &server, "writable by group or others");

    // A symbolic link to a good copy is refused too.
    let elsewhere = env.dir().join("real_redis.so");
    fs::rename(&library, &elsewhere).unwrap();
    fs::set_permissions(&elsewhere, fs::Permissions::from_mode(0o755)).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &library).unwrap();
    refused_saying(&env, &key, &server, "symbolic link");

    // A directory others may write to would let them swap the file.
    fs::remove_file(&library).unwrap();
    fs::rename(&elsewhere, &library).unwrap();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o777)).unwrap();
    refused_saying(&env, &key, &server, "writable by group or others");
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
    env.run("otp", &Client::answer(hotp(&key, 0)))
        .expect(PAM_SUCCESS, "ok");
}

#[test]
fn a_library_that_is_not_pam_otps_or_from_another_build_is_refused() {
    let server = RedisServer::start(RedisOptions::default());
    let env = Env::new();
    let dir = installed(&env, true);
    let library = dir.join("pam_otp_redis.so");
    let key = service_using(&env, &dir, &redis_conf(server.port));

    // Another shared object (the module itself) exports no pam_otp_redis_v1.
    fs::copy(dir.join("pam_otp.so"), &library).unwrap();
    refused_saying(&env, &key, &server, "has no pam_otp_redis_v1");

    // Not a shared object at all.
    fs::write(&library, b"not an ELF file").unwrap();
    refused_saying(&env, &key, &server, "cannot be loaded");

    // The right library with another build id (its one copy patched, same length).
    let mut bytes = fs::read(redis_library_path()).unwrap();
    let id = pam_otp_core::fleet::abi::BUILD_ID.as_bytes();
    let other: Vec<u8> = id
        .iter()
        .map(|b| if b.is_ascii_digit() { b'9' } else { *b })
        .collect();
    assert_ne!(id, &other[..]);
    let mut patched = 0;
    let mut i = 0;
    while i + id.len() <= bytes.len() {
        if &bytes[i..i + id.len()] == id {
            bytes[i..i + id.len()].copy_from_slice(&other);
            patched += 1;
            i += id.len();
        } else {
            i += 1;
        }
    }
    assert!(patched >= 1, "the build id is in the library");
    fs::write(&library, &bytes).unwrap();
    refused_saying(&env, &key, &server, "is from another build");
}
