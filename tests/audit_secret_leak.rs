//! Audit issue 9, item 8: a malformed secret file must not leak the secret (or a recovery
//! hash) into syslog or `pam-otp status`. The rejection names a key only if it looks like
//! a key; otherwise it says which line is wrong without echoing it. Checked here through the
//! built module's syslog line; crates/cli/tests/cli/secret_leak.rs checks `pam-otp status`
//! and `pam-otp import` with the same files.

// Test code: a broken assumption should stop the test loudly, so unwrap/expect/panic are fine,
// and it reads the clock as the world outside the module does.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::disallowed_methods
)]

use pam_otp_testkit::client::Client;
use pam_otp_testkit::codes::Key;
use pam_otp_testkit::pam_ffi::PAM_AUTH_ERR;
use pam_otp_testkit::secret_leak_fixtures::{cases, needles, secrets};
use pam_otp_testkit::whole_process::Env;

#[test]
fn module_log_never_echoes_a_malformed_secret_line() {
    let env = Env::new();
    env.otp_service("");
    let secrets = secrets();
    for b32 in &secrets {
        env.forbid(b32);
        env.forbid(&b32[..10]);
    }
    for (b32, text) in cases(&secrets) {
        env.write_secret_raw(&text);
        let out = env.run("otp", &Client::answer("123456"));
        out.expect(PAM_AUTH_ERR, "bad_secret_file");
        let line = out.line();
        eprintln!("{line}");
        for needle in needles(&b32) {
            assert!(!line.contains(&needle), "{line:?} leaks {needle:?}");
        }
        assert!(line.contains("line "), "the line number is named: {line:?}");
    }
}

#[test]
fn module_log_still_names_a_misspelt_key() {
    let env = Env::new();
    env.otp_service("");
    let key = Key::random(20);
    env.write_secret(&key, "digts = 6\n");
    env.run("otp", &Client::answer("123456"))
        .expect(PAM_AUTH_ERR, "bad_secret_file")
        .expect_line_contains("line 2: unknown key 'digts'");
}
