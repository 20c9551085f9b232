//! A full disk locks out nobody who has a state file, and loses nothing. An enrolled user's
//! state file is rewritten in place, in blocks it already has (no new blocks on tmpfs, ext4,
//! xfs): a full disk does not stop them, and their failures are still counted. A new user's
//! first save, which has to create a file, is refused cleanly (`state_error`, nothing left
//! over); an in-place write that fails (as on a copy-on-write file system) keeps the old state
//! byte for byte. `pam-otp enroll` and `pam-otp import`, run as root, create the user's state
//! file, so a user enrolled by root who has not logged in yet is not locked out either (audit
//! issue 9, item 7), and enrolment on a full disk saves nothing.
//!
//! Through the built module under real libpam: in-process logins, logins in a child process
//! under pam_wrapper where the syslog line is read, and whole-process runs after `pam-otp`.
//!
//! These mount a small tmpfs as the state directory, which needs root: `#[ignore]`d so that
//! `cargo test` passes without root; scripts/test.sh runs them with `--include-ignored` as
//! root, and run that way without root they fail (never pass silently).

use std::fs::{self, OpenOptions};
use std::os::unix::fs::FileExt;

use pam_otp_testkit::child_process::{child_mode, logged_login, run_login_child, LOGIN_LIMIT};
use pam_otp_testkit::client::Client;
use pam_otp_testkit::codes::{Key, Totp};
use pam_otp_testkit::enrolment::{enrolled_key, ok};
use pam_otp_testkit::in_process::{hotp, pam_login, wrong_code, Fixture};
use pam_otp_testkit::names_in;
use pam_otp_testkit::pam_ffi::{PAM_AUTH_ERR, PAM_SUCCESS};
use pam_otp_testkit::tmpfs::Tmpfs;
use pam_otp_testkit::users::other_user;
use pam_otp_testkit::whole_process::Env;

#[test]
#[ignore = "needs root to mount a tmpfs; scripts/test.sh runs it with --include-ignored as root"]
fn disk_full_new_user_denied_cleanly_existing_user_unaffected() {
    let f = Fixture::new("faults-full", "");
    let tmpfs = Tmpfs::mount(&f.state_dir(), "64k");
    assert_eq!(f.login(&hotp(0)), PAM_SUCCESS); // the existing user's file is created
    let newcomer = other_user();
    f.add_secret(&newcomer);
    tmpfs.fill();
    let existing = fs::read(f.state_file(f.uid)).unwrap();

    // A new user's first save has to create a file: refused, state_error, nothing left over.
    let denied = logged_login(&f, &newcomer, &hotp(0), LOGIN_LIMIT);
    assert_eq!(denied.rc, PAM_AUTH_ERR);
    let line = denied.line();
    eprintln!("disk full, new user: {line}");
    assert!(
        line.starts_with(&format!("state_error rhost=- user={newcomer}: ")),
        "{line}"
    );
    assert!(line.contains("No space left on device"), "{line}");
    assert_eq!(
        names_in(&f.state_dir()),
        [f.uid.to_string(), "filler".into()]
    );
    assert_eq!(fs::read(f.state_file(f.uid)).unwrap(), existing);

    // An enrolled user's file is rewritten in place, in blocks it already has: the full disk
    // does not stop them, and their failures are still counted.
    assert_eq!(f.login(&hotp(1)), PAM_SUCCESS);
    assert_eq!(f.login(&hotp(1)), PAM_AUTH_ERR);
    assert_eq!(f.login(&wrong_code(10)), PAM_AUTH_ERR);
    let state = f.state();
    assert_eq!((state.hotp_next, state.failures), (Some(2), 2));
    assert_eq!(
        names_in(&f.state_dir()),
        [f.uid.to_string(), "filler".into()]
    );

    // Space again: the newcomer's untouched code now works.
    tmpfs.unfill();
    assert_eq!(
        pam_login(Some(&f.services_dir()), "otp", &newcomer, &hotp(0)),
        PAM_SUCCESS
    );
}

