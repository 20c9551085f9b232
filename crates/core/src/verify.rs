//! The decision: given the secret, the stored state, the time and what the user typed,
//! return the outcome and the new state. Pure: the clock is an argument, nothing is written.

use sha2::{Digest, Sha256};
use subtle::{Choice, ConstantTimeEq};
use zeroize::Zeroizing;

use crate::otp;
use crate::recovery;
use crate::secret_file::{Kind, SecretFile, TokenView};
use crate::state::{History, Known, State, MAX_SPENT};

/// Longest lock-out, however many times it has doubled.
pub const MAX_LOCKOUT_SECS: u64 = 3600;
/// Longest input considered; anything longer is a wrong code without further work.
pub const MAX_INPUT_LEN: usize = 64;

/// The rules an administrator sets through module arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// TOTP steps accepted on each side of the current one.
    pub window: u64,
    /// HOTP counter values accepted beyond the expected one.
    pub hotp_lookahead: u64,
    /// Consecutive failures that trigger a lock-out.
    pub max_failures: u32,
    /// First lock-out, in seconds; doubles on each repeat, capped at [`MAX_LOCKOUT_SECS`].
    pub lockout_secs: u64,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            window: 1,
            hotp_lookahead: 5,
            max_failures: 5,
            lockout_secs: 60,
        }
    }
}

/// How an accepted login proved itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// A time-based code.
    Totp,
    /// A counter-based code.
    Hotp,
    /// A single-use recovery code.
    Recovery,
    /// A code the module sent out of band (e-mail, webhook, ntfy).
    Delivered,
}

/// Why an attempt was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denial {
    /// Not a valid code.
    BadCode,
    /// A valid code that was already used (or an older one).
    Replay,
    /// Too many failures: refused without looking at the code until `until`.
    Locked {
        /// Unix time the lock-out ends.
        until: u64,
    },
    /// An HOTP code for a secret whose counter is not known (the state was repaired, or the
    /// secret's history was dropped): refused until root resynchronises the counter.
    CounterUnknown,
    /// An unused recovery code, but [`MAX_SPENT`] of this secret's codes are already spent
    /// and remembered: refused rather than forget one of them.
    TooManySpent,
    /// The code sent out of band, typed after it expired (never from [`decide`]).
    Expired,
}

/// The result of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Accepted (and how) or refused (and why).
    pub outcome: Result<Method, Denial>,
    /// The state to store before answering.
    pub state: State,
    /// Set when this attempt started a lock-out (until the given time).
    pub locked_now: Option<u64>,
    /// The name of the token whose code was accepted (for the log line); `None` for a
    /// recovery code and for every refusal.
    pub token: Option<String>,
}

/// A stable identifier of a secret key, under which its replay history is kept: the file's
/// default token's (which also holds the file's spent recovery codes).
pub fn secret_id(secret: &SecretFile) -> [u8; 8] {
    key_id(&secret.key)
}

/// The identity of one token's key ([`secret_id`] for the default token): each token of a
/// file has its own replay history, and keeps it wherever it moves in the file.
pub fn key_id(key: &[u8]) -> [u8; 8] {
    let mut h = Sha256::new();
    h.update(b"pam_otp secret id v1\0");
    h.update(key);
    let digest = h.finalize();
    let mut id = [0u8; 8];
    id.copy_from_slice(&digest[..8]);
    id
}

/// Strips the spaces people type inside codes ("123 456"); `None` if the rest is not exactly
/// `digits` decimal digits.
fn numeric_code(input: &[u8], digits: u32) -> Option<u32> {
    // Sized for the whole input at once: a growing buffer would leave copies of it behind.
    let mut compact = Zeroizing::new(Vec::with_capacity(input.len()));
    compact.extend(input.iter().copied().filter(|b| *b != b' '));
    if compact.len() != digits as usize || !compact.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(&compact).ok()?.parse().ok()
}

