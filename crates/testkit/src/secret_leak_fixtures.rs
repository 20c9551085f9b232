//! Malformed secret files that put the secret where the parser reports a key, and the texts
//! that must then never be shown: the module's syslog line and `pam-otp status` are checked
//! with the same files.

use crate::codes::Key;

/// Secret files in which the base32 secret lands where the parser reports a key.
pub fn malformed_files(b32: &str) -> Vec<String> {
    vec![
        // The case: a bare base32 line with `=` padding (the key is the secret).
        format!("{b32}==\n"),
        format!("type = totp\n{b32}==\n"),
        format!("secret {b32}=\n"),
        format!("secret: {b32} =\n"),
        format!("{} = x\n", b32.to_lowercase()),
        // A pasted recovery entry without its key, then a secret as the key of a line.
        format!("secret = {b32}\n{b32} = {b32}\n"),
    ]
}

/// The secrets tried: a random 160-bit one, and an 80-bit one of letters only, whose
/// lower-case spelling is shaped like a key name (16 letters).
pub fn secrets() -> Vec<String> {
    vec![Key::random(20).base32(), "QWERTYUIOPASDFGH".to_string()]
}

/// Every malformed file for each of `secrets`: (the secret, the file's text).
pub fn cases(secrets: &[String]) -> Vec<(String, String)> {
    secrets
        .iter()
        .flat_map(|b| malformed_files(b).into_iter().map(move |t| (b.clone(), t)))
        .collect()
}

/// Texts that must not appear: the secret, its first 10 characters, either case.
pub fn needles(b32: &str) -> Vec<String> {
    let mut out = Vec::new();
    for s in [b32.to_string(), b32[..10].to_string()] {
        out.push(s.to_lowercase());
        out.push(s.to_uppercase());
    }
    out
}
