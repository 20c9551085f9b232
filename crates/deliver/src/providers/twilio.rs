//! Twilio: Programmable Messaging (our code in a text) and Verify v2 (Twilio's code by
//! text or call, checked by Twilio).

use zeroize::Zeroizing;

use crate::config::{bad, Config, Keys};
use crate::http::{self, Answer};
use crate::{message, Failure, Job};

use super::{masked, with_one_retry, Verdict};

/// Where Messaging is, unless `twilio_base_url` says otherwise.
pub const DEFAULT_BASE_URL: &str = "https://api.twilio.com";
/// Where Verify is, unless `twilio_verify_base_url` says otherwise.
pub const DEFAULT_VERIFY_BASE_URL: &str = "https://verify.twilio.com";

/// Who sends a Messaging text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sender {
    /// `From`: an E.164 number or an alphanumeric sender id.
    From(String),
    /// `MessagingServiceSid` (MG…): Twilio picks the number.
    Service(String),
}

/// The `twilio_*` settings.
#[derive(Debug)]
pub struct Settings {
    /// The account (AC…): the path of every Messaging request.
    pub account_sid: String,
    /// HTTP Basic user: the account sid, or an API key (SK…).
    pub auth_user: String,
    /// HTTP Basic password: the auth token, or the API key's secret.
    pub auth_secret: Zeroizing<String>,
    /// Messaging's sender; `None` when only Verify is used.
    pub sender: Option<Sender>,
    /// Verify's service (VA…); `None` when only Messaging is used.
    pub verify_service_sid: Option<String>,
    pub base_url: String,
    pub verify_base_url: String,
}

/// A Twilio sid: two upper-case letters then 32 hexadecimal digits.
fn is_sid(value: &str, prefix: &str) -> bool {
    value.len() == 34
        && value.starts_with(prefix)
        && value[2..].bytes().all(|b| b.is_ascii_hexdigit())
}

impl Settings {
    /// Takes the `twilio_*` keys; `None` when there is none.
    pub fn parse(keys: &mut Keys) -> Result<Option<Settings>, Failure> {
        let account_sid = keys.plain("twilio_account_sid");
        let auth_token = keys.secret("twilio_auth_token");
        let api_key = keys.plain("twilio_api_key");
        let api_secret = keys.secret("twilio_api_secret");
        let from = keys.plain("twilio_from");
        let service = keys.plain("twilio_messaging_service_sid");
        let verify_service_sid = keys.plain("twilio_verify_service_sid");
        let base_url = keys.https_url("twilio_base_url")?;
        let verify_base_url = keys.https_url("twilio_verify_base_url")?;
        let Some(account_sid) = account_sid else {
            let stray = auth_token.is_some()
                || api_key.is_some()
                || api_secret.is_some()
                || from.is_some()
                || service.is_some()
                || verify_service_sid.is_some()
                || base_url.is_some()
                || verify_base_url.is_some();
            return if stray {
                Err(bad("twilio settings without twilio_account_sid"))
            } else {
                Ok(None)
            };
        };
        if !is_sid(&account_sid, "AC") {
            return Err(bad("twilio_account_sid is not an account sid (AC…)"));
        }
        let (auth_user, auth_secret) = match (auth_token, api_key, api_secret) {
            (Some(token), None, None) => (account_sid.clone(), token),
            (None, Some(key), Some(secret)) => {
                if !is_sid(&key, "SK") {
                    return Err(bad("twilio_api_key is not an API key sid (SK…)"));
                }
                (key, secret)
            }
            _ => {
                return Err(bad(
                    "twilio needs twilio_auth_token, or twilio_api_key with twilio_api_secret",
                ))
            }
        };
        let sender = match (from, service) {
            (None, None) => None,
            (Some(from), None) => {
                let number = from.starts_with('+')
                    && pam_otp_core::oob::contact::Contact::parse(&format!("sms:{from}")).is_ok();
                let alphanumeric = (1..=11).contains(&from.len())
                    && from.bytes().all(|b| b.is_ascii_alphanumeric() || b == b' ')
                    && from.bytes().any(|b| b.is_ascii_alphabetic());
                if !number && !alphanumeric {
                    return Err(bad(
                        "twilio_from must be an E.164 number or an alphanumeric sender id (at most 11)",
                    ));
                }
                Some(Sender::From(from))
            }
            (None, Some(sid)) => {
                if !is_sid(&sid, "MG") {
                    return Err(bad(
                        "twilio_messaging_service_sid is not a messaging service sid (MG…)",
                    ));
                }
                Some(Sender::Service(sid))
            }
            (Some(_), Some(_)) => {
                return Err(bad(
                    "twilio_from and twilio_messaging_service_sid exclude each other",
                ))
            }
        };
        if let Some(sid) = &verify_service_sid {
            if !is_sid(sid, "VA") {
                return Err(bad(
                    "twilio_verify_service_sid is not a Verify service sid (VA…)",
                ));
            }
        }
        Ok(Some(Settings {
            account_sid,
            auth_user,
            auth_secret,
            sender,
            verify_service_sid,
            base_url: base_url.unwrap_or_else(|| DEFAULT_BASE_URL.to_owned()),
            verify_base_url: verify_base_url.unwrap_or_else(|| DEFAULT_VERIFY_BASE_URL.to_owned()),
        }))
    }

