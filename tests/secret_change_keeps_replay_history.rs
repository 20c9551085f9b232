//! Changing the secret must not erase the replay history of the old one (audit issue 9,
//! item 1). An admin who replaces a secret (`pam-otp reset`, `pam-otp enroll --force`) and
//! later puts the backup back must not make its used codes and spent recovery codes valid
//! again, whatever happened in between (here: one wrong code typed against the new secret).
//!
//! Everything goes through the built `pam-otp` and the built module under real libpam.

use pam_otp_testkit::client::Client;
use pam_otp_testkit::codes::{hotp, Totp};
use pam_otp_testkit::enrolment::{enrol, ok};
use pam_otp_testkit::pam_ffi::{PAM_AUTH_ERR, PAM_SUCCESS};
use pam_otp_testkit::whole_process::Env;

/// A → B → A: `reset`, `enroll --force` (B), one wrong code for B, the backup of A put back.
fn replace_then_restore(env: &Env, service: &str, extra: &[&str]) {
    let me = env.user.name.clone();
    ok(&env.cli(&["reset", "--yes", &me], ""));
    assert!(env.secret_backup().exists());
    let mut args = vec!["--force"];
    args.extend_from_slice(extra);
    let (b, _) = enrol(env, &args);
    let wrong = if extra.contains(&"hotp") {
        // Not one of the codes the module looks ahead to.
        let near: Vec<String> = (0..8).map(|c| hotp(&b, c)).collect();
        ["000000", "111111", "222222"]
            .into_iter()
            .find(|c| !near.iter().any(|n| n == c))
            .unwrap()
            .to_string()
    } else {
        Totp::default().wrong(&b)
    };
    env.run(service, &Client::answer(wrong))
        .expect(PAM_AUTH_ERR, "bad_code");
    std::fs::rename(env.secret_backup(), env.secret_path()).unwrap();
}

#[test]
fn spent_recovery_code_stays_spent_after_the_old_secret_comes_back() {
    let env = Env::new();
    let service = env.otp_service("");
    let (_, codes) = enrol(&env, &["--recovery-codes", "2"]);
    env.run(service, &Client::answer(&codes[0]))
        .expect(PAM_SUCCESS, "ok");
    replace_then_restore(&env, service, &[]);
    env.run(service, &Client::answer(&codes[0]))
        .expect(PAM_AUTH_ERR, "replay");
    // The code that was never used still works, once.
    env.run(service, &Client::answer(&codes[1]))
        .expect(PAM_SUCCESS, "ok");
    env.run(service, &Client::answer(&codes[1]))
        .expect(PAM_AUTH_ERR, "replay");
}

#[test]
fn used_hotp_code_stays_used_after_the_old_secret_comes_back() {
    let env = Env::new();
    let service = env.otp_service("");
    let (a, _) = enrol(&env, &["--type", "hotp"]);
    env.run(service, &Client::answer(hotp(&a, 0)))
        .expect(PAM_SUCCESS, "ok");
    env.run(service, &Client::answer(hotp(&a, 1)))
        .expect(PAM_SUCCESS, "ok");
    replace_then_restore(&env, service, &["--type", "hotp"]);
    for used in [0, 1] {
        let o = env.run(service, &Client::answer(hotp(&a, used)));
        assert_eq!(o.code, PAM_AUTH_ERR, "HOTP counter {used} accepted again");
    }
    env.run(service, &Client::answer(hotp(&a, 2)))
        .expect(PAM_SUCCESS, "ok");
}

#[test]
fn used_totp_code_stays_used_after_the_old_secret_comes_back() {
    let env = Env::new();
    let service = env.otp_service("");
    let (a, _) = enrol(&env, &[]);
    let code = Totp::default().now(&a);
    env.run(service, &Client::answer(&code))
        .expect(PAM_SUCCESS, "ok");
    replace_then_restore(&env, service, &[]);
    env.run(service, &Client::answer(&code))
        .expect(PAM_AUTH_ERR, "replay");
}

#[test]
fn a_secret_older_than_the_remembered_ones_is_treated_as_used() {
    // pam-otp keeps the full history of the last MAX_SECRETS secrets; one replaced more
    // often than that since is treated as fully used, never as new.
    let env = Env::new();
    let service = env.otp_service("");
    let (a, codes) = enrol(&env, &["--recovery-codes", "2"]);
    let totp = Totp::default();
    let used = totp.now(&a);
    env.run(service, &Client::answer(&used))
        .expect(PAM_SUCCESS, "ok");
    let a_file = std::fs::read(env.secret_path()).unwrap();
    for _ in 0..pam_otp_core::state::MAX_SECRETS {
        let (b, _) = enrol(&env, &["--force"]);
        env.run(service, &Client::answer(totp.now(&b)))
            .expect(PAM_SUCCESS, "ok");
    }
    pam_otp_testkit::write_file(&env.secret_path(), &a_file, 0o600);
    let status = ok(&env.cli(&["status"], ""));
    assert!(status.contains("history was dropped"), "{status}");
    assert!(status.contains("0 of 2 unused"), "{status}");
    env.run(service, &Client::answer(&used))
        .expect(PAM_AUTH_ERR, "replay");
    // Not even the recovery code never used: which were spent is no longer known.
    for code in &codes {
        env.run(service, &Client::answer(code))
            .expect(PAM_AUTH_ERR, "replay");
    }
    // A time-based code newer than every code accepted so far still works.
    env.run(service, &Client::answer(totp.next(&a)))
        .expect(PAM_SUCCESS, "ok");
}
