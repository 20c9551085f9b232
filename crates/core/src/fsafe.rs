//! Opening files a user can influence, treating every such path as hostile.
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

use crate::userdb::{self, Account};

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
/// `max_size` bytes. [`crate::secret_write`] uses it too, so that `pam-otp` renames or
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
/// Shared with [`crate::secret_write`], so the writer refuses exactly what the reader would.
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
    ReadError::Io(Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))
}

/// While alive, file access *by the calling thread* uses the user's identity: file-system
/// uid and gid, and the user's supplementary groups. Dropping it restores the thread's
/// previous identity.
///
/// Only the calling thread changes. glibc's `setgroups(3)` (like `setuid(3)`) changes every
/// thread of the process, so in a threaded host two logins at once would hand each other
/// their groups and one would restore the other's, leaving the process with a user's groups;
/// the system calls themselves are per thread on Linux, so they are made directly (see
/// [`thread_creds`]). `setfsuid`/`setfsgid` are per thread too.
///
/// Only root switches; any other caller can already reach only what it may reach.
pub struct UserIdentity {
    saved: Option<Saved>,
}

/// The thread's identity before the switch.
struct Saved {
    fsuid: u32,
    fsgid: u32,
    /// `None`: the groups were not changed (they already were the ones wanted).
    groups: Option<Vec<libc::gid_t>>,
}

/// Which supplementary groups a [`UserIdentity`] carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Groups {
    /// Every group the group database lists for the user (`getgrouplist`, which walks every
    /// NSS source: /etc/group, systemd's userdb directories, LDAP...).
    All,
    /// None besides the primary group (the file-system gid). No database lookup; the user
    /// can reach no more than with all groups, unless a directory on the way denies one of
    /// the user's groups what it grants to others.
    PrimaryOnly,
}

impl UserIdentity {
    /// Switches the calling thread to `account`'s file-system identity, with all the user's
    /// groups. Fails closed: on any error the identity is restored and no file is opened.
    pub fn assume(account: &Account) -> Result<UserIdentity, ReadError> {
        UserIdentity::assume_with(account, Groups::All)
    }

    /// As [`UserIdentity::assume`], with the supplementary groups `groups` says.
    pub fn assume_with(account: &Account, groups: Groups) -> Result<UserIdentity, ReadError> {
        if !nix::unistd::geteuid().is_root() || account.uid == 0 {
            return Ok(UserIdentity { saved: None });
        }
        let user_groups = match groups {
            Groups::All => userdb::groups(account).map_err(|e| ReadError::Io(e.0))?,
            Groups::PrimaryOnly => Vec::new(),
        };
        let saved_groups = thread_creds::getgroups().map_err(ReadError::Io)?;
        // setgroups changes nothing when it fails; once it succeeds, the guard's Drop restores
        // the groups and the previous file-system ids that setfs[ug]id return. A host thread
        // with no supplementary groups, when none are wanted (sshd started by systemd has
        // none), is left as it is: no setgroups either way.
        let saved_groups = if saved_groups.is_empty() && user_groups.is_empty() {
            None
        } else {
            thread_creds::setgroups(&user_groups).map_err(ReadError::Io)?;
            Some(saved_groups)
        };
        let guard = UserIdentity {
            saved: Some(Saved {
                fsuid: thread_creds::setfsuid(account.uid),
                fsgid: thread_creds::setfsgid(account.gid),
                groups: saved_groups,
            }),
        };
        // setfs[ug]id report no errors; asking again returns the id now in force.
        if thread_creds::setfsuid(account.uid) != account.uid
            || thread_creds::setfsgid(account.gid) != account.gid
        {
            return Err(ReadError::Unsafe("could not switch to the user's identity"));
        }
        Ok(guard)
    }
}

/// Reads the private file at `path` that belongs to `account` (a file in the user's home) as
/// that user: first without the user's supplementary groups, which needs no group-database
/// lookup (the user's own file in the user's own directory needs none), and, only if that is
/// refused with EACCES, again with all of them (a home reached through a group-only
/// directory). Either way the user's identity is in force only for the read.
pub fn read_users_file(
    account: &Account,
    path: &Path,
    max_size: usize,
) -> Result<Zeroizing<Vec<u8>>, ReadError> {
    let read_with = |groups| {
        let identity = UserIdentity::assume_with(account, groups)?;
        let read = read_private_file(path, account.uid, max_size);
        let switched = identity.saved.is_some();
        drop(identity);
        Ok::<_, ReadError>((read, switched))
    };
    match read_with(Groups::PrimaryOnly)? {
        (Err(ReadError::Io(Errno::EACCES)), true) => read_with(Groups::All)?.0,
        (read, _) => read,
    }
}

impl Drop for UserIdentity {
    fn drop(&mut self) {
        if let Some(saved) = self.saved.take() {
            thread_creds::setfsuid(saved.fsuid);
            thread_creds::setfsgid(saved.fsgid);
            // Restoring as root cannot fail for lack of privilege; nothing else can be done
            // here if it did, and the module has already taken its decision.
            if let Some(groups) = saved.groups {
                let _ = thread_creds::setgroups(&groups);
            }
        }
    }
}

/// The credential system calls, made directly so that they change the calling thread only
/// (Linux keeps credentials per thread; it is glibc that broadcasts `setgroups` to every
/// thread, as POSIX asks of it).
mod thread_creds {
    use nix::errno::Errno;

