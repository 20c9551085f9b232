//! Arkesel through the built helper, as the module starts it, against a local stand-in of
//! Arkesel's API (tests/support/canned.py) with a test CA: what Arkesel receives for an SMS,
//! an OTP by text or call and an OTP check, and the exit status and stderr for its
//! documented answers.
#![allow(clippy::unwrap_used, clippy::panic)]

#[path = "support/canned.rs"]
mod canned;
mod support;

use canned::Canned;
use serde_json::{json, Value};
use support::*;

const KEY: &str = "ak_test-key-0123456789";
const NUMBER: &str = "+233241234567";

fn conf(dir: &Dir, api: &Canned) -> std::path::PathBuf {
    dir.private(
        "deliver.conf",
        &format!(
            "sms_provider = arkesel\nvoice_provider = arkesel-otp\n\
             arkesel_api_key = {KEY}\narkesel_sender = PamOtp\narkesel_base_url = {}/\n\
             ca_file = {}\ntimeout = 5\n",
            api.url(),
            dir.path("ca.pem").display()
        ),
    )
}

fn otp_conf(dir: &Dir, api: &Canned) -> std::path::PathBuf {
    dir.private(
        "otp.conf",
        &format!(
            "sms_provider = arkesel-otp\narkesel_api_key = {KEY}\narkesel_sender = PamOtp\n\
             arkesel_base_url = {}\nca_file = {}\ntimeout = 5\n",
            api.url(),
            dir.path("ca.pem").display()
        ),
    )
}

