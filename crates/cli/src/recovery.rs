//! `pam-otp recovery`: count the recovery codes left, or `--regenerate` them.

use std::process::ExitCode;

use crate::admin;
use pam_otp_core::secret_write::Replace;

use crate::common::{self, fail, Result, StateView, Target};
use crate::{ModuleOpts, RecoveryArgs};

pub fn run(opts: &ModuleOpts, a: &RecoveryArgs) -> Result<ExitCode> {
    let target = Target::new(opts, a.user.as_deref())?;
    let Some(mut secret) = target.read_secret()? else {
        fail!(
            "{} is not enrolled ({} does not exist); run 'pam-otp enroll' first.",
            target.account.name,
            target.shown()
        );
    };
    if !a.regenerate {
        let total = secret.recovery.len();
        match target.peek_state() {
            StateView::Readable(s) => println!(
                "{} of {total} recovery codes unused.",
                admin::unspent_recovery_codes(&secret, &s)
            ),
            StateView::None => println!("{total} of {total} recovery codes unused."),
            _ => println!("{total} recovery codes stored (which are spent is known only to root)."),
        }
        println!("'pam-otp recovery --regenerate' replaces them all with new ones.");
        return Ok(ExitCode::SUCCESS);
    }
    // A repair marks every listed code spent: regenerating before it would waste the new ones.
    target.usable_state()?;
    let (codes, hashes) = common::new_recovery_codes(a.count as usize)?;
    secret.recovery = hashes;
    // Same secret, new hashes: nothing worth a backup (the old codes are meant to die).
    target.write_secret(&secret, Replace::Overwrite)?;
    println!(
        "New recovery codes saved in {}; the old ones no longer work.",
        target.shown()
    );
    common::print_recovery_codes(&codes);
    Ok(ExitCode::SUCCESS)
}
