//! Reading and writing the target's secret file with the module's checks, and what to tell
//! the user when one of them refuses.

use std::path::{Path, PathBuf};

use pam_otp_core::private_file::{self, ReadError, Replace, WriteError};
use pam_otp_core::secret_file::{SecretFile, UserFile, MAX_FILE_SIZE};

use super::user_file::with_deliveries;
use pam_otp_core::userdb;

use super::Target;
use crate::caller::{euid, is_root};
use crate::error::{fail, CliError, Result};

impl Target {
    fn read_error(&self, e: ReadError) -> CliError {
        let hint = self.store_hint();
        match e {
            ReadError::NotFound => CliError(format!("{} does not exist.", self.shown())),
            ReadError::NoDirectory => CliError(format!(
                "the directory of {} does not exist.",
                self.shown()
            )),
            ReadError::Unsafe(why) => CliError(format!(
                "{} {why}; pam_otp refuses such a file. Fix it (chmod 600, owner {}), or look at it and move it away by hand, then enrol again.",
                self.shown(),
                self.owner_name()
            )),
            ReadError::Io(errno) => {
                CliError(format!("cannot read {}: {}.{hint}", self.shown(), errno.desc()))
            }
        }
    }

    /// What to tell the user when writing (or retiring) the secret file failed.
    pub fn write_error(&self, e: WriteError) -> CliError {
        let hint = self.store_hint();
        match e {
            WriteError::Exists => CliError(format!(
                "{} already exists, so {} is already enrolled. Use --force to replace it (the old file is kept as {}).",
                self.shown(),
                self.account.name,
                self.backup_shown()
            )),
            WriteError::NoDirectory => CliError(format!(
                "the directory of {} does not exist; nothing was written.",
                self.shown()
            )),
            WriteError::Unsafe(why) => CliError(format!(
                "{}: {why}; nothing was written.",
                self.shown()
            )),
            WriteError::Existing(why) => {
                let fix = if why == "is not a pam_otp secret file" {
                    "move it away by hand".to_string()
                } else {
                    format!("fix it (owner {}, chmod 600) or move it away by hand", self.owner_name())
                };
                CliError(format!(
                    "{} {why}, so pam_otp would not read it as {}'s secret, and pam-otp leaves it alone: nothing was changed. Look at it, then {fix}.",
                    self.shown(),
                    self.account.name,
                ))
            }
            WriteError::Io { op, errno } => CliError(format!(
                "could not write {} ({op}: {}); nothing was changed.{hint}",
                self.shown(),
                errno.desc()
            )),
        }
    }

