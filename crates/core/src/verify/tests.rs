//! Every verification rule, with an injected clock.

use super::*;
use crate::otp::{format_code, hotp, Algorithm};
use crate::recovery::RecoveryHash;

const KEY: &[u8] = b"12345678901234567890";
const T0: u64 = 1_700_000_010; // inside step 56_666_667 of 30 s

fn totp_secret() -> SecretFile {
    SecretFile {
        kind: Kind::Totp { period: 30 },
        key: Zeroizing::new(KEY.to_vec()),
        algorithm: Algorithm::Sha1,
        digits: 6,
        recovery: vec![
            RecoveryHash::new([1; 16], b"aaaabbbbcccc"),
            RecoveryHash::new([2; 16], b"ddddeeeeffff"),
        ],
        named: Vec::new(),
    }
}

fn hotp_secret(counter: u64) -> SecretFile {
    SecretFile {
        kind: Kind::Hotp { counter },
        ..totp_secret()
    }
}

fn code_at(step: u64) -> Vec<u8> {
    format_code(hotp(KEY, step, Algorithm::Sha1, 6), 6).into_bytes()
}

fn step(t: u64) -> u64 {
    t / 30
}

fn attempt(secret: &SecretFile, state: &State, now: u64, input: &[u8]) -> Decision {
    decide(secret, state, now, input, &Policy::default())
}

#[test]
fn current_code_accepted_and_recorded() {
    let d = attempt(&totp_secret(), &State::default(), T0, &code_at(step(T0)));
    assert_eq!(d.outcome, Ok(Method::Totp));
    assert_eq!(d.state.last_step, Some(step(T0)));
    assert_eq!(d.state.secret_id, secret_id(&totp_secret()));
}

#[test]
fn window_edges() {
    let s = totp_secret();
    let fresh = State::default();
    let cur = step(T0);
    for (offset, accepted) in [(-2i64, false), (-1, true), (1, true), (2, false)] {
        let code = code_at(cur.checked_add_signed(offset).unwrap());
        let d = attempt(&s, &fresh, T0, &code);
        assert_eq!(d.outcome.is_ok(), accepted, "offset {offset}");
    }
    // A wider window accepts two steps away; window 0 only the current step.
    let wide = Policy {
        window: 2,
        ..Policy::default()
    };
    assert!(decide(&s, &fresh, T0, &code_at(cur - 2), &wide)
        .outcome
        .is_ok());
    let none = Policy {
        window: 0,
        ..Policy::default()
    };
    assert!(decide(&s, &fresh, T0, &code_at(cur - 1), &none)
        .outcome
        .is_err());
    assert!(decide(&s, &fresh, T0, &code_at(cur), &none).outcome.is_ok());
}

#[test]
fn step_boundaries_follow_the_clock() {
    let s = totp_secret();
    let boundary = (step(T0) + 1) * 30;
    let none = Policy {
        window: 0,
        ..Policy::default()
    };
    let d = decide(
        &s,
        &State::default(),
        boundary - 1,
        &code_at(step(T0)),
        &none,
    );
    assert!(d.outcome.is_ok());
    let d = decide(&s, &State::default(), boundary, &code_at(step(T0)), &none);
    assert_eq!(d.outcome, Err(Denial::BadCode));
}

#[test]
fn same_code_twice_is_a_replay() {
    let s = totp_secret();
    let first = attempt(&s, &State::default(), T0, &code_at(step(T0)));
    let second = attempt(&s, &first.state, T0 + 1, &code_at(step(T0)));
    assert_eq!(second.outcome, Err(Denial::Replay));
    assert_eq!(second.state.failures, 1, "a replay counts as a failure");
    assert_eq!(second.state.last_step, Some(step(T0)));
}

#[test]
fn older_code_after_newer_is_refused() {
    let s = totp_secret();
    let cur = step(T0);
    let newer = attempt(&s, &State::default(), T0, &code_at(cur + 1));
    assert!(newer.outcome.is_ok());
    let older = attempt(&s, &newer.state, T0, &code_at(cur));
    assert_eq!(older.outcome, Err(Denial::Replay));
}

