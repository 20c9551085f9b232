//! `pam-otp enroll`: new secret, QR code, URI, confirmation, atomic save, recovery codes.

use std::io::IsTerminal;
use std::process::ExitCode;

use crate::admin;
use crate::otpauth;
use pam_otp_core::otp::Algorithm;
use pam_otp_core::secret_file::{encode_base32, Kind, SecretFile};
use pam_otp_core::state::State;
use pam_otp_core::verify::{self, Policy};

use zeroize::Zeroizing;

use crate::cli_args::{AlgorithmArg, EnrollArgs, ModuleOpts, QrMode, TokenType};
use crate::clock;
use crate::describe::describe;
use crate::error::{fail, Result};
use crate::input::ask;
use crate::random::random_bytes;
use crate::recovery;
use crate::target::Target;

/// Wrong codes allowed at the confirmation before giving up.
const CONFIRM_TRIES: usize = 3;

/// `pam-otp enroll`.
pub fn run(opts: &ModuleOpts, a: &EnrollArgs) -> Result<ExitCode> {
    if let Some(name) = &a.name {
        return crate::tokens::enroll_named(opts, a, name);
    }
    if let Some(contact) = &a.deliver {
        return crate::deliver::enroll(opts, a, contact);
    }
    let target = Target::new(opts, a.user.as_deref())?;
    let secret = new_secret(a, target.config.min_secret_bits)?;
    let host = hostname();
    let issuer = a.issuer.clone().unwrap_or_else(|| host.clone());
    let label = a
        .label
        .clone()
        .unwrap_or_else(|| format!("{}@{host}", target.account.name));
    if let Err(why) = otpauth::check_name(&issuer) {
        fail!("--issuer {why}.");
    }
    if let Err(why) = otpauth::check_name(&label) {
        fail!("--label {why}.");
    }
    // The state first: preflight may create an admin store's directory, and no command
    // changes anything before it knows the state is usable.
    target.usable_state()?;
    target.preflight(a.force)?;

    show(&target, &secret, &issuer, &label, a.qr)?;
    let mut secret = secret;
    let confirmed_step = if a.no_confirm {
        eprintln!("Not asking for a code (--no-confirm): check one before you log out.");
        None
    } else {
        confirm(&mut secret)?
    };

    let (codes, hashes) = recovery::new_codes(a.recovery_codes as usize)?;
    secret.recovery = hashes;
    let backup = target.save_new_secret(&secret, a.force)?;
    println!();
    println!(
        "Saved {} for {} (mode 0600).",
        target.shown(),
        target.account.name
    );
    if let Some(b) = backup {
        println!("The previous file is kept as {}.", b.display());
    }
    register(&target, &secret, confirmed_step);
    recovery::print_codes(&codes);
    Ok(ExitCode::SUCCESS)
}

/// Where the caller may write the module's state (root, normally), records the new secret
/// as the user's current one and the TOTP code typed to confirm as used. Elsewhere that
/// code stays valid for a minute or so, as any code does.
fn register(target: &Target, secret: &SecretFile, step: Option<u64>) {
    if !target.state_writable() {
        return;
    }
    if let Err(e) = admin::start_history(&*target.store(), target.state_key(), secret, step) {
        let dir = target.state_location();
        eprintln!(
            "Note: could not record the new secret in {dir} ({e}); a code typed to confirm stays valid until it expires."
        );
    }
}

pub(crate) fn new_secret(a: &EnrollArgs, min_bits: usize) -> Result<SecretFile> {
    if !a.bits.is_multiple_of(8) {
        fail!("--bits must be a multiple of 8.");
    }
    if (a.bits as usize) < min_bits {
        fail!(
            "a {}-bit secret is shorter than min_secret_bits={min_bits}, so pam_otp would refuse it. Use --bits {min_bits} or more (or --min-secret-bits if the PAM line lowers it).",
            a.bits
        );
    }
    let kind = match a.kind {
        TokenType::Totp => {
            if a.counter.is_some() {
                fail!("--counter applies to --type hotp only.");
            }
            Kind::Totp {
                period: a.period.unwrap_or(30),
            }
        }
        TokenType::Hotp => {
            if a.period.is_some() {
                fail!("--period applies to --type totp only.");
            }
            Kind::Hotp {
                counter: a.counter.unwrap_or(0),
            }
        }
    };
    let algorithm = match a.algorithm {
        AlgorithmArg::Sha1 => Algorithm::Sha1,
        AlgorithmArg::Sha256 => Algorithm::Sha256,
        AlgorithmArg::Sha512 => Algorithm::Sha512,
    };
    Ok(SecretFile {
        kind,
        key: random_bytes(a.bits as usize / 8)?,
        algorithm,
        digits: a.digits,
        recovery: Vec::new(),
        named: Vec::new(),
    })
}

