//! `pam-otp locked`: every user with recorded failures or a running lock-out, as
//! `faillock` lists them (root).

use std::process::ExitCode;

use pam_otp_core::fleet::redis_store::RedisStore;
use pam_otp_core::fleet::settings::StoreChoice;
use pam_otp_core::log_text;
use pam_otp_core::state::State;
use pam_otp_core::store::{FileStore, Inspection, StateStore};
use pam_otp_core::userdb;

use crate::cli_args::{LockedArgs, ModuleOpts};
use crate::clock;
use crate::error::{fail, CliError, Result};
use crate::target::module_config;

/// Whose state a listing found: this host's files are named by uid, a shared store's
/// records by user name; the other half is looked up on this host (`None`: no such account
/// here).
pub struct Who {
    /// The account's uid on this host.
    pub uid: Option<u32>,
    /// The user name.
    pub name: Option<String>,
}

impl Who {
    /// The name, escaped for a terminal; `-` when unknown.
    pub fn shown_name(&self) -> String {
        self.name
            .as_deref()
            .map_or_else(|| "-".to_string(), |n| log_text::escape(n.as_bytes()))
    }

    /// The uid, or `-`.
    pub fn shown_uid(&self) -> String {
        self.uid.map_or_else(|| "-".to_string(), |u| u.to_string())
    }
}

/// Every user's state in the store the module uses: the one place that picks the backend.
pub fn all_states(opts: &ModuleOpts) -> Result<Vec<(Who, Inspection)>> {
    let config = module_config(opts)?;
    if let StoreChoice::Redis(settings) = &config.store {
        let store = RedisStore::new(settings.as_ref().clone())
            .map_err(|e| CliError(format!("the Redis settings cannot be used: {e}.")))?;
        let users = store.users().map_err(|e| {
            CliError(format!(
                "cannot list the states in {}: {e}.",
                store.location()
            ))
        })?;
        return Ok(users
            .into_iter()
            .map(|(name, inspection)| {
                let uid = userdb::lookup(&name).ok().flatten().map(|a| a.uid);
                (
                    Who {
                        uid,
                        name: Some(name),
                    },
                    inspection,
                )
            })
            .collect());
    }
    let dir = config.state_dir;
    let store = FileStore::new(&dir, std::time::Duration::from_secs(5));
    let states = store
        .list()
        .map_err(|e| CliError(format!("cannot list the states in {}: {e}.", dir.display())))?;
    Ok(states
        .into_iter()
        .map(|(uid, inspection)| {
            let name = userdb::lookup_uid(uid).ok().flatten().map(|a| a.name);
            (
                Who {
                    uid: Some(uid),
                    name,
                },
                inspection,
            )
        })
        .collect())
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
    let config = module_config(opts)?;
    let dir = config.state_dir;
    if config.store != StoreChoice::File && !crate::caller::is_root() {
        fail!("only root can read the users' states in the shared store (its credentials are root's); run this as root.");
    }
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
    for (who, inspection) in all_states(opts)? {
        match inspection {
            Inspection::Usable(s) if a.all || failing(&s, now) => rows.push((who, s)),
            Inspection::Usable(_) | Inspection::Missing => {}
            Inspection::Unusable(e) => unusable.push((who, e)),
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
    for (who, s) in &rows {
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
            "{:<16} {:>10} {:>8} {last:<23} {from:<24} {until:<23} {}",
            who.shown_name(),
            who.shown_uid(),
            s.failures,
            left(s, now)
        );
    }
    for (who, e) in &unusable {
        println!(
            "{} (uid {}): state unusable ({e}); pam_otp refuses every login until 'pam-otp repair'.",
            who.shown_name(),
            who.shown_uid()
        );
    }
    Ok(ExitCode::SUCCESS)
}
