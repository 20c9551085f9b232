//! No descriptor stays open after a login: across successes, replays, wrong codes, a user
//! without a secret file and a timed-out state lock, the module leaves this process's set of
//! open descriptors exactly as it found it, and nothing pointing into its files. Through the
//! built module under real libpam (in-process logins, in a child process of its own).

use std::fs::File;
use std::path::Path;

use pam_otp_testkit::child_process::{child, child_mode, open_fds};
use pam_otp_testkit::in_process::{hotp, pam_login, wrong_code, Fixture};
use pam_otp_testkit::pam_ffi::{PAM_AUTH_ERR, PAM_SUCCESS};
use pam_otp_testkit::users::{current_user, other_user};

#[test]
fn no_descriptor_stays_open_after_logins() {
    // In a child process of its own, so that no other test opens files meanwhile.
    let f = Fixture::new("faults-fds", "lock_timeout=1");
    let out = child("fds")
        .env("PROVE_DIR", f.dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("PROVE fds ok"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn fds_child(dir: &Path) {
    let inherited: Vec<String> = open_fds(&[]).into_iter().map(|(fd, _)| fd).collect();
    let open_fds = || open_fds(&inherited);
    let me = current_user();
    let (user, uid) = (me.name, me.uid);
    let services = dir.join("services");
    let login = |code: &str| pam_login(Some(&services), "otp", &user, code);
    // The first login may open what the host keeps for itself (libc's syslog socket);
    // nothing that points into the module's files may stay open, even then.
    assert_eq!(login(&hotp(0)), PAM_SUCCESS);
    let after_first = open_fds();
    for (fd, target) in &after_first {
        assert!(
            !target.starts_with(dir.to_str().unwrap()),
            "descriptor {fd} -> {target} left open by the module"
        );
    }
    // Then every path, success and failure, many times: the set must not change at all.
    let wrong = wrong_code(100);
    let before = open_fds();
    for counter in 1..=20 {
        assert_eq!(login(&hotp(counter)), PAM_SUCCESS);
        assert_eq!(login(&hotp(counter)), PAM_AUTH_ERR); // replay
        assert_eq!(login(&wrong), PAM_AUTH_ERR);
    }
    // A user without a secret file, and the state lock held elsewhere (lock timeout).
    assert_eq!(
        pam_login(Some(&services), "otp", &other_user(), &hotp(21)),
        PAM_AUTH_ERR
    );
    let state = File::open(dir.join("state").join(uid.to_string())).unwrap();
    state.lock().unwrap();
    let locked = open_fds();
    assert_eq!(login(&hotp(21)), PAM_AUTH_ERR);
    assert_eq!(
        open_fds(),
        locked,
        "descriptors changed on the lock-timeout path"
    );
    drop(state);
    assert_eq!(open_fds(), before, "descriptors changed across 62 logins");
    println!("PROVE fds ok");
}

/// Does nothing unless started as a child by the test above.
#[test]
fn child_process_entry() {
    let Some(mode) = child_mode() else {
        return;
    };
    match mode.as_str() {
        "fds" => fds_child(Path::new(&std::env::var("PROVE_DIR").unwrap())),
        other => panic!("unknown child mode {other}"),
    }
}
