//! Reading a google-authenticator-libpam file (`~/.google_authenticator`) for `pam-otp import`,
//! so users keep the entry already in their phone. Pure: bytes in, secret file and the list
//! of what cannot carry over out.
//!
//! ```text
//! L6SW2VNDGXHWVN63FBPINN4G3I      base32 secret (80 or 128 bits)
//! " RATE_LIMIT 3 30 1700000000    options: a double quote, a space, a name, values
//! " WINDOW_SIZE 3
//! " DISALLOW_REUSE 56666666
//! " TOTP_AUTH                     or " HOTP_COUNTER 1 (the next counter expected)
//! " STEP_SIZE 30
//! 44192654                        unused 8-digit scratch codes, one a line
//! ```

use std::fmt;

use zeroize::Zeroizing;

use pam_otp_core::decimal::parse_decimal;
use pam_otp_core::otp::Algorithm;
use pam_otp_core::recovery::{self, RecoveryHash};
use pam_otp_core::secret_file::{
    decode_base32, Kind, SecretFile, MAX_FILE_SIZE, MAX_RECOVERY_CODES,
};

/// The module's smallest accepted secret (`min_secret_bits=80`); anything shorter is useless.
pub const MIN_IMPORT_BITS: usize = 80;

/// A google-authenticator file, as far as pam_otp can use it.
pub struct GoogleAuthFile {
    pub key: Zeroizing<Vec<u8>>,
    pub kind: Kind,
    /// `WINDOW_SIZE`: how many codes around (TOTP) or after (HOTP) the expected one were valid.
    pub window_size: Option<u64>,
    /// `RATE_LIMIT attempts seconds`.
    pub rate_limit: Option<(u64, u64)>,
    pub disallow_reuse: bool,
    pub time_skew: bool,
    /// Options this reader does not know (shown, not carried over): the name, quoted, when
    /// it looks like an option name, otherwise `on line N`, so that nothing else of the file
    /// (such as control bytes for the terminal of the root who imports it) is echoed.
    pub unknown_options: Vec<String>,
    /// The unused scratch codes, in clear until hashed by [`GoogleAuthFile::to_secret_file`].
    pub scratch_codes: Vec<Zeroizing<String>>,
}

impl fmt::Debug for GoogleAuthFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GoogleAuthFile")
            .field("kind", &self.kind)
            .field("key", &"[redacted]")
            .field("scratch_codes", &self.scratch_codes.len())
            .finish_non_exhaustive()
    }
}

/// Why a file cannot be imported. Never contains the secret or a scratch code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportError {
    NotText,
    NoSecret,
    BadSecret,
    WeakSecret { bits: usize },
    BadOption { line: usize, name: String },
    BothTypes,
    BadLine { line: usize },
    TooManyScratchCodes,
}

impl fmt::Display for ImportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotText => write!(f, "the file is not text or is too large"),
            Self::NoSecret => write!(f, "the file is empty (no secret on the first line)"),
            Self::BadSecret => write!(f, "the first line is not a base32 secret"),
            Self::WeakSecret { bits } => write!(
                f,
                "the secret has only {bits} bits; pam_otp needs at least {MIN_IMPORT_BITS}"
            ),
            Self::BadOption { line, name } => {
                write!(
                    f,
                    "line {line}: option {name} has a missing or invalid value"
                )
            }
            Self::BothTypes => write!(f, "the file sets both TOTP_AUTH and HOTP_COUNTER"),
            Self::BadLine { line } => {
                write!(
                    f,
                    "line {line}: neither an option nor an 8-digit scratch code"
                )
            }
            Self::TooManyScratchCodes => {
                write!(f, "more than {MAX_RECOVERY_CODES} scratch codes")
            }
        }
    }
}

impl std::error::Error for ImportError {}

