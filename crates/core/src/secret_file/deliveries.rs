//! `deliver = CHANNEL:CONTACT` lines: where the module may send a one-time code out of band.
//!
//! They belong to the user, like recovery codes: in the file's first block, before any
//! `token = NAME` line, at most [`crate::oob::contact::MAX_DELIVERIES`], none repeated, each
//! parsed strictly by [`crate::oob::contact`]. A file may hold `deliver` lines and nothing
//! else (comments aside): the user then has no TOTP/HOTP secret and gets codes only by
//! delivery. A file with any other line must be a complete secret file, as before; a file
//! without `deliver` lines parses exactly as [`SecretFile::parse`] parses it.

use zeroize::Zeroizing;

use super::{SecretFile, SecretFileError, MAX_FILE_SIZE};
use crate::oob::contact::{ContactError, Deliveries};

/// A user's file: the TOTP/HOTP secret (absent for a delivery-only user) and the contacts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserFile {
    /// The secret and its tokens; `None` when the file holds only `deliver` lines.
    pub secret: Option<SecretFile>,
    /// The `deliver` lines, in file order.
    pub deliveries: Deliveries,
}

/// Why a `deliver` line was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliverLineError {
    /// The rest of the file is not a valid secret file.
    File(SecretFileError),
    /// The value is not a contact (never quoted: it is someone's address).
    Contact {
        /// 1-based line number.
        line: usize,
        /// Why.
        why: ContactError,
    },
    /// A `deliver` line after a `token` line.
    InToken {
        /// 1-based line number.
        line: usize,
    },
}

impl std::fmt::Display for DeliverLineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeliverLineError::File(e) => e.fmt(f),
            DeliverLineError::Contact { line, why } => write!(f, "line {line}: {why}"),
            DeliverLineError::InToken { line } => write!(
                f,
                "line {line}: 'deliver' lines belong before the first 'token' line"
            ),
        }
    }
}

impl std::error::Error for DeliverLineError {}

impl From<SecretFileError> for DeliverLineError {
    fn from(e: SecretFileError) -> Self {
        DeliverLineError::File(e)
    }
}

impl UserFile {
    /// Parses a user's file: the `deliver` lines here, everything else by
    /// [`SecretFile::parse`] (with the `deliver` lines blanked, so its line numbers hold).
    pub fn parse(bytes: &[u8]) -> Result<UserFile, DeliverLineError> {
        if bytes.len() > MAX_FILE_SIZE || bytes.contains(&0) {
            return Err(SecretFile::parse(bytes)
                .err()
                .unwrap_or(SecretFileError::NotText)
                .into());
        }
        let Ok(text) = std::str::from_utf8(bytes) else {
            return Err(SecretFileError::NotText.into());
        };
        let mut deliveries = Deliveries::new();
        // The rest, wiped when dropped (it holds the secret), sized once.
        let mut rest = Zeroizing::new(String::with_capacity(text.len() + 1));
        let mut in_token = false;
        let mut anything_else = false;
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            let trimmed = raw.trim();
            let key = trimmed.split_once('=').map(|(k, v)| (k.trim(), v.trim()));
            match key {
                Some(("deliver", value)) if !trimmed.starts_with('#') => {
                    if in_token {
                        return Err(DeliverLineError::InToken { line });
                    }
                    deliveries
                        .push_value(value)
                        .map_err(|why| DeliverLineError::Contact { line, why })?;
                    rest.push('\n');
                    continue;
                }
                Some(("token", _)) if !trimmed.starts_with('#') => in_token = true,
                _ => {}
            }
            if !trimmed.is_empty() && !trimmed.starts_with('#') {
                anything_else = true;
            }
            rest.push_str(raw);
            rest.push('\n');
        }
        if !deliveries.is_empty() && !anything_else {
            return Ok(UserFile {
                secret: None,
                deliveries,
            });
        }
        let secret = SecretFile::parse(rest.as_bytes())?;
        Ok(UserFile {
            secret: Some(secret),
            deliveries,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: &str = "secret = GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\n";

    #[test]
    fn deliver_lines_with_a_secret_or_alone() {
        let f = UserFile::parse(
            format!("# x\ndeliver = email:alice@example.org\n{S}deliver = ntfy:alice-otp\n")
                .as_bytes(),
        )
        .unwrap();
        assert!(f.secret.is_some());
        let shown: Vec<String> = f
            .deliveries
            .contacts()
            .iter()
            .map(|c| c.to_value())
            .collect();
        assert_eq!(shown, ["email:alice@example.org", "ntfy:alice-otp"]);
        let alone =
            UserFile::parse(b"# codes by e-mail only\ndeliver = email:a@b.example\n").unwrap();
        assert_eq!(alone.secret, None);
        assert_eq!(alone.deliveries.contacts().len(), 1);
    }

    #[test]
    fn files_without_deliver_lines_parse_as_before() {
        let f = UserFile::parse(S.as_bytes()).unwrap();
        assert_eq!(f.secret, Some(SecretFile::parse(S.as_bytes()).unwrap()));
        assert!(f.deliveries.is_empty());
        for bad in ["", "# nothing\n", "digits = 6\n"] {
            assert_eq!(
                UserFile::parse(bad.as_bytes()),
                Err(DeliverLineError::File(SecretFileError::MissingSecret)),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn bad_deliver_lines_are_refused_strictly() {
        let cases: Vec<(String, DeliverLineError)> = vec![
            (
                format!("{S}deliver = fax:+15550100\n"),
                DeliverLineError::Contact {
                    line: 2,
                    why: ContactError::UnknownChannel,
                },
            ),
            (
                format!("{S}deliver = email:a@b.example\ndeliver = email:a@b.example\n"),
                DeliverLineError::Contact {
                    line: 3,
                    why: ContactError::Repeated,
                },
            ),
            (
                format!("{S}deliver =\n"),
                DeliverLineError::Contact {
                    line: 2,
                    why: ContactError::NoChannel,
                },
            ),
            (
                format!("{S}token = spare\n{S}deliver = email:a@b.example\n"),
                DeliverLineError::InToken { line: 4 },
            ),
            // A delivery-only file holds nothing else: a parameter without a secret.
            (
                "deliver = email:a@b.example\ndigits = 8\n".into(),
                DeliverLineError::File(SecretFileError::MissingSecret),
            ),
            // Line numbers of the rest are the file's own.
            (
                format!("deliver = email:a@b.example\n{S}colour = x\n"),
                DeliverLineError::File(SecretFileError::UnknownKey {
                    line: 3,
                    key: "colour".into(),
                }),
            ),
        ];
        for (text, want) in cases {
            assert_eq!(UserFile::parse(text.as_bytes()), Err(want), "{text:?}");
        }
        let five: String = (0..5)
            .map(|i| format!("deliver = ntfy:topic{i}\n"))
            .collect();
        assert!(matches!(
            UserFile::parse(five.as_bytes()),
            Err(DeliverLineError::Contact {
                why: ContactError::TooMany,
                ..
            })
        ));
        // The address is never quoted in the error.
        let e =
            UserFile::parse(format!("{S}deliver = email:bad address@x\n").as_bytes()).unwrap_err();
        assert!(!e.to_string().contains("bad address"), "{e}");
        assert_eq!(
            UserFile::parse(b"deliver = email:a@b.example\0\n"),
            Err(DeliverLineError::File(SecretFileError::NotText))
        );
    }
}
