//! The real helper started as the module starts it (`pam_otp_core::oob::spawn::deliver`:
//! as nobody, empty environment, code on stdin) against a receiver that never answers:
//! the caller's timeout kills it, and a receiver that answers gets the code. Root only
//! (setuid to nobody): `cargo test -p pam-otp-deliver --test caller_timeout -- --include-ignored`.
#![allow(clippy::unwrap_used, clippy::panic)]

mod support;

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use pam_otp_core::oob::code::{OneTimeCode, OsRandom};
use pam_otp_core::oob::contact::Contact;
use pam_otp_core::oob::spawn::{deliver, Helper, Request, SpawnError};
use support::*;

const NOBODY: u32 = 65534;

fn attempt(dir: &Dir, port: u16, timeout: Duration) -> (Result<(), SpawnError>, String) {
    let conf = dir.private(
        &format!("deliver-{port}.conf"),
        &format!(
            "webhook_url = https://127.0.0.1:{port}/otp\nwebhook_secret = 0123456789abcdef\n\
             ca_file = {}\ntimeout = 25\n",
            dir.path("ca.pem").display()
        ),
    );
    std::os::unix::fs::chown(&conf, Some(NOBODY), Some(NOBODY)).unwrap();
    let contact = Contact::parse("webhook:alice").unwrap();
    let code = OneTimeCode::generate(6, &mut OsRandom).unwrap();
    // The built helper sits in the target directory, which may be under the world-writable
    // temp dir: started from there it would rightly be refused, so it runs from a copy in
    // the root-safe test directory.
    let copy = dir.path("pam-otp-deliver");
    std::fs::copy(HELPER, &copy).unwrap();
    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755)).unwrap();
    let helper = Helper {
        path: &copy,
        uid: NOBODY,
        gid: NOBODY,
        timeout,
        conf: Some(&conf),
    };
    let request = Request {
        user: "alice",
        contact: &contact,
        service: "sshd",
        expires_at: 4_102_444_800,
        code: &code,
    };
    let outcome = deliver(&helper, &request).map(|_| ());
    (
        outcome,
        String::from_utf8(code.as_bytes().to_vec()).unwrap(),
    )
}

#[test]
#[ignore = "root: the helper runs as nobody"]
fn the_real_helper_delivers_as_nobody_and_is_killed_at_the_callers_timeout() {
    let dir = Dir::new("caller");
    test_ca(&dir);
    let ok = Receiver::https(&dir, "200");
    let (outcome, code) = attempt(&dir, ok.port, Duration::from_secs(10));
    assert_eq!(outcome, Ok(()));
    let body = ok.records()[0]["body"].as_str().unwrap().to_owned();
    assert!(body.contains(&format!("\"code\":\"{code}\"")), "{body}");

    let hang = Receiver::https(&dir, "hang");
    let start = Instant::now();
    let (outcome, _) = attempt(&dir, hang.port, Duration::from_secs(2));
    let took = start.elapsed();
    assert_eq!(outcome, Err(SpawnError::TimedOut(Duration::from_secs(2))));
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(4),
        "{took:?}"
    );
    assert_eq!(
        hang.records().len(),
        1,
        "the request was made, then the helper killed"
    );
}
