//! Vonage (Nexmo): the SMS API (our code in a text) and Verify v2 (Vonage's code by text or
//! call, checked by Vonage).

use std::path::PathBuf;

use zeroize::Zeroizing;

use crate::config::{bad, Config, Keys};
use crate::http::{self, json_string, Answer};
use crate::{message, Failure, Job};

use super::jwt::SigningKey;
use super::{digits, masked, with_one_retry, Verdict};

/// Digits of Vonage's own code: six, as ours (Vonage's default is four, a tenth of the
/// guessing work).
const CODE_LENGTH: u8 = 6;
/// How long a JWT we sign is valid: one request, with room for clock skew.
const JWT_LIFETIME_SECS: u64 = 300;

/// Where the SMS API is, unless `vonage_base_url` says otherwise.
pub const DEFAULT_BASE_URL: &str = "https://rest.nexmo.com";
/// Where Verify v2 is, unless `vonage_verify_base_url` says otherwise.
pub const DEFAULT_VERIFY_BASE_URL: &str = "https://api.nexmo.com";
/// The brand Verify names in its message when `vonage_brand` says nothing.
pub const DEFAULT_BRAND: &str = "pam_otp";

/// The `vonage_*` settings.
#[derive(Debug)]
pub struct Settings {
    pub api_key: String,
    pub api_secret: Zeroizing<String>,
    /// The SMS API's `from`: a number (digits) or an alphanumeric sender id.
    pub from: Option<String>,
    /// Verify v2's `brand`.
    pub brand: String,
    /// Verify v2 by JWT (an application id and its private key) rather than Basic.
    pub application: Option<(String, PathBuf)>,
    pub base_url: String,
    pub verify_base_url: String,
}

impl Settings {
    /// Takes the `vonage_*` keys; `None` when there is none.
    pub fn parse(keys: &mut Keys) -> Result<Option<Settings>, Failure> {
        let api_key = keys.plain("vonage_api_key");
        let api_secret = keys.secret("vonage_api_secret");
        let from = keys.plain("vonage_from");
        let brand = keys.plain("vonage_brand");
        let application_id = keys.plain("vonage_application_id");
        let private_key_file = keys.path("vonage_private_key_file")?;
        let base_url = keys.https_url("vonage_base_url")?;
        let verify_base_url = keys.https_url("vonage_verify_base_url")?;
        let (Some(api_key), Some(api_secret)) = (api_key.clone(), api_secret) else {
            let stray = api_key.is_some()
                || from.is_some()
                || brand.is_some()
                || application_id.is_some()
                || private_key_file.is_some()
                || base_url.is_some()
                || verify_base_url.is_some();
            return if stray {
                Err(bad("vonage needs vonage_api_key and vonage_api_secret"))
            } else {
                Ok(None)
            };
        };
        if !api_key.bytes().all(|b| b.is_ascii_alphanumeric()) || api_key.len() > 32 {
            return Err(bad("vonage_api_key is not a Vonage API key"));
        }
        if let Some(from) = &from {
            let number = (7..=15).contains(&from.len()) && from.bytes().all(|b| b.is_ascii_digit());
            let alphanumeric = (1..=11).contains(&from.len())
                && from.bytes().all(|b| b.is_ascii_alphanumeric() || b == b' ')
                && from.bytes().any(|b| b.is_ascii_alphabetic());
            if !number && !alphanumeric {
                return Err(bad(
                    "vonage_from must be a number (digits, no +) or an alphanumeric sender id (at most 11)",
                ));
            }
        }
        let brand = brand.unwrap_or_else(|| DEFAULT_BRAND.to_owned());
        if brand.len() > 16 {
            return Err(bad("vonage_brand must be at most 16 characters"));
        }
        let application = match (application_id, private_key_file) {
            (None, None) => None,
            (Some(id), Some(file)) => Some((id, file)),
            _ => {
                return Err(bad(
                    "vonage_application_id and vonage_private_key_file go together",
                ))
            }
        };
        Ok(Some(Settings {
            api_key,
            api_secret,
            from,
            brand,
            application,
            base_url: base_url.unwrap_or_else(|| DEFAULT_BASE_URL.to_owned()),
            verify_base_url: verify_base_url.unwrap_or_else(|| DEFAULT_VERIFY_BASE_URL.to_owned()),
        }))
    }
}

