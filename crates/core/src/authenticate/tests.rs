//! The whole attempt, driven through a scripted fake host (no libpam, no root).

use super::*;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, UNIX_EPOCH};

use crate::otp::{format_code, totp, Algorithm};
use crate::store::FileStore;
use crate::testing::{ScriptedHost, TestDir};

const SECRET_B32: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
const KEY: &[u8] = b"12345678901234567890";
const NOW: u64 = 1_800_000_015;

/// A scripted host for `user`, connecting from 192.0.2.7.
fn scripted(user: &str) -> ScriptedHost {
    ScriptedHost::new(user).rhost("192.0.2.7")
}

struct Setup {
    dir: TestDir,
    user: String,
}

impl Setup {
    fn new() -> Setup {
        let dir = TestDir::tagged("auth");
        let uid = nix::unistd::geteuid().as_raw();
        let user = userdb::lookup_uid(uid)
            .unwrap()
            .expect("current user in passwd")
            .name;
        Setup { dir, user }
    }

    fn write_secret(&self, text: &str, mode: u32) {
        let path = self.dir.join(format!("{}.otp", self.user));
        fs::write(&path, text).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
    }

    fn args(&self, extra: &[&str]) -> Vec<String> {
        let mut args = vec![
            format!("secret={}/%u.otp", self.dir.path().display()),
            format!("state_dir={}/state", self.dir.path().display()),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    }

    fn run(&self, host: &mut ScriptedHost, extra: &[&str]) -> Verdict {
        let args = self.args(extra);
        authenticate(
            host,
            args.iter().map(|a| a.as_bytes()),
            UNIX_EPOCH + Duration::from_secs(NOW),
        )
    }
}

fn code_now() -> String {
    format_code(totp(KEY, NOW, 30, Algorithm::Sha1, 6), 6)
}

fn enrolled() -> Setup {
    let s = Setup::new();
    s.write_secret(&format!("secret = {SECRET_B32}\n"), 0o600);
    s
}

#[test]
fn right_code_accepted_and_logged_without_the_code() {
    let s = enrolled();
    let mut host = scripted(&s.user).answering(code_now().as_bytes());
    assert_eq!(s.run(&mut host, &[]), Verdict::Success);
    assert_eq!(host.prompts, vec!["One-time code: "]);
    let line = host.outcome_line().to_string();
    assert!(
        line.starts_with(&format!("ok rhost=192.0.2.7 user={}: ", s.user)),
        "{line}"
    );
    assert!(!line.contains(&code_now()) && !line.contains(SECRET_B32));
}

#[test]
fn replay_and_wrong_code_are_denied_with_their_reason() {
    let s = enrolled();
    let mut first = scripted(&s.user).answering(code_now().as_bytes());
    assert_eq!(s.run(&mut first, &[]), Verdict::Success);
    let mut again = scripted(&s.user).answering(code_now().as_bytes());
    assert_eq!(s.run(&mut again, &[]), Verdict::Deny(Reason::Replay));
    assert!(again.outcome_line().starts_with("replay "));
    let mut wrong = scripted(&s.user).answering(b"99999x");
    assert_eq!(s.run(&mut wrong, &[]), Verdict::Deny(Reason::BadCode));
    assert!(wrong
        .outcome_line()
        .contains("wrong code (2 of 5 failures)"));
}

#[test]
fn lock_out_is_announced_then_enforced() {
    let s = enrolled();
    let args = ["max_failures=2", "lockout=30"];
    let mut one = scripted(&s.user).answering(b"000000");
    s.run(&mut one, &args);
    let mut two = scripted(&s.user).answering(b"000000");
    assert_eq!(s.run(&mut two, &args), Verdict::Deny(Reason::BadCode));
    assert!(two
        .outcome_line()
        .ends_with("(2 of 2 failures); locked out for 30 s"));
    let mut right = scripted(&s.user).answering(code_now().as_bytes());
    assert_eq!(s.run(&mut right, &args), Verdict::Deny(Reason::Locked));
    assert!(right.outcome_line().starts_with("locked "));
}

#[test]
fn nullok_skips_users_without_a_secret_without_asking() {
    let s = Setup::new();
    let mut host = scripted(&s.user);
    assert_eq!(s.run(&mut host, &["nullok"]), Verdict::Ignore);
    assert!(host.prompts.is_empty());
    assert!(host.outcome_line().starts_with("no_secret "));
}

#[test]
fn nullok_refuses_when_the_store_itself_is_missing() {
    let s = Setup::new();
    let run = |host: &mut ScriptedHost, secret: String| {
        let args = [
            secret,
            format!("state_dir={}/state", s.dir.path().display()),
            "nullok".to_string(),
        ];
        authenticate(
            host,
            args.iter().map(|a| a.as_bytes()),
            UNIX_EPOCH + Duration::from_secs(NOW),
        )
    };
    let mut host = scripted(&s.user).answering(b"123456");
    let gone = format!("secret={}/gone/%u.otp", s.dir.path().display());
    assert_eq!(run(&mut host, gone), Verdict::Deny(Reason::BadSecretFile));
    assert_eq!(host.prompts.len(), 1);
    assert!(host
        .outcome_line()
        .contains("does not exist (not mounted?)"));
    // A missing per-user directory inside an existing store: not enrolled.
    let mut host = scripted(&s.user);
    let per_user = format!("secret={}/%u/otp", s.dir.path().display());
    assert_eq!(run(&mut host, per_user), Verdict::Ignore);
}

#[test]
fn without_nullok_missing_secret_and_unknown_users_are_asked_then_denied() {
    let s = Setup::new();
    let mut host = scripted(&s.user).answering(b"123456");
    assert_eq!(s.run(&mut host, &[]), Verdict::Deny(Reason::NoSecret));
    assert_eq!(host.prompts.len(), 1);

    let mut ghost = scripted("no-such-user-pam-otp").answering(b"123456");
    assert_eq!(
        s.run(&mut ghost, &["nullok"]),
        Verdict::Deny(Reason::UnknownUser)
    );
    assert_eq!(ghost.prompts.len(), 1);

    let mut nameless = scripted("x").answering(b"1");
    nameless.user = None;
    assert_eq!(
        s.run(&mut nameless, &[]),
        Verdict::Deny(Reason::UnknownUser)
    );
}

#[test]
fn unsafe_or_malformed_secret_files_are_denied() {
    for (text, mode, detail) in [
        (
            format!("secret = {SECRET_B32}\n"),
            0o644,
            "accessible to group or others",
        ),
        (
            format!("secret = {SECRET_B32}\ncolour = red\n"),
            0o600,
            "unknown key 'colour'",
        ),
        (
            "secret = GEZDGNBVGY3TQOJQ\n".to_string(),
            0o600,
            "80 bits, fewer than the required 128",
        ),
    ] {
        let s = Setup::new();
        s.write_secret(&text, mode);
        let mut host = scripted(&s.user).answering(code_now().as_bytes());
        assert_eq!(s.run(&mut host, &[]), Verdict::Deny(Reason::BadSecretFile));
        let line = host.outcome_line();
        assert!(
            line.starts_with("bad_secret_file ") && line.contains(detail),
            "{line}"
        );
    }
}

#[test]
fn bad_arguments_refuse_without_asking() {
    let s = enrolled();
    let mut host = scripted(&s.user);
    assert_eq!(s.run(&mut host, &["nulok"]), Verdict::Deny(Reason::BadArgs));
    assert!(host.prompts.is_empty());
    let want = format!(
        "bad_args rhost=192.0.2.7 user={}: argument 'nulok': unknown argument; \
         refusing every login",
        s.user
    );
    assert_eq!(host.outcome_line(), want);
}

#[test]
fn failed_conversation_is_reported_and_counts_nothing() {
    let s = enrolled();
    let mut host = scripted(&s.user).failing_conversation();
    assert_eq!(s.run(&mut host, &[]), Verdict::Deny(Reason::ConvError));
    assert!(host.outcome_line().starts_with("conv_error "));
    let store = FileStore::new(s.dir.join("state"), Duration::from_secs(1));
    let uid = nix::unistd::geteuid().as_raw();
    assert!(store.load(uid).unwrap().failures == 0);
}

#[test]
fn first_pass_options() {
    let s = enrolled();
    // use_first_pass with a token: no prompt.
    let mut host = scripted(&s.user);
    host.authtok = Some(code_now().into_bytes());
    assert_eq!(s.run(&mut host, &["use_first_pass"]), Verdict::Success);
    assert!(host.prompts.is_empty());
    // use_first_pass without one: refused, still no prompt.
    let mut none = scripted(&s.user);
    assert_eq!(
        s.run(&mut none, &["use_first_pass"]),
        Verdict::Deny(Reason::NoAuthtok)
    );
    assert!(none.outcome_line().starts_with("no_authtok "));
    // try_first_pass with a password-shaped token asks for the code instead.
    let s2 = enrolled();
    let mut pw = scripted(&s2.user).answering(code_now().as_bytes());
    pw.authtok = Some(b"correct horse".to_vec());
    assert_eq!(s2.run(&mut pw, &["try_first_pass"]), Verdict::Success);
    assert_eq!(pw.prompts.len(), 1);
    // try_first_pass with a code-shaped token uses it without asking.
    let s3 = enrolled();
    let mut code = scripted(&s3.user);
    code.authtok = Some(code_now().into_bytes());
    assert_eq!(s3.run(&mut code, &["try_first_pass"]), Verdict::Success);
    assert!(code.prompts.is_empty());
}

#[test]
fn custom_prompt_is_used() {
    let s = enrolled();
    let mut host = scripted(&s.user).answering(code_now().as_bytes());
    s.run(&mut host, &["prompt=Verification code: "]);
    assert_eq!(host.prompts, vec!["Verification code: "]);
}

#[test]
fn unusable_state_directory_denies() {
    let s = enrolled();
    let state = s.dir.join("state");
    fs::create_dir(&state).unwrap();
    fs::set_permissions(&state, fs::Permissions::from_mode(0o777)).unwrap();
    let mut host = scripted(&s.user).answering(code_now().as_bytes());
    assert_eq!(s.run(&mut host, &[]), Verdict::Deny(Reason::StateError));
    assert!(host.outcome_line().contains("writable by group or others"));
}

#[test]
fn debug_adds_lines_but_never_secrets() {
    let s = enrolled();
    let mut host = scripted(&s.user).answering(code_now().as_bytes());
    assert_eq!(s.run(&mut host, &["debug"]), Verdict::Success);
    assert!(host.logs.iter().any(|(l, _)| *l == Level::Debug));
    for (_, line) in &host.logs {
        assert!(
            !line.contains(&code_now())
                && !line.contains(SECRET_B32)
                && !line.contains("12345678901234567890")
        );
    }
}

#[test]
fn clock_before_1970_denies() {
    let s = enrolled();
    let mut host = scripted(&s.user).answering(code_now().as_bytes());
    let args = s.args(&[]);
    let before = UNIX_EPOCH - Duration::from_secs(1);
    let verdict = authenticate(&mut host, args.iter().map(|a| a.as_bytes()), before);
    assert_eq!(verdict, Verdict::Deny(Reason::ClockError));
}

/// A locked-out user's refusal is not counted as a failure, but it is counted as a locked
/// refusal, so it durably saves the user's own state, exactly once (no decoy save on top):
/// it costs what every other refusal costs, and the response time does not tell an
/// enrolled, locked-out user from an unknown one.
#[test]
fn a_locked_out_refusal_costs_a_durable_save_too() {
    let s = enrolled();
    let store = FileStore::new(s.dir.join("state"), Duration::from_secs(1));
    let mut host = scripted(&s.user).answering(b"000000");
    assert_eq!(
        s.run(&mut host, &["max_failures=1"]),
        Verdict::Deny(Reason::BadCode)
    );
    let decoy_before = store.load(DECOY_UID).map_or(0, |d| d.failures);
    let uid = nix::unistd::geteuid().as_raw();
    let before = store.load(uid).unwrap();
    let mut locked = scripted(&s.user).answering(code_now().as_bytes());
    assert_eq!(
        s.run(&mut locked, &["max_failures=1"]),
        Verdict::Deny(Reason::Locked)
    );
    let after = store.load(uid).unwrap();
    assert_eq!(after.counters.locked, before.counters.locked + 1);
    assert_eq!(after.failures, before.failures, "not counted as a failure");
    assert_eq!(
        store.load(DECOY_UID).map_or(0, |d| d.failures),
        decoy_before
    );
}

/// With try_first_pass, an earlier module's code-shaped token is used without a prompt for an
/// enrolled user, so a user without a secret is not prompted either: whether a second prompt
/// follows must not tell who is enrolled.
#[test]
fn try_first_pass_prompts_the_unenrolled_exactly_like_the_enrolled() {
    let s = Setup::new();
    for (token, prompted) in [("123456", false), ("12345678", false), ("hunter22", true)] {
        let mut host = scripted(&s.user);
        host.authtok = Some(token.as_bytes().to_vec());
        if prompted {
            host = host.answering(b"000000");
        }
        assert_eq!(
            s.run(&mut host, &["try_first_pass"]),
            Verdict::Deny(Reason::NoSecret)
        );
        assert_eq!(host.prompts.len(), usize::from(prompted), "{token}");
    }
}
