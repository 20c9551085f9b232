//! The Vonage SMS API and Verify v2 through the built helper, against a local HTTPS
//! stand-in with a test CA answering as Vonage documents: what Vonage receives (Basic or an
//! application JWT), and the exit status and words for each documented answer.
#![allow(clippy::unwrap_used, clippy::panic)]

#[path = "support/canned.rs"]
mod canned;
mod support;

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use canned::Canned;
use serde_json::json;
use support::*;

const KEY: &str = "abcd1234";
const SECRET: &str = "vonage-secret-0123";
const APP: &str = "aaaaaaaa-bbbb-cccc-dddd-0123456789ab";
const ID: &str = "c11236f4-00bf-4b89-84ba-88b25df97315";
const NUMBER: &str = "+447700900067";

fn conf(dir: &Dir, port: u16, extra: &str) -> std::path::PathBuf {
    dir.private(
        "deliver.conf",
        &format!(
            "vonage_api_key = {KEY}\nvonage_api_secret = {SECRET}\nvonage_from = PamOtp\n\
             vonage_base_url = https://127.0.0.1:{port}\nvonage_verify_base_url = https://localhost:{port}\n\
             ca_file = {}\ntimeout = 5\n{extra}",
            dir.path("ca.pem").display()
        ),
    )
}

/// The SMS API's path, and Verify v2's start (a check is `{VERIFY}/{request_id}`).
const SMS: &str = "/sms/json";
const VERIFY: &str = "/v2/verify";

/// A stand-in answering requests to `path` with `answers` in turn (any other path: 404),
/// and the configuration pointing at it.
fn vonage(
    name: &str,
    extra: &str,
    path: &str,
    answers: serde_json::Value,
) -> (Dir, Canned, std::path::PathBuf) {
    let dir = Dir::new(name);
    test_ca(&dir);
    let rx = Canned::start(&dir, &json!({ path: answers }));
    let conf = conf(&dir, rx.port, extra);
    (dir, rx, conf)
}

fn sms_answer(status: &str) -> serde_json::Value {
    json!([{"status": 200, "body": format!(
        r#"{{"message-count":"1","messages":[{{"to":"447700900067","status":"{status}","error-text":"Quota exceeded for 447700900067"}}]}}"#
    )}])
}

