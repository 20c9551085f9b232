//! Twilio: Programmable Messaging (our code in a text) and Verify v2 (Twilio's code by
//! text or call, checked by Twilio).

use zeroize::Zeroizing;

use crate::config::{bad, Config, Keys};
use crate::{Failure, Job};

use super::Verdict;

/// Where Messaging is, unless `twilio_base_url` says otherwise.
pub const DEFAULT_BASE_URL: &str = "https://api.twilio.com";
/// Where Verify is, unless `twilio_verify_base_url` says otherwise.
pub const DEFAULT_VERIFY_BASE_URL: &str = "https://verify.twilio.com";

/// Who sends a Messaging text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sender {
    /// `From`: an E.164 number or an alphanumeric sender id.
    From(String),
    /// `MessagingServiceSid` (MG…): Twilio picks the number.
    Service(String),
}

/// The `twilio_*` settings.
#[derive(Debug)]
pub struct Settings {
    /// The account (AC…): the path of every Messaging request.
    pub account_sid: String,
    /// HTTP Basic user: the account sid, or an API key (SK…).
    pub auth_user: String,
    /// HTTP Basic password: the auth token, or the API key's secret.
    pub auth_secret: Zeroizing<String>,
    /// Messaging's sender; `None` when only Verify is used.
    pub sender: Option<Sender>,
    /// Verify's service (VA…); `None` when only Messaging is used.
    pub verify_service_sid: Option<String>,
    pub base_url: String,
    pub verify_base_url: String,
}

/// A Twilio sid: two upper-case letters then 32 hexadecimal digits.
fn is_sid(value: &str, prefix: &str) -> bool {
    value.len() == 34
        && value.starts_with(prefix)
        && value[2..].bytes().all(|b| b.is_ascii_hexdigit())
}

impl Settings {
    /// Takes the `twilio_*` keys; `None` when there is none.
    pub fn parse(keys: &mut Keys) -> Result<Option<Settings>, Failure> {
        let account_sid = keys.plain("twilio_account_sid");
        let auth_token = keys.secret("twilio_auth_token");
        let api_key = keys.plain("twilio_api_key");
        let api_secret = keys.secret("twilio_api_secret");
        let from = keys.plain("twilio_from");
        let service = keys.plain("twilio_messaging_service_sid");
        let verify_service_sid = keys.plain("twilio_verify_service_sid");
        let base_url = keys.https_url("twilio_base_url")?;
        let verify_base_url = keys.https_url("twilio_verify_base_url")?;
        let Some(account_sid) = account_sid else {
            let stray = auth_token.is_some()
                || api_key.is_some()
                || api_secret.is_some()
                || from.is_some()
                || service.is_some()
                || verify_service_sid.is_some()
                || base_url.is_some()
                || verify_base_url.is_some();
            return if stray {
                Err(bad("twilio settings without twilio_account_sid"))
            } else {
                Ok(None)
            };
        };
        if !is_sid(&account_sid, "AC") {
            return Err(bad("twilio_account_sid is not an account sid (AC…)"));
        }
        let (auth_user, auth_secret) = match (auth_token, api_key, api_secret) {
            (Some(token), None, None) => (account_sid.clone(), token),
            (None, Some(key), Some(secret)) => {
                if !is_sid(&key, "SK") {
                    return Err(bad("twilio_api_key is not an API key sid (SK…)"));
                }
                (key, secret)
            }
            _ => {
                return Err(bad(
                    "twilio needs twilio_auth_token, or twilio_api_key with twilio_api_secret",
                ))
            }
        };
        let sender = match (from, service) {
            (None, None) => None,
            (Some(from), None) => {
                let number = from.starts_with('+')
                    && pam_otp_core::oob::contact::Contact::parse(&format!("sms:{from}")).is_ok();
                let alphanumeric = (1..=11).contains(&from.len())
                    && from.bytes().all(|b| b.is_ascii_alphanumeric() || b == b' ')
                    && from.bytes().any(|b| b.is_ascii_alphabetic());
                if !number && !alphanumeric {
                    return Err(bad(
                        "twilio_from must be an E.164 number or an alphanumeric sender id (at most 11)",
                    ));
                }
                Some(Sender::From(from))
            }
            (None, Some(sid)) => {
                if !is_sid(&sid, "MG") {
                    return Err(bad(
                        "twilio_messaging_service_sid is not a messaging service sid (MG…)",
                    ));
                }
                Some(Sender::Service(sid))
            }
            (Some(_), Some(_)) => {
                return Err(bad(
                    "twilio_from and twilio_messaging_service_sid exclude each other",
                ))
            }
        };
        if let Some(sid) = &verify_service_sid {
            if !is_sid(sid, "VA") {
                return Err(bad(
                    "twilio_verify_service_sid is not a Verify service sid (VA…)",
                ));
            }
        }
        Ok(Some(Settings {
            account_sid,
            auth_user,
            auth_secret,
            sender,
            verify_service_sid,
            base_url: base_url.unwrap_or_else(|| DEFAULT_BASE_URL.to_owned()),
            verify_base_url: verify_base_url.unwrap_or_else(|| DEFAULT_VERIFY_BASE_URL.to_owned()),
        }))
    }

    /// Whether these settings can carry `provider` (Messaging needs a sender, Verify a
    /// service).
    pub fn supports(&self, provider: super::Provider) -> bool {
        match provider {
            super::Provider::Twilio => self.sender.is_some(),
            super::Provider::TwilioVerify => self.verify_service_sid.is_some(),
            _ => false,
        }
    }
}

/// Messaging: our code in a text to `job.contact`.
pub fn message(config: &Config, job: &Job) -> Result<(), Failure> {
    let _ = (config, job);
    Err(Failure::config("twilio messaging: not written yet"))
}

/// Verify: asks Twilio to send its code by text (`call` false) or call; returns the
/// verification's sid (VE…) as the handle.
pub fn verify_start(config: &Config, job: &Job, call: bool) -> Result<String, Failure> {
    let _ = (config, job, call);
    Err(Failure::config("twilio verify: not written yet"))
}

/// Verify: checks the typed code (`job.code`) against verification `handle`.
pub fn verify_check(config: &Config, job: &Job, handle: &str) -> Result<Verdict, Failure> {
    let _ = (config, job, handle);
    Err(Failure::config("twilio verify: not written yet"))
}
