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
        pam_otp_core::civil_time::utc(job.expires_at)
    )
}

/// The title / subject line (no code in it: lock screens and mail lists show it).
pub fn title(job: &Job) -> String {
    format!("One-time code for {}", job.service)
}

/// The text of an SMS (or a push body): one short line, no link, the code and its life.
pub fn sms_text(job: &Job) -> String {
    format!(
        "Your one-time code for {}: {}. It expires in {} s.",
        job.service,
        job.code.as_str(),
        job.expires_at.saturating_sub(job.now)
    )
}
