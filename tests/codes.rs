//! The codes a user types: a TOTP code from oathtool (an independent implementation) is
//! accepted, a wrong one denied and counted, a used one refused as a replay, and
//! `max_failures` wrong ones lock the user out, even for the right code; HOTP codes move the
//! counter forward from the file's counter; SHA-256 and SHA-512, eight digits and 60-second
//! steps work; a recovery code works once. Each case checks what an administrator would see:
//! the PAM return code and the syslog reason word.
//!
//! Through the built module, loaded by real libpam from a private service directory, driven
//! by the test client (`crates/testkit/examples/pam_client.rs`) under pam_wrapper (the test
//! kit's `whole_process`). Needs, and fails (never skips) without: libpam-wrapper, oathtool.
//! Every run also checks that no log line or prompt contains the secret, a recovery code or
//! what was typed.

use pam_otp_testkit::client::Client;
use pam_otp_testkit::codes::{hotp, now, recovery_entry, Key, Totp};
use pam_otp_testkit::pam_ffi::{PAM_AUTH_ERR, PAM_SUCCESS};
use pam_otp_testkit::whole_process::{enrolled, Env};

#[test]
fn code_from_oathtool_is_accepted() {
    let (env, key) = enrolled("");
    let before = now();
    let code = Totp::default().now(&key);
    let out = env.run("otp", &Client::answer(&code).rhost("host.example"));
    out.expect(PAM_SUCCESS, "ok")
        .expect_prompts(1)
        .expect_line_contains(&format!("rhost=host.example user={}: ", env.user.name))
        .expect_line_contains("time-based code");
    assert_eq!(out.prompts[0], "One-time code: ");
    let step = env
        .state()
        .last_step
        .expect("the accepted step is recorded");
    assert!((before / 30).abs_diff(step) <= 1, "step {step}");
    assert_eq!(env.state().failures, 0);
}

#[test]
fn wrong_code_is_denied_and_counted() {
    let (env, key) = enrolled("");
    let wrong = Totp::default().wrong(&key);
    env.run("otp", &Client::answer(&wrong))
        .expect(PAM_AUTH_ERR, "bad_code")
        .expect_line_contains(&format!(
            "rhost=- user={}: wrong code (1 of 5 failures)",
            env.user.name
        ));
    env.run("otp", &Client::answer("not a code"))
        .expect(PAM_AUTH_ERR, "bad_code")
        .expect_line_contains("(2 of 5 failures)");
    assert_eq!(env.state().failures, 2);
}

#[test]
fn replayed_code_is_refused() {
    let (env, key) = enrolled("");
    let code = Totp::default().now(&key);
    env.run("otp", &Client::answer(&code))
        .expect(PAM_SUCCESS, "ok");
    env.run("otp", &Client::answer(&code))
        .expect(PAM_AUTH_ERR, "replay")
        .expect_line_contains("code already used");
}

#[test]
fn lockout_after_max_failures_refuses_even_the_right_code() {
    let (env, key) = enrolled("max_failures=3 lockout=120");
    let wrong = Totp::default().wrong(&key);
    for n in 1..=2 {
        env.run("otp", &Client::answer(&wrong))
            .expect(PAM_AUTH_ERR, "bad_code")
            .expect_line_contains(&format!("({n} of 3 failures)"));
    }
    env.run("otp", &Client::answer(&wrong))
        .expect(PAM_AUTH_ERR, "bad_code")
        .expect_line_contains("(3 of 3 failures); locked out for 120 s");
    let code = Totp::default().now(&key);
    env.run("otp", &Client::answer(&code))
        .expect(PAM_AUTH_ERR, "locked")
        .expect_line_contains("too many failures");
    let state = env.state();
    assert!(state.locked_until > now(), "{state:?}");
    assert_eq!(
        state.last_step, None,
        "a locked attempt must not use up the code"
    );
}

