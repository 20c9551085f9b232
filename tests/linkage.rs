//! What the built module shows the dynamic linker: it exports exactly the six PAM hooks, and
//! needs only libpam and libc (what every sshd/sudo login pays to load). The Redis client
//! library it loads for `store=redis` (pam_otp_redis.so) exports its one entry point and
//! needs only libc: neither needs libgcc_s.
//!
//! Needs, and fails (never skips) without: binutils.

use std::collections::BTreeSet;
use std::process::Command;

use std::path::Path;

use pam_otp_testkit::built::{module_path, redis_library_path};
use pam_otp_testkit::tools::require_tool;

/// The libraries `path` NEEDs, the dynamic loader left out, sorted.
fn needed(path: &Path) -> Vec<String> {
    let out = Command::new("readelf")
        .args(["-d"])
        .arg(path)
        .output()
        .expect("readelf (Debian package binutils) must be installed");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let mut needed: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("(NEEDED)"))
        .filter_map(|l| l.split('[').nth(1)?.split(']').next())
        .filter(|name| !name.starts_with("ld-linux")) // the dynamic loader's name varies by arch
        .collect();
    needed.sort_unstable();
    needed.into_iter().map(String::from).collect()
}

/// The dynamic symbols `path` defines.
fn exported(path: &Path) -> BTreeSet<String> {
    require_tool("nm", &["--version"], "binutils");
    let out = Command::new("nm")
        .args(["-D", "--defined-only"])
        .arg(path)
        .output()
        .expect("run nm");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().last().map(str::to_string))
        .collect()
}

#[test]
fn module_needs_only_libpam_and_libc() {
    // No libgcc_s.so.1: the unwinder is linked in statically (see build.rs), so hosts that
    // do not already have it loaded are spared loading it on every login.
    assert_eq!(needed(&module_path()), ["libc.so.6", "libpam.so.0"]);
}

#[test]
fn redis_library_needs_only_libc_and_exports_its_entry_point() {
    // Not libgcc_s either (crates/redis-module/build.rs), nor libpam: it never calls it.
    assert_eq!(needed(&redis_library_path()), ["libc.so.6"]);
    let expected: BTreeSet<String> = ["pam_otp_redis_v1".to_string()].into();
    assert_eq!(exported(&redis_library_path()), expected);
}

#[test]
fn library_exports_exactly_the_six_pam_hooks() {
    require_tool("nm", &["--version"], "binutils");
    let out = Command::new("nm")
        .args(["-D", "--defined-only"])
        .arg(module_path())
        .output()
        .expect("run nm");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let symbols: BTreeSet<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().last().map(str::to_string))
        .collect();
    let expected: BTreeSet<String> = [
        "pam_sm_acct_mgmt",
        "pam_sm_authenticate",
        "pam_sm_chauthtok",
        "pam_sm_close_session",
        "pam_sm_open_session",
        "pam_sm_setcred",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(symbols, expected);
}
