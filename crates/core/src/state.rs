//! Per-user state (replay, HOTP counter, throttling, spent recovery codes) and its byte
//! encoding. Pure; [`crate::store`] decides where and how the bytes are kept.

/// How many spent recovery codes the state remembers (matches the secret file's maximum).
pub const MAX_SPENT: usize = crate::secret_file::MAX_RECOVERY_CODES;

const VERSION: u8 = 1;
const FLAG_LAST_STEP: u8 = 1;
const FLAG_HOTP_NEXT: u8 = 2;
const FIXED_LEN: usize = 1 + 1 + 8 + 8 + 8 + 4 + 4 + 8 + 1;
/// Largest encoded state, in bytes.
pub const MAX_ENCODED_LEN: usize = FIXED_LEN + 8 * MAX_SPENT;

/// What the module remembers about one user between logins.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct State {
    /// Identifies the secret this state belongs to; a new secret starts a new replay history.
    pub secret_id: [u8; 8],
    /// The last TOTP time step accepted; only later steps are accepted again.
    pub last_step: Option<u64>,
    /// The next HOTP counter value the token may present.
    pub hotp_next: Option<u64>,
    /// Consecutive failed attempts since the last success or lock-out.
    pub failures: u32,
    /// Lock-outs since the last success; each one doubles the next.
    pub lockouts: u32,
    /// Unix time until which every attempt is refused (0: not locked).
    pub locked_until: u64,
    /// Fingerprints of recovery codes already used.
    pub spent: Vec<[u8; 8]>,
}

/// The bytes could not be a state written by this module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CorruptState;

impl State {
    /// Fixed little-endian layout: version, flags, secret id, last step, HOTP next,
    /// failures, lock-outs, locked-until, spent count, spent fingerprints.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(MAX_ENCODED_LEN);
        let flags = if self.last_step.is_some() {
            FLAG_LAST_STEP
        } else {
            0
        } | if self.hotp_next.is_some() {
            FLAG_HOTP_NEXT
        } else {
            0
        };
        out.push(VERSION);
        out.push(flags);
        out.extend_from_slice(&self.secret_id);
        out.extend_from_slice(&self.last_step.unwrap_or(0).to_le_bytes());
        out.extend_from_slice(&self.hotp_next.unwrap_or(0).to_le_bytes());
        out.extend_from_slice(&self.failures.to_le_bytes());
        out.extend_from_slice(&self.lockouts.to_le_bytes());
        out.extend_from_slice(&self.locked_until.to_le_bytes());
        let spent = &self.spent[..self.spent.len().min(MAX_SPENT)];
        out.push(spent.len() as u8);
        for id in spent {
            out.extend_from_slice(id);
        }
        out
    }

    /// Strict inverse of [`State::encode`]: any other byte string is corrupt.
    pub fn decode(bytes: &[u8]) -> Result<State, CorruptState> {
        let mut r = Reader(bytes);
        if r.take::<1>()? != [VERSION] {
            return Err(CorruptState);
        }
        let [flags] = r.take::<1>()?;
        if flags & !(FLAG_LAST_STEP | FLAG_HOTP_NEXT) != 0 {
            return Err(CorruptState);
        }
        let secret_id = r.take::<8>()?;
        let last_step = u64::from_le_bytes(r.take()?);
        let hotp_next = u64::from_le_bytes(r.take()?);
        let failures = u32::from_le_bytes(r.take()?);
        let lockouts = u32::from_le_bytes(r.take()?);
        let locked_until = u64::from_le_bytes(r.take()?);
        // A value under an unset flag must be zero: one state, one encoding.
        if (flags & FLAG_LAST_STEP == 0 && last_step != 0)
            || (flags & FLAG_HOTP_NEXT == 0 && hotp_next != 0)
        {
            return Err(CorruptState);
        }
        let [count] = r.take::<1>()?;
        if usize::from(count) > MAX_SPENT {
            return Err(CorruptState);
        }
        let spent = (0..count)
            .map(|_| r.take::<8>())
            .collect::<Result<Vec<_>, _>>()?;
        if !r.0.is_empty() {
            return Err(CorruptState);
        }
        Ok(State {
            secret_id,
            last_step: (flags & FLAG_LAST_STEP != 0).then_some(last_step),
            hotp_next: (flags & FLAG_HOTP_NEXT != 0).then_some(hotp_next),
            failures,
            lockouts,
            locked_until,
            spent,
        })
    }

    /// Whether attempts are refused at `now`.
    pub fn is_locked(&self, now: u64) -> bool {
        now < self.locked_until
    }
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], CorruptState> {
        let (head, rest) = self.0.split_at_checked(N).ok_or(CorruptState)?;
        self.0 = rest;
        head.try_into().map_err(|_| CorruptState)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_full_and_empty() {
        let full = State {
            secret_id: [9; 8],
            last_step: Some(u64::MAX),
            hotp_next: Some(7),
            failures: 3,
            lockouts: 2,
            locked_until: 1_900_000_000,
            spent: vec![[1; 8]; MAX_SPENT],
        };
        assert_eq!(full.encode().len(), MAX_ENCODED_LEN);
        assert_eq!(State::decode(&full.encode()), Ok(full));
        let empty = State::default();
        assert_eq!(State::decode(&empty.encode()), Ok(empty));
    }

    #[test]
    fn every_truncation_and_extension_is_corrupt() {
        let bytes = State {
            spent: vec![[2; 8]; 3],
            ..State::default()
        }
        .encode();
        for len in 0..bytes.len() {
            assert_eq!(State::decode(&bytes[..len]), Err(CorruptState), "len {len}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(State::decode(&longer), Err(CorruptState));
        let mut bad_version = bytes.clone();
        bad_version[0] = 2;
        assert_eq!(State::decode(&bad_version), Err(CorruptState));
        let mut bad_flags = bytes.clone();
        bad_flags[1] = 0x80;
        assert_eq!(State::decode(&bad_flags), Err(CorruptState));
        // Found by fuzzing (fuzz/regressions/state_file): a value stored under an unset
        // flag was ignored, so two byte strings decoded to the same state.
        let mut hidden_step = bytes.clone();
        hidden_step[10] = 1;
        assert_eq!(State::decode(&hidden_step), Err(CorruptState));
        let mut hidden_counter = bytes;
        hidden_counter[18] = 1;
        assert_eq!(State::decode(&hidden_counter), Err(CorruptState));
    }
}
