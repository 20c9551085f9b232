//! One-time codes: HOTP (RFC 4226) and TOTP (RFC 6238). Pure functions, no I/O.

use hmac::{EagerHash, Hmac, KeyInit, Mac};

/// The HMAC hash a token uses. Phone apps overwhelmingly support only SHA1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// HMAC-SHA1 (RFC 4226; what every authenticator app supports).
    Sha1,
    /// HMAC-SHA256 (RFC 6238).
    Sha256,
    /// HMAC-SHA512 (RFC 6238).
    Sha512,
}

impl Algorithm {
    /// The name used in the secret file and in `otpauth://` URIs (lower case).
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Sha1 => "sha1",
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha512 => "sha512",
        }
    }

    /// Parses the secret-file spelling (case-insensitive).
    pub fn from_name(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "sha1" => Some(Algorithm::Sha1),
            "sha256" => Some(Algorithm::Sha256),
            "sha512" => Some(Algorithm::Sha512),
            _ => None,
        }
    }
}

/// Fewest digits a code may have.
pub const MIN_DIGITS: u32 = 6;
/// Most digits a code may have.
pub const MAX_DIGITS: u32 = 8;

/// RFC 4226 section 5.3 dynamic truncation of HMAC-`D`(key, counter). The HMAC state and
/// its output wipe themselves when dropped (the crates' `zeroize` features); no copy of the
/// output is made.
fn truncated<D: EagerHash>(key: &[u8], counter: u64) -> Option<u32> {
    // HMAC accepts keys of any length, so this cannot fail; `None` keeps the function total
    // (code 0, which the caller never sees: keys are validated long before).
    let mut mac = <Hmac<D> as KeyInit>::new_from_slice(key).ok()?;
    mac.update(&counter.to_be_bytes());
    let tag = mac.finalize();
    let digest: &[u8] = tag.as_bytes();
    let offset = usize::from(digest.last()? & 0x0f);
    let window = digest.get(offset..offset + 4)?;
    Some(u32::from_be_bytes([
        window[0] & 0x7f,
        window[1],
        window[2],
        window[3],
    ]))
}

/// The HOTP value for `counter`: RFC 4226 section 5.3 dynamic truncation, reduced to
/// `digits` decimal digits (6..=8; other values are clamped into that range).
pub fn hotp(key: &[u8], counter: u64, algorithm: Algorithm, digits: u32) -> u32 {
    let binary = match algorithm {
        Algorithm::Sha1 => truncated::<sha1::Sha1>(key, counter),
        Algorithm::Sha256 => truncated::<sha2::Sha256>(key, counter),
        Algorithm::Sha512 => truncated::<sha2::Sha512>(key, counter),
    };
    binary.unwrap_or(0) % 10u32.pow(digits.clamp(MIN_DIGITS, MAX_DIGITS))
}

/// The TOTP time step containing `unix_time` (RFC 6238, T0 = 0). `period` must be non-zero.
pub fn totp_step(unix_time: u64, period: u64) -> u64 {
    unix_time / period.max(1)
}

/// The TOTP code for the step containing `unix_time`.
pub fn totp(key: &[u8], unix_time: u64, period: u64, algorithm: Algorithm, digits: u32) -> u32 {
    hotp(key, totp_step(unix_time, period), algorithm, digits)
}

/// Formats a code with leading zeros, as an authenticator app shows it.
pub fn format_code(code: u32, digits: u32) -> String {
    format!("{:0width$}", code, width = digits as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED20: &[u8] = b"12345678901234567890";
    const SEED32: &[u8] = b"12345678901234567890123456789012";
    const SEED64: &[u8] = b"1234567890123456789012345678901234567890123456789012345678901234";

    #[test]
    fn rfc4226_appendix_d() {
        let expected = [
            755224, 287082, 359152, 969429, 338314, 254676, 287922, 162583, 399871, 520489,
        ];
        for (counter, want) in expected.iter().enumerate() {
            assert_eq!(hotp(SEED20, counter as u64, Algorithm::Sha1, 6), *want);
        }
    }

    #[test]
    fn rfc6238_appendix_b_all_algorithms() {
        // (time, sha1, sha256, sha512), 8 digits, 30 s steps, each algorithm with its own seed.
        let table: [(u64, u32, u32, u32); 6] = [
            (59, 94287082, 46119246, 90693936),
            (1111111109, 7081804, 68084774, 25091201),
            (1111111111, 14050471, 67062674, 99943326),
            (1234567890, 89005924, 91819424, 93441116),
            (2000000000, 69279037, 90698825, 38618901),
            (20000000000, 65353130, 77737706, 47863826),
        ];
        for (t, sha1, sha256, sha512) in table {
            assert_eq!(totp(SEED20, t, 30, Algorithm::Sha1, 8), sha1, "sha1 at {t}");
            assert_eq!(
                totp(SEED32, t, 30, Algorithm::Sha256, 8),
                sha256,
                "sha256 at {t}"
            );
            assert_eq!(
                totp(SEED64, t, 30, Algorithm::Sha512, 8),
                sha512,
                "sha512 at {t}"
            );
        }
    }

    #[test]
    fn digits_and_formatting() {
        // 6 and 7 digits are the low digits of the 8-digit value.
        assert_eq!(totp(SEED20, 59, 30, Algorithm::Sha1, 6), 287082);
        assert_eq!(totp(SEED20, 59, 30, Algorithm::Sha1, 7), 4287082);
        assert_eq!(format_code(7081804, 8), "07081804");
        assert_eq!(format_code(42, 6), "000042");
    }

    #[test]
    fn counters_beyond_32_bits() {
        // The counter is 8 bytes big-endian; a high counter must not be truncated.
        let low = hotp(SEED20, 1, Algorithm::Sha1, 6);
        let high = hotp(SEED20, (1u64 << 32) + 1, Algorithm::Sha1, 6);
        assert_ne!(low, high);
        assert_eq!(totp_step(u64::MAX, 1), u64::MAX);
    }

    #[test]
    fn algorithm_names_round_trip() {
        for a in [Algorithm::Sha1, Algorithm::Sha256, Algorithm::Sha512] {
            assert_eq!(Algorithm::from_name(a.name()), Some(a));
        }
        assert_eq!(Algorithm::from_name("SHA256"), Some(Algorithm::Sha256));
        assert_eq!(Algorithm::from_name("md5"), None);
    }
}
