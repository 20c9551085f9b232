//! The fake providers themselves (crates/testkit/fakes/providers.py), driven with raw HTTPS
//! requests by `curl`: a well-formed request of each API is accepted, answered as the provider
//! documents and recorded without violations; each kind of malformed request is refused with
//! the provider's documented error and recorded as a violation; faults, slow answers and
//! dropped connections come when asked for.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use pam_otp_testkit::providers::{self, jwt_rs256, unix_now, FakeProviders};
use pam_otp_testkit::TestDir;
use serde_json::{json, Value};

const FORM: &str = "Content-Type: application/x-www-form-urlencoded";

/// Form fields of a request.
type Form<'a> = &'a [(&'a str, &'a str)];
const JSON: &str = "Content-Type: application/json";

/// What curl got: status (0 = no answer), headers (lower-cased names), body as JSON (or Null),
/// and curl's exit code.
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Value,
    exit: i32,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// `curl -X method base/path` with `args` (headers, -u, --data-binary…).
fn curl(fake: &FakeProviders, method: &str, path: &str, args: &[&str]) -> Reply {
    let out = Command::new("curl")
        .args(["-sS", "-i", "--max-time", "10", "--cacert"])
        .arg(&fake.ca)
        .args(["-X", method])
        .args(args)
        .arg(format!("{}{path}", fake.base_url()))
        .stdin(Stdio::null())
        .output()
        .expect("run curl");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_lowercase(), v.trim().to_string()))
        .collect();
    Reply {
        status,
        headers,
        body: serde_json::from_str(body).unwrap_or(Value::Null),
        exit: out.status.code().unwrap_or(-1),
    }
}

