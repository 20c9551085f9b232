//! Twilio Messaging and Verify v2 through the built helper, against a local HTTPS stand-in
//! with a test CA answering as Twilio documents: what Twilio receives, and the exit status
//! and words for each documented answer.
#![allow(clippy::unwrap_used, clippy::panic)]

#[path = "support/canned.rs"]
mod canned;
mod support;

use canned::Canned;
use serde_json::json;
use support::*;

const AC: &str = "AC0123456789abcdef0123456789abcdef";
const VA: &str = "VA0123456789abcdef0123456789abcdef";
const VE: &str = "VE0123456789abcdef0123456789abcdef";
const TOKEN: &str = "twilio-auth-token-0123";
const NUMBER: &str = "+233241234567";

fn conf(dir: &Dir, port: u16) -> std::path::PathBuf {
    dir.private(
        "deliver.conf",
        &format!(
            "sms_provider = twilio\nvoice_provider = twilio-verify\n\
             twilio_account_sid = {AC}\ntwilio_auth_token = {TOKEN}\ntwilio_from = +15005550006\n\
             twilio_verify_service_sid = {VA}\n\
             twilio_base_url = https://127.0.0.1:{port}\ntwilio_verify_base_url = https://localhost:{port}/\n\
             ca_file = {}\ntimeout = 5\n",
            dir.path("ca.pem").display()
        ),
    )
}

/// The paths the helper posts to: Messaging's message create, Verify's start and check.
fn messages() -> String {
    format!("/2010-04-01/Accounts/{AC}/Messages.json")
}
fn verifications() -> String {
    format!("/v2/Services/{VA}/Verifications")
}
fn verification_check() -> String {
    format!("/v2/Services/{VA}/VerificationCheck")
}

/// A stand-in answering requests to `path` with `answers` in turn (any other path: 404),
/// and the configuration pointing at it.
fn twilio(name: &str, path: &str, answers: serde_json::Value) -> (Dir, Canned, std::path::PathBuf) {
    let dir = Dir::new(name);
    test_ca(&dir);
    let rx = Canned::start(&dir, &json!({ path: answers }));
    let conf = conf(&dir, rx.port);
    (dir, rx, conf)
}

fn basic() -> String {
    use base64::Engine as _;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{AC}:{TOKEN}"))
    )
}

fn form(body: &str) -> Vec<(String, String)> {
    body.split('&')
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap();
            (
                k.to_owned(),
                v.replace('+', " ").replace("%2B", "+").replace("%3A", ":"),
            )
        })
        .collect()
}

