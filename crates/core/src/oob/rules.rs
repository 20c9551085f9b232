//! The rules of a code sent out of band, as pure functions over a small record.
//!
//! [`OobState`] holds the one pending code (its keyed hash, expiry, whether it was used),
//! the keyed hash of the code used last once a newer one superseded it, and the times of the
//! last sends. It has its own bounded, versioned byte encoding
//! ([`OobState::encode`], [`OobState::decode`]) so that it can be embedded in the user's
//! state by either backend without touching the state's own encoding.
//!
//! - [`OobState::may_send`]: at most one send per `min_interval_secs` and `max_per_hour`
//!   sends in any hour; otherwise the time from which a send is allowed.
//! - [`OobState::issue`]: the same check, then the new code supersedes the previous one
//!   (which can never be accepted again) and the send is counted. A superseded code that
//!   was used is remembered (its salted hash only) until another used code takes its place;
//!   one that was never used is forgotten. The caller counts a send whether or not the
//!   helper then delivers it: a failed send still costs.
//! - [`OobState::check`]: whether a typed code is the pending one, unexpired and unused; an
//!   accepted code is marked used and then only ever answers [`CodeCheck::Replay`], and so
//!   does the last used code after a new one was sent (typed again at the next login, it is
//!   a replay, not a wrong code). Counting a wrong code or a replay toward the lock-out is
//!   the caller's job (the same counter as TOTP).
//!
//! Times are Unix seconds, passed in. A clock that goes back cannot reopen a used code (the
//! `used` flag does not depend on time), nor stretch a code's life by more than
//! [`CLOCK_SLACK_SECS`] before its issue time; a send recorded "in the future" counts
//! toward the limits until the clock passes it.

use super::code::{CodeHash, MAC_LEN, MAX_DIGITS, MIN_DIGITS, SALT_LEN};

/// A code's life when the configuration says nothing.
pub const DEFAULT_TTL_SECS: u64 = 120;
/// Shortest configurable life of a code.
pub const MIN_TTL_SECS: u64 = 30;
/// Longest configurable life of a code.
pub const MAX_TTL_SECS: u64 = 900;
/// How far before its issue time (a clock set back) a code is still taken.
pub const CLOCK_SLACK_SECS: u64 = 30;
/// Send times kept: the most `max_per_hour` can be. Six since version 2 of the record (it
/// was twelve), so that the record, with the last used code's hash, still fits the user's
/// state beside everything else in the file store's fixed 4 KiB slot (the size assertion in
/// `store.rs`).
pub const HISTORY_LEN: usize = 6;
/// Send times a version 1 record may hold (the newest [`HISTORY_LEN`] are kept when read).
pub const V1_HISTORY_LEN: usize = 12;
/// The window of `max_per_hour`.
pub const HOUR_SECS: u64 = 3600;
/// Version byte of [`OobState::encode`]: 2 since the last used code is kept.
pub const ENCODING_VERSION: u8 = 2;
/// The first encoding of the record (no last used code, up to twelve send times), still
/// read.
pub const ENCODING_VERSION_1: u8 = 1;
/// Longest encoding: version, flags, digits, salt, MAC, two times, the last used code's
/// salt and MAC, count, the sends.
pub const MAX_ENCODED_LEN: usize =
    3 + SALT_LEN + MAC_LEN + 16 + SALT_LEN + MAC_LEN + 1 + 8 * HISTORY_LEN;
/// Longest version 1 encoding.
const V1_MAX_ENCODED_LEN: usize = 3 + SALT_LEN + MAC_LEN + 16 + 1 + 8 * V1_HISTORY_LEN;

const FLAG_PENDING: u8 = 1;
const FLAG_USED: u8 = 2;
/// Version 2: the last used code's salt and MAC follow the pending code.
const FLAG_LAST_USED: u8 = 4;

/// How often codes may be sent to one user (counted across sessions and hosts by the store).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendLimits {
    /// Seconds between two sends, at least.
    pub min_interval_secs: u64,
    /// Sends in any 3600 seconds, at most (1..=[`HISTORY_LEN`]).
    pub max_per_hour: u8,
}

