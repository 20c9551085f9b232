//! Arkesel: SMS v2 (our code in a text) and the OTP API (Arkesel's code by text or call,
//! checked by Arkesel).

use serde_json::Value;
use zeroize::Zeroizing;

use crate::config::{bad, Config, Keys};
use crate::http::{self, json_string, Answer};
use crate::{message, Failure, Job};

use super::{digits, with_one_retry, Verdict};

/// Where Arkesel is, unless `arkesel_base_url` says otherwise.
pub const DEFAULT_BASE_URL: &str = "https://sms.arkesel.com";
/// The handle of an OTP send: Arkesel's verify call takes the number, not an id.
pub const OTP_HANDLE: &str = "number";

/// The `arkesel_*` settings.
#[derive(Debug)]
pub struct Settings {
    pub api_key: Zeroizing<String>,
    /// The sender id (at most 11 characters, registered with Arkesel).
    pub sender: String,
    pub base_url: String,
}

impl Settings {
    /// Takes the `arkesel_*` keys; `None` when there is none.
    pub fn parse(keys: &mut Keys) -> Result<Option<Settings>, Failure> {
        let api_key = keys.secret("arkesel_api_key");
        let sender = keys.plain("arkesel_sender");
        let base_url = keys.https_url("arkesel_base_url")?;
        let Some(api_key) = api_key else {
            return if sender.is_some() || base_url.is_some() {
                Err(bad("arkesel settings without arkesel_api_key"))
            } else {
                Ok(None)
            };
        };
        let sender = sender.ok_or_else(|| bad("arkesel needs arkesel_sender"))?;
        let ok = (1..=11).contains(&sender.len())
            && sender
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b' ');
        if !ok {
            return Err(bad(
                "arkesel_sender must be at most 11 letters, digits or spaces",
            ));
        }
        Ok(Some(Settings {
            api_key,
            sender,
            base_url: base_url.unwrap_or_else(|| DEFAULT_BASE_URL.to_owned()),
        }))
    }
}

/// The `arkesel_*` settings, or a configuration failure naming what is missing.
fn settings(config: &Config) -> Result<&Settings, Failure> {
    config
        .arkesel
        .as_ref()
        .ok_or_else(|| Failure::config("no arkesel settings in the configuration"))
}

/// One request: POST JSON with the `api-key` header, retried once when rate limited briefly.
fn post(settings: &Settings, config: &Config, path: &str, body: &str) -> Result<Answer, Failure> {
    let url = format!("{}{path}", settings.base_url);
    http::request(
        config,
        "POST",
        &url,
        &[
            ("api-key", settings.api_key.as_str()),
            ("Accept", "application/json"),
        ],
        "application/json",
        body.as_bytes(),
    )
}

// ---------------------------------------------------------------------------------------
// SMS v2
// ---------------------------------------------------------------------------------------

/// The SMS v2 send path.
pub const SMS_PATH: &str = "/api/v2/sms/send";

/// The SMS v2 body: `{"sender", "message", "recipients": [digits]}`.
///
/// Reference: https://developers.arkesel.com/#tag/SMS-V2 ("Send SMS":
/// `POST https://sms.arkesel.com/api/v2/sms/send`, header `api-key`, JSON body with
/// `sender` (at most 11 characters), `message`, `recipients` (numbers with their country
/// code, no `+`); optional `scheduled_date`, `callback_url`, `sandbox`, `use_case` are not
/// sent).
pub fn sms_body(settings: &Settings, job: &Job) -> Zeroizing<String> {
    let text = Zeroizing::new(message::sms_text(job));
    Zeroizing::new(format!(
        "{{\"sender\":{},\"message\":{},\"recipients\":[{}]}}",
        json_string(&settings.sender),
        Zeroizing::new(json_string(&text)).as_str(),
        json_string(digits(job.contact.address())),
    ))
}

