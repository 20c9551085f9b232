//! `pam-otp repair USER`: a state the module refuses (corrupt, unsafe, unreadable) is
//! replaced by one that reopens no used code, and kept beside it as evidence; also sets the
//! HOTP counter the module has lost (`--hotp-counter`).

use std::process::ExitCode;

use crate::admin::{self, RepairError};
use pam_otp_core::secret_file::{Kind, SecretFile, DEFAULT_TOKEN};
use pam_otp_core::state::State;
use pam_otp_core::store::{Inspection, StateKey, StateStore};

use crate::cli_args::{ModuleOpts, RepairArgs};
use crate::clock;
use crate::error::{fail, CliError, Result};
use crate::target::Target;

/// `pam-otp repair USER`.
pub fn run(opts: &ModuleOpts, a: &RepairArgs) -> Result<ExitCode> {
    let target = Target::new(opts, Some(&a.user))?;
    target.require_state_owner()?;
    if !target.state_writable() {
        fail!(
            "only the owner of {} (root) can repair a user's state; run this as root.",
            target.state_location()
        );
    }
    let name = target.account.name.clone();
    let uid = target.account.uid;
    let dir = target.state_location();
    // Every secret the user may log in with again: the file, and the backup that restoring
    // would bring back. A secret file the module refuses must be fixed (or reset) first.
    // One the module refuses is left out, or repair and enroll would each wait for the
    // other; enrolling again afterwards gives a secret with no history to lose.
    let current = match target.read_secret() {
        Ok(s) => s,
        Err(e) => {
            eprintln!(
                "warning: {e} Its codes cannot be recorded as used: once the state is repaired, enrol {name} again ('pam-otp enroll --force --user {name}') rather than fixing that file."
            );
            None
        }
    };
    // --name TOKEN: the counter is that token's, set after the repair proper (which knows
    // only the file's first token); checked before anything changes.
    let named = a.name.as_deref().filter(|t| *t != DEFAULT_TOKEN);
    if let Some(token) = named {
        let Some(secret) = current.as_ref() else {
            fail!("--name {token}: {name} has no secret file the module accepts, so no token of that name; nothing was changed.");
        };
        match secret.token(token).map(|t| t.kind) {
            None => return Err(repair_error(&name, RepairError::NoToken(token.to_string()))),
            Some(Kind::Totp { .. }) => fail!(
                "--hotp-counter applies only to an HOTP (counter-based) token; '{token}' of {name} is time-based (TOTP). Nothing was changed."
            ),
            Some(Kind::Hotp { .. }) => {}
        }
    }
    let default_counter = if named.is_some() {
        None
    } else {
        a.hotp_counter
    };
    let named_resync =
        |state: State, secret: Option<&SecretFile>| match (named, secret, a.hotp_counter) {
            (Some(token), Some(secret), Some(counter)) => {
                admin::resync_token(&state, secret, token, counter)
            }
            _ => Ok(state),
        };
    let backup = target.read_backup();
    let secrets: Vec<&SecretFile> = current.iter().chain(backup.iter()).collect();
    let store = target.store();
    let now = clock::now();
    let key = target.state_key();
    let why = match store.inspect(key) {
        Err(e) => fail!("cannot use the state store {dir}: {e}; nothing was changed."),
        Ok(Inspection::Unusable(e)) => e,
        Ok(Inspection::Usable(_)) if !a.force => {
            let (Some(counter), Some(secret)) = (a.hotp_counter, current.as_ref()) else {
                fail!(
                    "{name}'s state in {dir} is readable: nothing to repair. Use --force to rewrite it all the same (every listed recovery code then counts as spent)."
                );
            };
            let token = a.name.as_deref().unwrap_or(DEFAULT_TOKEN);
            transact_repair(&*store, key, &dir, &name, |s| {
                admin::resync_token(s, secret, token, counter)
            })?;
            let which = match &a.name {
                Some(t) => format!("the HOTP counter of token '{t}'"),
                None => "HOTP counter".to_string(),
            };
            println!("{name}'s {which} is set: the module now expects the code for counter {counter} or one of the few after it.");
            return Ok(ExitCode::SUCCESS);
        }
        Ok(Inspection::Missing) if !a.force => fail!(
            "{name} has no state file in {dir} yet: nothing to repair (the first login creates one). Use --force to write a repaired one all the same."
        ),
        Ok(Inspection::Usable(_) | Inspection::Missing) => {
            let written = transact_repair(&*store, key, &dir, &name, |s| {
                let repaired = admin::repaired(s, &secrets, now, default_counter)?;
                named_resync(repaired, current.as_ref())
            })?;
            println!("{name}'s state in {dir} was rewritten (--force).");
            report(&target, &written, current.as_ref(), backup.as_ref());
            return Ok(ExitCode::SUCCESS);
        }
    };
    let fresh = admin::repaired_from_nothing(&secrets, now, default_counter)
        .and_then(|s| named_resync(s, current.as_ref()))
        .map_err(|e| repair_error(&name, e))?;
    let evidence = format!("{uid}.corrupt-{now}");
    store
        .replace(key, &fresh, &evidence)
        .map_err(|e| state_error(&dir, e))?;
    println!("{name}'s state was unusable ({why}). It is kept as {evidence} in {dir} and replaced by a repaired one.");
    report(&target, &fresh, current.as_ref(), backup.as_ref());
    Ok(ExitCode::SUCCESS)
}

