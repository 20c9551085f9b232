//! Whose identity file access uses while a user's file is read or written: the user's,
//! for the calling thread only.

use std::path::Path;

use nix::errno::Errno;
use zeroize::Zeroizing;

use super::read::{read_private_file, ReadError};
use crate::userdb::{self, Account};

/// While alive, file access *by the calling thread* uses the user's identity: file-system
/// uid and gid, and the user's supplementary groups. Dropping it restores the thread's
/// previous identity.
///
/// Only the calling thread changes. glibc's `setgroups(3)` (like `setuid(3)`) changes every
/// thread of the process, so in a threaded host two logins at once would hand each other
/// their groups and one would restore the other's, leaving the process with a user's groups;
/// the system calls themselves are per thread on Linux, so they are made directly (see
/// `thread_creds` below). `setfsuid`/`setfsgid` are per thread too.
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