/// SMS v2's answer, as its reference documents it: HTTP 200 with `{"status": "success",
/// "data": [{"recipient", "id"}, …, {"invalid numbers": […]}]}`; 401 a wrong API key,
/// 402 insufficient balance, 403 an inactive account or SMS gateway, 422 a validation
/// error, 5xx Arkesel's own failure.
pub fn sms_answer(status: u16, retry_after: Option<u64>, body: &Value) -> Result<(), Failure> {
    match status {
        200..=299 => {
            let accepted = body["data"]
                .as_array()
                .is_some_and(|d| d.iter().any(|e| e.get("id").is_some()));
            let invalid = body["data"].as_array().is_some_and(|d| {
                d.iter().any(|e| {
                    e.get("invalid numbers")
                        .and_then(Value::as_array)
                        .is_some_and(|n| !n.is_empty())
                })
            });
            if body["status"] == "success" && accepted && !invalid {
                Ok(())
            } else if invalid {
                Err(Failure::bad_contact("arkesel: invalid number"))
            } else {
                Err(Failure::refused(format!(
                    "arkesel: message not accepted (HTTP {status})"
                )))
            }
        }
        401 => Err(Failure::config("arkesel: bad credentials (HTTP 401)")),
        402 => Err(Failure::refused("arkesel: insufficient balance (HTTP 402)")),
        403 => Err(Failure::config(
            "arkesel: account or SMS gateway not active (HTTP 403)",
        )),
        // A validation error that names the recipients (`data: {"invalid numbers": […]}`,
        // or its message): the number, not the request, is at fault.
        422 if names_invalid_numbers(body) => {
            Err(Failure::bad_contact("arkesel: invalid number (HTTP 422)"))
        }
        status => Err(common(status, retry_after)),
    }
}

/// Whether a validation error is about the recipients' numbers.
fn names_invalid_numbers(body: &Value) -> bool {
    body["data"].get("invalid numbers").is_some()
        || body["message"]
            .as_str()
            .is_some_and(|m| m.to_ascii_lowercase().contains("invalid phone number"))
}

/// The answers every Arkesel API shares: throttled, Arkesel's own failure, anything else.
fn common(status: u16, retry_after: Option<u64>) -> Failure {
    match status {
        429 => Failure::rate_limited(retry_after, rate_limited_words(retry_after)),
        500..=599 => Failure::unreachable(format!("arkesel: server error (HTTP {status})")),
        _ => Failure::refused(format!("arkesel: request refused (HTTP {status})")),
    }
}

fn rate_limited_words(retry_after: Option<u64>) -> String {
    match retry_after {
        Some(s) => format!("arkesel: rate limited, retry after {s} s"),
        None => "arkesel: rate limited".to_owned(),
    }
}

/// SMS v2: our code in a text to `job.contact`.
pub fn sms(config: &Config, job: &Job) -> Result<(), Failure> {
    let settings = settings(config)?;
    let body = sms_body(settings, job);
    with_one_retry(|| {
        let answer = post(settings, config, SMS_PATH, &body)?;
        sms_answer(answer.status, answer.retry_after, &answer.json())
    })
}

// ---------------------------------------------------------------------------------------
// OTP API
// ---------------------------------------------------------------------------------------

/// The OTP generate path.
pub const OTP_GENERATE_PATH: &str = "/api/otp/generate";
/// The OTP verify path.
pub const OTP_VERIFY_PATH: &str = "/api/otp/verify";
/// The length of Arkesel's code we ask for.
pub const OTP_LENGTH: u32 = 6;
/// The longest life we ask for, in minutes: inside every bound Arkesel has published for
/// `expiry` (the login's own code life, 2 minutes by default, is far below it).
pub const MAX_EXPIRY_MINUTES: u64 = 10;

/// The code's life in whole minutes, rounded up, at least 1 and at most
/// [`MAX_EXPIRY_MINUTES`].
pub fn expiry_minutes(job: &Job) -> u64 {
    job.expires_at
        .saturating_sub(job.now)
        .div_ceil(60)
        .clamp(1, MAX_EXPIRY_MINUTES)
}

/// The OTP generate body.
///
/// Reference: https://developers.arkesel.com/#tag/OTP ("Generate OTP":
/// `POST https://sms.arkesel.com/api/otp/generate`, header `api-key`, JSON `expiry`
/// (minutes), `length`, `medium` (`sms` or `voice`), `message` (must hold `%otp_code%`),
/// `number` (with its country code, no `+`), `sender_id`, `type` (`numeric`)).
pub fn otp_generate_body(settings: &Settings, job: &Job, call: bool) -> String {
    let minutes = expiry_minutes(job);
    let unit = if minutes == 1 { "minute" } else { "minutes" };
    let text = format!(
        "Your one-time code for {}: %otp_code%. It expires in {minutes} {unit}.",
        job.service
    );
    format!(
        "{{\"expiry\":{minutes},\"length\":{OTP_LENGTH},\"medium\":\"{}\",\"message\":{},\
         \"number\":{},\"sender_id\":{},\"type\":\"numeric\"}}",
        if call { "voice" } else { "sms" },
        json_string(&text),
        json_string(digits(job.contact.address())),
        json_string(&settings.sender),
    )
}

