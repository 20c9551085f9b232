//! Where cargo put what the tests load: the module, the `pam-otp` command and the PAM test
//! client.
//!
//! `cargo test` at the workspace root builds the module and the command (the root package's
//! library is cdylib + rlib so that its integration tests wait for it); a test refuses either
//! when it is older than any of its sources, so it never passes against a stale build. The
//! client, an example of this crate, is brought up to date by cargo itself when a test needs it.

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

/// The module as cargo built it. `cargo test` writes the cdylib to `target/<profile>/deps/`
/// only; `cargo build` also copies it to `target/<profile>/`, where an older copy may linger
/// after the sources changed. So the newer of the two is taken, and it must be newer than
/// every source file it was built from.
pub fn module_path() -> PathBuf {
    static MODULE: OnceLock<PathBuf> = OnceLock::new();
    MODULE
        .get_or_init(|| {
            let dir = profile_dir();
            let (built, path) = [dir.join("deps/libpam_otp.so"), dir.join("libpam_otp.so")]
                .into_iter()
                .filter_map(|p| Some((modified(&p)?, p)))
                .max_by_key(|(time, _)| *time)
                .unwrap_or_else(|| {
                    panic!(
                        "the built module libpam_otp.so is not in {} nor its deps/; run \
                         `cargo test` (or `cargo build`)",
                        dir.display()
                    )
                });
            assert_fresh(&path, built, "libpam_otp.d", &["src", "crates/core/src"]);
            check_redis_library(&path);
            path
        })
        .clone()
}

/// The Redis client library the module loads for `store=redis`: the one cargo built beside
/// [`module_path`] (`libpam_otp_redis.so`, the module's file name with `_redis`: see the
/// module's src/redis_library.rs), checked to be newer than its sources.
pub fn redis_library_path() -> PathBuf {
    let module = module_path();
    module.with_file_name("libpam_otp_redis.so")
}

/// Panics unless the library the module at `module` would load is there and fresh: a fleet
/// test must never run a new module against an old client (or fail for a missing one
/// without saying why).
fn check_redis_library(module: &Path) {
    let library = module.with_file_name("libpam_otp_redis.so");
    let built = modified(&library).unwrap_or_else(|| {
        panic!(
            "{} is missing beside the module: run `cargo test` from the workspace root (or \
             `cargo build`), which builds crates/redis-module",
            library.display()
        )
    });
    // The dep-info of target/<profile>/libpam_otp_redis.so describes that copy only.
    let dep_info = if library.parent() == Some(profile_dir().as_path()) {
        "libpam_otp_redis.d"
    } else {
        "-"
    };
    assert_fresh(
        &library,
        built,
        dep_info,
        &["crates/redis-module/src", "crates/core/src"],
    );
}

/// The `pam-otp` command as cargo built it (`cargo test` at the workspace root builds it for
/// the CLI's own tests), checked to be newer than every source file it was built from.
pub fn cli_path() -> PathBuf {
    static CLI: OnceLock<PathBuf> = OnceLock::new();
    CLI.get_or_init(|| fresh_binary("pam-otp", &["crates/cli/src", "crates/core/src"]))
        .clone()
}

/// The delivery helper `pam-otp-deliver` as cargo built it, checked to be newer than every
/// source file it was built from. A login starts it only from a root-safe path: copy it
/// into one (`pam_otp_core::testing::root_safe_dir`) before pointing `deliver_helper=` at it.
pub fn deliver_path() -> PathBuf {
    static DELIVER: OnceLock<PathBuf> = OnceLock::new();
    DELIVER
        .get_or_init(|| {
            fresh_binary(
                "pam-otp-deliver",
                &["crates/deliver/src", "crates/core/src"],
            )
        })
        .clone()
}

/// The workspace binary `name` in the profile directory, checked with [`assert_fresh`]
/// against its dep-info file (`name.d`) or, without one, the files below `source_dirs`.
fn fresh_binary(name: &str, source_dirs: &[&str]) -> PathBuf {
    let path = profile_dir().join(name);
    let built = modified(&path).unwrap_or_else(|| {
        panic!(
            "{} is missing: run `cargo test` from the workspace root (or `cargo build`)",
            path.display()
        )
    });
    assert_fresh(&path, built, &format!("{name}.d"), source_dirs);
    path
}

/// Panics unless the artifact at `path`, built at `built`, is newer than every source file
/// it was built from: a test must never pass against a stale build.
///
/// The sources are the ones cargo lists in the artifact's dep-info file
/// (`target/<profile>/<dep_info>`, written by `cargo build`). Where there is none (`cargo
/// test` in a fresh target directory writes none), they are the files below the workspace
/// directories `source_dirs`, leaving out the `*tests.rs` files that only a crate's own unit
/// tests compile (a change to one does not rebuild the artifact).
fn assert_fresh(path: &Path, built: SystemTime, dep_info: &str, source_dirs: &[&str]) {
    let sources = match fs::read_to_string(profile_dir().join(dep_info)) {
        Ok(text) => dep_info_sources(&text),
        Err(_) => {
            let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
            let mut files = Vec::new();
            for dir in source_dirs {
                rust_files_below(&workspace.join(dir), &mut files);
            }
            files.retain(|f| !f.to_string_lossy().ends_with("tests.rs"));
            files
        }
    };
    for source in sources {
        if let Some(changed) = modified(&source) {
            assert!(
                changed <= built,
                "{} is older than {}: run `cargo test` from the workspace root (or `cargo \
                 build`), which rebuilds it",
                path.display(),
                source.display()
            );
        }
    }
}

/// The sources a dep-info file lists: `target: dep dep …`, a space in a path escaped as `\ `.
fn dep_info_sources(text: &str) -> Vec<PathBuf> {
    let deps = text
        .lines()
        .next()
        .and_then(|l| l.split_once(": "))
        .map_or("", |(_, d)| d);
    let escaped_space = "\u{0}";
    deps.replace("\\ ", escaped_space)
        .split_whitespace()
        .map(|dep| PathBuf::from(dep.replace(escaped_space, " ")))
        .collect()
}

/// Every `.rs` file below `dir`, appended to `out`.
fn rust_files_below(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files_below(&path, out);
        } else if path.extension() == Some(OsStr::new("rs")) {
            out.push(path);
        }
    }
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
