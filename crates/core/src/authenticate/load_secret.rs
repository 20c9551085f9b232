//! Reading and checking the user's secret file for one attempt, and why it may fail.

use std::fmt;
use std::os::unix::ffi::OsStrExt;

use crate::args::Config;
use crate::log_text;
use crate::private_file::{self, ReadError};
use crate::secret_file::{DeliverLineError, UserFile, MAX_FILE_SIZE};
use crate::userdb::Account;

use super::Reason;

/// Why the user's secret could not be had. [`SecretError::reason`] is the log line's reason
/// word; the `Display` text is its detail (paths escaped, never the file's content).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum SecretError {
    /// The template does not expand to a safe absolute path for this user.
    BadPath,
    /// No secret file: the user is not enrolled (`nullok` lets them through).
    NotEnrolled {
        /// The file, escaped.
        path: String,
        /// Its directory is missing too (but the home or the store is there).
        no_directory: bool,
    },
    /// The home or the store itself is missing or unreadable (not mounted?): refused even
    /// with `nullok`, since every enrolled user would otherwise look unenrolled.
    NoBase {
        /// The file, escaped.
        path: String,
        /// "the home directory" or "the secret store".
        what: &'static str,
        /// The home or store, escaped.
        base: String,
        /// Why it could not be looked at, when it is not simply missing.
        why: Option<ReadError>,
    },
    /// The file is unsafe (owner, mode, links, type) or could not be read.
    Unreadable {
        /// The file, escaped.
        path: String,
        /// Why.
        why: ReadError,
    },
    /// The file is malformed (its secret, its tokens or its `deliver` lines), or its key is
    /// too short.
    Malformed {
        /// The file, escaped.
        path: String,
        /// Why.
        why: DeliverLineError,
    },
}

impl SecretError {
    /// The reason word of the refusal (or of `nullok`'s pass).
    pub(super) fn reason(&self) -> Reason {
        match self {
            SecretError::NotEnrolled { .. } => Reason::NoSecret,
            SecretError::BadPath
            | SecretError::NoBase { .. }
            | SecretError::Unreadable { .. }
            | SecretError::Malformed { .. } => Reason::BadSecretFile,
        }
    }
}

impl fmt::Display for SecretError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretError::BadPath => {
                write!(f, "secret path does not expand to a safe absolute path")
            }
            SecretError::NotEnrolled {
                path,
                no_directory: false,
            } => write!(f, "{path}: no secret file"),
            SecretError::NotEnrolled {
                path,
                no_directory: true,
            } => write!(f, "{path}: no secret file (its directory does not exist)"),
            SecretError::NoBase {
                path,
                what,
                base,
                why: None,
            } => write!(
                f,
                "{path}: {what} {base} does not exist (not mounted?); refusing, even with nullok"
            ),
            SecretError::NoBase {
                path,
                what,
                base,
                why: Some(e),
            } => write!(f, "{path}: {what} {base}: {e}; refusing, even with nullok"),
            SecretError::Unreadable { path, why } => write!(f, "{path}: {why}"),
            SecretError::Malformed { path, why } => write!(f, "{path}: {why}"),
        }
    }
}

/// Reads `account`'s secret file as `config` says (as the user for a `%h` path, owned by the
/// module's user for an admin store) and checks it.
pub(super) fn load_secret(config: &Config, account: &Account) -> Result<UserFile, SecretError> {
    let path = config.secret_path(account).ok_or(SecretError::BadPath)?;
    let shown = log_text::escape(path.as_os_str().as_bytes());
    let bytes = if config.secret_is_users() {
        private_file::read_users_file(account, &path, MAX_FILE_SIZE)
    } else {
        private_file::read_private_file(&path, nix::unistd::geteuid().as_raw(), MAX_FILE_SIZE)
    };
    let bytes = bytes.map_err(|e| match e {
        ReadError::NotFound => SecretError::NotEnrolled {
            path: shown.clone(),
            no_directory: false,
        },
        ReadError::NoDirectory => missing_directory(config, account, shown.clone()),
        why => SecretError::Unreadable {
            path: shown.clone(),
            why,
        },
    })?;
    let malformed = |why| SecretError::Malformed {
        path: shown.clone(),
        why,
    };
    let file = UserFile::parse(&bytes).map_err(malformed)?;
    if let Some(secret) = &file.secret {
        secret
            .check_strength(config.min_secret_bits)
            .map_err(|e| malformed(e.into()))?;
    }
    Ok(file)
}

/// The secret file's directory is missing. That means "not enrolled" only when the home
/// (or the store) is there: a home that is not mounted, or a store that is gone, would
/// otherwise make every enrolled user look unenrolled, and `nullok` would skip the code.
fn missing_directory(config: &Config, account: &Account, path: String) -> SecretError {
    let base = config.secret_base(account);
    let what = if config.secret_is_users() {
        "the home directory"
    } else {
        "the secret store"
    };
    let no_base = |why| SecretError::NoBase {
        path: path.clone(),
        what,
        base: log_text::escape(base.as_os_str().as_bytes()),
        why,
    };
    match private_file::directory_exists(&base) {
        Ok(true) => SecretError::NotEnrolled {
            path: path.clone(),
            no_directory: true,
        },
        Ok(false) => no_base(None),
        Err(e) => no_base(Some(e)),
    }
}
