//! The benchmark's own HOTP codes and key encodings (independent of pam_otp's code).

use hmac::{Hmac, KeyInit, Mac};

pub(crate) const KEY: &[u8] = b"pam-bench key 0123456789abcdef!"; // 31 bytes, 248 bits

pub(crate) fn hotp(counter: u64) -> String {
    let mut mac = <Hmac<sha1::Sha1> as KeyInit>::new_from_slice(KEY).unwrap();
    mac.update(&counter.to_be_bytes());
    let d = mac.finalize().into_bytes();
    let off = usize::from(d[19] & 0x0f);
    let bin = u32::from_be_bytes([d[off] & 0x7f, d[off + 1], d[off + 2], d[off + 3]]);
    format!("{:06}", bin % 1_000_000)
}

/// A code that no counter below 100,000 produces: wrong for every module, whatever its window.
pub(crate) fn wrong_code() -> String {
    let used: std::collections::HashSet<String> = (0..100_000).map(hotp).collect();
    (0..1_000_000)
        .map(|c| format!("{c:06}"))
        .find(|c| !used.contains(c))
        .unwrap()
}

pub(crate) fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::new();
    for chunk in bytes.chunks(5) {
        let mut buf = [0u8; 5];
        buf[..chunk.len()].copy_from_slice(chunk);
        let v = u64::from_be_bytes([0, 0, 0, buf[0], buf[1], buf[2], buf[3], buf[4]]);
        let chars = (chunk.len() * 8).div_ceil(5);
        for i in 0..chars {
            out.push(ALPHABET[((v >> (35 - 5 * i)) & 31) as usize] as char);
        }
    }
    out
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
