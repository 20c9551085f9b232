//! A provider that makes its own code, as the module sees it through `oob::spawn`: the
//! helper's `verify HANDLE` line on a send, check mode (`PAM_OTP_CHECK`, the typed code on
//! stdin, never in the environment) and its three answers, and a rate limit's
//! `retry-after N`. Real processes started as `nobody`: root only, so `#[ignore]`d; run
//! with `cargo test -p pam-otp-core --test oob_provider_check -- --include-ignored`.

#![allow(clippy::unwrap_used, clippy::panic)]

use std::path::PathBuf;
use std::time::Duration;

use pam_otp_core::oob::code::{OneTimeCode, OsRandom};
use pam_otp_core::oob::contact::Contact;
use pam_otp_core::oob::spawn::{
    check, deliver, CheckRequest, Checked, Delivered, Helper, Request, SpawnError,
};
use pam_otp_core::testing::{HelperDir, NOBODY};

/// A root-safe directory with one helper script (which records its environment).
struct Place {
    dir: HelperDir,
    helper: PathBuf,
}

impl Place {
    fn new(name: &str, body: &str) -> Place {
        let dir = HelperDir::new(&format!("oob_check_{name}"));
        let helper = dir.script("deliver", &format!("read -r line\nenv > $out/env\n{body}"));
        Place { dir, helper }
    }

    fn helper(&self) -> Helper<'_> {
        Helper {
            path: &self.helper,
            uid: NOBODY,
            gid: NOBODY,
            timeout: Duration::from_secs(5),
            conf: None,
        }
    }

    fn env(&self) -> String {
        self.dir.read("env")
    }
}

/// A fake provider in shell: a send answers `verify VE42`; a check approves 4321 for VE42,
/// says "expired" for any other handle, and "wrong" otherwise.
const PROVIDER: &str = r#"
if [ -z "$PAM_OTP_CHECK" ]; then echo "verify VE42"; exit 0; fi
[ "$PAM_OTP_CHECK" = VE42 ] || exit 81
[ "$line" = 4321 ] && { echo approved; exit 0; }
echo "the provider says the code is wrong" >&2
exit 80"#;

fn contact() -> Contact {
    Contact::parse("sms:+233241234567").unwrap()
}

/// A send of a fresh code of ours to the phone.
fn send(place: &Place) -> Result<Delivered, SpawnError> {
    let contact = contact();
    let code = OneTimeCode::generate(6, &mut OsRandom).unwrap();
    deliver(
        &place.helper(),
        &Request {
            user: "alice",
            contact: &contact,
            service: "sshd",
            expires_at: 1_900_000_120,
            code: &code,
        },
    )
}

fn ask(place: &Place, handle: &str, typed: &[u8]) -> Result<Checked, SpawnError> {
    let contact = contact();
    check(
        &place.helper(),
        &CheckRequest {
            user: "alice",
            contact: &contact,
            service: "sshd",
            expires_at: 1_900_000_120,
            handle,
            typed,
        },
    )
}

#[test]
#[ignore = "needs root: the helper runs as nobody"]
fn a_send_reports_the_providers_handle_and_only_its_check_decides() {
    let place = Place::new("verify", PROVIDER);
    let sent = send(&place).unwrap();
    assert_eq!(sent.verify.as_deref(), Some("VE42"));
    assert!(!place.env().contains("PAM_OTP_CHECK"), "{}", place.env());

    assert_eq!(ask(&place, "VE42", b"4321"), Ok(Checked::Approved));
    let env = place.env();
    assert!(env.contains("PAM_OTP_CHECK=VE42"), "{env}");
    assert!(env.contains("PAM_OTP_CONTACT=+233241234567"), "{env}");
    assert!(
        !env.contains("4321"),
        "the typed code is on stdin only: {env}"
    );
    assert_eq!(ask(&place, "VE42", b"1234"), Ok(Checked::Rejected));
    assert_eq!(ask(&place, "VE43", b"4321"), Ok(Checked::Expired));
}

#[test]
#[ignore = "needs root: the helper runs as nobody"]
fn exit_0_alone_approves_nothing_and_a_bad_verify_line_fails_the_send() {
    // A helper that knows nothing of check mode: it "delivers" whatever it is given.
    let place = Place::new("naive", "exit 0");
    assert_eq!(ask(&place, "VE42", b"4321"), Err(SpawnError::BadAnswer));
    let place = Place::new("bad_verify", "echo 'verify VE 42'; exit 0");
    let sent = send(&place);
    assert_eq!(sent, Err(SpawnError::BadAnswer));
}

#[test]
#[ignore = "needs root: the helper runs as nobody"]
fn what_no_provider_could_check_is_never_handed_over() {
    let place = Place::new("bad_request", PROVIDER);
    for (handle, typed) in [
        ("VE42", &b"123"[..]),
        ("VE42", b"12345678901"),
        ("VE42", b"12a4"),
        ("VE 42", b"4321"),
        ("", b"4321"),
    ] {
        assert_eq!(
            ask(&place, handle, typed),
            Err(SpawnError::BadRequest),
            "{handle:?} {typed:?}"
        );
    }
    assert_eq!(place.env(), "", "the helper was never started");
}

#[test]
#[ignore = "needs root: the helper runs as nobody"]
fn a_rate_limit_says_how_long_to_wait() {
    let place = Place::new(
        "rate",
        "echo 'retry-after 30'; echo 'twilio: rate limited' >&2; exit 82",
    );
    let got = send(&place);
    let Err(e) = got else { panic!("{got:?}") };
    assert_eq!(
        e,
        SpawnError::RateLimited {
            retry_after: Some(30),
            message: "twilio: rate limited".into()
        }
    );
    assert_eq!(e.word(), "rate_limited");
    assert!(e.to_string().contains("retry after 30 s"), "{e}");
}

#[test]
fn handles_and_waits_are_read_strictly() {
    use pam_otp_core::oob::spawn::{retry_after, verify_handle};
    assert_eq!(
        verify_handle("verify VE0123abc").as_deref(),
        Some("VE0123abc")
    );
    assert_eq!(
        verify_handle("verify 1d6a1a0e-4f0b-4bd2-8f8c-0d5a1b1c2d3e").as_deref(),
        Some("1d6a1a0e-4f0b-4bd2-8f8c-0d5a1b1c2d3e")
    );
    for bad in [
        "",
        "verify",
        "verify ",
        "verify a b",
        "verify a/b",
        "Verify x",
        "queued",
    ] {
        assert_eq!(verify_handle(bad), None, "{bad:?}");
    }
    assert_eq!(verify_handle(&format!("verify {}", "a".repeat(129))), None);
    assert_eq!(retry_after("retry-after 30"), Some(30));
    assert_eq!(retry_after("retry-after 86401"), None);
    assert_eq!(retry_after("retry-after -1"), None);
    assert_eq!(retry_after("retry-after"), None);
}
