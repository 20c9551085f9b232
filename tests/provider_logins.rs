//! Logins with codes sent through the commercial providers, end to end on this machine: the
//! built module under real libpam starts the built delivery helper (`pam-otp-deliver`, as
//! `nobody`, from a root-safe directory), which talks HTTPS to the local fake of Twilio,
//! Vonage, Arkesel and Firebase (crates/testkit/fakes/providers.py, trusted through a test
//! CA). The user types the code the fake recorded as delivered to the phone or app.
//!
//! Every test also asserts that the fake saw only requests of the documented shape, and
//! that no credential and no code reached a log line or a prompt.
//!
//! Root only (the helper runs as another user): `#[ignore]`d; run with
//! `cargo test --test provider_logins -- --include-ignored`.

#![allow(clippy::unwrap_used, clippy::panic)]

use std::fs;
use std::path::PathBuf;
use std::time::Duration;

use pam_otp_testkit::client::{Client, Conv, Outcome};
use pam_otp_testkit::pam_ffi::{PAM_AUTH_ERR, PAM_SUCCESS};
use pam_otp_testkit::providers::*;
use pam_otp_testkit::whole_process::Env;

const PHONE: &str = "+233241234567";
const TOKEN: &str = "fcmRegistrationToken_0123456789:APA91b-abcdefghijklmnopqrstuvwxyz";

/// Every secret of the fake's accounts: none may ever be logged or prompted.
const CREDENTIALS: [&str; 5] = [
    TWILIO_AUTH_TOKEN,
    TWILIO_API_SECRET,
    VONAGE_API_SECRET,
    ARKESEL_API_KEY,
    FCM_PRIVATE_KEY_ID,
];

/// The fake and the helper set up as an administrator would (see
/// `pam_otp_testkit::providers::InstalledHelper`), with one credentials file.
struct Rig {
    installed: InstalledHelper,
    /// What `deliver_helper=` names: the wrapper that hands the helper its file.
    helper: PathBuf,
}

impl Rig {
    /// `conf` builds deliver.conf from the fake (its base URL, key paths).
    fn new(name: &str, conf: impl Fn(&Rig) -> String) -> Rig {
        let installed = InstalledHelper::new(
            &format!("provider_logins_{name}"),
            &pam_otp_testkit::built::deliver_path(),
        );
        let mut rig = Rig {
            installed,
            helper: PathBuf::new(),
        };
        rig.helper = rig.installed.install("deliver", &conf(&rig));
        rig
    }

    fn path(&self, name: &str) -> PathBuf {
        self.installed.path(name)
    }

    fn url(&self) -> String {
        self.installed.fake.base_url()
    }

    /// A user whose secret file holds only these contacts, and the module set to send at
    /// every login.
    fn env(&self, contacts: &[&str], extra: &str) -> Env {
        let env = Env::new();
        let lines: String = contacts
            .iter()
            .map(|c| format!("deliver = {c}\n"))
            .collect();
        env.write_secret_raw(&lines);
        env.otp_service(&format!(
            "deliver_helper={} deliver_user=nobody deliver_interval=0 deliver_per_hour=6 \
             max_failures=9 {extra}",
            self.helper.display()
        ));
        for secret in CREDENTIALS {
            env.forbid(secret);
        }
        env
    }

    /// One login that answers the prompt with what `answer` makes of the code delivered to
    /// `to` (read from the fake, as the user reads their phone).
    fn login(&self, env: &Env, to: &str, answer: impl Fn(&str) -> String) -> Outcome {
        let pending = env.start("otp", &Client::new(Conv::Stdin));
        let code = self.installed.fake.last_code_to(to);
        env.forbid(&code);
        env.answer(pending, &answer(&code))
    }

    #[track_caller]
    fn assert_documented_requests_only(&self) {
        let violations = self.installed.fake.violations();
        assert!(violations.is_empty(), "{violations:#?}");
    }
}

fn twilio(rig: &Rig) -> String {
    format!(
        "sms_provider = twilio\nvoice_provider = twilio-verify\n\
         twilio_account_sid = {TWILIO_ACCOUNT_SID}\ntwilio_auth_token = {TWILIO_AUTH_TOKEN}\n\
         twilio_from = +15005550006\ntwilio_verify_service_sid = {TWILIO_VERIFY_SERVICE_SID}\n\
         twilio_base_url = {0}\ntwilio_verify_base_url = {0}\n",
        rig.url()
    )
}

