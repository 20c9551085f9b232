//! Firebase Cloud Messaging HTTP v1: the code pushed to the user's app, whose registration
//! token is the contact. Authorised by an OAuth2 access token minted from a service
//! account key (an RS256 JWT exchanged at the key's `token_uri`).
//!
//! Firebase Authentication's phone sign-in is not offered: it cannot be started from a
//! server (it needs the client's reCAPTCHA or app attestation).
//!
//! The push carries the code twice: as the visible notification (title without the code,
//! body the code line) and as data (`pam_otp`, `code`, `service`, `expires`) for the app to
//! show the code itself while it is in the foreground, when Android and iOS do not show
//! the notification.

use std::path::PathBuf;

use serde_json::Value;
use zeroize::Zeroizing;

use crate::config::{Config, Keys};
use crate::http::{self, json_string, Answer};
use crate::{message, Failure, Job};

use super::jwt::SigningKey;
use super::with_one_retry;

/// Where FCM is, unless `fcm_base_url` says otherwise.
pub const DEFAULT_BASE_URL: &str = "https://fcm.googleapis.com";

/// The `fcm_*` settings.
#[derive(Debug)]
pub struct Settings {
    /// The service account key file (JSON, as the Firebase console downloads it).
    pub service_account_file: PathBuf,
    pub base_url: String,
}

impl Settings {
    /// Takes the `fcm_*` keys; `None` when there is none.
    pub fn parse(keys: &mut Keys) -> Result<Option<Settings>, Failure> {
        let file = keys.path("fcm_service_account_file")?;
        let base_url = keys.https_url("fcm_base_url")?;
        match file {
            None if base_url.is_some() => Err(crate::config::bad(
                "fcm settings without fcm_service_account_file",
            )),
            None => Ok(None),
            Some(service_account_file) => Ok(Some(Settings {
                service_account_file,
                base_url: base_url.unwrap_or_else(|| DEFAULT_BASE_URL.to_owned()),
            })),
        }
    }
}

/// The OAuth scope FCM's send takes.
pub const SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";
/// How long a minted assertion is good for (Google's maximum).
pub const ASSERTION_LIFE: u64 = 3600;
/// FCM keeps a message at most 4 weeks (AndroidConfig.ttl's documented maximum).
pub const MAX_TTL: u64 = 28 * 24 * 3600;
/// The JWT bearer grant (RFC 7523).
pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// The parts of a service account key file the helper uses.
pub struct ServiceAccount {
    pub project_id: String,
    pub private_key_id: String,
    pub private_key: Zeroizing<String>,
    pub client_email: String,
    pub token_uri: String,
}

impl std::fmt::Debug for ServiceAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAccount")
            .field("project_id", &self.project_id)
            .field("client_email", &self.client_email)
            .field("token_uri", &self.token_uri)
            .finish_non_exhaustive()
    }
}

const KEY_FILE: &str = "fcm_service_account_file";

fn key_error(words: &str) -> Failure {
    Failure::config(format!("{KEY_FILE}: {words}"))
}

/// Parses a service account key file (JSON as the Google Cloud / Firebase console
/// downloads it): `type` must be `service_account`, `token_uri` an `https://` URL; the
/// project id goes into the send URL, so it must be a Google project id (lower-case
/// letters, digits, `-`, `:` and `.` of domain-scoped ids). Errors never quote a value.
pub fn parse_service_account(text: &str) -> Result<ServiceAccount, Failure> {
    let json: Zeroizing<String> = Zeroizing::new(text.to_owned());
    let value: Value =
        serde_json::from_str(&json).map_err(|_| key_error("not a JSON service account key"))?;
    let field = |name: &str| -> Result<String, Failure> {
        value[name]
            .as_str()
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| key_error(&format!("no {name}")))
    };
    if field("type")? != "service_account" {
        return Err(key_error("type is not service_account"));
    }
    let project_id = field("project_id")?;
    if !is_project_id(&project_id) {
        return Err(key_error("project_id is not a Google Cloud project id"));
    }
    let private_key_id = field("private_key_id")?;
    if private_key_id.len() > 128 || !private_key_id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(key_error("private_key_id is not a key id"));
    }
    let private_key = Zeroizing::new(field("private_key")?);
    let client_email = field("client_email")?;
    if !client_email.contains('@') || client_email.contains(|c: char| c.is_control()) {
        return Err(key_error("client_email is not an e-mail address"));
    }
    let token_uri = field("token_uri")?;
    let rest = token_uri
        .strip_prefix("https://")
        .ok_or_else(|| key_error("token_uri must start with https://"))?;
    if rest.is_empty() || rest.contains(|c: char| c.is_whitespace() || c == '@') {
        return Err(key_error("token_uri is not a URL"));
    }
    Ok(ServiceAccount {
        project_id,
        private_key_id,
        private_key,
        client_email,
        token_uri,
    })
}

