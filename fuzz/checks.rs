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