    // The 32-bit ABIs kept the 16-bit-id calls under the old numbers.
    #[cfg(any(target_arch = "x86", target_arch = "arm"))]
    mod nr {
        pub use libc::{
            SYS_getgroups32 as GETGROUPS, SYS_setfsgid32 as SETFSGID, SYS_setfsuid32 as SETFSUID,
            SYS_setgroups32 as SETGROUPS,
        };
    }
    #[cfg(not(any(target_arch = "x86", target_arch = "arm")))]
    mod nr {
        pub use libc::{
            SYS_getgroups as GETGROUPS, SYS_setfsgid as SETFSGID, SYS_setfsuid as SETFSUID,
            SYS_setgroups as SETGROUPS,
        };
    }

    /// The calling thread's supplementary groups.
    pub fn getgroups() -> Result<Vec<libc::gid_t>, Errno> {
        // Only this thread can change its own groups, so the count cannot change between the
        // two calls; the loop is for a host that does so from a signal handler.
        loop {
            // SAFETY: getgroups(0, NULL) only returns the number of groups.
            let n = unsafe { libc::syscall(nr::GETGROUPS, 0, std::ptr::null_mut::<libc::gid_t>()) };
            let n = usize::try_from(n).map_err(|_| Errno::last())?;
            if n == 0 {
                return Ok(Vec::new());
            }
            let mut groups: Vec<libc::gid_t> = vec![0; n];
            // SAFETY: the buffer holds n writable gid_t; the kernel writes at most n.
            let got = unsafe { libc::syscall(nr::GETGROUPS, n, groups.as_mut_ptr()) };
            match usize::try_from(got) {
                Ok(got) => {
                    groups.truncate(got);
                    return Ok(groups);
                }
                Err(_) if Errno::last() == Errno::EINVAL => continue,
                Err(_) => return Err(Errno::last()),
            }
        }
    }

    /// Sets the calling thread's supplementary groups (needs CAP_SETGID).
    pub fn setgroups(groups: &[libc::gid_t]) -> Result<(), Errno> {
        // SAFETY: the kernel reads groups.len() gid_t from the slice, which holds them.
        let rc = unsafe { libc::syscall(nr::SETGROUPS, groups.len(), groups.as_ptr()) };
        if rc == 0 {
            Ok(())
        } else {
            Err(Errno::last())
        }
    }

    /// Sets the calling thread's file-system uid; returns the previous one (the call reports
    /// no errors: ask again to learn the id in force).
    pub fn setfsuid(uid: u32) -> u32 {
        // SAFETY: no pointers; the call cannot fail in a way that harms memory.
        unsafe { libc::syscall(nr::SETFSUID, uid) as u32 }
    }

    /// Sets the calling thread's file-system gid; returns the previous one.
    pub fn setfsgid(gid: u32) -> u32 {
        // SAFETY: no pointers; the call cannot fail in a way that harms memory.
        unsafe { libc::syscall(nr::SETFSGID, gid) as u32 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::{symlink, PermissionsExt};

    use crate::testutil::TempDir;

    fn me() -> u32 {
        nix::unistd::geteuid().as_raw()
    }

    fn private_dir() -> TempDir {
        TempDir::new("fsafe")
    }

    fn write(path: &Path, mode: u32) {
        fs::write(path, b"secret = X\n").unwrap();
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn reads_a_private_file() {
        let d = private_dir();
        let p = d.0.join("otp");
        write(&p, 0o600);
        assert_eq!(
            &read_private_file(&p, me(), 100).unwrap()[..],
            b"secret = X\n"
        );
    }

    #[test]
    fn refuses_every_unsafe_shape() {
        let d = private_dir();
        let good = d.0.join("good");
        write(&good, 0o600);

        let link = d.0.join("link");
        symlink(&good, &link).unwrap();
        assert_eq!(
            read_private_file(&link, me(), 100),
            Err(ReadError::Unsafe("is a symbolic link"))
        );

        let open = d.0.join("open");
        write(&open, 0o644);
        assert!(matches!(
            read_private_file(&open, me(), 100),
            Err(ReadError::Unsafe(_))
        ));

        let hard = d.0.join("hard");
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
        let sub = d.0.join("sub");
        fs::create_dir(&sub).unwrap();
        fs::set_permissions(&sub, fs::Permissions::from_mode(0o700)).unwrap();
        assert_eq!(
            read_private_file(&sub, me(), 100),
            Err(ReadError::Unsafe("is not a regular file"))
        );

        let fifo = d.0.join("fifo");
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
            read_private_file(&d.0.join("missing"), me(), 100),
            Err(ReadError::NotFound)
        );
        assert_eq!(
            read_private_file(&d.0.join("missing/otp"), me(), 100),
            Err(ReadError::NoDirectory)
        );
        assert_eq!(
            read_private_file(&good.join("otp"), me(), 100),
            Err(ReadError::NoDirectory)
        );
        assert_eq!(directory_exists(&d.0), Ok(true));
        assert_eq!(directory_exists(&good), Ok(false));
        assert_eq!(directory_exists(&d.0.join("missing/deeper")), Ok(false));
        assert_eq!(
            read_private_file(Path::new("relative/otp"), me(), 100),
            Err(ReadError::Unsafe("path is not absolute"))
        );
    }

    #[test]
    fn refuses_a_group_writable_directory() {
        let d = private_dir();
        let p = d.0.join("otp");
        write(&p, 0o600);
        fs::set_permissions(&d.0, fs::Permissions::from_mode(0o770)).unwrap();
        assert_eq!(
            read_private_file(&p, me(), 100),
            Err(ReadError::Unsafe(
                "directory is writable by group or others"
            ))
        );
    }
}
