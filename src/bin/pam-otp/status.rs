//! `pam-otp status`: enrolment, parameters, recovery codes left, failures and lock-out.

use std::process::ExitCode;

use pam_otp::admin;
use pam_otp::secret_file::Kind;

use crate::common::{self, Result, StateView, Target};
use crate::{ModuleOpts, StatusArgs};

/// Exit status when the user is not enrolled (documented in pam-otp(1)).
pub const NOT_ENROLLED: u8 = 3;

pub fn run(opts: &ModuleOpts, a: &StatusArgs) -> Result<ExitCode> {
    let target = Target::new(opts, a.user.as_deref())?;
    println!(
        "User:            {} (uid {})",
        target.account.name, target.account.uid
    );
    println!("Secret file:     {}", target.shown());
    let secret = match target.read_secret() {
        Ok(Some(s)) => s,
        Ok(None) => {
            println!("Enrolled:        no (run 'pam-otp enroll')");
            return Ok(ExitCode::from(NOT_ENROLLED));
        }
        Err(e) => {
            println!("Enrolled:        unknown: pam_otp refuses this user (see below)");
            return Err(e);
        }
    };
    println!("Enrolled:        yes");
    println!("Codes:           {}", common::describe(&secret));
    let bits = secret.key.len() * 8;
    let min = target.config.min_secret_bits;
    if bits < min {
        println!(
            "Secret:          {bits} bits: pam_otp REFUSES it (min_secret_bits={min}); add min_secret_bits={bits} to the PAM line or enrol again"
        );
    } else {
        println!("Secret:          {bits} bits");
    }

    let state = target.peek_state();
    let total = secret.recovery.len();
    match &state {
        StateView::Readable(s) => println!(
            "Recovery codes:  {} of {total} unused",
            admin::unspent_recovery_codes(&secret, s)
        ),
        StateView::None => println!("Recovery codes:  {total} of {total} unused"),
        _ => println!("Recovery codes:  {total} stored (which are spent is known only to root)"),
    }
    let dir = target.config.state_dir.display();
    match state {
        StateView::None => println!("Failures:        none recorded (no login attempt yet)"),
        StateView::Private => {
            println!("Failures:        not readable as this user ({dir} is root's; ask root or use sudo)")
        }
        StateView::Error(e) => {
            println!("Failures:        cannot read the state: {e}");
            println!("                 pam_otp refuses this user's logins until it is fixed");
        }
        StateView::Readable(s) => {
            let now = common::now();
            println!("Failures:        {} since the last success", s.failures);
            if s.is_locked(now) {
                println!(
                    "Locked out:      yes, for {} more s (until {}); 'pam-otp unlock {}' clears it",
                    s.locked_until - now,
                    common::utc(s.locked_until),
                    target.account.name
                );
            } else {
                println!("Locked out:      no");
            }
            if s.lockouts > 0 {
                println!(
                    "Lock-outs:       {} in a row (each doubles the next)",
                    s.lockouts
                );
            }
            let current = s.secret_id == pam_otp::verify::secret_id(&secret);
            match (secret.kind, current, s.last_step, s.hotp_next) {
                (Kind::Totp { period }, true, Some(step), _) => println!(
                    "Last code used:  {}",
                    common::utc(step.saturating_mul(period))
                ),
                (Kind::Hotp { .. }, true, _, Some(next)) => {
                    println!("Next counter:    {next}")
                }
                _ => println!("Last code used:  none since this secret was enrolled"),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
