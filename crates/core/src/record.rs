//! What an attempt leaves in the user's state beside the decision itself: the count of its
//! outcome, the time and source host of a refusal, and the end of a lock-out that ran out.
//! Pure, and applied inside the same locked transaction as [`crate::verify::decide`], so that
//! it costs no write of its own (the state is saved anyway when the decision changes it).

use crate::state::{State, MAX_HOST_LEN};
use crate::verify::{Decision, Denial, Method};

/// Lock-out events an attempt brought about, for the audit trail.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Events {
    /// This attempt found a lock-out that had run out (`RESP_ACCT_UNLOCK_TIMED`).
    pub lock_ended: bool,
    /// This attempt started a lock-out, until the given time (`ANOM_LOGIN_FAILURES` and
    /// `RESP_ACCT_LOCK`).
    pub locked_until: Option<u64>,
}

/// Adds to `decision.state` (the state about to be saved) the record of the attempt made at
/// `now` from `rhost` against `stored`, and says which lock-out events it brought about.
///
/// A refusal while locked out is counted too (`locked`), which makes that attempt save the
/// user's own state: it then costs one save like every other refusal, with no decoy.
pub fn record(stored: &State, decision: &mut Decision, rhost: Option<&[u8]>, now: u64) -> Events {
    let next = &mut decision.state;
    let c = &mut next.counters;
    let bump = |n: &mut u32| *n = n.saturating_add(1);
    match decision.outcome {
        Ok(Method::Totp | Method::Hotp | Method::Recovery | Method::Delivered) => bump(&mut c.ok),
        // An expired code sent out of band counts as a wrong code.
        Err(Denial::BadCode | Denial::Expired) => bump(&mut c.bad_code),
        Err(Denial::Replay | Denial::TooManySpent) => bump(&mut c.replay),
        Err(Denial::Locked { .. }) => bump(&mut c.locked),
        Err(Denial::CounterUnknown) => bump(&mut c.state_error),
    }
    if decision.locked_now.is_some() {
        bump(&mut c.lockouts);
    }
    if decision.outcome.is_err() {
        next.last_failure = now;
        let host = rhost.unwrap_or_default();
        next.last_failure_host = host[..host.len().min(MAX_HOST_LEN)].to_vec();
    }
    // A lock-out that ran out ends with the first attempt after it (as pam_faillock sees it);
    // clearing the time records that it was seen, so it is reported once. `lockouts` stays:
    // the next lock-out still doubles until a success.
    let lock_ended = stored.locked_until != 0 && !stored.is_locked(now);
    if lock_ended && decision.locked_now.is_none() {
        next.locked_until = 0;
    }
    Events {
        lock_ended,
        locked_until: decision.locked_now,
    }
}

/// What a locked-out user is told (module argument `lockout_message`), after
/// pam_faillock's "(N minutes left to unlock)": the time left, rounded up to a minute.
pub fn lockout_text(left_secs: u64) -> String {
    let minutes = left_secs.div_ceil(60).max(1);
    format!("Too many failures; try again in {minutes} min")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Counters;

    fn decision(
        stored: &State,
        outcome: Result<Method, Denial>,
        locked_now: Option<u64>,
    ) -> Decision {
        let mut state = stored.clone();
        if let Some(until) = locked_now {
            state.locked_until = until;
        }
        Decision {
            outcome,
            state,
            locked_now,
            token: None,
        }
    }

    #[test]
    fn each_outcome_is_counted_and_a_refusal_keeps_its_source() {
        let stored = State::default();
        let mut d = decision(&stored, Err(Denial::BadCode), None);
        let long = vec![b'h'; MAX_HOST_LEN + 50];
        assert_eq!(record(&stored, &mut d, Some(&long), 77), Events::default());
        assert_eq!(d.state.counters.bad_code, 1);
        assert_eq!(d.state.last_failure, 77);
        assert_eq!(d.state.last_failure_host, vec![b'h'; MAX_HOST_LEN]);

        let mut ok = decision(&d.state, Ok(Method::Totp), None);
        record(&d.state, &mut ok, Some(b"elsewhere"), 90);
        assert_eq!(ok.state.counters.ok, 1);
        // A success leaves the last failure's record as it was.
        assert_eq!(ok.state.last_failure, 77);
        assert_eq!(ok.state.last_failure_host.len(), MAX_HOST_LEN);

        let mut locking = decision(&stored, Err(Denial::Replay), Some(500));
        let events = record(&stored, &mut locking, None, 100);
        assert_eq!(events.locked_until, Some(500));
        assert_eq!(locking.state.counters.replay, 1);
        assert_eq!(locking.state.counters.lockouts, 1);
        assert!(locking.state.last_failure_host.is_empty());
    }

    #[test]
    fn the_time_left_is_rounded_up_to_a_minute() {
        assert_eq!(lockout_text(0), "Too many failures; try again in 1 min");
        assert_eq!(lockout_text(60), "Too many failures; try again in 1 min");
        assert_eq!(lockout_text(181), "Too many failures; try again in 4 min");
        assert_eq!(lockout_text(3600), "Too many failures; try again in 60 min");
    }

    #[test]
    fn counters_saturate() {
        let stored = State {
            counters: Counters {
                locked: u32::MAX,
                ..Counters::default()
            },
            locked_until: 1000,
            ..State::default()
        };
        let mut d = decision(&stored, Err(Denial::Locked { until: 1000 }), None);
        let events = record(&stored, &mut d, Some(b"x"), 10);
        assert_eq!(d.state.counters.locked, u32::MAX);
        assert!(!events.lock_ended);
        assert_eq!(d.state.locked_until, 1000, "a running lock-out is kept");
    }

    #[test]
    fn an_expired_lockout_ends_once() {
        let stored = State {
            locked_until: 1000,
            lockouts: 1,
            ..State::default()
        };
        let mut d = decision(&stored, Err(Denial::BadCode), None);
        assert!(record(&stored, &mut d, None, 1000).lock_ended);
        assert_eq!(d.state.locked_until, 0);
        assert_eq!(d.state.lockouts, 1, "the next lock-out still doubles");
        let again = d.state.clone();
        let mut d2 = decision(&again, Err(Denial::BadCode), None);
        assert!(!record(&again, &mut d2, None, 1001).lock_ended);
        // The attempt that finds the old lock-out over may start a new one: both are reported.
        let mut relock = decision(&stored, Err(Denial::BadCode), Some(2000));
        let events = record(&stored, &mut relock, None, 1500);
        assert!(events.lock_ended);
        assert_eq!(relock.state.locked_until, 2000);
    }
}
