//! Codes a provider makes and checks itself (Twilio Verify, Vonage Verify, Arkesel OTP), as
//! the built module sees them under real libpam: the helper answers a send with `verify
//! HANDLE`, and the login's answer is accepted only if the helper, started again in check
//! mode, says the provider approved it. The "provider" is a shell script here (in a
//! root-owned directory, run as `nobody`) that makes its own random code per send and
//! approves it once; the real helper against the providers' fakes is in
//! tests/provider_logins.rs.
//!
//! Root only (the helper runs as another user): `#[ignore]`d; run with
//! `cargo test --test provider_checked_codes -- --include-ignored`.

#![allow(clippy::unwrap_used, clippy::panic)]

use std::fs;
use std::path::PathBuf;

use pam_otp_core::testing::HelperDir;
use pam_otp_testkit::client::{Client, Conv};
use pam_otp_testkit::pam_ffi::{PAM_AUTH_ERR, PAM_SUCCESS};
use pam_otp_testkit::whole_process::Env;

/// A provider in shell. On a send it records our code (which must never log anyone in),
/// makes its own, and prints `verify VE<n>`; in check mode it approves its code once for
/// the right handle (then forgets it: single use), says 80 (wrong) or 81 (no pending
/// verification). `$mode` changes its answers: `check_down` fails every check as
/// unreachable, `sms_broke` refuses every SMS send, `rate` is rate limited for 30 s.
struct Provider {
    dir: HelperDir,
    path: PathBuf,
}

const SCRIPT: &str = r#"read -r line
mode=$(cat $out/mode 2>/dev/null)
if [ -z "$PAM_OTP_CHECK" ]; then
  echo "$PAM_OTP_CHANNEL $PAM_OTP_CONTACT $line" >> $out/ours
  [ "$mode" = rate ] && { echo "retry-after 30"; echo "fake: rate limited" >&2; exit 82; }
  [ "$mode" = sms_broke ] && [ "$PAM_OTP_CHANNEL" = sms ] && { echo "fake: insufficient balance" >&2; exit 69; }
  [ "$PAM_OTP_CHANNEL" = email ] && exit 0
  n=$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')
  code=$(printf '%06d' $((n % 1000000)))
  echo "VE$n $code" > $out/pending
  echo "$code" >> $out/theirs
  echo "verify VE$n"
  exit 0
fi
[ "$mode" = check_down ] && { echo "fake: cannot reach the provider" >&2; exit 75; }
[ "$mode" = check_slow ] && sleep 10
read -r handle code < $out/pending || exit 81
[ "$handle" = "$PAM_OTP_CHECK" ] || exit 81
[ "$line" = "$code" ] || exit 80
rm $out/pending
echo approved
exit 0"#;

impl Provider {
    fn new(name: &str) -> Provider {
        let dir = HelperDir::new(&format!("provider_checked_{name}"));
        let path = dir.script("deliver", SCRIPT);
        Provider { dir, path }
    }

    fn mode(&self, mode: &str) {
        fs::write(self.dir.recorded("mode"), mode).unwrap();
    }

    fn lines(&self, name: &str) -> Vec<String> {
        self.dir.read(name).lines().map(str::to_string).collect()
    }

    /// The code the provider sent last (what the user's phone shows).
    fn theirs(&self) -> String {
        self.lines("theirs")
            .last()
            .expect("the provider sent a code")
            .clone()
    }

    /// The code the module made and handed over last (never shown to the user).
    fn ours(&self) -> String {
        let last = self.lines("ours").last().expect("a send").clone();
        last.rsplit(' ').next().unwrap().to_string()
    }

    fn env(&self, contacts: &[&str], extra: &str) -> Env {
        let env = Env::new();
        let lines: String = contacts
            .iter()
            .map(|c| format!("deliver = {c}\n"))
            .collect();
        env.write_secret_raw(&format!("# codes by text message\n{lines}"));
        env.otp_service(&format!(
            "deliver_helper={} deliver_user=nobody deliver_interval=0 deliver_per_hour=6 {extra}",
            self.path.display()
        ));
        env
    }
}

const PHONE: &str = "sms:+233241234567";

#[test]
#[ignore = "root: the helper runs as nobody"]
fn only_the_providers_code_logs_in_and_only_once() {
    let provider = Provider::new("once");
    let env = provider.env(&[PHONE], "max_failures=5");
    let pending = env.start("otp", &Client::new(Conv::Stdin));
    assert_eq!(env.prompts_so_far(&pending), ["Code sent to SMS to •••67:"]);
    let theirs = provider.theirs();
    env.forbid(&theirs);
    env.forbid(&provider.ours());
    env.answer(pending, &theirs)
        .expect(PAM_SUCCESS, "ok")
        .expect_line_contains("SMS to •••67 delivered in")
        .expect_line_contains("(the provider's own code)")
        .expect_line_contains("checked by the provider");

    // The module's own code, handed to the helper but never sent, logs nobody in.
    let pending = env.start("otp", &Client::new(Conv::Stdin));
    let ours = provider.ours();
    env.forbid(&ours);
    env.answer(pending, &ours).expect(PAM_AUTH_ERR, "bad_code");
    assert_eq!(env.state().counters.bad_code, 1);
}

