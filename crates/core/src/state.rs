//! Per-user state (replay, HOTP counter, throttling, spent recovery codes) and its byte
//! encoding. Pure; [`crate::store`] decides where and how the bytes are kept.
//!
//! Replay history is kept per secret, so that replacing a secret and later putting the old
//! one back (`pam-otp reset` or `enroll --force`, then restoring the backup) reopens none of
//! the old secret's codes. The state holds the full history of the [`MAX_SECRETS`] secrets
//! most recently used, the identity of [`MAX_FORGOTTEN`] more, and the time of the newest
//! TOTP code accepted for any of them. A secret whose history was dropped is treated as
//! fully used (see [`State::history_of`]): nothing is ever reopened, at worst something is
//! refused.

/// How many spent recovery codes are remembered for one secret. The file lists at most 32;
/// the margin leaves room for codes spent before a `pam-otp recovery --regenerate`.
pub const MAX_SPENT: usize = 64;
/// How many secrets' full history is kept (the current one included).
pub const MAX_SECRETS: usize = 6;
/// How many older secrets are remembered by identity once their history is dropped.
pub const MAX_FORGOTTEN: usize = 64;

/// The encoding written today.
pub const VERSION: u8 = 4;
/// The encoding of pam_otp 0.3 (no delivery counters, no out-of-band code), still read.
const VERSION_3: u8 = 3;
use crate::oob::rules::OobState;

/// The encoding of pam_otp 0.2 (no failure source, no counters), still read.
const VERSION_2: u8 = 2;
/// The encoding of pam_otp 0.1 (one secret's history), still read.
const VERSION_1: u8 = 1;
const V1_MAX_SPENT: usize = 32;
const V1_FLAG_LAST_STEP: u8 = 1;
const V1_FLAG_HOTP_NEXT: u8 = 2;

const FLAG_FORGOT_MORE: u8 = 1;
const ENTRY_LAST_STEP: u8 = 1;
const ENTRY_HOTP_NEXT: u8 = 2;
const ENTRY_HOTP_UNKNOWN: u8 = 4;

const FIXED_LEN: usize = 1 + 1 + 4 + 4 + 8 + 8 + 8;
const ENTRY_MAX_LEN: usize = 8 + 1 + 8 + 8 + 1 + 8 * MAX_SPENT;
/// Longest remote host kept as the source of the last failure, in bytes (longer names are
/// cut: the field is for an administrator's eyes, never for a decision). 64 since version
/// 4 (room for the out-of-band code record in the file store's slot; a full IPv6 address
/// is 45 characters); version 3 files may hold up to [`V3_MAX_HOST_LEN`].
pub const MAX_HOST_LEN: usize = 64;
/// Longest host a version 3 file may hold (cut to [`MAX_HOST_LEN`] when read).
pub const V3_MAX_HOST_LEN: usize = 128;
/// Version 3's tail: last failure time, host length and bytes, the counters.
const TAIL_MAX_LEN: usize = 8 + 1 + MAX_HOST_LEN + 4 * Counters::COUNT;
/// Largest encoded state, in bytes.
pub const MAX_ENCODED_LEN: usize = FIXED_LEN
    + 1
    + MAX_SECRETS * ENTRY_MAX_LEN
    + 1
    + 8 * MAX_FORGOTTEN
    + TAIL_MAX_LEN
    + oob_tail::TAIL_V4_MAX_LEN;

/// How many attempts of one user ended each way, since the state was created. Each count
/// saturates at `u32::MAX` (it never wraps to look like a reset). `pam-otp metrics` adds
/// them up over all users; they cost no write of their own, since they change only when
/// the state is saved anyway.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Accepted (`ok`).
    pub ok: u32,
    /// Wrong codes (`bad_code`).
    pub bad_code: u32,
    /// Used codes (`replay`).
    pub replay: u32,
    /// Refused while locked out (`locked`).
    pub locked: u32,
    /// Refused for a state the administrator must fix (`state_error`: HOTP counter unknown).
    pub state_error: u32,
    /// Lock-outs started.
    pub lockouts: u32,
}

impl Counters {
    const COUNT: usize = 6;

    fn as_array(&self) -> [u32; Counters::COUNT] {
        [
            self.ok,
            self.bad_code,
            self.replay,
            self.locked,
            self.state_error,
            self.lockouts,
        ]
    }

    fn from_array(a: [u32; Counters::COUNT]) -> Counters {
        let [ok, bad_code, replay, locked, state_error, lockouts] = a;
        Counters {
            ok,
            bad_code,
            replay,
            locked,
            state_error,
            lockouts,
        }
    }
}

