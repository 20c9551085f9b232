//! Firebase Cloud Messaging through the built helper, as the module starts it, against a
//! local stand-in of Google's token endpoint and FCM's send (tests/support/canned.py) with a
//! test CA: the signed JWT the token endpoint receives, the message FCM receives, the
//! service account key file's checks, and the exit status for FCM's documented errors.
#![allow(clippy::unwrap_used, clippy::panic)]

#[path = "support/canned.rs"]
mod canned;
mod support;

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use canned::Canned;
use serde_json::{json, Value};
use support::*;

const APP: &str = "dXk2R3Fp:APA91bH-test_token-0123456789abcdef";
const ACCESS: &str = "ya29.test-access-token";
const SEND: &str = "/v1/projects/pam-otp-test/messages:send";

/// A service account key file for `api`'s token endpoint (0600) and deliver.conf.
fn conf(dir: &Dir, api: &Canned) -> std::path::PathBuf {
    let pem = std::fs::read_to_string(rsa_key(dir, "sa-key").0).unwrap();
    let account = json!({
        "type": "service_account", "project_id": "pam-otp-test",
        "private_key_id": "4f1c0ffee0123456789abcdef0123456789abcde", "private_key": pem,
        "client_email": "pam-otp@pam-otp-test.iam.gserviceaccount.com", "client_id": "1234",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": format!("{}/token", api.url()),
    });
    let key_file = dir.private("fcm-service-account.json", &account.to_string());
    dir.private(
        "deliver.conf",
        &format!(
            "fcm_service_account_file = {}\nfcm_base_url = {}\nca_file = {}\ntimeout = 5\n",
            key_file.display(),
            api.url(),
            dir.path("ca.pem").display()
        ),
    )
}

fn token_ok() -> Value {
    json!({"status": 200, "body": {"access_token": ACCESS, "expires_in": 3599,
                                   "token_type": "Bearer"}})
}

fn sent() -> Value {
    json!({"status": 200, "body": {"name": "projects/pam-otp-test/messages/0:1700000000%1"}})
}

fn fcm_error(status: u16, rpc: &str, code: &str) -> Value {
    json!({"status": status, "body": {"error": {"code": status, "message": "about the token",
        "status": rpc, "details": [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
                                    "errorCode": code}]}}})
}

fn form_field<'a>(form: &'a str, name: &str) -> &'a str {
    form.split('&')
        .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} in {form}"))
}

#[test]
fn the_code_is_pushed_with_a_token_minted_from_the_service_account() {
    let dir = Dir::new("fcm_send");
    test_ca(&dir);
    let api = Canned::start(&dir, &json!({"/token": [token_ok()], SEND: [sent()]}));
    let out = run(&env("fcm", APP, &conf(&dir, &api)));
    assert!(out.status.success(), "{}", stderr(&out));
    let r = api.records();
    assert_eq!(r.len(), 2);

    // The token request: the JWT bearer grant, an RS256 JWT the key's public half verifies.
    assert_eq!(r[0]["path"], "/token");
    assert_eq!(
        r[0]["headers"]["content-type"],
        "application/x-www-form-urlencoded"
    );
    let form = r[0]["body"].as_str().unwrap();
    assert_eq!(
        form_field(form, "grant_type"),
        "urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer"
    );
    let jwt = form_field(form, "assertion");
    let parts: Vec<&str> = jwt.split('.').collect();
    assert_eq!(parts.len(), 3);
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    assert_eq!(
        header,
        json!({"alg": "RS256", "typ": "JWT", "kid": "4f1c0ffee0123456789abcdef0123456789abcde"})
    );
    assert_eq!(
        claims["iss"],
        "pam-otp@pam-otp-test.iam.gserviceaccount.com"
    );
    assert_eq!(
        claims["scope"],
        "https://www.googleapis.com/auth/firebase.messaging"
    );
    assert_eq!(claims["aud"], format!("{}/token", api.url()));
    let iat = claims["iat"].as_u64().unwrap();
    assert_eq!(claims["exp"].as_u64().unwrap(), iat + 3600);
    std::fs::write(dir.path("signed"), format!("{}.{}", parts[0], parts[1])).unwrap();
    std::fs::write(dir.path("sig"), URL_SAFE_NO_PAD.decode(parts[2]).unwrap()).unwrap();
    let verified = Command::new("openssl")
        .current_dir(&dir.0)
        .args([
            "dgst",
            "-sha256",
            "-verify",
            "sa-key.pub",
            "-signature",
            "sig",
            "signed",
        ])
        .output()
        .unwrap();
    assert!(verified.status.success(), "the JWT's signature verifies");

    // The send: the bearer token and the documented message.
    assert_eq!(r[1]["path"], SEND);
    assert_eq!(r[1]["headers"]["authorization"], format!("Bearer {ACCESS}"));
    let body: Value = serde_json::from_str(r[1]["body"].as_str().unwrap()).unwrap();
    let m = &body["message"];
    assert_eq!(m["token"], APP);
    assert_eq!(m["notification"]["title"], "One-time code for sshd");
    assert!(m["notification"]["body"]
        .as_str()
        .unwrap()
        .contains(&format!("sshd: {CODE}")));
    assert_eq!(
        m["data"],
        json!({"pam_otp": "code", "code": CODE, "service": "sshd", "expires": "4102444800"})
    );
    assert_eq!(m["android"], json!({"priority": "high", "ttl": "2419200s"}));
    assert_eq!(
        m["apns"],
        json!({"headers": {"apns-priority": "10", "apns-expiration": "4102444800"}})
    );
}

