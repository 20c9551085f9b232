//! Several devices per user: `pam-otp enroll --name NAME` (add a token to the file),
//! `pam-otp tokens` (list them) and `pam-otp remove NAME` (remove one).

use std::process::ExitCode;

use pam_otp_core::private_file::Replace;
use pam_otp_core::secret_file::{
    valid_token_name, Kind, SecretFile, Token, TokenView, DEFAULT_TOKEN, MAX_TOKENS,
};
use pam_otp_core::verify;

use crate::admin;
use crate::cli_args::{EnrollArgs, ModuleOpts, RemoveArgs, TokensArgs};
use crate::enroll;
use crate::error::{fail, Result};
use crate::otpauth;
use crate::target::Target;

/// The file of a user who must be enrolled already.
fn enrolled(target: &Target) -> Result<SecretFile> {
    match target.read_secret()? {
        Some(s) => Ok(s),
        None => fail!(
            "{} is not enrolled ({} does not exist); run 'pam-otp enroll' (without --name) first.",
            target.account.name,
            target.shown()
        ),
    }
}

/// A throw-away one-token file holding `token`, for the code shared with enrolment
/// (URI, confirmation, state registration).
pub fn alone(token: &TokenView<'_>) -> SecretFile {
    SecretFile {
        kind: token.kind,
        key: zeroize::Zeroizing::new(token.key.to_vec()),
        algorithm: token.algorithm,
        digits: token.digits,
        recovery: Vec::new(),
        named: Vec::new(),
    }
}

/// The account name an app shows for a token, by default: a named token says its name, so
/// that two entries of one user can be told apart.
pub fn default_label(user: &str, host: &str, token: &str) -> String {
    if token == DEFAULT_TOKEN {
        format!("{user}@{host}")
    } else {
        format!("{user}@{host} ({token})")
    }
}

/// `pam-otp enroll --name NAME`: a new token, shown and confirmed as `enroll` does, added
/// to the existing file; its other tokens and the recovery codes stay as they are.
pub fn enroll_named(opts: &ModuleOpts, a: &EnrollArgs, name: &str) -> Result<ExitCode> {
    if !valid_token_name(name) {
        fail!(
            "--name: a token name is 1 to 32 letters, digits, '.', '_' or '-', and not '{DEFAULT_TOKEN}' (the file's first token is called that)."
        );
    }
    if a.force {
        fail!("--force replaces the whole file and does not go with --name; remove the token first ('pam-otp remove {name}').");
    }
    let target = Target::new(opts, a.user.as_deref())?;
    target.usable_state()?;
    let existing = enrolled(&target)?;
    let new = enroll::new_secret(a, target.config.min_secret_bits)?;
    // Every reason to refuse, before anything is shown.
    check_addable(&existing, name, &new)?;

    let host = enroll::hostname();
    let issuer = a.issuer.clone().unwrap_or_else(|| host.clone());
    let label = a
        .label
        .clone()
        .unwrap_or_else(|| default_label(&target.account.name, &host, name));
    if let Err(why) = otpauth::check_name(&issuer) {
        fail!("--issuer {why}.");
    }
    if let Err(why) = otpauth::check_name(&label) {
        fail!("--label {why}.");
    }
    enroll::show(&target, &new, &issuer, &label, a.qr)?;
    let mut new = new;
    let confirmed_step = if a.no_confirm {
        eprintln!("Not asking for a code (--no-confirm): check one before you log out.");
        None
    } else {
        enroll::confirm(&mut new)?
    };

    // The file as it is now (the user may have taken a while to type the code).
    let mut file = enrolled(&target)?;
    check_addable(&file, name, &new)?;
    add(&mut file, name, &new)?;
    target.write_secret(&file, Replace::BackUp)?;
    println!();
    println!(
        "Added token '{name}' to {} for {} ({} tokens now); the other tokens and the recovery codes are unchanged.",
        target.shown(),
        target.account.name,
        file.tokens().len()
    );
    if target.state_writable() {
        let keep: Vec<[u8; 8]> = file
            .tokens()
            .iter()
            .map(|t| verify::key_id(t.key))
            .collect();
        if let Err(e) = admin::start_token_history(
            &*target.store(),
            target.state_key(),
            &new,
            confirmed_step,
            &keep,
        ) {
            let dir = target.config.state_dir.display();
            eprintln!(
                "Note: could not record the new token in {dir} ({e}); a code typed to confirm stays valid until it expires."
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn check_addable(file: &SecretFile, name: &str, new: &SecretFile) -> Result<()> {
    add(&mut file.clone(), name, new)
}

fn add(file: &mut SecretFile, name: &str, new: &SecretFile) -> Result<()> {
    let token = Token {
        name: name.to_string(),
        kind: new.kind,
        key: new.key.clone(),
        algorithm: new.algorithm,
        digits: new.digits,
    };
    if let Err(e) = file.add_token(token) {
        fail!("cannot add token '{name}': {e}; nothing was changed.");
    }
    Ok(())
}

/// `pam-otp tokens`: one line per token; never a secret.
pub fn list(opts: &ModuleOpts, a: &TokensArgs) -> Result<ExitCode> {
    let target = Target::new(opts, a.user.as_deref())?;
    let file = enrolled(&target)?;
    println!(
        "{:<32}  {:<4}  {:<9}  {:>6}  PERIOD/COUNTER",
        "NAME", "TYPE", "ALGORITHM", "DIGITS"
    );
    for t in file.tokens() {
        let (kind, moving) = match t.kind {
            Kind::Totp { period } => ("totp", format!("{period} s")),
            Kind::Hotp { counter } => ("hotp", format!("counter {counter}")),
        };
        println!(
            "{:<32}  {kind:<4}  {:<9}  {:>6}  {moving}",
            t.name,
            t.algorithm.name(),
            t.digits
        );
    }
    println!(
        "{} of at most {MAX_TOKENS} tokens; {} recovery codes for the file.",
        file.tokens().len(),
        file.recovery.len()
    );
    Ok(ExitCode::SUCCESS)
}

/// `pam-otp remove NAME`: the file without that token (the old one kept as `.bak`). The
/// token's replay history stays in the state: putting it back later reopens none of its
/// used codes.
pub fn remove(opts: &ModuleOpts, a: &RemoveArgs) -> Result<ExitCode> {
    let target = Target::new(opts, a.user.as_deref())?;
    target.usable_state()?;
    let mut file = enrolled(&target)?;
    if let Err(e) = file.remove_token(&a.name) {
        fail!(
            "cannot remove token '{}': {e}; nothing was changed.",
            a.name
        );
    }
    let backup = target.write_secret(&file, Replace::BackUp)?;
    println!(
        "Removed token '{}' from {} ({} left).",
        a.name,
        target.shown(),
        file.tokens().len()
    );
    if let Some(b) = backup {
        println!("The previous file is kept as {}.", b.display());
    }
    Ok(ExitCode::SUCCESS)
}
