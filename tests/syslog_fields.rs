//! A user name or remote host must not be able to forge fields in the module's syslog line
//! (audit issue 9, item 4). Hostile names go through the built module (real libpam under
//! pam_wrapper, the test kit's `whole_process`), and every line must parse, by the grammar
//! that pam_otp(8) documents, into exactly one `rhost=` and one `user=` holding the real
//! values; a fail2ban-style `rhost=(\S+)` must capture the real remote host.
//!
//! ```text
//! <reason> rhost=<value> user=<value>: <detail>
//! value  = bare | quoted
//! bare   = one or more of 0x21-0x7e except  "  \  =
//! quoted = "  then 0x20-0x7e except  "  \  =  or  \"  \\  \xHH  then "
//! ```

use pam_otp_testkit::client::Client;
use pam_otp_testkit::codes::{Key, Totp};
use pam_otp_testkit::pam_ffi::{PAM_AUTH_ERR, PAM_SERVICE_ERR, PAM_SUCCESS};
use pam_otp_testkit::users::NO_SUCH_USER;
use pam_otp_testkit::whole_process::Env;

/// The remote host the tests set; a forged one would be 198.51.100.9.
const REAL_RHOST: &str = "192.0.2.44";
const FORGED_RHOST: &str = "198.51.100.9";

/// Names an attacker can type at sshd's login prompt (sshd hands invalid ones to PAM).
fn hostile_names() -> Vec<Vec<u8>> {
    let mut names: Vec<Vec<u8>> = [
        &b"x rhost=198.51.100.9: accepted time-based code"[..],
        b"x rhost=198.51.100.9",
        b"rhost=198.51.100.9",
        b"user=root",
        b"a=b",
        b"a:b",
        b"x: ok rhost=198.51.100.9 user=root:",
        b"\"",
        b"x\" rhost=198.51.100.9 user=\"y",
        b"back\\slash\\\" rhost=198.51.100.9",
        b"two\nlines\nok rhost=198.51.100.9 user=root: accepted",
        b"tab\there\r\x1b[31mred\x7f",
        b"\xff\xfe rhost=198.51.100.9 \xc3",
        "caf\u{e9} rhost=198.51.100.9".as_bytes(),
        b"",
        b" ",
    ]
    .iter()
    .map(|n| n.to_vec())
    .collect();
    let mut long = vec![b'A'; 300];
    long.extend_from_slice(b" rhost=198.51.100.9");
    names.push(long);
    let mut long_hostile = b"x rhost=198.51.100.9 ".repeat(20);
    long_hostile.push(b'"');
    names.push(long_hostile);
    names
}

/// One field value at the start of `text`, decoded; the rest of `text` after it. A bare
/// value runs to the next space (the caller strips the `:` that ends the user field).
fn value(text: &str) -> Result<(Vec<u8>, &str), String> {
    let bytes = text.as_bytes();
    if bytes.first() != Some(&b'"') {
        let end = bytes.iter().position(|b| *b == b' ').unwrap_or(bytes.len());
        let token = &bytes[..end];
        if token.is_empty()
            || token
                .iter()
                .any(|b| !(0x21..=0x7e).contains(b) || matches!(b, b'"' | b'\\' | b'='))
        {
            return Err(format!("bad bare value at {text:?}"));
        }
        return Ok((token.to_vec(), &text[end..]));
    }
    let mut out = Vec::new();
    let mut i = 1;
    loop {
        match bytes.get(i) {
            None => return Err(format!("unterminated quoted value {text:?}")),
            Some(b'"') => return Ok((out, &text[i + 1..])),
            Some(b'\\') => match bytes.get(i + 1) {
                Some(b'"') => {
                    out.push(b'"');
                    i += 2;
                }
                Some(b'\\') => {
                    out.push(b'\\');
                    i += 2;
                }
                Some(b'x') => {
                    let hex = text
                        .get(i + 2..i + 4)
                        .ok_or_else(|| format!("short \\x escape in {text:?}"))?;
                    let byte = u8::from_str_radix(hex, 16)
                        .map_err(|_| format!("bad \\x escape in {text:?}"))?;
                    out.push(byte);
                    i += 4;
                }
                _ => return Err(format!("unknown escape in {text:?}")),
            },
            Some(&b) if (0x20..=0x7e).contains(&b) && b != b'=' => {
                out.push(b);
                i += 1;
            }
            Some(b) => return Err(format!("raw byte {b:#04x} inside quotes in {text:?}")),
        }
    }
}

