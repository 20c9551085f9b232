//! The README's scoping recipes, as shipped (`pam.d/otp-group`, `pam.d/otp-trusted-network`),
//! with Debian's real `pam_succeed_if` and `pam_access` in front of the built module:
//! a member of otp-users is asked for a code and a non-member is not; a login from inside
//! the trusted network is not asked and one from outside (or with no remote host) is; a
//! name nobody has is skipped by the group recipe (pam_succeed_if finds it in no group) and
//! asked by the network one.
//!
//! The shipped stacks are used line for line; only what names this machine is changed: the
//! `@include`s point at stub files (common-auth: `pam_permit.so`, a password that is always
//! right), `pam_otp.so` is the built module with the test's paths, and the access file is a
//! copy of `examples/security/access-otp.conf` in the test's directory. The group database
//! is the test's own, through nss_wrapper (Debian: libnss-wrapper), so the same user is
//! once in otp-users and once not, without touching /etc/group.
//!
//! Through real libpam under pam_wrapper. Needs, and fails (never skips) without:
//! libpam-wrapper, libnss-wrapper, oathtool.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use pam_otp_testkit::built::module_path;
use pam_otp_testkit::client::{Client, Outcome};
use pam_otp_testkit::codes::Totp;
use pam_otp_testkit::pam_ffi::{PAM_AUTH_ERR, PAM_SUCCESS};
use pam_otp_testkit::pam_wrapper::pam_wrapper_lib;
use pam_otp_testkit::users::NO_SUCH_USER;
use pam_otp_testkit::whole_process::{enrolled, Env};

/// The shipped stack `name` for this test: includes made absolute (Linux-PAM 1.5.2 resolves
/// `@include` in /etc/pam.d even for a service read from elsewhere) onto stub files, the
/// module line given the built module and this test's paths, and each `(from, to)` of
/// `paths` replaced. Every other line stays byte for byte as shipped (asserted).
fn shipped_service(env: &Env, name: &str, paths: &[(&str, &str)]) -> String {
    let shipped = fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("pam.d")
            .join(name),
    )
    .unwrap();
    let dir = env.services_dir();
    let module = format!("{} {}", module_path().display(), env.module_args());
    let mut stack = String::new();
    let mut kept = 0;
    for line in shipped.lines() {
        let mut out = match line.trim().strip_prefix("@include ") {
            Some(include) => format!("@include {}", dir.join(include.trim()).display()),
            None if line.starts_with('#') => line.to_string(),
            None => line.replace("pam_otp.so", &module),
        };
        if !line.starts_with('#') {
            for (from, to) in paths {
                out = out.replace(from, to);
            }
        }
        if out == line {
            kept += 1;
        }
        stack.push_str(&out);
        stack.push('\n');
    }
    assert_eq!(
        stack.matches(module_path().to_str().unwrap()).count(),
        1,
        "{stack}"
    );
    assert_eq!(stack.matches("@include /").count(), 3, "{stack}");
    // Only the three includes, the module line and the replaced paths changed.
    assert_eq!(kept, shipped.lines().count() - 4 - paths.len(), "{stack}");
    env.service("common-auth", "auth required pam_permit.so\n");
    env.service("common-account", "account required pam_permit.so\n");
    env.service(
        "common-session-noninteractive",
        "session required pam_permit.so\n",
    );
    env.service(name, &stack);
    stack
}

/// The shipped line that calls `module`, as it is in the file.
fn shipped_line(name: &str, module: &str) -> String {
    fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("pam.d")
            .join(name),
    )
    .unwrap()
    .lines()
    .find(|l| l.starts_with("auth") && l.contains(module))
    .unwrap_or_else(|| panic!("pam.d/{name} has no {module} line"))
    .to_string()
}

fn libnss_wrapper() -> PathBuf {
    let lib = pam_wrapper_lib()
        .parent()
        .expect("a library directory")
        .join("libnss_wrapper.so");
    assert!(
        lib.is_file(),
        "{} not found; these tests need nss_wrapper: install the Debian package \
         `libnss-wrapper` (apt-get install libnss-wrapper)",
        lib.display()
    );
    lib
}

/// `getent DATABASE KEY`: the one line of the system's database.
fn getent(database: &str, key: &str) -> String {
    let out = Command::new("getent")
        .args([database, key])
        .output()
        .expect("run getent");
    assert!(out.status.success(), "getent {database} {key}");
    String::from_utf8(out.stdout)
        .unwrap()
        .trim_end()
        .to_string()
}

/// A gid that is not the user's primary group, for otp-users.
const OTP_USERS_GID: u32 = 64_917;