/// The numeric `code` of an OTP answer (Arkesel sends it as a string, `"1000"`). Its codes
/// have 4 digits; a longer number is no Arkesel code (and is not quoted).
fn otp_code(body: &Value) -> Option<u64> {
    match &body["code"] {
        Value::String(s) => pam_otp_core::decimal::parse_decimal(s),
        Value::Number(n) => n.as_u64(),
        _ => None,
    }
    .filter(|&c| c < 10_000)
}

/// The `code` of an OTP answer with HTTP `status`, when it can be believed: a success code
/// ([`OTP_SUCCESS_CODES`]) only in a 2xx answer. An error status that claims success is
/// read by its status alone (fail closed).
fn otp_answer_code(status: u16, body: &Value) -> Option<u64> {
    otp_code(body).filter(|c| (200..=299).contains(&status) || !OTP_SUCCESS_CODES.contains(c))
}

/// The OTP API's success codes: 1000 (generate accepted), 1100 (verify successful).
const OTP_SUCCESS_CODES: [u64; 2] = [1000, 1100];

/// OTP generate's answer, by its documented `code`:
/// 1000 accepted; 1001 validation error; 1002 the message lacks `%otp_code%`; 1003 the
/// sender id is blocked by Arkesel; 1004 the SMS gateway is not active or the credential
/// was not found; 1005 invalid phone number; 1006 OTP not allowed in the country;
/// 1007 and 1008 insufficient balance; 1009 a voice message over 500 characters;
/// 1011 Arkesel's internal error. Any other code (1010 included, which we have not seen
/// described) is refused with its number.
pub fn otp_generate_answer(
    status: u16,
    retry_after: Option<u64>,
    body: &Value,
) -> Result<(), Failure> {
    let Some(code) = otp_answer_code(status, body) else {
        return Err(otp_without_code(status, retry_after));
    };
    match code {
        1000 => Ok(()),
        1004 => Err(Failure::config(format!(
            "arkesel: bad credentials (HTTP {status}, code 1004: SMS gateway not active or credential not found)"
        ))),
        1003 => Err(Failure::config(
            "arkesel: sender id blocked by Arkesel (code 1003): register another arkesel_sender",
        )),
        1005 => Err(Failure::bad_contact("arkesel: invalid number (code 1005)")),
        1006 => Err(Failure::refused(
            "arkesel: OTP not allowed for this country (code 1006)",
        )),
        1007 | 1008 => Err(Failure::refused(format!(
            "arkesel: insufficient balance (code {code})"
        ))),
        1011 => Err(Failure::unreachable(format!(
            "arkesel: server error (HTTP {status}, code 1011)"
        ))),
        1001 => Err(Failure::refused("arkesel: request refused (code 1001: validation error)")),
        1002 => Err(Failure::refused(
            "arkesel: request refused (code 1002: message without %otp_code%)",
        )),
        1009 => Err(Failure::refused(
            "arkesel: request refused (code 1009: voice message too long)",
        )),
        code => Err(Failure::refused(format!(
            "arkesel: request refused (HTTP {status}, code {code})"
        ))),
    }
}

/// An OTP answer without a `code` of its own (both OTP calls): by its HTTP status.
fn otp_without_code(status: u16, retry_after: Option<u64>) -> Failure {
    match status {
        401 | 403 => Failure::config(format!("arkesel: bad credentials (HTTP {status})")),
        200..=299 => Failure::refused(format!("arkesel: unreadable OTP answer (HTTP {status})")),
        status => common(status, retry_after),
    }
}

