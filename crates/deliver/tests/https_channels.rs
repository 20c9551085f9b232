//! The webhook and ntfy channels against a local HTTPS receiver with a test CA: what the
//! provider receives (method, path, headers, auth, signature, body) and the exit status for
//! each way it can go wrong.
#![allow(clippy::unwrap_used, clippy::panic)]

mod support;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use support::*;

const SECRET: &str = "whsec-0123456789abcdef";
const TOKEN: &str = "tk_testtoken0123";

fn conf(dir: &Dir, port: u16) -> std::path::PathBuf {
    dir.private(
        "deliver.conf",
        &format!(
            "webhook_url = https://127.0.0.1:{port}/hooks/otp\nwebhook_secret = {SECRET}\n\
             ntfy_url = https://localhost:{port}/\nntfy_token = {TOKEN}\n\
             ca_file = {}\ntimeout = 3\n",
            dir.path("ca.pem").display()
        ),
    )
}

#[test]
fn the_webhook_gets_a_signed_json_body() {
    let dir = Dir::new("webhook");
    test_ca(&dir);
    let rx = Receiver::https(&dir, "200");
    let conf = conf(&dir, rx.port);
    let out = run(&env("webhook", "alice-id", &conf));
    assert!(out.status.success(), "{}", stderr(&out));
    let records = rx.records();
    assert_eq!(records.len(), 1);
    let r = &records[0];
    assert_eq!(r["method"], "POST");
    assert_eq!(r["path"], "/hooks/otp");
    let h = &r["headers"];
    assert_eq!(h["content-type"], "application/json");
    let body = r["body"].as_str().unwrap();
    let json: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"user": "alice", "channel": "webhook", "contact": "alice-id",
            "code": CODE, "expires": 4102444800u64, "service": "sshd"})
    );
    let ts = h["x-pamotp-timestamp"].as_str().unwrap();
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(format!("{ts}.{body}").as_bytes());
    let want: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(h["x-pamotp-signature"], format!("sha256={want}"));
    // A signature over the body alone (no timestamp) would not verify: the timestamp is bound.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    let body_only: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_ne!(h["x-pamotp-signature"], format!("sha256={body_only}"));
    assert!(h.get("authorization").is_none());
}

#[test]
fn ntfy_gets_the_publish_api() {
    let dir = Dir::new("ntfy");
    test_ca(&dir);
    let rx = Receiver::https(&dir, "200");
    let conf = conf(&dir, rx.port);
    let out = run(&env("ntfy", "alice-otp_7", &conf));
    assert!(out.status.success(), "{}", stderr(&out));
    let records = rx.records();
    assert_eq!(records.len(), 1);
    let r = &records[0];
    assert_eq!(r["method"], "POST");
    assert_eq!(r["path"], "/alice-otp_7");
    let h = &r["headers"];
    assert_eq!(h["authorization"], format!("Bearer {TOKEN}"));
    assert_eq!(h["title"], "One-time code for sshd");
    assert_eq!(h["priority"], "high");
    assert_eq!(h["tags"], "key");
    let body = r["body"].as_str().unwrap();
    assert!(body.contains(&format!("sshd: {CODE}")), "{body}");
    assert!(
        !h["title"].as_str().unwrap().contains(CODE),
        "no code on a lock screen title"
    );
}

#[test]
fn failures_have_their_own_exit_status_and_stderr_holds_no_secret() {
    let dir = Dir::new("fail");
    test_ca(&dir);
    // The provider refuses: 69.
    let rx = Receiver::https(&dir, "403");
    let conf = conf(&dir, rx.port);
    let out = run(&env("webhook", "alice-id", &conf));
    assert_eq!(out.status.code(), Some(69), "{}", stderr(&out));
    assert!(stderr(&out).contains("HTTP 403"), "{}", stderr(&out));
    let out_ntfy = run(&env("ntfy", "alice-otp", &conf));
    assert_eq!(out_ntfy.status.code(), Some(69));
    drop(rx);
    // Nobody listens: 75.
    let unreachable = run(&env("webhook", "alice-id", &conf));
    assert_eq!(
        unreachable.status.code(),
        Some(75),
        "{}",
        stderr(&unreachable)
    );
    // A server whose certificate the CA file does not vouch for: 75 (TLS), and nothing sent.
    let other = Dir::new("fail_other_ca");
    test_ca(&other);
    let rx = Receiver::https(&other, "200");
    let conf2 = dir.private(
        "other.conf",
        &format!(
            "webhook_url = https://127.0.0.1:{}/x\nwebhook_secret = {SECRET}\nca_file = {}\n",
            rx.port,
            dir.path("ca.pem").display()
        ),
    );
    let untrusted = run(&env("webhook", "alice-id", &conf2));
    assert_eq!(untrusted.status.code(), Some(75), "{}", stderr(&untrusted));
    assert!(rx.records().is_empty());
    // A bad contact: 65. A bad configuration: 78. A bad start (no code): 64.
    let bad_contact = run(&env("ntfy", "alice.otp", &conf));
    assert_eq!(bad_contact.status.code(), Some(65));
    let loose = dir.private("loose.conf", "timeout = 3\n");
    std::fs::set_permissions(&loose, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let bad_conf = run(&env("webhook", "alice-id", &loose));
    assert_eq!(bad_conf.status.code(), Some(78), "{}", stderr(&bad_conf));
    let leaky = dir.private(
        "leaky.conf",
        &format!("webhook_secret = {SECRET}\nbogus = 1\n"),
    );
    let bad_conf2 = run(&env("webhook", "alice-id", &leaky));
    assert_eq!(bad_conf2.status.code(), Some(78));
    let mut no_user = env("webhook", "alice-id", &conf);
    no_user.remove(0);
    assert_eq!(run(&no_user).status.code(), Some(64));
    for out in [
        &out,
        &out_ntfy,
        &unreachable,
        &untrusted,
        &bad_contact,
        &bad_conf,
        &bad_conf2,
    ] {
        let e = stderr(out);
        assert_eq!(e.lines().count(), 1, "{e}");
        for secret in [CODE, SECRET, TOKEN] {
            assert!(!e.contains(secret), "{e}");
        }
    }
}

#[test]
fn the_code_is_never_in_argv_or_the_environment_while_it_waits() {
    let dir = Dir::new("argv");
    test_ca(&dir);
    let rx = Receiver::https(&dir, "hang");
    let conf = conf(&dir, rx.port);
    let start = std::time::Instant::now();
    let mut child = start_helper(&conf);
    // Wait until the receiver has the request: the helper is now blocked on the answer.
    while rx.records().is_empty() && start.elapsed() < std::time::Duration::from_secs(5) {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(rx.records().len(), 1);
    let pid = child.id();
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
    assert!(
        child.try_wait().unwrap().is_none(),
        "the helper is still running"
    );
    assert!(!cmdline.is_empty());
    for (what, bytes) in [("cmdline", &cmdline), ("environ", &environ)] {
        assert!(
            !bytes.windows(CODE.len()).any(|w| w == CODE.as_bytes()),
            "the code is in /proc/{pid}/{what}"
        );
    }
    // Its own timeout (3 s here) ends the wait: unreachable.
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(75), "{}", stderr(&out));
    assert!(start.elapsed() < std::time::Duration::from_secs(10));
}

fn start_helper(conf: &std::path::Path) -> std::process::Child {
    start(&env("webhook", "alice-id", conf))
}
