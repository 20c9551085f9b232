//! Codes sent out of band, through the built module under real libpam (the test client
//! under pam_wrapper): the module makes the code, saves its hash, starts the delivery
//! helper (a shell script here, in a root-owned directory under cargo's target directory,
//! run as `nobody`, recording the code it got on stdin where the test reads it, as a user
//! reads their mail), prompts `Code sent to …`, and checks the answer.
//!
//! Starting the helper as another user needs root: these are `#[ignore]`d; run with
//! `cargo test --test delivered_codes -- --include-ignored`.

#![allow(clippy::unwrap_used, clippy::panic)]

use std::fs;
use std::path::PathBuf;
use std::time::Duration;

use pam_otp_core::testing::HelperDir;
use pam_otp_testkit::client::{Client, Conv};
use pam_otp_testkit::codes::{Key, Totp};
use pam_otp_testkit::pam_ffi::{PAM_AUTH_ERR, PAM_SUCCESS};
use pam_otp_testkit::whole_process::Env;

/// A helper script and the directory it records into.
struct Helper {
    dir: HelperDir,
    path: PathBuf,
}

impl Helper {
    /// A helper whose body runs after `code` (its stdin line) and `$out` are set.
    fn new(name: &str, body: &str) -> Helper {
        let dir = HelperDir::new(&format!("delivered_{name}"));
        let path = dir.script(
            "deliver",
            &format!(
                "read -r code\necho $$ > $out/pid\n\
                 printf '%s %s %s\\n' \"$PAM_OTP_CHANNEL\" \"$PAM_OTP_CONTACT\" \"$code\" >> $out/sent\n{body}"
            ),
        );
        Helper { dir, path }
    }

    /// A helper that always delivers (`name`: its own directory, one per test).
    fn delivering(name: &str) -> Helper {
        Helper::new(name, "exit 0")
    }

    /// The module arguments that use this helper.
    fn args(&self, extra: &str) -> String {
        format!(
            "deliver_helper={} deliver_user=nobody {extra}",
            self.path.display()
        )
    }

    /// Every code sent so far: (channel, contact, code).
    fn sent(&self) -> Vec<(String, String, String)> {
        self.dir
            .read("sent")
            .lines()
            .map(|l| {
                let mut w = l.split(' ').map(str::to_string);
                (w.next().unwrap(), w.next().unwrap(), w.next().unwrap())
            })
            .collect()
    }

    fn last_code(&self) -> String {
        self.sent().last().expect("a code was sent").2.clone()
    }
}

/// A user whose file holds `deliver` lines only.
fn delivery_only(helper: &Helper, extra: &str) -> Env {
    let env = Env::new();
    env.write_secret_raw(
        "# codes by e-mail\ndeliver = email:alice@example.org\ndeliver = ntfy:alice-otp-topic\n",
    );
    env.otp_service(&helper.args(extra));
    env
}

/// One login: waits for the prompt, answers it with `answer(code sent)`.
fn login(
    env: &Env,
    helper: &Helper,
    answer: impl Fn(&str) -> String,
) -> pam_otp_testkit::client::Outcome {
    let pending = env.start("otp", &Client::new(Conv::Stdin));
    let code = helper.last_code();
    env.forbid(&code);
    let typed = answer(&code);
    env.answer(pending, &typed)
}

#[test]
#[ignore = "root: the helper runs as nobody"]
fn the_sent_code_logs_in_once_and_the_next_send_supersedes_it() {
    let helper = Helper::delivering("replay");
    let env = delivery_only(&helper, "deliver_interval=0");
    let pending = env.start("otp", &Client::new(Conv::Stdin));
    assert_eq!(
        env.prompts_so_far(&pending),
        ["Code sent to a•••@example.org:"]
    );
    let code = helper.last_code();
    assert_eq!(code.len(), 6);
    assert!(code.bytes().all(|b| b.is_ascii_digit()));
    let sent = helper.sent();
    assert_eq!(
        (sent[0].0.as_str(), sent[0].1.as_str()),
        ("email", "alice@example.org")
    );
    let ok = env.answer(pending, &code);
    ok.expect(PAM_SUCCESS, "ok")
        .expect_line_contains("accepted code sent out of band")
        .expect_line_contains("a•••@example.org delivered");
    let state = env.state();
    assert_eq!(state.oob.deliveries.email.ok, 1);
    assert!(state.oob.record.as_ref().unwrap().pending().unwrap().used);

    // The same code again at the next login: that login sent a fresh code, which
    // superseded the used one; the used one is still told apart as a replay (and counted
    // as a failure, as every replay is).
    let used = code;
    let again = login(&env, &helper, |_| used.clone());
    again
        .expect(PAM_AUTH_ERR, "replay")
        .expect_line_contains("code already used");
    assert_ne!(helper.last_code(), used);
    let state = env.state();
    assert_eq!((state.failures, state.counters.replay), (1, 1));
}

