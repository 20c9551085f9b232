//! One-time codes for out-of-band delivery: drawn from the OS random source, kept only as a
//! keyed hash.
//!
//! The digits come from [`sample_below`], which draws 32-bit words and rejects those at or
//! above the largest multiple of 10^digits below 2^32: every code then has exactly the same
//! number of accepted words behind it, so there is no modulo bias. The random source is a
//! parameter ([`RandomSource`]); the module passes [`os_random`] (getrandom(2)), the tests a
//! deterministic stream.
//!
//! The state stores `HMAC-SHA256(key = salt, message = code)` with a fresh 16-byte salt per
//! code. A 6-digit code has only 10^6 values, so the hash does not make it unguessable to
//! whoever reads the state (root, who can read everything anyway); what it does is keep the
//! code itself out of the state, its backups and a fleet's Redis, and make the comparison
//! constant-time.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// Fewest digits in a code.
pub const MIN_DIGITS: u8 = 6;
/// Most digits in a code.
pub const MAX_DIGITS: u8 = 8;
/// Digits when the configuration says nothing.
pub const DEFAULT_DIGITS: u8 = 6;
/// Bytes of salt per code.
pub const SALT_LEN: usize = 16;
/// Bytes of the keyed hash.
pub const MAC_LEN: usize = 32;
/// Draws after which [`sample_below`] gives up: with the worst rejection rate (2.2 % for
/// 8 digits) 64 rejections in a row happen with probability below 10^-100, so this only
/// stops a broken source that always returns the same high word.
pub const MAX_DRAWS: usize = 64;

/// The random source failed, or kept returning words that had to be rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RandomError;

impl std::fmt::Display for RandomError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the OS random source failed")
    }
}

/// Fills a buffer with random bytes.
pub trait RandomSource {
    /// Fills all of `buf`, or fails.
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), RandomError>;
}

/// The OS random source: getrandom(2), blocking until the pool is initialised, retried on
/// `EINTR` and short reads.
#[derive(Debug, Clone, Copy, Default)]
pub struct OsRandom;

impl RandomSource for OsRandom {
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), RandomError> {
        os_random(buf)
    }
}

/// Fills `buf` from getrandom(2).
pub fn os_random(buf: &mut [u8]) -> Result<(), RandomError> {
    let mut filled = 0;
    while filled < buf.len() {
        let rest = &mut buf[filled..];
        // SAFETY: `rest` is a valid, writable buffer of `rest.len()` bytes for the duration
        // of the call; getrandom writes at most that many bytes into it.
        let n = unsafe { libc::getrandom(rest.as_mut_ptr().cast(), rest.len(), 0) };
        if n < 0 {
            if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return Err(RandomError);
        }
        filled += usize::try_from(n).map_err(|_| RandomError)?;
    }
    Ok(())
}

/// A uniformly distributed number in `0..bound` (`bound` ≥ 1), by rejection sampling over
/// 32-bit words from `source`.
pub fn sample_below(bound: u32, source: &mut dyn RandomSource) -> Result<u32, RandomError> {
    if bound == 0 {
        return Err(RandomError);
    }
    let limit = acceptance_limit(bound);
    for _ in 0..MAX_DRAWS {
        let mut word = Zeroizing::new([0u8; 4]);
        source.fill(&mut word[..])?;
        let x = u32::from_le_bytes(*word);
        if u64::from(x) < limit {
            return Ok(x % bound);
        }
    }
    Err(RandomError)
}

/// Words below this are accepted: the largest multiple of `bound` that is ≤ 2^32.
pub fn acceptance_limit(bound: u32) -> u64 {
    let span = 1u64 << 32;
    span - span % u64::from(bound.max(1))
}

/// A one-time code: `digits` ASCII decimal digits, wiped when dropped.
pub struct OneTimeCode {
    digits: Zeroizing<[u8; MAX_DIGITS as usize]>,
    len: u8,
}

impl std::fmt::Debug for OneTimeCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "OneTimeCode({} digits)", self.len)
    }
}

impl OneTimeCode {
    /// A fresh code of `digits` digits (6–8) from `source`.
    pub fn generate(digits: u8, source: &mut dyn RandomSource) -> Result<OneTimeCode, RandomError> {
        if !(MIN_DIGITS..=MAX_DIGITS).contains(&digits) {
            return Err(RandomError);
        }
        let bound = 10u32.pow(u32::from(digits));
        let mut value = Zeroizing::new(sample_below(bound, source)?);
        let mut out = Zeroizing::new([0u8; MAX_DIGITS as usize]);
        for slot in out[..usize::from(digits)].iter_mut().rev() {
            // `% 10` < 10, so the cast cannot truncate.
            *slot = b'0' + (*value % 10) as u8;
            *value /= 10;
        }
        Ok(OneTimeCode {
            digits: out,
            len: digits,
        })
    }

    /// The code's ASCII digits.
    pub fn as_bytes(&self) -> &[u8] {
        &self.digits[..usize::from(self.len)]
    }

    /// How many digits.
    pub fn len(&self) -> u8 {
        self.len
    }

    /// Always false: a code has at least [`MIN_DIGITS`] digits.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// What the state keeps of a code: a salt and `HMAC-SHA256(salt, code)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeHash {
    /// Fresh per code, from the random source.
    pub salt: [u8; SALT_LEN],
    /// `HMAC-SHA256(key = salt, message = the code's digits)`.
    pub mac: [u8; MAC_LEN],
}

impl CodeHash {
    /// The hash of `code` with a fresh salt from `source`.
    pub fn new(code: &OneTimeCode, source: &mut dyn RandomSource) -> Result<CodeHash, RandomError> {
        let mut salt = [0u8; SALT_LEN];
        source.fill(&mut salt)?;
        CodeHash::with_salt(salt, code.as_bytes())
    }

    /// The hash of `code` with `salt`.
    pub fn with_salt(salt: [u8; SALT_LEN], code: &[u8]) -> Result<CodeHash, RandomError> {
        Ok(CodeHash {
            salt,
            mac: mac(&salt, code).ok_or(RandomError)?,
        })
    }

    /// Whether `typed` is the code, compared in constant time (over the MAC; the length of a
    /// code is no secret).
    pub fn matches(&self, typed: &[u8]) -> bool {
        mac(&self.salt, typed).is_some_and(|m| m.ct_eq(&self.mac).into())
    }
}

// HMAC takes a key of any length, so this never fails in practice; if it did, nothing
// matches and no hash is made.
fn mac(salt: &[u8; SALT_LEN], code: &[u8]) -> Option<[u8; MAC_LEN]> {
    let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(salt).ok()?;
    m.update(code);
    Some(m.finalize().into_bytes().into())
}

#[cfg(test)]
mod tests;