#[test]
fn fcm_errors_have_their_exit_status_and_plain_words() {
    let dir = Dir::new("fcm_fail");
    test_ca(&dir);
    for (answer, code, words) in [
        (
            fcm_error(404, "NOT_FOUND", "UNREGISTERED"),
            65,
            "fcm: token unregistered",
        ),
        (
            fcm_error(400, "INVALID_ARGUMENT", "INVALID_ARGUMENT"),
            65,
            "fcm: invalid token",
        ),
        (
            fcm_error(403, "PERMISSION_DENIED", "SENDER_ID_MISMATCH"),
            65,
            "SENDER_ID_MISMATCH",
        ),
        (
            fcm_error(401, "UNAUTHENTICATED", "THIRD_PARTY_AUTH_ERROR"),
            78,
            "THIRD_PARTY_AUTH_ERROR",
        ),
        (
            fcm_error(503, "UNAVAILABLE", "UNAVAILABLE"),
            75,
            "fcm: server error (HTTP 503)",
        ),
        (
            fcm_error(500, "INTERNAL", "INTERNAL"),
            75,
            "fcm: server error (HTTP 500)",
        ),
    ] {
        let api = Canned::start(&dir, &json!({"/token": [token_ok()], SEND: [answer]}));
        let out = run(&env("fcm", APP, &conf(&dir, &api)));
        assert_eq!(out.status.code(), Some(code), "{}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains(words), "{err}");
        for secret in [APP, ACCESS, CODE, "about the token"] {
            assert!(!err.contains(secret), "{err}");
        }
    }
}

#[test]
fn quota_exceeded_is_retried_once_after_a_short_wait_else_passed_on() {
    let dir = Dir::new("fcm_quota");
    test_ca(&dir);
    let mut short = fcm_error(429, "RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED");
    short["headers"] = json!({"Retry-After": "1"});
    let api = Canned::start(
        &dir,
        &json!({"/token": [token_ok()], SEND: [short, sent()]}),
    );
    let out = run(&env("fcm", APP, &conf(&dir, &api)));
    assert!(out.status.success(), "{}", stderr(&out));
    let paths: Vec<Value> = api.records().iter().map(|r| r["path"].clone()).collect();
    assert_eq!(paths, [json!("/token"), json!(SEND), json!(SEND)]);

    let mut long = fcm_error(429, "RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED");
    long["headers"] = json!({"Retry-After": "60"});
    let api = Canned::start(&dir, &json!({"/token": [token_ok()], SEND: [long]}));
    let out = run(&env("fcm", APP, &conf(&dir, &api)));
    assert_eq!(out.status.code(), Some(82), "{}", stderr(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "retry-after 60\n");
}

#[test]
fn a_refused_key_is_bad_configuration_and_nothing_is_sent() {
    let dir = Dir::new("fcm_grant");
    test_ca(&dir);
    let refused = json!({"status": 400, "body": {"error": "invalid_grant",
                                                 "error_description": "Invalid JWT Signature."}});
    let api = Canned::start(&dir, &json!({"/token": [refused], SEND: [sent()]}));
    let out = run(&env("fcm", APP, &conf(&dir, &api)));
    assert_eq!(out.status.code(), Some(78), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("fcm: bad credentials (HTTP 400, invalid_grant)"),
        "{}",
        stderr(&out)
    );
    assert!(!stderr(&out).contains("Signature"));
    assert_eq!(api.records().len(), 1, "no send without an access token");
}

#[test]
fn the_key_file_must_be_private_and_not_a_link() {
    let dir = Dir::new("fcm_keyfile");
    test_ca(&dir);
    let api = Canned::start(&dir, &json!({"/token": [token_ok()], SEND: [sent()]}));
    let conf = conf(&dir, &api);
    let key_file = dir.path("fcm-service-account.json");

    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o640)).unwrap();
    let out = run(&env("fcm", APP, &conf));
    assert_eq!(out.status.code(), Some(78));
    assert!(
        stderr(&out).contains("fcm_service_account_file must not be readable"),
        "{}",
        stderr(&out)
    );

    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::rename(&key_file, dir.path("real.json")).unwrap();
    std::os::unix::fs::symlink(dir.path("real.json"), &key_file).unwrap();
    let out = run(&env("fcm", APP, &conf));
    assert_eq!(out.status.code(), Some(78));
    assert!(
        stderr(&out).contains("cannot open fcm_service_account_file"),
        "{}",
        stderr(&out)
    );
    assert!(
        api.records().is_empty(),
        "nothing sent with an unsafe key file"
    );

    std::fs::remove_file(&key_file).unwrap();
    std::fs::write(&key_file, "{\"type\": \"authorized_user\"}").unwrap();
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = run(&env("fcm", APP, &conf));
    assert_eq!(out.status.code(), Some(78));
    assert!(
        stderr(&out).contains("type is not service_account"),
        "{}",
        stderr(&out)
    );
}