#[test]
#[ignore = "root: the helper runs as nobody"]
fn wrong_answers_count_toward_the_lockout_and_a_locked_user_gets_no_send() {
    let provider = Provider::new("lockout");
    let env = provider.env(&[PHONE], "max_failures=2");
    for (n, said) in [(1, "(1 of 2 failures)"), (2, "locked out for")] {
        let pending = env.start("otp", &Client::new(Conv::Stdin));
        let theirs = provider.theirs();
        let wrong = if theirs == "000000" {
            "000001"
        } else {
            "000000"
        };
        let out = env.answer(pending, wrong);
        out.expect(PAM_AUTH_ERR, "bad_code")
            .expect_line_contains(said);
        assert_eq!(env.state().counters.bad_code, n);
    }
    let sends = provider.lines("ours").len();
    env.run("otp", &Client::answer("123456"))
        .expect(PAM_AUTH_ERR, "locked");
    assert_eq!(
        provider.lines("ours").len(),
        sends,
        "nothing sent while locked out"
    );
    // Not digits, or too short for any provider: wrong without asking it.
    let env = provider.env(&[PHONE], "max_failures=5");
    let pending = env.start("otp", &Client::new(Conv::Stdin));
    let pending_before = fs::read_to_string(provider.dir.recorded("pending")).unwrap();
    env.answer(pending, "12a").expect(PAM_AUTH_ERR, "bad_code");
    assert_eq!(
        fs::read_to_string(provider.dir.recorded("pending")).unwrap(),
        pending_before,
        "the provider was not asked"
    );
}

#[test]
#[ignore = "root: the helper runs as nobody"]
fn a_check_the_provider_cannot_answer_refuses_and_counts_nothing() {
    let provider = Provider::new("check_down");
    let env = provider.env(&[PHONE], "");
    let pending = env.start("otp", &Client::new(Conv::Stdin));
    let theirs = provider.theirs();
    provider.mode("check_down");
    let out = env.answer(pending, &theirs);
    out.expect(PAM_AUTH_ERR, "deliver_failed")
        .expect_line_contains("the provider's check failed")
        .expect_line_contains("cannot reach the provider");
    assert!(
        out.prompts
            .iter()
            .any(|p| p.contains("could not be checked")),
        "{:?}",
        out.prompts
    );
    assert_eq!(env.state().failures, 0);
}

#[test]
#[ignore = "root: the helper runs as nobody"]
fn a_failing_sms_falls_back_to_email_in_file_order() {
    let provider = Provider::new("fallback");
    provider.mode("sms_broke");
    let env = provider.env(&[PHONE, "email:alice@example.org"], "");
    let pending = env.start("otp", &Client::new(Conv::Stdin));
    assert_eq!(
        env.prompts_so_far(&pending),
        ["Code sent to a•••@example.org:"]
    );
    let ours = provider.ours();
    env.forbid(&ours);
    let channels: Vec<String> = provider
        .lines("ours")
        .iter()
        .map(|l| l.split(' ').next().unwrap().to_string())
        .collect();
    assert_eq!(channels, ["sms", "email"]);
    env.answer(pending, &ours)
        .expect(PAM_SUCCESS, "ok")
        .expect_line_contains(
            "SMS to •••67 failed: \"delivery helper failed (refused): fake: insufficient balance\"",
        )
        .expect_line_contains("a•••@example.org delivered");
}

#[test]
#[ignore = "root: the helper runs as nobody"]
fn a_rate_limited_provider_tells_the_user_when_to_try_again() {
    let provider = Provider::new("rate");
    provider.mode("rate");
    let env = provider.env(&[PHONE], "");
    let out = env.run("otp", &Client::answer("123456"));
    out.expect(PAM_AUTH_ERR, "deliver_failed")
        .expect_line_contains("rate limited, retry after 30 s");
    assert!(
        out.prompts
            .iter()
            .any(|p| p.contains("could not be sent; try again in 30 s")),
        "{:?}",
        out.prompts
    );
}

#[test]
#[ignore = "root: the helper runs as nobody"]
fn a_check_killed_midway_counts_as_a_wrong_code() {
    // The provider may have judged the code before the helper was killed: never a free guess.
    let provider = Provider::new("check_slow");
    let env = provider.env(&[PHONE], "deliver_timeout=2");
    let pending = env.start("otp", &Client::new(Conv::Stdin));
    let theirs = provider.theirs();
    provider.mode("check_slow");
    env.answer(pending, &theirs)
        .expect(PAM_AUTH_ERR, "bad_code")
        .expect_line_contains("killed after 2000 ms\"), counted as a wrong code");
    assert_eq!(env.state().failures, 1);
}

#[test]
#[ignore = "root: the helper runs as nobody; waits 31 s"]
fn deliver_ttl_bounds_a_providers_code_too() {
    // The provider would still take its code; our deliver_ttl says the login's time is up.
    let provider = Provider::new("ttl");
    let env = provider.env(&[PHONE], "deliver_ttl=30");
    let pending = env.start("otp", &Client::new(Conv::Stdin));
    let theirs = provider.theirs();
    std::thread::sleep(std::time::Duration::from_secs(31));
    env.answer(pending, &theirs)
        .expect(PAM_AUTH_ERR, "code_expired");
    assert!(
        provider.dir.recorded("pending").exists(),
        "the provider was not asked"
    );
}
