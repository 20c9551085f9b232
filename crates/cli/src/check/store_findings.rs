//! Findings about where pam_otp keeps its files: an admin-managed secret store and the
//! state directory, each checked as the module checks it.

use std::collections::BTreeSet;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use pam_otp_core::args::Config;

use super::pam::{Place, Rule};
use super::report::{Report, Severity};

/// An admin-managed store: its directory must exist and pass the module's checks.
pub fn check_store(service: &str, c: &Config, r: &Rule, root: &Path, report: &mut Report) {
    let template = &c.secret;
    let fixed = template.split('%').next().unwrap_or(template);
    let dir = Path::new(fixed.trim_end_matches(|ch| ch != '/').trim_end_matches('/'));
    let on_disk = root.join(dir.to_string_lossy().trim_start_matches('/'));
    let severity = if c.nullok {
        Severity::Bypass
    } else {
        Severity::Lockout
    };
    let consequence = if c.nullok {
        "every user counts as not enrolled and nullok lets them in without a code"
    } else {
        "every user is refused"
    };
    match std::fs::metadata(&on_disk) {
        Err(_) => report.add(
            severity,
            &r.place,
            format!("{service}: the secret store {} does not exist: {consequence}.", dir.display()),
            "Create it (root, mode 0700) and enrol users with 'pam-otp --secret TEMPLATE enroll --user NAME'.",
        ),
        Ok(m) if m.uid() != 0 || m.mode() & 0o022 != 0 => report.add(
            Severity::Lockout,
            &r.place,
            format!("{service}: the secret store {} is not root's or is writable by others: pam_otp refuses every secret in it.", dir.display()),
            "chown root: and chmod 0700 the directory.",
        ),
        Ok(_) => {}
    }
}

/// Each state directory the pam_otp.so lines name (once), checked as the module checks it:
/// a real directory, root's, not writable (or readable) by others, creatable if missing.
pub fn check_state_dirs(configs: &[(Config, Place)], root: &Path, report: &mut Report) {
    let mut seen = BTreeSet::new();
    for (c, place) in configs {
        if !seen.insert(c.state_dir.clone()) {
            continue;
        }
        let shown = c.state_dir.display();
        let on_disk = root.join(c.state_dir.to_string_lossy().trim_start_matches('/'));
        match std::fs::symlink_metadata(&on_disk) {
            Ok(m) if m.file_type().is_symlink() => report.add(
                Severity::Lockout,
                place,
                format!("the state directory {shown} is a symbolic link: pam_otp refuses to use it and denies every login (state_error)."),
                "Replace it with a real directory owned by root, mode 0700.",
            ),
            Ok(m) if !m.is_dir() => report.add(
                Severity::Lockout,
                place,
                format!("the state directory {shown} is not a directory: every login is denied (state_error)."),
                "Remove it; pam_otp creates the directory on first use.",
            ),
            Ok(m) if m.uid() != 0 => report.add(
                Severity::Lockout,
                place,
                format!("the state directory {shown} is not owned by root: pam_otp denies every login (state_error)."),
                "chown root: the directory (mode 0700).",
            ),
            Ok(m) if m.mode() & 0o022 != 0 => report.add(
                Severity::Lockout,
                place,
                format!("the state directory {shown} is writable by group or others: pam_otp denies every login (state_error)."),
                "chmod 0700 the directory.",
            ),
            Ok(m) if m.mode() & 0o077 != 0 => report.add(
                Severity::Note,
                place,
                format!("the state directory {shown} is readable by others: they can see who failed and when."),
                "chmod 0700 the directory.",
            ),
            Ok(m) if m.mode() & 0o300 != 0o300 => report.add(
                Severity::Lockout,
                place,
                format!("the state directory {shown} lacks owner write or search permission: saving state fails and every login is denied (state_error)."),
                "chmod 0700 the directory.",
            ),
            Ok(_) => {}
            Err(_) => {
                let parent = on_disk.parent().map(Path::to_path_buf).unwrap_or_default();
                if !parent.is_dir() {
                    report.add(
                        Severity::Lockout,
                        place,
                        format!("the state directory {shown} cannot be created (its parent does not exist): every login is denied (state_error)."),
                        "Create it: install -d -m 0700 -o root -g root DIR.",
                    );
                }
            }
        }
    }
}
