//! Audit issue 9, SIGSTOP while holding the per-uid lock: a setuid `su` runs with its
//! invoker's real uid, so the invoker may stop it (SIGSTOP cannot be caught or blocked) at
//! the moment it holds the state lock of the account being authenticated, which for `su`
//! is the target account, not the invoker. Another login of that account must then fail
//! closed after `lock_timeout` (never hang, never skip the state), and work again once the
//! stopped process is continued.
//!
//! The stopped process is a child that runs the module's own store transaction
//! (`FileStore::transact`, what the module runs under the lock) and stops itself inside it.

// Test code: a broken assumption should stop the test loudly, so unwrap/expect/panic are fine,
// and it reads the clock as the world outside the module does.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::disallowed_methods
)]

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use pam_otp_core::store::{FileStore, StateStore};
use pam_otp_testkit::child_process::{child, child_mode, logged_login};
use pam_otp_testkit::in_process::{hotp, Fixture};
use pam_otp_testkit::pam_ffi::{PAM_AUTH_ERR, PAM_SUCCESS};

/// Long enough for a debug-build login under pam_wrapper on a busy machine.
const LOGIN_LIMIT: Duration = Duration::from_secs(30);

fn signal(child: &Child, name: &str) {
    let ok = Command::new("kill")
        .args([format!("-{name}"), child.id().to_string()])
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "kill -{name} {}", child.id());
}

/// The process state letter from /proc (`T`: stopped).
fn proc_state(child: &Child) -> char {
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", child.id())).unwrap();
    // After the command name in parentheses, which may contain spaces.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    rest.chars().next().unwrap()
}

/// The stopped child. If the test fails half-way, it is continued and killed on drop: a
/// stopped child left behind would keep the test runner's output pipe open for ever.
struct Holder(Child);

impl Drop for Holder {
    fn drop(&mut self) {
        // SIGKILL ends a stopped process too.
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

#[test]
fn a_login_stopped_inside_the_lock_makes_others_fail_closed_not_hang() {
    let f = Fixture::new("stopped", "lock_timeout=1");
    assert_eq!(f.login(&hotp(0)), PAM_SUCCESS);

    let mut holder = Holder(
        child("stop-inside-lock")
            .env("PROVE_DIR", f.state_dir())
            .env("PROVE_UID", f.uid.to_string())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut out = BufReader::new(holder.0.stdout.take().unwrap());
    loop {
        let mut line = String::new();
        assert!(out.read_line(&mut line).unwrap() > 0, "the holder died");
        if line.trim() == "PROVE locked" {
            break;
        }
    }
    // It stops itself right after printing; wait until it has.
    let mut waited = 0;
    while proc_state(&holder.0) != 'T' {
        assert!(waited < 500, "the holder did not stop");
        std::thread::sleep(Duration::from_millis(10));
        waited += 1;
    }

    let denied = logged_login(&f, &f.user, &hotp(1), LOGIN_LIMIT);
    eprintln!(
        "lock held by a stopped process, after {:?}: {}",
        denied.elapsed,
        denied.line()
    );
    assert_eq!(denied.rc, PAM_AUTH_ERR);
    assert!(
        denied.line().starts_with("state_error ")
            && denied
                .line()
                .ends_with("timed out waiting for the state lock"),
        "{denied:?}"
    );
    assert!(denied.elapsed >= Duration::from_secs(1), "{denied:?}");
    assert_eq!(proc_state(&holder.0), 'T', "still stopped");

    // Continued, the holder finishes its transaction and lets go; the same code, never
    // recorded, is now accepted.
    signal(&holder.0, "CONT");
    assert!(holder.0.wait().unwrap().success());
    assert_eq!(f.login(&hotp(1)), PAM_SUCCESS);
    assert_eq!(f.login(&hotp(1)), PAM_AUTH_ERR, "and only once");
}

/// Does nothing unless started as a child by the test above.
#[test]
fn child_process_entry() {
    let Some(mode) = child_mode() else {
        return;
    };
    match mode.as_str() {
        "login" => pam_otp_testkit::child_process::run_login_child(),
        "stop-inside-lock" => {
            let store = FileStore::new(std::env::var("PROVE_DIR").unwrap(), Duration::from_secs(5));
            let uid: u32 = std::env::var("PROVE_UID").unwrap().parse().unwrap();
            store
                .transact(uid, &mut |state| {
                    println!("PROVE locked");
                    std::io::stdout().flush().unwrap();
                    // What the invoker of a setuid su may do to it at this instant. Raised
                    // on this thread, so that it stops here, inside the lock: a SIGSTOP sent
                    // from another process may take effect only after the transaction ends.
                    // SAFETY: raise has no memory-safety preconditions.
                    let stopped = unsafe { libc::raise(libc::SIGSTOP) };
                    assert_eq!(stopped, 0);
                    state.clone()
                })
                .unwrap();
        }
        other => panic!("unknown child mode {other}"),
    }
}
