use super::*;

const T0: u64 = 1_900_000_000;

fn code(digits: &[u8], now: u64) -> PendingCode {
    let hash = CodeHash::with_salt([7; SALT_LEN], digits).unwrap();
    PendingCode::new(hash, digits.len() as u8, now, DEFAULT_TTL_SECS).unwrap()
}

fn sent(digits: &[u8], now: u64) -> OobState {
    let mut s = OobState::new();
    assert_eq!(
        s.issue(&SendLimits::default(), code(digits, now), now),
        SendDecision::Now
    );
    s
}

#[test]
fn the_right_code_in_time_is_accepted_once() {
    let mut s = sent(b"123456", T0);
    assert_eq!(s.check(b"123456", T0 + 5), CodeCheck::Accepted);
    assert_eq!(s.check(b"123456", T0 + 6), CodeCheck::Replay);
    // Even with the clock set back to before the first use.
    assert_eq!(s.check(b"123456", T0 + 1), CodeCheck::Replay);
    assert!(s.pending().unwrap().used);
}

#[test]
fn wrong_codes_do_not_use_the_code_up() {
    let mut s = sent(b"123456", T0);
    for typed in [&b"123457"[..], b"12345", b"1234567", b"", b"abcdef"] {
        assert_eq!(s.check(typed, T0 + 1), CodeCheck::Wrong, "{typed:?}");
    }
    assert_eq!(s.check(b"123456", T0 + 2), CodeCheck::Accepted);
}

#[test]
fn expiry_is_exclusive_and_the_clock_cannot_stretch_a_code_far_back() {
    let mut s = sent(b"123456", T0);
    let expires = T0 + DEFAULT_TTL_SECS;
    assert_eq!(s.clone().check(b"123456", expires - 1), CodeCheck::Accepted);
    assert_eq!(s.clone().check(b"123456", expires), CodeCheck::Expired);
    assert_eq!(
        s.clone().check(b"123456", T0 - CLOCK_SLACK_SECS),
        CodeCheck::Accepted
    );
    assert_eq!(
        s.check(b"123456", T0 - CLOCK_SLACK_SECS - 1),
        CodeCheck::Expired
    );
    // An expired code stays unused: it is not a replay, it is late.
    assert_eq!(s.check(b"123456", expires + 100), CodeCheck::Expired);
}

#[test]
fn no_code_sent_is_its_own_answer() {
    assert_eq!(OobState::new().check(b"123456", T0), CodeCheck::NoCode);
}

#[test]
fn a_new_send_supersedes_the_previous_code() {
    let mut s = sent(b"111111", T0);
    let limits = SendLimits::default();
    let later = T0 + limits.min_interval_secs;
    assert_eq!(
        s.issue(&limits, code(b"222222", later), later),
        SendDecision::Now
    );
    assert_eq!(s.check(b"111111", later + 1), CodeCheck::Wrong);
    assert_eq!(s.check(b"222222", later + 1), CodeCheck::Accepted);
    // A used code is superseded too: the next send's code is a fresh, unused one.
    let again = later + limits.min_interval_secs;
    assert_eq!(
        s.issue(&limits, code(b"222222", again), again),
        SendDecision::Now
    );
    assert_eq!(s.check(b"222222", again + 1), CodeCheck::Accepted);
}

#[test]
fn at_most_one_send_per_interval() {
    let limits = SendLimits::new(30, HISTORY_LEN as u8).unwrap();
    let mut s = sent(b"111111", T0);
    assert_eq!(
        s.may_send(&limits, T0 + 29),
        SendDecision::NotBefore(T0 + 30)
    );
    // A refused send changes nothing: the pending code is still the first.
    assert_eq!(
        s.issue(&limits, code(b"222222", T0 + 29), T0 + 29),
        SendDecision::NotBefore(T0 + 30)
    );
    assert_eq!(s.sends(), &[T0]);
    assert_eq!(s.clone().check(b"111111", T0 + 29), CodeCheck::Accepted);
    assert_eq!(s.may_send(&limits, T0 + 30), SendDecision::Now);
}

