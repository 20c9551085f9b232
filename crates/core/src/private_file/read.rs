//! Reading files a user can influence, treating every such path as hostile.
//!
//! The file is opened relative to its already-opened parent directory with no-follow,
//! non-blocking and close-on-exec flags, and every check is made on the open descriptor:
//! a regular file, owned as expected, no group/other permission bits, exactly one link,
//! bounded size. The parent must not be writable by group or others.

use std::fs::File;
use std::io::Read;
use std::os::fd::OwnedFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path};

use nix::errno::Errno;
use nix::fcntl::{openat, OFlag};
use nix::sys::stat::Mode;
use zeroize::Zeroizing;

use crate::errno::errno_of;

/// Why a file was not read. `Unsafe` reasons are short phrases fit for a log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadError {
    /// The file does not exist (its directory does).
    NotFound,
    /// The directory that should hold the file does not exist, or a component of its path
    /// is not a directory.
    NoDirectory,
    /// The file exists but fails a safety check.
    Unsafe(&'static str),
    /// The operating system refused (permission denied, I/O error, ...).
    Io(Errno),
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::NotFound => write!(f, "file not found"),
            ReadError::NoDirectory => write!(f, "its directory does not exist"),
            ReadError::Unsafe(why) => write!(f, "{why}"),
            ReadError::Io(errno) => write!(f, "{}", errno.desc()),
        }
    }
}

impl std::error::Error for ReadError {}

const DIR_FLAGS: OFlag = OFlag::O_RDONLY
    .union(OFlag::O_DIRECTORY)
    .union(OFlag::O_CLOEXEC)
    .union(OFlag::O_NOCTTY);
const FILE_FLAGS: OFlag = OFlag::O_RDONLY
    .union(OFlag::O_NOFOLLOW)
    .union(OFlag::O_NONBLOCK)
    .union(OFlag::O_CLOEXEC)
    .union(OFlag::O_NOCTTY);

/// Reads the private file at `path`, which must belong to `owner` and hold at most
/// `max_size` bytes. The bytes are wiped when dropped.
pub fn read_private_file(
    path: &Path,
    owner: u32,
    max_size: usize,
) -> Result<Zeroizing<Vec<u8>>, ReadError> {
    let (dir, name) = open_parent(path)?;
    check_parent(&dir, owner)?;
    read_private_at(&dir, name, owner, max_size)
}