#[test]
fn clock_set_back_reopens_nothing() {
    let s = totp_secret();
    let used = attempt(&s, &State::default(), T0, &code_at(step(T0)));
    // The clock jumps back an hour: codes of that time are steps older than the last used.
    let earlier = T0 - 3600;
    let d = attempt(&s, &used.state, earlier, &code_at(step(earlier)));
    assert_eq!(d.outcome, Err(Denial::Replay));
    // Once time has moved past the used step, the next step's code works again.
    let later = T0 + 30;
    assert!(attempt(&s, &used.state, later, &code_at(step(later)))
        .outcome
        .is_ok());
}

#[test]
fn wrong_malformed_and_oversized_input_are_bad_codes() {
    let s = totp_secret();
    let st = State::default();
    for input in [
        &b"000000"[..],
        b"",
        b"12345",
        b"1234567",
        b"12a456",
        &[b'1'; 1 << 20],
    ] {
        let wrong = if input == b"000000" && code_at(step(T0)) == b"000000" {
            continue;
        } else {
            input
        };
        let d = attempt(&s, &st, T0, wrong);
        assert_eq!(d.outcome, Err(Denial::BadCode));
        assert_eq!(d.state.failures, 1);
    }
}

#[test]
fn spaces_inside_a_code_are_ignored() {
    let code = code_at(step(T0));
    let spaced = [&code[..3], b" ", &code[3..]].concat();
    assert!(attempt(&totp_secret(), &State::default(), T0, &spaced)
        .outcome
        .is_ok());
}

#[test]
fn hotp_accepts_within_look_ahead_and_moves_forward() {
    let s = hotp_secret(0);
    let d = attempt(&s, &State::default(), T0, &code_at(3));
    assert_eq!(d.outcome, Ok(Method::Hotp));
    assert_eq!(d.state.hotp_next, Some(4));
    // The used code and older ones are refused; the next one is accepted.
    assert_eq!(
        attempt(&s, &d.state, T0, &code_at(3)).outcome,
        Err(Denial::Replay)
    );
    assert_eq!(
        attempt(&s, &d.state, T0, &code_at(1)).outcome,
        Err(Denial::BadCode)
    );
    assert!(attempt(&s, &d.state, T0, &code_at(4)).outcome.is_ok());
}

#[test]
fn hotp_look_ahead_is_bounded() {
    let s = hotp_secret(0);
    let policy = Policy::default();
    let beyond = policy.hotp_lookahead + 1;
    let d = attempt(&s, &State::default(), T0, &code_at(beyond));
    assert_eq!(d.outcome, Err(Denial::BadCode));
    let at_edge = attempt(&s, &State::default(), T0, &code_at(policy.hotp_lookahead));
    assert!(at_edge.outcome.is_ok());
}

#[test]
fn hotp_starts_at_the_file_counter() {
    let s = hotp_secret(100);
    assert_eq!(
        attempt(&s, &State::default(), T0, &code_at(99)).outcome,
        Err(Denial::BadCode)
    );
    let d = attempt(&s, &State::default(), T0, &code_at(100));
    assert_eq!(d.state.hotp_next, Some(101));
}

#[test]
fn lock_out_after_max_failures_then_doubling_then_reset() {
    let s = totp_secret();
    let policy = Policy {
        max_failures: 3,
        lockout_secs: 60,
        ..Policy::default()
    };
    let mut st = State::default();
    let mut now = T0;
    for i in 1..=3 {
        let d = decide(&s, &st, now, b"000001", &policy);
        assert_eq!(d.outcome, Err(Denial::BadCode));
        assert_eq!(d.locked_now.is_some(), i == 3);
        st = d.state;
    }
    assert_eq!(st.locked_until, now + 60);

    // While locked, even the right code is refused, and the refusal is not counted.
    let d = decide(&s, &st, now + 59, &code_at(step(now + 59)), &policy);
    assert_eq!(d.outcome, Err(Denial::Locked { until: now + 60 }));
    assert_eq!(d.state, st);

    // After it expires, three more failures lock for twice as long.
    now += 60;
    for _ in 0..3 {
        st = decide(&s, &st, now, b"000001", &policy).state;
    }
    assert_eq!(st.locked_until, now + 120);

    // A success after expiry clears failures and the doubling.
    now += 120;
    let ok = decide(&s, &st, now, &code_at(step(now)), &policy);
    assert!(ok.outcome.is_ok());
    assert_eq!(
        (ok.state.failures, ok.state.lockouts, ok.state.locked_until),
        (0, 0, 0)
    );
}

