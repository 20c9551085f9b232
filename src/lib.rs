//! pam_otp: one-time-code (TOTP/HOTP) second factor for Linux-PAM.
//!
//! Layers, inside out (DESIGN.md): [`otp`] computes codes, [`secret_file`] parses the user's
//! secret, [`verify`] decides, [`store`] keeps per-user state durably under a lock, [`fsafe`]
//! opens files the user can influence, and `pam` is the only place that talks to libpam.

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

pub mod args;
pub mod authenticate;
pub mod fsafe;
pub mod otp;
pub mod recovery;
pub mod secret_file;
pub mod state;
pub mod store;
pub mod userdb;
pub mod verify;

mod pam;