fn twilio_verify_sms(rig: &Rig) -> String {
    format!(
        "sms_provider = twilio-verify\n\
         twilio_account_sid = {TWILIO_ACCOUNT_SID}\ntwilio_api_key = {TWILIO_API_KEY}\n\
         twilio_api_secret = {TWILIO_API_SECRET}\n\
         twilio_verify_service_sid = {TWILIO_VERIFY_SERVICE_SID}\n\
         twilio_verify_base_url = {}\n",
        rig.url()
    )
}

fn vonage(rig: &Rig) -> String {
    format!(
        "sms_provider = vonage\nvoice_provider = vonage-verify\n\
         vonage_api_key = {VONAGE_API_KEY}\nvonage_api_secret = {VONAGE_API_SECRET}\n\
         vonage_from = PamOtp\nvonage_base_url = {0}\nvonage_verify_base_url = {0}\n",
        rig.url()
    )
}

fn vonage_verify_jwt(rig: &Rig) -> String {
    format!(
        "sms_provider = vonage-verify\n\
         vonage_api_key = {VONAGE_API_KEY}\nvonage_api_secret = {VONAGE_API_SECRET}\n\
         vonage_application_id = {VONAGE_APPLICATION_ID}\nvonage_private_key_file = {}\n\
         vonage_verify_base_url = {}\n",
        rig.path("vonage.key").display(),
        rig.url()
    )
}

fn arkesel(rig: &Rig) -> String {
    format!(
        "sms_provider = arkesel\nvoice_provider = arkesel-otp\n\
         arkesel_api_key = {ARKESEL_API_KEY}\narkesel_sender = PamOtp\narkesel_base_url = {}\n",
        rig.url()
    )
}

fn arkesel_otp_sms(rig: &Rig) -> String {
    format!(
        "sms_provider = arkesel-otp\n\
         arkesel_api_key = {ARKESEL_API_KEY}\narkesel_sender = PamOtp\narkesel_base_url = {}\n",
        rig.url()
    )
}

fn fcm(rig: &Rig) -> String {
    format!(
        "fcm_service_account_file = {}\nfcm_base_url = {}\n",
        rig.path("fcm.json").display(),
        rig.url()
    )
}

/// Every provider: a second set of settings on top of `twilio` etc. for the fallback tests.
fn all(rig: &Rig) -> String {
    format!("{}{}", twilio(rig), fcm(rig))
}

/// A channel whose code we make: the code logs in once, then is a replay.
fn our_code_logs_in_once(name: &str, conf: fn(&Rig) -> String, contact: &str, to: &str) {
    let rig = Rig::new(name, conf);
    let env = rig.env(&[contact], "");
    let ok = rig.login(&env, to, str::to_string);
    ok.expect(PAM_SUCCESS, "ok")
        .expect_line_contains("accepted code sent out of band");
    let used = rig.installed.fake.last_code_to(to);
    let again = rig.login(&env, to, |_| used.clone());
    again.expect(PAM_AUTH_ERR, "replay");
    rig.assert_documented_requests_only();
}

/// A provider that makes its own code: only its code logs in, once.
fn their_code_logs_in_once(name: &str, conf: fn(&Rig) -> String, contact: &str) {
    let rig = Rig::new(name, conf);
    let env = rig.env(&[contact], "");
    let ok = rig.login(&env, PHONE, str::to_string);
    ok.expect(PAM_SUCCESS, "ok")
        .expect_line_contains("(the provider's own code)")
        .expect_line_contains("checked by the provider");
    // The next login starts a new verification; the used code is not it.
    let used = rig.installed.fake.last_code_to(PHONE);
    let pending = env.start("otp", &Client::new(Conv::Stdin));
    let fresh = rig.installed.fake.last_code_to(PHONE);
    env.forbid(&fresh);
    let out = env.answer(pending, &used);
    if fresh == used {
        // A provider may resend the pending code (Twilio does within its life): then the
        // same digits belong to the new verification, which this test does not judge.
        out.expect(PAM_SUCCESS, "ok");
    } else {
        assert_eq!(out.code, PAM_AUTH_ERR, "{}", out.line());
        assert!(
            ["bad_code", "code_expired"].contains(&out.reason()),
            "{}",
            out.line()
        );
    }
    // A wrong answer: the provider says no, and it counts.
    let wrong = rig.login(&env, PHONE, |c| {
        if c.starts_with('9') {
            c.replacen('9', "1", 1)
        } else {
            format!("9{}", &c[1..])
        }
    });
    wrong.expect(PAM_AUTH_ERR, "bad_code");
    rig.assert_documented_requests_only();
}

