//! The `deliver_*` settings: how the module sends a code out of band (pam_otp(8), "CODES
//! SENT OUT OF BAND"). Module arguments or configuration-file keys, through the same
//! matcher as the rest.

use std::path::PathBuf;
use std::time::Duration;

use crate::decimal::parse_decimal;
use crate::oob::code::{DEFAULT_DIGITS, MAX_DIGITS, MIN_DIGITS};
use crate::oob::rules::{SendLimits, DEFAULT_TTL_SECS, HISTORY_LEN, MAX_TTL_SECS, MIN_TTL_SECS};
use crate::oob::spawn::{DEFAULT_HELPER, DEFAULT_TIMEOUT, MAX_TIMEOUT};

/// The unprivileged system user the helper runs as when the configuration says nothing.
pub const DEFAULT_DELIVER_USER: &str = "pam-otp-deliver";

/// How codes are sent out of band.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliverSettings {
    /// `deliver_helper=`: the helper's absolute path (checked again before each start).
    pub helper: PathBuf,
    /// `deliver_user=`: the system user the helper runs as (never root).
    pub user: String,
    /// `deliver_timeout=`: seconds the helper may run, 1 to 30.
    pub timeout: Duration,
    /// `deliver_digits=`: digits of a sent code, 6 to 8.
    pub digits: u8,
    /// `deliver_ttl=`: seconds a sent code lives.
    pub ttl_secs: u64,
    /// `deliver_interval=` and `deliver_per_hour=`: how often codes may be sent.
    pub limits: SendLimits,
}

impl Default for DeliverSettings {
    fn default() -> Self {
        DeliverSettings {
            helper: PathBuf::from(DEFAULT_HELPER),
            user: DEFAULT_DELIVER_USER.to_string(),
            timeout: DEFAULT_TIMEOUT,
            digits: DEFAULT_DIGITS,
            ttl_secs: DEFAULT_TTL_SECS,
            limits: SendLimits::default(),
        }
    }
}

fn number<T: std::str::FromStr + PartialOrd>(value: &str, min: T, max: T) -> Option<T> {
    parse_decimal(value).filter(|v| *v >= min && *v <= max)
}

/// Applies one `deliver_*` setting; `Ok(false)`: not one of them.
pub(crate) fn apply(
    d: &mut DeliverSettings,
    name: &str,
    value: Option<&str>,
) -> Result<bool, &'static str> {
    if !name.starts_with("deliver_") {
        return Ok(false);
    }
    let v = value.ok_or("needs a value (name=value)")?;
    match name {
        "deliver_helper" => {
            let ok = v.starts_with('/')
                && !v.chars().any(char::is_control)
                && !v.split('/').any(|c| c == "." || c == "..");
            if !ok {
                return Err("must be an absolute path");
            }
            d.helper = PathBuf::from(v);
        }
        "deliver_user" => {
            let ok = !v.is_empty()
                && v.len() <= 32
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
                && v != "root";
            if !ok {
                return Err("must be a system user name (not root)");
            }
            d.user = v.to_string();
        }
        "deliver_timeout" => {
            let max = MAX_TIMEOUT.as_secs();
            let secs: u64 = number(v, 1, max).ok_or("must be 1 to 30 seconds")?;
            d.timeout = Duration::from_secs(secs);
        }
        "deliver_digits" => {
            d.digits = number(v, MIN_DIGITS, MAX_DIGITS).ok_or("must be 6 to 8")?;
        }
        "deliver_ttl" => {
            d.ttl_secs =
                number(v, MIN_TTL_SECS, MAX_TTL_SECS).ok_or("must be 30 to 900 seconds")?;
        }
        "deliver_interval" => {
            let secs = number(v, 0, 3600).ok_or("must be 0 to 3600 seconds")?;
            d.limits.min_interval_secs = secs;
        }
        "deliver_per_hour" => {
            // The message below names the bound.
            const _: () = assert!(HISTORY_LEN == 6);
            let max = HISTORY_LEN as u8;
            d.limits.max_per_hour = number(v, 1, max).ok_or("must be 1 to 6")?;
        }
        _ => return Err("unknown argument"),
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use crate::args::parse;

    fn p(args: &[&str]) -> Result<crate::args::Config, crate::args::ArgError> {
        parse(args.iter().map(|a| a.as_bytes()))
    }

    #[test]
    fn every_deliver_setting_is_read() {
        let d = p(&[]).unwrap().deliver;
        assert_eq!(d, super::DeliverSettings::default());
        assert_eq!(d.helper.to_str(), Some("/usr/libexec/pam-otp-deliver"));
        assert_eq!((d.timeout.as_secs(), d.digits, d.ttl_secs), (10, 6, 120));
        assert_eq!((d.limits.min_interval_secs, d.limits.max_per_hour), (30, 5));
        let d = p(&[
            "deliver_helper=/opt/otp/bin/send",
            "deliver_user=otpmail",
            "deliver_timeout=30",
            "deliver_digits=8",
            "deliver_ttl=300",
            "deliver_interval=0",
            "deliver_per_hour=6",
        ])
        .unwrap()
        .deliver;
        assert_eq!(d.helper.to_str(), Some("/opt/otp/bin/send"));
        assert_eq!(d.user, "otpmail");
        assert_eq!((d.timeout.as_secs(), d.digits, d.ttl_secs), (30, 8, 300));
        assert_eq!((d.limits.min_interval_secs, d.limits.max_per_hour), (0, 6));
    }

    #[test]
    fn bad_deliver_settings_are_errors() {
        for bad in [
            "deliver_helper=relative/x",
            "deliver_helper=/usr/../tmp/x",
            "deliver_helper",
            "deliver_user=root",
            "deliver_user=",
            "deliver_user=a b",
            "deliver_timeout=0",
            "deliver_timeout=31",
            "deliver_digits=5",
            "deliver_digits=9",
            "deliver_ttl=29",
            "deliver_ttl=901",
            "deliver_interval=3601",
            "deliver_per_hour=0",
            "deliver_per_hour=7",
            "deliver_per_hour=12",
            "deliver_colour=red",
        ] {
            assert!(p(&[bad]).is_err(), "{bad} should be rejected");
        }
        assert_eq!(
            p(&["deliver_ttl=60", "deliver_ttl=60"]).unwrap_err().why,
            "given more than once"
        );
    }
}
