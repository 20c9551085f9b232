//! Test helpers shared by this crate's unit tests and, through the `testing` feature, by the
//! dev-only test kit (`pam-otp-testkit`) and every test built on it, so that there is one
//! temporary directory and one scripted host in the whole workspace.
//!
//! Compiled only for this crate's own tests or with the off-by-default `testing` feature;
//! the module's release build never enables it. The kit cannot be a dev-dependency of this
//! crate (its tests would then see a second copy of this crate's types), hence a feature.
//!
//! - [`TestDir`]: a private directory, removed on drop, whose name has no digits;
//!   [`names_in`] and [`write_file`] for what it holds.
//! - [`HelperDir`]: a root-safe place for scripted delivery helpers and what they record.
//! - [`ScriptedHost`]: an [`crate::authenticate::Host`] whose user, token and answers are
//!   scripted and which records every prompt and log line.

mod helper_dir;
mod scripted_host;
mod test_dir;

pub use helper_dir::{HelperDir, NOBODY};
pub use scripted_host::ScriptedHost;
pub use test_dir::{names_in, root_safe_dir, write_file, TestDir};