/// The JWT's header and claims (RFC 7519), as Google's OAuth 2.0 for server-to-server
/// applications documents them.
///
/// Reference: https://developers.google.com/identity/protocols/oauth2/service-account
/// ("Preparing to make an authorized API call" / "Creating a JWT": header `alg` RS256,
/// `typ` JWT, `kid` the key's id; claims `iss` the service account's e-mail, `scope`,
/// `aud` the token URI, `iat`, `exp` at most an hour later).
pub fn assertion_parts(account: &ServiceAccount, now: u64) -> (String, String) {
    let header = format!(
        "{{\"alg\":\"RS256\",\"typ\":\"JWT\",\"kid\":{}}}",
        json_string(&account.private_key_id)
    );
    let claims = format!(
        "{{\"iss\":{},\"scope\":{},\"aud\":{},\"iat\":{now},\"exp\":{}}}",
        json_string(&account.client_email),
        json_string(SCOPE),
        json_string(&account.token_uri),
        now + ASSERTION_LIFE
    );
    (header, claims)
}

/// The token request's form body: the JWT bearer grant with the signed assertion.
///
/// Reference: https://developers.google.com/identity/protocols/oauth2/service-account
/// ("Making the access token request": POST to the token URI,
/// `Content-Type: application/x-www-form-urlencoded`,
/// `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=JWT`).
pub fn token_body(assertion: &str) -> Zeroizing<String> {
    http::form(&[("grant_type", GRANT_TYPE), ("assertion", assertion)])
}

/// OAuth error codes (RFC 6749 §5.2) that may be named in our message; Google sends one of
/// these in `error`, and a free-text `error_description` we never echo.
const OAUTH_ERRORS: [&str; 6] = [
    "invalid_request",
    "invalid_client",
    "invalid_grant",
    "unauthorized_client",
    "unsupported_grant_type",
    "invalid_scope",
];

/// The token endpoint's answer: 200 `{"access_token", "expires_in", "token_type"}`; 400/401
/// with an OAuth `error` (a wrong, revoked or disabled key, a clock far off: `invalid_grant`)
/// is a configuration failure; 429 throttled; 5xx Google's own failure.
pub fn token_answer(
    status: u16,
    retry_after: Option<u64>,
    body: &Value,
) -> Result<Zeroizing<String>, Failure> {
    match status {
        200..=299 => body["access_token"]
            .as_str()
            .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_graphic()))
            .map(|t| Zeroizing::new(t.to_owned()))
            .ok_or_else(|| Failure::refused("fcm: the token endpoint sent no access_token")),
        429 => Err(Failure::rate_limited(
            retry_after,
            "fcm: rate limited by the token endpoint",
        )),
        500..=599 => Err(Failure::unreachable(format!(
            "fcm: token endpoint server error (HTTP {status})"
        ))),
        400..=499 => {
            let error = body["error"]
                .as_str()
                .filter(|e| OAUTH_ERRORS.contains(e))
                .map_or(String::new(), |e| format!(", {e}"));
            Err(Failure::config(format!(
                "fcm: bad credentials (HTTP {status}{error}): check {KEY_FILE} and the host's clock"
            )))
        }
        status => Err(Failure::refused(format!(
            "fcm: token endpoint answered HTTP {status}"
        ))),
    }
}

