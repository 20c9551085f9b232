//! One whole PAM transaction through libpam, as sshd and sudo run it.

use std::ffi::{c_int, c_void, CString};
use std::path::Path;

use pam_otp_testkit::pam_ffi::{
    answer_prompts, pam_authenticate, pam_end, pam_start_confdir, PamConv, PamHandle, PAM_SUCCESS,
};

/// One whole transaction; returns pam_authenticate's result.
pub(crate) fn login(confdir: &Path, service: &str, user: &str, answer: &str) -> c_int {
    let service = CString::new(service).unwrap();
    let user = CString::new(user).unwrap();
    let answer = CString::new(answer).unwrap();
    let dir = CString::new(confdir.as_os_str().as_encoded_bytes()).unwrap();
    let conv = PamConv {
        conv: answer_prompts,
        appdata_ptr: answer.as_ptr() as *mut c_void,
    };
    let mut pamh: *mut PamHandle = std::ptr::null_mut();
    // SAFETY: all pointers are live C strings or the conv struct, which outlive the
    // transaction; the handle is used only between a successful start and its end.
    unsafe {
        let rc = pam_start_confdir(
            service.as_ptr(),
            user.as_ptr(),
            &conv,
            dir.as_ptr(),
            &mut pamh,
        );
        assert_eq!(rc, PAM_SUCCESS, "pam_start_confdir failed");
        let rc = pam_authenticate(pamh, 0);
        pam_end(pamh, rc);
        rc
    }
}