#[test]
#[ignore = "root: the helper runs as nobody"]
fn twilio_messaging_sms() {
    our_code_logs_in_once("twilio_sms", twilio, &format!("sms:{PHONE}"), PHONE);
}

#[test]
#[ignore = "root: the helper runs as nobody"]
fn twilio_verify_by_call() {
    their_code_logs_in_once("twilio_call", twilio, &format!("voice:{PHONE}"));
}

#[test]
#[ignore = "root: the helper runs as nobody"]
fn twilio_verify_by_sms_with_an_api_key() {
    their_code_logs_in_once("twilio_verify", twilio_verify_sms, &format!("sms:{PHONE}"));
}

#[test]
#[ignore = "root: the helper runs as nobody"]
fn vonage_sms_api() {
    our_code_logs_in_once("vonage_sms", vonage, &format!("sms:{PHONE}"), PHONE);
}

#[test]
#[ignore = "root: the helper runs as nobody"]
fn vonage_verify_by_voice_with_basic_auth() {
    their_code_logs_in_once("vonage_voice", vonage, &format!("voice:{PHONE}"));
}

#[test]
#[ignore = "root: the helper runs as nobody"]
fn vonage_verify_by_sms_with_a_jwt() {
    their_code_logs_in_once("vonage_jwt", vonage_verify_jwt, &format!("sms:{PHONE}"));
}

#[test]
#[ignore = "root: the helper runs as nobody"]
fn arkesel_sms_v2() {
    our_code_logs_in_once("arkesel_sms", arkesel, &format!("sms:{PHONE}"), PHONE);
}

#[test]
#[ignore = "root: the helper runs as nobody"]
fn arkesel_otp_by_sms_and_by_voice() {
    their_code_logs_in_once("arkesel_otp", arkesel_otp_sms, &format!("sms:{PHONE}"));
    their_code_logs_in_once("arkesel_voice", arkesel, &format!("voice:{PHONE}"));
}

#[test]
#[ignore = "root: the helper runs as nobody"]
fn firebase_cloud_messaging_push() {
    our_code_logs_in_once("fcm", fcm, &format!("fcm:{TOKEN}"), TOKEN);
}

/// Each documented error of `provider` refuses the login with the reason in words.
fn errors_refuse_with_their_reason(
    name: &str,
    conf: fn(&Rig) -> String,
    contact: &str,
    provider: &str,
    cases: &[(&str, &str)],
) {
    let rig = Rig::new(name, conf);
    for (answer, words) in cases {
        // A user of their own per case: six sends an hour is the most any user gets.
        let env = rig.env(&[contact], "");
        rig.installed
            .fake
            .next_with(&serde_json_value(provider, answer));
        let sent_before = rig.installed.fake.delivered().len();
        let out = env.run("otp", &Client::answer("123456"));
        out.expect(PAM_AUTH_ERR, "deliver_failed")
            .expect_line_contains(words);
        assert_eq!(
            rig.installed.fake.delivered().len(),
            sent_before,
            "{answer}: nothing was delivered"
        );
        assert!(
            out.prompts.iter().any(|p| p.contains("could not be sent")),
            "{answer}: {:?}",
            out.prompts
        );
        assert_eq!(
            env.state().failures,
            0,
            "a provider's failure is not the user's"
        );
    }
    rig.installed.fake.reset();
    rig.assert_documented_requests_only();
}

/// The fault request for the fake (a rate limit asks for 30 s, more than the helper waits).
fn serde_json_value(provider: &str, answer: &str) -> serde_json::Value {
    serde_json::json!({
        "provider": provider, "answer": answer, "times": 1, "retry_after": 30
    })
}

const COMMON_ERRORS: [(&str, &str); 5] = [
    ("bad_credentials", "bad credentials"),
    ("invalid_number", "invalid number"),
    ("insufficient_balance", "insufficient balance"),
    ("rate_limited", "rate limited"),
    ("server_error", "server error"),
];

