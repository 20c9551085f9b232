//! `pam-otp import`: a `~/.google_authenticator` file becomes a pam_otp secret file, with its
//! scratch codes as hashed recovery codes, so the phone entry keeps working.

use std::process::ExitCode;

use crate::google_authenticator::GoogleAuthFile;
use pam_otp_core::private_file::{self, ReadError};
use pam_otp_core::secret_file::MAX_FILE_SIZE;

use crate::cli_args::{ImportArgs, ModuleOpts};
use crate::describe::describe;
use crate::error::{fail, CliError, Result};
use crate::random::random_bytes;
use crate::target::Target;

/// `pam-otp import`.
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
    let identity = pam_otp_core::private_file::UserIdentity::assume(&target.account)
        .map_err(|e| CliError(format!("could not take on the user's identity: {e}.")))?;
    let bytes = private_file::read_private_file(&source, target.account.uid, MAX_FILE_SIZE);
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
    // The state first: preflight may create an admin store's directory, and no command
    // changes anything before it knows the state is usable.
    target.usable_state()?;
    target.preflight(a.force)?;
    // One salt per scratch code, drawn before anything is written.
    let pool = random_bytes(16 * old.scratch_codes.len())?;
    let mut salts = pool.chunks_exact(16).map(|c| {
        let mut salt = [0u8; 16];
        salt.copy_from_slice(c);
        salt
    });
    let secret = old.to_secret_file(&mut || salts.next().unwrap_or_default());
    let backup = target.save_new_secret(&secret, a.force)?;

    println!(
        "Imported {shown} into {} ({}).",
        target.shown(),
        describe(&secret)
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