#[test]
fn at_most_max_per_hour_in_any_hour() {
    let limits = SendLimits::new(10, 3).unwrap();
    let mut s = OobState::new();
    for t in [T0, T0 + 100, T0 + 200] {
        assert_eq!(s.issue(&limits, code(b"123456", t), t), SendDecision::Now);
    }
    assert_eq!(s.sends_in_last_hour(T0 + 300), 3);
    // The fourth must wait until the oldest of the three leaves the hour.
    assert_eq!(
        s.may_send(&limits, T0 + 300),
        SendDecision::NotBefore(T0 + HOUR_SECS)
    );
    assert_eq!(
        s.may_send(&limits, T0 + HOUR_SECS - 1),
        SendDecision::NotBefore(T0 + HOUR_SECS)
    );
    assert_eq!(s.may_send(&limits, T0 + HOUR_SECS), SendDecision::Now);
    let t = T0 + HOUR_SECS;
    assert_eq!(s.issue(&limits, code(b"123456", t), t), SendDecision::Now);
    // Now the second send (T0+100) is the one that must leave.
    assert_eq!(
        s.may_send(&limits, t + 10),
        SendDecision::NotBefore(T0 + 100 + HOUR_SECS)
    );
}

#[test]
fn the_history_is_bounded_and_a_clock_set_back_still_counts() {
    let limits = SendLimits::new(0, HISTORY_LEN as u8).unwrap();
    let mut s = OobState::new();
    for i in 0..40 {
        let t = T0 + i * HOUR_SECS;
        assert_eq!(s.issue(&limits, code(b"123456", t), t), SendDecision::Now);
    }
    assert_eq!(s.sends().len(), HISTORY_LEN);
    assert_eq!(s.sends()[0], T0 + 39 * HOUR_SECS);
    // A send recorded in the future (the clock went back) still blocks.
    let strict = SendLimits::new(60, 1).unwrap();
    let s = sent(b"123456", T0 + 1000);
    assert_eq!(
        s.may_send(&strict, T0),
        SendDecision::NotBefore(T0 + 1000 + HOUR_SECS)
    );
}

#[test]
fn limits_and_codes_out_of_bounds_are_refused() {
    assert!(SendLimits::new(0, 0).is_none());
    assert!(SendLimits::new(HOUR_SECS + 1, 1).is_none());
    assert!(SendLimits::new(0, HISTORY_LEN as u8 + 1).is_none());
    let hash = CodeHash::with_salt([1; SALT_LEN], b"123456").unwrap();
    assert!(PendingCode::new(hash.clone(), 5, T0, 120).is_err());
    assert!(PendingCode::new(hash.clone(), 9, T0, 120).is_err());
    assert!(PendingCode::new(hash.clone(), 6, T0, MIN_TTL_SECS - 1).is_err());
    assert!(PendingCode::new(hash.clone(), 6, T0, MAX_TTL_SECS + 1).is_err());
    assert!(PendingCode::new(hash, 6, u64::MAX - 10, 120).is_err());
}

#[test]
fn the_encoding_round_trips_and_is_bounded() {
    let limits = SendLimits::new(0, HISTORY_LEN as u8).unwrap();
    let mut s = OobState::new();
    assert_eq!(OobState::decode(&s.encode()).unwrap(), s);
    for i in 0..20 {
        let t = T0 + i;
        s.issue(&limits, code(b"12345678", t), t);
    }
    let used = {
        let mut u = s.clone();
        assert_eq!(u.check(b"12345678", T0 + 20), CodeCheck::Accepted);
        u
    };
    for state in [s, used] {
        let bytes = state.encode();
        assert!(bytes.len() <= MAX_ENCODED_LEN);
        assert_eq!(OobState::decode(&bytes).unwrap(), state);
    }
}

