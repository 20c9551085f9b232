//! The properties each fuzz target checks, as plain functions over bytes.
//!
//! Shared by the cargo-fuzz targets (`fuzz_targets/*.rs`) and by `tests/fuzz_corpus.rs`,
//! which replays the kept corpus and every past crash (`fuzz/regressions/`) under plain
//! `cargo test`, so a crash once found stays fixed without cargo-fuzz installed.

// Each target uses one of these; the corpus test uses them all.
#![allow(dead_code)]

use pam_otp_core::args;
use pam_otp_core::config_file;
use pam_otp_core::fleet::settings::StoreChoice;
use pam_otp_core::oob::rules::ENCODING_VERSION as OOB_RECORD_VERSION;
use pam_otp_core::otp::{self, Algorithm};
use pam_otp_core::recovery::{self, RecoveryHash};
use pam_otp_core::secret_file::{Kind, SecretFile};
use pam_otp_core::state::{State, VERSION as CURRENT_STATE_VERSION};
use pam_otp_core::store::{decode_slot, encode_slot, newest_slot};
use pam_otp_core::userdb::Account;
use pam_otp_core::verify::{self, Method, Policy};
use zeroize::Zeroizing;

/// Secret-file parser: never panics; whatever it accepts survives a write-and-parse round
/// trip unchanged (what `pam-otp` writes, the module reads back identically).
pub fn secret_file(data: &[u8]) {
    let Ok(parsed) = SecretFile::parse(data) else {
        return;
    };
    let _ = parsed.check_strength(128);
    let written = parsed.to_bytes();
    let again = SecretFile::parse(&written).expect("a written secret file parses again");
    assert_eq!(again, parsed, "round trip changed the secret file");
}

/// State encoding, one checksummed slot, and a whole two-slot file image: never panic;
/// whatever decodes re-encodes to the same bytes (the decoders are strict inverses of the
/// encoders, so no corruption can pass as a different valid state). Version 1 (pam_otp 0.1)
/// and every later version are still read and written back as the current one: that must
/// keep the state as it was; only the current version's encoding must be canonical (and an
/// older out-of-band record inside it is likewise read and written back as the current one).
pub fn state_file(data: &[u8]) {
    if let Ok(state) = State::decode(data) {
        let again = state.encode();
        assert_eq!(
            State::decode(&again).as_ref(),
            Ok(&state),
            "re-encoding changed the state"
        );
        if data[0] == CURRENT_STATE_VERSION && !holds_older_oob_record(data, &state, &again) {
            assert_eq!(
                again, data,
                "State::decode accepted a non-canonical encoding"
            );
        }
    }
    if let Some((seq, state)) = decode_slot(data) {
        let slot = encode_slot(seq, &state);
        let len = usize::from(u16::from_le_bytes([data[16], data[17]]));
        let older_record = holds_older_oob_record(&data[18..18 + len], &state, &state.encode());
        if data.get(18) != Some(&CURRENT_STATE_VERSION) || older_record {
            assert_eq!(
                decode_slot(&slot),
                Some((seq, state)),
                "slot re-encoding changed it"
            );
        } else {
            assert_eq!(
                &data[..slot.len()],
                &slot[..],
                "decode_slot/encode_slot disagree"
            );
        }
    }
    if let Some((index, seq, state)) = newest_slot(data) {
        assert!(index < 2);
        let slot = &data[index * 4096..(index + 1) * 4096];
        assert_eq!(decode_slot(slot), Some((seq, state)));
    }
}

/// Whether `bytes`, a current-version state that decoded to `state` and re-encodes to
/// `again`, differs from it only in its out-of-band record, which is of an older version
/// (read, and written back as the current one): all bytes before the record must match.
fn holds_older_oob_record(bytes: &[u8], state: &State, again: &[u8]) -> bool {
    let Some(record) = &state.oob.record else {
        return false;
    };
    // The record's length byte, in both encodings.
    let Some(at) = again.len().checked_sub(record.encode().len() + 1) else {
        return false;
    };
    bytes.len() > at + 1
        && bytes[..at] == again[..at]
        && usize::from(bytes[at]) == bytes.len() - at - 1
        && bytes[at + 1] < OOB_RECORD_VERSION
}

