//! Administrative views of and changes to per-user state, for the `pam-otp` command:
//! clearing a lock-out, registering a new secret, counting the recovery codes a user has
//! left, and the state `pam-otp repair` writes.

use pam_otp_core::secret_file::{Kind, SecretFile, DEFAULT_TOKEN};
use pam_otp_core::state::{History, State, MAX_SPENT};
use pam_otp_core::store::{StateKey, StateStore, StoreError};
use pam_otp_core::verify;

/// `state` with the throttling record cleared: no failures, no lock-out, and the doubling
/// of the next lock-out started afresh. Replay history and spent recovery codes are kept,
/// so an unlock never makes a used code valid again.
pub fn unlocked(state: &State) -> State {
    State {
        failures: 0,
        lockouts: 0,
        locked_until: 0,
        ..state.clone()
    }
}

/// After `pam-otp enroll` saved a newly generated `secret`: records it as the user's current
/// secret, never used, so that the module treats it as new even where older histories were
/// dropped (see [`State::known`]). With `step`, the TOTP code typed to confirm (seen on
/// screen by whoever stood by) counts as used. Every other secret's history is kept, and so
/// is the throttling record, as [`verify`] keeps it.
pub fn start_history(
    store: &dyn StateStore,
    key: StateKey<'_>,
    secret: &SecretFile,
    step: Option<u64>,
) -> Result<State, StoreError> {
    start_token_history(store, key, secret, step, &[])
}

/// [`start_history`] for a token added to a file (`secret` holds it alone), keeping the
/// histories of the file's tokens `keep` (see [`State::remember_keeping`]).
pub fn start_token_history(
    store: &dyn StateStore,
    key: StateKey<'_>,
    secret: &SecretFile,
    step: Option<u64>,
    keep: &[[u8; 8]],
) -> Result<State, StoreError> {
    let id = verify::secret_id(secret);
    store.transact(key, &mut |state| {
        let mut next = state.clone();
        let mut history = History::fresh(id);
        if let (Some(step), Kind::Totp { period }) = (step, secret.kind) {
            history.last_step = Some(step);
            next.raise_totp_floor(step, period);
        }
        next.remember_keeping(history, keep);
        next
    })
}

/// [`repaired`] for a state that could not be read at all: nothing of it is known, so every
/// secret but those in `secrets` counts as one whose history was dropped (fully used), and
/// an older copy of a secret put back later reopens nothing either.
pub fn repaired_from_nothing(
    secrets: &[&SecretFile],
    now: u64,
    hotp_counter: Option<u64>,
) -> Result<State, RepairError> {
    let lost = State {
        forgot_more: true,
        ..State::default()
    };
    repaired(&lost, secrets, now, hotp_counter)
}

/// How many of the file's recovery codes the module would still accept according to
/// `state` (none of a secret whose history was dropped, see [`State::history_of`]).
pub fn unspent_recovery_codes(secret: &SecretFile, state: &State) -> usize {
    let listed: Vec<[u8; 8]> = secret.recovery.iter().map(|h| h.fingerprint()).collect();
    let history = state.history_of(verify::secret_id(secret), &listed);
    if history.spent.len() >= MAX_SPENT {
        return 0;
    }
    listed
        .iter()
        .filter(|fp| !history.spent.contains(fp))
        .count()
}

/// Whether the module refuses HOTP codes of `secret` until its counter is resynchronised.
pub fn needs_resync(secret: &SecretFile, state: &State) -> bool {
    matches!(secret.kind, Kind::Hotp { .. })
        && state
            .history_of(verify::secret_id(secret), &[])
            .hotp_unknown
}

/// Why a repair cannot be made as asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RepairError {
    /// The counter given is below one the state already records as reached.
    CounterBackwards { known: u64 },
    /// `--hotp-counter` for a secret that is not HOTP.
    NotHotp,
    /// `--name` names no token of the file.
    NoToken(String),
}

