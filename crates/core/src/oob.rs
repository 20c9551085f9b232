//! Codes sent out of band (e-mail, webhook, ntfy): the rules, with no I/O but [`spawn`].
//!
//! - [`contact`]: the `deliver = CHANNEL:CONTACT` value, strictly parsed, and its masked
//!   spelling for prompts.
//! - [`code`]: one-time codes from the OS random source (rejection-sampled, no modulo bias)
//!   and the keyed hash the state keeps instead of the code.
//! - [`rules`]: the pending code and the send history, as a small record with its own
//!   bounded, versioned encoding, and the pure decisions over it (may we send now, does this
//!   typed code match, single use, a new send supersedes the previous code). The clock is
//!   passed in.
//! - [`spawn`]: start the delivery helper (`pam-otp-deliver`) safely: fixed root-owned path,
//!   empty environment but for a fixed set of variables, the code on stdin, an unprivileged
//!   user, its own process group, a hard timeout that kills the whole group.
//! - [`exit`]: the helper's exit codes, shared by the helper and the caller.

pub mod code;
pub mod contact;
pub mod exit;
pub mod rules;
pub mod spawn;
