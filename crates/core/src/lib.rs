//! pam_otp's core: every layer of the module and the `pam-otp` command that needs no FFI.
//!
//! Layers, inside out (ARCHITECTURE.md): [`otp`] computes codes, [`secret_file`] parses the
//! user's secret, [`recovery`] hashes recovery codes, [`state`] encodes per-user state,
//! [`verify`] decides, [`store`] keeps that state durably under a lock, [`private_file`] reads
//! and writes files the user can influence, [`userdb`] looks up accounts,
//! [`args`] parses module arguments, [`config_file`] reads the settings file under them, and [`authenticate`] runs one attempt against a small
//! [`authenticate::Host`] trait that the PAM module implements over libpam.
//!
//! `testing` (this crate's tests, and the off-by-default `testing` feature the dev-only test
//! kit enables) holds the temporary directory and the scripted host every test shares.

// Every public item says what it is for: the CLI, the module and the next backends build on them.
#![deny(missing_docs)]

pub mod args;
pub mod audit;
pub mod authenticate;
pub mod base32_codec;
pub mod civil_time;
pub mod config_file;
pub mod decimal;
pub mod fleet;
pub mod log_text;
pub mod oob;
pub mod otp;
pub mod private_file;
pub mod record;
pub mod recovery;
pub mod secret_file;
pub mod state;
pub mod store;
pub mod userdb;
pub mod verify;

mod errno;
mod temp_name;

// Test helpers: a failed set-up is a failed test, so they panic on purpose, and they read
// the clock as the world outside the module does.
#[cfg(any(test, feature = "testing"))]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::disallowed_methods
)]
pub mod testing;