/// A module line split by the documented grammar, values decoded.
struct Fields<'l> {
    reason: &'l str,
    rhost: Vec<u8>,
    user: Vec<u8>,
    detail: &'l str,
}

fn parse(line: &str) -> Result<Fields<'_>, String> {
    let (reason, rest) = line.split_once(' ').ok_or("no reason word")?;
    let rest = rest
        .strip_prefix("rhost=")
        .ok_or_else(|| format!("rhost= does not follow the reason word: {line:?}"))?;
    let (rhost, rest) = value(rest)?;
    let rest = rest
        .strip_prefix(" user=")
        .ok_or_else(|| format!("user= does not follow rhost: {line:?}"))?;
    let (mut user, mut rest) = value(rest)?;
    if !rest.starts_with(':') {
        // A bare user value: its token ends with the field's `:`.
        if user.len() < 2 || user.pop() != Some(b':') {
            return Err(format!("bare user value does not end with ':': {line:?}"));
        }
        rest = rest
            .strip_prefix(' ')
            .ok_or("no space after the user field")?;
    } else {
        rest = rest
            .strip_prefix(": ")
            .ok_or_else(|| format!("': ' does not follow user: {line:?}"))?;
    }
    Ok(Fields {
        reason,
        rhost,
        user,
        detail: rest,
    })
}

/// How often `key` starts a field outside double quotes (a parser that honours quotes).
fn fields_outside_quotes(line: &str, key: &str) -> usize {
    let bytes = line.as_bytes();
    let (mut count, mut quoted, mut i) = (0, false, 0);
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if quoted => i += 1,
            b'"' => quoted = !quoted,
            _ if !quoted && (i == 0 || bytes[i - 1] == b' ') && line[i..].starts_with(key) => {
                count += 1
            }
            _ => {}
        }
        i += 1;
    }
    count
}

/// What `rhost=(\S+)` captures: the first match (`re.search`) and the last one (a filter
/// written `.*rhost=(\S+)`, whose greedy `.*` backtracks from the end of the line).
fn fail2ban_captures(line: &str) -> (Option<&str>, Option<&str>) {
    let capture = |at: usize| {
        let rest = &line[at + "rhost=".len()..];
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        Some(&rest[..end]).filter(|c| !c.is_empty())
    };
    (
        line.find("rhost=").and_then(capture),
        line.rfind("rhost=").and_then(capture),
    )
}

/// Checks one module line: it parses, holds exactly the real values, and fools no regex.
#[track_caller]
fn check_line(line: &str, reason: &str, rhost: &[u8], user: &[u8]) {
    let Fields {
        reason: got_reason,
        rhost: got_rhost,
        user: got_user,
        detail,
    } = parse(line).unwrap_or_else(|e| panic!("line does not parse: {e}\nline: {line:?}"));
    assert_eq!(got_reason, reason, "{line:?}");
    assert!(!detail.is_empty(), "{line:?}");
    let shown_whole = |want: &[u8], got: &[u8]| {
        if want.len() > 256 {
            // Cut to 256 bytes and marked; never a different value.
            got.len() == 259 && got.ends_with(b"...") && want.starts_with(&got[..256])
        } else {
            got == want
        }
    };
    assert!(
        shown_whole(rhost, &got_rhost),
        "rhost decodes to {:?}, want {:?}: {line:?}",
        String::from_utf8_lossy(&got_rhost),
        String::from_utf8_lossy(rhost)
    );
    assert!(
        shown_whole(user, &got_user),
        "user decodes to {:?}, want {:?}: {line:?}",
        String::from_utf8_lossy(&got_user),
        String::from_utf8_lossy(user)
    );
    assert_eq!(fields_outside_quotes(line, "rhost="), 1, "{line:?}");
    assert_eq!(fields_outside_quotes(line, "user="), 1, "{line:?}");
    // Stronger: `=` inside quotes is escaped, so even a regex blind to quotes finds each
    // key once.
    assert_eq!(line.matches("rhost=").count(), 1, "{line:?}");
    assert_eq!(line.matches("user=").count(), 1, "{line:?}");
    assert!(
        !line.bytes().any(|b| !(0x20..=0x7e).contains(&b)),
        "raw control or non-ASCII byte in {line:?}"
    );
}

