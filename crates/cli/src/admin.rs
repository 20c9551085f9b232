//! Administrative views of and changes to per-user state, for the `pam-otp` command:
//! clearing a lock-out, and counting the recovery codes a user has left.

use pam_otp_core::secret_file::SecretFile;
use pam_otp_core::state::State;
use pam_otp_core::store::{StateStore, StoreError};
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

/// After `pam-otp enroll` checked a TOTP code at `step` for a newly saved `secret`: starts
/// that secret's replay history at `step`, so the code typed to confirm (seen on screen by
/// whoever stood by) cannot log in. The throttling record is kept, as [`verify`] keeps it.
pub fn start_history(
    store: &dyn StateStore,
    uid: u32,
    secret: &SecretFile,
    step: u64,
) -> Result<State, StoreError> {
    let id = verify::secret_id(secret);
    store.transact(uid, &mut |state| State {
        secret_id: id,
        last_step: Some(step),
        hotp_next: None,
        spent: Vec::new(),
        ..state.clone()
    })
}

/// How many of the file's recovery codes are not yet spent according to `state`. Spent
/// records of a different secret (before a re-enrolment) do not count, as in [`verify`].
pub fn unspent_recovery_codes(secret: &SecretFile, state: &State) -> usize {
    if state.secret_id != verify::secret_id(secret) {
        return secret.recovery.len();
    }
    secret
        .recovery
        .iter()
        .filter(|h| !state.spent.contains(&h.fingerprint()))
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use pam_otp_core::recovery::RecoveryHash;
    use pam_otp_core::store::FileStore;
    use pam_otp_testkit::TestDir;
    use std::time::Duration;

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
        store.transact(7, &mut |_| locked.clone()).unwrap();
        store.transact(7, &mut unlocked).unwrap();
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
            .transact(9, &mut |st| State {
                failures: 2,
                ..st.clone()
            })
            .unwrap();
        start_history(&store, 9, &s, now / 30).unwrap();
        let state = store.load(9).unwrap();
        assert_eq!(state.failures, 2);
        let d = verify::decide(&s, &state, now + 5, code.as_bytes(), &policy);
        assert_eq!(d.outcome, Err(verify::Denial::Replay));
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
}
