//! The helper's credentials file (`/etc/security/pam_otp.d/deliver.conf`, pam-otp-deliver(8)):
//! strict `key = value` lines, read only if it is a regular file owned by the helper's user or
//! root with no group/other permission bits.

use std::io::Read;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use zeroize::Zeroizing;

use crate::providers::{arkesel, fcm, twilio, vonage, Provider};
use crate::Failure;

/// Where the file is when `PAM_OTP_DELIVER_CONF` does not say.
pub const DEFAULT_PATH: &str = "/etc/security/pam_otp.d/deliver.conf";
const MAX_SIZE: u64 = 16 * 1024;
const MAX_TIMEOUT_SECS: u64 = 25;

/// How e-mail leaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmailTransport {
    /// SMTP to a relay.
    Smtp {
        host: String,
        port: u16,
        /// Implicit TLS (port 465) rather than STARTTLS.
        implicit_tls: bool,
        user: Option<String>,
        password: Option<Zeroizing<String>>,
    },
    /// The local MTA's sendmail interface.
    Sendmail { path: PathBuf },
}

/// The parsed file. Channels without their settings are simply unavailable.
#[derive(Debug, Default)]
pub struct Config {
    /// Who carries `sms:` contacts.
    pub sms_provider: Option<Provider>,
    /// Who carries `voice:` contacts.
    pub voice_provider: Option<Provider>,
    /// `phone_prefixes`: when set, the only number prefixes (`+233`, `+44`, `+1`) texts and
    /// calls may go to; a user cannot make the site pay for any other country.
    pub phone_prefixes: Vec<String>,
    pub twilio: Option<twilio::Settings>,
    pub vonage: Option<vonage::Settings>,
    pub arkesel: Option<arkesel::Settings>,
    pub fcm: Option<fcm::Settings>,
    pub email_from: Option<String>,
    pub email: Option<EmailTransport>,
    pub webhook_url: Option<String>,
    pub webhook_secret: Option<Zeroizing<String>>,
    pub ntfy_url: Option<String>,
    pub ntfy_token: Option<Zeroizing<String>>,
    pub ntfy_priority: Option<String>,
    pub ca_file: Option<PathBuf>,
    pub timeout: Duration,
}

pub(crate) fn bad(message: impl Into<String>) -> Failure {
    Failure::config(message)
}

/// The file's `key = value` pairs not yet taken. Each setting is taken once by the code that
/// knows it; whatever is left at the end is an unknown key.
pub struct Keys(Vec<(String, Zeroizing<String>)>);

impl Keys {
    /// The value of `key` (a credential: kept zeroized).
    pub fn secret(&mut self, key: &str) -> Option<Zeroizing<String>> {
        let i = self.0.iter().position(|(k, _)| k == key)?;
        Some(self.0.remove(i).1)
    }

    /// The value of `key` (not a credential).
    pub fn plain(&mut self, key: &str) -> Option<String> {
        self.secret(key).map(|s| s.as_str().to_owned())
    }

    /// The value of `key`, which must be an `https://` URL; trailing slashes dropped.
    pub fn https_url(&mut self, key: &str) -> Result<Option<String>, Failure> {
        match self.plain(key) {
            None => Ok(None),
            Some(url) => {
                check_https(&url, key)?;
                Ok(Some(url.trim_end_matches('/').to_owned()))
            }
        }
    }

    /// The value of `key`, which must be an absolute path.
    pub fn path(&mut self, key: &str) -> Result<Option<PathBuf>, Failure> {
        match self.plain(key).map(PathBuf::from) {
            Some(p) if !p.is_absolute() => Err(bad(format!("{key} must be an absolute path"))),
            p => Ok(p),
        }
    }

    /// The first key left, if any.
    fn first(&self) -> Option<&str> {
        self.0.first().map(|(k, _)| k.as_str())
    }
}

/// Reads and parses the file at `path`.
pub fn load(path: &Path) -> Result<Config, Failure> {
    let text = read_private(path, &path.display().to_string())?;
    parse(&text)
}

