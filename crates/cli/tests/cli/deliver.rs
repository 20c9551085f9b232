//! `pam-otp deliver test`, `pam-otp enroll --deliver` and the delivery lines of `pam-otp
//! status`, with the helper started exactly as the module starts it (`oob::spawn`: a fixed
//! root-owned path, run as an unprivileged user, the code on stdin). The helper here is a
//! small script that records what it was handed, in a directory only its user can write,
//! so the test compares the code the command printed (or was typed back) with the code
//! the helper got. Root: only root can start the helper as another user.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use crate::harness::*;
use pam_otp_core::authenticate::Verdict;

/// The user the helper runs as.
const HELPER_USER: &str = "nobody";

/// A helper in a directory the module accepts (root-owned, not group/other writable, all
/// the way up: under cargo's target directory, not /tmp), recording into `out/`.
struct FakeHelper {
    dir: PathBuf,
}

impl FakeHelper {
    /// `body` runs after the code is read into `$code`.
    fn new(tag: &str, body: &str) -> FakeHelper {
        let dir = pam_otp_core::testing::root_safe_dir()
            .join(format!("cli_deliver_{tag}_{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("out")).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let nobody = nix::unistd::User::from_name(HELPER_USER).unwrap().unwrap();
        nix::unistd::chown(&dir.join("out"), Some(nobody.uid), Some(nobody.gid)).unwrap();
        std::fs::set_permissions(dir.join("out"), std::fs::Permissions::from_mode(0o700)).unwrap();
        let script = format!(
            "#!/bin/sh\nread -r code\nOUT={}\n{body}\n",
            dir.join("out").display()
        );
        let path = dir.join("helper");
        std::fs::write(&path, script).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        FakeHelper { dir }
    }

    /// A helper that delivers: records user, channel, contact, code, its uid and its argv.
    fn delivering(tag: &str) -> FakeHelper {
        FakeHelper::new(
            tag,
            "printf '%s %s %s %s\\n' \"$PAM_OTP_USER\" \"$PAM_OTP_CHANNEL\" \"$PAM_OTP_CONTACT\" \"$code\" >>\"$OUT/sent\"\n\
             id -u >\"$OUT/uid\"\nprintf '%s\\n' \"$#\" >\"$OUT/argc\"\nexit 0",
        )
    }

    fn path(&self) -> PathBuf {
        self.dir.join("helper")
    }

    /// Lines `USER CHANNEL CONTACT CODE` the helper was handed.
    fn sent(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.join("out/sent"))
            .map(|s| s.lines().map(str::to_string).collect())
            .unwrap_or_default()
    }

    /// The code of the last delivery.
    fn last_code(&self) -> String {
        let sent = self.sent();
        let last = sent.last().expect("the helper was started");
        last.rsplit(' ').next().unwrap().to_string()
    }

    /// A pam_otp.conf in `home` naming this helper and its user.
    fn config(&self, home: &Home) -> String {
        let conf = home.path("pam_otp.conf");
        std::fs::write(
            &conf,
            format!(
                "deliver_helper = {}\ndeliver_user = {HELPER_USER}\ndeliver_timeout = 5\n",
                self.path().display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&conf, std::fs::Permissions::from_mode(0o644)).unwrap();
        conf.display().to_string()
    }
}

impl Drop for FakeHelper {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The code `deliver test` printed.
fn printed_code(out: &str) -> String {
    let at = out.find("the code is ").expect("the code is shown") + "the code is ".len();
    out[at..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect()
}

#[test]
#[ignore = "root: starts the helper as another user"]
fn deliver_test_sends_a_code_as_the_module_would_and_shows_it() {
    let home = Home::new();
    let helper = FakeHelper::delivering("test_ok");
    let conf = helper.config(&home);
    let user = me();
    let out = ok(home.run(
        &[
            "--config",
            &conf,
            "deliver",
            "test",
            &user,
            "--contact",
            "email:alice@example.org",
        ],
        "",
    ));
    let code = printed_code(&out);
    assert_eq!(code.len(), 6, "{out}");
    assert_eq!(
        helper.sent(),
        [format!("{user} email alice@example.org {code}")]
    );
    // As the unprivileged user, with no arguments.
    let uid = std::fs::read_to_string(helper.dir.join("out/uid")).unwrap();
    assert_eq!(uid.trim(), "65534");
    let argc = std::fs::read_to_string(helper.dir.join("out/argc")).unwrap();
    assert_eq!(argc.trim(), "0");
    assert!(out.contains("logs nobody in"), "{out}");
    // Nothing was recorded in the state: the test code is no login code.
    let states = std::fs::read_dir(home.state()).map_or(0, |d| d.count());
    assert_eq!(states, 0, "deliver test wrote a state");
}

#[test]
#[ignore = "root: starts the helper as another user"]
fn deliver_test_uses_the_users_deliver_lines_and_reports_a_failing_helper() {
    let home = Home::new();
    std::fs::write(
        home.otp(),
        "deliver = email:alice@example.org\ndeliver = ntfy:alice-otp\n",
    )
    .unwrap();
    std::fs::set_permissions(home.otp(), std::fs::Permissions::from_mode(0o600)).unwrap();
    let helper = FakeHelper::delivering("test_lines");
    let conf = helper.config(&home);
    let user = me();
    let out = ok(home.run(&["--config", &conf, "deliver", "test", &user], ""));
    let sent = helper.sent();
    assert_eq!(sent.len(), 2, "{out}");
    assert!(sent[0].starts_with(&format!("{user} email alice@example.org ")));
    assert!(sent[1].starts_with(&format!("{user} ntfy alice-otp ")));

    // A helper that refuses (69) with a message: the command fails and says why.
    let failing = FakeHelper::new("test_fail", "echo \"relay refused $code\" >&2\nexit 69");
    let conf = failing.config(&home);
    let o = home.run(
        &[
            "--config",
            &conf,
            "deliver",
            "test",
            &user,
            "--contact",
            "ntfy:alice-otp",
        ],
        "",
    );
    let err = fails(o, 1, "could not be sent to ntfy:alice-otp (refused)");
    assert!(err.contains("relay refused"), "{err}");
    // The helper's words are scrubbed of the code.
    assert!(err.contains("relay refused •••"), "{err}");
}

#[test]
#[ignore = "root: starts the helper as another user"]
fn deliver_test_refuses_a_helper_the_module_would_refuse() {
    let home = Home::new();
    let helper = FakeHelper::delivering("test_unsafe");
    std::fs::set_permissions(helper.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let conf = helper.config(&home);
    let o = home.run(
        &[
            "--config",
            &conf,
            "deliver",
            "test",
            &me(),
            "--contact",
            "email:a@example.org",
        ],
        "",
    );
    fails(o, 1, "unsafe_helper");
    assert!(helper.sent().is_empty(), "the helper never ran");
}

#[test]
#[ignore = "root: starts the helper as another user"]
fn enroll_deliver_creates_a_delivery_only_file_once_the_code_is_typed_back() {
    let home = Home::new();
    let helper = FakeHelper::delivering("enroll_new");
    let conf = helper.config(&home);
    // A wrong code three times: nothing saved.
    let o = home.run(
        &[
            "--config",
            &conf,
            "enroll",
            "--deliver",
            "email:alice@example.org",
        ],
        "000000\n000001\n000002\n",
    );
    let code = helper.last_code();
    assert!(!["000000", "000001", "000002"].contains(&code.as_str()));
    fails(o, 1, "nothing was saved");
    assert!(!home.otp().exists());

    // Then the right one: a file of the deliver line alone, which the module reads.
    let child = {
        let mut c = home.cli(&[
            "--config",
            &conf,
            "enroll",
            "--deliver",
            "email:alice@example.org",
        ]);
        c.stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        c.spawn().unwrap()
    };
    // Wait for the second code, then type it.
    let mut child = child;
    for _ in 0..100 {
        if helper.sent().len() == 2 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let code = helper.last_code();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        writeln!(stdin, "{code}").unwrap();
    }
    let out = ok(child.wait_with_output().unwrap());
    assert!(
        out.contains("Saved 'deliver = email:alice@example.org'"),
        "{out}"
    );
    assert!(out.contains("no authenticator secret"), "{out}");
    let text = std::fs::read_to_string(home.otp()).unwrap();
    let file = pam_otp_core::secret_file::UserFile::parse(text.as_bytes()).unwrap();
    assert!(file.secret.is_none());
    assert_eq!(
        file.deliveries.contacts()[0].to_value(),
        "email:alice@example.org"
    );
    let mode = std::fs::metadata(home.otp()).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);

    // The same contact again: refused, before anything is sent.
    let before = helper.sent().len();
    let o = home.run(
        &[
            "--config",
            &conf,
            "enroll",
            "--deliver",
            "email:alice@example.org",
        ],
        "",
    );
    fails(o, 1, "already has 'deliver = email:alice@example.org'");
    assert_eq!(helper.sent().len(), before);
}

#[test]
#[ignore = "root: starts the helper as another user"]
fn enroll_deliver_adds_to_an_existing_secret_file_and_keeps_its_secret() {
    let home = Home::new();
    ok(home.run(&["enroll", "--no-confirm", "--qr", "none"], ""));
    let secret = secret_of(&home.otp());
    let helper = FakeHelper::delivering("enroll_existing");
    let conf = helper.config(&home);
    let mut c = home.cli(&["--config", &conf, "enroll", "--deliver", "ntfy:alice-otp"]);
    c.stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = c.spawn().unwrap();
    for _ in 0..100 {
        if !helper.sent().is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        writeln!(stdin, "{}", helper.last_code()).unwrap();
    }
    let out = ok(child.wait_with_output().unwrap());
    assert!(out.contains("pressing Enter sends a code"), "{out}");
    let text = std::fs::read_to_string(home.otp()).unwrap();
    let file = pam_otp_core::secret_file::UserFile::parse(text.as_bytes()).unwrap();
    assert_eq!(file.secret.as_ref().map(|s| &s.key), Some(&secret.key));
    assert_eq!(file.deliveries.contacts()[0].to_value(), "ntfy:alice-otp");
    // The app's code still logs in; status shows both.
    let code = oathtool(&["--totp", "-b", &b32(&secret)]);
    assert!(matches!(
        login(&home.otp(), &home.state(), &code, &[]),
        Verdict::Success
    ));
    let status = ok(home.run(&["--config", &conf, "status"], ""));
    assert!(status.contains("Enrolled:        yes"), "{status}");
    assert!(status.contains("Delivery:        ntfy "), "{status}");
    // Regenerating recovery codes rewrites the file: the deliver line stays.
    ok(home.run(&["recovery", "--regenerate"], ""));
    let text = std::fs::read_to_string(home.otp()).unwrap();
    assert!(text.contains("deliver = ntfy:alice-otp"), "{text}");
}

#[test]
fn enroll_deliver_refuses_a_bad_contact_and_unchecked_sending_as_a_user() {
    let home = Home::new();
    let o = home.run(&["enroll", "--deliver", "fax:+15550100"], "");
    fails(o, 1, "unknown delivery channel");
    let o = home.run(&["enroll", "--deliver", "sms:024 123 4567"], "");
    fails(o, 1, "has no country code");
    let o = home.run(&["enroll", "--deliver", "email:not an address"], "");
    let err = fails(o, 1, "not an e-mail address");
    assert!(!home.otp().exists(), "{err}");
    // --no-confirm saves without sending, for anyone acting for themselves.
    let out = ok(home.run(
        &[
            "enroll",
            "--deliver",
            "email:alice@example.org",
            "--no-confirm",
        ],
        "",
    ));
    assert!(
        out.contains("Saved 'deliver = email:alice@example.org'"),
        "{out}"
    );
    let status = ok(home.run(&["status"], ""));
    assert!(status.contains("codes sent out of band only"), "{status}");
    assert!(status.contains("Delivery:        email a"), "{status}");
    assert!(
        !status.contains("alice@example.org"),
        "the contact is masked: {status}"
    );
}

#[test]
#[ignore = "root: starts the helper as another user"]
fn status_shows_the_send_counters_and_the_pending_code_after_a_login() {
    let home = Home::new();
    std::fs::write(home.otp(), "deliver = email:alice@example.org\n").unwrap();
    std::fs::set_permissions(home.otp(), std::fs::Permissions::from_mode(0o600)).unwrap();
    let helper = FakeHelper::delivering("status");
    let conf = helper.config(&home);
    let args = [
        format!("deliver_helper={}", helper.path().display()),
        format!("deliver_user={HELPER_USER}"),
    ];
    let extra: Vec<&str> = args.iter().map(String::as_str).collect();
    // A login that gets a code sent and answers it wrongly.
    let verdict = login(&home.otp(), &home.state(), "999999", &extra);
    assert!(!matches!(verdict, Verdict::Success));
    assert_eq!(helper.sent().len(), 1);
    let status = ok(home.run(&["--config", &conf, "status"], ""));
    assert!(
        status.contains("Codes sent:      1 in the last hour (limit 5 per hour, 30 s apart)"),
        "{status}"
    );
    assert!(status.contains("Pending code:    expires "), "{status}");
    assert!(status.contains("Next send:       not before "), "{status}");
    assert!(
        status.contains("Deliveries:      email 1 delivered, 0 failed"),
        "{status}"
    );
    assert!(
        status.contains("Failures:        1 since the last success"),
        "{status}"
    );
    assert!(
        !status.contains(&helper.last_code()),
        "no code in status: {status}"
    );
}