#[test]
#[ignore = "root: the helper runs as nobody"]
fn twilio_errors_refuse_with_their_reason() {
    let sms = format!("sms:{PHONE}");
    errors_refuse_with_their_reason("twilio_errors", twilio, &sms, "twilio", &COMMON_ERRORS);
    let call = format!("voice:{PHONE}");
    errors_refuse_with_their_reason(
        "twilio_verify_errors",
        twilio,
        &call,
        "twilio-verify",
        &COMMON_ERRORS,
    );
}

#[test]
#[ignore = "root: the helper runs as nobody"]
fn vonage_errors_refuse_with_their_reason() {
    let sms = format!("sms:{PHONE}");
    errors_refuse_with_their_reason("vonage_errors", vonage, &sms, "vonage", &COMMON_ERRORS);
    let call = format!("voice:{PHONE}");
    errors_refuse_with_their_reason(
        "vonage_verify_errors",
        vonage,
        &call,
        "vonage-verify",
        &COMMON_ERRORS,
    );
}

#[test]
#[ignore = "root: the helper runs as nobody"]
fn arkesel_errors_refuse_with_their_reason() {
    let sms = format!("sms:{PHONE}");
    errors_refuse_with_their_reason("arkesel_errors", arkesel, &sms, "arkesel", &COMMON_ERRORS);
    let call = format!("voice:{PHONE}");
    errors_refuse_with_their_reason(
        "arkesel_otp_errors",
        arkesel,
        &call,
        "arkesel-otp",
        &COMMON_ERRORS,
    );
}

#[test]
#[ignore = "root: the helper runs as nobody"]
fn fcm_errors_refuse_with_their_reason() {
    let push = format!("fcm:{TOKEN}");
    errors_refuse_with_their_reason(
        "fcm_errors",
        fcm,
        &push,
        "fcm",
        &[
            ("unregistered", "unregistered"),
            ("invalid_number", "invalid"),
            ("sender_id_mismatch", "another Firebase project"),
            ("third_party_auth_error", "credentials"),
            ("rate_limited", "rate limited"),
            ("server_error", "server error"),
            ("internal", "server error"),
        ],
    );
}

#[test]
#[ignore = "root: the helper runs as nobody"]
fn a_failing_sms_falls_back_to_the_app_in_file_order() {
    let rig = Rig::new("fallback", all);
    let env = rig.env(&[&format!("sms:{PHONE}"), &format!("fcm:{TOKEN}")], "");
    rig.installed.fake.next("twilio", "insufficient_balance", 1);
    let pending = env.start("otp", &Client::new(Conv::Stdin));
    assert_eq!(env.prompts_so_far(&pending), ["Code sent to app •••:"]);
    let code = rig.installed.fake.last_code_to(TOKEN);
    env.forbid(&code);
    let out = env.answer(pending, &code);
    out.expect(PAM_SUCCESS, "ok")
        .expect_line_contains("SMS to •••67 failed")
        .expect_line_contains("insufficient balance")
        .expect_line_contains("app ••• delivered");
    let order: Vec<String> = rig
        .installed
        .fake
        .requests()
        .iter()
        .map(|r| r["provider"].as_str().unwrap_or("?").to_string())
        .collect();
    assert_eq!(
        order,
        ["twilio", "fcm", "fcm"],
        "twilio, then FCM's token and send"
    );
    rig.assert_documented_requests_only();
}

#[test]
#[ignore = "root: the helper runs as nobody"]
fn a_slow_provider_hits_the_timeouts_and_a_dropped_connection_is_unreachable() {
    let rig = Rig::new("slow", twilio);
    let sms = format!("sms:{PHONE}");
    // Slower than the module's deliver_timeout: the helper is killed.
    let env = rig.env(&[&sms], "deliver_timeout=2");
    rig.installed.fake.next_with(&serde_json::json!({
        "provider": "twilio", "answer": "slow", "delay_ms": 6000
    }));
    let started = std::time::Instant::now();
    let out = env.run("otp", &Client::answer("123456"));
    out.expect(PAM_AUTH_ERR, "deliver_failed")
        .expect_line_contains("killed after 2000 ms");
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "{:?}",
        started.elapsed()
    );
    // Slower than the helper's own timeout (5 s in deliver.conf, below the module's 10 s):
    // the helper gives up and says so. (First, the fake finishes its slow answer.)
    std::thread::sleep(Duration::from_secs(5));
    let env = rig.env(&[&sms], "");
    rig.installed.fake.next_with(&serde_json::json!({
        "provider": "twilio", "answer": "slow", "delay_ms": 7000
    }));
    let out = env.run("otp", &Client::answer("123456"));
    out.expect(PAM_AUTH_ERR, "deliver_failed")
        .expect_line_contains("(unreachable)")
        .expect_line_contains("timed out");
    std::thread::sleep(Duration::from_secs(3));
    rig.installed.fake.next("twilio", "drop", 1);
    let out = env.run("otp", &Client::answer("123456"));
    out.expect(PAM_AUTH_ERR, "deliver_failed")
        .expect_line_contains("(unreachable)");
}