/// Module arguments, NUL-separated as a PAM stack line hands them over: never panics, and
/// any secret path let through expands to an absolute path without `..`.
pub fn module_args(data: &[u8]) {
    let argv: Vec<&[u8]> = data.split(|b| *b == 0).collect();
    let Ok(config) = args::parse(argv.iter().copied()) else {
        return;
    };
    for (name, home) in [
        ("alice", "/home/alice"),
        ("..", "/"),
        ("a b", "relative/home"),
    ] {
        let account = Account {
            name: name.into(),
            uid: 1000,
            gid: 1000,
            home: home.into(),
        };
        if let Some(path) = config.secret_path(&account) {
            assert!(path.is_absolute(), "relative secret path {path:?}");
            assert!(
                !path
                    .components()
                    .any(|c| matches!(c, std::path::Component::ParentDir)),
                "secret path with '..': {path:?}"
            );
        }
    }
}

/// Configuration-file parser (pure, no I/O): never panics; what it accepts from a file others
/// may read it accepts identically from a private one; accepted Redis settings stay within
/// their documented bounds.
pub fn config_file(data: &[u8]) {
    let private = config_file::parse_text(data, true);
    let open = config_file::parse_text(data, false);
    if let Ok(open) = &open {
        assert_eq!(
            private.as_ref().ok(),
            Some(open),
            "private file read differently"
        );
    }
    let Ok(config) = private else {
        return;
    };
    if let StoreChoice::Redis(s) = &config.store {
        for t in [s.connect_timeout, s.timeout, s.wait_timeout] {
            assert!((10..=5000).contains(&t.as_millis()), "timeout {t:?}");
        }
        assert!(s.wait_replicas <= 16);
        assert!(!s.namespace.is_empty() && s.namespace.len() <= 64);
        assert!(
            s.tls == s.ca_file.is_some(),
            "TLS without a CA file, or a CA file without TLS"
        );
        assert!(s.password.is_none() || s.password_file.is_none());
    }
}

/// The recovery code known to the secret used by [`typed_code`].
pub const RECOVERY_CODE: &[u8] = b"abcdefgh2345";

/// The decision on arbitrary typed input, stored state and clock: never panics, and accepts
/// only what a real token or the recovery code would produce.
///
/// Layout: byte 0 picks the token (TOTP/HOTP, algorithm, digits, stored history or not),
/// bytes 1..9 the clock, 9..17 the stored HOTP counter or last TOTP step, byte 17 the stored
/// failure count; the rest is what the user typed.
pub fn typed_code(data: &[u8]) {
    if data.len() < 18 {
        return;
    }
    let pick = data[0];
    let now = u64::from_le_bytes(data[1..9].try_into().unwrap());
    let stored = u64::from_le_bytes(data[9..17].try_into().unwrap());
    let failures = u32::from(data[17]);
    let input = &data[18..];

    let algorithm = [Algorithm::Sha1, Algorithm::Sha256, Algorithm::Sha512][usize::from(pick % 3)];
    let digits = 6 + u32::from((pick >> 2) % 3);
    let kind = if pick & 0x20 == 0 {
        Kind::Totp { period: 30 }
    } else {
        Kind::Hotp { counter: 0 }
    };
    let secret = SecretFile {
        kind,
        key: Zeroizing::new(b"12345678901234567890".to_vec()),
        algorithm,
        digits,
        recovery: vec![RecoveryHash::new([7; 16], RECOVERY_CODE)],
        named: Vec::new(),
    };
    let mut state = State {
        secret_id: verify::secret_id(&secret),
        failures,
        ..State::default()
    };
    if pick & 0x40 != 0 {
        match kind {
            Kind::Totp { .. } => state.last_step = Some(stored),
            Kind::Hotp { .. } => state.hotp_next = Some(stored),
        }
    }
    let policy = Policy::default();
    let d = verify::decide(&secret, &state, now, input, &policy);

    let typed: Vec<u8> = input.iter().copied().filter(|b| *b != b' ').collect();
    let typed_code = std::str::from_utf8(&typed)
        .ok()
        .filter(|s| s.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|s| s.parse::<u32>().ok());
    match d.outcome {
        Ok(Method::Totp) => {
            let step = d
                .state
                .last_step
                .expect("an accepted TOTP code records its step");
            assert!(
                state.last_step.is_none_or(|s| step > s),
                "TOTP replay accepted"
            );
            assert!(step.abs_diff(otp::totp_step(now, 30)) <= policy.window);
            assert_eq!(typed.len(), digits as usize);
            assert_eq!(
                typed_code,
                Some(otp::hotp(&secret.key, step, algorithm, digits))
            );
        }
        Ok(Method::Hotp) => {
            let next = d
                .state
                .hotp_next
                .expect("an accepted HOTP code moves the counter");
            assert!(
                next > state.hotp_next.unwrap_or(0),
                "HOTP counter moved backwards"
            );
            assert_eq!(typed.len(), digits as usize);
            assert_eq!(
                typed_code,
                Some(otp::hotp(&secret.key, next - 1, algorithm, digits))
            );
        }
        Ok(Method::Recovery) => {
            let normalized = recovery::normalize(input);
            assert_eq!(normalized.as_deref().map(|v| &v[..]), Some(RECOVERY_CODE));
        }
        Ok(Method::Delivered) => panic!("verify::decide accepted a code it never sent"),
        Err(_) => assert!(
            d.state.failures > state.failures || d.state.locked_until > 0,
            "a refused attempt was not counted"
        ),
    }
    if d.outcome.is_ok() {
        assert_eq!((d.state.failures, d.state.locked_until), (0, 0));
    }
}

