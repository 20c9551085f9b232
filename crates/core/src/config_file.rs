//! The configuration file, `/etc/security/pam_otp.conf` by default (`config=PATH` on the
//! module line, `pam-otp --config PATH`): the settings the module and `pam-otp` share, and
//! the only place besides a root-only file where a Redis password may be written.
//!
//! The effective settings are the defaults, then the file's, then the module line's (an
//! argument overrides the file). Both sources go through one matcher (`args`), as strictly:
//! an unknown, repeated or malformed key is an error naming the file, the line and the key,
//! never the value. The text format is pam_otp.conf(5): `key = value` lines, `#` comments
//! (whole lines), blank lines, a value optionally in double quotes (to keep a prompt's
//! trailing space), a key alone for a flag (`nullok`).
//!
//! The file is read on every login (sshd forks per connection), so it costs one open, one
//! fstat and one read ([`read`]); a missing file at the default path means "no settings".

pub(crate) mod keys;
mod read;

use std::path::{Path, PathBuf};

use crate::args::{self, ArgError, Builder, Config, Place, Source};
use crate::fleet::settings::StoreChoice;
use crate::log_text;

pub use read::FileFacts;

/// Where the module and `pam-otp` look when no `config=` / `--config` names a file.
pub const DEFAULT_PATH: &str = "/etc/security/pam_otp.conf";
/// Largest configuration file read.
pub const MAX_FILE_SIZE: usize = 64 * 1024;
/// Largest `redis_password_file` read (one line).
pub const MAX_PASSWORD_FILE_SIZE: usize = 1024;

/// Whether loading reads the file `redis_password_file` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Secrets {
    /// Read it (the module, and `pam-otp` commands that open the store).
    Read,
    /// Leave it: only its path is kept ([`crate::fleet::settings::RedisSettings::password_file`]).
    Skip,
}

/// Why the settings could not be loaded. Every variant names where and which key, never a
/// value (values of `redis_password` must never reach a log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    /// A module argument (as [`args::parse`] reports it).
    Args(ArgError),
    /// A line of the configuration file.
    Line {
        /// The file, escaped for a log line.
        path: String,
        /// 1-based line number.
        line: usize,
        /// The key as written, escaped (empty if the line has none).
        key: String,
        /// What is wrong.
        why: &'static str,
    },
    /// The file itself: missing (named explicitly), unsafe or unreadable.
    File {
        /// The file, escaped for a log line.
        path: String,
        /// What is wrong.
        why: String,
    },
    /// Keys that do not fit together (after the module line is applied over the file).
    Settings {
        /// The key the problem is reported on.
        key: String,
        /// What is wrong.
        why: &'static str,
    },
    /// The file `redis_password_file` names.
    PasswordFile {
        /// The file, escaped for a log line.
        path: String,
        /// What is wrong.
        why: String,
    },
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConfigError::Args(e) => write!(f, "{e}"),
            ConfigError::Line {
                path,
                line,
                key,
                why,
            } => write!(f, "configuration file {path} line {line}: '{key}': {why}"),
            ConfigError::File { path, why } => write!(f, "configuration file {path}: {why}"),
            ConfigError::Settings { key, why } => write!(f, "setting '{key}': {why}"),
            ConfigError::PasswordFile { path, why } => {
                write!(f, "redis_password_file {path}: {why}")
            }
        }
    }
}

impl std::error::Error for ConfigError {}

fn shown(path: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    log_text::escape(path.as_os_str().as_bytes())
}

/// The module's settings: the configuration file (`config=` from `raw_args`, else
/// [`DEFAULT_PATH`] if it exists), then `raw_args` over it.
pub fn load<'a>(
    raw_args: impl IntoIterator<Item = &'a [u8]>,
    secrets: Secrets,
) -> Result<Config, ConfigError> {
    let raw: Vec<&[u8]> = raw_args.into_iter().collect();
    // The arguments alone first: their errors come first, and they name the file.
    // (Not checked as a whole yet: `store=redis` may be in the file.)
    let mut alone = Builder::default();
    args::apply_args(&mut alone, raw.iter().copied()).map_err(ConfigError::Args)?;
    let explicit = alone.config.config_file;
    let mut b = Builder::default();
    let path = explicit
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_PATH));
    read_into(&mut b, &path, explicit.is_some())?;
    args::apply_args(&mut b, raw.iter().copied()).map_err(ConfigError::Args)?;
    let mut config = b
        .finish()
        .map_err(|(key, why)| ConfigError::Settings { key, why })?;
    if secrets == Secrets::Read {
        read_password(&mut config)?;
    }
    Ok(config)
}