#[test]
#[ignore = "root: the helper runs as nobody"]
fn a_used_code_stays_a_replay_and_a_superseded_unused_one_a_wrong_code() {
    let helper = Helper::delivering("superseded");
    let env = delivery_only(
        &helper,
        "deliver_interval=0 deliver_per_hour=6 max_failures=9",
    );
    let ok = login(&env, &helper, |c| c.to_string());
    ok.expect(PAM_SUCCESS, "ok");
    let used = helper.last_code();
    // Login 2: a code is sent, the user types the used one: a replay. The code sent
    // this time is never typed.
    login(&env, &helper, |_| used.clone()).expect(PAM_AUTH_ERR, "replay");
    let unused = helper.last_code();
    // Login 3: the code of login 2 was superseded without ever being accepted: it is a
    // wrong code, not a replay. The used code of login 1 is still the one remembered.
    login(&env, &helper, |_| unused.clone()).expect(PAM_AUTH_ERR, "bad_code");
    login(&env, &helper, |_| used.clone()).expect(PAM_AUTH_ERR, "replay");
    // A later login with its own code still logs in, and that code then is the replay.
    let fresh = login(&env, &helper, |c| c.to_string());
    fresh.expect(PAM_SUCCESS, "ok");
    let newest = helper.last_code();
    let state = env.state();
    assert_eq!(state.failures, 0, "a success resets the failures");
    assert_eq!(
        (
            state.counters.ok,
            state.counters.replay,
            state.counters.bad_code
        ),
        (2, 2, 1)
    );
    // Six logins, six codes sent: the most deliver_per_hour allows.
    login(&env, &helper, |_| newest.clone()).expect(PAM_AUTH_ERR, "replay");
    assert_eq!(helper.sent().len(), 6);
}

#[test]
#[ignore = "root: the helper runs as nobody"]
fn the_send_limit_refuses_and_tells_the_wait() {
    // One send per hour: the second login sends nothing and is refused, the user told
    // when to try again.
    let helper = Helper::delivering("limit");
    let env = delivery_only(&helper, "deliver_interval=3600");
    let ok = login(&env, &helper, |c| c.to_string());
    ok.expect(PAM_SUCCESS, "ok");
    let second = env.run("otp", &Client::answer(helper.last_code()));
    second.expect(PAM_AUTH_ERR, "send_limit");
    assert!(
        second
            .prompts
            .iter()
            .any(|p| p.starts_with("Too many codes sent; try again in ")),
        "{:?}",
        second.prompts
    );
    assert_eq!(helper.sent().len(), 1, "no second send");
}

#[test]
#[ignore = "root: the helper runs as nobody"]
fn wrong_codes_count_toward_the_same_lockout() {
    let helper = Helper::delivering("lockout");
    let env = delivery_only(&helper, "deliver_interval=0 max_failures=2");
    let wrong = |c: &str| {
        if c == "000000" {
            "111111".into()
        } else {
            "000000".into()
        }
    };
    let first = login(&env, &helper, wrong);
    first
        .expect(PAM_AUTH_ERR, "bad_code")
        .expect_line_contains("(1 of 2 failures)");
    assert_eq!(env.state().failures, 1);
    let second = login(&env, &helper, wrong);
    second
        .expect(PAM_AUTH_ERR, "bad_code")
        .expect_line_contains("locked out for");
    // Locked: no code is sent, and the login is refused.
    let before = helper.sent().len();
    let locked = env.run("otp", &Client::answer("123456"));
    locked.expect(PAM_AUTH_ERR, "locked");
    assert_eq!(helper.sent().len(), before, "no code sent while locked out");
    assert_eq!(env.state().counters.bad_code, 2);
}

#[test]
#[ignore = "root: the helper runs as nobody; waits 31 s"]
fn an_expired_code_is_refused() {
    let helper = Helper::delivering("expired");
    let env = delivery_only(&helper, "deliver_interval=0 deliver_ttl=30");
    let pending = env.start("otp", &Client::new(Conv::Stdin));
    let code = helper.last_code();
    std::thread::sleep(Duration::from_secs(31));
    let late = env.answer(pending, &code);
    late.expect(PAM_AUTH_ERR, "code_expired");
    assert_eq!(env.state().failures, 1);
}

