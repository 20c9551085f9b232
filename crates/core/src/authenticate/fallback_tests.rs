//! Which store an attempt uses when the shared one fails: `fail_mode=local` falls back to
//! this host's files only when the shared store cannot be reached, and says so in a line
//! of its own; anything else refuses.

use super::*;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, UNIX_EPOCH};

use crate::otp::{format_code, totp, Algorithm};
use crate::state::State;
use crate::store::{FileStore, Inspection, StateStore, StoreError};
use crate::testing::{ScriptedHost, TestDir};

const KEY: &[u8] = b"12345678901234567890";
const NOW: u64 = 1_800_000_015;

/// A shared store that fails every call in one way.
struct Failing(StoreError);

impl StateStore for Failing {
    fn transact(
        &self,
        _: StateKey<'_>,
        _: &mut dyn FnMut(&State) -> State,
    ) -> Result<State, StoreError> {
        Err(self.0.clone())
    }
    fn inspect(&self, _: StateKey<'_>) -> Result<Inspection, StoreError> {
        Err(self.0.clone())
    }
    fn replace(&self, _: StateKey<'_>, _: &State, _: &str) -> Result<(), StoreError> {
        Err(self.0.clone())
    }
    fn location(&self) -> String {
        "redis://192.0.2.1:6379/0".into()
    }
}

fn unreachable() -> StoreError {
    StoreError::Unreachable("connect 192.0.2.1:6379: timed out after 300 ms".into())
}

struct Setup {
    dir: TestDir,
    user: String,
}

impl Setup {
    fn enrolled() -> Setup {
        let dir = TestDir::tagged("fallback");
        let uid = nix::unistd::geteuid().as_raw();
        let user = userdb::lookup_uid(uid).unwrap().unwrap().name;
        let path = dir.join(format!("{user}.otp"));
        fs::write(&path, "secret = GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\n").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        Setup { dir, user }
    }

    fn local(&self) -> FileStore {
        FileStore::new(self.dir.join("state"), Duration::from_secs(1))
    }

    /// One attempt by `user` typing `answer`, the shared store failing with `error`.
    fn run(&self, user: &str, answer: &str, error: StoreError, fallback: bool) -> ScriptedHost {
        let args = [
            format!("secret={}/%u.otp", self.dir.path().display()),
            format!("state_dir={}/state", self.dir.path().display()),
        ];
        let mut host = ScriptedHost::new(user)
            .rhost("192.0.2.7")
            .answering(answer.as_bytes());
        let local = fallback.then(|| self.local());
        let verdict = authenticate_using(
            &mut host,
            args.iter().map(|a| a.as_bytes()),
            UNIX_EPOCH + Duration::from_secs(NOW),
            |_| Stores::new(Box::new(Failing(error)), local),
        );
        host.logs
            .push((Level::Debug, format!("verdict {verdict:?}")));
        host
    }
}

fn code_now() -> String {
    format_code(totp(KEY, NOW, 30, Algorithm::Sha1, 6), 6)
}

fn words(host: &ScriptedHost) -> Vec<String> {
    host.logs
        .iter()
        .map(|(_, line)| line.split(' ').next().unwrap_or("").to_string())
        .collect()
}

#[test]
fn fail_closed_refuses_when_the_shared_store_is_unreachable() {
    let s = Setup::enrolled();
    let host = s.run(&s.user, &code_now(), unreachable(), false);
    assert_eq!(words(&host), ["state_error", "verdict"]);
    let line = &host.logs[0].1;
    assert!(line.contains("redis://192.0.2.1:6379/0: state server unreachable: connect"));
    assert!(host.logs[1].1.contains("Deny(StateError)"));
    assert!(!line.contains(&code_now()));
}

#[test]
fn fail_mode_local_uses_this_hosts_state_and_says_so() {
    let s = Setup::enrolled();
    let host = s.run(&s.user, &code_now(), unreachable(), true);
    assert_eq!(words(&host), ["fleet_fallback", "ok", "verdict"]);
    assert!(host.logs[0]
        .1
        .contains("timed out after 300 ms; fail_mode=local"));
    assert_eq!(host.logs[0].0, Level::Warning);
    assert!(host.logs[2].1.contains("Success"));
    // The code is now spent in this host's state: the same code again is a replay.
    let again = s.run(&s.user, &code_now(), unreachable(), true);
    assert_eq!(words(&again), ["fleet_fallback", "replay", "verdict"]);
    // …counted, as every replay is, in this host's state.
    assert_eq!(
        s.local()
            .load(nix::unistd::geteuid().as_raw())
            .unwrap()
            .failures,
        1
    );
}

#[test]
fn a_shared_store_that_answers_badly_never_falls_back() {
    let s = Setup::enrolled();
    for error in [
        StoreError::Server("WRONGTYPE the key holds a string".into()),
        StoreError::Corrupt,
    ] {
        let host = s.run(&s.user, &code_now(), error, true);
        assert_eq!(words(&host), ["state_error", "verdict"], "{:?}", host.logs);
    }
    // Nothing was written to the local store either.
    assert!(!s
        .dir
        .join("state")
        .join(nix::unistd::geteuid().to_string())
        .exists());
}

#[test]
fn an_unknown_user_falls_back_exactly_like_an_enrolled_one() {
    let s = Setup::enrolled();
    let host = s.run("no-such-user-pam-otp", "123456", unreachable(), true);
    // The same lines as an enrolled user's wrong code: the fallback line, then a refusal.
    assert_eq!(words(&host), ["fleet_fallback", "unknown_user", "verdict"]);
}
