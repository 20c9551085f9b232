//! `pam_otp.so`: the PAM module. The only crate that talks to libpam: the exported hooks
//! (here), the conversation, PAM items and logging ([`host`]). Everything here is thin:
//! gather inputs, call [`pam_otp_core::authenticate`], and map its verdict to a PAM return
//! code in [`return_code`]. The layers it drives live in the `pam-otp-core` crate
//! (ARCHITECTURE.md).
//!
//! `pam_hooks!` (pam-bindings) exports the six `pam_sm_*` functions and turns any panic into
//! `PAM_ABORT`, so no unwind reaches the host. Hooks other than authenticate and setcred
//! return `PAM_IGNORE`.

use std::ffi::CStr;
use std::time::SystemTime;

use pam::constants::{PamFlag, PamResultCode};
use pam::module::{PamHandle, PamHooks};

use pam_otp_core::authenticate::{authenticate, Verdict};

mod host;
use host::PamHost;

struct PamOtp;
pam::pam_hooks!(PamOtp);

impl PamHooks for PamOtp {
    fn sm_authenticate(pamh: &mut PamHandle, args: Vec<&CStr>, _flags: PamFlag) -> PamResultCode {
        let mut host = PamHost::new(pamh);
        // The module's one reading of the clock; every rule below takes it as an argument.
        #[allow(clippy::disallowed_methods)]
        let now = SystemTime::now();
        let verdict = authenticate(&mut host, args.iter().map(|a| a.to_bytes()), now);
        return_code(verdict)
    }

    fn sm_setcred(_pamh: &mut PamHandle, _args: Vec<&CStr>, _flags: PamFlag) -> PamResultCode {
        // A one-time code establishes no credentials; success keeps `auth` stacks working.
        PamResultCode::PAM_SUCCESS
    }
}

/// The one mapping from the module's verdict to PAM's return codes.
fn return_code(verdict: Verdict) -> PamResultCode {
    match verdict {
        Verdict::Success => PamResultCode::PAM_SUCCESS,
        Verdict::Ignore => PamResultCode::PAM_IGNORE,
        Verdict::Deny(_) => PamResultCode::PAM_AUTH_ERR,
        Verdict::BadConfig => PamResultCode::PAM_SERVICE_ERR,
        Verdict::ConvFailed => PamResultCode::PAM_CONV_ERR,
    }
}
