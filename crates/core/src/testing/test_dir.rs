//! A test's private directory, and the files in it.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// A private (mode 0700) directory under the temp dir, removed with all it holds on drop.
///
/// Its name has no digits (process id, counter and clock are spelt in letters), so that a
/// code found in a log line or a prompt that quotes a path cannot be a coincidence of the
/// path: the leak checks of the whole-process tests rely on it.
pub struct TestDir(PathBuf);

impl TestDir {
    /// A fresh directory named `pam_otp_test_…`.
    pub fn new() -> TestDir {
        TestDir::tagged("test")
    }

    /// A fresh directory named `pam_otp_<tag>_…`, so that a leftover says which tests made
    /// it. Only the tag's letters, `-` and `_` are kept (no digits, see above).
    pub fn tagged(tag: &str) -> TestDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let tag: String = tag
            .chars()
            .filter(|c| c.is_ascii_alphabetic() || *c == '-' || *c == '_')
            .collect();
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        loop {
            let name = format!(
                "pam_otp_{tag}_{}_{}_{}",
                letters(u64::from(std::process::id())),
                letters(COUNTER.fetch_add(1, Ordering::Relaxed) as u64),
                letters(u64::from(nanos)),
            );
            let path = std::env::temp_dir().join(name);
            match fs::create_dir(&path) {
                Ok(()) => {
                    fs::set_permissions(&path, fs::Permissions::from_mode(0o700))
                        .expect("chmod test dir");
                    return TestDir(path);
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => panic!("cannot create a test directory in the temp dir: {e}"),
            }
        }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }

    /// `name` inside the directory.
    pub fn join(&self, name: impl AsRef<Path>) -> PathBuf {
        self.0.join(name)
    }

    /// Creates the directory `name` inside, private (0700) like this one; returns its path.
    pub fn private_dir(&self, name: &str) -> PathBuf {
        let path = self.0.join(name);
        fs::create_dir(&path).unwrap_or_else(|e| panic!("mkdir {}: {e}", path.display()));
        fs::set_permissions(&path, fs::Permissions::from_mode(0o700)).expect("chmod test dir");
        path
    }

    /// The names in the directory, sorted.
    pub fn names(&self) -> Vec<String> {
        names_in(&self.0)
    }
}

impl Default for TestDir {
    fn default() -> Self {
        TestDir::new()
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A directory every ancestor of which belongs to root and is not writable by group or
/// others (`/run/pam-otp-tests`, mode 0755), created if missing: what `oob::spawn` demands
/// of a delivery helper's path. The temp dir is not (`/tmp` is world-writable), and neither
/// is a checkout or target directory under it, so tests that start a helper put it here.
/// Root only; the caller makes and removes its own subdirectory.
pub fn root_safe_dir() -> PathBuf {
    let dir = PathBuf::from("/run/pam-otp-tests");
    match fs::create_dir(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => panic!("cannot create {}: {e}", dir.display()),
    }
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).expect("chmod /run/pam-otp-tests");
    dir
}

/// `n` in base 26, spelt with the letters a–z.
fn letters(mut n: u64) -> String {
    let mut s = String::new();
    loop {
        s.push(char::from(b'a' + (n % 26) as u8));
        n /= 26;
        if n == 0 {
            return s;
        }
    }
}

/// The names in a directory, sorted.
pub fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.expect("read a directory entry").file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Writes `contents` to a new file at `path` with exactly `mode` (whatever the umask),
/// replacing any old file.
pub fn write_file(path: &Path, contents: &[u8], mode: u32) {
    let _ = fs::remove_file(path);
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
    f.write_all(contents).expect("write test file");
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).expect("chmod test file");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_digit_free_and_removed_on_drop() {
        let dir = TestDir::tagged("races7");
        let path = dir.path().to_path_buf();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        assert!(name.starts_with("pam_otp_races_"), "{name}");
        assert!(!name.bytes().any(|b| b.is_ascii_digit()), "{name}");
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        let sub = dir.private_dir("sub");
        assert_eq!(
            fs::metadata(&sub).unwrap().permissions().mode() & 0o777,
            0o700
        );
        write_file(&dir.join("b"), b"x", 0o640);
        write_file(&dir.join("a"), b"y", 0o600);
        assert_eq!(dir.names(), ["a", "b", "sub"]);
        assert_eq!(
            fs::metadata(dir.join("b")).unwrap().permissions().mode() & 0o777,
            0o640
        );
        drop(dir);
        assert!(!path.exists());
    }
}
