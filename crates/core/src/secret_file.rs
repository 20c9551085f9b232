//! The secret file (`~/.otp`): parsing from and writing to bytes. Pure; the format is pam_otp(5).
//!
//! ```text
//! # pam_otp secret file
//! type = totp
//! secret = JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP
//! algorithm = sha1
//! digits = 6
//! period = 30
//! recovery = sha256:<salt>:<digest>
//!
//! token = spare
//! type = hotp
//! secret = GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ
//! ```
//!
//! The first block is the default token; each `token = NAME` line starts another one
//! ([`tokens`]).

use std::fmt;

use zeroize::Zeroizing;

pub use crate::base32_codec::{decode_base32, encode_base32};
use crate::decimal::parse_decimal;
use crate::otp::{Algorithm, MAX_DIGITS, MIN_DIGITS};
use crate::recovery::RecoveryHash;

mod deliveries;
pub use deliveries::{DeliverLineError, UserFile};
mod tokens;
pub use tokens::{
    valid_token_name, Token, TokenError, TokenView, DEFAULT_TOKEN, MAX_TOKENS, MAX_TOKEN_NAME_LEN,
};

/// Largest secret file accepted, in bytes.
pub const MAX_FILE_SIZE: usize = 64 * 1024;
/// Most recovery entries one file may hold (the state records spent ones in a fixed slot).
pub const MAX_RECOVERY_CODES: usize = 32;
/// Longest TOTP step accepted, in seconds.
pub const MAX_PERIOD: u64 = 300;

/// Time-based or counter-based codes, with the parameter each needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// TOTP (RFC 6238).
    Totp {
        /// The time step, in seconds.
        period: u64,
    },
    /// HOTP (RFC 4226).
    Hotp {
        /// The first counter value (the state remembers how far the token has moved since).
        counter: u64,
    },
}

/// A parsed, validated secret file. The keys are wiped from memory when this is dropped.
///
/// `kind`, `key`, `algorithm` and `digits` are the default token's (the file's first block);
/// `named` holds the tokens the file adds with `token = NAME` lines, and
/// [`SecretFile::tokens`] lists them all.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretFile {
    /// `type`, with its `period` or `counter`.
    pub kind: Kind,
    /// `secret`, decoded from base32.
    pub key: Zeroizing<Vec<u8>>,
    /// `algorithm`.
    pub algorithm: Algorithm,
    /// `digits`: 6, 7 or 8.
    pub digits: u32,
    /// The `recovery` lines: salted hashes of single-use recovery codes.
    pub recovery: Vec<RecoveryHash>,
    /// The tokens after the default one, in file order (at most `MAX_TOKENS - 1`).
    pub named: Vec<Token>,
}

impl fmt::Debug for SecretFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretFile")
            .field("kind", &self.kind)
            .field("key", &"[redacted]")
            .field("algorithm", &self.algorithm)
            .field("digits", &self.digits)
            .field("recovery", &self.recovery.len())
            .field("named", &self.named)
            .finish()
    }
}