/// Redis reply decoder: never panics, never claims more bytes than it was given, keeps
/// every bound (depth, bulk size, element count); what it decodes it decodes again the same
/// from exactly the bytes it consumed, and from its canonical re-encoding; and every proper
/// prefix of those bytes asks for more rather than yielding a different reply.
pub fn redis_reply(data: &[u8]) {
    use pam_otp_core::fleet::resp::{self, Reply};
    let Ok(Some((reply, used))) = resp::decode(data) else {
        return;
    };
    assert!(
        used > 0 && used <= data.len(),
        "consumed {used} of {}",
        data.len()
    );
    fn check_bounds(reply: &Reply, depth: usize) {
        match reply {
            Reply::Bulk(b) => assert!(b.len() <= resp::MAX_BULK),
            Reply::Array(items) => {
                assert!(depth < resp::MAX_DEPTH && items.len() <= resp::MAX_ELEMENTS);
                items.iter().for_each(|i| check_bounds(i, depth + 1));
            }
            _ => {}
        }
    }
    check_bounds(&reply, 0);
    assert_eq!(resp::decode(&data[..used]), Ok(Some((reply.clone(), used))));
    fn canonical(reply: &Reply, out: &mut Vec<u8>) {
        match reply {
            Reply::Simple(s) => out.extend([&b"+"[..], s, b"\r\n"].concat()),
            Reply::Error(s) => out.extend([&b"-"[..], s, b"\r\n"].concat()),
            Reply::Integer(n) => out.extend(format!(":{n}\r\n").into_bytes()),
            Reply::Nil => out.extend(b"$-1\r\n"),
            Reply::Bulk(b) => {
                out.extend(format!("${}\r\n", b.len()).into_bytes());
                out.extend(b);
                out.extend(b"\r\n");
            }
            Reply::Array(items) => {
                out.extend(format!("*{}\r\n", items.len()).into_bytes());
                items.iter().for_each(|i| canonical(i, out));
            }
        }
    }
    let mut again = Vec::new();
    canonical(&reply, &mut again);
    assert_eq!(
        resp::decode(&again),
        Ok(Some((reply, again.len()))),
        "canonical re-encoding decodes differently"
    );
    // A few proper prefixes (all of them would make the target quadratic).
    for cut in [0, 1, used / 2, used - 1] {
        if cut < used {
            assert!(
                !matches!(resp::decode(&data[..cut]), Ok(Some(_))),
                "a prefix of {cut} bytes already decoded"
            );
        }
    }
}