/// Whether an unknown option may be named: upper-case letters, digits and `_`, at most 32,
/// and either with a `_` (base32 has none) or shorter than the shortest secret accepted
/// (80 bits, 16 base32 letters), so that a secret pasted onto an option line is not echoed.
fn option_shaped(name: &str) -> bool {
    (1..=32).contains(&name.len())
        && (name.contains('_') || name.len() < 16)
        && name
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

fn number(value: Option<&str>) -> Option<u64> {
    value.and_then(parse_decimal)
}

impl GoogleAuthFile {
    /// Parses the file's bytes.
    pub fn parse(bytes: &[u8]) -> Result<GoogleAuthFile, ImportError> {
        if bytes.len() > MAX_FILE_SIZE || bytes.contains(&0) {
            return Err(ImportError::NotText);
        }
        let text = std::str::from_utf8(bytes).map_err(|_| ImportError::NotText)?;
        let mut lines = text.lines();
        let first = lines.next().map(str::trim).unwrap_or("");
        if first.is_empty() {
            return Err(ImportError::NoSecret);
        }
        let key = decode_base32(first).ok_or(ImportError::BadSecret)?;
        let bits = key.len() * 8;
        if bits < MIN_IMPORT_BITS {
            return Err(ImportError::WeakSecret { bits });
        }
        let mut file = GoogleAuthFile {
            key,
            kind: Kind::Totp { period: 30 },
            window_size: None,
            rate_limit: None,
            disallow_reuse: false,
            time_skew: false,
            unknown_options: Vec::new(),
            scratch_codes: Vec::new(),
        };
        let (mut totp, mut hotp_counter, mut step) = (false, None, None);
        for (index, raw) in lines.enumerate() {
            let line = index + 2;
            let trimmed = raw.trim();
            if trimmed.is_empty() {
                continue;
            }
            if let Some(option) = trimmed.strip_prefix('"') {
                let mut words = option.split_whitespace();
                let name = words.next().unwrap_or("");
                let bad = || ImportError::BadOption {
                    line,
                    name: name.chars().take(32).collect(),
                };
                match name {
                    "TOTP_AUTH" => totp = true,
                    "HOTP_COUNTER" => {
                        hotp_counter = Some(number(words.next()).ok_or_else(bad)?);
                    }
                    "STEP_SIZE" => {
                        step = Some(
                            number(words.next())
                                .filter(|s| (1..=pam_otp_core::secret_file::MAX_PERIOD).contains(s))
                                .ok_or_else(bad)?,
                        );
                    }
                    "WINDOW_SIZE" => {
                        file.window_size =
                            Some(number(words.next()).filter(|w| *w >= 1).ok_or_else(bad)?);
                    }
                    "RATE_LIMIT" => {
                        let attempts = number(words.next()).ok_or_else(bad)?;
                        let seconds = number(words.next()).ok_or_else(bad)?;
                        file.rate_limit = Some((attempts, seconds));
                    }
                    // The values after the name are used codes: nothing to carry over, since
                    // pam_otp refuses every reuse on its own.
                    "DISALLOW_REUSE" => file.disallow_reuse = true,
                    "TIME_SKEW" | "RESETTING_TIME_SKEW" => file.time_skew = true,
                    other if option_shaped(other) => {
                        file.unknown_options.push(format!("'{other}'"));
                    }
                    _ => file.unknown_options.push(format!("on line {line}")),
                }
                continue;
            }
            if trimmed.len() == 8 && trimmed.bytes().all(|b| b.is_ascii_digit()) {
                if file.scratch_codes.len() == MAX_RECOVERY_CODES {
                    return Err(ImportError::TooManyScratchCodes);
                }
                file.scratch_codes.push(Zeroizing::new(trimmed.to_string()));
                continue;
            }
            return Err(ImportError::BadLine { line });
        }
        file.kind = match (totp, hotp_counter) {
            (true, Some(_)) => return Err(ImportError::BothTypes),
            (_, Some(counter)) => Kind::Hotp { counter },
            (_, None) => Kind::Totp {
                period: step.unwrap_or(30),
            },
        };
        Ok(file)
    }

    /// The equivalent pam_otp secret file (SHA1, 6 digits, as google-authenticator uses),
    /// with each scratch code stored as a salted hash, each salt from `salt`.
    pub fn to_secret_file(&self, salt: &mut dyn FnMut() -> [u8; 16]) -> SecretFile {
        let recovery = self
            .scratch_codes
            .iter()
            .filter_map(|code| recovery::normalize(code.as_bytes()))
            .map(|code| RecoveryHash::new(salt(), &code))
            .collect();
        SecretFile {
            kind: self.kind,
            key: self.key.clone(),
            algorithm: Algorithm::Sha1,
            digits: 6,
            recovery,
            named: Vec::new(),
        }
    }

    /// What does not carry over, each a sentence saying what to do about it. `min_secret_bits`
    /// is the module's setting (128 unless the PAM line says otherwise).
    pub fn warnings(&self, min_secret_bits: usize) -> Vec<String> {
        let mut out = Vec::new();
        let bits = self.key.len() * 8;
        if bits < min_secret_bits {
            out.push(format!(
                "The secret has {bits} bits and pam_otp refuses secrets shorter than \
                 min_secret_bits (now {min_secret_bits}): add min_secret_bits={bits} to every \
                 pam_otp.so line, or run 'pam-otp enroll --force' for a new, longer secret."
            ));
        }
        match (self.kind, self.window_size) {
            (Kind::Totp { .. }, Some(size)) if size != 3 => {
                let window = (size.saturating_sub(1) / 2).min(10);
                out.push(format!(
                    "WINDOW_SIZE {size} does not carry over: pam_otp accepts window= steps on \
                     each side of the current one (default 1); add window={window} to the \
                     pam_otp.so line for a similar tolerance."
                ));
            }
            (Kind::Hotp { .. }, Some(size)) if size != 6 => {
                let ahead = size.saturating_sub(1).min(20);
                out.push(format!(
                    "WINDOW_SIZE {size} does not carry over: pam_otp accepts codes up to \
                     hotp_lookahead= counts ahead (default 5); add hotp_lookahead={ahead} to \
                     the pam_otp.so line for the same tolerance."
                ));
            }
            _ => {}
        }
        if let Some((attempts, seconds)) = self.rate_limit {
            out.push(format!(
                "RATE_LIMIT {attempts} {seconds} does not carry over: pam_otp locks an account \
                 after max_failures= consecutive failures (default 5) for lockout= seconds \
                 (default 60, doubling on repeat)."
            ));
        }
        if matches!(self.kind, Kind::Totp { .. }) && !self.disallow_reuse {
            out.push(
                "This file allowed a code to be used more than once; pam_otp never does \
                 (each code is accepted once)."
                    .to_string(),
            );
        }
        if self.time_skew {
            out.push(
                "The learned clock offset (TIME_SKEW) does not carry over: keep this host's \
                 clock synchronised (NTP)."
                    .to_string(),
            );
        }
        for name in &self.unknown_options {
            out.push(format!(
                "The option {name} is not understood by pam-otp and was left out."
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "L6SW2VNDGXHWVN63FBPINN4G3I\n\" RATE_LIMIT 3 30 1700000000\n\" WINDOW_SIZE 3\n\" DISALLOW_REUSE 56666666\n\" TOTP_AUTH\n44192654\n35453446\n";

    #[test]
    fn totp_file_with_scratch_codes() {
        let f = GoogleAuthFile::parse(FILE.as_bytes()).unwrap();
        assert_eq!(f.kind, Kind::Totp { period: 30 });
        assert_eq!(f.key.len(), 16);
        assert_eq!(f.rate_limit, Some((3, 30)));
        assert!(f.disallow_reuse);
        let mut n = 0u8;
        let secret = f.to_secret_file(&mut || {
            n += 1;
            [n; 16]
        });
        assert_eq!(secret.recovery.len(), 2);
        let code = recovery::normalize(b"3545 3446").unwrap();
        assert!(secret.recovery[1].matches(&code));
        assert!(!secret.to_bytes().windows(8).any(|w| w == b"35453446"));
        let warnings = f.warnings(128);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].starts_with("RATE_LIMIT 3 30"));
    }

    #[test]
    fn hotp_step_and_window() {
        let f = GoogleAuthFile::parse(
            b"S7NCEZ5D4LRI65UCDGICOU2LXM\n\" WINDOW_SIZE 5\n\" HOTP_COUNTER 4\n",
        )
        .unwrap();
        assert_eq!(f.kind, Kind::Hotp { counter: 4 });
        assert!(f.warnings(128)[0].contains("hotp_lookahead=4"));
        let t = GoogleAuthFile::parse(
            b"JBSWY3DPEHPK3PXP\n\" STEP_SIZE 60\n\" WINDOW_SIZE 17\n\" TOTP_AUTH\n",
        )
        .unwrap();
        assert_eq!(t.kind, Kind::Totp { period: 60 });
        let w = t.warnings(128);
        assert!(w[0].contains("min_secret_bits=80"), "{w:?}");
        assert!(w[1].contains("window=8"), "{w:?}");
        assert!(w[2].contains("more than once"), "{w:?}");
        assert!(t
            .warnings(80)
            .iter()
            .all(|w| !w.contains("min_secret_bits")));
    }

    #[test]
    fn unknown_options_are_named_only_when_shaped_like_one() {
        let f = GoogleAuthFile::parse(
            b"JBSWY3DPEHPK3PXP\n\" NEW_OPTION 1\n\" \x1b[2J\n\" JBSWY3DPEHPK3PXP\n\" lower_case\n",
        )
        .unwrap();
        assert_eq!(
            f.unknown_options,
            ["'NEW_OPTION'", "on line 3", "on line 4", "on line 5"]
        );
        assert!(f
            .warnings(80)
            .iter()
            .any(|w| w == "The option on line 3 is not understood by pam-otp and was left out."));
    }

    #[test]
    fn bad_files_are_refused_without_echoing_secrets() {
        let cases: [(&[u8], ImportError); 7] = [
            (b"", ImportError::NoSecret),
            (b"not base32!\n", ImportError::BadSecret),
            (b"JBSWY3DP\n", ImportError::WeakSecret { bits: 40 }),
            (
                b"JBSWY3DPEHPK3PXP\n\" HOTP_COUNTER x\n",
                ImportError::BadOption {
                    line: 2,
                    name: "HOTP_COUNTER".into(),
                },
            ),
            (
                b"JBSWY3DPEHPK3PXP\n\" HOTP_COUNTER 1\n\" TOTP_AUTH\n",
                ImportError::BothTypes,
            ),
            (
                b"JBSWY3DPEHPK3PXP\n1234567\n",
                ImportError::BadLine { line: 2 },
            ),
            (b"JBSWY3DPEHPK3PXP\n\0", ImportError::NotText),
        ];
        for (bytes, want) in cases {
            assert_eq!(GoogleAuthFile::parse(bytes).unwrap_err(), want);
        }
        let f = GoogleAuthFile::parse(b"JBSWY3DPEHPK3PXP\n\" FANCY 1\n").unwrap();
        assert!(f.warnings(80).iter().any(|w| w.contains("'FANCY'")));
        assert!(!format!("{f:?}").contains("JBSW"));
    }
}
