//! Recovery codes: new ones and how they are shown (for `enroll` and `recovery
//! --regenerate`), and `pam-otp recovery`, which counts those left or `--regenerate`s them.

use std::process::ExitCode;

use pam_otp_core::private_file::Replace;
use pam_otp_core::recovery::{self, RecoveryHash};
use zeroize::Zeroizing;

use crate::admin;
use crate::cli_args::{ModuleOpts, RecoveryArgs};
use crate::error::{fail, Result};
use crate::random::random_bytes;
use crate::target::{StateView, Target};

/// `count` new recovery codes (display form) and their hashes.
pub fn new_codes(count: usize) -> Result<(Vec<Zeroizing<String>>, Vec<RecoveryHash>)> {
    let mut codes = Vec::with_capacity(count);
    let mut hashes = Vec::with_capacity(count);
    for _ in 0..count {
        let random = random_bytes(recovery::CODE_LEN + 16)?;
        let Some((code, hash)) = recovery::generate(&random) else {
            fail!("could not generate a recovery code.");
        };
        codes.push(code);
        hashes.push(hash);
    }
    Ok((codes, hashes))
}

/// Prints recovery codes for the user to keep.
pub fn print_codes(codes: &[Zeroizing<String>]) {
    if codes.is_empty() {
        return;
    }
    println!();
    println!("Recovery codes: each works once, in place of a code, if the phone is lost.");
    println!("They are shown only now; keep them somewhere safe (not on the phone).");
    for (i, code) in codes.iter().enumerate() {
        println!("  {:>2}. {}", i + 1, code.as_str());
    }
}

/// `pam-otp recovery`: how many codes are left, or (`--regenerate`) new ones.
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
    let (codes, hashes) = new_codes(a.count as usize)?;
    secret.recovery = hashes;
    // Same secret, new hashes: nothing worth a backup (the old codes are meant to die).
    target.write_secret(&secret, Replace::Overwrite)?;
    println!(
        "New recovery codes saved in {}; the old ones no longer work.",
        target.shown()
    );
    print_codes(&codes);
    Ok(ExitCode::SUCCESS)
}