fn post_form(fake: &FakeProviders, path: &str, user: &str, form: &[(&str, &str)]) -> Reply {
    let mut args: Vec<String> = vec!["-H".into(), FORM.into(), "-u".into(), user.into()];
    for (k, v) in form {
        args.push("--data-urlencode".into());
        args.push(format!("{k}={v}"));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    curl(fake, "POST", path, &args)
}

fn post_json(fake: &FakeProviders, path: &str, auth: &[&str], body: &Value) -> Reply {
    let body = body.to_string();
    let mut args = vec!["-H", JSON, "--data-binary", &body];
    args.extend_from_slice(auth);
    curl(fake, "POST", path, &args)
}

fn twilio_user() -> String {
    format!(
        "{}:{}",
        providers::TWILIO_ACCOUNT_SID,
        providers::TWILIO_AUTH_TOKEN
    )
}

fn messages_path() -> String {
    format!(
        "/2010-04-01/Accounts/{}/Messages.json",
        providers::TWILIO_ACCOUNT_SID
    )
}

/// The last request's record.
fn last(fake: &FakeProviders) -> Value {
    fake.requests().pop().expect("a recorded request")
}

fn violations_of(record: &Value) -> Vec<String> {
    record["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

/// Asserts the last request was recorded with `provider`, `status` and at least one violation
/// containing `needle`.
fn assert_violation(fake: &FakeProviders, provider: &str, status: u16, needle: &str) {
    let r = last(fake);
    assert_eq!(r["provider"], provider, "{r}");
    assert_eq!(r["status"], status, "{r}");
    let v = violations_of(&r);
    assert!(
        v.iter().any(|v| v.contains(needle)),
        "expected a violation mentioning {needle:?}, got {v:?}"
    );
}

fn assert_clean(fake: &FakeProviders, provider: &str, status: u16) {
    let r = last(fake);
    assert_eq!(r["provider"], provider, "{r}");
    assert_eq!(r["status"], status, "{r}");
    assert!(violations_of(&r).is_empty(), "unexpected violations: {r}");
}

fn start(tag: &str) -> (TestDir, FakeProviders) {
    let dir = TestDir::tagged(tag);
    let fake = FakeProviders::start(dir.path());
    (dir, fake)
}

#[test]
fn twilio_messaging_accepts_records_and_refuses_as_twilio_documents() {
    let (_dir, fake) = start("fake-twilio");
    let path = messages_path();
    let r = post_form(
        &fake,
        &path,
        &twilio_user(),
        &[
            ("To", "+233241234567"),
            ("From", "+15005550006"),
            ("Body", "Your code is 40718263"),
        ],
    );
    assert_eq!(r.status, 201, "{}", r.body);
    assert!(r.body["sid"].as_str().unwrap().starts_with("SM"));
    assert_eq!(r.body["status"], "queued");
    assert_eq!(r.body["to"], "+233241234567");
    assert_clean(&fake, "twilio", 201);
    let rec = last(&fake);
    assert!(rec["headers"]["authorization"]
        .as_str()
        .unwrap()
        .starts_with("Basic "));
    assert_eq!(rec["fields"]["Body"], "Your code is 40718263");
    assert_eq!(fake.last_code_to("+233241234567"), "40718263");

    // API key + Messaging Service instead of From: accepted ("accepted" status).
    let key_user = format!(
        "{}:{}",
        providers::TWILIO_API_KEY,
        providers::TWILIO_API_SECRET
    );
    let r = post_form(
        &fake,
        &path,
        &key_user,
        &[
            ("To", "+233241234567"),
            (
                "MessagingServiceSid",
                providers::TWILIO_MESSAGING_SERVICE_SID,
            ),
            ("Body", "hello"),
        ],
    );
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["status"], "accepted");
    assert_clean(&fake, "twilio", 201);

    // Wrong token: 401 / 20003 with Twilio's error body.
    let wrong = format!("{}:nope", providers::TWILIO_ACCOUNT_SID);
    let r = post_form(
        &fake,
        &path,
        &wrong,
        &[("To", "+233241234567"), ("Body", "x")],
    );
    assert_eq!((r.status, r.body["code"].as_u64()), (401, Some(20003)));
    assert_eq!(r.body["status"], 401);
    assert_eq!(
        r.body["more_info"],
        "https://www.twilio.com/docs/errors/20003"
    );
    assert_violation(&fake, "twilio", 401, "credentials");

    // An API key for the right account, but another account in the path: refused.
    let other = "/2010-04-01/Accounts/ACffffffffffffffffffffffffffffffff/Messages.json";
    let r = post_form(
        &fake,
        other,
        &key_user,
        &[("To", "+233241234567"), ("Body", "x")],
    );
    assert_eq!(r.body["code"], 20003);
    assert_violation(&fake, "twilio", 401, "AccountSid in the path");

    let cases: &[(Form, u64, &str)] = &[
        (
            &[("From", "+15005550006"), ("Body", "x")],
            21604,
            "To is missing",
        ),
        (
            &[
                ("To", "0241234567"),
                ("From", "+15005550006"),
                ("Body", "x"),
            ],
            21211,
            "not E.164",
        ),
        (
            &[("To", "+233241234567"), ("From", "+15005550006")],
            21602,
            "Body",
        ),
        (
            &[("To", "+233241234567"), ("Body", "x")],
            21603,
            "neither From",
        ),
        (
            &[
                ("To", "+233241234567"),
                ("From", "not a sender!"),
                ("Body", "x"),
            ],
            21212,
            "From",
        ),
    ];
    for (form, code, needle) in cases {
        let r = post_form(&fake, &path, &twilio_user(), form);
        assert_eq!(r.status, 400, "{form:?}: {}", r.body);
        assert_eq!(r.body["code"].as_u64(), Some(*code), "{form:?}: {}", r.body);
        assert_violation(&fake, "twilio", 400, needle);
    }
    let long = "9".repeat(1601);
    let r = post_form(
        &fake,
        &path,
        &twilio_user(),
        &[
            ("To", "+233241234567"),
            ("From", "+15005550006"),
            ("Body", &long),
        ],
    );
    assert_eq!(r.body["code"], 21617);

    // JSON instead of a form: Twilio sees no parameters; the fake says why.
    let r = post_json(
        &fake,
        &path,
        &["-u", &twilio_user()],
        &json!({"To": "+233241234567", "From": "+15005550006", "Body": "x"}),
    );
    assert_eq!(r.body["code"], 21604);
    assert_violation(&fake, "twilio", 400, "x-www-form-urlencoded");

    // GET: 405 / 20004.
    let r = curl(&fake, "GET", &path, &["-u", &twilio_user()]);
    assert_eq!(r.body["code"], 20004);
    assert_violation(&fake, "twilio", 405, "method GET");

    // An undocumented parameter: Twilio ignores it (201), the fake records it.
    let r = post_form(
        &fake,
        &path,
        &twilio_user(),
        &[
            ("To", "+233241234567"),
            ("From", "+15005550006"),
            ("Body", "x"),
            ("Colour", "red"),
        ],
    );
    assert_eq!(r.status, 201);
    assert_violation(&fake, "twilio", 201, "Colour");
}

#[test]
fn twilio_faults_answer_documented_errors_and_are_not_violations() {
    let (_dir, fake) = start("fake-twilio-faults");
    let path = messages_path();
    let form = [
        ("To", "+233241234567"),
        ("From", "+15005550006"),
        ("Body", "x"),
    ];
    fake.next_with(&json!({"provider": "twilio", "answer": "rate_limited", "retry_after": 17}));
    let r = post_form(&fake, &path, &twilio_user(), &form);
    assert_eq!((r.status, r.body["code"].as_u64()), (429, Some(20429)));
    assert_eq!(r.header("retry-after"), Some("17"));
    assert_clean(&fake, "twilio", 429);
    for (answer, status, code) in [
        ("bad_credentials", 401, 20003),
        ("invalid_number", 400, 21211),
        ("insufficient_balance", 401, 20005),
        ("server_error", 503, 20503),
    ] {
        fake.next("twilio", answer, 1);
        let r = post_form(&fake, &path, &twilio_user(), &form);
        assert_eq!(r.status, status, "{answer}");
        assert_eq!(r.body["code"].as_u64(), Some(code), "{answer}");
    }
    // Spent: the next one is delivered normally.
    assert_eq!(post_form(&fake, &path, &twilio_user(), &form).status, 201);
    // `times` and reset.
    fake.next("twilio", "server_error", 5);
    assert_eq!(post_form(&fake, &path, &twilio_user(), &form).status, 503);
    fake.reset();
    assert_eq!(post_form(&fake, &path, &twilio_user(), &form).status, 201);
    assert!(fake.violations().is_empty(), "{:?}", fake.violations());
}

#[test]
fn twilio_verify_generates_checks_and_expires_codes() {
    let (_dir, fake) = start("fake-twilio-verify");
    let svc = providers::TWILIO_VERIFY_SERVICE_SID;
    let start_path = format!("/v2/Services/{svc}/Verifications");
    let check_path = format!("/v2/Services/{svc}/VerificationCheck");
    let to = "+233241234567";
    let r = post_form(
        &fake,
        &start_path,
        &twilio_user(),
        &[("To", to), ("Channel", "sms")],
    );
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(
        (r.body["status"].as_str(), r.body["valid"].as_bool()),
        (Some("pending"), Some(false))
    );
    let vsid = r.body["sid"].as_str().unwrap().to_string();
    assert!(vsid.starts_with("VE") && vsid.len() == 34);
    assert_clean(&fake, "twilio-verify", 201);
    let code = fake.last_code_to(to);
    assert_eq!(code.len(), 6);
    assert!(code.chars().all(|c| c.is_ascii_digit()));
    let wrong = if code == "000000" { "111111" } else { "000000" };

    let r = post_form(
        &fake,
        &check_path,
        &twilio_user(),
        &[("To", to), ("Code", wrong)],
    );
    assert_eq!(
        (r.status, r.body["status"].as_str()),
        (200, Some("pending"))
    );
    assert_eq!(r.body["valid"], false);
    let r = post_form(
        &fake,
        &check_path,
        &twilio_user(),
        &[("VerificationSid", &vsid), ("Code", &code)],
    );
    assert_eq!(
        (r.status, r.body["status"].as_str()),
        (200, Some("approved"))
    );
    assert_eq!(r.body["valid"], true);
    assert_clean(&fake, "twilio-verify", 200);
    // Approved: gone.
    let r = post_form(
        &fake,
        &check_path,
        &twilio_user(),
        &[("To", to), ("Code", &code)],
    );
    assert_eq!((r.status, r.body["code"].as_u64()), (404, Some(20404)));

    // Five wrong checks, then 60202 even for the right code.
    let r = post_form(
        &fake,
        &start_path,
        &twilio_user(),
        &[("To", to), ("Channel", "call")],
    );
    assert_eq!(r.status, 201);
    let code = fake.last_code_to(to);
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for _ in 0..5 {
        let r = post_form(
            &fake,
            &check_path,
            &twilio_user(),
            &[("To", to), ("Code", wrong)],
        );
        assert_eq!(r.body["status"], "pending");
    }
    let r = post_form(
        &fake,
        &check_path,
        &twilio_user(),
        &[("To", to), ("Code", &code)],
    );
    assert_eq!((r.status, r.body["code"].as_u64()), (429, Some(60202)));

    // Malformed: no target, bad channel, bad To, unknown service.
    let r = post_form(&fake, &check_path, &twilio_user(), &[("Code", "123456")]);
    assert_eq!((r.status, r.body["code"].as_u64()), (400, Some(60221)));
    assert_violation(
        &fake,
        "twilio-verify",
        400,
        "neither To nor VerificationSid",
    );
    let r = post_form(
        &fake,
        &start_path,
        &twilio_user(),
        &[("To", to), ("Channel", "pigeon")],
    );
    assert_eq!(r.body["code"], 60200);
    assert_violation(&fake, "twilio-verify", 400, "Channel");
    let r = post_form(
        &fake,
        &start_path,
        &twilio_user(),
        &[("To", "233241234567"), ("Channel", "sms")],
    );
    assert_eq!(r.body["code"], 60200);
    assert_violation(&fake, "twilio-verify", 400, "E.164");
    let r = post_form(
        &fake,
        "/v2/Services/VAffffffffffffffffffffffffffffffff/Verifications",
        &twilio_user(),
        &[("To", to), ("Channel", "sms")],
    );
    assert_eq!((r.status, r.body["code"].as_u64()), (404, Some(20404)));
    let r = post_form(
        &fake,
        &start_path,
        "AC0:nope",
        &[("To", to), ("Channel", "sms")],
    );
    assert_eq!((r.status, r.body["code"].as_u64()), (401, Some(20003)));
}

#[test]
fn vonage_sms_answers_per_message_status_codes() {
    let (_dir, fake) = start("fake-vonage");
    let ok = [
        ("api_key", providers::VONAGE_API_KEY),
        ("api_secret", providers::VONAGE_API_SECRET),
        ("from", "PamOtp"),
        ("to", "233241234567"),
        ("text", "Your code is 55512345"),
    ];
    let mut args: Vec<String> = vec!["-H".into(), FORM.into()];
    for (k, v) in ok {
        args.push("--data-urlencode".into());
        args.push(format!("{k}={v}"));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let r = curl(&fake, "POST", "/sms/json", &args);
    assert_eq!(r.status, 200);
    assert_eq!(r.body["message-count"], "1");
    let m = &r.body["messages"][0];
    assert_eq!(
        (m["status"].as_str(), m["to"].as_str()),
        (Some("0"), Some("233241234567"))
    );
    assert!(m["message-id"].is_string() && m["remaining-balance"].is_string());
    assert_clean(&fake, "vonage", 200);
    assert_eq!(fake.last_code_to("+233241234567"), "55512345");

    // The same as JSON.
    let mut body: serde_json::Map<String, Value> =
        ok.iter().map(|(k, v)| (k.to_string(), json!(v))).collect();
    let r = post_json(&fake, "/sms/json", &[], &Value::Object(body.clone()));
    assert_eq!(r.body["messages"][0]["status"], "0");
    assert_clean(&fake, "vonage", 200);

    let cases: &[(&str, Value, &str, &str)] = &[
        ("api_secret", json!("wrong"), "4", "api_key/api_secret"),
        ("to", json!("+233241234567"), "3", "without +"),
        ("from", json!("TooLongSenderName"), "15", "from"),
    ];
    for (key, value, status, needle) in cases {
        let mut b = body.clone();
        b.insert(key.to_string(), value.clone());
        let r = post_json(&fake, "/sms/json", &[], &Value::Object(b));
        assert_eq!(r.status, 200, "Vonage answers errors with HTTP 200");
        assert_eq!(
            r.body["messages"][0]["status"], *status,
            "{key}: {}",
            r.body
        );
        assert!(r.body["messages"][0]["error-text"].is_string());
        assert_violation(&fake, "vonage", 200, needle);
    }
    body.remove("text");
    let r = post_json(&fake, "/sms/json", &[], &Value::Object(body.clone()));
    assert_eq!(r.body["messages"][0]["status"], "2");
    assert_violation(&fake, "vonage", 200, "text is missing");

    fake.next_with(&json!({"provider": "vonage", "answer": "rate_limited", "retry_after": 9}));
    let mut b = body.clone();
    b.insert("text".into(), json!("x"));
    let r = post_json(&fake, "/sms/json", &[], &Value::Object(b.clone()));
    assert_eq!(r.body["messages"][0]["status"], "1");
    assert!(r.body["messages"][0]["error-text"]
        .as_str()
        .unwrap()
        .contains("[ 9 ]"));
    fake.next("vonage", "insufficient_balance", 1);
    let r = post_json(&fake, "/sms/json", &[], &Value::Object(b));
    assert_eq!(r.body["messages"][0]["status"], "9");
    assert_clean(&fake, "vonage", 200);
}

fn vonage_jwt(fake: &FakeProviders, application_id: &str) -> String {
    let now = unix_now();
    jwt_rs256(
        &fake.vonage_private_key,
        &json!({"alg": "RS256", "typ": "JWT"}),
        &json!({"application_id": application_id, "iat": now, "exp": now + 300,
                "jti": format!("jti-{now}-{}", std::process::id())}),
    )
}

#[test]
fn vonage_verify_v2_with_jwt_and_basic_auth() {
    let (_dir, fake) = start("fake-vonage-verify");
    let bearer = format!(
        "Authorization: Bearer {}",
        vonage_jwt(&fake, providers::VONAGE_APPLICATION_ID)
    );
    let auth = ["-H", bearer.as_str()];
    let start = json!({"brand": "pam_otp", "workflow": [{"channel": "sms", "to": "233241234567"}],
                       "code_length": 6});
    let r = post_json(&fake, "/v2/verify", &auth, &start);
    assert_eq!(r.status, 202, "{}", r.body);
    let id = r.body["request_id"].as_str().unwrap().to_string();
    assert_eq!(id.len(), 36);
    assert_clean(&fake, "vonage-verify", 202);
    let code = fake.last_code_to("233241234567");
    assert_eq!(code.len(), 6);

    // A second start to the same number while pending: 409.
    let r = post_json(&fake, "/v2/verify", &auth, &start);
    assert_eq!(r.status, 409);
    assert_eq!(r.body["request_id"], id.as_str());
    assert_eq!(
        r.header("content-type"),
        Some("application/problem+json; charset=utf-8")
    );

    let check = format!("/v2/verify/{id}");
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let r = post_json(&fake, &check, &auth, &json!({"code": wrong}));
    assert_eq!(
        (r.status, r.body["title"].as_str()),
        (400, Some("Invalid Code"))
    );
    for key in ["type", "title", "detail", "instance"] {
        assert!(r.body[key].is_string(), "{key} in {}", r.body);
    }
    let r = post_json(&fake, &check, &auth, &json!({"code": code}));
    assert_eq!(r.status, 200);
    assert_eq!(r.body, json!({"request_id": id, "status": "completed"}));
    assert_clean(&fake, "vonage-verify", 200);
    let r = post_json(&fake, &check, &auth, &json!({"code": code}));
    assert_eq!(r.status, 404);

    // Basic auth; three wrong codes end the workflow (410).
    let basic = format!(
        "{}:{}",
        providers::VONAGE_API_KEY,
        providers::VONAGE_API_SECRET
    );
    let basic_auth = ["-u", basic.as_str()];
    let voice =
        json!({"brand": "pam_otp", "workflow": [{"channel": "voice", "to": "233241234568"}]});
    let r = post_json(&fake, "/v2/verify", &basic_auth, &voice);
    assert_eq!(r.status, 202, "{}", r.body);
    let check = format!("/v2/verify/{}", r.body["request_id"].as_str().unwrap());
    assert_eq!(
        fake.last_code_to("233241234568").len(),
        4,
        "default code_length"
    );
    let statuses: Vec<u16> = (0..4)
        .map(|_| post_json(&fake, &check, &basic_auth, &json!({"code": "99999999"})).status)
        .collect();
    assert_eq!(statuses, [400, 400, 410, 410]);

    // Bad credentials and forged JWTs: 401 + violation.
    let forged = format!(
        "Authorization: Bearer {}",
        vonage_jwt(&fake, "00000000-0000-4000-8000-000000000000")
    );
    let r = post_json(&fake, "/v2/verify", &["-H", &forged], &start);
    assert_eq!(r.status, 401);
    assert_violation(&fake, "vonage-verify", 401, "application_id");
    let other_key = jwt_rs256(
        &fake.fcm_private_key,
        &json!({"alg": "RS256", "typ": "JWT"}),
        &json!({"application_id": providers::VONAGE_APPLICATION_ID, "iat": unix_now(), "jti": "x"}),
    );
    let r = post_json(
        &fake,
        "/v2/verify",
        &["-H", &format!("Authorization: Bearer {other_key}")],
        &start,
    );
    assert_eq!(r.status, 401);
    assert_violation(&fake, "vonage-verify", 401, "signature");
    let r = post_json(&fake, "/v2/verify", &["-u", "key:wrong"], &start);
    assert_eq!(r.status, 401);

    // Invalid params: 422 with invalid_parameters.
    let r = post_json(
        &fake,
        "/v2/verify",
        &basic_auth,
        &json!({"brand": "pam_otp", "workflow": [{"channel": "sms", "to": "+233241234569"}]}),
    );
    assert_eq!(r.status, 422);
    assert_eq!(r.body["invalid_parameters"][0]["name"], "workflow[0].to");
    assert_violation(&fake, "vonage-verify", 422, "workflow[0].to");
    let r = post_json(
        &fake,
        "/v2/verify",
        &basic_auth,
        &json!({"workflow": [{"channel": "sms", "to": "233241234569"}]}),
    );
    assert_eq!(r.status, 422);
    assert_violation(&fake, "vonage-verify", 422, "brand");

    fake.next("vonage-verify", "insufficient_balance", 1);
    let r = post_json(
        &fake,
        "/v2/verify",
        &basic_auth,
        &json!({"brand": "b", "workflow": [{"channel": "sms", "to": "233241234569"}]}),
    );
    assert_eq!(
        (r.status, r.body["title"].as_str()),
        (402, Some("Low balance"))
    );
    fake.next_with(
        &json!({"provider": "vonage-verify", "answer": "rate_limited", "retry_after": 4}),
    );
    let r = post_json(
        &fake,
        "/v2/verify",
        &basic_auth,
        &json!({"brand": "b", "workflow": [{"channel": "sms", "to": "233241234569"}]}),
    );
    assert_eq!((r.status, r.header("retry-after")), (429, Some("4")));
    assert_clean(&fake, "vonage-verify", 429);
}

#[test]
fn arkesel_sms_and_otp() {
    let (_dir, fake) = start("fake-arkesel");
    let key = format!("api-key: {}", providers::ARKESEL_API_KEY);
    let auth = ["-H", key.as_str()];
    let sms =
        json!({"sender": "PamOtp", "message": "Code 12345678", "recipients": ["233241234567"]});
    let r = post_json(&fake, "/api/v2/sms/send", &auth, &sms);
    assert_eq!(r.status, 200);
    assert_eq!(r.body["status"], "success");
    assert_eq!(r.body["data"][0]["recipient"], "233241234567");
    assert!(r.body["data"][0]["id"].is_string());
    assert_clean(&fake, "arkesel", 200);
    assert_eq!(fake.last_code_to("233241234567"), "12345678");

    let r = post_json(&fake, "/api/v2/sms/send", &["-H", "api-key: wrong"], &sms);
    assert_eq!((r.status, r.body["status"].as_str()), (401, Some("error")));
    assert_violation(&fake, "arkesel", 401, "api-key");
    let r = post_json(
        &fake,
        "/api/v2/sms/send",
        &auth,
        &json!({"sender": "TwelveChars!", "message": "x", "recipients": ["233241234567"]}),
    );
    assert_eq!(r.status, 422);
    assert_violation(&fake, "arkesel", 422, "11 characters");
    let r = post_json(
        &fake,
        "/api/v2/sms/send",
        &auth,
        &json!({"sender": "PamOtp", "message": "x", "recipients": ["+233 24 123"]}),
    );
    assert_eq!(r.status, 422);
    assert_eq!(r.body["data"]["invalid numbers"][0], "+233 24 123");
    assert_violation(&fake, "arkesel", 422, "recipients");

    // OTP.
    let generate = json!({"expiry": 5, "length": 6, "medium": "sms", "number": "233241234570",
                          "message": "Your pam_otp code is %otp_code%, valid %expiry% minutes",
                          "sender_id": "PamOtp", "type": "numeric"});
    let r = post_json(&fake, "/api/otp/generate", &auth, &generate);
    assert_eq!((r.status, r.body["code"].as_str()), (200, Some("1000")));
    assert_clean(&fake, "arkesel-otp", 200);
    let code = fake.last_code_to("233241234570");
    assert_eq!(code.len(), 6);
    let d = fake.delivered().pop().unwrap();
    assert_eq!(
        d.text,
        format!("Your pam_otp code is {code}, valid 5 minutes")
    );
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let r = post_json(
        &fake,
        "/api/otp/verify",
        &auth,
        &json!({"code": wrong, "number": "233241234570"}),
    );
    assert_eq!(r.body["code"], "1104");
    let r = post_json(
        &fake,
        "/api/otp/verify",
        &auth,
        &json!({"code": code, "number": "233241234570"}),
    );
    assert_eq!((r.status, r.body["code"].as_str()), (200, Some("1100")));
    assert_clean(&fake, "arkesel-otp", 200);
    let r = post_json(
        &fake,
        "/api/otp/verify",
        &auth,
        &json!({"code": code, "number": "233241234570"}),
    );
    assert_eq!(
        r.body["code"], "1103",
        "used: no OTP for the number any more"
    );

    let mut no_slot = generate.clone();
    no_slot["message"] = json!("Your code");
    let r = post_json(&fake, "/api/otp/generate", &auth, &no_slot);
    assert_eq!(r.body["code"], "1002");
    assert_violation(&fake, "arkesel-otp", 422, "%otp_code%");
    let mut missing = generate.clone();
    missing.as_object_mut().unwrap().remove("sender_id");
    let r = post_json(&fake, "/api/otp/generate", &auth, &missing);
    assert_eq!(r.body["code"], "1001");
    assert_violation(&fake, "arkesel-otp", 422, "sender_id");
    let r = post_json(
        &fake,
        "/api/otp/generate",
        &["-H", "api-key: wrong"],
        &generate,
    );
    assert_eq!(r.body["code"], "1004");

    fake.next("arkesel-otp", "insufficient_balance", 1);
    let r = post_json(&fake, "/api/otp/generate", &auth, &generate);
    assert_eq!(r.body["code"], "1007");
    assert_clean(&fake, "arkesel-otp", 402);
}

fn fcm_assertion(fake: &FakeProviders, iat: i64, exp: i64) -> String {
    jwt_rs256(
        &fake.fcm_private_key,
        &json!({"alg": "RS256", "typ": "JWT", "kid": providers::FCM_PRIVATE_KEY_ID}),
        &json!({"iss": providers::FCM_CLIENT_EMAIL,
                "scope": "https://www.googleapis.com/auth/firebase.messaging",
                "aud": fake.token_uri(), "iat": iat, "exp": exp}),
    )
}

fn token_request(fake: &FakeProviders, assertion: &str) -> Reply {
    let a = format!("assertion={assertion}");
    curl(
        fake,
        "POST",
        "/token",
        &[
            "-H",
            FORM,
            "--data-urlencode",
            "grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer",
            "--data-urlencode",
            &a,
        ],
    )
}

const DEVICE: &str = "dXNlcjpwYW1fb3RwOmRldmljZS10b2tlbi0wMTIzNDU2Nzg5";

#[test]
fn fcm_token_and_send() {
    let (_dir, fake) = start("fake-fcm");
    let sa: Value =
        serde_json::from_str(&std::fs::read_to_string(&fake.service_account).unwrap()).unwrap();
    assert_eq!(sa["token_uri"], fake.token_uri().as_str());
    assert_eq!(sa["type"], "service_account");
    assert!(sa["private_key"]
        .as_str()
        .unwrap()
        .contains("BEGIN PRIVATE KEY"));

    let now = unix_now();
    let r = token_request(&fake, &fcm_assertion(&fake, now, now + 3600));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        (r.body["expires_in"].as_u64(), r.body["token_type"].as_str()),
        (Some(3599), Some("Bearer"))
    );
    assert_clean(&fake, "fcm", 200);
    let bearer = format!(
        "Authorization: Bearer {}",
        r.body["access_token"].as_str().unwrap()
    );
    let auth = ["-H", bearer.as_str()];

    let send = format!("/v1/projects/{}/messages:send", providers::FCM_PROJECT_ID);
    let msg = json!({"message": {"token": DEVICE,
        "notification": {"title": "pam_otp", "body": "Your code is 86420135"},
        "data": {"code": "86420135"}}});
    let r = post_json(&fake, &send, &auth, &msg);
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body["name"]
        .as_str()
        .unwrap()
        .starts_with("projects/pam-otp-test/messages/"));
    assert_clean(&fake, "fcm", 200);
    assert_eq!(fake.last_code_to(DEVICE), "86420135");

    // Token errors: lifetime over an hour, someone else's key, wrong grant type.
    let r = token_request(&fake, &fcm_assertion(&fake, now, now + 7200));
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert_violation(&fake, "fcm", 400, "short-lived");
    let forged = jwt_rs256(
        &fake.vonage_private_key,
        &json!({"alg": "RS256", "typ": "JWT", "kid": providers::FCM_PRIVATE_KEY_ID}),
        &json!({"iss": providers::FCM_CLIENT_EMAIL, "scope": "https://www.googleapis.com/auth/firebase.messaging",
                "aud": fake.token_uri(), "iat": now, "exp": now + 3600}),
    );
    let r = token_request(&fake, &forged);
    assert_eq!(r.body["error_description"], "Invalid JWT Signature.");
    let r = curl(
        &fake,
        "POST",
        "/token",
        &["-H", FORM, "--data-urlencode", "grant_type=password"],
    );
    assert_eq!(r.body["error"], "unsupported_grant_type");

    // Send errors: a bearer the fake never issued; a non-string data value; a bad token.
    let r = post_json(
        &fake,
        &send,
        &["-H", "Authorization: Bearer ya29.made-up"],
        &msg,
    );
    assert_eq!(
        (r.status, r.body["error"]["status"].as_str()),
        (401, Some("UNAUTHENTICATED"))
    );
    assert_violation(&fake, "fcm", 401, "Bearer");
    let r = post_json(
        &fake,
        &send,
        &auth,
        &json!({"message": {"token": DEVICE, "data": {"code": 12}}}),
    );
    assert_eq!(
        (r.status, r.body["error"]["status"].as_str()),
        (400, Some("INVALID_ARGUMENT"))
    );
    assert_violation(&fake, "fcm", 400, "message.data[0].value");
    let r = post_json(&fake, &send, &auth, &json!({"message": {"token": "short"}}));
    assert_eq!(
        r.body["error"]["details"][0]["errorCode"],
        "INVALID_ARGUMENT"
    );

    // Documented FCM errors on demand.
    for (answer, status, code) in [
        ("unregistered", 404, "UNREGISTERED"),
        ("sender_id_mismatch", 403, "SENDER_ID_MISMATCH"),
        ("rate_limited", 429, "QUOTA_EXCEEDED"),
        ("server_error", 503, "UNAVAILABLE"),
        ("internal", 500, "INTERNAL"),
        ("third_party_auth_error", 401, "THIRD_PARTY_AUTH_ERROR"),
    ] {
        fake.next("fcm", answer, 1);
        let r = post_json(&fake, &send, &auth, &msg);
        assert_eq!(r.status, status, "{answer}");
        let d = &r.body["error"]["details"][0];
        assert_eq!(
            d["@type"],
            "type.googleapis.com/google.firebase.fcm.v1.FcmError"
        );
        assert_eq!(d["errorCode"], code, "{answer}");
        if answer == "rate_limited" {
            assert_eq!(r.header("retry-after"), Some("30"));
        }
    }
    // FCM documents no balance; the fake refuses to pretend.
    let out = Command::new("curl")
        .args(["-sS", "-o", "/dev/null", "-w", "%{http_code}", "--cacert"])
        .arg(&fake.ca)
        .args([
            "-H",
            JSON,
            "--data-binary",
            r#"{"provider":"fcm","answer":"insufficient_balance"}"#,
        ])
        .arg(format!("{}/_fake/next", fake.base_url()))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "400");
}

