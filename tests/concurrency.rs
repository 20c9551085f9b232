//! Many processes at once on one state directory: the replay and throttling rules must hold
//! across processes, not just within one (the design brief: "every attempt is counted once, under
//! the lock"). google-authenticator-libpam accepted one fresh code up to 4 times out of 20
//! concurrent logins; here exactly one may win.
//!
//! Each client is started and held at its prompt (so libpam, the module and the secret file
//! are all loaded), then all answers are written at once, so that the processes race for the
//! state lock. Start-up is serialised (the test kit's `pam_wrapper::StartLock`); the race is not.

use std::sync::Mutex;

use pam_otp_testkit::client::{Client, Conv, Outcome};
use pam_otp_testkit::codes::{hotp, now, Key, Totp};
use pam_otp_testkit::pam_ffi::{PAM_AUTH_ERR, PAM_SUCCESS};
use pam_otp_testkit::whole_process::{Env, Pending};

/// Clients per round of the same-code race.
const SAME_CODE_CLIENTS: usize = 16;
/// Rounds of the same-code race, each with a fresh secret and state directory.
const SAME_CODE_ROUNDS: usize = 20;
/// Clients guessing at once in the throttling races.
const GUESSERS: usize = 12;

/// The tests here are run one at a time: each one wants the machine for its race.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn exclusive() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Starts `answers.len()` clients on `service`, releases them together, and returns their
/// outcomes in the order of `answers`.
fn race(env: &Env, service: &str, answers: &[String]) -> Vec<Outcome> {
    let mut pending: Vec<Pending> = answers
        .iter()
        .map(|_| env.start(service, &Client::new(Conv::Stdin)))
        .collect();
    for (p, answer) in pending.iter_mut().zip(answers) {
        env.send(p, answer);
    }
    pending
        .into_iter()
        .zip(answers)
        .map(|(p, answer)| env.collect(p, answer))
        .collect()
}

/// The sorted (code, reason) pairs; the surprising lines are printed for a failure message.
fn tally(outcomes: &[Outcome]) -> Vec<(i32, &str)> {
    let mut seen: Vec<(i32, &str)> = outcomes.iter().map(|o| (o.code, o.reason())).collect();
    seen.sort_unstable();
    for o in outcomes {
        if !matches!(o.reason(), "ok" | "replay" | "bad_code" | "locked") {
            eprintln!("unexpected: {}", o.line());
        }
    }
    seen
}

fn expected(groups: &[(usize, i32, &'static str)]) -> Vec<(i32, &'static str)> {
    let mut all: Vec<(i32, &str)> = groups
        .iter()
        .flat_map(|&(n, code, reason)| std::iter::repeat_n((code, reason), n))
        .collect();
    all.sort_unstable();
    all
}

#[test]
fn same_fresh_totp_code_from_many_processes_is_accepted_once() {
    let _one = exclusive();
    for round in 0..SAME_CODE_ROUNDS {
        let env = Env::new();
        let key = Key::random(20);
        env.write_secret(&key, "");
        // Replays count as failures; a high limit keeps every loser a plain replay.
        env.otp_service("max_failures=100");
        let code = Totp::default().now(&key);
        let outcomes = race(&env, "otp", &vec![code; SAME_CODE_CLIENTS]);
        assert_eq!(
            tally(&outcomes),
            expected(&[
                (1, PAM_SUCCESS, "ok"),
                (SAME_CODE_CLIENTS - 1, PAM_AUTH_ERR, "replay")
            ]),
            "round {round}"
        );
        let state = env.state();
        assert!(state.last_step.is_some(), "round {round}: {state:?}");
        assert_eq!(
            state.failures as usize,
            SAME_CODE_CLIENTS - 1,
            "round {round}: every replay after the success is counted"
        );
    }
}

#[test]
fn same_hotp_code_from_many_processes_is_accepted_once() {
    let _one = exclusive();
    let env = Env::new();
    let key = Key::fixed(20);
    env.write_secret(&key, "type = hotp\n");
    env.otp_service("max_failures=100");
    for counter in 0..3 {
        let outcomes = race(&env, "otp", &vec![hotp(&key, counter); SAME_CODE_CLIENTS]);
        assert_eq!(
            tally(&outcomes),
            expected(&[
                (1, PAM_SUCCESS, "ok"),
                (SAME_CODE_CLIENTS - 1, PAM_AUTH_ERR, "replay")
            ]),
            "counter {counter}"
        );
        assert_eq!(env.state().hotp_next, Some(counter + 1));
    }
}

#[test]
fn concurrent_wrong_codes_are_each_counted() {
    let _one = exclusive();
    let env = Env::new();
    let key = Key::random(20);
    env.write_secret(&key, "");
    env.otp_service("max_failures=100");
    let wrong = Totp::default().wrong(&key);
    for round in 1..=2 {
        let outcomes = race(&env, "otp", &vec![wrong.clone(); GUESSERS]);
        assert_eq!(
            tally(&outcomes),
            expected(&[(GUESSERS, PAM_AUTH_ERR, "bad_code")]),
        );
        assert_eq!(
            env.state().failures as usize,
            round * GUESSERS,
            "no failure may be lost between processes"
        );
        // Each process saw a distinct count: the read-count-write was never interleaved.
        let mut counts: Vec<String> = outcomes
            .iter()
            .map(|o| {
                let line = o.line();
                let start = line.find('(').expect("count in the line");
                line[start..].to_string()
            })
            .collect();
        counts.sort_unstable();
        counts.dedup();
        assert_eq!(counts.len(), GUESSERS, "{counts:?}");
    }
}

#[test]
fn concurrent_guessers_trip_the_lockout_exactly_once() {
    let _one = exclusive();
    let env = Env::new();
    let key = Key::random(20);
    env.write_secret(&key, "");
    let max_failures = 5;
    env.otp_service(&format!("max_failures={max_failures} lockout=300"));
    let wrong = Totp::default().wrong(&key);
    let outcomes = race(&env, "otp", &vec![wrong; GUESSERS]);
    assert_eq!(
        tally(&outcomes),
        expected(&[
            (max_failures, PAM_AUTH_ERR, "bad_code"),
            (GUESSERS - max_failures, PAM_AUTH_ERR, "locked"),
        ]),
    );
    let lockouts = outcomes
        .iter()
        .filter(|o| o.line().contains("locked out for 300 s"))
        .count();
    assert_eq!(lockouts, 1);
    let state = env.state();
    assert_eq!(state.lockouts, 1, "{state:?}");
    assert!(state.locked_until > now(), "{state:?}");
    // Locked: the right code is refused too.
    env.run("otp", &Client::answer(Totp::default().now(&key)))
        .expect(PAM_AUTH_ERR, "locked");
}
