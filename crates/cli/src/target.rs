//! The user a command acts for, their secret file's path and the module settings: as whom
//! to touch it. Reading and writing the secret file is in [`secret`], the user's state in
//! the module's store in [`state`].

mod secret;
mod state;
mod user_file;

use std::path::PathBuf;

use pam_otp_core::args::Config;
use pam_otp_core::config_file::{self, ConfigError, Secrets};
use pam_otp_core::private_file::UserIdentity;
use pam_otp_core::userdb::Account;

pub use state::StateView;
pub use user_file::Added;

use crate::caller::{self, euid};
use crate::cli_args::ModuleOpts;
use crate::error::{fail, CliError, Result};

/// Whose secret file, where, and as whom to touch it.
pub struct Target {
    /// The user acted for (with `--home` applied).
    pub account: Account,
    /// Their secret file, from the `--secret` template.
    pub path: PathBuf,
    /// The module settings: the configuration file, then the command line over it.
    pub config: Config,
}

/// Builds the module configuration as the module does: the configuration file (`--config`,
/// else the default path if it exists), then the command-line options over it as module
/// arguments, through the module's own strict parser, so `pam-otp` accepts exactly what
/// `pam_otp.so` accepts. The Redis password file is root's, so it is read only when root
/// runs the command (only root may use the shared store). A configuration file the caller
/// cannot read is an error for every command: without it, `pam-otp` cannot know where
/// secrets and state live.
pub(crate) fn module_config(opts: &ModuleOpts) -> Result<Config> {
    let mut raw: Vec<String> = Vec::new();
    if let Some(c) = &opts.config {
        raw.push(format!("config={}", c.display()));
    }
    if let Some(s) = &opts.secret {
        raw.push(format!("secret={s}"));
    }
    if let Some(d) = &opts.state_dir {
        raw.push(format!("state_dir={}", d.display()));
    }
    if let Some(b) = opts.min_secret_bits {
        raw.push(format!("min_secret_bits={b}"));
    }
    let secrets = if caller::is_root() {
        Secrets::Read
    } else {
        Secrets::Skip
    };
    config_file::load(raw.iter().map(|a| a.as_bytes()), secrets).map_err(|e| match e {
        ConfigError::Args(e) => {
            let option = match e.arg.as_str() {
                "config" => "--config",
                "secret" => "--secret",
                "state_dir" => "--state-dir",
                "min_secret_bits" => "--min-secret-bits",
                other => other,
            };
            CliError(format!("{option}: {}.", e.why))
        }
        ConfigError::File { ref why, .. } if why.contains("Permission denied") => {
            CliError(format!(
                "{e}. pam-otp needs the module's settings (where secrets and state live); \
                 ask an administrator to make the file readable (mode 0644) and keep a Redis \
                 password in the file redis_password_file names, or pass --config."
            ))
        }
        e => CliError(format!("{e}.")),
    })
}

impl Target {
    /// The target of a command run with `opts` for `user` (`None`: the caller).
    pub fn new(opts: &ModuleOpts, user: Option<&str>) -> Result<Target> {
        let config = module_config(opts)?;
        let mut account = caller::account_to_act_for(user)?;
        if let Some(home) = &opts.home {
            if !home.is_absolute() {
                fail!("--home must be an absolute path.");
            }
            account.home = home.clone();
        }
        let Some(path) = config.secret_path(&account) else {
            fail!(
                "the secret path template '{}' does not give a safe absolute path for {} (home directory '{}').",
                config.secret,
                account.name,
                account.home.display()
            );
        };
        Ok(Target {
            account,
            path,
            config,
        })
    }

    /// Whether the file lives in the user's home and belongs to the user.
    pub fn users_file(&self) -> bool {
        self.config.secret_is_users()
    }

    /// Who must own the file: the user, or for an admin-managed store the module's user
    /// (root when it runs inside sshd or sudo; here, whoever runs pam-otp).
    pub fn owner(&self) -> u32 {
        if self.users_file() {
            self.account.uid
        } else {
            euid()
        }
    }

    /// Runs `f` with the user's filesystem identity for a user-owned file (root acting for
    /// a user never creates or opens anything in the user's directory as root).
    pub fn as_owner<T>(&self, f: impl FnOnce() -> T) -> Result<T> {
        if !self.users_file() {
            return Ok(f());
        }
        let identity = UserIdentity::assume(&self.account).map_err(|e| {
            CliError(format!(
                "could not take on the identity of {}: {e}.",
                self.account.name
            ))
        })?;
        let out = f();
        drop(identity);
        Ok(out)
    }

    /// The secret file's path, for messages.
    pub fn shown(&self) -> String {
        self.path.display().to_string()
    }
}
