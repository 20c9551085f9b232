//! The commercial providers behind the `sms`, `voice` and `fcm` channels: which one carries
//! a contact (deliver.conf's `sms_provider` / `voice_provider`; `fcm` is always Firebase
//! Cloud Messaging), and the two things a provider is asked: send a code, or check one it
//! made itself.
//!
//! Messaging APIs (Twilio Messaging, Vonage SMS, Arkesel SMS, FCM) carry our code.
//! Verification APIs (Twilio Verify, Vonage Verify v2, Arkesel OTP) make, send and check
//! their own: the send answers [`Sent::Verify`] with the provider's handle, and the login's
//! answer is checked with [`check`].

pub mod arkesel;
pub mod fcm;
pub mod jwt;
pub mod twilio;
pub mod vonage;

use pam_otp_core::oob::contact::Channel;

use crate::config::Config;
use crate::{Failure, Job};

/// Who carries an `sms:` or `voice:` contact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    /// Twilio Programmable Messaging: our code in a text.
    Twilio,
    /// Twilio Verify v2: Twilio's code, by text or call.
    TwilioVerify,
    /// Vonage SMS API: our code in a text.
    Vonage,
    /// Vonage Verify v2: Vonage's code, by text or call.
    VonageVerify,
    /// Arkesel SMS v2: our code in a text.
    Arkesel,
    /// Arkesel OTP API: Arkesel's code, by text or call.
    ArkeselOtp,
}

impl Provider {
    /// Every provider, as deliver.conf names them.
    pub const ALL: [Provider; 6] = [
        Provider::Twilio,
        Provider::TwilioVerify,
        Provider::Vonage,
        Provider::VonageVerify,
        Provider::Arkesel,
        Provider::ArkeselOtp,
    ];

    /// The name in deliver.conf.
    pub fn name(self) -> &'static str {
        match self {
            Provider::Twilio => "twilio",
            Provider::TwilioVerify => "twilio-verify",
            Provider::Vonage => "vonage",
            Provider::VonageVerify => "vonage-verify",
            Provider::Arkesel => "arkesel",
            Provider::ArkeselOtp => "arkesel-otp",
        }
    }

    /// The provider named `name`.
    pub fn from_name(name: &str) -> Option<Provider> {
        Provider::ALL.into_iter().find(|p| p.name() == name)
    }

    /// The company, whose settings block (`twilio_*`, …) it uses.
    pub fn company(self) -> &'static str {
        match self {
            Provider::Twilio | Provider::TwilioVerify => "twilio",
            Provider::Vonage | Provider::VonageVerify => "vonage",
            Provider::Arkesel | Provider::ArkeselOtp => "arkesel",
        }
    }

    /// Whether it makes and checks its own code.
    pub fn verifies(self) -> bool {
        matches!(
            self,
            Provider::TwilioVerify | Provider::VonageVerify | Provider::ArkeselOtp
        )
    }

    /// Whether it can read a code out in a phone call (the verification APIs can).
    pub fn calls(self) -> bool {
        self.verifies()
    }
}

/// What a send did.
#[derive(Debug, PartialEq, Eq)]
pub enum Sent {
    /// Our code went out.
    Delivered,
    /// The provider sent a code of its own; check the answer with this handle.
    Verify(String),
}

/// The provider's answer to a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The code is right.
    Approved,
    /// The code is wrong (the verification is still pending).
    Rejected,
    /// Nothing to check against any more: expired, already approved, too many tries.
    Expired,
}

/// The provider for `channel` (`sms` or `voice`).
fn provider_for(config: &Config, channel: Channel) -> Result<Provider, Failure> {
    let (slot, key) = match channel {
        Channel::Sms => (config.sms_provider, "sms_provider"),
        _ => (config.voice_provider, "voice_provider"),
    };
    slot.ok_or_else(|| Failure::config(format!("no {key} in the configuration")))
}

/// Sends to an `sms:`, `voice:` or `fcm:` contact.
pub fn send(config: &Config, job: &Job) -> Result<Sent, Failure> {
    let channel = job.contact.channel();
    if channel == Channel::Fcm {
        return fcm::send(config, job).map(|()| Sent::Delivered);
    }
    let call = channel == Channel::Voice;
    let number = job.contact.address();
    if !config.phone_prefixes.is_empty()
        && !config
            .phone_prefixes
            .iter()
            .any(|p| number.starts_with(p.as_str()))
    {
        return Err(Failure::bad_contact(format!(
            "{} is outside phone_prefixes: no text or call is sent there",
            masked(number)
        )));
    }
    match provider_for(config, channel)? {
        Provider::Twilio => twilio::message(config, job).map(|()| Sent::Delivered),
        Provider::TwilioVerify => twilio::verify_start(config, job, call).map(Sent::Verify),
        Provider::Vonage => vonage::sms(config, job).map(|()| Sent::Delivered),
        Provider::VonageVerify => vonage::verify_start(config, job, call).map(Sent::Verify),
        Provider::Arkesel => arkesel::sms(config, job).map(|()| Sent::Delivered),
        Provider::ArkeselOtp => arkesel::otp_generate(config, job, call).map(Sent::Verify),
    }
}

