//! What every subcommand shares: the error type, whose secret file it is and how to reach
//! it safely, random bytes, recovery codes, reading answers, and formatting.

use std::fmt;
use std::io::BufRead;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use pam_otp::args::{self, Config};
use pam_otp::fsafe::{self, ReadError, UserIdentity};
use pam_otp::recovery::{self, RecoveryHash};
use pam_otp::secret_file::{Kind, SecretFile, MAX_FILE_SIZE};
use pam_otp::secret_write::{self, Replace, WriteError};
use pam_otp::state::State;
use pam_otp::store::{FileStore, StateStore};
use pam_otp::userdb::{self, Account};
use zeroize::Zeroizing;

use crate::ModuleOpts;

/// A message for the user: one or more sentences, printed after "pam-otp: ".
#[derive(Debug)]
pub struct CliError(pub String);

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

pub type Result<T> = std::result::Result<T, CliError>;

/// `Err(CliError(format!(...)))`.
macro_rules! fail {
    ($($arg:tt)*) => { return Err($crate::common::CliError(format!($($arg)*))) };
}
pub(crate) use fail;

/// Builds the module configuration from the command-line options through the module's own
/// strict parser, so `pam-otp` accepts exactly what `pam_otp.so` accepts.
pub fn module_config(opts: &ModuleOpts) -> Result<Config> {
    let secret = format!("secret={}", opts.secret);
    let state = format!("state_dir={}", opts.state_dir.display());
    let bits = format!("min_secret_bits={}", opts.min_secret_bits);
    let raw = [secret.as_bytes(), state.as_bytes(), bits.as_bytes()];
    args::parse(raw).map_err(|e| {
        let option = match e.arg.as_str() {
            "secret" => "--secret",
            "state_dir" => "--state-dir",
            "min_secret_bits" => "--min-secret-bits",
            other => other,
        };
        CliError(format!("{option}: {}.", e.why))
    })
}

/// Whose secret file, where, and as whom to touch it.
pub struct Target {
    pub account: Account,
    pub path: PathBuf,
    pub config: Config,
}

pub fn euid() -> u32 {
    nix::unistd::geteuid().as_raw()
}

pub fn is_root() -> bool {
    euid() == 0
}

/// The user to act for: `--user NAME` (root only, unless it names the caller) or the caller.
pub fn account(user: Option<&str>) -> Result<Account> {
    let me = nix::unistd::getuid().as_raw();
    let Some(name) = user else {
        return match userdb::lookup_uid(me) {
            Ok(Some(a)) => Ok(a),
            Ok(None) => fail!("your user id {me} is not in the user database."),
            Err(e) => fail!("could not read the user database: {}.", e.0.desc()),
        };
    };
    let account = match userdb::lookup(name) {
        Ok(Some(a)) => a,
        Ok(None) => fail!("there is no user named '{}'.", args::sanitize(name)),
        Err(e) => fail!("could not read the user database: {}.", e.0.desc()),
    };
    if account.uid != me && !is_root() {
        fail!(
            "only root can act for another user; run 'pam-otp' without --user to manage your own codes."
        );
    }
    Ok(account)
}

