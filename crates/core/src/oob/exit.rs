//! The delivery helper's exit codes (pam-otp-deliver(8)), one per kind of failure, so the
//! caller can log a reason without reading the helper's words. Values from sysexits.h, and
//! three of our own (80-82) for the provider-side check and rate limits, which sysexits.h
//! has no word for.

/// The code was handed to the provider, which accepted it.
pub const DELIVERED: i32 = 0;
/// The helper was started wrongly: a variable missing or malformed, no code on stdin.
pub const USAGE: i32 = 64;
/// The contact is not valid for its channel.
pub const BAD_CONTACT: i32 = 65;
/// The provider answered and refused the message (HTTP 4xx/5xx, SMTP rejection).
pub const REFUSED: i32 = 69;
/// Internal error in the helper.
pub const SOFTWARE: i32 = 70;
/// The provider could not be reached (DNS, connection, TLS, timeout).
pub const UNREACHABLE: i32 = 75;
/// The credentials file is missing, unsafe or malformed, or lacks the channel's settings,
/// or the provider refused the credentials.
pub const BAD_CONFIG: i32 = 78;
/// Check mode: the provider says the typed code is wrong.
pub const CODE_REJECTED: i32 = 80;
/// Check mode: the provider has no pending verification any more (expired, already used,
/// too many wrong tries).
pub const CODE_EXPIRED: i32 = 81;
/// The provider is rate limiting us; stdout holds `retry-after N` when it said how long.
pub const RATE_LIMITED: i32 = 82;

/// What a helper's exit status means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HelperExit {
    /// Exit 0.
    Delivered,
    /// [`USAGE`].
    Usage,
    /// [`BAD_CONTACT`].
    BadContact,
    /// [`REFUSED`].
    Refused,
    /// [`UNREACHABLE`].
    Unreachable,
    /// [`BAD_CONFIG`].
    BadConfig,
    /// [`CODE_REJECTED`].
    CodeRejected,
    /// [`CODE_EXPIRED`].
    CodeExpired,
    /// [`RATE_LIMITED`].
    RateLimited,
    /// [`SOFTWARE`], or any other status.
    Other(i32),
}

impl HelperExit {
    /// The meaning of exit status `status`.
    pub fn from_status(status: i32) -> HelperExit {
        match status {
            DELIVERED => HelperExit::Delivered,
            USAGE => HelperExit::Usage,
            BAD_CONTACT => HelperExit::BadContact,
            REFUSED => HelperExit::Refused,
            UNREACHABLE => HelperExit::Unreachable,
            BAD_CONFIG => HelperExit::BadConfig,
            CODE_REJECTED => HelperExit::CodeRejected,
            CODE_EXPIRED => HelperExit::CodeExpired,
            RATE_LIMITED => HelperExit::RateLimited,
            other => HelperExit::Other(other),
        }
    }

    /// A stable word for logs.
    pub fn word(self) -> &'static str {
        match self {
            HelperExit::Delivered => "delivered",
            HelperExit::Usage => "usage",
            HelperExit::BadContact => "bad_contact",
            HelperExit::Refused => "refused",
            HelperExit::Unreachable => "unreachable",
            HelperExit::BadConfig => "bad_config",
            HelperExit::CodeRejected => "code_rejected",
            HelperExit::CodeExpired => "code_expired",
            HelperExit::RateLimited => "rate_limited",
            HelperExit::Other(_) => "failed",
        }
    }
}
