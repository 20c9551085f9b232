//! `pam-otp store check` and `pam-otp store migrate`: test a shared store's configuration
//! before enabling it, and copy this host's state files into it without reopening any code.

use std::process::ExitCode;
use std::time::Duration;

use pam_otp_core::args::Config;
use pam_otp_core::fleet::redis_store::RedisStore;
use pam_otp_core::fleet::settings::StoreChoice;
use pam_otp_core::store::{FileStore, Inspection, StateKey, StateStore};
use pam_otp_core::userdb;

use crate::caller::is_root;
use crate::cli_args::{ModuleOpts, StoreCheckArgs, StoreMigrateArgs};
use crate::error::{fail, CliError, Result};
use crate::target::module_config;

/// The shared store the configuration names; an error when it names this host's files.
fn shared_store(config: &Config, what: &str) -> Result<RedisStore> {
    if !is_root() {
        fail!("{what} needs the shared store's credentials, which are root's; run this as root.");
    }
    match &config.store {
        StoreChoice::Redis(settings) => RedisStore::new(settings.as_ref().clone())
            .map_err(|e| CliError(format!("the Redis settings cannot be used: {e}."))),
        StoreChoice::File => fail!(
            "the configuration keeps state in this host's files (store=file); set store=redis and the redis_* keys in the configuration file first (pam_otp.conf(5))."
        ),
    }
}

/// `pam-otp store check`: connect, authenticate, run the check-and-set script once on a
/// scratch key, and report what each step cost.
pub fn check(opts: &ModuleOpts, _a: &StoreCheckArgs) -> Result<ExitCode> {
    let config = module_config(opts)?;
    let store = shared_store(&config, "store check")?;
    println!("Store: {}", store.location());
    match store.check() {
        Ok(report) => {
            println!("Primary: {} (Redis {}, role {})", report.primary, report.server_version, report.role);
            println!("Replicas connected: {}", report.replicas);
            for (step, took) in &report.steps {
                println!("  {step:<40} {:>8.2} ms", took.as_secs_f64() * 1000.0);
            }
            let wanted = match &config.store {
                StoreChoice::Redis(s) => s.wait_replicas,
                StoreChoice::File => 0,
            };
            if u64::from(wanted) > report.replicas {
                fail!("redis_wait={wanted}, but only {} replica(s) are connected: every login would be refused.", report.replicas);
            }
            println!("The shared store works: pam_otp can use it.");
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => fail!("the shared store cannot be used: {e}. Logins would be refused (fail_mode=closed) or use this host's state (fail_mode=local)."),
    }
}

/// What migrating one state file did.
enum Moved {
    /// Copied or merged into the shared store.
    Done { name: String, merged: bool },
    /// Left alone, with why; the run fails at the end.
    Skipped(String),
}

/// `pam-otp store migrate`: every state file of this host into the shared store. Where the
/// store already has a record for the user (another host migrated first, or logins already
/// use it), the two are merged so that every code either has seen used stays used.
pub fn migrate(opts: &ModuleOpts, a: &StoreMigrateArgs) -> Result<ExitCode> {
    let config = module_config(opts)?;
    let store = shared_store(&config, "store migrate")?;
    let local = FileStore::new(&config.state_dir, Duration::from_secs(5));
    let dir = config.state_dir.display().to_string();
    let entries = match std::fs::read_dir(&config.state_dir) {
        Ok(entries) => entries,
        Err(e) => fail!("cannot read the state directory {dir}: {e}; nothing was migrated."),
    };
    let mut uids: Vec<u32> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str().and_then(state_file_uid))
        .collect();
    uids.sort_unstable();
    let mut skipped = 0;
    let mut done = 0;
    for uid in uids {
        match migrate_one(&local, &store, uid, a.dry_run) {
            Moved::Done { name, merged } => {
                done += 1;
                let how = match (merged, a.dry_run) {
                    (true, true) => "would be merged with the record already there",
                    (false, true) => "would be copied",
                    (true, false) => "merged with the record already there",
                    (false, false) => "copied",
                };
                println!("{name} (uid {uid}): {how}");
            }
            Moved::Skipped(why) => {
                skipped += 1;
                eprintln!("uid {uid}: skipped: {why}");
            }
        }
    }
    let verb = if a.dry_run {
        "would be migrated"
    } else {
        "migrated"
    };
    println!(
        "{done} state file(s) from {dir} {verb} to {}; {skipped} skipped.",
        store.location()
    );
    if skipped > 0 {
        fail!("{skipped} state file(s) were not migrated (see above); fix them (pam-otp repair) and run this again: migrating twice changes nothing.");
    }
    Ok(ExitCode::SUCCESS)
}

/// A state file's uid: its name is the uid in decimal, and nothing else (not the decoy's).
fn state_file_uid(name: &str) -> Option<u32> {
    if name.is_empty()
        || !name.bytes().all(|b| b.is_ascii_digit())
        || name.starts_with('0') && name != "0"
    {
        return None;
    }
    name.parse()
        .ok()
        .filter(|uid| *uid != pam_otp_core::store::DECOY_UID)
}

fn migrate_one(local: &FileStore, store: &RedisStore, uid: u32, dry_run: bool) -> Moved {
    let account = match userdb::lookup_uid(uid) {
        Ok(Some(account)) => account,
        Ok(None) => return Moved::Skipped("no account has this uid on this host".into()),
        Err(e) => return Moved::Skipped(format!("user lookup failed: {}", e.0.desc())),
    };
    let key = StateKey {
        uid,
        name: &account.name,
    };
    let ours = match local.inspect(key) {
        Ok(Inspection::Usable(state)) => state,
        Ok(Inspection::Missing) => return Moved::Skipped("the state file went away".into()),
        Ok(Inspection::Unusable(e)) | Err(e) => {
            return Moved::Skipped(format!("this host's state is unusable ({e})"))
        }
    };
    let theirs = match store.inspect(key) {
        Ok(Inspection::Usable(state)) => Some(state),
        Ok(Inspection::Missing) => None,
        Ok(Inspection::Unusable(e)) | Err(e) => {
            return Moved::Skipped(format!("the shared store's record is unusable ({e})"))
        }
    };
    let merged = theirs.is_some();
    if !dry_run {
        // Under the store's check-and-set: a login elsewhere meanwhile is merged too.
        if let Err(e) = store.transact(key, &mut |remote| remote.merged(&ours)) {
            return Moved::Skipped(format!("could not write to the shared store ({e})"));
        }
    }
    Moved::Done {
        name: account.name.clone(),
        merged,
    }
}

#[cfg(test)]
mod tests {
    use super::state_file_uid;

    #[test]
    fn only_decimal_uids_name_state_files() {
        assert_eq!(state_file_uid("1000"), Some(1000));
        assert_eq!(state_file_uid("0"), Some(0));
        for other in [
            "",
            "01",
            "1000.corrupt-17",
            "abc",
            "4294967295",
            "99999999999",
            ".x",
        ] {
            assert_eq!(state_file_uid(other), None, "{other}");
        }
    }
}