    fn store_hint(&self) -> &'static str {
        if !self.users_file() && !is_root() {
            " This store is managed by root: ask your administrator."
        } else {
            ""
        }
    }

    fn owner_name(&self) -> String {
        if self.users_file() {
            self.account.name.clone()
        } else {
            userdb::lookup_uid(euid())
                .ok()
                .flatten()
                .map_or_else(|| euid().to_string(), |a| a.name)
        }
    }

    fn backup_shown(&self) -> String {
        private_file::backup_path(&self.path)
            .map_or_else(|| "a .bak file".into(), |p| p.display().to_string())
    }

    /// The secret file's bytes, read with the module's checks; `Ok(None)` when there is none.
    pub(super) fn read_bytes(&self) -> Result<Option<zeroize::Zeroizing<Vec<u8>>>> {
        let owner = self.owner();
        let bytes =
            self.as_owner(|| private_file::read_private_file(&self.path, owner, MAX_FILE_SIZE))?;
        match bytes {
            Ok(b) => Ok(Some(b)),
            Err(ReadError::NotFound) => Ok(None),
            // As the module decides: not enrolled if the home (or store) is there.
            Err(ReadError::NoDirectory) => {
                let base = self.config.secret_base(&self.account);
                match private_file::directory_exists(&base) {
                    Ok(true) => Ok(None),
                    _ => fail!(
                        "{} does not exist, so {} cannot be checked; pam_otp refuses {}, even with nullok.",
                        base.display(),
                        self.shown(),
                        self.account.name
                    ),
                }
            }
            Err(e) => Err(self.read_error(e)),
        }
    }

    /// The user's file as the module parses it (secret and `deliver` lines); `Ok(None)`
    /// when there is none.
    pub fn read_user_file(&self) -> Result<Option<UserFile>> {
        let Some(bytes) = self.read_bytes()? else {
            return Ok(None);
        };
        match UserFile::parse(&bytes) {
            Ok(f) => Ok(Some(f)),
            Err(e) => fail!(
                "{} is not a valid pam_otp secret file ({e}); pam_otp refuses it. Look at it and move it away by hand, then enrol again.",
                self.shown()
            ),
        }
    }

    /// The secret file, parsed; `Ok(None)` when there is none, or when it holds only
    /// `deliver` lines (a user who gets codes by delivery has no TOTP/HOTP secret).
    pub fn read_secret(&self) -> Result<Option<SecretFile>> {
        Ok(self.read_user_file()?.and_then(|f| f.secret))
    }

    /// The backup `enroll --force` and `reset` keep beside the secret file, parsed, with the
    /// same checks; `None` when there is none or it is not a secret file pam_otp would read.
    pub fn read_backup(&self) -> Option<SecretFile> {
        let path = private_file::backup_path(&self.path)?;
        let owner = self.owner();
        let bytes = self
            .as_owner(|| private_file::read_private_file(&path, owner, MAX_FILE_SIZE))
            .ok()?
            .ok()?;
        SecretFile::parse(&bytes).ok()
    }

    /// Before showing a new secret: the directory must be usable and, without `force`, no
    /// file may exist, so nobody scans a QR code for a secret that is then not saved.
    /// An admin-managed store's directory is created (mode 0700) when missing.
    pub fn preflight(&self, force: bool) -> Result<()> {
        let owner = self.owner();
        let dir = self.path.parent().unwrap_or(Path::new("/")).to_path_buf();
        if !self.users_file() && is_root() && !dir.exists() {
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&dir)
                .map_err(|e| CliError(format!("could not create {}: {e}.", dir.display())))?;
        }
        // With --force, an existing file is checked now as the write will check it, so
        // that nobody scans a QR code for a secret that then cannot replace it.
        let checked = self.as_owner(|| -> std::result::Result<_, ReadError> {
            let (dirfd, name) = private_file::open_parent(&self.path)?;
            private_file::check_parent(&dirfd, owner)?;
            let exists =
                nix::sys::stat::fstatat(&dirfd, name, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW)
                    .is_ok();
            Ok(if exists && force {
                private_file::check_replaceable(&dirfd, name, owner).err()
            } else {
                exists.then_some(WriteError::Exists)
            })
        })?;
        match checked {
            Ok(Some(e)) => Err(self.write_error(e)),
            Ok(None) => Ok(()),
            Err(ReadError::NotFound | ReadError::NoDirectory) => fail!(
                "the directory {} does not exist; create it first (pam_otp reads the secret from {}).{}",
                dir.display(),
                self.shown(),
                self.store_hint()
            ),
            Err(ReadError::Unsafe(why)) => fail!(
                "{}: {why}; pam_otp would refuse a secret file there. Fix the directory's permissions first (chmod go-w).",
                dir.display()
            ),
            Err(ReadError::Io(errno)) => fail!(
                "cannot use the directory {}: {}.{}",
                dir.display(),
                errno.desc(),
                self.store_hint()
            ),
        }
    }

    /// Writes the secret file atomically (mode 0600) as its owner. Returns the backup path.
    /// The `deliver` lines of the file it replaces are kept (they are the user's contacts,
    /// not part of the secret).
    pub fn write_secret(&self, secret: &SecretFile, replace: Replace) -> Result<Option<PathBuf>> {
        let kept = match replace {
            Replace::Refuse => None,
            Replace::BackUp | Replace::Overwrite => {
                self.read_user_file().ok().flatten().map(|f| f.deliveries)
            }
        };
        let bytes = with_deliveries(kept.as_ref(), &secret.to_bytes());
        let owner = self.owner();
        self.as_owner(|| private_file::write_private_file(&self.path, owner, &bytes, replace))?
            .map_err(|e| self.write_error(e))
    }

    /// Saves a new secret file, as `enroll` and `import` do: replaces an existing one only
    /// with `force`, keeping it as a backup (whose path is returned).
    pub fn save_new_secret(&self, secret: &SecretFile, force: bool) -> Result<Option<PathBuf>> {
        let replace = if force {
            Replace::BackUp
        } else {
            Replace::Refuse
        };
        // The state file first: if it cannot be created (a full disk), nothing is saved; once
        // it exists, the first login only rewrites it in place.
        self.ensure_state()?;
        self.write_secret(secret, replace)
    }
}
