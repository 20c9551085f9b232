//! `pam-otp metrics` after real logins through the built module: the Prometheus exposition
//! counts them, and `promtool` (Debian: prometheus) accepts it and the shipped alert rules.
//! Without promtool the promtool checks are skipped, except under CI (env CI set), where
//! they fail.

use std::path::Path;
use std::process::{Command, Stdio};

use pam_otp_testkit::client::Client;
use pam_otp_testkit::codes::Totp;
use pam_otp_testkit::pam_ffi::PAM_AUTH_ERR;
use pam_otp_testkit::whole_process::enrolled;

use crate::harness::*;

/// Whether promtool can run; under CI its absence fails the test.
fn promtool() -> bool {
    let there = Command::new("promtool")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !there {
        assert!(
            std::env::var_os("CI").is_none(),
            "promtool is missing under CI: install the Debian package prometheus (scripts/install-deps.sh)"
        );
        eprintln!("promtool not installed (Debian: prometheus): its checks are skipped");
    }
    there
}

fn sample(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no sample {name} in:\n{text}"))
}

#[test]
fn metrics_count_real_logins_and_promtool_accepts_them() {
    let (env, key) = enrolled("max_failures=2");
    let totp = Totp::default();
    env.run("otp", &Client::answer(totp.now(&key)))
        .expect(0, "ok");
    let wrong = totp.wrong(&key);
    for _ in 0..2 {
        env.run("otp", &Client::answer(wrong.clone()))
            .expect(PAM_AUTH_ERR, "bad_code");
    }
    env.run("otp", &Client::answer(wrong))
        .expect(PAM_AUTH_ERR, "locked");
    let text = ok(env.cli(&["metrics"], ""));
    assert_eq!(sample(&text, "pam_otp_logins_total{outcome=\"ok\"}"), 1);
    assert_eq!(
        sample(&text, "pam_otp_logins_total{outcome=\"bad_code\"}"),
        2
    );
    assert_eq!(sample(&text, "pam_otp_logins_total{outcome=\"locked\"}"), 1);
    assert_eq!(sample(&text, "pam_otp_lockouts_total"), 1);
    assert_eq!(sample(&text, "pam_otp_users_locked"), 1);
    assert_eq!(sample(&text, "pam_otp_enrolled_users{type=\"totp\"}"), 1);
    assert_eq!(sample(&text, "pam_otp_enrolled_users{type=\"hotp\"}"), 0);
    assert!(text.contains("# TYPE pam_otp_deliveries_total counter"));

    if promtool() {
        let mut child = Command::new("promtool")
            .args(["check", "metrics"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "promtool check metrics:\n{}{}\n{text}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn the_shipped_alert_rules_are_valid() {
    let rules =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../contrib/prometheus/pam_otp.rules.yml");
    assert!(rules.exists(), "{}", rules.display());
    if promtool() {
        let out = Command::new("promtool")
            .args(["check", "rules"])
            .arg(&rules)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