#[test]
fn lock_out_is_capped_at_one_hour() {
    let s = totp_secret();
    let policy = Policy {
        max_failures: 1,
        lockout_secs: 600,
        ..Policy::default()
    };
    let mut st = State::default();
    let mut now = T0;
    for _ in 0..10 {
        st = decide(&s, &st, now, b"000001", &policy).state;
        assert!(st.locked_until - now <= MAX_LOCKOUT_SECS);
        now = st.locked_until;
    }
    assert_eq!(st.locked_until - (now - MAX_LOCKOUT_SECS), MAX_LOCKOUT_SECS);
}

#[test]
fn success_resets_failure_count() {
    let s = totp_secret();
    let st = attempt(&s, &State::default(), T0, b"000001").state;
    assert_eq!(st.failures, 1);
    let ok = attempt(&s, &st, T0, &code_at(step(T0)));
    assert_eq!(ok.state.failures, 0);
}

#[test]
fn recovery_code_works_once() {
    let s = totp_secret();
    let d = attempt(&s, &State::default(), T0, b"AAAA-BBBB-CCCC");
    assert_eq!(d.outcome, Ok(Method::Recovery));
    assert_eq!(d.state.spent.len(), 1);
    let again = attempt(&s, &d.state, T0, b"aaaabbbbcccc");
    assert_eq!(again.outcome, Err(Denial::Replay));
    // The other code still works.
    assert!(attempt(&s, &again.state, T0, b"dddd eeee ffff")
        .outcome
        .is_ok());
}

#[test]
fn regenerated_codes_keep_old_spent_entries() {
    // A spent code stays spent after `pam-otp recovery --regenerate`, so that a copy of the
    // file from before (a backup put back) cannot make it valid again.
    let s = totp_secret();
    let used = attempt(&s, &State::default(), T0, b"aaaabbbbcccc").state;
    let regenerated = SecretFile {
        recovery: vec![RecoveryHash::new([3; 16], b"gggghhhhiiii")],
        ..totp_secret()
    };
    let d = attempt(&regenerated, &used, T0, &code_at(step(T0)));
    assert_eq!(d.state.spent, used.spent);
    let back = attempt(&s, &d.state, T0, b"aaaabbbbcccc");
    assert_eq!(back.outcome, Err(Denial::Replay));
}

#[test]
fn new_secret_starts_new_replay_history_but_keeps_failures() {
    let s = totp_secret();
    let mut st = attempt(&s, &State::default(), T0, &code_at(step(T0))).state;
    st.failures = 2;
    let other_key = SecretFile {
        key: Zeroizing::new(b"abcdefghijabcdefghij".to_vec()),
        ..totp_secret()
    };
    let code = format_code(
        hotp(b"abcdefghijabcdefghij", step(T0), Algorithm::Sha1, 6),
        6,
    );
    let d = attempt(&other_key, &st, T0, code.as_bytes());
    assert!(d.outcome.is_ok(), "{d:?}");
    let failing = attempt(&other_key, &st, T0, b"aaaaaa");
    assert_eq!(failing.state.failures, 3);
}

#[test]
fn far_future_timestamps_work() {
    let s = totp_secret();
    let t = 20_000_000_000; // year 2603
    assert!(attempt(&s, &State::default(), t, &code_at(step(t)))
        .outcome
        .is_ok());
    let end = u64::MAX;
    let d = attempt(&s, &State::default(), end, &code_at(step(end)));
    assert!(d.outcome.is_ok());
}

