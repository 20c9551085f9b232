//! The webhook and ntfy channels: one HTTPS POST through ureq over rustls (ring), with no
//! proxy (none from the environment, which is empty anyway, and proxy detection off), no
//! redirect, the configured CA file or else Mozilla's roots, a total timeout.
//!
//! Webhook signature (pam-otp-deliver(8)): the request carries
//! `X-PamOtp-Timestamp: <unix seconds>` and
//! `X-PamOtp-Signature: sha256=<hex HMAC-SHA256(webhook_secret, "<timestamp>." + body)>`.
//! A receiver recomputes the MAC over the timestamp header, a dot and the raw body, compares
//! in constant time, and refuses a timestamp more than a few minutes from its clock (and a
//! signature it has already seen within that window): a replayed request is then refused.

use std::sync::Arc;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use ureq::tls::{Certificate, RootCerts, TlsConfig, TlsProvider};
use zeroize::Zeroizing;

use crate::config::Config;
use crate::{message, Failure, Job};

/// The signature header.
pub const SIGNATURE_HEADER: &str = "X-PamOtp-Signature";
/// The timestamp header (part of the signed text).
pub const TIMESTAMP_HEADER: &str = "X-PamOtp-Timestamp";

/// An agent with our TLS and timeouts; `status_as_error`: whether an HTTP error status is
/// an `Err` (the webhook and ntfy only need to know it failed) or an answer to read (the
/// providers say why in the body).
fn agent(config: &Config, status_as_error: bool) -> Result<ureq::Agent, Failure> {
    let roots = match &config.ca_file {
        Some(path) => {
            let pem = std::fs::read(path)
                .map_err(|e| Failure::config(format!("ca_file: {}", e.kind())))?;
            let certs: Vec<Certificate<'static>> = ureq::tls::parse_pem(&pem)
                .filter_map(|item| match item {
                    Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
                    _ => None,
                })
                .collect();
            if certs.is_empty() {
                return Err(Failure::config("ca_file holds no certificate"));
            }
            RootCerts::Specific(Arc::new(certs))
        }
        None => RootCerts::WebPki,
    };
    let tls = TlsConfig::builder()
        .provider(TlsProvider::Rustls)
        .root_certs(roots)
        .build();
    Ok(ureq::Agent::config_builder()
        .proxy(None)
        .max_redirects(0)
        .http_status_as_error(status_as_error)
        .timeout_global(Some(config.timeout))
        .tls_config(tls)
        .user_agent("pam-otp-deliver")
        .build()
        .new_agent())
}

/// Most bytes of a provider's answer read (their answers are a few hundred bytes).
const MAX_ANSWER: u64 = 64 * 1024;

/// A provider's answer, whatever its status.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    /// The `Retry-After` header, when it is a number of seconds (an HTTP date is ignored:
    /// none of our providers sends one).
    pub retry_after: Option<u64>,
    /// The body, at most [`MAX_ANSWER`] bytes, lossily UTF-8.
    pub body: String,
}

impl Answer {
    /// The body as JSON (`Null` when it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// One HTTPS request to a provider's API: `method` `url` with `headers` and, unless the
/// method is GET or DELETE, `body` of `content_type`. Any HTTP status is an [`Answer`]; only a
/// transport failure is an error (`UNREACHABLE`, in words that hold no header or body).
pub fn request(
    config: &Config,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    content_type: &str,
    body: &[u8],
) -> Result<Answer, Failure> {
    let agent = agent(config, false)?;
    let sent = match method {
        "GET" | "DELETE" => {
            let mut r = if method == "GET" {
                agent.get(url)
            } else {
                agent.delete(url)
            };
            for (k, v) in headers {
                r = r.header(*k, *v);
            }
            r.call()
        }
        _ => {
            let mut r = agent.post(url).header("Content-Type", content_type);
            for (k, v) in headers {
                r = r.header(*k, *v);
            }
            r.send(body)
        }
    };
    let mut response =
        sent.map_err(|e| Failure::unreachable(format!("cannot reach the provider: {}", kind(&e))))?;
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("Retry-After")
        .and_then(|v| v.to_str().ok())
        .and_then(retry_after_header);
    let body = response
        .body_mut()
        .with_config()
        .limit(MAX_ANSWER)
        .read_to_vec()
        .map_err(|e| {
            Failure::unreachable(format!("cannot read the provider's answer: {}", kind(&e)))
        })?;
    Ok(Answer {
        status,
        retry_after,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

/// The longest wait a `Retry-After` is taken for: a day, as the module reads a helper's
/// `retry-after N` (`pam_otp_core::oob::spawn::retry_after`); a longer one says a day.
pub const MAX_RETRY_AFTER: u64 = 86_400;

/// A `Retry-After` header's value in seconds (at most [`MAX_RETRY_AFTER`]); an HTTP date,
/// or anything else but digits, is no wait.
pub fn retry_after_header(value: &str) -> Option<u64> {
    pam_otp_core::decimal::parse_decimal::<u64>(value.trim()).map(|s| s.min(MAX_RETRY_AFTER))
}

/// `application/x-www-form-urlencoded` of `fields`.
pub fn form(fields: &[(&str, &str)]) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::new());
    for (i, (k, v)) in fields.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        percent_encode(&mut out, k);
        out.push('=');
        percent_encode(&mut out, v);
    }
    out
}

/// Form encoding of one key or value: unreserved characters as they are, space as `+`,
/// every other byte as `%XX`.
fn percent_encode(out: &mut String, text: &str) {
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(char::from(b));
            }
            b' ' => out.push('+'),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
}

