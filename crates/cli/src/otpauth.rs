//! The `otpauth://` enrolment URI that authenticator apps read from a QR code (the "Key URI
//! Format" every app follows). Every parameter is spelled out, including the ones apps
//! assume by default, so that an app that does honour them never disagrees with the module.

use zeroize::Zeroizing;

use pam_otp_core::secret_file::{encode_base32, Kind, SecretFile};

/// Longest issuer or account name accepted.
pub const MAX_NAME_LEN: usize = 100;

/// Checks an issuer or account name: printable, no colon (it separates the two in the
/// label, and apps split on it), not empty, not too long.
pub fn check_name(name: &str) -> Result<(), &'static str> {
    if name.trim().is_empty() {
        return Err("must not be empty");
    }
    if name.len() > MAX_NAME_LEN {
        return Err("is longer than 100 bytes");
    }
    if name.contains(':') {
        return Err("must not contain ':' (apps split issuer and account on it)");
    }
    if name.chars().any(char::is_control) {
        return Err("must not contain control characters");
    }
    Ok(())
}

/// RFC 3986 percent-encoding of everything but the unreserved characters.
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The URI for `secret`, labelled `issuer:account`. Holds the key, so it wipes itself.
pub fn uri(secret: &SecretFile, issuer: &str, account: &str) -> Zeroizing<String> {
    let (kind, moving) = match secret.kind {
        Kind::Totp { period } => ("totp", format!("period={period}")),
        Kind::Hotp { counter } => ("hotp", format!("counter={counter}")),
    };
    let (issuer, account) = (percent_encode(issuer), percent_encode(account));
    let secret_b32 = encode_base32(&secret.key);
    // Large enough from the start: a buffer that grows leaves copies of the key behind.
    let capacity = 128 + 2 * issuer.len() + account.len() + secret_b32.len();
    let mut out = Zeroizing::new(String::with_capacity(capacity));
    out.push_str("otpauth://");
    out.push_str(kind);
    out.push('/');
    out.push_str(&issuer);
    out.push(':');
    out.push_str(&account);
    out.push_str("?secret=");
    out.push_str(&secret_b32);
    out.push_str("&issuer=");
    out.push_str(&issuer);
    out.push_str("&algorithm=");
    out.push_str(&secret.algorithm.name().to_ascii_uppercase());
    out.push_str(&format!("&digits={}&{moving}", secret.digits));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totp_uri_spells_out_every_parameter() {
        let s = SecretFile::parse(b"secret = GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\n").unwrap();
        assert_eq!(
            &uri(&s, "web 1", "alice@web-1.example")[..],
            "otpauth://totp/web%201:alice%40web-1.example?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\
             &issuer=web%201&algorithm=SHA1&digits=6&period=30"
        );
    }

    #[test]
    fn hotp_uri_carries_the_counter() {
        let s = SecretFile::parse(
            b"type = hotp\ncounter = 7\nalgorithm = sha256\ndigits = 8\nsecret = GEZDGNBVGY3TQOJQ\n",
        )
        .unwrap();
        let u = uri(&s, "h", "a");
        assert!(u.starts_with("otpauth://hotp/h:a?"));
        assert!(
            u.ends_with("&algorithm=SHA256&digits=8&counter=7"),
            "{}",
            &u[..]
        );
    }

    #[test]
    fn names_are_checked() {
        assert!(check_name("alice@host").is_ok());
        assert!(check_name("Acme Corp").is_ok());
        for bad in ["", "  ", "a:b", "tab\there", &"x".repeat(101)] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }
}
