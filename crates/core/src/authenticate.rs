//! One authentication attempt, from module arguments to verdict, written against a small
//! [`Host`] trait so that every path runs in unit tests without libpam or root.
//!
//! Order matters: the secret file is read before prompting (so `nullok` can skip the prompt),
//! the code is read with no lock held, and only then is the user's state locked, decided
//! and saved.

use std::time::SystemTime;

use zeroize::Zeroizing;

use crate::args::{CodeSource, Config};
use crate::audit;
use crate::config_file::{self, Secrets};
use crate::log_text;
use crate::otp::{MAX_DIGITS, MIN_DIGITS};
use crate::record::{self, lockout_text};
use crate::secret_file::SecretFile;
use crate::state::{State, MAX_SPENT};
use crate::store::StateKey;
use crate::userdb::{self, Account};
use crate::verify::{self, Denial, Method, MAX_INPUT_LEN};

/// Syslog priority of a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// The module cannot work as configured (bad arguments).
    Error,
    /// A refusal.
    Warning,
    /// Reserved for events an admin should see without a refusal.
    Notice,
    /// An accepted code, or `nullok` letting an unenrolled user through.
    Info,
    /// The `debug` argument's extra line.
    Debug,
}

/// What the module needs from the application it runs in.
pub trait Host {
    /// The user being authenticated (may ask the application), as the application gave it:
    /// not necessarily UTF-8 (sshd passes on whatever name a client sends).
    fn user(&mut self) -> Option<Vec<u8>>;
    /// The remote host, if the application set one; not necessarily UTF-8.
    fn remote_host(&self) -> Option<Vec<u8>>;
    /// PAM_AUTHTOK left by an earlier module.
    fn authtok(&self) -> Option<Zeroizing<Vec<u8>>>;
    /// Asks the user with echo off. `None`: the conversation failed or gave no answer.
    fn ask(&mut self, prompt: &str) -> Option<Zeroizing<Vec<u8>>>;
    /// Writes one log line (the host adds the module/service prefix).
    fn log(&mut self, level: Level, line: &str);
    /// Shows the user a message that needs no answer (PAM_ERROR_MSG).
    fn inform(&mut self, text: &str);
    /// Writes audit records of lock-outs (see [`audit`]); never fails the login.
    fn audit(&mut self, events: &[audit::Event]) -> audit::Outcome;
    /// The PAM service (`sshd`, `sudo`, …), handed to the delivery helper.
    fn service(&self) -> Option<Vec<u8>> {
        None
    }
    /// The time now, read again when an answer comes long after the attempt began (a code
    /// sent out of band expires while the user waits). `None`: the attempt's own time.
    fn now(&self) -> Option<SystemTime> {
        None
    }
}

/// The stable reason words that start every log line (part of the interface: alerting and
/// fail2ban rules match them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// A valid code or an unused recovery code was accepted.
    Ok,
    /// Not a valid code (or recovery code) for this user.
    BadCode,
    /// A valid code that was already used, or older than the last one used.
    Replay,
    /// Too many failures: refused without looking at the code.
    Locked,
    /// The user has no secret file (accepted as "not enrolled" only with `nullok`).
    NoSecret,
    /// The secret file is unsafe (owner, mode, links, type) or malformed.
    BadSecretFile,
    /// The state could not be read, locked or saved; never reset silently.
    StateError,
    /// No such account.
    UnknownUser,
    /// A module argument or the configuration file (its settings, its owner or mode, the
    /// password file it names) is unknown, malformed or unsafe: every login is refused.
    BadArgs,
    /// The conversation failed or gave no answer.
    ConvError,
    /// `use_first_pass`, but no earlier module set a token.
    NoAuthtok,
    /// The system clock is before 1970.
    ClockError,
    /// `fail_mode=local`: the shared store could not be reached, so this host's state was
    /// used (a line of its own before the attempt's line; never a verdict).
    FleetFallback,
    /// A code sent out of band was asked for too soon or too often: refused, and the user
    /// is told when to try again.
    SendLimit,
    /// The delivery helper failed, timed out or could not be started, for every contact.
    DeliverFailed,
    /// The code sent out of band was typed after it expired (counted as a failure).
    CodeExpired,
}

