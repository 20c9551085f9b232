//! Users without a secret: without `nullok` they are asked for a code, then denied
//! (`no_secret`), as an unknown user is even with `nullok` (`unknown_user`), so that the
//! prompt tells nobody who is enrolled; with `nullok` a user whose secret file is missing is
//! let through without a prompt (PAM_IGNORE, `no_secret`). Only a missing *file* means "not
//! enrolled": when the directory the secret files live in is missing (an admin store that
//! is not there, a home that is not mounted: NFS or autofs down, a locked systemd-homed
//! home), the module cannot tell an enrolled user from one who is not, and must refuse, not
//! skip the second factor.
//!
//! Through the built module and real libpam (pam_wrapper), with the syslog lines checked.
//! The home-directory case needs a user whose home does not exist: it creates one with
//! useradd (root only, `#[ignore]`d; scripts/test.sh runs it with --include-ignored).

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use pam_otp_testkit::built::module_path;
use pam_otp_testkit::client::Client;
use pam_otp_testkit::codes::{Key, Totp};
use pam_otp_testkit::pam_ffi::{PAM_AUTH_ERR, PAM_PERM_DENIED, PAM_SUCCESS};
use pam_otp_testkit::users::NO_SUCH_USER;
use pam_otp_testkit::whole_process::{Env, IGNORE_PROBE_CONTROL};
use pam_otp_testkit::{write_file, TestDir};

#[test]
fn nullok_without_secret_file_ignores_without_prompting() {
    let env = Env::new();
    let probe = env.ignore_probe_service("nullok");
    env.run(probe, &Client::answer("123456"))
        .expect(PAM_SUCCESS, "no_secret")
        .expect_prompts(0)
        .expect_line_contains("nullok: not asking");
    // PAM_IGNORE grants nothing by itself: a stack with nothing else fails.
    env.otp_service("nullok");
    env.run("otp", &Client::answer("123456"))
        .expect(PAM_PERM_DENIED, "no_secret")
        .expect_prompts(0);
    // The probe tells ignoring from accepting: an enrolled user's right code is no PAM_IGNORE.
    let key = Key::random(20);
    env.write_secret(&key, "");
    env.run(probe, &Client::answer(Totp::default().now(&key)))
        .expect(PAM_PERM_DENIED, "ok");
}

#[test]
fn no_secret_file_without_nullok_is_prompted_then_denied() {
    let env = Env::new();
    env.otp_service("");
    env.run("otp", &Client::answer("123456"))
        .expect(PAM_AUTH_ERR, "no_secret")
        .expect_prompts(1);
}

#[test]
fn unknown_user_is_prompted_then_denied_even_with_nullok() {
    let env = Env::new();
    env.otp_service("nullok");
    env.run("otp", &Client::answer("123456").user(NO_SUCH_USER))
        .expect(PAM_AUTH_ERR, "unknown_user")
        .expect_prompts(1)
        .expect_line_contains(&format!(" user={NO_SUCH_USER}: "));
}

/// Writes service `name`: the module with `secret=<template>` and `nullok` under the
/// ignore probe (PAM_SUCCESS exactly when the module returned PAM_IGNORE), then pam_permit.
fn probe(env: &Env, name: &str, template: &str) -> String {
    env.service(
        name,
        &format!(
            "auth {IGNORE_PROBE_CONTROL} {} secret={template} state_dir={} nullok\n\
             auth required pam_permit.so\n",
            module_path().display(),
            env.state_dir().display()
        ),
    );
    name.to_string()
}

#[test]
fn nullok_refuses_when_the_secret_store_directory_is_missing() {
    let env = Env::new();
    let missing = env.dir().join("no-such-store");
    let service = probe(&env, "store", &format!("{}/%u.otp", missing.display()));
    let out = env.run(&service, &Client::answer("123456"));
    // Refused (the probe passes a failure through), asked like any refused user, and why.
    out.expect(PAM_AUTH_ERR, "bad_secret_file")
        .expect_prompts(1)
        .expect_line_contains("does not exist");
    assert!(
        out.line().contains("no-such-store"),
        "the line names the directory: {}",
        out.line()
    );
}

