//! `pam-otp recovery --regenerate`.

use pam_otp_core::authenticate::{Reason, Verdict};

use crate::harness::*;

#[test]
fn recovery_regenerate_replaces_the_codes() {
    let home = Home::new();
    fails(home.run(&["recovery"], ""), 1, "not enrolled");
    let first = ok(home.run(&["enroll", "--no-confirm", "--qr", "none"], ""));
    let old = recovery_codes(&first);
    let key_before = b32(&secret_of(&home.otp()));
    let out = ok(home.run(&["recovery"], ""));
    assert!(out.contains("10 of 10 recovery codes unused"), "{out}");

    let out = ok(home.run(&["recovery", "--regenerate", "--count", "5"], ""));
    let new = recovery_codes(&out);
    assert_eq!(new.len(), 5);
    assert_eq!(b32(&secret_of(&home.otp())), key_before, "same secret");
    assert_eq!(
        login(&home.otp(), &home.state(), &old[0], &[]),
        Verdict::Deny(Reason::BadCode)
    );
    assert_eq!(
        login(&home.otp(), &home.state(), &new[0], &[]),
        Verdict::Success
    );
    let out = ok(home.run(&["recovery"], ""));
    assert!(out.contains("4 of 5 recovery codes unused"), "{out}");
    fails(
        home.run(&["recovery", "--regenerate", "--count", "0"], ""),
        2,
        "--count",
    );
}
