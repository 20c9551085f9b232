//! The command's own secret-handling functions leave no secret in freed heap memory: the
//! enrolment URI and the google-authenticator reader (the core's are checked by
//! `crates/core/tests/freed_memory.rs`, with the same inspecting allocator).

use pam_otp_core::secret_file::{encode_base32, SecretFile};
use pam_otp_testkit::freed_memory::{leaks, needle, random_key, set_needles, Inspecting};
use zeroize::Zeroizing;

use crate::google_authenticator::GoogleAuthFile;
use crate::otpauth;

#[global_allocator]
static ALLOCATOR: Inspecting = Inspecting;

#[test]
fn uri_and_import_leave_no_secret_in_freed_memory() {
    let key = random_key();
    let base32 = encode_base32(&key);
    let mut file = Zeroizing::new(Vec::with_capacity(256));
    file.extend_from_slice(b"type = totp\nsecret = ");
    file.extend_from_slice(base32.as_bytes());
    file.extend_from_slice(b"\n");
    let secret = SecretFile::parse(&file).unwrap();
    set_needles(vec![needle(&key), needle(base32.as_bytes())]);

    let long = "an-issuer-with-a-rather-long-name.example.org";
    let uri = leaks(|| drop(otpauth::uri(&secret, long, long)));
    let import = leaks(|| {
        let mut ga = Zeroizing::new(Vec::with_capacity(256));
        ga.extend_from_slice(base32.as_bytes());
        ga.extend_from_slice(b"\n\" TOTP_AUTH\n");
        drop(GoogleAuthFile::parse(&ga).unwrap());
    });
    assert_eq!(
        (uri, import),
        (0, 0),
        "freed blocks that held a secret: (otpauth::uri, GoogleAuthFile::parse)"
    );
}
