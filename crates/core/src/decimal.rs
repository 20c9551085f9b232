//! Numbers in configuration text (module arguments, the secret file, files to import).

/// Decimal digits only: no sign, no spaces, no other base, no empty string (which
/// `str::parse` would accept in part: `+5` is 5 to it). `None` also when it overflows `T`.
pub fn parse_decimal<T: std::str::FromStr>(text: &str) -> Option<T> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::parse_decimal;

    #[test]
    fn digits_only() {
        assert_eq!(parse_decimal::<u64>("30"), Some(30));
        assert_eq!(parse_decimal::<u64>("007"), Some(7));
        for bad in ["", "+5", "-1", " 5", "5 ", "0x10", "1e3", "٣"] {
            assert_eq!(parse_decimal::<u64>(bad), None, "{bad:?}");
        }
        assert_eq!(parse_decimal::<u8>("256"), None);
    }
}