/// OTP generate: asks Arkesel to send its code by text (`call` false) or call; returns
/// [`OTP_HANDLE`].
pub fn otp_generate(config: &Config, job: &Job, call: bool) -> Result<String, Failure> {
    let settings = settings(config)?;
    let body = otp_generate_body(settings, job, call);
    with_one_retry(|| {
        let answer = post(settings, config, OTP_GENERATE_PATH, &body)?;
        otp_generate_answer(answer.status, answer.retry_after, &answer.json())
    })?;
    Ok(OTP_HANDLE.to_owned())
}

/// The OTP verify body.
///
/// Reference: https://developers.arkesel.com/#tag/OTP ("Verify OTP":
/// `POST https://sms.arkesel.com/api/otp/verify`, header `api-key`, JSON `code`, `number`).
pub fn otp_verify_body(job: &Job) -> Zeroizing<String> {
    Zeroizing::new(format!(
        "{{\"code\":{},\"number\":{}}}",
        Zeroizing::new(json_string(&job.code)).as_str(),
        json_string(digits(job.contact.address())),
    ))
}

/// OTP verify's answer, by its documented `code`: 1100 successful; 1101 validation error;
/// 1102 invalid phone number; 1103 (documented with 1102's words: the number passed
/// generate, so it has no OTP pending) and 1105 code expired: nothing to check against;
/// 1104 invalid code; 1106 Arkesel's internal error.
pub fn otp_verify_answer(
    status: u16,
    retry_after: Option<u64>,
    body: &Value,
) -> Result<Verdict, Failure> {
    let Some(code) = otp_answer_code(status, body) else {
        return Err(otp_without_code(status, retry_after));
    };
    match code {
        1100 => Ok(Verdict::Approved),
        1104 => Ok(Verdict::Rejected),
        1103 | 1105 => Ok(Verdict::Expired),
        1102 => Err(Failure::bad_contact("arkesel: invalid number (code 1102)")),
        1106 => Err(Failure::unreachable(format!(
            "arkesel: server error (HTTP {status}, code 1106)"
        ))),
        1101 => Err(Failure::refused(
            "arkesel: request refused (code 1101: validation error)",
        )),
        code => Err(Failure::refused(format!(
            "arkesel: request refused (HTTP {status}, code {code})"
        ))),
    }
}

