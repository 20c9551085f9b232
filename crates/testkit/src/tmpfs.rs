//! A small tmpfs mounted as a test's state directory, to be filled until the disk is full.
//! Mounting needs root: the tests that use it are `#[ignore]`d, and run as anyone else they
//! fail (never pass silently).

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A tmpfs of `size` mounted at `path` (mode 0700, owned by root), unmounted on drop.
pub struct Tmpfs(PathBuf);

impl Tmpfs {
    /// Mounts a tmpfs of `size` (`mount -o size=`, e.g. `64k`) at `path`, created if need be.
    pub fn mount(path: &Path, size: &str) -> Tmpfs {
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

    /// Fills the file system: a file named `filler` grows until the kernel says ENOSPC.
    pub fn fill(&self) {
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
        // Not even one more block fits.
        assert!(File::create(self.0.join("probe"))
            .and_then(|mut f| f.write_all(&[0; 4096]).and_then(|_| f.sync_all()))
            .is_err());
        let _ = fs::remove_file(self.0.join("probe"));
    }

    /// Makes room again: removes what [`Tmpfs::fill`] wrote.
    pub fn unfill(&self) {
        fs::remove_file(self.0.join("filler")).unwrap();
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}
