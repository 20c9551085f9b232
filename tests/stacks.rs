//! The module inside whole PAM stacks: the shipped roll-out stack (`pam.d/otp-rollout`)
//! lets users without a secret through, asks enrolled ones, and grants nothing when the
//! password fails; pamtester, a real PAM application, authenticates with the module. Through
//! real libpam under pam_wrapper.
//!
//! Needs, and fails (never skips) without: libpam-wrapper, oathtool, pamtester.

use std::fs;
use std::io::Write;
use std::process::{Command, Stdio};

use pam_otp_testkit::built::module_path;
use pam_otp_testkit::client::Client;
use pam_otp_testkit::codes::{Key, Totp};
use pam_otp_testkit::pam_ffi::{PAM_AUTH_ERR, PAM_SUCCESS};
use pam_otp_testkit::pam_wrapper::{wrap, StartLock};
use pam_otp_testkit::syslog::{log_messages, syslog_lines};
use pam_otp_testkit::tools::require_tool;
use pam_otp_testkit::whole_process::{enrolled, Env};

/// The shipped roll-out stack, with the module path and this test's paths filled in and
/// stub `common-*` files. Linux-PAM 1.5.2 resolves `@include` in /etc/pam.d even for a
/// service read from another directory, so the includes are made absolute: otherwise the
/// test would silently run the host's own common-auth.
fn rollout_service(env: &Env, common_auth: &str) -> &'static str {
    let shipped =
        fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/pam.d/otp-rollout")).unwrap();
    let dir = env.services_dir();
    let module = format!("{} {}", module_path().display(), env.module_args());
    let mut stack = String::new();
    for line in shipped.lines() {
        let line = match line.trim().strip_prefix("@include ") {
            Some(name) => format!("@include {}", dir.join(name.trim()).display()),
            None => line.replace("pam_otp.so", &module),
        };
        stack.push_str(&line);
        stack.push('\n');
    }
    assert_eq!(
        stack.matches(module_path().to_str().unwrap()).count(),
        1,
        "{stack}"
    );
    assert_eq!(stack.matches("@include /").count(), 3, "{stack}");
    env.service("common-auth", &format!("auth required {common_auth}\n"));
    env.service("common-account", "account required pam_permit.so\n");
    env.service(
        "common-session-noninteractive",
        "session required pam_permit.so\n",
    );
    env.service("otp-rollout", &stack);
    "otp-rollout"
}

#[test]
fn rollout_stack_lets_unenrolled_users_through_and_asks_enrolled_ones() {
    let env = Env::new();
    let service = rollout_service(&env, "pam_permit.so");
    env.run(service, &Client::answer("123456"))
        .expect(PAM_SUCCESS, "no_secret")
        .expect_prompts(0);

    let key = Key::random(20);
    env.write_secret(&key, "");
    env.run(service, &Client::answer(Totp::default().wrong(&key)))
        .expect(PAM_AUTH_ERR, "bad_code")
        .expect_prompts(1);
    env.run(service, &Client::answer(Totp::default().now(&key)))
        .expect(PAM_SUCCESS, "ok");
}

#[test]
fn rollout_stack_grants_nothing_when_the_password_fails() {
    let env = Env::new();
    let service = rollout_service(&env, "pam_deny.so");
    env.run(service, &Client::answer("123456"))
        .expect(PAM_AUTH_ERR, "no_secret");
}

#[test]
fn pamtester_authenticates_with_the_module() {
    require_tool("pamtester", &[], "pamtester");
    let (env, key) = enrolled("");
    let pamtester = |answer: &str| {
        let _start = StartLock::acquire();
        let mut child = wrap(&mut Command::new("pamtester"), &env.services_dir())
            .args(["-v", "otp", &env.user.name, "authenticate"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run pamtester");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(format!("{answer}\n").as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(
            text.contains("Successfully initialized pam_wrapper"),
            "pam_wrapper not active: {text}"
        );
        let messages = log_messages(&text);
        assert!(
            !messages.iter().any(|m| m.contains(answer)),
            "the code leaked: {text}"
        );
        (out.status.success(), syslog_lines(&messages), text)
    };
    let (ok, syslog, text) = pamtester(&Totp::default().wrong(&key));
    assert!(!ok, "{text}");
    assert!(
        syslog.iter().any(|l| l.starts_with("bad_code rhost=")),
        "{text}"
    );
    let (ok, syslog, text) = pamtester(&Totp::default().now(&key));
    assert!(ok, "{text}");
    assert!(text.contains("successfully authenticated"), "{text}");
    assert!(syslog.iter().any(|l| l.starts_with("ok rhost=")), "{text}");
}