/// The replay history of one secret.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct History {
    /// Which secret ([`crate::verify::secret_id`]).
    pub secret_id: [u8; 8],
    /// The last TOTP time step accepted; only later steps are accepted again.
    pub last_step: Option<u64>,
    /// The next HOTP counter value the token may present.
    pub hotp_next: Option<u64>,
    /// The HOTP counter is not known (the state was repaired, or this secret's history was
    /// dropped): HOTP codes are refused until root resynchronises it with `pam-otp repair`.
    pub hotp_unknown: bool,
    /// Fingerprints of recovery codes already used.
    pub spent: Vec<[u8; 8]>,
}

impl History {
    /// A secret never seen before.
    pub fn fresh(secret_id: [u8; 8]) -> History {
        History {
            secret_id,
            ..History::default()
        }
    }

    /// Nothing recorded: dropping it loses nothing.
    pub fn is_empty(&self) -> bool {
        self.last_step.is_none()
            && self.hotp_next.is_none()
            && !self.hotp_unknown
            && self.spent.is_empty()
    }
}

/// What the state knows about a secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Known {
    /// Its history is kept.
    Kept,
    /// Its history was dropped (or may have been): treat it as fully used.
    Forgotten,
    /// Never seen: nothing of it was ever used.
    New,
}

/// What the module remembers about one user between logins.
///
/// The first five fields are the history of the current secret (the one that logged in
/// last, or that `pam-otp enroll` registered); `past` holds the others.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct State {
    /// Identifies the current secret.
    pub secret_id: [u8; 8],
    /// The last TOTP time step accepted for the current secret.
    pub last_step: Option<u64>,
    /// The next HOTP counter value the current secret's token may present.
    pub hotp_next: Option<u64>,
    /// The current secret's HOTP counter is unknown (see [`History::hotp_unknown`]).
    pub hotp_unknown: bool,
    /// Fingerprints of the current secret's recovery codes already used.
    pub spent: Vec<[u8; 8]>,
    /// Consecutive failed attempts since the last success or lock-out.
    pub failures: u32,
    /// Lock-outs since the last success; each one doubles the next.
    pub lockouts: u32,
    /// Unix time until which every attempt is refused (0: not locked).
    pub locked_until: u64,
    /// Unix time of the last attempt the module decided (0: none yet).
    pub last_attempt: u64,
    /// The end of the newest TOTP step ever accepted, for any secret (or the time of the
    /// last repair). A forgotten secret's TOTP codes are accepted only for steps that start
    /// at or after it: time only moves forward, so none of its used codes can qualify.
    pub totp_floor: u64,
    /// Earlier secrets' histories, most recently used first (at most `MAX_SECRETS - 1`).
    pub past: Vec<History>,
    /// Secrets whose history was dropped to make room, most recent first.
    pub forgotten: Vec<[u8; 8]>,
    /// More secrets were dropped than `forgotten` holds: any secret not kept is treated as
    /// forgotten, never as new.
    pub forgot_more: bool,
    /// Unix time of the last refused attempt (0: none recorded).
    pub last_failure: u64,
    /// The remote host (PAM_RHOST) of that attempt, as the application gave it, at most
    /// [`MAX_HOST_LEN`] bytes; empty when there was none. Untrusted: escape it to show it.
    pub last_failure_host: Vec<u8>,
    /// Outcomes of this user's attempts (see [`Counters`]).
    pub counters: Counters,
    /// Codes sent out of band: the pending one, the send history and the delivery counters
    /// (version 4). Boxed: most users never have one, and the state stays small to move.
    pub oob: Box<OutOfBand>,
}

/// What the state keeps about codes sent out of band.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutOfBand {
    /// The code last sent and the send history; `None` until a first code is sent.
    pub record: Option<OobState>,
    /// Codes handed to the delivery helper, by channel and result (summed by
    /// `pam-otp metrics` beside [`Counters`]).
    pub deliveries: DeliveryCounts,
}

/// The bytes could not be a state written by this module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CorruptState;

impl State {
    /// The current secret's history.
    pub fn current(&self) -> History {
        History {
            secret_id: self.secret_id,
            last_step: self.last_step,
            hotp_next: self.hotp_next,
            hotp_unknown: self.hotp_unknown,
            spent: self.spent.clone(),
        }
    }

    fn set_current(&mut self, h: History) {
        self.secret_id = h.secret_id;
        self.last_step = h.last_step;
        self.hotp_next = h.hotp_next;
        self.hotp_unknown = h.hotp_unknown;
        self.spent = h.spent;
    }

    /// Whether the current secret has anything recorded (see [`History::is_empty`]).
    fn current_is_empty(&self) -> bool {
        self.current().is_empty()
    }

