//! Screen lockers and pam_otp (audit issue 9, item 6), through the built module and real
//! libpam:
//!
//! - a host that is not root (xscreensaver, i3lock, swaylock, KDE's locker run as the user)
//!   cannot open pam_otp's state directory, so an enrolled user is refused there: fail
//!   closed, by design, and the reason `pam-otp check` flags lockers;
//! - the line the Debian pam-auth-update profile puts above pam_otp.so (pam_succeed_if on
//!   the service name) skips pam_otp for exactly the locker services, and for no other.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use pam_otp_testkit::built::module_path;
use pam_otp_testkit::client::Client;
use pam_otp_testkit::codes::{Key, Totp};
use pam_otp_testkit::pam_ffi::{PAM_AUTH_ERR, PAM_SUCCESS};
use pam_otp_testkit::whole_process::Env;
use pam_otp_testkit::write_file;

/// The profile's `Auth:` lines (pam-auth-update writes each as `auth <line>`).
fn profile_auth_lines() -> Vec<String> {
    let profile = fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/debian/pam-configs/pam_otp"),
    )
    .expect("the pam-auth-update profile");
    profile
        .split("\nAuth:\n")
        .nth(1)
        .expect("an Auth: field")
        .lines()
        .take_while(|l| l.starts_with(char::is_whitespace))
        .map(|l| l.trim().to_string())
        .collect()
}

/// common-auth with the profile enabled, pam_permit standing in for a right password, and
/// the built module (with this test's paths) in place of `pam_otp.so`.
fn common_auth_with_profile(env: &Env) -> String {
    let mut stack = String::from("auth required pam_permit.so\n");
    for line in profile_auth_lines() {
        let line = line.replace(
            "pam_otp.so",
            &format!("{} {}", module_path().display(), env.module_args()),
        );
        stack.push_str(&format!("auth {line}\n"));
    }
    stack
}

#[test]
fn the_profile_skips_pam_otp_for_screen_lockers_only() {
    let env = Env::new();
    let key = Key::random(20);
    env.write_secret(&key, "");
    let stack = common_auth_with_profile(&env);
    assert!(stack.contains("pam_succeed_if.so"), "{stack}");
    for locker in ["xscreensaver", "i3lock", "swaylock", "kde"] {
        env.service(locker, &stack);
        let out = env.run(locker, &Client::answer("000000"));
        assert_eq!(
            (out.code, out.prompts.len()),
            (PAM_SUCCESS, 0),
            "{locker}: {:?}\n{}",
            out.prompts,
            out.stderr
        );
        assert!(out.module_lines().is_empty(), "{locker}: {:?}", out.syslog);
    }
    for service in ["sudo", "login", "sshd", "xscreensaver-extra"] {
        env.service(service, &stack);
        env.run(service, &Client::answer(Totp::default().wrong(&key)))
            .expect(PAM_AUTH_ERR, "bad_code")
            .expect_prompts(1);
    }
    env.run("sudo", &Client::answer(Totp::default().now(&key)))
        .expect(PAM_SUCCESS, "ok")
        .expect_prompts(1);
}

#[test]
#[ignore = "needs root: cargo test --test screen_lockers -- --include-ignored"]
fn a_host_that_is_not_root_refuses_an_enrolled_user() {
    assert!(nix::unistd::geteuid().is_root(), "this test needs root");
    let nobody = nix::unistd::User::from_name("nobody")
        .unwrap()
        .expect("a user named nobody");
    let (uid, gid) = (nobody.uid.as_raw(), nobody.gid.as_raw());
    let env = Env::new();
    let key = Key::random(20);
    // The client runs as nobody and authenticates nobody: an admin store owned by the
    // module's user (nobody here), and the state directory root's, as installed.
    let secret = env.secrets_dir().join("nobody.otp");
    write_file(
        &secret,
        format!("secret = {}\n", key.base32()).as_bytes(),
        0o600,
    );
    env.forbid(&key.base32());
    for p in [&secret, &env.secrets_dir()] {
        nix::unistd::chown(p, Some(nobody.uid), Some(nobody.gid)).unwrap();
    }
    fs::create_dir(env.state_dir()).unwrap();
    fs::set_permissions(env.state_dir(), fs::Permissions::from_mode(0o700)).unwrap();
    for dir in [env.dir(), &env.services_dir()] {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o755)).unwrap();
    }
    let service = env.otp_service("");
    fs::set_permissions(
        env.services_dir().join(service),
        fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let out = env.run(
        service,
        &Client::answer(Totp::default().now(&key))
            .user("nobody")
            .run_as(uid, gid),
    );
    out.expect(PAM_AUTH_ERR, "state_error").expect_prompts(1);
    // The same code through a root host is fine (with the store handed back to root,
    // whom the module expects to own an admin store when it runs as root).
    for p in [&secret, &env.secrets_dir()] {
        nix::unistd::chown(
            p,
            Some(nix::unistd::Uid::from_raw(0)),
            Some(nix::unistd::Gid::from_raw(0)),
        )
        .unwrap();
    }
    env.run(
        service,
        &Client::answer(Totp::default().now(&key)).user("nobody"),
    )
    .expect(PAM_SUCCESS, "ok");
}
