//! Several named tokens in one secret file (a phone, a hardware OATH token, a spare phone).
//!
//! The file's first block (before any `token = NAME` line) is the default token, named
//! [`DEFAULT_TOKEN`]; each `token = NAME` line starts another one, with its own `type`,
//! `secret`, `algorithm`, `digits` and `period` or `counter`. Recovery codes belong to the
//! file (the user), not to a token, and are listed in the first block only.

use std::fmt;

use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::{Kind, SecretFile, SecretFileError};
use crate::otp::Algorithm;

/// The name the first, unnamed block of the file goes by (in logs and in `pam-otp tokens`).
pub const DEFAULT_TOKEN: &str = "default";
/// Longest token name, in bytes.
pub const MAX_TOKEN_NAME_LEN: usize = 32;
/// Most tokens one file may hold, the default one included. The state keeps the full replay
/// history of [`crate::state::MAX_SECRETS`] secrets, and the module never drops a history of
/// a token the file lists to make room for another (see `State::remember_keeping`), so this
/// many tokens used in turn all keep theirs. The state's fixed slot bounds `MAX_SECRETS`
/// (the size assertion in `store.rs`); raising this bound means raising that one first.
pub const MAX_TOKENS: usize = crate::state::MAX_SECRETS;

const _: () = assert!(MAX_TOKENS <= crate::state::MAX_SECRETS);

/// A named token after the first one. The key is wiped from memory when this is dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct Token {
    /// `token = NAME`: 1 to [`MAX_TOKEN_NAME_LEN`] letters, digits, `.`, `_` or `-`.
    pub name: String,
    /// `type`, with its `period` or `counter`.
    pub kind: Kind,
    /// `secret`, decoded from base32.
    pub key: Zeroizing<Vec<u8>>,
    /// `algorithm`.
    pub algorithm: Algorithm,
    /// `digits`: 6, 7 or 8.
    pub digits: u32,
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("key", &"[redacted]")
            .field("algorithm", &self.algorithm)
            .field("digits", &self.digits)
            .finish()
    }
}

/// One token of a file, the default one included, borrowed from the [`SecretFile`].
#[derive(Clone, Copy)]
pub struct TokenView<'a> {
    /// Its name ([`DEFAULT_TOKEN`] for the first block).
    pub name: &'a str,
    /// `type`, with its `period` or `counter`.
    pub kind: Kind,
    /// The key.
    pub key: &'a [u8],
    /// `algorithm`.
    pub algorithm: Algorithm,
    /// `digits`.
    pub digits: u32,
}

impl fmt::Debug for TokenView<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenView")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("key", &"[redacted]")
            .finish()
    }
}

/// Why a token cannot be added to or removed from a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenError {
    /// Not 1 to [`MAX_TOKEN_NAME_LEN`] letters, digits, `.`, `_` or `-`, or [`DEFAULT_TOKEN`].
    BadName,
    /// The file already has a token of that name.
    NameTaken,
    /// The file already has a token with the same key.
    SameKey,
    /// The file already holds [`MAX_TOKENS`] tokens.
    TooMany,
    /// No token of that name.
    NoSuchToken,
    /// The default token carries the file's recovery-code history and cannot be removed
    /// on its own (replace the whole file with `pam-otp enroll --force` instead).
    IsDefault,
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadName => write!(
                f,
                "a token name is 1 to {MAX_TOKEN_NAME_LEN} letters, digits, '.', '_' or '-', and not '{DEFAULT_TOKEN}'"
            ),
            Self::NameTaken => write!(f, "a token of that name is already in the file"),
            Self::SameKey => write!(f, "a token with the same secret is already in the file"),
            Self::TooMany => write!(f, "the file already holds {MAX_TOKENS} tokens, the most allowed"),
            Self::NoSuchToken => write!(f, "no token of that name in the file"),
            Self::IsDefault => write!(
                f,
                "the default token cannot be removed on its own (the file's recovery codes are recorded with it); replace the whole file with 'pam-otp enroll --force'"
            ),
        }
    }
}

impl std::error::Error for TokenError {}

/// Whether `name` may name a token in a file: 1 to [`MAX_TOKEN_NAME_LEN`] ASCII letters,
/// digits, `.`, `_` or `-` (safe in a log line, a file and a command line), not the reserved
/// [`DEFAULT_TOKEN`].
pub fn valid_token_name(name: &str) -> bool {
    (1..=MAX_TOKEN_NAME_LEN).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        && name != DEFAULT_TOKEN
}

impl SecretFile {
    /// Every token of the file, the default one first. Never empty.
    pub fn tokens(&self) -> Vec<TokenView<'_>> {
        let mut all = Vec::with_capacity(1 + self.named.len());
        all.push(TokenView {
            name: DEFAULT_TOKEN,
            kind: self.kind,
            key: &self.key,
            algorithm: self.algorithm,
            digits: self.digits,
        });
        all.extend(self.named.iter().map(|t| TokenView {
            name: &t.name,
            kind: t.kind,
            key: &t.key,
            algorithm: t.algorithm,
            digits: t.digits,
        }));
        all
    }

    /// The token called `name` ([`DEFAULT_TOKEN`] for the first block).
    pub fn token(&self, name: &str) -> Option<TokenView<'_>> {
        self.tokens().into_iter().find(|t| t.name == name)
    }

    /// Adds `token` after the others, under the same rules as the parser's.
    pub fn add_token(&mut self, token: Token) -> Result<(), TokenError> {
        if !valid_token_name(&token.name) {
            return Err(TokenError::BadName);
        }
        let tokens = self.tokens();
        if tokens.iter().any(|t| t.name == token.name) {
            return Err(TokenError::NameTaken);
        }
        if tokens.len() >= MAX_TOKENS {
            return Err(TokenError::TooMany);
        }
        if tokens.iter().any(|t| same_key(t.key, &token.key)) {
            return Err(TokenError::SameKey);
        }
        self.named.push(token);
        Ok(())
    }

    /// Removes the named token `name` and returns it. The default token stays.
    pub fn remove_token(&mut self, name: &str) -> Result<Token, TokenError> {
        if name == DEFAULT_TOKEN {
            return Err(TokenError::IsDefault);
        }
        let index = self
            .named
            .iter()
            .position(|t| t.name == name)
            .ok_or(TokenError::NoSuchToken)?;
        Ok(self.named.remove(index))
    }
}

/// Two keys are the same secret (then they would share one replay history).
pub(super) fn same_key(a: &[u8], b: &[u8]) -> bool {
    bool::from(a.ct_eq(b))
}

/// Checks a parsed `token = NAME` line against the tokens before it.
pub(super) fn check_new_name(
    name: &str,
    line: usize,
    before: &[Token],
) -> Result<(), SecretFileError> {
    if !valid_token_name(name) {
        return Err(SecretFileError::BadValue { line, key: "token" });
    }
    if before.iter().any(|t| t.name == name) {
        return Err(SecretFileError::DuplicateToken { line });
    }
    // The default token and those before: one more would be too many.
    if 1 + before.len() >= MAX_TOKENS {
        return Err(SecretFileError::TooManyTokens);
    }
    Ok(())
}