fn settings(config: &Config) -> Result<&Settings, Failure> {
    config
        .vonage
        .as_ref()
        .ok_or_else(|| Failure::config("no vonage settings in the configuration"))
}

/// A request to Vonage.
#[derive(Debug)]
pub struct Request {
    pub url: String,
    /// Verify v2's `Authorization` (Basic or Bearer JWT); the SMS API takes its key and
    /// secret in the body.
    pub authorization: Option<Zeroizing<String>>,
    pub content_type: &'static str,
    pub body: Zeroizing<String>,
}

fn post(config: &Config, request: &Request) -> Result<Answer, Failure> {
    let mut headers = vec![("Accept", "application/json")];
    if let Some(a) = &request.authorization {
        headers.push(("Authorization", a.as_str()));
    }
    http::request(
        config,
        "POST",
        &request.url,
        &headers,
        request.content_type,
        request.body.as_bytes(),
    )
}

/// Send an SMS: `POST {base}/sms/json`, form `api_key`, `api_secret`, `from`, `to` (digits,
/// no `+`), `text`, and `type=unicode` when the text is not plain ASCII.
/// <https://developer.vonage.com/en/api/sms#send-an-sms>
pub fn sms_request(settings: &Settings, to: &str, text: &str) -> Result<Request, Failure> {
    let from = settings
        .from
        .as_deref()
        .ok_or_else(|| Failure::config("vonage needs vonage_from to send texts"))?;
    let mut fields = vec![
        ("api_key", settings.api_key.as_str()),
        ("api_secret", settings.api_secret.as_str()),
        ("from", from),
        ("to", digits(to)),
        ("text", text),
    ];
    if !text.is_ascii() {
        fields.push(("type", "unicode"));
    }
    Ok(Request {
        url: format!("{}/sms/json", settings.base_url),
        authorization: None,
        content_type: "application/x-www-form-urlencoded",
        body: http::form(&fields),
    })
}

/// The SMS API's per-message `status` (its HTTP status is 200 whatever happened):
/// <https://developer.vonage.com/en/messaging/sms/guides/troubleshooting-sms#sms-api-error-codes>.
/// Its `error-text` is never quoted (it can hold the number).
pub fn sms_status_failure(status: u64, to: &str) -> Option<Failure> {
    let s = status;
    Some(match s {
        0 => return None,
        // 1 Throttled (faster than the account's limit); 10 Too many existing binds
        // (back off and retry).
        1 | 10 => Failure::rate_limited(None, format!("vonage: rate limited (status {s})")),
        4 => Failure::config(format!("vonage: bad credentials (status {s})")),
        5 => Failure::unreachable(format!("vonage: server error (status {s})")),
        // 7 Number barred.
        7 => Failure::refused(format!("vonage: {} is barred (status {s})", masked(to))),
        8 => Failure::refused(format!("vonage: account suspended (status {s})")),
        // 6 Invalid message: Vonage's table gives "an unrecognized number prefix" as its
        // example; our text is plain, so it is the number.
        6 => Failure::bad_contact(format!(
            "vonage: invalid number {} (status {s})",
            masked(to)
        )),
        // 9 Partner quota violation: not enough credit.
        9 => Failure::refused(format!("vonage: insufficient balance (status {s})")),
        // 11 Account not enabled for the HTTP SMS API.
        11 => Failure::config(format!(
            "vonage: the account is not enabled for the SMS API (status {s})"
        )),
        // 15 Invalid sender address: vonage_from is not allowed here.
        15 => Failure::config(format!(
            "vonage: invalid sender, check vonage_from (status {s})"
        )),
        // 29 Non-whitelisted destination (a trial account sends only to its test numbers).
        29 => Failure::refused(format!(
            "vonage: {} is not a whitelisted destination (status {s})",
            masked(to)
        )),
        // 2 Missing parameters, 3 Invalid parameters, 12 Message too long, 14 Invalid signature, 22 Invalid network
        // code, 23 Invalid callback URL, 32/33/34 …: the status number says which. Vonage's
        // statuses have at most 3 digits; a longer number is not quoted.
        _ if s < 1000 => Failure::refused(format!("vonage: refused (status {s})")),
        _ => Failure::refused("vonage: refused (unknown status)"),
    })
}