impl Target {
    pub fn new(opts: &ModuleOpts, user: Option<&str>) -> Result<Target> {
        let config = module_config(opts)?;
        let mut account = account(user)?;
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

    pub fn shown(&self) -> String {
        self.path.display().to_string()
    }

    fn read_error(&self, e: ReadError) -> CliError {
        let hint = self.store_hint();
        match e {
            ReadError::NotFound => CliError(format!("{} does not exist.", self.shown())),
            ReadError::NoDirectory => CliError(format!(
                "the directory of {} does not exist.",
                self.shown()
            )),
            ReadError::Unsafe(why) => CliError(format!(
                "{} {why}; pam_otp refuses such a file. Fix it (chmod 600, owner {}) or enrol again with --force.",
                self.shown(),
                self.owner_name()
            )),
            ReadError::Io(errno) => {
                CliError(format!("cannot read {}: {}.{hint}", self.shown(), errno.desc()))
            }
        }
    }

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

    pub fn backup_shown(&self) -> String {
        secret_write::backup_path(&self.path)
            .map_or_else(|| "a .bak file".into(), |p| p.display().to_string())
    }

    /// The secret file, parsed; `Ok(None)` when there is none.
    pub fn read_secret(&self) -> Result<Option<SecretFile>> {
        let owner = self.owner();
        let bytes = self.as_owner(|| fsafe::read_private_file(&self.path, owner, MAX_FILE_SIZE))?;
        let bytes = match bytes {
            Ok(b) => b,
            Err(ReadError::NotFound) => return Ok(None),
            // As the module decides: not enrolled if the home (or store) is there.
            Err(ReadError::NoDirectory) => {
                let base = self.config.secret_base(&self.account);
                return match fsafe::directory_exists(&base) {
                    Ok(true) => Ok(None),
                    _ => fail!(
                        "{} does not exist, so {} cannot be checked; pam_otp refuses {}, even with nullok.",
                        base.display(),
                        self.shown(),
                        self.account.name
                    ),
                };
            }
            Err(e) => return Err(self.read_error(e)),
        };
        match SecretFile::parse(&bytes) {
            Ok(s) => Ok(Some(s)),
            Err(e) => fail!(
                "{} is not a valid pam_otp secret file ({e}); pam_otp refuses it. Enrol again with --force.",
                self.shown()
            ),
        }
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
        let checked = self.as_owner(|| -> std::result::Result<bool, ReadError> {
            let (dirfd, name) = fsafe::open_parent(&self.path)?;
            fsafe::check_parent(&dirfd, owner)?;
            Ok(
                nix::sys::stat::fstatat(&dirfd, name, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW)
                    .is_ok(),
            )
        })?;
        match checked {
            Ok(true) if !force => Err(self.write_error(WriteError::Exists)),
            Ok(_) => Ok(()),
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
    pub fn write_secret(&self, secret: &SecretFile, replace: Replace) -> Result<Option<PathBuf>> {
        let bytes = secret.to_bytes();
        let owner = self.owner();
        self.as_owner(|| secret_write::write_private_file(&self.path, owner, &bytes, replace))?
            .map_err(|e| self.write_error(e))
    }

    /// The state store the module uses.
    pub fn store(&self) -> FileStore {
        FileStore::new(&self.config.state_dir, Duration::from_secs(5))
    }

    /// The user's state, if it can be read without creating anything.
    pub fn peek_state(&self) -> StateView {
        peek_state(&self.config.state_dir, self.account.uid)
    }
}

/// What `status` can learn about a user's state.
pub enum StateView {
    /// No state file: no attempt recorded yet.
    None,
    Readable(State),
    /// Not readable by the caller (only root can see it).
    Private,
    Error(String),
}

/// Reads the state of `uid` under the store's lock, creating neither directory nor file.
pub fn peek_state(dir: &Path, uid: u32) -> StateView {
    let dir_meta = match std::fs::symlink_metadata(dir) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return StateView::None,
        Err(e) => return StateView::Error(format!("{}: {e}", dir.display())),
    };
    if dir_meta.uid() != euid() {
        return StateView::Private;
    }
    match std::fs::symlink_metadata(dir.join(uid.to_string())) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return StateView::None,
        Err(e) => return StateView::Error(format!("{}: {e}", dir.display())),
        Ok(_) => {}
    }
    match FileStore::new(dir, Duration::from_secs(5)).load(uid) {
        Ok(s) => StateView::Readable(s),
        Err(e) => StateView::Error(format!("{}: {e}", dir.display())),
    }
}

/// Checks that the caller may change state in `dir` (it must own it, as the module does),
/// before anything else is touched.
pub fn require_state_owner(dir: &Path) -> Result<()> {
    match std::fs::symlink_metadata(dir) {
        Ok(m) if m.uid() != euid() => fail!(
            "only the owner of {} (root) can change a user's state; run this as root.",
            dir.display()
        ),
        Ok(m) if !m.is_dir() => fail!("{} is not a directory.", dir.display()),
        _ => Ok(()),
    }
}

/// Applies `change` to `uid`'s state if a state file exists. `Ok(None)`: nothing recorded.
pub fn change_state(
    store: &FileStore,
    uid: u32,
    change: impl Fn(&State) -> State,
) -> Result<Option<State>> {
    if !store.dir().join(uid.to_string()).exists() {
        return Ok(None);
    }
    let mut before = None;
    store
        .transact(uid, &mut |s| {
            before = Some(s.clone());
            change(s)
        })
        .map_err(|e| {
            CliError(format!(
                "could not update the state in {}: {e}.",
                store.dir().display()
            ))
        })?;
    Ok(before)
}

/// Bytes from the OS random source.
pub fn random_bytes(len: usize) -> Result<Zeroizing<Vec<u8>>> {
    let mut buf = Zeroizing::new(vec![0u8; len]);
    getrandom::fill(&mut buf)
        .map_err(|e| CliError(format!("the OS random source failed: {e}.")))?;
    Ok(buf)
}

/// A fresh salt for a recovery hash. Panics only if the OS random source fails, which
/// [`random_bytes`] has already been seen to work for in every caller.
pub fn salt() -> [u8; 16] {
    let mut s = [0u8; 16];
    getrandom::fill(&mut s).expect("the OS random source failed");
    s
}

/// `count` new recovery codes (display form) and their hashes.
pub fn new_recovery_codes(count: usize) -> Result<(Vec<Zeroizing<String>>, Vec<RecoveryHash>)> {
    let mut codes = Vec::with_capacity(count);
    let mut hashes = Vec::with_capacity(count);
    for _ in 0..count {
        let random = random_bytes(recovery::CODE_LEN + 16)?;
        let Some((code, hash)) = recovery::generate(&random) else {
            fail!("could not generate a recovery code.");
        };
        codes.push(code);
        hashes.push(hash);
    }
    Ok((codes, hashes))
}

/// Prints recovery codes for the user to keep.
pub fn print_recovery_codes(codes: &[Zeroizing<String>]) {
    if codes.is_empty() {
        return;
    }
    println!();
    println!("Recovery codes: each works once, in place of a code, if the phone is lost.");
    println!("They are shown only now; keep them somewhere safe (not on the phone).");
    for (i, code) in codes.iter().enumerate() {
        println!("  {:>2}. {}", i + 1, code.as_str());
    }
}

/// One line from standard input after `prompt` on standard error; `None` at end of input.
pub fn ask(prompt: &str) -> Result<Option<Zeroizing<String>>> {
    use std::io::Write;
    eprint!("{prompt}");
    let _ = std::io::stderr().flush();
    // Room for any answer from the start: a growing buffer would leave copies behind.
    let mut line = Zeroizing::new(String::with_capacity(1024));
    match std::io::stdin().lock().read_line(&mut line) {
        Ok(0) => Ok(None),
        Ok(_) => {
            let trimmed = Zeroizing::new(line.trim().to_string());
            Ok(Some(trimmed))
        }
        Err(e) => fail!("could not read standard input: {e}."),
    }
}

/// "TOTP, SHA1, 6 digits, 30 s period".
pub fn describe(secret: &SecretFile) -> String {
    let moving = match secret.kind {
        Kind::Totp { period } => format!("TOTP, a new code every {period} s"),
        Kind::Hotp { counter } => format!("HOTP, counter starting at {counter}"),
    };
    format!(
        "{moving}, {}, {} digits",
        secret.algorithm.name().to_ascii_uppercase(),
        secret.digits
    )
}

/// Groups of four characters, for typing a secret by hand.
pub fn grouped(text: &str) -> Zeroizing<String> {
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
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

/// Seconds since 1970.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `YYYY-MM-DD HH:MM:SS UTC` (civil-from-days, proleptic Gregorian).
pub fn utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_formatting() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(1_111_111_111), "2005-03-18 01:58:31 UTC");
        assert_eq!(utc(4_102_444_800), "2100-01-01 00:00:00 UTC");
    }

    #[test]
    fn groups_of_four() {
        assert_eq!(grouped("ABCDEFGHIJ").as_str(), "ABCD EFGH IJ");
    }
}