/// Decides one attempt. Every candidate code of every token is computed and compared in
/// constant time, and the first token whose code matched is picked only once all are done.
pub fn decide(
    secret: &SecretFile,
    stored: &State,
    now: u64,
    input: &[u8],
    policy: &Policy,
) -> Decision {
    let mut state = stored.clone();
    if state.is_locked(now) {
        return Decision {
            outcome: Err(Denial::Locked {
                until: state.locked_until,
            }),
            state,
            locked_now: None,
            token: None,
        };
    }
    let input = if input.len() > MAX_INPUT_LEN {
        &[][..]
    } else {
        input
    };
    let tokens = secret.tokens();
    let ids: Vec<[u8; 8]> = tokens.iter().map(|t| key_id(t.key)).collect();
    let listed: Vec<[u8; 8]> = secret.recovery.iter().map(|h| h.fingerprint()).collect();

    // Each token's own history, however many other secrets came and went since it was last
    // used. Only a success changes one; a failure changes nothing but the throttling record.
    let mut checked: Vec<(History, Result<Advance, Denial>)> = Vec::with_capacity(tokens.len());
    for (token, id) in tokens.iter().zip(&ids) {
        // Recovery codes are the file's, counted spent in the default token's history.
        let default = checked.is_empty();
        let history = stored.history_of(*id, if default { &listed } else { &[] });
        // A token whose own last step was dropped: none of its codes older than the newest
        // TOTP code ever accepted (or the last repair) can be fresh.
        let floor = match stored.known(*id) {
            Known::Forgotten => stored.totp_floor,
            Known::Kept | Known::New => 0,
        };
        let typed = numeric_code(input, token.digits);
        let result = match token.kind {
            Kind::Totp { period } => check_totp(token, &history, floor, now, period, typed, policy),
            Kind::Hotp { counter } => check_hotp(token, &history, counter, typed, policy),
        };
        checked.push((history, result));
    }
    // A recovery code listed as spent in any token's history stays spent, even if the
    // tokens were reordered by hand.
    let spent_anywhere: Vec<[u8; 8]> = checked
        .iter()
        .flat_map(|(h, _)| h.spent.iter().copied())
        .collect();
    let recovery_result = check_recovery(secret, &spent_anywhere, input);

    let accepted = checked.iter().position(|(_, r)| r.is_ok());
    let replayed = checked
        .iter()
        .any(|(_, r)| matches!(r, Err(Denial::Replay)));
    let counter_unknown = checked
        .iter()
        .any(|(_, r)| matches!(r, Err(Denial::CounterUnknown)));
    let mut accepted_token = None;
    let mut remembered = None;
    let outcome = match (accepted, recovery_result) {
        (Some(index), _) => {
            let (mut history, result) = checked.swap_remove(index);
            let token = tokens[index];
            match result {
                Ok(Advance::Step(step, period)) => {
                    history.last_step = Some(step);
                    state.raise_totp_floor(step, period);
                }
                Ok(Advance::Counter(next)) => history.hotp_next = Some(next),
                Err(_) => {}
            }
            remembered = Some(history);
            accepted_token = Some(token.name.to_string());
            Ok(match token.kind {
                Kind::Totp { .. } => Method::Totp,
                Kind::Hotp { .. } => Method::Hotp,
            })
        }
        (None, Ok(fingerprint)) => {
            let mut history = checked.swap_remove(0).0;
            if history.spent.len() < MAX_SPENT {
                history.spent.push(fingerprint);
                remembered = Some(history);
                Ok(Method::Recovery)
            } else {
                Err(Denial::TooManySpent)
            }
        }
        (None, Err(Denial::Replay)) => Err(Denial::Replay),
        _ if replayed => Err(Denial::Replay),
        _ if counter_unknown => Err(Denial::CounterUnknown),
        _ => Err(Denial::BadCode),
    };
    if let Some(history) = remembered {
        state.remember_keeping(history, &ids);
    }

    let locked_now = count_attempt(&mut state, outcome.is_ok(), now, policy);
    Decision {
        outcome,
        state,
        locked_now,
        token: accepted_token,
    }
}