    /// Records that a TOTP code for `step` (of a `period`-second secret) was accepted: from
    /// then on, a secret whose own history is lost accepts no code of that step or before.
    pub fn raise_totp_floor(&mut self, step: u64, period: u64) {
        let end = step.saturating_add(1).saturating_mul(period);
        self.totp_floor = self.totp_floor.max(end);
    }

    /// What is known about the secret `id`.
    pub fn known(&self, id: [u8; 8]) -> Known {
        let current = self.secret_id == id && !self.current_is_empty();
        if current || self.past.iter().any(|h| h.secret_id == id) {
            Known::Kept
        } else if self.forgot_more || self.forgotten.contains(&id) {
            Known::Forgotten
        } else {
            Known::New
        }
    }

    /// The history to judge the secret `id` by. A forgotten secret gets the most cautious
    /// one: every recovery code it lists (`listed`) counts as spent and its HOTP counter is
    /// unknown; its TOTP codes are held back by [`State::totp_floor`].
    pub fn history_of(&self, id: [u8; 8], listed: &[[u8; 8]]) -> History {
        if self.secret_id == id && !self.current_is_empty() {
            return self.current();
        }
        if let Some(h) = self.past.iter().find(|h| h.secret_id == id) {
            return h.clone();
        }
        match self.known(id) {
            Known::Forgotten => History {
                secret_id: id,
                last_step: None,
                hotp_next: None,
                hotp_unknown: true,
                spent: listed.iter().take(MAX_SPENT).copied().collect(),
            },
            _ => History::fresh(id),
        }
    }

    /// Makes `h` the current secret's history. The one it replaces moves to `past`; beyond
    /// [`MAX_SECRETS`] the oldest history is dropped and its secret listed as forgotten.
    pub fn remember(&mut self, h: History) {
        self.remember_keeping(h, &[]);
    }

    /// [`State::remember`], but the histories of the secrets in `keep` (the tokens of the
    /// user's file) are dropped only once no other is left to drop: with at most
    /// [`MAX_SECRETS`] tokens, none of them loses its history to make room for another.
    pub fn remember_keeping(&mut self, h: History, keep: &[[u8; 8]]) {
        let id = h.secret_id;
        let previous = self.current();
        self.past.retain(|p| p.secret_id != id);
        self.forgotten.retain(|f| *f != id);
        if previous.secret_id != id && !previous.is_empty() {
            self.past.insert(0, previous);
        }
        self.set_current(h);
        while self.past.len() > MAX_SECRETS - 1 {
            // The least recently used history not in `keep`, else the least recently used.
            let index = self
                .past
                .iter()
                .rposition(|p| !keep.contains(&p.secret_id))
                .unwrap_or(self.past.len() - 1);
            let old = self.past.remove(index);
            self.forget(old.secret_id);
        }
    }

    fn forget(&mut self, id: [u8; 8]) {
        if self.forgot_more {
            return;
        }
        if self.forgotten.len() >= MAX_FORGOTTEN {
            // Every secret not kept now counts as forgotten: the list says nothing more.
            self.forgotten.clear();
            self.forgot_more = true;
            return;
        }
        self.forgotten.insert(0, id);
    }

    /// Little-endian layout (version 3): version, flags, failures, lock-outs, locked-until,
    /// last attempt, TOTP floor; the number of histories (the current one first), each as secret id,
    /// flags, last step, HOTP next, spent count and spent fingerprints; the number of
    /// forgotten secret ids and the ids; then the time of the last failure, its host
    /// (length byte, bytes) and the six [`Counters`]; then (version 4) the delivery counters
    /// and the out-of-band record (`oob_tail`). Version 3 is the same without the last part,
    /// version 2 without the last two.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(MAX_ENCODED_LEN);
        out.push(VERSION);
        out.push(if self.forgot_more {
            FLAG_FORGOT_MORE
        } else {
            0
        });
        out.extend_from_slice(&self.failures.to_le_bytes());
        out.extend_from_slice(&self.lockouts.to_le_bytes());
        out.extend_from_slice(&self.locked_until.to_le_bytes());
        out.extend_from_slice(&self.last_attempt.to_le_bytes());
        out.extend_from_slice(&self.totp_floor.to_le_bytes());
        let past = &self.past[..self.past.len().min(MAX_SECRETS - 1)];
        out.push((1 + past.len()) as u8);
        encode_history(&mut out, &self.current());
        for h in past {
            encode_history(&mut out, h);
        }
        let forgotten = &self.forgotten[..self.forgotten.len().min(MAX_FORGOTTEN)];
        out.push(forgotten.len() as u8);
        for id in forgotten {
            out.extend_from_slice(id);
        }
        out.extend_from_slice(&self.last_failure.to_le_bytes());
        let host = &self.last_failure_host[..self.last_failure_host.len().min(MAX_HOST_LEN)];
        out.push(host.len() as u8);
        out.extend_from_slice(host);
        for count in self.counters.as_array() {
            out.extend_from_slice(&count.to_le_bytes());
        }
        oob_tail::encode(&mut out, self);
        out
    }

    /// Strict inverse of [`State::encode`] (and of versions 1 to 3's encoders): any other
    /// byte string is corrupt.
    pub fn decode(bytes: &[u8]) -> Result<State, CorruptState> {
        let mut r = Reader(bytes);
        let state = match r.take::<1>()? {
            [VERSION] => {
                let mut state = decode_v2(&mut r)?;
                decode_v3_tail(&mut r, &mut state, MAX_HOST_LEN)?;
                oob_tail::decode(&mut r, &mut state)?;
                state
            }
            [VERSION_3] => {
                let mut state = decode_v2(&mut r)?;
                decode_v3_tail(&mut r, &mut state, V3_MAX_HOST_LEN)?;
                state
            }
            [VERSION_2] => decode_v2(&mut r)?,
            [VERSION_1] => decode_v1(&mut r)?,
            _ => return Err(CorruptState),
        };
        if !r.0.is_empty() {
            return Err(CorruptState);
        }
        Ok(state)
    }

    /// Whether attempts are refused at `now`.
    pub fn is_locked(&self, now: u64) -> bool {
        now < self.locked_until
    }
}