/// The state `pam-otp repair` writes, from `base` (the default state when the old one was
/// unreadable): one that reopens nothing, whatever had been used before.
///
/// - TOTP: no code for a time step that started at or before `now` is accepted, for any
///   secret; each secret's own last step is at least the current one.
/// - Recovery codes: every code listed in `secrets` (the secret file, then its backup)
///   counts as spent, so new ones must be generated.
/// - HOTP: the counter of each secret is unknown (codes refused) until resynchronised,
///   except the first secret's when `hotp_counter` gives the next counter of its token.
/// - Throttling: cleared, as `pam-otp unlock` clears it.
///
/// Histories already in `base` are kept (a forced repair of a readable state only adds).
pub fn repaired(
    base: &State,
    secrets: &[&SecretFile],
    now: u64,
    hotp_counter: Option<u64>,
) -> Result<State, RepairError> {
    let first_is_hotp = secrets
        .first()
        .is_some_and(|s| matches!(s.kind, Kind::Hotp { .. }));
    if hotp_counter.is_some() && !first_is_hotp {
        return Err(RepairError::NotHotp);
    }
    let mut next = unlocked(base);
    next.totp_floor = next.totp_floor.max(now.saturating_add(1));
    // The first secret (the file in use) is remembered last, so it ends up current.
    for (index, secret) in secrets.iter().enumerate().rev() {
        let listed: Vec<[u8; 8]> = secret.recovery.iter().map(|h| h.fingerprint()).collect();
        let id = verify::secret_id(secret);
        let mut history = next.history_of(id, &listed);
        // The listed codes first: they must fit; older entries fill what room is left.
        let mut spent = listed.clone();
        for fp in &history.spent {
            if spent.len() < MAX_SPENT && !spent.contains(fp) {
                spent.push(*fp);
            }
        }
        history.spent = spent;
        match secret.kind {
            Kind::Totp { period } => {
                let current = now / period.max(1);
                history.last_step = Some(history.last_step.map_or(current, |s| s.max(current)));
                history.hotp_unknown = true;
            }
            Kind::Hotp { counter } => match (index, hotp_counter) {
                (0, Some(n)) => history = resynced(history, counter, n)?,
                _ => history.hotp_unknown = true,
            },
        }
        next.remember(history);
    }
    Ok(next)
}

/// `state` with the HOTP counter of `secret` set to `counter`, the next value its token will
/// show (`pam-otp repair USER --hotp-counter N`); nothing else changes.
#[cfg(test)]
pub fn resync(state: &State, secret: &SecretFile, counter: u64) -> Result<State, RepairError> {
    resync_token(state, secret, DEFAULT_TOKEN, counter)
}

/// [`resync`] for the token `name` of the file (`--name`): its own history, by its key
/// (the recovery codes belong to the default token, as the module counts them); the other
/// tokens' histories are kept.
pub fn resync_token(
    state: &State,
    secret: &SecretFile,
    name: &str,
    counter: u64,
) -> Result<State, RepairError> {
    let Some(token) = secret.token(name) else {
        return Err(RepairError::NoToken(name.to_string()));
    };
    let Kind::Hotp {
        counter: file_counter,
    } = token.kind
    else {
        return Err(RepairError::NotHotp);
    };
    let listed: Vec<[u8; 8]> = if name == DEFAULT_TOKEN {
        secret.recovery.iter().map(|h| h.fingerprint()).collect()
    } else {
        Vec::new()
    };
    let history = state.history_of(verify::key_id(token.key), &listed);
    let keep: Vec<[u8; 8]> = secret
        .tokens()
        .iter()
        .map(|t| verify::key_id(t.key))
        .collect();
    let mut next = state.clone();
    next.remember_keeping(resynced(history, file_counter, counter)?, &keep);
    Ok(next)
}