#[test]
fn a_text_is_a_message_create() {
    let (_dir, rx, conf) = twilio(
        "tw_msg",
        &messages(),
        json!([{"status": 201, "body": r#"{"sid":"SM0123456789abcdef0123456789abcdef","status":"queued"}"#}]),
    );
    let out = run(&env("sms", NUMBER, &conf));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "");
    let r = &rx.records()[0];
    assert_eq!(
        r["path"],
        format!("/2010-04-01/Accounts/{AC}/Messages.json")
    );
    assert_eq!(r["headers"]["authorization"], basic());
    assert_eq!(
        r["headers"]["content-type"],
        "application/x-www-form-urlencoded"
    );
    let f = form(r["body"].as_str().unwrap());
    assert_eq!(f[0], ("To".into(), NUMBER.into()));
    assert_eq!(f[1], ("From".into(), "+15005550006".into()));
    assert_eq!(f[2].0, "Body");
    assert!(
        f[2].1.contains(CODE) && f[2].1.contains("sshd"),
        "{}",
        f[2].1
    );
}

#[test]
fn a_call_is_a_verification_and_its_sid_the_handle() {
    let (_dir, rx, conf) = twilio(
        "tw_vstart",
        &verifications(),
        json!([{"status": 201, "body": format!(r#"{{"sid":"{VE}","service_sid":"{VA}","status":"pending","channel":"call"}}"#)}]),
    );
    let out = run(&env("voice", NUMBER, &conf));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), format!("verify {VE}\n"));
    let r = &rx.records()[0];
    assert_eq!(r["path"], format!("/v2/Services/{VA}/Verifications"));
    assert_eq!(r["headers"]["authorization"], basic());
    assert_eq!(r["body"], "To=%2B233241234567&Channel=call");
    // Our own code never goes to a provider that makes its own.
    assert!(!r["body"].as_str().unwrap().contains(CODE));
}

#[test]
fn a_check_is_twilios_verdict() {
    for (status, body, exit) in [
        (200, r#"{"status":"approved","valid":true}"#, 0),
        (200, r#"{"status":"pending","valid":false}"#, 80),
        (
            404,
            r#"{"code":20404,"message":"The requested resource /Services/VA/VerificationCheck was not found","status":404}"#,
            81,
        ),
        (
            429,
            r#"{"code":60202,"message":"Max check attempts reached","status":429}"#,
            81,
        ),
    ] {
        let (_dir, rx, conf) = twilio(
            "tw_check",
            &verification_check(),
            json!([{"status": status, "body": body}]),
        );
        let out = run(&check_env("voice", NUMBER, &conf, VE));
        assert_eq!(out.status.code(), Some(exit), "{body}: {}", stderr(&out));
        let r = &rx.records()[0];
        assert_eq!(r["path"], format!("/v2/Services/{VA}/VerificationCheck"));
        assert_eq!(r["body"], format!("VerificationSid={VE}&Code={CODE}"));
    }
}

#[test]
fn documented_errors_name_the_reason_and_nothing_secret() {
    for (status, code, exit, words) in [
        (
            401,
            20003,
            78,
            "twilio: bad credentials (HTTP 401, code 20003)",
        ),
        (
            400,
            21211,
            65,
            "twilio: invalid number •••67 (HTTP 400, code 21211)",
        ),
        (
            400,
            21610,
            69,
            "twilio: •••67 has unsubscribed (replied STOP) (HTTP 400, code 21610)",
        ),
        (
            403,
            20005,
            69,
            "twilio: insufficient balance or account suspended (HTTP 403, code 20005)",
        ),
        (503, 0, 75, "twilio: server error (HTTP 503)"),
    ] {
        let body = format!(
            r#"{{"code":{code},"message":"The 'To' number {NUMBER} is not a valid phone number.","more_info":"https://www.twilio.com/docs/errors/{code}","status":{status}}}"#
        );
        let (_dir, _rx, conf) = twilio(
            "tw_err",
            &messages(),
            json!([{"status": status, "body": body}]),
        );
        let out = run(&env("sms", NUMBER, &conf));
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(exit), "{err}");
        assert_eq!(err, format!("pam-otp-deliver: {words}\n"));
        for secret in [TOKEN, CODE, "233241234567"] {
            assert!(!err.contains(secret), "{err}");
        }
    }
}

#[test]
fn a_short_rate_limit_is_waited_out_once_a_long_one_is_passed_on() {
    let limited = |secs: &str| {
        json!({"status": 429, "headers": {"Retry-After": secs},
        "body": r#"{"code":20429,"message":"Too Many Requests","status":429}"#})
    };
    let ok = json!({"status": 201, "body": r#"{"sid":"SM0123456789abcdef0123456789abcdef"}"#});

    let (_dir, rx, conf) = twilio("tw_retry", &messages(), json!([limited("1"), ok]));
    let out = run(&env("sms", NUMBER, &conf));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(rx.records().len(), 2);

    let (_dir, rx, conf) = twilio("tw_limit", &messages(), json!([limited("30"), ok]));
    let out = run(&env("sms", NUMBER, &conf));
    assert_eq!(out.status.code(), Some(82), "{}", stderr(&out));
    assert_eq!(stdout(&out), "retry-after 30\n");
    assert_eq!(
        stderr(&out),
        "pam-otp-deliver: twilio: rate limited, retry after 30 s (HTTP 429, code 20429)\n"
    );
    assert_eq!(rx.records().len(), 1);

    // Rate limited twice: the second answer stands.
    let (_dir, rx, conf) = twilio("tw_twice", &messages(), json!([limited("0")]));
    let out = run(&env("sms", NUMBER, &conf));
    assert_eq!(out.status.code(), Some(82), "{}", stderr(&out));
    assert_eq!(rx.records().len(), 2);
}