impl Reason {
    /// Every reason, for tables and tests.
    pub const ALL: [Reason; 16] = [
        Reason::Ok,
        Reason::BadCode,
        Reason::Replay,
        Reason::Locked,
        Reason::NoSecret,
        Reason::BadSecretFile,
        Reason::StateError,
        Reason::UnknownUser,
        Reason::BadArgs,
        Reason::ConvError,
        Reason::NoAuthtok,
        Reason::ClockError,
        Reason::FleetFallback,
        Reason::SendLimit,
        Reason::DeliverFailed,
        Reason::CodeExpired,
    ];

    /// The word that starts the log line.
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
            Reason::FleetFallback => "fleet_fallback",
            Reason::SendLimit => "send_limit",
            Reason::DeliverFailed => "deliver_failed",
            Reason::CodeExpired => "code_expired",
        }
    }

    /// The reason a log line's first word names, if any.
    pub fn from_word(word: &str) -> Option<Reason> {
        Reason::ALL.into_iter().find(|r| r.word() == word)
    }
}

/// The module's answer; the PAM layer maps it to a return code in one place. Every refusal
/// carries the reason that was logged for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// A valid code.
    Success,
    /// `nullok` and no secret file: let the rest of the stack decide.
    Ignore,
    /// Refused, for the given reason (never [`Reason::Ok`]).
    Deny(Reason),
}

/// Runs one attempt. Every path ends in exactly one log line with a reason word.
pub fn authenticate<'a>(
    host: &mut dyn Host,
    raw_args: impl IntoIterator<Item = &'a [u8]>,
    now: SystemTime,
) -> Verdict {
    authenticate_using(host, raw_args, now, Stores::open)
}

/// [`authenticate`] with the state store made by `open_store` from the configuration.
pub fn authenticate_using<'a>(
    host: &mut dyn Host,
    raw_args: impl IntoIterator<Item = &'a [u8]>,
    now: SystemTime,
    open_store: impl FnOnce(&Config) -> Stores,
) -> Verdict {
    // `-` for a missing value; a value that is `-` itself is quoted (see log_text).
    let user = host.user();
    let user_shown = user
        .as_deref()
        .map_or_else(|| "-".to_string(), log_text::escape);
    let rhost = host
        .remote_host()
        .map_or_else(|| "-".to_string(), log_text::escape);
    // The configuration file, then the module line over it: one reason word for both.
    let config = match config_file::load(raw_args, Secrets::Read) {
        Ok(c) => c,
        Err(e) => {
            let detail = format!("{e}; refusing every login");
            let line = log_line(Reason::BadArgs.word(), &rhost, &user_shown, &detail);
            host.log(Level::Error, &line);
            return Verdict::Deny(Reason::BadArgs);
        }
    };
    let stores = open_store(&config);
    let attempt = Attempt {
        user: user_shown,
        rhost,
        rhost_raw: host.remote_host(),
        config: &config,
        stores: &stores,
    };
    let Some(user) = user else {
        return attempt.deny_after_prompt(
            host,
            Reason::UnknownUser,
            "the application gave no user name",
        );
    };
    let Ok(user) = String::from_utf8(user) else {
        return attempt.deny_after_prompt(host, Reason::UnknownUser, "the user name is not UTF-8");
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

    let file = match load_secret(&config, &account) {
        Ok(s) => s,
        Err(e @ SecretError::NotEnrolled { .. }) if config.nullok => {
            attempt.log(
                host,
                Level::Info,
                e.reason(),
                &format!("{e}; nullok: not asking"),
            );
            return Verdict::Ignore;
        }
        Err(e) => return attempt.deny_after_prompt(host, e.reason(), &e.to_string()),
    };

    if config.debug {
        let detail = format!(
            "secret file for uid {} read ({}, {} recovery codes, {} delivery contacts); state in {}",
            account.uid,
            match file.secret.as_ref().map(|s| s.kind) {
                Some(crate::secret_file::Kind::Totp { .. }) => "totp",
                Some(crate::secret_file::Kind::Hotp { .. }) => "hotp",
                None => "no secret",
            },
            file.secret.as_ref().map_or(0, |s| s.recovery.len()),
            file.deliveries.contacts().len(),
            log_text::escape(stores.location().as_bytes()),
        );
        host.log(
            Level::Debug,
            &log_line("debug", &attempt.rhost, &attempt.user, &detail),
        );
    }
    let now = elapsed.as_secs();
    // A user with contacts only is sent a code at once; a user with both is offered one
    // (an empty answer asks for it); a user without contacts never sees the difference.
    let Some(secret) = &file.secret else {
        return delivery::send_and_check(&attempt, host, &account, &file.deliveries, now);
    };
    let prompt = match file.deliveries.contacts().first() {
        Some(first) => delivery::offer_prompt(first.channel()),
        None => config.prompt.clone(),
    };
    let input = match attempt.read_code(host, secret, &prompt) {
        Ok(input) => input,
        Err(reason) => return Verdict::Deny(reason),
    };
    if input.is_empty() && !file.deliveries.is_empty() {
        return delivery::send_and_check(&attempt, host, &account, &file.deliveries, now);
    }
    attempt.decide(host, &account, secret, &input, now)
}

/// The state file written when a user without a usable secret is refused: `(uid_t)-1`,
/// which no account can have. An enrolled user's wrong code costs a durable state save (one
/// `fdatasync`: 0.1 to 0.2 ms on a fast disk, milliseconds on a rotating one); without
/// this, a refusal of an unknown or unenrolled user would be that much faster, and the time
/// between typing a code and being refused would tell who is enrolled. libpam's failure
/// delay does not hide it: before Linux-PAM 1.6 it is the same for every attempt started in
/// the same second, and it is slept after the stack, not up to a deadline.
pub use crate::store::DECOY_UID;

/// One log line: `<word> rhost=<host> user=<name>: <detail>`, the values already escaped
/// by [`log_text::escape`]. The remote host comes first, so that a filter matching the first
/// `rhost=` can never be led to a value taken from the user name.
fn log_line(word: &str, rhost: &str, user: &str, detail: &str) -> String {
    format!("{word} rhost={rhost} user={user}: {detail}")
}

struct Attempt<'c> {
    user: String,
    rhost: String,
    /// PAM_RHOST as given, for the state's record of the last failure.
    rhost_raw: Option<Vec<u8>>,
    config: &'c Config,
    stores: &'c Stores,
}

