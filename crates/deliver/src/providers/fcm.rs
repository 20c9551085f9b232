//! Firebase Cloud Messaging HTTP v1: the code pushed to the user's app, whose registration
//! token is the contact. Authorised by an OAuth2 access token minted from a service
//! account key (an RS256 JWT exchanged at the key's `token_uri`).
//!
//! Firebase Authentication's phone sign-in is not offered: it cannot be started from a
//! server (it needs the client's reCAPTCHA or app attestation).

use std::path::PathBuf;

use crate::config::{Config, Keys};
use crate::{Failure, Job};

/// Where FCM is, unless `fcm_base_url` says otherwise.
pub const DEFAULT_BASE_URL: &str = "https://fcm.googleapis.com";

/// The `fcm_*` settings.
#[derive(Debug)]
pub struct Settings {
    /// The service account key file (JSON, as the Firebase console downloads it).
    pub service_account_file: PathBuf,
    pub base_url: String,
}

impl Settings {
    /// Takes the `fcm_*` keys; `None` when there is none.
    pub fn parse(keys: &mut Keys) -> Result<Option<Settings>, Failure> {
        let file = keys.path("fcm_service_account_file")?;
        let base_url = keys.https_url("fcm_base_url")?;
        match file {
            None if base_url.is_some() => Err(crate::config::bad(
                "fcm settings without fcm_service_account_file",
            )),
            None => Ok(None),
            Some(service_account_file) => Ok(Some(Settings {
                service_account_file,
                base_url: base_url.unwrap_or_else(|| DEFAULT_BASE_URL.to_owned()),
            })),
        }
    }
}

/// Pushes our code to the app whose token is `job.contact`.
pub fn send(config: &Config, job: &Job) -> Result<(), Failure> {
    let _ = (config, job);
    Err(Failure::config("fcm: not written yet"))
}