fn encode_history(out: &mut Vec<u8>, h: &History) {
    let flags = if h.last_step.is_some() {
        ENTRY_LAST_STEP
    } else {
        0
    } | if h.hotp_next.is_some() {
        ENTRY_HOTP_NEXT
    } else {
        0
    } | if h.hotp_unknown {
        ENTRY_HOTP_UNKNOWN
    } else {
        0
    };
    out.extend_from_slice(&h.secret_id);
    out.push(flags);
    out.extend_from_slice(&h.last_step.unwrap_or(0).to_le_bytes());
    out.extend_from_slice(&h.hotp_next.unwrap_or(0).to_le_bytes());
    let spent = &h.spent[..h.spent.len().min(MAX_SPENT)];
    out.push(spent.len() as u8);
    for id in spent {
        out.extend_from_slice(id);
    }
}

fn decode_history(r: &mut Reader<'_>) -> Result<History, CorruptState> {
    let secret_id = r.take::<8>()?;
    let [flags] = r.take::<1>()?;
    if flags & !(ENTRY_LAST_STEP | ENTRY_HOTP_NEXT | ENTRY_HOTP_UNKNOWN) != 0 {
        return Err(CorruptState);
    }
    let last_step = u64::from_le_bytes(r.take()?);
    let hotp_next = u64::from_le_bytes(r.take()?);
    // A value under an unset flag must be zero: one state, one encoding.
    if (flags & ENTRY_LAST_STEP == 0 && last_step != 0)
        || (flags & ENTRY_HOTP_NEXT == 0 && hotp_next != 0)
    {
        return Err(CorruptState);
    }
    let spent = r.list(MAX_SPENT)?;
    Ok(History {
        secret_id,
        last_step: (flags & ENTRY_LAST_STEP != 0).then_some(last_step),
        hotp_next: (flags & ENTRY_HOTP_NEXT != 0).then_some(hotp_next),
        hotp_unknown: flags & ENTRY_HOTP_UNKNOWN != 0,
        spent,
    })
}

fn decode_v2(r: &mut Reader<'_>) -> Result<State, CorruptState> {
    let [flags] = r.take::<1>()?;
    if flags & !FLAG_FORGOT_MORE != 0 {
        return Err(CorruptState);
    }
    let failures = u32::from_le_bytes(r.take()?);
    let lockouts = u32::from_le_bytes(r.take()?);
    let locked_until = u64::from_le_bytes(r.take()?);
    let last_attempt = u64::from_le_bytes(r.take()?);
    let totp_floor = u64::from_le_bytes(r.take()?);
    let [count] = r.take::<1>()?;
    if count == 0 || usize::from(count) > MAX_SECRETS {
        return Err(CorruptState);
    }
    let current = decode_history(r)?;
    let past = (1..count)
        .map(|_| decode_history(r))
        .collect::<Result<Vec<_>, _>>()?;
    let forgotten = r.list(MAX_FORGOTTEN)?;
    let mut state = State {
        failures,
        lockouts,
        locked_until,
        last_attempt,
        totp_floor,
        past,
        forgotten,
        forgot_more: flags & FLAG_FORGOT_MORE != 0,
        ..State::default()
    };
    state.set_current(current);
    Ok(state)
}