/// A Google Cloud project id, as Google's rules give it: 6 to 30 lower-case letters, digits
/// and hyphens, starting with a letter, not ending with a hyphen; optionally after a
/// `domain:` (a domain-scoped project, `example.com:my-project`). It goes into the send
/// URL's path, so nothing else (no `.`, `..` or `/` in the id) is let through.
fn is_project_id(text: &str) -> bool {
    let (domain, id) = match text.rsplit_once(':') {
        Some((d, id)) => (Some(d), id),
        None => (None, text),
    };
    let id_ok = (6..=30).contains(&id.len())
        && id.starts_with(|c: char| c.is_ascii_lowercase())
        && !id.ends_with('-')
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    let domain_ok = domain.is_none_or(|d| {
        d.len() <= 253
            && d.split('.').all(|label| {
                !label.is_empty()
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            })
    });
    id_ok && domain_ok
}

/// The send URL: `{fcm_base_url}/v1/projects/{project_id}/messages:send`.
pub fn send_url(base_url: &str, account: &ServiceAccount) -> String {
    format!(
        "{base_url}/v1/projects/{}/messages:send",
        account.project_id
    )
}

/// The message.
///
/// Reference: https://firebase.google.com/docs/reference/fcm/rest/v1/projects.messages
/// (`message.token`; `notification.title`/`body`; `data`: a map of strings only;
/// `android.priority` `"high"` (the Android config's `"normal"`/`"high"`) and `android.ttl`,
/// a protobuf Duration in JSON: seconds with the suffix `s`; `apns.headers` as APNs
/// documents them: `apns-priority` `"10"` (deliver now) and `apns-expiration`, a UNIX epoch
/// date in seconds).
pub fn message_body(job: &Job) -> Zeroizing<String> {
    let left = job.expires_at.saturating_sub(job.now).min(MAX_TTL);
    let line = Zeroizing::new(json_string(&message::sms_text(job)));
    let code = Zeroizing::new(json_string(&job.code));
    Zeroizing::new(format!(
        "{{\"message\":{{\"token\":{},\
         \"notification\":{{\"title\":{},\"body\":{}}},\
         \"data\":{{\"pam_otp\":\"code\",\"code\":{},\"service\":{},\"expires\":\"{}\"}},\
         \"android\":{{\"priority\":\"high\",\"ttl\":\"{left}s\"}},\
         \"apns\":{{\"headers\":{{\"apns-priority\":\"10\",\"apns-expiration\":\"{}\"}}}}}}}}",
        json_string(job.contact.address()),
        json_string(&message::title(job)),
        line.as_str(),
        code.as_str(),
        json_string(&job.service),
        job.expires_at,
        job.expires_at,
    ))
}

/// The `errorCode` of an FcmError detail, and the `field`s of a google.rpc.BadRequest one.
fn details(body: &Value) -> (Option<&str>, Vec<&str>) {
    let mut code = None;
    let mut fields = Vec::new();
    for d in body["error"]["details"].as_array().into_iter().flatten() {
        match d["@type"].as_str() {
            Some("type.googleapis.com/google.firebase.fcm.v1.FcmError") => {
                code = d["errorCode"].as_str();
            }
            Some("type.googleapis.com/google.rpc.BadRequest") => {
                for v in d["fieldViolations"].as_array().into_iter().flatten() {
                    if let Some(f) = v["field"].as_str() {
                        fields.push(f);
                    }
                }
            }
            _ => {}
        }
    }
    (code, fields)
}

/// A field name fit for our message (Google's path syntax only, no number longer than an
/// index: a phone number in a field is not quoted), else nothing.
fn field_words(fields: &[&str]) -> String {
    fields
        .iter()
        .find(|f| {
            f.len() <= 64
                && f.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._[]".contains(&b))
                && f.split(|c: char| !c.is_ascii_digit())
                    .all(|run| run.len() <= 3)
        })
        .map_or(String::new(), |f| format!(", field {f}"))
}

