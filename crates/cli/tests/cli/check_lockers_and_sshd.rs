//! `pam-otp check` on fixture trees (crates/cli/tests/fixtures/check/…) for two findings of the audit
//! (issue 9):
//!
//! - item 6: screen lockers run as the user, so pam_otp can never let an enrolled user back
//!   in there; a locker whose stack reaches pam_otp (directly, or through `@include`,
//!   `include` or `substack` of common-auth) is a LOCKOUT, and the exemption line that the
//!   pam-auth-update profile puts above pam_otp.so clears it without opening other services;
//! - item 9: an sshd whose PAM stack asks for nothing but the code, reachable by a method
//!   list without `publickey` (password or keyboard-interactive alone, also in Match blocks),
//!   lets the code alone log in: a BYPASS.

use std::fs;
use std::path::{Path, PathBuf};

use crate::harness::{check_root, copy_tree, findings_and_fixes, stdout, Home};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/check")
        .join(name)
}

/// The check's output and its finding lines (each must be followed by its fix).
fn run(root: &Path) -> (Option<i32>, String, Vec<String>) {
    let o = check_root(root);
    let out = stdout(&o);
    let found = findings_and_fixes(&out)
        .into_iter()
        .map(|(finding, fix)| format!("{finding}\n{fix}"))
        .collect();
    (o.status.code(), out, found)
}

#[track_caller]
fn has(found: &[String], severity: &str, place: &str, needles: &[&str]) {
    assert!(
        found.iter().any(|f| f.starts_with(severity)
            && f.contains(place)
            && needles.iter().all(|n| f.contains(n))),
        "no {severity} at {place} with {needles:?} in:\n{}",
        found.join("\n")
    );
}

#[track_caller]
fn none_about(found: &[String], needle: &str) {
    let hits: Vec<&String> = found.iter().filter(|f| f.contains(needle)).collect();
    assert!(
        hits.is_empty(),
        "unexpected findings about {needle:?}: {hits:#?}"
    );
}

/// A private copy of a fixture tree at `root`, in a test directory removed on drop.
struct Copy {
    root: PathBuf,
    _dir: Home,
}

impl Copy {
    fn of(name: &str) -> Copy {
        let dir = Home::new();
        let root = dir.path("root");
        copy_tree(&fixture(name), &root);
        Copy { root, _dir: dir }
    }
}

// ---------------------------------------------------------------------------------------
// Screen lockers (item 6)

/// The locker services in the fixtures; each reaches common-auth in another way.
const FIXTURE_LOCKERS: &[&str] = &[
    "xscreensaver",     // @include common-auth
    "i3lock",           // auth include common-auth
    "swaylock",         // auth substack common-auth
    "kde",              // KDE's kscreenlocker
    "mate-screensaver", // auth include login, which includes common-auth
];

#[test]
fn lockers_that_reach_pam_otp_through_common_auth_are_lockouts() {
    let (code, out, found) = run(&fixture("lockers-common-auth"));
    assert_eq!(code, Some(1), "{out}");
    for locker in FIXTURE_LOCKERS {
        has(
            &found,
            "LOCKOUT",
            "pam.d/common-auth:6",
            &[
                &format!("{locker}: "),
                "screen locker",
                "runs as the user",
                "pam_succeed_if.so quiet service in",
            ],
        );
        assert!(
            !out.contains(&format!("ok       {locker}:")),
            "{locker} called ok:\n{out}"
        );
    }
    // Root hosts are fine.
    for service in ["login", "sudo"] {
        assert!(
            out.contains(&format!("ok       {service}: asks for a code")),
            "{out}"
        );
        none_about(&found, &format!("{service}: "));
    }
    assert_eq!(found.len(), FIXTURE_LOCKERS.len(), "{out}");
}

#[test]
fn the_exemption_line_clears_lockers_and_opens_nothing_else() {
    let (code, out, found) = run(&fixture("lockers-exempt"));
    assert_eq!(code, Some(0), "{out}");
    assert!(found.is_empty(), "{out}");
    for service in ["login", "sudo"] {
        assert!(
            out.contains(&format!("ok       {service}: asks for a code")),
            "{out}"
        );
    }
    for locker in FIXTURE_LOCKERS {
        assert!(
            out.contains(&format!(
                "ok       {locker}: screen locker, pam_otp.so skipped"
            )),
            "{locker}:\n{out}"
        );
    }
}