/// Why a secret file was rejected. The text never contains the secret, a recovery hash or
/// any other text of the file, apart from a key name that looks like one (see
/// [`SecretFileError::UnknownKey`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretFileError {
    /// Larger than [`MAX_FILE_SIZE`].
    TooLarge,
    /// Not UTF-8, or holds a NUL byte.
    NotText,
    /// Not a `key = value` line, or one whose key does not look like a key name (a bare
    /// base32 secret with `=` padding would otherwise be echoed as its "key").
    Syntax {
        /// 1-based line number.
        line: usize,
    },
    /// A key that looks like a key name (1 to 12 lower-case letters or `_`) but is not one of ours.
    UnknownKey {
        /// 1-based line number.
        line: usize,
        /// The key as written.
        key: String,
    },
    /// A key that may appear once appears again.
    Repeated {
        /// 1-based line number of the repetition.
        line: usize,
        /// The key.
        key: &'static str,
    },
    /// A value out of range or of the wrong form.
    BadValue {
        /// 1-based line number.
        line: usize,
        /// The key whose value it is.
        key: &'static str,
    },
    /// `period` in an HOTP file or `counter` in a TOTP file.
    WrongKindKey {
        /// 1-based line number.
        line: usize,
        /// The key.
        key: &'static str,
    },
    /// No `secret` line.
    MissingSecret,
    /// More `recovery` lines than [`MAX_RECOVERY_CODES`].
    TooManyRecoveryCodes,
    /// A `token = NAME` line names a token already in the file.
    DuplicateToken {
        /// 1-based line number of the repetition.
        line: usize,
    },
    /// More tokens than [`MAX_TOKENS`].
    TooManyTokens,
    /// A token (starting on `line`) with no `secret` line.
    TokenWithoutSecret {
        /// 1-based line number of its `token` line.
        line: usize,
    },
    /// A token (starting on `line`) with the same key as an earlier one: they would share
    /// one replay history.
    DuplicateSecret {
        /// 1-based line number of its `token` line.
        line: usize,
    },
    /// A `recovery` line after a `token` line: recovery codes belong to the file, and are
    /// listed in its first block.
    RecoveryInToken {
        /// 1-based line number.
        line: usize,
    },
    /// The key is shorter than `min_secret_bits=` allows.
    SecretTooShort {
        /// The key's length.
        bits: usize,
        /// The least the module accepts.
        min_bits: usize,
    },
}

impl fmt::Display for SecretFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge => write!(f, "file is larger than {MAX_FILE_SIZE} bytes"),
            Self::NotText => write!(f, "file is not UTF-8 text or contains a NUL byte"),
            Self::Syntax { line } => write!(f, "line {line}: not a 'key = value' line"),
            Self::UnknownKey { line, key } => write!(f, "line {line}: unknown key '{key}'"),
            Self::Repeated { line, key } => write!(f, "line {line}: '{key}' given twice"),
            Self::BadValue { line, key } => write!(f, "line {line}: invalid value for '{key}'"),
            Self::WrongKindKey { line, key } => {
                write!(f, "line {line}: '{key}' does not apply to this token type")
            }
            Self::MissingSecret => write!(f, "no 'secret' line"),
            Self::TooManyRecoveryCodes => {
                write!(f, "more than {MAX_RECOVERY_CODES} recovery codes")
            }
            Self::DuplicateToken { line } => {
                write!(
                    f,
                    "line {line}: a token of this name is already in the file"
                )
            }
            Self::TooManyTokens => write!(f, "more than {MAX_TOKENS} tokens"),
            Self::TokenWithoutSecret { line } => {
                write!(f, "the token starting on line {line} has no 'secret' line")
            }
            Self::DuplicateSecret { line } => write!(
                f,
                "the token starting on line {line} has the same secret as an earlier one"
            ),
            Self::RecoveryInToken { line } => write!(
                f,
                "line {line}: 'recovery' lines belong before the first 'token' line"
            ),
            Self::SecretTooShort { bits, min_bits } => {
                write!(
                    f,
                    "secret has {bits} bits, fewer than the required {min_bits}"
                )
            }
        }
    }
}

impl std::error::Error for SecretFileError {}

#[derive(Default)]
struct Seen {
    kind: Option<&'static str>,
    secret: Option<Zeroizing<Vec<u8>>>,
    algorithm: Option<Algorithm>,
    digits: Option<u32>,
    period: Option<(usize, u64)>,
    counter: Option<(usize, u64)>,
}

fn set_once<T>(
    slot: &mut Option<T>,
    value: T,
    line: usize,
    key: &'static str,
) -> Result<(), SecretFileError> {
    if slot.is_some() {
        return Err(SecretFileError::Repeated { line, key });
    }
    *slot = Some(value);
    Ok(())
}

/// One block's parameters, defaults filled in; the key is still to be required.
struct Finished {
    kind: Kind,
    key: Option<Zeroizing<Vec<u8>>>,
    algorithm: Algorithm,
    digits: u32,
}

