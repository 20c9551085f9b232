//! Secrets must not outlive their use in freed heap memory: the key, its base32 text, the
//! secret file's text, and what the user typed are kept in buffers that wipe themselves, and
//! those buffers must never be reallocated while they grow (a reallocation frees the old block
//! unwiped, with a partial copy in it).
//!
//! This test binary's allocator inspects every block as it is freed (a reallocation is done
//! as allocate, copy, free, so the old block is inspected too) and counts the blocks that
//! still hold the start of the key, of its base32 form, or of a typed code, while the
//! core's secret-handling functions run (the CLI's own are checked by its unit tests, in
//! `crates/cli/src/freed_memory_tests.rs`). The stack is not inspected (the HMAC state lives
//! there; the RustCrypto crates wipe it on drop with their `zeroize` features, enabled in
//! Cargo.toml).

// Test code: a broken assumption should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use pam_otp_testkit::freed_memory::{leaks, needle, random_key, set_needles, Inspecting};
use zeroize::Zeroizing;

use pam_otp_core::secret_file::{decode_base32, encode_base32, SecretFile};
use pam_otp_core::state::State;
use pam_otp_core::verify::{self, Policy};

#[global_allocator]
static ALLOCATOR: Inspecting = Inspecting;

/// Test inputs, made before arming and freed after; the needles are their first 8 bytes.
struct Inputs {
    key: Zeroizing<Vec<u8>>,
    base32: Zeroizing<String>,
    file: Zeroizing<Vec<u8>>,
    typed_recovery: Zeroizing<Vec<u8>>,
}

fn inputs() -> Inputs {
    let key = random_key();
    let base32 = encode_base32(&key);
    let mut file = Zeroizing::new(Vec::with_capacity(4096));
    file.extend_from_slice(b"# test\ntype = totp\nsecret = ");
    file.extend_from_slice(base32.as_bytes());
    file.extend_from_slice(b"\n");
    for _ in 0..5 {
        file.extend_from_slice(
            b"recovery = sha256:00112233445566778899aabbccddeeff:\
              00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n",
        );
    }
    let mut typed_recovery = Zeroizing::new(Vec::with_capacity(32));
    typed_recovery.extend_from_slice(b"qwrt-zxcv-mnbp");
    set_needles(vec![
        needle(&key),
        needle(base32.as_bytes()),
        needle(&typed_recovery),
    ]);
    Inputs {
        key,
        base32,
        file,
        typed_recovery,
    }
}

#[test]
fn no_freed_heap_block_keeps_a_secret_or_a_typed_code() {
    let inp = inputs();
    let mut report = Vec::new();
    let mut check = |what: &str, found: usize| {
        if found > 0 {
            report.push(format!("{what}: {found} freed block(s) held a secret"));
        }
    };

    check(
        "decode_base32",
        leaks(|| drop(decode_base32(&inp.base32).unwrap())),
    );
    check(
        "decode_base32 (spaces, lower case)",
        leaks(|| {
            let mut spaced = Zeroizing::new(String::with_capacity(2 * inp.base32.len()));
            for (i, c) in inp.base32.chars().enumerate() {
                if i > 0 && i % 4 == 0 {
                    spaced.push(' ');
                }
                spaced.push(c.to_ascii_lowercase());
            }
            drop(decode_base32(&spaced).unwrap());
        }),
    );
    check("encode_base32", leaks(|| drop(encode_base32(&inp.key))));
    check(
        "SecretFile::parse",
        leaks(|| drop(SecretFile::parse(&inp.file).unwrap())),
    );
    let secret = SecretFile::parse(&inp.file).unwrap();
    check("SecretFile::to_bytes", leaks(|| drop(secret.to_bytes())));
    check(
        "verify::decide (a typed recovery code)",
        leaks(|| {
            let d = verify::decide(
                &secret,
                &State::default(),
                1_800_000_000,
                &inp.typed_recovery,
                &Policy::default(),
            );
            drop(d);
        }),
    );
    check(
        "private_file::write_private_file (with a backup of the old file)",
        leaks(|| {
            let dir = std::env::temp_dir().join(format!("pam_otp-zeroize-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir(&dir).unwrap();
            let path = dir.join("otp");
            let me = nix::unistd::geteuid().as_raw();
            let bytes = secret.to_bytes();
            use pam_otp_core::private_file::{write_private_file, Replace};
            write_private_file(&path, me, &bytes, Replace::Refuse).unwrap();
            write_private_file(&path, me, &bytes, Replace::BackUp).unwrap();
            let back = pam_otp_core::private_file::read_private_file(&path, me, 65536).unwrap();
            drop(back);
            drop(bytes);
            std::fs::remove_dir_all(&dir).unwrap();
        }),
    );
    drop(secret);
    assert!(report.is_empty(), "{report:#?}");
    drop(inp);
}
