//! `pam-otp locked` and `pam-otp unlock` of several users / `--all`, after real failed
//! logins through the built module (the test kit's whole-process client).

use pam_otp_testkit::client::Client;
use pam_otp_testkit::codes::Totp;
use pam_otp_testkit::pam_ffi::PAM_AUTH_ERR;
use pam_otp_testkit::whole_process::enrolled;

use crate::harness::*;

#[test]
fn locked_lists_who_when_how_many_and_from_where() {
    let (env, key) = enrolled("max_failures=2 lockout=600");
    let out = ok(env.cli(&["locked"], ""));
    assert!(out.contains("No user is locked out"), "{out}");
    let wrong = Totp::default().wrong(&key);
    env.run(
        "otp",
        &Client::answer(wrong.clone()).rhost("bad host\n\x1b[31m"),
    )
    .expect(PAM_AUTH_ERR, "bad_code");
    let out = ok(env.cli(&["locked"], ""));
    let line = out
        .lines()
        .find(|l| l.starts_with(&env.user.name))
        .unwrap_or_else(|| panic!("{out}"));
    let fields: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(fields[1], env.user.uid.to_string(), "{line}");
    assert_eq!(fields[2], "1", "{line}");
    // The host is shown escaped: no control byte reaches the terminal.
    assert!(line.contains(r#""bad host\x0a\x1b[31m""#), "{line}");
    assert!(!out.contains('\x1b'));
    env.run("otp", &Client::answer(wrong).rhost("192.0.2.7"))
        .expect(PAM_AUTH_ERR, "bad_code");
    let out = ok(env.cli(&["locked"], ""));
    assert!(out.contains("192.0.2.7"), "{out}");
    assert!(out.contains("10 min") || out.contains("9 min"), "{out}");

    // Unlock by name, then nothing is listed; --all and several names are accepted.
    let out = ok(env.cli(&["unlock", &env.user.name, &env.user.name], ""));
    assert!(out.contains("Unlocked"), "{out}");
    let out = ok(env.cli(&["locked"], ""));
    assert!(out.contains("No user is locked out"), "{out}");
    let out = ok(env.cli(&["unlock", "--all"], ""));
    assert!(out.contains("nothing to unlock"), "{out}");
    fails(env.cli(&["unlock"], ""), 2, "<USERS>");
    // One unknown name among several: the others are done, the command fails.
    let o = env.cli(&["unlock", "no-such-user-pam-otp", &env.user.name], "");
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("no user named"), "{}", stderr(&o));
    assert!(stdout(&o).contains(&env.user.name));
    // The right code works again.
    env.run("otp", &Client::answer(Totp::default().now(&key)))
        .expect(0, "ok");
}

#[test]
fn unlock_all_clears_every_failing_user() {
    let (env, key) = enrolled("max_failures=1");
    env.run("otp", &Client::answer(Totp::default().wrong(&key)))
        .expect(PAM_AUTH_ERR, "bad_code");
    assert!(env.state().is_locked(pam_otp_testkit::codes::now()));
    let out = ok(env.cli(&["unlock", "--all"], ""));
    assert!(out.contains("Unlocked"), "{out}");
    assert!(!env.state().is_locked(pam_otp_testkit::codes::now()));
}
