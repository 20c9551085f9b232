//! Links the unwinder statically (libgcc_eh.a) so that pam_otp_redis.so, like pam_otp.so,
//! does not need libgcc_s.so.1: a host that loads it would otherwise load one more library.
//! The same as the root package's build.rs (which says why in full).

use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if os != "linux" || env != "gnu" {
        return;
    }
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_string());
    let found = Command::new(&cc)
        .arg("-print-file-name=libgcc_eh.a")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .map(|s| PathBuf::from(s.trim()))
        .filter(|p| p.is_absolute() && p.exists());
    match found.as_deref().and_then(|p| p.parent()) {
        Some(dir) => {
            println!("cargo:rustc-link-search=native={}", dir.display());
            println!("cargo:rustc-link-lib=static:-bundle,+verbatim=libgcc_eh.a");
        }
        None => println!(
            "cargo:warning=libgcc_eh.a not found via {cc}; pam_otp_redis.so will depend on libgcc_s.so.1"
        ),
    }
}