/// The settings of the file at `path` alone (for `pam-otp check`): `Ok(None)` when it is
/// missing and `explicit` is false. The password file is not read.
pub fn load_file(path: &Path, explicit: bool) -> Result<Option<Config>, ConfigError> {
    let mut b = Builder::default();
    if !read_into(&mut b, path, explicit)? {
        return Ok(None);
    }
    b.finish()
        .map(Some)
        .map_err(|(key, why)| ConfigError::Settings { key, why })
}

/// Reads the file at `path` and applies it to `b`; `false` if it is missing (an error if
/// `explicit`).
fn read_into(b: &mut Builder, path: &Path, explicit: bool) -> Result<bool, ConfigError> {
    let file_error = |why: String| ConfigError::File {
        path: shown(path),
        why,
    };
    match read::config_file(path) {
        Ok(None) if !explicit => Ok(false),
        Ok(None) => Err(file_error("does not exist".into())),
        Ok(Some((bytes, facts))) => {
            apply_text(b, &bytes, facts.private(), &shown(path))?;
            Ok(true)
        }
        Err(why) => Err(file_error(why)),
    }
}

/// Parses configuration-file text alone (no I/O: the fuzz target's entry), as a file
/// readable by its owner only (`private`) or not, and checks the result as a whole.
pub fn parse_text(bytes: &[u8], private: bool) -> Result<Config, ConfigError> {
    let mut b = Builder::default();
    apply_text(&mut b, bytes, private, "-")?;
    b.finish()
        .map_err(|(key, why)| ConfigError::Settings { key, why })
}

/// Applies the file's lines to `b`; `path` is only for messages.
fn apply_text(b: &mut Builder, bytes: &[u8], private: bool, path: &str) -> Result<(), ConfigError> {
    let mut lines: Vec<(String, usize)> = Vec::new();
    let mut source = Source::new(b, Place::File { private });
    let at = |line: usize, key: &[u8], why| ConfigError::Line {
        path: path.to_string(),
        line,
        key: log_text::escape(key),
        why,
    };
    for (i, raw) in bytes.split(|b| *b == b'\n').enumerate() {
        let n = i + 1;
        let name_part = raw.split(|b| *b == b'=').next().unwrap_or(raw);
        if raw.contains(&0) {
            return Err(at(n, name_part.trim_ascii(), "the line holds a NUL byte"));
        }
        let Ok(text) = std::str::from_utf8(raw) else {
            return Err(at(n, name_part.trim_ascii(), "the line is not UTF-8"));
        };
        let text = text.trim();
        if text.is_empty() || text.starts_with('#') {
            continue;
        }
        let (key, value) = match text.split_once('=') {
            Some((k, v)) => (k.trim_end(), Some(unquote(v.trim_start()))),
            None => (text, None),
        };
        if key.is_empty() {
            return Err(at(n, b"", "the line has no key (key = value)"));
        }
        source
            .apply(key, value)
            .map_err(|why| at(n, key.as_bytes(), why))?;
        lines.push((key.to_string(), n));
    }
    source.finish().map_err(|(key, why)| {
        let line = lines.iter().find(|(k, _)| *k == key).map_or(0, |(_, n)| *n);
        at(line, key.as_bytes(), why)
    })
}

/// A value in double quotes loses them (nothing is escaped inside).
fn unquote(v: &str) -> &str {
    match v.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
        Some(inner) => inner,
        None => v,
    }
}

/// Reads the file `redis_password_file` names into the settings.
fn read_password(config: &mut Config) -> Result<(), ConfigError> {
    let StoreChoice::Redis(s) = &mut config.store else {
        return Ok(());
    };
    let Some(path) = s.password_file.clone() else {
        return Ok(());
    };
    let password = read::password_file(&path).map_err(|why| ConfigError::PasswordFile {
        path: shown(&path),
        why,
    })?;
    s.password = Some(password);
    Ok(())
}

#[cfg(test)]
mod tests;