/// What an HTTP error answer from any Vonage API means. Vonage's errors are RFC 7807
/// (`type`, `title`, `detail`): <https://developer.vonage.com/en/api-errors>; only the
/// HTTP status is used (the detail can quote the request).
pub fn http_failure(status: u16, retry_after: Option<u64>) -> Failure {
    match status {
        401 => Failure::config(format!("vonage: bad credentials (HTTP {status})")),
        402 => Failure::refused(format!("vonage: insufficient balance (HTTP {status})")),
        429 => {
            let wait = retry_after.map_or(String::new(), |s| format!(", retry after {s} s"));
            Failure::rate_limited(
                retry_after,
                format!("vonage: rate limited{wait} (HTTP {status})"),
            )
        }
        500..=599 => Failure::unreachable(format!("vonage: server error (HTTP {status})")),
        _ => Failure::refused(format!("vonage: refused (HTTP {status})")),
    }
}

/// The SMS API's answer: `{"message-count": "1", "messages": [{"status": "0", …}]}`, every
/// message's `status` "0" when all went out.
pub fn sms_answer(answer: &Answer, to: &str) -> Result<(), Failure> {
    if answer.status != 200 {
        return Err(http_failure(answer.status, answer.retry_after));
    }
    let body = answer.json();
    let messages = body
        .get("messages")
        .and_then(serde_json::Value::as_array)
        .filter(|m| !m.is_empty())
        .ok_or_else(|| Failure::refused("vonage: the answer holds no message status"))?;
    for m in messages {
        // Documented as a string ("0"); a number is read too.
        let status = match m.get("status") {
            Some(serde_json::Value::String(s)) => pam_otp_core::decimal::parse_decimal::<u64>(s),
            Some(v) => v.as_u64(),
            None => None,
        }
        .ok_or_else(|| Failure::refused("vonage: the answer holds no message status"))?;
        if let Some(mut f) = sms_status_failure(status, to) {
            if f.status == pam_otp_core::oob::exit::RATE_LIMITED {
                f.retry_after = answer.retry_after;
            }
            return Err(f);
        }
    }
    Ok(())
}

/// A Verify v2 `request_id` (a UUID; at most 64 of hex digits and dashes).
fn is_request_id(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
}

/// Verify v2's `Authorization`: a JWT signed with the application's private key when
/// `vonage_application_id` and `vonage_private_key_file` are set, else Basic API key and
/// secret. <https://developer.vonage.com/en/getting-started/concepts/authentication>
fn verify_authorization(settings: &Settings, now: u64) -> Result<Zeroizing<String>, Failure> {
    let Some((application_id, key_file)) = &settings.application else {
        return Ok(http::basic_auth(&settings.api_key, &settings.api_secret));
    };
    let pem = crate::config::read_private(key_file, "vonage_private_key_file")?;
    let key = SigningKey::from_pem(&pem, "vonage_private_key_file")?;
    let jwt = key.sign(JWT_HEADER, &jwt_claims(application_id, now, &jti()?))?;
    Ok(Zeroizing::new(format!("Bearer {}", jwt.as_str())))
}

/// The JOSE header of Vonage's JWTs.
pub const JWT_HEADER: &str = "{\"alg\":\"RS256\",\"typ\":\"JWT\"}";

/// The claims Vonage reads (`application_id`, `iat`, `exp`, `jti`):
/// <https://developer.vonage.com/en/getting-started/concepts/authentication#json-web-tokens>.
pub fn jwt_claims(application_id: &str, now: u64, jti: &str) -> String {
    format!(
        "{{\"application_id\":{},\"iat\":{now},\"exp\":{},\"jti\":{}}}",
        json_string(application_id),
        now + JWT_LIFETIME_SECS,
        json_string(jti)
    )
}