#[test]
#[ignore = "needs root to mount a tmpfs; scripts/test.sh runs it with --include-ignored as root"]
fn disk_full_failed_in_place_write_keeps_old_state_byte_identical() {
    // A file system that must allocate on every write (copy-on-write: btrfs, ZFS) can fail an
    // in-place save with ENOSPC. Simulated on tmpfs by punching out the block of the slot the
    // next save goes to, so that writing it needs a new page on a full disk.
    let f = Fixture::new("faults-cow", "");
    let tmpfs = Tmpfs::mount(&f.state_dir(), "64k");
    assert_eq!(f.login(&hotp(0)), PAM_SUCCESS);
    assert_eq!(f.login(&hotp(1)), PAM_SUCCESS);
    let path = f.state_file(f.uid);
    let image = fs::read(&path).unwrap();
    let (current, _, _) = pam_otp_core::store::newest_slot(&image).unwrap();
    let target = 1 - current;
    let file = OpenOptions::new().write(true).open(&path).unwrap();
    let punched = nix::fcntl::fallocate(
        &file,
        nix::fcntl::FallocateFlags::FALLOC_FL_PUNCH_HOLE
            | nix::fcntl::FallocateFlags::FALLOC_FL_KEEP_SIZE,
        (target * 4096) as i64,
        4096,
    );
    if punched.is_err() {
        // Older kernels: rewrite the file sparsely instead (same inode, same mode).
        file.set_len(0).unwrap();
        file.write_all_at(
            &image[current * 4096..(current + 1) * 4096],
            (current * 4096) as u64,
        )
        .unwrap();
        file.set_len(8192).unwrap();
    }
    drop(file);
    let before = fs::read(&path).unwrap();
    assert_eq!(
        pam_otp_core::store::newest_slot(&before),
        pam_otp_core::store::newest_slot(&image)
    );
    tmpfs.fill();

    let denied = logged_login(&f, &f.user, &hotp(2), LOGIN_LIMIT);
    assert_eq!(denied.rc, PAM_AUTH_ERR);
    let line = denied.line();
    eprintln!("disk full, in-place write failed: {line}");
    assert!(
        line.starts_with(&format!("state_error rhost=- user={}: ", f.user)),
        "{line}"
    );
    assert!(
        line.contains("write state file: No space left on device"),
        "{line}"
    );
    assert_eq!(fs::read(&path).unwrap(), before, "old state changed");
    assert_eq!(
        names_in(&f.state_dir()),
        [f.uid.to_string(), "filler".into()]
    );
    // The refused code was not spent, the used ones stay used.
    tmpfs.unfill();
    assert_eq!(f.login(&hotp(1)), PAM_AUTH_ERR);
    assert_eq!(f.login(&hotp(2)), PAM_SUCCESS);
}

#[test]
#[ignore = "needs root to mount a tmpfs; scripts/test.sh runs it with --include-ignored as root"]
fn enrolled_by_root_then_disk_full_first_login_still_succeeds() {
    let env = Env::new();
    let service = env.otp_service("");
    let tmpfs = Tmpfs::mount(&env.state_dir(), "64k");
    ok(&env.cli(&["enroll", "--no-confirm", "--qr", "none"], ""));
    let key = enrolled_key(&env);
    tmpfs.fill();

    env.run(service, &Client::answer(Totp::default().wrong(&key)))
        .expect(PAM_AUTH_ERR, "bad_code");
    env.run(service, &Client::answer(Totp::default().now(&key)))
        .expect(PAM_SUCCESS, "ok");
    assert_eq!(env.state().failures, 0);
}

#[test]
#[ignore = "needs root to mount a tmpfs; scripts/test.sh runs it with --include-ignored as root"]
fn imported_by_root_then_disk_full_first_login_still_succeeds() {
    let env = Env::new();
    let service = env.otp_service("");
    let tmpfs = Tmpfs::mount(&env.state_dir(), "64k");
    let key = Key::random(20);
    let ga = env.dir().join("google_authenticator");
    pam_otp_testkit::write_file(
        &ga,
        format!("{}\n\" TOTP_AUTH\n", key.base32()).as_bytes(),
        0o600,
    );
    env.forbid(&key.base32());
    env.forbid(&key.hex());
    ok(&env.cli(&["import", "--from", ga.to_str().unwrap()], ""));
    tmpfs.fill();
    env.run(service, &Client::answer(Totp::default().now(&key)))
        .expect(PAM_SUCCESS, "ok");
}

#[test]
#[ignore = "needs root to mount a tmpfs; scripts/test.sh runs it with --include-ignored as root"]
fn enrolment_on_a_full_disk_saves_nothing() {
    let env = Env::new();
    let tmpfs = Tmpfs::mount(&env.state_dir(), "64k");
    tmpfs.fill();
    let o = env.cli(&["enroll", "--no-confirm", "--qr", "none"], "");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("No space left on device"), "{err}");
    assert!(err.contains("nothing was saved"), "{err}");
    assert!(
        !env.secret_path().exists(),
        "a secret was saved without a state file"
    );
}

/// Does nothing unless started as a child by one of the tests above.
#[test]
fn child_process_entry() {
    let Some(mode) = child_mode() else {
        return;
    };
    match mode.as_str() {
        "login" => run_login_child(),
        other => panic!("unknown child mode {other}"),
    }
}