    /// Whether these settings can carry `provider` (Messaging needs a sender, Verify a
    /// service).
    pub fn supports(&self, provider: super::Provider) -> bool {
        match provider {
            super::Provider::Twilio => self.sender.is_some(),
            super::Provider::TwilioVerify => self.verify_service_sid.is_some(),
            _ => false,
        }
    }
}

/// A request to Twilio: the URL, the form body and its Basic authorisation.
#[derive(Debug)]
pub struct Request {
    pub url: String,
    pub authorization: Zeroizing<String>,
    pub body: Zeroizing<String>,
}

fn settings(config: &Config) -> Result<&Settings, Failure> {
    config
        .twilio
        .as_ref()
        .ok_or_else(|| Failure::config("no twilio settings in the configuration"))
}

fn verify_service(settings: &Settings) -> Result<&str, Failure> {
    settings
        .verify_service_sid
        .as_deref()
        .ok_or_else(|| Failure::config("no twilio_verify_service_sid in the configuration"))
}

fn post(config: &Config, request: &Request) -> Result<Answer, Failure> {
    http::request(
        config,
        "POST",
        &request.url,
        &[
            ("Authorization", request.authorization.as_str()),
            ("Accept", "application/json"),
        ],
        "application/x-www-form-urlencoded",
        request.body.as_bytes(),
    )
}

/// Create a Message: `POST {base}/2010-04-01/Accounts/{AccountSid}/Messages.json`, form
/// `To`, `From` or `MessagingServiceSid`, `Body`; HTTP Basic (account sid and auth token,
/// or API key and secret).
/// <https://www.twilio.com/docs/messaging/api/message-resource#create-a-message-resource>
pub fn message_request(settings: &Settings, to: &str, text: &str) -> Result<Request, Failure> {
    let (sender_key, sender) = match &settings.sender {
        Some(Sender::From(from)) => ("From", from.as_str()),
        Some(Sender::Service(sid)) => ("MessagingServiceSid", sid.as_str()),
        None => {
            return Err(Failure::config(
                "twilio needs twilio_from or twilio_messaging_service_sid to send texts",
            ))
        }
    };
    Ok(Request {
        url: format!(
            "{}/2010-04-01/Accounts/{}/Messages.json",
            settings.base_url, settings.account_sid
        ),
        authorization: http::basic_auth(&settings.auth_user, &settings.auth_secret),
        body: http::form(&[("To", to), (sender_key, sender), ("Body", text)]),
    })
}

/// Start a Verification: `POST {verify_base}/v2/Services/{ServiceSid}/Verifications`, form
/// `To`, `Channel` (`sms` or `call`).
/// <https://www.twilio.com/docs/verify/api/verification#start-new-verification>
pub fn verify_start_request(settings: &Settings, to: &str, call: bool) -> Result<Request, Failure> {
    let service = verify_service(settings)?;
    Ok(Request {
        url: format!(
            "{}/v2/Services/{service}/Verifications",
            settings.verify_base_url
        ),
        authorization: http::basic_auth(&settings.auth_user, &settings.auth_secret),
        body: http::form(&[("To", to), ("Channel", if call { "call" } else { "sms" })]),
    })
}

