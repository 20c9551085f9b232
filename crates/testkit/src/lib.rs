//! Dev-only harness for pam_otp's tests and benchmark: drive the built `pam_otp.so` through
//! real libpam, as sshd and sudo do.
//!
//! - [`pam_ffi`]: the few libpam client calls (`pam_start_confdir`, `pam_authenticate`,
//!   `pam_end`) and a scripted conversation.
//! - [`built`]: where cargo put the module and the helper programs.
//! - [`support`]: whole-process runs of the PAM client under pam_wrapper, with captured syslog.
//! - [`prove`]: in-process logins for the race, crash and fault tests.

// Dev-only harness: a broken assumption should stop the test loudly, so unwrap/expect/panic are fine,
// and it reads the clock as the world outside the module does.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::disallowed_methods
)]

pub mod built;
pub mod pam_ffi;
pub mod prove;
pub mod support;
