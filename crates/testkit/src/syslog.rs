//! The syslog lines of a process run under pam_wrapper, read back from its stderr, and
//! pam_otp's own among them.

/// The reason words the module starts its log lines with, and `debug`: written out here, apart
/// from `Reason::word` in `crates/core/src/authenticate.rs`, because they are an interface
/// (alert and fail2ban rules match them) that a rename must not change unnoticed.
pub const REASONS: &[&str] = &[
    "ok",
    "bad_code",
    "replay",
    "locked",
    "no_secret",
    "bad_secret_file",
    "state_error",
    "unknown_user",
    "bad_args",
    "conv_error",
    "no_authtok",
    "clock_error",
    "send_limit",
    "deliver_failed",
    "code_expired",
    "debug",
];

/// stderr's lines without pam_wrapper's `PWRAP_DEBUG[<app> (<pid>)] - ` prefix (whose pid
/// could look like a code).
pub fn log_messages(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .map(|l| {
            // A prompt written without a newline (pamtester) may precede the prefix.
            let from = l.find("PWRAP_").map_or(l, |i| &l[i..]);
            match from.split_once("] - ") {
                Some((prefix, msg)) if prefix.starts_with("PWRAP_") => msg.to_string(),
                _ => l.to_string(),
            }
        })
        .collect()
}

/// The `pam_syslog` lines among [`log_messages`], without their `SYSLOG(<priority>): `.
pub fn syslog_lines(messages: &[String]) -> Vec<String> {
    messages
        .iter()
        .filter_map(|m| m.strip_prefix("SYSLOG(")?.split_once("): "))
        .map(|(_, text)| text.to_string())
        .collect()
}

/// Whether a syslog line is pam_otp's: it starts with one of its [`REASONS`].
pub fn is_module_line(line: &str) -> bool {
    line.split([' ', ':'])
        .next()
        .is_some_and(|word| REASONS.contains(&word))
}