impl Attempt<'_> {
    fn log(&self, host: &mut dyn Host, level: Level, reason: Reason, detail: &str) {
        host.log(
            level,
            &log_line(reason.word(), &self.rhost, &self.user, detail),
        );
    }

    /// Users without a usable secret are asked all the same, so that the prompt does not
    /// reveal who is enrolled; then they are refused, after a save of the decoy state (see
    /// [`DECOY_UID`]), so that the response time does not reveal it either.
    fn deny_after_prompt(&self, host: &mut dyn Host, reason: Reason, detail: &str) -> Verdict {
        // Ask exactly when an enrolled user would be asked: never with use_first_pass, and
        // with try_first_pass only if the earlier module's token does not look like a code
        // (an enrolled user with such a token is not asked; without a secret, "a code" is
        // any length a secret may have).
        let token_is_the_code = match self.config.code_source {
            CodeSource::UseFirstPass => true,
            CodeSource::TryFirstPass => host.authtok().is_some_and(|t| code_shaped(&t)),
            CodeSource::Prompt => false,
        };
        if !token_is_the_code {
            // The answer is irrelevant; it is wiped on drop.
            drop(host.ask(&self.config.prompt));
        }
        let fell_back = self.save_decoy();
        self.report_fallback(host, fell_back.as_deref());
        self.log(host, Level::Warning, reason, detail);
        Verdict::Deny(reason)
    }

    /// One durable save of the decoy state, for a refusal that saves nothing of the user's
    /// own, so that every refusal costs the same (see [`DECOY_UID`]).
    /// Returns why the shared store was not used, if it fell back: a refusal that saved
    /// nothing else reports it as an enrolled user's attempt would.
    fn save_decoy(&self) -> Option<String> {
        // The user is refused whatever happens to the decoy, so its errors do not matter.
        let saved = self.stores.transact(StateKey::DECOY, &mut |state| State {
            failures: state.failures.wrapping_add(1),
            ..state.clone()
        });
        saved.fell_back
    }

    /// The `fleet_fallback` line, when the shared store could not be reached.
    fn report_fallback(&self, host: &mut dyn Host, why: Option<&str>) {
        if let Some(why) = why {
            let local = self.stores.fallback_location().unwrap_or_default();
            let detail = format!(
                "{why}; fail_mode=local: used this host's state in {} (replay and lock-out \
                 hold for this host only until the shared store is back)",
                log_text::escape(local.as_bytes())
            );
            self.log(host, Level::Warning, Reason::FleetFallback, &detail);
        }
    }

    /// Writes the audit records of what this attempt did to the lock-out; a note for the
    /// log line when auditing is there but refused them (nothing when it is not there).
    fn audit(&self, host: &mut dyn Host, uid: u32, events: &record::Events) -> String {
        let mut list = Vec::new();
        if events.lock_ended {
            list.push(audit::Event::UnlockTimed {
                uid,
                rhost: self.rhost_raw.clone(),
            });
        }
        if events.locked_until.is_some() {
            list.push(audit::Event::Failures { uid });
            list.push(audit::Event::Locked { uid });
        }
        if list.is_empty() {
            return String::new();
        }
        match host.audit(&list) {
            audit::Outcome::Sent | audit::Outcome::Unavailable => String::new(),
            audit::Outcome::Failed(errno) => format!(
                "; audit record not written: {}",
                nix::errno::Errno::from_raw(errno).desc()
            ),
        }
    }

    /// The code from PAM_AUTHTOK or the conversation; the (logged) reason when there is none.
    fn read_code(
        &self,
        host: &mut dyn Host,
        secret: &SecretFile,
        prompt: &str,
    ) -> Result<Zeroizing<Vec<u8>>, Reason> {
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
                    return Err(Reason::NoAuthtok);
                }
            },
        };
        if let Some(token) = from_stack {
            return Ok(token);
        }
        self.ask(host, prompt)
    }

    /// Asks `prompt`; the (logged) reason when there is no answer.
    fn ask(&self, host: &mut dyn Host, prompt: &str) -> Result<Zeroizing<Vec<u8>>, Reason> {
        host.ask(prompt).ok_or_else(|| {
            self.log(
                host,
                Level::Warning,
                Reason::ConvError,
                "the conversation failed or gave no answer",
            );
            Reason::ConvError
        })
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
        let named = !secret.named.is_empty();
        self.settle(host, account, input, now, named, "", &mut |state| {
            verify::decide(secret, state, now, input, &policy)
        })
    }

    /// Takes the user's lock, runs `judge` on the state, records the attempt and saves it
    /// (one transaction), then reports: audit records, the lock-out message, one log line
    /// (its detail followed by `note`) and the verdict. `named`: the file has named tokens
    /// (the line says which one logged in).
    #[allow(clippy::too_many_arguments)]
    fn settle(
        &self,
        host: &mut dyn Host,
        account: &Account,
        input: &[u8],
        now: u64,
        named: bool,
        note: &str,
        judge: &mut dyn FnMut(&State) -> verify::Decision,
    ) -> Verdict {
        let policy = self.config.policy;
        let mut decision = None;
        let mut events = record::Events::default();
        let mut changed = false;
        let key = StateKey {
            uid: account.uid,
            name: &account.name,
        };
        let saved = self.stores.transact(key, &mut |state| {
            let mut d = judge(state);
            events = record::record(state, &mut d, self.rhost_raw.as_deref(), now);
            let next = d.state.clone();
            changed = next != *state;
            decision = Some(d);
            next
        });
        self.report_fallback(host, saved.fell_back.as_deref());
        let decision = match (saved.result, decision) {
            (Ok(_), Some(d)) => d,
            (Err(e), _) => {
                let location = match saved.fell_back {
                    Some(_) => self.stores.fallback_location().unwrap_or_default(),
                    None => self.stores.location(),
                };
                let detail = format!("{}: {e}", log_text::escape(location.as_bytes()));
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
        if decision.outcome.is_err() && !changed {
            // Nothing of the user's was saved (every count saturated, in the same second
            // from the same host): pay for a save all the same, as every refusal does.
            // (A fallback was reported already, for the user's own transaction.)
            let _ = self.save_decoy();
        }
        let audit_note = self.audit(host, account.uid, &events);
        let mut lock_note = decision.locked_now.map_or(String::new(), |until| {
            format!("; locked out for {} s", until.saturating_sub(now))
        });
        lock_note.push_str(&audit_note);
        let locked_until = match decision.outcome {
            Err(Denial::Locked { until }) => Some(until),
            _ => decision.locked_now,
        };
        if let (true, Some(until)) = (self.config.lockout_message, locked_until) {
            host.inform(&lockout_text(until.saturating_sub(now)));
        }
        let (reason, detail) = match decision.outcome {
            Ok(method) => {
                let via = match method {
                    Method::Totp => "time-based code",
                    Method::Hotp => "counter-based code",
                    Method::Recovery => "recovery code (now spent)",
                    Method::Delivered => "code sent out of band",
                };
                // With several tokens, say which one (a name is letters, digits, '.', '_'
                // and '-' only, so it cannot forge a field).
                let from = match (&decision.token, named) {
                    (Some(name), true) => {
                        format!(" from token '{}'", log_text::escape(name.as_bytes()))
                    }
                    _ => String::new(),
                };
                self.log(
                    host,
                    Level::Info,
                    Reason::Ok,
                    &format!("accepted {via}{from}{note}"),
                );
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
                    format!("{why} ({failures} of {max} failures){lock_note}{note}"),
                )
            }
            Err(Denial::Replay) => (
                Reason::Replay,
                format!("code already used{lock_note}{note}"),
            ),
            Err(Denial::Expired) => {
                let failures = match decision.locked_now {
                    Some(_) => policy.max_failures,
                    None => decision.state.failures,
                };
                let max = policy.max_failures;
                (
                    Reason::CodeExpired,
                    format!(
                        "the code sent out of band expired ({failures} of {max} failures){lock_note}{note}"
                    ),
                )
            }
            Err(Denial::Locked { until }) => {
                // Not counted as a failure, but counted as a locked refusal (with its time
                // and host), so it saved the user's own state: it costs what any refusal
                // costs, with no decoy save (see `record`).
                (
                    Reason::Locked,
                    format!(
                        "too many failures; locked for {} more s{audit_note}",
                        until.saturating_sub(now)
                    ),
                )
            }
            Err(Denial::TooManySpent) => (
                Reason::Replay,
                format!(
                    "recovery code refused: {MAX_SPENT} recovery codes of this secret are \
                     already spent; enrol a new secret{lock_note}"
                ),
            ),
            Err(Denial::CounterUnknown) => {
                // Nothing the user can type fixes this: it is the administrator's to act on.
                let detail = format!(
                    "the HOTP counter of this secret is not known (state repaired, or its \
                     history forgotten); root must resynchronise it: pam-otp repair USER \
                     --hotp-counter N{lock_note}"
                );
                self.log(host, Level::Error, Reason::StateError, &detail);
                return Verdict::Deny(Reason::StateError);
            }
        };
        self.log(host, Level::Notice, reason, &detail);
        Verdict::Deny(reason)
    }
}

