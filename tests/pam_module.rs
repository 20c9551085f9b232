//! The built module, loaded by real libpam from a private service directory, driven by
//! `examples/pam_client.rs` under pam_wrapper (the test kit's `whole_process`). Each case checks
//! what an administrator would see: the PAM return code and the syslog reason word.
//!
//! Needs, and fails (never skips) without: libpam-wrapper, oathtool, pamtester, binutils.
//! Every run also checks that no log line or prompt contains the secret, a recovery code or
//! what was typed.

// Test code: a broken assumption should stop the test loudly, so unwrap/expect/panic are fine,
// and it reads the clock as the world outside the module does.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::disallowed_methods
)]

use std::collections::BTreeSet;
use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};

use pam_otp_testkit::built::module_path;
use pam_otp_testkit::client::{Client, Conv};
use pam_otp_testkit::codes::{hotp, now, recovery_entry, Key, Totp};
use pam_otp_testkit::pam_ffi::{
    PAM_AUTH_ERR, PAM_CONV_ERR, PAM_PERM_DENIED, PAM_SERVICE_ERR, PAM_SUCCESS,
};
use pam_otp_testkit::pam_wrapper::{pam_wrapper_module, wrap, StartLock};
use pam_otp_testkit::syslog::{log_messages, syslog_lines};
use pam_otp_testkit::tools::require_tool;
use pam_otp_testkit::users::NO_SUCH_USER;
use pam_otp_testkit::whole_process::Env;
use pam_otp_testkit::write_file;

/// An enrolled user (a 160-bit SHA-1 TOTP secret) with the module alone in service `otp`.
fn enrolled(extra_args: &str) -> (Env, Key) {
    let env = Env::new();
    let key = Key::random(20);
    env.write_secret(&key, "");
    env.otp_service(extra_args);
    (env, key)
}

#[test]
fn code_from_oathtool_is_accepted() {
    let (env, key) = enrolled("");
    let before = now();
    let code = Totp::default().now(&key);
    let out = env.run("otp", &Client::answer(&code).rhost("host.example"));
    out.expect(PAM_SUCCESS, "ok")
        .expect_prompts(1)
        .expect_line_contains(&format!("rhost=host.example user={}: ", env.user.name))
        .expect_line_contains("time-based code");
    assert_eq!(out.prompts[0], "One-time code: ");
    let step = env
        .state()
        .last_step
        .expect("the accepted step is recorded");
    assert!((before / 30).abs_diff(step) <= 1, "step {step}");
    assert_eq!(env.state().failures, 0);
}

#[test]
fn wrong_code_is_denied_and_counted() {
    let (env, key) = enrolled("");
    let wrong = Totp::default().wrong(&key);
    env.run("otp", &Client::answer(&wrong))
        .expect(PAM_AUTH_ERR, "bad_code")
        .expect_line_contains(&format!(
            "rhost=- user={}: wrong code (1 of 5 failures)",
            env.user.name
        ));
    env.run("otp", &Client::answer("not a code"))
        .expect(PAM_AUTH_ERR, "bad_code")
        .expect_line_contains("(2 of 5 failures)");
    assert_eq!(env.state().failures, 2);
}

#[test]
fn replayed_code_is_refused() {
    let (env, key) = enrolled("");
    let code = Totp::default().now(&key);
    env.run("otp", &Client::answer(&code))
        .expect(PAM_SUCCESS, "ok");
    env.run("otp", &Client::answer(&code))
        .expect(PAM_AUTH_ERR, "replay")
        .expect_line_contains("code already used");
}

#[test]
fn lockout_after_max_failures_refuses_even_the_right_code() {
    let (env, key) = enrolled("max_failures=3 lockout=120");
    let wrong = Totp::default().wrong(&key);
    for n in 1..=2 {
        env.run("otp", &Client::answer(&wrong))
            .expect(PAM_AUTH_ERR, "bad_code")
            .expect_line_contains(&format!("({n} of 3 failures)"));
    }
    env.run("otp", &Client::answer(&wrong))
        .expect(PAM_AUTH_ERR, "bad_code")
        .expect_line_contains("(3 of 3 failures); locked out for 120 s");
    let code = Totp::default().now(&key);
    env.run("otp", &Client::answer(&code))
        .expect(PAM_AUTH_ERR, "locked")
        .expect_line_contains("too many failures");
    let state = env.state();
    assert!(state.locked_until > now(), "{state:?}");
    assert_eq!(
        state.last_step, None,
        "a locked attempt must not use up the code"
    );
}

