//! Per-user state on disk: one fixed-size file per uid in a root-owned directory, updated
//! in place under an exclusive lock.
//!
//! Each file holds two slots, each `magic | sequence | length | state | checksum`. A save
//! writes the slot not holding the current state with the next sequence number and
//! `fdatasync`s it before returning; a reader takes the valid slot with the higher sequence.
//! A crash at any instant therefore leaves the old or the new state, never a torn one, and a
//! failed write leaves the current slot untouched. The design brief measured this at about a quarter
//! of the cost of temp-file-and-rename; new files are still created by write-then-link, once.

use std::fs::File;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{openat, renameat2, AtFlags, OFlag, RenameFlags};
use nix::sys::stat::Mode;
use nix::unistd::UnlinkatFlags;
use sha2::{Digest, Sha256};

use crate::errno::errno_of;
use crate::state::{State, MAX_ENCODED_LEN};
use crate::temp_name::temp_name;

/// Where state lives unless `state_dir=` says otherwise.
pub const DEFAULT_STATE_DIR: &str = "/var/lib/pam_otp";

const SLOT_SIZE: usize = 4096;
const FILE_SIZE: usize = 2 * SLOT_SIZE;
const MAGIC: &[u8; 8] = b"PAMOTPS\x01";
const HEADER_LEN: usize = 8 + 8 + 2;
const CHECKSUM_LEN: usize = 16;
// The largest state fits in one slot, so a save never needs more than the file has.
const _: () = assert!(HEADER_LEN + MAX_ENCODED_LEN + CHECKSUM_LEN <= SLOT_SIZE);

/// The state written when a user without a usable secret is refused: `(uid_t)-1`, which no
/// account can have (see `authenticate::DECOY_UID` for why refusals save anything).
pub const DECOY_UID: u32 = u32::MAX;

/// Whose state a store keeps. One host names a user's state file by uid; a fleet shares one
/// record per user name, because hosts share user names, not uids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateKey<'a> {
    /// The account's uid on this host.
    pub uid: u32,
    /// The account's name.
    pub name: &'a str,
}

impl StateKey<'static> {
    /// The decoy state's key: no account has its uid, and no account has an empty name.
    pub const DECOY: StateKey<'static> = StateKey {
        uid: DECOY_UID,
        name: "",
    };
}

impl StateKey<'_> {
    /// Whether this is [`StateKey::DECOY`].
    pub fn is_decoy(&self) -> bool {
        *self == StateKey::DECOY
    }
}

/// Why state could not be read or saved. Every one of these denies the login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// The state directory or a state file fails a safety check.
    Unsafe(&'static str),
    /// A system call failed.
    Io {
        /// The step that failed.
        op: &'static str,
        /// What the system said.
        errno: Errno,
    },
    /// No valid state can be read (neither slot of a state file, or a shared record that does
    /// not decode): never reset silently (that would reopen replay).
    Corrupt,
    /// Another process held the user's lock for longer than the configured bound.
    LockTimeout,
    /// A shared store could not be reached or would not serve us: connection, TLS,
    /// authentication, timeout, no primary. The only errors `fail_mode=local` falls back on.
    Unreachable(String),
    /// A shared store answered, but not with something usable (an error reply, a key of the
    /// wrong type, a conflict that did not settle, too few replicas acknowledged a save).
    Server(String),
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::Unsafe(why) => write!(f, "{why}"),
            StoreError::Io { op, errno } => write!(f, "{op}: {}", errno.desc()),
            StoreError::Corrupt => {
                write!(f, "the state is corrupt (no valid copy of it can be read)")
            }
            StoreError::LockTimeout => write!(f, "timed out waiting for the state lock"),
            StoreError::Unreachable(why) => write!(f, "state server unreachable: {why}"),
            StoreError::Server(why) => write!(f, "state server: {why}"),
        }
    }
}

impl std::error::Error for StoreError {}

/// Keeps per-user state: this host's files ([`FileStore`]) or a store shared by a fleet.
/// The decision logic sees only this trait.
pub trait StateStore {
    /// As one atomic step for the user: reads the state, calls `decide` with it, and if the
    /// returned state differs, saves it durably before returning it. A store may call
    /// `decide` more than once (an optimistic store retries on a conflicting write); only
    /// the last call's state is saved.
    fn transact(
        &self,
        key: StateKey<'_>,
        decide: &mut dyn FnMut(&State) -> State,
    ) -> Result<State, StoreError>;

