//! The `pam-otp` command, run as a user would run it, with every path redirected into a
//! temporary directory. What it writes is then put through the module's own decision path
//! (`pam_otp_core::authenticate::authenticate` with a scripted host), with codes computed by
//! `oathtool`, an independent implementation. One file per thing a user or admin does.

// Test code: a broken assumption should stop the test loudly, so unwrap/expect/panic are fine,
// and it reads the clock as the world outside the module does.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::disallowed_methods
)]

mod harness;

mod acting_for_others;
mod check;
mod check_lockers_and_sshd;
mod check_recipes;
mod config_file;
mod deliver;
mod enroll;
mod fleet_store;
mod import;
mod locked;
mod metrics;
mod qr;
mod recovery;
mod repair_named_token;
mod secret_leak;
mod status;
mod status_several_tokens;
mod tokens;
mod unlock_reset;
