//! Several devices per user: a secret file with a default token and named ones (`token =
//! NAME` blocks). A code from any token logs in and the log line names the token; each
//! token keeps its own replay history, so a used code of one is refused while the same
//! step of another still works; an HOTP token moves its own counter. And a file in today's
//! single-token format (a committed fixture, and one written by `pam-otp enroll`) logs in
//! unchanged, with today's log line.
//!
//! Through the built module under pam_wrapper (the test kit's `whole_process`). Needs, and
//! fails (never skips) without: libpam-wrapper, oathtool.

use pam_otp_testkit::client::Client;
use pam_otp_testkit::codes::{hotp, Key, Totp};
use pam_otp_testkit::enrolment::{enrol, ok};
use pam_otp_testkit::pam_ffi::{PAM_AUTH_ERR, PAM_SUCCESS};
use pam_otp_testkit::whole_process::Env;

/// An Env whose user has a phone (default), a spare phone (SHA-256, 8 digits) and a
/// hardware HOTP token; returns the three keys.
fn three_tokens() -> (Env, Key, Key, Key) {
    let env = Env::new();
    let (phone, spare, yubi) = (Key::random(20), Key::random(20), Key::random(20));
    for k in [&phone, &spare, &yubi] {
        env.forbid(&k.base32());
        env.forbid(&k.hex());
    }
    env.write_secret_raw(&format!(
        "secret = {}\n\ntoken = spare\nalgorithm = sha256\ndigits = 8\nsecret = {}\n\ntoken = yubi\ntype = hotp\nsecret = {}\n",
        phone.base32(),
        spare.base32(),
        yubi.base32()
    ));
    env.otp_service("");
    (env, phone, spare, yubi)
}

const SPARE: Totp = Totp {
    algorithm: "sha256",
    digits: 8,
    period: 30,
};

#[test]
fn a_code_from_each_token_logs_in_and_the_log_names_it() {
    let (env, phone, spare, yubi) = three_tokens();
    env.run("otp", &Client::answer(Totp::default().now(&phone)))
        .expect(PAM_SUCCESS, "ok")
        .expect_line_contains("accepted time-based code from token 'default'");
    env.run("otp", &Client::answer(SPARE.now(&spare)))
        .expect(PAM_SUCCESS, "ok")
        .expect_line_contains("accepted time-based code from token 'spare'");
    env.run("otp", &Client::answer(hotp(&yubi, 0)))
        .expect(PAM_SUCCESS, "ok")
        .expect_line_contains("accepted counter-based code from token 'yubi'");
    env.run("otp", &Client::answer(Totp::default().wrong(&phone)))
        .expect(PAM_AUTH_ERR, "bad_code");
}

#[test]
fn each_token_has_its_own_replay_history() {
    let (env, phone, spare, yubi) = three_tokens();
    let phone_code = Totp::default().now(&phone);
    env.run("otp", &Client::answer(&phone_code))
        .expect(PAM_SUCCESS, "ok");
    // The phone's step is used; the spare phone's code for that very step is not.
    env.run("otp", &Client::answer(SPARE.now(&spare)))
        .expect(PAM_SUCCESS, "ok")
        .expect_line_contains("from token 'spare'");
    // Each used code is a replay, the other token's use notwithstanding.
    env.run("otp", &Client::answer(&phone_code))
        .expect(PAM_AUTH_ERR, "replay")
        .expect_line_contains("code already used");
    env.run("otp", &Client::answer(SPARE.now(&spare)))
        .expect(PAM_AUTH_ERR, "replay");
    // The HOTP token: its counter moves on its own; a used value is refused.
    env.run("otp", &Client::answer(hotp(&yubi, 2)))
        .expect(PAM_SUCCESS, "ok")
        .expect_line_contains("from token 'yubi'");
    env.run("otp", &Client::answer(hotp(&yubi, 2)))
        .expect(PAM_AUTH_ERR, "replay");
    env.run("otp", &Client::answer(hotp(&yubi, 1)))
        .expect(PAM_AUTH_ERR, "bad_code");
    env.run("otp", &Client::answer(hotp(&yubi, 3)))
        .expect(PAM_SUCCESS, "ok");
}

#[test]
fn a_file_in_todays_format_logs_in_unchanged() {
    // Written as pam-otp 0.1's enroll writes a file (tests/fixtures/single_token_0.1.otp):
    // the key is "12345678901234567890", the recovery code abcd-2345-efgh.
    let env = Env::new();
    let fixture = include_str!("fixtures/single_token_0.1.otp");
    env.write_secret_raw(fixture);
    env.otp_service("");
    let key = Key(b"12345678901234567890".to_vec());
    let code = Totp::default().now(&key);
    let out = env.run("otp", &Client::answer(&code));
    out.expect(PAM_SUCCESS, "ok")
        .expect_line_contains("accepted time-based code");
    // One token: the log line is today's, with no token named.
    assert!(
        out.module_lines().iter().all(|l| !l.contains("from token")),
        "{:?}",
        out.module_lines()
    );
    env.run("otp", &Client::answer(&code))
        .expect(PAM_AUTH_ERR, "replay");
    env.run("otp", &Client::answer("abcd-2345-efgh"))
        .expect(PAM_SUCCESS, "ok")
        .expect_line_contains("recovery code");
    env.run("otp", &Client::answer("abcd-2345-efgh"))
        .expect(PAM_AUTH_ERR, "replay");
}

#[test]
fn a_file_written_by_enroll_logs_in_and_takes_a_second_token() {
    let env = Env::new();
    env.otp_service("");
    let (key, _codes) = enrol(&env, &[]);
    let out = env.run("otp", &Client::answer(Totp::default().now(&key)));
    out.expect(PAM_SUCCESS, "ok");
    assert!(out.module_lines().iter().all(|l| !l.contains("from token")));
    // A spare phone, added with enroll --name: both work, the first keeps its history.
    ok(&env.cli(
        &["enroll", "--no-confirm", "--qr", "none", "--name", "spare"],
        "",
    ));
    let text = std::fs::read_to_string(env.secret_path()).unwrap();
    let spare = text
        .split("token = spare")
        .nth(1)
        .and_then(|rest| rest.lines().find_map(|l| l.strip_prefix("secret = ")))
        .expect("the spare token's secret");
    let spare = Key(pam_otp_core::secret_file::decode_base32(spare)
        .expect("base32")
        .to_vec());
    env.forbid(&spare.base32());
    env.run("otp", &Client::answer(Totp::default().now(&spare)))
        .expect(PAM_SUCCESS, "ok")
        .expect_line_contains("from token 'spare'");
    env.run("otp", &Client::answer(Totp::default().now(&key)))
        .expect(PAM_AUTH_ERR, "replay");
}