impl Default for SendLimits {
    /// One send per 30 s, five per hour.
    fn default() -> SendLimits {
        SendLimits {
            min_interval_secs: 30,
            max_per_hour: 5,
        }
    }
}

impl SendLimits {
    /// Limits within bounds: an interval of at most an hour, 1–[`HISTORY_LEN`] per hour.
    pub fn new(min_interval_secs: u64, max_per_hour: u8) -> Option<SendLimits> {
        let ok = min_interval_secs <= HOUR_SECS
            && max_per_hour >= 1
            && usize::from(max_per_hour) <= HISTORY_LEN;
        ok.then_some(SendLimits {
            min_interval_secs,
            max_per_hour,
        })
    }
}

/// The code last sent, as the state keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingCode {
    /// Salt and keyed hash of the code.
    pub hash: CodeHash,
    /// How many digits it has (6–8).
    pub digits: u8,
    /// When it was made.
    pub issued_at: u64,
    /// From this second on it is refused.
    pub expires_at: u64,
    /// It was accepted once: it never is again.
    pub used: bool,
}

/// A record that cannot be: digits, or a life, out of bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleError;

impl std::fmt::Display for RuleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("out-of-band code settings out of bounds")
    }
}

impl PendingCode {
    /// A fresh, unused code issued at `now` that lives `ttl_secs`
    /// ([`MIN_TTL_SECS`]–[`MAX_TTL_SECS`]).
    pub fn new(
        hash: CodeHash,
        digits: u8,
        now: u64,
        ttl_secs: u64,
    ) -> Result<PendingCode, RuleError> {
        if !(MIN_DIGITS..=MAX_DIGITS).contains(&digits)
            || !(MIN_TTL_SECS..=MAX_TTL_SECS).contains(&ttl_secs)
        {
            return Err(RuleError);
        }
        Ok(PendingCode {
            hash,
            digits,
            issued_at: now,
            expires_at: now.checked_add(ttl_secs).ok_or(RuleError)?,
            used: false,
        })
    }

    /// Whether `now` is within the code's life (allowing [`CLOCK_SLACK_SECS`] before it).
    pub fn live_at(&self, now: u64) -> bool {
        now < self.expires_at && now.saturating_add(CLOCK_SLACK_SECS) >= self.issued_at
    }
}

/// The answer to "may a code be sent now?".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendDecision {
    /// Yes.
    Now,
    /// Not before this time (Unix seconds).
    NotBefore(u64),
}

/// What a typed code is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeCheck {
    /// The pending code, in time, first use: the login may go on (the code is now used).
    Accepted,
    /// Not the pending code (nor the last used one: a superseded code never used is this).
    Wrong,
    /// The pending code, but too late (or, with the clock set far back, too early).
    Expired,
    /// The pending code, already accepted once; or the code accepted last, superseded since.
    Replay,
    /// No code was sent.
    NoCode,
}

/// The pending code and the send history of one user.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OobState {
    pending: Option<PendingCode>,
    /// The hash of the last code accepted, once a newer code superseded it.
    last_used: Option<CodeHash>,
    /// Send times, newest first, at most [`HISTORY_LEN`].
    sends: Vec<u64>,
}

impl OobState {
    /// No code, no send.
    pub fn new() -> OobState {
        OobState::default()
    }

    /// The code last sent, if any.
    pub fn pending(&self) -> Option<&PendingCode> {
        self.pending.as_ref()
    }

    /// The salted hash of the last used code, kept once a newer code superseded it.
    pub fn last_used(&self) -> Option<&CodeHash> {
        self.last_used.as_ref()
    }

    /// The times of the last sends, newest first.
    pub fn sends(&self) -> &[u64] {
        &self.sends
    }

    /// Sends within the hour before `now` (what `pam-otp status` shows).
    pub fn sends_in_last_hour(&self, now: u64) -> usize {
        self.sends
            .iter()
            .filter(|&&t| t.saturating_add(HOUR_SECS) > now)
            .count()
    }

