//! `pam-otp locked`: every user with recorded failures or a running lock-out, as
//! `faillock` lists them (root).

use std::process::ExitCode;

use pam_otp_core::log_text;
use pam_otp_core::state::State;
use pam_otp_core::store::{FileStore, Inspection};
use pam_otp_core::userdb;

use crate::cli_args::{LockedArgs, ModuleOpts};
use crate::clock;
use crate::error::{fail, CliError, Result};
use crate::target::module_config;

/// Every user's state in the store the module uses. The one place that picks the backend:
/// a second store (Redis) adds its listing here.
pub fn all_states(opts: &ModuleOpts) -> Result<Vec<(u32, Inspection)>> {
    let dir = module_config(opts)?.state_dir;
    let store = FileStore::new(&dir, std::time::Duration::from_secs(5));
    store
        .list()
        .map_err(|e| CliError(format!("cannot list the states in {}: {e}.", dir.display())))
}

/// The user name of `uid`, escaped for a terminal; `-` if there is no such account.
pub fn user_name(uid: u32) -> String {
    match userdb::lookup_uid(uid) {
        Ok(Some(a)) => log_text::escape(a.name.as_bytes()),
        _ => "-".to_string(),
    }
}

/// Whether a state is worth listing: a running lock-out, or failures since the last success.
pub fn failing(state: &State, now: u64) -> bool {
    state.is_locked(now) || state.failures > 0
}

/// The seconds left as `4 min 10 s` (or `-` when not locked).
fn left(state: &State, now: u64) -> String {
    if !state.is_locked(now) {
        return "-".to_string();
    }
    let secs = state.locked_until - now;
    match (secs / 60, secs % 60) {
        (0, s) => format!("{s} s"),
        (m, 0) => format!("{m} min"),
        (m, s) => format!("{m} min {s} s"),
    }
}

/// `pam-otp locked`.
pub fn run(opts: &ModuleOpts, a: &LockedArgs) -> Result<ExitCode> {
    let dir = module_config(opts)?.state_dir;
    if !crate::caller::is_root() && dir.exists() {
        let owner = std::os::unix::fs::MetadataExt::uid(
            &std::fs::symlink_metadata(&dir)
                .map_err(|e| CliError(format!("{}: {e}.", dir.display())))?,
        );
        if owner != crate::caller::euid() {
            fail!(
                "only the owner of {} (root) can read the users' states; run this as root.",
                dir.display()
            );
        }
    }
    let now = clock::now();
    let mut rows = Vec::new();
    let mut unusable = Vec::new();
    for (uid, inspection) in all_states(opts)? {
        match inspection {
            Inspection::Usable(s) if a.all || failing(&s, now) => rows.push((uid, s)),
            Inspection::Usable(_) | Inspection::Missing => {}
            Inspection::Unusable(e) => unusable.push((uid, e)),
        }
    }
    if rows.is_empty() && unusable.is_empty() {
        println!("No user is locked out or has recorded failures.");
        return Ok(ExitCode::SUCCESS);
    }
    if !rows.is_empty() {
        println!(
            "{:<16} {:>10} {:>8} {:<23} {:<24} {:<23} LEFT",
            "USER", "UID", "FAILURES", "LAST FAILURE", "FROM", "LOCKED UNTIL"
        );
    }
    for (uid, s) in &rows {
        let last = match s.last_failure {
            0 => "-".to_string(),
            t => clock::utc(t),
        };
        let from = match s.last_failure_host.as_slice() {
            [] => "-".to_string(),
            host => log_text::escape(host),
        };
        let until = if s.is_locked(now) {
            clock::utc(s.locked_until)
        } else {
            "-".to_string()
        };
        println!(
            "{:<16} {uid:>10} {:>8} {last:<23} {from:<24} {until:<23} {}",
            user_name(*uid),
            s.failures,
            left(s, now)
        );
    }
    for (uid, e) in &unusable {
        println!(
            "{} (uid {uid}): state unusable ({e}); pam_otp refuses every login until 'pam-otp repair'.",
            user_name(*uid)
        );
    }
    Ok(ExitCode::SUCCESS)
}