    /// A user's state as it is, creating nothing: [`Inspection::Missing`] when there is none
    /// yet; a record the module would refuse is [`Inspection::Unusable`]. `Err` only when
    /// the store itself cannot be used.
    fn inspect(&self, key: StateKey<'_>) -> Result<Inspection, StoreError>;

    /// Replaces whatever the user's record is with `state`, keeping the old record under
    /// the name `evidence` (for `pam-otp repair` of a state the module refuses). The user's
    /// record never goes missing meanwhile: a login in between must not start afresh.
    fn replace(&self, key: StateKey<'_>, state: &State, evidence: &str) -> Result<(), StoreError>;

    /// Where the state lives, for messages and log lines (never a credential).
    fn location(&self) -> String;
}

/// The on-disk store in one directory (see the module documentation).
#[derive(Debug, Clone)]
pub struct FileStore {
    dir: PathBuf,
    lock_timeout: Duration,
}

fn io(op: &'static str) -> impl Fn(Errno) -> StoreError {
    move |errno| StoreError::Io { op, errno }
}

fn io_std(op: &'static str) -> impl Fn(std::io::Error) -> StoreError {
    move |e| StoreError::Io {
        op,
        errno: errno_of(&e),
    }
}

impl FileStore {
    /// A store in `dir` (created 0700 on first use), waiting at most `lock_timeout` for a
    /// user's lock.
    pub fn new(dir: impl Into<PathBuf>, lock_timeout: Duration) -> FileStore {
        FileStore {
            dir: dir.into(),
            lock_timeout,
        }
    }

    /// The state directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Reads a user's state under the lock without changing it (status display).
    pub fn load(&self, uid: u32) -> Result<State, StoreError> {
        self.transact_uid(uid, &mut |s| s.clone())
    }

    /// Opens the state directory, creating it (mode 0700) when missing. It must belong to
    /// the module's own user and must not be writable by group or others.
    fn open_dir(&self) -> Result<OwnedFd, StoreError> {
        let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
        let dir = match nix::fcntl::open(&self.dir, flags, Mode::empty()) {
            Err(Errno::ENOENT) => {
                match nix::unistd::mkdir(&self.dir, Mode::S_IRWXU) {
                    Ok(()) | Err(Errno::EEXIST) => {}
                    Err(e) => return Err(io("create state directory")(e)),
                }
                nix::fcntl::open(&self.dir, flags, Mode::empty())
            }
            other => other,
        }
        .map_err(|e| match e {
            Errno::ELOOP | Errno::ENOTDIR => {
                StoreError::Unsafe("state directory is not a directory")
            }
            other => io("open state directory")(other),
        })?;
        let meta = nix::sys::stat::fstat(&dir).map_err(io("stat state directory"))?;
        if meta.st_uid != nix::unistd::geteuid().as_raw() {
            return Err(StoreError::Unsafe("state directory has the wrong owner"));
        }
        if meta.st_mode & 0o022 != 0 {
            return Err(StoreError::Unsafe(
                "state directory is writable by group or others",
            ));
        }
        Ok(dir)
    }

    /// Opens (creating on first use) the user's state file and checks it on the descriptor.
    fn open_file(&self, dir: &OwnedFd, uid: u32) -> Result<File, StoreError> {
        let name = uid.to_string();
        let flags = OFlag::O_RDWR | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC;
        let fd = match openat(dir, name.as_str(), flags, Mode::empty()) {
            Err(Errno::ENOENT) => {
                create_file(dir, &name)?;
                openat(dir, name.as_str(), flags, Mode::empty())
            }
            other => other,
        }
        .map_err(|e| match e {
            Errno::ELOOP => StoreError::Unsafe("state file is a symbolic link"),
            other => io("open state file")(other),
        })?;
        check_file(File::from(fd))
    }

    /// A user's state as it is, creating nothing: `Ok(None)` when there is no state file (or
    /// no state directory) yet. Errors of the directory itself are `Err`; a file that the
    /// module would refuse (corrupt, unsafe, unreadable) is [`Inspection::Unusable`].
    fn inspect_uid(&self, uid: u32) -> Result<Inspection, StoreError> {
        let dir = match self.open_existing_dir()? {
            Some(dir) => dir,
            None => return Ok(Inspection::Missing),
        };
        let name = uid.to_string();
        let flags = OFlag::O_RDWR | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC;
        let file = match openat(&dir, name.as_str(), flags, Mode::empty()) {
            Err(Errno::ENOENT) => return Ok(Inspection::Missing),
            Err(Errno::ELOOP) => {
                return Ok(Inspection::Unusable(StoreError::Unsafe(
                    "state file is a symbolic link",
                )))
            }
            Err(e) => return Ok(Inspection::Unusable(io("open state file")(e))),
            Ok(fd) => match check_file(File::from(fd)) {
                Ok(file) => file,
                Err(e) => return Ok(Inspection::Unusable(e)),
            },
        };
        self.lock(&file)?;
        Ok(match read_newest(&file) {
            Ok((_, _, state)) => Inspection::Usable(state),
            Err(e) => Inspection::Unusable(e),
        })
    }

    /// The state directory with the checks of [`FileStore::open_dir`], or `None` if it does
    /// not exist (nothing is created).
    fn open_existing_dir(&self) -> Result<Option<OwnedFd>, StoreError> {
        match std::fs::symlink_metadata(&self.dir) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            _ => self.open_dir().map(Some),
        }
    }

    /// Replaces whatever is at the user's state file name with a new file holding `state`,
    /// and keeps the old one (file, link or anything else) as `evidence` in the same
    /// directory. For `pam-otp repair` of a state the module refuses; the caller has
    /// checked that. The name never goes missing: the new file is complete and synced, then
    /// swapped into place atomically (`RENAME_EXCHANGE`), so no login can meanwhile create
    /// a fresh default state, which would reopen replay.
    fn replace_uid(&self, uid: u32, state: &State, evidence: &str) -> Result<(), StoreError> {
        let dir = self.open_dir()?;
        let name = uid.to_string();
        if evidence.contains('/') || evidence.starts_with('.') || evidence == name {
            return Err(StoreError::Unsafe("bad name for the old state file"));
        }
        let temp = temp_name(&name, "repair");
        let flags =
            OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
        let fd = openat(&dir, temp.as_str(), flags, Mode::S_IRUSR | Mode::S_IWUSR)
            .map_err(io("create state file"))?;
        if let Err(e) = write_new(fd, &image_of(state)) {
            let _ = nix::unistd::unlinkat(&dir, temp.as_str(), UnlinkatFlags::NoRemoveDir);
            return Err(e);
        }
        match renameat2(
            &dir,
            temp.as_str(),
            &dir,
            name.as_str(),
            RenameFlags::RENAME_EXCHANGE,
        ) {
            Ok(()) => {
                // `temp` now names the old file.
                keep_as(&dir, &temp, evidence)?;
            }
            Err(Errno::EINVAL | Errno::ENOSYS | Errno::EOPNOTSUPP) => {
                // No atomic exchange here: keep the old file first, then move the new one
                // in. A first login in between would find no file and create a default
                // one; the rename replaces it, but that login's answer was already given.
                let kept = keep_as(&dir, &name, evidence);
                let moved = kept.and_then(|()| {
                    nix::fcntl::renameat(&dir, temp.as_str(), &dir, name.as_str())
                        .map_err(io("move the new state file into place"))
                });
                if let Err(e) = moved {
                    let _ = nix::unistd::unlinkat(&dir, temp.as_str(), UnlinkatFlags::NoRemoveDir);
                    return Err(e);
                }
            }
            Err(e) => {
                let _ = nix::unistd::unlinkat(&dir, temp.as_str(), UnlinkatFlags::NoRemoveDir);
                return Err(io("swap the new state file into place")(e));
            }
        }
        nix::unistd::fsync(&dir).map_err(io("sync state directory"))
    }

    /// Takes the exclusive lock, retrying until the configured bound.
    fn lock(&self, file: &File) -> Result<(), StoreError> {
        let deadline = Instant::now() + self.lock_timeout;
        // A save holds the lock for about one fdatasync (~0.1 ms here): poll finely at first.
        let mut pause = Duration::from_micros(100);
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(()),
                Err(std::fs::TryLockError::WouldBlock) => {}
                Err(std::fs::TryLockError::Error(e)) => return Err(io_std("lock state file")(e)),
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(StoreError::LockTimeout);
            }
            std::thread::sleep(pause.min(deadline - now));
            pause = (pause * 2).min(Duration::from_millis(5));
        }
    }
}

