//! Dev-only test kit for pam_otp's tests and benchmark: drive the built `pam_otp.so` through
//! real libpam, as sshd and sudo do. One file per concern:
//!
//! - [`built`]: where cargo put the module and the PAM test client (cargo brings both up
//!   to date first).
//! - [`pam_ffi`]: the few libpam application calls, and the shared conversation code.
//! - [`pam_wrapper`]: finding pam_wrapper, serialising the start of wrapped processes
//!   ([`pam_wrapper::StartLock`]), running a command under it.
//! - [`syslog`]: the syslog lines pam_wrapper prints on stderr, and pam_otp's among them.
//! - [`codes`]: keys and codes from oathtool (an independent implementation), recovery
//!   entries.
//! - [`secret_leak_fixtures`]: malformed secret files that put the secret where a key
//!   belongs, and what must then never be shown.
//! - [`users`]: who the tests authenticate, a second account, and a name nobody has.
//! - [`tools`]: programs the tests need besides the module.
//! - [`client`] and [`whole_process`]: whole-process runs of the test client under
//!   pam_wrapper ([`whole_process::Env`], [`client::Client`], [`client::Outcome`]).
//! - [`enrolment`]: enrolling an [`whole_process::Env`]'s user with the built `pam-otp`,
//!   reading back the key and recovery codes, checking what `pam-otp` answered.
//! - [`in_process`]: logins inside the test process ([`in_process::pam_login`],
//!   [`in_process::Fixture`]), for the race, crash and fault tests and the benchmark.
//! - [`child_process`]: re-running the test binary as a child (to be killed, to hold a lock,
//!   to log in under pam_wrapper).
//! - [`redis_server`]: real Redis servers, replicas and Sentinels on loopback for the fleet
//!   tests, each in its own temporary directory, killed on drop.
//! - [`fleet`]: the configuration file of a fleet test's services (store=redis, its own
//!   server) and a user's state as Redis holds it.
//! - [`providers`]: the fake SMS/voice/push providers (Twilio, Vonage, Arkesel, Firebase) on
//!   loopback HTTPS, checking and recording every request, killed on drop.
//! - [`tmpfs`]: a small tmpfs as the state directory, filled until the disk is full (root).
//!
//! The temporary directory and the scripted host are `pam_otp_core::testing`'s (this kit
//! enables that crate's `testing` feature), re-exported here, so that core's unit tests, the
//! CLI tests and the kit use the same types: [`TestDir`], [`names_in`], [`write_file`],
//! [`ScriptedHost`].

// Dev-only harness: a broken assumption should stop the test loudly, so unwrap/expect/panic are fine,
// and it reads the clock as the world outside the module does.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::disallowed_methods
)]

pub mod built;
pub mod child_process;
pub mod client;
pub mod codes;
pub mod enrolment;
pub mod fleet;
pub mod freed_memory;
pub mod in_process;
pub mod pam_ffi;
pub mod pam_wrapper;
pub mod providers;
pub mod redis_server;
pub mod secret_leak_fixtures;
pub mod syslog;
pub mod tmpfs;
pub mod tools;
pub mod users;
pub mod whole_process;

pub use pam_otp_core::testing::{names_in, write_file, ScriptedHost, TestDir};
