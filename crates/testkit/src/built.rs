//! Where cargo put what the tests load: shared by `tests/support` and `tests/prove`.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// `target/<profile>`, from the path of the running test binary (`target/<profile>/deps/…`).
pub fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("path of the test binary");
    exe.parent()
        .and_then(Path::parent)
        .expect("the test binary lives in target/<profile>/deps")
        .to_path_buf()
}

/// The module as cargo built it. `cargo test` writes the cdylib to `target/<profile>/deps/`
/// only; `cargo build` also copies it to `target/<profile>/`, where an older copy may linger
/// after the sources changed. So the newer of the two is taken.
pub fn module_path() -> PathBuf {
    let dir = profile_dir();
    [dir.join("deps/libpam_otp.so"), dir.join("libpam_otp.so")]
        .into_iter()
        .filter_map(|p| Some((modified(&p)?, p)))
        .max_by_key(|(time, _)| *time)
        .map(|(_, p)| p)
        .unwrap_or_else(|| {
            panic!(
                "the built module libpam_otp.so is not in {} nor its deps/; run `cargo test` \
                 (or `cargo build`)",
                dir.display()
            )
        })
}

pub fn modified(path: &Path) -> Option<SystemTime> {
    fs::metadata(path).and_then(|m| m.modified()).ok()
}
