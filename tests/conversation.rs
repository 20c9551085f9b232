//! When the application's conversation fails: no answer at all, or an answer that is no
//! response, is a conversation error (PAM_CONV_ERR, `conv_error`) and not a guess; a
//! one-mebibyte answer is a wrong code, counted.
//!
//! Through the built module under real libpam (the test client under pam_wrapper, the test
//! kit's `whole_process`).

use pam_otp_testkit::client::{Client, Conv};
use pam_otp_testkit::pam_ffi::{PAM_AUTH_ERR, PAM_CONV_ERR};
use pam_otp_testkit::whole_process::enrolled;

#[test]
fn conversation_failure_is_a_conversation_error() {
    let (env, _key) = enrolled("");
    env.run("otp", &Client::new(Conv::Fail))
        .expect(PAM_CONV_ERR, "conv_error");
    assert_eq!(env.state().failures, 0, "no answer is not a guess");
}

#[test]
fn conversation_without_response_is_a_conversation_error() {
    let (env, _key) = enrolled("");
    env.run("otp", &Client::new(Conv::NoResponse))
        .expect(PAM_CONV_ERR, "conv_error");
}

#[test]
fn one_mebibyte_answer_is_a_wrong_code() {
    let (env, _key) = enrolled("");
    env.run("otp", &Client::new(Conv::Big))
        .expect(PAM_AUTH_ERR, "bad_code")
        .expect_line_contains("input too long (1 of 5 failures)");
    assert_eq!(env.state().failures, 1);
}