    /// Whether a code may be sent at `now` under `limits`, and if not, from when.
    pub fn may_send(&self, limits: &SendLimits, now: u64) -> SendDecision {
        let mut not_before = 0u64;
        if let Some(&last) = self.sends.first() {
            not_before = not_before.max(last.saturating_add(limits.min_interval_secs));
        }
        // The sends still inside the window, newest first (times are kept sorted).
        let recent: Vec<u64> = self
            .sends
            .iter()
            .copied()
            .filter(|&t| t.saturating_add(HOUR_SECS) > now)
            .collect();
        let max = usize::from(limits.max_per_hour);
        if recent.len() >= max {
            // The send that must leave the window first: the max-th newest.
            if let Some(&t) = recent.get(max - 1) {
                not_before = not_before.max(t.saturating_add(HOUR_SECS));
            }
        }
        if now >= not_before {
            SendDecision::Now
        } else {
            SendDecision::NotBefore(not_before)
        }
    }

    /// Records a send of `code` at `now` if [`OobState::may_send`] allows it: `code` replaces
    /// the pending code (the previous one can no longer be accepted; if it was used, it is
    /// kept as the last used code, to be told apart as a replay) and the send is counted.
    pub fn issue(&mut self, limits: &SendLimits, code: PendingCode, now: u64) -> SendDecision {
        let decision = self.may_send(limits, now);
        if decision == SendDecision::Now {
            if let Some(previous) = self.pending.replace(code) {
                if previous.used {
                    self.last_used = Some(previous.hash);
                }
            }
            // Newest first; a clock set back still keeps the list sorted.
            let at = self.sends.partition_point(|&t| t > now);
            self.sends.insert(at, now);
            self.sends.truncate(HISTORY_LEN);
        }
        decision
    }

    /// Checks a typed code at `now`; an accepted code is marked used. `typed` is compared in
    /// constant time with the pending code and with the last used one (both MACs are always
    /// computed); the pending code wins when both match. A code of the pending code's wrong
    /// length is [`CodeCheck::Wrong`] unless it is the last used code.
    pub fn check(&mut self, typed: &[u8], now: u64) -> CodeCheck {
        let Some(pending) = self.pending.as_mut() else {
            return CodeCheck::NoCode;
        };
        let is_pending = pending.hash.matches(typed) && typed.len() == usize::from(pending.digits);
        let was_used = self
            .last_used
            .as_ref()
            .is_some_and(|used| used.matches(typed));
        if !is_pending {
            return if was_used {
                CodeCheck::Replay
            } else {
                CodeCheck::Wrong
            };
        }
        if pending.used {
            return CodeCheck::Replay;
        }
        if !pending.live_at(now) {
            return CodeCheck::Expired;
        }
        pending.used = true;
        CodeCheck::Accepted
    }

    /// Makes `issued` unacceptable from now on (as if used), if it is still the pending
    /// code: for a send the provider made with a code of its own, where ours was never shown
    /// to anyone. A newer code (another login's, sent since) is left alone.
    pub fn retire(&mut self, issued: &PendingCode) {
        if let Some(pending) = self.pending.as_mut() {
            if pending.hash == issued.hash && pending.issued_at == issued.issued_at {
                pending.used = true;
            }
        }
    }

