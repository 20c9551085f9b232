//! A corrupt state file denies its user (`state_error`) and is never silently reset (a reset
//! would reopen used codes); `pam-otp repair` is the way out, and it reopens no used code
//! either. Admin commands that would need the state refuse, leave nothing half done, and say
//! to run `pam-otp repair` (audit issue 9, item 2).
//!
//! Through the built `pam-otp` and the built module under real libpam: the state file is
//! overwritten with garbage (as a disk error would leave it), then logins and the admin
//! commands are tried, then `pam-otp repair`.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};

use pam_otp_testkit::client::Client;
use pam_otp_testkit::codes::{hotp, Totp};
use pam_otp_testkit::enrolment::{enrol, fails, ok};
use pam_otp_testkit::pam_ffi::{PAM_AUTH_ERR, PAM_SUCCESS};
use pam_otp_testkit::whole_process::{enrolled, Env};
use pam_otp_testkit::write_file;

/// Overwrites the state file in place with bytes that are no state (same size, same inode).
fn corrupt(env: &Env) -> Vec<u8> {
    let garbage = vec![0xa5u8; 8192];
    std::fs::write(env.state_file(), &garbage).unwrap();
    garbage
}

/// The names in the state directory other than the user's state file.
fn evidence(env: &Env) -> Vec<String> {
    let me = env.user.uid.to_string();
    let mut names: Vec<String> = std::fs::read_dir(env.state_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| *n != me)
        .collect();
    names.sort();
    names
}

#[test]
fn corrupt_state_denies_and_is_never_reset() {
    let (env, key) = enrolled("");
    fs::create_dir(env.state_dir()).unwrap();
    fs::set_permissions(env.state_dir(), fs::Permissions::from_mode(0o700)).unwrap();
    let state_file = env.state_dir().join(env.user.uid.to_string());
    write_file(&state_file, &[0u8; 8192], 0o600);
    env.run("otp", &Client::answer(Totp::default().now(&key)))
        .expect(PAM_AUTH_ERR, "state_error")
        .expect_line_contains("corrupt");
    assert_eq!(fs::read(&state_file).unwrap(), vec![0u8; 8192]);
}

#[test]
fn corrupt_state_admin_commands_change_nothing_and_say_repair() {
    let env = Env::new();
    let service = env.otp_service("");
    let (key, _) = enrol(&env, &[]);
    env.run(service, &Client::answer(Totp::default().now(&key)))
        .expect(PAM_SUCCESS, "ok");
    let garbage = corrupt(&env);
    env.run(service, &Client::answer(Totp::default().wrong(&key)))
        .expect(PAM_AUTH_ERR, "state_error");
    let secret_before = std::fs::read(env.secret_path()).unwrap();
    let me = env.user.name.clone();

    let cases: &[&[&str]] = &[
        &["reset", "--yes", &me],
        &["unlock", &me],
        &["enroll", "--no-confirm", "--force", "--qr", "none"],
        &["recovery", "--regenerate"],
    ];
    for args in cases {
        let err = fails(&env.cli(args, ""), "pam-otp repair");
        assert!(err.contains("Nothing was changed"), "{args:?}: {err}");
        // Nothing half done: the secret file is where it was, no backup was made, and the
        // corrupt state is untouched.
        assert_eq!(
            std::fs::read(env.secret_path()).unwrap(),
            secret_before,
            "{args:?}"
        );
        assert!(!env.secret_backup().exists(), "{args:?} made a backup");
        assert_eq!(
            std::fs::read(env.state_file()).unwrap(),
            garbage,
            "{args:?}"
        );
    }
    let status = env.cli(&["status"], "");
    assert!(
        String::from_utf8_lossy(&status.stdout).contains("pam-otp repair"),
        "{}",
        String::from_utf8_lossy(&status.stdout)
    );
}

