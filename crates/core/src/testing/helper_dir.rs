//! A place to start a scripted delivery helper from, as `oob::spawn` demands.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use super::root_safe_dir;

/// The uid and gid the tests' helpers run as.
pub const NOBODY: u32 = 65534;

/// A directory under [`root_safe_dir`] (root's, mode 0755) for helper scripts, with a
/// `record` directory inside that only `nobody` (the helper's user) may enter and write.
/// Removed on drop. Root only.
pub struct HelperDir {
    /// The directory (named for the test and this process).
    pub dir: PathBuf,
    /// Where a helper records what it saw; its scripts know it as `$out`.
    pub record: PathBuf,
}

impl HelperDir {
    /// A fresh directory for test `name`.
    pub fn new(name: &str) -> HelperDir {
        let dir = root_safe_dir().join(format!("{name}_{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        let record = dir.join("record");
        fs::create_dir(&record).unwrap();
        std::os::unix::fs::chown(&record, Some(NOBODY), Some(NOBODY)).unwrap();
        fs::set_permissions(&record, fs::Permissions::from_mode(0o700)).unwrap();
        HelperDir { dir, record }
    }

    /// A root-owned 0755 shell script `name` here: `#!/bin/sh`, `out=` the record
    /// directory, then `body`. Its path.
    pub fn script(&self, name: &str, body: &str) -> PathBuf {
        let path = self.dir.join(name);
        let text = format!("#!/bin/sh\nout={}\n{body}\n", self.record.display());
        fs::write(&path, text).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    /// The record file `name` (empty when the helper wrote none).
    pub fn read(&self, name: &str) -> String {
        fs::read_to_string(self.record.join(name)).unwrap_or_default()
    }

    /// The record file `name`'s path.
    pub fn recorded(&self, name: &str) -> PathBuf {
        self.record.join(name)
    }
}

impl Drop for HelperDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}
