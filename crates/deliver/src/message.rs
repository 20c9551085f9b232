//! The words of the message a user receives, the same on every channel.

use crate::Job;

/// `Your one-time code for sshd: 123456` and when it expires.
pub fn text(job: &Job) -> String {
    let left = job.expires_at.saturating_sub(job.now);
    format!(
        "Your one-time code for {}: {}\nIt expires in {} s ({} UTC). If you did not ask for it, \
         someone may know your password.\n",
        job.service,
        job.code.as_str(),
        left,
        utc(job.expires_at)
    )
}

/// The title / subject line (no code in it: lock screens and mail lists show it).
pub fn title(job: &Job) -> String {
    format!("One-time code for {}", job.service)
}

/// `YYYY-MM-DD HH:MM:SS` for Unix seconds (days from civil, H. Hinnant's algorithm).
pub fn utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn utc_dates() {
        assert_eq!(super::utc(0), "1970-01-01 00:00:00");
        assert_eq!(super::utc(951_782_400), "2000-02-29 00:00:00");
        assert_eq!(super::utc(1_900_000_120), "2030-03-17 17:48:40");
    }
}