/// The throttling record of one decided attempt at `now`: a success resets it, a failure
/// counts toward `max_failures`, which starts a lock-out (doubling on each repeat, capped at
/// [`MAX_LOCKOUT_SECS`]). Returns the end of a lock-out this attempt started. Shared by
/// [`decide`] and the out-of-band flow, so both count toward the same lock-out.
pub fn count_attempt(state: &mut State, success: bool, now: u64, policy: &Policy) -> Option<u64> {
    state.last_attempt = now;
    if success {
        state.failures = 0;
        state.lockouts = 0;
        state.locked_until = 0;
        return None;
    }
    state.failures = state.failures.saturating_add(1);
    if state.failures < policy.max_failures.max(1) {
        return None;
    }
    state.failures = 0;
    state.lockouts = state.lockouts.saturating_add(1);
    let doublings = (state.lockouts - 1).min(16);
    let secs = policy
        .lockout_secs
        .saturating_mul(1 << doublings)
        .min(MAX_LOCKOUT_SECS);
    state.locked_until = now.saturating_add(secs);
    Some(state.locked_until)
}

enum Advance {
    /// A TOTP step, and the secret's period.
    Step(u64, u64),
    Counter(u64),
}

fn code_matches(token: &TokenView<'_>, counter: u64, typed: Option<u32>) -> Choice {
    let code = otp::hotp(token.key, counter, token.algorithm, token.digits);
    // With no well-formed input, compare against a value no code can take, so the work done
    // is the same either way.
    let typed_or_impossible = typed.unwrap_or(u32::MAX);
    code.ct_eq(&typed_or_impossible)
}

fn check_totp(
    secret: &TokenView<'_>,
    history: &History,
    floor: u64,
    now: u64,
    period: u64,
    typed: Option<u32>,
    policy: &Policy,
) -> Result<Advance, Denial> {
    let current = otp::totp_step(now, period);
    let first = current.saturating_sub(policy.window);
    let last = current.saturating_add(policy.window);
    let mut fresh: Option<u64> = None;
    let mut replayed = false;
    for step in first..=last {
        if bool::from(code_matches(secret, step, typed)) {
            let newer = history.last_step.is_none_or(|used| step > used);
            if newer && step.saturating_mul(period) >= floor {
                fresh = Some(fresh.map_or(step, |f: u64| f.max(step)));
            } else {
                replayed = true;
            }
        }
    }
    match (fresh, replayed) {
        (Some(step), _) => Ok(Advance::Step(step, period)),
        (None, true) => Err(Denial::Replay),
        (None, false) => Err(Denial::BadCode),
    }
}

fn check_hotp(
    secret: &TokenView<'_>,
    history: &History,
    file_counter: u64,
    typed: Option<u32>,
    policy: &Policy,
) -> Result<Advance, Denial> {
    if history.hotp_unknown {
        return Err(Denial::CounterUnknown);
    }
    let expected = history.hotp_next.unwrap_or(0).max(file_counter);
    let mut found: Option<u64> = None;
    for counter in expected..=expected.saturating_add(policy.hotp_lookahead) {
        if bool::from(code_matches(secret, counter, typed)) && found.is_none() {
            found = Some(counter);
        }
    }
    // The code just before the expected one is the one most recently used: name it a replay.
    let replayed = history.hotp_next.is_some()
        && expected > 0
        && bool::from(code_matches(secret, expected - 1, typed));
    match found {
        Some(counter) => Ok(Advance::Counter(counter.saturating_add(1))),
        None if replayed => Err(Denial::Replay),
        None => Err(Denial::BadCode),
    }
}

fn check_recovery(secret: &SecretFile, spent: &[[u8; 8]], input: &[u8]) -> Result<[u8; 8], Denial> {
    let Some(code) = recovery::normalize(input) else {
        return Err(Denial::BadCode);
    };
    let mut result = Err(Denial::BadCode);
    for hash in &secret.recovery {
        if hash.matches(&code) {
            let fingerprint = hash.fingerprint();
            result = if spent.contains(&fingerprint) {
                Err(Denial::Replay)
            } else {
                Ok(fingerprint)
            };
        }
    }
    result
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod several_tokens_tests;
