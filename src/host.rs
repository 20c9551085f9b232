//! The conversation, PAM items and logging of one transaction, behind the core's [`Host`]
//! trait. This crate's only `unsafe` calls (`pam_syslog`, `pam_get_user`) are here.

use std::ffi::{c_char, c_int, CStr, CString};

use pam::constants::{PamResultCode, PAM_ERROR_MSG, PAM_PROMPT_ECHO_OFF};
use pam::conv::Conv;
use pam::items::{AuthTok, RHost, Service};
use pam::module::PamHandle;
use zeroize::Zeroizing;

use pam_otp_core::audit;
use pam_otp_core::authenticate::{Host, Level};

#[link(name = "pam")]
extern "C" {
    // Linux-PAM's logger: authpriv facility, `pam_otp(service:type):` prefix, and it leaves
    // the host's own openlog() identity alone.
    fn pam_syslog(pamh: *const PamHandle, priority: c_int, fmt: *const c_char, ...);
    // pam-bindings' `get_user` refuses a name that is not UTF-8; the module wants the bytes
    // (to log them escaped, then refuse the user).
    fn pam_get_user(pamh: *mut PamHandle, user: *mut *const c_char, prompt: *const c_char)
        -> c_int;
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
    fn user(&mut self) -> Option<Vec<u8>> {
        let mut user: *const c_char = std::ptr::null();
        let pamh: *mut PamHandle = &mut *self.pamh;
        // SAFETY: `pamh` is the live handle libpam passed to this hook, `user` a valid place
        // for the answer, and a NULL prompt asks libpam for its default one.
        let rc = unsafe { pam_get_user(pamh, &mut user, std::ptr::null()) };
        if rc != PamResultCode::PAM_SUCCESS as c_int || user.is_null() {
            return None;
        }
        // SAFETY: on success libpam points `user` at its own NUL-terminated copy of the
        // name, valid until the item changes; it is copied before anything else runs.
        Some(unsafe { CStr::from_ptr(user) }.to_bytes().to_vec())
    }

    fn remote_host(&self) -> Option<Vec<u8>> {
        let item = self.pamh.get_item::<RHost>().ok().flatten()?;
        Some(item.to_bytes().to_vec())
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

    fn inform(&mut self, text: &str) {
        // A message, not a question: whatever the application answers is ignored, and so
        // is a failure (the verdict does not depend on whether the user saw it).
        if let Ok(Some(conv)) = self.pamh.get_item::<Conv>() {
            let _ = conv.send(PAM_ERROR_MSG, text);
        }
    }

    fn audit(&mut self, events: &[audit::Event]) -> audit::Outcome {
        audit::send(events)
    }

    fn service(&self) -> Option<Vec<u8>> {
        let item = self.pamh.get_item::<Service>().ok().flatten()?;
        Some(item.to_bytes().to_vec())
    }

    fn now(&self) -> Option<std::time::SystemTime> {
        // The second reading of the clock, for a code sent out of band: the answer may come
        // long after the first, and the code's life is counted to it.
        #[allow(clippy::disallowed_methods)]
        Some(std::time::SystemTime::now())
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
