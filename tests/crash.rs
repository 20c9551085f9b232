//! Crash safety of the state store: a process SIGKILLed at any moment while saving leaves
//! the old or the new state, never a torn one, and no used code becomes usable again.
//!
//! Two child loops are killed at random moments: one saving through the library
//! (`FileStore::transact`, so nearly every kill lands inside a write or `fdatasync`), one
//! logging in through the real module with libpam. A third test goes further than SIGKILL
//! can (the kernel finishes a small write it has started): it builds every torn and
//! partially written version of a save, as a power cut could leave it, and reads each back.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use pam_otp_core::state::State;
use pam_otp_core::store::{encode_slot, newest_slot, FileStore, StateKey, StateStore};
use pam_otp_testkit::child_process::{child, child_mode};
use pam_otp_testkit::in_process::{hotp, pam_login, Fixture};
use pam_otp_testkit::names_in;
use pam_otp_testkit::pam_ffi::{PAM_AUTH_ERR, PAM_SUCCESS};
use pam_otp_testkit::users::current_user;

const KILLS: usize = 100;

/// A small deterministic generator (xorshift), seeded from the clock and printed, so that a
/// failing run can be repeated with PROVE_SEED.
struct Rng(u64);

impl Rng {
    fn new() -> Rng {
        let seed = std::env::var("PROVE_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
                    | 1
            });
        eprintln!("PROVE_SEED={seed}");
        Rng(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Starts a child in `mode`, waits for its first progress line, lets it run for a random
/// time, SIGKILLs it, and returns the last number it reported as done (None: none).
fn run_and_kill(f: &Fixture, mode: &str, rng: &mut Rng) -> Option<u64> {
    let mut proc = child(mode)
        .env("PROVE_DIR", f.dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn the saving child");
    let mut out = BufReader::new(proc.stdout.take().unwrap());
    // libtest prints its own lines too; ours start with "PROVE ".
    loop {
        let mut line = String::new();
        let n = out.read_line(&mut line).unwrap();
        assert!(n > 0, "the child ended before it was ready");
        if line.trim() == "PROVE ready" {
            break;
        }
    }
    std::thread::sleep(Duration::from_micros(rng.below(20_000)));
    proc.kill().unwrap();
    let status = proc.wait().unwrap();
    assert!(!status.success(), "the child ended by itself: {status}");
    let mut last = None;
    for l in out.lines() {
        if let Some(n) = l.unwrap().strip_prefix("PROVE done ") {
            last = Some(n.parse().unwrap());
        }
    }
    last
}

#[test]
fn sigkill_while_saving_leaves_old_or_new_state() {
    let f = Fixture::new("crash-store", "");
    let store = FileStore::new(f.state_dir(), Duration::from_secs(5));
    let mut rng = Rng::new();
    let mut before = store.load(f.uid).unwrap().failures;
    let mut kills_mid_save = 0;
    for _ in 0..KILLS {
        let reported = run_and_kill(&f, "save", &mut rng).unwrap_or(u64::from(before));
        // Never torn: the file decodes (load fails on a corrupt file and never resets it).
        let after = store
            .load(f.uid)
            .expect("state readable after SIGKILL")
            .failures;
        // Old or new: what the child last confirmed, or the one save after it that was
        // under way (and may or may not have reached the file) when it was killed.
        assert!(
            u64::from(after) == reported || u64::from(after) == reported + 1,
            "after SIGKILL the state is {after}, the child had confirmed {reported}"
        );
        if u64::from(after) == reported + 1 {
            kills_mid_save += 1;
        }
        assert!(after >= before, "state went backwards");
        before = after;
        assert_eq!(names_in(&f.state_dir()), [f.uid.to_string()], "stray files");
    }
    eprintln!("{KILLS} kills, {kills_mid_save} after a save reached the file unconfirmed");
}

#[test]
fn sigkill_during_module_logins_never_reopens_a_used_code() {
    let f = Fixture::new("crash-module", "");
    let mut rng = Rng::new();
    // Counter of the last code the module accepted (None: no code used yet).
    let mut used: Option<u64> = None;
    for _ in 0..KILLS / 2 {
        if let Some(n) = run_and_kill(&f, "login", &mut rng) {
            used = Some(n);
        }
        let state = f.state();
        let next = state.hotp_next.unwrap_or(0);
        // Old or new: the child may have been killed after a success it did not report.
        let confirmed_next = used.map_or(0, |n| n + 1);
        assert!(
            next == confirmed_next || next == confirmed_next + 1,
            "hotp_next {next}, confirmed {confirmed_next}"
        );
        assert_eq!(state.failures, 0, "no failure was ever recorded");
        // Every code up to the stored counter is spent, confirmed or not: replays refused.
        for spent in next.saturating_sub(2)..next {
            assert_eq!(f.login(&hotp(spent)), PAM_AUTH_ERR, "code {spent} replayed");
        }
        // And the store still works: the next code is accepted.
        assert_eq!(f.login(&hotp(next)), PAM_SUCCESS);
        used = Some(next);
        assert_eq!(names_in(&f.state_dir()), [f.uid.to_string()], "stray files");
    }
}

#[test]
fn every_torn_or_partial_save_reads_as_old_or_new() {
    let old = State {
        hotp_next: Some(41),
        failures: 2,
        ..State::default()
    };
    let new = State {
        hotp_next: Some(42),
        spent: vec![[7; 8]; 3],
        ..State::default()
    };
    let older = State {
        hotp_next: Some(40),
        ..State::default()
    };
    // Slot 0 holds the current state (sequence 9), slot 1 the one before (sequence 8);
    // the save writes sequence 10 into slot 1.
    let mut image = vec![0u8; 8192];
    let current = encode_slot(9, &old);
    image[..current.len()].copy_from_slice(&current);
    let previous = encode_slot(8, &older);
    image[4096..4096 + previous.len()].copy_from_slice(&previous);
    let incoming = encode_slot(10, &new);
    let read = |img: &[u8]| newest_slot(img).map(|(_, _, s)| s);
    assert_eq!(read(&image), Some(old.clone()));

    // Every prefix of the write (a cut at any byte), and the write landing back to front.
    // A version counts as the new state only if every byte of the save is in place (bytes
    // the save writes may already hold the same value, such as the magic).
    let expect = |img: &[u8]| {
        if img[4096..4096 + incoming.len()] == incoming[..] {
            new.clone()
        } else {
            old.clone()
        }
    };
    for cut in 0..=incoming.len() {
        let mut torn = image.clone();
        torn[4096..4096 + cut].copy_from_slice(&incoming[..cut]);
        assert_eq!(read(&torn), Some(expect(&torn)), "prefix of {cut} bytes");
        let mut tail = image.clone();
        let from = incoming.len() - cut;
        tail[4096 + from..4096 + incoming.len()].copy_from_slice(&incoming[from..]);
        assert_eq!(read(&tail), Some(expect(&tail)), "suffix of {cut} bytes");
    }
    // Any subset of the bytes written (a device reordering writes), 20,000 random subsets.
    let mut rng = Rng::new();
    for _ in 0..20_000 {
        let mut partial = image.clone();
        for (i, byte) in incoming.iter().enumerate() {
            if rng.below(4) != 0 {
                partial[4096 + i] = *byte;
            }
        }
        assert_eq!(
            read(&partial),
            Some(expect(&partial)),
            "a partial save was taken"
        );
    }
}

/// Does nothing unless started as a child by one of the tests above.
#[test]
fn child_process_entry() {
    let Some(mode) = child_mode() else {
        return;
    };
    let dir = std::path::PathBuf::from(std::env::var("PROVE_DIR").unwrap());
    let me = current_user();
    let (user, uid) = (me.name, me.uid);
    let deadline = Instant::now() + Duration::from_secs(30);
    println!("PROVE ready");
    match mode.as_str() {
        // Save after save through the store, reporting each one once it returned.
        "save" => {
            let store = FileStore::new(dir.join("state"), Duration::from_secs(5));
            while Instant::now() < deadline {
                let mut saved = 0;
                store
                    .transact(
                        StateKey {
                            uid,
                            name: "test-user",
                        },
                        &mut |s| {
                            saved = s.failures + 1;
                            State {
                                failures: saved,
                                ..s.clone()
                            }
                        },
                    )
                    .expect("save");
                println!("PROVE done {saved}");
            }
        }
        // Logins through the module with the next code, reporting each accepted counter.
        "login" => {
            let store = FileStore::new(dir.join("state"), Duration::from_secs(5));
            let mut counter = store.load(uid).expect("state").hotp_next.unwrap_or(0);
            while Instant::now() < deadline {
                let rc = pam_login(Some(&dir.join("services")), "otp", &user, &hotp(counter));
                assert_eq!(rc, PAM_SUCCESS, "login with counter {counter}");
                println!("PROVE done {counter}");
                counter += 1;
            }
        }
        other => panic!("unknown child mode {other}"),
    }
    panic!("the child was not killed within 30 s");
}
