//! `pam-otp check`: placeholder while the checker is written.
use crate::common::Result;
use crate::{CheckArgs, ModuleOpts};
use std::process::ExitCode;
pub fn run(_opts: &ModuleOpts, _a: &CheckArgs) -> Result<ExitCode> {
    Ok(ExitCode::SUCCESS)
}
