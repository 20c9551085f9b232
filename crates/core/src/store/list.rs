//! Every user's state in a [`FileStore`], read-only, for `pam-otp locked` and
//! `pam-otp metrics`.

use super::{FileStore, Inspection, StoreError};
use crate::authenticate::DECOY_UID;

impl FileStore {
    /// Every user's state in the directory, by uid, in uid order, creating nothing. A file
    /// whose name is not a uid (a temporary file, the evidence kept by `pam-otp repair`) is
    /// not a user's state and is skipped, and so is the decoy state ([`DECOY_UID`]). A
    /// state the module would refuse is listed as [`Inspection::Unusable`]. No state
    /// directory: an empty list.
    pub fn list(&self) -> Result<Vec<(u32, Inspection)>, StoreError> {
        let entries = match std::fs::read_dir(&self.dir) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            other => other.map_err(super::io_std("read state directory"))?,
        };
        let mut uids = Vec::new();
        for entry in entries {
            let entry = entry.map_err(super::io_std("read state directory"))?;
            if let Some(uid) = entry.file_name().to_str().and_then(uid_of) {
                if uid != DECOY_UID {
                    uids.push(uid);
                }
            }
        }
        uids.sort_unstable();
        uids.into_iter()
            .map(|uid| Ok((uid, self.inspect_uid(uid)?)))
            .collect()
    }
}

/// The uid a state file name stands for: exactly the decimal form the store writes.
fn uid_of(name: &str) -> Option<u32> {
    let uid: u32 = name.parse().ok()?;
    (uid.to_string() == name).then_some(uid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::State;
    use crate::testing::TestDir;
    use std::time::Duration;

    #[test]
    fn lists_good_corrupt_and_skips_foreign_files() {
        let t = TestDir::new();
        let dir = t.path().join("state");
        let store = FileStore::new(&dir, Duration::from_secs(1));
        assert_eq!(store.list(), Ok(Vec::new()), "no directory yet");
        let locked = State {
            failures: 2,
            locked_until: 99,
            ..State::default()
        };
        store.transact_uid(1000, &mut |_| locked.clone()).unwrap();
        store.transact_uid(7, &mut |s| s.clone()).unwrap();
        store.transact_uid(DECOY_UID, &mut |s| s.clone()).unwrap();
        std::fs::write(dir.join("1001"), b"not a state").unwrap();
        for foreign in [
            "0123",
            "+5",
            "1000.corrupt",
            ".1000.new.x",
            "4294967296",
            "alice",
        ] {
            std::fs::write(dir.join(foreign), b"x").unwrap();
        }
        std::fs::create_dir(dir.join("12")).unwrap();
        let listed = store.list().unwrap();
        let uids: Vec<u32> = listed.iter().map(|(u, _)| *u).collect();
        assert_eq!(uids, [7, 12, 1000, 1001]);
        assert_eq!(listed[0].1, Inspection::Usable(State::default()));
        assert!(
            matches!(listed[1].1, Inspection::Unusable(_)),
            "a directory"
        );
        assert_eq!(listed[2].1, Inspection::Usable(locked));
        assert!(matches!(listed[3].1, Inspection::Unusable(_)));
        // Listing changed nothing.
        assert_eq!(std::fs::read(dir.join("1001")).unwrap(), b"not a state");
    }
}
