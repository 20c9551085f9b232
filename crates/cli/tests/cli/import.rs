//! `pam-otp import`: files written by google-authenticator.

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};

use pam_otp_core::authenticate::{Reason, Verdict};

use crate::harness::*;

fn import_and_check(home: &Home, ga: &str, extra: &[&str]) -> (String, String) {
    let mut args = vec!["import"];
    args.extend_from_slice(extra);
    let o = home.run(&args, "");
    let err = stderr(&o);
    let out = ok(o);
    let lines: Vec<&str> = ga.lines().collect();
    let secret = secret_of(&home.otp());
    assert_eq!(
        b32(&secret),
        lines[0],
        "the same secret, so the phone entry still works"
    );
    (out, err)
}

#[test]
fn import_round_trips_a_real_google_authenticator_file() {
    let home = Home::new();
    let ga_path = home.path(".google_authenticator");
    let made = Command::new("google-authenticator")
        .args([
            "-t", "-d", "-f", "-r", "3", "-R", "30", "-w", "3", "-e", "5", "-q", "-s",
        ])
        .arg(&ga_path)
        .stdin(Stdio::null())
        .output();
    assert!(
        matches!(&made, Ok(o) if o.status.success()),
        "google-authenticator failed or is missing: install Debian's \
         libpam-google-authenticator (scripts/install-deps.sh): {made:?}"
    );
    let ga = std::fs::read_to_string(&ga_path).unwrap();
    let (out, err) = import_and_check(&home, &ga, &[]);
    assert!(
        out.contains("5 unused scratch code(s) carried over"),
        "{out}"
    );
    assert!(out.contains("keeps working"), "{out}");
    assert!(err.contains("warning: RATE_LIMIT 3 30"), "{err}");
    assert_eq!(
        std::fs::read_to_string(&ga_path).unwrap(),
        ga,
        "left as it was"
    );

    let secret = secret_of(&home.otp());
    assert_eq!(secret.key.len() * 8, 128);
    let code = oathtool(&["--totp", "-b", ga.lines().next().unwrap()]);
    assert_eq!(
        login(&home.otp(), &home.state(), &code, &[]),
        Verdict::Success
    );
    let scratch = ga.lines().last().unwrap();
    assert_eq!(scratch.len(), 8);
    assert!(!std::fs::read_to_string(home.otp())
        .unwrap()
        .contains(scratch));
    assert_eq!(
        login(&home.otp(), &home.state(), scratch, &[]),
        Verdict::Success
    );
    assert_eq!(
        login(&home.otp(), &home.state(), scratch, &[]),
        Verdict::Deny(Reason::Replay)
    );
}

fn install_fixture(home: &Home, name: &str) -> String {
    let text = std::fs::read_to_string(fixture(name)).unwrap();
    let dest = home.path(".google_authenticator");
    std::fs::write(&dest, &text).unwrap();
    std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(0o400)).unwrap();
    text
}

#[test]
fn import_hotp_80_bit_fixture_warns_what_does_not_carry_over() {
    let home = Home::new();
    let ga = install_fixture(&home, "google_authenticator/hotp_80bit");
    let (out, err) = import_and_check(&home, &ga, &[]);
    assert!(out.contains("HOTP, counter starting at 4"), "{out}");
    assert!(err.contains("add min_secret_bits=80"), "{err}");
    assert!(err.contains("hotp_lookahead=9"), "{err}");
    // The module refuses it until min_secret_bits=80, then accepts the next counter's code.
    let key = ga.lines().next().unwrap();
    let code = oathtool(&["--hotp", "-c", "4", "-b", key]);
    assert_eq!(
        login(&home.otp(), &home.state(), &code, &[]),
        Verdict::Deny(Reason::BadSecretFile)
    );
    assert_eq!(
        login(&home.otp(), &home.state(), &code, &["min_secret_bits=80"]),
        Verdict::Success
    );
    let status = ok(home.run(&["--min-secret-bits", "80", "status"], ""));
    assert!(status.contains("2 of 2 unused"), "{status}");
}

#[test]
fn import_totp_fixture_with_step_and_window() {
    let home = Home::new();
    let ga = install_fixture(&home, "google_authenticator/totp_step60");
    let (out, err) = import_and_check(&home, &ga, &[]);
    assert!(out.contains("every 60 s"), "{out}");
    assert!(err.contains("window=8"), "{err}");
    assert!(err.contains("more than once"), "{err}");
    let code = oathtool(&["--totp", "-s", "60s", "-b", ga.lines().next().unwrap()]);
    assert_eq!(
        login(&home.otp(), &home.state(), &code, &[]),
        Verdict::Success
    );
}

#[test]
fn import_error_paths() {
    let home = Home::new();
    fails(
        home.run(&["import"], ""),
        1,
        "does not exist; nothing to import",
    );
    fails(
        home.run(&["import", "--from", "relative"], ""),
        1,
        "--from must be an absolute path",
    );
    let ga = home.path(".google_authenticator");
    std::fs::write(&ga, "not a secret!\n").unwrap();
    std::fs::set_permissions(&ga, std::fs::Permissions::from_mode(0o600)).unwrap();
    fails(home.run(&["import"], ""), 1, "not a base32 secret");
    std::fs::set_permissions(&ga, std::fs::Permissions::from_mode(0o644)).unwrap();
    fails(home.run(&["import"], ""), 1, "chmod 600");
    assert!(!home.otp().exists());

    let _ = std::fs::remove_file(&ga);
    install_fixture(&home, "google_authenticator/totp_step60");
    ok(home.run(&["enroll", "--no-confirm", "--qr", "none"], ""));
    let before = std::fs::read(home.otp()).unwrap();
    fails(home.run(&["import"], ""), 1, "already exists");
    assert_eq!(std::fs::read(home.otp()).unwrap(), before);
    ok(home.run(&["import", "--force"], ""));
    assert_eq!(std::fs::read(home.path(".otp.bak")).unwrap(), before);
}
