//! Enrolling the test user of a whole-process [`Env`] with the built `pam-otp`, as an admin
//! or a user would, and reading back what it wrote; checking what `pam-otp` answered.

use std::process::Output;

use pam_otp_core::secret_file::SecretFile;

use crate::codes::Key;
use crate::whole_process::Env;

/// Asserts that `pam-otp` succeeded; returns its stdout.
#[track_caller]
pub fn ok(o: &Output) -> String {
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        o.status.success(),
        "pam-otp failed ({:?})\nstdout:\n{out}\nstderr:\n{}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    out
}

/// Asserts that `pam-otp` failed (exit status 1) with a message containing `needle`;
/// returns stderr.
#[track_caller]
pub fn fails(o: &Output, needle: &str) -> String {
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(
        o.status.code(),
        Some(1),
        "stdout:\n{}\nstderr:\n{err}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert!(err.contains(needle), "stderr lacks {needle:?}:\n{err}");
    err
}

/// Enrols the test user through `pam-otp enroll --no-confirm --qr none` (`extra` options
/// added); returns the key written and the recovery codes printed. The key and the codes
/// (with and without their dashes) are forbidden in every later log line and prompt.
pub fn enrol(env: &Env, extra: &[&str]) -> (Key, Vec<String>) {
    let mut args = vec!["enroll", "--no-confirm", "--qr", "none"];
    args.extend_from_slice(extra);
    let out = ok(&env.cli(&args, ""));
    let codes: Vec<String> = out
        .lines()
        .filter_map(|l| {
            let (n, code) = l.trim().split_once(". ")?;
            n.parse::<u32>().ok()?;
            Some(code.to_string())
        })
        .collect();
    let key = enrolled_key(env);
    for c in &codes {
        env.forbid(c);
        env.forbid(&c.replace('-', ""));
    }
    (key, codes)
}

/// The key in the test user's secret file (as `pam-otp` wrote it), forbidden in every later
/// log line and prompt.
pub fn enrolled_key(env: &Env) -> Key {
    let secret = SecretFile::parse(&std::fs::read(env.secret_path()).unwrap()).unwrap();
    let key = Key(secret.key.to_vec());
    env.forbid(&key.base32());
    env.forbid(&key.hex());
    key
}