#[test]
fn nullok_without_secret_file_ignores_without_prompting() {
    let env = Env::new();
    let probe = env.ignore_probe_service("nullok");
    env.run(probe, &Client::answer("123456"))
        .expect(PAM_SUCCESS, "no_secret")
        .expect_prompts(0)
        .expect_line_contains("nullok: not asking");
    // PAM_IGNORE grants nothing by itself: a stack with nothing else fails.
    env.otp_service("nullok");
    env.run("otp", &Client::answer("123456"))
        .expect(PAM_PERM_DENIED, "no_secret")
        .expect_prompts(0);
    // The probe tells ignoring from accepting: an enrolled user's right code is no PAM_IGNORE.
    let key = Key::random(20);
    env.write_secret(&key, "");
    env.run(probe, &Client::answer(Totp::default().now(&key)))
        .expect(PAM_PERM_DENIED, "ok");
}

#[test]
fn no_secret_file_without_nullok_is_prompted_then_denied() {
    let env = Env::new();
    env.otp_service("");
    env.run("otp", &Client::answer("123456"))
        .expect(PAM_AUTH_ERR, "no_secret")
        .expect_prompts(1);
}

#[test]
fn unknown_user_is_prompted_then_denied_even_with_nullok() {
    let env = Env::new();
    env.otp_service("nullok");
    env.run("otp", &Client::answer("123456").user(NO_SUCH_USER))
        .expect(PAM_AUTH_ERR, "unknown_user")
        .expect_prompts(1)
        .expect_line_contains(&format!(" user={NO_SUCH_USER}: "));
}

#[test]
fn secret_file_readable_by_others_is_refused() {
    let (env, key) = enrolled("nullok");
    fs::set_permissions(env.secret_path(), fs::Permissions::from_mode(0o644)).unwrap();
    env.run("otp", &Client::answer(Totp::default().now(&key)))
        .expect(PAM_AUTH_ERR, "bad_secret_file")
        .expect_prompts(1)
        .expect_line_contains("group or others");
}

#[test]
fn symlinked_secret_file_is_refused() {
    let (env, key) = enrolled("nullok");
    let real = env.secrets_dir().join("real.otp");
    fs::rename(env.secret_path(), &real).unwrap();
    std::os::unix::fs::symlink(&real, env.secret_path()).unwrap();
    env.run("otp", &Client::answer(Totp::default().now(&key)))
        .expect(PAM_AUTH_ERR, "bad_secret_file")
        .expect_line_contains("symbolic link");
}

#[test]
fn hard_linked_secret_file_is_refused() {
    let (env, key) = enrolled("");
    fs::hard_link(env.secret_path(), env.secrets_dir().join("second-name")).unwrap();
    env.run("otp", &Client::answer(Totp::default().now(&key)))
        .expect(PAM_AUTH_ERR, "bad_secret_file")
        .expect_line_contains("hard link");
}

#[test]
fn secret_in_a_group_writable_directory_is_refused() {
    let (env, key) = enrolled("");
    fs::set_permissions(env.secrets_dir(), fs::Permissions::from_mode(0o770)).unwrap();
    env.run("otp", &Client::answer(Totp::default().now(&key)))
        .expect(PAM_AUTH_ERR, "bad_secret_file")
        .expect_line_contains("directory is writable by group or others");
}

