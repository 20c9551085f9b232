//! Faults around the state store, through the real module: another process holding the
//! user's state lock, a full disk, and descriptors left open.
//!
//! The disk-full tests mount a small tmpfs as the state directory, which needs root. They are
//! `#[ignore]`d so that `cargo test` passes for a developer without root; scripts/test.sh runs
//! them with `--include-ignored` as root (as CI does), and run that way without root they
//! fail (never pass silently).

// Test code: a broken assumption should stop the test loudly, so unwrap/expect/panic are fine,
// and it reads the clock as the world outside the module does.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::disallowed_methods
)]

use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use pam_otp_testkit::child_process::{child, child_mode, logged_login, run_login_child};
use pam_otp_testkit::in_process::{hotp, pam_login, wrong_code, Fixture};
use pam_otp_testkit::names_in;
use pam_otp_testkit::pam_ffi::{PAM_AUTH_ERR, PAM_SUCCESS};
use pam_otp_testkit::users::current_user;

/// Long enough for a debug-build login under pam_wrapper on a busy machine.
const LOGIN_LIMIT: Duration = Duration::from_secs(30);

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
    loop {
        let mut line = String::new();
        assert!(out.read_line(&mut line).unwrap() > 0, "lock holder died");
        if line.trim() == "PROVE locked" {
            break;
        }
    }

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

/// This process's open descriptors: number and what each points at, leaving out `inherited`
/// ones. A child inherits whatever the parent test process had open without close-on-exec at
/// the instant it was spawned (libpam opens service files without it, in other tests'
/// threads); the parent may then delete that file, which changes where the inherited
/// descriptor points ("… (deleted)"). Those are not the module's doing, so they are left out.
fn open_fds(inherited: &[String]) -> Vec<(String, String)> {
    let mut fds: Vec<(String, String)> = fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| {
            let e = e.ok()?;
            let fd = e.file_name().to_string_lossy().into_owned();
            if inherited.contains(&fd) {
                return None;
            }
            let target = fs::read_link(e.path()).ok()?;
            Some((fd, target.to_string_lossy().into_owned()))
        })
        .collect();
    fds.sort();
    fds
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

// ---------------------------------------------------------------------------------------
// Disk full (root: mounts a tmpfs)

/// A tmpfs of `size` bytes mounted at `path` (mode 0700, owned by root), unmounted on drop.
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

    /// Fills the file system: a filler file grows until the kernel says ENOSPC.
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
        // Not even one more byte fits.
        assert!(File::create(self.0.join("probe"))
            .and_then(|mut f| f.write_all(&[0; 4096]).and_then(|_| f.sync_all()))
            .is_err());
        let _ = fs::remove_file(self.0.join("probe"));
    }

    fn unfill(&self) {
        fs::remove_file(self.0.join("filler")).unwrap();
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// A second account (not the fixture's user) that has no state file yet.
fn other_user() -> String {
    let me = current_user().name;
    ["nobody", "daemon", "bin"]
        .into_iter()
        .find(|u| *u != me && pam_otp_core::userdb::lookup(u).ok().flatten().is_some())
        .expect("a second account in the user database")
        .to_string()
}

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

/// Does nothing unless started as a child by one of the tests above.
#[test]
fn child_process_entry() {
    let Some(mode) = child_mode() else {
        return;
    };
    match mode.as_str() {
        "login" => run_login_child(),
        "fds" => fds_child(Path::new(&std::env::var("PROVE_DIR").unwrap())),
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
        other => panic!("unknown child mode {other}"),
    }
}