    /// The bytes of this record (at most [`MAX_ENCODED_LEN`]):
    /// `version=2 | flags | [digits | salt(16) | mac(32) | issued_at | expires_at] |
    /// [last used salt(16) | mac(32)] | count | count × send time`, times as big-endian u64;
    /// flags bit 0 = a pending code follows, bit 1 = it was used, bit 2 = the last used
    /// code follows (only with a pending code: it is kept when one supersedes it).
    /// Version 1 was the same without bit 2 and its field, with up to 12 send times.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(MAX_ENCODED_LEN);
        out.push(ENCODING_VERSION);
        match &self.pending {
            Some(p) => {
                let last = if self.last_used.is_some() {
                    FLAG_LAST_USED
                } else {
                    0
                };
                out.push(FLAG_PENDING | if p.used { FLAG_USED } else { 0 } | last);
                out.push(p.digits);
                out.extend_from_slice(&p.hash.salt);
                out.extend_from_slice(&p.hash.mac);
                out.extend_from_slice(&p.issued_at.to_be_bytes());
                out.extend_from_slice(&p.expires_at.to_be_bytes());
                if let Some(used) = &self.last_used {
                    out.extend_from_slice(&used.salt);
                    out.extend_from_slice(&used.mac);
                }
            }
            None => out.push(0),
        }
        // At most HISTORY_LEN (6) entries, so the count fits a byte.
        out.push(self.sends.len().min(HISTORY_LEN) as u8);
        for t in self.sends.iter().take(HISTORY_LEN) {
            out.extend_from_slice(&t.to_be_bytes());
        }
        out
    }

    /// Reads [`OobState::encode`]'s bytes back, strictly: the whole input, a known version,
    /// no unknown flag, digits 6–8, a life of at most [`MAX_TTL_SECS`], at most
    /// [`HISTORY_LEN`] send times, newest first. A version 1 record (no last used code, up to
    /// [`V1_HISTORY_LEN`] send times) is read too, keeping its newest [`HISTORY_LEN`] sends:
    /// the limits look at no older one, since `max_per_hour` is at most [`HISTORY_LEN`].
    pub fn decode(bytes: &[u8]) -> Result<OobState, DecodeError> {
        let mut r = Reader(bytes);
        let version = r.byte()?;
        let (known_flags, max_len, max_sends) = match version {
            ENCODING_VERSION => (
                FLAG_PENDING | FLAG_USED | FLAG_LAST_USED,
                MAX_ENCODED_LEN,
                HISTORY_LEN,
            ),
            ENCODING_VERSION_1 => (FLAG_PENDING | FLAG_USED, V1_MAX_ENCODED_LEN, V1_HISTORY_LEN),
            _ => return Err(DecodeError),
        };
        if bytes.len() > max_len {
            return Err(DecodeError);
        }
        let flags = r.byte()?;
        if flags & !known_flags != 0 || (flags != 0 && flags & FLAG_PENDING == 0) {
            return Err(DecodeError);
        }
        let pending = if flags & FLAG_PENDING != 0 {
            let digits = r.byte()?;
            let salt: [u8; SALT_LEN] = r.array()?;
            let mac: [u8; MAC_LEN] = r.array()?;
            let issued_at = u64::from_be_bytes(r.array()?);
            let expires_at = u64::from_be_bytes(r.array()?);
            let life = expires_at.checked_sub(issued_at).ok_or(DecodeError)?;
            if !(MIN_DIGITS..=MAX_DIGITS).contains(&digits) || life == 0 || life > MAX_TTL_SECS {
                return Err(DecodeError);
            }
            Some(PendingCode {
                hash: CodeHash { salt, mac },
                digits,
                issued_at,
                expires_at,
                used: flags & FLAG_USED != 0,
            })
        } else {
            None
        };
        let last_used = if flags & FLAG_LAST_USED != 0 {
            Some(CodeHash {
                salt: r.array()?,
                mac: r.array()?,
            })
        } else {
            None
        };
        let count = usize::from(r.byte()?);
        if count > max_sends {
            return Err(DecodeError);
        }
        let mut sends = Vec::with_capacity(count);
        for _ in 0..count {
            let t = u64::from_be_bytes(r.array()?);
            if sends.last().is_some_and(|&newer| t > newer) {
                return Err(DecodeError);
            }
            sends.push(t);
        }
        if !r.0.is_empty() {
            return Err(DecodeError);
        }
        sends.truncate(HISTORY_LEN);
        Ok(OobState {
            pending,
            last_used,
            sends,
        })
    }
}

/// Bytes that are not an [`OobState`] encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeError;

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("malformed out-of-band code record")
    }
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn byte(&mut self) -> Result<u8, DecodeError> {
        let (&b, rest) = self.0.split_first().ok_or(DecodeError)?;
        self.0 = rest;
        Ok(b)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let (head, rest) = self.0.split_first_chunk::<N>().ok_or(DecodeError)?;
        self.0 = rest;
        Ok(*head)
    }
}

#[cfg(test)]
mod tests;