/// Whether a token from an earlier module has the shape of a code for this secret. Only
/// numeric codes qualify: a 12-letter password would look like a recovery code, and trying
/// it would count a failure against the user. Recovery codes are typed at the prompt.
fn looks_like_code(token: &[u8], secret: &SecretFile) -> bool {
    let digits = numeric_digits(token);
    secret
        .tokens()
        .iter()
        .any(|t| digits == Some(t.digits as usize))
}

/// Whether a token looks like a code of some secret: 6 to 8 digits (spaces allowed).
fn code_shaped(token: &[u8]) -> bool {
    numeric_digits(token).is_some_and(|n| (MIN_DIGITS as usize..=MAX_DIGITS as usize).contains(&n))
}

/// How many digits a token of digits and spaces has; `None` for anything else.
fn numeric_digits(token: &[u8]) -> Option<usize> {
    token
        .iter()
        .all(|b| b.is_ascii_digit() || *b == b' ')
        .then(|| token.iter().filter(|b| **b != b' ').count())
}

mod delivery;
mod load_secret;
mod stores;
use load_secret::{load_secret, SecretError};
pub use stores::{Stores, Transacted};

#[cfg(test)]
mod audit_events_tests;
#[cfg(test)]
mod tests;

#[cfg(test)]
mod fallback_tests;
