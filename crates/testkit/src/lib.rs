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
//! - [`users`]: who the tests authenticate, and a name nobody has.
//! - [`tools`]: programs the tests need besides the module.
//! - [`client`] and [`whole_process`]: whole-process runs of the test client under
//!   pam_wrapper ([`whole_process::Env`], [`client::Client`], [`client::Outcome`]).
//! - [`in_process`]: logins inside the test process ([`in_process::pam_login`],
//!   [`in_process::Fixture`]), for the race, crash and fault tests and the benchmark.
//! - [`child_process`]: re-running the test binary as a child (to be killed, to hold a lock,
//!   to log in under pam_wrapper).
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
pub mod in_process;
pub mod pam_ffi;
pub mod pam_wrapper;
pub mod syslog;
pub mod tools;
pub mod users;
pub mod whole_process;

pub use pam_otp_core::testing::{names_in, write_file, ScriptedHost, TestDir};

// kept while branches merge; removed after
/// The old path of the whole-process harness (`tests/support`).
#[doc(hidden)]
pub mod support {
    pub use crate::built::{client_path, modified, module_path, profile_dir};
    pub use crate::client::{Client, Conv, Outcome};
    pub use crate::codes::{hotp, now, recovery_entry, Key, Totp};
    pub use crate::pam_ffi::{
        PAM_AUTH_ERR, PAM_CONV_ERR, PAM_IGNORE, PAM_PERM_DENIED, PAM_SERVICE_ERR, PAM_SUCCESS,
    };
    pub use crate::pam_wrapper::{pam_wrapper_lib, pam_wrapper_module, StartLock};
    pub use crate::syslog::{log_messages, syslog_lines, REASONS};
    pub use crate::tools::require_tool;
    pub use crate::users::{current_user, TestUser, NO_SUCH_USER};
    pub use crate::whole_process::{Env, Pending, IGNORE_PROBE_CONTROL};
    pub use crate::{write_file, TestDir};
}

// kept while branches merge; removed after
/// The old path of the in-process harness (`tests/prove`).
#[doc(hidden)]
pub mod prove {
    use std::path::Path;

    pub use crate::built::module_path;
    pub use crate::child_process::{
        child, child_mode, logged_login, run_login_child, Logged, CHILD_ENV,
    };
    pub use crate::in_process::{hotp, pam_login, wrong_code, Fixture, KEY};
    pub use crate::names_in;
    pub use crate::pam_ffi::{PAM_AUTH_ERR, PAM_SUCCESS};
    pub use crate::pam_wrapper::{pam_wrapper_lib, StartLock};

    /// The module's own user as `(name, uid)`: now [`crate::users::current_user`].
    pub fn current_user() -> (String, u32) {
        let me = crate::users::current_user();
        (me.name, me.uid)
    }

    /// A file with mode 0600: now [`crate::write_file`].
    pub fn write_private(path: &Path, bytes: &[u8]) {
        crate::write_file(path, bytes, 0o600);
    }

    /// A private directory named after `tag`: now [`crate::TestDir::tagged`].
    pub struct TempDir(crate::TestDir);

    impl TempDir {
        pub fn new(tag: &str) -> TempDir {
            TempDir(crate::TestDir::tagged(tag))
        }

        pub fn path(&self) -> &Path {
            self.0.path()
        }
    }
}