#[test]
fn malformed_secret_files_are_refused() {
    let env = Env::new();
    env.otp_service("nullok");
    let key = Key::random(20);
    env.forbid(&key.base32());
    let b32 = key.base32();
    let big = format!("secret = {b32}\n{}", "# padding\n".repeat(7000));
    let cases: Vec<(&str, String)> = vec![
        ("empty file", String::new()),
        ("no key = value", "just some words\n".into()),
        ("unknown key", format!("secret = {b32}\ncolour = blue\n")),
        ("repeated key", format!("secret = {b32}\nsecret = {b32}\n")),
        ("not base32", "secret = this-is-not-base32!\n".into()),
        ("bad digits", format!("secret = {b32}\ndigits = 9\n")),
        (
            "bad algorithm",
            format!("secret = {b32}\nalgorithm = md5\n"),
        ),
        ("bad period", format!("secret = {b32}\nperiod = 0\n")),
        ("counter on totp", format!("secret = {b32}\ncounter = 3\n")),
        (
            "bad recovery",
            format!("secret = {b32}\nrecovery = plain\n"),
        ),
        ("NUL byte", format!("secret = {b32}\n\0\n")),
        ("over 64 KiB", big),
    ];
    for (what, text) in cases {
        env.write_secret_raw(&text);
        let out = env.run("otp", &Client::answer("123456"));
        assert_eq!(
            (out.code, out.reason()),
            (PAM_AUTH_ERR, "bad_secret_file"),
            "{what}: {:?}",
            out.line()
        );
    }
}

#[test]
fn secret_below_min_secret_bits_is_refused() {
    let env = Env::new();
    let key = Key::random(10); // 80 bits
    env.write_secret(&key, "");
    env.otp_service("");
    env.run("otp", &Client::answer(Totp::default().now(&key)))
        .expect(PAM_AUTH_ERR, "bad_secret_file")
        .expect_line_contains("80 bits, fewer than the required 128");
    // An administrator may lower the bar explicitly.
    env.otp_service("min_secret_bits=80");
    env.run("otp", &Client::answer(Totp::default().now(&key)))
        .expect(PAM_SUCCESS, "ok");
}

#[test]
fn unknown_or_malformed_arguments_fail_closed() {
    let (env, key) = enrolled("");
    for (args, named) in [
        ("nulok", "'nulok'"),
        ("window=11", "'window'"),
        ("max_failures=0", "'max_failures'"),
        ("secret=relative/%u", "'secret'"),
        ("nullok nullok", "'nullok'"),
        ("try_first_pass use_first_pass", "'use_first_pass'"),
    ] {
        // The bad argument first, so that it is the one reported.
        let stack = format!(
            "auth required {} {args} {}\n",
            module_path().display(),
            env.module_args()
        );
        env.service("bad", &stack);
        let out = env.run("bad", &Client::answer(Totp::default().now(&key)));
        out.expect(PAM_SERVICE_ERR, "bad_args")
            .expect_prompts(0)
            .expect_line_contains(named);
    }
}

#[test]
fn conversation_failure_is_a_conversation_error() {
    let (env, _key) = enrolled("");
    env.run("otp", &Client::new(Conv::Fail))
        .expect(PAM_CONV_ERR, "conv_error");
    assert_eq!(env.state().failures, 0, "no answer is not a guess");
}

#[test]
fn conversation_without_response_is_a_conversation_error() {
    let (env, _key) = enrolled("");
    env.run("otp", &Client::new(Conv::NoResponse))
        .expect(PAM_CONV_ERR, "conv_error");
}

#[test]
fn one_mebibyte_answer_is_a_wrong_code() {
    let (env, _key) = enrolled("");
    env.run("otp", &Client::new(Conv::Big))
        .expect(PAM_AUTH_ERR, "bad_code")
        .expect_line_contains("input too long (1 of 5 failures)");
    assert_eq!(env.state().failures, 1);
}

