//! Writing the secret file (the `pam-otp` command's side of [`crate::fsafe`]).
//!
//! Every write is atomic and durable: the bytes go to a fresh temporary file in the same
//! directory (created with `O_EXCL | O_NOFOLLOW`, mode 0600), which is synced, renamed over
//! the target and followed by a sync of the directory. A crash or an error at any instant
//! leaves the old file or the new one, never a mix, and never a second link to either.
//!
//! Nothing here changes identity or ownership: a caller acting for a user wraps the call in
//! [`crate::fsafe::UserIdentity::assume`], so files in a user's home are created by the user
//! (never created as root and then handed over, which is how pam_oath's CVE-2024-47191
//! turned a symlink into a root file overwrite). The result is checked to belong to the
//! expected owner before it is put in place.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{openat, AtFlags, OFlag};
use nix::sys::stat::{Mode, SFlag};
use zeroize::Zeroizing;

use crate::fsafe::{self, ReadError};

/// Largest existing file that is copied to a backup before being replaced.
pub const MAX_BACKUP_SIZE: usize = 1024 * 1024;

/// What to do when the target already exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replace {
    /// Refuse with [`WriteError::Exists`]; the check and the rename are one atomic step.
    Refuse,
    /// Copy the current file to [`backup_path`] (replacing an older backup), then replace it.
    BackUp,
    /// Replace it without a copy (the same secret rewritten, e.g. new recovery codes).
    Overwrite,
}

/// Why nothing was written. In every case the target is left as it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteError {
    /// The target exists and [`Replace::Refuse`] was asked.
    Exists,
    /// The directory does not exist.
    NoDirectory,
    /// The directory or the existing file fails a safety check.
    Unsafe(&'static str),
    /// A system call failed; `op` names the step.
    Io { op: &'static str, errno: Errno },
}

impl std::fmt::Display for WriteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WriteError::Exists => write!(f, "the file already exists"),
            WriteError::NoDirectory => write!(f, "the directory does not exist"),
            WriteError::Unsafe(why) => write!(f, "{why}"),
            WriteError::Io { op, errno } => write!(f, "{op}: {}", errno.desc()),
        }
    }
}

impl std::error::Error for WriteError {}

fn io(op: &'static str) -> impl Fn(Errno) -> WriteError {
    move |errno| WriteError::Io { op, errno }
}

fn io_std(op: &'static str) -> impl Fn(std::io::Error) -> WriteError {
    move |e| WriteError::Io {
        op,
        errno: Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)),
    }
}

fn from_read(e: ReadError) -> WriteError {
    match e {
        ReadError::NotFound | ReadError::NoDirectory => WriteError::NoDirectory,
        ReadError::Unsafe(why) => WriteError::Unsafe(why),
        ReadError::Io(errno) => WriteError::Io {
            op: "open the directory",
            errno,
        },
    }
}

/// Where [`Replace::BackUp`] and [`retire`] keep the previous file: beside it, hidden, with
/// `.bak` appended (`~/.otp` → `~/.otp.bak`, `/etc/pam_otp/users/bob` →
/// `/etc/pam_otp/users/.bob.bak`). The leading dot keeps a backup in a per-user store from
/// ever being taken for the secret of a user named `bob.bak`.
pub fn backup_path(path: &Path) -> Option<PathBuf> {
    let name = path.file_name()?.to_str()?;
    let backup = if name.starts_with('.') {
        format!("{name}.bak")
    } else {
        format!(".{name}.bak")
    };
    Some(path.with_file_name(backup))
}

/// Writes `bytes` as the private file `path` (mode 0600), which must end up owned by `owner`
/// (the caller's current filesystem identity) in a directory that [`fsafe`] would accept.
/// Returns the backup's path when one was made.
pub fn write_private_file(
    path: &Path,
    owner: u32,
    bytes: &[u8],
    replace: Replace,
) -> Result<Option<PathBuf>, WriteError> {
    let (dir, name) = fsafe::open_parent(path).map_err(from_read)?;
    fsafe::check_parent(&dir, owner).map_err(from_read)?;
    let name = name
        .to_str()
        .ok_or(WriteError::Unsafe("the file name is not UTF-8"))?;
    let mut backup = None;
    if let Some(kind) = existing_kind(&dir, name)? {
        if kind != SFlag::S_IFREG {
            return Err(WriteError::Unsafe(
                "exists and is not a regular file (a symbolic link?); remove it first",
            ));
        }
        match replace {
            Replace::Refuse => return Err(WriteError::Exists),
            Replace::Overwrite => {}
            Replace::BackUp => {
                let copy = read_existing(&dir, name)?;
                let backup_name = backup_name(name);
                write_at(&dir, &backup_name, owner, &copy, true)?;
                backup = Some(path.with_file_name(backup_name));
            }
        }
    }
    write_at(&dir, name, owner, bytes, replace != Replace::Refuse)?;
    Ok(backup)
}

