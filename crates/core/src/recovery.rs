//! Single-use recovery codes: generation, normalisation and salted hashes.
//!
//! The secret file stores only `sha256:<salt>:<digest>` (hex); the code itself is shown to the
//! user once. Codes carry 60 bits from the OS random source, so a salted SHA-256 is enough:
//! whoever can read the secret file already holds the OTP secret, which is worth more.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// Letters used in generated codes: lower-case base32 without the easily confused 0/1/8/9.
const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
/// Characters in one generated code (12 × 5 bits = 60 bits), shown as three groups of four.
pub const CODE_LEN: usize = 12;
const SALT_LEN: usize = 16;

/// One stored recovery code: a salt and the SHA-256 of salt || normalised code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryHash {
    salt: [u8; SALT_LEN],
    digest: [u8; 32],
}

/// Length of a google-authenticator scratch code, which `pam-otp import` keeps as a
/// recovery code (all digits, so it cannot be confused with a generated one).
pub const IMPORTED_CODE_LEN: usize = 8;

/// Strips the separators people type (spaces, dashes) and folds case.
/// Returns `None` when what is left cannot be a recovery code: a generated code
/// ([`CODE_LEN`] letters and digits) or an imported scratch code ([`IMPORTED_CODE_LEN`]
/// decimal digits).
pub fn normalize(input: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    let mut out = Zeroizing::new(Vec::with_capacity(input.len()));
    for &b in input {
        match b {
            b' ' | b'-' | b'\t' => {}
            _ if b.is_ascii_alphanumeric() => out.push(b.to_ascii_lowercase()),
            _ => return None,
        }
    }
    let imported = out.len() == IMPORTED_CODE_LEN && out.iter().all(u8::is_ascii_digit);
    (out.len() == CODE_LEN || imported).then_some(out)
}

impl RecoveryHash {
    /// Hashes `code` (already normalised) with `salt`.
    pub fn new(salt: [u8; SALT_LEN], normalized_code: &[u8]) -> Self {
        RecoveryHash {
            salt,
            digest: digest(&salt, normalized_code),
        }
    }

    /// Constant-time check of a normalised code against this hash.
    pub fn matches(&self, normalized_code: &[u8]) -> bool {
        digest(&self.salt, normalized_code)
            .ct_eq(&self.digest)
            .into()
    }

    /// A short, stable identifier of this entry, used to record it as spent in the state.
    pub fn fingerprint(&self) -> [u8; 8] {
        let mut id = [0u8; 8];
        id.copy_from_slice(&self.digest[..8]);
        id
    }

    /// Parses the secret-file value `sha256:<32 hex salt>:<64 hex digest>`.
    pub fn parse(value: &str) -> Option<Self> {
        let rest = value.strip_prefix("sha256:")?;
        let (salt_hex, digest_hex) = rest.split_once(':')?;
        let mut salt = [0u8; SALT_LEN];
        let mut digest = [0u8; 32];
        decode_hex(salt_hex, &mut salt)?;
        decode_hex(digest_hex, &mut digest)?;
        Some(RecoveryHash { salt, digest })
    }

    /// The secret-file spelling, the inverse of [`RecoveryHash::parse`].
    pub fn encode(&self) -> String {
        format!("sha256:{}:{}", hex(&self.salt), hex(&self.digest))
    }
}

fn digest(salt: &[u8], code: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(salt);
    h.update(code);
    h.finalize().into()
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn decode_hex(text: &str, out: &mut [u8]) -> Option<()> {
    let text = text.as_bytes();
    if text.len() != out.len() * 2 {
        return None;
    }
    for (slot, pair) in out.iter_mut().zip(text.chunks_exact(2)) {
        let hi = (pair[0] as char).to_digit(16)?;
        let lo = (pair[1] as char).to_digit(16)?;
        *slot = (hi * 16 + lo) as u8;
    }
    Some(())
}

/// A fresh code and its hash, from `random` bytes (at least `CODE_LEN + 16` of them, from
/// the OS random source). Returns the code in its display form `abcd-efgh-ijkl`.
pub fn generate(random: &[u8]) -> Option<(Zeroizing<String>, RecoveryHash)> {
    let (code_bytes, salt_bytes) = random.split_at_checked(CODE_LEN)?;
    let salt: [u8; SALT_LEN] = salt_bytes.get(..SALT_LEN)?.try_into().ok()?;
    let code: Zeroizing<Vec<u8>> = Zeroizing::new(
        code_bytes
            .iter()
            .map(|b| ALPHABET[usize::from(b & 31)])
            .collect(),
    );
    let hash = RecoveryHash::new(salt, &code);
    let mut shown = Zeroizing::new(String::with_capacity(CODE_LEN + 2));
    for (i, chunk) in code.chunks(4).enumerate() {
        if i > 0 {
            shown.push('-');
        }
        shown.extend(chunk.iter().map(|&b| b as char));
    }
    Some((shown, hash))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_code_matches_its_hash_in_any_typed_form() {
        let random: Vec<u8> = (0u8..28).collect();
        let (code, hash) = generate(&random).unwrap();
        assert_eq!(code.len(), 14);
        let typed = code.to_uppercase().replace('-', " ");
        assert!(hash.matches(&normalize(typed.as_bytes()).unwrap()));
        assert!(!hash.matches(&normalize(b"aaaa-aaaa-aaaa").unwrap()));
    }

    #[test]
    fn encode_parse_round_trip_and_rejects_garbage() {
        let hash = RecoveryHash::new([7; 16], b"abcdefghijkl");
        assert_eq!(RecoveryHash::parse(&hash.encode()), Some(hash.clone()));
        assert_eq!(RecoveryHash::parse("md5:00:00"), None);
        assert_eq!(RecoveryHash::parse("sha256:zz:00"), None);
        let truncated = &hash.encode()[..40];
        assert_eq!(RecoveryHash::parse(truncated), None);
    }

    #[test]
    fn normalize_rejects_numeric_codes_and_symbols() {
        assert!(normalize(b"123456").is_none());
        assert!(normalize(b"abcd-efgh-ijk!").is_none());
        assert!(normalize(b"ABCD efgh-ijkl").is_some());
    }

    #[test]
    fn imported_scratch_codes_are_eight_digits() {
        assert_eq!(&normalize(b"4419 2654").unwrap()[..], b"44192654");
        assert!(normalize(b"4419265").is_none());
        assert!(normalize(b"abcd2654").is_none());
    }
}
