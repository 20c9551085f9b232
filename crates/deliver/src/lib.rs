//! The library behind `pam-otp-deliver` (src/main.rs only calls [`main`]): sends one
//! one-time code to one contact, then exits (pam-otp-deliver(8), ARCHITECTURE.md
//! "Out-of-band codes"). A library so that the fuzz targets (fuzz/checks.rs) reach the
//! parsers of deliver.conf and of the providers' answers; never linked into the PAM module.
//!
//! Started by pam_otp (`pam_otp_core::oob::spawn`) with an empty environment but
//! `PAM_OTP_USER`, `PAM_OTP_CHANNEL`, `PAM_OTP_CONTACT`, `PAM_OTP_SERVICE`,
//! `PAM_OTP_EXPIRES` (and optionally `PAM_OTP_DELIVER_CONF`), the code as one line on stdin,
//! as an unprivileged user. Exit status: `pam_otp_core::oob::exit`. On failure, one short
//! line on stderr that never holds the code or a credential.
//!
//! A provider that makes and checks its own code (Twilio Verify, Vonage Verify, Arkesel
//! OTP) is asked to send one; the helper then prints `verify HANDLE` on stdout. Started
//! again with `PAM_OTP_CHECK=HANDLE` and the code the user typed on stdin, it asks the
//! provider and exits 0 (approved), `CODE_REJECTED` or `CODE_EXPIRED`. Rate limited, it
//! exits `RATE_LIMITED` and prints `retry-after N` when the provider said how long.

pub mod config;
pub mod email;
pub mod http;
pub mod message;
pub mod providers;

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use pam_otp_core::oob::contact::{Channel, Contact};
use pam_otp_core::oob::exit;
use pam_otp_core::oob::spawn::{
    is_handle, CHECK_DIGITS, ENV_CHANNEL, ENV_CHECK, ENV_CONF, ENV_CONTACT, ENV_EXPIRES,
    ENV_SERVICE, ENV_USER,
};
use zeroize::Zeroizing;

/// Why the code was not delivered: an exit status and one line for stderr.
#[derive(Debug)]
pub struct Failure {
    pub status: i32,
    pub message: String,
    /// Rate limited: the seconds the provider asked us to wait, when it said.
    pub retry_after: Option<u64>,
}

impl Failure {
    pub fn new(status: i32, message: impl Into<String>) -> Failure {
        Failure {
            status,
            message: message.into(),
            retry_after: None,
        }
    }
    pub fn rate_limited(retry_after: Option<u64>, message: impl Into<String>) -> Failure {
        Failure {
            retry_after,
            ..Failure::new(exit::RATE_LIMITED, message)
        }
    }
    pub fn bad_contact(message: impl Into<String>) -> Failure {
        Failure::new(exit::BAD_CONTACT, message)
    }
    pub fn config(message: impl Into<String>) -> Failure {
        Failure::new(exit::BAD_CONFIG, message)
    }
    pub fn refused(message: impl Into<String>) -> Failure {
        Failure::new(exit::REFUSED, message)
    }
    pub fn unreachable(message: impl Into<String>) -> Failure {
        Failure::new(exit::UNREACHABLE, message)
    }
}

/// Everything one delivery needs.
pub struct Job {
    pub user: String,
    pub contact: Contact,
    pub service: String,
    pub expires_at: u64,
    /// Unix seconds when the helper started.
    pub now: u64,
    /// Send mode: the code to deliver. Check mode: the code the user typed.
    pub code: Zeroizing<String>,
    /// Check mode: the provider's handle, from the `verify HANDLE` line of the send.
    pub check: Option<String>,
}

fn var(name: &str) -> Result<String, Failure> {
    std::env::var(name).map_err(|_| Failure::new(exit::USAGE, format!("{name} is not set")))
}