/// Renames the file at `path` to its [`backup_path`] (replacing an older backup), so that it
/// is no longer used; `Ok(None)` if there was no file.
pub fn retire(path: &Path, owner: u32) -> Result<Option<PathBuf>, WriteError> {
    let (dir, name) = fsafe::open_parent(path).map_err(from_read)?;
    fsafe::check_parent(&dir, owner).map_err(from_read)?;
    let name = name
        .to_str()
        .ok_or(WriteError::Unsafe("the file name is not UTF-8"))?;
    match existing_kind(&dir, name)? {
        None => return Ok(None),
        Some(kind) if kind != SFlag::S_IFREG => {
            return Err(WriteError::Unsafe(
                "exists and is not a regular file (a symbolic link?); remove it by hand",
            ))
        }
        Some(_) => {}
    }
    let backup_name = backup_name(name);
    nix::fcntl::renameat(&dir, name, &dir, backup_name.as_str()).map_err(io("rename"))?;
    nix::unistd::fsync(&dir).map_err(io("sync the directory"))?;
    Ok(Some(path.with_file_name(backup_name)))
}

fn backup_name(name: &str) -> String {
    if name.starts_with('.') {
        format!("{name}.bak")
    } else {
        format!(".{name}.bak")
    }
}

/// The file type at `name` without following a link; `None` if nothing is there.
fn existing_kind(dir: &OwnedFd, name: &str) -> Result<Option<SFlag>, WriteError> {
    match nix::sys::stat::fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(st) => Ok(Some(SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT)),
        Err(Errno::ENOENT) => Ok(None),
        Err(e) => Err(io("look at the existing file")(e)),
    }
}

fn read_existing(dir: &OwnedFd, name: &str) -> Result<Zeroizing<Vec<u8>>, WriteError> {
    let flags = OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC;
    let fd = openat(dir, name, flags, Mode::empty()).map_err(io("read the existing file"))?;
    let file = File::from(fd);
    let meta = file.metadata().map_err(io_std("read the existing file"))?;
    if !meta.file_type().is_file() {
        return Err(WriteError::Unsafe("exists and is not a regular file"));
    }
    // Sized from the start (one byte more, for the end-of-file check), so that no growing
    // copy of the old secret is left behind in freed memory.
    let size = usize::try_from(meta.len()).unwrap_or(MAX_BACKUP_SIZE);
    let mut bytes = Zeroizing::new(Vec::with_capacity(size.min(MAX_BACKUP_SIZE) + 1));
    file.take(MAX_BACKUP_SIZE as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(io_std("read the existing file"))?;
    if bytes.len() > MAX_BACKUP_SIZE {
        return Err(WriteError::Unsafe(
            "the existing file is too large to back up",
        ));
    }
    Ok(bytes)
}

/// Temporary file, sync, rename (or a no-replace rename), sync of the directory.
fn write_at(
    dir: &OwnedFd,
    name: &str,
    owner: u32,
    bytes: &[u8],
    may_replace: bool,
) -> Result<(), WriteError> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let stem = name.strip_prefix('.').unwrap_or(name);
    let temp = format!(".{stem}.tmp.{}.{nanos}", std::process::id());
    let flags =
        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let fd = openat(dir, temp.as_str(), flags, Mode::S_IRUSR | Mode::S_IWUSR)
        .map_err(io("create a temporary file"))?;
    let result = (|| {
        let mut file = File::from(fd);
        // The umask may have cleared bits; the mode must be exactly 0600.
        nix::sys::stat::fchmod(&file, Mode::S_IRUSR | Mode::S_IWUSR)
            .map_err(io("set the file mode"))?;
        let meta = file.metadata().map_err(io_std("check the new file"))?;
        if meta.uid() != owner {
            return Err(WriteError::Unsafe(
                "the new file would not belong to the expected user",
            ));
        }
        file.write_all(bytes).map_err(io_std("write"))?;
        file.sync_all().map_err(io_std("sync the file"))?;
        if may_replace {
            nix::fcntl::renameat(dir, temp.as_str(), dir, name).map_err(io("rename"))
        } else {
            rename_noreplace(dir, &temp, name)
        }
    })();
    if result.is_err() {
        let _ = nix::unistd::unlinkat(dir, temp.as_str(), nix::unistd::UnlinkatFlags::NoRemoveDir);
    }
    result?;
    nix::unistd::fsync(dir).map_err(io("sync the directory"))
}