/// Check a Verification: `POST {verify_base}/v2/Services/{ServiceSid}/VerificationCheck`,
/// form `VerificationSid`, `Code`.
/// <https://www.twilio.com/docs/verify/api/verification-check#check-a-verification>
pub fn verify_check_request(
    settings: &Settings,
    handle: &str,
    code: &str,
) -> Result<Request, Failure> {
    let service = verify_service(settings)?;
    if !is_sid(handle, "VE") {
        return Err(Failure::new(
            pam_otp_core::oob::exit::USAGE,
            "twilio: the handle is not a verification sid (VE…)",
        ));
    }
    Ok(Request {
        url: format!(
            "{}/v2/Services/{service}/VerificationCheck",
            settings.verify_base_url
        ),
        authorization: http::basic_auth(&settings.auth_user, &settings.auth_secret),
        body: http::form(&[("VerificationSid", handle), ("Code", code)]),
    })
}

/// Twilio's error code in an error answer (`{"code": N, "message": …, "status": …}`). Its
/// codes have at most 5 digits; a longer number is no Twilio code (and is not quoted).
fn code_of(body: &serde_json::Value) -> Option<u64> {
    body.get("code")
        .and_then(serde_json::Value::as_u64)
        .filter(|&c| c < 100_000)
}

/// `(HTTP 400, code 21211)`, or `(HTTP 400)` without a code.
fn what(status: u16, code: Option<u64>) -> String {
    match code {
        Some(c) => format!("(HTTP {status}, code {c})"),
        None => format!("(HTTP {status})"),
    }
}

fn rate_limited(retry_after: Option<u64>, status: u16, code: Option<u64>) -> Failure {
    let wait = retry_after.map_or(String::new(), |s| format!(", retry after {s} s"));
    Failure::rate_limited(
        retry_after,
        format!("twilio: rate limited{wait} {}", what(status, code)),
    )
}

/// What a failed answer (any status but 2xx) means, from its HTTP status and Twilio's error
/// code (<https://www.twilio.com/docs/api/errors>). `to` is the number it was for (named
/// masked only). Twilio's own message is never quoted: it can hold the number.
pub fn failure(
    status: u16,
    retry_after: Option<u64>,
    body: &serde_json::Value,
    to: &str,
) -> Failure {
    let code = code_of(body);
    let w = what(status, code);
    match (status, code) {
        // 10001 / 20005 account not active; 30002 account suspended: Twilio's documented
        // cause is a balance at or below zero. First: Twilio may answer them with HTTP 401.
        (_, Some(10001 | 20005 | 30002)) => Failure::refused(format!(
            "twilio: insufficient balance or account suspended {w}"
        )),
        // 20003 Authenticate / Permission denied.
        (401, _) | (_, Some(20003)) => Failure::config(format!("twilio: bad credentials {w}")),
        // 20429 Too many requests; 60203 max send attempts; 60212 too many concurrent
        // requests for the number (all HTTP 429).
        (429, _) | (_, Some(20429 | 60203 | 60212)) => rate_limited(retry_after, status, code),
        (500..=599, _) => Failure::unreachable(format!("twilio: server error (HTTP {status})")),
        // 21211 invalid 'To' number; 21614 'To' is not a mobile number; 21217 not a valid
        // phone number; 60200 invalid parameter (Verify: our only parameters are To and
        // Channel); 60205 SMS to a landline; 13224 a number Twilio cannot call.
        (_, Some(21211 | 21614 | 21217 | 60200 | 60205 | 13224)) => {
            Failure::bad_contact(format!("twilio: invalid number {} {w}", masked(to)))
        }
        // 21212 invalid 'From'; 21606 'From' cannot send texts; 21659 'From' is not a
        // Twilio number; 21660 'From' belongs to another account.
        (_, Some(21212 | 21606 | 21659 | 21660)) => {
            Failure::config(format!("twilio: twilio_from cannot send this text {w}"))
        }
        // 20404 resource not found: the account, service or messaging service sid.
        (404, _) | (_, Some(20404)) => Failure::config(format!(
            "twilio: not found, check the account and service sids {w}"
        )),
        // 21408 region not enabled (Geo permissions); 21610 the recipient replied STOP.
        (_, Some(21408)) => Failure::refused(format!(
            "twilio: sending to this number's region is not enabled {w}"
        )),
        (_, Some(21610)) => Failure::refused(format!(
            "twilio: {} has unsubscribed (replied STOP) {w}",
            masked(to)
        )),
        _ => Failure::refused(format!("twilio: refused {w}")),
    }
}

/// The answer to a Message create: 201 with the message resource.
pub fn message_answer(answer: &Answer, to: &str) -> Result<(), Failure> {
    match answer.status {
        200..=299 => Ok(()),
        s => Err(failure(s, answer.retry_after, &answer.json(), to)),
    }
}

