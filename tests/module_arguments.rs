//! Module arguments, as the stack's users see them: an unknown or malformed argument fails
//! closed (PAM_SERVICE_ERR, `bad_args`, no prompt) and is named in the log; `use_first_pass`
//! and `try_first_pass` take the code from the module stacked in front; `prompt=` (with
//! Linux-PAM's bracket syntax for spaces) is the prompt shown; `debug` logs more but never
//! the code or the secret.
//!
//! Through the built module under real libpam (the test client under pam_wrapper, the test
//! kit's `whole_process`).

use pam_otp_testkit::built::module_path;
use pam_otp_testkit::client::Client;
use pam_otp_testkit::codes::Totp;
use pam_otp_testkit::pam_ffi::{PAM_AUTH_ERR, PAM_CONV_ERR, PAM_SERVICE_ERR, PAM_SUCCESS};
use pam_otp_testkit::pam_wrapper::pam_wrapper_module;
use pam_otp_testkit::whole_process::{enrolled, Env};

#[test]
fn unknown_or_malformed_arguments_fail_closed() {
    let (env, key) = enrolled("");
    for (args, named) in [
        ("nulok", "'nulok'"),
        ("window=11", "'window'"),
        ("max_failures=0", "'max_failures'"),
        ("secret=relative/%u", "'secret'"),
        ("nullok nullok", "'nullok'"),
        ("try_first_pass use_first_pass", "'use_first_pass'"),
    ] {
        // The bad argument first, so that it is the one reported.
        let stack = format!(
            "auth required {} {args} {}\n",
            module_path().display(),
            env.module_args()
        );
        env.service("bad", &stack);
        let out = env.run("bad", &Client::answer(Totp::default().now(&key)));
        out.expect(PAM_SERVICE_ERR, "bad_args")
            .expect_prompts(0)
            .expect_line_contains(named);
    }
}

/// `pam_set_items.so` (pam_wrapper) sets PAM_AUTHTOK from the environment, as a password
/// module in front of pam_otp would; libpam does not let an application set it.
fn first_pass_service(env: &Env, option: &str) -> &'static str {
    env.service(
        "firstpass",
        &format!(
            "auth required {}\n{}\n",
            pam_wrapper_module("pam_set_items.so").display(),
            env.module_line("required", option)
        ),
    );
    "firstpass"
}

#[test]
fn use_first_pass_takes_the_token_and_never_asks() {
    let (env, key) = enrolled("");
    let service = first_pass_service(&env, "use_first_pass");
    let code = Totp::default().now(&key);
    env.run(service, &Client::answer("unused").authtok(&code))
        .expect(PAM_SUCCESS, "ok")
        .expect_prompts(0);
    env.run(service, &Client::answer(&code))
        .expect(PAM_CONV_ERR, "no_authtok")
        .expect_prompts(0);
    env.run(service, &Client::answer("unused").authtok("hunter2"))
        .expect(PAM_AUTH_ERR, "bad_code")
        .expect_prompts(0);
}

#[test]
fn try_first_pass_uses_a_code_shaped_token() {
    let (env, key) = enrolled("");
    let service = first_pass_service(&env, "try_first_pass");
    env.run(
        service,
        &Client::answer("unused").authtok(&Totp::default().now(&key)),
    )
    .expect(PAM_SUCCESS, "ok")
    .expect_prompts(0);
}

#[test]
fn try_first_pass_asks_when_the_token_is_a_password() {
    let (env, key) = enrolled("");
    let service = first_pass_service(&env, "try_first_pass");
    env.run(
        service,
        &Client::answer(Totp::default().now(&key)).authtok("correct horse battery"),
    )
    .expect(PAM_SUCCESS, "ok")
    .expect_prompts(1);
}

#[test]
fn prompt_argument_with_brackets_is_shown() {
    let (env, key) = enrolled("[prompt=Verification code: ]");
    let out = env.run("otp", &Client::answer(Totp::default().now(&key)));
    out.expect(PAM_SUCCESS, "ok");
    assert_eq!(out.prompts, ["Verification code: "]);
}

#[test]
fn debug_logs_more_but_never_the_code_or_secret() {
    let (env, key) = enrolled("debug");
    let out = env.run("otp", &Client::answer(Totp::default().wrong(&key)));
    out.expect(PAM_AUTH_ERR, "bad_code");
    assert!(
        out.module_lines().iter().any(|l| l.starts_with("debug ")),
        "{:?}",
        out.syslog
    );
    env.run("otp", &Client::answer(Totp::default().now(&key)))
        .expect(PAM_SUCCESS, "ok");
    // The leak checks in Env::run covered both runs.
}
