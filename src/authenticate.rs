//! One authentication attempt, from module arguments to verdict, written against a small
//! [`Host`] trait so that every path runs in unit tests without libpam or root.
//!
//! Order matters: the secret file is read before prompting (so `nullok` can skip the prompt),
//! the code is read with no lock held, and only then is the user's state locked, decided
//! and saved.

use std::time::SystemTime;

use zeroize::Zeroizing;

use crate::args::{self, CodeSource, Config};
use crate::fsafe::{self, ReadError};
use crate::secret_file::{SecretFile, MAX_FILE_SIZE};
use crate::store::{FileStore, StateStore};
use crate::userdb::{self, Account};
use crate::verify::{self, Denial, Method, MAX_INPUT_LEN};

/// Syslog priority of a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Error,
    Warning,
    Notice,
    Info,
    Debug,
}

/// What the module needs from the application it runs in.
pub trait Host {
    /// The user being authenticated (may ask the application).
    fn user(&mut self) -> Option<String>;
    /// The remote host, if the application set one.
    fn remote_host(&self) -> Option<String>;
    /// PAM_AUTHTOK left by an earlier module.
    fn authtok(&self) -> Option<Zeroizing<Vec<u8>>>;
    /// Asks the user with echo off. `None`: the conversation failed or gave no answer.
    fn ask(&mut self, prompt: &str) -> Option<Zeroizing<Vec<u8>>>;
    /// Writes one log line (the host adds the module/service prefix).
    fn log(&mut self, level: Level, line: &str);
}

/// The stable reason words that start every log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    Ok,
    BadCode,
    Replay,
    Locked,
    NoSecret,
    BadSecretFile,
    StateError,
    UnknownUser,
    BadArgs,
    ConvError,
    NoAuthtok,
    ClockError,
}

impl Reason {
    pub fn word(self) -> &'static str {
        match self {
            Reason::Ok => "ok",
            Reason::BadCode => "bad_code",
            Reason::Replay => "replay",
            Reason::Locked => "locked",
            Reason::NoSecret => "no_secret",
            Reason::BadSecretFile => "bad_secret_file",
            Reason::StateError => "state_error",
            Reason::UnknownUser => "unknown_user",
            Reason::BadArgs => "bad_args",
            Reason::ConvError => "conv_error",
            Reason::NoAuthtok => "no_authtok",
            Reason::ClockError => "clock_error",
        }
    }
}

/// The module's answer; the PAM layer maps it to a return code in one place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// A valid code.
    Success,
    /// `nullok` and no secret file: let the rest of the stack decide.
    Ignore,
    /// Refused, for the given reason.
    Deny(Reason),
    /// The module arguments are wrong: a configuration error, also refused.
    BadConfig,
    /// The conversation failed.
    ConvFailed,
}

/// Runs one attempt. Every path ends in exactly one log line with a reason word.
pub fn authenticate<'a>(
    host: &mut dyn Host,
    raw_args: impl IntoIterator<Item = &'a [u8]>,
    now: SystemTime,
) -> Verdict {
    let user = host.user();
    let user_shown = user
        .as_deref()
        .map_or_else(|| "?".to_string(), args::sanitize);
    let rhost = host
        .remote_host()
        .map_or_else(|| "-".to_string(), |h| args::sanitize(&h));
    let config = match args::parse(raw_args) {
        Ok(c) => c,
        Err(e) => {
            let line = format!(
                "{} user={user_shown} rhost={rhost}: {e}; refusing every login",
                Reason::BadArgs.word()
            );
            host.log(Level::Error, &line);
            return Verdict::BadConfig;
        }
    };
    let attempt = Attempt {
        user: user_shown,
        rhost,
        config: &config,
    };
    let Some(user) = user else {
        return attempt.deny_after_prompt(
            host,
            Reason::UnknownUser,
            "the application gave no user name",
        );
    };
    let account = match userdb::lookup(&user) {
        Ok(Some(a)) => a,
        Ok(None) => return attempt.deny_after_prompt(host, Reason::UnknownUser, "no such user"),
        Err(e) => {
            let detail = format!("user lookup failed: {}", e.0.desc());
            return attempt.deny_after_prompt(host, Reason::UnknownUser, &detail);
        }
    };
    let Ok(elapsed) = now.duration_since(SystemTime::UNIX_EPOCH) else {
        return attempt.deny_after_prompt(host, Reason::ClockError, "system clock is before 1970");
    };

    let secret = match attempt.load_secret(&account) {
        Ok(s) => s,
        Err((Reason::NoSecret, detail)) if config.nullok => {
            attempt.log(
                host,
                Level::Info,
                Reason::NoSecret,
                &format!("{detail}; nullok: not asking"),
            );
            return Verdict::Ignore;
        }
        Err((reason, detail)) => return attempt.deny_after_prompt(host, reason, &detail),
    };

    if config.debug {
        let detail = format!(
            "secret file for uid {} read ({}, {} recovery codes); state in {}",
            account.uid,
            match secret.kind {
                crate::secret_file::Kind::Totp { .. } => "totp",
                crate::secret_file::Kind::Hotp { .. } => "hotp",
            },
            secret.recovery.len(),
            args::sanitize(&config.state_dir.to_string_lossy()),
        );
        host.log(
            Level::Debug,
            &format!(
                "debug user={} rhost={}: {detail}",
                attempt.user, attempt.rhost
            ),
        );
    }
    let Some(input) = attempt.read_code(host, &secret) else {
        return Verdict::ConvFailed;
    };
    attempt.decide(host, &account, &secret, &input, elapsed.as_secs())
}

