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
    cases.push(edit(0, 2)); // unknown version
    cases.push(edit(1, 4)); // unknown flag
    cases.push(edit(1, FLAG_USED)); // "used" without a code
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