/// What version 3 adds after version 2's fields.
fn decode_v3_tail(
    r: &mut Reader<'_>,
    state: &mut State,
    max_host: usize,
) -> Result<(), CorruptState> {
    state.last_failure = u64::from_le_bytes(r.take()?);
    let [len] = r.take::<1>()?;
    let len = usize::from(len);
    if len > max_host {
        return Err(CorruptState);
    }
    let (host, rest) = r.0.split_at_checked(len).ok_or(CorruptState)?;
    // A version 3 host may be longer than today's bound: cut on reading, so that every
    // decoded state is one the current encoding holds as it is.
    state.last_failure_host = host[..len.min(MAX_HOST_LEN)].to_vec();
    r.0 = rest;
    let mut counts = [0u32; Counters::COUNT];
    for count in &mut counts {
        *count = u32::from_le_bytes(r.take()?);
    }
    state.counters = Counters::from_array(counts);
    Ok(())
}

/// Version 1: version, flags, secret id, last step, HOTP next, failures, lock-outs,
/// locked-until, spent count, spent fingerprints (the version byte already read).
fn decode_v1(r: &mut Reader<'_>) -> Result<State, CorruptState> {
    let [flags] = r.take::<1>()?;
    if flags & !(V1_FLAG_LAST_STEP | V1_FLAG_HOTP_NEXT) != 0 {
        return Err(CorruptState);
    }
    let secret_id = r.take::<8>()?;
    let last_step = u64::from_le_bytes(r.take()?);
    let hotp_next = u64::from_le_bytes(r.take()?);
    let failures = u32::from_le_bytes(r.take()?);
    let lockouts = u32::from_le_bytes(r.take()?);
    let locked_until = u64::from_le_bytes(r.take()?);
    if (flags & V1_FLAG_LAST_STEP == 0 && last_step != 0)
        || (flags & V1_FLAG_HOTP_NEXT == 0 && hotp_next != 0)
    {
        return Err(CorruptState);
    }
    let spent = r.list(V1_MAX_SPENT)?;
    Ok(State {
        secret_id,
        last_step: (flags & V1_FLAG_LAST_STEP != 0).then_some(last_step),
        hotp_next: (flags & V1_FLAG_HOTP_NEXT != 0).then_some(hotp_next),
        failures,
        lockouts,
        locked_until,
        spent,
        ..State::default()
    })
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], CorruptState> {
        let (head, rest) = self.0.split_at_checked(N).ok_or(CorruptState)?;
        self.0 = rest;
        head.try_into().map_err(|_| CorruptState)
    }

    /// A count byte (at most `max`), then that many 8-byte ids.
    fn list(&mut self, max: usize) -> Result<Vec<[u8; 8]>, CorruptState> {
        let [count] = self.take::<1>()?;
        if usize::from(count) > max {
            return Err(CorruptState);
        }
        (0..count).map(|_| self.take::<8>()).collect()
    }
}

mod merge;
mod oob_tail;
pub use oob_tail::{ChannelCounts, DeliveryCounts};

#[cfg(test)]
mod tests {
    use super::*;

    /// Version 1's encoder, as pam_otp 0.1 wrote it, for the compatibility tests.
    fn encode_v1(s: &State) -> Vec<u8> {
        let mut out = vec![VERSION_1];
        let flags = u8::from(s.last_step.is_some()) | (u8::from(s.hotp_next.is_some()) << 1);
        out.push(flags);
        out.extend_from_slice(&s.secret_id);
        out.extend_from_slice(&s.last_step.unwrap_or(0).to_le_bytes());
        out.extend_from_slice(&s.hotp_next.unwrap_or(0).to_le_bytes());
        out.extend_from_slice(&s.failures.to_le_bytes());
        out.extend_from_slice(&s.lockouts.to_le_bytes());
        out.extend_from_slice(&s.locked_until.to_le_bytes());
        out.push(s.spent.len() as u8);
        for id in &s.spent {
            out.extend_from_slice(id);
        }
        out
    }

    fn history(n: u8, spent: usize) -> History {
        History {
            secret_id: [n; 8],
            last_step: Some(u64::from(n) * 1000),
            hotp_next: Some(u64::MAX - u64::from(n)),
            hotp_unknown: n.is_multiple_of(2),
            spent: vec![[n; 8]; spent],
        }
    }