#[test]
fn malformed_encodings_are_refused() {
    let good = sent(b"123456", T0).encode();
    assert!(OobState::decode(&good).is_ok());
    let mut cases: Vec<Vec<u8>> = vec![Vec::new()];
    // Every truncation, and one byte too many.
    for n in 0..good.len() {
        cases.push(good[..n].to_vec());
    }
    cases.push([&good[..], &[0]].concat());
    let edit = |i: usize, v: u8| {
        let mut b = good.clone();
        b[i] = v;
        b
    };
    cases.push(edit(0, 0)); // unknown versions
    cases.push(edit(0, 3));
    cases.push(edit(1, 8)); // unknown flag
    cases.push(edit(1, FLAG_USED)); // "used" without a code
    cases.push(edit(1, FLAG_LAST_USED)); // a last used code without a pending one
    cases.push(edit(1, FLAG_PENDING | FLAG_LAST_USED)); // its bytes missing
    cases.push(edit(2, 5)); // digits
    cases.push(edit(2, 9));
    let with_expiry = |t: u64| {
        let mut b = good.clone();
        let at = 3 + SALT_LEN + MAC_LEN + 8;
        b[at..at + 8].copy_from_slice(&t.to_be_bytes());
        b
    };
    assert!(OobState::decode(&with_expiry(T0 + MAX_TTL_SECS)).is_ok());
    cases.push(with_expiry(T0)); // no life at all
    cases.push(with_expiry(T0 - 1)); // expires before it was issued
    cases.push(with_expiry(T0 + MAX_TTL_SECS + 1)); // lives too long
                                                    // A history count over the bound.
    cases.push(edit(good.len() - 9, HISTORY_LEN as u8 + 1));
    // Send times out of order.
    let limits = SendLimits::new(0, HISTORY_LEN as u8).unwrap();
    let mut two = OobState::new();
    two.issue(&limits, code(b"123456", T0), T0);
    two.issue(&limits, code(b"123456", T0 + 5), T0 + 5);
    let mut swapped = two.encode();
    let n = swapped.len();
    let (a, b) = swapped[n - 16..].split_at_mut(8);
    a.swap_with_slice(b);
    cases.push(swapped);
    cases.push(vec![0u8; MAX_ENCODED_LEN + 1]);
    for (i, bytes) in cases.iter().enumerate() {
        assert_eq!(
            OobState::decode(bytes),
            Err(DecodeError),
            "case {i}: {bytes:?}"
        );
    }
}

/// Salt per code, so that each code's hash is its own.
fn salted(digits: &[u8], salt: u8, now: u64) -> PendingCode {
    let hash = CodeHash::with_salt([salt; SALT_LEN], digits).unwrap();
    PendingCode::new(hash, digits.len() as u8, now, DEFAULT_TTL_SECS).unwrap()
}

#[test]
fn the_used_code_typed_after_a_new_send_is_a_replay() {
    let limits = SendLimits::new(0, HISTORY_LEN as u8).unwrap();
    let mut s = OobState::new();
    s.issue(&limits, salted(b"111111", 1, T0), T0);
    assert_eq!(s.check(b"111111", T0 + 1), CodeCheck::Accepted);
    assert_eq!(
        s.last_used(),
        None,
        "the used code is still the pending one"
    );
    // The next login sends a new code: the used one is remembered, not forgotten.
    s.issue(&limits, salted(b"222222", 2, T0 + 60), T0 + 60);
    assert_eq!(
        s.last_used(),
        Some(&CodeHash::with_salt([1; SALT_LEN], b"111111").unwrap())
    );
    assert_eq!(s.check(b"111111", T0 + 61), CodeCheck::Replay);
    // A replay does not use up the new code, and a wrong code is still wrong.
    assert_eq!(s.check(b"333333", T0 + 61), CodeCheck::Wrong);
    assert_eq!(s.check(b"222222", T0 + 62), CodeCheck::Accepted);
    assert_eq!(s.check(b"111111", T0 + 63), CodeCheck::Replay);
    assert_eq!(s.check(b"222222", T0 + 63), CodeCheck::Replay);
    // Long after, even once the new code expired, the old one is a replay, not late.
    assert_eq!(s.check(b"111111", T0 + 10 * HOUR_SECS), CodeCheck::Replay);
    // Only the last used code is kept: the next send makes 222222 it, and 111111 is
    // then just a wrong code.
    s.issue(&limits, salted(b"444444", 4, T0 + 120), T0 + 120);
    assert_eq!(s.check(b"222222", T0 + 121), CodeCheck::Replay);
    assert_eq!(s.check(b"111111", T0 + 121), CodeCheck::Wrong);
}

