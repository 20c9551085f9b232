//! `pam-otp repair USER --hotp-counter N --name TOKEN`: resynchronises one named HOTP token
//! of a file of several, leaving the others alone; an unknown name or a TOTP token is
//! refused with nothing changed. Then the module's decision over the state it wrote.

use pam_otp_core::authenticate::{Reason, Verdict};

use crate::harness::*;
use crate::status_several_tokens::{three_tokens, token_hotp};

#[test]
fn repair_name_sets_that_tokens_counter_only() {
    let home = three_tokens();
    let me = me();
    let yubi = |n| token_hotp(&home, "yubi", n);
    assert_eq!(
        login(&home.otp(), &home.state(), &yubi(4), &[]),
        Verdict::Success
    );
    let before = std::fs::read(home.state().join(current_uid())).unwrap();

    // Refused, nothing changed: no such token, a TOTP token, the default TOTP token.
    fails(
        home.run(
            &["repair", &me, "--hotp-counter", "9", "--name", "nope"],
            "",
        ),
        1,
        "no token 'nope'",
    );
    fails(
        home.run(
            &["repair", &me, "--hotp-counter", "9", "--name", "spare"],
            "",
        ),
        1,
        "'spare' of",
    );
    fails(
        home.run(
            &["repair", &me, "--hotp-counter", "9", "--name", "default"],
            "",
        ),
        1,
        "HOTP (counter-based) secret",
    );
    // --name needs --hotp-counter.
    let o = home.run(&["repair", &me, "--name", "yubi"], "");
    assert!(!o.status.success(), "{}", stdout(&o));
    assert_eq!(
        std::fs::read(home.state().join(current_uid())).unwrap(),
        before,
        "the state is unchanged"
    );

    // The token's counter moves on to 20: codes below it are refused, 20 is accepted.
    let out = ok(home.run(
        &["repair", &me, "--hotp-counter", "20", "--name", "yubi"],
        "",
    ));
    assert!(out.contains("token 'yubi'"), "{out}");
    let status = ok(home.run(&["status"], ""));
    assert!(status.contains("next counter 20"), "{status}");
    assert!(matches!(
        login(&home.otp(), &home.state(), &yubi(5), &[]),
        Verdict::Deny(Reason::BadCode | Reason::Replay)
    ));
    assert_eq!(
        login(&home.otp(), &home.state(), &yubi(20), &[]),
        Verdict::Success
    );
    // Going back below what the token has reached is refused.
    fails(
        home.run(
            &["repair", &me, "--hotp-counter", "10", "--name", "yubi"],
            "",
        ),
        1,
        "already known to have reached counter 21",
    );
}

#[test]
fn repair_name_after_a_corrupt_state_resyncs_the_named_token() {
    let home = three_tokens();
    let me = me();
    let yubi = |n| token_hotp(&home, "yubi", n);
    for n in [4, 5, 6] {
        assert_eq!(
            login(&home.otp(), &home.state(), &yubi(n), &[]),
            Verdict::Success
        );
    }
    std::fs::write(home.state().join(current_uid()), vec![0x5a; 8192]).unwrap();
    ok(home.run(
        &["repair", &me, "--hotp-counter", "7", "--name", "yubi"],
        "",
    ));
    // The used codes stay used; the next one works.
    assert!(matches!(
        login(&home.otp(), &home.state(), &yubi(6), &[]),
        Verdict::Deny(_)
    ));
    assert_eq!(
        login(&home.otp(), &home.state(), &yubi(7), &[]),
        Verdict::Success
    );
}

fn current_uid() -> String {
    nix::unistd::geteuid().as_raw().to_string()
}
