//! Untrusted text (user names, remote hosts, paths, argument names) rendered for a log line
//! or a terminal, so that it can neither forge a field nor smuggle control bytes.
//!
//! The rule, documented in pam_otp(8) for log parsers:
//! - a value of 1 to [`MAX_VALUE_BYTES`] bytes, each printable ASCII other than space, `"`,
//!   `\` and `=`, is shown as it is (`alice`, `192.0.2.7`, `2001:db8::1`), except `-`
//!   itself, which the log line uses for "none";
//! - anything else is shown in double quotes, with `\"` for `"`, `\\` for `\`, and `\xNN`
//!   (two lower-case hex digits) for `=`, control bytes and bytes outside ASCII; printable
//!   ASCII and spaces stay as they are;
//! - a value longer than [`MAX_VALUE_BYTES`] is cut there, quoted, and ends in `...` inside
//!   the quotes.
//!
//! So a bare value is one token, a quoted one runs to the first `"` not preceded by a
//! backslash, and no value ever contains `=` literally: `rhost=` and `user=` occur once per
//! line even for a regular expression that ignores quotes.

/// Longest value shown whole, in bytes: a DNS name (at most 253) is never cut.
pub const MAX_VALUE_BYTES: usize = 256;

/// Renders `raw` (any bytes, not necessarily UTF-8) as one log-safe value.
pub fn escape(raw: impl AsRef<[u8]>) -> String {
    let raw = raw.as_ref();
    let bare = |b: &u8| b.is_ascii_graphic() && !matches!(b, b'"' | b'\\' | b'=');
    let cut = raw.len() > MAX_VALUE_BYTES;
    let shown = &raw[..raw.len().min(MAX_VALUE_BYTES)];
    if !cut && !shown.is_empty() && shown != b"-" && shown.iter().all(bare) {
        // Only ASCII bytes: the conversion cannot fail.
        return shown.iter().map(|&b| char::from(b)).collect();
    }
    let mut out = String::with_capacity(shown.len() + 8);
    out.push('"');
    for &b in shown {
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b' ' => out.push(' '),
            b if bare(&b) => out.push(char::from(b)),
            b => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    if cut {
        out.push_str("...");
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_values_stay_bare() {
        for v in [
            "alice",
            "192.0.2.7",
            "2001:db8::1",
            "host.example",
            "a:b",
            "a-b",
            "--",
        ] {
            assert_eq!(escape(v), v);
        }
    }

    #[test]
    fn everything_else_is_quoted_and_escaped() {
        let cases: [(&[u8], &str); 10] = [
            (b"", r#""""#),
            (b"-", r#""-""#),
            (b"a b", r#""a b""#),
            (b"a=b", r#""a\x3db""#),
            (b"say \"hi\"", r#""say \"hi\"""#),
            (br"back\slash", r#""back\\slash""#),
            (
                b"two\nlines\r\t\x1b\x7f",
                r#""two\x0alines\x0d\x09\x1b\x7f""#,
            ),
            (b"\xff\xfe", r#""\xff\xfe""#),
            ("café".as_bytes(), r#""caf\xc3\xa9""#),
            (
                b"x rhost=198.51.100.9: ok",
                r#""x rhost\x3d198.51.100.9: ok""#,
            ),
        ];
        for (raw, want) in cases {
            assert_eq!(escape(raw), want, "{raw:?}");
        }
    }

    /// Reads an escaped value back, by the documented rule only.
    fn unescape(shown: &str) -> Vec<u8> {
        let Some(inner) = shown.strip_prefix('"').and_then(|s| s.strip_suffix('"')) else {
            return shown.as_bytes().to_vec();
        };
        let (bytes, mut out, mut i) = (inner.as_bytes(), Vec::new(), 0);
        while i < bytes.len() {
            match (bytes[i], bytes.get(i + 1)) {
                (b'\\', Some(b'x')) => {
                    out.push(u8::from_str_radix(&inner[i + 2..i + 4], 16).unwrap());
                    i += 4;
                }
                (b'\\', Some(&c)) => {
                    out.push(c);
                    i += 2;
                }
                (c, _) => {
                    out.push(c);
                    i += 1;
                }
            }
        }
        out
    }

    #[test]
    fn any_bytes_round_trip_as_one_printable_token_without_equals() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..20_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let len = (seed % 40) as usize;
            let raw: Vec<u8> = (0..len)
                .map(|i| (seed.rotate_left(i as u32 * 7) >> 3) as u8)
                .map(|b| if seed.is_multiple_of(3) { b % 128 } else { b })
                .collect();
            let shown = escape(&raw);
            assert!(shown.bytes().all(|b| (0x20..=0x7e).contains(&b)), "{shown}");
            assert!(!shown.contains('='), "{shown}");
            if !shown.starts_with('"') {
                assert!(!shown.contains(' ') && !shown.is_empty(), "{shown}");
            }
            assert_eq!(unescape(&shown), raw, "{shown}");
        }
    }

    #[test]
    fn long_values_are_cut_and_marked() {
        let whole = "a".repeat(MAX_VALUE_BYTES);
        assert_eq!(escape(&whole), whole);
        let long = "a".repeat(MAX_VALUE_BYTES + 1);
        assert_eq!(escape(&long), format!("\"{whole}...\""));
        // The worst case stays bounded.
        assert_eq!(escape([0u8; 10_000]).len(), 2 + 4 * MAX_VALUE_BYTES + 3);
    }
}