/// The send's answer: 200 `{"name": "projects/…/messages/…"}`; errors are a google.rpc.Status
/// whose details hold an FcmError `errorCode`.
///
/// Reference: https://firebase.google.com/docs/reference/fcm/rest/v1/ErrorCode and
/// https://firebase.google.com/docs/cloud-messaging/error-codes: UNREGISTERED (404, the
/// token is no longer valid: the app was uninstalled or the token expired);
/// INVALID_ARGUMENT (400; "invalid registration" is the token's format, else one of our
/// fields, named in a google.rpc.BadRequest); SENDER_ID_MISMATCH (403, the token belongs to
/// another Firebase project); QUOTA_EXCEEDED (429, with Retry-After); UNAVAILABLE (503) and
/// INTERNAL (500), Google's own failure; THIRD_PARTY_AUTH_ERROR (401, the project's APNs
/// certificate or key, or web push credentials, were refused). Without an FcmError: 401
/// UNAUTHENTICATED (the access token) and 403 PERMISSION_DENIED (the service account may
/// not send for this project) are configuration failures.
pub fn send_answer(status: u16, retry_after: Option<u64>, body: &Value) -> Result<(), Failure> {
    if (200..=299).contains(&status) {
        return match body["name"].as_str() {
            Some(n) if n.starts_with("projects/") => Ok(()),
            _ => Err(Failure::refused(format!(
                "fcm: unreadable answer (HTTP {status})"
            ))),
        };
    }
    let (code, fields) = details(body);
    let token_field = fields.contains(&"message.token");
    match (code, status) {
        (Some("UNREGISTERED"), _) => Err(Failure::bad_contact(
            "fcm: token unregistered (the app was removed or its token expired: enrol it again)",
        )),
        // The documented "invalid registration" answer: an FcmError INVALID_ARGUMENT with no
        // field named, or a BadRequest naming the token.
        (Some("INVALID_ARGUMENT"), _) if fields.is_empty() => Err(Failure::bad_contact(
            "fcm: invalid token (INVALID_ARGUMENT)",
        )),
        (Some("INVALID_ARGUMENT"), _) | (None, 400) if token_field => Err(Failure::bad_contact(
            "fcm: invalid token (INVALID_ARGUMENT)",
        )),
        (Some("INVALID_ARGUMENT"), _) | (None, 400) => Err(Failure::refused(format!(
            "fcm: request refused (INVALID_ARGUMENT{})",
            field_words(&fields)
        ))),
        (Some("SENDER_ID_MISMATCH"), _) => Err(Failure::bad_contact(
            "fcm: token belongs to another Firebase project (SENDER_ID_MISMATCH)",
        )),
        (Some("QUOTA_EXCEEDED"), _) | (_, 429) => Err(Failure::rate_limited(
            retry_after,
            match retry_after {
                Some(s) => format!("fcm: rate limited, retry after {s} s"),
                None => "fcm: rate limited".to_owned(),
            },
        )),
        (Some("THIRD_PARTY_AUTH_ERROR"), _) => Err(Failure::config(
            "fcm: APNs or web push credentials refused (THIRD_PARTY_AUTH_ERROR): check the \
             Firebase project's Apple key or certificate",
        )),
        (Some("UNAVAILABLE" | "INTERNAL"), _) | (_, 500..=599) => Err(Failure::unreachable(
            format!("fcm: server error (HTTP {status})"),
        )),
        (None, 401) => Err(Failure::config("fcm: bad credentials (HTTP 401)")),
        (None, 403) => Err(Failure::config(
            "fcm: bad credentials (HTTP 403): the service account may not send for this project",
        )),
        (None, 404) => Err(Failure::config(
            "fcm: no such project (HTTP 404): check project_id and fcm_base_url",
        )),
        (_, status) => {
            let known = [
                "UNSPECIFIED_ERROR",
                "INVALID_ARGUMENT",
                "UNREGISTERED",
                "SENDER_ID_MISMATCH",
                "QUOTA_EXCEEDED",
                "UNAVAILABLE",
                "INTERNAL",
                "THIRD_PARTY_AUTH_ERROR",
            ];
            let code = code
                .filter(|c| known.contains(c))
                .map_or(String::new(), |c| format!(", {c}"));
            Err(Failure::refused(format!(
                "fcm: request refused (HTTP {status}{code})"
            )))
        }
    }
}

/// An access token for FCM, minted from the service account key.
fn access_token(
    config: &Config,
    account: &ServiceAccount,
    now: u64,
) -> Result<Zeroizing<String>, Failure> {
    let key = SigningKey::from_pem(&account.private_key, &format!("{KEY_FILE}'s private_key"))?;
    let (header, claims) = assertion_parts(account, now);
    let assertion = key.sign(&header, &claims)?;
    let body = token_body(&assertion);
    with_one_retry(|| {
        let answer = http::request(
            config,
            "POST",
            &account.token_uri,
            &[("Accept", "application/json")],
            "application/x-www-form-urlencoded",
            body.as_bytes(),
        )?;
        token_answer(answer.status, answer.retry_after, &answer.json())
    })
}

