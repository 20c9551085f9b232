//! A secret's parameters in words, as `enroll`, `import` and `status` print them.

use pam_otp_core::secret_file::{Kind, SecretFile};

/// "TOTP, a new code every 30 s, SHA1, 6 digits".
pub fn describe(secret: &SecretFile) -> String {
    let moving = match secret.kind {
        Kind::Totp { period } => format!("TOTP, a new code every {period} s"),
        Kind::Hotp { counter } => format!("HOTP, counter starting at {counter}"),
    };
    format!(
        "{moving}, {}, {} digits",
        secret.algorithm.name().to_ascii_uppercase(),
        secret.digits
    )
}