/// The text of a private file (deliver.conf, the FCM service account key): opened without
/// following a symbolic link, and read only if it is a regular file owned by the helper's
/// user or root with no group/other permission bits, of at most 16 KiB of UTF-8. `what`
/// names it in errors (which never quote its content).
pub fn read_private(path: &Path, what: &str) -> Result<Zeroizing<String>, Failure> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| bad(format!("cannot open {what}: {}", e.kind())))?;
    let meta = file
        .metadata()
        .map_err(|e| bad(format!("cannot examine {what}: {}", e.kind())))?;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let euid = unsafe { libc::geteuid() };
    if !meta.is_file() {
        return Err(bad(format!("{what} is not a regular file")));
    }
    if meta.uid() != euid && meta.uid() != 0 {
        return Err(bad(format!(
            "{what} must be owned by the helper's user or root"
        )));
    }
    if meta.mode() & 0o077 != 0 {
        return Err(bad(format!(
            "{what} must not be readable or writable by group or others"
        )));
    }
    if meta.len() > MAX_SIZE {
        return Err(bad(format!("{what} is too large")));
    }
    let mut text = Zeroizing::new(String::new());
    file.take(MAX_SIZE + 1)
        .read_to_string(&mut text)
        .map_err(|_| bad(format!("{what} is not UTF-8 text")))?;
    if text.len() as u64 > MAX_SIZE {
        return Err(bad(format!("{what} is too large")));
    }
    Ok(text)
}

/// Parses the text of the file.
pub fn parse(text: &str) -> Result<Config, Failure> {
    let mut seen: Vec<String> = Vec::new();
    let mut values: Vec<(String, Zeroizing<String>)> = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err(bad(format!("line {}: not key = value", n + 1)));
        };
        let key = key.trim();
        let value = value.trim();
        // Keys are words of lower-case letters, digits and `_`; anything else is not quoted
        // back (a control character would reach the stderr line).
        let word = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_';
        if key.is_empty() || !key.bytes().all(word) {
            return Err(bad(format!("line {}: not key = value", n + 1)));
        }
        if seen.iter().any(|k| k == key) {
            return Err(bad(format!("line {}: {key} repeated", n + 1)));
        }
        if value.is_empty() || value.contains(|c: char| c.is_control()) {
            return Err(bad(format!("line {}: bad value for {key}", n + 1)));
        }
        seen.push(key.to_owned());
        values.push((key.to_owned(), Zeroizing::new(value.to_owned())));
    }
    let mut keys = Keys(values);
    let mut take = |key: &str| keys.secret(key);
    let plain = |v: Option<Zeroizing<String>>| v.map(|s| s.as_str().to_owned());

    let mut config = Config {
        timeout: Duration::from_secs(8),
        ..Config::default()
    };
    if let Some(t) = take("timeout") {
        let secs: u64 = pam_otp_core::decimal::parse_decimal(&t)
            .filter(|s| (1..=MAX_TIMEOUT_SECS).contains(s))
            .ok_or_else(|| bad(format!("timeout must be 1-{MAX_TIMEOUT_SECS} seconds")))?;
        config.timeout = Duration::from_secs(secs);
    }
    config.ca_file = plain(take("ca_file")).map(PathBuf::from);
    if let Some(p) = &config.ca_file {
        if !p.is_absolute() {
            return Err(bad("ca_file must be an absolute path"));
        }
    }

    config.email_from = plain(take("email_from"));
    if let Some(from) = &config.email_from {
        pam_otp_core::oob::contact::Contact::parse(&format!("email:{from}"))
            .map_err(|_| bad("email_from is not an e-mail address"))?;
    }
    let transport = plain(take("email_transport"));
    let smtp_host = plain(take("smtp_host"));
    let smtp_port = plain(take("smtp_port"));
    let smtp_tls = plain(take("smtp_tls"));
    let smtp_user = plain(take("smtp_user"));
    let smtp_password = take("smtp_password");
    let sendmail_path = plain(take("sendmail_path"));
    config.email = match transport.as_deref() {
        None => {
            let stray = smtp_host.is_some()
                || smtp_port.is_some()
                || smtp_tls.is_some()
                || smtp_user.is_some()
                || smtp_password.is_some()
                || sendmail_path.is_some();
            if stray {
                return Err(bad("e-mail settings without email_transport"));
            }
            None
        }
        Some("smtp") => {
            let host = smtp_host.ok_or_else(|| bad("email_transport = smtp needs smtp_host"))?;
            let implicit_tls = match smtp_tls.as_deref() {
                None | Some("starttls") => false,
                Some("tls") => true,
                Some(_) => return Err(bad("smtp_tls must be starttls or tls")),
            };
            let port = match smtp_port {
                None if implicit_tls => 465,
                None => 587,
                Some(p) => pam_otp_core::decimal::parse_decimal::<u16>(&p)
                    .filter(|&p| p != 0)
                    .ok_or_else(|| bad("smtp_port must be 1-65535"))?,
            };
            if smtp_user.is_some() != smtp_password.is_some() {
                return Err(bad("smtp_user and smtp_password go together"));
            }
            Some(EmailTransport::Smtp {
                host,
                port,
                implicit_tls,
                user: smtp_user,
                password: smtp_password,
            })
        }
        Some("sendmail") => {
            let path = PathBuf::from(sendmail_path.unwrap_or_else(|| "/usr/sbin/sendmail".into()));
            if !path.is_absolute() {
                return Err(bad("sendmail_path must be an absolute path"));
            }
            Some(EmailTransport::Sendmail { path })
        }
        Some(_) => return Err(bad("email_transport must be smtp or sendmail")),
    };
    if config.email.is_some() && config.email_from.is_none() {
        return Err(bad("e-mail needs email_from"));
    }

    config.webhook_url = plain(take("webhook_url"));
    config.webhook_secret = take("webhook_secret");
    if config.webhook_url.is_some() != config.webhook_secret.is_some() {
        return Err(bad("webhook_url and webhook_secret go together"));
    }
    if let Some(url) = &config.webhook_url {
        check_https(url, "webhook_url")?;
    }
    if config.webhook_secret.as_ref().is_some_and(|s| s.len() < 16) {
        return Err(bad("webhook_secret must be at least 16 characters"));
    }

    config.ntfy_url = plain(take("ntfy_url"));
    config.ntfy_token = take("ntfy_token");
    config.ntfy_priority = plain(take("ntfy_priority"));
    if let Some(url) = &config.ntfy_url {
        check_https(url, "ntfy_url")?;
    }
    if let Some(p) = &config.ntfy_priority {
        let known = [
            "1", "2", "3", "4", "5", "min", "low", "default", "high", "max", "urgent",
        ];
        if !known.contains(&p.as_str()) {
            return Err(bad(
                "ntfy_priority must be 1-5 or min, low, default, high, max, urgent",
            ));
        }
    }
    if config.ntfy_url.is_none() && (config.ntfy_token.is_some() || config.ntfy_priority.is_some())
    {
        return Err(bad("ntfy settings without ntfy_url"));
    }
    providers(&mut keys, &mut config)?;
    if let Some(key) = keys.first() {
        return Err(bad(format!("unknown key {key}")));
    }
    Ok(config)
}