/// Checks the code the user typed (`job.code`) with the provider that sent its own.
pub fn check(config: &Config, job: &Job, handle: &str) -> Result<Verdict, Failure> {
    let channel = job.contact.channel();
    if !matches!(channel, Channel::Sms | Channel::Voice) {
        return Err(Failure::new(
            pam_otp_core::oob::exit::USAGE,
            format!("the {} channel has no provider-side check", channel.name()),
        ));
    }
    match provider_for(config, channel)? {
        Provider::TwilioVerify => twilio::verify_check(config, job, handle),
        Provider::VonageVerify => vonage::verify_check(config, job, handle),
        Provider::ArkeselOtp => arkesel::otp_verify(config, job, handle),
        p => Err(Failure::new(
            pam_otp_core::oob::exit::USAGE,
            format!("{} does not check codes: it carries ours", p.name()),
        )),
    }
}

/// The longest wait a provider may ask for that the helper sits out itself before trying
/// again (once): longer, and the module is told (`RATE_LIMITED`, `retry-after N`).
pub const MAX_RETRY_WAIT_SECS: u64 = 2;

/// Runs `attempt`; when it is rate limited and the provider said to wait at most
/// [`MAX_RETRY_WAIT_SECS`], sleeps that long and runs it once more (whatever that second
/// attempt answers is the answer). A rate limit without a stated wait, or with a longer
/// one, and every other failure, is returned at once. Every provider's requests go
/// through this: `super::with_one_retry(|| attempt())`.
pub fn with_one_retry<T>(mut attempt: impl FnMut() -> Result<T, Failure>) -> Result<T, Failure> {
    let failure = match attempt() {
        Err(f) => f,
        ok => return ok,
    };
    match retry_wait(&failure) {
        Some(wait) => {
            std::thread::sleep(std::time::Duration::from_secs(wait));
            attempt()
        }
        None => Err(failure),
    }
}

/// How long to wait before the one retry of `failure`, if it is worth one.
fn retry_wait(failure: &Failure) -> Option<u64> {
    if failure.status != pam_otp_core::oob::exit::RATE_LIMITED {
        return None;
    }
    failure.retry_after.filter(|&w| w <= MAX_RETRY_WAIT_SECS)
}

/// The digits of an E.164 number, without its `+` (Vonage and Arkesel want them so).
pub fn digits(number: &str) -> &str {
    number.strip_prefix('+').unwrap_or(number)
}

/// A number as our messages name it: its last two digits only (`•••67`).
pub fn masked(number: &str) -> String {
    format!("•••{}", &number[number.len().saturating_sub(2)..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(answers: Vec<Result<u32, Failure>>) -> (Result<u32, Failure>, usize) {
        let mut answers = answers.into_iter();
        let mut calls = 0;
        let got = with_one_retry(|| {
            calls += 1;
            answers.next().unwrap_or(Ok(99))
        });
        (got, calls)
    }

    #[test]
    fn a_short_rate_limit_is_retried_once() {
        let (got, calls) = run(vec![
            Err(Failure::rate_limited(Some(0), "x: rate limited")),
            Ok(7),
        ]);
        assert_eq!((got.ok(), calls), (Some(7), 2));
        // The second answer is final, even when rate limited again.
        let (got, calls) = run(vec![
            Err(Failure::rate_limited(Some(0), "x: rate limited")),
            Err(Failure::rate_limited(Some(1), "x: rate limited")),
            Ok(7),
        ]);
        let f = got.unwrap_err();
        assert_eq!(
            (f.status, f.retry_after, calls),
            (pam_otp_core::oob::exit::RATE_LIMITED, Some(1), 2)
        );
    }

    #[test]
    fn a_retry_sleeps_the_stated_wait() {
        let start = std::time::Instant::now();
        let (got, calls) = run(vec![Err(Failure::rate_limited(Some(1), "x")), Ok(1)]);
        assert_eq!((got.ok(), calls), (Some(1), 2));
        assert!(start.elapsed() >= std::time::Duration::from_secs(1));
    }

    #[test]
    fn long_or_unstated_waits_and_other_failures_are_not_retried() {
        for first in [
            Failure::rate_limited(Some(3), "x"),
            Failure::rate_limited(None, "x"),
            Failure::unreachable("x: server error (HTTP 503)"),
            Failure::refused("x"),
            Failure::config("x"),
        ] {
            let status = first.status;
            let (got, calls) = run(vec![Err(first), Ok(1)]);
            assert_eq!((got.unwrap_err().status, calls), (status, 1));
        }
        let (got, calls) = run(vec![Ok(5)]);
        assert_eq!((got.ok(), calls), (Some(5), 1));
    }

    #[test]
    fn names_round_trip() {
        for p in Provider::ALL {
            assert_eq!(Provider::from_name(p.name()), Some(p));
        }
        assert_eq!(Provider::from_name("Twilio"), None);
    }

    #[test]
    fn only_verification_apis_call() {
        let calling: Vec<_> = Provider::ALL.into_iter().filter(|p| p.calls()).collect();
        assert_eq!(
            calling,
            [
                Provider::TwilioVerify,
                Provider::VonageVerify,
                Provider::ArkeselOtp
            ]
        );
    }
}