fn other_secret(kind: Kind) -> SecretFile {
    SecretFile {
        kind,
        key: Zeroizing::new(b"abcdefghijabcdefghij".to_vec()),
        recovery: vec![RecoveryHash::new([9; 16], b"jjjjkkkkllll")],
        ..totp_secret()
    }
}

#[test]
fn a_failed_attempt_with_another_secret_changes_only_the_throttling_record() {
    let a = hotp_secret(0);
    let used = attempt(&a, &State::default(), T0, &code_at(0)).state;
    let used = attempt(&a, &used, T0, b"aaaabbbbcccc").state;
    let b = other_secret(Kind::Totp { period: 30 });
    let failed = attempt(&b, &used, T0, b"000001");
    assert_eq!(failed.outcome, Err(Denial::BadCode));
    assert_eq!(
        State {
            failures: used.failures,
            last_attempt: used.last_attempt,
            ..failed.state.clone()
        },
        used
    );
    // A success with B keeps A's history beside it; A's used codes stay used.
    let code = format_code(
        hotp(b"abcdefghijabcdefghij", step(T0), Algorithm::Sha1, 6),
        6,
    );
    let b_ok = attempt(&b, &failed.state, T0, code.as_bytes());
    assert!(b_ok.outcome.is_ok());
    assert_eq!(b_ok.state.past.len(), 1);
    for (input, denial) in [
        (code_at(0), Denial::Replay),
        (b"aaaabbbbcccc".to_vec(), Denial::Replay),
    ] {
        assert_eq!(attempt(&a, &b_ok.state, T0, &input).outcome, Err(denial));
    }
    assert!(attempt(&a, &b_ok.state, T0, &code_at(1)).outcome.is_ok());
}

#[test]
fn a_forgotten_secret_is_treated_as_fully_used() {
    let a = hotp_secret(0);
    let mut st = attempt(&a, &State::default(), T0, &code_at(0)).state;
    st.remember(crate::state::History::fresh([1; 8]));
    // Push A out of the kept histories.
    for n in 2..=crate::state::MAX_SECRETS as u8 + 1 {
        st.remember(crate::state::History {
            last_step: Some(1),
            ..crate::state::History::fresh([n; 8])
        });
    }
    assert_eq!(st.known(secret_id(&a)), Known::Forgotten);
    // HOTP: the counter is unknown, so even an unused code is refused (and counted).
    let d = attempt(&a, &st, T0, &code_at(1));
    assert_eq!(d.outcome, Err(Denial::CounterUnknown));
    assert_eq!(d.state.failures, 1);
    // Recovery codes: every listed one counts as spent.
    assert_eq!(
        attempt(&a, &st, T0, b"ddddeeeeffff").outcome,
        Err(Denial::Replay)
    );
    // TOTP: only steps after the newest code accepted for any secret (here, at T0).
    let t = totp_secret();
    st.totp_floor = (step(T0) + 1) * 30;
    assert_eq!(
        attempt(&t, &st, T0, &code_at(step(T0))).outcome,
        Err(Denial::Replay)
    );
    let d = attempt(&t, &st, T0, &code_at(step(T0) + 1));
    assert_eq!(d.outcome, Ok(Method::Totp));
    // Once it logs in again it is kept, still with its recovery codes spent.
    assert_eq!(d.state.known(secret_id(&t)), Known::Kept);
    assert_eq!(d.state.spent.len(), 2);
}

#[test]
fn recovery_codes_beyond_the_remembered_number_are_refused_not_forgotten() {
    let s = totp_secret();
    let st = State {
        secret_id: secret_id(&s),
        spent: (0..MAX_SPENT as u8).map(|n| [n; 8]).collect(),
        ..State::default()
    };
    let d = attempt(&s, &st, T0, b"aaaabbbbcccc");
    assert_eq!(d.outcome, Err(Denial::TooManySpent));
    assert_eq!(d.state.spent, st.spent);
}