#[test]
fn an_exemption_that_names_a_root_service_is_a_bypass_there() {
    let t = Copy::of("lockers-exempt");
    let common = t.root.join("etc/pam.d/common-auth");
    let text = fs::read_to_string(&common)
        .unwrap()
        .replace("service in xscreensaver:", "service in sudo:xscreensaver:");
    fs::write(&common, text).unwrap();
    let (code, out, found) = run(&t.root);
    assert_eq!(code, Some(1), "{out}");
    has(
        &found,
        "BYPASS",
        "pam.d/common-auth:6",
        &["sudo: when pam_succeed_if.so", "no code is asked"],
    );
    none_about(&found, "login: ");
}

#[test]
fn pam_otp_in_a_lockers_own_file_is_a_lockout() {
    let (code, out, found) = run(&fixture("lockers-direct"));
    assert_eq!(code, Some(1), "{out}");
    has(
        &found,
        "LOCKOUT",
        "pam.d/xscreensaver:2",
        &[
            "xscreensaver: ",
            "screen locker",
            "Remove the pam_otp.so line",
        ],
    );
    assert!(out.contains("ok       sudo: asks for a code"), "{out}");
    assert_eq!(found.len(), 1, "{out}");
}

/// Every locker the check knows, with the Debian profile's lines rendered into common-auth
/// as pam-auth-update does: none is locked out, sudo still asks for the code.
#[test]
fn the_pam_auth_update_profile_exempts_every_known_locker() {
    let profile = fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../packaging/debian/pam-configs/pam_otp"),
    )
    .unwrap();
    assert!(profile.contains("\nDefault: no\n"), "{profile}");
    let auth_lines: Vec<&str> = profile
        .split("\nAuth:\n")
        .nth(1)
        .expect("an Auth: field")
        .lines()
        .take_while(|l| l.starts_with(char::is_whitespace))
        .map(str::trim)
        .collect();
    assert!(
        auth_lines.last().is_some_and(|l| l.contains("pam_otp.so")),
        "{auth_lines:?}"
    );
    let t = Copy::of("lockers-exempt");
    let pam = t.root.join("etc/pam.d");
    let mut common = String::from(
        "auth\t[success=1 default=ignore]\tpam_unix.so nullok\n\
         auth\trequisite\t\t\tpam_deny.so\nauth\trequired\t\t\tpam_permit.so\n",
    );
    for l in &auth_lines {
        common.push_str(&format!("auth\t{l}\n"));
    }
    fs::write(pam.join("common-auth"), common).unwrap();
    let lockers = [
        "xscreensaver",
        "i3lock",
        "swaylock",
        "hyprlock",
        "gtklock",
        "waylock",
        "kde",
        "kscreensaver",
        "gnome-screensaver",
        "mate-screensaver",
        "cinnamon-screensaver",
        "xfce4-screensaver",
        "budgie-screensaver",
        "xlock",
        "vlock",
    ];
    for l in lockers {
        fs::write(pam.join(l), "@include common-auth\n").unwrap();
    }
    let (code, out, found) = run(&t.root);
    assert_eq!(code, Some(0), "{out}");
    assert!(found.is_empty(), "{out}");
    assert!(out.contains("ok       sudo: asks for a code"), "{out}");
    for l in lockers {
        assert!(
            out.contains(&format!("ok       {l}: screen locker, pam_otp.so skipped")),
            "{l}:\n{out}"
        );
    }
    // Without the exemption line each of them is a lock-out.
    let only_otp = format!(
        "auth\t[success=1 default=ignore]\tpam_unix.so nullok\n\
         auth\trequisite\t\t\tpam_deny.so\nauth\trequired\t\t\tpam_permit.so\nauth\t{}\n",
        auth_lines.last().unwrap()
    );
    fs::write(pam.join("common-auth"), only_otp).unwrap();
    let (_, out, found) = run(&t.root);
    for l in lockers {
        has(&found, "LOCKOUT", "common-auth:4", &[&format!("{l}: ")]);
    }
    assert!(out.contains("ok       sudo: asks for a code"), "{out}");
}

// ---------------------------------------------------------------------------------------
// sshd: the code alone (item 9)

#[test]
fn code_alone_through_password_or_keyboard_interactive_is_a_bypass() {
    let (code, out, found) = run(&fixture("sshd-code-alone"));
    assert_eq!(code, Some(1), "{out}");
    has(
        &found,
        "BYPASS",
        "sshd_config (default)",
        &[
            "the one-time code alone logs in",
            "password",
            "keyboard-interactive",
            "AuthenticationMethods publickey,keyboard-interactive",
        ],
    );
    // The old note said the password method "always fails": with a code-only stack it is
    // the code that is checked there.
    none_about(&found, "always fails");
}

