//! `pam-otp status`: what a user and an admin are told.

use std::os::unix::fs::PermissionsExt;

use crate::harness::*;

#[test]
fn status_reports_enrolment_recovery_and_lockout() {
    let home = Home::new();
    let o = home.run(&["status"], "");
    let out = fails(o, 3, "");
    let _ = out;
    let o = home.run(&["status"], "");
    assert!(stdout(&o).contains("Enrolled:        no"), "{}", stdout(&o));

    ok(home.run(
        &[
            "enroll",
            "--no-confirm",
            "--recovery-codes",
            "4",
            "--qr",
            "none",
        ],
        "",
    ));
    let out = ok(home.run(&["status"], ""));
    assert!(out.contains("Enrolled:        yes"), "{out}");
    assert!(
        out.contains("TOTP, a new code every 30 s, SHA1, 6 digits"),
        "{out}"
    );
    assert!(out.contains("160 bits"), "{out}");
    assert!(out.contains("4 of 4 unused"), "{out}");
    assert!(out.contains("no login attempt yet"), "{out}");

    // Five wrong codes lock the user out; status says so, unlock clears it.
    for _ in 0..5 {
        let _ = login(&home.otp(), &home.state(), "000000x", &[]);
    }
    let out = ok(home.run(&["status"], ""));
    assert!(out.contains("Locked out:      yes"), "{out}");
    assert!(out.contains("pam-otp unlock"), "{out}");
    let unlocked = ok(home.run(&["unlock", &me()], ""));
    assert!(unlocked.contains("Unlocked"), "{unlocked}");
    let out = ok(home.run(&["status"], ""));
    assert!(out.contains("Locked out:      no"), "{out}");
    assert!(
        out.contains("Lock-outs") || out.contains("Failures:        0"),
        "{out}"
    );
    let again = ok(home.run(&["unlock", &me()], ""));
    assert!(again.contains("was not locked out"), "{again}");
}

#[test]
fn status_names_a_file_the_module_would_refuse() {
    let home = Home::new();
    ok(home.run(&["enroll", "--no-confirm", "--qr", "none"], ""));
    std::fs::set_permissions(home.otp(), std::fs::Permissions::from_mode(0o644)).unwrap();
    fails(
        home.run(&["status"], ""),
        1,
        "accessible to group or others",
    );
    std::fs::set_permissions(home.otp(), std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::write(
        home.otp(),
        "secret = GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\ncolour = blue\n",
    )
    .unwrap();
    fails(home.run(&["status"], ""), 1, "unknown key 'colour'");
    // 80 bits: readable, but the module refuses it under the default min_secret_bits.
    std::fs::write(home.otp(), "secret = GEZDGNBVGY3TQOJQ\n").unwrap();
    let out = ok(home.run(&["status"], ""));
    assert!(out.contains("REFUSES"), "{out}");
    let out = ok(home.run(&["--min-secret-bits", "80", "status"], ""));
    assert!(!out.contains("REFUSES"), "{out}");
}
