//! A malformed secret file must not leak the secret (or a recovery hash) through
//! `pam-otp status`; an unknown google-authenticator option is named by `pam-otp import` only
//! when it looks like one, so the file's owner cannot write bytes to root's terminal.
//! (tests/malformed_secret_files.rs checks the module's syslog line with the same files.)

use std::os::unix::fs::PermissionsExt;
use std::process::Output;

use pam_otp_testkit::secret_leak_fixtures::{cases, needles, secrets};
use pam_otp_testkit::write_file;

use crate::harness::*;

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

#[test]
fn status_never_echoes_a_malformed_secret_line() {
    let home = Home::new();
    for (b32, file) in cases(&secrets()) {
        write_file(&home.path(".otp"), file.as_bytes(), 0o600);
        let out = home.run(&["status"], "");
        let shown = text(&out);
        eprintln!("{shown}");
        assert_eq!(out.status.code(), Some(1), "{shown}");
        assert!(shown.contains("not a valid pam_otp secret file"), "{shown}");
        for needle in needles(&b32) {
            assert!(
                !shown.contains(&needle),
                "status leaks {needle:?}:\n{shown}"
            );
        }
    }
}

#[test]
fn import_names_only_option_shaped_unknown_options() {
    let home = Home::new();
    let ga = home.path("ga");
    let file = "L6SW2VNDGXHWVN63FBPINN4G3I\n\" TOTP_AUTH\n\" DISALLOW_REUSE\n\
                \" NEW_OPTION 1\n\" \x1b]0;owned\x07\x1b[2J\n\" l6sw2vndgxhwvn63 x\n";
    write_file(&ga, file.as_bytes(), 0o600);
    std::fs::set_permissions(home.root(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let out = home.run(
        &[
            "import",
            "--from",
            ga.to_str().unwrap(),
            "--min-secret-bits",
            "80",
        ],
        "",
    );
    let shown = text(&out);
    eprintln!("{shown}");
    assert!(out.status.success(), "{shown}");
    assert!(shown.contains("'NEW_OPTION'"), "{shown}");
    assert!(
        !out.stdout.iter().chain(&out.stderr).any(|b| *b == 0x1b),
        "an escape byte reached the terminal: {shown:?}"
    );
    assert!(!shown.to_lowercase().contains("l6sw2vndgx"), "{shown}");
}
