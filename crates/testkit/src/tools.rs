//! Programs the tests run besides the module.

use std::process::{Command, Stdio};

/// Panics (never skips) when a program the tests need cannot be run, naming the Debian
/// package. Its exit status is not checked (pamtester has no option that exits 0).
pub fn require_tool(program: &str, args: &[&str], package: &str) {
    let ok = Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    assert!(
        ok,
        "`{program}` is missing or does not run; these tests need it: \
         install the Debian package `{package}` (apt-get install {package})"
    );
}