/// The job the environment and stdin describe.
pub fn job() -> Result<Job, Failure> {
    let user = var(ENV_USER)?;
    let service = var(ENV_SERVICE)?;
    let channel = var(ENV_CHANNEL)?;
    let channel = Channel::from_name(&channel)
        .ok_or_else(|| Failure::new(exit::USAGE, format!("{ENV_CHANNEL}: unknown channel")))?;
    let contact = Contact::new(channel, &var(ENV_CONTACT)?)
        .map_err(|e| Failure::new(exit::BAD_CONTACT, format!("{ENV_CONTACT}: {e}")))?;
    let expires_at = pam_otp_core::decimal::parse_decimal(&var(ENV_EXPIRES)?)
        .ok_or_else(|| Failure::new(exit::USAGE, format!("{ENV_EXPIRES}: not a time")))?;
    for (name, value) in [(ENV_USER, &user), (ENV_SERVICE, &service)] {
        if value.is_empty() || value.len() > 256 || value.contains(char::is_control) {
            return Err(Failure::new(exit::USAGE, format!("{name}: unusable")));
        }
    }
    // Present but not a handle (not even UTF-8) is an error, never send mode.
    let check = match std::env::var_os(ENV_CHECK) {
        Some(h) => Some(
            h.to_str()
                .filter(|h| is_handle(h))
                .map(str::to_owned)
                .ok_or_else(|| Failure::new(exit::USAGE, format!("{ENV_CHECK}: not a handle")))?,
        ),
        None => None,
    };
    // One line of 6-8 digits (a code we made) or, in check mode, of 4-10 (what the user
    // typed for the provider's code); more than a small bound is not a code.
    let digits_allowed = if check.is_some() { CHECK_DIGITS } else { 6..=8 };
    let mut raw = Zeroizing::new(Vec::with_capacity(16));
    std::io::stdin()
        .take(16)
        .read_to_end(&mut raw)
        .map_err(|_| Failure::new(exit::USAGE, "cannot read the code on stdin"))?;
    let digits = raw.strip_suffix(b"\n").unwrap_or(&raw);
    if !digits_allowed.contains(&digits.len()) || !digits.iter().all(u8::is_ascii_digit) {
        return Err(Failure::new(
            exit::USAGE,
            "stdin does not hold one code line",
        ));
    }
    let code = Zeroizing::new(String::from_utf8_lossy(digits).into_owned());
    // The helper is an edge like the PAM hook: it reads the clock once, here (for the
    // webhook's timestamp and the message's "expires in").
    #[allow(clippy::disallowed_methods)]
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    Ok(Job {
        user,
        contact,
        service,
        expires_at,
        now,
        code,
        check,
    })
}

/// The whole run: the job, the configuration, the delivery (or check).
pub fn run() -> Result<(), Failure> {
    if std::env::args_os().len() > 1 {
        return Err(Failure::new(
            exit::USAGE,
            "takes no arguments (see pam-otp-deliver(8))",
        ));
    }
    let job = job()?;
    let path = std::env::var_os(ENV_CONF)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(config::DEFAULT_PATH));
    let config = config::load(&path)?;
    if let Some(handle) = &job.check {
        return match providers::check(&config, &job, handle)? {
            providers::Verdict::Approved => {
                // The caller takes approval only from exit 0 *and* this line.
                println!("{}", pam_otp_core::oob::spawn::APPROVED);
                Ok(())
            }
            providers::Verdict::Rejected => Err(Failure::new(
                exit::CODE_REJECTED,
                "the provider says the code is wrong",
            )),
            providers::Verdict::Expired => Err(Failure::new(
                exit::CODE_EXPIRED,
                "the provider has no pending verification (expired, used or too many tries)",
            )),
        };
    }
    let sent = match job.contact.channel() {
        Channel::Email => email::send(&config, &job).map(|()| providers::Sent::Delivered),
        Channel::Webhook => http::webhook(&config, &job).map(|()| providers::Sent::Delivered),
        Channel::Ntfy => http::ntfy(&config, &job).map(|()| providers::Sent::Delivered),
        Channel::Sms | Channel::Voice | Channel::Fcm => providers::send(&config, &job),
    }?;
    if let providers::Sent::Verify(handle) = sent {
        println!("verify {handle}");
    }
    Ok(())
}

/// The binary's `main`: [`run`], and on failure the `retry-after` line, the stderr line and
/// the exit status.
pub fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            if let Some(secs) = f.retry_after {
                println!("retry-after {secs}");
            }
            let line: String = f
                .message
                .chars()
                .filter(|c| !c.is_control())
                .take(200)
                .collect();
            eprintln!("pam-otp-deliver: {line}");
            ExitCode::from(u8::try_from(f.status).unwrap_or(70))
        }
    }
}