#[test]
#[ignore = "root: the helper runs as nobody"]
fn a_failing_helper_falls_back_then_refuses() {
    // Fails for e-mail, delivers by ntfy: the second contact is used.
    let helper = Helper::new(
        "fallback",
        "[ \"$PAM_OTP_CHANNEL\" = email ] && { echo 'smtp refused' >&2; exit 69; }\nexit 0",
    );
    let env = delivery_only(&helper, "deliver_interval=0");
    let pending = env.start("otp", &Client::new(Conv::Stdin));
    assert_eq!(
        env.prompts_so_far(&pending),
        ["Code sent to ntfy topic ali•••:"]
    );
    let code = helper.last_code();
    let ok = env.answer(pending, &code);
    ok.expect(PAM_SUCCESS, "ok").expect_line_contains(
        "a•••@example.org failed: \"delivery helper failed (refused): smtp refused\"",
    );
    let state = env.state();
    assert_eq!(
        (
            state.oob.deliveries.email.failed,
            state.oob.deliveries.ntfy.ok
        ),
        (1, 1)
    );

    // Exits non-zero for every contact: refused, the user told.
    let failing = Helper::new("failing", "exit 75");
    let env = delivery_only(&failing, "deliver_interval=0");
    let out = env.run("otp", &Client::answer("123456"));
    out.expect(PAM_AUTH_ERR, "deliver_failed")
        .expect_line_contains("(unreachable)");
    assert!(
        out.prompts.iter().any(|p| p.contains("could not be sent")),
        "{:?}",
        out.prompts
    );
    for (_, _, code) in failing.sent() {
        assert!(!out.stderr.contains(&code), "the code is in a log line");
    }
}

#[test]
#[ignore = "root: the helper runs as nobody; waits for the timeout"]
fn a_hanging_helper_is_killed_at_the_timeout_with_its_group() {
    // The helper starts a grandchild in its group, then hangs; while it hangs, its argv
    // and environment do not hold the code.
    let helper = Helper::new(
        "hang",
        "sleep 300 &\necho $! > $out/child\nsleep 300\nexit 0",
    );
    let env = delivery_only(&helper, "deliver_interval=0 deliver_timeout=2");
    env.write_secret_raw("deliver = email:alice@example.org\n");
    let probe = {
        let record = helper.dir.record.clone();
        std::thread::spawn(move || {
            // Wait for the helper to record its pid, then read its command line.
            for _ in 0..3000 {
                if let (Ok(pid), Ok(sent)) = (
                    fs::read_to_string(record.join("pid")),
                    fs::read_to_string(record.join("sent")),
                ) {
                    let pid = pid.trim().to_string();
                    let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
                    let environ = fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
                    let code = sent.split(' ').nth(2).unwrap_or("").trim().to_string();
                    return (pid, code, cmdline, environ);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            panic!("the helper never started");
        })
    };
    let out = env.run("otp", &Client::answer("123456"));
    out.expect(PAM_AUTH_ERR, "deliver_failed")
        .expect_line_contains("killed after 2000 ms");
    let (pid, code, cmdline, environ) = probe.join().unwrap();
    assert_eq!(code.len(), 6);
    assert!(!cmdline.is_empty(), "the helper's command line was read");
    let has = |hay: &[u8]| hay.windows(code.len()).any(|w| w == code.as_bytes());
    assert!(!has(&cmdline), "the code is in the helper's argv");
    assert!(!has(&environ), "the code is in the helper's environment");
    assert!(!out.stderr.contains(&code), "the code is in a log line");
    // The helper and the grandchild it started are gone.
    let child = fs::read_to_string(helper.dir.record.join("child")).unwrap();
    for p in [pid.as_str(), child.trim()] {
        let status = fs::read_to_string(format!("/proc/{p}/status")).unwrap_or_default();
        assert!(
            status.is_empty() || status.contains("State:\tZ"),
            "process {p} outlived the timeout: {status}"
        );
    }
}

#[test]
#[ignore = "root: the helper runs as nobody"]
fn a_user_with_both_presses_enter_for_a_code_or_types_the_totp_code() {
    let helper = Helper::delivering("both");
    let env = Env::new();
    let key = Key::random(20);
    env.write_secret(&key, "deliver = email:alice@example.org\n");
    env.otp_service(&helper.args("deliver_interval=0"));
    // The TOTP code goes the normal way, and nothing is sent.
    let direct = env.run("otp", &Client::answer(Totp::default().now(&key)));
    direct.expect(PAM_SUCCESS, "ok");
    assert_eq!(
        direct.prompts,
        ["One-time code (or press Enter to get one by e-mail): "]
    );
    assert!(helper.sent().is_empty());
    // Enter: a code is sent, and it logs in.
    let mut pending = env.start("otp", &Client::new(Conv::Stdin));
    let next = env.answer_and_wait(&mut pending, "");
    assert_eq!(next, "Code sent to a•••@example.org:");
    let code = helper.last_code();
    env.forbid(&code);
    env.answer(pending, &code)
        .expect(PAM_SUCCESS, "ok")
        .expect_line_contains("accepted code sent out of band");
}
