//! The libpam *application* interface (pam_start(3), pam_conv(3)): declarations, types and
//! constants, plus the one scripted conversation two of the applications share. Written once and included with `#[path = …] mod pam_ffi;`
//! by the three PAM applications of the project: `examples/pam_client.rs`,
//! `tests/prove/mod.rs` and `benches/pam-bench/src/session.rs` (a crate of its own that must not
//! link the pam_otp library, hence a shared file rather than a shared crate).
//!
//! Every call through these declarations is `unsafe` and is documented where it is made.

#![allow(dead_code)] // each includer uses its own subset

use std::ffi::{c_char, c_int, c_void};

// Return codes (security/_pam_types.h).
pub const PAM_SUCCESS: c_int = 0;
pub const PAM_BUF_ERR: c_int = 5;
pub const PAM_AUTH_ERR: c_int = 7;
pub const PAM_CONV_ERR: c_int = 19;

// Item types for pam_set_item.
pub const PAM_RHOST: c_int = 4;

// Message styles.
pub const PAM_PROMPT_ECHO_OFF: c_int = 1;
pub const PAM_PROMPT_ECHO_ON: c_int = 2;
pub const PAM_ERROR_MSG: c_int = 3;
pub const PAM_TEXT_INFO: c_int = 4;

#[repr(C)]
pub struct PamMessage {
    pub msg_style: c_int,
    pub msg: *const c_char,
}

#[repr(C)]
pub struct PamResponse {
    pub resp: *mut c_char,
    pub resp_retcode: c_int,
}

/// The conversation function: `num_msg` messages (Linux-PAM's layout: an array of pointers),
/// a `resp` to fill with a `calloc`ed array of answers, and the application's `appdata_ptr`.
pub type ConvFn = unsafe extern "C" fn(
    num_msg: c_int,
    msg: *mut *const PamMessage,
    resp: *mut *mut PamResponse,
    appdata_ptr: *mut c_void,
) -> c_int;

#[repr(C)]
pub struct PamConv {
    pub conv: ConvFn,
    pub appdata_ptr: *mut c_void,
}

/// Opaque libpam handle.
#[repr(C)]
pub struct PamHandle {
    _opaque: [u8; 0],
}

#[link(name = "pam")]
extern "C" {
    pub fn pam_start(
        service: *const c_char,
        user: *const c_char,
        conv: *const PamConv,
        pamh: *mut *mut PamHandle,
    ) -> c_int;
    pub fn pam_start_confdir(
        service: *const c_char,
        user: *const c_char,
        conv: *const PamConv,
        confdir: *const c_char,
        pamh: *mut *mut PamHandle,
    ) -> c_int;
    pub fn pam_set_item(pamh: *mut PamHandle, item_type: c_int, item: *const c_void) -> c_int;
    pub fn pam_authenticate(pamh: *mut PamHandle, flags: c_int) -> c_int;
    pub fn pam_end(pamh: *mut PamHandle, status: c_int) -> c_int;
    pub fn pam_strerror(pamh: *mut PamHandle, errnum: c_int) -> *const c_char;
}

/// A conversation that answers every prompt with the C string `appdata` points to (what a
/// user types at sshd's prompt); other messages get no answer.
///
/// # Safety
/// Called by libpam only: `messages` holds `count` valid pointers (Linux-PAM's layout) and
/// `appdata` is a NUL-terminated string alive for the whole transaction.
pub unsafe extern "C" fn answer_prompts(
    count: c_int,
    messages: *mut *const PamMessage,
    responses: *mut *mut PamResponse,
    appdata: *mut c_void,
) -> c_int {
    let Ok(n) = usize::try_from(count) else {
        return PAM_BUF_ERR;
    };
    // SAFETY: libpam frees the array and each answer with free(), so both come from calloc
    // and strdup; the pointers are valid as the function's contract says.
    unsafe {
        let out = libc::calloc(n.max(1), std::mem::size_of::<PamResponse>()) as *mut PamResponse;
        if out.is_null() {
            return PAM_BUF_ERR;
        }
        for i in 0..n {
            let style = (**messages.add(i)).msg_style;
            if style == PAM_PROMPT_ECHO_OFF || style == PAM_PROMPT_ECHO_ON {
                (*out.add(i)).resp = libc::strdup(appdata as *const c_char);
            }
        }
        *responses = out;
    }
    PAM_SUCCESS
}