/// `Basic base64(user:password)`.
pub fn basic_auth(user: &str, password: &str) -> Zeroizing<String> {
    use base64::Engine as _;
    let pair = Zeroizing::new(format!("{user}:{password}"));
    Zeroizing::new(format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair.as_bytes())
    ))
}

fn post(
    config: &Config,
    url: &str,
    headers: &[(&str, &str)],
    content_type: &str,
    body: &[u8],
) -> Result<(), Failure> {
    let agent = agent(config, true)?;
    let mut request = agent.post(url).header("Content-Type", content_type);
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    match request.send(body) {
        Ok(_) => Ok(()),
        Err(ureq::Error::StatusCode(status)) => Err(Failure::refused(format!(
            "the server answered HTTP {status}"
        ))),
        Err(e) => Err(Failure::unreachable(format!(
            "cannot reach the server: {}",
            kind(&e)
        ))),
    }
}

/// A short description of a transport error that cannot hold a header or a body.
fn kind(e: &ureq::Error) -> &'static str {
    match e {
        ureq::Error::Timeout(_) => "timed out",
        ureq::Error::HostNotFound => "host not found",
        ureq::Error::ConnectionFailed => "connection failed",
        ureq::Error::Io(_) => "I/O error",
        ureq::Error::Tls(_) | ureq::Error::Rustls(_) => "TLS error",
        ureq::Error::BadUri(_) => "bad URL",
        ureq::Error::Protocol(_) => "protocol error",
        _ => "request failed",
    }
}

/// The webhook's JSON body: `{user, channel, contact, code, expires, service}`.
pub fn webhook_body(job: &Job) -> Zeroizing<String> {
    Zeroizing::new(format!(
        "{{\"user\":{},\"channel\":{},\"contact\":{},\"code\":{},\"expires\":{},\"service\":{}}}",
        json_string(&job.user),
        json_string(job.contact.channel().name()),
        json_string(job.contact.address()),
        json_string(&job.code),
        job.expires_at,
        json_string(&job.service),
    ))
}

/// `sha256=<hex>` over `"<timestamp>." + body`.
pub fn signature(secret: &[u8], timestamp: u64, body: &[u8]) -> Result<String, Failure> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret)
        .map_err(|_| Failure::config("webhook_secret unusable"))?;
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let tag = mac.finalize().into_bytes();
    let hex: String = tag.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!("sha256={hex}"))
}

pub fn webhook(config: &Config, job: &Job) -> Result<(), Failure> {
    let (Some(url), Some(secret)) = (&config.webhook_url, &config.webhook_secret) else {
        return Err(Failure::config("no webhook_url in the configuration"));
    };
    let body = webhook_body(job);
    let sig = signature(secret.as_bytes(), job.now, body.as_bytes())?;
    let ts = job.now.to_string();
    post(
        config,
        url,
        &[(TIMESTAMP_HEADER, &ts), (SIGNATURE_HEADER, &sig)],
        "application/json",
        body.as_bytes(),
    )
}

pub fn ntfy(config: &Config, job: &Job) -> Result<(), Failure> {
    let Some(base) = &config.ntfy_url else {
        return Err(Failure::config("no ntfy_url in the configuration"));
    };
    // The topic is checked by the contact parser: letters, digits, _ and - only.
    let url = format!("{}/{}", base.trim_end_matches('/'), job.contact.address());
    let title = message::title(job);
    let priority = config.ntfy_priority.as_deref().unwrap_or("high");
    let auth = config
        .ntfy_token
        .as_ref()
        .map(|t| Zeroizing::new(format!("Bearer {}", t.as_str())));
    let mut headers = vec![
        ("Title", title.as_str()),
        ("Priority", priority),
        ("Tags", "key"),
    ];
    if let Some(a) = &auth {
        headers.push(("Authorization", a.as_str()));
    }
    let text = Zeroizing::new(message::text(job));
    post(
        config,
        &url,
        &headers,
        "text/plain; charset=utf-8",
        text.as_bytes(),
    )
}

/// A JSON string literal: quotes, backslashes and control characters escaped.
pub fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_encoding_escapes_all_but_unreserved() {
        let body = form(&[("To", "+233241234567"), ("Body", "Code: 12 & more=ok")]);
        assert_eq!(
            body.as_str(),
            "To=%2B233241234567&Body=Code%3A+12+%26+more%3Dok"
        );
    }

    #[test]
    fn basic_auth_is_base64_of_user_colon_password() {
        // RFC 7617's example.
        assert_eq!(
            basic_auth("Aladdin", "open sesame").as_str(),
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
    }

    #[test]
    fn json_escapes() {
        assert_eq!(json_string("a\"b\\c\nd"), "\"a\\\"b\\\\c\\u000ad\"");
    }

    #[test]
    fn signature_is_hmac_over_timestamp_dot_body() {
        // RFC 4231 test case 2 style check against an independent computation.
        let sig = signature(b"Jefe", 1_700_000_000, b"{}").unwrap();
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(b"Jefe").unwrap();
        mac.update(b"1700000000.{}");
        let want: String = mac
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(sig, format!("sha256={want}"));
    }

    #[test]
    fn retry_after_is_seconds_up_to_a_day() {
        assert_eq!(retry_after_header(" 30 "), Some(30));
        assert_eq!(retry_after_header("233241234567"), Some(MAX_RETRY_AFTER));
        assert_eq!(retry_after_header("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        assert_eq!(retry_after_header("-1"), None);
    }
}
