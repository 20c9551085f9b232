//! The store's crash-safety and safety checks, without root.

use super::*;
use std::fs;
use std::os::unix::fs::PermissionsExt;

use crate::testing::TestDir;

/// The key of the state file named `uid`.
fn key(uid: u32) -> StateKey<'static> {
    StateKey {
        uid,
        name: "test-user",
    }
}

fn store(dir: &Path) -> FileStore {
    FileStore::new(dir.join("state"), Duration::from_millis(300))
}

fn bump(s: &State) -> State {
    State {
        failures: s.failures + 1,
        ..s.clone()
    }
}

#[test]
fn creates_directory_and_file_privately_and_counts() {
    let t = TestDir::tagged("store");
    let st = store(t.path());
    for want in 1..=5 {
        assert_eq!(st.transact(key(1000), &mut bump).unwrap().failures, want);
    }
    assert_eq!(st.load(1000).unwrap().failures, 5);
    let dir_mode = fs::metadata(t.join("state")).unwrap().permissions().mode() & 0o777;
    assert_eq!(dir_mode, 0o700);
    let file = fs::metadata(t.join("state/1000")).unwrap();
    assert_eq!(file.permissions().mode() & 0o777, 0o600);
    assert_eq!(file.len(), FILE_SIZE as u64);
    // No temporary files are left behind.
    let names: Vec<_> = fs::read_dir(t.join("state"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("1000")]);
}

#[test]
fn torn_newer_slot_falls_back_to_older() {
    let t = TestDir::tagged("store");
    let st = store(t.path());
    st.transact(key(7), &mut bump).unwrap(); // seq 2 in slot 1, failures 1
    st.transact(key(7), &mut bump).unwrap(); // seq 3 in slot 0, failures 2
    let path = t.join("state/7");
    let mut image = fs::read(&path).unwrap();
    // Tear the newest slot (slot 0) halfway through its payload.
    image[HEADER_LEN + 5] ^= 0xff;
    fs::write(&path, &image).unwrap();
    assert_eq!(st.load(7).unwrap().failures, 1);
}

#[test]
fn every_torn_prefix_of_a_save_reads_old_or_new() {
    let old = State {
        failures: 1,
        ..State::default()
    };
    let new = State {
        failures: 2,
        last_step: Some(99),
        ..State::default()
    };
    let mut image = vec![0u8; FILE_SIZE];
    let old_slot = encode_slot(5, &old);
    image[..old_slot.len()].copy_from_slice(&old_slot);
    let new_slot = encode_slot(6, &new);
    for cut in 0..=new_slot.len() {
        let mut torn = image.clone();
        torn[SLOT_SIZE..SLOT_SIZE + cut].copy_from_slice(&new_slot[..cut]);
        let (_, _, got) = newest_slot(&torn).unwrap();
        let want = if cut == new_slot.len() { &new } else { &old };
        assert_eq!(&got, want, "cut at {cut}");
    }
}

#[test]
fn corrupt_file_is_refused_not_reset() {
    let t = TestDir::tagged("store");
    let st = store(t.path());
    st.transact(key(8), &mut bump).unwrap();
    let path = t.join("state/8");
    fs::write(&path, vec![0x55u8; FILE_SIZE]).unwrap();
    assert_eq!(st.transact(key(8), &mut bump), Err(StoreError::Corrupt));
    assert_eq!(
        fs::read(&path).unwrap(),
        vec![0x55u8; FILE_SIZE],
        "file left as found"
    );
    fs::write(&path, b"short").unwrap();
    assert_eq!(st.load(8), Err(StoreError::Corrupt));
}

#[test]
fn unsafe_directory_and_files_are_refused() {
    let t = TestDir::tagged("store");
    let st = store(t.path());
    fs::create_dir(t.join("state")).unwrap();
    fs::set_permissions(t.join("state"), fs::Permissions::from_mode(0o777)).unwrap();
    assert!(matches!(st.load(1), Err(StoreError::Unsafe(_))));
    fs::set_permissions(t.join("state"), fs::Permissions::from_mode(0o700)).unwrap();

    std::os::unix::fs::symlink("/etc/passwd", t.join("state/2")).unwrap();
    assert_eq!(
        st.load(2),
        Err(StoreError::Unsafe("state file is a symbolic link"))
    );

    st.load(3).unwrap();
    fs::hard_link(t.join("state/3"), t.join("extra-link")).unwrap();
    assert!(matches!(st.load(3), Err(StoreError::Unsafe(_))));

    let link_dir = t.join("linked-state");
    std::os::unix::fs::symlink(t.join("state"), &link_dir).unwrap();
    let via_link = FileStore::new(&link_dir, Duration::from_millis(100));
    assert!(matches!(via_link.load(4), Err(StoreError::Unsafe(_))));
}

#[test]
fn held_lock_times_out() {
    let t = TestDir::tagged("store");
    let st = store(t.path());
    st.load(9).unwrap();
    let holder = File::open(t.join("state/9")).unwrap();
    holder.lock().unwrap();
    let started = Instant::now();
    assert_eq!(st.transact(key(9), &mut bump), Err(StoreError::LockTimeout));
    assert!(started.elapsed() < Duration::from_secs(5));
    drop(holder);
    assert_eq!(st.transact(key(9), &mut bump).unwrap().failures, 1);
}

#[test]
fn unchanged_state_is_not_rewritten() {
    let t = TestDir::tagged("store");
    let st = store(t.path());
    st.transact(key(10), &mut bump).unwrap();
    let before = fs::read(t.join("state/10")).unwrap();
    st.load(10).unwrap();
    assert_eq!(fs::read(t.join("state/10")).unwrap(), before);
}
