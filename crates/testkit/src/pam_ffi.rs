//! The libpam *application* interface (pam_start(3), pam_conv(3)): declarations, types and
//! constants, and what the project's PAM applications share of a conversation (filling the
//! response array, answering every prompt with one text). Its users: the test client
//! `examples/pam_client.rs`, the in-process logins of [`crate::in_process`] and the
//! benchmark `benches/pam-bench`.
//!
//! Every call through these declarations is `unsafe` and is documented where it is made.

use std::ffi::{c_char, c_int, c_void, CStr};
use std::ptr;

// Return codes (security/_pam_types.h).
pub const PAM_SUCCESS: c_int = 0;
pub const PAM_SERVICE_ERR: c_int = 3;
pub const PAM_BUF_ERR: c_int = 5;
pub const PAM_PERM_DENIED: c_int = 6;
pub const PAM_AUTH_ERR: c_int = 7;
pub const PAM_CONV_ERR: c_int = 19;
pub const PAM_IGNORE: c_int = 25;

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

/// A `malloc`ed copy of `bytes` plus a NUL (libpam frees answers with `free`), or NULL when
/// memory runs out.
pub fn malloc_string(bytes: &[u8]) -> *mut c_char {
    // SAFETY: plain allocation; the result is checked for NULL before use.
    let p = unsafe { libc::malloc(bytes.len() + 1) }.cast::<u8>();
    if !p.is_null() {
        // SAFETY: `p` points to `bytes.len() + 1` writable bytes that do not overlap `bytes`.
        unsafe {
            ptr::copy_nonoverlapping(bytes.as_ptr(), p, bytes.len());
            *p.add(bytes.len()) = 0;
        }
    }
    p.cast()
}

/// Answers `count` messages into `*responses`: `answer()` for each prompt (echo on or off),
/// nothing for the other messages, in a `calloc`ed array (libpam frees it and each answer
/// with `free`). Returns PAM_SUCCESS, or PAM_BUF_ERR when memory runs out.
///
/// # Safety
/// `messages` must hold `count` valid message pointers (Linux-PAM's layout) and `responses`
/// must be writable.
pub unsafe fn answer_each_prompt<A: AsRef<[u8]>>(
    count: usize,
    messages: *mut *const PamMessage,
    responses: *mut *mut PamResponse,
    mut answer: impl FnMut() -> A,
) -> c_int {
    // SAFETY: calloc of `count` zeroed responses; checked for NULL below.
    let out = unsafe { libc::calloc(count.max(1), std::mem::size_of::<PamResponse>()) }
        .cast::<PamResponse>();
    if out.is_null() {
        return PAM_BUF_ERR;
    }
    for i in 0..count {
        // SAFETY: the caller guarantees `count` valid message pointers, and `i < count`.
        let style = unsafe { (**messages.add(i)).msg_style };
        if style == PAM_PROMPT_ECHO_OFF || style == PAM_PROMPT_ECHO_ON {
            // SAFETY: `out` holds `count` zeroed entries and `i < count`.
            unsafe { (*out.add(i)).resp = malloc_string(answer().as_ref()) };
        }
    }
    // SAFETY: the caller guarantees `responses` is writable; libpam takes ownership.
    unsafe { *responses = out };
    PAM_SUCCESS
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
    // SAFETY: `appdata` is a NUL-terminated string, as the function's contract says.
    let text = unsafe { CStr::from_ptr(appdata as *const c_char) }.to_bytes();
    // SAFETY: `messages` holds `n` valid pointers and `responses` is writable, as the
    // function's contract says.
    unsafe { answer_each_prompt(n, messages, responses, || text) }
}