/// The answer to a Verification start: 201 with the verification, whose `sid` (VE…) is the
/// handle.
pub fn verify_start_answer(answer: &Answer, to: &str) -> Result<String, Failure> {
    match answer.status {
        200..=299 => {
            let body = answer.json();
            match body.get("sid").and_then(serde_json::Value::as_str) {
                Some(sid) if is_sid(sid, "VE") => Ok(sid.to_owned()),
                _ => Err(Failure::refused(
                    "twilio: the verification answer holds no verification sid",
                )),
            }
        }
        s => Err(failure(s, answer.retry_after, &answer.json(), to)),
    }
}

/// The answer to a Verification check: 200 with `status` `approved` (right) or `pending`
/// (wrong, still open); 404 (code 20404: no pending verification — expired, approved
/// already or canceled) and 429 code 60202 (max check attempts) leave nothing to check.
pub fn verify_check_answer(answer: &Answer, to: &str) -> Result<Verdict, Failure> {
    let body = answer.json();
    match (answer.status, code_of(&body)) {
        (200..=299, _) => match body.get("status").and_then(serde_json::Value::as_str) {
            Some("approved") => Ok(Verdict::Approved),
            Some("pending") => Ok(Verdict::Rejected),
            Some("canceled" | "expired" | "max_attempts_reached" | "failed") => {
                Ok(Verdict::Expired)
            }
            _ => Err(Failure::refused(
                "twilio: the check answer holds no known status",
            )),
        },
        (404, _) | (_, Some(20404 | 60202)) => Ok(Verdict::Expired),
        (s, _) => Err(failure(s, answer.retry_after, &body, to)),
    }
}

/// Messaging: our code in a text to `job.contact`.
pub fn message(config: &Config, job: &Job) -> Result<(), Failure> {
    let settings = settings(config)?;
    let to = job.contact.address();
    let text = Zeroizing::new(message::sms_text(job));
    let request = message_request(settings, to, &text)?;
    with_one_retry(|| message_answer(&post(config, &request)?, to))
}

/// Verify: asks Twilio to send its code by text (`call` false) or call; returns the
/// verification's sid (VE…) as the handle.
pub fn verify_start(config: &Config, job: &Job, call: bool) -> Result<String, Failure> {
    let settings = settings(config)?;
    let to = job.contact.address();
    let request = verify_start_request(settings, to, call)?;
    with_one_retry(|| verify_start_answer(&post(config, &request)?, to))
}

/// Verify: checks the typed code (`job.code`) against verification `handle`.
pub fn verify_check(config: &Config, job: &Job, handle: &str) -> Result<Verdict, Failure> {
    let settings = settings(config)?;
    let to = job.contact.address();
    let request = verify_check_request(settings, handle, &job.code)?;
    with_one_retry(|| verify_check_answer(&post(config, &request)?, to))
}

#[cfg(test)]
mod tests {
    use super::*;
    use pam_otp_core::oob::exit;

    const AC: &str = "AC0123456789abcdef0123456789abcdef";
    const VA: &str = "VA0123456789abcdef0123456789abcdef";
    const VE: &str = "VE0123456789abcdef0123456789abcdef";
    const MG: &str = "MG0123456789abcdef0123456789abcdef";
    const TO: &str = "+233241234567";

    fn settings(extra: &str) -> Settings {
        let text = format!(
            "twilio_account_sid = {AC}\ntwilio_auth_token = s3cret\n\
             twilio_verify_service_sid = {VA}\ntwilio_base_url = https://api.example\n\
             twilio_verify_base_url = https://verify.example/\n{extra}"
        );
        crate::config::parse(&text).unwrap().twilio.unwrap()
    }

    fn answer(status: u16, body: &str) -> Answer {
        Answer {
            status,
            retry_after: None,
            body: body.to_owned(),
        }
    }

    fn err(code: u64, status: u16) -> Failure {
        failure(
            status,
            None,
            &serde_json::json!({"code": code, "message": "The 'To' number +233241234567 is not valid", "status": status}),
            TO,
        )
    }

