//! The e-mail channel: SMTP with STARTTLS and AUTH against a local sink with a test CA, and
//! the local MTA's sendmail interface through a fake `sendmail` that records its argv and
//! stdin (the code is in the message on stdin, never in the arguments).
#![allow(clippy::unwrap_used, clippy::panic)]

mod support;

use std::os::unix::fs::PermissionsExt;

use support::*;

#[test]
fn smtp_with_starttls_and_auth_delivers_the_message() {
    let dir = Dir::new("smtp");
    test_ca(&dir);
    let rx = Receiver::smtp(&dir);
    let conf = dir.private(
        "deliver.conf",
        &format!(
            "email_from = otp@example.org\nemail_transport = smtp\nsmtp_host = localhost\n\
             smtp_port = {}\nsmtp_tls = starttls\nsmtp_user = relay\nsmtp_password = s3cret-pw\n\
             ca_file = {}\ntimeout = 5\n",
            rx.port,
            dir.path("ca.pem").display()
        ),
    );
    let out = run(&env("email", "alice@example.org", &conf));
    assert!(out.status.success(), "{}", stderr(&out));
    let records = rx.records();
    assert_eq!(records.len(), 1);
    let m = &records[0];
    assert_eq!(m["tls"], true, "the message went over TLS");
    assert_eq!(m["auth"], "\0relay\0s3cret-pw");
    assert!(m["mail_from"]
        .as_str()
        .unwrap()
        .contains("<otp@example.org>"));
    assert!(m["rcpt_to"][0]
        .as_str()
        .unwrap()
        .contains("<alice@example.org>"));
    let data = m["data"].as_str().unwrap();
    assert!(data.contains("Subject: One-time code for sshd"), "{data}");
    assert!(data.contains(CODE), "{data}");
}

#[test]
fn smtp_refuses_to_send_without_tls_it_can_trust() {
    let dir = Dir::new("smtp_untrusted");
    test_ca(&dir);
    let other = Dir::new("smtp_untrusted_ca");
    test_ca(&other);
    let rx = Receiver::smtp(&dir);
    let conf = dir.private(
        "deliver.conf",
        &format!(
            "email_from = otp@example.org\nemail_transport = smtp\nsmtp_host = localhost\n\
             smtp_port = {}\nsmtp_user = relay\nsmtp_password = s3cret-pw\nca_file = {}\n",
            rx.port,
            other.path("ca.pem").display()
        ),
    );
    let out = run(&env("email", "alice@example.org", &conf));
    assert_eq!(out.status.code(), Some(75), "{}", stderr(&out));
    assert!(rx.records().is_empty(), "nothing was sent");
    let e = stderr(&out);
    assert!(!e.contains("s3cret-pw") && !e.contains(CODE), "{e}");
}

#[test]
fn sendmail_gets_the_message_on_stdin_and_no_code_in_argv() {
    let dir = Dir::new("sendmail");
    let fake = dir.path("sendmail");
    std::fs::write(
        &fake,
        format!(
            "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done > {0}/argv\n/bin/cat > {0}/stdin\n",
            dir.0.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let conf = dir.private(
        "deliver.conf",
        &format!(
            "email_from = otp@example.org\nemail_transport = sendmail\nsendmail_path = {}\n",
            fake.display()
        ),
    );
    let out = run(&env("email", "alice@example.org", &conf));
    assert!(out.status.success(), "{}", stderr(&out));
    let argv = std::fs::read_to_string(dir.path("argv")).unwrap();
    assert_eq!(argv, "-i\n-f\notp@example.org\n--\nalice@example.org\n");
    let stdin = std::fs::read_to_string(dir.path("stdin")).unwrap();
    assert!(
        stdin.contains(CODE) && stdin.contains("To: alice@example.org"),
        "{stdin}"
    );
    // A sendmail that fails: refused (69).
    std::fs::write(&fake, "#!/bin/sh\n/bin/cat >/dev/null\nexit 1\n").unwrap();
    let out = run(&env("email", "alice@example.org", &conf));
    assert_eq!(out.status.code(), Some(69), "{}", stderr(&out));
}

#[test]
fn a_missing_sendmail_is_a_configuration_error() {
    let dir = Dir::new("sendmail_missing");
    let conf = dir.private(
        "deliver.conf",
        &format!(
            "email_from = otp@example.org\nemail_transport = sendmail\nsendmail_path = {}\n",
            dir.path("nothing-here").display()
        ),
    );
    let out = run(&env("email", "alice@example.org", &conf));
    assert_eq!(out.status.code(), Some(78), "{}", stderr(&out));
}