/// The client with a user and group database of the test's own (nss_wrapper): the test's
/// user as the system has it, their primary group, and otp-users with `members`.
fn with_groups(env: &Env, client: Client, members: &[&str]) -> Client {
    let passwd_line = getent("passwd", &env.user.name);
    let primary_gid = passwd_line.split(':').nth(3).expect("a passwd line");
    assert_ne!(primary_gid, OTP_USERS_GID.to_string());
    let group_line = getent("group", primary_gid);
    let passwd = env.dir().join("nss-passwd");
    let group = env.dir().join("nss-group");
    fs::write(&passwd, format!("{passwd_line}\n")).unwrap();
    fs::write(
        &group,
        format!(
            "{group_line}\notp-users:x:{OTP_USERS_GID}:{}\n",
            members.join(",")
        ),
    )
    .unwrap();
    let preload = format!(
        "{}:{}",
        pam_wrapper_lib().display(),
        libnss_wrapper().display()
    );
    client
        .env("LD_PRELOAD", preload)
        .env("NSS_WRAPPER_PASSWD", passwd)
        .env("NSS_WRAPPER_GROUP", group)
}

/// The outcome of a run the module never saw: no prompt, no pam_otp line.
#[track_caller]
fn not_asked(out: &Outcome, code: i32) {
    assert_eq!(out.code, code, "{}", out.stderr);
    assert!(out.prompts.is_empty(), "asked: {:?}", out.prompts);
    assert!(out.module_lines().is_empty(), "{:?}", out.module_lines());
}

#[test]
fn otp_group_asks_members_for_a_code_and_not_the_others() {
    let (env, key) = enrolled("");
    let stack = shipped_service(&env, "otp-group", &[]);
    assert!(stack.contains(&shipped_line("otp-group", "pam_succeed_if.so")));
    let me = env.user.name.clone();
    let totp = Totp::default();

    // A member: asked; a wrong code is refused, the right one accepted.
    let wrong = env.run(
        "otp-group",
        &with_groups(&env, Client::answer(totp.wrong(&key)), &["daemon", &me]),
    );
    wrong.expect(PAM_AUTH_ERR, "bad_code").expect_prompts(1);
    let right = env.run(
        "otp-group",
        &with_groups(&env, Client::answer(totp.now(&key)), &[&me]),
    );
    right.expect(PAM_SUCCESS, "ok").expect_prompts(1);

    // The same user, not in the group: through on the password alone, never asked, even
    // typing a wrong code if asked (the conversation would answer it).
    let other = env.run(
        "otp-group",
        &with_groups(&env, Client::answer(totp.wrong(&key)), &["daemon"]),
    );
    not_asked(&other, PAM_SUCCESS);
    let empty = env.run(
        "otp-group",
        &with_groups(&env, Client::answer(totp.wrong(&key)), &[]),
    );
    not_asked(&empty, PAM_SUCCESS);

    // A name nobody has: Linux-PAM 1.5.2's pam_succeed_if finds them in no group, so
    // `notingroup` is met and the module is skipped, as for a non-member. Only the password
    // (common-auth: pam_unix refuses unknown users) stops them; this stub lets anyone in.
    let ghost = env.run(
        "otp-group",
        &with_groups(&env, Client::answer("123456").user(NO_SUCH_USER), &[&me]),
    );
    not_asked(&ghost, PAM_SUCCESS);
}

#[test]
fn otp_trusted_network_asks_only_outside_the_network() {
    let (env, key) = enrolled("");
    let access = env.dir().join("access-otp.conf");
    fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/security/access-otp.conf"),
        &access,
    )
    .unwrap();
    let access = access.display().to_string();
    let stack = shipped_service(
        &env,
        "otp-trusted-network",
        &[("/etc/security/access-otp.conf", &access)],
    );
    let line = shipped_line("otp-trusted-network", "pam_access.so")
        .replace("/etc/security/access-otp.conf", &access);
    assert!(stack.contains(&line), "{stack}");
    let totp = Totp::default();

    // Inside 192.168.1.0/24: the password is enough, no code is asked.
    for inside in ["192.168.1.20", "192.168.1.254"] {
        let out = env.run(
            "otp-trusted-network",
            &Client::answer(totp.wrong(&key)).rhost(inside),
        );
        not_asked(&out, PAM_SUCCESS);
    }

    // Outside it, and with no remote host at all (a local login): asked.
    for outside in ["192.168.2.20", "203.0.113.5", "10.0.0.1"] {
        env.run(
            "otp-trusted-network",
            &Client::answer(totp.wrong(&key)).rhost(outside),
        )
        .expect(PAM_AUTH_ERR, "bad_code")
        .expect_prompts(1);
    }
    env.run("otp-trusted-network", &Client::answer(totp.wrong(&key)))
        .expect(PAM_AUTH_ERR, "bad_code")
        .expect_prompts(1);
    // A name nobody has, even from inside: pam_access cannot say, the module asks.
    env.run(
        "otp-trusted-network",
        &Client::answer("123456")
            .user(NO_SUCH_USER)
            .rhost("192.168.1.20"),
    )
    .expect(PAM_AUTH_ERR, "unknown_user")
    .expect_prompts(1);
    env.run(
        "otp-trusted-network",
        &Client::answer(totp.now(&key)).rhost("203.0.113.5"),
    )
    .expect(PAM_SUCCESS, "ok")
    .expect_prompts(1);
}