#[test]
fn a_superseded_code_never_used_stays_wrong() {
    let limits = SendLimits::new(0, HISTORY_LEN as u8).unwrap();
    let mut s = OobState::new();
    s.issue(&limits, salted(b"111111", 1, T0), T0);
    assert_eq!(s.check(b"111111", T0 + 1), CodeCheck::Accepted);
    // Sent, never typed, superseded: it was never accepted, so it is no replay.
    s.issue(&limits, salted(b"222222", 2, T0 + 60), T0 + 60);
    s.issue(&limits, salted(b"333333", 3, T0 + 120), T0 + 120);
    assert_eq!(s.check(b"222222", T0 + 121), CodeCheck::Wrong);
    // And it does not push the used code out: that one is still a replay.
    assert_eq!(s.check(b"111111", T0 + 121), CodeCheck::Replay);
    assert_eq!(s.check(b"333333", T0 + 122), CodeCheck::Accepted);
}

#[test]
fn the_pending_code_wins_over_an_equal_last_used_code() {
    // A fresh code that happens to be the digits of the last used one is accepted: the
    // user typed what they were just sent.
    let limits = SendLimits::new(0, HISTORY_LEN as u8).unwrap();
    let mut s = OobState::new();
    s.issue(&limits, salted(b"123456", 1, T0), T0);
    assert_eq!(s.check(b"123456", T0 + 1), CodeCheck::Accepted);
    s.issue(&limits, salted(b"123456", 2, T0 + 60), T0 + 60);
    assert_eq!(s.check(b"123456", T0 + 61), CodeCheck::Accepted);
    assert_eq!(s.check(b"123456", T0 + 62), CodeCheck::Replay);
}

#[test]
fn a_used_code_of_another_length_is_still_a_replay() {
    // deliver_digits changed from 8 to 6 between two logins.
    let limits = SendLimits::new(0, HISTORY_LEN as u8).unwrap();
    let mut s = OobState::new();
    s.issue(&limits, salted(b"12345678", 1, T0), T0);
    assert_eq!(s.check(b"12345678", T0 + 1), CodeCheck::Accepted);
    s.issue(&limits, salted(b"654321", 2, T0 + 60), T0 + 60);
    assert_eq!(s.check(b"12345678", T0 + 61), CodeCheck::Replay);
    assert_eq!(s.check(b"1234567", T0 + 61), CodeCheck::Wrong);
}

/// A full record: a used code superseded by a pending one, and a full send history.
fn full() -> OobState {
    let limits = SendLimits::new(0, HISTORY_LEN as u8).unwrap();
    let mut s = OobState::new();
    for i in 0..HISTORY_LEN as u64 {
        let t = T0 + i * 100;
        assert_eq!(
            s.issue(&limits, salted(b"12345678", i as u8, t), t),
            SendDecision::Now
        );
        assert_eq!(s.check(b"12345678", t), CodeCheck::Accepted);
    }
    s
}

#[test]
fn the_last_used_code_round_trips_and_the_record_is_at_its_bound() {
    let s = full();
    assert!(s.last_used().is_some() && s.pending().unwrap().used);
    let bytes = s.encode();
    assert_eq!(bytes.len(), MAX_ENCODED_LEN);
    assert_eq!(bytes[0], ENCODING_VERSION);
    assert_eq!(OobState::decode(&bytes).unwrap(), s);
    let mut unused = s.clone();
    unused.issue(
        &SendLimits::new(0, HISTORY_LEN as u8).unwrap(),
        salted(b"654321", 99, T0 + 2 * HOUR_SECS),
        T0 + 2 * HOUR_SECS,
    );
    assert_eq!(OobState::decode(&unused.encode()).unwrap(), unused);
}