/// Reads a locked state file whole and takes its newest valid slot: which slot, its
/// sequence number and the state. Neither slot valid is [`StoreError::Corrupt`].
fn read_newest(file: &File) -> Result<(usize, u64, State), StoreError> {
    let mut image = vec![0u8; FILE_SIZE];
    file.read_exact_at(&mut image, 0)
        .map_err(io_std("read state file"))?;
    newest_slot(&image).ok_or(StoreError::Corrupt)
}

impl StateStore for FileStore {
    fn transact(
        &self,
        key: StateKey<'_>,
        decide: &mut dyn FnMut(&State) -> State,
    ) -> Result<State, StoreError> {
        self.transact_uid(key.uid, decide)
    }

    fn inspect(&self, key: StateKey<'_>) -> Result<Inspection, StoreError> {
        self.inspect_uid(key.uid)
    }

    fn replace(&self, key: StateKey<'_>, state: &State, evidence: &str) -> Result<(), StoreError> {
        self.replace_uid(key.uid, state, evidence)
    }

    fn location(&self) -> String {
        self.dir.display().to_string()
    }
}

impl FileStore {
    /// [`StateStore::transact`] for the state file named by `uid`: under the file's
    /// exclusive lock, so `decide` runs exactly once.
    fn transact_uid(
        &self,
        uid: u32,
        decide: &mut dyn FnMut(&State) -> State,
    ) -> Result<State, StoreError> {
        let dir = self.open_dir()?;
        let file = self.open_file(&dir, uid)?;
        self.lock(&file)?;
        let (current_slot, seq, state) = read_newest(&file)?;
        let next = decide(&state);
        if next != state {
            let target = 1 - current_slot;
            let bytes = encode_slot(seq.wrapping_add(1), &next);
            file.write_all_at(&bytes, (target * SLOT_SIZE) as u64)
                .map_err(io_std("write state file"))?;
            file.sync_data().map_err(io_std("sync state file"))?;
        }
        // The lock is released when `file` is closed, after the save is on disk.
        Ok(next)
    }
}