#[test]
fn hostile_user_names_cannot_forge_log_fields() {
    let env = Env::new();
    env.otp_service("");
    for name in hostile_names() {
        let out = env.run(
            "otp",
            &Client::answer("123456").user_bytes(&name).rhost(REAL_RHOST),
        );
        assert_eq!(out.code, PAM_AUTH_ERR, "{:?}", out.syslog);
        let line = out.line();
        eprintln!("{line}");
        check_line(line, "unknown_user", REAL_RHOST.as_bytes(), &name);
        let (first, last) = fail2ban_captures(line);
        assert_eq!(first, Some(REAL_RHOST), "{line:?}");
        assert_eq!(last, Some(REAL_RHOST), "{line:?}");
        assert!(!line.contains(&format!("rhost={FORGED_RHOST}")), "{line:?}");
    }
}

#[test]
fn hostile_remote_hosts_cannot_forge_log_fields() {
    let env = Env::new();
    env.otp_service("");
    for host in hostile_names().into_iter().filter(|h| !h.is_empty()) {
        let out = env.run(
            "otp",
            &Client::answer("123456")
                .user(NO_SUCH_USER)
                .rhost_bytes(&host),
        );
        assert_eq!(out.code, PAM_AUTH_ERR, "{:?}", out.syslog);
        let line = out.line();
        eprintln!("{line}");
        check_line(line, "unknown_user", &host, NO_SUCH_USER.as_bytes());
        // A host that is not a plain token is quoted: a `rhost=<HOST>` filter sees a
        // leading `"`, never the forged address.
        let (first, last) = fail2ban_captures(line);
        assert_eq!(first, last, "{line:?}");
        assert_ne!(first, Some(FORGED_RHOST), "{line:?}");
        if host.contains(&b' ') {
            assert!(first.is_some_and(|c| c.starts_with('"')), "{line:?}");
        }
    }
}

#[test]
fn every_kind_of_line_puts_rhost_first_and_escapes() {
    // An enrolled user (bad_code, ok and debug lines) and a bad argument (bad_args line),
    // each with a hostile remote host.
    let env = Env::new();
    let key = Key::random(20);
    env.write_secret(&key, "");
    env.otp_service("debug");
    let host = b"h rhost=198.51.100.9 user=root: accepted";
    let me = env.user.name.as_bytes();

    let out = env.run(
        "otp",
        &Client::answer(Totp::default().wrong(&key)).rhost_bytes(host),
    );
    out.expect(PAM_AUTH_ERR, "bad_code");
    check_line(out.line(), "bad_code", host, me);
    let debug: Vec<&str> = out
        .module_lines()
        .into_iter()
        .filter(|l| l.starts_with("debug "))
        .collect();
    assert_eq!(debug.len(), 1, "{:?}", out.syslog);
    check_line(debug[0], "debug", host, me);

    let out = env.run(
        "otp",
        &Client::answer(Totp::default().now(&key)).rhost_bytes(host),
    );
    out.expect(PAM_SUCCESS, "ok");
    check_line(out.line(), "ok", host, me);

    env.otp_service("nulok");
    let out = env.run(
        "otp",
        &Client::answer("123456")
            .user_bytes(b"x rhost=198.51.100.9: ok")
            .rhost(REAL_RHOST),
    );
    out.expect(PAM_SERVICE_ERR, "bad_args");
    check_line(
        out.line(),
        "bad_args",
        REAL_RHOST.as_bytes(),
        b"x rhost=198.51.100.9: ok",
    );
}

#[test]
fn plain_values_stay_bare() {
    // What a log reader sees every day is unchanged apart from the order.
    let env = Env::new();
    env.otp_service("");
    for (host, shown) in [
        ("192.0.2.44", "rhost=192.0.2.44 "),
        ("2001:db8::1", "rhost=2001:db8::1 "),
        ("host.example", "rhost=host.example "),
    ] {
        let out = env.run(
            "otp",
            &Client::answer("123456").user(NO_SUCH_USER).rhost(host),
        );
        out.expect(PAM_AUTH_ERR, "unknown_user");
        assert_eq!(
            out.line(),
            format!("unknown_user {shown}user={NO_SUCH_USER}: no such user"),
        );
    }
    let out = env.run("otp", &Client::answer("123456").user(NO_SUCH_USER));
    assert_eq!(
        out.line(),
        format!("unknown_user rhost=- user={NO_SUCH_USER}: no such user")
    );
}
