//! `pam-otp import`: a `~/.google_authenticator` file becomes a pam_otp secret file, with its
//! scratch codes as hashed recovery codes, so the phone entry keeps working.

use std::process::ExitCode;

use pam_otp::fsafe::{self, ReadError};
use pam_otp::google_authenticator::GoogleAuthFile;
use pam_otp::secret_file::MAX_FILE_SIZE;
use pam_otp::secret_write::Replace;

use crate::common::{self, fail, Result, Target};
use crate::{ImportArgs, ModuleOpts};

pub fn run(opts: &ModuleOpts, a: &ImportArgs) -> Result<ExitCode> {
    let target = Target::new(opts, a.user.as_deref())?;
    let source = a
        .from
        .clone()
        .unwrap_or_else(|| target.account.home.join(".google_authenticator"));
    if !source.is_absolute() {
        fail!("--from must be an absolute path.");
    }
    let shown = source.display();
    // The old file is the user's: read it as the user, with the same checks as a secret.
    let identity = pam_otp::fsafe::UserIdentity::assume(&target.account)
        .map_err(|e| common::CliError(format!("could not take on the user's identity: {e}.")))?;
    let bytes = fsafe::read_private_file(&source, target.account.uid, MAX_FILE_SIZE);
    drop(identity);
    let bytes = match bytes {
        Ok(b) => b,
        Err(ReadError::NotFound | ReadError::NoDirectory) => {
            fail!("{shown} does not exist; nothing to import.")
        }
        Err(ReadError::Unsafe(why)) => fail!(
            "{shown} {why}; it must be a private file of {} (chmod 600).",
            target.account.name
        ),
        Err(ReadError::Io(errno)) => fail!("cannot read {shown}: {}.", errno.desc()),
    };
    let old = match GoogleAuthFile::parse(&bytes) {
        Ok(f) => f,
        Err(e) => fail!("{shown} is not a google-authenticator file pam-otp can import: {e}."),
    };
    target.preflight(a.force)?;
    // Fail now, rather than while hashing, if the random source does not work.
    common::random_bytes(16)?;
    let secret = old.to_secret_file(&mut common::salt);
    let replace = if a.force {
        Replace::BackUp
    } else {
        Replace::Refuse
    };
    let backup = target.write_secret(&secret, replace)?;

    println!(
        "Imported {shown} into {} ({}).",
        target.shown(),
        common::describe(&secret)
    );
    if let Some(b) = backup {
        println!("The previous file is kept as {}.", b.display());
    }
    println!("The entry already in the phone keeps working.");
    match secret.recovery.len() {
        0 => println!(
            "No scratch codes were left; 'pam-otp recovery --regenerate' makes recovery codes."
        ),
        n => println!("{n} unused scratch code(s) carried over as recovery codes (stored hashed)."),
    }
    for warning in old.warnings(target.config.min_secret_bits) {
        eprintln!("warning: {warning}");
    }
    println!(
        "{shown} was left as it is: remove it once pam_google_authenticator.so is out of the PAM stack."
    );
    Ok(ExitCode::SUCCESS)
}
