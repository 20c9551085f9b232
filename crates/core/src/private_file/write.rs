//! Writing the secret file (the `pam-otp` command's side of [`super::read`]).
//!
//! Every write is atomic and durable: the bytes go to a fresh temporary file in the same
//! directory (created with `O_EXCL | O_NOFOLLOW`, mode 0600), which is synced, renamed over
//! the target and followed by a sync of the directory. A crash or an error at any instant
//! leaves the old file or the new one, never a mix, and never a second link to either.
//!
//! An existing file is renamed, copied or replaced only if the module itself would read it as
//! the owner's secret: [`read_private_at`]'s checks on the descriptor (regular, owned
//! as expected, no group or other bits, one link, size) and a valid secret file. Anything
//! else is left alone ([`WriteError::Existing`]), so that root running `pam-otp` cannot be
//! made to move or overwrite a file that merely sits where a secret is expected.
//!
//! Nothing here changes identity or ownership: a caller acting for a user wraps the call in
//! [`super::UserIdentity::assume`], so files in a user's home are created by the user
//! (never created as root and then handed over, which is how pam_oath's CVE-2024-47191
//! turned a symlink into a root file overwrite). The result is checked to belong to the
//! expected owner before it is put in place.

use std::fs::File;
use std::io::Write;
use std::os::fd::OwnedFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{openat, AtFlags, OFlag};
use nix::sys::stat::{Mode, SFlag};
use zeroize::Zeroizing;