    fn full() -> State {
        let mut s = State {
            failures: 3,
            lockouts: 2,
            locked_until: 1_900_000_000,
            last_attempt: 1_800_000_000,
            totp_floor: u64::MAX,
            past: (1..MAX_SECRETS as u8)
                .map(|n| history(n, MAX_SPENT))
                .collect(),
            forgotten: vec![[0xee; 8]; MAX_FORGOTTEN],
            forgot_more: true,
            last_failure: 1_800_000_001,
            last_failure_host: vec![b'h'; MAX_HOST_LEN],
            counters: Counters {
                ok: u32::MAX,
                bad_code: 1,
                replay: 2,
                locked: 3,
                state_error: 4,
                lockouts: 5,
            },
            oob: Box::new(OutOfBand {
                record: Some(full_oob()),
                deliveries: DeliveryCounts {
                    email: ChannelCounts { ok: 6, failed: 7 },
                    webhook: ChannelCounts {
                        ok: u32::MAX,
                        failed: 8,
                    },
                    ntfy: ChannelCounts { ok: 9, failed: 10 },
                },
            }),
            ..State::default()
        };
        s.set_current(history(9, MAX_SPENT));
        s
    }

    /// An out-of-band record of the largest size: a pending code, the last used code and a
    /// full send history.
    fn full_oob() -> OobState {
        use crate::oob::code::CodeHash;
        use crate::oob::rules::{CodeCheck, PendingCode, SendLimits, HISTORY_LEN};
        let limits = SendLimits::new(0, HISTORY_LEN as u8).unwrap();
        let mut oob = OobState::new();
        for i in 0..HISTORY_LEN as u64 + 3 {
            let t = 1_800_000_000 + i * 4000;
            let hash = CodeHash::with_salt([i as u8; 16], b"12345678").unwrap();
            let code = PendingCode::new(hash, 8, t, 120).unwrap();
            oob.issue(&limits, code, t);
            assert_eq!(oob.check(b"12345678", t), CodeCheck::Accepted);
        }
        assert!(oob.last_used().is_some());
        assert_eq!(oob.encode().len(), crate::oob::rules::MAX_ENCODED_LEN);
        oob
    }

    /// The length of `s`'s version 4 tail (delivery counters, record length, record).
    fn v4_tail_len(s: &State) -> usize {
        4 * 6 + 1 + s.oob.record.as_ref().map_or(0, |o| o.encode().len())
    }

    /// Version 3's encoder, as pam_otp 0.3 wrote it: version 4 without its tail.
    fn encode_v3(s: &State) -> Vec<u8> {
        let mut bytes = s.encode();
        bytes.truncate(bytes.len() - v4_tail_len(s));
        bytes[0] = VERSION_3;
        bytes
    }

    /// Version 2's encoder, as pam_otp 0.2 wrote it: version 3 without the tail.
    fn encode_v2(s: &State) -> Vec<u8> {
        let mut bytes = encode_v3(s);
        bytes.truncate(bytes.len() - 8 - 1 - s.last_failure_host.len() - 4 * Counters::COUNT);
        bytes[0] = VERSION_2;
        bytes
    }

    /// What a version 3 file of `s` decodes to: no delivery counters, no record.
    fn without_v4_tail(s: &State) -> State {
        State {
            oob: Box::default(),
            ..s.clone()
        }
    }

    /// What a version 2 file of `s` decodes to: no failure source, no counters.
    fn without_tail(s: &State) -> State {
        State {
            last_failure: 0,
            last_failure_host: Vec::new(),
            counters: Counters::default(),
            oob: Box::default(),
            ..s.clone()
        }
    }

    #[test]
    fn version_3_files_still_decode() {
        let old = without_v4_tail(&full());
        let bytes = encode_v3(&old);
        assert_eq!(
            bytes.len(),
            MAX_ENCODED_LEN - oob_tail::TAIL_V4_MAX_LEN,
            "a full version 3 state"
        );
        assert_eq!(State::decode(&bytes), Ok(old.clone()));
        // Written back as version 4 and read again: the same state.
        assert_eq!(State::decode(&old.encode()), Ok(old));
        // A version 3 host may be up to 128 bytes; it is read cut to 64, as saved again.
        let long_host = State {
            last_failure_host: vec![b'h'; MAX_HOST_LEN],
            ..State::default()
        };
        let mut v3 = encode_v3(&State::default());
        let counters_at = v3.len() - 4 * Counters::COUNT;
        v3[counters_at - 1] = V3_MAX_HOST_LEN as u8;
        v3.splice(counters_at..counters_at, vec![b'h'; V3_MAX_HOST_LEN]);
        let read = State::decode(&v3).unwrap();
        assert_eq!(read, long_host);
        let again = State::decode(&read.encode()).unwrap();
        assert_eq!(again.last_failure_host, vec![b'h'; MAX_HOST_LEN]);
    }

