//! A locked-out user is told how long the lock-out lasts, in the conversation, when the
//! stack sets `lockout_message`: on the attempt that locks them out and on each attempt
//! while locked. Without the argument, and for a user who is not enrolled, nothing is said
//! (only enrolled users can be locked out, so the message would tell who is enrolled).
//! When auditing is not there (this test run has no audit daemon reading the records, and
//! an unprivileged run cannot write them) the answers are unchanged.
//!
//! Through the built module under real libpam (the test client under pam_wrapper).

use pam_otp_testkit::client::Client;
use pam_otp_testkit::codes::Totp;
use pam_otp_testkit::pam_ffi::PAM_AUTH_ERR;
use pam_otp_testkit::users::NO_SUCH_USER;
use pam_otp_testkit::whole_process::{enrolled, Env};

/// What the conversation got besides the prompt for the code.
fn messages(prompts: &[String]) -> Vec<&String> {
    prompts.iter().filter(|p| !p.contains("code")).collect()
}

#[test]
fn the_user_sees_the_time_left() {
    let (env, key) = enrolled("max_failures=2 lockout=240 lockout_message");
    let wrong = Client::answer(Totp::default().wrong(&key)).rhost("192.0.2.7");
    let first = env.run("otp", &wrong);
    first.expect(PAM_AUTH_ERR, "bad_code");
    assert!(messages(&first.prompts).is_empty(), "{:?}", first.prompts);
    let locking = env.run("otp", &wrong);
    locking
        .expect(PAM_AUTH_ERR, "bad_code")
        .expect_line_contains("locked out for 240 s");
    assert_eq!(
        messages(&locking.prompts),
        ["Too many failures; try again in 4 min"]
    );
    // Locked: even the right code is refused, and the user is told again.
    let right = env.run("otp", &Client::answer(Totp::default().now(&key)));
    right.expect(PAM_AUTH_ERR, "locked");
    assert_eq!(
        messages(&right.prompts),
        ["Too many failures; try again in 4 min"]
    );
    let state = env.state();
    assert_eq!(state.counters.bad_code, 2);
    assert_eq!(state.counters.locked, 1);
    assert_eq!(state.counters.lockouts, 1);
    assert_eq!(state.last_failure_host, b"");
}

#[test]
fn nothing_is_said_without_the_argument() {
    let (env, key) = enrolled("max_failures=1");
    let wrong = Totp::default().wrong(&key);
    let out = env.run("otp", &Client::answer(wrong.clone()).rhost("192.0.2.7"));
    out.expect(PAM_AUTH_ERR, "bad_code");
    assert!(messages(&out.prompts).is_empty(), "{:?}", out.prompts);
    let locked = env.run("otp", &Client::answer(wrong).rhost("192.0.2.7"));
    locked.expect(PAM_AUTH_ERR, "locked");
    assert!(messages(&locked.prompts).is_empty(), "{:?}", locked.prompts);
    assert_eq!(env.state().last_failure_host, b"192.0.2.7");
}

#[test]
fn the_unenrolled_are_never_told_anything_else() {
    let env = Env::new();
    env.otp_service("max_failures=1 lockout_message");
    for _ in 0..3 {
        let out = env.run("otp", &Client::answer("000000"));
        out.expect(PAM_AUTH_ERR, "no_secret");
        assert!(messages(&out.prompts).is_empty(), "{:?}", out.prompts);
        let unknown = env.run("otp", &Client::answer("000000").user(NO_SUCH_USER));
        unknown.expect(PAM_AUTH_ERR, "unknown_user");
        assert!(messages(&unknown.prompts).is_empty());
    }
}
