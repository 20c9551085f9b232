//! Vonage (Nexmo): the SMS API (our code in a text) and Verify v2 (Vonage's code by text or
//! call, checked by Vonage).

use std::path::PathBuf;

use zeroize::Zeroizing;

use crate::config::{bad, Config, Keys};
use crate::{Failure, Job};

use super::Verdict;

/// Where the SMS API is, unless `vonage_base_url` says otherwise.
pub const DEFAULT_BASE_URL: &str = "https://rest.nexmo.com";
/// Where Verify v2 is, unless `vonage_verify_base_url` says otherwise.
pub const DEFAULT_VERIFY_BASE_URL: &str = "https://api.nexmo.com";
/// The brand Verify names in its message when `vonage_brand` says nothing.
pub const DEFAULT_BRAND: &str = "pam_otp";

/// The `vonage_*` settings.
#[derive(Debug)]
pub struct Settings {
    pub api_key: String,
    pub api_secret: Zeroizing<String>,
    /// The SMS API's `from`: a number (digits) or an alphanumeric sender id.
    pub from: Option<String>,
    /// Verify v2's `brand`.
    pub brand: String,
    /// Verify v2 by JWT (an application id and its private key) rather than Basic.
    pub application: Option<(String, PathBuf)>,
    pub base_url: String,
    pub verify_base_url: String,
}

impl Settings {
    /// Takes the `vonage_*` keys; `None` when there is none.
    pub fn parse(keys: &mut Keys) -> Result<Option<Settings>, Failure> {
        let api_key = keys.plain("vonage_api_key");
        let api_secret = keys.secret("vonage_api_secret");
        let from = keys.plain("vonage_from");
        let brand = keys.plain("vonage_brand");
        let application_id = keys.plain("vonage_application_id");
        let private_key_file = keys.path("vonage_private_key_file")?;
        let base_url = keys.https_url("vonage_base_url")?;
        let verify_base_url = keys.https_url("vonage_verify_base_url")?;
        let (Some(api_key), Some(api_secret)) = (api_key.clone(), api_secret) else {
            let stray = api_key.is_some()
                || from.is_some()
                || brand.is_some()
                || application_id.is_some()
                || private_key_file.is_some()
                || base_url.is_some()
                || verify_base_url.is_some();
            return if stray {
                Err(bad("vonage needs vonage_api_key and vonage_api_secret"))
            } else {
                Ok(None)
            };
        };
        if !api_key.bytes().all(|b| b.is_ascii_alphanumeric()) || api_key.len() > 32 {
            return Err(bad("vonage_api_key is not a Vonage API key"));
        }
        if let Some(from) = &from {
            let number = (7..=15).contains(&from.len()) && from.bytes().all(|b| b.is_ascii_digit());
            let alphanumeric = (1..=11).contains(&from.len())
                && from.bytes().all(|b| b.is_ascii_alphanumeric() || b == b' ')
                && from.bytes().any(|b| b.is_ascii_alphabetic());
            if !number && !alphanumeric {
                return Err(bad(
                    "vonage_from must be a number (digits, no +) or an alphanumeric sender id (at most 11)",
                ));
            }
        }
        let brand = brand.unwrap_or_else(|| DEFAULT_BRAND.to_owned());
        if brand.len() > 16 {
            return Err(bad("vonage_brand must be at most 16 characters"));
        }
        let application = match (application_id, private_key_file) {
            (None, None) => None,
            (Some(id), Some(file)) => Some((id, file)),
            _ => {
                return Err(bad(
                    "vonage_application_id and vonage_private_key_file go together",
                ))
            }
        };
        Ok(Some(Settings {
            api_key,
            api_secret,
            from,
            brand,
            application,
            base_url: base_url.unwrap_or_else(|| DEFAULT_BASE_URL.to_owned()),
            verify_base_url: verify_base_url.unwrap_or_else(|| DEFAULT_VERIFY_BASE_URL.to_owned()),
        }))
    }
}

/// SMS API: our code in a text to `job.contact`.
pub fn sms(config: &Config, job: &Job) -> Result<(), Failure> {
    let _ = (config, job);
    Err(Failure::config("vonage sms: not written yet"))
}

/// Verify v2: asks Vonage to send its code by text (`call` false) or call (workflow
/// `voice`); returns the `request_id` as the handle.
pub fn verify_start(config: &Config, job: &Job, call: bool) -> Result<String, Failure> {
    let _ = (config, job, call);
    Err(Failure::config("vonage verify: not written yet"))
}

/// Verify v2: checks the typed code (`job.code`) against request `handle`.
pub fn verify_check(config: &Config, job: &Job, handle: &str) -> Result<Verdict, Failure> {
    let _ = (config, job, handle);
    Err(Failure::config("vonage verify: not written yet"))
}