/// Reads `name` in the directory `dir` (already checked with [`check_parent`]), making
/// every check on the open descriptor: a regular file (never through a symbolic link),
/// owned by `owner`, no group or other permission bits, exactly one link, at most
/// `max_size` bytes. [`crate::private_file`] uses it too, so that `pam-otp` renames or
/// replaces only a file that the module itself would read.
pub fn read_private_at(
    dir: &OwnedFd,
    name: &Path,
    owner: u32,
    max_size: usize,
) -> Result<Zeroizing<Vec<u8>>, ReadError> {
    let fd = openat(dir, name, FILE_FLAGS, Mode::empty()).map_err(|e| match e {
        Errno::ENOENT => ReadError::NotFound,
        Errno::ELOOP => ReadError::Unsafe("is a symbolic link"),
        other => ReadError::Io(other),
    })?;
    let mut file = File::from(fd);
    let meta = file.metadata().map_err(io_errno)?;
    if !meta.file_type().is_file() {
        return Err(ReadError::Unsafe("is not a regular file"));
    }
    if meta.uid() != owner {
        return Err(ReadError::Unsafe("is not owned by the expected user"));
    }
    if meta.mode() & 0o077 != 0 {
        return Err(ReadError::Unsafe(
            "is accessible to group or others (needs mode 0600 or 0400)",
        ));
    }
    if meta.nlink() != 1 {
        return Err(ReadError::Unsafe("has more than one hard link"));
    }
    if meta.len() > max_size as u64 {
        return Err(ReadError::Unsafe("is too large"));
    }
    let mut bytes = Zeroizing::new(Vec::with_capacity(meta.len() as usize));
    // Read one byte past the cap, so a file that grew after fstat is still refused.
    (&mut file)
        .take(max_size as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(io_errno)?;
    if bytes.len() > max_size {
        return Err(ReadError::Unsafe("is too large"));
    }
    Ok(bytes)
}

/// Opens the directory holding `path` and returns it with the final path component.
pub fn open_parent(path: &Path) -> Result<(OwnedFd, &Path), ReadError> {
    if !path.is_absolute() {
        return Err(ReadError::Unsafe("path is not absolute"));
    }
    let name = match path.components().next_back() {
        Some(Component::Normal(name)) => Path::new(name),
        _ => return Err(ReadError::Unsafe("path does not name a file")),
    };
    let parent = path.parent().unwrap_or(Path::new("/"));
    let dir = nix::fcntl::open(parent, DIR_FLAGS, Mode::empty()).map_err(|e| match e {
        Errno::ENOENT | Errno::ENOTDIR => ReadError::NoDirectory,
        other => ReadError::Io(other),
    })?;
    Ok((dir, name))
}

/// The directory must belong to `owner` or root and must not be writable by group or others,
/// or someone else could swap the file between our checks and the user's next login.
/// Shared with [`crate::private_file`], so the writer refuses exactly what the reader would.
pub fn check_parent(dir: &OwnedFd, owner: u32) -> Result<(), ReadError> {
    let meta = nix::sys::stat::fstat(dir).map_err(ReadError::Io)?;
    if meta.st_uid != owner && meta.st_uid != 0 {
        return Err(ReadError::Unsafe(
            "directory is not owned by the user or root",
        ));
    }
    if meta.st_mode & 0o022 != 0 {
        return Err(ReadError::Unsafe(
            "directory is writable by group or others",
        ));
    }
    Ok(())
}

/// Whether `path` is an existing directory (symbolic links followed). `Ok(false)` when it or
/// a component of its path is missing or not a directory.
pub fn directory_exists(path: &Path) -> Result<bool, ReadError> {
    match nix::sys::stat::stat(path) {
        Ok(meta) => Ok(meta.st_mode & libc::S_IFMT == libc::S_IFDIR),
        Err(Errno::ENOENT | Errno::ENOTDIR) => Ok(false),
        Err(e) => Err(ReadError::Io(e)),
    }
}

fn io_errno(e: std::io::Error) -> ReadError {
    ReadError::Io(errno_of(&e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::{symlink, PermissionsExt};

    use crate::testing::TestDir;

    fn me() -> u32 {
        nix::unistd::geteuid().as_raw()
    }

    fn private_dir() -> TestDir {
        TestDir::tagged("private-file")
    }

    fn write(path: &Path, mode: u32) {
        fs::write(path, b"secret = X\n").unwrap();
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn reads_a_private_file() {
        let d = private_dir();
        let p = d.join("otp");
        write(&p, 0o600);
        assert_eq!(
            &read_private_file(&p, me(), 100).unwrap()[..],
            b"secret = X\n"
        );
    }

    #[test]
    fn refuses_every_unsafe_shape() {
        let d = private_dir();
        let good = d.join("good");
        write(&good, 0o600);

        let link = d.join("link");
        symlink(&good, &link).unwrap();
        assert_eq!(
            read_private_file(&link, me(), 100),
            Err(ReadError::Unsafe("is a symbolic link"))
        );

        let open = d.join("open");
        write(&open, 0o644);
        assert!(matches!(
            read_private_file(&open, me(), 100),
            Err(ReadError::Unsafe(_))
        ));

        let hard = d.join("hard");
        fs::hard_link(&good, &hard).unwrap();
        assert_eq!(
            read_private_file(&hard, me(), 100),
            Err(ReadError::Unsafe("has more than one hard link"))
        );
        fs::remove_file(&hard).unwrap();

        assert_eq!(
            read_private_file(Path::new("/"), me(), 100),
            Err(ReadError::Unsafe("path does not name a file"))
        );
        let sub = d.join("sub");
        fs::create_dir(&sub).unwrap();
        fs::set_permissions(&sub, fs::Permissions::from_mode(0o700)).unwrap();
        assert_eq!(
            read_private_file(&sub, me(), 100),
            Err(ReadError::Unsafe("is not a regular file"))
        );

        let fifo = d.join("fifo");
        nix::unistd::mkfifo(&fifo, Mode::from_bits_truncate(0o600)).unwrap();
        assert_eq!(
            read_private_file(&fifo, me(), 100),
            Err(ReadError::Unsafe("is not a regular file"))
        );

        assert_eq!(
            read_private_file(&good, me(), 5),
            Err(ReadError::Unsafe("is too large"))
        );
        assert_eq!(
            read_private_file(&good, me() + 1, 100),
            Err(ReadError::Unsafe("is not owned by the expected user"))
        );
        assert_eq!(
            read_private_file(&d.join("missing"), me(), 100),
            Err(ReadError::NotFound)
        );
        assert_eq!(
            read_private_file(&d.join("missing/otp"), me(), 100),
            Err(ReadError::NoDirectory)
        );
        assert_eq!(
            read_private_file(&good.join("otp"), me(), 100),
            Err(ReadError::NoDirectory)
        );
        assert_eq!(directory_exists(d.path()), Ok(true));
        assert_eq!(directory_exists(&good), Ok(false));
        assert_eq!(directory_exists(&d.join("missing/deeper")), Ok(false));
        assert_eq!(
            read_private_file(Path::new("relative/otp"), me(), 100),
            Err(ReadError::Unsafe("path is not absolute"))
        );
    }

    #[test]
    fn refuses_a_group_writable_directory() {
        let d = private_dir();
        let p = d.join("otp");
        write(&p, 0o600);
        fs::set_permissions(d.path(), fs::Permissions::from_mode(0o770)).unwrap();
        assert_eq!(
            read_private_file(&p, me(), 100),
            Err(ReadError::Unsafe(
                "directory is writable by group or others"
            ))
        );
    }
}
