//! The configuration file (`config=PATH` on the module line; pam_otp.conf(5)), as the stack's
//! users see it: its settings are obeyed, a module argument overrides it, and a file the
//! module cannot trust (a bad key, a password others can read, a password on the world-
//! readable module line, a missing explicit file) refuses every login with `bad_args` and a
//! log line that names the file, the line and the key, never the password.
//!
//! Through the built module under real libpam (the test client under pam_wrapper, the test
//! kit's `whole_process`).

use std::path::PathBuf;

use pam_otp_testkit::built::module_path;
use pam_otp_testkit::client::Client;
use pam_otp_testkit::codes::{Key, Totp};
use pam_otp_testkit::pam_ffi::{PAM_AUTH_ERR, PAM_SERVICE_ERR, PAM_SUCCESS};
use pam_otp_testkit::whole_process::Env;
use pam_otp_testkit::write_file;

const PASSWORD: &str = "Tr0ub4dor-and-3-horses";

/// An enrolled user whose `otp` service reads `config=<dir>/pam_otp.conf`, holding `text`
/// (mode `mode`), with only `secret=` and `extra` on the module line.
fn with_config(text: &str, mode: u32, extra: &str) -> (Env, Key, PathBuf) {
    let env = Env::new();
    env.forbid(PASSWORD);
    let key = Key::random(20);
    env.write_secret(&key, "");
    let conf = env.dir().join("pam_otp.conf");
    write_file(&conf, text.as_bytes(), mode);
    env.service(
        "otp",
        &format!(
            "auth required {} secret={}/%u.otp config={} {extra}\n",
            module_path().display(),
            env.secrets_dir().display(),
            conf.display()
        ),
    );
    (env, key, conf)
}

#[test]
fn the_module_obeys_the_files_settings() {
    let (env, key, _) = with_config("", 0o644, "");
    let state_dir = env.dir().join("file-state");
    write_file(
        &env.dir().join("pam_otp.conf"),
        format!(
            "# from the file\nstate_dir = {}\nwindow = 0\nmax_failures = 2\n\
             prompt = \"Code from the file: \"\n",
            state_dir.display()
        )
        .as_bytes(),
        0o644,
    );
    let totp = Totp::default();
    // window = 0: the next step's code, accepted with the default window of 1, is refused.
    let out = env.run("otp", &Client::answer(totp.next(&key)));
    out.expect(PAM_AUTH_ERR, "bad_code");
    assert_eq!(out.prompts, ["Code from the file: "]);
    // max_failures = 2: the second failure locks the user out, the right code is refused.
    env.run("otp", &Client::answer(totp.wrong(&key)))
        .expect(PAM_AUTH_ERR, "bad_code");
    env.run("otp", &Client::answer(totp.now(&key)))
        .expect(PAM_AUTH_ERR, "locked");
    // The state went to the file's state_dir, not the default.
    assert!(state_dir.join(env.user.uid.to_string()).is_file());
}

#[test]
fn a_module_argument_overrides_the_file() {
    let (env, key, _) = with_config("window = 0\n", 0o644, "window=1");
    env.run("otp", &Client::answer(Totp::default().next(&key)))
        .expect(PAM_SUCCESS, "ok");
}

#[test]
fn a_bad_file_refuses_every_login_without_showing_the_password() {
    let text = format!(
        "store = redis\nredis_url = redis://127.0.0.1\nredis_password = {PASSWORD}\nwindw = 1\n"
    );
    let (env, key, conf) = with_config(&text, 0o600, "");
    for _ in 0..2 {
        env.run("otp", &Client::answer(Totp::default().now(&key)))
            .expect(PAM_SERVICE_ERR, "bad_args")
            .expect_prompts(0)
            .expect_line_contains(&format!(
                "configuration file {} line 4: 'windw': unknown argument; refusing every login",
                conf.display()
            ));
    }
    // (Env::run has checked that no line holds the password.)
}

#[test]
fn a_password_on_the_module_line_is_refused() {
    let (env, key, _) = with_config(
        "store = redis\nredis_url = redis://127.0.0.1\n",
        0o644,
        &format!("redis_password={PASSWORD}"),
    );
    env.run("otp", &Client::answer(Totp::default().now(&key)))
        .expect(PAM_SERVICE_ERR, "bad_args")
        .expect_prompts(0)
        .expect_line_contains("'redis_password': is not allowed on the module line");
}

#[test]
fn a_group_readable_file_with_a_password_is_refused() {
    let text =
        format!("store = redis\nredis_url = redis://127.0.0.1\nredis_password = {PASSWORD}\n");
    let (env, key, _) = with_config(&text, 0o640, "");
    env.run("otp", &Client::answer(Totp::default().now(&key)))
        .expect(PAM_SERVICE_ERR, "bad_args")
        .expect_line_contains(
            "line 3: 'redis_password': is in a file that group or others can read",
        );
}

#[test]
fn an_unsafe_or_missing_named_file_is_refused() {
    let (env, key, conf) = with_config("window = 1\n", 0o666, "");
    env.run("otp", &Client::answer(Totp::default().now(&key)))
        .expect(PAM_SERVICE_ERR, "bad_args")
        .expect_line_contains("is writable by group or others");
    std::fs::remove_file(&conf).unwrap();
    env.run("otp", &Client::answer(Totp::default().now(&key)))
        .expect(PAM_SERVICE_ERR, "bad_args")
        .expect_line_contains("does not exist");
}