/// OTP verify: checks the typed code (`job.code`) for the contact's number.
pub fn otp_verify(config: &Config, job: &Job, handle: &str) -> Result<Verdict, Failure> {
    if handle != OTP_HANDLE {
        return Err(Failure::new(
            pam_otp_core::oob::exit::USAGE,
            format!("arkesel-otp's handle is always {OTP_HANDLE}"),
        ));
    }
    let settings = settings(config)?;
    let body = otp_verify_body(job);
    with_one_retry(|| {
        let answer = post(settings, config, OTP_VERIFY_PATH, &body)?;
        otp_verify_answer(answer.status, answer.retry_after, &answer.json())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use pam_otp_core::oob::contact::{Channel, Contact};
    use pam_otp_core::oob::exit;
    use serde_json::json;

    fn settings() -> Settings {
        Settings {
            api_key: Zeroizing::new("ak-secret".into()),
            sender: "PamOtp".into(),
            base_url: DEFAULT_BASE_URL.into(),
        }
    }

    fn job(code: &str, left: u64) -> Job {
        Job {
            user: "alice".into(),
            contact: Contact::new(Channel::Sms, "+233241234567").unwrap(),
            service: "sshd".into(),
            expires_at: 1_700_000_000 + left,
            now: 1_700_000_000,
            code: Zeroizing::new(code.into()),
            check: None,
        }
    }

    fn parse(s: &str) -> Value {
        serde_json::from_str(s).unwrap()
    }

    #[test]
    fn sms_body_is_sender_message_and_digit_recipients() {
        let body = parse(&sms_body(&settings(), &job("40718263", 120)));
        assert_eq!(
            body,
            json!({"sender": "PamOtp",
                   "message": "Your one-time code for sshd: 40718263. It expires in 120 s.",
                   "recipients": ["233241234567"]})
        );
    }

    #[test]
    fn otp_generate_body_has_every_documented_field() {
        let body = parse(&otp_generate_body(&settings(), &job("000000", 120), false));
        assert_eq!(
            body,
            json!({"expiry": 2, "length": 6, "medium": "sms",
                   "message": "Your one-time code for sshd: %otp_code%. It expires in 2 minutes.",
                   "number": "233241234567", "sender_id": "PamOtp", "type": "numeric"})
        );
        let call = parse(&otp_generate_body(&settings(), &job("000000", 30), true));
        assert_eq!(call["medium"], "voice");
        assert_eq!(call["expiry"], 1);
        assert!(call["message"].as_str().unwrap().contains("1 minute."));
    }

    #[test]
    fn expiry_is_rounded_up_and_bounded() {
        for (left, want) in [
            (0, 1),
            (1, 1),
            (60, 1),
            (61, 2),
            (120, 2),
            (599, 10),
            (3600, 10),
        ] {
            assert_eq!(expiry_minutes(&job("0", left)), want, "{left} s");
        }
    }

    #[test]
    fn otp_verify_body_is_code_and_number() {
        let body = parse(&otp_verify_body(&job("123456", 120)));
        assert_eq!(body, json!({"code": "123456", "number": "233241234567"}));
    }

    #[test]
    fn sms_answers_map_to_exit_statuses() {
        let ok = json!({"status": "success",
                        "data": [{"recipient": "233241234567", "id": "9b752841-7ee7"}]});
        assert!(sms_answer(200, None, &ok).is_ok());
        let invalid = json!({"status": "success", "data": [{"invalid numbers": ["233241234567"]}]});
        let cases: [(u16, Option<u64>, Value, i32, &str); 10] = [
            (
                200,
                None,
                invalid,
                exit::BAD_CONTACT,
                "arkesel: invalid number",
            ),
            (
                200,
                None,
                json!({"status": "success", "data": []}),
                exit::REFUSED,
                "not accepted",
            ),
            (
                401,
                None,
                json!({"message": "Invalid API key"}),
                exit::BAD_CONFIG,
                "arkesel: bad credentials (HTTP 401)",
            ),
            (
                402,
                None,
                json!({}),
                exit::REFUSED,
                "arkesel: insufficient balance (HTTP 402)",
            ),
            (
                403,
                None,
                json!({}),
                exit::BAD_CONFIG,
                "not active (HTTP 403)",
            ),
            (
                422,
                None,
                json!({"message": "The recipients field is required"}),
                exit::REFUSED,
                "arkesel: request refused (HTTP 422)",
            ),
            (
                422,
                None,
                json!({"status": "error", "message": "Invalid phone number(s)", "data": {"invalid numbers": []}}),
                exit::BAD_CONTACT,
                "arkesel: invalid number (HTTP 422)",
            ),
            (
                429,
                Some(7),
                json!({}),
                exit::RATE_LIMITED,
                "arkesel: rate limited, retry after 7 s",
            ),
            (
                500,
                None,
                json!({}),
                exit::UNREACHABLE,
                "arkesel: server error (HTTP 500)",
            ),
            (
                503,
                None,
                Value::Null,
                exit::UNREACHABLE,
                "arkesel: server error (HTTP 503)",
            ),
        ];
        for (status, retry, body, want, words) in cases {
            let f = sms_answer(status, retry, &body).unwrap_err();
            assert_eq!(f.status, want, "{status} {body}");
            assert!(f.message.contains(words), "{status}: {}", f.message);
            assert!(!f.message.contains("233241234567"), "{}", f.message);
            assert!(
                !f.message.contains("required"),
                "no free text echoed: {}",
                f.message
            );
        }
        assert_eq!(
            sms_answer(429, Some(7), &json!({}))
                .unwrap_err()
                .retry_after,
            Some(7)
        );
    }

    #[test]
    fn every_documented_generate_code_is_mapped() {
        let ok = json!({"code": "1000", "ussd_code": "*928*01#",
                        "message": "Successful, OTP is being processed for delivery"});
        assert!(otp_generate_answer(200, None, &ok).is_ok());
        let cases = [
            ("1001", exit::REFUSED, "code 1001"),
            ("1002", exit::REFUSED, "code 1002"),
            ("1003", exit::BAD_CONFIG, "code 1003"),
            (
                "1004",
                exit::BAD_CONFIG,
                "arkesel: bad credentials (HTTP 200, code 1004",
            ),
            (
                "1005",
                exit::BAD_CONTACT,
                "arkesel: invalid number (code 1005)",
            ),
            ("1006", exit::REFUSED, "code 1006"),
            (
                "1007",
                exit::REFUSED,
                "arkesel: insufficient balance (code 1007)",
            ),
            (
                "1008",
                exit::REFUSED,
                "arkesel: insufficient balance (code 1008)",
            ),
            ("1009", exit::REFUSED, "code 1009"),
            (
                "1010",
                exit::REFUSED,
                "arkesel: request refused (HTTP 200, code 1010)",
            ),
            (
                "1011",
                exit::UNREACHABLE,
                "arkesel: server error (HTTP 200, code 1011)",
            ),
        ];
        for (code, want, words) in cases {
            let body = json!({"code": code, "message": "quoted 233241234567"});
            let f = otp_generate_answer(200, None, &body).unwrap_err();
            assert_eq!(f.status, want, "{code}");
            assert!(f.message.contains(words), "{code}: {}", f.message);
            assert!(!f.message.contains("233241234567"), "{}", f.message);
        }
        // A number instead of a string, as some answers carry it.
        assert!(otp_generate_answer(200, None, &json!({"code": 1000})).is_ok());
        // No code: by HTTP status.
        for (status, want) in [
            (401, exit::BAD_CONFIG),
            (403, exit::BAD_CONFIG),
            (429, exit::RATE_LIMITED),
            (502, exit::UNREACHABLE),
            (200, exit::REFUSED),
            (404, exit::REFUSED),
        ] {
            let f = otp_generate_answer(status, None, &Value::Null).unwrap_err();
            assert_eq!(f.status, want, "{status}: {}", f.message);
        }
    }

    #[test]
    fn every_documented_verify_code_is_mapped() {
        let verdict = |code: &str| otp_verify_answer(200, None, &json!({"code": code}));
        assert_eq!(verdict("1100").unwrap(), Verdict::Approved);
        assert_eq!(verdict("1104").unwrap(), Verdict::Rejected);
        assert_eq!(verdict("1105").unwrap(), Verdict::Expired);
        assert_eq!(verdict("1103").unwrap(), Verdict::Expired);
        for (code, want) in [
            ("1101", exit::REFUSED),
            ("1102", exit::BAD_CONTACT),
            ("1106", exit::UNREACHABLE),
            ("1999", exit::REFUSED),
        ] {
            let f = verdict(code).unwrap_err();
            assert_eq!(f.status, want, "{code}");
            assert!(f.message.contains(code), "{}", f.message);
        }
        let f = otp_verify_answer(401, None, &Value::Null).unwrap_err();
        assert_eq!(f.status, exit::BAD_CONFIG);
    }

    #[test]
    fn a_code_longer_than_arkesels_is_not_quoted() {
        // Found by fuzzing (fuzz/regressions/provider_answer/): `code` "1009233241234567"
        // was quoted whole, number and all.
        let body = json!({"code": "1009233241234567", "message": "Voice message length exceeded"});
        let f = otp_generate_answer(200, None, &body).unwrap_err();
        assert_eq!(f.status, exit::REFUSED);
        assert_eq!(f.message, "arkesel: unreadable OTP answer (HTTP 200)");
        let f =
            otp_verify_answer(200, None, &json!({"code": 1_100_233_241_234_567_u64})).unwrap_err();
        assert!(!f.message.contains("233241234567"), "{}", f.message);
    }

    #[test]
    fn success_codes_count_only_in_a_2xx_answer() {
        // Found by fuzzing (fuzz/regressions/provider_answer/): HTTP 400 with code 1000 was a
        // sent code, and any status with 1100 an approved one.
        let f = otp_generate_answer(400, None, &json!({"code": "1000"})).unwrap_err();
        assert_eq!(f.status, exit::REFUSED);
        for (status, want) in [
            (401, exit::BAD_CONFIG),
            (429, exit::RATE_LIMITED),
            (500, exit::UNREACHABLE),
            (404, exit::REFUSED),
        ] {
            let f = otp_verify_answer(status, None, &json!({"code": "1100"})).unwrap_err();
            assert_eq!(f.status, want, "{status}: {}", f.message);
        }
        // An error code still reads the same with an error status.
        assert_eq!(
            otp_verify_answer(400, None, &json!({"code": "1104"})).unwrap(),
            Verdict::Rejected
        );
        assert_eq!(
            otp_verify_answer(201, None, &json!({"code": 1100})).unwrap(),
            Verdict::Approved
        );
    }
}