fn resynced(mut history: History, file_counter: u64, counter: u64) -> Result<History, RepairError> {
    // A counter the state knows was reached may not be given back: that would reopen codes.
    if let (false, Some(known)) = (history.hotp_unknown, history.hotp_next) {
        if counter < known {
            return Err(RepairError::CounterBackwards { known });
        }
    }
    history.hotp_next = Some(counter.max(file_counter));
    history.hotp_unknown = false;
    Ok(history)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pam_otp_core::recovery::RecoveryHash;
    use pam_otp_core::store::FileStore;
    use pam_otp_testkit::TestDir;
    use std::time::Duration;

    /// The key of the state file named `uid`.
    fn key(uid: u32) -> StateKey<'static> {
        StateKey {
            uid,
            name: "test-user",
        }
    }

    fn secret() -> SecretFile {
        let mut s = SecretFile::parse(b"secret = GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\n").unwrap();
        s.recovery = vec![
            RecoveryHash::new([1; 16], b"aaaabbbbcccc"),
            RecoveryHash::new([2; 16], b"ddddeeeeffff"),
        ];
        s
    }

    #[test]
    fn unlock_clears_throttling_only() {
        let t = TestDir::new();
        let dir = t.path().join("state");
        let store = FileStore::new(&dir, Duration::from_secs(1));
        let locked = State {
            secret_id: [3; 8],
            last_step: Some(99),
            failures: 2,
            lockouts: 3,
            locked_until: u64::MAX,
            spent: vec![[4; 8]],
            ..State::default()
        };
        store.transact(key(7), &mut |_| locked.clone()).unwrap();
        store.transact(key(7), &mut unlocked).unwrap();
        let after = store.load(7).unwrap();
        assert!(!after.is_locked(0));
        assert_eq!((after.failures, after.lockouts), (0, 0));
        assert_eq!(after.last_step, Some(99));
        assert_eq!(after.spent, vec![[4; 8]]);
    }

    #[test]
    fn confirmed_code_cannot_log_in_afterwards() {
        let t = TestDir::new();
        let dir = t.path().join("state");
        let store = FileStore::new(&dir, Duration::from_secs(1));
        let s = secret();
        let now = 1_700_000_000;
        let code = pam_otp_core::otp::format_code(
            pam_otp_core::otp::totp(&s.key, now, 30, s.algorithm, s.digits),
            s.digits,
        );
        let policy = verify::Policy::default();
        store
            .transact(key(9), &mut |st| State {
                failures: 2,
                ..st.clone()
            })
            .unwrap();
        start_history(&store, key(9), &s, Some(now / 30)).unwrap();
        let state = store.load(9).unwrap();
        assert_eq!(state.failures, 2);
        let d = verify::decide(&s, &state, now + 5, code.as_bytes(), &policy);
        assert_eq!(d.outcome, Err(verify::Denial::Replay));
    }

    /// After a repair from an unreadable state, a secret that was neither the file nor its
    /// backup (an older copy someone kept) counts as used: its recovery codes are spent.
    #[test]
    fn repair_from_nothing_reopens_no_other_secret() {
        let current = secret();
        let mut older = SecretFile::parse(b"secret = MFRGGZDFMZTWQ2LKNNWG23TPOBYXE43U\n").unwrap();
        older.recovery = current.recovery.clone();
        let state = repaired_from_nothing(&[&current], 1_700_000_000, None).unwrap();
        assert_eq!(
            state.known(verify::secret_id(&older)),
            pam_otp_core::state::Known::Forgotten
        );
        let policy = verify::Policy::default();
        let d = verify::decide(&older, &state, 1_700_000_100, b"aaaa-bbbb-cccc", &policy);
        assert_ne!(d.outcome, Ok(verify::Method::Recovery));
    }

    #[test]
    fn counts_unspent_codes_of_this_secret_only() {
        let s = secret();
        let mut state = State {
            secret_id: verify::secret_id(&s),
            spent: vec![s.recovery[0].fingerprint()],
            ..State::default()
        };
        assert_eq!(unspent_recovery_codes(&s, &state), 1);
        state.secret_id = [0; 8];
        assert_eq!(unspent_recovery_codes(&s, &state), 2);
    }

    #[test]
    fn repaired_state_reopens_nothing() {
        let s = secret();
        let now = 1_700_000_010;
        let policy = verify::Policy::default();
        let fresh = repaired(&State::default(), &[&s], now, None).unwrap();
        let code = |t: u64| {
            pam_otp_core::otp::format_code(
                pam_otp_core::otp::totp(&s.key, t, 30, s.algorithm, s.digits),
                s.digits,
            )
        };
        // The current step's code is refused, the next one accepted.
        let d = verify::decide(&s, &fresh, now, code(now).as_bytes(), &policy);
        assert_eq!(d.outcome, Err(verify::Denial::Replay));
        let d = verify::decide(&s, &fresh, now, code(now + 30).as_bytes(), &policy);
        assert_eq!(d.outcome, Ok(verify::Method::Totp));
        // Every listed recovery code is spent.
        assert_eq!(unspent_recovery_codes(&s, &fresh), 0);
        for typed in [&b"aaaabbbbcccc"[..], b"ddddeeeeffff"] {
            let d = verify::decide(&s, &fresh, now, typed, &policy);
            assert_eq!(d.outcome, Err(verify::Denial::Replay));
        }
    }

    #[test]
    fn hotp_counter_after_repair_only_moves_forward() {
        let mut s = secret();
        s.kind = Kind::Hotp { counter: 5 };
        let policy = verify::Policy::default();
        let code = |c: u64| {
            pam_otp_core::otp::format_code(
                pam_otp_core::otp::hotp(&s.key, c, s.algorithm, s.digits),
                s.digits,
            )
        };
        let lost = repaired(&State::default(), &[&s], 100, None).unwrap();
        assert!(needs_resync(&s, &lost));
        let d = verify::decide(&s, &lost, 100, code(5).as_bytes(), &policy);
        assert_eq!(d.outcome, Err(verify::Denial::CounterUnknown));
        // Set below the file's counter: the file's counter wins.
        let synced = resync(&lost, &s, 2).unwrap();
        assert!(!needs_resync(&s, &synced));
        assert_eq!(synced.hotp_next, Some(5));
        let synced = resync(&synced, &s, 9).unwrap();
        assert_eq!(
            resync(&synced, &s, 8),
            Err(RepairError::CounterBackwards { known: 9 })
        );
        let d = verify::decide(&s, &synced, 100, code(9).as_bytes(), &policy);
        assert_eq!(d.outcome, Ok(verify::Method::Hotp));
        // Given at repair time, the counter is set at once.
        let at_once = repaired(&State::default(), &[&s], 100, Some(7)).unwrap();
        assert_eq!((at_once.hotp_next, at_once.hotp_unknown), (Some(7), false));
        assert_eq!(
            repaired(&State::default(), &[&secret()], 100, Some(7)),
            Err(RepairError::NotHotp)
        );
    }
}