/// Renames `from` to `evidence`, or `evidence.1`, `evidence.2`… if that name is taken.
fn keep_as(dir: &OwnedFd, from: &str, evidence: &str) -> Result<(), StoreError> {
    for n in 0..100 {
        let to = match n {
            0 => evidence.to_string(),
            n => format!("{evidence}.{n}"),
        };
        match renameat2(dir, from, dir, to.as_str(), RenameFlags::RENAME_NOREPLACE) {
            Err(Errno::EEXIST) => continue,
            other => return other.map_err(io("keep the old state file")),
        }
    }
    Err(io("keep the old state file")(Errno::EEXIST))
}

/// What [`FileStore::inspect`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inspection {
    /// No state file yet (the first login, or `pam-otp enroll` as root, creates it).
    Missing,
    /// A state the module can use.
    Usable(State),
    /// A file the module refuses: every login of the user is denied until it is repaired.
    Unusable(StoreError),
}

/// The checks made on an open state file's descriptor.
fn check_file(file: File) -> Result<File, StoreError> {
    let meta = file.metadata().map_err(io_std("stat state file"))?;
    if !meta.file_type().is_file()
        || meta.uid() != nix::unistd::geteuid().as_raw()
        || meta.mode() & 0o077 != 0
        || meta.nlink() != 1
    {
        return Err(StoreError::Unsafe(
            "state file is not a private regular file of the module's user",
        ));
    }
    if meta.len() != FILE_SIZE as u64 {
        return Err(StoreError::Corrupt);
    }
    Ok(file)
}

/// A new state file's bytes: `state` in slot 0, slot 1 empty.
fn image_of(state: &State) -> Vec<u8> {
    let mut image = vec![0u8; FILE_SIZE];
    let slot = encode_slot(1, state);
    image[..slot.len()].copy_from_slice(&slot);
    image
}

/// A new state file's bytes: the default state in slot 0, slot 1 empty.
fn initial_image() -> Vec<u8> {
    image_of(&State::default())
}

/// Writes `image` to a new file and makes it durable.
fn write_new(fd: OwnedFd, image: &[u8]) -> Result<File, StoreError> {
    let file = File::from(fd);
    file.write_all_at(image, 0)
        .map_err(io_std("write new state file"))?;
    file.sync_all().map_err(io_std("sync new state file"))?;
    Ok(file)
}

/// Creates a user's state file holding the default state, so that it appears complete, with
/// one link, or not at all, and nothing is left behind if the process is killed meanwhile.
fn create_file(dir: &OwnedFd, name: &str) -> Result<(), StoreError> {
    let image = initial_image();
    if !create_anonymous(dir, name, &image)? {
        create_named(dir, name, &image)?;
    }
    nix::unistd::fsync(dir).map_err(io("sync state directory"))
}