impl Seen {
    /// The block's parameters, once its last line is read.
    fn finish(self) -> Result<Finished, SecretFileError> {
        let kind = match self.kind.unwrap_or("totp") {
            "hotp" => {
                if let Some((line, _)) = self.period {
                    return Err(SecretFileError::WrongKindKey {
                        line,
                        key: "period",
                    });
                }
                Kind::Hotp {
                    counter: self.counter.map_or(0, |(_, c)| c),
                }
            }
            _ => {
                if let Some((line, _)) = self.counter {
                    return Err(SecretFileError::WrongKindKey {
                        line,
                        key: "counter",
                    });
                }
                Kind::Totp {
                    period: self.period.map_or(30, |(_, p)| p),
                }
            }
        };
        Ok(Finished {
            kind,
            key: self.secret,
            algorithm: self.algorithm.unwrap_or(Algorithm::Sha1),
            digits: self.digits.unwrap_or(6),
        })
    }
}

/// The named token whose block (from its `token` line, `start`) just ended, checked
/// against the default token and the named ones before it.
fn named_token(
    finished: Finished,
    name: String,
    start: usize,
    default: &Option<Finished>,
    before: &[Token],
) -> Result<Token, SecretFileError> {
    let key = finished
        .key
        .ok_or(SecretFileError::TokenWithoutSecret { line: start })?;
    let default_key: Option<&[u8]> = default
        .as_ref()
        .and_then(|d| d.key.as_deref().map(|k| &k[..]));
    let earlier = default_key
        .into_iter()
        .chain(before.iter().map(|t| &t.key[..]));
    if earlier
        .map(|k| tokens::same_key(k, &key))
        .fold(false, |any, same| any | same)
    {
        return Err(SecretFileError::DuplicateSecret { line: start });
    }
    Ok(Token {
        name,
        kind: finished.kind,
        key,
        algorithm: finished.algorithm,
        digits: finished.digits,
    })
}

impl SecretFile {
    /// Parses and validates a secret file's bytes.
    pub fn parse(bytes: &[u8]) -> Result<SecretFile, SecretFileError> {
        if bytes.len() > MAX_FILE_SIZE {
            return Err(SecretFileError::TooLarge);
        }
        if bytes.contains(&0) {
            return Err(SecretFileError::NotText);
        }
        let text = std::str::from_utf8(bytes).map_err(|_| SecretFileError::NotText)?;
        let mut seen = Seen::default();
        let mut recovery = Vec::new();
        // The default token, once its block has ended; then the named ones.
        let mut default: Option<Finished> = None;
        let mut named: Vec<Token> = Vec::new();
        // The name and `token` line of the block being read (`None`: the default block).
        let mut block: Option<(String, usize)> = None;

        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            let trimmed = raw.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let (key, value) = trimmed
                .split_once('=')
                .ok_or(SecretFileError::Syntax { line })?;
            let (key, value) = (key.trim(), value.trim());
            let bad = |key: &'static str| SecretFileError::BadValue { line, key };
            match key {
                "token" => {
                    // The block before ends here: it is checked first, as it came first.
                    let finished = std::mem::take(&mut seen).finish()?;
                    match block.take() {
                        None => default = Some(finished),
                        Some((name, start)) => {
                            named.push(named_token(finished, name, start, &default, &named)?);
                        }
                    }
                    tokens::check_new_name(value, line, &named)?;
                    block = Some((value.to_string(), line));
                }
                "type" => {
                    let kind = match value {
                        "totp" => "totp",
                        "hotp" => "hotp",
                        _ => return Err(bad("type")),
                    };
                    set_once(&mut seen.kind, kind, line, "type")?;
                }
                "secret" => {
                    let key = decode_base32(value).ok_or_else(|| bad("secret"))?;
                    set_once(&mut seen.secret, key, line, "secret")?;
                }
                "algorithm" => {
                    let alg = Algorithm::from_name(value).ok_or_else(|| bad("algorithm"))?;
                    set_once(&mut seen.algorithm, alg, line, "algorithm")?;
                }
                "digits" => {
                    let digits = parse_decimal::<u64>(value)
                        .filter(|d| (u64::from(MIN_DIGITS)..=u64::from(MAX_DIGITS)).contains(d))
                        .ok_or_else(|| bad("digits"))?;
                    set_once(&mut seen.digits, digits as u32, line, "digits")?;
                }
                "period" => {
                    let period = parse_decimal::<u64>(value)
                        .filter(|p| (1..=MAX_PERIOD).contains(p))
                        .ok_or_else(|| bad("period"))?;
                    set_once(&mut seen.period, (line, period), line, "period")?;
                }
                "counter" => {
                    let counter = parse_decimal::<u64>(value).ok_or_else(|| bad("counter"))?;
                    set_once(&mut seen.counter, (line, counter), line, "counter")?;
                }
                "recovery" => {
                    if block.is_some() {
                        return Err(SecretFileError::RecoveryInToken { line });
                    }
                    let hash = RecoveryHash::parse(value).ok_or_else(|| bad("recovery"))?;
                    if recovery.len() == MAX_RECOVERY_CODES {
                        return Err(SecretFileError::TooManyRecoveryCodes);
                    }
                    recovery.push(hash);
                }
                _ if key_shaped(key) => {
                    return Err(SecretFileError::UnknownKey {
                        line,
                        key: key.to_string(),
                    })
                }
                _ => return Err(SecretFileError::Syntax { line }),
            }
        }

