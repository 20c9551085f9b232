//! Arkesel: SMS v2 (our code in a text) and the OTP API (Arkesel's code by text or call,
//! checked by Arkesel).

use zeroize::Zeroizing;

use crate::config::{bad, Config, Keys};
use crate::{Failure, Job};

use super::Verdict;

/// Where Arkesel is, unless `arkesel_base_url` says otherwise.
pub const DEFAULT_BASE_URL: &str = "https://sms.arkesel.com";
/// The handle of an OTP send: Arkesel's verify call takes the number, not an id.
pub const OTP_HANDLE: &str = "number";

/// The `arkesel_*` settings.
#[derive(Debug)]
pub struct Settings {
    pub api_key: Zeroizing<String>,
    /// The sender id (at most 11 characters, registered with Arkesel).
    pub sender: String,
    pub base_url: String,
}

impl Settings {
    /// Takes the `arkesel_*` keys; `None` when there is none.
    pub fn parse(keys: &mut Keys) -> Result<Option<Settings>, Failure> {
        let api_key = keys.secret("arkesel_api_key");
        let sender = keys.plain("arkesel_sender");
        let base_url = keys.https_url("arkesel_base_url")?;
        let Some(api_key) = api_key else {
            return if sender.is_some() || base_url.is_some() {
                Err(bad("arkesel settings without arkesel_api_key"))
            } else {
                Ok(None)
            };
        };
        let sender = sender.ok_or_else(|| bad("arkesel needs arkesel_sender"))?;
        let ok = (1..=11).contains(&sender.len())
            && sender
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b' ');
        if !ok {
            return Err(bad(
                "arkesel_sender must be at most 11 letters, digits or spaces",
            ));
        }
        Ok(Some(Settings {
            api_key,
            sender,
            base_url: base_url.unwrap_or_else(|| DEFAULT_BASE_URL.to_owned()),
        }))
    }
}

/// SMS v2: our code in a text to `job.contact`.
pub fn sms(config: &Config, job: &Job) -> Result<(), Failure> {
    let _ = (config, job);
    Err(Failure::config("arkesel sms: not written yet"))
}

/// OTP generate: asks Arkesel to send its code by text (`call` false) or call; returns
/// [`OTP_HANDLE`].
pub fn otp_generate(config: &Config, job: &Job, call: bool) -> Result<String, Failure> {
    let _ = (config, job, call);
    Err(Failure::config("arkesel otp: not written yet"))
}

/// OTP verify: checks the typed code (`job.code`) for the contact's number.
pub fn otp_verify(config: &Config, job: &Job, handle: &str) -> Result<Verdict, Failure> {
    let _ = (config, job, handle);
    Err(Failure::config("arkesel otp: not written yet"))
}
