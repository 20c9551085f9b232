//! JSON Web Tokens signed with RS256 (RFC 7515/7519), for Google's OAuth token endpoint
//! and Vonage's API: a PKCS#8 RSA private key (PEM), ring's RSASSA-PKCS1-v1_5 SHA-256.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ring::rand::SystemRandom;
use ring::signature::{RsaKeyPair, RSA_PKCS1_SHA256};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::PrivatePkcs8KeyDer;
use zeroize::Zeroizing;

use crate::Failure;

/// An RSA private key read from a PEM `PRIVATE KEY` (PKCS#8) block.
pub struct SigningKey(RsaKeyPair);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(…)")
    }
}

impl SigningKey {
    /// The key in `pem` (`what` names it in errors, never its bytes).
    pub fn from_pem(pem: &str, what: &str) -> Result<SigningKey, Failure> {
        let der = PrivatePkcs8KeyDer::from_pem_slice(pem.as_bytes())
            .map_err(|_| Failure::config(format!("{what} holds no PKCS#8 PRIVATE KEY block")))?;
        let pair = RsaKeyPair::from_pkcs8(der.secret_pkcs8_der())
            .map_err(|_| Failure::config(format!("{what} is not a usable RSA key")))?;
        Ok(SigningKey(pair))
    }

    /// `header.claims.signature`, each part base64url without padding, signed RS256.
    /// `header` and `claims` are JSON objects, already serialised.
    pub fn sign(&self, header: &str, claims: &str) -> Result<Zeroizing<String>, Failure> {
        let mut token = Zeroizing::new(format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(claims)
        ));
        let mut signature = vec![0u8; self.0.public().modulus_len()];
        self.0
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                token.as_bytes(),
                &mut signature,
            )
            .map_err(|_| Failure::new(pam_otp_core::oob::exit::SOFTWARE, "RS256 signing failed"))?;
        token.push('.');
        token.push_str(&URL_SAFE_NO_PAD.encode(&signature));
        Ok(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    /// A JWT made here verifies with `openssl dgst -verify` against the key's public half.
    #[test]
    fn signatures_verify_with_openssl() {
        let dir = std::env::temp_dir().join(format!("jwt-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let key = dir.join("key.pem");
        let ok = Command::new("openssl")
            .args([
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:2048",
                "-out",
            ])
            .arg(&key)
            .status()
            .unwrap()
            .success();
        assert!(ok);
        let pem = std::fs::read_to_string(&key).unwrap();
        let jwt = SigningKey::from_pem(&pem, "test key")
            .unwrap()
            .sign(r#"{"alg":"RS256","typ":"JWT"}"#, r#"{"iss":"x"}"#)
            .unwrap();
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3);
        assert_eq!(URL_SAFE_NO_PAD.decode(parts[1]).unwrap(), br#"{"iss":"x"}"#);
        std::fs::write(dir.join("signed"), format!("{}.{}", parts[0], parts[1])).unwrap();
        std::fs::write(dir.join("sig"), URL_SAFE_NO_PAD.decode(parts[2]).unwrap()).unwrap();
        let verify = |file: &str| {
            Command::new("openssl")
                .current_dir(&dir)
                .args(["dgst", "-sha256", "-prverify"])
                .arg(&key)
                .args(["-signature", "sig", file])
                .output()
                .unwrap()
                .status
                .success()
        };
        assert!(verify("signed"));
        std::fs::write(dir.join("tampered"), format!("{}.e30", parts[0])).unwrap();
        assert!(!verify("tampered"), "a changed claim must not verify");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_key_that_is_not_pkcs8_rsa_is_refused_without_quoting_it() {
        let e = SigningKey::from_pem(
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
            "vonage_private_key_file",
        )
        .unwrap_err();
        assert!(
            e.message.contains("vonage_private_key_file"),
            "{}",
            e.message
        );
        assert!(!e.message.contains("AAAA"));
    }
}