#[test]
#[ignore = "root: the helper runs as nobody"]
fn credentials_are_in_no_argument_no_environment_and_no_log() {
    let rig = Rig::new("secrets", all);
    let env = rig.env(&[&format!("sms:{PHONE}")], "");
    rig.installed.fake.next_with(&serde_json::json!({
        "provider": "twilio", "answer": "slow", "delay_ms": 1500
    }));
    // While the helper waits for the provider: its argv and environment, as anyone on the
    // host could read them in /proc (the environment only as root or nobody). Watched from
    // another thread: the prompt comes only once the helper is done.
    let root = rig.installed.dir.clone();
    let watcher = std::thread::spawn(move || {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::time::Instant::now() < deadline {
            for entry in fs::read_dir("/proc").unwrap().flatten() {
                let exe = fs::read_link(entry.path().join("exe")).unwrap_or_default();
                if exe.file_name().is_some_and(|n| n == "pam-otp-deliver.bin")
                    && exe.starts_with(&root)
                {
                    let argv = fs::read(entry.path().join("cmdline")).unwrap_or_default();
                    let environ = fs::read(entry.path().join("environ")).unwrap_or_default();
                    if !environ.is_empty() {
                        return Some((argv, environ));
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    });
    let pending = env.start("otp", &Client::new(Conv::Stdin));
    let seen = watcher.join().unwrap();
    let (argv, environ) = seen.expect("the helper was seen running");
    let argv = String::from_utf8_lossy(&argv).to_string();
    let environ = String::from_utf8_lossy(&environ).to_string();
    assert!(
        environ.contains("PAM_OTP_CONTACT=+233241234567"),
        "{environ}"
    );
    let code = rig.installed.fake.last_code_to(PHONE);
    env.forbid(&code);
    for secret in CREDENTIALS.iter().copied().chain([code.as_str()]) {
        assert!(!argv.contains(secret), "argv {argv:?}");
        assert!(!environ.contains(secret), "environment {environ:?}");
    }
    env.answer(pending, &code).expect(PAM_SUCCESS, "ok");
    // Every error answer of every provider, with the same settings: no log line or prompt
    // holds a credential (Env::forbid checks each outcome).
    for (provider, contact) in [
        ("twilio", format!("sms:{PHONE}")),
        ("fcm", format!("fcm:{TOKEN}")),
    ] {
        let env = rig.env(&[&contact], "");
        for (answer, _) in COMMON_ERRORS {
            if provider == "fcm" && answer == "insufficient_balance" {
                continue;
            }
            rig.installed.fake.next(provider, answer, 1);
            let out = env.run("otp", &Client::answer("123456"));
            out.expect(PAM_AUTH_ERR, "deliver_failed");
        }
    }
    rig.installed.fake.reset();
}

#[test]
#[ignore = "root: the helper runs as nobody"]
fn phone_prefixes_keep_texts_and_calls_to_the_sites_countries() {
    // A user may write any number in their own file; the site pays only for its prefixes.
    let rig = Rig::new("prefixes", |rig| {
        format!("phone_prefixes = +44 +1\n{}", twilio(rig))
    });
    let env = rig.env(&[&format!("sms:{PHONE}")], "");
    let out = env.run("otp", &Client::answer("123456"));
    out.expect(PAM_AUTH_ERR, "deliver_failed")
        .expect_line_contains("67 is outside phone_prefixes");
    assert!(
        rig.installed.fake.requests().is_empty(),
        "nothing reached the provider"
    );
    // A number inside them goes out as usual.
    let uk = "+447700900123";
    let env = rig.env(&[&format!("sms:{uk}")], "");
    rig.login(&env, uk, str::to_string)
        .expect(PAM_SUCCESS, "ok");
    rig.assert_documented_requests_only();
}
