//! Findings about screen lockers: they run as the user, where pam_otp cannot work, so their
//! stack must let a user with the right password in when pam_otp fails.

use std::path::Path;

use super::flow::{self, Ret, Scenario};
use super::pam::Flat;
use super::report::{Report, Severity};

/// PAM services of screen lockers that run as the user, not as root. pam_otp cannot read or
/// save its state there (`state_dir` is root's), so it refuses every enrolled user: such a
/// locker must not reach pam_otp.so. (GNOME's lock screen goes through gdm, light-locker
/// through lightdm, physlock runs as root: those ask for the code like a login does.)
/// The Debian pam-auth-update profile exempts the same list.
pub const LOCKERS: &[&str] = &[
    "xscreensaver",
    "i3lock",
    "swaylock",
    "hyprlock",
    "gtklock",
    "waylock",
    "kde",
    "kscreensaver",
    "gnome-screensaver",
    "mate-screensaver",
    "cinnamon-screensaver",
    "xfce4-screensaver",
    "budgie-screensaver",
    "xlock",
    "vlock",
];

/// A screen locker runs as the user, where pam_otp fails closed for every enrolled user: its
/// stack must let a user with the right password in even when pam_otp fails.
pub fn check_locker(service: &str, stack: &[Flat], pam_dir: &Path, report: &mut Report) {
    let with_password = |otp| Scenario {
        service,
        otp,
        factors: Ret::Success,
    };
    let with_code = flow::can_succeed(stack, &with_password(Ret::Success));
    let without = flow::can_succeed(stack, &with_password(Ret::AuthErr));
    let prefix = format!("{service}: ");
    report.ok.retain(|l| !l.starts_with(&prefix));
    match (with_code, without) {
        (_, Some(true)) => report.ok.push(format!(
            "{service}: screen locker, pam_otp.so skipped (it cannot work in a locker)"
        )),
        (Some(true), Some(false)) => {
            let Some(otp) = stack.iter().find(|f| f.rule.is_otp()) else {
                return;
            };
            let own_file = pam_dir.join(service);
            let fix = if otp.rule.place.file == own_file {
                format!(
                    "Remove the pam_otp.so line from {}; the code is asked where the session is opened (gdm, lightdm, login, sshd).",
                    own_file.display()
                )
            } else {
                format!(
                    "Put 'auth [success=1 default=ignore] pam_succeed_if.so quiet service in {}' directly above that pam_otp.so line (as the Debian pam-auth-update profile does), or give {service} a stack of its own without pam_otp.so instead of including {}.",
                    LOCKERS.join(":"),
                    otp.rule.place.file.file_name().map_or_else(
                        || otp.rule.place.file.display().to_string(),
                        |n| n.to_string_lossy().into_owned()
                    )
                )
            };
            report.add(
                Severity::Lockout,
                &otp.rule.place,
                format!("{service}: {service} is a screen locker and runs as the user, where pam_otp.so cannot read or save its state (state_error): an enrolled user can never unlock the screen."),
                &fix,
            );
        }
        _ => {}
    }
}
