//! Malformed or too weak secret files are refused (`bad_secret_file`), and the refusal never
//! leaks the secret: an empty file, a line that is not `key = value`, an unknown or repeated
//! key, a bad value, a NUL byte, a file over 64 KiB, and a secret shorter than
//! `min_secret_bits` are all refused. The rejection names a key only if it looks like a key;
//! otherwise it says which line is wrong without echoing it, so a secret (or a recovery
//! hash) typed where a key belongs does not reach syslog (audit issue 9, item 8;
//! crates/cli/tests/cli/secret_leak.rs checks `pam-otp status` with the same files).
//!
//! Through the built module under real libpam (the test client under pam_wrapper, the test
//! kit's `whole_process`).

use pam_otp_testkit::client::Client;
use pam_otp_testkit::codes::{Key, Totp};
use pam_otp_testkit::pam_ffi::{PAM_AUTH_ERR, PAM_SUCCESS};
use pam_otp_testkit::secret_leak_fixtures::{cases, needles, secrets};
use pam_otp_testkit::whole_process::Env;

#[test]
fn malformed_secret_files_are_refused() {
    let env = Env::new();
    env.otp_service("nullok");
    let key = Key::random(20);
    env.forbid(&key.base32());
    let b32 = key.base32();
    let big = format!("secret = {b32}\n{}", "# padding\n".repeat(7000));
    let cases: Vec<(&str, String)> = vec![
        ("empty file", String::new()),
        ("no key = value", "just some words\n".into()),
        ("unknown key", format!("secret = {b32}\ncolour = blue\n")),
        ("repeated key", format!("secret = {b32}\nsecret = {b32}\n")),
        ("not base32", "secret = this-is-not-base32!\n".into()),
        ("bad digits", format!("secret = {b32}\ndigits = 9\n")),
        (
            "bad algorithm",
            format!("secret = {b32}\nalgorithm = md5\n"),
        ),
        ("bad period", format!("secret = {b32}\nperiod = 0\n")),
        ("counter on totp", format!("secret = {b32}\ncounter = 3\n")),
        (
            "bad recovery",
            format!("secret = {b32}\nrecovery = plain\n"),
        ),
        ("NUL byte", format!("secret = {b32}\n\0\n")),
        ("over 64 KiB", big),
    ];
    for (what, text) in cases {
        env.write_secret_raw(&text);
        let out = env.run("otp", &Client::answer("123456"));
        assert_eq!(
            (out.code, out.reason()),
            (PAM_AUTH_ERR, "bad_secret_file"),
            "{what}: {:?}",
            out.line()
        );
    }
}

#[test]
fn secret_below_min_secret_bits_is_refused() {
    let env = Env::new();
    let key = Key::random(10); // 80 bits
    env.write_secret(&key, "");
    env.otp_service("");
    env.run("otp", &Client::answer(Totp::default().now(&key)))
        .expect(PAM_AUTH_ERR, "bad_secret_file")
        .expect_line_contains("80 bits, fewer than the required 128");
    // An administrator may lower the bar explicitly.
    env.otp_service("min_secret_bits=80");
    env.run("otp", &Client::answer(Totp::default().now(&key)))
        .expect(PAM_SUCCESS, "ok");
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