/// What the repaired state means for the user, and what is left to do.
fn report(
    target: &Target,
    state: &State,
    current: Option<&SecretFile>,
    backup: Option<&SecretFile>,
) {
    let name = &target.account.name;
    println!(
        "Time-based codes: none shown up to now is accepted; the next one the app shows works."
    );
    let listed = |s: Option<&SecretFile>| s.map_or(0, |s| s.recovery.len());
    println!(
        "Recovery codes: the {} listed in {} (and {} in its backup) now count as spent; give {name} new ones with 'pam-otp recovery --regenerate --user {name}'.",
        listed(current),
        target.shown(),
        listed(backup)
    );
    match current {
        Some(secret) if admin::needs_resync(secret, state) => println!(
            "Counter-based codes are refused until the counter is set: 'pam-otp repair {name} --hotp-counter N', N being the counter of the next code {name}'s token will show."
        ),
        Some(secret) if matches!(secret.kind, pam_otp_core::secret_file::Kind::Hotp { .. }) => {
            println!("Counter-based codes: the module expects counter {} next.", state.hotp_next.unwrap_or(0))
        }
        _ => {}
    }
    if current.is_none() {
        println!("{name} is not enrolled: only the time and the backup's codes were recorded.");
    }
    println!("Failures and lock-out cleared.");
}

/// Applies `decide` to the state of `uid` (user `name`) under the store's lock and returns
/// the new state. A change the repair refuses leaves the state as it was, and is the error.
fn transact_repair(
    store: &dyn StateStore,
    key: StateKey<'_>,
    dir: &str,
    name: &str,
    decide: impl Fn(&State) -> std::result::Result<State, RepairError>,
) -> Result<State> {
    let mut failed = None;
    let written = store
        .transact(key, &mut |s| match decide(s) {
            Ok(next) => next,
            Err(e) => {
                failed = Some(e);
                s.clone()
            }
        })
        .map_err(|e| state_error(dir, e))?;
    match failed {
        Some(e) => Err(repair_error(name, e)),
        None => Ok(written),
    }
}

fn state_error(dir: &str, e: pam_otp_core::store::StoreError) -> CliError {
    CliError(format!(
        "could not write the state in {dir} ({e}); nothing was changed."
    ))
}

fn repair_error(name: &str, e: RepairError) -> CliError {
    match e {
        RepairError::CounterBackwards { known } => CliError(format!(
            "{name}'s token is already known to have reached counter {known}; a lower --hotp-counter would make used codes valid again. Nothing was changed."
        )),
        RepairError::NotHotp => CliError(format!(
            "--hotp-counter applies only when {name}'s secret file holds an HOTP (counter-based) secret; nothing was changed."
        )),
        RepairError::NoToken(token) => CliError(format!(
            "{name}'s secret file has no token '{token}' ('pam-otp tokens --user {name}' lists them); nothing was changed."
        )),
    }
}
