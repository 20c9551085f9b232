//! Re-running the test binary as a child process: to be killed mid-save, to hold a lock, or
//! to log in under pam_wrapper so that the module's syslog lines can be read.
//!
//! A test binary that uses these has a `child_process_entry` test that does nothing unless
//! [`child_mode`] says it was started by [`child`].

use std::ffi::c_int;
use std::io::{BufRead, Read};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::in_process::{pam_login, Fixture};
use crate::pam_wrapper::{wrap, StartLock};
use crate::syslog::{is_module_line, log_messages, syslog_lines};
use crate::tools::wait_at_most;

/// Environment variable that turns a test binary's `child_process_entry` test into the child.
pub const CHILD_ENV: &str = "PAM_OTP_PROVE_CHILD";

/// A command that re-runs this test binary with only its `child_process_entry` test, in
/// `mode` (read back with [`child_mode`]), output uncaptured.
pub fn child(mode: &str) -> Command {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "child_process_entry",
        "--exact",
        "--nocapture",
        "--test-threads=1",
        "-q",
    ])
    .env(CHILD_ENV, mode)
    .stdin(Stdio::null());
    cmd
}

/// The mode this process was started in by [`child`], if any.
pub fn child_mode() -> Option<String> {
    std::env::var(CHILD_ENV).ok()
}

/// Reads `out`, a child's piped stdout, until the child prints the line `want` (a child
/// started by [`child`] says so when it has reached the point a test waits for). Panics if
/// the child ends first. Keep `out` open while the child runs: it may print more.
pub fn wait_for_line(out: &mut impl BufRead, want: &str) {
    loop {
        let mut line = String::new();
        assert!(
            out.read_line(&mut line).unwrap() > 0,
            "the child ended before printing {want:?}"
        );
        if line.trim() == want {
            return;
        }
    }
}

/// What a login under pam_wrapper returned and logged.
#[derive(Debug)]
pub struct Logged {
    pub rc: c_int,
    /// The module's pam_syslog lines, as pam_wrapper prints them on stderr
    /// (`SYSLOG(prio): <reason> user=...`), without that prefix.
    pub syslog: Vec<String>,
    pub elapsed: Duration,
}

impl Logged {
    /// The one syslog line of this login.
    pub fn line(&self) -> &str {
        assert_eq!(self.syslog.len(), 1, "expected one syslog line: {self:?}");
        &self.syslog[0]
    }
}

/// A `limit` for [`logged_login`]: long enough for a debug-build login under pam_wrapper on a
/// busy machine.
pub const LOGIN_LIMIT: Duration = Duration::from_secs(30);

/// Runs one login of `user` with `answer` on `fixture`'s service `otp`, in a child process
/// under pam_wrapper so that the module's syslog lines can be read. The child is killed
/// (and the test fails) if it takes longer than `limit`: the module must never hang a host.
pub fn logged_login(fixture: &Fixture, user: &str, answer: &str, limit: Duration) -> Logged {
    let _start = StartLock::acquire();
    let started = std::time::Instant::now();
    let mut cmd = child("login");
    wrap(&mut cmd, &fixture.services_dir())
        .env("PROVE_USER", user)
        .env("PROVE_ANSWER", answer)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut proc = cmd.spawn().expect("spawn the login child");
    if wait_at_most(&mut proc, limit).is_none() {
        panic!("the login took longer than {limit:?}: the host would hang");
    }
    let elapsed = started.elapsed();
    let mut stdout = String::new();
    let mut stderr = String::new();
    proc.stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    proc.stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let rc = stdout
        .lines()
        .find_map(|l| l.strip_prefix("rc="))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| {
            panic!("the login child printed no rc; stdout {stdout:?} stderr {stderr:?}")
        });
    let syslog = syslog_lines(&log_messages(&stderr))
        .into_iter()
        .filter(|line| is_module_line(line))
        .collect();
    Logged {
        rc,
        syslog,
        elapsed,
    }
}

/// The child side of [`logged_login`]: one login through plain `pam_start` (redirected by
/// pam_wrapper to the fixture's service directory).
pub fn run_login_child() {
    let user = std::env::var("PROVE_USER").unwrap();
    let answer = std::env::var("PROVE_ANSWER").unwrap();
    let rc = pam_login(None, "otp", &user, &answer);
    println!("rc={rc}");
}

/// This process's open descriptors: number and what each points at, leaving out `inherited`
/// ones. A child inherits whatever the parent test process had open without close-on-exec at
/// the instant it was spawned (libpam opens service files without it, in other tests'
/// threads); the parent may then delete that file, which changes where the inherited
/// descriptor points ("… (deleted)"). Those are not the module's doing, so they are left out.
pub fn open_fds(inherited: &[String]) -> Vec<(String, String)> {
    let mut fds: Vec<(String, String)> = std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| {
            let e = e.ok()?;
            let fd = e.file_name().to_string_lossy().into_owned();
            if inherited.contains(&fd) {
                return None;
            }
            let target = std::fs::read_link(e.path()).ok()?;
            Some((fd, target.to_string_lossy().into_owned()))
        })
        .collect();
    fds.sort();
    fds
}