/// Pushes our code to the app whose token is `job.contact`.
pub fn send(config: &Config, job: &Job) -> Result<(), Failure> {
    let settings = config
        .fcm
        .as_ref()
        .ok_or_else(|| Failure::config("no fcm_service_account_file in the configuration"))?;
    let text = crate::config::read_private(&settings.service_account_file, KEY_FILE)?;
    let account = parse_service_account(&text)?;
    let token = access_token(config, &account, job.now)?;
    let bearer = Zeroizing::new(format!("Bearer {}", token.as_str()));
    let url = send_url(&settings.base_url, &account);
    let body = message_body(job);
    with_one_retry(|| {
        let answer: Answer = http::request(
            config,
            "POST",
            &url,
            &[("Authorization", bearer.as_str())],
            "application/json; charset=utf-8",
            body.as_bytes(),
        )?;
        send_answer(answer.status, answer.retry_after, &answer.json())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_ids_follow_googles_rules() {
        for ok in ["pam-otp-test", "my-project-123", "example.com:my-project"] {
            assert!(is_project_id(ok), "{ok}");
        }
        for bad in [
            "..",
            "../x",
            "a/b-cdef",
            "Upper-case",
            "short",
            "1starts-with-digit",
            "ends-with-",
            "example..com:my-project",
            ":my-project",
        ] {
            assert!(!is_project_id(bad), "{bad}");
        }
    }
    use pam_otp_core::oob::contact::{Channel, Contact};
    use pam_otp_core::oob::exit;
    use serde_json::json;

    const TOKEN: &str = "fcm-token_0123456789:abcdefghijklmnopqrstuvwxyz";

    fn job() -> Job {
        Job {
            user: "alice".into(),
            contact: Contact::new(Channel::Fcm, TOKEN).unwrap(),
            service: "sshd".into(),
            expires_at: 1_700_000_120,
            now: 1_700_000_000,
            code: Zeroizing::new("40718263".into()),
            check: None,
        }
    }

    fn account_json(token_uri: &str) -> String {
        json!({"type": "service_account", "project_id": "pam-otp-test",
               "private_key_id": "0123abcd", "private_key": "-----BEGIN PRIVATE KEY-----\n",
               "client_email": "fcm@pam-otp-test.iam.gserviceaccount.com",
               "client_id": "1", "token_uri": token_uri})
        .to_string()
    }

    #[test]
    fn the_message_has_every_documented_field_in_its_format() {
        let body: Value = serde_json::from_str(&message_body(&job())).unwrap();
        assert_eq!(
            body,
            json!({"message": {
                "token": TOKEN,
                "notification": {"title": "One-time code for sshd",
                                 "body": "Your one-time code for sshd: 40718263. It expires in 120 s."},
                "data": {"pam_otp": "code", "code": "40718263", "service": "sshd",
                         "expires": "1700000120"},
                "android": {"priority": "high", "ttl": "120s"},
                "apns": {"headers": {"apns-priority": "10", "apns-expiration": "1700000120"}}
            }})
        );
        let mut far = job();
        far.expires_at = far.now + 10 * MAX_TTL;
        let body: Value = serde_json::from_str(&message_body(&far)).unwrap();
        assert_eq!(
            body["message"]["android"]["ttl"], "2419200s",
            "at most 4 weeks"
        );
        let body: Value = serde_json::from_str(&message_body(&job())).unwrap();
        // FCM's data map takes strings only.
        for v in body["message"]["data"].as_object().unwrap().values() {
            assert!(v.is_string());
        }
    }

    #[test]
    fn the_service_account_is_parsed_strictly() {
        let a =
            parse_service_account(&account_json("https://oauth2.googleapis.com/token")).unwrap();
        assert_eq!(a.project_id, "pam-otp-test");
        assert_eq!(
            send_url("https://fcm.googleapis.com", &a),
            "https://fcm.googleapis.com/v1/projects/pam-otp-test/messages:send"
        );
        let err = |text: String| parse_service_account(&text).unwrap_err();
        assert!(err(account_json("http://oauth2.googleapis.com/token"))
            .message
            .contains("https://"));
        let mut v: Value = serde_json::from_str(&account_json("https://x/token")).unwrap();
        v["type"] = json!("authorized_user");
        assert_eq!(err(v.to_string()).status, exit::BAD_CONFIG);
        let mut v: Value = serde_json::from_str(&account_json("https://x/token")).unwrap();
        v["project_id"] = json!("../../evil");
        assert!(err(v.to_string()).message.contains("project_id"));
        let mut v: Value = serde_json::from_str(&account_json("https://x/token")).unwrap();
        v.as_object_mut().unwrap().remove("client_email");
        assert!(err(v.to_string()).message.contains("client_email"));
        let e = err("{\"private_key\": \"sekrit".into());
        assert!(!e.message.contains("sekrit"));
    }

    #[test]
    fn the_assertion_claims_are_googles() {
        let a =
            parse_service_account(&account_json("https://oauth2.googleapis.com/token")).unwrap();
        let (header, claims) = assertion_parts(&a, 1_700_000_000);
        let header: Value = serde_json::from_str(&header).unwrap();
        let claims: Value = serde_json::from_str(&claims).unwrap();
        assert_eq!(
            header,
            json!({"alg": "RS256", "typ": "JWT", "kid": "0123abcd"})
        );
        assert_eq!(
            claims,
            json!({"iss": "fcm@pam-otp-test.iam.gserviceaccount.com",
                   "scope": "https://www.googleapis.com/auth/firebase.messaging",
                   "aud": "https://oauth2.googleapis.com/token",
                   "iat": 1_700_000_000u64, "exp": 1_700_003_600u64})
        );
        assert_eq!(
            token_body("a.b.c").as_str(),
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=a.b.c"
        );
    }

    #[test]
    fn token_answers_map_to_exit_statuses() {
        let t = token_answer(
            200,
            None,
            &json!({"access_token": "ya29.x", "expires_in": 3599,
                                                "token_type": "Bearer"}),
        )
        .unwrap();
        assert_eq!(t.as_str(), "ya29.x");
        let f = token_answer(
            400,
            None,
            &json!({"error": "invalid_grant",
            "error_description": "Invalid JWT Signature."}),
        )
        .unwrap_err();
        assert_eq!(f.status, exit::BAD_CONFIG);
        assert!(
            f.message
                .contains("fcm: bad credentials (HTTP 400, invalid_grant)"),
            "{}",
            f.message
        );
        assert!(!f.message.contains("Signature"));
        let f = token_answer(401, None, &json!({"error": "quoted free text"})).unwrap_err();
        assert_eq!(f.status, exit::BAD_CONFIG);
        assert!(!f.message.contains("quoted"), "{}", f.message);
        assert_eq!(
            token_answer(429, Some(1), &Value::Null).unwrap_err().status,
            exit::RATE_LIMITED
        );
        assert_eq!(
            token_answer(503, None, &Value::Null).unwrap_err().status,
            exit::UNREACHABLE
        );
        assert_eq!(
            token_answer(200, None, &json!({})).unwrap_err().status,
            exit::REFUSED
        );
    }

    fn status(code: u16, status: &str, details: Value) -> Value {
        json!({"error": {"code": code, "message": "free text with a token", "status": status,
                         "details": details}})
    }

    fn fcm_error(code: &str) -> Value {
        json!([{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": code}])
    }

    #[test]
    fn every_documented_send_error_is_mapped() {
        assert!(send_answer(200, None, &json!({"name": "projects/p/messages/0:1"})).is_ok());
        let bad_request = |field: &str| {
            json!([{"@type": "type.googleapis.com/google.rpc.BadRequest",
                    "fieldViolations": [{"field": field, "description": "x"}]}])
        };
        let cases: Vec<(u16, Option<u64>, Value, i32, &str)> = vec![
            (
                404,
                None,
                status(404, "NOT_FOUND", fcm_error("UNREGISTERED")),
                exit::BAD_CONTACT,
                "fcm: token unregistered",
            ),
            (
                400,
                None,
                status(400, "INVALID_ARGUMENT", fcm_error("INVALID_ARGUMENT")),
                exit::BAD_CONTACT,
                "fcm: invalid token",
            ),
            (
                400,
                None,
                status(400, "INVALID_ARGUMENT", bad_request("message.token")),
                exit::BAD_CONTACT,
                "fcm: invalid token",
            ),
            (
                400,
                None,
                status(
                    400,
                    "INVALID_ARGUMENT",
                    bad_request("message.data[0].value"),
                ),
                exit::REFUSED,
                "fcm: request refused (INVALID_ARGUMENT, field message.data[0].value)",
            ),
            (
                403,
                None,
                status(403, "PERMISSION_DENIED", fcm_error("SENDER_ID_MISMATCH")),
                exit::BAD_CONTACT,
                "SENDER_ID_MISMATCH",
            ),
            (
                429,
                Some(30),
                status(429, "RESOURCE_EXHAUSTED", fcm_error("QUOTA_EXCEEDED")),
                exit::RATE_LIMITED,
                "fcm: rate limited, retry after 30 s",
            ),
            (
                503,
                None,
                status(503, "UNAVAILABLE", fcm_error("UNAVAILABLE")),
                exit::UNREACHABLE,
                "fcm: server error (HTTP 503)",
            ),
            (
                500,
                None,
                status(500, "INTERNAL", fcm_error("INTERNAL")),
                exit::UNREACHABLE,
                "fcm: server error (HTTP 500)",
            ),
            (
                401,
                None,
                status(401, "UNAUTHENTICATED", fcm_error("THIRD_PARTY_AUTH_ERROR")),
                exit::BAD_CONFIG,
                "THIRD_PARTY_AUTH_ERROR",
            ),
            (
                401,
                None,
                status(401, "UNAUTHENTICATED", json!([])),
                exit::BAD_CONFIG,
                "fcm: bad credentials (HTTP 401)",
            ),
            (
                403,
                None,
                status(403, "PERMISSION_DENIED", json!([])),
                exit::BAD_CONFIG,
                "fcm: bad credentials (HTTP 403)",
            ),
            (
                404,
                None,
                status(404, "NOT_FOUND", json!([])),
                exit::BAD_CONFIG,
                "no such project",
            ),
            (
                409,
                None,
                status(409, "ABORTED", fcm_error("UNSPECIFIED_ERROR")),
                exit::REFUSED,
                "fcm: request refused (HTTP 409, UNSPECIFIED_ERROR)",
            ),
            (
                418,
                None,
                Value::Null,
                exit::REFUSED,
                "fcm: request refused (HTTP 418)",
            ),
            (
                502,
                None,
                Value::Null,
                exit::UNREACHABLE,
                "fcm: server error (HTTP 502)",
            ),
        ];
        for (code, retry, body, want, words) in cases {
            let f = send_answer(code, retry, &body).unwrap_err();
            assert_eq!(f.status, want, "{code} {body}");
            assert!(f.message.contains(words), "{code}: {}", f.message);
            assert!(!f.message.contains("free text"), "{}", f.message);
            assert_eq!(f.retry_after, retry);
        }
        // A field name that is not Google's path syntax is not echoed.
        let f = send_answer(
            400,
            None,
            &status(400, "INVALID_ARGUMENT", bad_request("a b\nc")),
        )
        .unwrap_err();
        assert_eq!(f.message, "fcm: request refused (INVALID_ARGUMENT)");
    }

    #[test]
    fn a_field_with_a_long_number_is_not_quoted() {
        // Found by fuzzing (fuzz/regressions/provider_answer/): a field path holding a phone
        // number was named whole.
        let body = status(
            400,
            "INVALID_ARGUMENT",
            json!([{"@type": "type.googleapis.com/google.rpc.BadRequest",
                    "fieldViolations": [{"field": "message.t233241234567oken"}]}]),
        );
        let f = send_answer(400, None, &body).unwrap_err();
        assert_eq!(f.message, "fcm: request refused (INVALID_ARGUMENT)");
        let body = status(
            400,
            "INVALID_ARGUMENT",
            json!([{"@type": "type.googleapis.com/google.rpc.BadRequest",
                    "fieldViolations": [{"field": "message.data[12].key"}]}]),
        );
        let f = send_answer(400, None, &body).unwrap_err();
        assert!(
            f.message.ends_with("field message.data[12].key)"),
            "{}",
            f.message
        );
    }
}