        let finished = seen.finish()?;
        let default = match block {
            None => finished,
            Some((name, start)) => {
                named.push(named_token(finished, name, start, &default, &named)?);
                default.ok_or(SecretFileError::MissingSecret)?
            }
        };
        let key = default.key.ok_or(SecretFileError::MissingSecret)?;
        Ok(SecretFile {
            kind: default.kind,
            key,
            algorithm: default.algorithm,
            digits: default.digits,
            recovery,
            named,
        })
    }

    /// Refuses keys shorter than `min_bits`: any token's (a weak spare would weaken all).
    pub fn check_strength(&self, min_bits: usize) -> Result<(), SecretFileError> {
        for token in self.tokens() {
            let bits = token.key.len() * 8;
            if bits < min_bits {
                return Err(SecretFileError::SecretTooShort { bits, min_bits });
            }
        }
        Ok(())
    }

    /// The file's text, every parameter spelled out. Wiped when dropped (it holds the key),
    /// and built in a buffer large enough from the start, so that no growing copy of it is
    /// left behind in freed memory.
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        // Header and parameter lines take under 200 bytes, a recovery line 116, a token's
        // name and parameters under 200 more.
        let keys: usize = self
            .tokens()
            .iter()
            .map(|t| 256 + (t.key.len() * 8).div_ceil(5))
            .sum();
        let capacity = keys + 128 * self.recovery.len();
        let mut out = Zeroizing::new(String::with_capacity(capacity));
        out.push_str("# pam_otp secret file: keep it private (mode 0600). See pam_otp(5).\n");
        write_token(&mut out, self.kind, &self.key, self.algorithm, self.digits);
        for hash in &self.recovery {
            out.push_str("recovery = ");
            out.push_str(&hash.encode());
            out.push('\n');
        }
        for token in &self.named {
            out.push_str("\ntoken = ");
            out.push_str(&token.name);
            out.push('\n');
            write_token(
                &mut out,
                token.kind,
                &token.key,
                token.algorithm,
                token.digits,
            );
        }
        // Moves the buffer (no copy); the emptied String left behind holds nothing.
        Zeroizing::new(std::mem::take(&mut *out).into_bytes())
    }
}

