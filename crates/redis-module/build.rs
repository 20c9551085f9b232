//! Links the unwinder statically (libgcc_eh.a) so that pam_otp_redis.so, like pam_otp.so,
//! does not need libgcc_s.so.1: a host that loads it would otherwise load one more library.
//! The root package's build script does it (and says why in full); this one calls it.

#[path = "../../build.rs"]
#[allow(dead_code)] // its `main` is the root package's
mod root_build;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=../../build.rs");
    root_build::link_static_unwinder("pam_otp_redis.so");
}