/// The usual way: an unnamed O_TMPFILE file, written and synced, then linked into place
/// through /proc (linkat fails rather than replace a file another login created first).
/// `Ok(false)`: the file system or the system lacks what this needs; use [`create_named`].
fn create_anonymous(dir: &OwnedFd, name: &str, image: &[u8]) -> Result<bool, StoreError> {
    let flags = OFlag::O_TMPFILE | OFlag::O_WRONLY | OFlag::O_CLOEXEC;
    let fd = match openat(dir, ".", flags, Mode::S_IRUSR | Mode::S_IWUSR) {
        Ok(fd) => fd,
        Err(Errno::EOPNOTSUPP | Errno::EISDIR | Errno::EINVAL) => return Ok(false),
        Err(e) => return Err(io("create state file")(e)),
    };
    let file = write_new(fd, image)?;
    let proc_path = format!("/proc/self/fd/{}", file.as_raw_fd());
    match nix::unistd::linkat(
        dir,
        proc_path.as_str(),
        dir,
        name,
        AtFlags::AT_SYMLINK_FOLLOW,
    ) {
        Ok(()) | Err(Errno::EEXIST) => Ok(true),
        Err(Errno::ENOENT) => Ok(false), // no /proc
        Err(e) => Err(io("link new state file")(e)),
    }
}

/// The fallback: a temporary name, then renameat2(RENAME_NOREPLACE) (or, where that is
/// missing too, link + unlink, which leaves a moment with two links in which a concurrent
/// first login is refused once). A kill at the wrong moment can leave the temporary file.
fn create_named(dir: &OwnedFd, name: &str, image: &[u8]) -> Result<(), StoreError> {
    let temp = temp_name(name, "new");
    let flags =
        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let fd = openat(dir, temp.as_str(), flags, Mode::S_IRUSR | Mode::S_IWUSR)
        .map_err(io("create state file"))?;
    let result = write_new(fd, image).and_then(|_| {
        match renameat2(dir, temp.as_str(), dir, name, RenameFlags::RENAME_NOREPLACE) {
            Ok(()) | Err(Errno::EEXIST) => Ok(()),
            Err(Errno::EINVAL | Errno::ENOSYS) => {
                match nix::unistd::linkat(dir, temp.as_str(), dir, name, AtFlags::empty()) {
                    Ok(()) | Err(Errno::EEXIST) => Ok(()),
                    Err(e) => Err(io("link new state file")(e)),
                }
            }
            Err(e) => Err(io("rename new state file")(e)),
        }
    });
    let _ = nix::unistd::unlinkat(dir, temp.as_str(), nix::unistd::UnlinkatFlags::NoRemoveDir);
    result
}

fn checksum(bytes: &[u8]) -> [u8; CHECKSUM_LEN] {
    let digest = Sha256::digest(bytes);
    let mut out = [0u8; CHECKSUM_LEN];
    out.copy_from_slice(&digest[..CHECKSUM_LEN]);
    out
}

/// One slot's bytes: magic, sequence, length, encoded state, checksum of all before it.
pub fn encode_slot(seq: u64, state: &State) -> Vec<u8> {
    let payload = state.encode();
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len() + CHECKSUM_LEN);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(&(payload.len() as u16).to_le_bytes());
    out.extend_from_slice(&payload);
    let sum = checksum(&out);
    out.extend_from_slice(&sum);
    out
}

/// Parses one slot; `None` if it is not a complete, checksummed, decodable state.
pub fn decode_slot(slot: &[u8]) -> Option<(u64, State)> {
    if slot.get(..8)? != MAGIC {
        return None;
    }
    let seq = u64::from_le_bytes(slot.get(8..16)?.try_into().ok()?);
    let len = usize::from(u16::from_le_bytes(slot.get(16..18)?.try_into().ok()?));
    if len > MAX_ENCODED_LEN {
        return None;
    }
    let end = HEADER_LEN + len;
    let stored: [u8; CHECKSUM_LEN] = slot.get(end..end + CHECKSUM_LEN)?.try_into().ok()?;
    if checksum(&slot[..end]) != stored {
        return None;
    }
    let state = State::decode(&slot[HEADER_LEN..end]).ok()?;
    Some((seq, state))
}

/// The valid slot with the higher sequence number: (slot index, sequence, state).
pub fn newest_slot(image: &[u8]) -> Option<(usize, u64, State)> {
    let slots = [image.get(..SLOT_SIZE)?, image.get(SLOT_SIZE..FILE_SIZE)?];
    let mut best: Option<(usize, u64, State)> = None;
    for (index, slot) in slots.iter().enumerate() {
        if let Some((seq, state)) = decode_slot(slot) {
            if best.as_ref().is_none_or(|(_, s, _)| seq > *s) {
                best = Some((index, seq, state));
            }
        }
    }
    best
}

mod list;

#[cfg(test)]
mod tests;
