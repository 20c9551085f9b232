//! Admin commands: `pam-otp unlock USER` and `pam-otp reset USER`.

use std::process::ExitCode;

use crate::admin;
use pam_otp_core::audit;
use pam_otp_core::private_file;
use pam_otp_core::store::Inspection;

use crate::cli_args::{ModuleOpts, ResetArgs, UnlockArgs};
use crate::clock;
use crate::error::{fail, Result};
use crate::input::ask;
use crate::target::Target;

/// `pam-otp unlock USER...` / `--all`: clears the failures and the lock-out, keeps used
/// codes used. Each user is done in turn; any user that could not be unlocked makes the
/// command fail, after the others were done.
pub fn unlock(opts: &ModuleOpts, a: &UnlockArgs) -> Result<ExitCode> {
    let users: Vec<String> = if a.all {
        let mut names = Vec::new();
        for (who, inspection) in crate::locked::all_states(opts)? {
            if let Inspection::Usable(s) = inspection {
                if s.failures > 0 || s.locked_until != 0 {
                    match (&who.name, who.uid) {
                        (Some(name), Some(_)) => names.push(name.clone()),
                        _ => eprintln!(
                            "pam-otp: {} (uid {}) has a state but no account on this host; skipped.",
                            who.shown_name(),
                            who.shown_uid()
                        ),
                    }
                }
            }
        }
        if names.is_empty() {
            println!("No user is locked out or has recorded failures: nothing to unlock.");
        }
        names
    } else {
        a.users.clone()
    };
    let mut failed = false;
    for user in &users {
        if let Err(e) = unlock_one(opts, user) {
            eprintln!("pam-otp: {e}");
            failed = true;
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn unlock_one(opts: &ModuleOpts, user: &str) -> Result<()> {
    let target = Target::new(opts, Some(user))?;
    target.require_state_owner()?;
    target.usable_state()?;
    let name = &target.account.name;
    let changed = target.change_state(admin::unlocked);
    // As `faillock --reset` does: an audit record of the admin's change, success or not.
    let _ = audit::send(&[audit::Event::AdminUnlock {
        user: name.clone(),
        uid: target.account.uid,
        ok: changed.is_ok(),
    }]);
    match changed? {
        None => println!("{name} has no recorded failures: nothing to unlock."),
        Some(before) if before.is_locked(clock::now()) => println!(
            "Unlocked {name} (was locked out until {}).",
            clock::utc(before.locked_until)
        ),
        Some(before) => println!(
            "{name} was not locked out; cleared {} recorded failure(s).",
            before.failures
        ),
    }
    Ok(())
}

/// `pam-otp reset USER`: retires the secret file to its backup and clears the lock-out.
pub fn reset(opts: &ModuleOpts, a: &ResetArgs) -> Result<ExitCode> {
    let target = Target::new(opts, Some(&a.user))?;
    // Checked before anything changes, so a reset is not left half done.
    target.require_state_owner()?;
    target.usable_state()?;
    let name = target.account.name.clone();
    if !a.yes {
        let prompt = format!(
            "This removes {name}'s one-time-code enrolment ({}).\nType the user name to confirm: ",
            target.shown()
        );
        match ask(&prompt)? {
            Some(answer) if answer.as_str() == name => {}
            _ => fail!("not confirmed; nothing was changed."),
        }
    }
    let owner = target.owner();
    let retired = match target.as_owner(|| private_file::retire(&target.path, owner))? {
        Ok(retired) => retired,
        // As the module decides: no secret file if the home (or store) is there; if it is
        // missing (not mounted?), the module refuses the user, and reset says so.
        Err(private_file::WriteError::NoDirectory) => {
            let base = target.config.secret_base(&target.account);
            if !private_file::directory_exists(&base).unwrap_or(false) {
                fail!(
                    "{} does not exist, so {} cannot be reset; pam_otp refuses {name}, even with nullok.",
                    base.display(),
                    target.shown()
                );
            }
            None
        }
        Err(other) => return Err(target.write_error(other)),
    };
    let unlocked = target.change_state(admin::unlocked)?;
    match retired {
        Some(backup) => println!(
            "{name} is no longer enrolled: {} was moved to {}.",
            target.shown(),
            backup.display()
        ),
        None if unlocked.is_some() => {
            println!("{name} had no secret file; the failure record was cleared.")
        }
        None => fail!("{name} is not enrolled: {} does not exist.", target.shown()),
    }
    if unlocked.is_some() {
        println!("Failures and lock-out cleared; used codes stay used.");
    }
    println!(
        "Until they enrol again ('pam-otp enroll'), {name} is asked for a code that cannot be \
         right, or let through where the PAM line has nullok."
    );
    Ok(ExitCode::SUCCESS)
}
