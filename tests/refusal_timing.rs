//! Refusals cost the same whoever is refused: a wrong code for an enrolled user costs a
//! durable state save (one `fdatasync`), so a refusal of a user without a secret must cost
//! one too, or response time tells who is enrolled (audit issue 9, timing). Through the
//! built module and real libpam (in-process `pam_start_confdir` transactions, the test kit's
//! `in_process`).
//!
//! [`refused_login_time_by_reason`] is a measurement, not a pass/fail test: it prints the
//! numbers and is `#[ignore]`d. Run it with the state directory on a real disk (the temp
//! dir; `TMPDIR=/dev/shm` shows the CPU-only difference):
//!
//! ```text
//! cargo test --release --test refusal_timing -- --ignored --nocapture
//! ```

use std::path::Path;
use std::time::Instant;

use pam_otp_testkit::in_process::{hotp, pam_login, wrong_code, Fixture};
use pam_otp_testkit::pam_ffi::{PAM_AUTH_ERR, PAM_SUCCESS};

/// The state file no account has (uid `(uid_t)-1`), written on refusals of users without
/// a secret (pam_otp(8), FILES).
const DECOY: &str = "4294967295";

/// The sequence number of the newest copy in a state file (`None`: no file yet).
fn newest_seq(path: &Path) -> Option<u64> {
    let image = std::fs::read(path).ok()?;
    pam_otp_core::store::newest_slot(&image).map(|(_, seq, _)| seq)
}

#[test]
fn refusing_a_user_without_a_secret_costs_a_durable_save_too() {
    let f = Fixture::new("decoy", "");
    f.service("nullok", "nullok");
    let decoy = f.state_dir().join(DECOY);
    let other = unenrolled_account();
    let dir = f.services_dir();

    // An enrolled user's wrong code: one save of the user's state.
    let wrong = wrong_code(10);
    assert_eq!(f.login(&wrong), PAM_AUTH_ERR);
    let mine = newest_seq(&f.state_file(f.uid));
    assert!(mine.is_some());

    // No such user, then an account without a secret: one save each, of the decoy.
    assert_eq!(
        pam_login(Some(&dir), "otp", "pam-otp-no-such-user", &wrong),
        PAM_AUTH_ERR
    );
    let first = newest_seq(&decoy).unwrap_or_else(|| {
        panic!(
            "refusing an unknown user wrote no state ({} has {:?})",
            f.state_dir().display(),
            pam_otp_testkit::names_in(&f.state_dir())
        )
    });
    assert_eq!(pam_login(Some(&dir), "otp", &other, &wrong), PAM_AUTH_ERR);
    assert_eq!(newest_seq(&decoy), Some(first + 1));
    // The enrolled user's state is untouched by either.
    assert_eq!(newest_seq(&f.state_file(f.uid)), mine);

    // With nullok a user without a secret is not asked (which already tells), so no save.
    assert_ne!(pam_login(Some(&dir), "nullok", &other, &wrong), PAM_SUCCESS);
    assert_eq!(newest_seq(&decoy), Some(first + 1));
}

/// Rounds; each round runs every case once, in turn, so machine noise hits all alike.
const ROUNDS: usize = 400;

/// An account that exists but has no secret in the fixture's store.
fn unenrolled_account() -> String {
    ["daemon", "bin", "sys", "nobody"]
        .into_iter()
        .find(|n| pam_otp_core::userdb::lookup(n).ok().flatten().is_some())
        .expect("a system account")
        .to_string()
}

fn summary(name: &str, mut us: Vec<f64>) -> f64 {
    us.sort_by(f64::total_cmp);
    let at = |p: f64| us[((us.len() - 1) as f64 * p) as usize];
    println!(
        "{name:<34} median {:>8.1} µs   p10 {:>8.1}   p90 {:>8.1}",
        at(0.5),
        at(0.1),
        at(0.9)
    );
    at(0.5)
}

#[test]
#[ignore = "measurement: prints timings; run with --ignored --nocapture"]
fn refused_login_time_by_reason() {
    let f = Fixture::new("timing", "max_failures=100");
    let other = unenrolled_account();
    let wrong = wrong_code(ROUNDS as u64 + 10);
    let dir = f.services_dir();
    let mut counter = 0;
    assert_eq!(f.login(&hotp(counter)), PAM_SUCCESS);
    counter += 1;

    let (mut bad_code, mut unknown, mut no_secret, mut ok) = (vec![], vec![], vec![], vec![]);
    let time = |out: &mut Vec<f64>, user: &str, code: &str, want: i32| {
        let start = Instant::now();
        let rc = pam_login(Some(&dir), "otp", user, code);
        out.push(start.elapsed().as_secs_f64() * 1e6);
        assert_eq!(rc, want, "{user}");
    };
    for _ in 0..ROUNDS {
        time(&mut bad_code, &f.user, &wrong, PAM_AUTH_ERR);
        time(&mut unknown, "pam-otp-no-such-user", &wrong, PAM_AUTH_ERR);
        time(&mut no_secret, &other, &wrong, PAM_AUTH_ERR);
        // A success resets the failure count, so max_failures is never reached.
        time(&mut ok, &f.user, &hotp(counter), PAM_SUCCESS);
        counter += 1;
    }
    let fs = std::process::Command::new("stat")
        .args(["-f", "-c", "%T"])
        .arg(f.state_dir())
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    println!(
        "state dir {} ({fs}), {ROUNDS} rounds",
        f.state_dir().display()
    );
    let b = summary("enrolled, wrong code (bad_code)", bad_code);
    let u = summary("unknown user (unknown_user)", unknown);
    let n = summary(&format!("{other}, no secret (no_secret)"), no_secret);
    summary("enrolled, right code (ok)", ok);
    println!(
        "bad_code - unknown_user: {:.1} µs; bad_code - no_secret: {:.1} µs",
        b - u,
        b - n
    );
}

#[test]
#[ignore = "measurement: prints libpam's failure delays; run with --ignored --nocapture"]
fn libpam_fail_delay_by_start_second() {
    // Why pam_fail_delay (pam_unix's 2 s, pam_faildelay) does not hide the difference on
    // Linux-PAM before 1.6.0 (Debian 12 has 1.5.2): the randomised delay comes from a
    // generator seeded with the start time in whole seconds, so every failure started in the
    // same second sleeps exactly as long, and is slept after the stack, not up to a deadline.
    let f = Fixture::new("faildelay", "");
    let module = std::fs::read_to_string(f.services_dir().join("otp")).unwrap();
    std::fs::write(
        f.services_dir().join("delayed"),
        format!("auth optional pam_faildelay.so delay=200000\n{module}"),
    )
    .unwrap();
    let dir = f.services_dir();
    for _ in 0..12 {
        let second = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let start = Instant::now();
        let rc = pam_login(Some(&dir), "delayed", "pam-otp-no-such-user", "000000");
        let elapsed = start.elapsed();
        assert_eq!(rc, PAM_AUTH_ERR);
        println!("started in second {second}: refused after {elapsed:?}");
    }
}