/// One token's parameter lines and its `secret` line.
fn write_token(out: &mut String, kind: Kind, key: &[u8], algorithm: Algorithm, digits: u32) {
    match kind {
        Kind::Totp { period } => {
            out.push_str(&format!("type = totp\nperiod = {period}\n"));
        }
        Kind::Hotp { counter } => {
            out.push_str(&format!("type = hotp\ncounter = {counter}\n"));
        }
    }
    out.push_str(&format!(
        "algorithm = {}\ndigits = {}\n",
        algorithm.name(),
        digits
    ));
    out.push_str("secret = ");
    out.push_str(&encode_base32(key));
    out.push('\n');
}

/// Whether an unknown key may be named in an error: 1 to 12 lower-case letters or `_`,
/// enough for any misspelling of ours (the longest is `algorithm`). Anything else may be
/// part of a secret: base32 is letters and digits, and the shortest secret accepted (80
/// bits) is 16 letters, which is why the bound is below 16.
fn key_shaped(key: &str) -> bool {
    (1..=12).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
}

#[cfg(test)]
mod tokens_tests;

#[cfg(test)]
mod tests {
    use super::*;

    const KEY_B32: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"; // "12345678901234567890"

    #[test]
    fn minimal_file_takes_defaults() {
        let f = SecretFile::parse(format!("secret = {KEY_B32}\n").as_bytes()).unwrap();
        assert_eq!(f.kind, Kind::Totp { period: 30 });
        assert_eq!(f.algorithm, Algorithm::Sha1);
        assert_eq!(f.digits, 6);
        assert_eq!(&f.key[..], b"12345678901234567890");
    }

    #[test]
    fn secret_ignores_case_spaces_and_padding() {
        let f =
            SecretFile::parse(b"secret = gezd gnbv gy3t qojq gezd gnbv gy3t qojq====\n").unwrap();
        assert_eq!(&f.key[..], b"12345678901234567890");
    }

    #[test]
    fn a_secret_that_decodes_to_no_bytes_is_refused() {
        // Found by fuzzing (fuzz/regressions/secret_file): "Q" decoded to an empty key.
        assert_eq!(decode_base32("Q"), None);
        assert_eq!(
            SecretFile::parse(b"secret =Q\n"),
            Err(SecretFileError::BadValue {
                line: 1,
                key: "secret"
            })
        );
    }

    #[test]
    fn every_key_is_read_and_round_trips() {
        let text = format!(
            "# comment\n\ntype = hotp\nsecret = {KEY_B32}\nalgorithm = sha512\ndigits = 8\ncounter = 42\nrecovery = {}\nrecovery = {}\n",
            RecoveryHash::new([1; 16], b"aaaabbbbcccc").encode(),
            RecoveryHash::new([2; 16], b"ddddeeeeffff").encode(),
        );
        let f = SecretFile::parse(text.as_bytes()).unwrap();
        assert_eq!(f.kind, Kind::Hotp { counter: 42 });
        assert_eq!(f.algorithm, Algorithm::Sha512);
        assert_eq!(f.digits, 8);
        assert_eq!(f.recovery.len(), 2);
        assert_eq!(SecretFile::parse(&f.to_bytes()).unwrap(), f);
    }