#[test]
fn hotp_codes_from_oathtool_move_the_counter_forward() {
    let env = Env::new();
    let key = Key::fixed(20);
    env.write_secret(&key, "type = hotp\n");
    env.otp_service("");
    env.run("otp", &Client::answer(hotp(&key, 0)))
        .expect(PAM_SUCCESS, "ok")
        .expect_line_contains("counter-based code");
    assert_eq!(env.state().hotp_next, Some(1));
    env.run("otp", &Client::answer(hotp(&key, 0)))
        .expect(PAM_AUTH_ERR, "replay");
    // The token was pressed without logging in: a code ahead, within the look-ahead, works.
    env.run("otp", &Client::answer(hotp(&key, 4)))
        .expect(PAM_SUCCESS, "ok");
    assert_eq!(env.state().hotp_next, Some(5));
    env.run("otp", &Client::answer(hotp(&key, 2)))
        .expect(PAM_AUTH_ERR, "bad_code");
    // Beyond the look-ahead (default 5 past the expected counter) is refused.
    env.run("otp", &Client::answer(hotp(&key, 11)))
        .expect(PAM_AUTH_ERR, "bad_code");
}

#[test]
fn hotp_starts_at_the_files_counter() {
    let env = Env::new();
    let key = Key::fixed(20);
    env.write_secret(&key, "type = hotp\ncounter = 1000\n");
    env.otp_service("");
    env.run("otp", &Client::answer(hotp(&key, 999)))
        .expect(PAM_AUTH_ERR, "bad_code");
    env.run("otp", &Client::answer(hotp(&key, 1000)))
        .expect(PAM_SUCCESS, "ok");
    assert_eq!(env.state().hotp_next, Some(1001));
}

#[test]
fn sha256_eight_digit_codes_are_accepted() {
    let env = Env::new();
    let key = Key::random(32);
    env.write_secret(&key, "algorithm = sha256\ndigits = 8\n");
    env.otp_service("");
    let spec = Totp {
        algorithm: "sha256",
        digits: 8,
        period: 30,
    };
    let code = spec.now(&key);
    assert_eq!(code.len(), 8);
    env.run("otp", &Client::answer(&code))
        .expect(PAM_SUCCESS, "ok");
}

#[test]
fn sha512_eight_digit_sixty_second_codes_are_accepted() {
    let env = Env::new();
    let key = Key::random(64);
    env.write_secret(&key, "algorithm = sha512\ndigits = 8\nperiod = 60\n");
    env.otp_service("");
    let spec = Totp {
        algorithm: "sha512",
        digits: 8,
        period: 60,
    };
    let code = spec.now(&key);
    // The same code cut to six digits is not a code for this secret.
    env.run("otp", &Client::answer(&code[2..]))
        .expect(PAM_AUTH_ERR, "bad_code");
    env.run("otp", &Client::answer(&code))
        .expect(PAM_SUCCESS, "ok");
    let step = env.state().last_step.expect("step recorded");
    assert!(
        (now() / 60).abs_diff(step) <= 1,
        "step {step} is in 60 s units"
    );
    // SHA-1 codes for the same key are not accepted.
    let sha1 = Totp {
        algorithm: "sha1",
        ..spec
    };
    let sha1_code = sha1.now(&key);
    if sha1_code != code {
        env.run("otp", &Client::answer(&sha1_code))
            .expect(PAM_AUTH_ERR, "bad_code");
    }
}

#[test]
fn recovery_code_works_once() {
    let env = Env::new();
    let key = Key::random(20);
    let code = "tstr-ecov-ery2";
    let normalized = code.replace('-', "");
    env.forbid(code);
    env.forbid(&normalized);
    env.write_secret(
        &key,
        &format!(
            "recovery = {}\nrecovery = {}\n",
            recovery_entry("abcdabcdabcd"),
            recovery_entry(&normalized)
        ),
    );
    env.otp_service("");
    env.run(
        "otp",
        &Client::answer(code.to_uppercase().replace('-', " ")),
    )
    .expect(PAM_SUCCESS, "ok")
    .expect_line_contains("recovery code (now spent)");
    env.run("otp", &Client::answer(code))
        .expect(PAM_AUTH_ERR, "replay");
    assert_eq!(env.state().spent.len(), 1);
    // The time-based code still works.
    env.run("otp", &Client::answer(Totp::default().now(&key)))
        .expect(PAM_SUCCESS, "ok");
}

