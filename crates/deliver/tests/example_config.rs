//! The example credentials file the packages ship (examples/security/pam_otp.d/deliver.conf,
//! installed under /usr/share/doc, never as a live configuration) is one the helper accepts:
//! copied as an administrator would, with only the sendmail program pointed at a fake that
//! records what it got, it delivers the code by e-mail.
#![allow(clippy::unwrap_used, clippy::panic)]

mod support;

use std::os::unix::fs::PermissionsExt;

use support::*;

const EXAMPLE: &str = include_str!("../../../examples/security/pam_otp.d/deliver.conf");

#[test]
fn the_shipped_example_delivers_through_the_local_mta() {
    let dir = Dir::new("example_conf");
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
    // The example leaves sendmail_path commented out (the default, /usr/sbin/sendmail):
    // uncommenting it is the one edit.
    let commented = "# sendmail_path = /usr/sbin/sendmail";
    assert!(
        EXAMPLE.contains(commented),
        "the example names the default sendmail"
    );
    let text = EXAMPLE.replace(commented, &format!("sendmail_path = {}", fake.display()));
    let conf = dir.private("deliver.conf", &text);
    let out = run(&env("email", "alice@example.org", &conf));
    assert!(out.status.success(), "{}", stderr(&out));
    let argv = std::fs::read_to_string(dir.path("argv")).unwrap();
    assert_eq!(argv, "-i\n-f\npam-otp@example.org\n--\nalice@example.org\n");
    let stdin = std::fs::read_to_string(dir.path("stdin")).unwrap();
    assert!(stdin.contains(CODE), "{stdin}");
}

#[test]
fn the_examples_other_channels_are_valid_settings_when_uncommented() {
    // Each commented block, uncommented (the SMTP one in place of the sendmail lines), is a
    // valid file for its channel: the helper gets past the configuration (not 78) and then
    // fails to reach the .example host, which never resolves.
    for (block, channel, contact) in [
        (
            "# --- or e-mail through an SMTP relay",
            "email",
            "alice@example.org",
        ),
        ("# --- a generic HTTPS webhook", "webhook", "alice"),
        ("# --- ntfy", "ntfy", "alice-otp"),
    ] {
        let dir = Dir::new("example_conf_blocks");
        let mut out_lines = Vec::new();
        let mut in_block = false;
        for line in EXAMPLE.lines() {
            if line.starts_with("# ---") {
                in_block = line.starts_with(block);
            }
            // The sendmail block's live lines give way to the SMTP block's.
            let sendmail_live = line.starts_with("email_") && channel == "email";
            if sendmail_live {
                continue;
            }
            if in_block {
                if let Some(setting) = line.strip_prefix("# ").filter(|l| l.contains(" = ")) {
                    out_lines.push(setting.to_owned());
                    continue;
                }
            }
            out_lines.push(line.to_owned());
        }
        let mut text = out_lines.join("\n");
        text.push('\n');
        let conf = dir.private("deliver.conf", &text);
        let out = run(&env(channel, contact, &conf));
        assert_ne!(out.status.code(), Some(78), "{block}: {}", stderr(&out));
        assert_ne!(out.status.code(), Some(0), "{block}: nothing can answer");
    }
}