    #[test]
    fn a_message_is_a_form_post_with_basic_auth() {
        let s = settings("twilio_from = +15005550006\n");
        let r = message_request(&s, TO, "Your code: 123456").unwrap();
        assert_eq!(
            r.url,
            format!("https://api.example/2010-04-01/Accounts/{AC}/Messages.json")
        );
        assert_eq!(
            r.authorization.as_str(),
            http::basic_auth(AC, "s3cret").as_str()
        );
        assert_eq!(
            r.body.as_str(),
            "To=%2B233241234567&From=%2B15005550006&Body=Your+code%3A+123456"
        );
        let s = settings(&format!("twilio_messaging_service_sid = {MG}\n"));
        let r = message_request(&s, TO, "x").unwrap();
        assert_eq!(
            r.body.as_str(),
            format!("To=%2B233241234567&MessagingServiceSid={MG}&Body=x")
        );
        // An API key authenticates as itself.
        let text = format!(
            "twilio_account_sid = {AC}\ntwilio_api_key = SK0123456789abcdef0123456789abcdef\n\
             twilio_api_secret = ks\ntwilio_from = PamOtp\n"
        );
        let s = crate::config::parse(&text).unwrap().twilio.unwrap();
        let r = message_request(&s, TO, "x").unwrap();
        assert_eq!(
            r.authorization.as_str(),
            http::basic_auth("SK0123456789abcdef0123456789abcdef", "ks").as_str()
        );
        assert!(r.url.starts_with("https://api.twilio.com/2010-04-01/"));
        // Verify-only settings cannot send a text.
        let f = message_request(&settings(""), TO, "x").unwrap_err();
        assert_eq!(f.status, exit::BAD_CONFIG);
    }

    #[test]
    fn verify_requests() {
        let s = settings("");
        let r = verify_start_request(&s, TO, false).unwrap();
        assert_eq!(
            r.url,
            format!("https://verify.example/v2/Services/{VA}/Verifications")
        );
        assert_eq!(r.body.as_str(), "To=%2B233241234567&Channel=sms");
        let r = verify_start_request(&s, TO, true).unwrap();
        assert_eq!(r.body.as_str(), "To=%2B233241234567&Channel=call");
        let r = verify_check_request(&s, VE, "4321").unwrap();
        assert_eq!(
            r.url,
            format!("https://verify.example/v2/Services/{VA}/VerificationCheck")
        );
        assert_eq!(r.body.as_str(), format!("VerificationSid={VE}&Code=4321"));
        assert_eq!(
            r.authorization.as_str(),
            http::basic_auth(AC, "s3cret").as_str()
        );
        let f = verify_check_request(&s, "number", "4321").unwrap_err();
        assert_eq!(f.status, exit::USAGE);
    }