/// Puts `temp` in place as `name` only if `name` does not exist, in one atomic step.
fn rename_noreplace(dir: &OwnedFd, temp: &str, name: &str) -> Result<(), WriteError> {
    use nix::fcntl::RenameFlags;
    match nix::fcntl::renameat2(dir, temp, dir, name, RenameFlags::RENAME_NOREPLACE) {
        Ok(()) => Ok(()),
        Err(Errno::EEXIST) => Err(WriteError::Exists),
        // File systems without renameat2 flags: a hard link also refuses to replace.
        Err(Errno::EINVAL) | Err(Errno::ENOSYS) => {
            match nix::unistd::linkat(dir, temp, dir, name, AtFlags::empty()) {
                Ok(()) => nix::unistd::unlinkat(dir, temp, nix::unistd::UnlinkatFlags::NoRemoveDir)
                    .map_err(io("remove the temporary file")),
                Err(Errno::EEXIST) => Err(WriteError::Exists),
                Err(e) => Err(io("link the new file")(e)),
            }
        }
        Err(e) => Err(io("rename")(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::{symlink, PermissionsExt};

    use crate::secret_file::MAX_FILE_SIZE;
    use crate::testutil::TempDir;

    fn me() -> u32 {
        nix::unistd::geteuid().as_raw()
    }

    #[test]
    fn writes_a_private_file_the_reader_accepts() {
        let d = TempDir::new("write");
        let p = d.0.join(".otp");
        let old_umask = nix::sys::stat::umask(Mode::from_bits_truncate(0o277));
        let written = write_private_file(&p, me(), b"secret = X\n", Replace::Refuse);
        nix::sys::stat::umask(old_umask);
        assert_eq!(written, Ok(None));
        assert_eq!(fs::metadata(&p).unwrap().mode() & 0o777, 0o600);
        assert_eq!(
            &fsafe::read_private_file(&p, me(), MAX_FILE_SIZE).unwrap()[..],
            b"secret = X\n"
        );
        assert_eq!(d.names(), vec![".otp"], "no temporary file is left");
    }

    #[test]
    fn refuses_to_replace_unless_asked_and_backs_up() {
        let d = TempDir::new("write");
        let p = d.0.join(".otp");
        write_private_file(&p, me(), b"one", Replace::Refuse).unwrap();
        assert_eq!(
            write_private_file(&p, me(), b"two", Replace::Refuse),
            Err(WriteError::Exists)
        );
        assert_eq!(fs::read(&p).unwrap(), b"one");

        let backup = write_private_file(&p, me(), b"two", Replace::BackUp).unwrap();
        assert_eq!(backup, Some(d.0.join(".otp.bak")));
        assert_eq!(fs::read(&p).unwrap(), b"two");
        assert_eq!(fs::read(d.0.join(".otp.bak")).unwrap(), b"one");
        assert_eq!(
            fs::metadata(d.0.join(".otp.bak")).unwrap().mode() & 0o777,
            0o600
        );

        assert_eq!(
            write_private_file(&p, me(), b"three", Replace::Overwrite),
            Ok(None)
        );
        assert_eq!(fs::read(d.0.join(".otp.bak")).unwrap(), b"one");
        assert_eq!(d.names(), vec![".otp", ".otp.bak"]);
        assert_eq!(fs::metadata(&p).unwrap().nlink(), 1);
    }

    #[test]
    fn never_follows_or_replaces_a_link() {
        let d = TempDir::new("write");
        let victim = d.0.join("victim");
        fs::write(&victim, b"precious").unwrap();
        let p = d.0.join(".otp");
        symlink(&victim, &p).unwrap();
        for replace in [Replace::Refuse, Replace::BackUp, Replace::Overwrite] {
            assert!(matches!(
                write_private_file(&p, me(), b"evil", replace),
                Err(WriteError::Unsafe(_))
            ));
        }
        assert_eq!(fs::read(&victim).unwrap(), b"precious");
        assert!(matches!(retire(&p, me()), Err(WriteError::Unsafe(_))));
        assert!(fs::symlink_metadata(&p).unwrap().file_type().is_symlink());
    }

    #[test]
    fn refuses_unsafe_or_missing_directories() {
        let d = TempDir::new("write");
        fs::set_permissions(&d.0, fs::Permissions::from_mode(0o777)).unwrap();
        assert_eq!(
            write_private_file(&d.0.join(".otp"), me(), b"x", Replace::Refuse),
            Err(WriteError::Unsafe(
                "directory is writable by group or others"
            ))
        );
        assert_eq!(d.names(), Vec::<String>::new());
        assert_eq!(
            write_private_file(&d.0.join("no/such/.otp"), me(), b"x", Replace::Refuse),
            Err(WriteError::NoDirectory)
        );
        assert!(matches!(
            write_private_file(Path::new("relative"), me(), b"x", Replace::Refuse),
            Err(WriteError::Unsafe(_))
        ));
    }

    #[test]
    fn refuses_a_file_that_would_belong_to_someone_else() {
        let d = TempDir::new("write");
        let other = if me() == 0 { 1 } else { 0 };
        // The directory check passes for root-owned directories, so the owner check on the
        // new file itself is what must refuse.
        let result = write_private_file(&d.0.join(".otp"), other, b"x", Replace::Refuse);
        assert!(matches!(result, Err(WriteError::Unsafe(_))), "{result:?}");
        assert_eq!(d.names(), Vec::<String>::new(), "temporary file removed");
    }

    #[test]
    fn retire_moves_the_file_to_its_backup() {
        let d = TempDir::new("write");
        let p = d.0.join("alice");
        assert_eq!(retire(&p, me()), Ok(None));
        write_private_file(&p, me(), b"old", Replace::Refuse).unwrap();
        assert_eq!(retire(&p, me()), Ok(Some(d.0.join(".alice.bak"))));
        assert_eq!(d.names(), vec![".alice.bak"]);
        assert_eq!(
            backup_path(Path::new("/h/.otp")),
            Some(PathBuf::from("/h/.otp.bak"))
        );
    }
}