#[test]
fn hotp_codes_from_oathtool_move_the_counter_forward() {
    let env = Env::new();
    let key = Key::fixed(20);
    env.write_secret(&key, "type = hotp\n");
    env.otp_service("");
    env.run("otp", &Client::answer(hotp(&key, 0)))
        .expect(PAM_SUCCESS, "ok")
        .expect_line_contains("counter-based code");
    assert_eq!(env.state().hotp_next, Some(1));
    env.run("otp", &Client::answer(hotp(&key, 0)))
        .expect(PAM_AUTH_ERR, "replay");
    // The token was pressed without logging in: a code ahead, within the look-ahead, works.
    env.run("otp", &Client::answer(hotp(&key, 4)))
        .expect(PAM_SUCCESS, "ok");
    assert_eq!(env.state().hotp_next, Some(5));
    env.run("otp", &Client::answer(hotp(&key, 2)))
        .expect(PAM_AUTH_ERR, "bad_code");
    // Beyond the look-ahead (default 5 past the expected counter) is refused.
    env.run("otp", &Client::answer(hotp(&key, 11)))
        .expect(PAM_AUTH_ERR, "bad_code");
}

#[test]
fn hotp_starts_at_the_files_counter() {
    let env = Env::new();
    let key = Key::fixed(20);
    env.write_secret(&key, "type = hotp\ncounter = 1000\n");
    env.otp_service("");
    env.run("otp", &Client::answer(hotp(&key, 999)))
        .expect(PAM_AUTH_ERR, "bad_code");
    env.run("otp", &Client::answer(hotp(&key, 1000)))
        .expect(PAM_SUCCESS, "ok");
    assert_eq!(env.state().hotp_next, Some(1001));
}

#[test]
fn sha256_eight_digit_codes_are_accepted() {
    let env = Env::new();
    let key = Key::random(32);
    env.write_secret(&key, "algorithm = sha256\ndigits = 8\n");
    env.otp_service("");
    let spec = Totp {
        algorithm: "sha256",
        digits: 8,
        period: 30,
    };
    let code = spec.now(&key);
    assert_eq!(code.len(), 8);
    env.run("otp", &Client::answer(&code))
        .expect(PAM_SUCCESS, "ok");
}

#[test]
fn sha512_eight_digit_sixty_second_codes_are_accepted() {
    let env = Env::new();
    let key = Key::random(64);
    env.write_secret(&key, "algorithm = sha512\ndigits = 8\nperiod = 60\n");
    env.otp_service("");
    let spec = Totp {
        algorithm: "sha512",
        digits: 8,
        period: 60,
    };
    let code = spec.now(&key);
    // The same code cut to six digits is not a code for this secret.
    env.run("otp", &Client::answer(&code[2..]))
        .expect(PAM_AUTH_ERR, "bad_code");
    env.run("otp", &Client::answer(&code))
        .expect(PAM_SUCCESS, "ok");
    let step = env.state().last_step.expect("step recorded");
    assert!(
        (now() / 60).abs_diff(step) <= 1,
        "step {step} is in 60 s units"
    );
    // SHA-1 codes for the same key are not accepted.
    let sha1 = Totp {
        algorithm: "sha1",
        ..spec
    };
    let sha1_code = sha1.now(&key);
    if sha1_code != code {
        env.run("otp", &Client::answer(&sha1_code))
            .expect(PAM_AUTH_ERR, "bad_code");
    }
}

#[test]
fn recovery_code_works_once() {
    let env = Env::new();
    let key = Key::random(20);
    let code = "tstr-ecov-ery2";
    let normalized = code.replace('-', "");
    env.forbid(code);
    env.forbid(&normalized);
    env.write_secret(
        &key,
        &format!(
            "recovery = {}\nrecovery = {}\n",
            recovery_entry("abcdabcdabcd"),
            recovery_entry(&normalized)
        ),
    );
    env.otp_service("");
    env.run(
        "otp",
        &Client::answer(code.to_uppercase().replace('-', " ")),
    )
    .expect(PAM_SUCCESS, "ok")
    .expect_line_contains("recovery code (now spent)");
    env.run("otp", &Client::answer(code))
        .expect(PAM_AUTH_ERR, "replay");
    assert_eq!(env.state().spent.len(), 1);
    // The time-based code still works.
    env.run("otp", &Client::answer(Totp::default().now(&key)))
        .expect(PAM_SUCCESS, "ok");
}