#[test]
fn slow_and_dropped_answers_and_unknown_paths() {
    let (_dir, fake) = start("fake-slow-drop");
    let key = format!("api-key: {}", providers::ARKESEL_API_KEY);
    let sms = json!({"sender": "PamOtp", "message": "x", "recipients": ["233241234567"]});
    fake.next_with(&json!({"provider": "arkesel", "answer": "slow", "delay_ms": 1500}));
    let t = Instant::now();
    let r = post_json(&fake, "/api/v2/sms/send", &["-H", &key], &sms);
    assert_eq!(r.status, 200);
    assert!(
        t.elapsed() >= Duration::from_millis(1500),
        "{:?}",
        t.elapsed()
    );

    fake.next("arkesel", "drop", 1);
    let r = post_json(&fake, "/api/v2/sms/send", &["-H", &key], &sms);
    assert_eq!(r.status, 0, "no answer");
    assert_eq!(r.exit, 52, "curl: empty reply from server");
    let rec = last(&fake);
    assert!(rec["status"].is_null());
    assert_eq!(
        fake.delivered().len(),
        1,
        "the dropped request delivered nothing"
    );

    // A malformed request does not consume a fault.
    fake.next("arkesel", "server_error", 1);
    let r = post_json(&fake, "/api/v2/sms/send", &["-H", "api-key: wrong"], &sms);
    assert_eq!(r.status, 401);
    assert_eq!(
        post_json(&fake, "/api/v2/sms/send", &["-H", &key], &sms).status,
        500
    );

    let r = curl(
        &fake,
        "POST",
        "/v3/elsewhere",
        &["-H", JSON, "--data-binary", "{}"],
    );
    assert_eq!(r.status, 404);
    assert_violation(&fake, "unknown", 404, "no provider endpoint");
    assert!(!fake.violations().is_empty());
}
