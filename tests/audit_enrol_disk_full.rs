//! Audit issue 9, item 7: a full disk must not lock out a user enrolled by root who has not
//! logged in yet. `pam-otp enroll` and `pam-otp import`, run as root, create the user's state
//! file, so the first login only rewrites it in place (no new blocks on tmpfs, ext4, xfs).
//!
//! These mount a small tmpfs as the state directory, which needs root: `#[ignore]`d so that
//! `cargo test` passes without root; scripts/test.sh runs them with `--include-ignored` as
//! root, and run that way without root they fail (never pass silently).

// Test code: a broken assumption should stop the test loudly, so unwrap/expect/panic are fine,
// and it reads the clock as the world outside the module does.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::disallowed_methods
)]

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use pam_otp_testkit::client::Client;
use pam_otp_testkit::codes::{Key, Totp};
use pam_otp_testkit::enrolment::{enrolled_key, ok};
use pam_otp_testkit::pam_ffi::PAM_SUCCESS;
use pam_otp_testkit::whole_process::Env;

/// A tmpfs of `size` mounted at `path` (mode 0700, owned by root), unmounted on drop.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(path: &Path, size: &str) -> Tmpfs {
        assert!(
            nix::unistd::geteuid().is_root(),
            "this test mounts a tmpfs and needs root: run it as root \
             (scripts/test.sh does, with --include-ignored)"
        );
        fs::create_dir_all(path).unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o"])
            .arg(format!("size={size},mode=0700"))
            .arg("pam_otp-test")
            .arg(path)
            .status()
            .expect("run mount");
        assert!(status.success(), "mount a tmpfs at {}", path.display());
        Tmpfs(path.to_path_buf())
    }

    /// Fills the file system until not one more block can be written.
    fn fill(&self) {
        let mut filler = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.0.join("filler"))
            .unwrap();
        let block = [0u8; 512];
        loop {
            match filler.write(&block) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => break,
                Err(e) => panic!("fill the tmpfs: {e}"),
            }
        }
        assert!(File::create(self.0.join("probe"))
            .and_then(|mut f| f.write_all(&[0; 4096]).and_then(|_| f.sync_all()))
            .is_err());
        let _ = fs::remove_file(self.0.join("probe"));
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
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
        .expect(pam_otp_testkit::pam_ffi::PAM_AUTH_ERR, "bad_code");
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
