//! Replay races: many logins at the same instant with the same fresh code must give exactly
//! one success. Threads in one process, each with its own PAM handle (libpam loads the module
//! per transaction, as in sshd or sudo); the store's `flock` contends per open file
//! description, so threads race exactly as processes do.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Barrier;
use std::time::Instant;

use pam_otp_testkit::in_process::{hotp, Fixture};
use pam_otp_testkit::pam_ffi::{PAM_AUTH_ERR, PAM_SUCCESS};

const ROUNDS: u64 = 1000;
const CONCURRENT: usize = 16;
/// Independent state directories raced at the same time, each for ROUNDS / GROUPS rounds.
/// Contended logins spend most of their time waiting for the lock, not computing, so
/// running groups side by side keeps the test short without weakening any round.
const GROUPS: u64 = 8;

/// One group: ROUNDS / GROUPS rounds of CONCURRENT simultaneous logins with the same code.
fn race_group(group: u64) {
    // Each round leaves 15 refusals; a high max_failures keeps them from locking the
    // account, so every round is a real race between valid-looking attempts.
    let f = Fixture::new(&format!("races{group}"), "max_failures=100");
    let rounds = ROUNDS / GROUPS;
    let start = Barrier::new(CONCURRENT + 1);
    let done = Barrier::new(CONCURRENT + 1);
    let successes = AtomicUsize::new(0);
    let refusals = AtomicUsize::new(0);
    let others = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..CONCURRENT {
            s.spawn(|| {
                for round in 0..rounds {
                    let code = hotp(round);
                    start.wait();
                    match f.login(&code) {
                        PAM_SUCCESS => successes.fetch_add(1, Ordering::SeqCst),
                        PAM_AUTH_ERR => refusals.fetch_add(1, Ordering::SeqCst),
                        _ => others.fetch_add(1, Ordering::SeqCst),
                    };
                    done.wait();
                }
            });
        }
        for round in 0..rounds {
            start.wait();
            done.wait();
            let ok = successes.swap(0, Ordering::SeqCst);
            let refused = refusals.swap(0, Ordering::SeqCst);
            let other = others.swap(0, Ordering::SeqCst);
            assert_eq!(
                (ok, refused, other),
                (1, CONCURRENT - 1, 0),
                "group {group} round {round}: successes, refusals, other return codes"
            );
        }
    });
    let state = f.state();
    assert_eq!(state.hotp_next, Some(rounds), "one counter step per round");
    assert_eq!(
        state.failures,
        CONCURRENT as u32 - 1,
        "every refusal was counted"
    );
}

#[test]
fn same_fresh_code_16_at_once_1000_rounds_exactly_one_success_each() {
    let started = Instant::now();
    std::thread::scope(|s| {
        let groups: Vec<_> = (0..GROUPS)
            .map(|g| s.spawn(move || race_group(g)))
            .collect();
        for g in groups {
            g.join().expect("a race group failed");
        }
    });
    eprintln!(
        "{ROUNDS} rounds of {CONCURRENT} concurrent logins in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}
