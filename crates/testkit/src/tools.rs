//! Programs the tests run besides the module: making sure they are there, and never
//! waiting on one for ever.

use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

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

/// Waits for `child` to end, at most `limit`; past it the child is killed and reaped, and
/// `None` returned (the caller fails the test, saying what hung).
pub fn wait_at_most(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("wait for a child process") {
            return Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}