/// `pam_set_items.so` (pam_wrapper) sets PAM_AUTHTOK from the environment, as a password
/// module in front of pam_otp would; libpam does not let an application set it.
fn first_pass_service(env: &Env, option: &str) -> &'static str {
    env.service(
        "firstpass",
        &format!(
            "auth required {}\n{}\n",
            pam_wrapper_module("pam_set_items.so").display(),
            env.module_line("required", option)
        ),
    );
    "firstpass"
}

#[test]
fn use_first_pass_takes_the_token_and_never_asks() {
    let (env, key) = enrolled("");
    let service = first_pass_service(&env, "use_first_pass");
    let code = Totp::default().now(&key);
    env.run(service, &Client::answer("unused").authtok(&code))
        .expect(PAM_SUCCESS, "ok")
        .expect_prompts(0);
    env.run(service, &Client::answer(&code))
        .expect(PAM_CONV_ERR, "no_authtok")
        .expect_prompts(0);
    env.run(service, &Client::answer("unused").authtok("hunter2"))
        .expect(PAM_AUTH_ERR, "bad_code")
        .expect_prompts(0);
}

#[test]
fn try_first_pass_uses_a_code_shaped_token() {
    let (env, key) = enrolled("");
    let service = first_pass_service(&env, "try_first_pass");
    env.run(
        service,
        &Client::answer("unused").authtok(&Totp::default().now(&key)),
    )
    .expect(PAM_SUCCESS, "ok")
    .expect_prompts(0);
}

#[test]
fn try_first_pass_asks_when_the_token_is_a_password() {
    let (env, key) = enrolled("");
    let service = first_pass_service(&env, "try_first_pass");
    env.run(
        service,
        &Client::answer(Totp::default().now(&key)).authtok("correct horse battery"),
    )
    .expect(PAM_SUCCESS, "ok")
    .expect_prompts(1);
}

#[test]
fn prompt_argument_with_brackets_is_shown() {
    let (env, key) = enrolled("[prompt=Verification code: ]");
    let out = env.run("otp", &Client::answer(Totp::default().now(&key)));
    out.expect(PAM_SUCCESS, "ok");
    assert_eq!(out.prompts, ["Verification code: "]);
}

#[test]
fn debug_logs_more_but_never_the_code_or_secret() {
    let (env, key) = enrolled("debug");
    let out = env.run("otp", &Client::answer(Totp::default().wrong(&key)));
    out.expect(PAM_AUTH_ERR, "bad_code");
    assert!(
        out.module_lines().iter().any(|l| l.starts_with("debug ")),
        "{:?}",
        out.syslog
    );
    env.run("otp", &Client::answer(Totp::default().now(&key)))
        .expect(PAM_SUCCESS, "ok");
    // The leak checks in Env::run covered both runs.
}

#[test]
fn corrupt_state_denies_and_is_never_reset() {
    let (env, key) = enrolled("");
    fs::create_dir(env.state_dir()).unwrap();
    fs::set_permissions(env.state_dir(), fs::Permissions::from_mode(0o700)).unwrap();
    let state_file = env.state_dir().join(env.user.uid.to_string());
    write_file(&state_file, &[0u8; 8192], 0o600);
    env.run("otp", &Client::answer(Totp::default().now(&key)))
        .expect(PAM_AUTH_ERR, "state_error")
        .expect_line_contains("corrupt");
    assert_eq!(fs::read(&state_file).unwrap(), vec![0u8; 8192]);
}

#[test]
fn unsafe_state_directory_denies() {
    let (env, key) = enrolled("");
    fs::create_dir(env.state_dir()).unwrap();
    fs::set_permissions(env.state_dir(), fs::Permissions::from_mode(0o777)).unwrap();
    env.run("otp", &Client::answer(Totp::default().now(&key)))
        .expect(PAM_AUTH_ERR, "state_error")
        .expect_line_contains("writable by group or others");
}