/// `deliver = CHANNEL:CONTACT` parser: never panics; whatever it accepts spells back to the
/// same value, parses again to the same contact, and masks to text that never holds the
/// whole contact (for contacts longer than what the mask shows). Lines split on `\n` are
/// added to one bounded list, which never holds more than its limit or a repeat.
pub fn deliver_line(data: &[u8]) {
    use pam_otp_core::oob::contact::{Contact, Deliveries, MAX_DELIVERIES};
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut all = Deliveries::new();
    for line in text.split('\n') {
        let Ok(contact) = Contact::parse(line) else {
            let _ = all
                .push_value(line)
                .expect_err("a refused value is refused in a list too");
            continue;
        };
        assert_eq!(contact.to_value(), line, "spelling changed the value");
        assert_eq!(Contact::parse(&contact.to_value()).as_ref(), Ok(&contact));
        // What the mask shows of the contact itself: its fixed words ("ntfy topic ",
        // "webhook ") are left out, or a contact spelt like them would look shown.
        let masked = contact.masked();
        let shown = masked
            .strip_prefix("ntfy topic ")
            .or_else(|| masked.strip_prefix("webhook "))
            .unwrap_or(&masked);
        if contact.address().len() > 4 {
            assert!(
                !shown.contains(contact.address()),
                "the mask shows the contact"
            );
        }
        let _ = all.push(contact);
        assert!(all.contacts().len() <= MAX_DELIVERIES);
    }
    let values: Vec<String> = all.contacts().iter().map(Contact::to_value).collect();
    let mut unique = values.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), values.len(), "a repeated contact was kept");
}

/// The delivery helper's credentials file (`pam_otp_deliver::config::parse`, admin input):
/// never panics; what it accepts keeps the rules the helper relies on (every URL https://,
/// a named SMS or voice provider has its settings and can do the job, bounded timeout,
/// absolute paths, well-formed sids and sender ids); what it refuses is said without the
/// value of any credential.
pub fn deliver_conf(data: &[u8]) {
    use pam_otp_deliver::config::{self, EmailTransport};
    use pam_otp_deliver::providers::Provider;
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let config = match config::parse(text) {
        Ok(config) => config,
        Err(f) => {
            assert_eq!(
                f.status,
                pam_otp_core::oob::exit::BAD_CONFIG,
                "{}",
                f.message
            );
            assert!(f.retry_after.is_none());
            assert_no_control(&f.message);
            for (n, value) in credentials_in(text) {
                if f.message.contains(value) {
                    // Echoed, or only the same words as the message's own (a key, a
                    // fixed phrase)? The same file with that value spelt otherwise says.
                    let other = text_with_line_value(text, n, &rotate(value));
                    let again = config::parse(&other).err().map(|f| f.message);
                    assert!(
                        again.is_some_and(|m| m.contains(value)),
                        "a credential's value is in the error: {:?}",
                        f.message
                    );
                }
            }
            return;
        }
    };
    let https = |url: &str| {
        let rest = url.strip_prefix("https://");
        assert!(
            rest.is_some_and(|r| !r.is_empty() && !r.contains(char::is_whitespace)),
            "a base URL that is not https: {url:?}"
        );
    };
    let timeout = config.timeout.as_secs();
    assert!((1..=25).contains(&timeout), "timeout {timeout}");
    assert!(config.ca_file.as_ref().is_none_or(|p| p.is_absolute()));
    match &config.email {
        Some(EmailTransport::Sendmail { path }) => assert!(path.is_absolute()),
        Some(EmailTransport::Smtp {
            port,
            user,
            password,
            ..
        }) => {
            assert!(*port != 0);
            assert_eq!(user.is_some(), password.is_some());
        }
        None => {}
    }
    assert!(config.email.is_none() || config.email_from.is_some());
    if let Some(url) = &config.webhook_url {
        https(url);
        assert!(config
            .webhook_secret
            .as_ref()
            .is_some_and(|s| s.len() >= 16));
    }
    if let Some(url) = &config.ntfy_url {
        https(url);
    }
    let sid = |s: &str, prefix: &str| {
        s.len() == 34 && s.starts_with(prefix) && s[2..].bytes().all(|b| b.is_ascii_hexdigit())
    };
    if let Some(t) = &config.twilio {
        https(&t.base_url);
        https(&t.verify_base_url);
        assert!(sid(&t.account_sid, "AC"));
        assert!(t.auth_user == t.account_sid || sid(&t.auth_user, "SK"));
        assert!(t.verify_service_sid.as_deref().is_none_or(|s| sid(s, "VA")));
    }
    if let Some(v) = &config.vonage {
        https(&v.base_url);
        https(&v.verify_base_url);
        assert!(v.brand.len() <= 16 && !v.api_key.is_empty());
        assert!(v.from.as_ref().is_none_or(|f| (1..=15).contains(&f.len())));
        assert!(v.application.as_ref().is_none_or(|(_, p)| p.is_absolute()));
    }
    if let Some(a) = &config.arkesel {
        https(&a.base_url);
        assert!((1..=11).contains(&a.sender.len()), "{:?}", a.sender);
        assert!(a
            .sender
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b' '));
    }
    if let Some(f) = &config.fcm {
        https(&f.base_url);
        assert!(f.service_account_file.is_absolute());
    }
    if let Some(p) = config.voice_provider {
        assert!(p.calls(), "{} cannot call", p.name());
    }
    for p in [config.sms_provider, config.voice_provider]
        .into_iter()
        .flatten()
    {
        let ready = match p {
            Provider::Twilio | Provider::TwilioVerify => {
                config.twilio.as_ref().is_some_and(|t| t.supports(p))
            }
            Provider::Vonage => config.vonage.as_ref().is_some_and(|v| v.from.is_some()),
            Provider::VonageVerify => config.vonage.is_some(),
            Provider::Arkesel | Provider::ArkeselOtp => config.arkesel.is_some(),
        };
        assert!(ready, "{} is named without its settings", p.name());
    }
}