#[test]
fn a_text_goes_through_the_sms_api() {
    let (_dir, rx, conf) = vonage(
        "vo_sms",
        "sms_provider = vonage\n",
        SMS,
        json!([{"status": 200, "body": r#"{"message-count":"1","messages":[{"to":"447700900067","message-id":"0A0000000123ABCD1","status":"0","remaining-balance":"3.14","message-price":"0.03","network":"23410"}]}"#}]),
    );
    let out = run(&env("sms", NUMBER, &conf));
    assert!(out.status.success(), "{}", stderr(&out));
    let r = &rx.records()[0];
    assert_eq!(r["path"], "/sms/json");
    assert_eq!(
        r["headers"]["content-type"],
        "application/x-www-form-urlencoded"
    );
    let body = r["body"].as_str().unwrap();
    assert!(
        body.starts_with(&format!(
            "api_key={KEY}&api_secret={SECRET}&from=PamOtp&to=447700900067&text="
        )),
        "{body}"
    );
    assert!(body.contains(CODE));
}

#[test]
fn sms_statuses_name_the_reason_and_nothing_secret() {
    for (status, exit, words) in [
        ("9", 69, "vonage: insufficient balance (status 9)"),
        ("4", 78, "vonage: bad credentials (status 4)"),
        ("1", 82, "vonage: rate limited (status 1)"),
        (
            "15",
            78,
            "vonage: invalid sender, check vonage_from (status 15)",
        ),
        (
            "29",
            69,
            "vonage: •••67 is not a whitelisted destination (status 29)",
        ),
        ("3", 69, "vonage: refused (status 3)"),
    ] {
        let (_dir, _rx, conf) = vonage(
            "vo_smserr",
            "sms_provider = vonage\n",
            SMS,
            sms_answer(status),
        );
        let out = run(&env("sms", NUMBER, &conf));
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(exit), "{err}");
        assert_eq!(err, format!("pam-otp-deliver: {words}\n"));
        for secret in [SECRET, CODE, "447700900067", "Quota"] {
            assert!(!err.contains(secret), "{err}");
        }
    }
}

#[test]
fn verify_with_basic_auth_and_its_verdicts() {
    let (_dir, rx, conf) = vonage(
        "vo_vstart",
        "sms_provider = vonage-verify\nvonage_brand = Acme VPN\n",
        VERIFY,
        json!([{"status": 202, "body": format!(r#"{{"request_id":"{ID}"}}"#)}]),
    );
    let out = run(&env("sms", NUMBER, &conf));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), format!("verify {ID}\n"));
    let r = &rx.records()[0];
    assert_eq!(r["path"], "/v2/verify");
    assert_eq!(r["headers"]["content-type"], "application/json");
    assert_eq!(
        r["headers"]["authorization"],
        format!("Basic {}", STANDARD.encode(format!("{KEY}:{SECRET}")))
    );
    let body: serde_json::Value = serde_json::from_str(r["body"].as_str().unwrap()).unwrap();
    assert_eq!(
        body,
        json!({"brand": "Acme VPN", "code_length": 6, "workflow": [{"channel": "sms", "to": "447700900067"}]})
    );

    for (status, answer, exit) in [
        (200, format!(r#"{{"request_id":"{ID}","status":"completed"}}"#), 0),
        (400, r#"{"type":"https://developer.nexmo.com/api-errors#bad-request","title":"Invalid Code","detail":"The code you provided does not match the expected value."}"#.to_owned(), 80),
        (404, format!(r#"{{"title":"Not Found","detail":"Request '{ID}' was not found or it has been verified already."}}"#), 81),
        (410, r#"{"title":"Invalid Code","detail":"An incorrect code has been provided too many times. Workflow terminated."}"#.to_owned(), 81),
        (429, r#"{"title":"Rate Limit Hit","detail":"Please wait, then retry your request"}"#.to_owned(), 82),
    ] {
        let (_dir, rx, conf) = vonage(
            "vo_check",
            "voice_provider = vonage-verify\n",
            &format!("{VERIFY}/{ID}"),
            json!([{"status": status, "body": answer}]),
        );
        let out = run(&check_env("voice", NUMBER, &conf, ID));
        assert_eq!(out.status.code(), Some(exit), "{answer}: {}", stderr(&out));
        let r = &rx.records()[0];
        assert_eq!(r["path"], format!("/v2/verify/{ID}"));
        assert_eq!(r["body"], format!(r#"{{"code":"{CODE}"}}"#));
    }
}

#[test]
fn verify_with_an_application_signs_a_jwt() {
    let dir = Dir::new("vo_jwt");
    test_ca(&dir);
    let (key, public) = rsa_key(&dir, "vonage");
    let rx = Canned::start(
        &dir,
        &json!({VERIFY: [{"status": 202, "body": format!(r#"{{"request_id":"{ID}"}}"#)}]}),
    );
    let conf = conf(
        &dir,
        rx.port,
        &format!(
            "voice_provider = vonage-verify\nvonage_application_id = {APP}\nvonage_private_key_file = {}\n",
            key.display()
        ),
    );
    let out = run(&env("voice", NUMBER, &conf));
    assert!(out.status.success(), "{}", stderr(&out));
    let r = &rx.records()[0];
    let body: serde_json::Value = serde_json::from_str(r["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["workflow"][0]["channel"], "voice");
    let auth = r["headers"]["authorization"].as_str().unwrap();
    let jwt = auth.strip_prefix("Bearer ").expect(auth);
    let parts: Vec<&str> = jwt.split('.').collect();
    assert_eq!(parts.len(), 3);
    let part = |i: usize| -> serde_json::Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[i]).unwrap()).unwrap()
    };
    assert_eq!(part(0), json!({"alg": "RS256", "typ": "JWT"}));
    let claims = part(1);
    assert_eq!(claims["application_id"], APP);
    let iat = claims["iat"].as_u64().unwrap();
    assert_eq!(claims["exp"].as_u64().unwrap(), iat + 300);
    assert_eq!(claims["jti"].as_str().unwrap().len(), 32);
    // The signature verifies with the application's public key.
    std::fs::write(dir.path("signed"), format!("{}.{}", parts[0], parts[1])).unwrap();
    std::fs::write(dir.path("sig"), URL_SAFE_NO_PAD.decode(parts[2]).unwrap()).unwrap();
    let verified = Command::new("openssl")
        .args(["dgst", "-sha256", "-verify"])
        .arg(&public)
        .arg("-signature")
        .arg(dir.path("sig"))
        .arg(dir.path("signed"))
        .output()
        .unwrap();
    assert!(
        verified.status.success(),
        "{}",
        String::from_utf8_lossy(&verified.stdout)
    );
    assert!(!auth.contains(SECRET));
}

#[test]
fn a_key_file_others_can_read_or_a_link_is_refused() {
    let dir = Dir::new("vo_keyfile");
    test_ca(&dir);
    let (key, _) = rsa_key(&dir, "vonage");
    let rx = Canned::start(
        &dir,
        &json!({VERIFY: [{"status": 202, "body": format!(r#"{{"request_id":"{ID}"}}"#)}]}),
    );
    let link = dir.path("vonage-link.key");
    std::os::unix::fs::symlink(&key, &link).unwrap();
    for (path, mode, words) in [
        (
            &key,
            0o640,
            "must not be readable or writable by group or others",
        ),
        (&link, 0o600, "cannot open"),
    ] {
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(mode)).unwrap();
        let conf = conf(
            &dir,
            rx.port,
            &format!(
                "sms_provider = vonage-verify\nvonage_application_id = {APP}\nvonage_private_key_file = {}\n",
                path.display()
            ),
        );
        let out = run(&env("sms", NUMBER, &conf));
        assert_eq!(out.status.code(), Some(78), "{}", stderr(&out));
        assert!(stderr(&out).contains(words), "{}", stderr(&out));
        assert!(!stderr(&out).contains("PRIVATE"));
    }
    // Nothing was sent with an unsafe key.
    assert!(rx.records().is_empty());
}

#[test]
fn verify_start_errors() {
    for (status, exit, words) in [
        (
            409,
            82,
            "vonage: a verification to •••67 is still in progress (HTTP 409)",
        ),
        (422, 65, "vonage: invalid number •••67 (HTTP 422)"),
        (401, 78, "vonage: bad credentials (HTTP 401)"),
        (402, 69, "vonage: insufficient balance (HTTP 402)"),
        (500, 75, "vonage: server error (HTTP 500)"),
    ] {
        let (_dir, _rx, conf) = vonage(
            "vo_verr",
            "sms_provider = vonage-verify\n",
            VERIFY,
            json!([{"status": status, "body": r#"{"title":"x","detail":"about 447700900067"}"#}]),
        );
        let out = run(&env("sms", NUMBER, &conf));
        assert_eq!(out.status.code(), Some(exit), "{}", stderr(&out));
        assert_eq!(stderr(&out), format!("pam-otp-deliver: {words}\n"));
    }
}
