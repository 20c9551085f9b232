//! Several devices: `pam-otp enroll --name` adds a token to an existing file, `pam-otp
//! tokens` lists them, `pam-otp remove` removes one, `pam-otp show` prints each token's
//! enrolment again; then the module's decision over what was written.

use pam_otp_core::authenticate::{Reason, Verdict};
use pam_otp_core::secret_file::encode_base32;

use crate::harness::*;

fn enrolled() -> (Home, String) {
    let home = Home::new();
    let out = ok(home.run(&["enroll", "--no-confirm", "--qr", "none"], ""));
    (home, out)
}

fn add(home: &Home, name: &str, extra: &[&str]) -> String {
    let mut args = vec!["enroll", "--no-confirm", "--qr", "none", "--name", name];
    args.extend_from_slice(extra);
    ok(home.run(&args, ""))
}

fn token_b32(home: &Home, name: &str) -> String {
    let file = secret_of(&home.otp());
    let t = file
        .token(name)
        .unwrap_or_else(|| panic!("no token {name}"));
    encode_base32(t.key).to_string()
}

#[test]
fn enroll_name_adds_a_token_and_keeps_the_others() {
    let (home, first) = enrolled();
    let before = secret_of(&home.otp());
    let codes = recovery_codes(&first);
    let out = add(&home, "spare", &["--type", "hotp"]);
    assert!(out.contains("Added token 'spare'"), "{out}");
    // No new recovery codes: they are the file's, and stay as they were.
    assert!(recovery_codes(&out).is_empty(), "{out}");
    let after = secret_of(&home.otp());
    assert_eq!(after.key, before.key);
    assert_eq!(after.recovery, before.recovery);
    assert_eq!(after.tokens().len(), 2);
    assert!(home.path(".otp.bak").exists(), "the previous file is kept");

    // Both tokens log in; each code once.
    let phone = oathtool(&["--totp", "-b", &b32(&after)]);
    let spare = oathtool(&["--hotp", "-c", "0", "-b", &token_b32(&home, "spare")]);
    assert_eq!(
        login(&home.otp(), &home.state(), &phone, &[]),
        Verdict::Success
    );
    assert_eq!(
        login(&home.otp(), &home.state(), &spare, &[]),
        Verdict::Success
    );
    assert_eq!(
        login(&home.otp(), &home.state(), &spare, &[]),
        Verdict::Deny(Reason::Replay)
    );
    assert_eq!(
        login(&home.otp(), &home.state(), &phone, &[]),
        Verdict::Deny(Reason::Replay)
    );
    // A recovery code from the first enrolment still works, once.
    assert_eq!(
        login(&home.otp(), &home.state(), &codes[0], &[]),
        Verdict::Success
    );

    // The same name twice, a bad name, no file yet: refused, nothing changed.
    let text = std::fs::read(home.otp()).unwrap();
    fails(
        home.run(
            &["enroll", "--no-confirm", "--qr", "none", "--name", "spare"],
            "",
        ),
        1,
        "already in the file",
    );
    fails(
        home.run(
            &[
                "enroll",
                "--no-confirm",
                "--qr",
                "none",
                "--name",
                "my phone",
            ],
            "",
        ),
        1,
        "token name",
    );
    fails(
        home.run(
            &[
                "enroll",
                "--no-confirm",
                "--qr",
                "none",
                "--name",
                "default",
            ],
            "",
        ),
        1,
        "token name",
    );
    assert_eq!(std::fs::read(home.otp()).unwrap(), text);
    let empty = Home::new();
    fails(
        empty.run(
            &["enroll", "--no-confirm", "--qr", "none", "--name", "spare"],
            "",
        ),
        1,
        "not enrolled",
    );
}

#[test]
fn no_more_tokens_than_the_bound() {
    let (home, _) = enrolled();
    let max = pam_otp_core::secret_file::MAX_TOKENS;
    for n in 1..max {
        add(&home, &format!("t{n}"), &[]);
    }
    fails(
        home.run(
            &["enroll", "--no-confirm", "--qr", "none", "--name", "late"],
            "",
        ),
        1,
        "the most allowed",
    );
    assert_eq!(secret_of(&home.otp()).tokens().len(), max);
}