/// The provider settings: each provider's own keys, and which provider carries SMS and
/// voice (a provider named there must have its settings).
fn providers(keys: &mut Keys, config: &mut Config) -> Result<(), Failure> {
    if let Some(list) = keys.plain("phone_prefixes") {
        for prefix in list.split([' ', ',']).filter(|p| !p.is_empty()) {
            let digits = prefix.strip_prefix('+').unwrap_or_default();
            if !(1..=7).contains(&digits.len())
                || !digits.bytes().all(|b| b.is_ascii_digit())
                || digits.starts_with('0')
            {
                return Err(bad(
                    "phone_prefixes must be +DIGITS prefixes (such as +233 +44 +1), separated by spaces",
                ));
            }
            config.phone_prefixes.push(prefix.to_owned());
        }
    }
    config.twilio = twilio::Settings::parse(keys)?;
    config.vonage = vonage::Settings::parse(keys)?;
    config.arkesel = arkesel::Settings::parse(keys)?;
    config.fcm = fcm::Settings::parse(keys)?;
    for (key, slot) in [
        ("sms_provider", &mut config.sms_provider),
        ("voice_provider", &mut config.voice_provider),
    ] {
        let Some(name) = keys.plain(key) else {
            continue;
        };
        let provider = Provider::from_name(&name).ok_or_else(|| {
            bad(format!(
                "{key} must be one of {}",
                Provider::ALL.map(Provider::name).join(", ")
            ))
        })?;
        if key == "voice_provider" && !provider.calls() {
            return Err(bad(format!(
                "voice_provider {} cannot place calls (twilio-verify, vonage-verify or arkesel-otp can)",
                provider.name()
            )));
        }
        *slot = Some(provider);
    }
    for provider in [config.sms_provider, config.voice_provider]
        .into_iter()
        .flatten()
    {
        let configured = match provider.company() {
            "twilio" => config.twilio.as_ref().is_some_and(|t| t.supports(provider)),
            // The SMS API needs a sender; Verify does not.
            "vonage" => config
                .vonage
                .as_ref()
                .is_some_and(|v| provider != Provider::Vonage || v.from.is_some()),
            "arkesel" => config.arkesel.is_some(),
            _ => false,
        };
        if !configured {
            return Err(bad(format!(
                "{} is named as a provider but its settings are missing or incomplete",
                provider.name()
            )));
        }
    }
    Ok(())
}

