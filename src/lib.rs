//! pam_otp: one-time-code (TOTP/HOTP) second factor for Linux-PAM.
//!
//! Layers, inside out (DESIGN.md): [`otp`] computes codes, [`secret_file`] parses the user's
//! secret, [`verify`] decides, [`store`] keeps per-user state durably under a lock, [`fsafe`]
//! opens files the user can influence, and `pam` is the only place that talks to libpam.
//! For the `pam-otp` command: [`secret_write`] writes the secret file, [`otpauth`] builds the
//! enrolment URI, [`google_authenticator`] reads files to import, [`admin`] unlocks users.

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

pub mod admin;
pub mod args;
pub mod authenticate;
pub mod fsafe;
pub mod google_authenticator;
pub mod log_text;
pub mod otp;
pub mod otpauth;
pub mod recovery;
pub mod secret_file;
pub mod secret_write;
pub mod state;
pub mod store;
pub mod userdb;
pub mod verify;

mod pam;
#[cfg(test)]
pub(crate) mod testutil;