    #[test]
    fn version_4_states_with_a_version_1_code_record_still_decode() {
        // A version 1 record is a version 2 one without a last used code, but its version.
        use crate::oob::code::CodeHash;
        use crate::oob::rules::{PendingCode, SendLimits, ENCODING_VERSION_1};
        let mut oob = OobState::new();
        let hash = CodeHash::with_salt([3; 16], b"123456").unwrap();
        let code = PendingCode::new(hash, 6, 1_800_000_000, 120).unwrap();
        oob.issue(&SendLimits::default(), code, 1_800_000_000);
        let s = State {
            oob: Box::new(OutOfBand {
                record: Some(oob),
                ..OutOfBand::default()
            }),
            ..full()
        };
        let mut bytes = s.encode();
        let record_at = bytes.len() - v4_tail_len(&s) + 25;
        bytes[record_at] = ENCODING_VERSION_1;
        assert_eq!(State::decode(&bytes), Ok(s.clone()));
        // Saved again, the record is the current version.
        assert_eq!(s.encode()[record_at], crate::oob::rules::ENCODING_VERSION);
    }

    #[test]
    fn version_4_tail_is_strict() {
        let s = full();
        let bytes = s.encode();
        let len_at = bytes.len() - v4_tail_len(&s) + 24;
        // A record length past the end, one short of the record, and a record that is not one.
        for len in [255u8, bytes[len_at] - 1, 3] {
            let mut bad = bytes.clone();
            bad[len_at] = len;
            assert_eq!(State::decode(&bad), Err(CorruptState), "len {len}");
        }
        let mut bad_record = bytes.clone();
        bad_record[len_at + 1] = 9; // the record's version
        assert_eq!(State::decode(&bad_record), Err(CorruptState));
        // A host over 64 bytes is corrupt in version 4.
        let e = State::default().encode();
        let host_len_at = e.len() - 25 - 4 * Counters::COUNT - 1;
        let mut long = e.clone();
        long[host_len_at] = MAX_HOST_LEN as u8 + 1;
        long.splice(
            host_len_at + 1..host_len_at + 1,
            vec![b'h'; MAX_HOST_LEN + 1],
        );
        assert_eq!(State::decode(&long), Err(CorruptState));
    }

    #[test]
    fn version_2_files_still_decode() {
        let old = without_tail(&full());
        let bytes = encode_v2(&old);
        assert_eq!(
            bytes.len(),
            MAX_ENCODED_LEN - TAIL_MAX_LEN - oob_tail::TAIL_V4_MAX_LEN
        );
        assert_eq!(State::decode(&bytes), Ok(old.clone()));
        // A version 2 file of a full state, with the tail it could not have: dropped.
        assert_eq!(State::decode(&encode_v2(&full())), Ok(old.clone()));
        // Written back as version 3 and read again: the same state.
        assert_eq!(State::decode(&old.encode()), Ok(old));
        assert_eq!(
            State::decode(&encode_v2(&State::default())),
            Ok(State::default())
        );
    }

    #[test]
    fn version_3_tail_is_strict() {
        let s = State {
            last_failure: 5,
            last_failure_host: b"host\n".to_vec(),
            ..State::default()
        };
        let bytes = encode_v3(&s);
        assert_eq!(State::decode(&bytes), Ok(s.clone()));
        let host_len_at = bytes.len() - 4 * Counters::COUNT - s.last_failure_host.len() - 1;
        let mut too_long = bytes.clone();
        too_long[host_len_at] = V3_MAX_HOST_LEN as u8 + 1;
        assert_eq!(State::decode(&too_long), Err(CorruptState));
        // A host longer than the bound is cut when encoded, never written whole.
        let long = State {
            last_failure_host: vec![b'x'; MAX_HOST_LEN * 2],
            ..State::default()
        };
        let decoded = State::decode(&long.encode()).unwrap();
        assert_eq!(decoded.last_failure_host, vec![b'x'; MAX_HOST_LEN]);
    }

    #[test]
    fn round_trip_full_and_empty() {
        let full = full();
        assert_eq!(full.encode().len(), MAX_ENCODED_LEN);
        assert_eq!(State::decode(&full.encode()), Ok(full));
        let empty = State::default();
        assert_eq!(State::decode(&empty.encode()), Ok(empty));
    }

    #[test]
    fn version_1_files_still_decode() {
        let old = State {
            secret_id: [9; 8],
            last_step: Some(u64::MAX),
            hotp_next: Some(7),
            failures: 3,
            lockouts: 2,
            locked_until: 1_900_000_000,
            spent: vec![[1; 8]; V1_MAX_SPENT],
            ..State::default()
        };
        let bytes = encode_v1(&old);
        assert_eq!(bytes.len(), 43 + 8 * V1_MAX_SPENT);
        assert_eq!(State::decode(&bytes), Ok(old.clone()));
        // Read as version 1, written back as version 2, read again: the same state.
        assert_eq!(State::decode(&old.encode()), Ok(old));
        assert_eq!(
            State::decode(&encode_v1(&State::default())),
            Ok(State::default())
        );
    }