use super::read::{check_parent, open_parent, read_private_at, ReadError};
use crate::errno::errno_of;
use crate::secret_file::{UserFile, MAX_FILE_SIZE};
use crate::temp_name::temp_name;

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
    /// The directory or the new file fails a safety check, or the existing file is not a
    /// regular file.
    Unsafe(&'static str),
    /// The existing file is not one the module would read as the owner's secret (wrong
    /// owner, mode or link count, too large, or not a secret file), so it is left alone.
    Existing(&'static str),
    /// A system call failed.
    Io {
        /// The step that failed.
        op: &'static str,
        /// What the system said.
        errno: Errno,
    },
}

impl std::fmt::Display for WriteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WriteError::Exists => write!(f, "the file already exists"),
            WriteError::NoDirectory => write!(f, "the directory does not exist"),
            WriteError::Unsafe(why) => write!(f, "{why}"),
            WriteError::Existing(why) => write!(f, "the existing file {why}"),
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
        errno: errno_of(&e),
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
/// (the caller's current filesystem identity) in a directory that [`read_private_file`](super::read_private_file) would accept.
/// Returns the backup's path when one was made.
pub fn write_private_file(
    path: &Path,
    owner: u32,
    bytes: &[u8],
    replace: Replace,
) -> Result<Option<PathBuf>, WriteError> {
    let (dir, name) = open_parent(path).map_err(from_read)?;
    check_parent(&dir, owner).map_err(from_read)?;
    let name = name
        .to_str()
        .ok_or(WriteError::Unsafe("the file name is not UTF-8"))?;
    let mut backup = None;
    if let Some(copy) = replaceable(&dir, name, owner, replace)? {
        if replace == Replace::BackUp {
            let backup_name = backup_name(name);
            write_at(&dir, &backup_name, owner, &copy, true)?;
            backup = Some(path.with_file_name(backup_name));
        }
    }
    write_at(&dir, name, owner, bytes, replace != Replace::Refuse)?;
    Ok(backup)
}

/// Whether the existing file `name` in `dir` (a directory that passed
/// [`check_parent`]) may be backed up and replaced: what [`write_private_file`] with
/// [`Replace::BackUp`] checks before touching it, for a caller that wants to know first.
pub fn check_replaceable(dir: &OwnedFd, name: &Path, owner: u32) -> Result<(), WriteError> {
    let name = name
        .to_str()
        .ok_or(WriteError::Unsafe("the file name is not UTF-8"))?;
    replaceable(dir, name, owner, Replace::BackUp).map(drop)
}

/// The existing file's bytes if there is one that `replace` allows to be replaced, `None`
/// if there is none.
fn replaceable(
    dir: &OwnedFd,
    name: &str,
    owner: u32,
    replace: Replace,
) -> Result<Option<Zeroizing<Vec<u8>>>, WriteError> {
    match existing_kind(dir, name)? {
        None => Ok(None),
        Some(kind) if kind != SFlag::S_IFREG => Err(WriteError::Unsafe(
            "exists and is not a regular file (a symbolic link?); remove it first",
        )),
        Some(_) if replace == Replace::Refuse => Err(WriteError::Exists),
        Some(_) => read_existing(dir, name, owner).map(Some),
    }
}

/// Renames the file at `path` to its [`backup_path`] (replacing an older backup), so that it
/// is no longer used; `Ok(None)` if there was no file.
pub fn retire(path: &Path, owner: u32) -> Result<Option<PathBuf>, WriteError> {
    let (dir, name) = open_parent(path).map_err(from_read)?;
    check_parent(&dir, owner).map_err(from_read)?;
    let name = name
        .to_str()
        .ok_or(WriteError::Unsafe("the file name is not UTF-8"))?;
    // What a replacement with a backup may touch, and nothing else, may be retired.
    if replaceable(&dir, name, owner, Replace::BackUp)?.is_none() {
        return Ok(None);
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

/// The existing file's bytes, if the module would read it as `owner`'s secret file (see the
/// module documentation); [`WriteError::Existing`] otherwise.
fn read_existing(dir: &OwnedFd, name: &str, owner: u32) -> Result<Zeroizing<Vec<u8>>, WriteError> {
    let bytes =
        read_private_at(dir, Path::new(name), owner, MAX_FILE_SIZE).map_err(|e| match e {
            ReadError::Unsafe(why) => WriteError::Existing(why),
            ReadError::NotFound | ReadError::NoDirectory => WriteError::Io {
                op: "read the existing file",
                errno: Errno::ENOENT,
            },
            ReadError::Io(errno) => WriteError::Io {
                op: "read the existing file",
                errno,
            },
        })?;
    // A file of `deliver` lines (with or without a secret) is the user's file too.
    if UserFile::parse(&bytes).is_err() {
        return Err(WriteError::Existing("is not a pam_otp secret file"));
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
    let temp = temp_name(name.strip_prefix('.').unwrap_or(name), "tmp");
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
    use crate::testing::TestDir;

    fn me() -> u32 {
        nix::unistd::geteuid().as_raw()
    }

    // Valid secret files: only those may be replaced or retired.
    const ONE: &[u8] = b"secret = GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\n";
    const TWO: &[u8] = b"secret = JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP\n";
    const THREE: &[u8] = b"secret = MFRGGZDFMZTWQ2LKNNWG23TPOBYXE43U\n";

    #[test]
    fn writes_a_private_file_the_reader_accepts() {
        let d = TestDir::tagged("write");
        let p = d.join(".otp");
        let old_umask = nix::sys::stat::umask(Mode::from_bits_truncate(0o277));
        let written = write_private_file(&p, me(), b"secret = X\n", Replace::Refuse);
        nix::sys::stat::umask(old_umask);
        assert_eq!(written, Ok(None));
        assert_eq!(fs::metadata(&p).unwrap().mode() & 0o777, 0o600);
        assert_eq!(
            &super::super::read_private_file(&p, me(), MAX_FILE_SIZE).unwrap()[..],
            b"secret = X\n"
        );
        assert_eq!(d.names(), vec![".otp"], "no temporary file is left");
    }

    #[test]
    fn refuses_to_replace_unless_asked_and_backs_up() {
        let d = TestDir::tagged("write");
        let p = d.join(".otp");
        write_private_file(&p, me(), ONE, Replace::Refuse).unwrap();
        assert_eq!(
            write_private_file(&p, me(), TWO, Replace::Refuse),
            Err(WriteError::Exists)
        );
        assert_eq!(fs::read(&p).unwrap(), ONE);

        let backup = write_private_file(&p, me(), TWO, Replace::BackUp).unwrap();
        assert_eq!(backup, Some(d.join(".otp.bak")));
        assert_eq!(fs::read(&p).unwrap(), TWO);
        assert_eq!(fs::read(d.join(".otp.bak")).unwrap(), ONE);
        assert_eq!(
            fs::metadata(d.join(".otp.bak")).unwrap().mode() & 0o777,
            0o600
        );

        assert_eq!(
            write_private_file(&p, me(), THREE, Replace::Overwrite),
            Ok(None)
        );
        assert_eq!(fs::read(d.join(".otp.bak")).unwrap(), ONE);
        assert_eq!(d.names(), vec![".otp", ".otp.bak"]);
        assert_eq!(fs::metadata(&p).unwrap().nlink(), 1);
    }

    #[test]
    fn never_follows_or_replaces_a_link() {
        let d = TestDir::tagged("write");
        let victim = d.join("victim");
        fs::write(&victim, b"precious").unwrap();
        let p = d.join(".otp");
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
        let d = TestDir::tagged("write");
        fs::set_permissions(d.path(), fs::Permissions::from_mode(0o777)).unwrap();
        assert_eq!(
            write_private_file(&d.join(".otp"), me(), b"x", Replace::Refuse),
            Err(WriteError::Unsafe(
                "directory is writable by group or others"
            ))
        );
        assert_eq!(d.names(), Vec::<String>::new());
        assert_eq!(
            write_private_file(&d.join("no/such/.otp"), me(), b"x", Replace::Refuse),
            Err(WriteError::NoDirectory)
        );
        assert!(matches!(
            write_private_file(Path::new("relative"), me(), b"x", Replace::Refuse),
            Err(WriteError::Unsafe(_))
        ));
    }

    #[test]
    fn refuses_a_file_that_would_belong_to_someone_else() {
        let d = TestDir::tagged("write");
        let other = if me() == 0 { 1 } else { 0 };
        // The directory check passes for root-owned directories, so the owner check on the
        // new file itself is what must refuse.
        let result = write_private_file(&d.join(".otp"), other, b"x", Replace::Refuse);
        assert!(matches!(result, Err(WriteError::Unsafe(_))), "{result:?}");
        assert_eq!(d.names(), Vec::<String>::new(), "temporary file removed");
    }

    #[test]
    fn retire_moves_the_file_to_its_backup() {
        let d = TestDir::tagged("write");
        let p = d.join("alice");
        assert_eq!(retire(&p, me()), Ok(None));
        write_private_file(&p, me(), ONE, Replace::Refuse).unwrap();
        assert_eq!(retire(&p, me()), Ok(Some(d.join(".alice.bak"))));
        assert_eq!(d.names(), vec![".alice.bak"]);
        assert_eq!(
            backup_path(Path::new("/h/.otp")),
            Some(PathBuf::from("/h/.otp.bak"))
        );
    }

    #[test]
    fn leaves_alone_an_existing_file_the_module_would_refuse() {
        let d = TestDir::tagged("write");
        let p = d.join(".otp");
        let other = d.join("other");
        let shapes: [(&str, &dyn Fn()); 4] = [
            (
                "is accessible to group or others (needs mode 0600 or 0400)",
                &|| {
                    fs::write(&p, ONE).unwrap();
                    fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).unwrap();
                },
            ),
            ("has more than one hard link", &|| {
                fs::write(&other, ONE).unwrap();
                fs::set_permissions(&other, fs::Permissions::from_mode(0o600)).unwrap();
                fs::hard_link(&other, &p).unwrap();
            }),
            ("is not a pam_otp secret file", &|| {
                fs::write(&p, b"ssh-ed25519 AAAA root@host\n").unwrap();
                fs::set_permissions(&p, fs::Permissions::from_mode(0o600)).unwrap();
            }),
            ("is too large", &|| {
                let mut big = ONE.to_vec();
                big.resize(MAX_FILE_SIZE + 1, b'\n');
                fs::write(&p, big).unwrap();
                fs::set_permissions(&p, fs::Permissions::from_mode(0o600)).unwrap();
            }),
        ];
        for (why, make) in shapes {
            make();
            let before = fs::read(&p).unwrap();
            let listing = d.names();
            for replace in [Replace::BackUp, Replace::Overwrite] {
                assert_eq!(
                    write_private_file(&p, me(), TWO, replace),
                    Err(WriteError::Existing(why))
                );
            }
            assert_eq!(retire(&p, me()), Err(WriteError::Existing(why)));
            let (dir, name) = open_parent(&p).unwrap();
            assert_eq!(
                check_replaceable(&dir, name, me()),
                Err(WriteError::Existing(why))
            );
            assert_eq!(fs::read(&p).unwrap(), before, "{why}");
            assert_eq!(d.names(), listing, "{why}");
            // Refuse never looks further than "it exists".
            assert_eq!(
                write_private_file(&p, me(), TWO, Replace::Refuse),
                Err(WriteError::Exists)
            );
            let _ = fs::remove_file(&other);
            fs::remove_file(&p).unwrap();
        }
        fs::write(&p, ONE).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o600)).unwrap();
        let (dir, name) = open_parent(&p).unwrap();
        assert_eq!(check_replaceable(&dir, name, me()), Ok(()));
        assert_eq!(check_replaceable(&dir, Path::new("missing"), me()), Ok(()));
        let someone = if me() == 0 { 1 } else { 0 };
        assert_eq!(
            check_replaceable(&dir, name, someone),
            Err(WriteError::Existing("is not owned by the expected user"))
        );
    }
}
