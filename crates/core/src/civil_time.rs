//! Unix seconds as a UTC date and time, for people: the CLI's listings and the text of a
//! delivered code's message.

/// `YYYY-MM-DD HH:MM:SS` (UTC) for Unix seconds: days from civil, H. Hinnant's algorithm,
/// proleptic Gregorian.
pub fn utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::utc;

    #[test]
    fn utc_dates() {
        assert_eq!(utc(0), "1970-01-01 00:00:00");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00:00");
        assert_eq!(utc(1_111_111_111), "2005-03-18 01:58:31");
        assert_eq!(utc(1_900_000_120), "2030-03-17 17:48:40");
        assert_eq!(utc(4_102_444_800), "2100-01-01 00:00:00");
    }
}