#[test]
fn a_method_list_without_a_key_is_a_bypass_with_a_code_only_stack() {
    let (code, out, found) = run(&fixture("sshd-kbd-alone"));
    assert_eq!(code, Some(1), "{out}");
    has(
        &found,
        "BYPASS",
        "sshd_config:4",
        &["'keyboard-interactive'", "the one-time code alone logs in"],
    );
    // The other list needs the key as well.
    none_about(&found, "'publickey,keyboard-interactive'");
    assert_eq!(found.len(), 1, "{out}");
}

#[test]
fn match_blocks_are_checked_too() {
    let (code, out, found) = run(&fixture("sshd-match-code-alone"));
    assert_eq!(code, Some(1), "{out}");
    has(
        &found,
        "BYPASS",
        "sshd_config:6",
        &["'keyboard-interactive'", "the one-time code alone logs in"],
    );
    has(
        &found,
        "BYPASS",
        "sshd_config:9",
        &["'password'", "the one-time code alone logs in"],
    );
    assert_eq!(found.len(), 2, "{out}");
}

#[test]
fn debian_default_sshd_config_with_the_shipped_stack() {
    let (code, out, found) = run(&fixture("sshd-debian-default"));
    assert_eq!(code, Some(1), "{out}");
    has(
        &found,
        "BYPASS",
        "sshd_config (default)",
        &["the one-time code alone logs in", "password"],
    );
    has(
        &found,
        "BYPASS",
        "sshd_config (default)",
        &["a public key alone logs in"],
    );
    // With a code-only stack, keyboard-interactive alone would be one factor: not offered.
    for f in &found {
        assert!(
            !f.contains("or 'keyboard-interactive' (PAM password and code)"),
            "{f}"
        );
    }
}

#[test]
fn password_and_code_in_one_stack_is_two_factors() {
    let (code, out, found) = run(&fixture("sshd-password-and-code"));
    assert_eq!(code, Some(0), "{out}");
    assert!(found.is_empty(), "{out}");
    assert!(out.contains("ok       sshd: asks for a code"), "{out}");
}

#[test]
fn key_and_code_is_two_factors() {
    let (code, out, found) = run(&fixture("sshd-key-and-code"));
    assert_eq!(code, Some(0), "{out}");
    assert!(found.is_empty(), "{out}");
    // And the repository's own example stack with the shipped container sshd_config.
    let t = Copy::of("sshd-key-and-code");
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    fs::copy(repo.join("pam.d/sshd"), t.root.join("etc/pam.d/sshd")).unwrap();
    fs::remove_dir_all(t.root.join("etc/ssh/sshd_config.d")).unwrap();
    fs::copy(
        repo.join("tests/container/sshd_config"),
        t.root.join("etc/ssh/sshd_config"),
    )
    .unwrap();
    let (code, out, found) = run(&t.root);
    assert_eq!(code, Some(0), "{out}");
    assert!(found.is_empty(), "{out}");
}

#[test]
fn the_password_method_with_a_password_stack_never_works() {
    let t = Copy::of("sshd-password-and-code");
    fs::write(
        t.root.join("etc/ssh/sshd_config"),
        "UsePAM yes\nKbdInteractiveAuthentication yes\nPasswordAuthentication yes\n\
         AuthenticationMethods keyboard-interactive password\n",
    )
    .unwrap();
    let (code, out, found) = run(&t.root);
    assert_eq!(code, Some(0), "{out}");
    has(
        &found,
        "note",
        "sshd_config:4",
        &["'password'", "the same answer", "always fails"],
    );
    none_about(&found, "alone logs in");
}

#[test]
fn key_then_password_method_with_a_code_only_stack_asks_the_code_at_the_password_prompt() {
    let t = Copy::of("sshd-key-and-code");
    fs::write(
        t.root.join("etc/ssh/sshd_config.d/50-otp.conf"),
        "KbdInteractiveAuthentication yes\nPasswordAuthentication yes\n\
         AuthenticationMethods publickey,password\n",
    )
    .unwrap();
    let (code, out, found) = run(&t.root);
    // Two factors, but the prompt says "password": worth a note, not a bypass.
    assert!(found.iter().all(|f| f.starts_with("note")), "{out}");
    has(
        &found,
        "note",
        "50-otp.conf:3",
        &["'publickey,password'", "password prompt"],
    );
    assert_eq!(code, Some(0), "{out}");
}