/// The credentials' keys in deliver.conf.
const CREDENTIAL_KEYS: [&str; 7] = [
    "twilio_auth_token",
    "twilio_api_secret",
    "vonage_api_secret",
    "arkesel_api_key",
    "smtp_password",
    "webhook_secret",
    "ntfy_token",
];

/// `(line index, value)` of each credential in a deliver.conf text, of 8 characters or more
/// (shorter ones are as likely to be a word of any message).
fn credentials_in(text: &str) -> Vec<(usize, &str)> {
    text.lines()
        .enumerate()
        .filter_map(|(n, line)| {
            let (key, value) = line.trim().split_once('=')?;
            let value = value.trim();
            (CREDENTIAL_KEYS.contains(&key.trim()) && value.len() >= 8).then_some((n, value))
        })
        .collect()
}

/// `text` with the value of line `n` replaced by `value`.
fn text_with_line_value(text: &str, n: usize, value: &str) -> String {
    text.lines()
        .enumerate()
        .map(|(i, line)| match line.split_once('=') {
            Some((key, _)) if i == n => format!("{key}= {value}"),
            _ => line.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `s` spelt otherwise but alike: each ASCII letter and digit moved on by one within its
/// class (so its length, case and character classes stay, and what was valid stays valid).
fn rotate(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            'z' => 'a',
            'Z' => 'A',
            '9' => '0',
            c if c.is_ascii_alphanumeric() => char::from(c as u8 + 1),
            c => c,
        })
        .collect()
}

fn assert_no_control(message: &str) {
    assert!(
        !message.is_empty() && !message.contains(char::is_control),
        "an empty message or one with a control character: {message:?}"
    );
}

/// The number every `provider_answer` call is for, as the helper has it and in the digits
/// Vonage and Arkesel use: neither may appear in a message (only its last two digits).
const ANSWER_TO: &str = "+233241234567";

/// The providers' answer-mapping functions `provider_answer` reaches, by the name its input
/// starts with.
pub const ANSWER_FUNCTIONS: [&str; 14] = [
    "twilio-failure",
    "twilio-message",
    "twilio-verify-start",
    "twilio-verify-check",
    "vonage-sms-status",
    "vonage-http",
    "vonage-sms",
    "vonage-verify-start",
    "vonage-verify-check",
    "arkesel-sms",
    "arkesel-otp-generate",
    "arkesel-otp-verify",
    "fcm-token",
    "fcm-send",
];

/// What an answer-mapping function made of an answer: a failure, or what it accepted (a
/// handle, a verdict, a token), in words.
type Mapped = Result<Accepted, pam_otp_deliver::Failure>;

#[derive(Debug)]
enum Accepted {
    Sent,
    Handle(String),
    Verdict(pam_otp_deliver::providers::Verdict),
    Token(String),
}

fn map_answer(function: &str, status: u64, retry_after: Option<u64>, body: &str) -> Option<Mapped> {
    use pam_otp_deliver::http::Answer;
    use pam_otp_deliver::providers::{arkesel, fcm, twilio, vonage};
    use Accepted::*;
    if function == "vonage-sms-status" {
        // A message's `status` in the SMS API's body: any number.
        return Some(vonage::sms_status_failure(status, ANSWER_TO).map_or(Ok(Sent), Err));
    }
    let status = u16::try_from(status).ok()?;
    let answer = Answer {
        status,
        retry_after,
        body: body.to_owned(),
    };
    let json = answer.json();
    let to = ANSWER_TO;
    Some(match function {
        "twilio-failure" => Err(twilio::failure(status, retry_after, &json, to)),
        "twilio-message" => twilio::message_answer(&answer, to).map(|()| Sent),
        "twilio-verify-start" => twilio::verify_start_answer(&answer, to).map(Handle),
        "twilio-verify-check" => twilio::verify_check_answer(&answer, to).map(Verdict),
        "vonage-http" => Err(vonage::http_failure(status, retry_after)),
        "vonage-sms" => vonage::sms_answer(&answer, to).map(|()| Sent),
        "vonage-verify-start" => vonage::verify_start_answer(&answer, to).map(Handle),
        "vonage-verify-check" => vonage::verify_check_answer(&answer).map(Verdict),
        "arkesel-sms" => arkesel::sms_answer(status, retry_after, &json).map(|()| Sent),
        "arkesel-otp-generate" => arkesel::otp_generate_answer(status, retry_after, &json)
            .map(|()| Handle(arkesel::OTP_HANDLE.to_owned())),
        "arkesel-otp-verify" => arkesel::otp_verify_answer(status, retry_after, &json).map(Verdict),
        "fcm-token" => fcm::token_answer(status, retry_after, &json).map(|t| Token(t.to_string())),
        "fcm-send" => fcm::send_answer(status, retry_after, &json).map(|()| Sent),
        _ => return None,
    })
}

/// Keys whose values are credentials or tokens, in any provider's answer.
fn secret_looking(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    [
        "secret",
        "token",
        "password",
        "api_key",
        "apikey",
        "private_key",
        "auth",
    ]
    .iter()
    .any(|w| key.contains(w))
}

/// Where a string is in a JSON answer: a JSON pointer (RFC 6901) to it, or to the object
/// holding it when it is a key.
struct Quotable {
    pointer: String,
    key: bool,
    text: String,
}

/// The strings of a JSON answer that a message must never quote: every value of a
/// secret-looking key (8 characters or more), and every string longer than 40 (a
/// provider's free text: it can hold the number, or the request). `field` values are left
/// out: FCM's field paths are named on purpose (`fcm::send_answer`, charset-checked below).
fn unquotable(value: &serde_json::Value, at: &str, key: Option<&str>, out: &mut Vec<Quotable>) {
    let step = |k: &str| format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
    match value {
        serde_json::Value::String(s)
            if key != Some("field")
                && (s.chars().count() > 40
                    || (key.is_some_and(secret_looking) && s.len() >= 8)) =>
        {
            out.push(Quotable {
                pointer: at.to_owned(),
                key: false,
                text: s.clone(),
            });
        }
        serde_json::Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                unquotable(v, &step(&i.to_string()), key, out);
            }
        }
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                if k.chars().count() > 40 {
                    out.push(Quotable {
                        pointer: at.to_owned(),
                        key: true,
                        text: k.clone(),
                    });
                }
                unquotable(v, &step(k), Some(k), out);
            }
        }
        _ => {}
    }
}