    #[test]
    fn rejections_name_the_problem() {
        let s = format!("secret = {KEY_B32}\n");
        let cases: Vec<(String, SecretFileError)> = vec![
            (
                format!("{s}colour = blue\n"),
                SecretFileError::UnknownKey {
                    line: 2,
                    key: "colour".into(),
                },
            ),
            (
                format!("{s}digits = 6\ndigits = 6\n"),
                SecretFileError::Repeated {
                    line: 3,
                    key: "digits",
                },
            ),
            (
                format!("{s}secret = {KEY_B32}\n"),
                SecretFileError::Repeated {
                    line: 2,
                    key: "secret",
                },
            ),
            (
                format!("{s}digits = 9\n"),
                SecretFileError::BadValue {
                    line: 2,
                    key: "digits",
                },
            ),
            (
                format!("{s}digits = +6\n"),
                SecretFileError::BadValue {
                    line: 2,
                    key: "digits",
                },
            ),
            (
                format!("{s}period = 0\n"),
                SecretFileError::BadValue {
                    line: 2,
                    key: "period",
                },
            ),
            (
                format!("{s}period = 301\n"),
                SecretFileError::BadValue {
                    line: 2,
                    key: "period",
                },
            ),
            (
                format!("{s}algorithm = md5\n"),
                SecretFileError::BadValue {
                    line: 2,
                    key: "algorithm",
                },
            ),
            (
                format!("{s}type = motp\n"),
                SecretFileError::BadValue {
                    line: 2,
                    key: "type",
                },
            ),
            (
                format!("{s}counter = 3\n"),
                SecretFileError::WrongKindKey {
                    line: 2,
                    key: "counter",
                },
            ),
            (
                format!("type = hotp\n{s}period = 30\n"),
                SecretFileError::WrongKindKey {
                    line: 3,
                    key: "period",
                },
            ),
            (
                "secret = 01189998\n".into(),
                SecretFileError::BadValue {
                    line: 1,
                    key: "secret",
                },
            ),
            (
                "secret =\n".into(),
                SecretFileError::BadValue {
                    line: 1,
                    key: "secret",
                },
            ),
            (
                format!("{s}just words\n"),
                SecretFileError::Syntax { line: 2 },
            ),
            // Keys that are not key-shaped are never echoed: the secret itself, padded.
            (
                format!("{s}{KEY_B32}==\n"),
                SecretFileError::Syntax { line: 2 },
            ),
            (
                format!("{s}qwertyuiopasdfgh = x\n"),
                SecretFileError::Syntax { line: 2 },
            ),
            (
                format!("{s}Secret = x\n"),
                SecretFileError::Syntax { line: 2 },
            ),
            (
                format!("{s}recoveries = x\n"),
                SecretFileError::UnknownKey {
                    line: 2,
                    key: "recoveries".into(),
                },
            ),
            ("digits = 6\n".into(), SecretFileError::MissingSecret),
            (
                format!("{s}recovery = nope\n"),
                SecretFileError::BadValue {
                    line: 2,
                    key: "recovery",
                },
            ),
        ];
        for (text, want) in cases {
            assert_eq!(SecretFile::parse(text.as_bytes()), Err(want), "{text:?}");
        }
        assert_eq!(
            SecretFile::parse(b"secret = GEZD\0\n"),
            Err(SecretFileError::NotText)
        );
        assert_eq!(
            SecretFile::parse(&[0xff, 0xfe]),
            Err(SecretFileError::NotText)
        );
        let big = vec![b'#'; MAX_FILE_SIZE + 1];
        assert_eq!(SecretFile::parse(&big), Err(SecretFileError::TooLarge));
    }

    #[test]
    fn too_many_recovery_codes_rejected() {
        let mut text = format!("secret = {KEY_B32}\n");
        for i in 0..=MAX_RECOVERY_CODES {
            text.push_str(&format!(
                "recovery = {}\n",
                RecoveryHash::new([i as u8; 16], b"x").encode()
            ));
        }
        assert_eq!(
            SecretFile::parse(text.as_bytes()),
            Err(SecretFileError::TooManyRecoveryCodes)
        );
    }

    #[test]
    fn strength_check() {
        let f = SecretFile::parse(b"secret = GEZDGNBVGY3TQOJQ\n").unwrap(); // 80 bits
        assert_eq!(
            f.check_strength(128),
            Err(SecretFileError::SecretTooShort {
                bits: 80,
                min_bits: 128
            })
        );
        assert!(f.check_strength(80).is_ok());
    }

    #[test]
    fn debug_output_hides_the_key() {
        let f = SecretFile::parse(format!("secret = {KEY_B32}\n").as_bytes()).unwrap();
        let shown = format!("{f:?}");
        assert!(!shown.contains("12345") && !shown.contains(KEY_B32));
    }
}