#[test]
fn repair_reopens_no_used_code_and_keeps_the_corrupt_file() {
    let env = Env::new();
    let service = env.otp_service("");
    let (key, codes) = enrol(&env, &["--recovery-codes", "3"]);
    let totp = Totp::default();
    let used = totp.now(&key);
    env.run(service, &Client::answer(&used))
        .expect(PAM_SUCCESS, "ok");
    env.run(service, &Client::answer(&codes[0]))
        .expect(PAM_SUCCESS, "ok");
    let me = env.user.name.clone();
    // A healthy state is not repaired without --force.
    let before = std::fs::read(env.state_file()).unwrap();
    fails(&env.cli(&["repair", &me], ""), "nothing to repair");
    assert_eq!(std::fs::read(env.state_file()).unwrap(), before);

    let garbage = corrupt(&env);
    let out = ok(&env.cli(&["repair", &me], ""));
    assert!(out.contains("kept as"), "{out}");
    assert!(out.contains("pam-otp recovery --regenerate"), "{out}");
    // The corrupt file is kept, private, as evidence beside the new one.
    let kept = evidence(&env);
    assert_eq!(kept.len(), 1, "{kept:?}");
    let kept_name = format!("{}.corrupt-", env.user.uid);
    assert!(kept[0].starts_with(&kept_name), "{kept:?}");
    let kept_path = env.state_dir().join(&kept[0]);
    assert_eq!(std::fs::read(&kept_path).unwrap(), garbage);
    assert_eq!(std::fs::metadata(&kept_path).unwrap().mode() & 0o077, 0);
    let meta = std::fs::metadata(env.state_file()).unwrap();
    assert_eq!((meta.len(), meta.mode() & 0o777), (8192, 0o600));

    // Nothing used before is accepted: not the TOTP code, not any listed recovery code
    // (the unused ones too: the state that knew which were spent is gone).
    env.run(service, &Client::answer(&used))
        .expect(PAM_AUTH_ERR, "replay");
    for code in &codes {
        env.run(service, &Client::answer(code))
            .expect(PAM_AUTH_ERR, "replay");
    }
    // The next time step's code works (the module accepts one step ahead).
    env.run(service, &Client::answer(totp.next(&key)))
        .expect(PAM_SUCCESS, "ok");

    // New recovery codes, generated after the repair, work.
    let out = ok(&env.cli(&["recovery", "--regenerate", "--count", "1"], ""));
    let fresh = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("1. ").map(str::to_string))
        .expect("a new recovery code");
    env.forbid(&fresh);
    env.run(service, &Client::answer(&fresh))
        .expect(PAM_SUCCESS, "ok");
}

#[test]
fn repair_of_an_hotp_user_refuses_codes_until_the_counter_is_set() {
    let env = Env::new();
    let service = env.otp_service("");
    let (key, _) = enrol(&env, &["--type", "hotp", "--recovery-codes", "0"]);
    for counter in 0..3 {
        env.run(service, &Client::answer(hotp(&key, counter)))
            .expect(PAM_SUCCESS, "ok");
    }
    corrupt(&env);
    let me = env.user.name.clone();
    let out = ok(&env.cli(&["repair", &me], ""));
    assert!(out.contains("--hotp-counter"), "{out}");
    let status = ok(&env.cli(&["status"], ""));
    assert!(status.contains("HOTP codes are refused"), "{status}");
    // The counter is lost: every code is refused, used or not, and syslog says what to do.
    for counter in [2, 3] {
        env.run(service, &Client::answer(hotp(&key, counter)))
            .expect(PAM_AUTH_ERR, "state_error")
            .expect_line_contains("pam-otp repair USER --hotp-counter N");
    }
    let status = ok(&env.cli(&["status"], ""));
    assert!(status.contains("HOTP codes are refused"), "{status}");

    // The admin sets the counter the token has reached; a lower one later is refused.
    ok(&env.cli(&["repair", &me, "--hotp-counter", "3"], ""));
    env.run(service, &Client::answer(hotp(&key, 2)))
        .expect(PAM_AUTH_ERR, "replay");
    env.run(service, &Client::answer(hotp(&key, 3)))
        .expect(PAM_SUCCESS, "ok");
    fails(
        &env.cli(&["repair", &me, "--hotp-counter", "1"], ""),
        "already known to have reached counter 4",
    );
    env.run(service, &Client::answer(hotp(&key, 1)))
        .expect(PAM_AUTH_ERR, "bad_code");
    env.run(service, &Client::answer(hotp(&key, 4)))
        .expect(PAM_SUCCESS, "ok");
}

#[test]
fn repair_covers_the_backup_a_restore_would_bring_back() {
    let env = Env::new();
    let service = env.otp_service("");
    let (old, codes) = enrol(&env, &["--recovery-codes", "1"]);
    let used = Totp::default().now(&old);
    env.run(service, &Client::answer(&used))
        .expect(PAM_SUCCESS, "ok");
    enrol(&env, &["--force"]);
    corrupt(&env);
    ok(&env.cli(&["repair", &env.user.name.clone()], ""));
    std::fs::rename(env.secret_backup(), env.secret_path()).unwrap();
    env.run(service, &Client::answer(&used))
        .expect(PAM_AUTH_ERR, "replay");
    env.run(service, &Client::answer(&codes[0]))
        .expect(PAM_AUTH_ERR, "replay");
}
