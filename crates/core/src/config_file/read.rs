//! Reading the configuration file and the password file, every check on the descriptor.
//!
//! The configuration file may be world-readable (it holds no secret unless it is private),
//! but nobody but root may write it: owned by root (or by whoever runs the program: the
//! module inside sshd is root; `pam-otp` run by a user reads only for that user), a regular
//! file reached without a symbolic link, one link, not writable by group or others, at most
//! [`MAX_FILE_SIZE`](super::MAX_FILE_SIZE). One open, one fstat, one read: it is read on
//! every login.

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{open, OFlag};
use nix::sys::stat::Mode;
use zeroize::Zeroizing;

use super::keys::password_text;
use super::{MAX_FILE_SIZE, MAX_PASSWORD_FILE_SIZE};
use crate::errno::errno_of;
use crate::private_file::read_private_file;

const FILE_FLAGS: OFlag = OFlag::O_RDONLY
    .union(OFlag::O_NOFOLLOW)
    .union(OFlag::O_NONBLOCK)
    .union(OFlag::O_CLOEXEC)
    .union(OFlag::O_NOCTTY);

/// What the descriptor said about the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileFacts {
    /// Permission bits.
    pub mode: u32,
    /// Owner.
    pub uid: u32,
}

impl FileFacts {
    /// Readable by its owner only (no group or other read bit): it may hold `redis_password`.
    pub fn private(self) -> bool {
        self.mode & 0o044 == 0
    }
}

fn euid() -> u32 {
    nix::unistd::geteuid().as_raw()
}

/// A file read: its bytes (wiped when dropped) and what its descriptor said.
pub(crate) type ReadFile = (Zeroizing<Vec<u8>>, FileFacts);

/// The file's bytes (wiped when dropped) and what its descriptor said; `Ok(None)` if it
/// does not exist. The error is a phrase for a message.
pub(crate) fn config_file(path: &Path) -> Result<Option<ReadFile>, String> {
    if !path.is_absolute() {
        return Err("is not an absolute path".into());
    }
    let fd = match open(path, FILE_FLAGS, Mode::empty()) {
        Ok(fd) => fd,
        Err(Errno::ENOENT | Errno::ENOTDIR) => return Ok(None),
        Err(Errno::ELOOP) => return Err("is a symbolic link".into()),
        Err(e) => return Err(format!("cannot be opened: {}", e.desc())),
    };
    let mut file = File::from(fd);
    let meta = file
        .metadata()
        .map_err(|e| format!("cannot be examined: {}", errno_of(&e).desc()))?;
    let facts = FileFacts {
        mode: meta.mode() & 0o7777,
        uid: meta.uid(),
    };
    if !meta.file_type().is_file() {
        return Err("is not a regular file".into());
    }
    if facts.uid != 0 && facts.uid != euid() {
        return Err("is not owned by root".into());
    }
    if facts.mode & 0o022 != 0 {
        return Err("is writable by group or others (needs mode 0644 or stricter)".into());
    }
    if meta.nlink() != 1 {
        return Err("has more than one hard link".into());
    }
    if meta.len() > MAX_FILE_SIZE as u64 {
        return Err("is larger than 64 KiB".into());
    }
    let mut bytes = Zeroizing::new(Vec::with_capacity(meta.len() as usize + 1));
    // One byte past the cap, so that a file that grew after fstat is still refused.
    (&mut file)
        .take(MAX_FILE_SIZE as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot be read: {}", errno_of(&e).desc()))?;
    if bytes.len() > MAX_FILE_SIZE {
        return Err("is larger than 64 KiB".into());
    }
    Ok(Some((bytes, facts)))
}

/// The password in `path`: owned by root (whoever runs the program), mode 0600 or 0400, a
/// regular file reached without a symbolic link, one link, in a directory nobody else can
/// write (the checks of the admin store's files); one line, its newline dropped.
pub(crate) fn password_file(path: &Path) -> Result<Zeroizing<String>, String> {
    let bytes =
        read_private_file(path, euid(), MAX_PASSWORD_FILE_SIZE).map_err(|e| e.to_string())?;
    let line = bytes.strip_suffix(b"\n").unwrap_or(&bytes);
    match std::str::from_utf8(line) {
        Ok(text) if password_text(text) => Ok(Zeroizing::new(text.to_string())),
        _ => Err(
            "must hold one line: the password (1 to 512 characters, no control characters)".into(),
        ),
    }
}
