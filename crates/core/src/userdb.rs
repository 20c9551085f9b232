//! Who the user is: re-entrant passwd and group lookups, and user-name validation.

use std::ffi::CString;
use std::path::PathBuf;

use nix::unistd::User;

/// The parts of a passwd entry the module needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The user name.
    pub name: String,
    /// The user id (state files are keyed by it).
    pub uid: u32,
    /// The primary group id.
    pub gid: u32,
    /// The home directory (`%h` in a secret path template).
    pub home: PathBuf,
}

impl From<User> for Account {
    fn from(u: User) -> Account {
        Account {
            name: u.name,
            uid: u.uid.as_raw(),
            gid: u.gid.as_raw(),
            home: u.dir,
        }
    }
}

/// Longest user name accepted (Linux's own limit is 32; some directories allow more).
pub const MAX_USER_NAME: usize = 256;

/// A name that is safe to put into a path and a log line: printable ASCII without `/`,
/// not `.` or `..`, not starting with `-`, and not too long.
pub fn valid_user_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_USER_NAME
        && name != "."
        && name != ".."
        && !name.starts_with('-')
        && name
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'/' && b != b'\\')
}

/// Failure to consult the user database (as opposed to "no such user").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LookupError(pub nix::errno::Errno);

/// Looks `name` up with `getpwnam_r`. `Ok(None)`: no such user, or a name that is not valid.
pub fn lookup(name: &str) -> Result<Option<Account>, LookupError> {
    if !valid_user_name(name) {
        return Ok(None);
    }
    let user = User::from_name(name).map_err(LookupError)?;
    Ok(user.map(Account::from))
}

/// Looks a uid up with `getpwuid_r` (for the command-line tool).
pub fn lookup_uid(uid: u32) -> Result<Option<Account>, LookupError> {
    let user = User::from_uid(nix::unistd::Uid::from_raw(uid)).map_err(LookupError)?;
    Ok(user.map(Account::from))
}

/// The user's primary and supplementary groups, from the group database.
pub fn groups(account: &Account) -> Result<Vec<libc::gid_t>, LookupError> {
    let name = CString::new(account.name.as_bytes())
        .map_err(|_| LookupError(nix::errno::Errno::EINVAL))?;
    // Most users have a handful of groups; a bigger list is asked for again at its size.
    // (No sysconf(NGROUPS_MAX): that reads /proc on every call.)
    let mut groups: Vec<libc::gid_t> = vec![0; 32];
    loop {
        let mut n = libc::c_int::try_from(groups.len())
            .map_err(|_| LookupError(nix::errno::Errno::E2BIG))?;
        // SAFETY: `name` is a NUL-terminated string; the buffer holds `n` writable gid_t and
        // getgrouplist writes at most `n`, setting `n` to the number the user has.
        let rc =
            unsafe { libc::getgrouplist(name.as_ptr(), account.gid, groups.as_mut_ptr(), &mut n) };
        let n = usize::try_from(n).map_err(|_| LookupError(nix::errno::Errno::EINVAL))?;
        if rc >= 0 {
            groups.truncate(n);
            return Ok(groups);
        }
        // Linux allows at most 65536 supplementary groups.
        if n <= groups.len() || n > MAX_GROUPS {
            return Err(LookupError(nix::errno::Errno::E2BIG));
        }
        groups.resize(n, 0);
    }
}

/// The kernel's limit on supplementary groups (NGROUPS_MAX in linux/limits.h).
const MAX_GROUPS: usize = 65536;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_could_escape_a_path_are_refused() {
        for bad in [
            "",
            ".",
            "..",
            "a/b",
            "-rf",
            "a b",
            "tab\t",
            "nul\0",
            "back\\slash",
            "é",
        ] {
            assert!(!valid_user_name(bad), "{bad:?}");
        }
        for good in ["alice", "bob.smith", "svc_backup", "user@REALM", "x-1"] {
            assert!(valid_user_name(good), "{good:?}");
        }
        assert!(!valid_user_name(&"a".repeat(MAX_USER_NAME + 1)));
    }

    #[test]
    fn root_is_found_and_nonsense_is_not() {
        let root = lookup("root").unwrap().unwrap();
        assert_eq!(root.uid, 0);
        assert!(root.home.is_absolute());
        assert_eq!(lookup("no-such-user-pam-otp-test").unwrap(), None);
        assert_eq!(lookup("../etc").unwrap(), None);
    }

    #[test]
    fn the_group_list_starts_with_the_primary_group() {
        let root = lookup("root").unwrap().unwrap();
        assert_eq!(groups(&root).unwrap().first(), Some(&root.gid));
        // Any primary gid is passed through, even one the group database does not know.
        let odd = Account {
            gid: 4_000_000_000,
            ..root
        };
        assert_eq!(groups(&odd).unwrap().first(), Some(&4_000_000_000));
    }
}