#[test]
fn nullok_refuses_when_a_path_component_of_the_store_is_a_file() {
    let env = Env::new();
    let file = env.dir().join("plain-file");
    fs::write(&file, b"not a directory").unwrap();
    let service = probe(&env, "notdir", &format!("{}/%u.otp", file.display()));
    env.run(&service, &Client::answer("123456"))
        .expect(PAM_AUTH_ERR, "bad_secret_file")
        .expect_prompts(1);
}

#[test]
fn nullok_still_skips_a_user_whose_file_alone_is_missing() {
    let env = Env::new();
    // The store exists, the user's file does not: not enrolled.
    let service = probe(
        &env,
        "present",
        &format!("{}/%u.otp", env.secrets_dir().display()),
    );
    env.run(&service, &Client::answer("123456"))
        .expect(PAM_SUCCESS, "no_secret")
        .expect_prompts(0);
    // A per-user directory below the store that does not exist yet: not enrolled either.
    let per_user = probe(
        &env,
        "peruser",
        &format!("{}/%u/otp", env.secrets_dir().display()),
    );
    env.run(&per_user, &Client::answer("123456"))
        .expect(PAM_SUCCESS, "no_secret")
        .expect_prompts(0);
    // And once enrolled there, the code is asked for and checked (no PAM_IGNORE).
    let key = Key::random(20);
    let dir = env.secrets_dir().join(&env.user.name);
    fs::create_dir(&dir).unwrap();
    write_file(
        &dir.join("otp"),
        format!("secret = {}\n", key.base32()).as_bytes(),
        0o600,
    );
    env.forbid(&key.base32());
    env.run(&per_user, &Client::answer(Totp::default().now(&key)))
        .expect(PAM_PERM_DENIED, "ok");
}

/// A user created for the test whose home directory does not exist; removed on drop.
struct HomelessUser(String);

impl HomelessUser {
    fn create(home: &std::path::Path) -> HomelessUser {
        assert!(
            nix::unistd::geteuid().is_root(),
            "this test creates a user and needs root: run it as root \
             (scripts/test.sh does, with --include-ignored)"
        );
        let name = format!("potnull{}", std::process::id());
        let out = Command::new("useradd")
            .args(["-M", "-U", "-s", "/usr/sbin/nologin", "-d"])
            .arg(home)
            .arg(&name)
            .output()
            .expect("run useradd");
        assert!(
            out.status.success(),
            "useradd: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        HomelessUser(name)
    }
}

impl Drop for HomelessUser {
    fn drop(&mut self) {
        let _ = Command::new("userdel").arg(&self.0).output();
    }
}

#[test]
#[ignore = "needs root (creates a user); scripts/test.sh runs it with --include-ignored as root"]
fn nullok_refuses_a_user_whose_home_is_not_there() {
    let env = Env::new();
    // As an unmounted network home looks: the path does not exist (in a directory the user
    // may enter, as /home is).
    let homes = TestDir::new();
    fs::set_permissions(homes.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let home = homes.path().join("unmounted-home");
    let user = HomelessUser::create(&home);
    let service = probe(&env, "home", "%h/.otp");
    let out = env.run(&service, &Client::answer("123456").user(&user.0));
    out.expect(PAM_AUTH_ERR, "bad_secret_file")
        .expect_prompts(1)
        .expect_line_contains("does not exist");

    // Once the home is there (mounted) and the user simply has no .otp: not enrolled.
    fs::create_dir(&home).unwrap();
    let account = pam_otp_core::userdb::lookup(&user.0).unwrap().unwrap();
    nix::unistd::chown(
        &home,
        Some(nix::unistd::Uid::from_raw(account.uid)),
        Some(nix::unistd::Gid::from_raw(account.gid)),
    )
    .unwrap();
    env.run(&service, &Client::answer("123456").user(&user.0))
        .expect(PAM_SUCCESS, "no_secret")
        .expect_prompts(0);
}
