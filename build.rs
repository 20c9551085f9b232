//! Links the unwinder statically (libgcc_eh.a) so that pam_otp.so does not need libgcc_s.so.1.
//!
//! Why: none of the hosts that load a PAM module (sshd, sudo, su, login) have libgcc_s
//! loaded, so depending on it costs every login a dlopen of one more library (about 110 µs
//! measured here, most of the module's cost). Panics must still unwind — they are caught at
//! the FFI boundary — so `panic = "abort"` is no cure. With libgcc_eh.a ahead of rustc's own
//! `-lgcc_s` and `--as-needed` in effect, the unwinder comes from the archive and libgcc_s is
//! dropped from the module's dependencies. The version script keeps these symbols private.
//!
//! Where the archive cannot be found (another C toolchain), the build falls back to the
//! default and says so. crates/redis-module's build script calls the same function for
//! pam_otp_redis.so.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    link_static_unwinder("pam_otp.so");
}

/// Links libgcc_eh.a into the cdylib being built (`library`, for the warning) where it can be
/// found, so that it does not need libgcc_s.so.1.
pub fn link_static_unwinder(library: &str) {
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
            "cargo:warning=libgcc_eh.a not found via {cc}; {library} will depend on libgcc_s.so.1"
        ),
    }
}
