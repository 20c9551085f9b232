//! `pam_otp.so`: the PAM module. The only crate that talks to libpam: the exported hooks
//! (here), the conversation, PAM items and logging ([`host`]). Everything here is thin:
//! gather inputs, call [`pam_otp_core::authenticate`], and map its verdict to a PAM return
//! code in [`return_code`]. The layers it drives live in the `pam-otp-core` crate
//! (ARCHITECTURE.md).
//!
//! `pam_hooks!` (pam-bindings) exports the six `pam_sm_*` functions and turns any panic into
//! `PAM_ABORT`, so no unwind reaches the host. Hooks other than authenticate and setcred
//! return `PAM_IGNORE`.

// The workspace's house rules for code that runs inside sshd or sudo (Cargo.toml says why
// they are set here rather than inherited).
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::disallowed_methods
)]

use std::ffi::CStr;
use std::time::SystemTime;

use pam::constants::{PamFlag, PamResultCode};
use pam::module::{PamHandle, PamHooks};

use pam_otp_core::authenticate::{authenticate_using, Reason, Verdict};

mod host;
mod redis_library;
use host::PamHost;

struct PamOtp;
pam::pam_hooks!(PamOtp);

impl PamHooks for PamOtp {
    fn sm_authenticate(pamh: &mut PamHandle, args: Vec<&CStr>, _flags: PamFlag) -> PamResultCode {
        let mut host = PamHost::new(pamh);
        // The module's one reading of the clock; every rule below takes it as an argument.
        #[allow(clippy::disallowed_methods)]
        let now = SystemTime::now();
        let verdict = authenticate_using(
            &mut host,
            args.iter().map(|a| a.to_bytes()),
            now,
            redis_library::open_stores,
        );
        return_code(verdict)
    }

    fn sm_setcred(_pamh: &mut PamHandle, _args: Vec<&CStr>, _flags: PamFlag) -> PamResultCode {
        // A one-time code establishes no credentials; success keeps `auth` stacks working.
        PamResultCode::PAM_SUCCESS
    }
}

/// The one mapping from the module's verdict to PAM's return codes (pam_otp(8), RETURN
/// VALUES): a configuration error is the service's fault, a failed conversation the
/// application's, every other refusal the user's.
fn return_code(verdict: Verdict) -> PamResultCode {
    match verdict {
        Verdict::Success => PamResultCode::PAM_SUCCESS,
        Verdict::Ignore => PamResultCode::PAM_IGNORE,
        Verdict::Deny(Reason::BadArgs) => PamResultCode::PAM_SERVICE_ERR,
        Verdict::Deny(Reason::ConvError | Reason::NoAuthtok) => PamResultCode::PAM_CONV_ERR,
        Verdict::Deny(
            Reason::Ok
            | Reason::BadCode
            | Reason::Replay
            | Reason::Locked
            | Reason::NoSecret
            | Reason::BadSecretFile
            | Reason::StateError
            | Reason::UnknownUser
            | Reason::ClockError
            | Reason::FleetFallback
            | Reason::SendLimit
            | Reason::DeliverFailed
            | Reason::CodeExpired,
        ) => PamResultCode::PAM_AUTH_ERR,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every verdict the core can return maps to the code pam_otp(8) documents, and only
    /// success maps to PAM_SUCCESS: a denial can never turn into a login.
    #[test]
    fn every_verdict_maps_to_its_documented_code() {
        use PamResultCode::*;
        let documented = |reason: Reason| match reason.word() {
            "bad_args" => PAM_SERVICE_ERR,
            "conv_error" | "no_authtok" => PAM_CONV_ERR,
            _ => PAM_AUTH_ERR,
        };
        assert_eq!(return_code(Verdict::Success), PAM_SUCCESS);
        assert_eq!(return_code(Verdict::Ignore), PAM_IGNORE);
        for reason in Reason::ALL {
            let code = return_code(Verdict::Deny(reason));
            assert_eq!(code, documented(reason), "{}", reason.word());
            assert_ne!(code, PAM_SUCCESS);
            assert_ne!(code, PAM_IGNORE);
        }
    }

    /// The reason words round-trip, and no two reasons share a word (log rules match them).
    #[test]
    fn reason_words_round_trip() {
        for reason in Reason::ALL {
            assert_eq!(Reason::from_word(reason.word()), Some(reason));
        }
        let mut words: Vec<_> = Reason::ALL.iter().map(|r| r.word()).collect();
        words.sort_unstable();
        words.dedup();
        assert_eq!(words.len(), Reason::ALL.len());
    }
}