#[test]
fn tokens_lists_names_and_parameters_but_no_secret() {
    let (home, _) = enrolled();
    add(&home, "yubi", &["--type", "hotp", "--counter", "4"]);
    add(
        &home,
        "spare",
        &["--algorithm", "sha256", "--digits", "8", "--period", "60"],
    );
    let out = ok(home.run(&["tokens"], ""));
    let rows: Vec<Vec<&str>> = out
        .lines()
        .skip(1)
        .take(3)
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        rows[0],
        ["default", "totp", "sha1", "6", "30", "s"],
        "{out}"
    );
    assert_eq!(
        rows[1],
        ["yubi", "hotp", "sha1", "6", "counter", "4"],
        "{out}"
    );
    assert_eq!(
        rows[2],
        ["spare", "totp", "sha256", "8", "60", "s"],
        "{out}"
    );
    assert!(out.contains("3 of at most"), "{out}");
    for name in ["default", "yubi", "spare"] {
        let b32 = token_b32(&home, name);
        assert!(!out.contains(&b32[..16]), "{out}");
    }
}

#[test]
fn remove_takes_one_named_token_out_and_keeps_the_default() {
    let (home, _) = enrolled();
    add(&home, "spare", &[]);
    let spare = token_b32(&home, "spare");
    let spare_code = oathtool(&["--totp", "-b", &spare]);
    let out = ok(home.run(&["remove", "spare"], ""));
    assert!(out.contains("Removed token 'spare'"), "{out}");
    let file = secret_of(&home.otp());
    assert_eq!(file.tokens().len(), 1);
    // Its codes no longer log in.
    assert_eq!(
        login(&home.otp(), &home.state(), &spare_code, &[]),
        Verdict::Deny(Reason::BadCode)
    );
    // The default token cannot be removed (it carries the recovery codes' history), nor
    // a token that is not there.
    fails(home.run(&["remove", "default"], ""), 1, "enroll --force");
    fails(
        home.run(&["remove", "nope"], ""),
        1,
        "no token of that name",
    );
    assert_eq!(secret_of(&home.otp()).tokens().len(), 1);
    let phone = oathtool(&["--totp", "-b", &b32(&file)]);
    assert_eq!(
        login(&home.otp(), &home.state(), &phone, &[]),
        Verdict::Success
    );
}

#[test]
fn show_prints_each_tokens_uri_again_with_a_warning() {
    let (home, first) = enrolled();
    add(&home, "spare", &["--type", "hotp"]);
    let o = home.run(&["show"], "");
    let err = stderr(&o);
    let out = ok(o);
    assert!(err.contains("in private"), "{err}");
    let uris: Vec<&str> = out
        .lines()
        .map(str::trim)
        .filter_map(|l| l.strip_prefix("URI:"))
        .map(str::trim)
        .collect();
    assert_eq!(uris.len(), 2, "{out}");
    // The default token's URI is the one enroll printed (same issuer and label).
    assert_eq!(uris[0], uri_line(&first));
    assert!(uris[1].starts_with("otpauth://hotp/"), "{}", uris[1]);
    assert!(uris[1].contains(&format!("secret={}", token_b32(&home, "spare"))));
    assert!(uris[1].contains("%28spare%29"), "the label names the token");
    // No QR code unless asked for; --qr draws one per token.
    assert!(!out.contains('█'), "{out}");
    let drawn = ok(home.run(&["show", "--qr", "text"], ""));
    assert!(drawn.contains('█') || drawn.contains('▀'), "{drawn}");
    // --name picks one.
    let one = ok(home.run(&["show", "--name", "spare"], ""));
    assert!(
        one.contains("Token 'spare'") && !one.contains("Token 'default'"),
        "{one}"
    );
    fails(
        home.run(&["show", "--name", "nope"], ""),
        1,
        "no token 'nope'",
    );
    // Not enrolled: says so.
    fails(Home::new().run(&["show"], ""), 1, "not enrolled");
}
