//! The command's one error type: a message for the user, and the `fail!` shorthand.

use std::fmt;

/// A message for the user: one or more sentences, printed after "pam-otp: ".
#[derive(Debug)]
pub struct CliError(pub String);

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What every step of a subcommand returns.
pub type Result<T> = std::result::Result<T, CliError>;

/// `Err(CliError(format!(...)))`.
macro_rules! fail {
    ($($arg:tt)*) => { return Err($crate::error::CliError(format!($($arg)*))) };
}
pub(crate) use fail;
