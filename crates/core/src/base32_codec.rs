//! RFC 4648 base32, as the secret file and the enrolment URI spell keys.
//!
//! Written here rather than taken from the base32 crate (which the tests use as a reference):
//! the crate's encoder grows its output as it goes, and every reallocation leaves a partial
//! copy of the key in freed memory; these functions write straight into wiping buffers of
//! the final size (crates/core/tests/freed_memory.rs checks it).

use zeroize::Zeroizing;

/// The value of an RFC 4648 base32 character, either case.
fn base32_value(c: u8) -> Option<u8> {
    match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a'),
        b'2'..=b'7' => Some(c - b'2' + 26),
        _ => None,
    }
}

/// Decodes RFC 4648 base32, ignoring case, spaces and `=` padding (trailing bits that make
/// no whole byte are dropped).
///
/// Decoded straight into a buffer of the final size, so no partial copy of the key is ever
/// left in freed memory by a growing buffer.
pub fn decode_base32(text: &str) -> Option<Zeroizing<Vec<u8>>> {
    let mut chars = 0usize;
    for &c in text.as_bytes() {
        if c == b' ' || c == b'=' {
            continue;
        }
        base32_value(c)?;
        chars += 1;
    }
    // One lone character carries fewer than 8 bits: it decodes to no key at all, which the
    // file could then not even be written back with.
    let len = chars * 5 / 8;
    if len == 0 {
        return None;
    }
    let mut key = Zeroizing::new(Vec::with_capacity(len));
    let mut bits = Zeroizing::new(0u16);
    let mut count = 0u32;
    for &c in text.as_bytes() {
        let Some(value) = base32_value(c) else {
            continue;
        };
        *bits = (*bits << 5) | u16::from(value);
        count += 5;
        if count >= 8 {
            count -= 8;
            key.push((*bits >> count) as u8);
            *bits &= (1 << count) - 1;
        }
    }
    key.truncate(len);
    Some(key)
}

/// Encodes `key` as unpadded upper-case base32, the form authenticator apps expect, into a
/// buffer of the final size (see [`decode_base32`]).
pub fn encode_base32(key: &[u8]) -> Zeroizing<String> {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = Zeroizing::new(String::with_capacity((key.len() * 8).div_ceil(5)));
    let mut bits = Zeroizing::new(0u16);
    let mut count = 0u32;
    for &b in key {
        *bits = (*bits << 8) | u16::from(b);
        count += 8;
        while count >= 5 {
            count -= 5;
            out.push(char::from(ALPHABET[usize::from((*bits >> count) & 31)]));
        }
        *bits &= (1 << count) - 1;
    }
    if count > 0 {
        out.push(char::from(
            ALPHABET[usize::from((*bits << (5 - count)) & 31)],
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base32_agrees_with_an_independent_implementation() {
        // The base32 crate (a dev-dependency) as the reference, for every length up to 70.
        let mut byte = 0x5au8;
        for len in 0..=70usize {
            let key: Vec<u8> = (0..len)
                .map(|_| {
                    byte = byte.wrapping_mul(167).wrapping_add(13);
                    byte
                })
                .collect();
            let reference = base32::encode(base32::Alphabet::Rfc4648 { padding: false }, &key);
            assert_eq!(&encode_base32(&key)[..], reference, "length {len}");
            let padded = base32::encode(base32::Alphabet::Rfc4648 { padding: true }, &key);
            for text in [reference.clone(), reference.to_lowercase(), padded] {
                let expected = base32::decode(
                    base32::Alphabet::Rfc4648 { padding: false },
                    &text.replace('=', "").to_uppercase(),
                )
                .filter(|k| !k.is_empty());
                assert_eq!(
                    decode_base32(&text).map(|k| k.to_vec()),
                    expected,
                    "{text:?}"
                );
            }
        }
        // Lengths that are no whole number of bytes: the trailing bits are dropped.
        for text in ["GE", "GEZ", "GEZDG", "GEZDGNBVG"] {
            let expected = base32::decode(base32::Alphabet::Rfc4648 { padding: false }, text);
            assert_eq!(decode_base32(text).map(|k| k.to_vec()), expected, "{text}");
        }
        for bad in ["GEZD1", "GEZD8", "GE-ZD", "GEZ\u{e9}", "\tGEZD"] {
            assert_eq!(decode_base32(bad), None, "{bad:?}");
        }
    }
}