/// `value` with the one string `q` names spelt otherwise ([`rotate`]).
fn json_with_rotated(value: &serde_json::Value, q: &Quotable) -> serde_json::Value {
    use serde_json::Value;
    let mut other = value.clone();
    match other.pointer_mut(&q.pointer) {
        Some(Value::String(s)) if !q.key => *s = rotate(s),
        Some(Value::Object(map)) if q.key => {
            if let Some(v) = map.remove(&q.text) {
                map.insert(rotate(&q.text), v);
            }
        }
        _ => {}
    }
    other
}

/// A provider's answer (untrusted: it comes over the network) through every provider's
/// answer-mapping function. Input: a first line `FUNCTION STATUS [RETRY_AFTER]` (FUNCTION
/// one of [`ANSWER_FUNCTIONS`]; STATUS the HTTP status, or for `vonage-sms-status` the SMS
/// API's message status; RETRY_AFTER the header's text), then the body. Never panics;
/// a failure has an exit status the module knows, a short line without control characters
/// that quotes neither the number, nor the body, nor a credential or free text from it;
/// only a rate limit carries a wait, and only the one the provider gave; only a 2xx answer
/// accepts anything, and a handle or token accepted is one the module or a header takes.
pub fn provider_answer(data: &[u8]) {
    use pam_otp_core::oob::exit;
    use pam_otp_deliver::providers::Verdict;
    let text = String::from_utf8_lossy(data);
    let (head, body) = text.split_once('\n').unwrap_or((&text, ""));
    let mut words = head.split(' ');
    let (Some(function), Some(status)) = (words.next(), words.next()) else {
        return;
    };
    let Ok(status) = status.parse::<u64>() else {
        return;
    };
    // The Retry-After header's text, read as the helper reads it.
    let retry_after = words
        .next()
        .and_then(pam_otp_deliver::http::retry_after_header);
    if words.next().is_some() {
        return;
    }
    let Some(mapped) = map_answer(function, status, retry_after, body) else {
        return;
    };
    let http = function != "vonage-sms-status";
    let f = match mapped {
        Ok(accepted) => {
            // Wrong or expired may come with any status (the provider's error answers
            // say so); everything that lets a login or a send through needs a 2xx.
            let refusal = matches!(
                accepted,
                Accepted::Verdict(Verdict::Rejected | Verdict::Expired)
            );
            if http && !refusal {
                assert!(
                    (200..=299).contains(&status),
                    "{function}: HTTP {status} accepted as {accepted:?}"
                );
            }
            match accepted {
                Accepted::Handle(h) => assert!(
                    pam_otp_core::oob::spawn::verify_handle(&format!("verify {h}")).is_some(),
                    "{function}: a handle the module refuses: {h:?}"
                ),
                Accepted::Token(t) => assert!(
                    !t.is_empty() && t.bytes().all(|b| b.is_ascii_graphic()),
                    "{function}: a token unfit for a header"
                ),
                Accepted::Verdict(_) | Accepted::Sent => {}
            }
            return;
        }
        Err(f) => f,
    };
    let known = [
        exit::BAD_CONTACT,
        exit::REFUSED,
        exit::UNREACHABLE,
        exit::BAD_CONFIG,
        exit::RATE_LIMITED,
    ];
    assert!(known.contains(&f.status), "{function}: exit {}", f.status);
    if f.status == exit::RATE_LIMITED {
        assert!(f.retry_after.is_none() || f.retry_after == retry_after);
    } else {
        assert!(
            f.retry_after.is_none(),
            "{function}: a wait without a rate limit"
        );
    }
    let m = &f.message;
    assert_no_control(m);
    assert!(
        m.chars().count() <= 300,
        "{function}: {} chars",
        m.chars().count()
    );
    assert!(
        !m.contains(ANSWER_TO) && !m.contains(&ANSWER_TO[1..]) && !m.contains(&ANSWER_TO[..8]),
        "{function}: the number is in {m:?}"
    );
    if let Some(field) = m.split(", field ").nth(1) {
        let field = field.split(')').next().unwrap_or("");
        assert!(
            field.len() <= 64
                && field
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._[]".contains(&b)),
            "{function}: a field name beyond Google's path syntax: {m:?}"
        );
    }
    // What the message quotes verbatim is ours unless the same answer spelt otherwise
    // makes a message without it.
    let still_said =
        |other_body: &str, s: &str| match map_answer(function, status, retry_after, other_body) {
            Some(Err(g)) => g.message.contains(s),
            _ => false,
        };
    let trimmed = body.trim();
    if trimmed.len() > 40 && m.contains(trimmed) {
        assert!(
            still_said(&rotate(body), trimmed),
            "{function}: the body is in {m:?}"
        );
    }
    let json: serde_json::Value = serde_json::from_str(body).unwrap_or(serde_json::Value::Null);
    let mut quoted = Vec::new();
    unquotable(&json, "", None, &mut quoted);
    for q in quoted {
        if m.contains(&q.text) {
            let other = json_with_rotated(&json, &q).to_string();
            assert!(
                still_said(&other, &q.text),
                "{function}: the answer's {:?} is in {m:?}",
                q.text
            );
        }
    }
}
