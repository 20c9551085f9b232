//! Which audit records an attempt hands to its host: exactly pam_faillock's, exactly when
//! the lock-out starts or ends, and nothing on any other attempt (through the scripted host,
//! which records them; `tests/audit_records.rs` reads them back from the kernel).

use super::*;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, UNIX_EPOCH};

use crate::audit::Event;
use crate::otp::{format_code, totp, Algorithm};
use crate::testing::{ScriptedHost, TestDir};

const SECRET_B32: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
const KEY: &[u8] = b"12345678901234567890";
const NOW: u64 = 1_800_000_015;
const RHOST: &str = "192.0.2.7";

struct Enrolled {
    dir: TestDir,
    user: String,
    uid: u32,
}

impl Enrolled {
    fn new() -> Enrolled {
        let dir = TestDir::tagged("audit-events");
        let uid = nix::unistd::geteuid().as_raw();
        let user = userdb::lookup_uid(uid)
            .unwrap()
            .expect("current user in passwd")
            .name;
        let path = dir.join(format!("{user}.otp"));
        fs::write(&path, format!("secret = {SECRET_B32}\n")).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        Enrolled { dir, user, uid }
    }

    /// One attempt at `at` (seconds), typing `answer`, with `extra` arguments; the host
    /// afterwards, for its records.
    fn attempt(&self, at: u64, answer: &[u8], extra: &[&str]) -> (Verdict, ScriptedHost) {
        self.attempt_with(ScriptedHost::new(&self.user), at, answer, extra)
    }

    fn attempt_with(
        &self,
        host: ScriptedHost,
        at: u64,
        answer: &[u8],
        extra: &[&str],
    ) -> (Verdict, ScriptedHost) {
        let mut host = host.rhost(RHOST).answering(answer);
        let mut args = vec![
            format!("secret={}/%u.otp", self.dir.path().display()),
            format!("state_dir={}/state", self.dir.path().display()),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let verdict = authenticate(
            &mut host,
            args.iter().map(|a| a.as_bytes()),
            UNIX_EPOCH + Duration::from_secs(at),
        );
        (verdict, host)
    }
}

fn code_at(at: u64) -> String {
    format_code(totp(KEY, at, 30, Algorithm::Sha1, 6), 6)
}

const LOCKING: [&str; 2] = ["max_failures=2", "lockout=30"];

#[test]
fn a_lock_out_hands_failures_then_lock_and_nothing_before() {
    let s = Enrolled::new();
    let (verdict, first) = s.attempt(NOW, b"000000", &LOCKING);
    assert_eq!(verdict, Verdict::Deny(Reason::BadCode));
    assert_eq!(first.audits, []);
    let (verdict, second) = s.attempt(NOW + 1, b"000000", &LOCKING);
    assert_eq!(verdict, Verdict::Deny(Reason::BadCode));
    assert_eq!(
        second.audits,
        [Event::Failures { uid: s.uid }, Event::Locked { uid: s.uid }]
    );
    // Refused while locked out, even with the right code: no record.
    let (verdict, locked) = s.attempt(NOW + 2, code_at(NOW + 2).as_bytes(), &LOCKING);
    assert_eq!(verdict, Verdict::Deny(Reason::Locked));
    assert_eq!(locked.audits, []);
}

#[test]
fn the_first_attempt_after_the_lock_out_hands_its_end_with_the_host() {
    let s = Enrolled::new();
    for at in [NOW, NOW + 1] {
        s.attempt(at, b"000000", &LOCKING);
    }
    // Locked until NOW + 31; at NOW + 45 it has run out.
    let (verdict, after) = s.attempt(NOW + 45, code_at(NOW + 45).as_bytes(), &LOCKING);
    assert_eq!(verdict, Verdict::Success);
    assert_eq!(
        after.audits,
        [Event::UnlockTimed {
            uid: s.uid,
            rhost: Some(RHOST.as_bytes().to_vec()),
        }]
    );
    // Only the first: the lock-out is over, the next attempt hands nothing.
    let (verdict, next) = s.attempt(NOW + 46, b"000000", &LOCKING);
    assert_eq!(verdict, Verdict::Deny(Reason::BadCode));
    assert_eq!(next.audits, []);
}

#[test]
fn an_end_and_a_new_lock_out_in_one_attempt_hand_all_three_in_order() {
    let s = Enrolled::new();
    let args = ["max_failures=1", "lockout=30"];
    s.attempt(NOW, b"000000", &args);
    let (verdict, host) = s.attempt(NOW + 45, b"000000", &args);
    assert_eq!(verdict, Verdict::Deny(Reason::BadCode));
    assert_eq!(
        host.audits,
        [
            Event::UnlockTimed {
                uid: s.uid,
                rhost: Some(RHOST.as_bytes().to_vec()),
            },
            Event::Failures { uid: s.uid },
            Event::Locked { uid: s.uid },
        ]
    );
}

#[test]
fn ordinary_attempts_and_the_unenrolled_hand_nothing() {
    let s = Enrolled::new();
    let (verdict, ok) = s.attempt(NOW, code_at(NOW).as_bytes(), &LOCKING);
    assert_eq!(verdict, Verdict::Success);
    assert_eq!(ok.audits, []);
    let (verdict, replay) = s.attempt(NOW + 1, code_at(NOW).as_bytes(), &["max_failures=5"]);
    assert_eq!(verdict, Verdict::Deny(Reason::Replay));
    assert_eq!(replay.audits, []);
    // Someone without a secret file, failing as often as they like: never a record (only
    // the enrolled can be locked out; a record would tell who is enrolled).
    let stranger = Enrolled::new();
    fs::remove_file(stranger.dir.join(format!("{}.otp", stranger.user))).unwrap();
    for at in NOW..NOW + 4 {
        let (verdict, host) = stranger.attempt(at, b"000000", &["max_failures=1"]);
        assert_eq!(verdict, Verdict::Deny(Reason::NoSecret));
        assert_eq!(host.audits, []);
    }
}

#[test]
fn a_refused_record_is_noted_in_the_log_line_and_changes_no_answer() {
    let s = Enrolled::new();
    s.attempt(NOW, b"000000", &LOCKING);
    let mut refusing = ScriptedHost::new(&s.user);
    refusing.audit_outcome = audit::Outcome::Failed(libc::EIO);
    let (verdict, host) = s.attempt_with(refusing, NOW + 1, b"000000", &LOCKING);
    assert_eq!(verdict, Verdict::Deny(Reason::BadCode));
    assert_eq!(host.audits.len(), 2);
    let line = host.outcome_line();
    assert!(
        line.ends_with("locked out for 30 s; audit record not written: I/O error"),
        "{line}"
    );
    // Auditing that is not there at all: said nowhere.
    let mut absent = ScriptedHost::new(&s.user);
    absent.audit_outcome = audit::Outcome::Unavailable;
    let (verdict, host) = s.attempt_with(absent, NOW + 45, code_at(NOW + 45).as_bytes(), &LOCKING);
    assert_eq!(verdict, Verdict::Success);
    assert_eq!(host.audits.len(), 1);
    assert!(
        !host.outcome_line().contains("audit"),
        "{}",
        host.outcome_line()
    );
}
