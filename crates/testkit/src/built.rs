//! Where cargo put what the tests load: the module and the PAM test client, each brought up
//! to date by cargo itself once per test process.
//!
//! `cargo test` builds neither for the root package's integration tests: the module is a
//! cdylib only (nothing links it), and the client is an example of this crate. Cargo decides
//! what is stale (any source file of the artefact, not one file's date), and a test never
//! loads a module older than its sources.

use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::SystemTime;

/// `target/<profile>`, from the path of the running test binary (`target/<profile>/deps/…`).
pub fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("path of the test binary");
    exe.parent()
        .and_then(Path::parent)
        .expect("the test binary lives in target/<profile>/deps")
        .to_path_buf()
}

/// The module, `libpam_otp.so`, as `cargo build --lib -p pam_otp` makes it for this profile
/// (the features of a release build: none of the test kit's). Cargo writes it to
/// `target/<profile>/deps/` and copies it to `target/<profile>/`; the newer of the two is
/// taken.
pub fn module_path() -> PathBuf {
    static MODULE: OnceLock<PathBuf> = OnceLock::new();
    MODULE
        .get_or_init(|| {
            cargo_build(&["--lib", "-p", "pam_otp"], "the module libpam_otp.so");
            let dir = profile_dir();
            [dir.join("deps/libpam_otp.so"), dir.join("libpam_otp.so")]
                .into_iter()
                .filter_map(|p| Some((modified(&p)?, p)))
                .max_by_key(|(time, _)| *time)
                .map(|(_, p)| p)
                .unwrap_or_else(|| {
                    panic!(
                        "cargo built the module but libpam_otp.so is not in {} nor its deps/",
                        dir.display()
                    )
                })
        })
        .clone()
}

/// The PAM test client `examples/pam_client.rs`, at `target/<profile>/examples/pam_client`.
pub fn client_path() -> PathBuf {
    static CLIENT: OnceLock<PathBuf> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            cargo_build(
                &["--example", "pam_client", "-p", "pam-otp-testkit"],
                "the test client pam_client",
            );
            let binary = profile_dir().join("examples/pam_client");
            assert!(
                binary.is_file(),
                "cargo built the test client but {} is missing",
                binary.display()
            );
            binary
        })
        .clone()
}

/// `cargo build --quiet ARGS` with the cargo, target directory and profile of the running
/// test; panics if it fails.
fn cargo_build(args: &[&str], what: &str) {
    let dir = profile_dir();
    let mut cargo = Command::new(env!("CARGO"));
    cargo
        .args(["build", "--quiet"])
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    if let Some(target_dir) = dir.parent() {
        cargo.env("CARGO_TARGET_DIR", target_dir);
    }
    if dir.file_name() == Some(OsStr::new("release")) {
        cargo.arg("--release");
    }
    let built = cargo.status().is_ok_and(|s| s.success());
    assert!(
        built,
        "building {what} failed (cargo build {}); run it by hand to see why",
        args.join(" ")
    );
}

/// When `path` was last modified, if it exists.
pub fn modified(path: &Path) -> Option<SystemTime> {
    fs::metadata(path).and_then(|m| m.modified()).ok()
}
