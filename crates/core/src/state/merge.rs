//! Two states of one user combined into one that reopens nothing either had used: for
//! `pam-otp store migrate`, when a user already has a record in the shared store and this
//! host has a state file of its own.

use super::{History, State, MAX_SPENT};

impl State {
    /// A state that refuses every code either `self` or `other` refuses: per secret, the
    /// later TOTP step and HOTP counter and every spent recovery code; a secret either one
    /// forgot stays forgotten (it counts as fully used there); the later TOTP floor; the
    /// stricter throttling record. The more recently used state's current secret stays
    /// current; everything else not named here is taken from it.
    pub fn merged(&self, other: &State) -> State {
        let (newer, older) = if other.last_attempt > self.last_attempt {
            (other, self)
        } else {
            (self, other)
        };
        let mut out = newer.clone();
        out.failures = newer.failures.max(older.failures);
        out.lockouts = newer.lockouts.max(older.lockouts);
        out.locked_until = newer.locked_until.max(older.locked_until);
        out.last_attempt = newer.last_attempt.max(older.last_attempt);
        out.totp_floor = newer.totp_floor.max(older.totp_floor);
        out.forgot_more = newer.forgot_more || older.forgot_more;
        for id in &older.forgotten {
            if !out.forgotten.contains(id) {
                out.forgotten.push(*id);
            }
        }
        let forgotten_by_either =
            |id: &[u8; 8]| newer.forgotten.contains(id) || older.forgotten.contains(id);

        // Every history of either state, combined per secret; the newer state's order first.
        let mut histories: Vec<History> = Vec::new();
        for h in histories_of(newer).into_iter().chain(histories_of(older)) {
            match histories.iter_mut().find(|k| k.secret_id == h.secret_id) {
                Some(kept) => *kept = combined(kept, &h),
                None => histories.push(h),
            }
        }
        histories.retain(|h| !forgotten_by_either(&h.secret_id));

        // Rebuild: oldest first, so that `remember` leaves the newer current one current
        // and drops (as forgotten) whatever does not fit.
        out.past.clear();
        out.set_current(History::default());
        for h in histories.into_iter().rev() {
            out.remember(h);
        }
        if out.forgotten.len() > super::MAX_FORGOTTEN {
            out.forgotten.clear();
            out.forgot_more = true;
        }
        out
    }
}

/// The current history (if anything is recorded in it), then the past ones.
fn histories_of(state: &State) -> Vec<History> {
    let current = state.current();
    let mut all = Vec::with_capacity(1 + state.past.len());
    if !current.is_empty() {
        all.push(current);
    }
    all.extend(state.past.iter().cloned());
    all
}

/// One secret's two histories as one that accepts nothing either refuses.
fn combined(a: &History, b: &History) -> History {
    let mut spent = a.spent.clone();
    for f in &b.spent {
        if !spent.contains(f) {
            spent.push(*f);
        }
    }
    // At MAX_SPENT spent codes every further recovery code is refused, so keeping only
    // that many still refuses all of them.
    spent.truncate(MAX_SPENT);
    History {
        secret_id: a.secret_id,
        last_step: a.last_step.max(b.last_step),
        hotp_next: a.hotp_next.max(b.hotp_next),
        hotp_unknown: a.hotp_unknown || b.hotp_unknown,
        spent,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{Known, MAX_SECRETS};

    fn used(id: u8, step: u64, counter: Option<u64>, spent: &[u8]) -> History {
        History {
            secret_id: [id; 8],
            last_step: Some(step),
            hotp_next: counter,
            hotp_unknown: false,
            spent: spent.iter().map(|s| [*s; 8]).collect(),
        }
    }

    fn state_with(histories: &[History], last_attempt: u64) -> State {
        let mut s = State {
            last_attempt,
            ..State::default()
        };
        for h in histories.iter().rev() {
            s.remember(h.clone());
        }
        s
    }

    #[test]
    fn the_later_use_of_each_secret_wins_and_spent_codes_add_up() {
        let host = state_with(&[used(1, 100, Some(7), &[1, 2])], 50);
        let fleet = state_with(&[used(1, 90, Some(9), &[3]), used(2, 40, None, &[])], 60);
        for m in [host.merged(&fleet), fleet.merged(&host)] {
            let one = m.history_of([1; 8], &[]);
            assert_eq!(one.last_step, Some(100));
            assert_eq!(one.hotp_next, Some(9));
            let mut spent = one.spent.clone();
            spent.sort();
            assert_eq!(spent, vec![[1; 8], [2; 8], [3; 8]]);
            assert_eq!(m.history_of([2; 8], &[]).last_step, Some(40));
            assert_eq!(m.last_attempt, 60);
        }
        // The more recently used state's current secret stays current.
        assert_eq!(host.merged(&fleet).secret_id, [1; 8]);
    }

    #[test]
    fn a_secret_forgotten_on_either_side_stays_forgotten() {
        let mut host = state_with(&[used(3, 10, Some(1), &[])], 10);
        host.forgotten.push([4; 8]);
        let fleet = state_with(&[used(4, 20, Some(5), &[])], 20);
        let m = host.merged(&fleet);
        assert_eq!(m.known([4; 8]), Known::Forgotten);
        assert!(m.history_of([4; 8], &[]).hotp_unknown);
        assert_eq!(m.known([3; 8]), Known::Kept);
    }

    #[test]
    fn the_stricter_throttling_and_the_later_floor_are_kept() {
        let a = State {
            failures: 4,
            locked_until: 500,
            totp_floor: 900,
            last_attempt: 10,
            ..State::default()
        };
        let b = State {
            failures: 1,
            lockouts: 2,
            totp_floor: 300,
            last_attempt: 20,
            ..State::default()
        };
        let m = a.merged(&b);
        assert_eq!((m.failures, m.lockouts, m.locked_until), (4, 2, 500));
        assert_eq!(m.totp_floor, 900);
    }

    #[test]
    fn too_many_secrets_drop_into_forgotten_not_into_new() {
        let many: Vec<History> = (1..=MAX_SECRETS as u8 + 3)
            .map(|i| used(i, u64::from(i), None, &[]))
            .collect();
        let a = state_with(&many[..4], 5);
        let b = state_with(&many[4..], 9);
        let m = a.merged(&b);
        for h in &many {
            assert_ne!(m.known(h.secret_id), Known::New, "{:?}", h.secret_id);
        }
        assert!(State::decode(&m.encode()).is_ok());
    }
}