struct Attempt<'c> {
    user: String,
    rhost: String,
    config: &'c Config,
}

impl Attempt<'_> {
    fn log(&self, host: &mut dyn Host, level: Level, reason: Reason, detail: &str) {
        host.log(
            level,
            &format!(
                "{} user={} rhost={}: {detail}",
                reason.word(),
                self.user,
                self.rhost
            ),
        );
    }

    /// Users without a usable secret are asked all the same, so that the prompt does not
    /// reveal who is enrolled; then they are refused.
    fn deny_after_prompt(&self, host: &mut dyn Host, reason: Reason, detail: &str) -> Verdict {
        if self.config.code_source != CodeSource::UseFirstPass {
            // The answer is irrelevant; it is wiped on drop.
            drop(host.ask(&self.config.prompt));
        }
        self.log(host, Level::Warning, reason, detail);
        Verdict::Deny(reason)
    }

    fn load_secret(&self, account: &Account) -> Result<SecretFile, (Reason, String)> {
        let path = self.config.secret_path(account).ok_or_else(|| {
            (
                Reason::BadSecretFile,
                "secret path does not expand to a safe absolute path".to_string(),
            )
        })?;
        let shown = args::sanitize(&path.to_string_lossy());
        let bytes = if self.config.secret_is_users() {
            fsafe::read_users_file(account, &path, MAX_FILE_SIZE)
        } else {
            fsafe::read_private_file(&path, nix::unistd::geteuid().as_raw(), MAX_FILE_SIZE)
        };
        let bytes = bytes.map_err(|e| match e {
            ReadError::NotFound => (Reason::NoSecret, format!("{shown}: no secret file")),
            ReadError::NoDirectory => self.missing_directory(account, &shown),
            other => (Reason::BadSecretFile, format!("{shown}: {other}")),
        })?;
        let secret = SecretFile::parse(&bytes)
            .map_err(|e| (Reason::BadSecretFile, format!("{shown}: {e}")))?;
        secret
            .check_strength(self.config.min_secret_bits)
            .map_err(|e| (Reason::BadSecretFile, format!("{shown}: {e}")))?;
        Ok(secret)
    }

    /// The secret file's directory is missing. That means "not enrolled" only when the home
    /// (or the store) is there: a home that is not mounted, or a store that is gone, would
    /// otherwise make every enrolled user look unenrolled, and `nullok` would skip the code.
    fn missing_directory(&self, account: &Account, shown: &str) -> (Reason, String) {
        let base = self.config.secret_base(account);
        let base_shown = args::sanitize(&base.to_string_lossy());
        let what = if self.config.secret_is_users() {
            "the home directory"
        } else {
            "the secret store"
        };
        match fsafe::directory_exists(&base) {
            Ok(true) => (
                Reason::NoSecret,
                format!("{shown}: no secret file (its directory does not exist)"),
            ),
            Ok(false) => (
                Reason::BadSecretFile,
                format!(
                    "{shown}: {what} {base_shown} does not exist (not mounted?); \
                     refusing, even with nullok"
                ),
            ),
            Err(e) => (
                Reason::BadSecretFile,
                format!("{shown}: {what} {base_shown}: {e}; refusing, even with nullok"),
            ),
        }
    }

    /// The code from PAM_AUTHTOK or the conversation; `None` (logged) when there is none.
    fn read_code(&self, host: &mut dyn Host, secret: &SecretFile) -> Option<Zeroizing<Vec<u8>>> {
        let from_stack = match self.config.code_source {
            CodeSource::Prompt => None,
            CodeSource::TryFirstPass => host.authtok().filter(|t| looks_like_code(t, secret)),
            CodeSource::UseFirstPass => match host.authtok() {
                Some(t) => Some(t),
                None => {
                    self.log(
                        host,
                        Level::Warning,
                        Reason::NoAuthtok,
                        "use_first_pass but no earlier module set a token",
                    );
                    return None;
                }
            },
        };
        if from_stack.is_some() {
            return from_stack;
        }
        let answer = host.ask(&self.config.prompt);
        if answer.is_none() {
            self.log(
                host,
                Level::Warning,
                Reason::ConvError,
                "the conversation failed or gave no answer",
            );
        }
        answer
    }

    fn decide(
        &self,
        host: &mut dyn Host,
        account: &Account,
        secret: &SecretFile,
        input: &[u8],
        now: u64,
    ) -> Verdict {
        let policy = self.config.policy;
        let store = FileStore::new(&self.config.state_dir, self.config.lock_timeout);
        let mut decision = None;
        let saved = store.transact(account.uid, &mut |state| {
            let d = verify::decide(secret, state, now, input, &policy);
            let next = d.state.clone();
            decision = Some(d);
            next
        });
        let decision = match (saved, decision) {
            (Ok(_), Some(d)) => d,
            (Err(e), _) => {
                let detail = format!("{}: {e}", args::sanitize(&store.dir().to_string_lossy()));
                self.log(host, Level::Error, Reason::StateError, &detail);
                return Verdict::Deny(Reason::StateError);
            }
            (Ok(_), None) => {
                self.log(
                    host,
                    Level::Error,
                    Reason::StateError,
                    "no decision was taken",
                );
                return Verdict::Deny(Reason::StateError);
            }
        };
        let lock_note = decision.locked_now.map_or(String::new(), |until| {
            format!("; locked out for {} s", until.saturating_sub(now))
        });
        let (reason, detail) = match decision.outcome {
            Ok(method) => {
                let via = match method {
                    Method::Totp => "time-based code",
                    Method::Hotp => "counter-based code",
                    Method::Recovery => "recovery code (now spent)",
                };
                self.log(host, Level::Info, Reason::Ok, &format!("accepted {via}"));
                return Verdict::Success;
            }
            Err(Denial::BadCode) => {
                let why = if input.len() > MAX_INPUT_LEN {
                    "input too long"
                } else {
                    "wrong code"
                };
                // A lock-out resets the running count; report the count that triggered it.
                let failures = match decision.locked_now {
                    Some(_) => policy.max_failures,
                    None => decision.state.failures,
                };
                let max = policy.max_failures;
                (
                    Reason::BadCode,
                    format!("{why} ({failures} of {max} failures){lock_note}"),
                )
            }
            Err(Denial::Replay) => (Reason::Replay, format!("code already used{lock_note}")),
            Err(Denial::Locked { until }) => (
                Reason::Locked,
                format!(
                    "too many failures; locked for {} more s",
                    until.saturating_sub(now)
                ),
            ),
        };
        self.log(host, Level::Notice, reason, &detail);
        Verdict::Deny(reason)
    }
}

/// Whether a token from an earlier module has the shape of a code for this secret. Only
/// numeric codes qualify: a 12-letter password would look like a recovery code, and trying
/// it would count a failure against the user. Recovery codes are typed at the prompt.
fn looks_like_code(token: &[u8], secret: &SecretFile) -> bool {
    let digits = token.iter().filter(|b| **b != b' ').count();
    token.iter().all(|b| b.is_ascii_digit() || *b == b' ') && digits == secret.digits as usize
}

#[cfg(test)]
mod tests;