pub(crate) fn show(
    target: &Target,
    secret: &SecretFile,
    issuer: &str,
    label: &str,
    qr: QrMode,
) -> Result<()> {
    let uri = otpauth::uri(secret, issuer, label);
    let drawn = match qr {
        QrMode::None => None,
        QrMode::Text => crate::qr::text(&uri),
        QrMode::Ansi => crate::qr::ansi(&uri),
        QrMode::Auto if std::io::stdout().is_terminal() => crate::qr::ansi(&uri),
        QrMode::Auto => crate::qr::text(&uri),
    };
    println!(
        "New one-time-code secret for {} ({}).",
        target.account.name,
        describe(secret)
    );
    println!("Scan this QR code with an authenticator app:");
    println!();
    match (qr, drawn) {
        (QrMode::None, _) => println!("(QR code not shown: --qr none)"),
        (_, Some(text)) => print!("{}", text.as_str()),
        (_, None) => println!("(the URI is too long for a QR code; type the secret instead)"),
    }
    println!();
    println!("Or open this URI on the phone:");
    println!("  {}", uri.as_str());
    println!("Or type the secret by hand (spaces do not matter):");
    println!("  {}", grouped(&encode_base32(&secret.key)).as_str());
    let unusual = secret.algorithm != Algorithm::Sha1
        || secret.digits != 6
        || !matches!(secret.kind, Kind::Totp { period: 30 });
    if unusual {
        println!(
            "Note: many apps (Google Authenticator among them) ignore anything but SHA1, 6 digits \
             and 30 s, and then show codes that never work: use an app that honours these \
             parameters (Aegis, FreeOTP, 1Password)."
        );
    }
    Ok(())
}

/// Asks for a code until one matches (then, for HOTP, moves the file's counter past it so
/// the code cannot be used again), or fails after [`CONFIRM_TRIES`] wrong ones. Returns the
/// TOTP step of the matching code.
pub(crate) fn confirm(secret: &mut SecretFile) -> Result<Option<u64>> {
    let policy = Policy::default();
    for attempt in 1..=CONFIRM_TRIES {
        let Some(typed) = ask("\nType the code the app shows now, to confirm: ")? else {
            fail!(
                "no code was typed (end of input); nothing was saved. Use --no-confirm to skip the check in scripts."
            );
        };
        let decision = verify::decide(
            secret,
            &State::default(),
            clock::now(),
            typed.as_bytes(),
            &policy,
        );
        if decision.outcome.is_ok() {
            if let (Kind::Hotp { .. }, Some(next)) = (secret.kind, decision.state.hotp_next) {
                secret.kind = Kind::Hotp { counter: next };
            }
            eprintln!("The code matches.");
            return Ok(decision.state.last_step);
        }
        if attempt < CONFIRM_TRIES {
            eprintln!("That code does not match; try the next one the app shows.");
        }
    }
    fail!(
        "the code did not match {CONFIRM_TRIES} times; nothing was saved. Check that the phone's clock is right and that the app uses the parameters shown above, then enrol again."
    )
}

/// Groups of four characters, for typing a secret by hand.
pub(crate) fn grouped(text: &str) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::with_capacity(text.len() * 5 / 4));
    for (i, c) in text.chars().enumerate() {
        if i > 0 && i % 4 == 0 {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

/// This machine's host name (for default issuer and label).
pub(crate) fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_of_four() {
        assert_eq!(grouped("ABCDEFGHIJ").as_str(), "ABCD EFGH IJ");
    }
}