/// A unique token id: 16 random bytes in hex.
fn jti() -> Result<String, Failure> {
    use ring::rand::SecureRandom as _;
    let mut bytes = [0u8; 16];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| Failure::new(pam_otp_core::oob::exit::SOFTWARE, "no random bytes"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Start a verification: `POST {verify_base}/v2/verify`, JSON `{"brand": …, "code_length": 6, "workflow":
/// [{"channel": "sms"|"voice", "to": digits}]}`.
/// <https://developer.vonage.com/en/api/verify.v2#newRequest>
pub fn verify_start_request(
    settings: &Settings,
    authorization: Zeroizing<String>,
    to: &str,
    call: bool,
) -> Request {
    Request {
        url: format!("{}/v2/verify", settings.verify_base_url),
        authorization: Some(authorization),
        content_type: "application/json",
        body: Zeroizing::new(format!(
            "{{\"brand\":{},\"code_length\":{CODE_LENGTH},\"workflow\":[{{\"channel\":\"{}\",\"to\":{}}}]}}",
            json_string(&settings.brand),
            if call { "voice" } else { "sms" },
            json_string(digits(to))
        )),
    }
}

/// Check a code: `POST {verify_base}/v2/verify/{request_id}`, JSON `{"code": …}`.
/// <https://developer.vonage.com/en/api/verify.v2#checkCode>
pub fn verify_check_request(
    settings: &Settings,
    authorization: Zeroizing<String>,
    handle: &str,
    code: &str,
) -> Result<Request, Failure> {
    if !is_request_id(handle) {
        return Err(Failure::new(
            pam_otp_core::oob::exit::USAGE,
            "vonage: the handle is not a request_id",
        ));
    }
    Ok(Request {
        url: format!("{}/v2/verify/{handle}", settings.verify_base_url),
        authorization: Some(authorization),
        content_type: "application/json",
        body: Zeroizing::new(format!("{{\"code\":{}}}", json_string(code))),
    })
}

/// The answer to a verification start: 202 `{"request_id": …}`. 409: a verification to the
/// same number is still in progress (concurrent ones are not allowed: wait for it to end);
/// 422: the request is invalid — our only variable parameter is the number.
pub fn verify_start_answer(answer: &Answer, to: &str) -> Result<String, Failure> {
    match answer.status {
        200..=299 => {
            let body = answer.json();
            match body.get("request_id").and_then(serde_json::Value::as_str) {
                Some(id) if is_request_id(id) => Ok(id.to_owned()),
                _ => Err(Failure::refused("vonage: the answer holds no request_id")),
            }
        }
        409 => Err(Failure::rate_limited(
            answer.retry_after,
            format!(
                "vonage: a verification to {} is still in progress (HTTP 409)",
                masked(to)
            ),
        )),
        422 => Err(Failure::bad_contact(format!(
            "vonage: invalid number {} (HTTP 422)",
            masked(to)
        ))),
        s => Err(http_failure(s, answer.retry_after)),
    }
}

/// The answer to a code check: 200 `{"status": "completed"}` is right; 400 with title
/// "Invalid Code" is wrong (the request stays open); 404 (not found, or verified already)
/// and 410 (wrong too many times, or expired: the workflow is over) leave nothing to check;
/// 409: the current workflow step takes no code; 429: rate limited.
pub fn verify_check_answer(answer: &Answer) -> Result<Verdict, Failure> {
    let body = answer.json();
    let field = |k: &str| {
        body.get(k)
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
    };
    match answer.status {
        200 => match field("status").as_deref() {
            Some("completed") => Ok(Verdict::Approved),
            _ => Err(Failure::refused(
                "vonage: the check answer holds no known status",
            )),
        },
        400 if field("title").as_deref() == Some("Invalid Code") => Ok(Verdict::Rejected),
        404 | 410 => Ok(Verdict::Expired),
        409 => Err(Failure::refused(
            "vonage: the verification's current step takes no code (HTTP 409)",
        )),
        s => Err(http_failure(s, answer.retry_after)),
    }
}

/// SMS API: our code in a text to `job.contact`.
pub fn sms(config: &Config, job: &Job) -> Result<(), Failure> {
    let settings = settings(config)?;
    let to = job.contact.address();
    let text = Zeroizing::new(message::sms_text(job));
    let request = sms_request(settings, to, &text)?;
    with_one_retry(|| sms_answer(&post(config, &request)?, to))
}

/// Verify v2: asks Vonage to send its code by text (`call` false) or call (workflow
/// `voice`); returns the `request_id` as the handle.
pub fn verify_start(config: &Config, job: &Job, call: bool) -> Result<String, Failure> {
    let settings = settings(config)?;
    let to = job.contact.address();
    let request =
        verify_start_request(settings, verify_authorization(settings, job.now)?, to, call);
    with_one_retry(|| verify_start_answer(&post(config, &request)?, to))
}

/// Verify v2: checks the typed code (`job.code`) against request `handle`.
pub fn verify_check(config: &Config, job: &Job, handle: &str) -> Result<Verdict, Failure> {
    let settings = settings(config)?;
    let request = verify_check_request(
        settings,
        verify_authorization(settings, job.now)?,
        handle,
        &job.code,
    )?;
    let verdict = with_one_retry(|| verify_check_answer(&post(config, &request)?))?;
    if verdict == Verdict::Rejected {
        // One answer per login: end this verification, so the user's next login can start
        // one (Vonage refuses a second to the same number while one is pending, 409).
        // Best effort: if the cancel fails, the request expires on its own.
        // The check's own authorization, so nothing new can fail before the cancel.
        let cancel = format!("{}/v2/verify/{handle}", settings.verify_base_url);
        if let Some(auth) = &request.authorization {
            let _ = http::request(
                config,
                "DELETE",
                &cancel,
                &[("Authorization", auth.as_str())],
                "",
                b"",
            );
        }
    }
    Ok(verdict)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pam_otp_core::oob::exit;

    const TO: &str = "+447700900067";
    const ID: &str = "c11236f4-00bf-4b89-84ba-88b25df97315";

    fn settings(extra: &str) -> Settings {
        let text = format!(
            "vonage_api_key = abcd1234\nvonage_api_secret = s3cr3t\n\
             vonage_base_url = https://rest.example\nvonage_verify_base_url = https://api.example\n{extra}"
        );
        crate::config::parse(&text).unwrap().vonage.unwrap()
    }

    fn answer(status: u16, body: &str) -> Answer {
        Answer {
            status,
            retry_after: None,
            body: body.to_owned(),
        }
    }

    fn sms_status(status: &str) -> Result<(), Failure> {
        sms_answer(
            &answer(
                200,
                &format!(
                    r#"{{"message-count":"1","messages":[{{"to":"447700900067","status":"{status}","error-text":"Bad number 447700900067"}}]}}"#
                ),
            ),
            TO,
        )
    }

    #[test]
    fn an_sms_is_a_form_post_with_the_key_in_the_body() {
        let s = settings("vonage_from = PamOtp\n");
        let r = sms_request(&s, TO, "Your code: 123456").unwrap();
        assert_eq!(r.url, "https://rest.example/sms/json");
        assert!(r.authorization.is_none());
        assert_eq!(r.content_type, "application/x-www-form-urlencoded");
        assert_eq!(
            r.body.as_str(),
            "api_key=abcd1234&api_secret=s3cr3t&from=PamOtp&to=447700900067&text=Your+code%3A+123456"
        );
        let r = sms_request(&s, TO, "Code für sshd").unwrap();
        assert!(r.body.ends_with("&type=unicode"), "{}", r.body.as_str());
        let f = sms_request(&settings(""), TO, "x").unwrap_err();
        assert_eq!(f.status, exit::BAD_CONFIG);
        assert!(f.message.contains("vonage_from"));
    }

    #[test]
    fn sms_statuses() {
        assert!(sms_status("0").is_ok());
        let cases: &[(&str, i32, &str)] = &[
            ("1", exit::RATE_LIMITED, "vonage: rate limited (status 1)"),
            ("2", exit::REFUSED, "vonage: refused (status 2)"),
            ("3", exit::REFUSED, "vonage: refused (status 3)"),
            ("4", exit::BAD_CONFIG, "vonage: bad credentials (status 4)"),
            ("5", exit::UNREACHABLE, "vonage: server error (status 5)"),
            (
                "6",
                exit::BAD_CONTACT,
                "vonage: invalid number •••67 (status 6)",
            ),
            ("7", exit::REFUSED, "vonage: •••67 is barred (status 7)"),
            ("8", exit::REFUSED, "vonage: account suspended (status 8)"),
            (
                "9",
                exit::REFUSED,
                "vonage: insufficient balance (status 9)",
            ),
            ("10", exit::RATE_LIMITED, "vonage: rate limited (status 10)"),
            (
                "11",
                exit::BAD_CONFIG,
                "vonage: the account is not enabled for the SMS API (status 11)",
            ),
            ("12", exit::REFUSED, "vonage: refused (status 12)"),
            (
                "15",
                exit::BAD_CONFIG,
                "vonage: invalid sender, check vonage_from (status 15)",
            ),
            (
                "29",
                exit::REFUSED,
                "vonage: •••67 is not a whitelisted destination (status 29)",
            ),
            ("33", exit::REFUSED, "vonage: refused (status 33)"),
        ];
        for &(status, exit_status, words) in cases {
            let f = sms_status(status).unwrap_err();
            assert_eq!((f.status, f.message.as_str()), (exit_status, words));
            assert!(!f.message.contains("447700900067") && !f.message.contains("Bad number"));
        }
        // HTTP errors and unreadable answers.
        let f = sms_answer(&answer(401, "{}"), TO).unwrap_err();
        assert_eq!(
            (f.status, f.message.as_str()),
            (exit::BAD_CONFIG, "vonage: bad credentials (HTTP 401)")
        );
        let f = sms_answer(&answer(502, ""), TO).unwrap_err();
        assert_eq!(f.status, exit::UNREACHABLE);
        let f = sms_answer(&answer(200, r#"{"messages":[]}"#), TO).unwrap_err();
        assert_eq!(f.status, exit::REFUSED);
        let f = sms_answer(
            &Answer {
                status: 429,
                retry_after: Some(1),
                body: String::new(),
            },
            TO,
        )
        .unwrap_err();
        assert_eq!((f.status, f.retry_after), (exit::RATE_LIMITED, Some(1)));
    }

    #[test]
    fn verify_requests() {
        let s = settings("vonage_brand = Acme VPN\n");
        let auth = http::basic_auth("abcd1234", "s3cr3t");
        let r = verify_start_request(&s, auth.clone(), TO, false);
        assert_eq!(r.url, "https://api.example/v2/verify");
        assert_eq!(r.content_type, "application/json");
        assert_eq!(
            r.body.as_str(),
            r#"{"brand":"Acme VPN","code_length":6,"workflow":[{"channel":"sms","to":"447700900067"}]}"#
        );
        assert_eq!(
            r.authorization.as_deref().map(|a| a.as_str()),
            Some(auth.as_str())
        );
        let r = verify_start_request(&settings(""), auth.clone(), TO, true);
        assert_eq!(
            r.body.as_str(),
            r#"{"brand":"pam_otp","code_length":6,"workflow":[{"channel":"voice","to":"447700900067"}]}"#
        );
        let r = verify_check_request(&s, auth.clone(), ID, "1234").unwrap();
        assert_eq!(r.url, format!("https://api.example/v2/verify/{ID}"));
        assert_eq!(r.body.as_str(), r#"{"code":"1234"}"#);
        assert_eq!(
            verify_check_request(&s, auth, "../x", "1234")
                .unwrap_err()
                .status,
            exit::USAGE
        );
        // Without an application: Basic.
        assert_eq!(
            verify_authorization(&s, 1).unwrap().as_str(),
            http::basic_auth("abcd1234", "s3cr3t").as_str()
        );
    }

    #[test]
    fn jwt_claims_are_the_documented_ones() {
        let claims: serde_json::Value = serde_json::from_str(&jwt_claims(
            "aaaaaaaa-bbbb-cccc-dddd-0123456789ab",
            1_700_000_000,
            "00ff",
        ))
        .unwrap();
        assert_eq!(
            claims,
            serde_json::json!({"application_id": "aaaaaaaa-bbbb-cccc-dddd-0123456789ab",
                "iat": 1_700_000_000u64, "exp": 1_700_000_300u64, "jti": "00ff"})
        );
        assert_eq!(jti().unwrap().len(), 32);
        assert_ne!(jti().unwrap(), jti().unwrap());
    }

    #[test]
    fn verify_answers() {
        assert_eq!(
            verify_start_answer(&answer(202, &format!(r#"{{"request_id":"{ID}"}}"#)), TO).unwrap(),
            ID
        );
        let start =
            |status, body: &str| verify_start_answer(&answer(status, body), TO).unwrap_err();
        let f = start(
            409,
            r#"{"title":"Conflict","detail":"Concurrent verifications to the same number are not allowed.","request_id":"575a2054-aaaf-4405-994e-290be7b9a91f"}"#,
        );
        assert_eq!(f.status, exit::RATE_LIMITED);
        assert_eq!(
            f.message,
            "vonage: a verification to •••67 is still in progress (HTTP 409)"
        );
        assert_eq!(
            start(422, r#"{"title":"Invalid params"}"#).status,
            exit::BAD_CONTACT
        );
        assert_eq!(start(401, "{}").status, exit::BAD_CONFIG);
        let f = start(402, r#"{"title":"Low balance"}"#);
        assert_eq!(
            (f.status, f.message.as_str()),
            (exit::REFUSED, "vonage: insufficient balance (HTTP 402)")
        );
        assert_eq!(
            start(429, r#"{"title":"Rate Limit Hit"}"#).status,
            exit::RATE_LIMITED
        );
        assert_eq!(start(503, "").status, exit::UNREACHABLE);
        assert_eq!(start(403, r#"{"title":"Forbidden"}"#).status, exit::REFUSED);
        assert_eq!(start(202, r#"{"request_id":"x/y"}"#).status, exit::REFUSED);

        let check = |status, body: &str| verify_check_answer(&answer(status, body));
        assert_eq!(
            check(
                200,
                &format!(r#"{{"request_id":"{ID}","status":"completed"}}"#)
            )
            .unwrap(),
            Verdict::Approved
        );
        assert_eq!(
            check(400, r#"{"title":"Invalid Code","detail":"The code you provided does not match the expected value."}"#).unwrap(),
            Verdict::Rejected
        );
        assert_eq!(
            check(404, r#"{"title":"Not Found","detail":"Request 'x' was not found or it has been verified already."}"#).unwrap(),
            Verdict::Expired
        );
        assert_eq!(
            check(410, r#"{"title":"Invalid Code","detail":"An incorrect code has been provided too many times. Workflow terminated."}"#).unwrap(),
            Verdict::Expired
        );
        assert_eq!(
            check(409, r#"{"title":"Conflict"}"#).unwrap_err().status,
            exit::REFUSED
        );
        assert_eq!(
            check(429, r#"{"title":"Rate Limit Hit"}"#)
                .unwrap_err()
                .status,
            exit::RATE_LIMITED
        );
        assert_eq!(
            check(400, r#"{"title":"Bad Request"}"#).unwrap_err().status,
            exit::REFUSED
        );
        assert_eq!(
            check(200, r#"{"status":"failed"}"#).unwrap_err().status,
            exit::REFUSED
        );
        assert_eq!(check(401, "").unwrap_err().status, exit::BAD_CONFIG);
    }

    #[test]
    fn a_status_longer_than_vonages_is_not_quoted() {
        let f = sms_status_failure(447_700_900_067, TO).unwrap();
        assert_eq!(f.status, exit::REFUSED);
        assert_eq!(f.message, "vonage: refused (unknown status)");
        assert_eq!(
            sms_status_failure(999, TO).unwrap().message,
            "vonage: refused (status 999)"
        );
    }
}
