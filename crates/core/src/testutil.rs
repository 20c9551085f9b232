//! The unit tests' old temp-dir name, over [`crate::testing::TestDir`] (`fsafe.rs` and
//! `secret_write.rs` still name it). Kept while branches merge; removed after: use
//! `crate::testing::TestDir` (`path()`, `join()`, `names()`) directly.

use std::path::PathBuf;

use crate::testing::TestDir;

/// `.0` is the directory's path; the directory is the [`TestDir`] it holds.
pub(crate) struct TempDir(pub(crate) PathBuf, TestDir);

impl TempDir {
    pub(crate) fn new(tag: &str) -> TempDir {
        let dir = TestDir::tagged(tag);
        TempDir(dir.path().to_path_buf(), dir)
    }

    /// The names in the directory, sorted.
    pub(crate) fn names(&self) -> Vec<String> {
        self.1.names()
    }
}
