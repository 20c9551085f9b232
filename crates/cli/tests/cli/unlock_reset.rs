//! `pam-otp unlock` and `pam-otp reset`.

use std::time::Duration;

use pam_otp_core::authenticate::{Reason, Verdict};
use pam_otp_core::state::State;
use pam_otp_core::store::{FileStore, StateKey, StateStore};

use crate::harness::*;

#[test]
fn unlock_and_reset_error_paths() {
    let home = Home::new();
    fails(
        home.run(&["unlock", "no-such-user-pam-otp"], ""),
        1,
        "no user named",
    );
    let out = ok(home.run(&["unlock", &me()], ""));
    assert!(out.contains("nothing to unlock"), "{out}");
    fails(
        home.run(&["reset", &me(), "--yes"], ""),
        1,
        "is not enrolled",
    );

    ok(home.run(&["enroll", "--no-confirm", "--qr", "none"], ""));
    let before = std::fs::read(home.otp()).unwrap();
    fails(
        home.run(&["reset", &me()], "someone-else\n"),
        1,
        "not confirmed",
    );
    fails(home.run(&["reset", &me()], ""), 1, "not confirmed");
    assert_eq!(std::fs::read(home.otp()).unwrap(), before);

    // A state directory the caller does not own: refused before anything changes.
    if nix::unistd::geteuid().is_root() {
        let foreign = home.path("foreign-state");
        std::fs::create_dir(&foreign).unwrap();
        nix::unistd::chown(&foreign, Some(nix::unistd::Uid::from_raw(65534)), None).unwrap();
        let mut c = home.cli(&["reset", &me(), "--yes"]);
        c.arg("--state-dir").arg(&foreign);
        fails(run_with_input(c, ""), 1, "only the owner of");
        assert_eq!(std::fs::read(home.otp()).unwrap(), before);
    }

    let out = ok(home.run(&["reset", &me()], &format!("{}\n", me())));
    assert!(out.contains("no longer enrolled"), "{out}");
    assert!(!home.otp().exists());
    assert_eq!(std::fs::read(home.path(".otp.bak")).unwrap(), before);
    let o = home.run(&["status"], "");
    assert_eq!(o.status.code(), Some(3));
}

#[test]
fn reset_keeps_replay_history_and_clears_the_lockout() {
    let home = Home::new();
    ok(home.run(&["enroll", "--no-confirm", "--qr", "none"], ""));
    let secret = secret_of(&home.otp());
    let code = oathtool(&["--totp", "-b", &b32(&secret)]);
    assert_eq!(
        login(&home.otp(), &home.state(), &code, &[]),
        Verdict::Success
    );
    let uid = nix::unistd::geteuid().as_raw();
    let store = FileStore::new(home.state(), Duration::from_secs(1));
    store
        .transact(
            StateKey {
                uid,
                name: "test-user",
            },
            &mut |s| State {
                failures: 4,
                locked_until: u64::MAX,
                lockouts: 2,
                ..s.clone()
            },
        )
        .unwrap();
    ok(home.run(&["reset", &me(), "--yes"], ""));
    let after = store.load(uid).unwrap();
    assert_eq!(
        (after.failures, after.lockouts, after.locked_until),
        (0, 0, 0)
    );
    // Restoring the backup by hand does not reopen the code already used.
    std::fs::rename(home.path(".otp.bak"), home.otp()).unwrap();
    assert_eq!(
        login(&home.otp(), &home.state(), &code, &[]),
        Verdict::Deny(Reason::Replay)
    );
}
