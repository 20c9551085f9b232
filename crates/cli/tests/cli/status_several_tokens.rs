//! `pam-otp status` for a file of several tokens: every token with its type and
//! parameters, and what the state records of each (an HOTP token's next counter, a TOTP
//! token's last code), after logins through the module's decision path.

use pam_otp_core::authenticate::Verdict;
use pam_otp_core::otp::{format_code, hotp, Algorithm};

use crate::harness::*;

/// The code of token `name` (SHA1, 6 digits, HOTP) for `counter`.
pub fn token_hotp(home: &Home, name: &str, counter: u64) -> String {
    let file = secret_of(&home.otp());
    let t = file
        .token(name)
        .unwrap_or_else(|| panic!("no token {name}"));
    format_code(hotp(t.key, counter, Algorithm::Sha1, 6), 6)
}

/// A user with the default TOTP token, an HOTP token `yubi` (counter from 4) and a TOTP
/// token `spare` (SHA256, 8 digits, 60 s).
pub fn three_tokens() -> Home {
    let home = Home::new();
    ok(home.run(&["enroll", "--no-confirm", "--qr", "none"], ""));
    let add = |name: &str, extra: &[&str]| {
        let mut args = vec!["enroll", "--no-confirm", "--qr", "none", "--name", name];
        args.extend_from_slice(extra);
        ok(home.run(&args, ""));
    };
    add("yubi", &["--type", "hotp", "--counter", "4"]);
    add(
        "spare",
        &["--algorithm", "sha256", "--digits", "8", "--period", "60"],
    );
    home
}

/// The status line of token `name`, without the leading spaces.
fn token_line(out: &str, name: &str) -> String {
    out.lines()
        .map(str::trim_start)
        .find(|l| l.split_whitespace().next() == Some(name) && !l.starts_with("Tokens"))
        .unwrap_or_else(|| panic!("no line for token {name} in:\n{out}"))
        .to_string()
}

#[test]
fn status_lists_every_token_and_each_hotp_counter() {
    let home = three_tokens();
    let out = ok(home.run(&["status"], ""));
    assert!(out.contains("Tokens:          3 "), "{out}");
    let default = token_line(&out, "default");
    assert!(
        default.contains("TOTP, a new code every 30 s, SHA1, 6 digits"),
        "{default}"
    );
    let yubi = token_line(&out, "yubi");
    assert!(
        yubi.contains("HOTP, counter starting at 4, SHA1, 6 digits"),
        "{yubi}"
    );
    let spare = token_line(&out, "spare");
    assert!(
        spare.contains("TOTP, a new code every 60 s, SHA256, 8 digits"),
        "{spare}"
    );
    for t in ["default", "yubi", "spare"] {
        let b32 =
            pam_otp_core::secret_file::encode_base32(secret_of(&home.otp()).token(t).unwrap().key)
                .to_string();
        assert!(!out.contains(&b32[..16]), "{out}");
    }

    // Two logins with the HOTP token: its line says the counter reached.
    for counter in [4, 5] {
        assert_eq!(
            login(
                &home.otp(),
                &home.state(),
                &token_hotp(&home, "yubi", counter),
                &[]
            ),
            Verdict::Success
        );
    }
    let out = ok(home.run(&["status"], ""));
    assert!(
        token_line(&out, "yubi").ends_with("; next counter 6"),
        "{out}"
    );
    assert!(
        token_line(&out, "spare").ends_with("; no code used yet"),
        "{out}"
    );
}

#[test]
fn status_of_one_token_is_as_before() {
    let home = Home::new();
    ok(home.run(&["enroll", "--no-confirm", "--qr", "none"], ""));
    let out = ok(home.run(&["status"], ""));
    assert!(!out.contains("Tokens:"), "{out}");
    assert!(
        out.contains("Codes:           TOTP, a new code every 30 s, SHA1, 6 digits"),
        "{out}"
    );
}
