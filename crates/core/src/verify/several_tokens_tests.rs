//! A file with several tokens: a code from any of them is accepted, each keeps its own
//! replay history, and recovery codes stay the file's.

use super::*;
use crate::otp::{format_code, hotp, Algorithm};
use crate::recovery::RecoveryHash;
use crate::secret_file::Token;

const PHONE: &[u8] = b"12345678901234567890";
const SPARE: &[u8] = b"abcdefghijklmnopqrst";
const YUBI: &[u8] = b"ABCDEFGHIJKLMNOPQRST";
const T0: u64 = 1_700_000_010;

fn file() -> SecretFile {
    SecretFile {
        kind: Kind::Totp { period: 30 },
        key: Zeroizing::new(PHONE.to_vec()),
        algorithm: Algorithm::Sha1,
        digits: 6,
        recovery: vec![RecoveryHash::new([1; 16], b"aaaabbbbcccc")],
        named: vec![
            Token {
                name: "spare".into(),
                kind: Kind::Totp { period: 30 },
                key: Zeroizing::new(SPARE.to_vec()),
                algorithm: Algorithm::Sha256,
                digits: 8,
            },
            Token {
                name: "yubi".into(),
                kind: Kind::Hotp { counter: 3 },
                key: Zeroizing::new(YUBI.to_vec()),
                algorithm: Algorithm::Sha1,
                digits: 6,
            },
        ],
    }
}

fn code(key: &[u8], counter: u64, algorithm: Algorithm, digits: u32) -> Vec<u8> {
    format_code(hotp(key, counter, algorithm, digits), digits).into_bytes()
}

fn phone(step: u64) -> Vec<u8> {
    code(PHONE, step, Algorithm::Sha1, 6)
}

fn spare(step: u64) -> Vec<u8> {
    code(SPARE, step, Algorithm::Sha256, 8)
}

fn yubi(counter: u64) -> Vec<u8> {
    code(YUBI, counter, Algorithm::Sha1, 6)
}

fn attempt(state: &State, now: u64, input: &[u8]) -> Decision {
    decide(&file(), state, now, input, &Policy::default())
}

#[test]
fn a_code_of_each_token_is_accepted_and_named() {
    let step = T0 / 30;
    for (input, method, name) in [
        (phone(step), Method::Totp, "default"),
        (spare(step), Method::Totp, "spare"),
        (yubi(3), Method::Hotp, "yubi"),
    ] {
        let d = attempt(&State::default(), T0, &input);
        assert_eq!(d.outcome, Ok(method), "{name}");
        assert_eq!(d.token.as_deref(), Some(name));
    }
    let d = attempt(&State::default(), T0, b"000000");
    assert_eq!(d.outcome, Err(Denial::BadCode));
    assert_eq!(d.token, None);
}

#[test]
fn replay_is_judged_per_token() {
    let step = T0 / 30;
    let first = attempt(&State::default(), T0, &phone(step));
    assert_eq!(first.outcome, Ok(Method::Totp));
    // The same code again: a replay, although the other tokens never had it.
    let again = attempt(&first.state, T0 + 1, &phone(step));
    assert_eq!(again.outcome, Err(Denial::Replay));
    // The same step from another token is still fresh: its history is its own.
    let other = attempt(&again.state, T0 + 2, &spare(step));
    assert_eq!(other.outcome, Ok(Method::Totp));
    assert_eq!(other.token.as_deref(), Some("spare"));
    assert_eq!(
        attempt(&other.state, T0 + 3, &spare(step)).outcome,
        Err(Denial::Replay)
    );
    // And the first token's own history survived the second token's use.
    assert_eq!(
        attempt(&other.state, T0 + 3, &phone(step)).outcome,
        Err(Denial::Replay)
    );
    assert_eq!(
        attempt(&other.state, T0 + 30, &phone(step + 1)).outcome,
        Ok(Method::Totp)
    );
}

#[test]
fn hotp_look_ahead_and_replay_per_hotp_token() {
    // The file's counter is 3; the look-ahead reaches 3 + 5.
    let d = attempt(&State::default(), T0, &yubi(6));
    assert_eq!(d.outcome, Ok(Method::Hotp));
    assert_eq!(d.state.history_of(key_id(YUBI), &[]).hotp_next, Some(7));
    assert_eq!(attempt(&d.state, T0, &yubi(6)).outcome, Err(Denial::Replay));
    assert_eq!(
        attempt(&d.state, T0, &yubi(5)).outcome,
        Err(Denial::BadCode)
    );
    assert_eq!(
        attempt(&State::default(), T0, &yubi(9)).outcome,
        Err(Denial::BadCode)
    );
    // Using a TOTP token in between leaves the HOTP token's counter where it was.
    let totp = attempt(&d.state, T0, &phone(T0 / 30));
    assert_eq!(totp.outcome, Ok(Method::Totp));
    assert_eq!(attempt(&totp.state, T0, &yubi(7)).outcome, Ok(Method::Hotp));
}

#[test]
fn recovery_codes_are_the_files_and_spent_once() {
    let d = attempt(&State::default(), T0, b"aaaa-bbbb-cccc");
    assert_eq!(d.outcome, Ok(Method::Recovery));
    assert_eq!(d.token, None);
    // Spent, whichever token was used since.
    let other = attempt(&d.state, T0, &spare(T0 / 30));
    assert_eq!(other.outcome, Ok(Method::Totp));
    assert_eq!(
        attempt(&other.state, T0 + 1, b"aaaa-bbbb-cccc").outcome,
        Err(Denial::Replay)
    );
}

#[test]
fn a_single_token_file_keeps_todays_identity() {
    // The default token's history is kept under the id the state has always used, so a
    // state written before several tokens existed still refuses that file's used codes.
    let single = SecretFile {
        named: Vec::new(),
        ..file()
    };
    let d = decide(
        &single,
        &State::default(),
        T0,
        &phone(T0 / 30),
        &Policy::default(),
    );
    assert_eq!(d.state.secret_id, secret_id(&single));
    assert_eq!(
        attempt(&d.state, T0 + 1, &phone(T0 / 30)).outcome,
        Err(Denial::Replay)
    );
}