/// Version 1's encoder, as the first delivery release wrote it: no last used code, up to
/// twelve send times.
fn encode_v1(pending: Option<&PendingCode>, sends: &[u64]) -> Vec<u8> {
    let mut out = vec![ENCODING_VERSION_1];
    match pending {
        Some(p) => {
            out.push(FLAG_PENDING | if p.used { FLAG_USED } else { 0 });
            out.push(p.digits);
            out.extend_from_slice(&p.hash.salt);
            out.extend_from_slice(&p.hash.mac);
            out.extend_from_slice(&p.issued_at.to_be_bytes());
            out.extend_from_slice(&p.expires_at.to_be_bytes());
        }
        None => out.push(0),
    }
    out.push(sends.len() as u8);
    for t in sends {
        out.extend_from_slice(&t.to_be_bytes());
    }
    out
}

#[test]
fn version_1_records_still_decode_keeping_the_newest_sends() {
    let mut used = salted(b"123456", 5, T0 + 11 * 100);
    used.used = true;
    let sends: Vec<u64> = (0..V1_HISTORY_LEN as u64)
        .rev()
        .map(|i| T0 + i * 100)
        .collect();
    let bytes = encode_v1(Some(&used), &sends);
    assert_eq!(bytes.len(), V1_MAX_ENCODED_LEN);
    let read = OobState::decode(&bytes).unwrap();
    assert_eq!(read.pending(), Some(&used));
    assert_eq!(read.last_used(), None);
    assert_eq!(read.sends(), &sends[..HISTORY_LEN]);
    // The limits still see what they saw: the newest sends decide.
    let limits = SendLimits::new(30, 5).unwrap();
    assert_eq!(
        read.may_send(&limits, T0 + 1200),
        SendDecision::NotBefore(T0 + 700 + HOUR_SECS)
    );
    // A used version 1 code is still a replay; written back, it is version 2.
    let mut again = read.clone();
    assert_eq!(again.check(b"123456", T0 + 1101), CodeCheck::Replay);
    let v2 = read.encode();
    assert_eq!(v2[0], ENCODING_VERSION);
    assert_eq!(OobState::decode(&v2).unwrap(), read);
    // Then its next send keeps the used code as the last used one.
    again.issue(&limits, salted(b"654321", 6, T0 + 5000), T0 + 5000);
    assert_eq!(again.check(b"123456", T0 + 5001), CodeCheck::Replay);
    // Empty, and unused, version 1 records.
    assert_eq!(
        OobState::decode(&encode_v1(None, &[])).unwrap(),
        OobState::new()
    );
    let fresh = salted(b"123456", 5, T0);
    let one = OobState::decode(&encode_v1(Some(&fresh), &[T0])).unwrap();
    assert_eq!((one.pending(), one.sends()), (Some(&fresh), &[T0][..]));
}

#[test]
fn malformed_version_1_records_are_refused() {
    let p = salted(b"123456", 5, T0);
    let mut with_last_used = encode_v1(Some(&p), &[T0]);
    with_last_used[1] |= FLAG_LAST_USED;
    let too_many: Vec<u64> = (0..V1_HISTORY_LEN as u64 + 1)
        .rev()
        .map(|i| T0 + i)
        .collect();
    let good = encode_v1(Some(&p), &[T0]);
    for (i, bytes) in [
        with_last_used,
        encode_v1(Some(&p), &too_many),
        encode_v1(Some(&p), &[T0, T0 + 1]),
        [&good[..], &[0]].concat(),
        good[..good.len() - 1].to_vec(),
    ]
    .iter()
    .enumerate()
    {
        assert_eq!(OobState::decode(bytes), Err(DecodeError), "case {i}");
    }
    assert!(OobState::decode(&good).is_ok());
}
