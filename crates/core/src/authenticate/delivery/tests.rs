use super::*;
use crate::oob::rules::SendLimits;
use crate::verify::Policy;

const T0: u64 = 1_800_000_000;

fn sent(code: &[u8]) -> State {
    let hash = CodeHash::with_salt([3; 16], code).unwrap();
    let pending = PendingCode::new(hash, 6, T0, 120).unwrap();
    let mut record = OobState::new();
    record.issue(&SendLimits::default(), pending, T0);
    let mut s = State::default();
    s.oob.record = Some(record);
    s
}

#[test]
fn right_once_then_replay_wrong_and_expired_count_failures() {
    let policy = Policy {
        max_failures: 3,
        ..Policy::default()
    };
    let mut counts = DeliveryCounts::default();
    counts.count(Channel::Email, true);
    let d = judge(&sent(b"123456"), b"123456", T0 + 5, &policy, &counts);
    assert_eq!(d.outcome, Ok(Method::Delivered));
    assert_eq!(d.state.oob.deliveries.email.ok, 1);
    let again = judge(
        &d.state,
        b"123456",
        T0 + 6,
        &policy,
        &DeliveryCounts::default(),
    );
    assert_eq!(again.outcome, Err(Denial::Replay));
    assert_eq!(again.state.failures, 1);
    let wrong = judge(
        &again.state,
        b"654321",
        T0 + 7,
        &policy,
        &DeliveryCounts::default(),
    );
    assert_eq!(wrong.outcome, Err(Denial::BadCode));
    assert_eq!(wrong.state.failures, 2);
    let late = judge(
        &sent(b"123456"),
        b"123456",
        T0 + 120,
        &policy,
        &DeliveryCounts::default(),
    );
    assert_eq!(late.outcome, Err(Denial::Expired));
    // The third failure locks the user out, as three wrong TOTP codes would.
    let locking = judge(
        &wrong.state,
        b"000000",
        T0 + 8,
        &policy,
        &DeliveryCounts::default(),
    );
    assert!(locking.locked_now.is_some());
    let locked = judge(
        &locking.state,
        b"123456",
        T0 + 9,
        &policy,
        &DeliveryCounts::default(),
    );
    assert!(matches!(locked.outcome, Err(Denial::Locked { .. })));
}

#[test]
fn the_prompts_name_the_channel_and_the_wait() {
    assert_eq!(
        offer_prompt(Channel::Email),
        "One-time code (or press Enter to get one by e-mail): "
    );
    assert_eq!(send_limit_text(0), "Too many codes sent; try again in 1 s");
    assert_eq!(
        send_limit_text(29),
        "Too many codes sent; try again in 29 s"
    );
}

/// The pending code `sent` made.
fn ours() -> PendingCode {
    let hash = CodeHash::with_salt([3; 16], b"123456").unwrap();
    PendingCode::new(hash, 6, T0, 120).unwrap()
}

#[test]
fn only_the_providers_approval_accepts_and_our_unsent_code_is_retired() {
    let policy = Policy {
        max_failures: 2,
        ..Policy::default()
    };
    let none = DeliveryCounts::default();
    let (s, v) = (sent(b"123456"), &ours());
    let approved = judge_by_provider(&s, Checked::Approved, v, T0 + 5, &policy, &none);
    assert_eq!(approved.outcome, Ok(Method::Delivered));
    // Our code (never sent to anyone) cannot be used afterwards.
    let ours_typed = judge(&approved.state, b"123456", T0 + 6, &policy, &none);
    assert_eq!(ours_typed.outcome, Err(Denial::Replay));

    let rejected = judge_by_provider(&s, Checked::Rejected, v, T0 + 5, &policy, &none);
    assert_eq!(rejected.outcome, Err(Denial::BadCode));
    assert_eq!(rejected.state.failures, 1);
    let ours_typed = judge(&rejected.state, b"123456", T0 + 6, &policy, &none);
    assert_eq!(
        ours_typed.outcome,
        Err(Denial::Replay),
        "retired on a rejection too"
    );

    // Expired counts toward the same lock-out; locked, even an approval is refused.
    let expired = judge_by_provider(&rejected.state, Checked::Expired, v, T0 + 7, &policy, &none);
    assert_eq!(expired.outcome, Err(Denial::Expired));
    assert!(expired.locked_now.is_some());
    let locked = judge_by_provider(&expired.state, Checked::Approved, v, T0 + 8, &policy, &none);
    assert!(matches!(locked.outcome, Err(Denial::Locked { .. })));
}

#[test]
fn only_this_logins_code_is_retired() {
    // Another login sent a newer code since ours (a fallback to e-mail, say): it stays live.
    let policy = Policy::default();
    let none = DeliveryCounts::default();
    let mut s = sent(b"123456");
    let newer = PendingCode::new(
        CodeHash::with_salt([4; 16], b"654321").unwrap(),
        6,
        T0 + 3,
        120,
    )
    .unwrap();
    let limits = SendLimits {
        min_interval_secs: 0,
        ..SendLimits::default()
    };
    s.oob.record.as_mut().unwrap().issue(&limits, newer, T0 + 3);
    let d = judge_by_provider(&s, Checked::Rejected, &ours(), T0 + 5, &policy, &none);
    let typed = judge(&d.state, b"654321", T0 + 6, &policy, &none);
    assert_eq!(typed.outcome, Ok(Method::Delivered));
}

#[test]
fn the_offer_names_the_phone_and_app_channels() {
    assert_eq!(
        offer_prompt(Channel::Sms),
        "One-time code (or press Enter to get one by text message): "
    );
    assert_eq!(
        offer_prompt(Channel::Voice),
        "One-time code (or press Enter to get one by phone call): "
    );
    assert_eq!(
        offer_prompt(Channel::Fcm),
        "One-time code (or press Enter to get one in your app): "
    );
}