    #[test]
    fn every_truncation_and_extension_is_corrupt() {
        let mut v2 = full();
        v2.past.truncate(2);
        v2.forgotten.truncate(3);
        let v1 = State {
            spent: vec![[2; 8]; 3],
            ..State::default()
        };
        for bytes in [v2.encode(), encode_v3(&v2), encode_v2(&v2), encode_v1(&v1)] {
            for len in 0..bytes.len() {
                assert_eq!(State::decode(&bytes[..len]), Err(CorruptState), "len {len}");
            }
            let mut longer = bytes.clone();
            longer.push(0);
            assert_eq!(State::decode(&longer), Err(CorruptState));
            for version in [0, 5, 0xff] {
                let mut bad_version = bytes.clone();
                bad_version[0] = version;
                assert_eq!(State::decode(&bad_version), Err(CorruptState));
            }
            let mut bad_flags = bytes.clone();
            bad_flags[1] = 0x80;
            assert_eq!(State::decode(&bad_flags), Err(CorruptState));
        }
        // Found by fuzzing (fuzz/regressions/state_file): a value stored under an unset
        // flag was ignored, so two byte strings decoded to the same state.
        let v1 = encode_v1(&v1);
        let mut hidden_step = v1.clone();
        hidden_step[10] = 1;
        assert_eq!(State::decode(&hidden_step), Err(CorruptState));
        let mut hidden_counter = v1;
        hidden_counter[18] = 1;
        assert_eq!(State::decode(&hidden_counter), Err(CorruptState));
        // The same in version 2, in the current history (after the 27 fixed bytes).
        let empty = State::default().encode();
        for (offset, name) in [(FIXED_LEN + 1 + 9, "step"), (FIXED_LEN + 1 + 17, "counter")] {
            let mut hidden = empty.clone();
            hidden[offset] = 1;
            assert_eq!(State::decode(&hidden), Err(CorruptState), "hidden {name}");
        }
        let mut bad_entry_flags = empty.clone();
        bad_entry_flags[FIXED_LEN + 1 + 8] = 0x80;
        assert_eq!(State::decode(&bad_entry_flags), Err(CorruptState));
        let mut no_entry = empty.clone();
        no_entry[FIXED_LEN] = 0;
        assert_eq!(State::decode(&no_entry), Err(CorruptState));
        let mut too_many = full().encode();
        too_many[FIXED_LEN] = MAX_SECRETS as u8 + 1;
        assert_eq!(State::decode(&too_many), Err(CorruptState));
    }

    #[test]
    fn remembering_keeps_each_secret_and_drops_only_to_forgotten() {
        let mut s = State::default();
        // An empty current history is replaced, not kept.
        s.remember(history(1, 1));
        assert!(s.past.is_empty());
        for n in 2..=MAX_SECRETS as u8 {
            s.remember(history(n, 1));
        }
        assert_eq!(s.past.len(), MAX_SECRETS - 1);
        assert!(s.forgotten.is_empty());
        assert_eq!(s.known([1; 8]), Known::Kept);
        assert_eq!(s.history_of([1; 8], &[]), history(1, 1));
        // Coming back moves a secret to the front without losing any other.
        s.remember(history(1, 2));
        assert_eq!(s.secret_id, [1; 8]);
        assert_eq!(s.past[0].secret_id, [MAX_SECRETS as u8; 8]);
        assert_eq!(s.past.len(), MAX_SECRETS - 1);
        // One more: the least recently used (2) is dropped and listed as forgotten.
        s.remember(history(50, 0));
        assert_eq!(s.known([2; 8]), Known::Forgotten);
        let listed = [[7; 8], [8; 8]];
        let cautious = s.history_of([2; 8], &listed);
        assert!(cautious.hotp_unknown);
        assert_eq!(cautious.spent, listed);
        assert_eq!(s.known([99; 8]), Known::New);
        // Past the forgotten list, nothing unknown counts as new any more.
        for n in 100..100 + MAX_FORGOTTEN as u8 {
            s.remember(history(n, 0));
            s.remember(history(n, 1));
        }
        assert!(s.forgot_more);
        assert!(s.forgotten.is_empty());
        assert_eq!(s.known([99; 8]), Known::Forgotten);
        assert!(s.encode().len() <= MAX_ENCODED_LEN);
        assert_eq!(State::decode(&s.encode()), Ok(s));
    }
}

#[cfg(test)]
mod keeping_tests;