    #[test]
    fn successes() {
        assert!(message_answer(&answer(201, r#"{"sid":"SM1","status":"queued"}"#), TO).is_ok());
        let sid = verify_start_answer(
            &answer(
                201,
                &format!(r#"{{"sid":"{VE}","status":"pending","channel":"sms"}}"#),
            ),
            TO,
        )
        .unwrap();
        assert_eq!(sid, VE);
        let f = verify_start_answer(&answer(201, r#"{"sid":"VE12"}"#), TO).unwrap_err();
        assert_eq!(f.status, exit::REFUSED);
    }

    #[test]
    fn checks() {
        let v = |status, body: &str| verify_check_answer(&answer(status, body), TO).unwrap();
        assert_eq!(
            v(200, r#"{"status":"approved","valid":true}"#),
            Verdict::Approved
        );
        assert_eq!(
            v(200, r#"{"status":"pending","valid":false}"#),
            Verdict::Rejected
        );
        assert_eq!(v(200, r#"{"status":"canceled"}"#), Verdict::Expired);
        assert_eq!(
            v(
                404,
                r#"{"code":20404,"message":"The requested resource was not found","status":404}"#
            ),
            Verdict::Expired
        );
        assert_eq!(
            v(
                429,
                r#"{"code":60202,"message":"Max check attempts reached","status":429}"#
            ),
            Verdict::Expired
        );
        // Other failures stay failures.
        let f = verify_check_answer(&answer(401, r#"{"code":20003}"#), TO).unwrap_err();
        assert_eq!(f.status, exit::BAD_CONFIG);
        let f = verify_check_answer(&answer(429, r#"{"code":20429}"#), TO).unwrap_err();
        assert_eq!(f.status, exit::RATE_LIMITED);
        let f = verify_check_answer(&answer(200, r#"{"status":"weird"}"#), TO).unwrap_err();
        assert_eq!(f.status, exit::REFUSED);
    }

    #[test]
    fn documented_errors_map_to_statuses_a_sysadmin_can_act_on() {
        let cases: &[(u64, u16, i32, &str)] = &[
            (
                20003,
                401,
                exit::BAD_CONFIG,
                "twilio: bad credentials (HTTP 401, code 20003)",
            ),
            (
                20429,
                429,
                exit::RATE_LIMITED,
                "twilio: rate limited (HTTP 429, code 20429)",
            ),
            (
                60203,
                429,
                exit::RATE_LIMITED,
                "twilio: rate limited (HTTP 429, code 60203)",
            ),
            (
                60212,
                429,
                exit::RATE_LIMITED,
                "twilio: rate limited (HTTP 429, code 60212)",
            ),
            (
                21211,
                400,
                exit::BAD_CONTACT,
                "twilio: invalid number •••67 (HTTP 400, code 21211)",
            ),
            (
                21614,
                400,
                exit::BAD_CONTACT,
                "twilio: invalid number •••67 (HTTP 400, code 21614)",
            ),
            (
                60200,
                400,
                exit::BAD_CONTACT,
                "twilio: invalid number •••67 (HTTP 400, code 60200)",
            ),
            (
                60205,
                400,
                exit::BAD_CONTACT,
                "twilio: invalid number •••67 (HTTP 400, code 60205)",
            ),
            (
                20005,
                403,
                exit::REFUSED,
                "twilio: insufficient balance or account suspended (HTTP 403, code 20005)",
            ),
            (
                20005,
                401,
                exit::REFUSED,
                "twilio: insufficient balance or account suspended (HTTP 401, code 20005)",
            ),
            (
                10001,
                400,
                exit::REFUSED,
                "twilio: insufficient balance or account suspended (HTTP 400, code 10001)",
            ),
            (
                21606,
                400,
                exit::BAD_CONFIG,
                "twilio: twilio_from cannot send this text (HTTP 400, code 21606)",
            ),
            (
                21659,
                400,
                exit::BAD_CONFIG,
                "twilio: twilio_from cannot send this text (HTTP 400, code 21659)",
            ),
            (
                20404,
                404,
                exit::BAD_CONFIG,
                "twilio: not found, check the account and service sids (HTTP 404, code 20404)",
            ),
            (
                21408,
                400,
                exit::REFUSED,
                "twilio: sending to this number's region is not enabled (HTTP 400, code 21408)",
            ),
            (
                21610,
                400,
                exit::REFUSED,
                "twilio: •••67 has unsubscribed (replied STOP) (HTTP 400, code 21610)",
            ),
            (
                30007,
                400,
                exit::REFUSED,
                "twilio: refused (HTTP 400, code 30007)",
            ),
            (
                20500,
                500,
                exit::UNREACHABLE,
                "twilio: server error (HTTP 500)",
            ),
            (0, 503, exit::UNREACHABLE, "twilio: server error (HTTP 503)"),
        ];
        for &(code, status, exit_status, words) in cases {
            let f = err(code, status);
            assert_eq!(
                (f.status, f.message.as_str()),
                (exit_status, words),
                "code {code}"
            );
            // Never the number or Twilio's own words.
            assert!(!f.message.contains("233241234567") && !f.message.contains("not valid"));
        }
        // A body that is not JSON: the status alone.
        let f = message_answer(&answer(400, "<html>"), TO).unwrap_err();
        assert_eq!(
            (f.status, f.message.as_str()),
            (exit::REFUSED, "twilio: refused (HTTP 400)")
        );
        // Retry-After is passed on.
        let f = message_answer(
            &Answer {
                status: 429,
                retry_after: Some(30),
                body: r#"{"code":20429}"#.into(),
            },
            TO,
        )
        .unwrap_err();
        assert_eq!(f.retry_after, Some(30));
        assert_eq!(
            f.message,
            "twilio: rate limited, retry after 30 s (HTTP 429, code 20429)"
        );
    }

    #[test]
    fn a_code_longer_than_twilios_is_not_quoted() {
        // Found by fuzzing (fuzz/checks.rs, provider_answer): a number in `code` went into
        // the message whole, and it could be the phone number.
        let f = failure(
            400,
            None,
            &serde_json::json!({"code": 233241234567_u64}),
            TO,
        );
        assert_eq!(f.status, exit::REFUSED);
        assert_eq!(f.message, "twilio: refused (HTTP 400)");
    }
}