#[test]
fn library_exports_exactly_the_six_pam_hooks() {
    require_tool("nm", &["--version"], "binutils");
    let out = Command::new("nm")
        .args(["-D", "--defined-only"])
        .arg(module_path())
        .output()
        .expect("run nm");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let symbols: BTreeSet<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().last().map(str::to_string))
        .collect();
    let expected: BTreeSet<String> = [
        "pam_sm_acct_mgmt",
        "pam_sm_authenticate",
        "pam_sm_chauthtok",
        "pam_sm_close_session",
        "pam_sm_open_session",
        "pam_sm_setcred",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(symbols, expected);
}

/// The shipped roll-out stack, with the module path and this test's paths filled in and
/// stub `common-*` files. Linux-PAM 1.5.2 resolves `@include` in /etc/pam.d even for a
/// service read from another directory, so the includes are made absolute: otherwise the
/// test would silently run the host's own common-auth.
fn rollout_service(env: &Env, common_auth: &str) -> &'static str {
    let shipped =
        fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/pam.d/otp-rollout")).unwrap();
    let dir = env.services_dir();
    let module = format!("{} {}", module_path().display(), env.module_args());
    let mut stack = String::new();
    for line in shipped.lines() {
        let line = match line.trim().strip_prefix("@include ") {
            Some(name) => format!("@include {}", dir.join(name.trim()).display()),
            None => line.replace("pam_otp.so", &module),
        };
        stack.push_str(&line);
        stack.push('\n');
    }
    assert_eq!(
        stack.matches(module_path().to_str().unwrap()).count(),
        1,
        "{stack}"
    );
    assert_eq!(stack.matches("@include /").count(), 3, "{stack}");
    env.service("common-auth", &format!("auth required {common_auth}\n"));
    env.service("common-account", "account required pam_permit.so\n");
    env.service(
        "common-session-noninteractive",
        "session required pam_permit.so\n",
    );
    env.service("otp-rollout", &stack);
    "otp-rollout"
}

#[test]
fn rollout_stack_lets_unenrolled_users_through_and_asks_enrolled_ones() {
    let env = Env::new();
    let service = rollout_service(&env, "pam_permit.so");
    env.run(service, &Client::answer("123456"))
        .expect(PAM_SUCCESS, "no_secret")
        .expect_prompts(0);

    let key = Key::random(20);
    env.write_secret(&key, "");
    env.run(service, &Client::answer(Totp::default().wrong(&key)))
        .expect(PAM_AUTH_ERR, "bad_code")
        .expect_prompts(1);
    env.run(service, &Client::answer(Totp::default().now(&key)))
        .expect(PAM_SUCCESS, "ok");
}

#[test]
fn rollout_stack_grants_nothing_when_the_password_fails() {
    let env = Env::new();
    let service = rollout_service(&env, "pam_deny.so");
    env.run(service, &Client::answer("123456"))
        .expect(PAM_AUTH_ERR, "no_secret");
}

#[test]
fn pamtester_authenticates_with_the_module() {
    require_tool("pamtester", &[], "pamtester");
    let (env, key) = enrolled("");
    let pamtester = |answer: &str| {
        let _start = StartLock::acquire();
        let mut child = wrap(&mut Command::new("pamtester"), &env.services_dir())
            .args(["-v", "otp", &env.user.name, "authenticate"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run pamtester");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(format!("{answer}\n").as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(
            text.contains("Successfully initialized pam_wrapper"),
            "pam_wrapper not active: {text}"
        );
        let messages = log_messages(&text);
        assert!(
            !messages.iter().any(|m| m.contains(answer)),
            "the code leaked: {text}"
        );
        (out.status.success(), syslog_lines(&messages), text)
    };
    let (ok, syslog, text) = pamtester(&Totp::default().wrong(&key));
    assert!(!ok, "{text}");
    assert!(
        syslog.iter().any(|l| l.starts_with("bad_code rhost=")),
        "{text}"
    );
    let (ok, syslog, text) = pamtester(&Totp::default().now(&key));
    assert!(ok, "{text}");
    assert!(text.contains("successfully authenticated"), "{text}");
    assert!(syslog.iter().any(|l| l.starts_with("ok rhost=")), "{text}");
}