fn check_https(url: &str, key: &str) -> Result<(), Failure> {
    let rest = url
        .strip_prefix("https://")
        .ok_or_else(|| bad(format!("{key} must start with https://")))?;
    // https://host[:port][/path]: no credentials, query, fragment or backslash, which
    // would change what the provider's path appended to it means.
    if rest.is_empty()
        || rest.starts_with('/')
        || rest.contains(|c: char| c.is_whitespace() || c.is_control() || "@?#\\".contains(c))
    {
        return Err(bad(format!("{key} is not a URL")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_file_parses() {
        let c = parse(
            "# comment\n\nemail_from = otp@example.org\nemail_transport = smtp\n\
             smtp_host = mail.example.org\nsmtp_tls = tls\nsmtp_user = u\nsmtp_password = p w\n\
             webhook_url = https://gw.example.org/otp\nwebhook_secret = 0123456789abcdef\n\
             ntfy_url = https://ntfy.example.org\nntfy_token = tk_x\nntfy_priority = high\n\
             ca_file = /etc/ssl/ca.pem\ntimeout = 5\n",
        )
        .unwrap();
        let Some(EmailTransport::Smtp {
            port,
            implicit_tls,
            password,
            ..
        }) = &c.email
        else {
            panic!()
        };
        assert_eq!((*port, *implicit_tls), (465, true));
        assert_eq!(password.as_ref().unwrap().as_str(), "p w");
        assert_eq!(c.timeout, Duration::from_secs(5));
    }

    #[test]
    fn phone_prefixes_are_plus_digits() {
        let c = parse("phone_prefixes = +233 +44,+1\n").unwrap();
        assert_eq!(c.phone_prefixes, ["+233", "+44", "+1"]);
        for bad in [
            "phone_prefixes = 233",
            "phone_prefixes = +0",
            "phone_prefixes = +12345678",
            "phone_prefixes = +4a",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn strict() {
        for text in [
            "nonsense",
            "unknown = 1",
            "timeout = 5\ntimeout = 6",
            "timeout = 0",
            "timeout = 26",
            "email_transport = smtp\nemail_from = a@b",
            "email_transport = pigeon\nemail_from = a@b",
            "email_transport = sendmail",
            "email_transport = sendmail\nemail_from = a@b\nsendmail_path = sendmail",
            "email_from = not-an-address",
            "webhook_url = https://x",
            "webhook_url = http://x\nwebhook_secret = 0123456789abcdef",
            "webhook_url = https://x?y\nwebhook_secret = 0123456789abcdef",
            "webhook_url = https://x#\nwebhook_secret = 0123456789abcdef",
            "webhook_url = https:///x\nwebhook_secret = 0123456789abcdef",
            "webhook_url = https://x\nwebhook_secret = short",
            "ntfy_token = tk",
            "ntfy_url = https://x\nntfy_priority = loud",
            "email_transport = smtp\nemail_from = a@b\nsmtp_host = h\nsmtp_user = u",
            "email_transport = smtp\nemail_from = a@b\nsmtp_host = h\nsmtp_port = 0",
            "ca_file = relative.pem",
            "timeout =",
        ] {
            assert!(parse(text).is_err(), "{text:?}");
        }
    }

    #[test]
    fn errors_never_quote_a_value() {
        let Err(e) = parse("webhook_url = https://x\nwebhook_secret = sekrit") else {
            panic!()
        };
        assert!(!e.message.contains("sekrit"), "{}", e.message);
        let Err(e) = parse("smtp_password = hunter2hunter2") else {
            panic!()
        };
        assert!(!e.message.contains("hunter2"), "{}", e.message);
    }

    #[test]
    fn a_key_that_is_not_a_word_is_not_quoted() {
        // Found by fuzzing (fuzz/regressions/deliver_conf/): "unknown key" quoted a key with
        // control characters.
        for text in [
            "arkesel_base_url \0\u{8} = x",
            "Timeout = 5",
            " = x",
            "a b = c",
        ] {
            let Err(e) = parse(text) else {
                panic!("{text:?}")
            };
            assert_eq!(e.message, "line 1: not key = value", "{text:?}");
        }
    }
}
