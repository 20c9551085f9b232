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
use pam_otp_testkit::whole_process::Env;

/// Secret files in which the base32 secret lands where the parser reports a key.
fn malformed_files(b32: &str) -> Vec<String> {
    vec![
        // The case: a bare base32 line with `=` padding (the key is the secret).
        format!("{b32}==\n"),
        format!("type = totp\n{b32}==\n"),
        format!("secret {b32}=\n"),
        format!("secret: {b32} =\n"),
        format!("{} = x\n", b32.to_lowercase()),
        // A pasted recovery entry without its key, then a secret as the key of a line.
        format!("secret = {b32}\n{b32} = {b32}\n"),
    ]
}

/// The secrets tried: a random 160-bit one, and an 80-bit one of letters only, whose
/// lower-case spelling is shaped like a key name (16 letters).
fn secrets() -> Vec<String> {
    vec![Key::random(20).base32(), "QWERTYUIOPASDFGH".to_string()]
}

/// Texts that must not appear: the secret, its first 10 characters, either case.
fn needles(b32: &str) -> Vec<String> {
    let mut out = Vec::new();
    for s in [b32.to_string(), b32[..10].to_string()] {
        out.push(s.to_lowercase());
        out.push(s.to_uppercase());
    }
    out
}

#[test]
fn module_log_never_echoes_a_malformed_secret_line() {
    let env = Env::new();
    env.otp_service("");
    let secrets = secrets();
    for b32 in &secrets {
        env.forbid(b32);
        env.forbid(&b32[..10]);
    }
    for (b32, text) in secrets
        .iter()
        .flat_map(|b| malformed_files(b).into_iter().map(move |t| (b.clone(), t)))
    {
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
