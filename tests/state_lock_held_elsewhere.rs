//! Another process holding a user's state lock makes that user's logins fail closed after
//! `lock_timeout` (never hang, never skip the state) and records nothing for the refused
//! attempt: once the lock is free, the same code is accepted, once. The holder may be a
//! process that just keeps the lock, or a login stopped inside it: a setuid `su` runs with
//! its invoker's real uid, so the invoker may stop it (SIGSTOP cannot be caught or blocked)
//! at the moment it holds the state lock of the account being authenticated, which for `su`
//! is the target account, not the invoker (audit issue 9); continued, it lets go.
//!
//! Through the built module under real libpam; the refused login runs in a child process
//! under pam_wrapper, so that its syslog line is read. The stopped holder is a child that
//! runs the module's own store transaction (`FileStore::transact`, what the module runs
//! under the lock) and stops itself inside it.

use std::fs::File;
use std::io::{BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pam_otp_core::store::{FileStore, StateKey, StateStore};
use pam_otp_testkit::child_process::{child, child_mode, logged_login, wait_for_line, LOGIN_LIMIT};
use pam_otp_testkit::in_process::{hotp, Fixture};
use pam_otp_testkit::pam_ffi::{PAM_AUTH_ERR, PAM_SUCCESS};

#[test]
fn state_lock_held_by_another_process_fails_closed_within_the_bound() {
    let f = Fixture::new("faults-lock", "lock_timeout=1");
    assert_eq!(f.login(&hotp(0)), PAM_SUCCESS);
    // Another process takes the user's lock and keeps it.
    let mut holder = child("hold-lock")
        .env("PROVE_FILE", f.state_file(f.uid))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(holder.stdout.take().unwrap());
    wait_for_line(&mut out, "PROVE locked");

    let denied = logged_login(&f, &f.user, &hotp(1), LOGIN_LIMIT);
    eprintln!(
        "lock held elsewhere, after {:?}: {}",
        denied.elapsed,
        denied.line()
    );
    holder.kill().unwrap();
    holder.wait().unwrap();
    assert_eq!(denied.rc, PAM_AUTH_ERR);
    assert!(
        denied
            .line()
            .starts_with(&format!("state_error rhost=- user={}: ", f.user)),
        "{denied:?}"
    );
    assert!(
        denied
            .line()
            .ends_with("timed out waiting for the state lock"),
        "{denied:?}"
    );
    // Waited for the bound (1 s), and not much longer (process start-up included).
    assert!(denied.elapsed >= Duration::from_secs(1), "{denied:?}");
    assert!(denied.elapsed < Duration::from_secs(4), "{denied:?}");

    // Nothing was recorded for the refused attempt: once the lock is free, the same code
    // is accepted, and the earlier one is still a replay.
    assert_eq!(f.state().hotp_next, Some(1));
    assert_eq!(f.login(&hotp(1)), PAM_SUCCESS);
    assert_eq!(f.login(&hotp(0)), PAM_AUTH_ERR);
}

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
    wait_for_line(&mut out, "PROVE locked");
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

/// Does nothing unless started as a child by one of the tests above.
#[test]
fn child_process_entry() {
    let Some(mode) = child_mode() else {
        return;
    };
    match mode.as_str() {
        "login" => pam_otp_testkit::child_process::run_login_child(),
        "hold-lock" => {
            let file = File::open(std::env::var("PROVE_FILE").unwrap()).unwrap();
            file.lock().unwrap();
            println!("PROVE locked");
            let until = Instant::now() + Duration::from_secs(60);
            while Instant::now() < until {
                std::thread::sleep(Duration::from_millis(100));
            }
            panic!("the lock holder was not killed");
        }
        "stop-inside-lock" => {
            let store = FileStore::new(std::env::var("PROVE_DIR").unwrap(), Duration::from_secs(5));
            let uid: u32 = std::env::var("PROVE_UID").unwrap().parse().unwrap();
            store
                .transact(
                    StateKey {
                        uid,
                        name: "test-user",
                    },
                    &mut |state| {
                        println!("PROVE locked");
                        std::io::stdout().flush().unwrap();
                        // What the invoker of a setuid su may do to it at this instant. Raised
                        // on this thread, so that it stops here, inside the lock: a SIGSTOP sent
                        // from another process may take effect only after the transaction ends.
                        // SAFETY: raise has no memory-safety preconditions.
                        let stopped = unsafe { libc::raise(libc::SIGSTOP) };
                        assert_eq!(stopped, 0);
                        state.clone()
                    },
                )
                .unwrap();
        }
        other => panic!("unknown child mode {other}"),
    }
}
