//! `pam-otp status`: enrolment, parameters, recovery codes left, failures and lock-out.

use std::process::ExitCode;

use crate::admin;
use pam_otp_core::secret_file::{Kind, SecretFile};
use pam_otp_core::state::{Known, State};

use crate::cli_args::{ModuleOpts, StatusArgs};
use crate::clock;
use crate::describe::describe;
use crate::error::Result;
use crate::status_delivery;
use crate::status_tokens::print_tokens;
use crate::target::{StateView, Target};

/// Exit status when the user is not enrolled (documented in pam-otp(1)).
pub const NOT_ENROLLED: u8 = 3;

/// `pam-otp status`.
pub fn run(opts: &ModuleOpts, a: &StatusArgs) -> Result<ExitCode> {
    let target = Target::new(opts, a.user.as_deref())?;
    println!(
        "User:            {} (uid {})",
        target.account.name, target.account.uid
    );
    println!("Secret file:     {}", target.shown());
    let file = match target.read_user_file() {
        Ok(Some(f)) => f,
        Ok(None) => {
            println!("Enrolled:        no (run 'pam-otp enroll')");
            return Ok(ExitCode::from(NOT_ENROLLED));
        }
        Err(e) => {
            println!("Enrolled:        unknown: pam_otp refuses this user (see below)");
            return Err(e);
        }
    };
    let Some(secret) = file.secret else {
        // A user who gets codes only by delivery.
        println!("Enrolled:        yes, codes sent out of band only (no authenticator secret)");
        status_delivery::print_contacts(&file.deliveries);
        let state = target.peek_state();
        let dir = target.state_location();
        status_delivery::print_failures(&target.account.name, &state, &dir);
        status_delivery::print_sent(&target.config, &state);
        return Ok(ExitCode::SUCCESS);
    };
    println!("Enrolled:        yes");
    println!("Codes:           {}", describe(&secret));
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
    let readable = match &state {
        StateView::Readable(s) => Some(s),
        _ => None,
    };
    print_tokens(&secret, readable, &target.account.name);
    let total = secret.recovery.len();
    match &state {
        StateView::Readable(s) => println!(
            "Recovery codes:  {} of {total} unused",
            admin::unspent_recovery_codes(&secret, s)
        ),
        StateView::None => println!("Recovery codes:  {total} of {total} unused"),
        _ => println!("Recovery codes:  {total} stored (which are spent is known only to root)"),
    }
    let dir = target.state_location();
    match &state {
        StateView::None => println!("Failures:        none recorded (no login attempt yet)"),
        StateView::Private => {
            println!("Failures:        not readable as this user ({dir} is root's; ask root or use sudo)")
        }
        StateView::Error(e) => {
            println!("Failures:        cannot read the state: {e}");
            println!(
                "                 pam_otp refuses this user's logins until it is fixed: 'pam-otp repair {}' (root)",
                target.account.name
            );
        }
        StateView::Readable(s) => print_state(&target, &secret, s),
    }
    if !file.deliveries.is_empty() {
        status_delivery::print_contacts(&file.deliveries);
        status_delivery::print_sent(&target.config, &state);
    }
    Ok(ExitCode::SUCCESS)
}

/// The lines about a readable state: failures, lock-out, the last code used and the
/// secret's history.
fn print_state(target: &Target, secret: &SecretFile, s: &State) {
    let now = clock::now();
    if untouched(s) {
        println!("Failures:        none recorded (no login attempt yet)");
    } else {
        println!("Failures:        {} since the last success", s.failures);
    }
    if s.last_attempt > 0 {
        println!("Last attempt:    {}", clock::utc(s.last_attempt));
    }
    if s.is_locked(now) {
        println!(
            "Locked out:      yes, for {} more s (until {}); 'pam-otp unlock {}' clears it",
            s.locked_until - now,
            clock::utc(s.locked_until),
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
    let id = pam_otp_core::verify::secret_id(secret);
    let h = s.history_of(id, &[]);
    let name = &target.account.name;
    match (secret.kind, h.last_step, h.hotp_next) {
        _ if admin::needs_resync(secret, s) => println!(
            "Next counter:    unknown: HOTP codes are refused until root runs 'pam-otp repair {name} --hotp-counter N'"
        ),
        (Kind::Totp { period }, Some(step), _) => println!(
            "Last code used:  {}",
            clock::utc(step.saturating_mul(period))
        ),
        (Kind::Hotp { .. }, _, Some(next)) => println!("Next counter:    {next}"),
        _ => println!("Last code used:  none since this secret was enrolled"),
    }
    if s.known(id) == Known::Forgotten {
        println!(
            "History:         this secret's history was dropped (more than {} secrets since); its recovery codes count as spent",
            pam_otp_core::state::MAX_SECRETS
        );
    }
}

/// Nothing recorded yet (the state `pam-otp enroll` creates as root).
fn untouched(s: &State) -> bool {
    s.last_attempt == 0
        && s.failures == 0
        && s.locked_until == 0
        && s.current().is_empty()
        && s.past.is_empty()
}