fn answer(status: u16, body: Value) -> Value {
    json!({"status": status, "body": body})
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Neither the key, the code nor the full number is ever on stderr.
fn assert_clean(out: &std::process::Output) {
    let err = stderr(out);
    for secret in [KEY, CODE, &NUMBER[1..]] {
        assert!(!err.contains(secret), "{err}");
    }
}

#[test]
fn an_sms_goes_to_sms_v2_with_the_api_key_and_digits() {
    let dir = Dir::new("arkesel_sms");
    test_ca(&dir);
    let ok = json!({"status": "success",
                    "data": [{"recipient": "233241234567", "id": "9b752841-7ee7-4d40"}]});
    let api = Canned::start(&dir, &json!({"/api/v2/sms/send": [answer(200, ok)]}));
    let out = run(&env("sms", NUMBER, &conf(&dir, &api)));
    assert!(out.status.success(), "{}", stderr(&out));
    let r = api.records();
    assert_eq!(r.len(), 1);
    assert_eq!(r[0]["path"], "/api/v2/sms/send");
    assert_eq!(r[0]["headers"]["api-key"], KEY);
    assert_eq!(r[0]["headers"]["content-type"], "application/json");
    let body: Value = serde_json::from_str(r[0]["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["sender"], "PamOtp");
    assert_eq!(body["recipients"], json!(["233241234567"]));
    let text = body["message"].as_str().unwrap();
    assert!(text.contains(&format!("sshd: {CODE}")), "{text}");
}

#[test]
fn sms_failures_have_their_exit_status_and_plain_words() {
    let dir = Dir::new("arkesel_sms_fail");
    test_ca(&dir);
    let invalid = json!({"status": "success", "data": [{"invalid numbers": ["233241234567"]}]});
    for (status, body, code, words) in [
        (
            401,
            json!({"message": "Invalid API key"}),
            78,
            "arkesel: bad credentials (HTTP 401)",
        ),
        (
            402,
            json!({"message": "Insufficient balance"}),
            69,
            "arkesel: insufficient balance",
        ),
        (200, invalid, 65, "arkesel: invalid number"),
        (
            422,
            json!({"message": "233241234567 bad"}),
            69,
            "arkesel: request refused (HTTP 422)",
        ),
        (500, json!({}), 75, "arkesel: server error (HTTP 500)"),
    ] {
        let api = Canned::start(&dir, &json!({"/api/v2/sms/send": [answer(status, body)]}));
        let out = run(&env("sms", NUMBER, &conf(&dir, &api)));
        assert_eq!(out.status.code(), Some(code), "{status}: {}", stderr(&out));
        assert!(stderr(&out).contains(words), "{status}: {}", stderr(&out));
        assert_clean(&out);
    }
}

#[test]
fn a_short_rate_limit_is_retried_once_and_a_long_one_is_passed_on() {
    let dir = Dir::new("arkesel_rate");
    test_ca(&dir);
    let ok = json!({"status": "success", "data": [{"recipient": "233241234567", "id": "1"}]});
    let limited = json!({"status": 429, "body": {}, "headers": {"Retry-After": "1"}});
    let api = Canned::start(
        &dir,
        &json!({"/api/v2/sms/send": [limited, answer(200, ok)]}),
    );
    let out = run(&env("sms", NUMBER, &conf(&dir, &api)));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(api.records().len(), 2, "one retry after the 1 s wait");

    let long = json!({"status": 429, "body": {}, "headers": {"Retry-After": "30"}});
    let api = Canned::start(&dir, &json!({"/api/v2/sms/send": [long]}));
    let out = run(&env("sms", NUMBER, &conf(&dir, &api)));
    assert_eq!(out.status.code(), Some(82), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "retry-after 30");
    assert!(stderr(&out).contains("arkesel: rate limited, retry after 30 s"));
    assert_eq!(
        api.records().len(),
        1,
        "a 30 s wait is the module's, not the helper's"
    );
}

#[test]
fn an_otp_call_is_generated_by_arkesel_and_checked_by_number() {
    let dir = Dir::new("arkesel_otp");
    test_ca(&dir);
    let generated = json!({"code": "1000", "ussd_code": "*928*01#",
                           "message": "Successful, OTP is being processed for delivery"});
    let api = Canned::start(
        &dir,
        &json!({
            "/api/otp/generate": [answer(200, generated)],
            "/api/otp/verify": [answer(200, json!({"code": "1100", "message": "Successful"})),
                                answer(200, json!({"code": "1104", "message": "Invalid code"})),
                                answer(200, json!({"code": "1105", "message": "Code has expired"}))],
        }),
    );
    let conf = conf(&dir, &api);
    let out = run(&env("voice", NUMBER, &conf));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "verify number\n");
    let r = api.records();
    assert_eq!(r[0]["path"], "/api/otp/generate");
    assert_eq!(r[0]["headers"]["api-key"], KEY);
    let body: Value = serde_json::from_str(r[0]["body"].as_str().unwrap()).unwrap();
    let message = body["message"].as_str().unwrap().to_owned();
    assert!(
        message.contains("%otp_code%") && message.contains("sshd"),
        "{message}"
    );
    assert!(!message.contains(CODE), "Arkesel's code, not ours");
    // PAM_OTP_EXPIRES is far ahead in these tests: the longest life we ask for.
    assert_eq!(
        body,
        json!({"expiry": 10, "length": 6, "medium": "voice", "message": message,
               "number": "233241234567", "sender_id": "PamOtp", "type": "numeric"})
    );

    let mut check = env("voice", NUMBER, &conf);
    check.push(("PAM_OTP_CHECK".into(), "number".into()));
    let approved = run(&check);
    assert!(approved.status.success(), "{}", stderr(&approved));
    let r = api.records();
    assert_eq!(r[1]["path"], "/api/otp/verify");
    let body: Value = serde_json::from_str(r[1]["body"].as_str().unwrap()).unwrap();
    assert_eq!(body, json!({"code": CODE, "number": "233241234567"}));
    let rejected = run(&check);
    assert_eq!(rejected.status.code(), Some(80), "{}", stderr(&rejected));
    let expired = run(&check);
    assert_eq!(expired.status.code(), Some(81), "{}", stderr(&expired));
    assert_clean(&expired);
}

#[test]
fn otp_generate_codes_have_their_exit_status() {
    let dir = Dir::new("arkesel_otp_fail");
    test_ca(&dir);
    for (code, exit, words) in [
        ("1004", 78, "arkesel: bad credentials (HTTP 200, code 1004"),
        ("1005", 65, "arkesel: invalid number (code 1005)"),
        ("1007", 69, "arkesel: insufficient balance (code 1007)"),
        ("1011", 75, "arkesel: server error (HTTP 200, code 1011)"),
    ] {
        let api = Canned::start(
            &dir,
            &json!({"/api/otp/generate": [answer(200, json!({"code": code, "message": "x"}))]}),
        );
        let out = run(&env("sms", NUMBER, &otp_conf(&dir, &api)));
        assert_eq!(out.status.code(), Some(exit), "{code}: {}", stderr(&out));
        assert!(stderr(&out).contains(words), "{code}: {}", stderr(&out));
        assert_eq!(stdout(&out), "", "no handle when nothing was sent");
        assert_clean(&out);
        let body: Value = serde_json::from_str(api.records()[0]["body"].as_str().unwrap()).unwrap();
        assert_eq!(body["medium"], "sms");
    }
}
