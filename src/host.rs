//! The conversation, PAM items and logging of one transaction, behind the core's [`Host`]
//! trait. The one `unsafe` call of the module (`pam_syslog`) is here.

use std::ffi::{c_char, c_int, CString};

use pam::constants::PAM_PROMPT_ECHO_OFF;
use pam::conv::Conv;
use pam::items::{AuthTok, RHost};
use pam::module::PamHandle;
use zeroize::Zeroizing;

use pam_otp_core::authenticate::{Host, Level};

#[link(name = "pam")]
extern "C" {
    // Linux-PAM's logger: authpriv facility, `pam_otp(service:type):` prefix, and it leaves
    // the host's own openlog() identity alone.
    fn pam_syslog(pamh: *const PamHandle, priority: c_int, fmt: *const c_char, ...);
}

/// The module's view of one PAM transaction: the [`Host`] that `authenticate` talks to.
pub(crate) struct PamHost<'h> {
    pamh: &'h mut PamHandle,
}

impl<'h> PamHost<'h> {
    pub(crate) fn new(pamh: &'h mut PamHandle) -> Self {
        PamHost { pamh }
    }
}

impl Host for PamHost<'_> {
    fn user(&mut self) -> Option<String> {
        self.pamh.get_user(None).ok()
    }

    fn remote_host(&self) -> Option<String> {
        let item = self.pamh.get_item::<RHost>().ok().flatten()?;
        Some(item.to_string_lossy().into_owned())
    }

    fn authtok(&self) -> Option<Zeroizing<Vec<u8>>> {
        let item = self.pamh.get_item::<AuthTok>().ok().flatten()?;
        Some(Zeroizing::new(item.as_bytes().to_vec()))
    }

    fn ask(&mut self, prompt: &str) -> Option<Zeroizing<Vec<u8>>> {
        let conv = self.pamh.get_item::<Conv>().ok().flatten()?;
        let answer = conv.send(PAM_PROMPT_ECHO_OFF, prompt).ok().flatten()?;
        Some(Zeroizing::new(answer.as_bytes().to_vec()))
    }

    fn log(&mut self, level: Level, line: &str) {
        let priority = match level {
            Level::Error => libc::LOG_ERR,
            Level::Warning => libc::LOG_WARNING,
            Level::Notice => libc::LOG_NOTICE,
            Level::Info => libc::LOG_INFO,
            Level::Debug => libc::LOG_DEBUG,
        };
        let Ok(message) = CString::new(line.replace('\0', "?")) else {
            return;
        };
        let pamh: *const PamHandle = &*self.pamh;
        // SAFETY: `pamh` is the live handle libpam passed to this hook; the format is a
        // constant "%s" and the single argument a NUL-terminated string that outlives the call.
        unsafe { pam_syslog(pamh, priority, c"%s".as_ptr(), message.as_ptr()) };
    }
}
